//! The classifier proper: parsed statements to classes, by what they do.
//!
//! Each statement contributes the class of its kind ([`statement_class`]); then the whole tree
//! is walked, and everything inside it contributes too: statements nested in CTEs
//! (`WITH d AS (DELETE ...) SELECT`), `SELECT ... INTO` (creates a table), row locks
//! (`FOR UPDATE/SHARE`), and every function called (see [`super::functions`]). The strictest
//! contribution decides. Kinds of statement not listed here are unclassifiable: denied for
//! every level but `admin`.

use std::ops::ControlFlow;

use sqlparser::ast::{
    CopyTarget, Expr, ObjectName, ObjectType, Query, Reset, Select, Set, SetExpr, Statement,
    TableFactor, TransactionAccessMode, TransactionMode, Value, Visit, Visitor,
};

use super::functions::function_class;
use super::settings::{SettingValue, setting_class};
use super::{StatementClass, Timeout};

/// What classifying statements found; the strictest finding wins.
#[derive(Debug)]
pub(crate) struct Findings {
    /// Strictest class so far and what caused it.
    pub class: StatementClass,
    pub reason: String,
    /// A kind dbward does not know: the statement is unclassifiable.
    pub unknown: Option<String>,
    /// The decision read a literal's value: cache it under the exact text only.
    pub literal_sensitive: bool,
    /// The statement sets the statement timeout.
    pub timeout: Option<Timeout>,
    /// MySQL: the statement sets the character set or `sql_mode` to a value dbward cannot read
    /// (computed, `DEFAULT`): the session's values must be checked after it runs.
    pub check_session: bool,
    /// `USE schema` switches to this schema.
    pub use_schema: Option<String>,
    /// A `set_config(name, ...)` call that sets the one setting its row names (see
    /// [`settings_row_setting`]): the call's address and that setting.
    settings_row: Option<(usize, String)>,
    /// How many times the statement being visited names a table with a column of credentials
    /// (if any, the whole statement is checked after it: `credentials::sensitive_column_read`).
    sensitive_tables: usize,
    mysql: bool,
    /// The session's quoting, which dynamic SQL's strings are read in (see `quoting`).
    pub quoting: super::MysqlQuoting,
}

impl Findings {
    pub fn new(mysql: bool) -> Self {
        Self {
            class: StatementClass::Read,
            reason: String::new(),
            unknown: None,
            literal_sensitive: false,
            timeout: None,
            check_session: false,
            use_schema: None,
            settings_row: None,
            sensitive_tables: 0,
            mysql,
            quoting: super::MysqlQuoting::default(),
        }
    }

    pub fn add(&mut self, class: StatementClass, reason: impl Into<String>) {
        if class > self.class || self.reason.is_empty() {
            self.class = class;
            self.reason = reason.into();
        }
    }

    pub(crate) fn unknown(&mut self, what: impl Into<String>) {
        if self.unknown.is_none() {
            self.unknown = Some(what.into());
        }
    }

    /// Classifies one top-level statement and everything in it.
    pub fn statement(&mut self, stmt: &Statement) {
        // EXPLAIN without ANALYZE plans and runs nothing: neither the statement nor its
        // functions execute.
        if let Statement::Explain {
            statement,
            analyze,
            options,
            ..
        } = stmt
        {
            if !*analyze && !self.explain_analyzes(options.as_deref()) {
                self.add(StatementClass::Read, "EXPLAIN");
                return;
            }
            self.add(StatementClass::Read, "EXPLAIN ANALYZE");
            self.statement(statement);
            return;
        }
        // Stored code (a trigger's, a routine's body) runs later, when it fires or is called
        // (`CALL` is write; a function runs as part of whatever statement calls it): creating
        // it is ddl, whatever the body does.
        // A routine in an untrusted language (or from a library: `USING JAR|FILE`) is admin.
        let untrusted = match stmt {
            Statement::CreateFunction(f) => {
                f.using.is_some()
                    || f.language
                        .as_ref()
                        .is_some_and(|l| !super::routine::is_trusted_language(&l.value))
            }
            Statement::CreateProcedure { language, .. } => language
                .as_ref()
                .is_some_and(|l| !super::routine::is_trusted_language(&l.value)),
            _ => false,
        };
        if untrusted {
            self.add(StatementClass::Admin, super::routine::UNTRUSTED_ROUTINE);
            return;
        }
        if matches!(
            stmt,
            Statement::CreateTrigger(_)
                | Statement::CreateProcedure { .. }
                | Statement::CreateFunction(_)
        ) {
            self.shallow(stmt);
            return;
        }
        let _ = stmt.visit(self);
    }

    /// MySQL's `/*+ … */` hints of a query block or statement (see [`super::hints`]); other
    /// dialects' hints are comments to their servers.
    fn optimizer_hints(&mut self, hints: &[sqlparser::ast::OptimizerHint]) {
        use super::hints::Hint;
        if !self.mysql {
            return;
        }
        for hint in hints.iter().filter(|h| h.prefix.is_empty()) {
            for h in super::hints::read(&hint.text) {
                match h {
                    Hint::Planner => self.add(StatementClass::Read, "an optimizer hint"),
                    Hint::Setting(sql) => {
                        let dialect = sqlparser::dialect::MySqlDialect {};
                        match sqlparser::parser::Parser::parse_sql(&dialect, &sql).as_deref() {
                            Ok([set @ Statement::Set(_)]) => self.statement(set),
                            _ => self.unknown(format!("an optimizer hint's setting ({sql})")),
                        }
                    }
                    Hint::ResourceGroup => self.add(
                        StatementClass::Admin,
                        "optimizer hint RESOURCE_GROUP (moves the thread to another resource \
                         group)",
                    ),
                    Hint::Unknown(what) => self.unknown(what),
                }
            }
        }
    }

    /// Whether an `EXPLAIN`'s options run the statement (`ANALYZE` unless set false).
    pub(crate) fn explain_analyzes(
        &mut self,
        options: Option<&[sqlparser::ast::UtilityOption]>,
    ) -> bool {
        options.unwrap_or_default().iter().any(|o| {
            if !o.name.value.eq_ignore_ascii_case("analyze") {
                return false;
            }
            match &o.arg {
                None => true,
                Some(arg) => {
                    let text = self.value_text(arg).map(str::to_ascii_lowercase);
                    !matches!(text.as_deref(), Some("false" | "off" | "0" | "no"))
                }
            }
        })
    }

    /// A literal's or bare word's text; marks the decision literal-sensitive.
    fn value_text<'e>(&mut self, expr: &'e Expr) -> Option<&'e str> {
        self.literal_sensitive = true;
        match expr {
            Expr::Value(v) => match &v.value {
                Value::SingleQuotedString(s)
                | Value::DoubleQuotedString(s)
                | Value::EscapedStringLiteral(s)
                | Value::NationalStringLiteral(s)
                | Value::Number(s, _) => Some(s),
                Value::DollarQuotedString(s) => Some(&s.value),
                Value::Boolean(true) => Some("true"),
                Value::Boolean(false) => Some("false"),
                _ => None,
            },
            // A bare word (`on`, `TRADITIONAL`); a variable (`@x`, `@@y`) is computed.
            Expr::Identifier(i) if !i.value.starts_with('@') => Some(&i.value),
            _ => None,
        }
    }

    fn setting(&mut self, name: &str, global: bool, value: Option<&Expr>) {
        let (text, default) = match value {
            None => (None, true),
            Some(Expr::Identifier(i))
                if i.value.eq_ignore_ascii_case("default") && i.quote_style.is_none() =>
            {
                (None, true)
            }
            Some(e) if self.mysql && name.to_ascii_lowercase().ends_with("sql_mode") => {
                let (text, appended) = self.sql_mode_value(e);
                return self.apply_setting(
                    name,
                    global,
                    &SettingValue {
                        text,
                        default: false,
                        appended,
                    },
                );
            }
            Some(e) => (self.value_text(e), false),
        };
        self.apply_setting(
            name,
            global,
            &SettingValue {
                text,
                default,
                appended: false,
            },
        );
    }

    fn apply_setting(&mut self, name: &str, global: bool, value: &SettingValue<'_>) {
        self.literal_sensitive = true;
        let (class, reason) = setting_class(
            self.mysql,
            self.quoting,
            name,
            global,
            value,
            &mut self.timeout,
            &mut self.check_session,
        );
        self.add(class, reason);
    }

    /// The text of a MySQL `sql_mode` value: a literal, or the modes drivers append to the
    /// current one (`CONCAT(@@sql_mode, ',PIPES_AS_CONCAT')`, possibly as a scalar subquery,
    /// as sqlx sends): the current mode is already known to be safe (checked at session start,
    /// and a change to it is classified here), so only the appended literal matters: with
    /// `true`.
    fn sql_mode_value<'e>(&mut self, expr: &'e Expr) -> (Option<&'e str>, bool) {
        let expr = match expr {
            Expr::Subquery(q) => match q.body.as_ref() {
                SetExpr::Select(s) if s.from.is_empty() && s.projection.len() == 1 => {
                    match &s.projection[0] {
                        sqlparser::ast::SelectItem::UnnamedExpr(e) => e,
                        _ => return (None, false),
                    }
                }
                _ => return (None, false),
            },
            Expr::Nested(e) => e,
            e => e,
        };
        if let Expr::Function(f) = expr
            && object_name(&f.name).eq_ignore_ascii_case("concat")
            && let sqlparser::ast::FunctionArguments::List(list) = &f.args
            && let [first, second] = list.args.as_slice()
        {
            let current = matches!(first,
                sqlparser::ast::FunctionArg::Unnamed(sqlparser::ast::FunctionArgExpr::Expr(
                    Expr::Identifier(i)
                )) if i.value.eq_ignore_ascii_case("@@sql_mode")
                    || i.value.eq_ignore_ascii_case("@@session.sql_mode"));
            if let (
                true,
                sqlparser::ast::FunctionArg::Unnamed(sqlparser::ast::FunctionArgExpr::Expr(
                    e @ Expr::Value(_),
                )),
            ) = (current, second)
            {
                return (self.value_text(e), true);
            }
            return (None, false);
        }
        (self.value_text(expr), false)
    }

    fn set(&mut self, set: &Set) {
        match set {
            Set::SingleAssignment {
                scope,
                variable,
                values,
                ..
            } => {
                let global = matches!(scope, Some(sqlparser::ast::ContextModifier::Global));
                let value = if values.len() == 1 {
                    values.first()
                } else {
                    None
                };
                if values.len() > 1 {
                    // search_path = a, b: a list of names.
                    self.literal_sensitive = true;
                    let (class, reason) = setting_class(
                        self.mysql,
                        self.quoting,
                        &object_name(variable),
                        global,
                        &SettingValue {
                            text: Some("(list)"),
                            default: false,
                            appended: false,
                        },
                        &mut self.timeout,
                        &mut self.check_session,
                    );
                    self.add(class, reason);
                } else {
                    self.setting(&object_name(variable), global, value);
                }
            }
            Set::MultipleAssignments { assignments } => {
                for a in assignments {
                    let global = matches!(a.scope, Some(sqlparser::ast::ContextModifier::Global));
                    self.setting(&object_name(&a.name), global, Some(&a.value));
                }
            }
            Set::ParenthesizedAssignments { variables, values } => {
                for (v, e) in variables.iter().zip(values) {
                    self.setting(&object_name(v), false, Some(e));
                }
            }
            // `SET ROLE NONE` is `RESET ROLE`: back to the login's own identity.
            Set::SetRole {
                role_name: None, ..
            } => self.add(StatementClass::Read, "SET ROLE NONE"),
            Set::SetRole { .. } => self.add(
                StatementClass::Admin,
                "SET ROLE changes the upstream identity",
            ),
            Set::SetSessionAuthorization(_) => {
                self.add(
                    StatementClass::Admin,
                    "SET SESSION AUTHORIZATION changes the upstream identity",
                );
            }
            Set::SetTimeZone { .. } => self.add(StatementClass::Read, "SET"),
            // The server's default character set, which dbward does not know: checked after.
            Set::SetNamesDefault {} => {
                self.check_session |= self.mysql;
                self.add(StatementClass::Read, "SET NAMES DEFAULT");
            }
            Set::SetNames { charset_name, .. } => {
                self.literal_sensitive = true;
                let name = if self.mysql {
                    "names"
                } else {
                    "client_encoding"
                };
                let (class, reason) = setting_class(
                    self.mysql,
                    self.quoting,
                    name,
                    false,
                    &SettingValue {
                        text: Some(&charset_name.value),
                        default: false,
                        appended: false,
                    },
                    &mut self.timeout,
                    &mut self.check_session,
                );
                self.add(class, reason);
            }
            Set::SetTransaction { modes, .. } => self.transaction_modes(modes, "SET TRANSACTION"),
            Set::SetSessionParam(_) => self.unknown("SET (session parameter)"),
        }
    }

    fn transaction_modes(&mut self, modes: &[TransactionMode], what: &str) {
        if modes.iter().any(|m| {
            matches!(
                m,
                TransactionMode::AccessMode(TransactionAccessMode::ReadWrite)
            )
        }) {
            self.add(
                StatementClass::Write,
                format!("{what} READ WRITE switches off read-only mode"),
            );
        } else {
            self.add(StatementClass::Read, what.to_owned());
        }
    }

    /// A function called with `first` as its first argument; `call` is the call's address.
    fn function(&mut self, name: &ObjectName, first: Option<&Expr>, call: usize) {
        let Some(last) = name.0.last().and_then(|p| p.as_ident()) else {
            return;
        };
        let fname = last.value.to_ascii_lowercase();
        if fname == "set_config" {
            // Only a literal names the setting: a column or expression is computed (a column
            // called `search_path` can hold 'default_transaction_read_only').
            let setting = match (first, &self.settings_row) {
                (_, Some((at, setting))) if *at == call => Some(setting.clone()),
                (Some(e @ Expr::Value(_)), _) => self.value_text(e).map(str::to_owned),
                _ => None,
            };
            match setting {
                Some(setting) => {
                    // The value is the second argument; treat it as unknown: only the
                    // settings' own rules that accept any value pass.
                    self.literal_sensitive = true;
                    let (class, reason) = setting_class(
                        false,
                        self.quoting,
                        &setting,
                        false,
                        &SettingValue {
                            text: None,
                            default: false,
                            appended: false,
                        },
                        &mut self.timeout,
                        &mut self.check_session,
                    );
                    self.add(class, format!("set_config: {reason}"));
                }
                None => self.add(
                    StatementClass::Admin,
                    "set_config with a computed setting name",
                ),
            }
            return;
        }
        if let Some(class) = function_class(&fname) {
            self.add(class, format!("function {fname}"));
        }
    }

    fn query(&mut self, q: &Query) {
        if !q.locks.is_empty() {
            self.add(
                StatementClass::Write,
                "SELECT ... FOR UPDATE/SHARE takes row locks",
            );
        }
        if let SetExpr::Table(_) = q.body.as_ref() {
            self.add(StatementClass::Read, "TABLE");
        }
    }

    fn select(&mut self, s: &Select) {
        if let Some(into) = &s.into {
            let variables_only = self.mysql
                && into
                    .targets
                    .iter()
                    .all(|t| matches!(t, Expr::Identifier(i) if i.value.starts_with('@')));
            if variables_only {
                self.add(StatementClass::Read, "SELECT ... INTO variables");
            } else {
                self.add(StatementClass::Ddl, "SELECT ... INTO creates a table");
            }
        }
    }
}

/// `pg_dump`'s way of setting a setting only on servers that have it:
/// `SELECT set_config(name, 'value', false) FROM pg_settings WHERE name = 'setting'`. The
/// WHERE clause leaves only the row of `setting`, so the call sets exactly that setting: the
/// call and the setting's name. Any other shape is left to the general rule (a computed name
/// is `admin`).
fn settings_row_setting(s: &Select) -> Option<(&Expr, &str)> {
    use sqlparser::ast::{
        BinaryOperator, FunctionArg, FunctionArgExpr, FunctionArguments, SelectItem,
    };
    let is_name =
        |e: &Expr| matches!(e, Expr::Identifier(i) if i.value.eq_ignore_ascii_case("name"));
    let [SelectItem::UnnamedExpr(call @ Expr::Function(f))] = s.projection.as_slice() else {
        return None;
    };
    let FunctionArguments::List(list) = &f.args else {
        return None;
    };
    let Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(first))) = list.args.first() else {
        return None;
    };
    let [from] = s.from.as_slice() else {
        return None;
    };
    let TableFactor::Table {
        name, args: None, ..
    } = &from.relation
    else {
        return None;
    };
    let table = object_name(name).to_ascii_lowercase();
    let Some(Expr::BinaryOp {
        left,
        op: BinaryOperator::Eq,
        right,
    }) = &s.selection
    else {
        return None;
    };
    let Expr::Value(v) = right.as_ref() else {
        return None;
    };
    let Value::SingleQuotedString(setting) = &v.value else {
        return None;
    };
    (is_name(first)
        && is_name(left)
        && from.joins.is_empty()
        && matches!(table.as_str(), "pg_settings" | "pg_catalog.pg_settings"))
    .then_some((call, setting.as_str()))
}

/// MySQL table options that reach outside the database: a storage engine other than the local
/// ones (`CONNECT` reads server files, `FEDERATED`/`SPIDER` other servers), `CONNECTION`, `DATA
/// DIRECTORY`/`INDEX DIRECTORY`, `MERGE` tables' `UNION`, engine attributes.
fn reaches_outside(options: &sqlparser::ast::CreateTableOptions) -> bool {
    use sqlparser::ast::{CreateTableOptions, SqlOption};
    let list = match options {
        CreateTableOptions::None => return false,
        CreateTableOptions::Plain(l)
        | CreateTableOptions::With(l)
        | CreateTableOptions::Options(l)
        | CreateTableOptions::TableProperties(l) => l,
    };
    list.iter().any(|o| match o {
        SqlOption::NamedParenthesizedList(n) if n.key.value.eq_ignore_ascii_case("engine") => {
            !n.name.as_ref().is_some_and(|e| {
                super::LOCAL_ENGINES.contains(&e.value.to_ascii_lowercase().as_str())
            }) || !n.values.is_empty()
        }
        SqlOption::NamedParenthesizedList(_) => true,
        SqlOption::KeyValue { key, .. } => matches!(
            key.value.to_ascii_uppercase().as_str(),
            "CONNECTION"
                | "DATA DIRECTORY"
                | "INDEX DIRECTORY"
                | "ENGINE_ATTRIBUTE"
                | "SECONDARY_ENGINE_ATTRIBUTE"
                | "PASSWORD"
                | "INSERT_METHOD"
        ),
        _ => false,
    })
}

/// Schema changes that are privilege changes: `OWNER TO role` gives another role every right
/// on the object (to `CURRENT_USER`, `CURRENT_ROLE` or `SESSION_USER`, the upstream login
/// itself, as `SET ROLE` is admin, it keeps everything where it is), and row-level security
/// decides which rows other roles see (`CREATE POLICY` is admin, so switching the policies on or
/// off is too).
fn hands_over_privileges(stmt: &Statement) -> bool {
    use sqlparser::ast::{
        AlterCollationOperation, AlterFunctionOperation, AlterOperatorClassOperation,
        AlterOperatorFamilyOperation, AlterOperatorOperation, AlterSchemaOperation,
        AlterTableOperation, AlterTextSearchOperation, Owner, SchemaName,
    };
    let other = |owner: &Owner| matches!(owner, Owner::Ident(_));
    match stmt {
        Statement::AlterTable(t) => t.operations.iter().any(|op| match op {
            AlterTableOperation::OwnerTo { new_owner } => other(new_owner),
            _ => matches!(
                op,
                AlterTableOperation::EnableRowLevelSecurity
                    | AlterTableOperation::DisableRowLevelSecurity
                    | AlterTableOperation::ForceRowLevelSecurity
                    | AlterTableOperation::NoForceRowLevelSecurity
            ),
        }),
        Statement::AlterSchema(s) => s
            .operations
            .iter()
            .any(|op| matches!(op, AlterSchemaOperation::OwnerTo { owner } if other(owner))),
        Statement::AlterFunction(f) => {
            matches!(&f.operation, AlterFunctionOperation::OwnerTo(owner) if other(owner))
        }
        // The objects of a schema that sqlparser parses an `OWNER TO` for, each with its own
        // operation type.
        Statement::AlterOperator(o) => {
            matches!(&o.operation, AlterOperatorOperation::OwnerTo(owner) if other(owner))
        }
        Statement::AlterOperatorFamily(o) => {
            matches!(&o.operation, AlterOperatorFamilyOperation::OwnerTo(owner) if other(owner))
        }
        Statement::AlterOperatorClass(o) => {
            matches!(&o.operation, AlterOperatorClassOperation::OwnerTo(owner) if other(owner))
        }
        Statement::AlterCollation(c) => {
            matches!(&c.operation, AlterCollationOperation::OwnerTo(owner) if other(owner))
        }
        Statement::AlterTextSearch(t) => {
            matches!(&t.operation, AlterTextSearchOperation::OwnerTo(owner) if other(owner))
        }
        // `CREATE SCHEMA [s] AUTHORIZATION role`: the new schema belongs to that role.
        Statement::CreateSchema {
            schema_name:
                SchemaName::UnnamedAuthorization(role) | SchemaName::NamedAuthorization(_, role),
            ..
        } => {
            role.quote_style.is_some()
                || !matches!(
                    role.value.to_ascii_lowercase().as_str(),
                    "current_user" | "session_user" | "current_role"
                )
        }
        _ => false,
    }
}

/// An object name as written, parts joined by dots.
pub(crate) fn object_name(name: &ObjectName) -> String {
    name.0
        .iter()
        .map(|p| {
            p.as_ident()
                .map_or_else(|| p.to_string(), |i| i.value.clone())
        })
        .collect::<Vec<_>>()
        .join(".")
}

impl Visitor for Findings {
    type Break = ();

    fn pre_visit_statement(&mut self, stmt: &Statement) -> ControlFlow<()> {
        self.shallow(stmt);
        match stmt {
            Statement::Insert(i) => self.optimizer_hints(&i.optimizer_hints),
            Statement::Update(u) => self.optimizer_hints(&u.optimizer_hints),
            Statement::Delete(d) => self.optimizer_hints(&d.optimizer_hints),
            Statement::Merge(m) => self.optimizer_hints(&m.optimizer_hints),
            _ => {}
        }
        ControlFlow::Continue(())
    }

    fn post_visit_statement(&mut self, stmt: &Statement) -> ControlFlow<()> {
        if std::mem::take(&mut self.sensitive_tables) > 0
            && let Some(reason) = super::credentials::sensitive_column_read(stmt)
        {
            self.add(StatementClass::Admin, reason);
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<()> {
        self.query(q);
        self.table_commands(&q.body);
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, s: &Select) -> ControlFlow<()> {
        if let Some((call, setting)) = settings_row_setting(s) {
            self.literal_sensitive = true;
            self.settings_row = Some((std::ptr::from_ref(call) as usize, setting.to_owned()));
        }
        self.select(s);
        self.optimizer_hints(&s.optimizer_hints);
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
        if let Expr::Function(f) = e {
            let first = match &f.args {
                sqlparser::ast::FunctionArguments::List(l) => {
                    l.args.first().and_then(|a| match a {
                        sqlparser::ast::FunctionArg::Unnamed(
                            sqlparser::ast::FunctionArgExpr::Expr(e),
                        ) => Some(e),
                        _ => None,
                    })
                }
                _ => None,
            };
            self.function(&f.name, first, std::ptr::from_ref(e) as usize);
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, t: &TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table { name, .. } = t {
            self.credential_catalog(name);
            if !self.mysql && super::credentials::has_sensitive_column(name) {
                self.sensitive_tables += 1;
            }
        }
        match t {
            TableFactor::Table {
                name,
                args: Some(_),
                ..
            }
            | TableFactor::Function { name, .. } => {
                self.function(name, None, 0);
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

impl Findings {
    /// A read of a catalog of password hashes ([`super::credentials`]) is `admin`.
    fn credential_catalog(&mut self, name: &ObjectName) {
        if let Some(reason) = super::credentials::credential_catalog(name, self.mysql) {
            self.add(StatementClass::Admin, reason);
        }
    }

    /// MySQL 8's `TABLE t` (a query body the visitor does not see as a table factor), also
    /// inside set operations.
    fn table_commands(&mut self, body: &sqlparser::ast::SetExpr) {
        use sqlparser::ast::SetExpr;
        match body {
            SetExpr::Table(t) => {
                let name = match (&t.schema_name, &t.table_name) {
                    (Some(schema), Some(table)) => format!("{schema}.{table}"),
                    (None, Some(table)) => table.clone(),
                    _ => return,
                };
                if let Some(reason) = super::credentials::credential_whole_table(&name, self.mysql)
                {
                    self.add(StatementClass::Admin, reason);
                }
            }
            SetExpr::SetOperation { left, right, .. } => {
                self.table_commands(left);
                self.table_commands(right);
            }
            _ => {}
        }
    }

    /// The class of a statement's kind alone (what is inside is visited separately).
    fn shallow(&mut self, stmt: &Statement) {
        use StatementClass::{Admin, Ddl, Read, Write};
        match stmt {
            Statement::Query(_) => self.add(Read, "SELECT"),
            Statement::Explain {
                analyze, options, ..
            } => {
                if *analyze || self.explain_analyzes(options.as_deref()) {
                    self.add(Read, "EXPLAIN ANALYZE");
                } else {
                    self.add(Read, "EXPLAIN");
                }
            }
            // MariaDB's SHOW GRANTS shows the account's password hash (`IDENTIFIED BY
            // PASSWORD '*…'`, an ed25519 account's public key), as SHOW CREATE USER does.
            Statement::ShowVariable { variable }
                if self.mysql
                    && variable
                        .first()
                        .is_some_and(|v| v.value.eq_ignore_ascii_case("grants")) =>
            {
                self.add(
                    Admin,
                    "SHOW GRANTS (MariaDB shows the account's password hash; information_schema's \
                     *_PRIVILEGES views list the privileges without it)",
                );
            }
            Statement::ExplainTable { .. }
            | Statement::ShowVariables { .. }
            | Statement::ShowStatus { .. }
            | Statement::ShowCreate { .. }
            | Statement::ShowColumns { .. }
            | Statement::ShowDatabases { .. }
            | Statement::ShowSchemas { .. }
            | Statement::ShowTables { .. }
            | Statement::ShowViews { .. }
            | Statement::ShowCollation { .. }
            | Statement::ShowCharset(_)
            | Statement::ShowFunctions { .. }
            | Statement::ShowObjects(_)
            | Statement::ShowCatalogs { .. }
            | Statement::ShowProcessList { .. }
            | Statement::ShowVariable { .. } => self.add(Read, "SHOW"),
            Statement::StartTransaction {
                modes, statements, ..
            } => {
                if statements.is_empty() {
                    self.transaction_modes(modes, "BEGIN");
                } else {
                    self.unknown("BEGIN ... END block");
                }
            }
            Statement::Commit { .. }
            | Statement::Rollback { .. }
            | Statement::Savepoint { .. }
            | Statement::ReleaseSavepoint { .. } => self.add(Read, "transaction control"),
            Statement::Set(set) => self.set(set),
            // MySQL's RESET is never a session setting's: RESET MASTER deletes the binary
            // logs, RESET SLAVE/REPLICA forgets replication, RESET PERSIST the server's
            // settings.
            Statement::Reset(_) if self.mysql => {
                self.add(
                    Admin,
                    "RESET (MySQL: server state such as binary logs, replication)",
                );
            }
            Statement::Reset(r) => match r.reset {
                Reset::ALL | Reset::ConfigurationParameter(_) | Reset::SessionAuthorization => {
                    self.add(Read, "RESET (back to the session's start-up values)");
                }
            },
            Statement::Discard { .. } => self.add(Read, "DISCARD"),
            Statement::Declare { .. } => self.add(Read, "DECLARE CURSOR"),
            Statement::Fetch { into, .. } => {
                if into.is_some() {
                    self.add(Write, "FETCH ... INTO a table");
                } else {
                    self.add(Read, "FETCH");
                }
            }
            Statement::Close { .. } | Statement::Deallocate { .. } => {
                self.add(Read, "CLOSE/DEALLOCATE");
            }
            Statement::Prepare { .. } => self.add(Read, "PREPARE"),
            Statement::Execute {
                name,
                immediate,
                parameters,
                ..
            } if *immediate
                || (self.mysql
                    && !parameters.is_empty()
                    && super::dynamic::names_immediate(name.as_ref())) =>
            {
                self.literal_sensitive = true;
                let text = super::dynamic::immediate_text(parameters);
                match text
                    .filter(|_| self.mysql)
                    .map(|t| super::dynamic::class_of_literal(t, self.quoting))
                {
                    Some(Ok((class, what))) => {
                        self.add(class, format!("EXECUTE IMMEDIATE of {what}"));
                    }
                    Some(Err(why)) => self.unknown(why),
                    None => self.unknown("EXECUTE IMMEDIATE of a computed string"),
                }
            }
            Statement::Execute {
                name: Some(_),
                immediate: false,
                ..
            } => {
                // Runs a statement PREPAREd in this session, classified when it was prepared.
                self.add(Read, "EXECUTE of a prepared statement");
            }
            Statement::LISTEN { .. } | Statement::UNLISTEN { .. } => self.add(Read, "LISTEN"),
            Statement::UnlockTables => self.add(Read, "UNLOCK TABLES"),
            Statement::Use(u) => {
                self.literal_sensitive = true;
                let text = u.to_string();
                let schema = text
                    .split_whitespace()
                    .last()
                    .unwrap_or_default()
                    .trim_matches('`')
                    .to_owned();
                // Several USEs in one string: the last wins, each checked by the caller.
                if self.use_schema.as_ref().is_some_and(|s| *s != schema) {
                    self.unknown("several USE statements to different schemas");
                }
                self.use_schema = Some(schema);
                self.add(Read, "USE");
            }
            Statement::Insert(_) => self.add(Write, "INSERT"),
            Statement::Update(_) => self.add(Write, "UPDATE"),
            Statement::Delete(_) => self.add(Write, "DELETE"),
            Statement::Merge(_) => self.add(Write, "MERGE"),
            Statement::Truncate(_) => self.add(Write, "TRUNCATE"),
            Statement::NOTIFY { .. } => self.add(Write, "NOTIFY"),
            // ACCESS SHARE is the lock every SELECT takes (pg_dump takes it up front, so
            // that no table is dropped under it); stronger modes lock writers out.
            Statement::Lock(lock)
                if lock.lock_mode == Some(sqlparser::ast::LockTableMode::AccessShare) =>
            {
                self.add(
                    Read,
                    "LOCK TABLE ... IN ACCESS SHARE MODE (what a SELECT takes)",
                );
            }
            Statement::Lock(_) | Statement::LockTables { .. } => {
                self.add(Write, "LOCK takes table locks");
            }
            Statement::Call(_) => self.add(Write, "CALL (a procedure's body is opaque)"),
            // PostgreSQL takes `STDIN` and `STDOUT` alike for the client, either way (PHP's
            // PDO sends `COPY t TO STDIN`): the direction decides.
            Statement::Copy {
                source: sqlparser::ast::CopySource::Table { table_name, .. },
                ..
            } if let Some(reason) = super::credentials::credential_whole_table(
                &object_name(table_name),
                self.mysql,
            ) =>
            {
                self.add(Admin, reason);
            }
            Statement::Copy { to, target, .. } => match target {
                CopyTarget::Stdout | CopyTarget::Stdin if *to => self.add(Read, "COPY TO STDOUT"),
                CopyTarget::Stdout | CopyTarget::Stdin => self.add(Write, "COPY FROM STDIN"),
                CopyTarget::File { .. } | CopyTarget::Program { .. } => {
                    self.add(Admin, "COPY with a server file or program");
                }
            },
            // A view that runs as another account: what creating it grants is that account's
            // privileges (only `DEFINER = CURRENT_USER` is the login's own).
            Statement::CreateView(v)
                if v.params
                    .as_ref()
                    .and_then(|p| p.definer.as_ref())
                    .is_some_and(|d| {
                        !d.to_string()
                            .trim_end_matches("()")
                            .eq_ignore_ascii_case("current_user")
                    }) =>
            {
                self.add(
                    Admin,
                    "DEFINER names an account, whose privileges the view would run with",
                );
            }
            // Redshift Spectrum's (and other engines') external tables: their rows are files in
            // object storage, read with the cluster's own credentials.
            Statement::CreateTable(t)
                if t.external
                    || t.location.is_some()
                    || t.hive_formats
                        .as_ref()
                        .is_some_and(|f| f.location.is_some()) =>
            {
                self.add(
                    Admin,
                    "an external table (its data lives in files or object storage outside the \
                     database)",
                );
            }
            Statement::CreateTable(t) if self.mysql && reaches_outside(&t.table_options) => {
                self.add(
                    Admin,
                    "a storage engine or table option that reaches files or other servers",
                );
            }
            stmt if hands_over_privileges(stmt) => self.add(
                Admin,
                "OWNER TO, AUTHORIZATION or row-level security (who owns the objects, who may \
                 see or change the rows)",
            ),
            Statement::CreateTable(_)
            | Statement::CreateView { .. }
            | Statement::CreateIndex(_)
            | Statement::CreateVirtualTable { .. }
            | Statement::CreateSchema { .. }
            | Statement::CreateFunction(_)
            | Statement::CreateTrigger(_)
            | Statement::CreateProcedure { .. }
            | Statement::CreateSequence { .. }
            | Statement::CreateDomain(_)
            | Statement::CreateType { .. }
            | Statement::CreateCollation(_)
            | Statement::CreateOperator(_)
            | Statement::CreateOperatorFamily(_)
            | Statement::CreateOperatorClass(_)
            | Statement::CreateTextSearch(_)
            | Statement::AlterTable(_)
            | Statement::AlterIndex { .. }
            | Statement::AlterView { .. }
            | Statement::AlterSchema(_)
            | Statement::AlterType(_)
            | Statement::AlterFunction(_)
            | Statement::AlterCollation(_)
            | Statement::AlterOperator(_)
            | Statement::AlterOperatorFamily(_)
            | Statement::AlterOperatorClass(_)
            | Statement::AlterTextSearch(_)
            | Statement::DropFunction(_)
            | Statement::DropProcedure { .. }
            | Statement::DropDomain(_)
            | Statement::DropTrigger(_)
            | Statement::DropOperator(_)
            | Statement::DropOperatorFamily(_)
            | Statement::DropOperatorClass(_)
            | Statement::Comment { .. }
            | Statement::RenameTable(_)
            | Statement::Analyze(_)
            | Statement::Vacuum(_)
            | Statement::OptimizeTable { .. } => self.add(Ddl, "schema change"),
            // A MySQL database is a schema (`COM_CREATE_DB`/`COM_DROP_DB` are ddl too); a
            // PostgreSQL database is cluster-level.
            Statement::CreateDatabase { .. } if self.mysql => self.add(Ddl, "CREATE DATABASE"),
            Statement::Drop { object_type, .. } => match object_type {
                ObjectType::Database if self.mysql => self.add(Ddl, "DROP DATABASE"),
                ObjectType::Role | ObjectType::User | ObjectType::Database => {
                    self.add(Admin, format!("DROP {object_type}"));
                }
                _ => self.add(Ddl, format!("DROP {object_type}")),
            },
            Statement::Grant(_)
            | Statement::Revoke(_)
            | Statement::Deny(_)
            | Statement::CreateRole(_)
            | Statement::AlterRole { .. }
            | Statement::CreateUser(_)
            | Statement::AlterUser(_)
            | Statement::CreateDatabase { .. }
            | Statement::CreateExtension(_)
            | Statement::DropExtension(_)
            | Statement::CreateServer(_)
            | Statement::CreatePolicy(_)
            | Statement::AlterPolicy(_)
            | Statement::DropPolicy(_)
            | Statement::Flush { .. }
            | Statement::Kill { .. }
            | Statement::LoadData { .. }
            | Statement::Load { .. }
            | Statement::Directory { .. }
            | Statement::Install { .. } => {
                self.add(Admin, "roles, privileges or server administration");
            }
            other => {
                let text = other.to_string();
                let word = text
                    .split_whitespace()
                    .next()
                    .unwrap_or("statement")
                    .to_ascii_uppercase();
                self.unknown(word);
            }
        }
    }
}

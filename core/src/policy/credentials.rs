//! Reads of the credentials an upstream server holds: `admin`, whatever else the statement is.
//!
//! dbward never shows upstream credentials, yet a privileged upstream account (a superuser
//! registered for every level, with read-only mode for `read` grants) can read the server's:
//! - password hashes: PostgreSQL's `pg_authid` and `pg_shadow` (an MD5 hash logs in as it is; a
//!   SCRAM verifier allows offline guessing), MySQL's `mysql.user` and MariaDB's
//!   `mysql.global_priv` (as `SHOW CREATE USER` and MariaDB's `SHOW GRANTS` show, which the
//!   classifier and the recognizers mark `admin` too);
//! - other servers' passwords, in clear: PostgreSQL's user mappings for foreign servers
//!   (`pg_user_mapping`, `information_schema.user_mapping_options`, and the `umoptions` of
//!   `pg_user_mappings`, which psql's `\deu+` shows) and subscriptions' connection strings
//!   (`subconninfo` of `pg_subscription`, in psql's `\dRs+`); MariaDB's `mysql.servers`
//!   (FEDERATED/SPIDER servers) and MySQL's `mysql.slave_master_info` (the replication
//!   password) hold them too. `\deu` and `\dRs` stay `read`: a statement on
//!   `pg_user_mappings` or `pg_subscription` is `admin` only when it names the column, takes a
//!   whole row (the table or its alias as a value) or selects `*`.
//!
//! Role and privilege listings stay `read`: `pg_roles` (psql's `\du`, pgAdmin and DBeaver read
//! it; it masks the password) and `information_schema`'s privilege views. Names match on their
//! last part whatever qualifies them (PostgreSQL), on `mysql.<table>` (MySQL).

use std::collections::HashSet;
use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, ObjectName, Select, SelectItem,
    Statement, TableFactor, Visit as _, Visitor,
};

use super::classify::object_name;

/// Why reading a catalog of password hashes is `admin`.
const HASHES: &str = "a read of the server's password hashes";

/// Why reading MySQL's tables of other servers' passwords is `admin`.
const OTHER_SERVERS: &str = "a read of other servers' passwords";

/// Why a statement reading user mappings' options is `admin`.
pub(crate) const MAPPING_REASON: &str =
    "a read of user mappings' options (other servers' passwords)";

/// The last parts of the names [`credential_name`] knows: every table reference is tested,
/// so the whole name is built only for these.
const LAST_PARTS: &[&str] = &[
    "pg_authid",
    "pg_shadow",
    "pg_user_mapping",
    "user_mapping_options",
    "user",
    "global_priv",
    "password_history",
    "servers",
    "slave_master_info",
];

/// Why reading the catalog named `name` is `admin`, if it is a catalog of credentials.
pub(crate) fn credential_catalog(name: &ObjectName, mysql: bool) -> Option<&'static str> {
    let last = name.0.last()?.as_ident()?;
    if !LAST_PARTS
        .iter()
        .any(|p| last.value.eq_ignore_ascii_case(p))
    {
        return None;
    }
    credential_name(&object_name(name), mysql)
}

/// Why reading every column of the table named `full` is `admin` (`TABLE t`, `COPY t TO`,
/// `HANDLER t`): a catalog of credentials, or one of [`SENSITIVE_COLUMNS`]' tables.
pub(crate) fn credential_whole_table(full: &str, mysql: bool) -> Option<&'static str> {
    credential_name(full, mysql).or_else(|| {
        let full = full.to_ascii_lowercase();
        let last = full.rsplit('.').next().unwrap_or_default();
        SENSITIVE_COLUMNS
            .iter()
            .find(|(table, ..)| !mysql && *table == last)
            .map(|(.., reason)| *reason)
    })
}

/// [`credential_whole_table`] for a name as normalized tokens (`schema . table`, quoted or
/// not).
pub(crate) fn credential_tokens(name: &[&str], mysql: bool) -> Option<&'static str> {
    let name = name
        .iter()
        .filter(|t| **t != ".")
        .map(|t| t.trim_matches(|c| c == '"' || c == '`'))
        .collect::<Vec<_>>()
        .join(".");
    credential_whole_table(&name, mysql)
}

/// [`credential_catalog`] for a name as dotted text.
pub(crate) fn credential_name(full: &str, mysql: bool) -> Option<&'static str> {
    let full = full.to_ascii_lowercase();
    let parts: Vec<&str> = full.split('.').collect();
    if mysql {
        match parts.as_slice() {
            [.., "mysql", "user" | "global_priv" | "password_history"] => Some(HASHES),
            [.., "mysql", "servers" | "slave_master_info"] => Some(OTHER_SERVERS),
            _ => None,
        }
    } else {
        match parts.last() {
            Some(&("pg_authid" | "pg_shadow")) => Some(HASHES),
            Some(&("pg_user_mapping" | "user_mapping_options")) => Some(MAPPING_REASON),
            _ => None,
        }
    }
}

/// PostgreSQL tables with one column of credentials, readable by a privileged account: the
/// table, the column, why reading it is `admin`.
const SENSITIVE_COLUMNS: &[(&str, &str, &str)] = &[
    ("pg_user_mappings", "umoptions", MAPPING_REASON),
    (
        "pg_subscription",
        "subconninfo",
        "a read of subscriptions' connection strings (their passwords)",
    ),
];

/// Whether `name` is one of [`SENSITIVE_COLUMNS`]' tables (the cheap test that decides whether
/// a statement gets [`sensitive_column_read`]'s walk).
pub(crate) fn has_sensitive_column(name: &ObjectName) -> bool {
    name.0.last().and_then(|p| p.as_ident()).is_some_and(|i| {
        SENSITIVE_COLUMNS
            .iter()
            .any(|(table, ..)| i.value.eq_ignore_ascii_case(table))
    })
}

/// Why a PostgreSQL statement on one of [`SENSITIVE_COLUMNS`]' tables is `admin`: it names the
/// column, takes a whole row (the table or its alias as a value) or selects `*`.
pub(crate) fn sensitive_column_read(stmt: &Statement) -> Option<&'static str> {
    let mut seen = Seen::default();
    let _ = stmt.visit(&mut seen);
    SENSITIVE_COLUMNS
        .iter()
        .enumerate()
        .find(|(i, (_, column, _))| {
            let names: Vec<&String> = seen
                .names
                .iter()
                .filter(|(t, _)| t == i)
                .map(|(_, n)| n)
                .collect();
            !names.is_empty()
                && (seen.wildcard
                    || seen.values.contains(*column)
                    || names.iter().any(|n| seen.values.contains(*n)))
        })
        .map(|(_, (.., reason))| *reason)
}

/// What a walk over one statement found.
#[derive(Default)]
struct Seen {
    /// The names [`SENSITIVE_COLUMNS`]' tables go by (index, alias or else the table's name).
    names: Vec<(usize, String)>,
    /// Every identifier used as a value, and the column of qualified ones.
    values: HashSet<String>,
    /// A `*` or `alias.*` in some projection, or `alias.*` as a function's argument.
    wildcard: bool,
}

impl Visitor for Seen {
    type Break = ();

    fn pre_visit_table_factor(&mut self, t: &TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table { name, alias, .. } = t {
            let full = object_name(name).to_ascii_lowercase();
            let last = full.rsplit('.').next().unwrap_or_default();
            if let Some(i) = SENSITIVE_COLUMNS.iter().position(|(t, ..)| *t == last) {
                let name = alias
                    .as_ref()
                    .map_or_else(|| last.to_owned(), |a| a.name.value.to_ascii_lowercase());
                self.names.push((i, name));
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, s: &Select) -> ControlFlow<()> {
        if s.projection.iter().any(|item| {
            matches!(
                item,
                SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)
            )
        }) {
            self.wildcard = true;
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
        match e {
            Expr::Identifier(i) => {
                self.values.insert(i.value.to_ascii_lowercase());
            }
            // `um.usename` is a column (its last part), not the row `um`.
            Expr::CompoundIdentifier(parts) => {
                if let Some(column) = parts.last() {
                    self.values.insert(column.value.to_ascii_lowercase());
                }
            }
            Expr::Wildcard(_) | Expr::QualifiedWildcard(..) => self.wildcard = true,
            // `row_to_json(m.*)`: a whole row as an argument (not an expression to the
            // visitor). `count(*)` stays a count.
            Expr::Function(f) => {
                if let FunctionArguments::List(list) = &f.args
                    && list.args.iter().any(|a| {
                        matches!(
                            a,
                            FunctionArg::Unnamed(FunctionArgExpr::QualifiedWildcard(_))
                                | FunctionArg::Named {
                                    arg: FunctionArgExpr::QualifiedWildcard(_),
                                    ..
                                }
                                | FunctionArg::ExprNamed {
                                    arg: FunctionArgExpr::QualifiedWildcard(_),
                                    ..
                                }
                        )
                    })
                {
                    self.wildcard = true;
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

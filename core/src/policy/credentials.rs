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
//!   `pg_user_mappings`, which psql's `\deu+` shows). `\deu` (server and user names only) stays
//!   `read`: a statement on `pg_user_mappings` is `admin` only when it names `umoptions`, takes
//!   a whole row (the table or its alias as a value) or selects `*`.
//!
//! Role and privilege listings stay `read`: `pg_roles` (psql's `\du`, pgAdmin and DBeaver read
//! it; it masks the password) and `information_schema`'s privilege views. Names match on their
//! last part whatever qualifies them (PostgreSQL), on `mysql.<table>` (MySQL).

use std::collections::HashSet;
use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, ObjectName, Select, SelectItem, Statement, TableFactor, Visit as _, Visitor,
};

use super::classify::object_name;

/// Why reading a catalog of password hashes is `admin`.
const HASHES: &str = "it reads the server's password hashes";

/// Why a statement reading user mappings' options is `admin`.
pub(crate) const MAPPING_REASON: &str =
    "it reads user mappings' options (other servers' passwords)";

/// Why reading the catalog named `name` is `admin`, if it is a catalog of credentials.
pub(crate) fn credential_catalog(name: &ObjectName, mysql: bool) -> Option<&'static str> {
    credential_name(&object_name(name), mysql)
}

/// Why reading every column of the table named `full` is `admin` (`TABLE t`, `COPY t TO`,
/// `HANDLER t`): a catalog of credentials, or `pg_user_mappings` (its options).
pub(crate) fn credential_whole_table(full: &str, mysql: bool) -> Option<&'static str> {
    credential_name(full, mysql).or_else(|| {
        (!mysql && full.to_ascii_lowercase().rsplit('.').next() == Some("pg_user_mappings"))
            .then_some(MAPPING_REASON)
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
        matches!(parts.as_slice(), [.., "mysql", "user" | "global_priv"]).then_some(HASHES)
    } else {
        match parts.last() {
            Some(&("pg_authid" | "pg_shadow")) => Some(HASHES),
            Some(&("pg_user_mapping" | "user_mapping_options")) => Some(MAPPING_REASON),
            _ => None,
        }
    }
}

/// Whether a PostgreSQL statement reads `pg_user_mappings`' options (see the module's rule).
pub(crate) fn reads_user_mapping_options(stmt: &Statement) -> bool {
    let mut seen = Mappings::default();
    let _ = stmt.visit(&mut seen);
    !seen.names.is_empty()
        && (seen.wildcard
            || seen.values.contains("umoptions")
            || seen.names.iter().any(|n| seen.values.contains(n)))
}

/// What a walk over one statement found.
#[derive(Default)]
struct Mappings {
    /// The names `pg_user_mappings` goes by: its alias, else its own name.
    names: HashSet<String>,
    /// Every identifier used as a value, and the column of qualified ones.
    values: HashSet<String>,
    /// A `*` or `alias.*` in some projection.
    wildcard: bool,
}

impl Visitor for Mappings {
    type Break = ();

    fn pre_visit_table_factor(&mut self, t: &TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table { name, alias, .. } = t {
            let full = object_name(name).to_ascii_lowercase();
            if full.rsplit('.').next() == Some("pg_user_mappings") {
                self.names.insert(alias.as_ref().map_or_else(
                    || "pg_user_mappings".to_owned(),
                    |a| a.name.value.to_ascii_lowercase(),
                ));
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
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

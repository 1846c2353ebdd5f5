//! PostgreSQL `ALTER` forms sqlparser 0.63 does not parse, common in migrations and a DBA's
//! maintenance, recognized over normalized tokens (literals already `?`; see
//! [`super::recognize`]) as `ddl`:
//!
//! - `ALTER TABLE t ALTER [COLUMN] c SET STATISTICS n | SET STORAGE s | SET COMPRESSION m |
//!   SET (…) | RESET (…) | DROP IDENTITY|EXPRESSION [IF EXISTS]`, `[NO] INHERIT p`, `CLUSTER ON
//!   i`, `SET WITHOUT CLUSTER`, `SET ACCESS METHOD|SCHEMA|TABLESPACE x`, `RESET (…)`, `ALTER
//!   CONSTRAINT c [NOT] DEFERRABLE [INITIALLY …]`, `OF type`, `NOT OF`, and an identity
//!   column's `SET GENERATED ALWAYS|BY DEFAULT`, `SET INCREMENT BY n`… and `RESTART [WITH n]`;
//! - `ALTER INDEX i SET TABLESPACE s | SET (…) | RESET (…) | ATTACH PARTITION p`;
//! - `ALTER [MATERIALIZED] VIEW v RENAME [COLUMN] … TO … | SET SCHEMA s | SET (…) | RESET (…)`,
//!   a view's `ALTER [COLUMN] c DROP DEFAULT | SET DEFAULT literal`, and a materialized view's
//!   storage forms of `ALTER TABLE` above (`SET TABLESPACE`, `CLUSTER ON`, a column's `SET
//!   STATISTICS`…);
//! - `ALTER DOMAIN d DROP DEFAULT | SET|DROP NOT NULL | DROP CONSTRAINT c | VALIDATE CONSTRAINT c
//!   | RENAME [CONSTRAINT c] TO …`;
//! - `CREATE STATISTICS [IF NOT EXISTS] s [(kinds)] ON columns FROM t`.
//!
//! Each form names objects and takes words and literals only: none has an expression, so none
//! runs a function (a domain's `ADD CONSTRAINT … CHECK (…)` evaluates its expression over
//! existing data: it is parsed, as a rewrite, see `recognize::pg_statement_rewrite`). `OWNER TO` is not among them (a privilege change).
//! Other objects' forms (`ALTER FUNCTION|PROCEDURE|TYPE`, `DROP`, `COMMENT ON`) are in
//! [`super::pg_objects`].

use super::StatementClass;
use super::recognize::is_identifier;

/// The class of one of the forms above, from the statement's tokens (lower case).
pub(crate) fn recognize(tokens: &[&str]) -> Option<(StatementClass, &'static str)> {
    let ddl = Some((
        StatementClass::Ddl,
        "ALTER (a form of maintenance or renaming)",
    ));
    match tokens {
        ["alter", "table", rest @ ..] => {
            let rest = rest.strip_prefix(&["if", "exists"]).unwrap_or(rest);
            let rest = rest.strip_prefix(&["only"]).unwrap_or(rest);
            let (_, action) = name(rest)?;
            table_action(action).then_some(ddl?)
        }
        ["alter", "index", rest @ ..] => {
            let rest = rest.strip_prefix(&["if", "exists"]).unwrap_or(rest);
            let (_, action) = name(rest)?;
            let ok = match action {
                ["set", "tablespace", s] => is_identifier(s),
                ["set" | "reset", options @ ..] => storage_options(options),
                ["attach", "partition", p @ ..] => name(p).is_some_and(|(_, r)| r.is_empty()),
                _ => false,
            };
            ok.then_some(ddl?)
        }
        ["alter", "materialized", "view", rest @ ..] | ["alter", "view", rest @ ..] => {
            let materialized = tokens[1] == "materialized";
            let rest = rest.strip_prefix(&["if", "exists"]).unwrap_or(rest);
            let (_, action) = name(rest)?;
            let ok = match action {
                // Options (`security_barrier`, `check_option`; a materialized view's storage
                // options).
                ["set" | "reset", options @ ..] if storage_options(options) => true,
                // A default a view's column takes on inserts through it: a literal only.
                ["alter", "column", c, "set", "default", value @ ..]
                | ["alter", c, "set", "default", value @ ..]
                    if !materialized && matches!(value, ["?"] | ["-", "?"]) =>
                {
                    is_identifier(c)
                }
                // A materialized view is stored as a table is: its storage forms.
                _ if materialized && table_action(action) => true,
                ["rename", "to", n] | ["set", "schema", n] => is_identifier(n),
                ["rename", "column", a, "to", b] | ["rename", a, "to", b] => {
                    is_identifier(a) && is_identifier(b)
                }
                ["alter", "column", c, "drop", "default"] | ["alter", c, "drop", "default"] => {
                    is_identifier(c)
                }
                _ => false,
            };
            ok.then_some(ddl?)
        }
        ["alter", "domain", rest @ ..] => {
            let (_, action) = name(rest)?;
            let ok = match action {
                ["drop", "default"] | ["set" | "drop", "not", "null"] => true,
                ["drop" | "validate", "constraint", c]
                | ["rename", "to", c]
                | ["drop", "constraint", "if", "exists", c]
                | ["drop", "constraint", c, "cascade" | "restrict"] => is_identifier(c),
                ["rename", "constraint", a, "to", b] => is_identifier(a) && is_identifier(b),
                _ => false,
            };
            ok.then_some(ddl?)
        }
        ["create", "statistics", rest @ ..] => {
            let rest = rest.strip_prefix(&["if", "not", "exists"]).unwrap_or(rest);
            let (_, rest) = name(rest)?;
            let rest = after_optional_list(rest, |t| {
                matches!(t, "ndistinct" | "dependencies" | "mcv" | ",")
            })?;
            let ["on", rest @ ..] = rest else { return None };
            let from = rest.iter().position(|t| *t == "from")?;
            let columns_ok = from > 0
                && rest[..from]
                    .split(|t| *t == ",")
                    .all(|c| matches!(c, [one] if is_identifier(one)));
            let table_ok = name(&rest[from + 1..]).is_some_and(|(_, r)| r.is_empty());
            (columns_ok && table_ok).then_some((StatementClass::Ddl, "CREATE STATISTICS"))
        }
        _ => None,
    }
}

/// `ALTER TABLE name`'s action, one of the forms in the module docs.
fn table_action(action: &[&str]) -> bool {
    let column_action = match action {
        ["alter", "constraint", c, modes @ ..] => {
            return is_identifier(c)
                && !modes.is_empty()
                && modes.iter().all(|m| {
                    matches!(
                        *m,
                        "not" | "deferrable" | "initially" | "deferred" | "immediate"
                    )
                });
        }
        ["alter", "column", c, rest @ ..] | ["alter", c, rest @ ..] if is_identifier(c) => rest,
        ["inherit" | "no", ..] => {
            let rest = action.strip_prefix(&["no"]).unwrap_or(action);
            return matches!(rest, ["inherit", p @ ..] if name(p).is_some_and(|(_, r)| r.is_empty()));
        }
        ["cluster", "on", i]
        | ["set", "access", "method", i]
        | ["set", "schema" | "tablespace", i]
        | ["of", i] => return is_identifier(i),
        ["set", "without", "cluster"] | ["not", "of"] => return true,
        ["reset", options @ ..] => return storage_options(options),
        _ => return false,
    };
    match column_action {
        // An identity column's generation and sequence: `SET GENERATED ALWAYS|BY DEFAULT`,
        // `SET INCREMENT BY n`, `RESTART [WITH n]`… (words and numbers, repeatable; never
        // `SET DEFAULT`, which takes an expression).
        [
            "set",
            "generated" | "increment" | "start" | "minvalue" | "maxvalue" | "no" | "cache"
            | "cycle",
            ..,
        ]
        | ["restart", ..] => {
            column_action
                .iter()
                .all(|t| (is_identifier(t) && *t != "default") || matches!(*t, "?" | "-"))
                || identity_generation(column_action)
        }
        ["set", "statistics", "?"]
        | ["set", "statistics", "-", "?"]
        | ["drop", "identity" | "expression"]
        | ["drop", "identity" | "expression", "if", "exists"] => true,
        ["set", "storage", s] => {
            matches!(*s, "plain" | "external" | "extended" | "main" | "default")
        }
        ["set", "compression", m] => is_identifier(m),
        ["set" | "reset", options @ ..] => storage_options(options),
        _ => false,
    }
}

/// `SET GENERATED BY DEFAULT` (the one identity change with `DEFAULT` in it), possibly followed
/// by other identity changes.
fn identity_generation(action: &[&str]) -> bool {
    match action {
        ["set", "generated", "by", "default", rest @ ..] => rest
            .iter()
            .all(|t| (is_identifier(t) && *t != "default") || matches!(*t, "?" | "-")),
        _ => false,
    }
}

/// What follows an optional parenthesized list (no nesting) at the start of `t`, when every
/// token inside passes `allowed`; `t` itself without one.
pub(crate) fn after_optional_list<'a, 'b>(
    t: &'a [&'b str],
    allowed: impl Fn(&str) -> bool,
) -> Option<&'a [&'b str]> {
    let ["(", more @ ..] = t else { return Some(t) };
    let close = more.iter().position(|t| *t == ")")?;
    more[..close]
        .iter()
        .all(|t| allowed(t))
        .then_some(&more[close + 1..])
}

/// `(name = value, ...)` of storage parameters: words, `=`, literals, commas and dots only.
fn storage_options(options: &[&str]) -> bool {
    matches!(options, ["(", .., ")"])
        && options[1..options.len() - 1]
            .iter()
            .all(|t| is_identifier(t) || matches!(*t, "=" | "?" | "," | "." | "-"))
}

/// A possibly schema-qualified name at the start of `t`, and what follows it.
pub(crate) fn name<'a, 'b>(t: &'a [&'b str]) -> Option<(&'a [&'b str], &'a [&'b str])> {
    match t {
        [s, ".", n, ..] if is_identifier(s) && is_identifier(n) => Some(t.split_at(3)),
        [n, ..] if is_identifier(n) => Some(t.split_at(1)),
        _ => None,
    }
}

//! PostgreSQL definitions sqlparser 0.63 does not parse, which `pg_dump` writes for the
//! objects a database defines and a DBA changes, recognized over normalized tokens (literals
//! already `?`; see [`super::recognize`]), all `ddl`:
//!
//! - `CREATE [OR REPLACE] AGGREGATE name (args) (SFUNC = f, STYPE = t, …)` (also the old
//!   `(BASETYPE = …)` form);
//! - `CREATE CAST (source AS target) WITH FUNCTION f(args) | WITHOUT FUNCTION | WITH INOUT
//!   [AS ASSIGNMENT | AS IMPLICIT]`;
//! - `CREATE [DEFAULT] CONVERSION name FOR 'src' TO 'dst' FROM f`;
//! - `ALTER CONVERSION|STATISTICS name RENAME TO | SET SCHEMA | OWNER TO <the session's own
//!   role>`, and `ALTER STATISTICS name SET STATISTICS n`;
//! - `ALTER RULE|TRIGGER name ON table RENAME TO new`;
//! - `ALTER DOMAIN name` without an expression: `DROP DEFAULT`, `SET|DROP NOT NULL`, `DROP
//!   CONSTRAINT`, `RENAME CONSTRAINT`, `VALIDATE CONSTRAINT`, `RENAME TO`, `SET SCHEMA`, `OWNER
//!   TO` the session's own role (`SET DEFAULT expr` and `ADD … CHECK (expr)` hold an
//!   expression: they are rewritten as the `CREATE DOMAIN` they amount to and parsed, see
//!   `recognize::pg_statement_rewrite`);
//! - `ALTER TEXT SEARCH CONFIGURATION name ADD|ALTER|DROP MAPPING …`;
//! - a typed table, `CREATE [TEMP|UNLOGGED] TABLE [IF NOT EXISTS] name OF type` (without a
//!   column list, which could hold defaults);
//! - `CREATE [OR REPLACE] FUNCTION|PROCEDURE name (args) …` with what sqlparser lacks
//!   (`COST`, `ROWS`, `LEAKPROOF`, `WINDOW`, `SUPPORT`, a procedure's `LANGUAGE sql AS $$…$$`,
//!   `VARIADIC` and defaulted parameters): `ddl`, as parsed routines are, and `admin` in a
//!   language outside the trusted ones (see [`super::routine::is_trusted_language`]; a
//!   language given as a string literal is not read, and counts as untrusted). The body is a
//!   literal (or a `RETURN expr` that runs only when the routine is called).
//!
//! What makes these safe to recognize over tokens: PostgreSQL's grammar has no expression in
//! any of them. An aggregate's or a cast's definition names functions and types, it does not
//! call them (creating stored code is `ddl`, as `CREATE FUNCTION` is); so a token the forms
//! cannot hold (a subquery's `SELECT` has no place to go) makes the server refuse the
//! statement, and the recognizers still accept only names, literals and punctuation.

use super::StatementClass;
use super::recognize::is_identifier;

/// The class and a description of one of the forms above, from the statement's tokens (lower
/// case).
pub(crate) fn recognize(tokens: &[&str]) -> Option<(StatementClass, &'static str)> {
    let ddl = |ok: bool, what: &'static str| ok.then_some((StatementClass::Ddl, what));
    match tokens {
        ["create", "table", rest @ ..]
        | [
            "create",
            "temp" | "temporary" | "unlogged",
            "table",
            rest @ ..,
        ] => ddl(typed_table(rest), "CREATE TABLE … OF type"),
        ["create", "or", "replace", "aggregate", rest @ ..]
        | ["create", "aggregate", rest @ ..] => ddl(aggregate(rest), "CREATE AGGREGATE"),
        ["create", "cast", rest @ ..] => ddl(cast(rest), "CREATE CAST"),
        [
            "create",
            "or",
            "replace",
            "function" | "procedure",
            rest @ ..,
        ]
        | ["create", "function" | "procedure", rest @ ..] => routine(rest),
        ["create", "default", "conversion", rest @ ..] | ["create", "conversion", rest @ ..] => {
            ddl(conversion(rest), "CREATE CONVERSION")
        }
        ["alter", kind @ ("conversion" | "statistics"), rest @ ..] => ddl(
            alter_named(rest, *kind == "statistics"),
            "ALTER CONVERSION/STATISTICS",
        ),
        ["alter", "rule" | "trigger", name, "on", rest @ ..] => ddl(
            is_identifier(name) && renamed_on_table(rest),
            "ALTER RULE/TRIGGER … RENAME",
        ),
        ["alter", "domain", rest @ ..] => ddl(alter_domain(rest), "ALTER DOMAIN"),
        ["alter", "text", "search", "configuration", rest @ ..] => {
            ddl(mapping(rest), "ALTER TEXT SEARCH CONFIGURATION … MAPPING")
        }
        _ => None,
    }
}

/// An operator's characters (`SORTOP = <`, `OPERATOR(pg_catalog.<)`).
fn is_operator(t: &str) -> bool {
    !t.is_empty() && t.chars().all(|c| "+-*/<>=~!@#%^&|`?".contains(c))
}

/// Words that begin a query or a command: never part of a definition (defense in depth: the
/// server would refuse them there anyway).
const QUERY_WORDS: &[&str] = &[
    "select", "values", "table", "with", "insert", "update", "delete", "merge", "execute", "call",
];

/// Names, literals, operators (only with `operators`: an aggregate's `SORTOP`) and the
/// punctuation of lists, with balanced parentheses: what a definition without expressions is
/// made of.
fn definition_tokens(t: &[&str], operators: bool) -> bool {
    let mut depth = 0usize;
    for token in t {
        match *token {
            "(" => depth += 1,
            ")" => {
                let Some(d) = depth.checked_sub(1) else {
                    return false;
                };
                depth = d;
            }
            "," | "." | "[" | "]" => {}
            t if QUERY_WORDS.contains(&t) => return false,
            "?" => {}
            t if is_identifier(t) || (operators && is_operator(t)) => {}
            _ => return false,
        }
    }
    depth == 0
}

/// After `CREATE AGGREGATE`: a name, its argument list and its definition list (one list with
/// `BASETYPE` in the old form), which names its state function, and nothing else.
fn aggregate(rest: &[&str]) -> bool {
    let Some((_, after)) = super::pg_alter::name(rest) else {
        return false;
    };
    matches!(after, ["(", .., ")"]) && after.contains(&"sfunc") && definition_tokens(after, true)
}

/// After `CREATE CAST`: the two types in parentheses, then how the cast converts.
fn cast(rest: &[&str]) -> bool {
    let ["(", ..] = rest else { return false };
    let Some(close) = rest.iter().position(|t| *t == ")") else {
        return false;
    };
    let (types, how) = rest.split_at(close + 1);
    let how = how
        .strip_suffix(&["as", "assignment"])
        .or_else(|| how.strip_suffix(&["as", "implicit"]))
        .unwrap_or(how);
    types.contains(&"as")
        && definition_tokens(types, false)
        && match how {
            ["without", "function"] | ["with", "inout"] => true,
            ["with", "function", function @ ..] => {
                super::pg_alter::name(function).is_some_and(|(_, args)| {
                    args.is_empty()
                        || (matches!(args, ["(", .., ")"]) && definition_tokens(args, false))
                })
            }
            _ => false,
        }
}

/// After `CREATE [DEFAULT] CONVERSION`: `name FOR 'src' TO 'dst' FROM function`.
fn conversion(rest: &[&str]) -> bool {
    let Some((_, after)) = super::pg_alter::name(rest) else {
        return false;
    };
    let ["for", "?", "to", "?", "from", function @ ..] = after else {
        return false;
    };
    super::pg_alter::name(function).is_some_and(|(_, more)| more.is_empty())
}

/// `OWNER TO` the session's own role: ownership stays where it is (another role is `admin`).
fn own_role(t: &str) -> bool {
    matches!(t, "current_user" | "session_user" | "current_role")
}

/// After `ALTER CONVERSION|STATISTICS`: a name, then a rename, a schema, the own role as
/// owner, or (statistics) a statistics target.
fn alter_named(rest: &[&str], statistics: bool) -> bool {
    let Some((_, action)) = super::pg_alter::name(rest) else {
        return false;
    };
    match action {
        ["rename", "to", n] | ["set", "schema", n] => is_identifier(n),
        ["owner", "to", r] => own_role(r),
        ["set", "statistics", "?"] | ["set", "statistics", "-", "?"] => statistics,
        _ => false,
    }
}

/// After `ALTER RULE|TRIGGER name ON`: a table, then `RENAME TO new`.
fn renamed_on_table(rest: &[&str]) -> bool {
    let Some((_, action)) = super::pg_alter::name(rest) else {
        return false;
    };
    matches!(action, ["rename", "to", n] if is_identifier(n))
}

/// After `ALTER DOMAIN`: a name, then one of the forms without an expression.
fn alter_domain(rest: &[&str]) -> bool {
    let Some((_, action)) = super::pg_alter::name(rest) else {
        return false;
    };
    let action = action
        .strip_suffix(&["cascade"])
        .or_else(|| action.strip_suffix(&["restrict"]))
        .unwrap_or(action);
    match action {
        ["drop", "default"] | ["set" | "drop", "not", "null"] => true,
        ["drop", "constraint", "if", "exists", c]
        | ["drop" | "validate", "constraint", c]
        | ["rename", "to", c]
        | ["set", "schema", c] => is_identifier(c),
        ["rename", "constraint", a, "to", b] => is_identifier(a) && is_identifier(b),
        ["owner", "to", r] => own_role(r),
        _ => false,
    }
}

/// After `ALTER TEXT SEARCH CONFIGURATION`: a name, then a mapping change: token types,
/// dictionaries, commas and the form's keywords.
fn mapping(rest: &[&str]) -> bool {
    let Some((_, action)) = super::pg_alter::name(rest) else {
        return false;
    };
    let ["add" | "alter" | "drop", "mapping", more @ ..] = action else {
        return false;
    };
    !more.is_empty()
        && more
            .iter()
            .all(|t| is_identifier(t) || matches!(*t, "," | "."))
}

/// A routine's definition after `CREATE [OR REPLACE] FUNCTION|PROCEDURE`: a qualified name,
/// a parenthesized parameter list, then options and the body. Its class: `ddl`, or `admin`
/// when a `LANGUAGE` at the top level is not a trusted one (or is not a plain name).
fn routine(rest: &[&str]) -> Option<(StatementClass, &'static str)> {
    let after_name = match rest {
        [s, ".", n, "(", ..] if is_identifier(s) && is_identifier(n) => 3,
        [n, "(", ..] if is_identifier(n) => 1,
        _ => return None,
    };
    let mut depth = 0i32;
    let mut trusted = true;
    for (i, t) in rest.iter().enumerate().skip(after_name) {
        match *t {
            "(" => depth += 1,
            ")" => depth -= 1,
            "language" if depth == 0 => {
                trusted &= rest
                    .get(i + 1)
                    .is_some_and(|l| is_identifier(l) && super::routine::is_trusted_language(l));
            }
            // A `BEGIN ATOMIC … END` body holds `;`s, at which statements are split: such a
            // routine is read whole (`routine::is_one_pg_atomic_routine`), never in pieces.
            "begin" if depth == 0 && rest.get(i + 1) == Some(&"atomic") => return None,
            ";" => return None,
            _ => {}
        }
    }
    if depth != 0 {
        return None;
    }
    Some(if trusted {
        (StatementClass::Ddl, super::routine::STORED_CODE)
    } else {
        (StatementClass::Admin, super::routine::UNTRUSTED_ROUTINE)
    })
}

/// After `CREATE TABLE`: `[IF NOT EXISTS] name OF type`, names only.
fn typed_table(rest: &[&str]) -> bool {
    let rest = rest.strip_prefix(&["if", "not", "exists"]).unwrap_or(rest);
    let Some((_, after)) = super::pg_alter::name(rest) else {
        return false;
    };
    let Some(("of", type_name)) = after.split_first().map(|(a, b)| (*a, b)) else {
        return false;
    };
    matches!(super::pg_alter::name(type_name), Some((_, [])))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(sql: &str) -> Option<StatementClass> {
        super::super::recognize::pg_class_by(sql, recognize)
    }

    #[test]
    fn forms_are_recognized() {
        for sql in [
            "CREATE AGGREGATE public.myavg(double precision) (SFUNC = float8_accum, \
             STYPE = double precision[], FINALFUNC = float8_avg, INITCOND = '{0,0,0}')",
            "CREATE OR REPLACE AGGREGATE s.mx(numeric(10, 2)) (SFUNC = pg_catalog.numeric_larger, \
             STYPE = numeric, SORTOP = OPERATOR(pg_catalog.>), PARALLEL = safe)",
            "CREATE AGGREGATE pct(float8 ORDER BY float8) (SFUNC = f, STYPE = internal, \
             FINALFUNC_EXTRA, HYPOTHETICAL)",
            "CREATE AGGREGATE old (BASETYPE = int4, SFUNC = int4pl, STYPE = int4)",
            "CREATE CAST (text AS public.code) WITH FUNCTION public.to_code(text) AS IMPLICIT",
            "CREATE CAST (int4 AS bool) WITHOUT FUNCTION AS ASSIGNMENT",
            "CREATE CAST (s.t AS text) WITH INOUT",
            "CREATE CAST (text AS s.t) WITH FUNCTION f",
            "CREATE DEFAULT CONVERSION s.c FOR 'LATIN1' TO 'UTF8' FROM iso8859_1_to_utf8",
            "ALTER CONVERSION c RENAME TO d",
            "ALTER CONVERSION s.c OWNER TO CURRENT_USER",
            "ALTER STATISTICS s SET STATISTICS 100",
            "ALTER STATISTICS s SET STATISTICS -1",
            "ALTER STATISTICS s SET SCHEMA t",
            "ALTER RULE r ON s.t RENAME TO r2",
            "ALTER TRIGGER tr ON t RENAME TO tr2",
            "ALTER DOMAIN d DROP DEFAULT",
            "ALTER DOMAIN s.d SET NOT NULL",
            "ALTER DOMAIN d DROP CONSTRAINT IF EXISTS c CASCADE",
            "ALTER DOMAIN d RENAME CONSTRAINT c TO c2",
            "ALTER DOMAIN d VALIDATE CONSTRAINT c",
            "ALTER DOMAIN d OWNER TO SESSION_USER",
            "ALTER TEXT SEARCH CONFIGURATION c ADD MAPPING FOR word, asciiword WITH simple",
            "ALTER TEXT SEARCH CONFIGURATION c ALTER MAPPING REPLACE english_stem WITH simple",
            "ALTER TEXT SEARCH CONFIGURATION s.c DROP MAPPING IF EXISTS FOR url",
        ] {
            assert_eq!(class(sql), Some(StatementClass::Ddl), "{sql}");
        }
    }

    #[test]
    fn other_forms_are_not() {
        for sql in [
            // Expressions, subqueries, calls: nowhere to go in these forms.
            "CREATE AGGREGATE a(int) (SFUNC = (SELECT pg_terminate_backend(1)), STYPE = int)",
            "CREATE AGGREGATE a(int) (SFUNC = f, STYPE = int",
            "CREATE AGGREGATE a(int)",
            "CREATE CAST (text AS int) WITH FUNCTION f(1 + pg_terminate_backend(1))",
            "CREATE CAST (text AS int)",
            "CREATE CAST (text, int) WITH INOUT",
            "CREATE CONVERSION c FOR 'a' TO 'b' FROM f(1)",
            // Another role as the owner is admin.
            "ALTER CONVERSION c OWNER TO bob",
            "ALTER DOMAIN d OWNER TO bob",
            "ALTER CONVERSION c SET STATISTICS 5",
            "ALTER DOMAIN d SET DEFAULT pg_terminate_backend(1)",
            "ALTER DOMAIN d ADD CONSTRAINT c CHECK (VALUE > 0)",
            "ALTER TRIGGER tr ON t DEPENDS ON EXTENSION e",
            "ALTER TEXT SEARCH CONFIGURATION c ADD MAPPING FOR word WITH f(1)",
            "ALTER RULE r ON t RENAME TO r2; DROP ROLE bob",
        ] {
            assert_eq!(class(sql), None, "{sql}");
        }
    }
}

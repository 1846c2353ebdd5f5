//! PostgreSQL statements about schema objects that sqlparser 0.63 does not parse, common in
//! migrations, `pg_dump` output and a DBA's work, recognized over normalized tokens (literals
//! already `?`; see [`super::recognize`]):
//!
//! - `DROP INDEX [CONCURRENTLY] [IF EXISTS] …`, and `DROP RULE|AGGREGATE|ROUTINE|CAST|OPERATOR
//!   CLASS|OPERATOR FAMILY|CONVERSION|STATISTICS|TEXT SEARCH …` (`ddl`): names, argument types and
//!   `ON table` only, `CASCADE|RESTRICT` at the end;
//! - `COMMENT ON <object> IS '…' | NULL` for the objects of a schema that sqlparser cannot
//!   name (functions with argument types, constraints, triggers, rules, extensions…) (`ddl`);
//! - `ALTER TYPE t ADD|DROP|ALTER|RENAME ATTRIBUTE …`, `SET SCHEMA s`, `ADD VALUE IF NOT EXISTS`
//!   (`ddl`);
//! - `ALTER FUNCTION|ROUTINE|PROCEDURE f[(args)] <actions>` (`ddl`): renames, `SET SCHEMA`,
//!   volatility, strictness, `SECURITY INVOKER|DEFINER`, `PARALLEL`, `COST`, `ROWS`, and the
//!   settings the routine runs with (`SET name = value`, `RESET`): stored code is created, not
//!   run, as with `CREATE FUNCTION … SET` (which sqlparser parses, also `ddl`);
//! - two-phase commit: `PREPARE TRANSACTION`, `COMMIT PREPARED`, `ROLLBACK PREPARED` (`write`:
//!   a prepared transaction outlives the session and keeps its locks);
//! - operators named by symbols sqlparser cannot tokenize (`===`): `CREATE OPERATOR`, `ALTER
//!   OPERATOR … OWNER TO CURRENT_USER | SET SCHEMA | SET (…)`, `DROP OPERATOR` (`ddl`);
//! - a large object's `COMMENT ON LARGE OBJECT n` and `ALTER LARGE OBJECT n OWNER TO
//!   CURRENT_USER` (`ddl`; `pg_dump` writes both).
//!
//! None of these forms holds an expression, so none runs a function. `OWNER TO` another role,
//! `DEPENDS ON EXTENSION` and `SUPPORT` functions are not among them.

use super::StatementClass;
use super::recognize::is_identifier;

/// The class and a description of one of the forms above, from the statement's tokens (lower
/// case).
pub(crate) fn recognize(tokens: &[&str]) -> Option<(StatementClass, &'static str)> {
    match tokens {
        // A large object's comment and its owner when that is the session's own role (`pg_dump`
        // writes both; another owner is a privilege change: `admin`).
        ["comment", "on", "large", "object", "?", "is", "?" | "null"]
        | [
            "alter",
            "large",
            "object",
            "?",
            "owner",
            "to",
            "current_user",
        ] => Some((StatementClass::Ddl, "a large object's comment or owner")),
        ["drop", "operator", rest @ ..] if !matches!(rest.first(), Some(&("class" | "family"))) => {
            let rest = rest.strip_prefix(&["if", "exists"]).unwrap_or(rest);
            let mut rest = rest
                .strip_suffix(&["cascade"])
                .or_else(|| rest.strip_suffix(&["restrict"]))
                .unwrap_or(rest);
            loop {
                rest = after_operator_signature(operator_name(rest)?)?;
                match rest {
                    [] => return Some((StatementClass::Ddl, "DROP OPERATOR")),
                    [",", more @ ..] => rest = more,
                    _ => return None,
                }
            }
        }
        ["drop", rest @ ..] => drop_object(rest).then_some((StatementClass::Ddl, "DROP")),
        ["comment", "on", rest @ ..] => {
            comment_target(rest).then_some((StatementClass::Ddl, "COMMENT ON"))
        }
        ["prepare", "transaction", "?"] | ["commit" | "rollback", "prepared", "?"] => Some((
            StatementClass::Write,
            "two-phase commit (a prepared transaction outlives the session, with its locks)",
        )),
        ["alter", "type", rest @ ..] => {
            alter_type(rest).then_some((StatementClass::Ddl, "ALTER TYPE"))
        }
        ["alter", "function" | "routine" | "procedure", rest @ ..] => alter_routine(rest),
        // Operators named by symbols sqlparser's tokenizer splits (`===`, `<~>`): their
        // definitions name functions and other operators, as `CREATE FUNCTION` names a body.
        ["create", "operator", rest @ ..] => {
            let options = operator_name(rest)?;
            let ["(", inner @ .., ")"] = options else {
                return None;
            };
            inner
                .iter()
                .all(|t| is_object_token(t) || *t == "=" || is_operator_char(t))
                .then_some((StatementClass::Ddl, "CREATE OPERATOR"))
        }
        ["alter", "operator", rest @ ..] => {
            let action = after_operator_signature(operator_name(rest)?)?;
            let ok = match action {
                ["owner", "to", "current_user"] | ["set", "schema", _] => {
                    action.iter().all(|t| is_identifier(t))
                }
                ["set", "(", inner @ .., ")"] => inner
                    .iter()
                    .all(|t| is_object_token(t) || *t == "=" || is_operator_char(t)),
                _ => false,
            };
            ok.then_some((StatementClass::Ddl, "ALTER OPERATOR"))
        }
        _ => None,
    }
}

/// A character of a PostgreSQL operator's name, as a token of its own.
fn is_operator_char(t: &str) -> bool {
    t.len() == 1 && "+-*/<>=~!@#%^&|`?".contains(t)
}

/// After an operator's possibly schema-qualified name (`public.===`, one token per
/// character): what follows it.
fn operator_name<'a, 'b>(t: &'a [&'b str]) -> Option<&'a [&'b str]> {
    let t = match t {
        [s, ".", rest @ ..] if is_identifier(s) => rest,
        _ => t,
    };
    let n = t.iter().take_while(|c| is_operator_char(c)).count();
    (n > 0).then(|| &t[n..])
}

/// After an operator's argument types, `(left, right)` (`NONE` for a prefix operator).
fn after_operator_signature<'a, 'b>(t: &'a [&'b str]) -> Option<&'a [&'b str]> {
    let ["(", rest @ ..] = t else { return None };
    let close = rest.iter().position(|x| *x == ")")?;
    rest[..close]
        .iter()
        .all(|x| is_object_token(x))
        .then(|| &rest[close + 1..])
}

/// Names, argument type lists and the punctuation between them: what a DROP or COMMENT names
/// (`*`: an aggregate over all rows, `DROP AGGREGATE count_all(*)`).
fn is_object_token(t: &str) -> bool {
    is_identifier(t) || matches!(t, "." | "," | "(" | ")" | "[" | "]" | "?" | "*")
}

/// After `DROP`: a kind of object from the list in the module docs, then its names.
fn drop_object(rest: &[&str]) -> bool {
    let (["index", "concurrently", rest @ ..]
    | [
        "index" | "rule" | "aggregate" | "routine" | "cast" | "conversion" | "statistics",
        rest @ ..,
    ]
    | ["operator", "class" | "family", rest @ ..]
    | [
        "text",
        "search",
        "configuration" | "dictionary" | "parser" | "template",
        rest @ ..,
    ]) = rest
    else {
        return false;
    };
    let rest = rest.strip_prefix(&["if", "exists"]).unwrap_or(rest);
    let rest = rest
        .strip_suffix(&["cascade"])
        .or_else(|| rest.strip_suffix(&["restrict"]))
        .unwrap_or(rest);
    // A cast is named by its types: `DROP CAST (text AS integer)`.
    !rest.is_empty()
        && (is_identifier(rest[0]) || rest[0] == "(")
        && rest.iter().all(|t| is_object_token(t))
}

/// After `COMMENT ON`: an object of a schema, `IS`, then a literal or `NULL`.
fn comment_target(rest: &[&str]) -> bool {
    let [object @ .., "is", "?" | "null"] = rest else {
        return false;
    };
    let ([
        "text",
        "search",
        "configuration" | "dictionary" | "parser" | "template",
        names @ ..,
    ]
    | ["materialized", "view", names @ ..]
    | ["foreign", "table", names @ ..]
    | [
        "aggregate" | "cast" | "collation" | "column" | "constraint" | "conversion" | "database"
        | "domain" | "extension" | "function" | "index" | "policy" | "procedure" | "routine"
        | "rule" | "schema" | "sequence" | "statistics" | "table" | "trigger" | "type" | "view",
        names @ ..,
    ]) = object
    else {
        return false;
    };
    // A cast is named by its types: `COMMENT ON CAST (text AS integer)`.
    !names.is_empty()
        && (is_identifier(names[0]) || names[0] == "(")
        && names.iter().all(|t| *t != "is" && is_object_token(t))
}

/// After `ALTER TYPE`: a name and an attribute change, a schema, `OWNER TO` the session's own
/// role, or an enum value added only
/// if missing (sqlparser parses the other `ADD VALUE` and `RENAME` forms).
fn alter_type(rest: &[&str]) -> bool {
    let Some((_, action)) = super::pg_alter::name(rest) else {
        return false;
    };
    let action = action
        .strip_suffix(&["cascade"])
        .or_else(|| action.strip_suffix(&["restrict"]))
        .unwrap_or(action);
    let type_tokens = |t: &[&str]| !t.is_empty() && t.iter().all(|t| is_object_token(t));
    match action {
        ["set", "schema", s] => is_identifier(s),
        // `OWNER TO` the session's own role only (another role's is a privilege change:
        // refused).
        [
            "owner",
            "to",
            "current_user" | "session_user" | "current_role",
        ]
        | ["add", "value", "if", "not", "exists", "?"]
        | [
            "add",
            "value",
            "if",
            "not",
            "exists",
            "?",
            "before" | "after",
            "?",
        ] => true,
        ["add", "attribute", a, ty @ ..]
        | ["alter", "attribute", a, "set", "data", "type", ty @ ..]
        | ["alter", "attribute", a, "type", ty @ ..] => is_identifier(a) && type_tokens(ty),
        ["drop", "attribute", "if", "exists", a] | ["drop", "attribute", a] => is_identifier(a),
        ["rename", "attribute", a, "to", b] => is_identifier(a) && is_identifier(b),
        _ => false,
    }
}

/// A routine's actions that are keywords only (`OWNER TO` the session's own role only).
const ROUTINE_ACTIONS: &[&[&str]] = &[
    &["immutable"],
    &["stable"],
    &["volatile"],
    &["strict"],
    &["leakproof"],
    &["not", "leakproof"],
    &["called", "on", "null", "input"],
    &["returns", "null", "on", "null", "input"],
    &["external", "security", "invoker"],
    &["external", "security", "definer"],
    &["security", "invoker"],
    &["security", "definer"],
    &["parallel", "unsafe"],
    &["parallel", "restricted"],
    &["parallel", "safe"],
    &["owner", "to", "current_user"],
    &["owner", "to", "session_user"],
];

/// After `ALTER FUNCTION|ROUTINE|PROCEDURE`: a name, its optional argument list, then one or
/// more of the actions in the module docs.
fn alter_routine(rest: &[&str]) -> Option<(StatementClass, &'static str)> {
    let (_, action) = super::pg_alter::name(rest)?;
    // Argument modes, names and types: words, commas, `[]`, `.`, and type modifiers.
    let action = super::pg_alter::after_optional_list(action, |t| {
        is_identifier(t) || matches!(t, "," | "[" | "]" | "." | "?")
    })?;
    let mut actions = action.strip_suffix(&["restrict"]).unwrap_or(action);
    if actions.is_empty() {
        return None;
    }
    while !actions.is_empty() {
        let taken = if let Some(words) = ROUTINE_ACTIONS
            .iter()
            .find(|words| actions.starts_with(words))
        {
            words.len()
        } else {
            match actions {
                ["rename", "to", n, ..] | ["set", "schema", n, ..] | ["reset", n, ..]
                    if is_identifier(n) =>
                {
                    3 - usize::from(actions[0] == "reset")
                }
                ["cost" | "rows", "?", ..] => 2,
                ["set", ..] => 1 + routine_setting(&actions[1..])?,
                _ => return None,
            }
        };
        actions = &actions[taken..];
    }
    Some((StatementClass::Ddl, "ALTER FUNCTION/PROCEDURE"))
}

/// `name {TO|=} value[, value…]` or `name FROM CURRENT` after a routine's `SET`: how many
/// tokens it takes. Values are literals and words only.
fn routine_setting(t: &[&str]) -> Option<usize> {
    let after = match t {
        [s, ".", n, rest @ ..] if is_identifier(s) && is_identifier(n) => rest,
        [n, rest @ ..] if is_identifier(n) => rest,
        _ => return None,
    };
    let used = t.len() - after.len();
    let value_len = match after {
        ["from", "current", ..] => 2,
        ["to" | "=", values @ ..] => {
            // Values up to the next action: literals and words separated by commas.
            let mut n = 0;
            loop {
                let v = values.get(n)?;
                if !(is_identifier(v) || *v == "?") {
                    return None;
                }
                n += 1;
                if values.get(n) != Some(&",") {
                    break;
                }
                n += 1;
            }
            1 + n
        }
        _ => return None,
    };
    Some(used + value_len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(sql: &str) -> Option<StatementClass> {
        super::super::recognize::pg_class_by(sql, recognize)
    }

    #[test]
    fn forms_are_recognized() {
        let ddl = Some(StatementClass::Ddl);
        for sql in [
            "DROP INDEX CONCURRENTLY IF EXISTS public.i",
            "DROP INDEX CONCURRENTLY i CASCADE",
            "DROP RULE IF EXISTS r ON s.t",
            "DROP AGGREGATE a(integer, text[])",
            "DROP OPERATOR CLASS c USING btree",
            "ALTER TYPE t ADD ATTRIBUTE a int, DROP ATTRIBUTE b",
            "DROP CAST IF EXISTS (text AS integer)",
            "DROP TEXT SEARCH CONFIGURATION c",
            "COMMENT ON FUNCTION public.f(integer, character varying) IS 'x'",
            "COMMENT ON CONSTRAINT c ON t IS NULL",
            "COMMENT ON CONSTRAINT c ON DOMAIN d IS 'x'",
            "COMMENT ON TRIGGER tr ON t IS 'x'",
            "COMMENT ON EXTENSION plpgsql IS 'PL/pgSQL'",
            "ALTER TYPE t ADD ATTRIBUTE a character varying(10)",
            "ALTER TYPE s.t DROP ATTRIBUTE IF EXISTS a CASCADE",
            "ALTER TYPE t ALTER ATTRIBUTE a SET DATA TYPE numeric(10, 2)",
            "ALTER TYPE t SET SCHEMA s",
            "ALTER TYPE mood ADD VALUE IF NOT EXISTS 'c' AFTER 'b'",
            "ALTER FUNCTION f(integer) SET search_path = public, pg_temp",
            "ALTER FUNCTION f() SECURITY DEFINER STABLE PARALLEL SAFE COST 10",
            "ALTER ROUTINE f(IN a int) RESET ALL",
            "ALTER FUNCTION f OWNER TO CURRENT_USER",
            "ALTER PROCEDURE p() SET work_mem FROM CURRENT",
            "ALTER FUNCTION f() SECURITY DEFINER SET default_transaction_read_only = off",
        ] {
            assert_eq!(class(sql), ddl, "{sql}");
        }
        assert_eq!(
            class("PREPARE TRANSACTION 'x'"),
            Some(StatementClass::Write)
        );
        assert_eq!(class("COMMIT PREPARED 'x'"), Some(StatementClass::Write));
    }

    #[test]
    fn other_forms_are_not() {
        for sql in [
            "DROP OWNED BY bob",
            "DROP POLICY p ON t",
            "DROP SERVER s",
            "DROP INDEX i; DROP ROLE bob",
            "COMMENT ON ROLE bob IS 'x'",
            "COMMENT ON TABLESPACE ts IS 'x'",
            "COMMENT ON TABLE t IS 'x' || pg_terminate_backend(1)",
            "COMMENT ON TABLE t IS (SELECT 'x')",
            "DROP OPERATOR === (int, int) CASCADE, pg_terminate_backend(1)",
            "CREATE OPERATOR === (FUNCTION = f) WITH x",
            "ALTER OPERATOR === (int, int) OWNER TO bob",
            "ALTER FUNCTION f() OWNER TO bob",
            "ALTER FUNCTION f() DEPENDS ON EXTENSION e",
            "ALTER FUNCTION f() SUPPORT g",
            "ALTER FUNCTION f() SET search_path = (SELECT 1)",
            "ALTER FUNCTION f()",
            "PREPARE TRANSACTION x",
        ] {
            assert_eq!(class(sql), None, "{sql}");
        }
    }
}

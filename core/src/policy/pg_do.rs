//! PostgreSQL's `DO` blocks of plain statements: `DO [LANGUAGE plpgsql] 'BEGIN stmt; …
//! [EXCEPTION WHEN cond [OR cond] THEN NULL; …] END'`, the form ORMs send (Sequelize creates an
//! enum type with `DO 'BEGIN CREATE TYPE … AS ENUM (…); EXCEPTION WHEN duplicate_object THEN
//! null; END'`, Django and Rails migrations carry similar ones).
//!
//! A `DO` block is code the server runs now, so its statements are classified as if sent
//! one by one, and the block is at least `write` (its body is code, as `CALL`'s is). Only the
//! narrowest PL/pgSQL is read: a `BEGIN … END` with no `DECLARE` section, no label, no
//! variables, and statements that are each one SQL statement sqlparser parses (none of
//! PL/pgSQL's own: `IF`, `LOOP`, `PERFORM`, `EXECUTE` (dynamic SQL), `RAISE`, assignments,
//! cursors…); an exception section only of handlers that do nothing (`WHEN duplicate_object
//! THEN NULL`), which swallow a statement's error and change nothing about what it does.
//! One PL/pgSQL statement is read too: a `RAISE` whose operands are literals only (`RAISE
//! WARNING USING ERRCODE = 'undefined_table', MESSAGE = '…'`, as Sqitch sends), which sends a
//! message or ends the block with an error and runs nothing. Any other block, and any other
//! language, stays unclassifiable (`admin` only), as before.

use sqlparser::tokenizer::Token;

use super::dynamic::nested_class;
use super::{SqlDialect, StatementClass};

/// Words that start a PL/pgSQL statement that is not SQL (or SQL whose meaning differs there).
const PLPGSQL_STATEMENTS: &[&str] = &[
    "begin",
    "end",
    "declare",
    "if",
    "elsif",
    "else",
    "case",
    "loop",
    "while",
    "for",
    "foreach",
    "exit",
    "continue",
    "return",
    "raise",
    "perform",
    "execute",
    "get",
    "open",
    "fetch",
    "move",
    "close",
    "assert",
    "null",
    "exception",
    "when",
    "commit",
    "rollback",
];

/// `None` when `sql` is not a `DO`; otherwise its class and a description, or why dbward
/// refuses to classify it.
pub(crate) fn block(sql: &str) -> Option<Result<(StatementClass, String), String>> {
    let (tokens, _) = super::recognize::tokens_with_text(sql, SqlDialect::Postgres)?;
    let significant: Vec<&Token> = tokens
        .iter()
        .filter(|t| !matches!(t, Token::Whitespace(_) | Token::SemiColon))
        .collect();
    let word = |t: &Token| match t {
        Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_ascii_lowercase()),
        _ => None,
    };
    if significant.first().and_then(|t| word(t)).as_deref() != Some("do") {
        return None;
    }
    let mut body = None;
    let mut language = None;
    let mut k = 1;
    while k < significant.len() {
        match significant[k] {
            Token::SingleQuotedString(s) | Token::EscapedStringLiteral(s) if body.is_none() => {
                body = Some(s.clone());
            }
            Token::DollarQuotedString(s) if body.is_none() => body = Some(s.value.clone()),
            t if word(t).as_deref() == Some("language") && language.is_none() => {
                k += 1;
                language = significant.get(k).map(|t| match t {
                    Token::Word(w) => w.value.to_ascii_lowercase(),
                    Token::SingleQuotedString(s) => s.to_ascii_lowercase(),
                    _ => String::new(),
                });
            }
            _ => return Some(Err("a DO statement dbward cannot read".into())),
        }
        k += 1;
    }
    if language.as_deref().is_some_and(|l| l != "plpgsql") {
        return Some(Err(format!(
            "a DO block in language {}",
            language.unwrap_or_default()
        )));
    }
    let Some(body) = body else {
        return Some(Err("a DO statement without its code".into()));
    };
    Some(classify_body(&body))
}

/// The class of a PL/pgSQL block's plain statements (see the module docs).
fn classify_body(body: &str) -> Result<(StatementClass, String), String> {
    let opaque = || Err("a DO block beyond plain statements (dbward cannot see into it)".into());
    let Some(inner) = super::routine::between_begin_and_end(body) else {
        return opaque();
    };
    let scan = super::lexer::scan(inner, SqlDialect::Postgres);
    let mut class = StatementClass::Write;
    let mut what = String::from("DO (a block of plain statements)");
    let mut handlers = false;
    for range in &scan.statements {
        let piece = inner[range.clone()].trim();
        let normalized = super::lexer::scan(piece, SqlDialect::Postgres)
            .normalized
            .to_ascii_lowercase();
        let tokens = super::recognize::tokens(&normalized);
        if handlers || tokens.first() == Some(&"exception") {
            // Handlers that do nothing: `[EXCEPTION] WHEN cond [OR cond] THEN NULL`.
            let rest = if handlers { &tokens[..] } else { &tokens[1..] };
            handlers = true;
            let ["when", conditions @ .., "then", "null"] = rest else {
                return opaque();
            };
            let names_only = !conditions.is_empty()
                && conditions
                    .split(|t| *t == "or")
                    .all(|c| matches!(c, [n] if super::recognize::is_identifier(n)));
            if !names_only {
                return opaque();
            }
            continue;
        }
        let first = tokens.first().copied().unwrap_or_default();
        if first == "raise" && raises_literals_only(&tokens[1..]) {
            continue;
        }
        if PLPGSQL_STATEMENTS.contains(&first) || piece.starts_with("<<") {
            return opaque();
        }
        let (c, reason) = nested_class(piece, SqlDialect::Postgres, false)
            .map_err(|why| format!("a DO block with a statement {why}"))?;
        if c > class {
            class = c;
            what = format!("DO (a block of plain statements: {reason})");
        }
    }
    Ok((class, what))
}

/// After `RAISE` (normalized tokens, literals as `?`): `[level] { ? [, ?]… | condition |
/// SQLSTATE ? } [USING option = ? [, …]]` or `[level] USING …`; nothing that calls or reads.
fn raises_literals_only(rest: &[&str]) -> bool {
    const LEVELS: &[&str] = &["debug", "log", "info", "notice", "warning", "exception"];
    const OPTIONS: &[&str] = &[
        "message",
        "detail",
        "hint",
        "errcode",
        "column",
        "constraint",
        "datatype",
        "table",
        "schema",
    ];
    // An escape string (`E'…'`) is a literal too.
    let mut literals = Vec::with_capacity(rest.len());
    for (k, tok) in rest.iter().enumerate() {
        if *tok == "e" && rest.get(k + 1) == Some(&"?") {
            continue;
        }
        literals.push(*tok);
    }
    let rest = literals.as_slice();
    let mut t = rest;
    if let [level, after @ ..] = t
        && LEVELS.contains(level)
    {
        t = after;
    }
    match t {
        ["?", after @ ..] => {
            t = after;
            while let [",", "?", after @ ..] = t {
                t = after;
            }
        }
        ["sqlstate", "?", after @ ..] => t = after,
        [condition, after @ ..]
            if *condition != "using" && super::recognize::is_identifier(condition) =>
        {
            t = after;
        }
        _ => {}
    }
    match t {
        [] => !rest.is_empty(),
        ["using", options @ ..] => options.split(|x| *x == ",").all(|option| {
            matches!(option, [name, "=", "?"] | [name, ":", "=", "?"] if OPTIONS.contains(name))
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use StatementClass::{Ddl, Write};

    fn class(sql: &str) -> Option<Result<StatementClass, String>> {
        block(sql).map(|r| r.map(|(c, _)| c))
    }

    #[test]
    fn blocks_of_plain_statements_take_their_class() {
        assert_eq!(
            class(
                "DO 'BEGIN CREATE TYPE \"public\".\"enum_Users_role\" AS ENUM(''admin'', ''user''); \
                 EXCEPTION WHEN duplicate_object THEN null; END';"
            ),
            Some(Ok(Ddl))
        );
        assert_eq!(
            class("DO LANGUAGE plpgsql $$ BEGIN UPDATE t SET a = 1; DELETE FROM u; END $$"),
            Some(Ok(Write))
        );
        assert_eq!(class("DO $$BEGIN SELECT 1; END$$"), Some(Ok(Write)));
        assert_eq!(
            class(
                "DO $$BEGIN ALTER TABLE t ADD c int; EXCEPTION WHEN duplicate_column OR \
                 undefined_table THEN NULL; WHEN others THEN NULL; END$$"
            ),
            Some(Ok(Ddl))
        );
        assert_eq!(class("SELECT 1"), None);
        // Sqitch's warning before it creates its registry.
        assert_eq!(
            class(
                "DO $$
                 BEGIN
                     SET LOCAL client_min_messages = 'ERROR';
                     RAISE WARNING USING ERRCODE = 'undefined_table', MESSAGE = 'Sqitch registry not initialized', DETAIL = E'Because the \"changes\" table does not exist';
                 END;
             $$"
            ),
            Some(Ok(Write))
        );
        for raise in [
            "RAISE NOTICE 'x %, %', 1, 'y'",
            "RAISE EXCEPTION 'stop' USING HINT := 'h'",
            "RAISE unique_violation USING MESSAGE = 'dup'",
            "RAISE SQLSTATE '22012'",
            "RAISE 'plain'",
            "RAISE INFO E'esc\\n%', E'x'",
        ] {
            assert_eq!(
                class(&format!("DO $$BEGIN {raise}; DELETE FROM t; END$$")),
                Some(Ok(Write)),
                "{raise}"
            );
        }
    }

    #[test]
    fn anything_else_stays_opaque() {
        for sql in [
            "DO $$BEGIN PERFORM pg_sleep(1); END$$",
            "DO $$BEGIN EXECUTE 'DROP TABLE t'; END$$",
            "DO $$DECLARE x int; BEGIN x := 1; END$$",
            "DO $$BEGIN IF true THEN DELETE FROM t; END IF; END$$",
            "DO $$<<l>> BEGIN DELETE FROM t; END$$",
            "DO $$BEGIN DELETE FROM t; EXCEPTION WHEN others THEN DELETE FROM u; END$$",
            "DO $$BEGIN RAISE NOTICE 'x %', pg_terminate_backend(1); END$$",
            "DO $$BEGIN RAISE NOTICE 'x %', (SELECT count(*) FROM t); END$$",
            "DO $$BEGIN RAISE NOTICE USING MESSAGE = current_setting('a.b'); END$$",
            "DO $$BEGIN RAISE NOTICE 'x' USING ERRCODE = 'a' || f(); END$$",
            "DO $$BEGIN RAISE; END$$",
            "DO $$BEGIN RAISE NOTICE 'x', y; END$$",
            "DO LANGUAGE plperlu $$ system('id') $$",
            "DO $$BEGIN SELECT pg_terminate_backend(1); END$$",
            "DO $$BEGIN GRANT SELECT ON t TO bob; END$$",
            "DO $$ BEGIN CREATE TABLE t (a int); END $$ LANGUAGE plpython3u",
            "DO $$BEGIN COMMIT; END$$",
            "DO $$BEGIN SET ROLE bob; END$$",
        ] {
            match class(sql) {
                Some(Err(_) | Ok(StatementClass::Admin)) => {}
                other => panic!("{sql}: {other:?}"),
            }
        }
    }
}

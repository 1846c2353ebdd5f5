//! PostgreSQL's `CREATE [OR REPLACE] RULE name AS ON SELECT|INSERT|UPDATE|DELETE TO table
//! [WHERE condition] DO [ALSO|INSTEAD] NOTHING | command | (command; …)`, which sqlparser 0.63
//! does not parse.
//!
//! A rule is stored code that runs later, in the sessions that touch its table, as a view or a
//! trigger does: creating one is `ddl`, and, as for a view, what it would run counts too. Its
//! condition (read as `SELECT condition`) and its commands are classified by dbward itself from
//! their text as written (see [`super::recognize::tokens_with_text`]); the rule's class is the
//! strictest of `ddl` and theirs, and a condition or a command dbward cannot classify leaves the
//! whole rule unclassified (`admin` only). A parenthesized list of several commands is refused
//! before it gets here: dbward's statement splitter ends a statement at every `;` outside
//! literals and comments, parentheses or not, and the pieces do not parse.

use sqlparser::tokenizer::Token;

use super::dynamic::nested_class;
use super::{SqlDialect, StatementClass};

/// `None` when `sql` is not a `CREATE RULE`; otherwise its class and a description, or why
/// dbward refuses to classify it.
pub(crate) fn rule(sql: &str) -> Option<Result<(StatementClass, String), String>> {
    let (tokens, texts) = super::recognize::tokens_with_text(sql, SqlDialect::Postgres)?;
    let significant: Vec<(usize, &Token)> = tokens
        .iter()
        .enumerate()
        .filter(|(_, t)| !matches!(t, Token::Whitespace(_)))
        .collect();
    let keyword = |k: usize| match significant.get(k) {
        Some((_, Token::Word(w))) if w.quote_style.is_none() => Some(w.value.to_ascii_lowercase()),
        _ => None,
    };
    let is_name = |k: usize| matches!(significant.get(k), Some((_, Token::Word(_))));
    let is = |k: usize, word: &str| keyword(k).as_deref() == Some(word);
    let mut k = if is(0, "create") && is(1, "or") && is(2, "replace") {
        3
    } else if is(0, "create") {
        1
    } else {
        return None;
    };
    if !is(k, "rule") {
        return None;
    }
    // The header: name, event, table. Anything else is no rule dbward knows.
    let header = || -> Option<usize> {
        let mut k = k + 1;
        if !(is_name(k)
            && is(k + 1, "as")
            && is(k + 2, "on")
            && matches!(
                keyword(k + 3).as_deref(),
                Some("select" | "insert" | "update" | "delete")
            )
            && is(k + 4, "to")
            && is_name(k + 5))
        {
            return None;
        }
        k += 6;
        if matches!(significant.get(k), Some((_, Token::Period))) {
            is_name(k + 1).then_some(())?;
            k += 2;
        }
        Some(k)
    };
    let Some(after_table) = header() else {
        return Some(Err("a rule dbward cannot read".into()));
    };
    k = after_table;
    // Where a significant token's text starts, as an index into `texts`.
    let at = |k: usize| significant.get(k).map(|(i, _)| *i);
    let text_between = |from: usize, to: Option<usize>| -> String {
        let start = at(from).unwrap_or(texts.len());
        let end = to.and_then(at).unwrap_or(texts.len());
        texts[start..end].concat()
    };
    let mut classes = vec![(StatementClass::Ddl, "a rule".to_owned())];
    // `DO` is a reserved word: outside parentheses it can only be the rule's own.
    let mut depth = 0usize;
    let do_at = (k..significant.len()).find(|&i| {
        match significant[i].1 {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            _ => {}
        }
        depth == 0 && is(i, "do")
    })?;
    if is(k, "where") {
        let condition = text_between(k + 1, Some(do_at));
        match nested_class(&format!("SELECT {condition}"), SqlDialect::Postgres, false) {
            Ok(c) => classes.push(c),
            Err(why) => return Some(Err(format!("a rule's condition {why}"))),
        }
    } else if k != do_at {
        return Some(Err("a rule dbward cannot read".into()));
    }
    k = do_at + 1;
    if is(k, "also") || is(k, "instead") {
        k += 1;
    }
    let commands = if is(k, "nothing") && k + 1 == significant.len() {
        None
    } else if matches!(significant.get(k), Some((_, Token::LParen)))
        && matches!(significant.last(), Some((_, Token::RParen)))
        && significant.len() > k + 2
    {
        Some((text_between(k + 1, Some(significant.len() - 1)), true))
    } else if k < significant.len() {
        Some((text_between(k, None), false))
    } else {
        return Some(Err("a rule without its action".into()));
    };
    if let Some((text, several)) = commands {
        match nested_class(&text, SqlDialect::Postgres, several) {
            Ok(c) => classes.push(c),
            Err(why) => return Some(Err(format!("a rule's action {why}"))),
        }
    }
    let (class, what) = classes
        .into_iter()
        .max_by_key(|(c, _)| *c)
        .unwrap_or((StatementClass::Ddl, String::new()));
    Some(Ok((
        class,
        format!("CREATE RULE ({what}, run later in the sessions that touch the table)"),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(sql: &str) -> Option<Result<StatementClass, String>> {
        rule(sql).map(|r| r.map(|(c, _)| c))
    }

    #[test]
    fn rules_take_the_strictest_class_of_what_they_run() {
        for (sql, expected) in [
            (
                "CREATE RULE r AS ON INSERT TO t DO INSTEAD NOTHING",
                StatementClass::Ddl,
            ),
            (
                "CREATE OR REPLACE RULE \"r 2\" AS ON UPDATE TO s.t WHERE old.a <> new.a \
                 DO ALSO INSERT INTO log VALUES (old.a, new.a)",
                StatementClass::Ddl,
            ),
            (
                "CREATE RULE r AS ON DELETE TO t DO ALSO (INSERT INTO a VALUES (old.id); \
                 UPDATE b SET n = n - 1 WHERE id = old.id)",
                StatementClass::Ddl,
            ),
            (
                "CREATE RULE r AS ON INSERT TO t DO ALSO NOTIFY t_changed",
                StatementClass::Ddl,
            ),
            (
                "CREATE RULE r AS ON INSERT TO t DO ALSO SELECT pg_terminate_backend(1)",
                StatementClass::Admin,
            ),
            (
                "CREATE RULE r AS ON INSERT TO t WHERE pg_terminate_backend(new.a) DO NOTHING",
                StatementClass::Admin,
            ),
            (
                "CREATE RULE r AS ON INSERT TO t DO ALSO DO $$BEGIN NULL; END$$",
                StatementClass::Admin,
            ),
            (
                "CREATE RULE r AS ON INSERT TO t DO ALSO SELECT set_config(current_user, 'x', false)",
                StatementClass::Admin,
            ),
            (
                "CREATE RULE r AS ON INSERT TO t DO ALSO (UPDATE c SET n = n + 1)",
                StatementClass::Ddl,
            ),
        ] {
            assert_eq!(class(sql), Some(Ok(expected)), "{sql}");
        }
    }

    #[test]
    fn rules_dbward_cannot_read_are_refused() {
        for sql in [
            "CREATE RULE r AS ON INSERT TO t DO ALSO SELEC 1",
            "CREATE RULE r AS ON INSERT TO t WHERE (SELEC 1) DO NOTHING",
            "CREATE RULE r AS ON INSERT TO t DO ALSO SET statement_timeout = 0",
            "CREATE RULE r AS ON TRUNCATE TO t DO NOTHING",
            "CREATE RULE r AS ON INSERT TO t DO",
            "CREATE RULE r AS ON INSERT TO t DO ALSO ()",
            "CREATE RULE r AS ON INSERT TO t DO ALSO INSERT INTO a VALUES (1); DROP TABLE x",
        ] {
            assert!(
                matches!(class(sql), Some(Err(_))),
                "{sql}: {:?}",
                class(sql)
            );
        }
        assert_eq!(class("CREATE TABLE r (a int)"), None);
    }
}

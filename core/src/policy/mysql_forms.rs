//! MySQL/MariaDB statements sqlparser 0.63 does not parse that DBAs and transaction managers
//! send, recognized in exact forms:
//!
//! - XA transactions (`XA START|END|PREPARE|COMMIT|ROLLBACK xid`, Java transaction managers):
//!   `write`, as a prepared XA transaction outlives the session and keeps its locks; `XA
//!   RECOVER` lists them: `read`;
//! - `ALTER DATABASE|SCHEMA [name]` with character set, collation and comment options: `ddl`;
//! - MariaDB's `ANALYZE TABLE t PERSISTENT FOR …` (engine-independent statistics): `ddl`;
//! - `HANDLER t OPEN`: `write`, like `LOCK TABLES` (it holds the table's metadata lock until
//!   `HANDLER t CLOSE`, blocking schema changes); `HANDLER t READ` with literal keys and no
//!   `WHERE`, and `CLOSE`: `read`;
//! - events: `DROP EVENT` is `ddl`; `CREATE|ALTER EVENT … DO stmt` is `ddl`, or the class of
//!   `stmt` if stricter: the scheduler runs it later as the event's definer, outside any
//!   session, its read-only mode and its audit. The schedule takes literals, intervals and the
//!   current time only, the definer is the session's own account, and the body is one
//!   statement dbward classifies, or a `BEGIN … END` block of plain statements, each
//!   classified (control statements, `DECLARE`, labels and nested blocks are not recognized);
//! - `LOCK TABLE` (the other spelling) and `LOCK TABLES` with what sqlparser lacks (qualified
//!   names, `READ LOCAL`, `LOW_PRIORITY WRITE`, MariaDB's `WRITE CONCURRENT` and `WAIT n`):
//!   `write`, as parsed `LOCK TABLES` is;
//! - `DROP [TEMPORARY] TABLES` (the plural spelling) and MariaDB's `RENAME TABLE IF EXISTS`:
//!   `ddl`;
//! - MariaDB's sequences, `CREATE [OR REPLACE] [TEMPORARY] SEQUENCE` and `ALTER SEQUENCE` with
//!   their options (words and literals): `ddl`;
//! - `SIGNAL`, `RESIGNAL` and `GET [CURRENT|STACKED] DIAGNOSTICS`, whose values the servers
//!   allow only as literals and variables: `read` (they raise or read a condition).

use sqlparser::tokenizer::Token;

use super::StatementClass;
use super::recognize::{is_identifier, is_qualified_name};

/// The class of an XA, ALTER DATABASE, ANALYZE … PERSISTENT or DROP EVENT statement, from its
/// normalized tokens (lower case).
pub(crate) fn recognize(tokens: &[&str]) -> Option<(StatementClass, &'static str)> {
    match tokens {
        ["xa", "recover"] | ["xa", "recover", "convert", "xid"] => {
            Some((StatementClass::Read, "XA RECOVER"))
        }
        ["xa", verb, rest @ ..] => {
            let rest = xid(rest)?;
            let ok = match *verb {
                "start" | "begin" => matches!(rest, [] | ["join" | "resume"]),
                "end" => matches!(rest, [] | ["suspend"] | ["suspend", "for", "migrate"]),
                "commit" => matches!(rest, [] | ["one", "phase"]),
                "prepare" | "rollback" => rest.is_empty(),
                _ => false,
            };
            ok.then_some((
                StatementClass::Write,
                "an XA transaction (prepared, it outlives the session with its locks)",
            ))
        }
        // MySQL 8's `EXPLAIN [FORMAT = f] FOR CONNECTION id`: the plan of what another session
        // runs now (MariaDB's `SHOW EXPLAIN FOR id`), which runs nothing.
        ["explain", "for", "connection", "?"]
        | ["explain", "format", "=", _, "for", "connection", "?"] => {
            Some((StatementClass::Read, "EXPLAIN FOR CONNECTION"))
        }
        ["alter", "database" | "schema", rest @ ..] => {
            let options = match rest {
                [n, more @ ..] if is_identifier(n) && !is_option_word(n) => more,
                _ => rest,
            };
            database_options(options).then_some((StatementClass::Ddl, "ALTER DATABASE"))
        }
        // MySQL 8's histograms: `ANALYZE TABLE t UPDATE HISTOGRAM ON a, b [WITH n BUCKETS]
        // [MANUAL|AUTO UPDATE]` and `DROP HISTOGRAM ON a, b` (column statistics).
        ["analyze", "table", rest @ ..] if rest.windows(2).any(|w| w == ["histogram", "on"]) => {
            let at = rest.iter().position(|t| *t == "update" || *t == "drop")?;
            let (tables, action) = rest.split_at(at);
            let ["update" | "drop", "histogram", "on", columns @ ..] = action else {
                return None;
            };
            let columns = columns
                .strip_suffix(&["manual", "update"])
                .or_else(|| columns.strip_suffix(&["auto", "update"]))
                .unwrap_or(columns);
            let columns = match columns {
                [c @ .., "with", "?", "buckets"] if action[0] == "update" => c,
                c => c,
            };
            let names = |t: &[&str]| {
                !t.is_empty()
                    && t.iter()
                        .all(|t| is_identifier(t) || matches!(*t, "," | "."))
            };
            (names(tables) && names(columns))
                .then_some((StatementClass::Ddl, "ANALYZE TABLE … HISTOGRAM"))
        }
        ["analyze", "table", rest @ ..] => {
            let persistent = rest.windows(2).position(|w| w == ["persistent", "for"])?;
            let (tables, options) = rest.split_at(persistent);
            let ok = !tables.is_empty()
                && tables
                    .iter()
                    .all(|t| is_identifier(t) || matches!(*t, "," | "."))
                && options[2..]
                    .iter()
                    .all(|t| is_identifier(t) || matches!(*t, "," | "(" | ")" | "?"));
            ok.then_some((StatementClass::Ddl, "ANALYZE TABLE … PERSISTENT"))
        }
        ["handler", rest @ ..] => {
            let (table, action) = super::pg_alter::name(rest)?;
            // HANDLER reads rows too: on a catalog of password hashes, as a SELECT would.
            if let (["open", ..], Some(reason)) =
                (action, super::credentials::credential_tokens(table, true))
            {
                return Some((StatementClass::Admin, reason));
            }
            match action {
                ["open"] | ["open", _] | ["open", "as", _] => {
                    let alias_ok = action.len() == 1 || is_identifier(action[action.len() - 1]);
                    alias_ok.then_some((
                        StatementClass::Write,
                        "HANDLER … OPEN (holds the table's metadata lock until CLOSE)",
                    ))
                }
                ["close"] => Some((StatementClass::Read, "HANDLER … CLOSE")),
                ["read", how @ ..] => {
                    handler_read(how).then_some((StatementClass::Read, "HANDLER … READ"))
                }
                _ => None,
            }
        }
        ["lock", "table" | "tables", rest @ ..] => {
            lock_list(rest).then_some((StatementClass::Write, "LOCK TABLES takes table locks"))
        }
        ["drop", "tables", rest @ ..] | ["drop", "temporary", "tables", rest @ ..] => {
            let rest = rest.strip_prefix(&["if", "exists"]).unwrap_or(rest);
            let rest = rest
                .strip_suffix(&["restrict"])
                .or_else(|| rest.strip_suffix(&["cascade"]))
                .unwrap_or(rest);
            (!rest.is_empty() && rest.split(|t| *t == ",").all(is_qualified_name))
                .then_some((StatementClass::Ddl, "DROP TABLES"))
        }
        ["rename", "table" | "tables", "if", "exists", rest @ ..] => rest
            .split(|t| *t == ",")
            .all(|pair| {
                let pair = pair.strip_prefix(&["if", "exists"]).unwrap_or(pair);
                pair.iter().position(|t| *t == "to").is_some_and(|to| {
                    let (from, target) = (&pair[..to], &pair[to + 1..]);
                    let from = from
                        .strip_suffix(&["nowait"])
                        .or_else(|| from.strip_suffix(&["wait", "?"]))
                        .unwrap_or(from);
                    is_qualified_name(from) && is_qualified_name(target)
                })
            })
            .then_some((StatementClass::Ddl, "RENAME TABLE")),
        ["create", "or", "replace", rest @ ..] | ["create", rest @ ..] if sequence(rest, true) => {
            Some((StatementClass::Ddl, "CREATE SEQUENCE"))
        }
        ["alter", rest @ ..] if sequence(rest, false) => {
            Some((StatementClass::Ddl, "ALTER SEQUENCE"))
        }
        ["signal" | "resignal", rest @ ..] if condition_values(rest) => {
            Some((StatementClass::Read, "SIGNAL/RESIGNAL (raises a condition)"))
        }
        ["get", "diagnostics", rest @ ..]
        | ["get", "current" | "stacked", "diagnostics", rest @ ..]
            if !rest.is_empty() && condition_values(rest) =>
        {
            Some((StatementClass::Read, "GET DIAGNOSTICS"))
        }
        ["drop", "event", rest @ ..] => {
            let rest = rest.strip_prefix(&["if", "exists"]).unwrap_or(rest);
            let ok = match rest {
                [n] => is_identifier(n),
                [s, ".", n] => is_identifier(s) && is_identifier(n),
                _ => false,
            };
            ok.then_some((StatementClass::Ddl, "DROP EVENT"))
        }
        _ => None,
    }
}

/// `LOCK TABLES`' list: `name [[AS] alias] READ [LOCAL] | [LOW_PRIORITY] WRITE [CONCURRENT]`,
/// comma-separated, then MariaDB's `WAIT n` or `NOWAIT`.
fn lock_list(t: &[&str]) -> bool {
    let t = t
        .strip_suffix(&["nowait"])
        .or_else(|| t.strip_suffix(&["wait", "?"]))
        .unwrap_or(t);
    !t.is_empty()
        && t.split(|t| *t == ",").all(|item| {
            let kind = ["read", "write", "low_priority"]
                .iter()
                .filter_map(|k| item.iter().position(|t| t == k))
                .min();
            let Some(kind) = kind else {
                return false;
            };
            let (table, lock) = item.split_at(kind);
            let name_ok = match table {
                [n, "as", a] | [n, a] if is_identifier(a) => is_identifier(n),
                [s, ".", n, "as", a] | [s, ".", n, a] if is_identifier(a) => {
                    is_identifier(s) && is_identifier(n)
                }
                _ => is_qualified_name(table),
            };
            name_ok
                && matches!(
                    lock,
                    ["read" | "write"]
                        | ["read", "local"]
                        | ["low_priority", "write"]
                        | ["write", "concurrent"]
                )
        })
}

/// MariaDB's `[TEMPORARY] SEQUENCE [IF NOT EXISTS] name options` (after `CREATE [OR REPLACE]`)
/// or `SEQUENCE [IF EXISTS] name options` (after `ALTER`): options are words, literals, `=` and
/// signs (`START WITH -5`, `INCREMENT BY 1`, `NOCACHE`, `ENGINE=InnoDB`, `COMMENT='…'`).
fn sequence(t: &[&str], create: bool) -> bool {
    let t = if create {
        t.strip_prefix(&["temporary"]).unwrap_or(t)
    } else {
        t
    };
    let Some(t) = t.strip_prefix(&["sequence"]) else {
        return false;
    };
    let t = t
        .strip_prefix(&["if", "not", "exists"])
        .or_else(|| t.strip_prefix(&["if", "exists"]))
        .unwrap_or(t);
    let (name, options) = match t {
        [s, ".", n, rest @ ..] => (is_identifier(s) && is_identifier(n), rest),
        [n, rest @ ..] => (is_identifier(n), rest),
        [] => return false,
    };
    // Table options that reach outside the database (`DATA DIRECTORY`, `CONNECTION`, the
    // engines that read files or other servers) are `admin` in `CREATE TABLE`: not here either.
    let outside = options.iter().any(|t| {
        matches!(
            *t,
            "directory"
                | "connection"
                | "union"
                | "connect"
                | "federated"
                | "federatedx"
                | "spider"
        )
    });
    name && !outside
        && options
            .iter()
            .all(|t| is_identifier(t) || matches!(*t, "?" | "=" | "-" | "+" | ","))
}

/// `SIGNAL`'s and `GET DIAGNOSTICS`' rest: condition names, `SQLSTATE [VALUE] '…'`, and
/// `item = value` lists whose values are literals, local variables or user variables (`@v`):
/// the servers accept no expression there.
fn condition_values(t: &[&str]) -> bool {
    t.iter()
        .all(|t| is_identifier(t) || matches!(*t, "?" | "=" | "," | "@"))
        && !t.windows(2).any(|w| w == ["@", "@"])
}

/// An XA transaction id (`'gtrid'[, 'bqual'[, formatID]]`, all literals) at the start of `t`,
/// and what follows it.
fn xid<'a, 'b>(t: &'a [&'b str]) -> Option<&'a [&'b str]> {
    match t {
        ["?", ",", "?", ",", "?", rest @ ..] | ["?", ",", "?", rest @ ..] | ["?", rest @ ..] => {
            Some(rest)
        }
        _ => None,
    }
}

/// After `HANDLER t READ`: `[index] FIRST|NEXT|PREV|LAST` or `index <op> (literals)`, then
/// `[LIMIT n [, n]]`. No `WHERE` (its expression could call anything).
fn handler_read(how: &[&str]) -> bool {
    let rest = match how {
        ["first" | "next" | "prev" | "last", rest @ ..] => rest,
        [i, "first" | "next" | "prev" | "last", rest @ ..] if is_identifier(i) => rest,
        [i, "=" | "<" | ">", "(", rest @ ..] | [i, "<" | ">", "=", "(", rest @ ..]
            if is_identifier(i) =>
        {
            let Some(close) = rest.iter().position(|t| *t == ")") else {
                return false;
            };
            if !rest[..close].iter().all(|t| matches!(*t, "?" | ",")) {
                return false;
            }
            &rest[close + 1..]
        }
        _ => return false,
    };
    matches!(
        rest,
        [] | ["limit", "?"] | ["limit", "?", "," | "offset", "?"]
    )
}

fn is_option_word(t: &str) -> bool {
    matches!(
        t,
        "default" | "character" | "charset" | "collate" | "comment"
    )
}

/// `[DEFAULT] CHARACTER SET|CHARSET [=] x`, `[DEFAULT] COLLATE [=] x`, `COMMENT [=] '…'`,
/// at least one.
fn database_options(mut t: &[&str]) -> bool {
    if t.is_empty() {
        return false;
    }
    while !t.is_empty() {
        let after_default = t.strip_prefix(&["default"]).unwrap_or(t);
        let (["character", "set", more @ ..] | ["charset" | "collate" | "comment", more @ ..]) =
            after_default
        else {
            return false;
        };
        let more = more.strip_prefix(&["="]).unwrap_or(more);
        match more {
            [v, rest @ ..] if *v == "?" || is_identifier(v) => t = rest,
            _ => return false,
        }
    }
    true
}

/// `CREATE|ALTER EVENT … [DO stmt]`: `None` when `sql` is not one; otherwise its class and a
/// description, or why dbward refuses to classify it.
pub(crate) fn event(sql: &str) -> Option<Result<(StatementClass, String), String>> {
    let (tokens, texts) = super::recognize::tokens_with_text(sql, super::SqlDialect::Mysql)?;
    let significant: Vec<(usize, &Token)> = tokens
        .iter()
        .enumerate()
        .filter(|(_, t)| !matches!(t, Token::Whitespace(_)))
        .collect();
    let word = |k: usize| match significant.get(k) {
        Some((_, Token::Word(w))) if w.quote_style.is_none() => Some(w.value.to_ascii_lowercase()),
        _ => None,
    };
    let mut k = match word(0).as_deref() {
        Some("create")
            if word(1).as_deref() == Some("or") && word(2).as_deref() == Some("replace") =>
        {
            3
        }
        Some("create" | "alter") => 1,
        _ => return None,
    };
    // Only the session's own account may be the definer: another would run the body with its
    // rights.
    let mut other_definer = false;
    if word(k).as_deref() == Some("definer") {
        if matches!(significant.get(k + 1), Some((_, Token::Eq)))
            && word(k + 2).as_deref() == Some("current_user")
        {
            k += 3;
            if matches!(significant.get(k), Some((_, Token::LParen)))
                && matches!(significant.get(k + 1), Some((_, Token::RParen)))
            {
                k += 2;
            }
        } else {
            other_definer = true;
            // Past `= user[@host]` to the object's kind.
            k = (k + 1..significant.len()).find(|&i| {
                matches!(
                    word(i).as_deref(),
                    Some("event" | "trigger" | "procedure" | "function" | "view")
                )
            })?;
        }
    }
    if word(k).as_deref() != Some("event") {
        return None;
    }
    if other_definer {
        return Some(Err("an event with another DEFINER".into()));
    }
    let header_start = k + 1;
    let do_at = (header_start..significant.len()).find(|&i| word(i).as_deref() == Some("do"));
    let header_end = do_at.unwrap_or(significant.len());
    for i in header_start..header_end {
        if !schedule_token(&significant, i) {
            return Some(Err(
                "an event whose schedule or options are not literals, intervals and the current \
                 time"
                    .into(),
            ));
        }
    }
    let Some(do_at) = do_at else {
        return Some(Ok((StatementClass::Ddl, "ALTER EVENT".into())));
    };
    // The body as written (see `tokens_with_text`).
    let body: String = significant
        .get(do_at + 1)
        .map_or_else(String::new, |(at, _)| texts[*at..].concat());
    if body.trim().is_empty() {
        return Some(Err("an event without a body".into()));
    }
    // A `BEGIN … END` body of plain statements: each classified, the strictest decides (a
    // control statement, `DECLARE`, a label or a nested block does not parse: refused).
    let body = match compound_inner(&body) {
        Some(inner) => super::dynamic::nested_class(inner, super::SqlDialect::Mysql, true)
            .map_err(|why| format!("a block {why}")),
        None => super::dynamic::class_of_string(&body),
    };
    Some(match body {
        Ok((class, what)) => Ok((
            class.max(StatementClass::Ddl),
            format!("an event running {what} later, outside the session"),
        )),
        Err(why) => Err(format!("an event whose body is refused ({why})")),
    })
}

/// What is between a body's `BEGIN` and its final `END`, if it is one such block.
fn compound_inner(body: &str) -> Option<&str> {
    let inner = super::routine::between_begin_and_end(body)?;
    // No statement inside may start or end a block: the server would close the event's block
    // there and run what follows as statements of their own.
    let scan = super::lexer::scan(inner, super::SqlDialect::Mysql);
    let code = scan.code.as_deref().unwrap_or(inner);
    let opens_or_closes = scan.statements.iter().any(|r| {
        let first = code[r.clone()]
            .trim_start()
            .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .next()
            .unwrap_or("");
        first.eq_ignore_ascii_case("begin") || first.eq_ignore_ascii_case("end")
    });
    (!opens_or_closes).then_some(inner)
}

/// Whether `sql` is one `CREATE|ALTER EVENT … DO BEGIN … END`, whose body's `;`s the scan splits
/// at: classified whole by [`event`] rather than piece by piece.
pub(crate) fn is_event_with_compound_body(sql: &str) -> bool {
    let normalized = super::lexer::scan(sql, super::SqlDialect::Mysql)
        .normalized
        .to_ascii_lowercase();
    let tokens = super::recognize::tokens(&normalized);
    let significant: Vec<&str> = tokens.into_iter().filter(|t| *t != ";").collect();
    let Some(do_at) = significant.iter().position(|t| *t == "do") else {
        return false;
    };
    matches!(significant.first(), Some(&("create" | "alter")))
        && significant[..do_at].contains(&"event")
        && significant.get(do_at + 1) == Some(&"begin")
        && significant.last() == Some(&"end")
}

/// Whether the `i`th significant token of an event's header (name, schedule, options) is one
/// that runs nothing: words not followed by `(` (but the current time's functions), literals,
/// `+ - = , .` and the empty parentheses of `NOW()`.
fn schedule_token(significant: &[(usize, &Token)], i: usize) -> bool {
    let now = |k: usize| {
        matches!(significant.get(k), Some((_, Token::Word(w))) if w.quote_style.is_none()
            && matches!(w.value.to_ascii_lowercase().as_str(),
                "now" | "current_timestamp" | "utc_timestamp" | "localtimestamp" | "localtime"))
    };
    match significant[i].1 {
        Token::Word(_) => !matches!(significant.get(i + 1), Some((_, Token::LParen))) || now(i),
        Token::Number(..)
        | Token::SingleQuotedString(_)
        | Token::DoubleQuotedString(_)
        | Token::Plus
        | Token::Minus
        | Token::Eq
        | Token::Comma
        | Token::Period => true,
        Token::LParen => {
            i > 0 && now(i - 1) && matches!(significant.get(i + 1), Some((_, Token::RParen)))
        }
        Token::RParen => i > 1 && now(i - 2),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_with_a_block_take_the_strictest_class_of_its_statements() {
        use super::super::{SqlDialect, classify_uncached};
        let class = |sql: &str| classify_uncached(sql, SqlDialect::Mysql).class;
        for (sql, want) in [
            (
                "CREATE EVENT purge ON SCHEDULE EVERY 1 DAY DO BEGIN DELETE FROM logs WHERE at < NOW() - INTERVAL 30 DAY; OPTIMIZE TABLE logs; END",
                Some(StatementClass::Ddl),
            ),
            (
                "/*!50106 CREATE*/ /*!50117 DEFINER=CURRENT_USER*/ /*!50106 EVENT `e` ON SCHEDULE EVERY 1 DAY STARTS '2024-01-01 00:00:00' ON COMPLETION NOT PRESERVE ENABLE DO begin\n  delete from t where a < 5;\nend */",
                Some(StatementClass::Ddl),
            ),
            (
                "ALTER EVENT e DO BEGIN INSERT INTO t VALUES (1); GRANT ALL ON *.* TO bob; END",
                Some(StatementClass::Admin),
            ),
            (
                "CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO BEGIN SELECT SLEEP(1); SELECT LOAD_FILE('/etc/passwd'); END",
                Some(StatementClass::Admin),
            ),
            // Control statements are not read: refused below admin.
            (
                "CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO BEGIN WHILE 1 DO DELETE FROM t; END WHILE; END",
                None,
            ),
            // The server's block ends at the first `END`; what follows would be statements of
            // their own: not read as one event.
            (
                "CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO BEGIN SELECT 1; END; DROP TABLE t; SELECT 1; END",
                None,
            ),
            (
                "CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO BEGIN UPDATE t SET a = CASE WHEN b THEN 1 ELSE 2 END; END",
                Some(StatementClass::Ddl),
            ),
        ] {
            assert_eq!(class(sql), want, "{sql}");
        }
    }

    #[test]
    fn events_take_the_class_of_their_body() {
        let class = |sql: &str| event(sql).map(|r| r.map(|(c, _)| c));
        assert_eq!(
            class("CREATE EVENT e ON SCHEDULE EVERY 1 HOUR DO DELETE FROM t WHERE a < NOW()"),
            Some(Ok(StatementClass::Ddl))
        );
        assert_eq!(
            class(
                "CREATE OR REPLACE DEFINER = CURRENT_USER() EVENT IF NOT EXISTS s.e ON SCHEDULE \
                 AT CURRENT_TIMESTAMP + INTERVAL 1 DAY ON COMPLETION NOT PRESERVE DISABLE \
                 COMMENT 'x' DO INSERT INTO t VALUES (1)"
            ),
            Some(Ok(StatementClass::Ddl))
        );
        assert_eq!(
            class("ALTER EVENT e ON SCHEDULE EVERY 2 MINUTE STARTS '2026-01-01 00:00:00' ENABLE"),
            Some(Ok(StatementClass::Ddl))
        );
        assert_eq!(
            class("CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO GRANT ALL ON *.* TO bob"),
            Some(Ok(StatementClass::Admin))
        );
        for refused in [
            "CREATE DEFINER = 'root'@'%' EVENT e ON SCHEDULE EVERY 1 DAY DO DELETE FROM t",
            "CREATE EVENT e ON SCHEDULE AT (SELECT GET_LOCK('x', 1)) DO SELECT 1",
            "CREATE EVENT e ON SCHEDULE AT LOAD_FILE('/etc/passwd') DO SELECT 1",
            "CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO BEGIN DECLARE n INT; DELETE FROM t; END",
            "CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO BEGIN IF 1 THEN DELETE FROM t; END IF; END",
            "CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO BEGIN BEGIN DELETE FROM t; END; END",
            "CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO",
        ] {
            assert!(matches!(class(refused), Some(Err(_))), "{refused}");
        }
        assert_eq!(class("CREATE TABLE event (a int)"), None);
        assert_eq!(
            class(
                "CREATE DEFINER = root@localhost TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1"
            ),
            None
        );
        assert_eq!(class("SELECT 1"), None);
    }
}

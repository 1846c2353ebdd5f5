//! Stored routines with compound bodies: MySQL's `CREATE PROCEDURE|FUNCTION|TRIGGER ... BEGIN
//! ... END` and PostgreSQL's `... BEGIN ATOMIC ... END` (see [`is_one_pg_atomic_routine`]).
//!
//! sqlparser 0.63 parses neither the bodies nor the header in full, and the lexer splits
//! statements at every `;`, including the ones inside a body. This module recognizes one exact
//! form: a text that is **one** such `CREATE` and nothing else. Creating stored code runs none
//! of it, so the text is `ddl`.
//!
//! The danger is a text the server reads as a routine *followed by more statements* (with
//! `CLIENT_MULTI_STATEMENTS`), which this module would take for one routine and so hide the rest.
//! The server's routine ends at the `END` that closes its outermost `BEGIN`. So the scan here
//! counts block depth such that it is never above the server's:
//! - every `END` closes a block, as it does in the server's grammar; an `END` the server reads
//!   otherwise (a column named `end`) makes the depth here lower, never higher;
//! - a block opens only where the server's grammar has no other reading: `BEGIN`, `IF`,
//!   `LOOP`, `WHILE`, `REPEAT` where a statement starts (the body's start, after `;`, after
//!   `THEN`/`ELSE` of an `IF` or `CASE` *statement*, after `DO` of a `WHILE`, after `LOOP`,
//!   `REPEAT`, `BEGIN`, a label, a handler's condition list), and `CASE` anywhere (both its
//!   forms end with `END`).
//!
//! The text matches only when the depth returns to zero at its last `END` (an optional label and
//! `;` after it) and not before. A depth too low here ends the routine early, and the text does
//! not match: it is then classified piece by piece and denied as unclassifiable (fail closed).
//!
//! The header is read exactly: `CREATE [OR REPLACE] [DEFINER = CURRENT_USER]
//! [AGGREGATE] PROCEDURE|FUNCTION [IF NOT EXISTS] name (parameters) [RETURNS type]
//! [characteristics] [label:] BEGIN`, or for a trigger `CREATE [OR REPLACE] [DEFINER =
//! CURRENT_USER] TRIGGER [IF NOT EXISTS] name BEFORE|AFTER INSERT|UPDATE|DELETE ON table FOR
//! EACH ROW [FOLLOWS|PRECEDES other] [label:] BEGIN` (a trigger's body runs on others' writes
//! with the definer's privileges, which `CURRENT_USER` keeps to the session's own account).
//! Another `DEFINER` (the routine would run as that account) or anything else is not this
//! form.

/// PostgreSQL procedural languages that run a routine inside the database's sandbox (what
/// PostgreSQL calls trusted, and lets non-superusers use). A routine in any other language
/// (`c` and `internal` load server code; `plpython3u`, `plperlu`, `pltclu`... reach the
/// server's operating system) is `admin` to create, as PostgreSQL keeps it for superusers: a
/// `ddl` grant on a superuser credential must not reach the server's files and processes.
const TRUSTED_LANGUAGES: &[&str] = &[
    "sql", "plpgsql", "plperl", "pltcl", "plv8", "plrust", "java",
];

/// Whether a routine's `LANGUAGE` (unquoted or quoted identifier, any case) is one of
/// [`TRUSTED_LANGUAGES`].
pub(crate) fn is_trusted_language(name: &str) -> bool {
    let name = name.trim_matches(['"', '`']);
    TRUSTED_LANGUAGES
        .iter()
        .any(|l| l.eq_ignore_ascii_case(name))
}

/// The reason for a routine definition dbward reads without the parser: `ddl`, whatever its
/// body does.
pub(crate) const STORED_CODE: &str =
    "CREATE PROCEDURE/FUNCTION/TRIGGER (stored code: creating it runs none of it)";

/// The reason for a routine in a language outside [`TRUSTED_LANGUAGES`].
pub(crate) const UNTRUSTED_ROUTINE: &str = "a routine in an untrusted language (C, internal, plpython3u…: code outside the database's \
     sandbox, which PostgreSQL keeps for superusers)";

use sqlparser::dialect::MySqlDialect;
use sqlparser::tokenizer::{Token, Tokenizer};

/// Whether `sql` (executable comments already expanded) is exactly one `CREATE PROCEDURE` or
/// `CREATE FUNCTION` with a compound body.
/// The statements between a block's `BEGIN` and its final `END` (a `;` after it aside), when
/// `body` is exactly such a block: a MySQL event's body, a PostgreSQL `DO`'s.
pub(crate) fn between_begin_and_end(body: &str) -> Option<&str> {
    let body = body.trim().trim_end_matches(';').trim_end();
    let begin = body.get(..5).filter(|b| b.eq_ignore_ascii_case("begin"))?;
    let rest = &body[begin.len()..];
    if !rest.starts_with(|c: char| c.is_ascii_whitespace()) {
        return None;
    }
    let end_at = rest.len().checked_sub(3)?;
    let end = rest
        .get(end_at..)
        .filter(|e| e.eq_ignore_ascii_case("end"))?;
    let inner = &rest[..rest.len() - end.len()];
    inner
        .ends_with(|c: char| c.is_ascii_whitespace() || c == ';')
        .then_some(inner)
}

pub(crate) fn is_one_mysql_routine(sql: &str) -> bool {
    let Some(t) = mysql_tokens(sql) else {
        return false;
    };
    let t: Vec<&Token> = t.iter().collect();
    let Some(body) = header_end(&t) else {
        return false;
    };
    body_ends_at_last_end(&t[body..])
}

/// Whether `sql` is exactly one MariaDB anonymous compound statement, `[label:] BEGIN NOT ATOMIC
/// ... END [label]`, which the client sends whole (the mysql client under `DELIMITER`) and the
/// server runs as one statement. Its body is read only to find where it ends: like PostgreSQL's
/// `DO`, what it runs (control flow, variables, dynamic SQL) is not classified, and the caller
/// names it `admin`.
pub(crate) fn is_one_mariadb_anonymous_block(sql: &str) -> bool {
    let Some(t) = mysql_tokens(sql) else {
        return false;
    };
    let t: Vec<&Token> = t.iter().collect();
    let start = if is_name(t.first()) && matches!(t.get(1), Some(Token::Colon)) {
        2
    } else {
        0
    };
    if !(is(t.get(start), "begin") && is(t.get(start + 1), "not") && is(t.get(start + 2), "atomic"))
    {
        return false;
    }
    // The block as a routine's body reads it: `BEGIN` and its statements.
    let body: Vec<&Token> = t[..=start].iter().chain(&t[start + 3..]).copied().collect();
    body_ends_at_last_end(&body)
}

/// `sql`'s MySQL tokens without whitespace and comments.
fn mysql_tokens(sql: &str) -> Option<Vec<Token>> {
    let tokens = Tokenizer::new(&MySqlDialect {}, sql).tokenize().ok()?;
    Some(
        tokens
            .into_iter()
            .filter(|t| !matches!(t, Token::Whitespace(_)))
            .collect(),
    )
}

fn word(t: &Token) -> Option<String> {
    match t {
        Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_ascii_lowercase()),
        _ => None,
    }
}

fn is(t: Option<&&Token>, w: &str) -> bool {
    t.and_then(|t| word(t)).is_some_and(|v| v == w)
}

/// Whether `rest` holds nothing but `;` (what may follow a routine's end).
fn only_semicolons(rest: &[&Token]) -> bool {
    rest.iter()
        .all(|t| matches!(t, Token::EOF | Token::SemiColon))
}

fn is_name(t: Option<&&Token>) -> bool {
    matches!(t, Some(Token::Word(_)))
}

/// Where the body starts if `t` starts with a routine's header: `CREATE [OR REPLACE] [DEFINER =
/// CURRENT_USER] [AGGREGATE] PROCEDURE|FUNCTION [IF NOT EXISTS] name (parameters) [RETURNS
/// type] [characteristics]`.
fn header(t: &[&Token]) -> Option<usize> {
    let mut i = 0;
    let next = |w: &str, i: &mut usize| {
        if is(t.get(*i), w) {
            *i += 1;
            true
        } else {
            false
        }
    };
    if !next("create", &mut i) {
        return None;
    }
    if next("or", &mut i) && !next("replace", &mut i) {
        return None;
    }
    if next("definer", &mut i) {
        if !matches!(t.get(i), Some(Token::Eq)) || !is(t.get(i + 1), "current_user") {
            return None;
        }
        i += 2;
        if matches!(t.get(i), Some(Token::LParen)) {
            if !matches!(t.get(i + 1), Some(Token::RParen)) {
                return None;
            }
            i += 2;
        }
    }
    if next("trigger", &mut i) {
        return trigger_header(t, i);
    }
    let function = if next("procedure", &mut i) {
        false
    } else {
        let _ = next("aggregate", &mut i);
        if !next("function", &mut i) {
            return None;
        }
        true
    };
    if next("if", &mut i) && !(next("not", &mut i) && next("exists", &mut i)) {
        return None;
    }
    // The name, maybe schema-qualified.
    if !is_name(t.get(i)) {
        return None;
    }
    i += 1;
    if matches!(t.get(i), Some(Token::Period)) {
        if !is_name(t.get(i + 1)) {
            return None;
        }
        i += 2;
    }
    // The parameters: a balanced parenthesized list (declarations, nothing that runs).
    i = after_parens(t, i)?;
    if function {
        if !next("returns", &mut i) {
            return None;
        }
        i = after_type(t, i)?;
    }
    // Characteristics.
    loop {
        let ok = match t.get(i).and_then(|t| word(t)).as_deref() {
            Some("comment") => {
                i += 1;
                let quoted = matches!(
                    t.get(i),
                    Some(Token::SingleQuotedString(_) | Token::DoubleQuotedString(_))
                );
                i += 1;
                quoted
            }
            Some("language" | "contains" | "no") => {
                i += 1;
                next("sql", &mut i)
            }
            Some("not") => {
                i += 1;
                next("deterministic", &mut i)
            }
            Some("deterministic") => {
                i += 1;
                true
            }
            Some("reads" | "modifies") => {
                i += 1;
                next("sql", &mut i) && next("data", &mut i)
            }
            Some("sql") => {
                i += 1;
                next("security", &mut i) && (next("definer", &mut i) || next("invoker", &mut i))
            }
            _ => break,
        };
        if !ok {
            return None;
        }
    }
    Some(i)
}

/// The rest of a trigger's header from `i` (after `TRIGGER`): `[IF NOT EXISTS] name
/// BEFORE|AFTER INSERT|UPDATE|DELETE ON table FOR EACH ROW [FOLLOWS|PRECEDES other]`; where
/// its body starts.
fn trigger_header(t: &[&Token], mut i: usize) -> Option<usize> {
    let next = |w: &str, i: &mut usize| {
        let found = is(t.get(*i), w);
        *i += usize::from(found);
        found
    };
    let name = |i: &mut usize| {
        if !is_name(t.get(*i)) {
            return false;
        }
        *i += 1;
        if matches!(t.get(*i), Some(Token::Period)) {
            if !is_name(t.get(*i + 1)) {
                return false;
            }
            *i += 2;
        }
        true
    };
    if next("if", &mut i) && !(next("not", &mut i) && next("exists", &mut i)) {
        return None;
    }
    let timed = name(&mut i)
        && (next("before", &mut i) || next("after", &mut i))
        && (next("insert", &mut i) || next("update", &mut i) || next("delete", &mut i))
        && next("on", &mut i)
        && name(&mut i)
        && next("for", &mut i)
        && next("each", &mut i)
        && next("row", &mut i);
    if !timed {
        return None;
    }
    if (next("follows", &mut i) || next("precedes", &mut i)) && !name(&mut i) {
        return None;
    }
    Some(i)
}

/// Where the body starts (its `BEGIN` or label) if `t` is the header of a routine whose body is
/// a compound statement.
fn header_end(t: &[&Token]) -> Option<usize> {
    let start = header(t)?;
    let mut i = start;
    if is_name(t.get(i)) && matches!(t.get(i + 1), Some(Token::Colon)) {
        i += 2;
    }
    is(t.get(i), "begin").then_some(start)
}

/// Whether `sql`, one statement as the server splits them, is exactly one `CREATE PROCEDURE` or
/// `CREATE FUNCTION` whose body is one plain statement (`RETURN a + 1`, `SELECT …`): the header
/// as for compound bodies, then a body that neither starts a block (`BEGIN`, a label) nor holds
/// a `;`. Creating it runs none of it.
pub(crate) fn is_one_mysql_simple_routine(sql: &str) -> bool {
    let Some(t) = mysql_tokens(sql) else {
        return false;
    };
    let t: Vec<&Token> = t.iter().collect();
    let Some(body) = header(&t) else {
        return false;
    };
    let mut body = &t[body..];
    while let Some((Token::SemiColon, rest)) = body.split_last() {
        body = rest;
    }
    let starts_block = is(body.first(), "begin")
        || (is_name(body.first()) && matches!(body.get(1), Some(Token::Colon)));
    let holds_semicolon = body.iter().any(|t| matches!(t, Token::SemiColon));
    !(body.is_empty() || starts_block || holds_semicolon)
}

/// The index after a balanced parenthesized group starting at `i`.
fn after_parens(t: &[&Token], mut i: usize) -> Option<usize> {
    if !matches!(t.get(i), Some(Token::LParen)) {
        return None;
    }
    let mut depth = 0usize;
    while let Some(tok) = t.get(i) {
        match tok {
            Token::LParen => depth += 1,
            Token::RParen => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            Token::SemiColon | Token::EOF => return None,
            _ => {}
        }
        i += 1;
    }
    None
}

/// The index after a function's return type: a type name, an optional `(n[, m])`, and
/// modifiers (`UNSIGNED`, `CHARACTER SET x`, `COLLATE x`...).
fn after_type(t: &[&Token], mut i: usize) -> Option<usize> {
    word(t.get(i)?)?;
    i += 1;
    if matches!(t.get(i), Some(Token::LParen)) {
        i = after_parens(t, i)?;
    }
    loop {
        match t.get(i).and_then(|t| word(t)).as_deref() {
            Some("unsigned" | "signed" | "zerofill" | "binary") => i += 1,
            Some("character") if is(t.get(i + 1), "set") && is_name(t.get(i + 2)) => i += 3,
            Some("charset" | "collate") if is_name(t.get(i + 1)) => i += 2,
            _ => return Some(i),
        }
    }
}

/// A block the scan is inside.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Block {
    Begin,
    /// `IF ... END IF`.
    If,
    /// A `CASE` statement (`WHEN ... THEN` statements).
    CaseStatement,
    /// A `CASE` expression (its `THEN`s are expressions).
    CaseExpression,
    /// `WHILE cond DO ... END WHILE`, and whether `DO` is behind.
    While(bool),
    Loop,
    Repeat,
}

/// Whether the body `t` (starting at its label or `BEGIN`) closes its outermost block at its
/// last `END`, followed only by an optional label and `;`.
fn body_ends_at_last_end(t: &[&Token]) -> bool {
    let mut stack: Vec<Block> = Vec::new();
    // The next token starts a statement.
    let mut statement_start = true;
    let mut previous_end = false;
    let mut i = 0;
    while i < t.len() {
        let tok = t[i];
        let w = word(tok);
        let at_start = statement_start;
        statement_start = false;
        let after_end = previous_end;
        previous_end = false;
        match (w.as_deref(), tok) {
            (_, Token::SemiColon) => {
                if stack.is_empty() {
                    // Only the closing `;` may follow the routine's end.
                    return only_semicolons(&t[i + 1..]);
                }
                statement_start = true;
            }
            (_, Token::EOF) => return stack.is_empty(),
            // A label: `name:` where a statement starts.
            (Some(_), _) if at_start && matches!(t.get(i + 1), Some(Token::Colon)) => {
                i += 2;
                statement_start = true;
                continue;
            }
            (Some("end"), _) => {
                if stack.pop().is_none() {
                    return false;
                }
                previous_end = true;
                if stack.is_empty() {
                    // The routine's end: an optional label, then `;` or the end of the text.
                    let mut j = i + 1;
                    if is_name(t.get(j)) && !matches!(t.get(j), Some(Token::EOF)) {
                        j += 1;
                    }
                    return only_semicolons(&t[j..]);
                }
            }
            (Some("case"), _) if !after_end => stack.push(if at_start {
                Block::CaseStatement
            } else {
                Block::CaseExpression
            }),
            (Some("begin"), _) if at_start => {
                stack.push(Block::Begin);
                statement_start = true;
            }
            (Some("if"), _) if at_start => stack.push(Block::If),
            (Some("loop"), _) if at_start => {
                stack.push(Block::Loop);
                statement_start = true;
            }
            (Some("repeat"), _) if at_start => {
                stack.push(Block::Repeat);
                statement_start = true;
            }
            (Some("while"), _) if at_start => stack.push(Block::While(false)),
            (Some("then" | "else"), _)
                if matches!(stack.last(), Some(Block::If | Block::CaseStatement)) =>
            {
                statement_start = true;
            }
            (Some("do"), _) if stack.last() == Some(&Block::While(false)) => {
                if let Some(top) = stack.last_mut() {
                    *top = Block::While(true);
                }
                statement_start = true;
            }
            (Some("for"), _) if i > 0 && is(t.get(i - 1), "handler") => {
                i += 1;
                // The condition list: items separated by commas; the handler's statement
                // starts after the last item.
                loop {
                    match t.get(i).and_then(|t| word(t)).as_deref() {
                        Some("not") if is(t.get(i + 1), "found") => i += 2,
                        Some("sqlstate") => {
                            i += 1;
                            if is(t.get(i), "value") {
                                i += 1;
                            }
                            if !matches!(t.get(i), Some(Token::SingleQuotedString(_))) {
                                return false;
                            }
                            i += 1;
                        }
                        // SQLEXCEPTION, SQLWARNING, a condition's name.
                        Some(_) => i += 1,
                        None if matches!(t.get(i), Some(Token::Number(..))) => i += 1,
                        None => return false,
                    }
                    if matches!(t.get(i), Some(Token::Comma)) {
                        i += 1;
                    } else {
                        break;
                    }
                }
                statement_start = true;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    false
}

/// Whether `sql` is exactly one PostgreSQL `CREATE [OR REPLACE] FUNCTION|PROCEDURE ... BEGIN
/// ATOMIC ... END` (a SQL-standard body, PostgreSQL 14+, which sqlparser 0.63 does not parse).
///
/// The same rule as for MySQL, simpler: the header is everything before `BEGIN ATOMIC` with no
/// `;` in it (the server errs on anything else there, and runs nothing), and in the body only
/// `CASE` opens and `END` closes (both reserved words in PostgreSQL, so the count is exact; a
/// body holds statements, not blocks). The text matches when the depth returns to zero at its
/// last `END`, followed by nothing but `;`.
pub(crate) fn is_one_pg_atomic_routine(sql: &str) -> bool {
    let Ok(tokens) = Tokenizer::new(&sqlparser::dialect::PostgreSqlDialect {}, sql).tokenize()
    else {
        return false;
    };
    let t: Vec<&Token> = tokens
        .iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    let mut i = 0;
    if !is(t.get(i), "create") {
        return false;
    }
    i += 1;
    if is(t.get(i), "or") {
        if !is(t.get(i + 1), "replace") {
            return false;
        }
        i += 2;
    }
    if !(is(t.get(i), "function") || is(t.get(i), "procedure")) {
        return false;
    }
    // The header, up to `BEGIN ATOMIC`.
    while !(is(t.get(i), "begin") && is(t.get(i + 1), "atomic")) {
        match t.get(i) {
            None | Some(Token::SemiColon | Token::EOF) => return false,
            Some(_) => i += 1,
        }
    }
    let mut depth = 1usize;
    i += 2;
    while let Some(tok) = t.get(i) {
        match word(tok).as_deref() {
            Some("case") => depth += 1,
            Some("end") => {
                depth -= 1;
                if depth == 0 {
                    return only_semicolons(&t[i + 1..]);
                }
            }
            _ => {}
        }
        i += 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::is_one_mysql_routine as one;

    #[test]
    fn pg_atomic_bodies() {
        use super::is_one_pg_atomic_routine as pg;
        assert!(pg(
            "CREATE OR REPLACE FUNCTION f(x int DEFAULT 1) RETURNS int LANGUAGE sql IMMUTABLE \
             SET search_path = 'public' BEGIN ATOMIC SELECT CASE WHEN x > 0 THEN 1 ELSE 0 END; \
             SELECT 2; END;"
        ));
        assert!(pg(
            "CREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC INSERT INTO t VALUES (1); END"
        ));
        assert!(!pg(
            "CREATE FUNCTION f() RETURNS int BEGIN ATOMIC SELECT 1; END; DROP TABLE t"
        ));
        assert!(!pg(
            "CREATE FUNCTION f() RETURNS int; DROP TABLE t; BEGIN ATOMIC SELECT 1; END"
        ));
        assert!(!pg(
            "CREATE FUNCTION f() RETURNS int BEGIN ATOMIC SELECT 'END'; END; DROP TABLE t"
        ));
        assert!(!pg(
            "CREATE FUNCTION f() RETURNS int BEGIN ATOMIC SELECT 1;"
        ));
    }

    #[test]
    fn mariadb_anonymous_blocks() {
        use super::is_one_mariadb_anonymous_block as block;
        assert!(block("BEGIN NOT ATOMIC SELECT 1; END"));
        assert!(block(
            "outer: BEGIN NOT ATOMIC DECLARE i INT DEFAULT 0; WHILE i < 3 DO SET i = i + 1; \
             END WHILE; IF i = 3 THEN SELECT i; ELSE BEGIN SELECT 0; END; END IF; END outer;"
        ));
        assert!(!block("BEGIN NOT ATOMIC SELECT 1; END; DROP TABLE t"));
        assert!(!block(
            "BEGIN NOT ATOMIC SELECT 1; END IF; DROP TABLE t; END"
        ));
        assert!(!block("BEGIN NOT ATOMIC SELECT 1;"));
        assert!(!block("BEGIN; SELECT 1; END"));
        assert!(!block("BEGIN NOT ATOMIC SELECT 'END'; END; DROP TABLE t"));
    }

    #[test]
    fn routines() {
        assert!(one("CREATE PROCEDURE p() BEGIN SELECT 1; END"));
        assert!(one(
            "CREATE DEFINER = CURRENT_USER PROCEDURE s.p(IN x INT, OUT y VARCHAR(10))
             COMMENT 'x' MODIFIES SQL DATA SQL SECURITY INVOKER
             lbl: BEGIN
               DECLARE done INT DEFAULT 0;
               DECLARE CONTINUE HANDLER FOR NOT FOUND, SQLSTATE '02000' SET done = 1;
               DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;
               IF (x > 1) THEN SELECT IF(x > 2, 'a', 'b'); ELSEIF x = 0 THEN BEGIN END; ELSE SELECT 0; END IF;
               CASE x WHEN 1 THEN SELECT CASE WHEN x THEN 1 ELSE 2 END; ELSE BEGIN END; END CASE;
               w: WHILE done = 0 DO SET done = 1; END WHILE w;
               l: LOOP LEAVE l; END LOOP l;
               REPEAT SET x = x + 1; UNTIL x > 5 END REPEAT;
             END lbl;"
        ));
        assert!(one(
            "CREATE FUNCTION f(x INT) RETURNS DECIMAL(10,2) UNSIGNED CHARSET utf8mb4 DETERMINISTIC BEGIN RETURN x * 2; END"
        ));
        // Other statements after the routine, or a body that is no compound statement.
        assert!(!one(
            "CREATE PROCEDURE p() BEGIN SELECT 1; END; GRANT ALL ON *.* TO x"
        ));
        assert!(!one(
            "CREATE PROCEDURE p() SELECT begin FROM t; DROP USER x; END"
        ));
        assert!(!one(
            "CREATE PROCEDURE p() BEGIN SELECT begin FROM t; END; DROP USER x; END"
        ));
        assert!(!one(
            "CREATE PROCEDURE p() BEGIN SELECT CASE WHEN a THEN begin ELSE 1 END; END; DROP USER x; END"
        ));
        assert!(!one(
            "CREATE PROCEDURE p() BEGIN DO begin; END; DROP USER x; END"
        ));
        assert!(!one("CREATE PROCEDURE p() BEGIN SELECT 1; END x y"));
        assert!(!one(
            "CREATE DEFINER = `root`@`%` PROCEDURE p() BEGIN SELECT 1; END"
        ));
        assert!(!one("CREATE FUNCTION f RETURNS STRING SONAME 'evil.so'"));
        assert!(!one("CREATE PROCEDURE p() BEGIN SELECT 1;"));
        // An `END` the server reads as a name makes this scan end early: refused, never hidden.
        assert!(!one("CREATE PROCEDURE p() BEGIN SELECT end FROM t; END"));
    }

    #[test]
    fn triggers() {
        // pt-online-schema-change's, with a `!` sqlparser lacks.
        assert!(one(
            "CREATE TRIGGER `pt_osc_d_t_upd` AFTER UPDATE ON `d`.`t` FOR EACH ROW BEGIN DELETE IGNORE FROM `d`.`_t_new` WHERE !(OLD.`id` <=> NEW.`id`) AND `d`.`_t_new`.`id` <=> OLD.`id`;REPLACE INTO `d`.`_t_new` (`id`) VALUES (NEW.`id`);END "
        ));
        assert!(one(
            "CREATE OR REPLACE DEFINER = CURRENT_USER TRIGGER IF NOT EXISTS s.tr BEFORE INSERT ON s.t
             FOR EACH ROW FOLLOWS other
             BEGIN DECLARE x INT; SET x = 1; IF NEW.a > x THEN SET NEW.b = x; END IF; END"
        ));
        assert!(!one(
            "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.b = 1; END; DROP USER x"
        ));
        assert!(!one(
            "CREATE DEFINER = `root`@`%` TRIGGER tr BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.b = 1; END"
        ));
        assert!(!one(
            "CREATE TRIGGER tr BEFORE TRUNCATE ON t FOR EACH ROW BEGIN SET NEW.b = 1; END"
        ));
        assert!(!one(
            "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH STATEMENT BEGIN SET NEW.b = 1; END"
        ));
    }
}

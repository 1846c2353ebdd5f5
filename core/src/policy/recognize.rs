//! Narrow recognizers for statements sqlparser 0.63 cannot parse.
//!
//! Never first-keyword guessing: a recognizer that gives a *weaker* class than `admin` matches
//! one exact form over the statement's normalized tokens (literals already `?`, comments gone)
//! and nothing else; a form that would be denied for every non-admin grant anyway (`DO`,
//! `CHECKPOINT`, `LOAD DATA`, `INTO OUTFILE`...) is recognized only to say so clearly.

use super::{SqlDialect, StatementClass};

/// The class and a description of a statement the parser failed on, if a recognizer knows
/// its exact form.
pub(crate) fn recognize(
    normalized: &str,
    dialect: SqlDialect,
) -> Option<(StatementClass, &'static str)> {
    let lower = normalized
        .trim()
        .trim_end_matches(';')
        .trim()
        .to_ascii_lowercase();
    let tokens = tokens(&lower);
    let mysql = dialect == SqlDialect::Mysql;
    let known_form = if mysql {
        super::mysql_forms::recognize(&tokens)
    } else {
        super::partitions::pg_attach_detach(&tokens)
            .or_else(|| super::pg_alter::recognize(&tokens))
            .or_else(|| super::pg_objects::recognize(&tokens))
            .or_else(|| super::pg_definitions::recognize(&tokens))
    };
    match tokens.as_slice() {
        // PostgreSQL's and MySQL 8's TABLE name (= SELECT * FROM name); a catalog of password
        // hashes is `admin`, as in a SELECT.
        ["table", rest @ ..] if is_qualified_name(rest) => Some(
            if let Some(reason) = super::credentials::credential_tokens(rest, mysql) {
                (StatementClass::Admin, reason)
            } else {
                (StatementClass::Read, "TABLE")
            },
        ),
        // Maintenance: keywords, names, parenthesized options; no expressions, no functions.
        [first, rest @ ..]
            if !mysql
                && matches!(
                    *first,
                    "vacuum" | "analyze" | "analyse" | "reindex" | "cluster"
                )
                && rest.iter().all(|t| is_plain_token(t)) =>
        {
            Some((
                StatementClass::Ddl,
                "maintenance (VACUUM, ANALYZE, REINDEX, CLUSTER)",
            ))
        }
        ["refresh", "materialized", "view", rest @ ..] if !mysql => {
            let rest = rest.strip_prefix(&["concurrently"]).unwrap_or(rest);
            let rest = rest
                .strip_suffix(&["with", "data"])
                .or_else(|| rest.strip_suffix(&["with", "no", "data"]))
                .unwrap_or(rest);
            is_qualified_name(rest).then_some((StatementClass::Ddl, "REFRESH MATERIALIZED VIEW"))
        }
        // COPY of a table with options sqlparser lacks (pgbench: `WITH (FREEZE ON)`): the
        // source is a plain table name, the options words and literals only.
        ["copy", rest @ ..] if !mysql => copy_table(rest),
        // MySQL: mysqldump's consistent snapshot.
        ["start", "transaction", "with", "consistent", "snapshot"]
        | [
            "start",
            "transaction",
            "with",
            "consistent",
            "snapshot",
            ",",
            "read",
            "only",
        ] if mysql => Some((
            StatementClass::Read,
            "START TRANSACTION WITH CONSISTENT SNAPSHOT",
        )),
        // PostgreSQL sequences with options in an order sqlparser does not take (pg_dump writes
        // `AS integer START WITH 1 INCREMENT BY 1 ...`), and `ALTER SEQUENCE ... OWNED BY`:
        // a name, then words, numbers and qualified names only.
        ["create", rest @ ..] if !mysql && sequence_definition(rest, true) => {
            Some((StatementClass::Ddl, "CREATE SEQUENCE"))
        }
        ["alter", "sequence", ..] if !mysql && sequence_definition(&tokens[1..], false) => {
            Some((StatementClass::Ddl, "ALTER SEQUENCE"))
        }
        // MySQL: table options and partition maintenance sqlparser lacks in ALTER TABLE
        // (`ENGINE=InnoDB`, `ROW_FORMAT`, `CONVERT TO CHARACTER SET`; `TRUNCATE PARTITION p0`):
        // words, literals and `=` only, no expressions.
        // (MariaDB's `ALTER ONLINE TABLE` too.)
        ["alter", "table", rest @ ..] | ["alter", "online", "table", rest @ ..]
            if mysql && alter_table_options(rest) =>
        {
            Some((
                StatementClass::Ddl,
                "ALTER TABLE (table options, partitions)",
            ))
        }
        ["alter", "table", rest @ ..] | ["alter", "online", "table", rest @ ..] if mysql => {
            let tail = match rest {
                [s, ".", n, tail @ ..] if is_identifier(s) && is_identifier(n) => tail,
                [n, tail @ ..] if is_identifier(n) => tail,
                _ => return None,
            };
            super::partitions::mysql_alter(tail)
        }
        // PostgreSQL partition maintenance and the ALTER forms of migrations; MySQL's XA, ALTER
        // DATABASE and DROP EVENT.
        _ if known_form.is_some() => known_form,
        // MySQL: what GUI clients ask about a schema or a table.
        // `SHOW INDEX FROM t [FROM db] WHERE …` (GUIs filter the key list).
        [
            "show",
            "index" | "indexes" | "keys",
            "from" | "in",
            rest @ ..,
        ] if mysql => {
            let rest = match rest {
                [s, ".", n, more @ ..] if is_identifier(s) && is_identifier(n) => more,
                [n, more @ ..] if is_identifier(n) => more,
                _ => return None,
            };
            let rest = match rest {
                ["from" | "in", db, more @ ..] if is_identifier(db) => more,
                _ => rest,
            };
            is_show_filter(rest).then_some((StatementClass::Read, "SHOW INDEX"))
        }
        ["show", "create", "sequence" | "package", rest @ ..]
        | ["show", "create", "package", "body", rest @ ..]
            if mysql && is_qualified_name(rest) =>
        {
            Some((StatementClass::Read, "SHOW CREATE SEQUENCE|PACKAGE"))
        }
        ["show", "create", "user", ..] if mysql => Some((
            StatementClass::Admin,
            "SHOW CREATE USER (it shows the account's password hash)",
        )),
        ["show", "create", "database" | "schema", rest @ ..] if mysql => {
            let rest = rest.strip_prefix(&["if", "not", "exists"]).unwrap_or(rest);
            is_qualified_name(rest).then_some((StatementClass::Read, "SHOW CREATE DATABASE"))
        }
        ["describe" | "desc", table @ .., column]
            if mysql
                && is_qualified_name(table)
                && !matches!(
                    table[0],
                    "select"
                        | "insert"
                        | "update"
                        | "delete"
                        | "replace"
                        | "with"
                        | "table"
                        | "analyze"
                        | "format"
                        | "extended"
                        | "partitions"
                        | "for"
                )
                && (is_identifier(column) || *column == "?") =>
        {
            Some((StatementClass::Read, "DESCRIBE (a column)"))
        }
        ["checksum", "table", rest @ ..] if mysql => {
            let rest = rest
                .strip_suffix(&["quick"])
                .or_else(|| rest.strip_suffix(&["extended"]))
                .unwrap_or(rest);
            (!rest.is_empty() && rest.split(|t| *t == ",").all(is_qualified_name))
                .then_some((StatementClass::Read, "CHECKSUM TABLE"))
        }
        ["help", "?"] if mysql => Some((StatementClass::Read, "HELP")),
        // MySQL: routine listings (mysqldump --routines), filtered by column comparisons with
        // literals only (no subqueries, no functions).
        [
            "show",
            "function" | "procedure" | "package",
            "status",
            rest @ ..,
        ]
        | ["show", "package", "body", "status", rest @ ..]
            if mysql && is_show_filter(rest) =>
        {
            Some((StatementClass::Read, "SHOW ... STATUS"))
        }
        // Opaque or server-reaching forms: named for a clear message, denied below admin.
        ["do", ..] if !mysql => Some((
            StatementClass::Admin,
            "DO (an anonymous code block dbward cannot see into)",
        )),
        ["checkpoint"] => Some((StatementClass::Admin, "CHECKPOINT")),
        // PostgreSQL: when this transaction checks its deferrable constraints (Django, fixtures).
        ["set", "constraints", rest @ .., "deferred" | "immediate"]
            if !mysql
                && (rest == ["all"]
                    || (!rest.is_empty() && rest.split(|t| *t == ",").all(is_qualified_name))) =>
        {
            Some((StatementClass::Read, "SET CONSTRAINTS"))
        }
        ["move", rest @ ..]
            if !mysql
                && rest.len() <= 4
                && rest
                    .iter()
                    .all(|t| is_identifier(t) || *t == "?" || *t == "-") =>
        {
            Some((StatementClass::Read, "MOVE (a cursor)"))
        }
        ["optimize", "table", rest @ ..]
        | [
            "optimize",
            "no_write_to_binlog" | "local",
            "table",
            rest @ ..,
        ] if mysql && rest.iter().all(|t| is_plain_token(t)) => {
            Some((StatementClass::Ddl, "OPTIMIZE TABLE"))
        }
        // `NO_WRITE_TO_BINLOG` keeps the statement out of the binary log (sqlparser parses
        // `ANALYZE TABLE` without it).
        [
            "analyze",
            "no_write_to_binlog" | "local",
            "table",
            rest @ ..,
        ] if mysql && !rest.is_empty() && rest.iter().all(|t| is_plain_token(t)) => {
            Some((StatementClass::Ddl, "ANALYZE TABLE"))
        }
        // MySQL table maintenance, like OPTIMIZE and ANALYZE TABLE.
        ["check" | "repair", "table", rest @ ..]
        | ["repair", "no_write_to_binlog" | "local", "table", rest @ ..]
            if mysql && !rest.is_empty() && rest.iter().all(|t| is_plain_token(t)) =>
        {
            Some((StatementClass::Ddl, "CHECK/REPAIR TABLE (maintenance)"))
        }
        // MySQL's other spelling of DEALLOCATE PREPARE.
        ["drop", "prepare", name] if mysql && is_identifier(name) => {
            Some((StatementClass::Read, "DEALLOCATE PREPARE"))
        }
        ["grant" | "revoke", ..] => Some((StatementClass::Admin, "GRANT/REVOKE")),
        [
            "create" | "alter" | "drop" | "rename",
            "user" | "role" | "group",
            ..,
        ] => Some((StatementClass::Admin, "role management")),
        ["set", "persist" | "persist_only" | "global", ..] => {
            Some((StatementClass::Admin, "SET GLOBAL/PERSIST"))
        }
        ["alter", "system", ..] => Some((StatementClass::Admin, "ALTER SYSTEM")),
        // PostgreSQL statements that reach past the database's own objects: named for a clear
        // message, `admin`.
        ["alter", "database", ..] if !mysql => Some((
            StatementClass::Admin,
            "ALTER DATABASE (settings, ownership or limits for every session of the database)",
        )),
        ["drop", "database", ..] if !mysql => Some((StatementClass::Admin, "DROP DATABASE")),
        ["reassign" | "drop", "owned", "by", ..] if !mysql => Some((
            StatementClass::Admin,
            "REASSIGN/DROP OWNED (roles' objects)",
        )),
        ["alter", "default", "privileges", ..] | ["security", "label", ..] if !mysql => {
            Some((StatementClass::Admin, "privileges or security labels"))
        }
        ["alter", "large", "object", ..] | ["alter", "extension", ..] if !mysql => Some((
            StatementClass::Admin,
            "extensions and large objects' owners",
        )),
        ["import", "foreign", "schema", ..] if !mysql => Some((
            StatementClass::Admin,
            "IMPORT FOREIGN SCHEMA (other servers)",
        )),
        ["create" | "alter" | "drop", kind, ..]
            if !mysql
                && matches!(
                    *kind,
                    "tablespace"
                        | "language"
                        | "subscription"
                        | "publication"
                        | "server"
                        | "foreign"
                        | "event"
                        | "transform"
                        | "access"
                ) =>
        {
            Some((
                StatementClass::Admin,
                "server-level objects (tablespaces, languages, replication, foreign servers \
                 and tables, event triggers, access methods)",
            ))
        }
        // LOAD DATA LOCAL: the client sends its own file; rows are written (write). Options
        // only (no SET expressions). A server-side file (no LOCAL) is admin.
        ["load", "data", "local", "infile", "?", rest @ ..]
            if mysql
                && rest.windows(2).any(|w| w == ["into", "table"])
                && rest.iter().all(|t| is_plain_token(t)) =>
        {
            Some((StatementClass::Write, "LOAD DATA LOCAL INFILE"))
        }
        ["load", ..] => Some((
            StatementClass::Admin,
            "LOAD / LOAD DATA reads server or client files",
        )),
        _ if tokens
            .windows(2)
            .any(|w| w[0] == "into" && matches!(w[1], "outfile" | "dumpfile")) =>
        {
            Some((
                StatementClass::Admin,
                "SELECT ... INTO OUTFILE writes a server file",
            ))
        }
        _ => None,
    }
}

/// The tokens of a normalized statement (no literals or comments left): words, quoted
/// identifiers, `?`, and single punctuation characters.
pub(crate) fn tokens(normalized: &str) -> Vec<&str> {
    let b = normalized.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c == b' ' {
            i += 1;
            continue;
        }
        if c == b'"' || c == b'`' {
            i += 1;
            while i < b.len() && b[i] != c {
                i += 1;
            }
            i = (i + 1).min(b.len());
        } else if c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80 {
            while i < b.len()
                && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'$' || b[i] >= 0x80)
            {
                i += 1;
            }
        } else {
            i += 1;
        }
        // Quoted identifiers and words are whole; a multi-byte character never splits.
        while !normalized.is_char_boundary(i) {
            i += 1;
        }
        out.push(&normalized[start..i]);
    }
    out
}

/// After `ALTER TABLE`: a table name, then either table options, each a known option word with
/// a plain value (`ENGINE = InnoDB`, `ROW_FORMAT DYNAMIC`, `DEFAULT CHARSET = utf8mb4`,
/// `CONVERT TO CHARACTER SET utf8mb4 COLLATE x`...; an engine only from a list of local storage
/// engines: `CONNECT`, `FEDERATED` and the like reach files and other servers), or a partition
/// operation that names partitions (`TRUNCATE PARTITION p0, p1`), or `DISABLE|ENABLE KEYS`
/// (mysqldump's output). Anything else (`CONNECTION`,
/// `DATA DIRECTORY`, expressions) is not this form.
fn alter_table_options(rest: &[&str]) -> bool {
    const OPTIONS: &[&str] = &[
        "engine",
        "row_format",
        "auto_increment",
        "comment",
        "charset",
        "collate",
        "key_block_size",
        "stats_persistent",
        "stats_auto_recalc",
        "stats_sample_pages",
        "checksum",
        "page_checksum",
        "transactional",
        "pack_keys",
        "delay_key_write",
    ];
    let tail = match rest {
        [s, ".", n, tail @ ..] if is_identifier(s) && is_identifier(n) => tail,
        [n, tail @ ..] if is_identifier(n) => tail,
        _ => return false,
    };
    let is_value = |t: &str| t == "?" || is_identifier(t);
    match tail {
        [
            "truncate" | "drop" | "coalesce" | "analyze" | "optimize" | "rebuild" | "repair"
            | "check",
            "partition",
            names @ ..,
        ] => {
            !names.is_empty()
                && names
                    .split(|t| *t == ",")
                    .all(|n| matches!(n, [one] if is_identifier(one)))
        }
        // MariaDB's system versioning too (history rows the table keeps).
        ["remove", "partitioning"]
        | ["force"]
        | ["disable" | "enable", "keys"]
        | ["add" | "drop", "system", "versioning"]
        | ["drop", "period", "for", "system_time"] => true,
        ["add", "period", "for", "system_time", "(", a, ",", b, ")"] => {
            is_identifier(a) && is_identifier(b)
        }
        // The rows' stored order (MyISAM, Aria): column names only.
        ["order", "by", columns @ ..] => {
            !columns.is_empty()
                && columns
                    .iter()
                    .all(|t| is_identifier(t) || matches!(*t, "," | "."))
        }
        // An index's name or whether the optimizer uses it (MySQL 8 `INVISIBLE`, MariaDB
        // `IGNORED`); Django renames indexes so.
        ["rename", "index" | "key", a, "to", b] => is_identifier(a) && is_identifier(b),
        [
            "alter",
            "index" | "key",
            i,
            "visible" | "invisible" | "ignored",
        ]
        | ["alter", "index" | "key", i, "not", "ignored"] => is_identifier(i),
        _ => {
            let mut t = tail;
            while !t.is_empty() {
                if let ["convert", "to", "character", "set", cs, more @ ..] = t {
                    t = match more {
                        ["collate", co, more @ ..] if is_value(co) => more,
                        _ => more,
                    };
                    if !is_value(cs) {
                        return false;
                    }
                } else {
                    let after_default = t.strip_prefix(&["default"]).unwrap_or(t);
                    let (option, more) = match after_default {
                        ["character", "set", more @ ..] => ("charset", more),
                        [word, more @ ..] if OPTIONS.contains(word) => (*word, more),
                        _ => return false,
                    };
                    let more = more.strip_prefix(&["="]).unwrap_or(more);
                    let Some((value, more)) = more.split_first() else {
                        return false;
                    };
                    if !is_value(value)
                        || (option == "engine" && !super::LOCAL_ENGINES.contains(value))
                    {
                        return false;
                    }
                    t = more;
                }
                t = t.strip_prefix(&[","]).unwrap_or(t);
            }
            true
        }
    }
}

/// `[TEMP|TEMPORARY|UNLOGGED] SEQUENCE [IF NOT EXISTS] name options` after `CREATE` (with
/// `create`), or `SEQUENCE [IF EXISTS] name options` after `ALTER`: the options words, numbers
/// (`?` once normalized, maybe negative) and qualified names (`OWNED BY t.c`) only.
fn sequence_definition(rest: &[&str], create: bool) -> bool {
    let rest = if create {
        rest.strip_prefix(&["temp"])
            .or_else(|| rest.strip_prefix(&["temporary"]))
            .or_else(|| rest.strip_prefix(&["unlogged"]))
            .unwrap_or(rest)
    } else {
        rest
    };
    let Some(rest) = rest.strip_prefix(&["sequence"]) else {
        return false;
    };
    let rest = rest
        .strip_prefix(&["if", "not", "exists"])
        .or_else(|| rest.strip_prefix(&["if", "exists"]))
        .unwrap_or(rest);
    let name_len = match rest {
        [_, ".", _, ..] => 3,
        [_, ..] => 1,
        [] => return false,
    };
    // `OWNER TO role` hands the sequence to another role: a privilege change (admin).
    is_qualified_name(&rest[..name_len])
        && !rest[name_len..].windows(2).any(|w| w == ["owner", "to"])
        && rest[name_len..]
            .iter()
            .all(|t| is_identifier(t) || matches!(*t, "?" | "-" | "."))
}

/// A `SHOW` statement's filter: none, `LIKE 'pattern'`, or `WHERE` comparisons of columns with
/// literals joined by `AND`/`OR`.
fn is_show_filter(rest: &[&str]) -> bool {
    match rest {
        [] | ["like", "?"] => true,
        ["where", conditions @ ..] => {
            !conditions.is_empty()
                && conditions.iter().all(|t| {
                    *t == "?"
                        || matches!(*t, "and" | "or" | "like" | "=" | "<" | ">" | "!")
                        || (is_identifier(t) && !matches!(*t, "select" | "from"))
                })
        }
        _ => false,
    }
}

/// `name [(columns)] FROM STDIN | TO STDOUT [options]` after `COPY`.
fn copy_table(rest: &[&str]) -> Option<(StatementClass, &'static str)> {
    let direction = rest.iter().position(|t| *t == "from" || *t == "to")?;
    let (target, after) = rest.split_at(direction);
    let target = match target.iter().position(|t| *t == "(") {
        Some(open) => {
            let columns = &target[open..];
            let ok = columns.last() == Some(&")")
                && columns[1..columns.len() - 1]
                    .iter()
                    .all(|t| is_identifier(t) || *t == ",");
            if !ok {
                return None;
            }
            &target[..open]
        }
        None => target,
    };
    // `COPY t FROM` with nothing after it (a comment ate the rest) is not this form, nor is a
    // row filter, `WHERE condition`, whose calls run for every row (see `copy_from_where`).
    if after.len() < 2
        || !is_qualified_name(target)
        || !after[2..].iter().all(|t| is_plain_token(t) || *t == "*")
        || after.contains(&"where")
    {
        return None;
    }
    match after[..2] {
        ["from", "stdin"] => Some((StatementClass::Write, "COPY FROM STDIN")),
        ["to", "stdout"] => Some((StatementClass::Read, "COPY TO STDOUT")),
        _ => None,
    }
}

/// `name` or `schema . name`, each a bare word or a quoted identifier.
pub(crate) fn is_qualified_name(tokens: &[&str]) -> bool {
    match tokens {
        [n] => is_identifier(n),
        [c, ".", s, ".", n] => is_identifier(c) && is_identifier(s) && is_identifier(n),
        [s, ".", n] => is_identifier(s) && is_identifier(n),
        _ => false,
    }
}

/// What the token recognizer `recognize` makes of PostgreSQL `sql`, normalized and lower-cased
/// as [`recognize`] passes it on (the recognizers' unit tests).
#[cfg(test)]
pub(crate) fn pg_class_by(
    sql: &str,
    recognize: fn(&[&str]) -> Option<(StatementClass, &'static str)>,
) -> Option<StatementClass> {
    let lower = super::lexer::scan(sql, SqlDialect::Postgres)
        .normalized
        .to_ascii_lowercase();
    recognize(&tokens(lower.trim())).map(|(c, _)| c)
}

pub(crate) fn is_identifier(t: &str) -> bool {
    (t.len() >= 2
        && ((t.starts_with('"') && t.ends_with('"')) || (t.starts_with('`') && t.ends_with('`'))))
        || (!t.is_empty()
            && t.chars()
                .next()
                .is_some_and(|c| c.is_alphabetic() || c == '_')
            && t.chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '$'))
}

/// Words, quoted identifiers, literals, and the punctuation of option lists and qualified
/// names.
fn is_plain_token(t: &str) -> bool {
    is_identifier(t) || matches!(t, "?" | "," | "(" | ")" | ".")
}

/// Row-locking clauses sqlparser does not parse (`FOR NO KEY UPDATE`, `FOR KEY SHARE`,
/// MySQL's `LOCK IN SHARE MODE`): the text before the clause, if the statement ends with one
/// (the caller parses that part, requires it to be one statement, and adds `write` unless it
/// is a plain `EXPLAIN`).
pub(crate) fn strip_locking_clause(sql: &str, dialect: SqlDialect) -> Option<&str> {
    let lower = sql.to_ascii_lowercase();
    let keyword = if dialect == SqlDialect::Mysql {
        "lock"
    } else {
        "for"
    };
    let cut = lower.rfind(keyword)?;
    let suffix = super::lexer::scan(&sql[cut..], dialect)
        .normalized
        .to_ascii_lowercase();
    let suffix = suffix.trim().trim_end_matches(';').trim();
    let t = tokens(suffix);
    let matches = match t.as_slice() {
        ["lock", "in", "share", "mode", rest @ ..] => {
            dialect == SqlDialect::Mysql
                && matches!(rest, [] | ["nowait"] | ["skip", "locked"] | ["wait", "?"])
        }
        ["for", "no", "key", "update", rest @ ..] | ["for", "key", "share", rest @ ..] => {
            dialect != SqlDialect::Mysql && matches!(rest, [] | ["nowait"] | ["skip", "locked"])
        }
        _ => false,
    };
    matches.then(|| &sql[..cut])
}

/// A MySQL `SET a = 1, NAMES x COLLATE y, b = 2` that sqlparser cannot parse as a whole (it
/// lacks `NAMES ... COLLATE` inside a list, as sqlx sends on connect): the assignments as
/// separate `SET` statements, split at top-level commas outside quotes and parentheses.
pub(crate) fn split_set_assignments(sql: &str) -> Option<Vec<String>> {
    let trimmed = sql.trim().trim_end_matches(';').trim();
    let rest = trimmed
        .get(..4)
        .filter(|p| p.eq_ignore_ascii_case("set "))?;
    let body = &trimmed[rest.len()..];
    if body
        .get(..10)
        .is_some_and(|w| w.eq_ignore_ascii_case("statement "))
    {
        // MariaDB's `SET STATEMENT a = 1, b = 2 FOR stmt`: see `mysql_rewrite_for_parser`.
        return None;
    }
    let b = body.as_bytes();
    let (mut depth, mut start, mut i) = (0i32, 0usize, 0usize);
    let mut parts = Vec::new();
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"' | b'`') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    if b[i] == b'\\' && q != b'`' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'(' => depth += 1,
            b')' => depth -= 1,
            b',' if depth == 0 => {
                parts.push(format!("SET {}", &body[start..i]));
                start = i + 1;
            }
            b'#' | b';' => return None,
            b'-' if b.get(i + 1) == Some(&b'-') => return None,
            b'/' if b.get(i + 1) == Some(&b'*') => return None,
            _ => {}
        }
        i += 1;
    }
    if depth != 0 || i > b.len() {
        return None;
    }
    parts.push(format!("SET {}", &body[start..]));
    (parts.len() > 1).then_some(parts)
}

/// Syntax sqlparser 0.63 lacks, written the way it parses, when there is any to rewrite (MySQL:
/// see [`mysql_rewrite_for_parser`]). PostgreSQL forms psql and `pg_dump` send:
/// - the explicit operator syntax `OPERATOR(pg_catalog.=)` (not parsed before `ANY (...)`, as
///   `pg_dump -t` sends) becomes the bare operator;
/// - `FROM ONLY t` / `JOIN ONLY t` (no inheritance children; `pg_dump --inserts` sends it)
///   becomes `FROM t`;
/// - `[NOT] DEFERRABLE` among transaction modes (`pg_dump --serializable-deferrable`) goes;
/// - `CREATE INDEX … ON ONLY t` (`pg_dump` of a partitioned table) becomes `ON t`;
/// - `TABLESPACE s` in `CREATE` and `ALTER TABLE`, `COLLATE c` in `ALTER|CREATE TABLE`, and `LIKE t`'s
///   `INCLUDING|EXCLUDING what` go: a storage place, a collation and what a new table copies do
///   not change what kind of statement it is;
/// - and the clauses inside queries of [`super::clause_rewrites`] (window exclusions, `ROWS
///   FROM`, a join alias, `SEARCH`/`CYCLE`; MySQL's `MOD`, `CHARACTER SET` in casts, `FOR
///   SYSTEM_TIME`).
///
/// With the text, how many statements it must parse to (two for `SET STATEMENT … FOR stmt`,
/// otherwise one). The caller parses and classifies the result in full, so the rewrite decides
/// nothing by itself, and no form changes what a statement does to classification: a built-in
/// operator named explicitly is the bare one (or safer: the bare one might resolve to a user's
/// operator, which classification does not see into either way), and `ONLY` narrows the rows
/// read or written, not the kind of access. Tokens come from sqlparser's own tokenizer: text
/// inside literals, quoted identifiers and comments is never touched.
pub(crate) fn rewrite_for_parser(sql: &str, dialect: SqlDialect) -> Option<(String, usize)> {
    let mut passes = 0;
    let rewritten = rewrite_pass(sql, dialect, &mut passes);
    (passes <= MAX_REWRITES).then_some(rewritten).flatten()
}

/// How many rewrite passes one statement gets at most. Each pass handles what the one before
/// uncovered; text that still changes after that many (a rewrite undoing another, or one that
/// keeps finding its own output) gets none: as sent, it is unclassifiable.
const MAX_REWRITES: u8 = 8;

/// `COPY t FROM STDIN … WHERE condition` (PostgreSQL 12), which sqlparser lacks, as two
/// statements: `SELECT 1 WHERE condition`, so that what the condition calls for every row is
/// classified too, then the `COPY` without its filter (last: sqlparser reads whatever follows
/// a `COPY … FROM STDIN;` as its inline data).
fn copy_from_where(tokens: &[sqlparser::tokenizer::Token], texts: &[&str]) -> Option<String> {
    use sqlparser::tokenizer::Token;
    let significant: Vec<usize> = (0..tokens.len())
        .filter(|&k| !matches!(tokens[k], Token::Whitespace(_)))
        .collect();
    let word = |k: usize, w: &str| matches!(&tokens[k], Token::Word(x) if x.quote_style.is_none() && x.value.eq_ignore_ascii_case(w));
    if !word(*significant.first()?, "copy") {
        return None;
    }
    let (mut depth, mut from_stdin) = (0i32, false);
    for (n, &k) in significant.iter().enumerate() {
        match &tokens[k] {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            _ if depth == 0 && word(k, "from") => {
                from_stdin = significant
                    .get(n + 1)
                    .is_some_and(|&next| word(next, "stdin") || word(next, "stdout"));
            }
            _ if depth == 0 && from_stdin && word(k, "where") => {
                let condition = texts[k..].concat();
                let condition = condition.trim_end().trim_end_matches(';');
                return Some(format!("SELECT 1 {condition}; {}", texts[..k].concat()));
            }
            _ => {}
        }
    }
    None
}

/// One pass over `sql`, then the next over its result; `passes` counts them.
fn rewrite_pass(sql: &str, dialect: SqlDialect, passes: &mut u8) -> Option<(String, usize)> {
    use sqlparser::tokenizer::Token;
    *passes = passes.saturating_add(1);
    if *passes > MAX_REWRITES {
        return None;
    }
    if dialect == SqlDialect::Mysql {
        return mysql_rewrite_for_parser(sql, passes);
    }
    let (tokens, texts) = tokens_with_text(sql, dialect)?;
    if let Some(split) = copy_from_where(&tokens, &texts) {
        return Some((split, 2));
    }
    if let Some(text) = pg_statement_rewrite(&tokens, &texts)
        .filter(|t| t != sql)
        .or_else(|| super::clause_rewrites::postgres(&tokens, &texts))
    {
        return Some(rewrite_pass(&text, dialect, passes).unwrap_or((text, 1)));
    }
    let is_word = |t: &Token, w: &str| matches!(t, Token::Word(word) if word.quote_style.is_none() && word.value.eq_ignore_ascii_case(w));
    let mut out = String::with_capacity(sql.len());
    let mut rewritten = false;
    // The last token that was not whitespace.
    let mut previous: Option<&Token> = None;
    // Where the last two tokens that were not whitespace start in `out`, with the tokens.
    let mut marks: Vec<(usize, &Token)> = Vec::new();
    // A statement setting transaction modes (`BEGIN`, `START TRANSACTION`, `SET TRANSACTION`,
    // `SET SESSION CHARACTERISTICS`): its `[NOT] DEFERRABLE` goes (it only decides whether a
    // serializable read-only transaction waits for a safe snapshot), with its list comma.
    let modes = tokens
        .iter()
        .find(|t| !matches!(t, Token::Whitespace(_)))
        .is_some_and(|t| is_word(t, "begin") || is_word(t, "start") || is_word(t, "set"));
    let mut drop_comma = false;
    // The statement's first two words, for the clauses only some statements have.
    let mut leading = tokens.iter().filter_map(|t| match t {
        Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_ascii_lowercase()),
        Token::Whitespace(_) => None,
        _ => Some(String::new()),
    });
    let (first, second) = (leading.next(), leading.next());
    let creates = first.as_deref() == Some("create");
    let table_ddl =
        matches!(first.as_deref(), Some("create" | "alter")) && second.as_deref() == Some("table");
    // `CREATE DOMAIN d AS text COLLATE schema.c …` (`pg_dump` qualifies the collation).
    let domain_ddl =
        matches!(first.as_deref(), Some("create" | "alter")) && second.as_deref() == Some("domain");
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        // A clause that names a storage place, a collation or what to copy from a table:
        // `TABLESPACE s` (CREATE INDEX/TABLE, ALTER TABLE's `USING INDEX TABLESPACE s`),
        // `COLLATE [schema.]c` (ALTER/CREATE TABLE: `ALTER COLUMN a TYPE text COLLATE "C"`;
        // CREATE DOMAIN),
        // `INCLUDING|EXCLUDING ALL` after `LIKE t` (CREATE TABLE). Each keyword is followed by
        // a name; the clause goes with it.
        let named_clause = ((creates || table_ddl)
            && is_word(t, "tablespace")
            && !previous.is_some_and(|p| is_word(p, "create")))
            || ((table_ddl || domain_ddl) && is_word(t, "collate"));
        let like_option =
            creates && table_ddl && (is_word(t, "including") || is_word(t, "excluding"));
        let end = if named_clause {
            after_qualified_name(&tokens, i + 1)
        } else if like_option {
            let k = (i + 1..tokens.len()).find(|&k| !matches!(tokens[k], Token::Whitespace(_)));
            k.filter(|&k| LIKE_OPTIONS.iter().any(|o| is_word(&tokens[k], o)))
                .map(|k| k + 1)
        } else {
            None
        };
        // Never a name that calls: `(` after it keeps the statement as it is.
        if let Some(after) = end
            && !matches!(
                tokens[after..]
                    .iter()
                    .find(|t| !matches!(t, Token::Whitespace(_))),
                Some(Token::LParen)
            )
        {
            rewritten = true;
            i = after;
            continue;
        }
        if modes && is_word(t, "deferrable") {
            if marks.last().is_some_and(|(_, p)| is_word(p, "not")) {
                out.truncate(marks.pop().map_or(out.len(), |(at, _)| at));
            }
            if marks.last().is_some_and(|(_, p)| matches!(p, Token::Comma)) {
                out.truncate(marks.pop().map_or(out.len(), |(at, _)| at));
            } else {
                drop_comma = true;
            }
            rewritten = true;
            i += 1;
            continue;
        }
        if drop_comma && !matches!(t, Token::Whitespace(_)) {
            drop_comma = false;
            if matches!(t, Token::Comma) {
                i += 1;
                continue;
            }
        }
        if is_word(t, "only")
            && previous
                .is_some_and(|p| is_word(p, "from") || is_word(p, "join") || is_word(p, "on"))
            && matches!(tokens.get(i + 1), Some(Token::Whitespace(_)))
        {
            rewritten = true;
            i += 1;
            continue;
        }
        if is_word(t, "operator")
            && matches!(tokens.get(i + 1), Some(Token::LParen))
            && tokens.get(i + 2).is_some_and(|t| is_word(t, "pg_catalog"))
            && matches!(tokens.get(i + 3), Some(Token::Period))
        {
            // The operator's own tokens, up to the closing parenthesis: symbols only.
            let ops = tokens[i + 4..]
                .iter()
                .take_while(|t| !matches!(t, Token::RParen))
                .collect::<Vec<_>>();
            let closed = matches!(tokens.get(i + 4 + ops.len()), Some(Token::RParen));
            let symbols = !ops.is_empty()
                && ops.iter().all(|t| {
                    !matches!(
                        t,
                        Token::Word(_)
                            | Token::Number(..)
                            | Token::Whitespace(_)
                            | Token::LParen
                            | Token::Comma
                            | Token::SemiColon
                            | Token::EOF
                    ) && !t.to_string().starts_with(['\'', '"', '$'])
                });
            if closed && symbols {
                out.push(' ');
                for text in &texts[i + 4..i + 4 + ops.len()] {
                    out.push_str(text);
                }
                out.push(' ');
                rewritten = true;
                previous = ops.last().copied();
                i += 5 + ops.len();
                continue;
            }
        }
        if !matches!(t, Token::Whitespace(_)) {
            previous = Some(t);
            marks.push((out.len(), t));
            if marks.len() > 2 {
                marks.remove(0);
            }
        }
        out.push_str(texts[i]);
        i += 1;
    }
    rewritten.then_some((out, 1))
}

/// PostgreSQL statement forms sqlparser 0.63 lacks, rewritten whole before the clause rewrites
/// of [`rewrite_for_parser`] (which then run on the result):
/// - `CREATE MATERIALIZED VIEW … WITH [NO] DATA` (`pg_dump` writes `WITH NO DATA`, then
///   `REFRESH`): without the clause, which only says whether the view is filled now;
/// - a trigger's `EXECUTE FUNCTION|PROCEDURE f(args)`: `f()`, when the arguments are literals
///   and names (the server takes nothing else: they are passed to the function as strings);
/// - `UPDATE|DELETE … WHERE CURRENT OF cursor`: without the clause (which row, not what kind of
///   change); an `UPDATE`'s literal subscripts on its targets (`SET doc['a'] = …`) go, see
///   [`subscripted_assignments`];
/// - `CREATE DOMAIN name type` without `AS`, and a domain's `[NOT] NULL`: with `AS`, without
///   the nullability;
/// - an identity column's sequence options, `GENERATED … AS IDENTITY (SEQUENCE NAME s START
///   WITH 1 …)` in `CREATE|ALTER TABLE` (`pg_dump` writes them for every identity column): without
///   the options, which are words, numbers and names only (how the numbers go, not what kind
///   of statement it is);
/// - `ALTER DOMAIN d ADD [CONSTRAINT c] CHECK (expr) [NOT VALID]` and `ALTER DOMAIN d SET
///   DEFAULT expr`: as the `CREATE DOMAIN d AS int …` with that constraint or default, which
///   parses, so that the expression is classified as a definition's is (`ADD CHECK` evaluates
///   it over the columns of the domain's type at once: a function it calls counts).
fn pg_statement_rewrite(tokens: &[sqlparser::tokenizer::Token], texts: &[&str]) -> Option<String> {
    use sqlparser::tokenizer::Token;
    let significant: Vec<usize> = (0..tokens.len())
        .filter(|&k| {
            !matches!(
                tokens[k],
                Token::Whitespace(_) | Token::SemiColon | Token::EOF
            )
        })
        .collect();
    if let Some(text) = without_identity_options(tokens, texts, &significant) {
        return Some(text);
    }
    let word = |j: usize, w: &str| word_at(tokens, &significant, j, w);
    let without = |drop: &[usize]| text_without(texts, drop, None);
    let n = significant.len();
    if word(0, "create") && word(1, "materialized") && word(2, "view") && n > 3 {
        if word(n - 1, "data") && word(n - 2, "no") && word(n - 3, "with") {
            return Some(without(&significant[n - 3..]));
        }
        if word(n - 1, "data") && word(n - 2, "with") {
            return Some(without(&significant[n - 2..]));
        }
        return None;
    }
    if word(0, "create") && (word(1, "trigger") || (word(1, "constraint") && word(2, "trigger"))) {
        // `EXECUTE FUNCTION|PROCEDURE [schema.]name ( args )` ends the statement.
        let execute = (0..n).rev().find(|&j| {
            word(j, "execute") && (word(j + 1, "function") || word(j + 1, "procedure"))
        })?;
        let open = if matches!(
            tokens.get(*significant.get(execute + 3)?),
            Some(Token::Period)
        ) {
            execute + 5
        } else {
            execute + 3
        };
        let close = n - 1;
        if !matches!(tokens.get(*significant.get(open)?), Some(Token::LParen))
            || !matches!(tokens[significant[close]], Token::RParen)
            || open + 1 >= close
        {
            return None;
        }
        let args = &significant[open + 1..close];
        let literal = |k: &usize| {
            matches!(
                tokens[*k],
                Token::SingleQuotedString(_)
                    | Token::EscapedStringLiteral(_)
                    | Token::DollarQuotedString(_)
                    | Token::Number(..)
                    | Token::Word(_)
                    | Token::Comma
                    | Token::Minus
                    | Token::Plus
                    | Token::Period
            )
        };
        if !args.iter().all(literal) {
            return None;
        }
        let drop: Vec<usize> = (significant[open] + 1..significant[close]).collect();
        return Some(without(&drop));
    }
    if (word(0, "update") || word(0, "delete"))
        && n > 4
        && let Some(at) =
            (0..n - 3).find(|&j| word(j, "where") && word(j + 1, "current") && word(j + 2, "of"))
    {
        let name = significant[at + 3];
        if !matches!(tokens[name], Token::Word(_)) {
            return None;
        }
        return Some(without(&significant[at..=at + 3]));
    }
    if word(0, "update") {
        return subscripted_assignments(tokens, &significant).map(|drop| without(&drop));
    }
    if word(0, "alter") && word(1, "domain") && n > 4 {
        let name_end = if matches!(tokens.get(significant[3]), Some(Token::Period)) {
            4
        } else {
            2
        };
        let name = texts[significant[2]..=significant[name_end]].concat();
        let j = name_end + 1;
        let mut end = n;
        if word(n - 1, "valid") && word(n - 2, "not") {
            end = n - 2;
        }
        // After `ADD`: the constraint; after `SET`: `DEFAULT expr`.
        if !(word(j, "add") || (word(j, "set") && word(j + 1, "default"))) || end <= j + 1 {
            return None;
        }
        let body = texts[significant[j + 1]..=significant[end - 1]].concat();
        return Some(format!("CREATE DOMAIN {name} AS int {body}"));
    }
    if word(0, "create") && word(1, "domain") && n > 3 {
        // The name, qualified or not, then `AS` or the type.
        let after_name = if matches!(tokens.get(significant[3]), Some(Token::Period)) {
            5
        } else {
            3
        };
        let mut drop = Vec::new();
        let mut depth = 0i32;
        for j in after_name..n {
            match tokens[significant[j]] {
                Token::LParen => depth += 1,
                Token::RParen => depth -= 1,
                _ if depth == 0 && word(j, "null") && !word(j - 1, "default") => {
                    drop.push(significant[j]);
                    if j > 0 && word(j - 1, "not") {
                        drop.push(significant[j - 1]);
                    }
                }
                _ => {}
            }
        }
        let needs_as = !word(after_name, "as");
        if drop.is_empty() && !needs_as {
            return None;
        }
        let insert_as = significant
            .get(after_name)
            .filter(|_| needs_as)
            .map(|&k| (k, "AS "));
        return Some(text_without(texts, &drop, insert_as));
    }
    None
}

/// The tokens of an `UPDATE`'s subscripted targets' subscripts (`SET doc['status'] = …`,
/// `SET a[1][2:3] = …`, jsonb and arrays, PostgreSQL 14+), when there are any and every
/// subscript is literal: which element is assigned, not what kind of statement it is (a
/// computed subscript could call a function, and is left for the parser to refuse).
fn subscripted_assignments(
    tokens: &[sqlparser::tokenizer::Token],
    significant: &[usize],
) -> Option<Vec<usize>> {
    use sqlparser::tokenizer::Token;
    let set = (0..significant.len()).find(|&j| word_at(tokens, significant, j, "set"))?;
    let mut drop = Vec::new();
    let mut depth = 0i32;
    // Whether the next `[` follows a target (a name or a closed subscript).
    let mut target_before = false;
    let mut j = set + 1;
    while j < significant.len() {
        let t = &tokens[significant[j]];
        if depth == 0
            && ["from", "where", "returning"]
                .iter()
                .any(|w| is_plain_word(Some(t), w))
        {
            break;
        }
        match t {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            Token::LBracket if depth == 0 && target_before => {
                let close = (j + 1..significant.len())
                    .find(|&c| matches!(tokens[significant[c]], Token::RBracket))?;
                let literal = significant[j + 1..close].iter().all(|&k| {
                    matches!(
                        tokens[k],
                        Token::SingleQuotedString(_)
                            | Token::Number(..)
                            | Token::Colon
                            | Token::Minus
                    )
                });
                if !literal {
                    return None;
                }
                drop.extend(significant[j]..=significant[close]);
                j = close + 1;
                continue;
            }
            _ => {}
        }
        // A target starts after `SET` or a comma, and is a (qualified) name.
        target_before = depth == 0
            && matches!(t, Token::Word(_))
            && (j == set + 1 || matches!(tokens[significant[j - 1]], Token::Comma | Token::Period));
        j += 1;
    }
    (!drop.is_empty()).then_some(drop)
}

/// `… AS IDENTITY ( options )` without the options, when there are any and they hold only
/// words, numbers, signs and qualified names; the text of a `CREATE` or `ALTER TABLE`.
fn without_identity_options(
    tokens: &[sqlparser::tokenizer::Token],
    texts: &[&str],
    significant: &[usize],
) -> Option<String> {
    use sqlparser::tokenizer::Token;
    let is = |j: usize, w: &str| word_at(tokens, significant, j, w);
    if !(is(0, "create") || (is(0, "alter") && is(1, "table"))) {
        return None;
    }
    let plain = |k: usize| {
        matches!(
            tokens[k],
            Token::Word(_) | Token::Number(..) | Token::Minus | Token::Plus | Token::Period
        )
    };
    let mut drop = Vec::new();
    let mut j = 0;
    while j + 2 < significant.len() {
        if is(j, "as")
            && is(j + 1, "identity")
            && matches!(tokens[significant[j + 2]], Token::LParen)
        {
            let open = j + 2;
            let close = (open + 1..significant.len()).find(|&c| !plain(significant[c]))?;
            if !matches!(tokens[significant[close]], Token::RParen) || close == open + 1 {
                return None;
            }
            drop.extend(significant[open]..=significant[close]);
            j = close + 1;
            continue;
        }
        j += 1;
    }
    (!drop.is_empty()).then(|| text_without(texts, &drop, None))
}

/// `SET STATEMENT assignments FOR stmt` as `SET assignments; stmt` (see
/// [`mysql_rewrite_for_parser`]); `assignments_at` is the index of the first assignment's token.
fn set_statement(
    tokens: &[sqlparser::tokenizer::Token],
    texts: &[&str],
    assignments_at: usize,
) -> Option<String> {
    use sqlparser::tokenizer::Token;
    let mut depth = 0usize;
    let mut for_at = None;
    for (i, t) in tokens.iter().enumerate().skip(assignments_at) {
        match t {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.checked_sub(1)?,
            Token::Word(w)
                if depth == 0 && w.quote_style.is_none() && w.value.eq_ignore_ascii_case("for") =>
            {
                for_at = Some(i);
                break;
            }
            // Values are literals and words: no user variables, no calls.
            Token::AtSign | Token::SemiColon => return None,
            Token::Word(w) if w.value.starts_with('@') => return None,
            _ => {}
        }
    }
    let for_at = for_at?;
    let settings = &tokens[assignments_at..for_at];
    if depth != 0 || settings.iter().any(|t| matches!(t, Token::LParen)) {
        return None;
    }
    Some(format!(
        "SET {}; {}",
        texts[assignments_at..for_at].concat(),
        texts[for_at + 1..].concat()
    ))
}

/// A query ending in `INTO @a, @b` (the form MySQL 8 prefers, and MariaDB's) without that
/// clause: storing a row in user variables is not a write.
fn without_trailing_into_variables(
    tokens: &[sqlparser::tokenizer::Token],
    texts: &[&str],
) -> Option<String> {
    use sqlparser::tokenizer::Token;
    let significant: Vec<usize> = (0..tokens.len())
        .filter(|&k| !matches!(tokens[k], Token::Whitespace(_) | Token::SemiColon))
        .collect();
    let variable = |k: usize| matches!(&tokens[k], Token::Word(w) if w.quote_style.is_none() && w.value.starts_with('@') && !w.value.starts_with("@@") && w.value.len() > 1);
    let mut at = significant.len().checked_sub(1)?;
    loop {
        if !variable(significant[at]) {
            return None;
        }
        at = at.checked_sub(1)?;
        if !matches!(tokens[significant[at]], Token::Comma) {
            break;
        }
        at = at.checked_sub(1)?;
    }
    let into = significant[at];
    matches!(&tokens[into], Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("into"))
        .then(|| texts[..into].concat())
}

fn is_plain_word(t: Option<&sqlparser::tokenizer::Token>, w: &str) -> bool {
    matches!(t, Some(sqlparser::tokenizer::Token::Word(word)) if word.quote_style.is_none() && word.value.eq_ignore_ascii_case(w))
}

/// Whether the `j`th significant token (`significant` holds token indices) is the plain word
/// `w`.
fn word_at(
    tokens: &[sqlparser::tokenizer::Token],
    significant: &[usize],
    j: usize,
    w: &str,
) -> bool {
    significant
        .get(j)
        .is_some_and(|&k| is_plain_word(tokens.get(k), w))
}

/// `texts` joined without the tokens at the indices in `drop`, with `insert` written before
/// the token at its index, if any. Linear in the text, whatever `drop` holds: rewrites run on
/// statements of any length.
fn text_without(texts: &[&str], drop: &[usize], insert: Option<(usize, &str)>) -> String {
    let mut dropped = vec![false; texts.len()];
    for &k in drop {
        if let Some(d) = dropped.get_mut(k) {
            *d = true;
        }
    }
    let mut out = String::new();
    for (k, (text, dropped)) in texts.iter().zip(dropped).enumerate() {
        if let Some((at, inserted)) = insert
            && at == k
        {
            out.push_str(inserted);
        }
        if !dropped {
            out.push_str(text);
        }
    }
    out
}

/// The next token at or after `from` that is not whitespace.
fn next_significant(tokens: &[sqlparser::tokenizer::Token], from: usize) -> Option<usize> {
    (from..tokens.len()).find(|&k| !matches!(tokens[k], sqlparser::tokenizer::Token::Whitespace(_)))
}

/// MariaDB's `NEXT VALUE FOR s` / `PREVIOUS VALUE FOR s` as `nextval(s)` / `lastval(s)`, if
/// the text has any.
fn sequence_functions(tokens: &[sqlparser::tokenizer::Token], texts: &[&str]) -> Option<String> {
    use sqlparser::tokenizer::Token;
    let mut out = String::new();
    let mut rewritten = false;
    let mut i = 0;
    while i < tokens.len() {
        let function = if is_plain_word(tokens.get(i), "next") {
            Some("nextval")
        } else if is_plain_word(tokens.get(i), "previous") {
            Some("lastval")
        } else {
            None
        };
        let value = next_significant(tokens, i + 1);
        let for_ = value.and_then(|k| next_significant(tokens, k + 1));
        let name = for_.and_then(|k| next_significant(tokens, k + 1));
        if let (Some(function), Some(value), Some(for_), Some(name)) = (function, value, for_, name)
            && is_plain_word(tokens.get(value), "value")
            && is_plain_word(tokens.get(for_), "for")
            && matches!(tokens[name], Token::Word(_))
        {
            // `db.s` as well as `s`.
            let mut end = name + 1;
            if let Some(dot) = next_significant(tokens, end)
                && matches!(tokens[dot], Token::Period)
                && let Some(n) = next_significant(tokens, dot + 1)
                && matches!(tokens[n], Token::Word(_))
            {
                end = n + 1;
            }
            out.push_str(function);
            out.push('(');
            out.push_str(&texts[name..end].concat());
            out.push(')');
            rewritten = true;
            i = end;
            continue;
        }
        out.push_str(texts[i]);
        i += 1;
    }
    rewritten.then_some(out)
}

/// A multi-table `UPDATE t1, t2 SET …` with its table list's commas (outside parentheses,
/// before `SET`) as `CROSS JOIN`, if it has any.
fn comma_joined_update(tokens: &[sqlparser::tokenizer::Token], texts: &[&str]) -> Option<String> {
    use sqlparser::tokenizer::Token;
    let mut out = String::new();
    let mut depth = 0i32;
    let mut rewritten = false;
    for (i, t) in tokens.iter().enumerate() {
        match t {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            Token::Word(_) if depth == 0 && is_plain_word(Some(t), "set") => {
                out.push_str(&texts[i..].concat());
                return rewritten.then_some(out);
            }
            Token::Comma if depth == 0 => {
                out.push_str(" CROSS JOIN ");
                rewritten = true;
                continue;
            }
            _ => {}
        }
        out.push_str(texts[i]);
    }
    None
}

/// A `CREATE TABLE` without MariaDB's table options sqlparser lacks (`PAGE_CHECKSUM`,
/// `TRANSACTIONAL`, `ENCRYPTED`, `ENCRYPTION_KEY_ID`, `PAGE_COMPRESSED`,
/// `PAGE_COMPRESSION_LEVEL`, `IETF_QUOTES`, each `[=] value`) outside parentheses, if it had
/// any.
fn without_mariadb_table_options(
    tokens: &[sqlparser::tokenizer::Token],
    texts: &[&str],
) -> Option<String> {
    use sqlparser::tokenizer::Token;
    const OPTIONS: &[&str] = &[
        "page_checksum",
        "transactional",
        "encrypted",
        "encryption_key_id",
        "page_compressed",
        "page_compression_level",
        "ietf_quotes",
    ];
    // Options of a table defined by its columns only: not `… AS SELECT`, whose select list
    // could name a column like an option.
    if tokens.iter().any(|t| {
        ["select", "with", "values", "like"]
            .iter()
            .any(|w| is_plain_word(Some(t), w))
    }) {
        return None;
    }
    let mut out = String::new();
    let mut depth = 0i32;
    let mut rewritten = false;
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            t if depth == 0 && OPTIONS.iter().any(|o| is_plain_word(Some(t), o)) => {
                let mut v = next_significant(tokens, i + 1)?;
                if matches!(tokens[v], Token::Eq) {
                    v = next_significant(tokens, v + 1)?;
                }
                // A value, never an expression: `transactional = f(x)` in a query's select list
                // must not lose `f`.
                let value = matches!(tokens[v], Token::Number(..) | Token::SingleQuotedString(_))
                    || ["yes", "no", "default"]
                        .iter()
                        .any(|w| is_plain_word(tokens.get(v), w));
                if !value {
                    return None;
                }
                rewritten = true;
                i = v + 1;
                continue;
            }
            _ => {}
        }
        out.push_str(texts[i]);
        i += 1;
    }
    rewritten.then_some(out)
}

/// An `ALTER [ONLINE] TABLE` without MariaDB's `IF [NOT] EXISTS` clauses and `ONLINE`, if it
/// had any.
fn without_if_exists(tokens: &[sqlparser::tokenizer::Token], texts: &[&str]) -> Option<String> {
    use sqlparser::tokenizer::Token;
    let word = |t: Option<&Token>, w: &str| matches!(t, Some(Token::Word(word)) if word.quote_style.is_none() && word.value.eq_ignore_ascii_case(w));
    let next =
        |from: usize| (from..tokens.len()).find(|&k| !matches!(tokens[k], Token::Whitespace(_)));
    let mut out = String::new();
    let mut rewritten = false;
    let mut seen_words = 0;
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        if let Token::Word(_) = t {
            seen_words += 1;
        }
        if seen_words == 2 && word(Some(t), "online") {
            rewritten = true;
            i += 1;
            continue;
        }
        if word(Some(t), "if") {
            let k = next(i + 1);
            let k = match k {
                Some(k) if word(tokens.get(k), "not") => next(k + 1),
                _ => k,
            };
            if let Some(k) = k.filter(|&k| word(tokens.get(k), "exists")) {
                rewritten = true;
                i = k + 1;
                continue;
            }
        }
        out.push_str(texts[i]);
        i += 1;
    }
    rewritten.then_some(out)
}

/// `sql`'s tokens in `dialect` with the text each was written as (whitespace and comments
/// included, so the texts concatenate back to `sql`). Rewrites copy these texts: a token's
/// `Display` is not its source (an unescaped `E'a\\'` comes back as `E'a\'`, whose quote a
/// re-read takes as escaped, so the text after it would hide inside the literal). `None` when
/// the text does not tokenize, or the tokens' positions do not map back onto it exactly.
pub(crate) fn tokens_with_text(
    sql: &str,
    dialect: SqlDialect,
) -> Option<(Vec<sqlparser::tokenizer::Token>, Vec<&str>)> {
    use sqlparser::tokenizer::Tokenizer;
    let spanned = match dialect {
        SqlDialect::Mysql => {
            Tokenizer::new(&sqlparser::dialect::MySqlDialect {}, sql).tokenize_with_location()
        }
        _ => {
            Tokenizer::new(&sqlparser::dialect::PostgreSqlDialect {}, sql).tokenize_with_location()
        }
    }
    .ok()?;
    // The byte offset of each token's (line, column in characters) start, walking the text
    // once: tokens come in order, so the walk goes on from the previous token's start (looking
    // each one up from its line's start cost time growing with the square of a long line's
    // length: a 16 KB one-line statement took seconds).
    let mut starts = Vec::with_capacity(spanned.len());
    let mut chars = sql.char_indices();
    let (mut line, mut column, mut at) = (1u64, 1u64, 0usize);
    for t in &spanned {
        let target = (t.span.start.line, t.span.start.column);
        while (line, column) < target {
            let (i, c) = chars.next()?;
            at = i + c.len_utf8();
            if c == '\n' {
                (line, column) = (line + 1, 1);
            } else {
                column += 1;
            }
        }
        if (line, column) != target {
            return None;
        }
        starts.push(at);
    }
    let mut texts = Vec::with_capacity(spanned.len());
    for (k, &start) in starts.iter().enumerate() {
        let end = starts.get(k + 1).copied().unwrap_or(sql.len());
        texts.push(sql.get(start..end)?);
    }
    if starts.first().is_some_and(|&s| s != 0) || texts.concat() != sql {
        return None;
    }
    Some((spanned.into_iter().map(|t| t.token).collect(), texts))
}

/// Where the token after a (possibly schema-qualified) name starting at `from` (whitespace
/// first) is, if there is a name there whose parts are quoted or no keyword at all (so `FROM`,
/// `WHERE`... never pass for one).
fn after_qualified_name(tokens: &[sqlparser::tokenizer::Token], from: usize) -> Option<usize> {
    use sqlparser::keywords::Keyword;
    use sqlparser::tokenizer::Token;
    let mut i = from;
    loop {
        while matches!(tokens.get(i), Some(Token::Whitespace(_))) {
            i += 1;
        }
        let Some(Token::Word(w)) = tokens.get(i) else {
            return None;
        };
        // A keyword is a name only as a schema's (`public.ci`): alone it may be the next clause.
        let qualifies = matches!(tokens.get(i + 1), Some(Token::Period));
        if w.quote_style.is_none() && w.keyword != Keyword::NoKeyword && !qualifies {
            return None;
        }
        i += 1;
        if !matches!(tokens.get(i), Some(Token::Period)) {
            return Some(i);
        }
        i += 1;
    }
}

/// What `CREATE TABLE … (LIKE t INCLUDING|EXCLUDING what)` can copy.
const LIKE_OPTIONS: &[&str] = &[
    "all",
    "comments",
    "compression",
    "constraints",
    "defaults",
    "generated",
    "identity",
    "indexes",
    "statistics",
    "storage",
];

/// MySQL/MariaDB statements sqlparser 0.63 lacks, written as an equivalent it parses, for the
/// caller to parse and classify in full:
/// - `DO expr, ...` evaluates expressions and discards them: `SELECT expr, ...` (so
///   `DO GET_LOCK('x', 0)` is as `write` as the `SELECT` would be);
/// - `EXPLAIN EXTENDED|PARTITIONS stmt` (older spellings): `EXPLAIN stmt`, which runs nothing;
/// - MariaDB's `ANALYZE [FORMAT=JSON] stmt` runs `stmt` and reports its plan: `EXPLAIN ANALYZE
///   stmt`, classified as the statement itself;
/// - `SET CHARACTER SET x` / `SET CHARSET x`: `SET NAMES x` (the same character-set rule: one
///   whose multi-byte characters can hide a backslash is refused);
/// - `CREATE TRIGGER ... FOR EACH ROW stmt` gets the `;` sqlparser wants after `stmt`;
/// - MariaDB's `SET STATEMENT var = value, ... FOR stmt` (the settings hold for `stmt` only):
///   `SET var = value, ...; stmt`, so that each setting and the statement are classified (values
///   must be literals or words: a computed one would need the session check, which cannot see
///   a setting that no longer holds);
/// - MariaDB's `IF [NOT] EXISTS` inside `ALTER TABLE` (`ADD COLUMN IF NOT EXISTS`, `DROP INDEX
///   IF EXISTS`) and `ALTER ONLINE TABLE` go;
/// - `CREATE FULLTEXT|SPATIAL INDEX`: `CREATE INDEX` (another kind of index, the same schema
///   change);
/// - a query ending in `INTO @a, @b`: the query (user variables are the session's own);
/// - MariaDB's `NEXT VALUE FOR s` and `PREVIOUS VALUE FOR s`: `nextval(s)` (`write`: it
///   advances the sequence) and `lastval(s)`, anywhere in a statement, before the rest;
/// - a multi-table `UPDATE t1, t2 SET …`: `UPDATE t1 CROSS JOIN t2 SET …` (the same join);
/// - MariaDB's table options sqlparser lacks in `CREATE TABLE` (`PAGE_CHECKSUM=1`,
///   `TRANSACTIONAL=1`, which mysqldump writes for Aria tables, and the encryption and page
///   compression ones) go: where a new table's pages are checksummed or encrypted does not
///   change what kind of statement it is.
fn mysql_rewrite_for_parser(sql: &str, passes: &mut u8) -> Option<(String, usize)> {
    use sqlparser::tokenizer::Token;
    let (tokens, texts) = tokens_with_text(sql, SqlDialect::Mysql)?;
    if let Some(text) = sequence_functions(&tokens, &texts)
        .filter(|t| t != sql)
        .or_else(|| super::clause_rewrites::mysql(&tokens, &texts))
    {
        return Some(rewrite_pass(&text, SqlDialect::Mysql, passes).unwrap_or((text, 1)));
    }
    // The statement's leading words (whitespace and comments skipped) and where the rest starts.
    let significant = tokens
        .iter()
        .enumerate()
        .filter(|(_, t)| !matches!(t, Token::Whitespace(_)))
        .take(8)
        .collect::<Vec<_>>();
    let word = |k: usize| match significant.get(k) {
        Some((_, Token::Word(w))) if w.quote_style.is_none() => Some(w.value.to_ascii_lowercase()),
        _ => None,
    };
    let rest = |k: usize| -> String {
        significant
            .get(k)
            .map_or_else(String::new, |(at, _)| texts[*at..].concat())
    };
    let runs = |k: usize| {
        matches!(
            word(k).as_deref(),
            Some("select" | "insert" | "update" | "delete" | "replace" | "with")
        ) || matches!(significant.get(k), Some((_, Token::LParen)))
    };
    if let (Some("set"), Some("statement")) = (word(0).as_deref(), word(1).as_deref()) {
        return set_statement(&tokens, &texts, significant.get(2)?.0).map(|text| (text, 2));
    }
    let text = match (word(0).as_deref(), word(1).as_deref()) {
        (Some("do"), _) if significant.len() > 1 => Some(format!("SELECT {}", rest(1))),
        (Some("explain" | "describe" | "desc"), Some("extended" | "partitions")) if runs(2) => {
            Some(format!("EXPLAIN {}", rest(2)))
        }
        (Some("analyze"), _) if runs(1) => Some(format!("EXPLAIN ANALYZE {}", rest(1))),
        (Some("analyze"), Some("format"))
            if matches!(significant.get(2), Some((_, Token::Eq)))
                && matches!(word(3).as_deref(), Some("json" | "traditional"))
                && runs(4) =>
        {
            Some(format!("EXPLAIN ANALYZE {}", rest(4)))
        }
        (Some("set"), Some("character")) if word(2).as_deref() == Some("set") => {
            Some(format!("SET NAMES {}", rest(3)))
        }
        (Some("set"), Some("charset")) => Some(format!("SET NAMES {}", rest(2))),
        (Some("select" | "with"), _) => without_trailing_into_variables(&tokens, &texts),
        (Some("alter"), Some("table" | "online")) => without_if_exists(&tokens, &texts),
        (Some("update"), _) => comma_joined_update(&tokens, &texts),
        (Some("create"), Some("table" | "or" | "temporary")) => {
            without_mariadb_table_options(&tokens, &texts)
        }
        (Some("create"), Some("fulltext" | "spatial")) if word(2).as_deref() == Some("index") => {
            Some(format!("CREATE {}", rest(2)))
        }
        // sqlparser wants a trigger's one-statement body ended by `;`, which the mysql client
        // strips (it is the delimiter); also after `DEFINER = CURRENT_USER[()]` (mysqldump
        // writes the definer, see `definer`).
        (Some("create"), Some("trigger" | "definer"))
            if !sql.trim_end().ends_with(';')
                && (word(1).as_deref() == Some("trigger")
                    || word(4).as_deref() == Some("trigger")
                    || word(6).as_deref() == Some("trigger")) =>
        {
            Some(format!("{sql};"))
        }
        _ => None,
    };
    text.map(|text| (text, 1))
}

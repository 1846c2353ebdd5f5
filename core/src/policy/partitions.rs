//! Partitioning statements sqlparser 0.63 does not parse, recognized over normalized tokens
//! (literals already `?`, comments gone; see [`super::recognize`]).
//!
//! - PostgreSQL: `ALTER TABLE t ATTACH PARTITION p FOR VALUES … | DEFAULT` and `DETACH PARTITION
//!   p [CONCURRENTLY | FINALIZE]` (ddl). Partition bounds take expressions since PostgreSQL 12,
//!   and an expression can call a function: a bound here holds literals, `MINVALUE`/`MAXVALUE`,
//!   signs and casts only.
//! - MySQL: a partitioning clause after `CREATE TABLE …` (`PARTITION BY RANGE (…) (PARTITION p0
//!   VALUES LESS THAN (…), …)`), and `ALTER TABLE t ADD|REORGANIZE|EXCHANGE|COALESCE PARTITION
//!   …` or `ALTER TABLE t PARTITION BY …` (ddl). The server allows only a fixed list of
//!   functions in partitioning expressions; here, too, a word followed by `(` must be one of
//!   them or a keyword of the clause, and no word of a query may appear (`CREATE TABLE t …
//!   PARTITION BY HASH (a) SELECT …` is not this form). A partition's `DATA DIRECTORY`, `INDEX
//!   DIRECTORY`, `CONNECTION` or non-local `ENGINE` reaches the server's files or other servers:
//!   admin.

use super::StatementClass;
use super::recognize::is_identifier as is_word;

/// What a MySQL partitioning clause does.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Clause {
    /// Partitions of this database's own storage.
    Local,
    /// Reaches server files or other servers.
    ReachesOutside,
}

/// Words that may open a parenthesis in a MySQL partitioning clause: its keywords and the
/// functions the server permits in partitioning expressions.
const MYSQL_CALLERS: &[&str] = &[
    "range",
    "list",
    "hash",
    "key",
    "columns",
    "than",
    "in",
    "into",
    "partition",
    "subpartition",
    // Permitted partitioning functions (MySQL 8.0 reference, "Partitioning Limitations").
    "abs",
    "ceiling",
    "ceil",
    "datediff",
    "day",
    "dayofmonth",
    "dayofweek",
    "dayofyear",
    "extract",
    "floor",
    "hour",
    "microsecond",
    "minute",
    "mod",
    "month",
    "quarter",
    "second",
    "time_to_sec",
    "to_days",
    "to_seconds",
    "unix_timestamp",
    "weekday",
    "year",
    "yearweek",
];

/// Words of a query or a table source, never part of a partitioning clause.
const QUERY_WORDS: &[&str] = &[
    "select", "with", "table", "as", "ignore", "replace", "union", "from", "where", "like", "row",
];

/// A MySQL partitioning clause (from its first word to the statement's end): `None` if it is
/// not one of the plain forms described in the module docs.
pub(crate) fn mysql_clause(tokens: &[&str]) -> Option<Clause> {
    let mut outside = false;
    for (i, t) in tokens.iter().enumerate() {
        let next = tokens.get(i + 1).copied();
        match *t {
            "?" | "(" | ")" | "," | "=" | "-" | "+" | "*" | "/" | "%" | "." => {}
            "directory" | "connection" => outside = true,
            "engine" => {
                let engine = match next {
                    Some("=") => tokens.get(i + 2).copied(),
                    other => other,
                };
                if !engine.is_some_and(|e| super::LOCAL_ENGINES.contains(&e.trim_matches('`'))) {
                    outside = true;
                }
            }
            w if is_word(w) => {
                if QUERY_WORDS.contains(&w) || (next == Some("(") && !MYSQL_CALLERS.contains(&w)) {
                    return None;
                }
            }
            _ => return None,
        }
    }
    Some(if outside {
        Clause::ReachesOutside
    } else {
        Clause::Local
    })
}

/// MySQL `CREATE [OR REPLACE] [TEMPORARY] TABLE … PARTITION BY …`: the statement without its
/// partitioning clause (for the parser) and what the clause does, when it is a plain one.
pub(crate) fn mysql_create_table(sql: &str) -> Option<(String, Clause)> {
    use sqlparser::tokenizer::Token;
    // Texts as written: the head goes back to the parser (see `tokens_with_text`).
    let (tokens, texts) = super::recognize::tokens_with_text(sql, super::SqlDialect::Mysql)?;
    let word = |t: &Token, k: &str| matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(k));
    let significant: Vec<usize> = (0..tokens.len())
        .filter(|&i| !matches!(tokens[i], Token::Whitespace(_)))
        .collect();
    let lead: Vec<&Token> = significant.iter().take(5).map(|&i| &tokens[i]).collect();
    let creates_table = match lead.as_slice() {
        [c, t, ..] if word(c, "create") && word(t, "table") => true,
        [c, x, t, ..] if word(c, "create") && word(x, "temporary") && word(t, "table") => true,
        [c, o, r, t, ..] if word(c, "create") && word(o, "or") && word(r, "replace") => {
            word(t, "table") || word(t, "temporary")
        }
        _ => false,
    };
    if !creates_table {
        return None;
    }
    let mut depth = 0usize;
    let mut split = None;
    for (n, &i) in significant.iter().enumerate() {
        match &tokens[i] {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.checked_sub(1)?,
            t if depth == 0
                && word(t, "partition")
                && significant
                    .get(n + 1)
                    .is_some_and(|&j| word(&tokens[j], "by")) =>
            {
                split = Some(i);
                break;
            }
            _ => {}
        }
    }
    let split = split?;
    let clause = super::lexer::scan(&texts[split..].concat(), super::SqlDialect::Mysql)
        .normalized
        .to_ascii_lowercase();
    let clause = mysql_clause(&super::recognize::tokens(&clause))?;
    Some((texts[..split].concat(), clause))
}

/// After MySQL's `ALTER TABLE name`: a partition operation with definitions (`ADD PARTITION
/// (…)`, `REORGANIZE PARTITION p INTO (…)`, `PARTITION BY …`, `COALESCE PARTITION n`, `EXCHANGE
/// PARTITION p WITH TABLE t2 [WITH|WITHOUT VALIDATION]`).
pub(crate) fn mysql_alter(tail: &[&str]) -> Option<(StatementClass, &'static str)> {
    let clause = match tail {
        ["coalesce", "partition", "?"] => Clause::Local,
        ["exchange", "partition", p, "with", "table", rest @ ..]
            if is_word(p)
                && matches!(
                    rest,
                    [_] | [_, ".", _]
                        | [_, "with" | "without", "validation"]
                        | [_, ".", _, "with" | "without", "validation"]
                )
                && rest.iter().all(|t| is_word(t) || *t == ".") =>
        {
            Clause::Local
        }
        ["add", "partition", ..] | ["partition", "by", ..] => mysql_clause(tail)?,
        ["reorganize", "partition", ..] if tail.contains(&"into") => mysql_clause(tail)?,
        _ => return None,
    };
    Some(match clause {
        Clause::Local => (StatementClass::Ddl, "ALTER TABLE … PARTITION"),
        Clause::ReachesOutside => (
            StatementClass::Admin,
            "a partition whose directory, engine or connection reaches files or other servers",
        ),
    })
}

/// PostgreSQL's `ALTER TABLE [IF EXISTS] [ONLY] name ATTACH|DETACH PARTITION …`, from `alter`.
pub(crate) fn pg_attach_detach(tokens: &[&str]) -> Option<(StatementClass, &'static str)> {
    let rest = tokens.strip_prefix(&["alter", "table"])?;
    let rest = rest.strip_prefix(&["if", "exists"]).unwrap_or(rest);
    let rest = rest.strip_prefix(&["only"]).unwrap_or(rest);
    let (_, rest) = qualified_name(rest)?;
    let ok = match rest {
        ["detach", "partition", rest @ ..] => matches!(
            qualified_name(rest),
            Some((_, [] | ["concurrently" | "finalize"]))
        ),
        ["attach", "partition", rest @ ..] => match qualified_name(rest) {
            Some((_, ["default"])) => true,
            Some((_, ["for", "values", bound @ ..])) => pg_bound(bound),
            _ => false,
        },
        _ => false,
    };
    ok.then_some((StatementClass::Ddl, "ATTACH/DETACH PARTITION"))
}

/// `FROM (…) TO (…)`, `IN (…)` or `WITH (MODULUS ?, REMAINDER ?)`: literals, `MINVALUE`,
/// `MAXVALUE`, signs, typed literals and casts; no word before `(` inside.
fn pg_bound(bound: &[&str]) -> bool {
    let values = |inner: &[&str]| {
        !inner.is_empty()
            && inner.iter().enumerate().all(|(i, t)| {
                matches!(*t, "?" | "," | "-" | "+" | ":")
                    || (is_word(t) && *t != "select" && inner.get(i + 1) != Some(&"("))
            })
    };
    let parens = |t: &[&str]| -> Option<usize> {
        // The index of the `)` closing the `(` at t[0]; no nested parentheses.
        if t.first() != Some(&"(") {
            return None;
        }
        t.iter()
            .position(|x| *x == ")")
            .filter(|&end| values(&t[1..end]))
    };
    match bound {
        ["from", rest @ ..] => parens(rest).is_some_and(|end| match &rest[end + 1..] {
            ["to", to @ ..] => parens(to).is_some_and(|e| e + 1 == to.len()),
            _ => false,
        }),
        ["in", rest @ ..] => parens(rest).is_some_and(|end| end + 1 == rest.len()),
        ["with", "(", "modulus", "?", ",", "remainder", "?", ")"] => true,
        _ => false,
    }
}

fn qualified_name<'a, 'b>(t: &'a [&'b str]) -> Option<(&'a [&'b str], &'a [&'b str])> {
    match t {
        [s, ".", n, ..] if is_word(s) && is_word(n) => Some(t.split_at(3)),
        [n, ..] if is_word(n) => Some(t.split_at(1)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<&str> {
        s.split_whitespace().collect()
    }

    #[test]
    fn mysql_clauses() {
        let local = "partition by range ( year ( b ) ) ( partition p0 values less than ( ? ) , \
                     partition p1 values less than maxvalue engine = innodb )";
        assert_eq!(mysql_clause(&toks(local)), Some(Clause::Local));
        let dir = "partition by hash ( a ) ( partition p0 data directory = ? )";
        assert_eq!(mysql_clause(&toks(dir)), Some(Clause::ReachesOutside));
        let spider = "partition by key ( a ) ( partition p0 engine = spider )";
        assert_eq!(mysql_clause(&toks(spider)), Some(Clause::ReachesOutside));
        for hidden in [
            "partition by hash ( a ) select load_file ( ? )",
            "partition by hash ( sleep ( ? ) )",
            "partition by hash ( a ) partitions ? as select ?",
            "partition by list ( a ) ( partition p values in ( ( select ? ) ) )",
            "partition by hash ( a ) ; drop table t",
        ] {
            assert_eq!(mysql_clause(&toks(hidden)), None, "{hidden}");
        }
    }

    #[test]
    fn pg_bounds() {
        for ok in [
            "alter table t attach partition p for values from ( ? ) to ( ? )",
            "alter table if exists only s . t attach partition s . p for values from ( minvalue , ? ) to ( ? , maxvalue )",
            "alter table t attach partition p for values in ( ? , ? )",
            "alter table t attach partition p for values from ( date ? ) to ( ? : : date )",
            "alter table t attach partition p for values with ( modulus ? , remainder ? )",
            "alter table t attach partition p default",
            "alter table t detach partition p concurrently",
            "alter table t detach partition p",
        ] {
            assert!(pg_attach_detach(&toks(ok)).is_some(), "{ok}");
        }
        for no in [
            "alter table t attach partition p for values from ( pg_terminate_backend ( ? ) ) to ( ? )",
            "alter table t attach partition p for values in ( nextval ( ? ) )",
            "alter table t attach partition p for values from ( ? ) to ( ? ) , owner to bob",
            "alter table t detach partition p , owner to bob",
        ] {
            assert!(pg_attach_detach(&toks(no)).is_none(), "{no}");
        }
    }
}

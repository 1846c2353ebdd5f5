//! dbward's lexer against the servers' own: generated strings that mix comment openers,
//! quotes, line ends, Unicode spaces and executable comments around a marker column (a call of
//! a function that is at least `write`), run directly on PostgreSQL and MariaDB. Whenever a
//! server runs the marker, dbward must have seen it as code: in the fingerprint that keys the
//! decision cache (else a cached `SELECT 1` would answer for the string) and in the uncached
//! classification (else the parser read it as a comment or a literal). Where dbward sees more
//! code than the server, it is only stricter. Each bypass found by hand (a carriage return ending
//! a PostgreSQL `--` comment, `--` before a no-break space in MySQL) is among these strings.

use dbward_core::policy::{
    MysqlQuoting, SqlDialect, StatementClass, classify_uncached, classify_uncached_in,
    normalize_for_audit,
};
use futures_util::TryStreamExt as _;

/// What may open a comment, a literal or an identifier, or end one, in either dialect.
const OPENERS: &[&str] = &[
    "",
    "--",
    "-- ",
    "--\t",
    "#",
    "# ",
    "/*",
    "/* /*",
    "/*!",
    "/*!50000",
    "/*M!",
    "/*M!100000",
    "/*!99999",
    "/*M!999999",
    "'",
    "\"",
    "`",
    "$$",
    "$a$",
    "E'",
    "e'\\",
    "U&'",
    "U&\"",
    "N'",
    "X'",
    "\\",
    "'\\",
    "/*!50000 --",
    "/*!50000 #",
    "/*!50000 /*",
    "$a$$",
    "$$$",
    "E'\\\\",
    "`\\`",
    "b'",
    "_utf8mb4'",
    "-- \u{a0}",
];
const CLOSERS: &[&str] = &[
    "", "\n", "\r", "\r\n", "\u{b}", "\u{c}", "\u{a0}", "\u{85}", "\u{2028}", "*/", " */", "'",
    "\"", "`", "$$", "$a$", "\\'", "''",
];
const TAILS: &[&str] = &["", " */", " '", " \"", " $$", "\n"];

/// Every generated string: `SELECT 1 AS c0 <opener><inner><closer>, <marker><tail>`, the same
/// with `; SELECT <marker>` as a second statement, and `SELECT 1 <opener><inner><closer>,
/// <marker> <from>`, where `from` gives columns named `x` and U+00A0 (so that `1 --x` and
/// `1 --\u{a0}` run where they are code).
fn strings(marker: &str, from: &str) -> Vec<String> {
    let mut out = Vec::new();
    for o in OPENERS {
        for i in ["", "x", " 1"] {
            for c in CLOSERS {
                for t in TAILS {
                    out.push(format!("SELECT 1 AS c0 {o}{i}{c}, {marker}{t}"));
                    out.push(format!("SELECT 1 AS c0 {o}{i}{c}; SELECT {marker}{t}"));
                    if t.is_empty() {
                        out.push(format!("SELECT 1 {o}{i}{c}, {marker} {from}"));
                    }
                }
            }
        }
    }
    out
}

/// Strings that take a rewrite for the parser (PostgreSQL's `OPERATOR(pg_catalog.=)`, MariaDB's
/// `SET STATEMENT … FOR`), with literals on both sides of the marker whose escapes a rewrite
/// could lose: `<prefix>, <marker>, <suffix>`. Once, a rewrite wrote `'a\\'` back as `'a\'`,
/// and the marker hid between the two literals.
fn rewritten(marker: &str, mysql: bool) -> Vec<String> {
    let (prefixes, suffixes): (&[&str], &[&str]) = if mysql {
        (
            &["'a\\\\'", "\"a\\\\\"", "'a\\''", "'a'", "_utf8mb4'a\\\\'"],
            &["' AS q, ''z'", "\" AS q, \"\"z\"", "' AS q, \\'z'", "'z'"],
        )
    } else {
        (
            &["E'a\\\\'", "'a\\'", "e'a\\''", "$$a\\$$", "'a'"],
            &["E' AS q, \\'z'", "' AS q, ''z'", "$$ AS q, $$", "'z'"],
        )
    };
    let mut out = Vec::new();
    for p in prefixes {
        for s in suffixes {
            out.push(if mysql {
                format!("SET STATEMENT max_statement_time = 100 FOR SELECT {p}, {marker}, {s}")
            } else {
                format!(
                    "SELECT {p}, {marker}, {s} FROM (SELECT 1 AS x) AS d \
                     WHERE x OPERATOR(pg_catalog.=) ANY (ARRAY[1])"
                )
            });
        }
    }
    out
}

/// Strings made of the tokens that `ANSI_QUOTES` and `NO_BACKSLASH_ESCAPES` read otherwise
/// (`"a\"`, `'a\'`, doubled quotes, quotes in comments) on both sides of the marker:
/// `SELECT <before>, <marker> <after>` and `SELECT <before>; SELECT <marker> <after>`.
fn quote_strings(marker: &str) -> Vec<String> {
    const BEFORE: &[&str] = &[
        "1",
        r"'a\'",
        r"'a\\'",
        r#"1 AS "a\""#,
        r#"1 AS "a\\""#,
        r#""a\""#,
        "'a''b'",
        r#""a""b""#,
        r"1 AS `a\`",
        r"_utf8mb4'a\'",
        r"N'a\'",
        r"'\''",
        r#""\"""#,
        "1 AS \"a\\\" -- \"\n",
        "'a\\' -- '\n",
        r"X'41', 'a\'",
    ];
    const AFTER: &[&str] = &[
        "",
        "'z'",
        r#""z""#,
        "'",
        "\"",
        "-- '",
        "-- \"",
        "# '",
        "AS 'q'",
        "AS \"q\"",
        r", '\''",
        r#", "\"""#,
        r#", 'a\\', "b\""#,
    ];
    let mut out = Vec::new();
    for b in BEFORE {
        for a in AFTER {
            out.push(format!("SELECT {b}, {marker} {a}"));
            out.push(format!("SELECT {b}; SELECT {marker} {a}"));
        }
    }
    out
}

/// Fails with every string where the server ran the marker and dbward did not see it, or if
/// the server ran it too rarely for the test to mean anything.
fn check(dialect: SqlDialect, ran: &[(String, bool)]) {
    check_in(dialect, MysqlQuoting::default(), ran, 200);
}

/// [`check`] for a MySQL session reading quotes in `quoting`: its text as the gate reads it,
/// rewritten in the default quoting; the marker must have run in more than `enough` strings.
fn check_in(dialect: SqlDialect, quoting: MysqlQuoting, ran: &[(String, bool)], enough: usize) {
    let misses: Vec<String> = ran
        .iter()
        .filter(|(_, ran)| *ran)
        .filter_map(|(sql, _)| {
            let in_fingerprint = normalize_for_audit(&quoting.to_default(sql), dialect)
                .to_ascii_lowercase()
                .contains("marker_q");
            let class = if quoting.is_default() {
                classify_uncached(sql, dialect).class
            } else {
                classify_uncached_in(sql, quoting).class
            };
            let strict = class.is_none_or(|c| c >= StatementClass::Write);
            (!(in_fingerprint && strict))
                .then(|| format!("{sql:?}: in fingerprint {in_fingerprint}, classified {class:?}"))
        })
        .collect();
    assert!(misses.is_empty(), "{}", misses.join("\n"));
    let count = ran.iter().filter(|(_, r)| *r).count();
    assert!(
        count > enough,
        "{quoting:?}: the server ran the marker in {count} strings only"
    );
}

#[tokio::test]
async fn postgres_runs_no_code_dbward_did_not_see() {
    let db = crate::harness::PgDatabase::create().await;
    let (client, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    let mut ran = Vec::new();
    for sql in strings(
        "txid_current() AS marker_q",
        "FROM (SELECT 1 AS x, 1 AS \"\u{a0}\") AS d",
    )
    .into_iter()
    .chain(rewritten("txid_current() AS marker_q", false))
    {
        let saw = match client.simple_query(&sql).await {
            Ok(messages) => messages.iter().any(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => {
                    r.columns().iter().any(|c| c.name() == "marker_q")
                }
                _ => false,
            }),
            Err(_) => false,
        };
        ran.push((sql, saw));
    }
    check(SqlDialect::Postgres, &ran);
}

#[tokio::test]
async fn mariadb_runs_no_code_dbward_did_not_see() {
    // The server's default lexing (sqlx adds PIPES_AS_CONCAT).
    let ran = mariadb_runs("@@GLOBAL.sql_mode", |_| true).await;
    check(SqlDialect::Mysql, &ran);
}

/// The same strings in sessions whose `sql_mode` has `ANSI_QUOTES`, `NO_BACKSLASH_ESCAPES` or
/// both, which dbward follows by rewriting their text in the default quoting: those with a
/// `"` or a `\` (the others read alike in every mode). The server runs the marker in about a
/// hundred of them in each mode.
#[tokio::test]
async fn mariadb_runs_no_code_dbward_did_not_see_in_other_quotings() {
    for mode in [
        "ANSI_QUOTES",
        "NO_BACKSLASH_ESCAPES",
        "ANSI,NO_BACKSLASH_ESCAPES",
    ] {
        let quoting = MysqlQuoting::from_sql_mode(mode).expect("a mode dbward follows");
        let ran = mariadb_runs(&format!("'{mode}'"), |s| s.contains(['"', '\\'])).await;
        check_in(SqlDialect::Mysql, quoting, &ran, 100);
    }
}

/// Runs the generated strings that `keep` keeps on MariaDB in a session whose `sql_mode` is
/// `mode` (an SQL expression): each with whether the server ran the marker.
async fn mariadb_runs(mode: &str, keep: impl Fn(&str) -> bool) -> Vec<(String, bool)> {
    use sqlx::Connection as _;
    let db = crate::my_fixture::MyDatabase::create();
    let url = format!(
        "mysql://{}:{}@127.0.0.1:3306/{}",
        db.user, db.password, db.name
    );
    let mut c = sqlx::MySqlConnection::connect(&url).await.expect("connect");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "SET SESSION sql_mode = {mode}"
    )))
    .execute(&mut c)
    .await
    .expect("sql_mode");
    let mut ran = Vec::new();
    for sql in strings(
        "GET_LOCK('dbward_lexing', 0) AS marker_q",
        "FROM (SELECT 1 AS x, 1 AS `\u{a0}`) AS d",
    )
    .into_iter()
    .chain(rewritten("GET_LOCK(CHAR(107, 52), 0) AS marker_q", true))
    .chain(quote_strings("GET_LOCK('dbward_lexing', 0) AS marker_q"))
    .filter(|s| keep(s))
    {
        let mut saw = false;
        {
            let mut results = sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone())).fetch_many(&mut c);
            loop {
                match results.try_next().await {
                    Ok(Some(sqlx::Either::Right(row))) => {
                        use sqlx::Row as _;
                        saw |= row.columns().iter().any(|col| {
                            use sqlx::Column as _;
                            col.name() == "marker_q"
                        });
                    }
                    Ok(Some(sqlx::Either::Left(_))) => {}
                    Ok(None) | Err(_) => break,
                }
            }
        }
        ran.push((sql, saw));
    }
    ran
}

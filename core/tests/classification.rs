//! The table-driven classification test: every statement in `tests/classification/*.txt`
//! (PostgreSQL traps and forms, psql's `\d` catalog queries, drivers' connect-time queries,
//! MySQL's) against its expected class, uncached and through the cache (twice, so the second
//! answer comes from it).

use dbward_core::policy::{
    Classification, Classifier, MysqlQuoting, SqlDialect, StatementClass, classify_uncached,
    classify_uncached_in,
};

/// The expected class; `checked` is `read` with the session checked after it runs (MySQL: a
/// computed character set or `sql_mode`).
fn expected(word: &str) -> Option<StatementClass> {
    match word {
        "read" | "checked" => Some(StatementClass::Read),
        "write" => Some(StatementClass::Write),
        "ddl" => Some(StatementClass::Ddl),
        "admin" => Some(StatementClass::Admin),
        "none" => None,
        other => panic!("unknown expected class {other:?}"),
    }
}

fn check(file: &str, dialect: SqlDialect) -> usize {
    check_in(file, dialect, MysqlQuoting::default())
}

/// The corpus `file` in a session that reads quotes in `quoting` (MySQL's `sql_mode`).
fn check_in(file: &str, dialect: SqlDialect, quoting: MysqlQuoting) -> usize {
    let classify = |sql: &str| -> Classification {
        if quoting.is_default() {
            classify_uncached(sql, dialect)
        } else {
            classify_uncached_in(sql, quoting)
        }
    };
    let path = format!("{}/tests/classification/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("corpus file");
    let cache = Classifier::new(1000);
    let mut failures = Vec::new();
    let mut count = 0;
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (word, sql) = line.split_once('\t').unwrap_or((line, ""));
        let want = expected(word);
        count += 1;
        let got = classify(sql);
        let check_differs =
            matches!(word, "read" | "checked") && got.check_session != (word == "checked");
        if got.class != want || check_differs {
            failures.push(format!(
                "{sql}\n    expected {word}, got {:?} ({}), checked after: {}",
                got.class, got.reason, got.check_session
            ));
            continue;
        }
        for _ in 0..2 {
            let cached = cache.classify_rewritten(&quoting.to_default(sql), dialect, quoting);
            assert_eq!(cached.class, want, "cached decision differs for {sql}");
        }
    }
    assert!(
        failures.is_empty(),
        "{file}: {} of {count} misclassified:\n{}",
        failures.len(),
        failures.join("\n")
    );
    count
}

#[test]
fn postgres_corpus() {
    let n = check("postgres.txt", SqlDialect::Postgres)
        + check("psql-catalog.txt", SqlDialect::Postgres)
        + check("drivers.txt", SqlDialect::Postgres);
    assert!(n >= 300, "{n} PostgreSQL statements");
}

#[test]
fn mysql_corpus() {
    let n = check("mysql.txt", SqlDialect::Mysql);
    assert!(n >= 140, "{n} MySQL statements");
}

/// Sessions whose `sql_mode` has `ANSI_QUOTES` or `NO_BACKSLASH_ESCAPES`: their text is read in
/// their quoting (the same text means another thing, and splits elsewhere, in another).
#[test]
fn mysql_quoting_corpora() {
    let ansi = MysqlQuoting::from_sql_mode("ANSI_QUOTES").expect("mode");
    let nbe = MysqlQuoting::from_sql_mode("NO_BACKSLASH_ESCAPES").expect("mode");
    let n = check_in("mysql-ansi-quotes.txt", SqlDialect::Mysql, ansi)
        + check_in("mysql-no-backslash-escapes.txt", SqlDialect::Mysql, nbe);
    assert!(n >= 30, "{n} statements in quoting modes");
}

#[test]
fn redshift_corpus() {
    let n = check("redshift.txt", SqlDialect::Redshift);
    assert!(n >= 30, "{n} Redshift statements");
}

#[test]
fn redshift_reads_like_postgres() {
    for (sql, want) in [
        ("SELECT * FROM t", Some(StatementClass::Read)),
        ("DELETE FROM t", Some(StatementClass::Write)),
        ("GRANT SELECT ON t TO bob", Some(StatementClass::Admin)),
        (
            "SET default_transaction_read_only = off",
            Some(StatementClass::Write),
        ),
    ] {
        assert_eq!(
            classify_uncached(sql, SqlDialect::Redshift).class,
            want,
            "{sql}"
        );
    }
}

/// Replays the `classify` fuzz target's committed corpus (`fuzz/corpus/classify/`): no input
/// may panic, and the decision cache must answer each text as it would be classified alone,
/// also when the cache already holds a text with the same fingerprint.
#[test]
fn classify_fuzz_corpus() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/classify");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("corpus directory") {
        let data = std::fs::read(entry.expect("entry").path()).expect("read");
        dbward_core::policy::fuzzing::classify(&data);
        n += 1;
    }
    assert!(n >= 100, "only {n} corpus inputs in {}", dir.display());
}

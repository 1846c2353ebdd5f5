//! The classifier's fuzz entry point (`fuzz/fuzz_targets/classify.rs`), also run by the test
//! that replays its committed corpus in CI. Beyond never panicking, it checks the decision
//! cache against the uncached classification, the property the cache-poisoning bypass of
//! session 15 broke: a text classified through a cache that already holds the decision of a
//! text with the same fingerprint (here: every digit changed, so numeric literals differ) gets
//! the decision it would get on its own. The gate's own-identity substitution runs on the same
//! text.

use super::{
    Classification, Classifier, MysqlQuoting, SqlDialect, classify_uncached, classify_uncached_in,
};

/// Classifies `data` (first byte: the dialect, and for MySQL the session's quoting; the rest:
/// the text, when it is UTF-8, as the front doors require) uncached, through a fresh cache, and
/// through a cache primed with its digit-changed twin; panics when the three disagree.
pub fn classify(data: &[u8]) {
    let Some((&selector, text)) = data.split_first() else {
        return;
    };
    let dialect = match selector % 3 {
        0 => SqlDialect::Postgres,
        1 => SqlDialect::Mysql,
        _ => SqlDialect::Redshift,
    };
    let quoting = if dialect == SqlDialect::Mysql {
        MysqlQuoting::from_bits((selector / 3) % 4)
    } else {
        MysqlQuoting::default()
    };
    let Ok(sql) = std::str::from_utf8(text) else {
        return;
    };
    // What the gate does: the session's text rewritten in the default quoting, then classified.
    let cached = |cache: &Classifier, sql: &str| {
        cache.classify_rewritten(&quoting.to_default(sql), dialect, quoting)
    };
    let alone = if quoting.is_default() {
        classify_uncached(sql, dialect)
    } else {
        classify_uncached_in(sql, quoting)
    };
    let fresh = Classifier::new(16);
    assert_same(&alone, &cached(&fresh, sql), sql, "a fresh cache");
    assert_same(&alone, &cached(&fresh, sql), sql, "the cached entry");
    let twin: String = sql
        .chars()
        .map(|c| match c.to_digit(10) {
            Some(d) => char::from_digit((d + 1) % 10, 10).unwrap_or(c),
            None => c,
        })
        .collect();
    let primed = Classifier::new(16);
    let _ = cached(&primed, &twin);
    assert_same(
        &alone,
        &cached(&primed, sql),
        sql,
        "a cache holding its digit-changed twin",
    );
    own_identity(&quoting.to_default(sql), dialect);
}

/// The gate's own-identity substitution ([`super::own_identity`]) on the same text: it never
/// panics, touches only texts that name the identity, and its result classifies.
fn own_identity(sql: &str, dialect: SqlDialect) {
    use super::own_identity::OwnIdentity;
    let own = match dialect {
        SqlDialect::Mysql => OwnIdentity::MysqlAccount(super::definer::Account {
            user: "app".into(),
            host: "%".into(),
        }),
        _ => OwnIdentity::PgRole("app".into()),
    };
    let Some(substituted) = own.as_current_user(sql) else {
        return;
    };
    assert!(
        sql.to_ascii_lowercase().contains("app"),
        "{sql:?} names no `app`, yet became {substituted:?}"
    );
    let _ = classify_uncached(&substituted, dialect);
}

fn assert_same(alone: &Classification, got: &Classification, sql: &str, how: &str) {
    assert!(
        alone.class == got.class
            && alone.statements == got.statements
            && alone.timeout == got.timeout
            && alone.use_schema == got.use_schema
            && alone.check_session == got.check_session,
        "{sql:?} through {how}: {got:?}, alone: {alone:?}"
    );
}

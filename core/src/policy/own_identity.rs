//! The session's own upstream identity, named in a statement where `CURRENT_USER` would do.
//!
//! Handing an object to another role (`OWNER TO`, `CREATE SCHEMA … AUTHORIZATION`) or making
//! it run as another account (MySQL's `DEFINER`) is `admin`: that role's privileges are at
//! stake. Naming the session's own role or account is no such thing; the server treats it
//! exactly as `CURRENT_USER` (no extra privilege is needed to name oneself). Dump tools name
//! it, though: `pg_dump` writes `ALTER TABLE … OWNER TO app;` after every object, `mysqldump`
//! every definer. So before classification, the session's own identity reads as
//! `CURRENT_USER`; the statement goes upstream and into the trail as sent, only the
//! classifier sees the substitution, and the decision is cached under the substituted text.
//!
//! - PostgreSQL: the role dbward logged in as (the database's credential for the grant's
//!   level), which is `current_user` at session start (switching roles is `admin`). Unquoted
//!   names fold to lower case, as the server folds them; quoted ones compare exactly.
//! - MySQL: see [`super::definer`].

use sqlparser::tokenizer::Token;

use super::SqlDialect;
use super::definer::{Account, own_definer_as_current_user};
use super::recognize::tokens_with_text;

/// Who the upstream session is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnIdentity {
    /// PostgreSQL (and Redshift): the login role.
    PgRole(String),
    /// MySQL: the account `CURRENT_USER()` reported at login.
    MysqlAccount(Account),
}

impl OwnIdentity {
    /// `sql` with the session's own identity written `CURRENT_USER` where it is named as an
    /// owner or definer, if it is anywhere.
    #[must_use]
    pub fn as_current_user(&self, sql: &str) -> Option<String> {
        match self {
            Self::PgRole(role) => own_role_as_current_user(sql, role),
            Self::MysqlAccount(account) => own_definer_as_current_user(sql, account),
        }
    }
}

/// Whether `sql` holds `word` in any letter case: a cheap test before tokenizing.
pub(crate) fn mentions(sql: &str, word: &[u8]) -> bool {
    sql.as_bytes()
        .windows(word.len())
        .any(|w| w.eq_ignore_ascii_case(word))
}

/// Whether `sql` starts as a definition or a change of one does (`CREATE`, `ALTER`, or a MySQL
/// executable comment, as mysqldump starts its definitions): every statement of a session is
/// asked, so this looks at its first bytes only. A definition that starts otherwise (after a
/// comment, behind another statement in the same string) keeps the identity as written, which
/// only ever classifies stricter.
pub(crate) fn starts_like_definition(sql: &str) -> bool {
    let head = sql.trim_start().as_bytes();
    let starts = |w: &[u8]| {
        head.get(..w.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(w))
    };
    starts(b"create") || starts(b"alter") || starts(b"/*!") || starts(b"/*m!")
}

/// `sql` with `OWNER TO <role>` and `CREATE SCHEMA … AUTHORIZATION <role>` naming `role`
/// written with `CURRENT_USER`, if it has any.
fn own_role_as_current_user(sql: &str, role: &str) -> Option<String> {
    if !starts_like_definition(sql) || !(mentions(sql, b"owner") || mentions(sql, b"authorization"))
    {
        return None;
    }
    let (tokens, texts) = tokens_with_text(sql, SqlDialect::Postgres)?;
    let significant: Vec<usize> = (0..tokens.len())
        .filter(|&k| !matches!(tokens[k], Token::Whitespace(_)))
        .collect();
    let word = |j: usize, w: &str| matches!(significant.get(j).map(|&k| &tokens[k]), Some(Token::Word(x)) if x.quote_style.is_none() && x.value.eq_ignore_ascii_case(w));
    let is_role = |j: usize| match significant.get(j).map(|&k| &tokens[k]) {
        Some(Token::Word(w)) if w.quote_style.is_none() => w.value.to_lowercase() == role,
        Some(Token::Word(w)) if w.quote_style == Some('"') => w.value == role,
        _ => false,
    };
    let creates_schema = word(0, "create") && word(1, "schema");
    let mut own = Vec::new();
    for j in 0..significant.len() {
        let name = if word(j, "owner") && word(j + 1, "to") {
            j + 2
        } else if creates_schema && word(j, "authorization") {
            j + 1
        } else {
            continue;
        };
        if is_role(name) {
            own.push((significant[name], significant[name]));
        }
    }
    as_current_user_at(&texts, &own)
}

/// `texts` joined with each token range in `ranges` (inclusive, in order, not overlapping)
/// written `CURRENT_USER`, if there is any.
pub(crate) fn as_current_user_at(texts: &[&str], ranges: &[(usize, usize)]) -> Option<String> {
    if ranges.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(texts.iter().map(|t| t.len()).sum());
    let mut ranges = ranges.iter().peekable();
    let mut k = 0;
    while k < texts.len() {
        if let Some(&&(from, to)) = ranges.peek()
            && from == k
        {
            out.push_str("CURRENT_USER");
            ranges.next();
            k = to + 1;
            continue;
        }
        out.push_str(texts[k]);
        k += 1;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::super::{StatementClass, classify_uncached};
    use super::*;

    #[test]
    fn the_login_role_as_owner_reads_as_current_user() {
        let app = OwnIdentity::PgRole("app".into());
        for (sql, want) in [
            (
                "ALTER TABLE public.items OWNER TO app;",
                Some("ALTER TABLE public.items OWNER TO CURRENT_USER;"),
            ),
            (
                "ALTER FUNCTION public.f(integer) OWNER TO App",
                Some("ALTER FUNCTION public.f(integer) OWNER TO CURRENT_USER"),
            ),
            (
                "ALTER SEQUENCE s OWNER TO \"app\"",
                Some("ALTER SEQUENCE s OWNER TO CURRENT_USER"),
            ),
            (
                "CREATE SCHEMA IF NOT EXISTS shop AUTHORIZATION app",
                Some("CREATE SCHEMA IF NOT EXISTS shop AUTHORIZATION CURRENT_USER"),
            ),
            ("ALTER TABLE t OWNER TO \"App\"", None),
            ("ALTER TABLE t OWNER TO postgres", None),
            ("ALTER TABLE t OWNER TO CURRENT_USER", None),
            ("SELECT 'OWNER TO app'", None),
            ("SET SESSION AUTHORIZATION app", None),
        ] {
            assert_eq!(app.as_current_user(sql).as_deref(), want, "{sql}");
        }
        let pg = SqlDialect::Postgres;
        for sql in [
            "ALTER TABLE public.items OWNER TO app;",
            "ALTER TYPE public.code OWNER TO app",
            "ALTER AGGREGATE public.total(integer) OWNER TO app",
            "CREATE SCHEMA shop AUTHORIZATION app",
        ] {
            let named = classify_uncached(sql, pg);
            assert!(
                matches!(named.class, None | Some(StatementClass::Admin)),
                "{sql}: {:?}",
                named.class
            );
            let own = app.as_current_user(sql).expect("own role");
            let d = classify_uncached(&own, pg);
            assert_eq!(d.class, Some(StatementClass::Ddl), "{own}: {}", d.reason);
        }
    }
}

//! MySQL's `DEFINER = account` naming the session's own upstream account.
//!
//! A view, trigger, routine or event with another `DEFINER` runs with that account's
//! privileges, so the classifier takes such a definition as `admin`; only `DEFINER =
//! CURRENT_USER` is the login's own, and `ddl`. But `mysqldump` writes every definer out by
//! name (`/*!50013 DEFINER=`app`@`%` SQL SECURITY DEFINER */`), so a dump of objects the
//! upstream account itself created names that very account. The server treats that name
//! exactly as `CURRENT_USER` (no `SET_USER_ID` or `SUPER` is needed to name oneself), and so does
//! dbward: before classification, a definer equal to the session's account, as the server
//! reported it with `CURRENT_USER()` at login, reads as `CURRENT_USER`. The statement goes
//! upstream as written and is audited as written; only the classifier sees the substitution
//! (with executable comments' markers removed, as the classifier removes them), and the
//! classification is cached under the substituted text.
//!
//! Accounts compare as the server compares them: the user name exactly, the host
//! case-insensitively, a definer without a host being `user@'%'`.

use sqlparser::tokenizer::Token;

use super::SqlDialect;
use super::recognize::tokens_with_text;

/// A MySQL account, `user@host`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The user name.
    pub user: String,
    /// The host pattern (`%`, `localhost`, `10.0.0.%`...).
    pub host: String,
}

impl Account {
    /// The account in what `CURRENT_USER()` returns (`app@%`), if it is one.
    #[must_use]
    pub fn from_current_user(value: &str) -> Option<Self> {
        let (user, host) = value.rsplit_once('@')?;
        (!user.is_empty()).then(|| Self {
            user: user.to_owned(),
            host: host.to_owned(),
        })
    }

    fn is(&self, user: &str, host: &str) -> bool {
        self.user == user && self.host.eq_ignore_ascii_case(host)
    }
}

/// Whether `sql` may hold a `DEFINER` clause: a cheap test before any tokenizing.
fn mentions_definer(sql: &str) -> bool {
    super::own_identity::mentions(sql, b"definer")
}

/// Why a definition naming another account is `admin`.
pub(crate) const ANOTHER_DEFINER: &str =
    "DEFINER names another account, whose privileges the object would run with";

/// Whether a statement of `text` (at `ranges`, as the scan split it) is a `CREATE` or `ALTER`
/// whose header names a `DEFINER` other than `CURRENT_USER`. sqlparser reads that clause
/// before any kind of object and keeps it only for views: a trigger's, a table's, an event's
/// would otherwise go unseen.
pub(crate) fn names_another_account(text: &str, ranges: &[std::ops::Range<usize>]) -> bool {
    /// Words that start the object's own part: the header ends there.
    const OBJECTS: &[&str] = &[
        "view",
        "trigger",
        "procedure",
        "function",
        "event",
        "table",
        "index",
        "database",
        "schema",
        "user",
        "role",
        "server",
        "sequence",
        "package",
        "aggregate",
        "tablespace",
    ];
    if !mentions_definer(text) {
        return false;
    }
    ranges.iter().any(|r| {
        let normalized = super::lexer::scan(&text[r.clone()], SqlDialect::Mysql)
            .normalized
            .to_ascii_lowercase();
        let tokens = super::recognize::tokens(&normalized);
        if !matches!(tokens.first(), Some(&("create" | "alter"))) {
            return false;
        }
        let header = tokens
            .iter()
            .position(|t| OBJECTS.contains(t))
            .map_or(&tokens[..], |end| &tokens[..end]);
        // `CURRENT_USER` alone (or `CURRENT_USER()`) is the login; anything else, even a user
        // of that name at a host, names an account.
        (0..header.len()).any(|i| {
            header[i] == "definer"
                && header.get(i + 1) == Some(&"=")
                && (header.get(i + 2) != Some(&"current_user") || header.get(i + 3) == Some(&"@"))
        })
    })
}

/// The name in a user or host token: a word (quoted with backticks or not) or a string.
fn name_of(t: &Token) -> Option<&str> {
    match t {
        Token::Word(w) => Some(&w.value),
        Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => Some(s),
        _ => None,
    }
}

/// `sql` with each `DEFINER = <account>` naming `account` written `DEFINER = CURRENT_USER`, if
/// it has any.
#[must_use]
pub fn own_definer_as_current_user(sql: &str, account: &Account) -> Option<String> {
    // Every statement of a MySQL session is asked: its first bytes first.
    if !super::own_identity::starts_like_definition(sql) || !mentions_definer(sql) {
        return None;
    }
    // What the server runs: executable comments' content is code (`/*!50013 DEFINER=… */`, as
    // mysqldump writes it), and the markers go, as the classifier drops them too (sqlparser's
    // token positions inside them do not match the text).
    let code = super::lexer::executable_code(sql, SqlDialect::Mysql);
    let sql = code.as_deref().unwrap_or(sql);
    let (tokens, texts) = tokens_with_text(sql, SqlDialect::Mysql)?;
    let significant: Vec<usize> = (0..tokens.len())
        .filter(|&k| !matches!(tokens[k], Token::Whitespace(_)))
        .collect();
    let at = |j: usize| significant.get(j).map(|&k| &tokens[k]);
    // Token ranges (inclusive, by token index) that name the session's account.
    let mut own = Vec::new();
    for j in 0..significant.len() {
        let is_definer = matches!(at(j), Some(Token::Word(w)) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("definer"));
        if !is_definer || at(j + 1) != Some(&Token::Eq) {
            continue;
        }
        let Some(user) = at(j + 2) else { continue };
        let (name, host, last) = if at(j + 3) == Some(&Token::AtSign) {
            // `'app'@'%'`, `` `app`@`%` ``, `app@'%'`.
            let Some(host) = at(j + 4).and_then(name_of) else {
                continue;
            };
            (name_of(user), host, j + 4)
        } else {
            match user {
                // `app@localhost` is one word to the tokenizer; `app` alone is `app@'%'`.
                Token::Word(w) if w.quote_style.is_none() => match w.value.rsplit_once('@') {
                    Some((u, h)) => (Some(u), h, j + 2),
                    None if w.value.eq_ignore_ascii_case("current_user") => continue,
                    None => (Some(w.value.as_str()), "%", j + 2),
                },
                _ => (name_of(user), "%", j + 2),
            }
        };
        if name.is_some_and(|u| account.is(u, host)) {
            own.push((significant[j + 2], significant[last]));
        }
    }
    super::own_identity::as_current_user_at(&texts, &own)
}

#[cfg(test)]
mod tests {
    use super::super::{SqlDialect, StatementClass, classify_uncached};
    use super::*;

    fn app() -> Account {
        Account::from_current_user("app@%").expect("account")
    }

    #[test]
    fn the_sessions_own_account_reads_as_current_user() {
        let app = app();
        for (sql, want) in [
            (
                "CREATE DEFINER=`app`@`%` VIEW v AS SELECT 1",
                Some("CREATE DEFINER=CURRENT_USER VIEW v AS SELECT 1"),
            ),
            (
                "CREATE DEFINER = 'app'@'%' PROCEDURE p() SELECT 1",
                Some("CREATE DEFINER = CURRENT_USER PROCEDURE p() SELECT 1"),
            ),
            (
                "/*!50013 DEFINER=`app`@`%` SQL SECURITY DEFINER */",
                Some("  DEFINER=CURRENT_USER SQL SECURITY DEFINER  "),
            ),
            (
                "CREATE DEFINER=app VIEW v AS SELECT 1",
                Some("CREATE DEFINER=CURRENT_USER VIEW v AS SELECT 1"),
            ),
            (
                "CREATE DEFINER=\"app\"@\"%\" VIEW v AS SELECT 1",
                Some("CREATE DEFINER=CURRENT_USER VIEW v AS SELECT 1"),
            ),
            // Another account, another host, the user's case: left as written.
            ("CREATE DEFINER=`root`@`%` VIEW v AS SELECT 1", None),
            ("CREATE DEFINER=`app`@`localhost` VIEW v AS SELECT 1", None),
            ("CREATE DEFINER=app@localhost VIEW v AS SELECT 1", None),
            ("CREATE DEFINER=`APP`@`%` VIEW v AS SELECT 1", None),
            ("CREATE DEFINER=CURRENT_USER VIEW v AS SELECT 1", None),
            // Not a clause: a literal, a comment.
            ("SELECT 'DEFINER=`app`@`%`'", None),
            ("SELECT 1 -- DEFINER=`app`@`%`", None),
        ] {
            assert_eq!(
                own_definer_as_current_user(sql, &app).as_deref(),
                want,
                "{sql}"
            );
        }
        let local = Account::from_current_user("app@LOCALHOST").expect("account");
        assert!(
            own_definer_as_current_user("CREATE DEFINER=app@localhost VIEW v AS SELECT 1", &local)
                .is_some()
        );
        assert_eq!(Account::from_current_user("no-host"), None);
    }

    #[test]
    fn another_definer_is_admin_whatever_the_object() {
        let my = SqlDialect::Mysql;
        for sql in [
            "CREATE DEFINER=root@localhost TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1;",
            "CREATE DEFINER='root'@'%' TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1",
            "CREATE DEFINER=`root`@`%` SQL SECURITY DEFINER TABLE t2 (a int)",
            "/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`%`*/ /*!50003 TRIGGER `tr` BEFORE INSERT ON `t` FOR EACH ROW SET NEW.a = 1 */",
            "ALTER DEFINER=`root`@`%` VIEW v AS SELECT 1",
            "CREATE DEFINER=current_user@localhost TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1;",
            "CREATE DEFINER='current_user'@'%' VIEW v AS SELECT 1",
            "SELECT 1; CREATE DEFINER=root TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1;",
        ] {
            let d = classify_uncached(sql, my);
            assert!(
                matches!(d.class, None | Some(StatementClass::Admin)),
                "{sql}: {:?} {}",
                d.class,
                d.reason
            );
        }
        for (sql, class) in [
            (
                "CREATE DEFINER=CURRENT_USER TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1",
                StatementClass::Ddl,
            ),
            // A column of that name is no clause.
            ("UPDATE t SET definer = 'root@%'", StatementClass::Write),
            ("CREATE TABLE t (definer VARCHAR(80))", StatementClass::Ddl),
        ] {
            let d = classify_uncached(sql, my);
            assert_eq!(d.class, Some(class), "{sql}: {}", d.reason);
        }
    }

    #[test]
    fn mysqldump_definitions_of_the_own_account_are_ddl() {
        let app = app();
        let my = SqlDialect::Mysql;
        for sql in [
            "/*!50001 CREATE ALGORITHM=UNDEFINED */ /*!50013 DEFINER=`app`@`%` SQL SECURITY DEFINER */ /*!50001 VIEW `v` AS select 1 AS `a` */",
            "/*!50003 CREATE*/ /*!50017 DEFINER=`app`@`%`*/ /*!50003 TRIGGER `tr` BEFORE INSERT ON `items` FOR EACH ROW SET NEW.name = UPPER(NEW.name) */",
            "CREATE DEFINER=`app`@`%` PROCEDURE `p`(IN n INT)\nBEGIN\n  SELECT n;\nEND",
            "CREATE DEFINER=`app`@`%` FUNCTION `f`() RETURNS int(11)\n    DETERMINISTIC\nRETURN 1",
        ] {
            // Named, the account is another's to the classifier: admin only.
            let named = classify_uncached(sql, my);
            assert!(
                matches!(named.class, None | Some(StatementClass::Admin)),
                "{sql}: {:?}",
                named.class
            );
            let own = own_definer_as_current_user(sql, &app).expect("own definer");
            let d = classify_uncached(&own, my);
            assert_eq!(d.class, Some(StatementClass::Ddl), "{own}: {}", d.reason);
        }
    }
}

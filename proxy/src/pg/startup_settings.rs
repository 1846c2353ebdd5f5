//! Server settings a client asks for in its StartupMessage, and their check.
//!
//! Two ways to ask, both common:
//! - a parameter beyond `user`, `database`, `application_name`, `client_encoding` and
//!   `replication`: PgJDBC's `currentSchema` (as `search_path`), asyncpg's `server_settings`,
//!   pgx's `RuntimeParams`, node-postgres's `statement_timeout` and `lock_timeout`;
//! - the `-c name=value` and `--name=value` switches of `options`: `PGOPTIONS`, libpq's and
//!   PgJDBC's `options`, Django's `OPTIONS: {"options": "-c search_path=app"}`. The string is
//!   split as PostgreSQL splits it (at unescaped white space, `\` escaping the next character);
//!   the server's other switches (`-d`, `-B`, `-F`...) are refused.
//!
//! PostgreSQL applies both as if the session had begun with `SET name TO 'value'`, so dbward
//! checks each as exactly that statement, once the grant is known (after the password):
//! classified, then held against the session's level and the grant's statement-timeout ceiling.
//! A setting the session may not make refuses the connection (`42501`, saying which and why):
//! `-c default_transaction_read_only=off` needs `write`, `-c statement_timeout=0` a grant
//! without a ceiling, `-c session_replication_role=replica` or any setting dbward does not know
//! `admin`. A name that is not a plain setting name (`user` from inside `options` would change
//! dbward's upstream login) is refused for every level, and so are the two settings under which
//! the classifier would split SQL differently from the server (`client_encoding` other than
//! UTF8, `standard_conforming_strings` off).
//!
//! Accepted settings go upstream as startup parameters after dbward's own, so a checked
//! `statement_timeout` below the grant's ceiling replaces the ceiling; those from `options`
//! come before the other parameters, as PostgreSQL lets an explicit parameter override
//! `options`. `RESET` and `DISCARD ALL` return to these values, which were checked.

use dbward_core::model::AccessLevel;
use dbward_core::policy::{SqlDialect, classify_uncached};

/// One setting asked for at startup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The setting's name as the client wrote it (`-` turned into `_` in `options`, as
    /// PostgreSQL does).
    pub name: String,
    /// Its value, unescaped.
    pub value: String,
}

impl Setting {
    /// `name=value`, for the log and the audit trail.
    #[must_use]
    pub fn display(&self) -> String {
        format!("{}={}", self.name, self.value)
    }

    /// The statement PostgreSQL treats it as, for the classifier.
    fn as_statement(&self) -> String {
        format!(
            "SET \"{}\" TO '{}'",
            self.name.replace('"', "\"\""),
            self.value.replace('\'', "''")
        )
    }
}

/// Splits an `options` string into settings, as PostgreSQL's `pg_split_opts` and its switch
/// parser read it. Names are checked by [`check_name`]; any switch other than `-c` and `--` is
/// refused.
pub fn split_options(options: &str) -> Result<Vec<Setting>, String> {
    let mut words = split_words(options).into_iter();
    let mut settings = Vec::new();
    while let Some(word) = words.next() {
        let assignment = if word == "-c" {
            words.next().ok_or_else(|| {
                "the option -c in \"options\" has no name=value after it".to_owned()
            })?
        } else if let Some(rest) = word.strip_prefix("--").or_else(|| word.strip_prefix("-c")) {
            rest.to_owned()
        } else {
            return Err(format!(
                "the switch \"{word}\" in \"options\" is not supported through dbward (only -c \
                 name=value and --name=value)"
            ));
        };
        let Some((name, value)) = assignment.split_once('=') else {
            return Err(format!(
                "\"{assignment}\" in \"options\" needs a value (-c name=value)"
            ));
        };
        let name = name.replace('-', "_");
        check_name(&name)?;
        settings.push(Setting {
            name,
            value: value.to_owned(),
        });
    }
    Ok(settings)
}

/// `pg_split_opts`: words at unescaped white space (C's `isspace`), `\` escaping the next
/// character.
fn split_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|c| is_c_space(*c)).is_some() {}
        if chars.peek().is_none() {
            return words;
        }
        let mut word = String::new();
        let mut escaped = false;
        while let Some(&c) = chars.peek() {
            if is_c_space(c) && !escaped {
                break;
            }
            chars.next();
            if !escaped && c == '\\' {
                escaped = true;
            } else {
                escaped = false;
                word.push(c);
            }
        }
        words.push(word);
    }
}

fn is_c_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{b}' | '\u{c}' | '\r')
}

/// A setting's name must be a plain configuration parameter name (letters, digits, `_`, and
/// `.` for an extension's or a custom setting), and none of the words the StartupMessage gives
/// another meaning: dbward passes settings upstream as startup parameters, where `user` or
/// `database` would change dbward's own login.
pub fn check_name(name: &str) -> Result<(), String> {
    let plain = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
    let reserved = ["user", "database", "options", "replication"]
        .iter()
        .any(|w| w.eq_ignore_ascii_case(name))
        || name.to_ascii_lowercase().starts_with("_pq_");
    if plain && !reserved {
        Ok(())
    } else {
        Err(format!(
            "\"{name}\" is not a server setting dbward passes on at startup"
        ))
    }
}

/// Checks the settings against what the session may do, in order: the first one refused, with
/// the classifier's reason.
pub fn check(
    settings: &[Setting],
    dialect: SqlDialect,
    level: AccessLevel,
    timeout_ceiling_ms: Option<i64>,
) -> Result<(), String> {
    for setting in settings {
        let c = classify_uncached(&setting.as_statement(), dialect);
        if let Err(denial) = c.check(level, timeout_ceiling_ms) {
            return Err(format!(
                "the startup setting {} is not allowed: {}",
                setting.display(),
                denial.message
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setting(name: &str, value: &str) -> Setting {
        Setting {
            name: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn options_split_as_postgresql_splits_them() {
        assert_eq!(
            split_options(
                "  -c search_path=app,public\t--statement-timeout=5s -cDateStyle=ISO,\\ MDY \
                 -c application_name=a\\\\b\\ c -c x.y=1=2"
            ),
            Ok(vec![
                setting("search_path", "app,public"),
                setting("statement_timeout", "5s"),
                setting("DateStyle", "ISO, MDY"),
                setting("application_name", "a\\b c"),
                setting("x.y", "1=2"),
            ])
        );
        assert_eq!(split_options(""), Ok(vec![]));
        assert_eq!(split_options(" \n "), Ok(vec![]));
        for refused in [
            "-d 5",
            "-B 100",
            "search_path=x",
            "-c",
            "-c search_path",
            "--search_path",
            "-c user=postgres",
            "--database=other",
            "-c _pq_.x=1",
            "-c a;b=1",
            "-c \"x\"=1",
            "-c =1",
        ] {
            assert!(split_options(refused).is_err(), "{refused:?} accepted");
        }
    }

    #[test]
    fn settings_are_checked_as_the_set_they_amount_to() {
        let read = AccessLevel::Read;
        let ok = |s: &[Setting], level, ceiling| check(s, SqlDialect::Postgres, level, ceiling);
        assert_eq!(
            ok(
                &[
                    setting("search_path", "app"),
                    setting("DateStyle", "ISO, MDY"),
                    setting("statement_timeout", "5s"),
                    setting("default_transaction_read_only", "on"),
                ],
                read,
                Some(10_000)
            ),
            Ok(())
        );
        let off = [setting("default_transaction_read_only", "off")];
        assert!(
            ok(&off, read, None).is_err_and(|e| e.contains("default_transaction_read_only=off"))
        );
        assert_eq!(ok(&off, AccessLevel::Write, None), Ok(()));
        for (timeout, allowed) in [("5s", true), ("20s", false), ("0", false)] {
            assert_eq!(
                ok(&[setting("statement_timeout", timeout)], read, Some(10_000)).is_ok(),
                allowed,
                "{timeout}"
            );
        }
        for admin_only in [
            "session_replication_role",
            "role",
            "session_authorization",
            "app.tenant",
        ] {
            let s = [setting(admin_only, "x")];
            assert!(ok(&s, AccessLevel::Ddl, None).is_err(), "{admin_only}");
            assert_eq!(ok(&s, AccessLevel::Admin, None), Ok(()), "{admin_only}");
        }
        // Quotes in a value or a name stay inside the statement they amount to.
        assert!(ok(&[setting("search_path", "x' ; SET role TO 'y")], read, None).is_ok());
        assert!(
            ok(
                &[setting("a\" TO 'x'; SET \"role", "y")],
                AccessLevel::Ddl,
                None
            )
            .is_err()
        );
    }
}

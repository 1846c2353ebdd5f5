//! MySQL sessions whose `sql_mode` changes how the server reads quotes and backslashes:
//! `ANSI_QUOTES` (`"..."` is an identifier, as in standard SQL) and `NO_BACKSLASH_ESCAPES` (`\`
//! is an ordinary character in strings).
//!
//! dbward classifies such a session's text by first **writing it in the default quoting**: each
//! token the server reads in the session's mode is written the way the default mode reads as the
//! same token (`"a""b"` as `` `a"b` ``, `'C:\'` as `'C:\\'`), and everything else is copied as
//! it is. The classifier, its decision cache and every recognizer then read text in the one
//! quoting they know; the statement itself goes upstream and into the trail as sent. The
//! rewrite walks the text with the same rules as the lexer's scan (comments, executable
//! comments, where a string ends), so both split it where the server does.
//!
//! A session's quoting comes from the upstream's `sql_mode` at login, and again after each
//! statement that sets `sql_mode` (such a statement must come alone: the server reads the rest
//! of a multi-statement text in the new mode; see `Classification::check_session`).

use std::borrow::Cow;

use super::lexer::{
    block_comment_end, executable_marker, line_end, mysql_dash_comment, quoted_end,
};

/// How a MySQL session reads quotes and backslashes. The default (both off) is the servers'
/// default `sql_mode` and every PostgreSQL session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct MysqlQuoting {
    /// `ANSI_QUOTES`: `"..."` quotes an identifier.
    pub ansi_quotes: bool,
    /// `NO_BACKSLASH_ESCAPES`: `\` escapes nothing in strings.
    pub no_backslash_escapes: bool,
}

impl MysqlQuoting {
    /// The session's quoting under `sql_mode` (a comma-separated list as the server reports
    /// it), or the first component dbward does not know to leave SQL read as its lexer reads it
    /// (MariaDB's `ORACLE` mode switches to another grammar, for one).
    pub fn from_sql_mode(sql_mode: &str) -> Result<Self, String> {
        let mut quoting = Self::default();
        for mode in sql_mode.split(',').map(|m| m.trim().to_ascii_lowercase()) {
            match mode.as_str() {
                "" => {}
                "ansi_quotes" | "ansi" => quoting.ansi_quotes = true,
                "no_backslash_escapes" => quoting.no_backslash_escapes = true,
                m if super::settings::SAFE_SQL_MODES.contains(&m) => {}
                m => return Err(format!("sql_mode {}", m.to_ascii_uppercase())),
            }
        }
        Ok(quoting)
    }

    /// Whether this is the default quoting (nothing to rewrite).
    #[must_use]
    pub fn is_default(self) -> bool {
        self == Self::default()
    }

    /// A byte that round-trips through an atomic (the session's gate keeps it in one).
    #[must_use]
    pub fn to_bits(self) -> u8 {
        u8::from(self.ansi_quotes) | (u8::from(self.no_backslash_escapes) << 1)
    }

    /// The quoting [`Self::to_bits`] gave.
    #[must_use]
    pub fn from_bits(bits: u8) -> Self {
        Self {
            ansi_quotes: bits & 1 != 0,
            no_backslash_escapes: bits & 2 != 0,
        }
    }

    /// `sql`, read in this quoting, written in the default one (borrowed when nothing changes).
    #[must_use]
    pub fn to_default(self, sql: &str) -> Cow<'_, str> {
        if self.is_default() || !sql.contains(['"', '\\']) {
            return Cow::Borrowed(sql);
        }
        Cow::Owned(self.rewrite(sql))
    }

    #[allow(clippy::many_single_char_names)] // s, i, j, b: the usual names in a lexer
    fn rewrite(self, sql: &str) -> String {
        let s = sql.as_bytes();
        let backslash = !self.no_backslash_escapes;
        let mut out = String::with_capacity(sql.len() + 8);
        // Inside an executable comment (`/*!…*/`, `/*M!…*/`), whose content is code: as the
        // lexer's `expand_executable_comments` reads them.
        let mut inside = false;
        let mut i = 0;
        while i < s.len() {
            let b = s[i];
            let end = match b {
                b'\'' => {
                    let end = quoted_end(s, i, b'\'', backslash);
                    push_string(&mut out, &sql[i..end], b'\'', backslash);
                    i = end;
                    continue;
                }
                b'"' if self.ansi_quotes => {
                    let end = quoted_end(s, i, b'"', false);
                    push_identifier(&mut out, &sql[i..end]);
                    i = end;
                    continue;
                }
                b'"' => {
                    let end = quoted_end(s, i, b'"', backslash);
                    push_string(&mut out, &sql[i..end], b'"', backslash);
                    i = end;
                    continue;
                }
                b'`' => quoted_end(s, i, b'`', false),
                b'#' => line_end(s, i, false),
                b'-' if mysql_dash_comment(s, i) => line_end(s, i, false),
                b'/' if s.get(i + 1) == Some(&b'*') => {
                    let (marker, never) = executable_marker(s, i);
                    if marker > 0 && !never && !inside {
                        inside = true;
                        i + marker
                    } else {
                        block_comment_end(s, i, false)
                    }
                }
                b'*' if inside && s.get(i + 1) == Some(&b'/') => {
                    inside = false;
                    i + 2
                }
                // Up to the next byte that may start a token above (ASCII: a character
                // boundary).
                _ => s[i + 1..]
                    .iter()
                    .position(|c| matches!(c, b'\'' | b'"' | b'`' | b'#' | b'-' | b'/' | b'*'))
                    .map_or(s.len(), |p| i + 1 + p),
            };
            out.push_str(&sql[i..end]);
            i = end;
        }
        out
    }
}

/// A string token (`'...'` or `"..."`, closing quote included when there is one) written in the
/// default quoting: when the session escapes nothing, each backslash doubled.
fn push_string(out: &mut String, token: &str, quote: u8, backslash: bool) {
    debug_assert_eq!(token.as_bytes().first(), Some(&quote));
    if backslash {
        out.push_str(token);
    } else {
        for c in token.chars() {
            if c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
    }
}

/// An `ANSI_QUOTES` identifier token (`"a""b"`, closing quote included when there is one)
/// written as the backquoted identifier it is (`` `a"b` ``).
fn push_identifier(out: &mut String, token: &str) {
    let terminated = token.len() >= 2 && token.ends_with('"') && {
        // The closing quote is the last one of an odd run at the end.
        let quotes = token[1..].bytes().rev().take_while(|b| *b == b'"').count();
        quotes % 2 == 1
    };
    let body = if terminated {
        &token[1..token.len() - 1]
    } else {
        &token[1..]
    };
    out.push('`');
    out.push_str(&body.replace("\"\"", "\"").replace('`', "``"));
    if terminated {
        out.push('`');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANSI: MysqlQuoting = MysqlQuoting {
        ansi_quotes: true,
        no_backslash_escapes: false,
    };
    const NBE: MysqlQuoting = MysqlQuoting {
        ansi_quotes: false,
        no_backslash_escapes: true,
    };
    const BOTH: MysqlQuoting = MysqlQuoting {
        ansi_quotes: true,
        no_backslash_escapes: true,
    };

    #[test]
    fn sql_modes() {
        let m = |s| MysqlQuoting::from_sql_mode(s);
        assert_eq!(m(""), Ok(MysqlQuoting::default()));
        assert_eq!(
            m("STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_AUTO_CREATE_USER"),
            Ok(MysqlQuoting::default())
        );
        assert_eq!(m("ANSI_QUOTES"), Ok(ANSI));
        assert_eq!(
            m("REAL_AS_FLOAT,PIPES_AS_CONCAT,ANSI_QUOTES,IGNORE_SPACE,ONLY_FULL_GROUP_BY,ANSI"),
            Ok(ANSI)
        );
        assert_eq!(m("no_backslash_escapes"), Ok(NBE));
        assert_eq!(m("ANSI_QUOTES, NO_BACKSLASH_ESCAPES"), Ok(BOTH));
        assert_eq!(
            m("PIPES_AS_CONCAT,ANSI_QUOTES,IGNORE_SPACE,ORACLE"),
            Err("sql_mode ORACLE".into())
        );
        assert_eq!(m("MSSQL"), Err("sql_mode MSSQL".into()));
        assert_eq!(m("SOMETHING_NEW"), Err("sql_mode SOMETHING_NEW".into()));
        for q in [MysqlQuoting::default(), ANSI, NBE, BOTH] {
            assert_eq!(MysqlQuoting::from_bits(q.to_bits()), q);
        }
    }

    #[test]
    fn ansi_quotes_become_backquotes() {
        let t = |s| ANSI.to_default(s).into_owned();
        assert_eq!(t(r#"SELECT "a" FROM "t""#), "SELECT `a` FROM `t`");
        assert_eq!(t(r#"SELECT "a""b", "c`d""#), "SELECT `a\"b`, `c``d`");
        // No escapes in an identifier: the backslash is part of it, and the quote ends it.
        assert_eq!(
            t(r#"SELECT "a\" FROM t; DELETE FROM t"#),
            r"SELECT `a\` FROM t; DELETE FROM t"
        );
        // Strings keep their quotes and escapes.
        assert_eq!(
            t(r#"SELECT 'it''s "x"', 'a\'b'"#),
            r#"SELECT 'it''s "x"', 'a\'b'"#
        );
        // Comments are copied, quotes in them untouched; executable comments are code.
        assert_eq!(
            t("SELECT 1 # \"x\n, /* \"y\" */ 2 /*!50000 , \"z\" */"),
            "SELECT 1 # \"x\n, /* \"y\" */ 2 /*!50000 , `z` */"
        );
        assert_eq!(t(r#"SELECT "unterminated"#), "SELECT `unterminated");
        assert_eq!(t(r#"SELECT "a""""#), "SELECT `a\"`");
        assert_eq!(t(r#"SELECT "a"""#), "SELECT `a\"");
        assert_eq!(t(r#"SELECT """#), "SELECT ``");
        assert_eq!(t(r#"SELECT "é" FROM ``"#), "SELECT `é` FROM ``");
        assert!(matches!(ANSI.to_default("SELECT 1"), Cow::Borrowed(_)));
    }

    #[test]
    fn strings_without_escapes_get_their_backslashes_doubled() {
        let t = |s| NBE.to_default(s).into_owned();
        assert_eq!(
            t(r"SELECT 'a\'; DELETE FROM t; -- '"),
            r"SELECT 'a\\'; DELETE FROM t; -- '"
        );
        assert_eq!(t(r#"SELECT "C:\dir\", 'x'"#), r#"SELECT "C:\\dir\\", 'x'"#);
        // Identifiers and comments keep theirs.
        assert_eq!(t(r"SELECT `a\` # \'"), r"SELECT `a\` # \'");
        let both = |s| BOTH.to_default(s).into_owned();
        assert_eq!(both(r#"SELECT "a\", 'b\'"#), r"SELECT `a\`, 'b\\'");
        assert!(matches!(
            MysqlQuoting::default().to_default(r#"SELECT "a\""#),
            Cow::Borrowed(_)
        ));
    }
}

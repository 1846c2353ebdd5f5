//! A cheap scan of SQL text, lexing strings, quoted identifiers and comments exactly as the
//! server does, for three uses:
//! - the **fingerprint**: the text with every literal and placeholder replaced by `?`, comments
//!   dropped and whitespace collapsed, so `WHERE aid = 17` and `WHERE aid = 42` share a cached
//!   decision;
//! - MySQL **executable comments** (`/*! ... */`, `/*M!100000 ... */`): the server runs their
//!   content, so it is code here too (markers removed, content kept);
//! - **splitting** a string into statements at top-level `;` when the parser fails on the whole.
//!
//! The rules follow the servers' lexers, because a scan that ends a string earlier or later than
//! the server would let a cached decision hide a statement:
//! - PostgreSQL (sessions pin `standard_conforming_strings=on`): `'...'` with `''` doubling and
//!   no backslash escapes; `E'...'` with backslash escapes; `$tag$...$tag$`; `"..."` identifiers;
//!   `--` line comments (ended by a newline or a carriage return); nested `/* */` comments; `$1`
//!   placeholders.
//! - MySQL/MariaDB (default `sql_mode`, which the MySQL front door pins): `'...'` and `"..."`
//!   strings with backslash escapes and doubling; `` `...` `` identifiers; `#` and `-- ` (dash
//!   dash followed by whitespace or the end) line comments, ended by a newline only;
//!   non-nesting `/* */` comments, except executable ones; `?` placeholders. Optimizer hints
//!   (`/*+ … */`) stay in the fingerprint as written: they can set session variables for the
//!   statement (see `hints`).

use super::SqlDialect;

/// What [`scan`] found.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    /// Literals as `?`, comments and whitespace runs as one space.
    pub normalized: String,
    /// The text with MySQL executable-comment markers removed, when there were any: this is
    /// what the server runs and what must be parsed.
    pub code: Option<String>,
    /// Byte ranges of the statements in the text that was scanned (`code` when present),
    /// split at top-level semicolons; empty pieces left out.
    pub statements: Vec<std::ops::Range<usize>>,
}

impl Scan {
    /// Whether anything but whitespace, comments and `;`s was found: the servers run nothing
    /// for such a text (PostgreSQL answers `EmptyQueryResponse`; lib/pq pings with `;`).
    pub fn is_blank(&self) -> bool {
        self.normalized
            .trim_matches(|c: char| c == ';' || c.is_whitespace())
            .is_empty()
    }
}

/// Scans `sql` in `dialect`'s lexical rules.
pub(crate) fn scan(sql: &str, dialect: SqlDialect) -> Scan {
    let mut scan = Scan {
        code: executable_code(sql, dialect),
        ..Scan::default()
    };
    let text = scan.code.as_deref().unwrap_or(sql);
    scan_into(
        text,
        dialect,
        &mut scan.normalized,
        Some(&mut scan.statements),
    );
    scan
}

/// The fingerprint alone (what a cache lookup needs), into `out`, which is cleared first: the
/// cached path's scan allocates nothing when `out` is reused.
pub(crate) fn fingerprint_into(sql: &str, dialect: SqlDialect, out: &mut String) {
    out.clear();
    let code = executable_code(sql, dialect);
    scan_into(code.as_deref().unwrap_or(sql), dialect, out, None);
}

/// MySQL text with executable-comment markers removed, when it has any.
pub(crate) fn executable_code(sql: &str, dialect: SqlDialect) -> Option<String> {
    if dialect == SqlDialect::Mysql {
        expand_executable_comments(sql)
    } else {
        None
    }
}

/// Whether `sql` holds a byte where lexers have been seen to disagree: control characters but
/// tab and newline (PostgreSQL ends a `--` comment at a carriage return, MySQL at a newline
/// only; MySQL starts one before any control character), lead bytes of the Unicode spaces
/// (U+0085, U+00A0, U+1680, U+2000–U+205F, U+3000: sqlparser's whitespace, an identifier's
/// bytes to the servers), and `&` after `u`/`U` (PostgreSQL's `U&"..."`). Such text is not
/// keyed by its fingerprint: a fingerprint shared with ordinary text would let that text's
/// cached decision answer for it if the scan here ever read it otherwise than the server.
///
/// A carriage return followed by a newline (Windows line ends) is not unusual: every lexer ends
/// a line comment there, one byte apart.
pub(crate) fn unusual_for_the_fingerprint(sql: &str) -> bool {
    let s = sql.as_bytes();
    let mut previous = 0u8;
    for (i, &b) in s.iter().enumerate() {
        if CLASSES[usize::from(b)] & UNUSUAL != 0 {
            let ordinary = match b {
                b'&' => previous | 0x20 != b'u',
                b'\r' => s.get(i + 1) == Some(&b'\n'),
                _ => false,
            };
            if !ordinary {
                return true;
            }
        }
        previous = b;
    }
    false
}

/// Byte classes of the scan's hot loops (one table load per byte).
const WORD: u8 = 1;
const SPACE: u8 = 2;
const UNUSUAL: u8 = 4;
static CLASSES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        #[allow(clippy::cast_possible_truncation)] // i < 256
        let b = i as u8;
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80 {
            t[i] |= WORD;
        }
        if b.is_ascii_whitespace() {
            t[i] |= SPACE;
        }
        if (b < b' ' && b != b'\t' && b != b'\n')
            || b == 0x7f
            || matches!(b, 0xc2 | 0xe1 | 0xe2 | 0xe3)
            || b == b'&'
        {
            t[i] |= UNUSUAL;
        }
        i += 1;
    }
    t
};

fn is_word_byte(b: u8) -> bool {
    CLASSES[usize::from(b)] & WORD != 0
}

/// Where the run of word bytes starting at `i` ends.
fn word_end(s: &[u8], i: usize) -> usize {
    s[i..]
        .iter()
        .position(|b| !is_word_byte(*b))
        .map_or(s.len(), |p| i + p)
}

/// Where a quoted token starting at `i` (at the quote) ends, exclusive; `backslash`: whether
/// `\` escapes the next byte. An unterminated quote runs to the end.
pub(super) fn quoted_end(s: &[u8], i: usize, quote: u8, backslash: bool) -> usize {
    let mut j = i + 1;
    while j < s.len() {
        let b = s[j];
        if backslash && b == b'\\' {
            j += 2;
            continue;
        }
        if b == quote {
            if s.get(j + 1) == Some(&quote) {
                j += 2;
                continue;
            }
            return j + 1;
        }
        j += 1;
    }
    s.len()
}

/// A PostgreSQL dollar-quote tag (`$$` or `$tag$`) starting at `i`, as its length.
fn dollar_tag(s: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    if s.get(j).is_some_and(u8::is_ascii_digit) {
        return None; // $1: a placeholder
    }
    while j < s.len() && (s[j].is_ascii_alphanumeric() || s[j] == b'_' || s[j] >= 0x80) {
        j += 1;
    }
    (s.get(j) == Some(&b'$')).then_some(j + 1 - i)
}

/// End of a block comment starting at `i` (at `/*`), exclusive.
pub(super) fn block_comment_end(s: &[u8], i: usize, nested: bool) -> usize {
    let mut depth = 0usize;
    let mut j = i;
    while j + 1 < s.len() {
        if s[j] == b'/' && s[j + 1] == b'*' && (nested || depth == 0) {
            depth += 1;
            j += 2;
        } else if s[j] == b'*' && s[j + 1] == b'/' {
            depth -= 1;
            j += 2;
            if depth == 0 {
                return j;
            }
        } else {
            j += 1;
        }
    }
    s.len()
}

/// Whether a MySQL `--` at `i` starts a comment (it needs whitespace or a control character
/// after it, or the end of the text).
pub(super) fn mysql_dash_comment(s: &[u8], i: usize) -> bool {
    s[i..].starts_with(b"--") && s.get(i + 2).is_none_or(|b| *b <= b' ')
}

/// Where a line comment starting at `i` ends: PostgreSQL ends it at a newline or a carriage
/// return, MySQL and MariaDB at a newline only (tested against both servers).
pub(super) fn line_end(s: &[u8], i: usize, carriage_return_too: bool) -> usize {
    s[i..]
        .iter()
        .position(|b| *b == b'\n' || (carriage_return_too && *b == b'\r'))
        .map_or(s.len(), |p| i + p)
}

/// Scans `sql`: its fingerprint appended to `out`, and, when asked for, the byte ranges of its
/// statements.
#[allow(clippy::many_single_char_names)] // s, i, j, b: the usual names in a lexer
fn scan_into(
    sql: &str,
    dialect: SqlDialect,
    out: &mut String,
    mut statements: Option<&mut Vec<std::ops::Range<usize>>>,
) {
    let s = sql.as_bytes();
    let my = dialect == SqlDialect::Mysql;
    out.reserve(sql.len());
    let mut stmt_start = 0;
    let mut stmt_has_code = false;
    let mut space = false;
    let mut i = 0;
    // Pushes a token, preceded by one space if whitespace or a comment came before it.
    macro_rules! emit {
        ($text:expr) => {{
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            stmt_has_code = true;
            out.push_str($text);
        }};
    }
    while i < s.len() {
        let b = s[i];
        // Comments and whitespace.
        if CLASSES[usize::from(b)] & SPACE != 0 {
            space = true;
            i += 1;
            continue;
        }
        if (b == b'-' && !my && s.get(i + 1) == Some(&b'-'))
            || (my && (b == b'#' || mysql_dash_comment(s, i)))
        {
            i = line_end(s, i, !my);
            space = true;
            continue;
        }
        if b == b'/' && s.get(i + 1) == Some(&b'*') {
            let end = block_comment_end(s, i, !my);
            if my && s.get(i + 2) == Some(&b'+') {
                // An optimizer hint is code to MySQL (`SET_VAR`...): kept whole.
                emit!(&sql[i..end]);
            } else {
                space = true;
            }
            i = end;
            continue;
        }
        // Literals.
        let literal_end = match b {
            b'\'' => Some(quoted_end(s, i, b'\'', my)),
            b'"' if my => Some(quoted_end(s, i, b'"', true)),
            b'$' if !my => {
                if let Some(tag_len) = dollar_tag(s, i) {
                    let tag = &s[i..i + tag_len];
                    let body = i + tag_len;
                    Some(
                        s[body..]
                            .windows(tag_len)
                            .position(|w| w == tag)
                            .map_or(s.len(), |p| body + p + tag_len),
                    )
                } else {
                    // $1 placeholder.
                    let mut j = i + 1;
                    while j < s.len() && s[j].is_ascii_digit() {
                        j += 1;
                    }
                    (j > i + 1).then_some(j)
                }
            }
            b'0'..=b'9' => {
                let mut j = i;
                while j < s.len() && (s[j].is_ascii_alphanumeric() || s[j] == b'.' || s[j] == b'_')
                {
                    // An exponent's sign belongs to the number.
                    if (s[j] == b'e' || s[j] == b'E')
                        && matches!(s.get(j + 1), Some(b'+' | b'-'))
                        && s[i..j].iter().all(|c| c.is_ascii_digit() || *c == b'.')
                    {
                        j += 1;
                    }
                    j += 1;
                }
                let token = &s[i..j];
                // `1abc` (MySQL identifiers may start with a digit) stays a word; plain numbers,
                // exponents and 0x/0b literals become placeholders.
                let numeric = token.iter().all(|c| c.is_ascii_digit() || *c == b'.')
                    || token.starts_with(b"0x")
                    || token.starts_with(b"0b")
                    || token
                        .iter()
                        .position(|c| *c == b'e' || *c == b'E')
                        .is_some_and(|e| {
                            token[..e].iter().all(|c| c.is_ascii_digit() || *c == b'.')
                                && token[e + 1..].iter().enumerate().all(|(k, c)| {
                                    c.is_ascii_digit() || (k == 0 && (*c == b'+' || *c == b'-'))
                                })
                        });
                if numeric && (j >= s.len() || !is_word_byte(s[j])) {
                    Some(j)
                } else {
                    let k = word_end(s, j);
                    emit!(&sql[i..k]);
                    i = k;
                    continue;
                }
            }
            b'.' if s.get(i + 1).is_some_and(u8::is_ascii_digit)
                && !out.ends_with(|c: char| c.is_alphanumeric() || c == '_') =>
            {
                let mut j = i + 1;
                while j < s.len() && s[j].is_ascii_digit() {
                    j += 1;
                }
                Some(j)
            }
            b'?' if my => Some(i + 1),
            _ => None,
        };
        if let Some(end) = literal_end {
            emit!("?");
            i = end;
            continue;
        }
        // Quoted identifiers stay as they are.
        if (b == b'"' && !my) || (b == b'`' && my) {
            let end = quoted_end(s, i, b, false);
            emit!(&sql[i..end]);
            i = end;
            continue;
        }
        if is_word_byte(b) {
            let j = word_end(s, i);
            // PostgreSQL escape strings E'...' (and U&'...', B'...', X'...' prefixes).
            if !my && s.get(j) == Some(&b'\'') && (j - i == 1) && matches!(b, b'e' | b'E') {
                let end = quoted_end(s, j, b'\'', true);
                emit!(&sql[i..j]);
                out.push('?');
                i = end;
                continue;
            }
            emit!(&sql[i..j]);
            i = j;
            continue;
        }
        if b == b';' {
            if stmt_has_code && let Some(statements) = statements.as_mut() {
                statements.push(stmt_start..i);
            }
            stmt_start = i + 1;
            stmt_has_code = false;
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.push(';');
            i += 1;
            continue;
        }
        // Any other character (operators, punctuation), one at a time; multi-byte UTF-8
        // sequences were taken as word bytes above.
        emit!(&sql[i..=i]);
        i += 1;
    }
    if stmt_has_code && let Some(statements) = statements {
        statements.push(stmt_start..s.len());
    }
}

/// The length of the MySQL executable-comment marker at `i` (`/*!` 3, `/*M!` 4; 0 for none),
/// and whether no server runs the comment: version 99.99.99 (`/*M!999999 ... */`, MariaDB's
/// mysqldump writes its sandbox-mode marker so) is above every server's, so it stays a comment.
/// Exactly six digits: a longer run is a version and code.
pub(super) fn executable_marker(s: &[u8], i: usize) -> (usize, bool) {
    let marker = if s[i..].starts_with(b"/*!") {
        3
    } else if s[i..].starts_with(b"/*M!") {
        4
    } else {
        0
    };
    let never = marker > 0
        && s[i + marker..].starts_with(b"999999")
        && !s.get(i + marker + 6).is_some_and(u8::is_ascii_digit);
    (marker, never)
}

/// MySQL executable comments: `/*!` or `/*M!`, an optional version number, then code up to
/// `*/`. Returns the text with the markers blanked out, or `None` when there are none.
fn expand_executable_comments(sql: &str) -> Option<String> {
    let s = sql.as_bytes();
    if !sql.contains("/*!") && !sql.contains("/*M!") {
        return None;
    }
    let mut out = String::with_capacity(sql.len());
    let mut i = 0;
    let mut inside = false;
    let mut copied = 0;
    let mut found = false;
    while i < s.len() {
        let b = s[i];
        match b {
            b'\'' | b'"' | b'`' => {
                i = quoted_end(s, i, b, b != b'`');
            }
            b'#' => i = line_end(s, i, false),
            b'-' if mysql_dash_comment(s, i) => i = line_end(s, i, false),
            b'/' if s.get(i + 1) == Some(&b'*') => {
                let (marker, never) = executable_marker(s, i);
                if never && !inside {
                    // Dropped from the code: sqlparser would read `/*!...*/` as code itself.
                    out.push_str(&sql[copied..i]);
                    out.push(' ');
                    i = block_comment_end(s, i, false);
                    copied = i;
                    found = true;
                } else if marker > 0 && !inside {
                    out.push_str(&sql[copied..i]);
                    let mut j = i + marker;
                    while j < s.len() && s[j].is_ascii_digit() {
                        j += 1;
                    }
                    out.push(' ');
                    inside = true;
                    found = true;
                    i = j;
                    copied = j;
                } else {
                    i = block_comment_end(s, i, false);
                }
            }
            b'*' if inside && s.get(i + 1) == Some(&b'/') => {
                out.push_str(&sql[copied..i]);
                out.push(' ');
                inside = false;
                i += 2;
                copied = i;
            }
            _ => i += 1,
        }
    }
    out.push_str(&sql[copied.min(s.len())..]);
    found.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fingerprint, checked to be the same from the cached path's scan into a reused
    /// buffer.
    fn norm(sql: &str, d: SqlDialect) -> String {
        let normalized = scan(sql, d).normalized;
        let mut reused = "left over from an earlier statement".to_owned();
        fingerprint_into(sql, d, &mut reused);
        assert_eq!(reused, normalized, "{sql}");
        normalized
    }

    #[test]
    fn the_class_table_is_the_byte_rules() {
        for b in 0..=255u8 {
            assert_eq!(
                is_word_byte(b),
                b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80,
                "{b}"
            );
            assert_eq!(
                CLASSES[usize::from(b)] & SPACE != 0,
                b.is_ascii_whitespace()
            );
        }
    }

    #[test]
    fn literals_become_placeholders() {
        let pg = SqlDialect::Postgres;
        assert_eq!(
            norm("SELECT abalance FROM pgbench_accounts WHERE aid = 17;", pg),
            "SELECT abalance FROM pgbench_accounts WHERE aid = ?;"
        );
        assert_eq!(
            norm("SELECT 'a''b', E'x\\'y', $$q$$, $t$ $$ $t$, $1", pg),
            "SELECT ?, E?, ?, ?, ?"
        );
        assert_eq!(
            norm("SELECT t1.c2, 1.5e-3, .5 FROM t1", pg),
            "SELECT t1.c2, ?, ? FROM t1"
        );
        assert_eq!(
            norm("SELECT 1 -- x\n /* a /* b */ c */ + 2", pg),
            "SELECT ? + ?"
        );
    }

    #[test]
    fn standard_strings_do_not_escape() {
        // With standard_conforming_strings=on, 'a\' is a complete string: the DELETE is code.
        let s = scan("SELECT 'a\\'; DELETE FROM t; --'", SqlDialect::Postgres);
        assert_eq!(s.normalized, "SELECT ?; DELETE FROM t;");
        assert_eq!(s.statements.len(), 2);
        // In MySQL the backslash escapes the quote: one string.
        let s = scan("SELECT 'a\\'; DELETE FROM t; --'", SqlDialect::Mysql);
        assert_eq!(s.normalized, "SELECT ?");
        assert_eq!(s.statements.len(), 1);
    }

    #[test]
    fn mysql_comments_and_executable_comments() {
        let my = SqlDialect::Mysql;
        assert_eq!(norm("SELECT 1--1", my), "SELECT ?--?");
        assert_eq!(norm("SELECT 1 -- c\n# d\n", my), "SELECT ?");
        let s = scan("/*M!100000 DELETE FROM t */", my);
        assert_eq!(s.normalized, "DELETE FROM t");
        assert!(s.code.is_some());
        let s = scan("SELECT 1 /*!40101 , 2 */", my);
        assert_eq!(s.normalized, "SELECT ? , ?");
        assert_eq!(norm("/* plain */ SELECT \"x\", `y`", my), "SELECT ?, `y`");
    }

    #[test]
    fn splitting() {
        let s = scan("BEGIN; ; SELECT ';'; COMMIT", SqlDialect::Postgres);
        let sql = "BEGIN; ; SELECT ';'; COMMIT";
        let parts: Vec<&str> = s.statements.iter().map(|r| sql[r.clone()].trim()).collect();
        assert_eq!(parts, ["BEGIN", "SELECT ';'", "COMMIT"]);
        assert!(scan("  -- only\n /* comments */ ", SqlDialect::Postgres).is_blank());
        assert!(scan(";", SqlDialect::Postgres).is_blank());
        assert!(scan(" ; /* c */ ;", SqlDialect::Mysql).is_blank());
        assert!(!scan("; SELECT 1", SqlDialect::Postgres).is_blank());
    }
}

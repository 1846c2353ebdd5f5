//! A stop-gap guard for `read` sessions until statement classification lands (policy issue):
//! refuse SQL that could switch the upstream session out of read-only mode.
//!
//! The upstream session starts with `default_transaction_read_only=on`, but a client could undo
//! it before any write: `BEGIN READ WRITE`, `START TRANSACTION READ WRITE`,
//! `SET [SESSION CHARACTERISTICS AS] TRANSACTION READ WRITE`, `SET transaction_read_only = off`,
//! `SET default_transaction_read_only = off; COMMIT; INSERT ...` in one message (the change is
//! reported only after the whole message ran), or `set_config(...)` with a computed name. So a
//! `read` session refuses any statement whose words (comments skipped, string literals
//! included) contain `read write`, or `set_config`, or `SET`/`RESET` together with a word
//! ending in `transaction_read_only` (reading it with `SHOW` or `current_setting` is fine). This is deliberately coarse: it only ever refuses more, never allows anything the
//! upstream would refuse, and a harmless query that mentions those words is refused too. The
//! policy issue replaces it with the parser-based classifier.

/// Length of the (possibly nested) block comment at the start of `sql`, to its end or the end
/// of the text.
fn block_comment_len(sql: &[u8]) -> usize {
    let mut depth = 0usize;
    let mut i = 0;
    while i + 1 < sql.len() {
        match (sql[i], sql[i + 1]) {
            (b'/', b'*') => {
                depth += 1;
                i += 2;
            }
            (b'*', b'/') => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return i;
                }
            }
            _ => i += 1,
        }
    }
    sql.len()
}

/// What the words seen so far say.
#[derive(Default)]
struct Seen {
    previous_was_read: bool,
    set_or_reset: bool,
    read_only_setting: bool,
}

/// Checks one word.
fn check(word: &[u8], seen: &mut Seen) -> Option<&'static str> {
    if word == b"set_config" {
        return Some("set_config");
    }
    if seen.previous_was_read && word == b"write" {
        return Some("READ WRITE");
    }
    seen.previous_was_read = word == b"read";
    seen.set_or_reset |= word == b"set" || word == b"reset";
    seen.read_only_setting |= word.ends_with(b"transaction_read_only");
    None
}

/// Why `sql` is refused in a read session, if it is.
#[must_use]
pub fn violation(sql: &[u8]) -> Option<&'static str> {
    let mut seen = Seen::default();
    let mut word = Vec::with_capacity(32);
    let mut i = 0;
    // Comments separate words and are skipped (PostgreSQL nests block comments), so
    // `READ /* x */ WRITE` reads as `READ WRITE`; string literals are words like any other.
    while i <= sql.len() {
        let b = sql.get(i).copied().unwrap_or(b' ');
        let skip = match (b, sql.get(i + 1)) {
            (b'-', Some(b'-')) => sql[i..]
                .iter()
                .position(|c| *c == b'\n')
                .unwrap_or(sql.len() - i),
            (b'/', Some(b'*')) => block_comment_len(&sql[i..]),
            _ => 0,
        };
        if skip == 0 && (b.is_ascii_alphanumeric() || b == b'_') {
            word.push(b.to_ascii_lowercase());
            i += 1;
            continue;
        }
        if !word.is_empty() {
            if let Some(v) = check(&word, &mut seen) {
                return Some(v);
            }
            word.clear();
        }
        i += skip.max(1);
    }
    // Reading the setting (SHOW, current_setting) is fine; setting or resetting it is not.
    (seen.set_or_reset && seen.read_only_setting).then_some("transaction_read_only")
}

#[cfg(test)]
mod tests {
    use super::violation;

    #[test]
    fn escapes_from_read_only_are_refused() {
        for sql in [
            "BEGIN READ WRITE",
            "begin isolation level serializable, read/**/write",
            "START TRANSACTION /* x */ READ /* y /* nested */ z */ WRITE",
            "BEGIN READ -- comment\n WRITE",
            "START TRANSACTION READ\nWRITE",
            "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
            "SET transaction_read_only = off",
            "SET default_transaction_read_only TO false; COMMIT; INSERT INTO t VALUES (1)",
            "RESET default_transaction_read_only",
            "SELECT pg_catalog.set_config('default_transaction_' || 'read_only', 'off', false)",
            "set \"transaction_read_only\" = 0",
        ] {
            assert!(violation(sql.as_bytes()).is_some(), "{sql}");
        }
    }

    #[test]
    fn ordinary_reads_pass() {
        for sql in [
            "SELECT * FROM orders WHERE id = 1",
            "BEGIN READ ONLY",
            "BEGIN; SELECT 1; COMMIT",
            "SHOW transaction_isolation",
            "SHOW default_transaction_read_only",
            "SELECT current_setting('transaction_read_only')",
            "SELECT current_setting('transaction_isolation')",
            "RESET ALL",
            "SELECT readwrite, read_write_ratio FROM stats",
        ] {
            assert_eq!(violation(sql.as_bytes()), None, "{sql}");
        }
    }
}

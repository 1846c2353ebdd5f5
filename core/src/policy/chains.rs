//! A bound on how long a chain of operators one expression may hold, checked before parsing.
//!
//! sqlparser parses `a + b + c + …` (and `OR`, `AND`, `||`, `::` casts…) into a tree as deep as
//! the chain is long: its recursion limit counts parentheses, not a chain's operators. Walking
//! and dropping that tree recurse once per operator, so one statement of 300,000 `+ 1` (1.2 MB)
//! overflowed even an 8 MiB stack and aborted the whole process, every session with it, and
//! 65,000 overflowed a 2 MiB one: any user who may log in could do that. dbward therefore counts
//! the operators of the longest chain from the statement's normalized text (literals already
//! `?`), and a statement above [`MAX_CHAIN`] is unclassifiable (`admin` only), which bounds the
//! tree's depth and so the stack the classification takes.
//!
//! The count is an upper bound of the tree's depth: every operator character run and operator
//! keyword counts, between commas at the same parenthesis level (a list's items are separate
//! trees), and a parenthesized part counts within its own level (sqlparser's recursion limit
//! bounds how deeply parentheses nest).

/// Operators in one chain, at most: `IN` lists, `VALUES` rows and select lists are separated by
/// commas and do not add up; an ORM's `a = 1 OR a = 2 OR …` counts two per term.
pub(crate) const MAX_CHAIN: usize = 4096;

/// Keywords that join two operands into one expression, or two queries into one (`UNION`…:
/// a chain of set operations is a tree as deep as it is long too).
const OPERATOR_WORDS: &[&str] = &[
    "and",
    "or",
    "xor",
    "not",
    "is",
    "like",
    "ilike",
    "similar",
    "between",
    "in",
    "collate",
    "at",
    "regexp",
    "rlike",
    "div",
    "mod",
    "escape",
    "overlaps",
    "sounds",
    "member",
    "union",
    "intersect",
    "except",
    "minus",
];

/// The number of operators in the longest chain of `normalized` (see the module docs).
pub(crate) fn longest_chain(normalized: &str) -> usize {
    let bytes = normalized.as_bytes();
    let mut levels = vec![0usize];
    let mut longest = 0;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            // Quoted identifiers are names (a doubled quote stays inside).
            b'"' | b'`' => {
                i += 1;
                while i < bytes.len() {
                    if bytes[i] == c {
                        if bytes.get(i + 1) == Some(&c) {
                            i += 1;
                        } else {
                            break;
                        }
                    }
                    i += 1;
                }
            }
            b'(' | b'[' | b'{' => levels.push(0),
            b')' | b']' | b'}' if levels.len() > 1 => {
                levels.pop();
            }
            b',' | b';' => {
                if let Some(top) = levels.last_mut() {
                    *top = 0;
                }
            }
            c if is_operator_byte(c) => {
                while bytes.get(i + 1).is_some_and(|&b| is_operator_byte(b)) {
                    i += 1;
                }
                bump(&mut levels, &mut longest);
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while bytes
                    .get(i + 1)
                    .is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$')
                {
                    i += 1;
                }
                let word = &normalized[start..=i];
                if OPERATOR_WORDS.iter().any(|w| w.eq_ignore_ascii_case(word)) {
                    bump(&mut levels, &mut longest);
                }
            }
            _ => {}
        }
        i += 1;
    }
    longest
}

/// Characters operators are made of (`?` is a literal's placeholder, `.` a name's separator).
fn is_operator_byte(c: u8) -> bool {
    matches!(
        c,
        b'+' | b'-'
            | b'*'
            | b'/'
            | b'%'
            | b'<'
            | b'>'
            | b'='
            | b'!'
            | b'|'
            | b'&'
            | b'^'
            | b'~'
            | b'#'
            | b'@'
            | b':'
    )
}

fn bump(levels: &mut [usize], longest: &mut usize) {
    if let Some(top) = levels.last_mut() {
        *top += 1;
        *longest = (*longest).max(*top);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_are_counted_per_expression() {
        assert_eq!(longest_chain("SELECT ? + ? + ?"), 2);
        assert_eq!(
            longest_chain("SELECT a FROM t WHERE a = ? OR a = ? OR a = ?"),
            5
        );
        // List items are separate trees; parentheses count in their own level.
        assert_eq!(longest_chain("SELECT ? + ?, ? + ?, ? + ? FROM t"), 1);
        assert_eq!(longest_chain("INSERT INTO t VALUES (-?, ?), (-?, ?)"), 1);
        assert_eq!(longest_chain("SELECT (? + ? + ?) * ?"), 2);
        assert_eq!(longest_chain("SELECT a::int::text::int"), 3);
        assert_eq!(longest_chain("SELECT a <= b AND b >= c"), 3);
        // Names are not operators, quoted or not.
        assert_eq!(
            longest_chain("SELECT \"a+b\"\"+\", `c-d`, andy, order_id FROM t"),
            0
        );
        let long = format!("SELECT ?{}", " + ?".repeat(MAX_CHAIN + 1));
        assert_eq!(longest_chain(&long), MAX_CHAIN + 1);
    }
}

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
//! The count is an upper bound of the tree's depth along any path from its root:
//! - every operator character run, operator keyword and subscript's `[` counts;
//! - a parenthesized part (a subexpression, a call's arguments, a subquery) starts from the
//!   count of the chain it sits in, since its tree hangs below that chain's, and the operators
//!   after it go on from its deepest item (in `(a + b) * c` the sum hangs below the product);
//! - a comma starts the next item of a list from the count its level started with (a list's
//!   items are separate trees);
//! - `CASE … END` is a level too, whose `WHEN`, `THEN` and `ELSE` start separate trees.
//!
//! So twenty parenthesized chains of 4,000 nested in one another, before or after the
//! parentheses (a tree 80,000 deep, within sqlparser's limit on parentheses), count as 80,000.

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
    "isnull",
    "notnull",
    "glob",
    "match",
];

/// The number of operators in the longest chain of `normalized` (see the module docs).
pub(crate) fn longest_chain(normalized: &str) -> usize {
    let bytes = normalized.as_bytes();
    // Per open parenthesis level: the count its items start from, the current item's, and the
    // highest an item reached.
    let mut levels = vec![Level::default()];
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
            b'(' | b'[' | b'{' => {
                // A subscript (`a[1][2]…`) deepens the tree as an operator does.
                if c == b'[' {
                    bump(&mut levels, &mut longest);
                }
                let current = levels.last().map_or(0, |l| l.current);
                levels.push(Level {
                    base: current,
                    current,
                    peak: current,
                    case: false,
                });
            }
            b')' | b']' | b'}' if levels.len() > 1 => close(&mut levels),
            b',' | b';' => {
                if let Some(level) = levels.last_mut() {
                    level.current = level.base;
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
                let in_case = levels.last().is_some_and(|l| l.case);
                if word.eq_ignore_ascii_case("case") {
                    // `CASE … END` is one operand, as a parenthesized part is; its conditions
                    // and results are separate trees below it.
                    let current = levels.last().map_or(0, |l| l.current);
                    levels.push(Level {
                        base: current,
                        current,
                        peak: current,
                        case: true,
                    });
                } else if in_case && word.eq_ignore_ascii_case("end") {
                    close(&mut levels);
                } else if in_case
                    && ["when", "then", "else"]
                        .iter()
                        .any(|w| w.eq_ignore_ascii_case(word))
                {
                    if let Some(level) = levels.last_mut() {
                        level.current = level.base;
                    }
                } else if OPERATOR_WORDS.iter().any(|w| w.eq_ignore_ascii_case(word)) {
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

/// One open parenthesis (or `CASE`) level's counts.
#[derive(Default)]
struct Level {
    base: usize,
    current: usize,
    peak: usize,
    /// A `CASE … END`, whose `WHEN`, `THEN` and `ELSE` start separate trees.
    case: bool,
}

/// Closes the innermost level: the part closed is one operand of the chain around it, so what
/// follows goes on from the part's deepest item. (In text that does not nest parentheses and
/// `CASE … END` properly, closing the wrong level only keeps counts higher: never an undercount.)
fn close(levels: &mut Vec<Level>) {
    if levels.len() > 1
        && let (Some(part), Some(outer)) = (levels.pop(), levels.last_mut())
    {
        outer.current = outer.current.max(part.peak);
        outer.peak = outer.peak.max(outer.current);
    }
}

fn bump(levels: &mut [Level], longest: &mut usize) {
    if let Some(level) = levels.last_mut() {
        level.current += 1;
        level.peak = level.peak.max(level.current);
        *longest = (*longest).max(level.current);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Repeated infix, postfix and prefix forms, 30,000 times each, classified on a 512 KiB
    /// stack: a form that builds a deep tree without counting here would overflow it and abort
    /// the test binary (`a[1][1]…` and `a NOTNULL NOTNULL…` did, at 100,000 on 2 MiB, before
    /// they counted); counted ones are refused before parsing.
    #[test]
    fn repeated_forms_never_overflow_a_small_stack() {
        use super::super::{SqlDialect, StatementClass, classify_uncached};
        const POSTFIX: &[&str] = &[
            " IS NULL",
            " IS NOT NULL",
            " ISNULL",
            " NOTNULL",
            "::int",
            " COLLATE \"C\"",
            " AT TIME ZONE 'UTC'",
            "[1]",
            " -> 'a'",
            " OR 1",
            " BETWEEN 1 AND 2",
            " LIKE 'a'",
            " IN (1)",
            " IS DISTINCT FROM 1",
            " OPERATOR(pg_catalog.+) 1",
            " = ANY(ARRAY[1])",
            " UNION SELECT 1",
            " DIV 1",
            " || 'a'",
            " MEMBER OF ('[]')",
            " SOUNDS LIKE 'a'",
            " REGEXP 'a'",
            " XOR 1",
            " ESCAPE 'x'",
        ];
        const PREFIX: &[&str] = &[
            "NOT ",
            "-",
            "~",
            "EXISTS ",
            "CAST(",
            "ROW(",
            "(",
            "ARRAY[",
            "CASE WHEN 1 THEN ",
            "BINARY ",
            "(SELECT ",
            "f(",
            "COALESCE(1, ",
        ];
        let run = || {
            let mut refused = 0;
            for dialect in [SqlDialect::Postgres, SqlDialect::Mysql] {
                for form in POSTFIX {
                    let sql = format!("SELECT a{} FROM t", form.repeat(30_000));
                    refused += usize::from(classify_uncached(&sql, dialect).class.is_none());
                }
                for form in PREFIX {
                    let sql = format!("SELECT {}1", form.repeat(30_000));
                    refused += usize::from(classify_uncached(&sql, dialect).class.is_none());
                }
            }
            refused
        };
        let refused = std::thread::Builder::new()
            .stack_size(512 * 1024)
            .spawn(run)
            .expect("thread")
            .join()
            .expect("no panic");
        // Every one of these is either past the chain bound or not SQL.
        assert_eq!(refused, 2 * (POSTFIX.len() + PREFIX.len()));
        // A long qualified name is a flat list, no chain: classified as usual.
        let name = format!("SELECT a{} FROM t", ".a".repeat(30_000));
        let c = std::thread::Builder::new()
            .stack_size(512 * 1024)
            .spawn(move || classify_uncached(&name, SqlDialect::Postgres).class)
            .expect("thread")
            .join()
            .expect("no panic");
        assert_eq!(c, Some(StatementClass::Read));
    }

    #[test]
    fn chains_are_counted_per_expression() {
        assert_eq!(longest_chain("SELECT ? + ? + ?"), 2);
        assert_eq!(
            longest_chain("SELECT a FROM t WHERE a = ? OR a = ? OR a = ?"),
            5
        );
        // List items are separate trees.
        assert_eq!(longest_chain("SELECT ? + ?, ? + ?, ? + ? FROM t"), 1);
        assert_eq!(longest_chain("INSERT INTO t VALUES (-?, ?), (-?, ?)"), 1);
        // A parenthesized part hangs below the chain it sits in.
        assert_eq!(longest_chain("SELECT (? + ? + ?) * ?"), 3);
        assert_eq!(longest_chain("SELECT ? * (? + ? + ?)"), 3);
        assert_eq!(longest_chain("SELECT ? + f(? + ?, ? + ?) + ?"), 3);
        assert_eq!(longest_chain("SELECT a::int::text::int"), 3);
        assert_eq!(longest_chain("SELECT a <= b AND b >= c"), 3);
        // Names are not operators, quoted or not.
        assert_eq!(
            longest_chain("SELECT \"a+b\"\"+\", `c-d`, andy, order_id FROM t"),
            0
        );
        let long = format!("SELECT ?{}", " + ?".repeat(MAX_CHAIN + 1));
        assert_eq!(longest_chain(&long), MAX_CHAIN + 1);
        // Chains nested in parentheses add up.
        let nested = (0..20).fold("?".to_owned(), |inner, _| {
            format!("?{} + ({inner})", " + ?".repeat(1000))
        });
        assert_eq!(longest_chain(&format!("SELECT {nested}")), 20 * 1001);
        let nested_first = (0..20).fold("?".to_owned(), |inner, _| {
            format!("({inner}){}", " + ?".repeat(1000))
        });
        assert_eq!(longest_chain(&format!("SELECT {nested_first}")), 20 * 1000);
        assert_eq!(
            longest_chain("SELECT * FROM t WHERE a IN (?, ?) AND b = ?"),
            4
        );
    }
}

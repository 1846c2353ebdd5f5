//! MySQL optimizer hints (`SELECT /*+ … */`, also after `INSERT`, `REPLACE`, `UPDATE`,
//! `DELETE`): a comment to sqlparser's statement, code to MySQL 8. Most hints only steer the
//! planner (`BKA(t)`, `INDEX(t i)`, `JOIN_ORDER(…)`), but two change the session's settings for
//! the statement: `SET_VAR(name = value)` (`foreign_key_checks`, `sql_mode`…) and
//! `MAX_EXECUTION_TIME(n)` (which overrides `max_execution_time`, so a grant's timeout
//! ceiling too), and `RESOURCE_GROUP(g)` moves the thread to another resource group.
//!
//! So each hint is read: a planner hint is `read`; `SET_VAR` and `MAX_EXECUTION_TIME` are
//! classified as the `SET SESSION` they amount to (the same settings rules, the same timeout
//! ceiling); `RESOURCE_GROUP` is `admin`; a hint dbward does not know, or hint text it cannot
//! read, makes the statement unclassifiable (MySQL ignores what it cannot parse, with a
//! warning, but a later version may give a new hint a meaning). MariaDB before 12 reads `/*+`
//! as a plain comment: there this is only stricter than needed.
//!
//! The fingerprint keeps `/*+` comments whole (see the lexer), so a cached decision for a
//! statement never answers for the same statement with hints.

/// Planner hints of MySQL 8.0/8.4 and MariaDB 12: how a plan is chosen, nothing else.
const PLANNER_HINTS: &[&str] = &[
    "bka",
    "no_bka",
    "bnl",
    "no_bnl",
    "derived_condition_pushdown",
    "no_derived_condition_pushdown",
    "group_index",
    "no_group_index",
    "hash_join",
    "no_hash_join",
    "index",
    "no_index",
    "index_merge",
    "no_index_merge",
    "join_fixed_order",
    "join_index",
    "no_join_index",
    "join_order",
    "join_prefix",
    "join_suffix",
    "merge",
    "no_merge",
    "mrr",
    "no_mrr",
    "no_icp",
    "no_range_optimization",
    "order_index",
    "no_order_index",
    "qb_name",
    "semijoin",
    "no_semijoin",
    "skip_scan",
    "no_skip_scan",
    "subquery",
    "rowid_filter",
    "no_rowid_filter",
    "split_materialized",
    "no_split_materialized",
];

/// What one hint amounts to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Hint {
    /// Steers the planner only.
    Planner,
    /// The `SET SESSION …` statement the hint amounts to, to classify as such.
    Setting(String),
    /// Moves the thread to a resource group.
    ResourceGroup,
    /// A hint dbward does not know (its name), or text it cannot read.
    Unknown(String),
}

/// The hints of one `/*+ … */` comment's text.
pub(crate) fn read(text: &str) -> Vec<Hint> {
    let mut hints = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let name_end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let name = rest[..name_end].to_ascii_lowercase();
        let after = rest[name_end..].trim_start();
        let Some(args) = after.strip_prefix('(') else {
            hints.push(Hint::Unknown(format!(
                "optimizer hint text `{}`",
                text.trim()
            )));
            return hints;
        };
        let Some(close) = closing_paren(args) else {
            hints.push(Hint::Unknown(format!(
                "optimizer hint text `{}`",
                text.trim()
            )));
            return hints;
        };
        let inner = args[..close].trim();
        hints.push(match name.as_str() {
            n if PLANNER_HINTS.contains(&n) => Hint::Planner,
            "set_var" => set_var(inner),
            "max_execution_time" if inner.bytes().all(|b| b.is_ascii_digit()) => {
                Hint::Setting(format!("SET SESSION max_execution_time = {inner}"))
            }
            "resource_group" => Hint::ResourceGroup,
            _ => Hint::Unknown(format!("optimizer hint {}", name.to_ascii_uppercase())),
        });
        rest = args[close + 1..].trim_start_matches(|c: char| c.is_whitespace() || c == ',');
    }
    hints
}

/// `SET_VAR(name = value)`: the `SET SESSION` it amounts to. Sizes may carry MySQL's `K`, `M`
/// and `G` suffixes here (`SET_VAR(sort_buffer_size = 16M)`), which `SET` does not take: they
/// are multiplied out.
fn set_var(inner: &str) -> Hint {
    let Some((name, value)) = inner.split_once('=') else {
        return Hint::Unknown(format!("optimizer hint SET_VAR({inner})"));
    };
    let (name, value) = (name.trim(), value.trim());
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Hint::Unknown(format!("optimizer hint SET_VAR({inner})"));
    }
    let value = match value.len().checked_sub(1).map(|last| value.split_at(last)) {
        Some((digits, suffix))
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) =>
        {
            let factor: Option<u64> = match suffix {
                "k" | "K" => Some(1 << 10),
                "m" | "M" => Some(1 << 20),
                "g" | "G" => Some(1 << 30),
                _ => None,
            };
            match (factor, digits.parse::<u64>()) {
                (Some(f), Ok(n)) => n.checked_mul(f).map_or(value.to_owned(), |v| v.to_string()),
                _ => value.to_owned(),
            }
        }
        _ => value.to_owned(),
    };
    Hint::Setting(format!("SET SESSION {name} = {value}"))
}

/// Where the `)` closing a hint's arguments is in `args` (after its `(`), quotes skipped.
fn closing_paren(args: &str) -> Option<usize> {
    let b = args.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b')' => return Some(i),
            b'(' => return None,
            q @ (b'\'' | b'"' | b'`') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    i += 1 + usize::from(b[i] == b'\\');
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_read_as_what_they_do() {
        assert_eq!(
            read(" BKA(t1) NO_ICP(t2 i) JOIN_ORDER(@qb1 t1, t2) "),
            [Hint::Planner, Hint::Planner, Hint::Planner]
        );
        assert_eq!(
            read("SET_VAR(sort_buffer_size = 16M) MAX_EXECUTION_TIME(1000)"),
            [
                Hint::Setting("SET SESSION sort_buffer_size = 16777216".into()),
                Hint::Setting("SET SESSION max_execution_time = 1000".into()),
            ]
        );
        assert_eq!(
            read("SET_VAR(sql_mode = 'ANSI_QUOTES')"),
            [Hint::Setting("SET SESSION sql_mode = 'ANSI_QUOTES'".into())]
        );
        assert_eq!(read("RESOURCE_GROUP(batch)"), [Hint::ResourceGroup]);
        assert!(matches!(read("NEW_HINT(x)")[..], [Hint::Unknown(_)]));
        assert!(matches!(read("BKA")[..], [Hint::Unknown(_)]));
        assert!(matches!(read("SET_VAR(a = (1))")[..], [Hint::Unknown(_)]));
        assert!(matches!(
            read("MAX_EXECUTION_TIME(1e9)")[..],
            [Hint::Unknown(_)]
        ));
        assert!(read("").is_empty());
    }
}

//! MySQL's dynamic SQL: statements that carry another statement as a string and run it.
//!
//! - MariaDB's `EXECUTE IMMEDIATE 'stmt' [USING ...]` runs the string at once;
//! - `PREPARE name FROM 'stmt'` keeps it for `EXECUTE name`, which is then read like PostgreSQL's
//!   `EXECUTE` (the statement was classified when it was prepared; a session's level never
//!   changes).
//!
//! The string is classified as the statement it is, when it is one literal holding exactly one
//! statement (the servers run no more) that needs no check at the session level. A computed
//! string (`@sql`, `CONCAT(...)`) is not something dbward can read: unclassifiable, like any
//! statement it cannot see into. The decision depends on the literal, so it is cached under the
//! exact text.

use sqlparser::ast::{Expr, ObjectName, Value};
use sqlparser::tokenizer::{Token, Tokenizer};

use super::{SqlDialect, StatementClass};

/// The class of the statement in dynamic SQL's string literal (its value, which the server
/// reads in the session's `quoting`), or why it is refused.
pub(crate) fn class_of_literal(
    value: &str,
    quoting: super::MysqlQuoting,
) -> Result<(StatementClass, String), String> {
    class_of_string(&quoting.to_default(value))
}

/// The class of dynamic SQL's statement string (in the default quoting), or why it is refused.
pub(crate) fn class_of_string(text: &str) -> Result<(StatementClass, String), String> {
    // sqlparser unescapes `\a` and `\f` to BEL and form feed, MySQL and MariaDB to `a` and `f`:
    // `'SELECT 1 --\f, LOAD_FILE(…) …'` is a comment to one and code to the other.
    if text.contains(['\u{7}', '\u{c}']) {
        return Err(
            "dynamic SQL with \\a or \\f in its string (the server and the parser unescape them \
             differently)"
                .into(),
        );
    }
    nested_class(text, SqlDialect::Mysql, false).map_err(|why| format!("dynamic SQL {why}"))
}

/// The class of SQL that a statement holds and runs (dynamic SQL's string, a PostgreSQL rule's
/// condition or commands): one statement (several only when `several`), none of which dbward
/// checks at the session level; or why it is refused, as words to follow "dynamic SQL", "a
/// rule's action"… It is classified anew, within the nesting bound of
/// [`super::classify_uncached`].
pub(crate) fn nested_class(
    text: &str,
    dialect: SqlDialect,
    several: bool,
) -> Result<(StatementClass, String), String> {
    let inner = super::classify_uncached(text, dialect);
    let Some(class) = inner.class else {
        return Err(format!("whose statement is refused ({})", inner.reason));
    };
    if inner.statements == 0 || (!several && inner.statements != 1) {
        return Err("holding other than one statement".into());
    }
    if inner.check_session || inner.use_schema.is_some() || inner.timeout.is_some() {
        return Err(format!(
            "running what dbward checks at the session level ({})",
            inner.reason
        ));
    }
    Ok((class, inner.reason))
}

/// Whether an `EXECUTE`'s name is the bare word `IMMEDIATE`: sqlparser's MySQL dialect reads
/// MariaDB's `EXECUTE IMMEDIATE 'stmt'` as a prepared statement of that name with the string as
/// its parameter (MySQL's own `EXECUTE name` takes no parameters).
pub(crate) fn names_immediate(name: Option<&ObjectName>) -> bool {
    name.is_some_and(|n| {
        matches!(n.0.as_slice(), [part] if part.as_ident().is_some_and(|i| {
            i.quote_style.is_none() && i.value.eq_ignore_ascii_case("immediate")
        }))
    })
}

/// The statement text of `EXECUTE IMMEDIATE`'s parameters, when they are one string literal.
pub(crate) fn immediate_text(parameters: &[Expr]) -> Option<&str> {
    match parameters {
        [Expr::Value(v)] => match &v.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => Some(s),
            _ => None,
        },
        _ => None,
    }
}

/// MySQL's `PREPARE name FROM 'stmt'` (which sqlparser does not parse): the statement text,
/// when the form is exactly that with one string literal. `Err(())`: a `PREPARE ... FROM` of
/// something else (`@sql`), which dbward cannot read.
pub(crate) fn prepare_from(sql: &str) -> Option<Result<String, ()>> {
    let tokens = Tokenizer::new(&sqlparser::dialect::MySqlDialect {}, sql)
        .tokenize()
        .ok()?;
    let mut significant = tokens
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)));
    let keyword = |t: Option<Token>, k: &str| matches!(t, Some(Token::Word(w)) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(k));
    if !keyword(significant.next(), "prepare")
        || !matches!(significant.next(), Some(Token::Word(_)))
        || !keyword(significant.next(), "from")
    {
        return None;
    }
    let Some(Token::SingleQuotedString(text) | Token::DoubleQuotedString(text)) =
        significant.next()
    else {
        return Some(Err(()));
    };
    let rest: Vec<_> = significant.collect();
    match rest.as_slice() {
        [] | [Token::SemiColon] => Some(Ok(text)),
        _ => Some(Err(())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepare_from_reads_one_literal() {
        assert_eq!(
            prepare_from("PREPARE s FROM 'DELETE FROM t WHERE a = ?'"),
            Some(Ok("DELETE FROM t WHERE a = ?".into()))
        );
        assert_eq!(
            prepare_from("prepare `s` from \"SELECT 'x\\\\'\" ;"),
            Some(Ok("SELECT 'x\\'".into()))
        );
        assert_eq!(prepare_from("PREPARE s FROM @q"), Some(Err(())));
        assert_eq!(prepare_from("PREPARE s FROM 'a' 'b'"), Some(Err(())));
        assert_eq!(prepare_from("PREPARE s AS SELECT 1"), None);
    }
}

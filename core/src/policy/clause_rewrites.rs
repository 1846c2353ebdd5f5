//! Clauses and expressions inside otherwise ordinary statements that sqlparser 0.63 cannot
//! parse, written the way it parses. Run by [`rewrite_for_parser`] only after the parser failed
//! on the statement as sent; the caller parses and classifies the result in full.
//!
//! Every rewrite drops or renames words, names and literals only, never an expression that could
//! call something, so the result does exactly what the original does as far as classification
//! can tell: what remains is classified as parsed.
//!
//! PostgreSQL (all `read` features users write in queries):
//! - a window frame's `EXCLUDE CURRENT ROW | GROUP | TIES | NO OTHERS` goes (which rows of the
//!   frame count);
//! - `COLLATION FOR (expr)` becomes `pg_collation_for(expr)`, the function the server runs for
//!   it (the expression stays);
//! - a join's `USING (a, b) AS j` (PostgreSQL 14) loses the alias `AS j`;
//! - `ROWS FROM (f(…), g(…))` becomes `unnest(f(…), g(…))`: the same calls, seen as arguments
//!   (a column definition list inside is not parsed, and stays refused);
//! - a recursive query's `SEARCH DEPTH|BREADTH FIRST BY c SET s` and `CYCLE c SET m [TO v DEFAULT
//!   v] USING p` (PostgreSQL 14) go: column names and literals only (which order, which rows
//!   close a cycle);
//! - a column's `COMPRESSION method` in `CREATE TABLE` goes, and so does the column list of a
//!   foreign key's `ON DELETE SET NULL|DEFAULT (a, b)`;
//! - Redshift's storage words in `CREATE TABLE` (`ENCODE codec`, a column's `DISTKEY` and
//!   `SORTKEY`, `IDENTITY(seed, step)`, `COMPOUND|INTERLEAVED SORTKEY`) and a materialized
//!   view's `AUTO REFRESH YES|NO` go;
//! - `CREATE RECURSIVE VIEW` loses `RECURSIVE` (the same query, the same objects read);
//! - `CREATE TABLE t (a, b) AS query` loses its list of column names (pgloader's `CREATE TEMP
//!   TABLE reloids(oid) AS VALUES …`);
//! - `xmlelement(name tag, …)` and `xmlpi(name target, …)` lose the name (the expressions stay);
//! - `BETWEEN SYMMETRIC`, `GROUP BY DISTINCT|ALL` and `FOR KEY SHARE` (a row lock, as `FOR
//!   SHARE` is) lose the word; the postfix `x ISNULL` becomes
//!   `x IS NULL`, `x IS [NOT] DOCUMENT` the same test for `NULL`, and a composite's expansion
//!   `(x).*` the reference `(x)`: the expressions stay;
//! - `SET SCHEMA 'x'` and `SET XML OPTION DOCUMENT|CONTENT`, the standard's spellings, become
//!   `SET search_path TO 'x'` and `SET xmloption TO …`, the settings they set;
//! - `INSERT|MERGE … OVERRIDING SYSTEM|USER VALUE` (`pg_dump --inserts` writes it for identity
//!   columns) goes: whose value an identity column takes, still a write;
//! - a storage option's `toast.` prefix (`WITH (toast.autovacuum_enabled = off)`, which
//!   `pg_dump` writes) goes, and a boolean option written without its value (`WITH
//!   (security_barrier)`) gets `= true`: storage and planner settings of the new object.
//!
//! MySQL / MariaDB:
//! - the `MOD` operator (`a MOD b`) becomes `%`, the same operator (`MOD(a, b)` parses already);
//! - `CHARACTER SET cs` / `CHARSET cs` right before a `)` (`CAST(a AS CHAR CHARACTER SET
//!   utf8mb4)`, `CONVERT(a, CHAR CHARSET latin1)`) goes: which character set a string converts
//!   to;
//! - MariaDB's system-versioned reads, `FOR SYSTEM_TIME ALL | AS OF [TIMESTAMP|TRANSACTION] v |
//!   BETWEEN v AND v | FROM v TO v` after a table, go when each `v` is literals, `INTERVAL`
//!   arithmetic and the current time only (a subquery or a function call is left for the parser
//!   to refuse);
//! - `DELETE` and `UPDATE` with more than one of `LOW_PRIORITY`, `QUICK`, `IGNORE` (sqlparser
//!   takes one) lose them: how they change rows, not what;
//! - `COMMIT|ROLLBACK … [NO] RELEASE` loses `[NO] RELEASE` (whether the server then closes the
//!   connection; dbward ends the session when it does);
//! - `DEFINER = CURRENT_USER()` loses the parentheses (the same account);
//! - `SET x := v`, MySQL's other spelling of `SET x = v`, reads as that (each assignment's
//!   first `:=` outside parentheses; one inside a value, `@b := 2`, stays an expression);
//! - `!a` becomes `NOT a`; a row lock's `WAIT n` goes; `ALTER TABLE … RENAME INDEX|KEY a TO
//!   b` reads as the `RENAME COLUMN` it parses like (names only);
//! - in a table definition (`CREATE|ALTER TABLE`), `ZEROFILL`, a column's `COMPRESSED`, a
//!   key's `[IN]VISIBLE | [NOT] IGNORED` and MariaDB's system versioning clauses go (how values
//!   are shown, stored or versioned; see `table_definition_words`); `ALTER IGNORE TABLE` and
//!   `DROP CHECK c` read as `ALTER TABLE` and `DROP CONSTRAINT c`; a DDL statement's `WAIT n` /
//!   `NOWAIT` goes (how long it waits for its lock);
//! - interval units of two parts (`YEAR_MONTH`, `DAY_SECOND`…) read as `DAY`, `SOUNDS LIKE` as
//!   `LIKE`, and `START TRANSACTION READ ONLY, WITH CONSISTENT SNAPSHOT` loses the snapshot
//!   clause (sqlparser takes it first only).
//!
//! Both: a view's `WITH [CASCADED|LOCAL] CHECK OPTION` goes (which rows writes through it may
//! store).
//!
//! [`rewrite_for_parser`]: super::recognize::rewrite_for_parser

use sqlparser::tokenizer::Token;

/// What becomes of a token.
#[derive(Clone, Copy)]
enum Edit {
    /// Written as this instead (`""`: dropped).
    Replace(&'static str),
    /// Written, then this.
    Append(&'static str),
}

/// The text of `texts` with the tokens in `edits` edited, if there are any.
fn apply(texts: &[&str], edits: &[(usize, Edit)]) -> Option<String> {
    if edits.is_empty() {
        return None;
    }
    let mut edited: Vec<Option<Edit>> = vec![None; texts.len()];
    for &(k, e) in edits {
        if let Some(slot) = edited.get_mut(k) {
            *slot = Some(e);
        }
    }
    let mut out = String::with_capacity(texts.iter().map(|t| t.len() + 8).sum());
    for (text, e) in texts.iter().zip(edited) {
        match e {
            None => out.push_str(text),
            Some(Edit::Replace(r)) => out.push_str(r),
            Some(Edit::Append(a)) => {
                out.push_str(text);
                out.push_str(a);
            }
        }
    }
    Some(out)
}

/// The tokens that are neither whitespace nor comments, by index, and a reader over them.
struct Significant<'a> {
    tokens: &'a [Token],
    at: Vec<usize>,
}

impl<'a> Significant<'a> {
    fn new(tokens: &'a [Token]) -> Self {
        let at = (0..tokens.len())
            .filter(|&k| !matches!(tokens[k], Token::Whitespace(_) | Token::EOF))
            .collect();
        Self { tokens, at }
    }

    fn len(&self) -> usize {
        self.at.len()
    }

    fn token(&self, j: usize) -> Option<&Token> {
        self.at.get(j).map(|&k| &self.tokens[k])
    }

    /// Whether the `j`th is the plain (unquoted) word `w`.
    fn word(&self, j: usize, w: &str) -> bool {
        matches!(self.token(j), Some(Token::Word(word)) if word.quote_style.is_none() && word.value.eq_ignore_ascii_case(w))
    }

    /// Whether the `j`th is one of the plain words `ws`.
    fn word_in(&self, j: usize, ws: &[&str]) -> bool {
        ws.iter().any(|w| self.word(j, w))
    }

    /// Whether the `j`th is a name: a quoted identifier or a word.
    fn name(&self, j: usize) -> bool {
        matches!(self.token(j), Some(Token::Word(_)))
    }

    fn is(&self, j: usize, t: &Token) -> bool {
        self.token(j) == Some(t)
    }

    /// Token indices of the significant tokens `from..to`.
    fn drop(&self, from: usize, to: usize, edits: &mut Vec<(usize, Edit)>) {
        edits.extend(self.at[from..to].iter().map(|&k| (k, Edit::Replace(""))));
    }

    /// For each significant token, the option list (`WITH (…)`, `SET (…)`, `RESET (…)` of a
    /// `CREATE` or `ALTER`) it is an entry of, by the word before the list's `(`.
    fn option_lists(&self) -> Vec<Option<&'static str>> {
        let mut lists = vec![None; self.len()];
        if !(self.word(0, "create") || self.word(0, "alter")) {
            return lists;
        }
        let mut open: Option<(&'static str, u32)> = None;
        for (j, list) in lists.iter_mut().enumerate() {
            match (open, self.token(j)) {
                (None, Some(Token::LParen)) if j > 0 => {
                    open = ["with", "set", "reset"]
                        .into_iter()
                        .find(|w| self.word(j - 1, w))
                        .map(|w| (w, 1));
                }
                (Some((w, depth)), Some(Token::LParen)) => open = Some((w, depth + 1)),
                (Some((w, depth)), Some(Token::RParen)) => {
                    open = (depth > 1).then_some((w, depth - 1));
                }
                (Some((w, 1)), _) => *list = Some(w),
                _ => {}
            }
        }
        lists
    }

    /// After a comma-separated list of names starting at `j`: where it ends, if there is one.
    fn after_names(&self, mut j: usize) -> Option<usize> {
        loop {
            if !self.name(j) {
                return None;
            }
            j += 1;
            if !self.is(j, &Token::Comma) {
                return Some(j);
            }
            j += 1;
        }
    }
}

/// Whether a token is a literal: a string, a number, a boolean or `NULL`.
fn is_literal(t: Option<&Token>) -> bool {
    match t {
        Some(
            Token::SingleQuotedString(_)
            | Token::EscapedStringLiteral(_)
            | Token::DollarQuotedString(_)
            | Token::NationalStringLiteral(_)
            | Token::Number(..),
        ) => true,
        Some(Token::Word(w)) if w.quote_style.is_none() => {
            ["true", "false", "null"].contains(&w.value.to_ascii_lowercase().as_str())
        }
        _ => false,
    }
}

/// A view's trailing `WITH [CASCADED|LOCAL] CHECK OPTION` (which rows it lets writes through
/// it store), as token drops, in `CREATE [OR REPLACE] VIEW` and `ALTER VIEW`.
fn view_check_option(s: &Significant<'_>, edits: &mut Vec<(usize, Edit)>) {
    // `VIEW` after `CREATE|ALTER` and the view's clauses (`OR REPLACE`, `ALGORITHM = …`,
    // `DEFINER = …`, `SQL SECURITY …`: up to 16 tokens as mysqldump writes them).
    if !(s.word(0, "create") || s.word(0, "alter"))
        || !(1..s.len().min(24)).any(|j| s.word(j, "view"))
    {
        return;
    }
    let mut end = s.len();
    if end > 0 && s.is(end - 1, &Token::SemiColon) {
        end -= 1;
    }
    if end < 3 || !(s.word(end - 1, "option") && s.word(end - 2, "check")) {
        return;
    }
    let with = if s.word_in(end - 3, &["cascaded", "local"]) {
        end.checked_sub(4)
    } else {
        Some(end - 3)
    };
    if let Some(with) = with.filter(|&w| s.word(w, "with")) {
        s.drop(with, end, edits);
    }
}

/// The PostgreSQL clause rewrites (module docs), if any applies.
pub(crate) fn postgres(tokens: &[Token], texts: &[&str]) -> Option<String> {
    let s = Significant::new(tokens);
    let options = s.option_lists();
    let mut edits = Vec::new();
    view_check_option(&s, &mut edits);
    let creates_table = s.word(0, "create")
        && (1..4).any(|j| s.word(j, "table"))
        && !(1..4).any(|j| s.word(j, "as"));
    set_standard_spellings(&s, &mut edits);
    // `CREATE [OR REPLACE] [TEMP] RECURSIVE VIEW v (cols) AS query`: the view the server builds
    // from the same query (a recursive `WITH` over it).
    if s.word(0, "create")
        && let Some(j) = (1..5).find(|&j| s.word(j, "recursive"))
        && s.word(j + 1, "view")
    {
        s.drop(j, j + 1, &mut edits);
    }
    ctas_column_names(&s, &mut edits);
    let mut j = 0;
    while j < s.len() {
        // A window frame's exclusion, right before the window's `)`.
        if s.word(j, "exclude") && j > 0 && s.word_in(j - 1, &["row", "preceding", "following"]) {
            let end = if (s.word(j + 1, "current") && s.word(j + 2, "row"))
                || (s.word(j + 1, "no") && s.word(j + 2, "others"))
            {
                j + 3
            } else if s.word_in(j + 1, &["group", "ties"]) {
                j + 2
            } else {
                j
            };
            if end > j && s.is(end, &Token::RParen) {
                s.drop(j, end, &mut edits);
                j = end;
                continue;
            }
        }
        if s.word(j, "collation") && s.word(j + 1, "for") && s.is(j + 2, &Token::LParen) {
            edits.push((s.at[j], Edit::Replace("pg_collation_for")));
            s.drop(j + 1, j + 2, &mut edits);
            j += 2;
            continue;
        }
        // `USING (a, b) AS j`: the join's alias.
        if s.word(j, "using")
            && s.is(j + 1, &Token::LParen)
            && let Some(close) = s.after_names(j + 2)
            && s.is(close, &Token::RParen)
            && s.word(close + 1, "as")
            && s.name(close + 2)
        {
            s.drop(close + 1, close + 3, &mut edits);
            j = close + 3;
            continue;
        }
        if s.word(j, "rows")
            && s.word(j + 1, "from")
            && s.is(j + 2, &Token::LParen)
            && j > 0
            && (s.word_in(j - 1, &["from", "join", "lateral"]) || s.is(j - 1, &Token::Comma))
        {
            edits.push((s.at[j], Edit::Replace("unnest")));
            s.drop(j + 1, j + 2, &mut edits);
            j += 2;
            continue;
        }
        // Redshift's storage words in `CREATE TABLE`: a column's `ENCODE codec`, `DISTKEY`,
        // `SORTKEY` and `IDENTITY(seed, step)`, and the table's `COMPOUND | INTERLEAVED` before
        // `SORTKEY (…)` (how rows are compressed, spread over nodes and sorted).
        if creates_table && j > 0 {
            let end = if s.word(j, "encode") && s.name(j + 1) {
                j + 2
            } else if (s.word_in(j, &["distkey", "sortkey"]) && !s.is(j + 1, &Token::LParen))
                || (s.word_in(j, &["compound", "interleaved"]) && s.word(j + 1, "sortkey"))
            {
                j + 1
            } else if s.word(j, "identity")
                && s.is(j + 1, &Token::LParen)
                && matches!(s.token(j + 2), Some(Token::Number(..)))
                && s.is(j + 3, &Token::Comma)
                && matches!(s.token(j + 4), Some(Token::Number(..)))
                && s.is(j + 5, &Token::RParen)
            {
                j + 6
            } else {
                j
            };
            if end > j {
                s.drop(j, end, &mut edits);
                j = end;
                continue;
            }
        }
        // A Redshift materialized view's `AUTO REFRESH YES|NO` (when the cluster refreshes it).
        if s.word(0, "create")
            && s.word(j, "auto")
            && s.word(j + 1, "refresh")
            && s.word_in(j + 2, &["yes", "no"])
            && (1..4).any(|k| s.word(k, "materialized"))
        {
            s.drop(j, j + 3, &mut edits);
            j += 3;
            continue;
        }
        // A column's `COMPRESSION method` in `CREATE TABLE` (how its values are stored).
        if s.word(j, "compression")
            && creates_table
            && s.name(j + 1)
            && !s.is(j + 2, &Token::LParen)
        {
            s.drop(j, j + 2, &mut edits);
            j += 2;
            continue;
        }
        // `BETWEEN [A]SYMMETRIC`, `GROUP BY DISTINCT|ALL`: which bounds or groupings, not
        // what; `FOR KEY SHARE`: a weaker row lock than `FOR SHARE`, a lock all the same.
        if (s.word_in(j, &["symmetric", "asymmetric"]) && j > 0 && s.word(j - 1, "between"))
            || (s.word_in(j, &["distinct", "all"])
                && j > 1
                && s.word(j - 1, "by")
                && s.word(j - 2, "group"))
            || (s.word(j, "key") && j > 0 && s.word(j - 1, "for") && s.word(j + 1, "share"))
        {
            s.drop(j, j + 1, &mut edits);
            j += 1;
            continue;
        }
        // `xmlelement(name tag, …)`, `xmlpi(name target, …)`: the element's name goes, the
        // expressions stay as the call's arguments.
        if s.word_in(j, &["xmlelement", "xmlpi"])
            && s.is(j + 1, &Token::LParen)
            && s.word(j + 2, "name")
            && s.name(j + 3)
        {
            let end = if s.is(j + 4, &Token::Comma) {
                j + 5
            } else {
                j + 4
            };
            s.drop(j + 2, end, &mut edits);
            j = end;
            continue;
        }
        // A foreign key's `ON DELETE SET NULL|DEFAULT (columns)` (PostgreSQL 15): which columns
        // the action sets.
        if s.word_in(j, &["null", "default"])
            && j > 2
            && s.word(j - 1, "set")
            && s.word(j - 2, "delete")
            && s.word(j - 3, "on")
            && s.is(j + 1, &Token::LParen)
            && let Some(close) = s.after_names(j + 2)
            && s.is(close, &Token::RParen)
        {
            s.drop(j + 1, close + 1, &mut edits);
            j = close + 1;
            continue;
        }
        // The postfix `x ISNULL` is `x IS NULL`; `IS [NOT] DOCUMENT` a test of `x` as that is.
        if s.word(j, "isnull") && j > 0 && !s.is(j + 1, &Token::LParen) {
            edits.push((s.at[j], Edit::Replace("IS NULL")));
            j += 1;
            continue;
        }
        if s.word(j, "document")
            && j > 0
            && (s.word(j - 1, "is") || (s.word(j - 1, "not") && j > 1 && s.word(j - 2, "is")))
        {
            edits.push((s.at[j], Edit::Replace("NULL")));
            j += 1;
            continue;
        }
        // A composite's expansion `(x).*`: the reference to `x` stays.
        if s.is(j, &Token::RParen) && s.is(j + 1, &Token::Period) && s.is(j + 2, &Token::Mul) {
            s.drop(j + 1, j + 3, &mut edits);
            j += 3;
            continue;
        }
        if s.word(j, "overriding")
            && s.word_in(j + 1, &["system", "user"])
            && s.word(j + 2, "value")
        {
            s.drop(j, j + 3, &mut edits);
            j += 3;
            continue;
        }
        // An option list's entries: `toast.name = v`, or a boolean `name` alone.
        if let Some(list) = options[j]
            && (s.is(j - 1, &Token::LParen) || s.is(j - 1, &Token::Comma))
        {
            if s.word(j, "toast") && s.is(j + 1, &Token::Period) && s.name(j + 2) {
                s.drop(j, j + 2, &mut edits);
                j += 2;
                continue;
            }
            if list != "reset"
                && s.name(j)
                && (s.is(j + 1, &Token::Comma) || s.is(j + 1, &Token::RParen))
            {
                edits.push((s.at[j], Edit::Append(" = true")));
            }
        }
        if j > 0
            && s.is(j - 1, &Token::RParen)
            && let Some(end) = search_or_cycle(&s, j)
        {
            s.drop(j, end, &mut edits);
            j = end;
            continue;
        }
        j += 1;
    }
    apply(texts, &edits)
}

/// `SET [SESSION|LOCAL] SCHEMA 'x'` and `SET … XML OPTION DOCUMENT|CONTENT`, the SQL standard's
/// spellings of `search_path` and `xmloption`, written as those settings.
fn set_standard_spellings(s: &Significant<'_>, edits: &mut Vec<(usize, Edit)>) {
    if !s.word(0, "set") {
        return;
    }
    let j = if s.word_in(1, &["session", "local"]) {
        2
    } else {
        1
    };
    if s.word(j, "schema") && matches!(s.token(j + 1), Some(Token::SingleQuotedString(_))) {
        edits.push((s.at[j], Edit::Replace("search_path TO")));
    } else if s.word(j, "xml")
        && s.word(j + 1, "option")
        && s.word_in(j + 2, &["document", "content"])
    {
        edits.push((s.at[j], Edit::Replace("xmloption")));
        edits.push((s.at[j + 1], Edit::Replace("TO")));
    }
}

/// Words of a MySQL/MariaDB table definition that only say how a column or key is shown, stored
/// or versioned, starting at `j`: where they end. `ZEROFILL` (display padding), a string
/// column's `BINARY` (its collation), MariaDB's
/// column `COMPRESSED`, a key's `VISIBLE | INVISIBLE | IGNORED | NOT IGNORED`, MariaDB's system
/// versioning (`WITH[OUT] SYSTEM VERSIONING`, `GENERATED ALWAYS AS ROW START|END`, `, PERIOD FOR
/// SYSTEM_TIME (start, end)`, `, ADD|DROP SYSTEM VERSIONING`, `, ADD PERIOD FOR SYSTEM_TIME (…)`
/// in an `ALTER` list).
fn table_definition_words(s: &Significant<'_>, j: usize) -> Option<usize> {
    const AFTER_COMPRESSED: &[&str] = &[
        "default",
        "not",
        "null",
        "comment",
        "collate",
        "character",
        "charset",
        "invisible",
    ];
    let ends_element = |k: usize| {
        k >= s.len()
            || s.is(k, &Token::Comma)
            || s.is(k, &Token::RParen)
            || s.is(k, &Token::SemiColon)
    };
    if s.word(j, "zerofill") {
        return Some(j + 1);
    }
    // A string column's `BINARY` attribute (`CHAR(36) BINARY`, as Sequelize writes UUIDs): the
    // character set's binary collation. The type `BINARY(n)` is followed by its length.
    if s.word(j, "binary")
        && j > 0
        && (s.is(j - 1, &Token::RParen) || s.name(j - 1))
        && !s.word_in(j - 1, &["as", "default", "by", "with"])
        && (ends_element(j + 1)
            || s.word_in(
                j + 1,
                &[
                    "not",
                    "null",
                    "default",
                    "collate",
                    "comment",
                    "primary",
                    "unique",
                    "character",
                    "charset",
                    "auto_increment",
                ],
            ))
    {
        return Some(j + 1);
    }
    if s.word(j, "compressed")
        && j > 0
        && !s.is(j - 1, &Token::Eq)
        && !s.word(j - 1, "row_format")
        && (ends_element(j + 1) || s.word_in(j + 1, AFTER_COMPRESSED))
    {
        return Some(j + 1);
    }
    if j > 0
        && (s.is(j - 1, &Token::RParen)
            || matches!(s.token(j - 1), Some(Token::SingleQuotedString(_))))
    {
        if s.word_in(j, &["visible", "invisible", "ignored"]) && ends_element(j + 1) {
            return Some(j + 1);
        }
        if s.word(j, "not") && s.word(j + 1, "ignored") && ends_element(j + 2) {
            return Some(j + 2);
        }
    }
    if s.word_in(j, &["with", "without"]) && s.word(j + 1, "system") && s.word(j + 2, "versioning")
    {
        return Some(j + 3);
    }
    if s.word(j, "generated")
        && s.word(j + 1, "always")
        && s.word(j + 2, "as")
        && s.word(j + 3, "row")
        && s.word_in(j + 4, &["start", "end"])
    {
        return Some(j + 5);
    }
    // The list's elements: `, [ADD] PERIOD FOR SYSTEM_TIME (a, b)`, `, ADD|DROP SYSTEM
    // VERSIONING`, `, DROP PERIOD FOR SYSTEM_TIME`, comma included.
    if s.is(j, &Token::Comma) {
        let k = j + 1 + usize::from(s.word_in(j + 1, &["add", "drop"]));
        if s.word(k, "period") && s.word(k + 1, "for") && s.word(k + 2, "system_time") {
            if s.is(k + 3, &Token::LParen)
                && s.name(k + 4)
                && s.is(k + 5, &Token::Comma)
                && s.name(k + 6)
                && s.is(k + 7, &Token::RParen)
            {
                return Some(k + 8);
            }
            return ends_element(k + 3).then_some(k + 3);
        }
        if k == j + 2 && s.word(k, "system") && s.word(k + 1, "versioning") && ends_element(k + 2) {
            return Some(k + 2);
        }
    }
    None
}

/// After a recursive query's `SEARCH …` or `CYCLE …` clause starting at `j`, if one does.
fn search_or_cycle(s: &Significant<'_>, j: usize) -> Option<usize> {
    if s.word(j, "search") {
        if !(s.word_in(j + 1, &["depth", "breadth"])
            && s.word(j + 2, "first")
            && s.word(j + 3, "by"))
        {
            return None;
        }
        let set = s.after_names(j + 4)?;
        return (s.word(set, "set") && s.name(set + 1)).then_some(set + 2);
    }
    if s.word(j, "cycle") {
        let set = s.after_names(j + 1)?;
        if !(s.word(set, "set") && s.name(set + 1)) {
            return None;
        }
        let mut using = set + 2;
        if s.word(using, "to") {
            if !(is_literal(s.token(using + 1))
                && s.word(using + 2, "default")
                && is_literal(s.token(using + 3)))
            {
                return None;
            }
            using += 4;
        }
        return (s.word(using, "using") && s.name(using + 1)).then_some(using + 2);
    }
    None
}

/// The MySQL clause rewrites (module docs), if any applies.
pub(crate) fn mysql(tokens: &[Token], texts: &[&str]) -> Option<String> {
    const MODIFIERS: &[&str] = &["low_priority", "quick", "ignore"];
    /// Interval units of two parts (reserved words: never a name).
    const COMPOUND_UNITS: &[&str] = &[
        "year_month",
        "day_hour",
        "day_minute",
        "day_second",
        "hour_minute",
        "hour_second",
        "minute_second",
        "day_microsecond",
        "hour_microsecond",
        "minute_microsecond",
        "second_microsecond",
    ];
    let s = Significant::new(tokens);
    let mut edits = Vec::new();
    view_check_option(&s, &mut edits);
    set_assignments(&s, &mut edits);
    // `START TRANSACTION READ ONLY, WITH CONSISTENT SNAPSHOT`: the snapshot clause and its
    // comma go when they follow the modes (sqlparser takes the clause first only).
    if s.word(0, "start")
        && s.word(1, "transaction")
        && let Some(j) = (3..s.len()).find(|&j| {
            s.is(j - 1, &Token::Comma)
                && s.word(j, "with")
                && s.word(j + 1, "consistent")
                && s.word(j + 2, "snapshot")
        })
    {
        s.drop(j - 1, j + 3, &mut edits);
    }
    if s.word(0, "delete") || s.word(0, "update") {
        let end = (1..s.len())
            .find(|&j| !s.word_in(j, MODIFIERS))
            .unwrap_or(s.len());
        if end > 2 {
            s.drop(1, end, &mut edits);
        }
    }
    if s.word(0, "commit") || s.word(0, "rollback") {
        let mut j = 1 + usize::from(s.word(1, "work"));
        if s.word(j, "and") {
            let no = s.word(j + 1, "no");
            j += 1 + usize::from(no);
            if !s.word(j, "chain") || !no {
                return None;
            }
            j += 1;
        }
        let release = j + usize::from(s.word(j, "no"));
        let ends = |k: usize| k == s.len() || s.is(k, &Token::SemiColon);
        if s.word(release, "release") && ends(release + 1) {
            s.drop(j, release + 1, &mut edits);
        }
        return apply(texts, &edits);
    }
    let alters_table = s.word(0, "alter") && (1..3).any(|j| s.word(j, "table"));
    let defines_table = alters_table
        || (s.word(0, "create") && (1..5).any(|j| s.word(j, "table")) && !s.word(1, "index"));
    let is_ddl = s.word_in(0, &["alter", "create", "drop", "truncate", "rename"]);
    // MariaDB's `ALTER IGNORE TABLE` (rows a new unique key would duplicate are deleted: a
    // `ddl` grant writes anyway).
    if s.word(0, "alter") && s.word(1, "ignore") && s.word(2, "table") {
        s.drop(1, 2, &mut edits);
    }
    let mut j = 0;
    while j < s.len() {
        if defines_table && let Some(end) = table_definition_words(&s, j) {
            s.drop(j, end, &mut edits);
            j = end;
            continue;
        }
        // `ALTER TABLE … DROP CHECK c` (MySQL 8) drops the constraint `c`.
        if alters_table && s.word(j, "check") && j > 0 && s.word(j - 1, "drop") && s.name(j + 1) {
            edits.push((s.at[j], Edit::Replace("CONSTRAINT")));
        }
        // A DDL statement's `WAIT n` / `NOWAIT` after a name (MariaDB): how long it waits for
        // the metadata lock.
        if is_ddl && j > 1 && s.name(j - 1) && !s.word_in(j - 1, &["table", "index"]) {
            if s.word(j, "wait") && matches!(s.token(j + 1), Some(Token::Number(..))) {
                s.drop(j, j + 2, &mut edits);
                j += 2;
                continue;
            }
            if s.word(j, "nowait") {
                s.drop(j, j + 1, &mut edits);
                j += 1;
                continue;
            }
        }
        // `!a` is `NOT a` (MySQL's `!` is that operator only; `!=` is one token of its own).
        if s.is(j, &Token::ExclamationMark) && texts.get(s.at[j]) == Some(&"!") {
            edits.push((s.at[j], Edit::Replace("NOT ")));
        }
        // A row lock's `WAIT n` (MariaDB): how long it waits for the lock, not which. (After
        // `LOCK IN SHARE MODE`, which sqlparser lacks, see `strip_locking_clause`.)
        if s.word(j, "wait")
            && j > 0
            && s.word_in(j - 1, &["update", "share"])
            && matches!(s.token(j + 1), Some(Token::Number(..)))
        {
            s.drop(j, j + 2, &mut edits);
            j += 2;
            continue;
        }
        // `ALTER TABLE … RENAME INDEX|KEY a TO b` renames an index as `RENAME COLUMN` renames
        // a column: names only.
        if alters_table
            && s.word_in(j, &["index", "key"])
            && j > 0
            && s.word(j - 1, "rename")
            && s.name(j + 1)
            && s.word(j + 2, "to")
        {
            edits.push((s.at[j], Edit::Replace("COLUMN")));
        }
        // `DEFINER = CURRENT_USER()`: the function's parentheses, which sqlparser takes only
        // for views.
        if s.word(j, "definer")
            && s.is(j + 1, &Token::Eq)
            && s.word(j + 2, "current_user")
            && s.is(j + 3, &Token::LParen)
            && s.is(j + 4, &Token::RParen)
        {
            s.drop(j + 3, j + 5, &mut edits);
            j += 5;
            continue;
        }
        if s.word_in(j, COMPOUND_UNITS) {
            edits.push((s.at[j], Edit::Replace("DAY")));
        }
        // `a SOUNDS LIKE b` compares soundex codes: a comparison as `LIKE` is.
        if s.word(j, "sounds") && s.word(j + 1, "like") && j > 0 {
            s.drop(j, j + 1, &mut edits);
            j += 1;
            continue;
        }
        if s.word(j, "mod") && j > 0 && !s.is(j + 1, &Token::LParen) {
            edits.push((s.at[j], Edit::Replace("%")));
        }
        let charset = if s.word(j, "character") && s.word(j + 1, "set") {
            Some(j + 2)
        } else if s.word(j, "charset") {
            Some(j + 1)
        } else {
            None
        };
        if let Some(name) = charset
            && j > 0
            && (s.name(name) || matches!(s.token(name), Some(Token::SingleQuotedString(_))))
            && s.is(name + 1, &Token::RParen)
        {
            s.drop(j, name + 1, &mut edits);
            j = name + 1;
            continue;
        }
        if s.word(j, "for")
            && s.word(j + 1, "system_time")
            && let Some(end) = system_time(&s, j + 2)
        {
            s.drop(j, end, &mut edits);
            j = end;
            continue;
        }
        j += 1;
    }
    apply(texts, &edits)
}

/// `SET a := 1, @@b := 2`: each assignment's `:=` (the first one at the statement's own
/// depth after `SET` or a comma) becomes `=`.
fn set_assignments(s: &Significant<'_>, edits: &mut Vec<(usize, Edit)>) {
    if !s.word(0, "set") {
        return;
    }
    let mut depth = 0u32;
    let mut assigned = false;
    for j in 1..s.len() {
        match s.token(j) {
            Some(Token::LParen) => depth += 1,
            Some(Token::RParen) => depth = depth.saturating_sub(1),
            Some(Token::Comma) if depth == 0 => assigned = false,
            Some(Token::Eq) if depth == 0 => assigned = true,
            Some(Token::Assignment) if depth == 0 && !assigned => {
                edits.push((s.at[j], Edit::Replace("=")));
                assigned = true;
            }
            _ => {}
        }
    }
}

/// `CREATE [TEMP] TABLE [IF NOT EXISTS] t (a, b) [WITH (…)] AS query`: the list names the
/// query's columns (sqlparser wants each typed) and goes.
fn ctas_column_names(s: &Significant<'_>, edits: &mut Vec<(usize, Edit)>) {
    let Some(table) = (1..5).find(|&j| s.word(j, "table")) else {
        return;
    };
    if !s.word(0, "create") {
        return;
    }
    let mut j = table + 1;
    if s.word(j, "if") && s.word(j + 1, "not") && s.word(j + 2, "exists") {
        j += 3;
    }
    if !s.name(j) {
        return;
    }
    j += 1;
    if s.is(j, &Token::Period) && s.name(j + 1) {
        j += 2;
    }
    if !s.is(j, &Token::LParen) {
        return;
    }
    let Some(end) = s.after_names(j + 1).filter(|&e| s.is(e, &Token::RParen)) else {
        return;
    };
    let then = ["as", "with", "using", "on", "tablespace", "without"];
    if s.word_in(end + 1, &then) && (end + 1..s.len()).any(|k| s.word(k, "as")) {
        s.drop(j, end + 1, edits);
    }
}

/// After MariaDB's `FOR SYSTEM_TIME` range starting at `j` (after those words), if it is one
/// whose points in time are literal.
fn system_time(s: &Significant<'_>, j: usize) -> Option<usize> {
    if s.word(j, "all") {
        return Some(j + 1);
    }
    if s.word(j, "as") && s.word(j + 1, "of") {
        return after_point_in_time(s, j + 2);
    }
    let separator = if s.word(j, "between") {
        "and"
    } else if s.word(j, "from") {
        "to"
    } else {
        return None;
    };
    let mid = after_point_in_time(s, j + 1)?;
    if !s.word(mid, separator) {
        return None;
    }
    after_point_in_time(s, mid + 1)
}

/// After a point in time starting at `j`: `[TIMESTAMP|TRANSACTION]`, then literals, `INTERVAL n
/// unit`, the current time, `+` and `-`. Not empty.
fn after_point_in_time(s: &Significant<'_>, mut j: usize) -> Option<usize> {
    const UNITS: &[&str] = &[
        "microsecond",
        "second",
        "minute",
        "hour",
        "day",
        "week",
        "month",
        "quarter",
        "year",
    ];
    const NOW: &[&str] = &["current_timestamp", "now", "sysdate", "utc_timestamp"];
    if s.word_in(j, &["timestamp", "transaction"]) {
        j += 1;
    }
    let start = j;
    loop {
        let t = s.token(j);
        if is_literal(t) && !s.word(j, "null") {
            j += 1;
        } else if s.word(j, "interval") && is_literal(s.token(j + 1)) && s.word_in(j + 2, UNITS) {
            j += 3;
        } else if s.word_in(j, NOW) {
            j += 1;
            if s.is(j, &Token::LParen) && s.is(j + 1, &Token::RParen) {
                j += 2;
            }
        } else {
            break;
        }
        if matches!(s.token(j), Some(Token::Plus | Token::Minus)) {
            j += 1;
        } else {
            break;
        }
    }
    (j > start && !matches!(s.token(j - 1), Some(Token::Plus | Token::Minus))).then_some(j)
}

#[cfg(test)]
mod tests {
    use super::super::{SqlDialect, StatementClass, classify_uncached};

    fn class(sql: &str, dialect: SqlDialect) -> Option<StatementClass> {
        let d = classify_uncached(sql, dialect);
        d.class
    }

    #[test]
    fn postgres_query_clauses_classify_as_what_they_call() {
        use StatementClass::{Admin, Ddl, Read, Write};
        let pg = SqlDialect::Postgres;
        for (sql, want) in [
            (
                "SELECT sum(a) OVER (ORDER BY a ROWS BETWEEN 1 PRECEDING AND CURRENT ROW EXCLUDE CURRENT ROW) FROM t",
                Some(Read),
            ),
            (
                "SELECT sum(a) OVER w FROM t WINDOW w AS (ORDER BY a GROUPS UNBOUNDED PRECEDING EXCLUDE TIES)",
                Some(Read),
            ),
            (
                "SELECT sum(a) OVER (ROWS UNBOUNDED PRECEDING EXCLUDE NO OTHERS), sum(b) OVER (RANGE CURRENT ROW EXCLUDE GROUP) FROM t",
                Some(Read),
            ),
            ("SELECT COLLATION FOR ('a' COLLATE \"C\")", Some(Read)),
            (
                "SELECT collation for (pg_read_file('/etc/passwd'))",
                Some(Admin),
            ),
            ("SELECT j.a FROM t1 JOIN t2 USING (a, b) AS j", Some(Read)),
            (
                "SELECT * FROM ROWS FROM (generate_series(1, 2), unnest(ARRAY[1])) WITH ORDINALITY AS r(a, b, n)",
                Some(Read),
            ),
            (
                "SELECT * FROM t, ROWS FROM (nextval('s')) AS r",
                Some(Write),
            ),
            (
                "SELECT * FROM ROWS FROM (pg_terminate_backend(1), generate_series(1, 2))",
                Some(Admin),
            ),
            (
                "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 5) SEARCH DEPTH FIRST BY n SET ord SELECT * FROM t ORDER BY ord",
                Some(Read),
            ),
            (
                "WITH RECURSIVE g(id, p) AS (SELECT id, parent FROM tree UNION ALL SELECT t.id, t.parent FROM tree t, g WHERE t.parent = g.id) CYCLE id SET is_cycle TO true DEFAULT false USING path SELECT * FROM g",
                Some(Read),
            ),
            (
                "WITH RECURSIVE g(id) AS (SELECT 1 UNION SELECT id + 1 FROM g) SEARCH BREADTH FIRST BY id SET o CYCLE id SET c USING p DELETE FROM t",
                Some(Write),
            ),
            (
                "SELECT * FROM t WHERE a BETWEEN SYMMETRIC 1 AND 2",
                Some(Read),
            ),
            (
                "CREATE OR REPLACE VIEW v AS SELECT a FROM t WITH LOCAL CHECK OPTION",
                Some(Ddl),
            ),
            (
                "CREATE TABLE t (a text COMPRESSION lz4, b text COMPRESSION pglz NOT NULL)",
                Some(Ddl),
            ),
            ("SELECT 1 FROM t GROUP BY DISTINCT ROLLUP(a, b)", Some(Read)),
            ("SELECT * FROM t WHERE b NOTNULL AND c ISNULL", Some(Read)),
            ("SELECT a FROM t WHERE a IS NOT DOCUMENT", Some(Read)),
            ("SELECT (a).*, (f(b)).* FROM t", Some(Read)),
            ("SELECT (pg_terminate_backend(1)).* FROM t", Some(Admin)),
            (
                "SELECT * FROM t WHERE a BETWEEN SYMMETRIC nextval('s') AND 2",
                Some(Write),
            ),
            (
                "INSERT INTO t OVERRIDING SYSTEM VALUE VALUES (1, 'a')",
                Some(Write),
            ),
            (
                "MERGE INTO t USING s ON t.a = s.a WHEN NOT MATCHED THEN INSERT (a) OVERRIDING USER VALUE VALUES (s.a)",
                Some(Write),
            ),
            (
                "INSERT INTO t OVERRIDING SYSTEM VALUE SELECT pg_terminate_backend(1)",
                Some(Admin),
            ),
            (
                "ALTER TABLE t SET (toast.autovacuum_enabled = false)",
                Some(Ddl),
            ),
            (
                "CREATE TABLE t (a int) WITH (fillfactor = 70, toast.autovacuum_enabled = off)",
                Some(Ddl),
            ),
            (
                "CREATE VIEW v WITH (security_barrier) AS SELECT a FROM t",
                Some(Ddl),
            ),
            (
                "CREATE VIEW v WITH (check_option = local, security_invoker) AS SELECT a FROM t",
                Some(Ddl),
            ),
            ("CREATE TABLE tt OF public.mytype", Some(Ddl)),
            (
                "CREATE UNLOGGED TABLE IF NOT EXISTS tt OF mytype",
                Some(Ddl),
            ),
            ("DROP AGGREGATE IF EXISTS count_all(*)", Some(Ddl)),
            (
                "COMMENT ON AGGREGATE public.count_all(*) IS 'rows'",
                Some(Ddl),
            ),
            // A typed table's column list could hold defaults: not read past.
            ("CREATE TABLE tt OF mytype (a DEFAULT f())", None),
            // What is not plain names and literals stays unparsed: refused below admin.
            (
                "WITH RECURSIVE g(id) AS (SELECT 1) CYCLE id SET c TO f() DEFAULT false USING p SELECT 1",
                None,
            ),
            ("SELECT * FROM ROWS FROM (f() AS (a int))", None),
        ] {
            assert_eq!(
                class(sql, pg),
                want,
                "{sql}: {}",
                classify_uncached(sql, pg).reason
            );
        }
    }

    #[test]
    fn mysql_query_clauses_classify_as_what_they_call() {
        use StatementClass::{Admin, Read, Write};
        let my = SqlDialect::Mysql;
        for (sql, want) in [
            ("SELECT 7 MOD 3, a MOD 2, MOD(a, 2) FROM t", Some(Read)),
            (
                "SELECT CAST(a AS CHAR(3) CHARACTER SET utf8mb4) COLLATE utf8mb4_bin FROM t",
                Some(Read),
            ),
            ("SELECT CONVERT(a, CHAR CHARSET latin1) FROM t", Some(Read)),
            (
                "SELECT CAST(load_file('/etc/passwd') AS CHAR CHARACTER SET utf8mb4)",
                Some(Admin),
            ),
            ("SELECT * FROM t FOR SYSTEM_TIME ALL", Some(Read)),
            (
                "SELECT * FROM t FOR SYSTEM_TIME AS OF TIMESTAMP '2024-01-01 00:00:00' AS x WHERE a = 1",
                Some(Read),
            ),
            (
                "SELECT * FROM t FOR SYSTEM_TIME AS OF NOW() - INTERVAL 1 DAY",
                Some(Read),
            ),
            (
                "SELECT * FROM t FOR SYSTEM_TIME BETWEEN '2024-01-01' AND CURRENT_TIMESTAMP",
                Some(Read),
            ),
            (
                "SELECT * FROM t FOR SYSTEM_TIME FROM TRANSACTION 10 TO TRANSACTION 20",
                Some(Read),
            ),
            ("SELECT * FROM t FOR UPDATE", Some(Write)),
            (
                "DELETE LOW_PRIORITY QUICK IGNORE FROM t WHERE a = 1",
                Some(Write),
            ),
            ("UPDATE LOW_PRIORITY IGNORE t SET a = 1", Some(Write)),
            ("COMMIT RELEASE", Some(Read)),
            ("ROLLBACK WORK AND NO CHAIN NO RELEASE", Some(Read)),
            // The server takes no chain with a release.
            ("COMMIT AND CHAIN RELEASE", None),
            ("SHOW CREATE SEQUENCE s", Some(Read)),
            (
                "SELECT EXTRACT(YEAR_MONTH FROM NOW()), NOW() + INTERVAL '1 2' DAY_HOUR",
                Some(Read),
            ),
            ("SELECT a FROM t WHERE a SOUNDS LIKE 'b'", Some(Read)),
            (
                "START TRANSACTION READ ONLY, WITH CONSISTENT SNAPSHOT",
                Some(Read),
            ),
            (
                "START TRANSACTION READ WRITE, WITH CONSISTENT SNAPSHOT",
                Some(Write),
            ),
            ("SHOW INDEX FROM t WHERE Key_name = 'PRIMARY'", Some(Read)),
            ("SHOW KEYS IN db.t WHERE Non_unique = 0", Some(Read)),
            (
                "CREATE VIEW v AS SELECT 1 WITH CASCADED CHECK OPTION",
                Some(StatementClass::Ddl),
            ),
            (
                "CREATE VIEW v AS SELECT load_file('/x') WITH CHECK OPTION",
                Some(Admin),
            ),
            (
                "CREATE DEFINER = CURRENT_USER() TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1",
                Some(StatementClass::Ddl),
            ),
            (
                "CREATE DEFINER = CURRENT_USER() PROCEDURE p() SELECT 1",
                Some(StatementClass::Ddl),
            ),
            ("SHOW CREATE PACKAGE BODY db.p", Some(Read)),
            ("SHOW CREATE USER CURRENT_USER", Some(Admin)),
            // A point in time that calls or reads something is left to the parser: refused.
            (
                "SELECT * FROM t FOR SYSTEM_TIME AS OF (SELECT max(ts) FROM u)",
                None,
            ),
            ("SELECT * FROM t FOR SYSTEM_TIME AS OF @x", None),
            // Percona Toolkit's `SHOW CREATE TABLE` wrapper.
            (
                "SET @OLD_SQL_MODE := @@SQL_MODE, @@SQL_MODE := '', @OLD_QUOTE := @@SQL_QUOTE_SHOW_CREATE, @@SQL_QUOTE_SHOW_CREATE := 1",
                Some(Read),
            ),
            ("SET @@session.sql_mode := @OLD_SQL_MODE", Some(Read)),
            ("SET @a := (SELECT count(*) FROM t), @b = 2", Some(Read)),
            ("SET @a := (SELECT nextval(s))", Some(Write)),
            ("SET @@GLOBAL.max_connections := 10", Some(Admin)),
            ("SET GLOBAL max_connections := 10", Some(Admin)),
            ("SET @@session.transaction_read_only := 0", Some(Write)),
            ("SET SESSION sql_log_bin := 0", Some(Admin)),
            ("SET @a = @b := 2", Some(Read)),
        ] {
            assert_eq!(
                class(sql, my),
                want,
                "{sql}: {}",
                classify_uncached(sql, my).reason
            );
        }
    }
}

//! Statement policy: what a statement does (`read`, `write`, `ddl`, `admin`), and whether a
//! session's level allows it. Pure code, no I/O; every front door (PostgreSQL, MySQL, the
//! console's editor) asks the same [`Classifier`].
//!
//! ## How a statement is classified
//! 0. A MySQL session whose `sql_mode` has `ANSI_QUOTES` or `NO_BACKSLASH_ESCAPES` has its text
//!    written in the default quoting first ([`MysqlQuoting::to_default`], see `quoting`):
//!    everything below reads one quoting.
//! 1. [`lexer`] scans the text with the server's lexical rules: the fingerprint (literals as
//!    `?`), MySQL executable comments turned into code, statement boundaries.
//! 2. The text is parsed with `sqlparser` in the upstream's dialect. Every statement is
//!    classified by what it does ([`classify`], [`functions`], [`settings`]), and the strictest
//!    one decides for the whole string: nothing runs if any part is denied.
//! 3. When the parser fails on the whole string, a string that is exactly one `CREATE
//!    PROCEDURE|FUNCTION` with a compound body (MySQL's `BEGIN ... END`, PostgreSQL's `BEGIN
//!    ATOMIC ... END`) is `ddl` ([`routine`]); otherwise each statement
//!    is parsed alone (one the parser reads as several is refused: it reads that text
//!    otherwise than the server), and one the
//!    parser still fails on goes to [`recognize`]'s exact forms and rewrites (clauses sqlparser
//!    lacks, written the way it parses: [`clause_rewrites`]); anything else is
//!    **unclassifiable**, and only an `admin` grant may run it. Non-blank text that parses to
//!    zero statements is unclassifiable too.
//! 4. Before any of this, the gate may write the session's own upstream role or account as
//!    `CURRENT_USER` where a statement names it as an owner or definer ([`own_identity`]); a
//!    MySQL `DEFINER` naming another account is `admin` whatever the object ([`definer`]).
//!
//! ## The decision cache
//! Parsing costs about 1,000 instructions per byte, so decisions are cached in a bounded
//! concurrent cache keyed by the fingerprint: `WHERE aid = 17` and `WHERE aid = 42` share one
//! entry. An entry stores the full fingerprint and is used only when it matches exactly, so a
//! hash collision can never change a decision. A decision that read a literal's value
//! (`SET x = 'on'` vs `'off'`, `set_config('application_name', ...)` vs
//! `set_config('default_transaction_read_only', ...)`, `EXPLAIN (ANALYZE 0)`) is cached only
//! under the exact text.

mod chains;
mod classify;
mod clause_rewrites;
mod credentials;
pub mod definer;
mod dynamic;
mod functions;
#[doc(hidden)]
pub mod fuzzing;
mod hints;
mod lexer;
mod mysql_forms;
pub mod own_identity;
mod partitions;
mod pg_alter;
mod pg_definitions;
mod pg_do;
mod pg_objects;
mod pg_rules;
mod quoting;
mod recognize;
mod routine;
mod settings;

pub use quoting::MysqlQuoting;
pub use settings::{client_encoding, session_quoting};

use std::hash::{BuildHasher as _, Hash as _, Hasher as _};
use std::sync::Arc;

use sqlparser::dialect::{Dialect, MySqlDialect, PostgreSqlDialect, RedshiftSqlDialect};
use sqlparser::parser::Parser;

use crate::model::AccessLevel;

/// What a statement does, from least to most powerful. A session's level allows the classes
/// at or below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StatementClass {
    /// Changes nothing (queries, SHOW, transaction control, harmless settings).
    Read,
    /// Changes data (INSERT, UPDATE, DELETE, COPY FROM, row locks, sequences...).
    Write,
    /// Changes the schema (CREATE, ALTER, DROP, temp tables, maintenance).
    Ddl,
    /// Roles and privileges, server settings and files, extensions, other sessions.
    Admin,
}

impl StatementClass {
    /// The class's name as shown.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Ddl => "ddl",
            Self::Admin => "admin",
        }
    }

    /// Whether a session at `level` may run statements of this class.
    #[must_use]
    pub fn allowed_at(self, level: AccessLevel) -> bool {
        let needed = match self {
            Self::Read => AccessLevel::Read,
            Self::Write => AccessLevel::Write,
            Self::Ddl => AccessLevel::Ddl,
            Self::Admin => AccessLevel::Admin,
        };
        level >= needed
    }
}

/// MySQL storage engines that keep data in the database's own files (`CONNECT`, `FEDERATED`,
/// `SPIDER`, `MERGE`... reach server files or other servers).
const LOCAL_ENGINES: &[&str] = &["innodb", "myisam", "aria", "memory", "archive", "rocksdb"];

/// The SQL dialect of an upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SqlDialect {
    /// PostgreSQL with `standard_conforming_strings=on` and UTF8.
    Postgres,
    /// Amazon Redshift (PostgreSQL lexing).
    Redshift,
    /// MySQL / MariaDB with the default `sql_mode` lexing (backslash escapes, `"` strings).
    Mysql,
}

/// A statement timeout the statement sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeout {
    /// Back to the session's start-up value.
    Default,
    /// No timeout at all (0, or a value dbward cannot read).
    Off,
    /// This many milliseconds.
    Millis(u64),
}

/// The result of classifying one SQL string (one `Query` message, one `Parse`, one `COM_QUERY`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classification {
    /// The strictest class, or `None` if some statement could not be classified.
    pub class: Option<StatementClass>,
    /// What decided it (`DELETE`, `function nextval`), or why it is unclassifiable.
    pub reason: String,
    /// Statements in the string (each counts against the query quota); 0 for blank text.
    pub statements: u32,
    /// The string sets the statement timeout (checked against the grant's ceiling).
    pub timeout: Option<Timeout>,
    /// MySQL `USE schema`: the schema it switches to (the front door checks it).
    pub use_schema: Option<String>,
    /// The text may carry a password (`PASSWORD`, `IDENTIFIED`): audit it redacted
    /// ([`redact_for_audit`]); otherwise it can be stored as it is without another scan.
    pub may_carry_password: bool,
    /// MySQL: the string sets the character set or `sql_mode` to a value dbward cannot read
    /// (`SET character_set_client = @saved`, `DEFAULT`): the front door checks the session's
    /// values right after it runs ([`session_quoting`]) and ends the session if they would
    /// make the server read SQL differently. Such a statement must come alone.
    pub check_session: bool,
    /// The decision read a literal: cached under the exact text only.
    literal_sensitive: bool,
}

/// Why a statement may not run. The message names the class and the session's level.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Denial {
    /// The client-facing message.
    pub message: String,
    /// The statement's class (`None`: unclassifiable).
    pub class: Option<StatementClass>,
}

impl Classification {
    /// Whether a session at `level`, on a grant with statement-timeout ceiling
    /// `timeout_ceiling_ms`, may run this.
    pub fn check(&self, level: AccessLevel, timeout_ceiling_ms: Option<i64>) -> Result<(), Denial> {
        match self.class {
            None if level < AccessLevel::Admin => Err(Denial {
                message: format!(
                    "dbward could not classify this statement ({}); only an admin grant may run \
                     statements dbward cannot classify, and this session's grant is {level}",
                    self.reason
                ),
                class: None,
            }),
            Some(class) if !class.allowed_at(level) => Err(Denial {
                message: format!(
                    "permission denied by dbward: this statement is {} ({}), and this session's \
                     grant allows {level}",
                    class.as_str(),
                    self.reason
                ),
                class: Some(class),
            }),
            _ => match (
                self.timeout,
                timeout_ceiling_ms.and_then(|c| u64::try_from(c).ok()),
            ) {
                (Some(Timeout::Off), Some(ceiling)) => Err(Denial {
                    message: format!(
                        "permission denied by dbward: your grant limits statements to {ceiling} ms; \
                         the statement timeout cannot be switched off"
                    ),
                    class: self.class,
                }),
                (Some(Timeout::Millis(ms)), Some(ceiling)) if ms > ceiling => Err(Denial {
                    message: format!(
                        "permission denied by dbward: your grant limits statements to {ceiling} ms; \
                         {ms} ms is above it"
                    ),
                    class: self.class,
                }),
                _ => Ok(()),
            },
        }
    }
}

/// Classifies SQL, with the decision cache. Cheap to share (`Arc`).
pub struct Classifier {
    cache: quick_cache::sync::Cache<u64, Arc<CacheEntry>>,
    hasher: foldhash::quality::RandomState,
}

/// What a decision depends on besides the text: the dialect, and a MySQL session's quoting
/// (which reads dynamic SQL's strings; the text itself comes rewritten in the default one).
type Lexing = (SqlDialect, MysqlQuoting);

struct CacheEntry {
    lexing: Lexing,
    /// The fingerprint, or the exact text for literal-sensitive decisions.
    key: Box<str>,
    exact: bool,
    classification: Arc<Classification>,
}

impl Classifier {
    /// A classifier caching up to `capacity` decisions.
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            cache: quick_cache::sync::Cache::new(capacity.max(16)),
            hasher: foldhash::quality::RandomState::default(),
        }
    }

    fn hash(&self, lexing: Lexing, exact: bool, text: &str) -> u64 {
        let mut h = self.hasher.build_hasher();
        lexing.hash(&mut h);
        exact.hash(&mut h);
        text.hash(&mut h);
        h.finish()
    }

    fn lookup(&self, lexing: Lexing, exact: bool, text: &str) -> Option<Arc<Classification>> {
        let entry = self.cache.get(&self.hash(lexing, exact, text))?;
        (entry.lexing == lexing && entry.exact == exact && *entry.key == *text)
            .then(|| entry.classification.clone())
    }

    /// Classifies `sql` (one message's text, possibly several statements). A fault in the
    /// classifier (a panic) refuses the text, uncached, instead of ending the session's task
    /// with no word to the client: see [`guarded`].
    #[must_use]
    pub fn classify(&self, sql: &str, dialect: SqlDialect) -> Arc<Classification> {
        self.classify_rewritten(sql, dialect, MysqlQuoting::default())
    }

    /// Classifies the text of a MySQL session that reads quotes in `quoting`, once rewritten in
    /// the default quoting ([`MysqlQuoting::to_default`]; the caller rewrites, as it may
    /// substitute names in the rewritten text first). Strings that statements run as SQL
    /// (`PREPARE … FROM '…'`) are read in `quoting`.
    #[must_use]
    pub fn classify_rewritten(
        &self,
        sql: &str,
        dialect: SqlDialect,
        quoting: MysqlQuoting,
    ) -> Arc<Classification> {
        guarded(sql, dialect, || {
            self.classify_unguarded(sql, (dialect, quoting))
        })
        .unwrap_or_else(Arc::new)
    }

    fn classify_unguarded(&self, sql: &str, lexing: Lexing) -> Arc<Classification> {
        let (dialect, quoting) = lexing;
        if let Some(c) = self.lookup(lexing, true, sql) {
            return c;
        }
        if lexer::unusual_for_the_fingerprint(sql) {
            // Characters where lexers have disagreed (see the function): this text is decided
            // on its own, by the parser, and cached under its exact text only.
            let c = Arc::new(classify_uncached_rewritten(sql, dialect, quoting));
            self.insert(lexing, true, sql, c.clone());
            return c;
        }
        // The fingerprint goes into a buffer of this thread's: the cached path allocates
        // nothing. A miss scans again for the statements' ranges (the parse costs far more).
        thread_local! {
            static FINGERPRINT: std::cell::RefCell<String> = const {
                std::cell::RefCell::new(String::new())
            };
        }
        let hit = FINGERPRINT.with_borrow_mut(|fingerprint| {
            lexer::fingerprint_into(sql, dialect, fingerprint);
            let hit = self.lookup(lexing, false, fingerprint);
            if fingerprint.capacity() > 64 * 1024 {
                // A huge statement does not pin its size in every thread.
                *fingerprint = String::new();
            }
            hit
        });
        if let Some(c) = hit {
            return c;
        }
        let scan = lexer::scan(sql, dialect);
        let c = Arc::new(classify_scanned(sql, &scan, dialect, quoting));
        let (exact, key) = if c.literal_sensitive {
            (true, sql)
        } else {
            (false, scan.normalized.as_str())
        };
        self.insert(lexing, exact, key, c.clone());
        c
    }

    fn insert(&self, lexing: Lexing, exact: bool, key: &str, c: Arc<Classification>) {
        self.cache.insert(
            self.hash(lexing, exact, key),
            Arc::new(CacheEntry {
                lexing,
                key: key.into(),
                exact,
                classification: c,
            }),
        );
    }
}

/// The text to store in an audit row: `sql` itself, or, when it may carry a password
/// (`PASSWORD`, `IDENTIFIED`, `set_config` of a password setting...: any statement with the
/// words `password` or `identified` outside string literals), its fingerprint with every literal
/// replaced by `?`. Never a secret in the trail, at the cost of the literals of such statements.
#[must_use]
pub fn redact_for_audit(sql: &str, dialect: SqlDialect) -> std::borrow::Cow<'_, str> {
    let scan = lexer::scan(sql, dialect);
    if mentions_password(&scan.normalized) {
        std::borrow::Cow::Owned(scan.normalized)
    } else {
        std::borrow::Cow::Borrowed(sql)
    }
}

/// The statement with every literal replaced by `?` (for `audit.normalized_statements_only`).
#[must_use]
pub fn normalize_for_audit(sql: &str, dialect: SqlDialect) -> String {
    lexer::scan(sql, dialect).normalized
}

/// Whether a fingerprint (comments and literals gone) holds `--` directly followed by a
/// non-ASCII whitespace character.
fn dashes_before_unicode_space(normalized: &str) -> bool {
    normalized.match_indices("--").any(|(i, _)| {
        normalized[i + 2..]
            .chars()
            .next()
            .is_some_and(|c| !c.is_ascii() && c.is_whitespace())
    })
}

/// Statements whose body may hold `;`s of its own.
fn holds_stored_code(s: &sqlparser::ast::Statement) -> bool {
    use sqlparser::ast::Statement;
    matches!(
        s,
        Statement::CreateTrigger(_)
            | Statement::CreateProcedure { .. }
            | Statement::CreateFunction(_)
    )
}

/// Whether a fingerprint (literals already `?`) holds `U&"` in any case, PostgreSQL's
/// Unicode-escaped quoted identifier (the lexer takes it only with nothing between the three
/// characters).
fn has_unicode_escaped_identifier(normalized: &str) -> bool {
    normalized
        .as_bytes()
        .windows(3)
        .any(|w| w[0].eq_ignore_ascii_case(&b'u') && w[1] == b'&' && w[2] == b'"')
}

/// Whether a fingerprint has the words `password` (in any word) or `identified`.
fn mentions_password(normalized: &str) -> bool {
    normalized
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .any(|w| {
            let w = w.to_ascii_lowercase();
            w.contains("password") || w == "identified"
        })
}

/// How deep statements may nest inside statements that dbward classifies by what they run
/// (an event's body, a rule's action, dynamic SQL's string): each level is classified anew from
/// its text, so a chain of `CREATE EVENT … DO CREATE EVENT … DO …` cost time growing with the
/// cube of its length (200 levels, 8 KB: 23 s of CPU in a debug build) and stack with its
/// length, from any user, before any permission check. Real statements nest one level, two for
/// dynamic SQL preparing dynamic SQL.
const MAX_NESTING: u32 = 4;

thread_local! {
    /// Classifications in progress on this thread, the outermost included.
    static NESTING: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Classifies without any cache (tests, benchmarks, `dbward classify`, and the statements
/// nested in others); a classifier fault makes the text unclassifiable (see [`guarded`]), and
/// so does nesting deeper than [`MAX_NESTING`].
#[must_use]
pub fn classify_uncached(sql: &str, dialect: SqlDialect) -> Classification {
    classify_uncached_rewritten(sql, dialect, MysqlQuoting::default())
}

/// [`classify_uncached`] for a MySQL session that reads quotes in `quoting`: `sql` as sent,
/// rewritten here in the default quoting.
#[must_use]
pub fn classify_uncached_in(sql: &str, quoting: MysqlQuoting) -> Classification {
    classify_uncached_rewritten(&quoting.to_default(sql), SqlDialect::Mysql, quoting)
}

/// [`classify_uncached`] of text already rewritten in the default quoting (see
/// [`Classifier::classify_rewritten`]).
fn classify_uncached_rewritten(
    sql: &str,
    dialect: SqlDialect,
    quoting: MysqlQuoting,
) -> Classification {
    /// Gives the nesting level back however the classification ends.
    struct Level(u32);
    impl Drop for Level {
        fn drop(&mut self) {
            NESTING.set(self.0);
        }
    }
    let depth = NESTING.get();
    if depth > MAX_NESTING {
        return unclassifiable(
            format!("statements nested in statements more than {MAX_NESTING} levels deep"),
            1,
        );
    }
    NESTING.set(depth + 1);
    let _level = Level(depth);
    guarded(sql, dialect, || {
        classify_scanned(sql, &lexer::scan(sql, dialect), dialect, quoting)
    })
    .unwrap_or_else(|c| c)
}

/// Runs `classify` and turns a panic inside it into an unclassifiable decision (`Err`): refused
/// below an admin grant, as any statement dbward cannot classify, and the client hears why in
/// its own protocol rather than losing its connection. The panic is a bug
/// in dbward (the fuzz target exists to find them) and is logged with the statement's shape;
/// the decision is not cached, so the next statement of the session is classified afresh.
fn guarded<T>(
    sql: &str,
    dialect: SqlDialect,
    classify: impl FnOnce() -> T,
) -> Result<T, Classification> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(classify)).map_err(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        // The lexer may be what failed: its fingerprint is logged only if it comes out.
        let fingerprint = std::panic::catch_unwind(|| lexer::scan(sql, dialect).normalized)
            .unwrap_or_else(|_| format!("({} bytes the lexer could not read)", sql.len()));
        tracing::error!(
            ?dialect,
            %fingerprint,
            panic = %what,
            "the classifier failed on a statement; it is refused"
        );
        unclassifiable("an internal fault in dbward's classifier, logged".into(), 1)
    })
}

fn parser_dialect(dialect: SqlDialect) -> Box<dyn Dialect> {
    match dialect {
        SqlDialect::Postgres => Box::new(PostgreSqlDialect {}),
        SqlDialect::Redshift => Box::new(RedshiftSqlDialect {}),
        SqlDialect::Mysql => Box::new(MySqlDialect {}),
    }
}

fn unclassifiable(reason: String, statements: usize) -> Classification {
    Classification {
        class: None,
        reason,
        statements: u32::try_from(statements.max(1)).unwrap_or(u32::MAX),
        timeout: None,
        use_schema: None,
        may_carry_password: true,
        check_session: false,
        literal_sensitive: false,
    }
}

fn classify_scanned(
    sql: &str,
    scan: &lexer::Scan,
    dialect: SqlDialect,
    quoting: MysqlQuoting,
) -> Classification {
    let text = scan.code.as_deref().unwrap_or(sql);
    let mysql = dialect == SqlDialect::Mysql;
    let mut count = scan.statements.len();
    if scan.is_blank() {
        return Classification {
            class: Some(StatementClass::Read),
            reason: "empty query".into(),
            statements: 0,
            timeout: None,
            use_schema: None,
            may_carry_password: false,
            check_session: false,
            literal_sensitive: false,
        };
    }
    // A chain of operators parses into a tree as deep as it is long, which the walk and the
    // drop below would recurse through: bounded first (see `chains`).
    let chain = chains::longest_chain(&scan.normalized);
    if chain > chains::MAX_CHAIN {
        return unclassifiable(
            format!(
                "an expression chaining {chain} operators, more than the {} dbward parses",
                chains::MAX_CHAIN
            ),
            count,
        );
    }
    // PostgreSQL's `U&"\0070g_terminate_backend"` is the identifier pg_terminate_backend;
    // sqlparser reads `U & "..."`, so the name it reports is not the one the server calls.
    if !mysql && has_unicode_escaped_identifier(&scan.normalized) {
        return unclassifiable(
            "a Unicode-escaped identifier (U&\"...\"), which dbward does not decode".into(),
            count,
        );
    }
    // MySQL starts a `--` comment only before ASCII whitespace or a control character;
    // sqlparser also before any Unicode space (`--\u{a0}`), and would not see the code after.
    if mysql && dashes_before_unicode_space(&scan.normalized) {
        return unclassifiable(
            "`--` followed by a Unicode space (code to MySQL, a comment to the parser)".into(),
            count,
        );
    }
    let pd = parser_dialect(dialect);
    let mut findings = classify::Findings::new(mysql);
    findings.quoting = quoting;
    match Parser::parse_sql(pd.as_ref(), text) {
        Ok(statements) => {
            if statements.is_empty() {
                return unclassifiable("text that is not a statement".into(), count);
            }
            // The scan splits as the server does; where the parser split differently, it read
            // some text otherwise than the server will (a comment where the server sees code),
            // and its statements are not all the server runs. The one legitimate difference:
            // stored code whose body holds `;`s (a MySQL trigger's `BEGIN ... END`).
            if statements.len() != count
                && !(statements.len() < count && statements.iter().any(holds_stored_code))
            {
                return unclassifiable(
                    format!(
                        "the parser read {} statement(s) where the server reads {count}",
                        statements.len()
                    ),
                    count,
                );
            }
            for s in &statements {
                findings.statement(s);
            }
            // What the server runs: a MySQL trigger's `BEGIN ... END` body is one statement
            // with `;`s inside, which the scan splits at.
            count = statements.len();
        }
        Err(_)
            if (mysql && routine::is_one_mysql_routine(text))
                || (!mysql && routine::is_one_pg_atomic_routine(text)) =>
        {
            return Classification {
                class: Some(StatementClass::Ddl),
                reason: routine::STORED_CODE.into(),
                statements: 1,
                timeout: None,
                use_schema: None,
                may_carry_password: mentions_password(&scan.normalized),
                check_session: false,
                literal_sensitive: false,
            };
        }
        // An event whose body is a `BEGIN … END` block: one statement to the server, several to
        // the scan.
        Err(_) if mysql && count > 1 && mysql_forms::is_event_with_compound_body(text) => {
            let Some((class, what)) = recognize_piece(text, dialect, &mut findings) else {
                return unclassifiable("an event with a compound body".into(), count);
            };
            findings.add(class, what);
            count = 1;
        }
        Err(_) if mysql && routine::is_one_mariadb_anonymous_block(text) => {
            return Classification {
                class: Some(StatementClass::Admin),
                reason: "BEGIN NOT ATOMIC (an anonymous compound statement dbward cannot see into)"
                    .into(),
                statements: 1,
                timeout: None,
                use_schema: None,
                may_carry_password: mentions_password(&scan.normalized),
                // It may change the character set or sql_mode, as a routine it calls may.
                check_session: true,
                literal_sensitive: false,
            };
        }
        Err(whole_error) => {
            // Each statement alone; the parser's failure on one must not hide the others.
            for range in &scan.statements {
                let piece = &text[range.clone()];
                match Parser::parse_sql(pd.as_ref(), piece) {
                    // One statement to the server is several to the parser: it read a `;` as
                    // code where the server does not, so it reads this text otherwise.
                    Ok(statements)
                        if statements.len() > 1 && !statements.iter().any(holds_stored_code) =>
                    {
                        return unclassifiable(
                            format!(
                                "the parser read {} statements where the server reads one",
                                statements.len()
                            ),
                            count,
                        );
                    }
                    Ok(statements) if !statements.is_empty() => {
                        for s in &statements {
                            findings.statement(s);
                        }
                    }
                    _ => {
                        if let Some((class, what)) = recognize_piece(piece, dialect, &mut findings)
                        {
                            findings.add(class, what);
                        } else {
                            let message = Parser::parse_sql(pd.as_ref(), piece)
                                .err()
                                .map_or_else(|| whole_error.to_string(), |e| e.to_string());
                            return unclassifiable(message, count);
                        }
                    }
                }
            }
        }
    }
    if mysql && definer::names_another_account(text, &scan.statements) {
        findings.add(StatementClass::Admin, definer::ANOTHER_DEFINER);
    }
    if let Some(what) = findings.unknown.take() {
        // A refusal that read a literal (dynamic SQL's string) is cached under its exact text
        // too: another string of the same shape may well be classifiable.
        return Classification {
            literal_sensitive: findings.literal_sensitive,
            ..unclassifiable(
                format!("{what} is not a kind of statement dbward knows"),
                count,
            )
        };
    }
    if findings.check_session && count > 1 {
        findings.add(
            StatementClass::Admin,
            "a SET of the character set or sql_mode that dbward checks after it runs (a computed \
             value, or a change of quoting) must come alone: the server reads what follows in the \
             new mode",
        );
    }
    Classification {
        class: Some(findings.class),
        reason: findings.reason,
        statements: u32::try_from(count.max(1)).unwrap_or(u32::MAX),
        timeout: findings.timeout,
        use_schema: findings.use_schema.take(),
        may_carry_password: mentions_password(&scan.normalized),
        check_session: findings.check_session,
        literal_sensitive: findings.literal_sensitive,
    }
}

/// A statement the parser failed on: an exact recognized form, a statement that parses once
/// written without the forms sqlparser lacks (PostgreSQL's `OPERATOR(pg_catalog.=)` and `FROM
/// ONLY`, MySQL's `DO`, `ANALYZE stmt`...: see [`recognize::rewrite_for_parser`]), or a
/// row-locking suffix on a statement that parses without it.
fn recognize_piece(
    piece: &str,
    dialect: SqlDialect,
    findings: &mut classify::Findings,
) -> Option<(StatementClass, String)> {
    if dialect == SqlDialect::Mysql
        && let Some(text) = dynamic::prepare_from(piece)
    {
        findings.literal_sensitive = true;
        return match text
            .map_err(|()| "PREPARE of a computed string".to_owned())
            .and_then(|text| dynamic::class_of_literal(&text, findings.quoting))
        {
            Ok((class, what)) => Some((class, format!("PREPARE of {what}"))),
            Err(why) => {
                findings.unknown(why);
                Some((StatementClass::Admin, "PREPARE".into()))
            }
        };
    }
    if dialect == SqlDialect::Mysql
        && let Some(event) = mysql_forms::event(piece)
    {
        // The body's class may rest on its literals, as dynamic SQL's does.
        findings.literal_sensitive = true;
        return match event {
            Ok((class, what)) => Some((class, what)),
            Err(why) => {
                findings.unknown(why);
                Some((StatementClass::Admin, "CREATE EVENT".into()))
            }
        };
    }
    if dialect != SqlDialect::Mysql
        && let Some(block) = pg_do::block(piece)
    {
        // The block's class rests on its string, as dynamic SQL's does. A block dbward cannot
        // see into is `admin`, as every `DO` was.
        findings.literal_sensitive = true;
        return Some(block.unwrap_or_else(|why| (StatementClass::Admin, why)));
    }
    if dialect != SqlDialect::Mysql
        && let Some(rule) = pg_rules::rule(piece)
    {
        // What the rule runs may rest on its literals, as dynamic SQL's does.
        findings.literal_sensitive = true;
        return match rule {
            Ok((class, what)) => Some((class, what)),
            Err(why) => {
                findings.unknown(why);
                Some((StatementClass::Admin, "CREATE RULE".into()))
            }
        };
    }
    if dialect == SqlDialect::Mysql
        && let Some((head, clause)) = partitions::mysql_create_table(piece)
    {
        let statements = Parser::parse_sql(parser_dialect(dialect).as_ref(), &head).ok()?;
        let [table @ sqlparser::ast::Statement::CreateTable(_)] = statements.as_slice() else {
            return None;
        };
        findings.statement(table);
        if clause == partitions::Clause::ReachesOutside {
            findings.add(
                StatementClass::Admin,
                "a partition whose directory, engine or connection reaches files or other servers",
            );
        }
        return Some((StatementClass::Ddl, "CREATE TABLE … PARTITION BY".into()));
    }
    if dialect == SqlDialect::Mysql && routine::is_one_mysql_simple_routine(piece) {
        return Some((StatementClass::Ddl, routine::STORED_CODE.into()));
    }
    let normalized = lexer::scan(piece, dialect).normalized;
    if let Some((class, what)) = recognize::recognize(&normalized, dialect) {
        return Some((class, what.to_owned()));
    }
    if dialect == SqlDialect::Mysql
        && let Some(parts) = recognize::split_set_assignments(piece)
    {
        let pd = parser_dialect(dialect);
        let mut parsed = Vec::new();
        for part in &parts {
            // An assignment the parser lacks as sent (`SET @@a := 1`) goes through the rewrites.
            let statements = Parser::parse_sql(pd.as_ref(), part).or_else(|_| {
                let (bare, _) = recognize::rewrite_for_parser(part, dialect).ok_or(())?;
                Parser::parse_sql(pd.as_ref(), &bare).map_err(|_| ())
            });
            match statements.ok()?.as_slice() {
                [one @ sqlparser::ast::Statement::Set(_)] => parsed.push(one.clone()),
                _ => return None,
            }
        }
        for s in &parsed {
            findings.statement(s);
        }
        return Some((StatementClass::Read, "SET".into()));
    }
    let rewritten = recognize::rewrite_for_parser(piece, dialect);
    if let Some((bare, expected)) = &rewritten
        && let Ok(statements) = Parser::parse_sql(parser_dialect(dialect).as_ref(), bare)
    {
        // The rewrite of one statement is one statement (`SET STATEMENT … FOR stmt`: two).
        if statements.len() != *expected {
            return None;
        }
        for s in &statements {
            findings.statement(s);
        }
        return Some((StatementClass::Read, "a statement".into()));
    }
    // A row-locking clause sqlparser lacks, after the rewritten text if there is one.
    let text = rewritten.as_ref().map_or(piece, |(bare, _)| bare.as_str());
    // It ends the statement's last query: a `SELECT`'s, an `INSERT … SELECT`'s
    // (pt-online-schema-change copies rows so), an `EXPLAIN`'s, which runs nothing.
    let head = recognize::strip_locking_clause(text, dialect)?;
    let statements = Parser::parse_sql(parser_dialect(dialect).as_ref(), head).ok()?;
    let [statement] = statements.as_slice() else {
        return None;
    };
    findings.statement(statement);
    if let sqlparser::ast::Statement::Explain {
        analyze, options, ..
    } = statement
        && !*analyze
        && !findings.explain_analyzes(options.as_deref())
    {
        return Some((StatementClass::Read, "EXPLAIN".into()));
    }
    Some((
        StatementClass::Write,
        "a row-locking clause takes row locks".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_nested_deeper_than_the_limit_are_unclassifiable() {
        let nest = |levels: usize, head: &str| {
            (0..levels).fold("SELECT 1".to_owned(), |inner, i| {
                format!("{} {inner}", head.replace("{i}", &i.to_string()))
            })
        };
        let my = SqlDialect::Mysql;
        let pg = SqlDialect::Postgres;
        let event = "CREATE EVENT e{i} ON SCHEDULE AT NOW() DO";
        let rule = "CREATE RULE r{i} AS ON INSERT TO t DO ALSO";
        for (head, dialect) in [(event, my), (rule, pg)] {
            // Within the limit: the class of what runs, at least ddl.
            let two = classify_uncached(&nest(2, head), dialect);
            assert_eq!(two.class, Some(StatementClass::Ddl), "{}", two.reason);
            let at_limit = classify_uncached(&nest(MAX_NESTING as usize, head), dialect);
            assert_eq!(
                at_limit.class,
                Some(StatementClass::Ddl),
                "{}",
                at_limit.reason
            );
            // Beyond it: refused below admin, without classifying the rest (400 levels took
            // minutes of CPU before the limit; 200 took 23 s).
            let deep = Classifier::new(16).classify(&nest(400, head), dialect);
            assert_eq!(deep.class, None);
            assert!(deep.reason.contains("nested"), "{}", deep.reason);
            // The level is given back: the next statement is classified from the top.
            assert_eq!(
                classify_uncached(&nest(2, head), dialect).class,
                Some(StatementClass::Ddl)
            );
        }
        // Dynamic SQL preparing dynamic SQL is within it.
        let dynamic = classify_uncached(
            "EXECUTE IMMEDIATE 'EXECUTE IMMEDIATE ''DELETE FROM t'''",
            my,
        );
        assert_eq!(
            dynamic.class,
            Some(StatementClass::Write),
            "{}",
            dynamic.reason
        );
    }

    /// A long one-line statement that takes the recognizers' path: each of them maps tokens
    /// back onto the text, which cost time growing with the square of the line's length (a
    /// 16 KB line took 9 s in the debug build, so this one took over half an hour, past the
    /// test runner's limit; it now takes a fraction of a second).
    #[test]
    fn a_long_one_line_statement_is_classified_in_linear_time() {
        let long = format!("SELEC {}", "a ".repeat(128 * 1024));
        for dialect in [SqlDialect::Mysql, SqlDialect::Postgres] {
            let c = Classifier::new(16).classify(&long, dialect);
            assert_eq!(c.class, None, "{}", c.reason);
        }
        let event = format!(
            "CREATE EVENT e ON SCHEDULE AT NOW() DO SELECT 1{}",
            ", 1".repeat(64 * 1024)
        );
        let c = classify_uncached(&event, SqlDialect::Mysql);
        assert_eq!(c.class, Some(StatementClass::Ddl), "{}", c.reason);
        // Rewrites that drop many tokens (an `UPDATE`'s subscripts, a domain's `NULL`s):
        // dropping them by looking each token up in the list of those to drop took time
        // growing with the square of the statement (2.6 s for 20,000 subscripts in a release
        // build; these two took minutes in the debug build, past the test runner's limit).
        let subscripts = (0..64_000).fold(String::from("UPDATE t SET a[0] = 0"), |mut s, i| {
            use std::fmt::Write as _;
            let _ = write!(s, ", a[{i}] = 1");
            s
        });
        let c = classify_uncached(&subscripts, SqlDialect::Postgres);
        assert_eq!(c.class, Some(StatementClass::Write), "{}", c.reason);
        let domain = format!("CREATE DOMAIN d AS int{}", " NULL".repeat(128 * 1024));
        let c = classify_uncached(&domain, SqlDialect::Postgres);
        assert_eq!(c.class, Some(StatementClass::Ddl), "{}", c.reason);
    }

    /// `SELECT 1 + 1 + …` with 300,000 terms aborted the process: the parser's tree was as deep
    /// as the chain, and dropping it overflowed the stack (a 2 MiB one at 65,000 terms).
    #[test]
    fn a_chain_of_operators_too_long_to_parse_safely_is_unclassifiable() {
        for dialect in [SqlDialect::Postgres, SqlDialect::Mysql] {
            let huge = format!("SELECT 1{}", " + 1".repeat(300_000));
            let c = Classifier::new(16).classify(&huge, dialect);
            assert_eq!(c.class, None);
            assert!(c.reason.contains("operators"), "{}", c.reason);
            let ors = format!(
                "SELECT * FROM t WHERE a = 0{}",
                (1..100_000).fold(String::new(), |mut s, i| {
                    use std::fmt::Write as _;
                    let _ = write!(s, " OR a = {i}");
                    s
                })
            );
            assert_eq!(classify_uncached(&ors, dialect).class, None);
            // Chains within the bound, nested in parentheses within sqlparser's limit on them:
            // a tree 80,000 deep (this overflowed a 2 MiB stack when each level counted alone).
            let nested = (0..20).fold("1".to_owned(), |inner, _| {
                format!("1{} + ({inner})", " + 1".repeat(4000))
            });
            let c = classify_uncached(&format!("SELECT {nested}"), dialect);
            assert_eq!(c.class, None);
            assert!(c.reason.contains("operators"), "{}", c.reason);
            let nested_first = (0..20).fold("1".to_owned(), |inner, _| {
                format!("({inner}){}", " + 1".repeat(4000))
            });
            let c = classify_uncached(&format!("SELECT {nested_first}"), dialect);
            assert_eq!(c.class, None);
            assert!(c.reason.contains("operators"), "{}", c.reason);
            // A CASE's branches are separate trees: 5,000 of them classify as usual.
            let branches = (0..5_000).fold(String::new(), |mut s, i| {
                use std::fmt::Write as _;
                let _ = write!(s, " WHEN a = {i} THEN 'x'");
                s
            });
            let case = format!("SELECT CASE{branches} ELSE 'y' END FROM t");
            assert_eq!(
                classify_uncached(&case, dialect).class,
                Some(StatementClass::Read)
            );
            // Subscripts deepen the tree too (300,000 aborted the process).
            let subscripts = format!("SELECT a{} FROM t", "[1]".repeat(300_000));
            assert_eq!(classify_uncached(&subscripts, dialect).class, None);
            let unions = format!("SELECT 1{}", " UNION SELECT 1".repeat(100_000));
            assert_eq!(classify_uncached(&unions, dialect).class, None);
            // At the bound (on a test thread's 2 MiB stack, in a debug build), and long lists
            // (separate trees), classify as usual.
            let fine = format!("SELECT 1{}", " + 1".repeat(chains::MAX_CHAIN));
            assert_eq!(
                classify_uncached(&fine, dialect).class,
                Some(StatementClass::Read)
            );
            let fine = format!(
                "SELECT 1{}",
                " UNION ALL SELECT 1".repeat(chains::MAX_CHAIN)
            );
            assert_eq!(
                classify_uncached(&fine, dialect).class,
                Some(StatementClass::Read)
            );
            let values = format!(
                "INSERT INTO t VALUES (-1, 'a'){}",
                ", (-1, 'a')".repeat(50_000)
            );
            assert_eq!(
                classify_uncached(&values, dialect).class,
                Some(StatementClass::Write)
            );
        }
    }

    #[test]
    fn a_classifier_fault_refuses_below_admin_and_the_next_statement_is_classified() {
        let pg = SqlDialect::Postgres;
        let refused = guarded("SELECT 1", pg, || -> Classification {
            panic!("an index past the end of the tokens")
        })
        .expect_err("the fault becomes a decision");
        assert_eq!(refused.class, None);
        assert!(
            refused.may_carry_password,
            "audited as redacted: nothing is known"
        );
        let denial = refused
            .check(AccessLevel::Ddl, None)
            .expect_err("refused under a ddl grant");
        assert!(
            denial
                .message
                .contains("internal fault in dbward's classifier"),
            "{}",
            denial.message
        );
        assert!(refused.check(AccessLevel::Admin, None).is_ok());
        // No fault: the closure's own value.
        let fine = guarded("SELECT 1", pg, || classify_uncached("SELECT 1", pg));
        assert_eq!(fine.ok().and_then(|c| c.class), Some(StatementClass::Read));
        let c = Classifier::new(16);
        assert_eq!(c.classify("SELECT 1", pg).class, Some(StatementClass::Read));
    }

    #[test]
    fn cache_shares_literals_but_not_literal_sensitive_decisions() {
        let c = Classifier::new(100);
        let pg = SqlDialect::Postgres;
        let a = c.classify("SELECT abalance FROM a WHERE aid = 17", pg);
        let b = c.classify("SELECT abalance FROM a WHERE aid = 42", pg);
        assert!(Arc::ptr_eq(&a, &b), "one entry for both literals");
        let on = c.classify("SET default_transaction_read_only = 'on'", pg);
        let off = c.classify("SET default_transaction_read_only = 'off'", pg);
        assert_eq!(on.class, Some(StatementClass::Read));
        assert_eq!(off.class, Some(StatementClass::Write));
        let harmless = c.classify("SELECT set_config('application_name', 'x', false)", pg);
        let ro = c.classify(
            "SELECT set_config('default_transaction_read_only', 'off', false)",
            pg,
        );
        assert_eq!(harmless.class, Some(StatementClass::Read));
        assert_eq!(ro.class, Some(StatementClass::Write));
        // And again, from the cache.
        assert_eq!(
            c.classify("SET default_transaction_read_only = 'off'", pg)
                .class,
            Some(StatementClass::Write)
        );
        assert_eq!(
            c.classify("SET default_transaction_read_only = 'on'", pg)
                .class,
            Some(StatementClass::Read)
        );
    }

    /// PostgreSQL ends a `--` comment at a carriage return as at a newline: what follows is
    /// code, so it must be in the fingerprint, or a cached `SELECT ?` would answer for it.
    #[test]
    fn a_carriage_return_ends_a_postgres_line_comment_in_the_fingerprint() {
        let c = Classifier::new(100);
        let pg = SqlDialect::Postgres;
        assert_eq!(c.classify("SELECT 1", pg).class, Some(StatementClass::Read));
        let hidden = c.classify("SELECT 1 -- x\r, pg_terminate_backend(1)", pg);
        assert_eq!(
            hidden.class,
            Some(StatementClass::Admin),
            "{}",
            hidden.reason
        );
        let split = classify_uncached("SELECT 1 -- x\r; DROP TABLE t", pg);
        assert_eq!(split.statements, 2);
        // MySQL and MariaDB end their line comments at a newline only.
        let my = c.classify(
            "SELECT 1 -- x\r, LOAD_FILE('/etc/passwd')",
            SqlDialect::Mysql,
        );
        assert_eq!(my.class, Some(StatementClass::Read));
    }

    /// Text with a character where lexers have disagreed is never answered by the decision of
    /// another text that shares its fingerprint.
    #[test]
    fn unusual_text_is_cached_under_its_exact_text_only() {
        let c = Classifier::new(100);
        let pg = SqlDialect::Postgres;
        let plain = c.classify("SELECT 1", pg);
        assert!(Arc::ptr_eq(&plain, &c.classify("SELECT 2", pg)));
        for odd in [
            "SELECT 3\r",
            "SELECT 3 \u{a0}",
            "SELECT 4\u{b}",
            "SELECT u&'x'",
        ] {
            let got = c.classify(odd, pg);
            assert!(!Arc::ptr_eq(&plain, &got), "{odd:?}");
            assert!(
                Arc::ptr_eq(&got, &c.classify(odd, pg)),
                "{odd:?} exact entry"
            );
        }
        assert!(!lexer::unusual_for_the_fingerprint(
            "SELECT a & b, 'é' -- x\r\nFROM t\n\tWHERE x"
        ));
        assert!(lexer::unusual_for_the_fingerprint("SELECT 1 -- x\r, 2"));
    }

    #[test]
    fn passwords_never_reach_the_audit_text() {
        for (sql, d) in [
            ("ALTER ROLE bob PASSWORD 'hunter2'", SqlDialect::Postgres),
            (
                "CREATE USER x WITH ENCRYPTED PASSWORD $$hunter2$$",
                SqlDialect::Postgres,
            ),
            (
                "CREATE USER 'x'@'%' IDENTIFIED BY 'hunter2'",
                SqlDialect::Mysql,
            ),
            (
                "SET PASSWORD FOR bob = PASSWORD('hunter2')",
                SqlDialect::Mysql,
            ),
            ("/*!50000 SET PASSWORD = 'hunter2' */", SqlDialect::Mysql),
        ] {
            let r = redact_for_audit(sql, d);
            assert!(!r.contains("hunter2"), "{sql} -> {r}");
        }
        assert_eq!(
            redact_for_audit("SELECT 'hello'", SqlDialect::Postgres),
            "SELECT 'hello'"
        );
    }

    #[test]
    fn computed_character_sets_and_sql_modes_are_checked_after_they_run() {
        let c = |sql: &str| classify_uncached(sql, SqlDialect::Mysql);
        for sql in [
            "SET character_set_client = @saved_cs_client",
            "SET sql_mode = @OLD_SQL_MODE",
            "SET NAMES DEFAULT",
            "/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */",
        ] {
            let c = c(sql);
            assert_eq!(c.class, Some(StatementClass::Read), "{sql}");
            assert!(c.check_session, "{sql}");
        }
        // Literals are read and need no check; a computed value must come alone.
        assert!(!c("SET character_set_client = utf8mb4").check_session);
        assert_eq!(
            c("SET character_set_client = @x; SELECT 1").class,
            Some(StatementClass::Admin)
        );
        assert!(!classify_uncached("SET NAMES DEFAULT", SqlDialect::Postgres).check_session);
    }

    /// Where the parser splits one of the server's statements in two, it reads that text
    /// otherwise than the server: refused, also when another statement of the string sends the
    /// classification statement by statement (MySQL's `OPTIMIZE TABLE`, which sqlparser lacks).
    #[test]
    fn a_statement_the_parser_splits_is_refused() {
        let c = classify_uncached(
            "OPTIMIZE TABLE t; SELECT 1 /*!+1 /*! ; DROP TABLE x */",
            SqlDialect::Mysql,
        );
        assert_eq!(c.class, None, "{}", c.reason);
        assert!(
            c.reason.contains("where the server reads one"),
            "{}",
            c.reason
        );
    }

    /// A rewrite (`OPERATOR(pg_catalog.=)`, MySQL's `DO`, `ANALYZE`, `INTO @x`, `SET STATEMENT`,
    /// events, partitions) writes the statement's literals back as they were written. Written
    /// back unescaped, `'a\\'` became `'a\'`, whose quote the re-read took as escaped: the call
    /// after it hid inside the literal, and these strings were `read`.
    #[test]
    fn rewritten_statements_keep_their_literals_as_written() {
        for (sql, dialect, class) in [
            (
                "SELECT E'a\\\\', pg_terminate_backend(1), E' AS q, \\'z' FROM t \
                 WHERE a OPERATOR(pg_catalog.=) ANY (ARRAY[1])",
                SqlDialect::Postgres,
                StatementClass::Admin,
            ),
            (
                "DO 'a\\\\', GET_LOCK(CHAR(107), 100), ' AS q, ''z'",
                SqlDialect::Mysql,
                StatementClass::Write,
            ),
            (
                "ANALYZE SELECT 'a\\\\', LOAD_FILE(CHAR(47)), ' AS q, ''z'",
                SqlDialect::Mysql,
                StatementClass::Admin,
            ),
            (
                "SELECT 'a\\\\', LOAD_FILE(CHAR(47)), ' AS q, ''z' INTO @x",
                SqlDialect::Mysql,
                StatementClass::Admin,
            ),
            (
                "CREATE TABLE p (a INT COMMENT 'x\\\\', b INT DEFAULT (LOAD_FILE(CHAR(47))) \
                 COMMENT ' AS q, ''z') PARTITION BY HASH(a)",
                SqlDialect::Mysql,
                StatementClass::Admin,
            ),
        ] {
            let c = classify_uncached(sql, dialect);
            assert_eq!(c.class, Some(class), "{sql}: {}", c.reason);
        }
        // Literals with quotes inside still come through whole.
        for (sql, dialect) in [
            ("SELECT 'it''s', E'x\\'y' FROM ONLY t", SqlDialect::Postgres),
            ("DO 'it''s', \"a\\\"b\"", SqlDialect::Mysql),
        ] {
            let c = classify_uncached(sql, dialect);
            assert_eq!(c.class, Some(StatementClass::Read), "{sql}: {}", c.reason);
        }
    }

    #[test]
    fn statements_are_counted_as_the_server_runs_them() {
        let count = |sql: &str, d| classify_uncached(sql, d).statements;
        assert_eq!(count("SELECT 1; SELECT 2", SqlDialect::Postgres), 2);
        assert_eq!(count("SELECT 1; SELECT 2;", SqlDialect::Mysql), 2);
        assert_eq!(
            count(
                "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.a = 1; SET NEW.b = 2; END",
                SqlDialect::Mysql
            ),
            1
        );
        assert_eq!(
            count(
                "CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END",
                SqlDialect::Mysql
            ),
            1
        );
    }

    #[test]
    fn timeouts_against_the_grant_ceiling() {
        let pg = SqlDialect::Postgres;
        let set = |s: &str| classify_uncached(s, pg);
        assert!(
            set("SET statement_timeout = 500")
                .check(AccessLevel::Read, Some(1000))
                .is_ok()
        );
        assert!(
            set("SET statement_timeout = '2s'")
                .check(AccessLevel::Read, Some(1000))
                .is_err()
        );
        assert!(
            set("SET statement_timeout = 0")
                .check(AccessLevel::Read, Some(1000))
                .is_err()
        );
        assert!(
            set("SET statement_timeout TO DEFAULT")
                .check(AccessLevel::Read, Some(1000))
                .is_ok()
        );
        assert!(
            set("RESET statement_timeout")
                .check(AccessLevel::Read, Some(1000))
                .is_ok()
        );
        assert!(
            set("SET statement_timeout = 0")
                .check(AccessLevel::Read, None)
                .is_ok()
        );
    }
}

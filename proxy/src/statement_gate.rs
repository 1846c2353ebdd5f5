//! The per-statement gate both front doors share: classify the SQL a client sends, check it
//! against the session's level and the grant's statement-timeout ceiling, and audit denials.
//! Quota units are taken by the relays themselves (they own their [`Allowance`]s, so the hot
//! path needs no lock).
//!
//! [`Allowance`]: dbward_core::quota::Allowance

use std::sync::Arc;

use dbward_core::audit::{
    AuditEvent, AuditSink, Busy, EventContext, Execution, SessionRuns, StatementFacts,
};
use dbward_core::model::AccessLevel;
use dbward_core::policy::own_identity::OwnIdentity;
use dbward_core::policy::{Classification, Classifier, MysqlQuoting, SqlDialect, StatementClass};
use dbward_core::store::{Actor, AdminAuditEntry, AuditOutcome, Store};

/// Who is running statements, for audit rows.
#[derive(Debug, Clone)]
pub struct SessionIdentity {
    /// dbward user id.
    pub user_id: i64,
    /// dbward user name (each audit event shares it).
    pub username: Arc<str>,
    /// Client address.
    pub client_addr: Arc<str>,
    /// Session id.
    pub session_id: Arc<str>,
    /// dbward database name.
    pub database: Arc<str>,
    /// Grant in use.
    pub grant_id: i64,
}

impl SessionIdentity {
    /// The identity of a registered session.
    #[must_use]
    pub fn of(info: &dbward_core::sessions::SessionInfo) -> Self {
        Self {
            user_id: info.user_id,
            username: info.username.as_str().into(),
            client_addr: info.client_addr.as_str().into(),
            session_id: info.id.to_string().into(),
            database: info.database.as_str().into(),
            grant_id: info.grant_id,
        }
    }
}

/// How a session ended, for the log and the audit trail (both front doors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEnd {
    /// The client quit (`Terminate`, `COM_QUIT`) or closed the connection.
    ClientQuit,
    /// The upstream closed the connection.
    UpstreamClosed,
    /// A protocol violation or an I/O error.
    Error(String),
    /// dbward ended it (policy, kill, timeout), with the error sent to the client.
    Ended(dbward_core::sessions::EndReason),
}

/// What a session-end audit row records besides how the session ended (both front doors).
pub struct EndFacts<'a> {
    pub database: &'a str,
    pub session_id: uuid::Uuid,
    pub grant_id: i64,
    pub started: std::time::Instant,
    /// Statements and result bytes the session spent of its grant's quotas.
    pub statements: i64,
    pub result_bytes: i64,
}

impl SessionEnd {
    /// dbward ended it: why, as a stable code, and what the client was told.
    #[must_use]
    pub fn ended(cause: &'static str, message: impl Into<String>) -> Self {
        Self::Ended(dbward_core::sessions::EndReason::new(cause, message))
    }

    /// How the session-end audit row names it (`end`), the cause when dbward ended it, and the
    /// message if any.
    #[must_use]
    fn audited(&self) -> (&'static str, Option<&'static str>, Option<String>) {
        match self {
            Self::ClientQuit => ("client_quit", None, None),
            Self::UpstreamClosed => ("upstream_closed", None, None),
            Self::Error(e) => ("error", None, Some(e.clone())),
            Self::Ended(r) => ("ended_by_dbward", Some(r.cause), Some(r.message.clone())),
        }
    }

    /// Logs the session's end and returns its audit row's details.
    #[must_use]
    pub fn details(&self, f: &EndFacts<'_>) -> serde_json::Value {
        let seconds = f.started.elapsed().as_secs_f64();
        tracing::info!(end = ?self, seconds, "session ended");
        let (why, cause, message) = self.audited();
        serde_json::json!({
            "database": f.database, "session_id": f.session_id, "grant_id": f.grant_id,
            "duration_seconds": seconds, "end": why, "cause": cause, "message": message,
            "statements": f.statements, "result_bytes": f.result_bytes,
        })
    }
}

/// Why a statement may not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The level does not allow it.
    Policy(String),
    /// It cannot be classified (denied below `admin`).
    Unclassifiable(String),
    /// A quota ran out.
    Quota(String),
    /// dbward cannot audit it (fail closed).
    Unavailable(String),
}

/// Statement texts up to this length are classified on the session's thread; longer ones on
/// the blocking pool (see [`StatementGate::check`]).
pub const CLASSIFIED_IN_PLACE: usize = 64 * 1024;

/// Classification and checks for one session.
#[derive(Clone)]
pub struct StatementGate {
    classifier: Arc<Classifier>,
    dialect: SqlDialect,
    level: AccessLevel,
    timeout_ceiling_ms: Option<i64>,
    who: Arc<SessionIdentity>,
    audit: AuditSink,
    /// The session's executions not yet collected by the audit writer.
    runs: Arc<SessionRuns>,
    /// The upstream login, which statements may name as an owner or definer (see
    /// [`dbward_core::policy::own_identity`]).
    own: Option<Arc<OwnIdentity>>,
    /// A MySQL session's quoting ([`MysqlQuoting::to_bits`]), as its `sql_mode` last read gave
    /// it: its text is rewritten in the default quoting before it is classified.
    quoting: Arc<std::sync::atomic::AtomicU8>,
}

impl StatementGate {
    /// A gate for a session at `level` on a grant with an optional statement-timeout ceiling.
    #[must_use]
    pub fn new(
        classifier: Arc<Classifier>,
        dialect: SqlDialect,
        level: AccessLevel,
        timeout_ceiling_ms: Option<i64>,
        who: SessionIdentity,
        audit: AuditSink,
    ) -> Self {
        Self {
            classifier,
            dialect,
            level,
            timeout_ceiling_ms,
            who: Arc::new(who),
            audit,
            runs: Arc::default(),
            own: None,
            quoting: Arc::default(),
        }
    }

    /// A MySQL session's quoting from now on (see [`dbward_core::policy::MysqlQuoting`]).
    pub fn set_quoting(&self, quoting: MysqlQuoting) {
        self.quoting
            .store(quoting.to_bits(), std::sync::atomic::Ordering::Relaxed);
    }

    /// The session's quoting.
    #[must_use]
    pub fn quoting(&self) -> MysqlQuoting {
        MysqlQuoting::from_bits(self.quoting.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// The upstream login (`own`), named as an owner (`OWNER TO`) or definer (`DEFINER =`), is
    /// classified as `CURRENT_USER`, which it is to the server (see
    /// [`dbward_core::policy::own_identity`]).
    #[must_use]
    pub fn with_own_identity(mut self, own: Option<OwnIdentity>) -> Self {
        self.own = own.map(Arc::new);
        self
    }

    /// Records an allowed statement in the trail (through the batching writer: this waits
    /// only while its queue is full). `how` says which message carried it (`query`, `parse`,
    /// `prepare`). Returns the token to report its outcome under ([`StatementGate::completed`]).
    /// An error means the statement must not run: it could not be audited.
    pub async fn record_allowed(
        &self,
        sql: &str,
        c: &Classification,
        how: &'static str,
    ) -> Result<u64, Refused> {
        self.record_execution(sql, c, how, None).await
    }

    /// [`StatementGate::record_allowed`] for one execution, with the values bound to it
    /// (`audit.record_parameters`; such rows are never folded together).
    pub async fn record_execution(
        &self,
        text: &str,
        c: &Classification,
        how: &'static str,
        parameters: Option<Vec<Option<String>>>,
    ) -> Result<u64, Refused> {
        let (stored, truncated) = self.stored(text, c.may_carry_password);
        let class = c.class.map(StatementClass::as_str);
        if parameters.is_none() {
            let execution = Execution {
                message: how,
                class,
                statements: c.statements,
                text: &stored,
                truncated,
            };
            if let Some(token) = self.audit.try_join(&self.runs, &execution) {
                return Ok(token);
            }
        }
        let event = self.event(
            "statement.allowed",
            AuditOutcome::Success,
            (stored.into_owned(), truncated),
            StatementFacts {
                level: self.level.as_str(),
                class,
                statements: Some(c.statements),
                message: Some(how),
                sql_bytes: text.len(),
                ..StatementFacts::default()
            },
        );
        let recorded = if let Some(parameters) = parameters {
            // Its values make it a row of its own.
            self.runs.close();
            let mut event = event;
            if let Some(f) = event.facts.as_mut() {
                f.parameters = Some(parameters);
            }
            self.audit.try_record_statement(event)
        } else {
            self.audit.try_record_run(&self.runs, event)
        };
        let queued = match recorded {
            Ok(token) => Ok(token),
            Err(busy) => Box::pin(self.audit.record_busy(busy)).await,
        };
        queued.map_err(|e| {
            tracing::error!(error = %e, "statement refused: its audit event cannot be queued");
            Refused::Unavailable(e.to_string())
        })
    }

    /// `sql` as the trail stores it: redacted when it may carry a password, normalized when
    /// only normalized text is kept, NUL-free, and cut at `audit.max_statement_bytes` (with
    /// whether it was cut). Borrowed in the common case.
    fn stored<'a>(
        &self,
        sql: &'a str,
        may_carry_password: bool,
    ) -> (std::borrow::Cow<'a, str>, bool) {
        let stored = if self.audit.normalized_only() {
            let rewritten = self.quoting().to_default(sql);
            std::borrow::Cow::Owned(dbward_core::policy::normalize_for_audit(
                &rewritten,
                self.dialect,
            ))
        } else if may_carry_password {
            // Redacted as the server reads it: in a session's own quoting, from its rewriting.
            match self.quoting().to_default(sql) {
                std::borrow::Cow::Borrowed(_) => {
                    dbward_core::policy::redact_for_audit(sql, self.dialect)
                }
                std::borrow::Cow::Owned(rewritten) => {
                    match dbward_core::policy::redact_for_audit(&rewritten, self.dialect) {
                        std::borrow::Cow::Borrowed(_) => std::borrow::Cow::Borrowed(sql),
                        std::borrow::Cow::Owned(redacted) => std::borrow::Cow::Owned(redacted),
                    }
                }
            }
        } else {
            std::borrow::Cow::Borrowed(sql)
        };
        // A NUL (MySQL's COM_QUERY may carry one) is stored as U+FFFD: text columns and the
        // store's JSON batch insert would cut the text there.
        let stored = if memchr::memchr(0, stored.as_bytes()).is_some() {
            std::borrow::Cow::Owned(stored.replace('\0', "\u{FFFD}"))
        } else {
            stored
        };
        truncate(stored, self.audit.statement_max())
    }

    /// An event of this session about a statement (its stored text, and whether that was cut),
    /// with `facts`.
    fn event(
        &self,
        action: &'static str,
        outcome: AuditOutcome,
        (text, truncated): (String, bool),
        mut facts: StatementFacts,
    ) -> AuditEvent {
        facts.truncated = truncated;
        AuditEvent {
            at: dbward_core::time::now_micros(),
            kind: "statement",
            actor: self.actor(),
            entry: AdminAuditEntry {
                action: action.into(),
                entity_type: "session",
                entity_id: Some(self.who.session_id.clone()),
                outcome,
                details: serde_json::Value::Null,
            },
            context: EventContext {
                session_id: Some(self.who.session_id.clone()),
                database: Some(self.who.database.clone()),
                grant_id: Some(self.who.grant_id),
                statement: Some(text),
            },
            committed: None,
            token: None,
            facts: Some(facts),
        }
    }

    /// Reports what an allowed statement did (its result is complete).
    pub async fn completed(&self, token: u64, outcome: dbward_core::audit::StatementOutcome) {
        self.audit.complete(&self.runs, token, outcome).await;
    }

    fn actor(&self) -> Actor {
        Actor {
            user_id: Some(self.who.user_id),
            username: self.who.username.clone(),
            client_addr: Some(self.who.client_addr.clone()),
        }
    }

    /// Whether executions carry their bound parameter values (`audit.record_parameters`).
    #[must_use]
    pub fn record_parameters(&self) -> bool {
        self.audit.record_parameters()
    }

    /// Checks one message's SQL text; on success, its classification (`statements` counts
    /// against the query quota) and the text as UTF-8. A denial is audited before this returns.
    ///
    /// MySQL statements may carry bytes that are not UTF-8 in their string literals (a
    /// `mysqldump` without `--hex-blob` writes BLOB, BINARY and geometry values so): they are
    /// read with each invalid sequence as U+FFFD, in classification and in the trail. That
    /// changes no boundary: an invalid sequence is made of bytes above 0x7F only, and quotes,
    /// backslashes and semicolons are ASCII, which the server's lexer reads as such in every
    /// character set dbward lets a session use. PostgreSQL refuses such text itself (UTF8 and
    /// `SQL_ASCII` sessions both check it against the server's encoding), and so does dbward.
    ///
    /// A text longer than [`CLASSIFIED_IN_PLACE`] is classified on the blocking pool: its
    /// classification is linear in its length but takes about half a second per MB when it does
    /// not parse (the recognizers' passes), and on the session's own thread it would hold up
    /// every other session placed there.
    pub async fn check<'a>(
        &self,
        sql: &'a [u8],
    ) -> Result<(Arc<Classification>, std::borrow::Cow<'a, str>), Refused> {
        let text = match std::str::from_utf8(sql) {
            Ok(text) => std::borrow::Cow::Borrowed(text),
            Err(_) if self.dialect == SqlDialect::Mysql => String::from_utf8_lossy(sql),
            Err(_) => {
                let message = "statement refused: it is not valid UTF-8".to_owned();
                self.audit_refusal(&String::from_utf8_lossy(sql), &message, None);
                return Err(Refused::Policy(message));
            }
        };
        let c = self.classify_text(&text).await?;
        match c.check(self.level, self.timeout_ceiling_ms) {
            Ok(()) => Ok((c, text)),
            Err(denial) => {
                self.audit_refusal(
                    &text,
                    &denial.message,
                    denial
                        .class
                        .map(dbward_core::policy::StatementClass::as_str),
                );
                Err(match denial.class {
                    Some(_) => Refused::Policy(denial.message),
                    None => Refused::Unclassifiable(denial.message),
                })
            }
        }
    }

    /// The classification of `text`, on the blocking pool when it is long (see [`Self::check`]).
    async fn classify_text(&self, text: &str) -> Result<Arc<Classification>, Refused> {
        // What the classifier reads: the text, with the session's own role or account as
        // `CURRENT_USER` (the statement itself goes upstream and into the trail as sent). A long
        // text is read on the blocking pool, substitution included.
        let quoting = self.quoting();
        let c = if text.len() > CLASSIFIED_IN_PLACE {
            let (classifier, dialect, owned, own) = (
                self.classifier.clone(),
                self.dialect,
                text.to_owned(),
                self.own.clone(),
            );
            tokio::task::spawn_blocking(move || {
                let owned = quoting.to_default(&owned);
                let substituted = own.as_deref().and_then(|o| o.as_current_user(&owned));
                classifier.classify_rewritten(
                    substituted.as_deref().unwrap_or(&owned),
                    dialect,
                    quoting,
                )
            })
            .await
            .map_err(|_| {
                let message = "dbward could not classify this statement (its \
                                   classification did not complete)"
                    .to_owned();
                self.audit_refusal(text, &message, None);
                Refused::Unclassifiable(message)
            })?
        } else {
            let text = quoting.to_default(text);
            let substituted = self.own.as_deref().and_then(|o| o.as_current_user(&text));
            self.classifier.classify_rewritten(
                substituted.as_deref().unwrap_or(&text),
                self.dialect,
                quoting,
            )
        };
        Ok(c)
    }

    /// Audits a statement refused for another reason than its class (a quota, a schema).
    pub fn audit_other(&self, sql: &str, message: &str) {
        self.audit_refusal(sql, message, None);
    }

    /// Audits a statement refused for its quota.
    pub fn audit_quota(&self, sql: &str, message: &str) {
        self.audit_refusal(sql, message, None);
    }

    /// Writes the audit row in the background: the session does not wait for the store.
    fn audit_refusal(&self, sql: &str, message: &str, class: Option<&'static str>) {
        let (stored, truncated) = self.stored(sql, true);
        let event = self.event(
            "statement.denied",
            AuditOutcome::Failure,
            (stored.into_owned(), truncated),
            StatementFacts {
                level: self.level.as_str(),
                class,
                reason: Some(message.to_owned()),
                sql_bytes: sql.len(),
                ..StatementFacts::default()
            },
        );
        // After the session's executions so far.
        self.runs.close();
        // Denials are decided synchronously: queue the event now when there is room (so it
        // precedes the session's next statement in the trail), else from a task that waits.
        match self.audit.try_record(event) {
            Ok(()) => {}
            Err(Busy::Wait(event)) => {
                let sink = self.audit.clone();
                tokio::spawn(async move {
                    if sink.record(*event).await.is_err() {
                        tracing::warn!("denial not audited: dbward is shutting down");
                    }
                });
            }
            Err(Busy::Closed) => tracing::warn!("denial not audited: dbward is shutting down"),
        }
    }
}

/// At most `max` bytes of `sql` (on a character boundary), and whether it was cut.
fn truncate(sql: std::borrow::Cow<'_, str>, max: usize) -> (std::borrow::Cow<'_, str>, bool) {
    let mut end = sql.len().min(max);
    while !sql.is_char_boundary(end) {
        end -= 1;
    }
    if end == sql.len() {
        return (sql, false);
    }
    let cut = match sql {
        std::borrow::Cow::Borrowed(s) => std::borrow::Cow::Borrowed(&s[..end]),
        std::borrow::Cow::Owned(mut s) => {
            s.truncate(end);
            std::borrow::Cow::Owned(s)
        }
    };
    (cut, true)
}

/// Writes a connection audit row (a login attempt's outcome, a session's end) for either front
/// door; false if it could not be written (logged). A session whose start cannot be audited
/// does not start.
pub async fn audit_connection_event(
    store: &Store,
    user_id: Option<i64>,
    username: &str,
    peer: std::net::SocketAddr,
    action: &'static str,
    outcome: AuditOutcome,
    details: serde_json::Value,
) -> bool {
    let actor = Actor {
        user_id,
        username: username.into(),
        client_addr: Some(peer.ip().to_string().into()),
    };
    let text = |k: &str| details.get(k).and_then(|v| v.as_str()).map(Arc::from);
    let context = EventContext {
        session_id: text("session_id"),
        database: text("database"),
        grant_id: details.get("grant_id").and_then(serde_json::Value::as_i64),
        statement: None,
    };
    let event = AuditEvent {
        at: dbward_core::time::now_micros(),
        kind: "connection",
        actor,
        entry: AdminAuditEntry {
            action: action.into(),
            entity_type: "session",
            entity_id: context.session_id.clone(),
            outcome,
            details,
        },
        context,
        committed: None,
        token: None,
        facts: None,
    };
    // Boxed: once per connection, and it keeps the store's insert state out of every
    // session's future (which lives as long as the session).
    match Box::pin(store.audit_events(std::slice::from_ref(&event))).await {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(error = %e, "cannot write a connection audit row");
            false
        }
    }
}

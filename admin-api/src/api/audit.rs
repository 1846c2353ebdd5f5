//! `/api/audit`: the audit trail (needs `view_audit`).
//!
//! - `GET /api/audit`: filtered, newest first, with a cursor (`before` = the previous page's
//!   `next_cursor`).
//! - `GET /api/audit/export`: the same filters as JSON Lines, oldest first, streamed page by page
//!   (for a SIEM); each line carries its chain position and link.
//! - `GET /api/audit/stream`: server-sent events of new rows matching the filters (the
//!   console's live view); it reads the store, so it shows every instance's events.
//! - `GET /api/audit/verify`: verifies every chain and reports the first broken link.

use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use dbward_core::audit::chain::{ChainKey, HeadFile};
use dbward_core::store::{AdminAuditEntry, AuditFilter, AuditRecord, VerifyReport};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::access::Principal;
use crate::error::ApiError;
use crate::extract::Query;
use crate::state::SharedState;

pub fn router() -> Router<SharedState> {
    Router::new()
        .route("/api/audit", get(list))
        .route("/api/audit/export", get(export))
        .route("/api/audit/stream", get(stream))
        .route("/api/audit/verify", get(verify))
}

/// Filters shared by the listing, the export and the live stream.
#[derive(Deserialize, utoipa::IntoParams, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditQuery {
    /// At most this many items (1 to 1000; default 100). Listing only.
    limit: Option<i64>,
    /// Only items older than this id (the previous page's `next_cursor`). Listing only.
    before: Option<i64>,
    /// Only items newer than this id (export and stream: resume after the last one seen).
    after: Option<i64>,
    /// At or after this time (RFC 3339 with an offset).
    from: Option<String>,
    /// Before this time (RFC 3339 with an offset).
    to: Option<String>,
    /// Acting user's name.
    user: Option<String>,
    /// dbward database name.
    database: Option<String>,
    /// Grant id.
    grant_id: Option<i64>,
    /// Proxy session id.
    session_id: Option<String>,
    /// Event family: `admin`, `connection`, `statement`, `system`.
    kind: Option<String>,
    /// Exact action, e.g. `statement.denied`, `user.create`.
    action: Option<String>,
    /// `allowed`/`success` or `denied`/`failure`.
    decision: Option<String>,
    /// Text the statement contains (case-insensitive).
    q: Option<String>,
}

impl AuditQuery {
    fn filter(&self) -> Result<AuditFilter, ApiError> {
        let time = |v: &Option<String>, name: &str| {
            v.as_deref()
                .map(|t| {
                    dbward_core::time::parse_rfc3339(t)
                        .map(dbward_core::time::to_micros)
                        .map_err(|_| {
                            ApiError::invalid(format!(
                                "{name} must be an RFC 3339 time with an offset"
                            ))
                        })
                })
                .transpose()
        };
        let outcome = match self.decision.as_deref() {
            None => None,
            Some("allowed" | "success") => Some("success".to_owned()),
            Some("denied" | "failure") => Some("failure".to_owned()),
            Some(_) => return Err(ApiError::invalid("decision must be allowed or denied")),
        };
        if let Some(k) = self.kind.as_deref()
            && !["admin", "connection", "statement", "system"].contains(&k)
        {
            return Err(ApiError::invalid(
                "kind must be admin, connection, statement or system",
            ));
        }
        Ok(AuditFilter {
            from: time(&self.from, "from")?,
            to: time(&self.to, "to")?,
            user: self.user.clone(),
            database: self.database.clone(),
            grant_id: self.grant_id,
            session_id: self.session_id.clone(),
            kind: self.kind.clone(),
            action: self.action.clone(),
            outcome,
            text: self.q.clone().filter(|q| !q.is_empty()),
        })
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AuditPage {
    items: Vec<AuditRecord>,
    /// Pass as `before` for the next page; `null` on the last page.
    next_cursor: Option<i64>,
}

#[utoipa::path(get, path = "/api/audit", tag = "audit", params(AuditQuery), responses((status = 200, description = "Newest first", body = AuditPage), (status = 400, description = "Invalid request", body = crate::error::ErrorBody), (status = 401, description = "Missing or wrong credentials", body = crate::error::ErrorBody), (status = 403, description = "Permission missing", body = crate::error::ErrorBody)))]
pub(crate) async fn list(
    State(state): State<SharedState>,
    Query(q): Query<AuditQuery>,
) -> Result<axum::Json<AuditPage>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid("limit must be between 1 and 1000"));
    }
    let filter = q.filter()?;
    let items = state.store.list_audit(&filter, limit, q.before).await?;
    let next_cursor = if items.len() == usize::try_from(limit).unwrap_or(usize::MAX) {
        items.last().map(|r| r.id)
    } else {
        None
    };
    Ok(axum::Json(AuditPage { items, next_cursor }))
}

/// Rows fetched per page of the export and per poll of the stream.
const PAGE: i64 = 500;

#[utoipa::path(get, path = "/api/audit/export", tag = "audit", params(AuditQuery), responses((status = 200, description = "JSON Lines, one AuditRecord per line, oldest first", content_type = "application/x-ndjson", body = AuditRecord), (status = 400, description = "Invalid request", body = crate::error::ErrorBody), (status = 401, description = "Missing or wrong credentials", body = crate::error::ErrorBody), (status = 403, description = "Permission missing", body = crate::error::ErrorBody)))]
pub(crate) async fn export(
    State(state): State<SharedState>,
    Extension(p): Extension<Principal>,
    Query(q): Query<AuditQuery>,
) -> Result<Response, ApiError> {
    let filter = q.filter()?;
    // Exports of the trail are themselves audited.
    let entry = AdminAuditEntry::success(
        "audit.export",
        "audit",
        None,
        json!({ "filter": q.describe() }),
    );
    state.store.audit_record(&p.actor(), &entry).await?;
    // Only rows that existed when the export began: a long export of a busy trail ends.
    let last = state.store.audit_last_id().await?;
    let start = q.after.unwrap_or(0);
    let body = futures_util::stream::unfold(Some(start), move |cursor| {
        let (state, filter) = (state.clone(), filter.clone());
        async move {
            let after = cursor?;
            match state.store.audit_after(&filter, PAGE, after).await {
                Ok(rows) => {
                    let rows: Vec<_> = rows.into_iter().filter(|r| r.id <= last).collect();
                    if rows.is_empty() {
                        return None;
                    }
                    let next = rows.last().map(|r| r.id);
                    let mut chunk = Vec::with_capacity(rows.len() * 400);
                    for r in &rows {
                        if serde_json::to_writer(&mut chunk, r).is_ok() {
                            chunk.push(b'\n');
                        }
                    }
                    Some((Ok::<_, std::io::Error>(chunk), next))
                }
                Err(e) => {
                    // The client sees a truncated export (no clean way to signal an error
                    // mid-stream in JSON Lines); the log says why.
                    tracing::error!(error = %e, "audit export failed");
                    Some((Err(std::io::Error::other("audit export failed")), None))
                }
            }
        }
    });
    Ok((
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        axum::body::Body::from_stream(body),
    )
        .into_response())
}

/// How often the live stream looks for new rows.
const STREAM_POLL: Duration = Duration::from_millis(250);

#[utoipa::path(get, path = "/api/audit/stream", tag = "audit", params(AuditQuery), responses((status = 200, description = "Server-sent events: `audit` events whose data is an AuditRecord, oldest first, from `after` or from now", content_type = "text/event-stream", body = AuditRecord), (status = 400, description = "Invalid request", body = crate::error::ErrorBody), (status = 401, description = "Missing or wrong credentials", body = crate::error::ErrorBody), (status = 403, description = "Permission missing", body = crate::error::ErrorBody)))]
pub(crate) async fn stream(
    State(state): State<SharedState>,
    Query(q): Query<AuditQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let filter = q.filter()?;
    let start = match q.after {
        Some(a) => a,
        None => state.store.audit_last_id().await?,
    };
    let events = futures_util::stream::unfold(
        (start, std::collections::VecDeque::<AuditRecord>::new()),
        move |(mut after, mut pending)| {
            let (state, filter) = (state.clone(), filter.clone());
            async move {
                loop {
                    if let Some(r) = pending.pop_front() {
                        let event = Event::default()
                            .event("audit")
                            .id(r.id.to_string())
                            .json_data(&r)
                            .unwrap_or_else(|_| Event::default().comment("unserializable"));
                        return Some((Ok::<_, std::convert::Infallible>(event), (after, pending)));
                    }
                    match state.store.audit_after(&filter, PAGE, after).await {
                        Ok(rows) if !rows.is_empty() => {
                            after = rows.last().map_or(after, |r| r.id);
                            pending.extend(rows);
                        }
                        Ok(_) => tokio::time::sleep(STREAM_POLL).await,
                        Err(e) => {
                            tracing::warn!(error = %e, "audit stream cannot read the store");
                            tokio::time::sleep(STREAM_POLL * 4).await;
                        }
                    }
                }
            }
        },
    );
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

#[utoipa::path(get, path = "/api/audit/verify", tag = "audit", responses((status = 200, description = "What verification found (`ok` false names each chain's first broken link)", body = VerifyReport), (status = 401, description = "Missing or wrong credentials", body = crate::error::ErrorBody), (status = 403, description = "Permission missing", body = crate::error::ErrorBody)))]
pub(crate) async fn verify(
    State(state): State<SharedState>,
) -> Result<axum::Json<VerifyReport>, ApiError> {
    let head = HeadFile::in_dir(&state.config.data_dir)
        .read()
        .ok()
        .flatten();
    let report = state
        .store
        .verify_audit(&ChainKey::new(&state.key), head.as_ref())
        .await?;
    Ok(axum::Json(report))
}

impl AuditQuery {
    /// The filter as given, for the export's own audit row.
    fn describe(&self) -> serde_json::Value {
        json!({
            "after": self.after, "from": self.from, "to": self.to, "user": self.user,
            "database": self.database, "grant_id": self.grant_id, "session_id": self.session_id,
            "kind": self.kind, "action": self.action, "decision": self.decision, "q": self.q,
        })
    }
}

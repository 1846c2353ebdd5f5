//! `GET /api/audit`: the audit trail, newest first, with a cursor (`before`). The audit issue
//! adds filters, export and the live stream.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use dbward_core::store::AuditRecord;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::Query;
use crate::state::SharedState;

pub fn router() -> Router<SharedState> {
    Router::new().route("/api/audit", get(list))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditQuery {
    /// At most this many items (1 to 1000; default 100).
    limit: Option<i64>,
    /// Only items older than this id (the previous page's `next_cursor`).
    before: Option<i64>,
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
    let items = state.store.list_audit(limit, q.before).await?;
    let next_cursor = if items.len() == usize::try_from(limit).unwrap_or(usize::MAX) {
        items.last().map(|r| r.id)
    } else {
        None
    };
    Ok(axum::Json(AuditPage { items, next_cursor }))
}

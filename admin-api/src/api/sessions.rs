//! `/api/sessions`: live proxy sessions of this instance, and killing one (needs
//! `manage_sessions`). Killing cancels the session's running upstream query, then closes both
//! sides with a FATAL error naming the reason. Sessions on other instances sharing the store are
//! not listed yet (multi-instance issue).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Extension, Router};
use dbward_core::sessions::SessionInfo;
use dbward_core::store::AdminAuditEntry;
use serde_json::json;

use crate::access::Principal;
use crate::error::ApiError;
use crate::state::SharedState;

pub fn router() -> Router<SharedState> {
    Router::new()
        .route("/api/sessions", get(list))
        .route("/api/sessions/{id}", delete(kill))
}

#[utoipa::path(get, path = "/api/sessions", tag = "sessions", responses((status = 200, description = "Live sessions, oldest first", body = Vec<SessionInfo>), (status = 401, description = "Missing or wrong credentials", body = crate::error::ErrorBody), (status = 403, description = "Permission missing", body = crate::error::ErrorBody)))]
pub(crate) async fn list(State(state): State<SharedState>) -> axum::Json<Vec<SessionInfo>> {
    axum::Json(state.sessions.list())
}

#[utoipa::path(delete, path = "/api/sessions/{id}", tag = "sessions", params(("id" = uuid::Uuid, Path, description = "Session id")), responses((status = 204, description = "The session is ending"), (status = 400, description = "Invalid request", body = crate::error::ErrorBody), (status = 401, description = "Missing or wrong credentials", body = crate::error::ErrorBody), (status = 403, description = "Permission missing", body = crate::error::ErrorBody), (status = 404, description = "Not found", body = crate::error::ErrorBody)))]
pub(crate) async fn kill(
    State(state): State<SharedState>,
    Extension(p): Extension<Principal>,
    id: Result<Path<uuid::Uuid>, axum::extract::rejection::PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(id) = id.map_err(|_| ApiError::invalid("the id in the path must be a UUID"))?;
    let reason = dbward_core::sessions::EndReason::new(
        "killed_by_admin",
        format!("terminated by dbward administrator {}", p.username),
    );
    if !state.sessions.kill(id, &reason) {
        return Err(ApiError::not_found("session"));
    }
    let mut entry = AdminAuditEntry::success("session.kill", "session", None, json!({}));
    entry.entity_id = Some(id.to_string().into());
    state.store.audit_record(&p.actor(), &entry).await?;
    Ok(StatusCode::NO_CONTENT)
}

//! `GET /api/health`: liveness, store reachability and whether the audit trail can be written,
//! without authentication. Says nothing that would help an attacker (no version, no
//! configuration).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::state::SharedState;

pub fn router() -> Router<SharedState> {
    Router::new().route("/api/health", get(health))
}

#[utoipa::path(get, path = "/api/health", tag = "health", security(()), responses((status = 200, description = "Up", body = Health), (status = 503, description = "The store is unreachable, or the audit trail cannot be written (statements are then refused)", body = Health)))]
pub(crate) async fn health(State(state): State<SharedState>) -> (StatusCode, Json<Health>) {
    let store = match state.store.ping().await {
        Ok(()) => "ok",
        Err(e) => {
            tracing::warn!(error = %e, "health check: store unreachable");
            "unreachable"
        }
    };
    let audit = if state.audit.writable() {
        "ok"
    } else {
        "failing"
    };
    let (code, status) = if store == "ok" && audit == "ok" {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "degraded")
    };
    (
        code,
        Json(Health {
            status,
            store,
            audit,
        }),
    )
}

/// Liveness answer.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Health {
    /// `ok`, or `degraded` when either of the others is not `ok`.
    status: &'static str,
    /// `ok` or `unreachable`: whether the store answers a read.
    store: &'static str,
    /// `ok` or `failing`: whether the audit writer's last write succeeded. While it fails (a
    /// full disk, a store that refuses writes), statements are refused or queued per
    /// `audit.store_unavailable`.
    audit: &'static str,
}

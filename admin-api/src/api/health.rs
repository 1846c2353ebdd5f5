//! `GET /api/health`: liveness and store reachability, without authentication. Says nothing
//! that would help an attacker (no version, no configuration).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::state::SharedState;

pub fn router() -> Router<SharedState> {
    Router::new().route("/api/health", get(health))
}

#[utoipa::path(get, path = "/api/health", tag = "health", security(()), responses((status = 200, description = "Up", body = Health), (status = 503, description = "Store unreachable", body = Health)))]
pub(crate) async fn health(State(state): State<SharedState>) -> (StatusCode, Json<Health>) {
    match state.store.ping().await {
        Ok(()) => (
            StatusCode::OK,
            Json(Health {
                status: "ok",
                store: "ok",
            }),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "health check: store unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Health {
                    status: "degraded",
                    store: "unreachable",
                }),
            )
        }
    }
}

/// Liveness answer.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Health {
    /// `ok` or `degraded`.
    status: &'static str,
    /// `ok` or `unreachable`.
    store: &'static str,
}

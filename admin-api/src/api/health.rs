//! `GET /api/health`: liveness and store reachability, without authentication. Says nothing
//! that would help an attacker (no version, no configuration).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::state::SharedState;

pub fn router() -> Router<SharedState> {
    Router::new().route("/api/health", get(health))
}

async fn health(State(state): State<SharedState>) -> (StatusCode, Json<Value>) {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({"status": "ok", "store": "ok"}))),
        Err(e) => {
            tracing::warn!(error = %e, "health check: store unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "degraded", "store": "unreachable"})),
            )
        }
    }
}

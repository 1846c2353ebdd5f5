//! One router per resource; each file holds its routes, handlers and request types.

pub(crate) mod audit;
pub(crate) mod databases;
pub(crate) mod folders;
pub(crate) mod grants;
pub(crate) mod health;
pub(crate) mod me;
pub(crate) mod roles;
pub(crate) mod sessions;
pub(crate) mod users;

use axum::Router;

use crate::error::ApiError;
use crate::state::SharedState;

/// Every route of the API (see `access::ENDPOINTS` for who may call what).
pub fn router() -> Router<SharedState> {
    Router::new()
        .merge(health::router())
        .merge(me::router())
        .merge(users::router())
        .merge(roles::router())
        .merge(databases::router())
        .merge(folders::router())
        .merge(grants::router())
        .merge(audit::router())
        .merge(sessions::router())
        .merge(crate::openapi::router())
        .fallback(|| async { ApiError::not_found("route") })
}

/// Checks a new password: 8 to 1024 characters. Long enough to resist guessing, bounded so a
/// megabyte "password" cannot make argon2id work for nothing.
pub(crate) fn check_password(password: &str) -> Result<(), ApiError> {
    let n = password.chars().count();
    if !(8..=1024).contains(&n) {
        return Err(ApiError::invalid("password must be 8 to 1024 characters"));
    }
    Ok(())
}

/// Computes both password verifiers off the reactor.
pub(crate) async fn make_verifiers(
    state: &SharedState,
    password: String,
) -> Result<dbward_core::crypto::password::PasswordVerifiers, ApiError> {
    let iterations = state.config.auth.scram_iterations;
    tokio::task::spawn_blocking(move || {
        dbward_core::crypto::password::make_verifiers(&password, iterations)
    })
    .await
    .map_err(|e| ApiError::internal(&e))
}

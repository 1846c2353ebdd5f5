//! # dbward-admin-api: the admin REST API
//!
//! JSON over HTTP, authenticated with HTTP basic auth of an enabled dbward user whose roles hold
//! the permission each endpoint needs. [`router`] merges one small router per resource
//! (`api::users`, `api::grants`, ...); each file holds its routes, handlers and request types.
//!
//! - Access control is one table, [`access::ENDPOINTS`]: method, path and the access needed
//!   (public, any authenticated user, or a permission on top of `api_access`). The `authorize`
//!   middleware looks every request up in it by its matched route, so a route missing from the
//!   table is refused (fail closed) and tests compare the table with the router.
//! - Errors are `{"error": {"code", "message"}}` ([`error::ApiError`]), also those the layers
//!   and the router make on their own ([`error::json_errors`]: 405, 408, 413); a 5xx says
//!   "internal error" and only the log gets the cause. Request bodies go through our own
//!   [`extract::Json`] extractor so that malformed bodies answer in the same shape.
//! - Every mutation is audited: successes by the store in the same transaction as the change,
//!   refusals (4xx) by the middleware after the handler returns.
//! - Basic auth over plain HTTP from a non-loopback address is refused unless
//!   `http.allow_insecure_basic_auth` is set.

pub mod access;
mod api;
pub mod error;
pub mod extract;
pub mod openapi;
mod state;

pub use state::AdminState;

use axum::Router;

/// The complete admin API router.
pub fn router(state: AdminState) -> Router {
    let state = std::sync::Arc::new(state);
    api::router()
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            access::authorize,
        ))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            state.config.http.max_body_bytes,
        ))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            state.config.http.request_timeout,
        ))
        .layer(axum::middleware::map_response(error::json_errors))
        .with_state(state)
}

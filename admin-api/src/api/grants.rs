//! `/api/grants`: time-boxed, quota-limited access of a user to a database. `DELETE` revokes
//! (sets `revoked_at`/`revoked_by`) and keeps the row.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Extension, Router};
use dbward_core::model::{AccessLevel, Grant, GrantState};
use dbward_core::store::{GrantFilter, GrantInput};
use serde::{Deserialize, Serialize};

use crate::access::Principal;
use crate::error::ApiError;
use crate::extract::{Id, Json, Query};
use crate::state::SharedState;

pub fn router() -> Router<SharedState> {
    Router::new()
        .route("/api/grants", get(list).post(create))
        .route("/api/grants/{id}", get(one).delete(revoke))
}

/// A grant with its state and remaining quotas.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct GrantView {
    #[serde(flatten)]
    grant: Grant,
    state: GrantState,
    remaining_queries: Option<i64>,
    remaining_bytes: Option<i64>,
}

impl From<Grant> for GrantView {
    fn from(grant: Grant) -> Self {
        Self {
            state: grant.state(dbward_core::time::now()),
            remaining_queries: grant.remaining_queries(),
            remaining_bytes: grant.remaining_bytes(),
            grant,
        }
    }
}

#[utoipa::path(get, path = "/api/grants", tag = "grants", params(GrantFilter), responses((status = 200, description = "Grants, newest first", body = Vec<GrantView>), (status = 400, description = "Invalid request", body = crate::error::ErrorBody), (status = 401, description = "Missing or wrong credentials", body = crate::error::ErrorBody), (status = 403, description = "Permission missing", body = crate::error::ErrorBody)))]
pub(crate) async fn list(
    State(state): State<SharedState>,
    Query(filter): Query<GrantFilter>,
) -> Result<axum::Json<Vec<GrantView>>, ApiError> {
    let grants = state
        .store
        .list_grants(&filter, dbward_core::time::now())
        .await?;
    Ok(axum::Json(
        grants.into_iter().map(GrantView::from).collect(),
    ))
}

#[utoipa::path(get, path = "/api/grants/{id}", tag = "grants", params(("id" = i64, Path, description = "Integer id")), responses((status = 200, description = "The grant with usage", body = GrantView), (status = 400, description = "Invalid request", body = crate::error::ErrorBody), (status = 401, description = "Missing or wrong credentials", body = crate::error::ErrorBody), (status = 403, description = "Permission missing", body = crate::error::ErrorBody), (status = 404, description = "Not found", body = crate::error::ErrorBody)))]
pub(crate) async fn one(
    State(state): State<SharedState>,
    Id(id): Id,
) -> Result<axum::Json<GrantView>, ApiError> {
    Ok(axum::Json(state.store.get_grant(id).await?.into()))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateGrant {
    user_id: i64,
    database_id: i64,
    access_level: AccessLevel,
    /// RFC 3339 with an explicit offset; default: now.
    starts_at: Option<String>,
    /// RFC 3339 with an explicit offset.
    expires_at: String,
    max_queries: Option<i64>,
    max_bytes: Option<i64>,
    /// Upstream statement timeout for this grant's sessions, in milliseconds.
    statement_timeout_ms: Option<i64>,
}

fn parse_time(field: &str, text: &str) -> Result<time::OffsetDateTime, ApiError> {
    dbward_core::time::parse_rfc3339(text).map_err(|_| {
        ApiError::invalid(format!(
            "{field} must be an RFC 3339 timestamp with an explicit offset, \
             e.g. 2026-01-15T09:00:00Z (got `{text}`)"
        ))
    })
}

#[utoipa::path(post, path = "/api/grants", tag = "grants", request_body = CreateGrant, responses((status = 201, description = "Created", body = GrantView), (status = 400, description = "Invalid request", body = crate::error::ErrorBody), (status = 401, description = "Missing or wrong credentials", body = crate::error::ErrorBody), (status = 403, description = "Permission missing", body = crate::error::ErrorBody), (status = 404, description = "Not found", body = crate::error::ErrorBody)))]
pub(crate) async fn create(
    State(state): State<SharedState>,
    Extension(p): Extension<Principal>,
    Json(body): Json<CreateGrant>,
) -> Result<(StatusCode, axum::Json<GrantView>), ApiError> {
    let starts_at = match &body.starts_at {
        Some(t) => parse_time("starts_at", t)?,
        None => dbward_core::time::now(),
    };
    let input = GrantInput {
        user_id: body.user_id,
        database_id: body.database_id,
        access_level: body.access_level,
        starts_at,
        expires_at: parse_time("expires_at", &body.expires_at)?,
        max_queries: body.max_queries,
        max_bytes: body.max_bytes,
        statement_timeout_ms: body.statement_timeout_ms,
    };
    let grant = state.store.create_grant(&p.actor(), &input).await?;
    Ok((StatusCode::CREATED, axum::Json(grant.into())))
}

#[utoipa::path(delete, path = "/api/grants/{id}", tag = "grants", params(("id" = i64, Path, description = "Integer id")), responses((status = 200, description = "Revoked; the row is kept", body = GrantView), (status = 400, description = "Invalid request", body = crate::error::ErrorBody), (status = 401, description = "Missing or wrong credentials", body = crate::error::ErrorBody), (status = 403, description = "Permission missing", body = crate::error::ErrorBody), (status = 404, description = "Not found", body = crate::error::ErrorBody), (status = 409, description = "Conflict", body = crate::error::ErrorBody)))]
pub(crate) async fn revoke(
    State(state): State<SharedState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
) -> Result<axum::Json<GrantView>, ApiError> {
    Ok(axum::Json(
        state.store.revoke_grant(&p.actor(), id).await?.into(),
    ))
}

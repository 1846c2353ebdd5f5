//! `/api/roles`: permission sets (reading needs `api_access`, changes `manage_roles`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Extension, Router};
use dbward_core::model::Role;
use dbward_core::store::{RoleInput, RolePatch};

use crate::access::Principal;
use crate::error::ApiError;
use crate::extract::{Id, Json};
use crate::state::SharedState;

pub fn router() -> Router<SharedState> {
    Router::new()
        .route("/api/roles", get(list).post(create))
        .route("/api/roles/{id}", get(one).patch(update).delete(remove))
}

#[utoipa::path(get, path = "/api/roles", tag = "roles", responses((status = 200, description = "Roles", body = Vec<Role>), (status = 400, description = "Invalid request", body = crate::error::ErrorBody), (status = 401, description = "Missing or wrong credentials", body = crate::error::ErrorBody), (status = 403, description = "Permission missing", body = crate::error::ErrorBody)))]
pub(crate) async fn list(
    State(state): State<SharedState>,
) -> Result<axum::Json<Vec<Role>>, ApiError> {
    Ok(axum::Json(state.store.list_roles().await?))
}

#[utoipa::path(get, path = "/api/roles/{id}", tag = "roles", params(("id" = i64, Path, description = "Integer id")), responses((status = 200, description = "The role", body = Role), (status = 400, description = "Invalid request", body = crate::error::ErrorBody), (status = 401, description = "Missing or wrong credentials", body = crate::error::ErrorBody), (status = 403, description = "Permission missing", body = crate::error::ErrorBody), (status = 404, description = "Not found", body = crate::error::ErrorBody)))]
pub(crate) async fn one(
    State(state): State<SharedState>,
    Id(id): Id,
) -> Result<axum::Json<Role>, ApiError> {
    Ok(axum::Json(state.store.get_role(id).await?))
}

#[utoipa::path(post, path = "/api/roles", tag = "roles", request_body = RoleInput, responses((status = 201, description = "Created", body = Role), (status = 400, description = "Invalid request", body = crate::error::ErrorBody), (status = 401, description = "Missing or wrong credentials", body = crate::error::ErrorBody), (status = 403, description = "Permission missing", body = crate::error::ErrorBody), (status = 409, description = "Conflict", body = crate::error::ErrorBody)))]
pub(crate) async fn create(
    State(state): State<SharedState>,
    Extension(p): Extension<Principal>,
    Json(body): Json<RoleInput>,
) -> Result<(StatusCode, axum::Json<Role>), ApiError> {
    let role = state.store.create_role(&p.actor(), &body).await?;
    Ok((StatusCode::CREATED, axum::Json(role)))
}

#[utoipa::path(patch, path = "/api/roles/{id}", tag = "roles", params(("id" = i64, Path, description = "Integer id")), request_body = RolePatch, responses((status = 200, description = "Changed", body = Role), (status = 400, description = "Invalid request", body = crate::error::ErrorBody), (status = 401, description = "Missing or wrong credentials", body = crate::error::ErrorBody), (status = 403, description = "Permission missing", body = crate::error::ErrorBody), (status = 404, description = "Not found", body = crate::error::ErrorBody), (status = 409, description = "Conflict", body = crate::error::ErrorBody)))]
pub(crate) async fn update(
    State(state): State<SharedState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
    Json(body): Json<RolePatch>,
) -> Result<axum::Json<Role>, ApiError> {
    Ok(axum::Json(
        state.store.update_role(&p.actor(), id, &body).await?,
    ))
}

#[utoipa::path(delete, path = "/api/roles/{id}", tag = "roles", params(("id" = i64, Path, description = "Integer id")), responses((status = 204, description = "Deleted"), (status = 400, description = "Invalid request", body = crate::error::ErrorBody), (status = 401, description = "Missing or wrong credentials", body = crate::error::ErrorBody), (status = 403, description = "Permission missing", body = crate::error::ErrorBody), (status = 404, description = "Not found", body = crate::error::ErrorBody), (status = 409, description = "Conflict", body = crate::error::ErrorBody)))]
pub(crate) async fn remove(
    State(state): State<SharedState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    state.store.delete_role(&p.actor(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

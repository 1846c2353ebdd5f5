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

async fn list(State(state): State<SharedState>) -> Result<axum::Json<Vec<Role>>, ApiError> {
    Ok(axum::Json(state.store.list_roles().await?))
}

async fn one(State(state): State<SharedState>, Id(id): Id) -> Result<axum::Json<Role>, ApiError> {
    Ok(axum::Json(state.store.get_role(id).await?))
}

async fn create(
    State(state): State<SharedState>,
    Extension(p): Extension<Principal>,
    Json(body): Json<RoleInput>,
) -> Result<(StatusCode, axum::Json<Role>), ApiError> {
    let role = state.store.create_role(&p.actor(), &body).await?;
    Ok((StatusCode::CREATED, axum::Json(role)))
}

async fn update(
    State(state): State<SharedState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
    Json(body): Json<RolePatch>,
) -> Result<axum::Json<Role>, ApiError> {
    Ok(axum::Json(
        state.store.update_role(&p.actor(), id, &body).await?,
    ))
}

async fn remove(
    State(state): State<SharedState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    state.store.delete_role(&p.actor(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

//! `/api/folders`: folders grouping databases. Deleting one moves its databases to the root.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, patch};
use axum::{Extension, Router};
use dbward_core::model::Folder;
use serde::Deserialize;

use crate::access::Principal;
use crate::error::ApiError;
use crate::extract::{Id, Json};
use crate::state::SharedState;

pub fn router() -> Router<SharedState> {
    Router::new()
        .route("/api/folders", get(list).post(create))
        .route("/api/folders/{id}", patch(rename).delete(remove))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FolderBody {
    name: String,
}

#[utoipa::path(get, path = "/api/folders", tag = "folders", responses((status = 200, description = "Folders", body = Vec<Folder>), (status = 400, description = "Invalid request", body = crate::error::ErrorBody), (status = 401, description = "Missing or wrong credentials", body = crate::error::ErrorBody), (status = 403, description = "Permission missing", body = crate::error::ErrorBody)))]
pub(crate) async fn list(
    State(state): State<SharedState>,
) -> Result<axum::Json<Vec<Folder>>, ApiError> {
    Ok(axum::Json(state.store.list_folders().await?))
}

#[utoipa::path(post, path = "/api/folders", tag = "folders", request_body = FolderBody, responses((status = 201, description = "Created", body = Folder), (status = 400, description = "Invalid request", body = crate::error::ErrorBody), (status = 401, description = "Missing or wrong credentials", body = crate::error::ErrorBody), (status = 403, description = "Permission missing", body = crate::error::ErrorBody), (status = 409, description = "Conflict", body = crate::error::ErrorBody)))]
pub(crate) async fn create(
    State(state): State<SharedState>,
    Extension(p): Extension<Principal>,
    Json(body): Json<FolderBody>,
) -> Result<(StatusCode, axum::Json<Folder>), ApiError> {
    let folder = state.store.create_folder(&p.actor(), &body.name).await?;
    Ok((StatusCode::CREATED, axum::Json(folder)))
}

#[utoipa::path(patch, path = "/api/folders/{id}", tag = "folders", params(("id" = i64, Path, description = "Integer id")), request_body = FolderBody, responses((status = 200, description = "Renamed", body = Folder), (status = 400, description = "Invalid request", body = crate::error::ErrorBody), (status = 401, description = "Missing or wrong credentials", body = crate::error::ErrorBody), (status = 403, description = "Permission missing", body = crate::error::ErrorBody), (status = 404, description = "Not found", body = crate::error::ErrorBody), (status = 409, description = "Conflict", body = crate::error::ErrorBody)))]
pub(crate) async fn rename(
    State(state): State<SharedState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
    Json(body): Json<FolderBody>,
) -> Result<axum::Json<Folder>, ApiError> {
    Ok(axum::Json(
        state
            .store
            .rename_folder(&p.actor(), id, &body.name)
            .await?,
    ))
}

#[utoipa::path(delete, path = "/api/folders/{id}", tag = "folders", params(("id" = i64, Path, description = "Integer id")), responses((status = 204, description = "Deleted; its databases moved to the root"), (status = 400, description = "Invalid request", body = crate::error::ErrorBody), (status = 401, description = "Missing or wrong credentials", body = crate::error::ErrorBody), (status = 403, description = "Permission missing", body = crate::error::ErrorBody), (status = 404, description = "Not found", body = crate::error::ErrorBody)))]
pub(crate) async fn remove(
    State(state): State<SharedState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    state.store.delete_folder(&p.actor(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

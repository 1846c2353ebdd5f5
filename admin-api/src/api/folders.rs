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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FolderBody {
    name: String,
}

async fn list(State(state): State<SharedState>) -> Result<axum::Json<Vec<Folder>>, ApiError> {
    Ok(axum::Json(state.store.list_folders().await?))
}

async fn create(
    State(state): State<SharedState>,
    Extension(p): Extension<Principal>,
    Json(body): Json<FolderBody>,
) -> Result<(StatusCode, axum::Json<Folder>), ApiError> {
    let folder = state.store.create_folder(&p.actor(), &body.name).await?;
    Ok((StatusCode::CREATED, axum::Json(folder)))
}

async fn rename(
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

async fn remove(
    State(state): State<SharedState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    state.store.delete_folder(&p.actor(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

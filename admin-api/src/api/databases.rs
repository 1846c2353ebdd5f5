//! `/api/databases`: upstream databases. Passwords and keys are write-only: no response ever
//! carries them (only `has_password` and friends). A caller without `manage_connections` sees
//! just the databases they hold an active grant on, with name, engine and folder.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Router};
use dbward_core::model::{Database, Engine, Permission};
use dbward_core::store::{DatabaseInput, DatabasePatch, ReorderItem};
use serde::Serialize;

use crate::access::Principal;
use crate::error::ApiError;
use crate::extract::{Id, Json};
use crate::state::SharedState;

pub fn router() -> Router<SharedState> {
    Router::new()
        .route("/api/databases", get(list).post(create))
        .route("/api/databases/reorder", post(reorder))
        .route("/api/databases/{id}", get(one).patch(update).delete(remove))
}

/// What a user without `manage_connections` sees of a database.
#[derive(Serialize, utoipa::ToSchema)]
// No other field may appear: that is what tells it apart from a full `Database` in the
// OpenAPI document's `oneOf`.
#[serde(deny_unknown_fields)]
pub(crate) struct GrantedDatabase {
    id: i64,
    name: String,
    engine: Engine,
    folder_id: Option<i64>,
    position: i64,
    description: String,
}

impl From<Database> for GrantedDatabase {
    fn from(d: Database) -> Self {
        Self {
            id: d.id,
            name: d.name,
            engine: d.engine,
            folder_id: d.folder_id,
            position: d.position,
            description: d.description,
        }
    }
}

/// A database as the caller may see it: everything but secrets with `manage_connections`,
/// otherwise the reduced view of a granted database.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub(crate) enum DatabaseView {
    /// With `manage_connections` (boxed: the other view is a fraction of its size).
    Full(Box<Database>),
    /// Without it.
    Granted(GrantedDatabase),
}

#[utoipa::path(get, path = "/api/databases", tag = "databases", responses((status = 200, description = "All databases (manage_connections) or those the caller holds an active grant on", body = Vec<DatabaseView>), (status = 400, description = "Invalid request", body = crate::error::ErrorBody), (status = 401, description = "Missing or wrong credentials", body = crate::error::ErrorBody), (status = 403, description = "Permission missing", body = crate::error::ErrorBody)))]
pub(crate) async fn list(
    State(state): State<SharedState>,
    Extension(p): Extension<Principal>,
) -> Result<axum::Json<Vec<DatabaseView>>, ApiError> {
    if p.has(Permission::ManageConnections) {
        let all = state.store.list_databases().await?;
        return Ok(axum::Json(
            all.into_iter()
                .map(|d| DatabaseView::Full(Box::new(d)))
                .collect(),
        ));
    }
    let granted = state
        .store
        .list_databases_granted_to(p.user_id, dbward_core::time::now())
        .await?;
    Ok(axum::Json(
        granted
            .into_iter()
            .map(|d| DatabaseView::Granted(d.into()))
            .collect(),
    ))
}

#[utoipa::path(get, path = "/api/databases/{id}", tag = "databases", params(("id" = i64, Path, description = "Integer id")), responses((status = 200, description = "The database", body = DatabaseView), (status = 400, description = "Invalid request", body = crate::error::ErrorBody), (status = 401, description = "Missing or wrong credentials", body = crate::error::ErrorBody), (status = 403, description = "Permission missing", body = crate::error::ErrorBody), (status = 404, description = "Not found", body = crate::error::ErrorBody)))]
pub(crate) async fn one(
    State(state): State<SharedState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
) -> Result<axum::Json<DatabaseView>, ApiError> {
    if p.has(Permission::ManageConnections) {
        return Ok(axum::Json(DatabaseView::Full(Box::new(
            state.store.get_database(id).await?,
        ))));
    }
    let db = state
        .store
        .list_databases_granted_to(p.user_id, dbward_core::time::now())
        .await?
        .into_iter()
        .find(|d| d.id == id)
        .ok_or_else(|| ApiError::not_found("database"))?;
    Ok(axum::Json(DatabaseView::Granted(db.into())))
}

#[utoipa::path(post, path = "/api/databases", tag = "databases", request_body = DatabaseInput, responses((status = 201, description = "Created", body = Database), (status = 400, description = "Invalid request", body = crate::error::ErrorBody), (status = 401, description = "Missing or wrong credentials", body = crate::error::ErrorBody), (status = 403, description = "Permission missing", body = crate::error::ErrorBody), (status = 404, description = "Not found", body = crate::error::ErrorBody), (status = 409, description = "Conflict", body = crate::error::ErrorBody)))]
pub(crate) async fn create(
    State(state): State<SharedState>,
    Extension(p): Extension<Principal>,
    Json(body): Json<DatabaseInput>,
) -> Result<(StatusCode, axum::Json<Database>), ApiError> {
    let db = state
        .store
        .create_database(&p.actor(), &state.key, &body)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(db)))
}

#[utoipa::path(patch, path = "/api/databases/{id}", tag = "databases", params(("id" = i64, Path, description = "Integer id")), request_body = DatabasePatch, responses((status = 200, description = "Changed", body = Database), (status = 400, description = "Invalid request", body = crate::error::ErrorBody), (status = 401, description = "Missing or wrong credentials", body = crate::error::ErrorBody), (status = 403, description = "Permission missing", body = crate::error::ErrorBody), (status = 404, description = "Not found", body = crate::error::ErrorBody), (status = 409, description = "Conflict", body = crate::error::ErrorBody)))]
pub(crate) async fn update(
    State(state): State<SharedState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
    Json(body): Json<DatabasePatch>,
) -> Result<axum::Json<Database>, ApiError> {
    Ok(axum::Json(
        state
            .store
            .update_database(&p.actor(), &state.key, id, &body)
            .await?,
    ))
}

#[utoipa::path(delete, path = "/api/databases/{id}", tag = "databases", params(("id" = i64, Path, description = "Integer id")), responses((status = 204, description = "Deleted (soft)"), (status = 400, description = "Invalid request", body = crate::error::ErrorBody), (status = 401, description = "Missing or wrong credentials", body = crate::error::ErrorBody), (status = 403, description = "Permission missing", body = crate::error::ErrorBody), (status = 404, description = "Not found", body = crate::error::ErrorBody)))]
pub(crate) async fn remove(
    State(state): State<SharedState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    state.store.delete_database(&p.actor(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/databases/reorder", tag = "databases", request_body = Vec<ReorderItem>, responses((status = 204, description = "Moved"), (status = 400, description = "Invalid request", body = crate::error::ErrorBody), (status = 401, description = "Missing or wrong credentials", body = crate::error::ErrorBody), (status = 403, description = "Permission missing", body = crate::error::ErrorBody), (status = 404, description = "Not found", body = crate::error::ErrorBody)))]
pub(crate) async fn reorder(
    State(state): State<SharedState>,
    Extension(p): Extension<Principal>,
    Json(items): Json<Vec<ReorderItem>>,
) -> Result<StatusCode, ApiError> {
    if items.len() > 10_000 {
        return Err(ApiError::invalid("at most 10000 items per reorder"));
    }
    state.store.reorder_databases(&p.actor(), &items).await?;
    Ok(StatusCode::NO_CONTENT)
}

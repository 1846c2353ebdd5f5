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
use serde_json::Value;

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
#[derive(Serialize)]
struct GrantedDatabase {
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

fn to_value<T: Serialize>(v: &T) -> Result<Value, ApiError> {
    serde_json::to_value(v).map_err(|e| ApiError::internal(&e))
}

async fn list(
    State(state): State<SharedState>,
    Extension(p): Extension<Principal>,
) -> Result<axum::Json<Value>, ApiError> {
    if p.has(Permission::ManageConnections) {
        return Ok(axum::Json(to_value(&state.store.list_databases().await?)?));
    }
    let dbs: Vec<GrantedDatabase> = state
        .store
        .list_databases_granted_to(p.user_id, dbward_core::time::now())
        .await?
        .into_iter()
        .map(GrantedDatabase::from)
        .collect();
    Ok(axum::Json(to_value(&dbs)?))
}

async fn one(
    State(state): State<SharedState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
) -> Result<axum::Json<Value>, ApiError> {
    if p.has(Permission::ManageConnections) {
        return Ok(axum::Json(to_value(&state.store.get_database(id).await?)?));
    }
    let db = state
        .store
        .list_databases_granted_to(p.user_id, dbward_core::time::now())
        .await?
        .into_iter()
        .find(|d| d.id == id)
        .ok_or_else(|| ApiError::not_found("database"))?;
    Ok(axum::Json(to_value(&GrantedDatabase::from(db))?))
}

async fn create(
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

async fn update(
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

async fn remove(
    State(state): State<SharedState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    state.store.delete_database(&p.actor(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn reorder(
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

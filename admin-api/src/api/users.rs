//! `/api/users`: dbward users (needs `manage_users`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Extension, Router};
use dbward_core::crypto::Secret;
use dbward_core::model::{User, UserKind, builtin};
use dbward_core::store::{NewUser, UserPatch};
use serde::Deserialize;

use super::{check_password, make_verifiers};
use crate::access::Principal;
use crate::error::ApiError;
use crate::extract::{Id, Json, Query};
use crate::state::SharedState;

pub fn router() -> Router<SharedState> {
    Router::new()
        .route("/api/users", get(list).post(create))
        .route("/api/users/{id}", get(one).patch(update).delete(remove))
        .route("/api/users/{id}/password", put(set_password))
}

/// A role given by id or by name.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RoleSel {
    Id(i64),
    Name(String),
}

async fn role_ids(state: &SharedState, roles: &[RoleSel]) -> Result<Vec<i64>, ApiError> {
    let mut ids = Vec::with_capacity(roles.len());
    for r in roles {
        let id = match r {
            RoleSel::Id(id) => state.store.get_role(*id).await?.id,
            RoleSel::Name(name) => state.store.get_role_by_name(name).await?.id,
        };
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    #[serde(default)]
    include_deleted: bool,
}

async fn list(
    State(state): State<SharedState>,
    Query(q): Query<ListQuery>,
) -> Result<axum::Json<Vec<User>>, ApiError> {
    Ok(axum::Json(state.store.list_users(q.include_deleted).await?))
}

async fn one(State(state): State<SharedState>, Id(id): Id) -> Result<axum::Json<User>, ApiError> {
    Ok(axum::Json(state.store.get_user(id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateUser {
    username: String,
    #[serde(default = "local")]
    kind: UserKind,
    password: Option<Secret<String>>,
    #[serde(default = "yes")]
    enabled: bool,
    /// Role ids or names; default: the built-in `user` role.
    roles: Option<Vec<RoleSel>>,
}

fn local() -> UserKind {
    UserKind::Local
}

fn yes() -> bool {
    true
}

async fn create(
    State(state): State<SharedState>,
    Extension(p): Extension<Principal>,
    Json(body): Json<CreateUser>,
) -> Result<(StatusCode, axum::Json<User>), ApiError> {
    dbward_core::model::validate_name("username", &body.username).map_err(ApiError::invalid)?;
    let roles = match &body.roles {
        Some(r) => role_ids(&state, r).await?,
        None => vec![state.store.get_role_by_name(builtin::USER).await?.id],
    };
    let verifiers = match (&body.kind, &body.password) {
        (UserKind::Local, Some(pw)) => {
            check_password(pw.expose())?;
            Some(make_verifiers(&state, pw.expose().clone()).await?)
        }
        (UserKind::Local, None) => return Err(ApiError::invalid("a local user needs a password")),
        (UserKind::Ldap, Some(_)) => {
            return Err(ApiError::invalid(
                "an LDAP user's password lives in the directory; do not set one",
            ));
        }
        (UserKind::Ldap, None) => None,
    };
    let user = state
        .store
        .create_user(
            &p.actor(),
            &NewUser {
                username: body.username,
                kind: body.kind,
                verifiers,
                enabled: body.enabled,
                role_ids: roles,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, axum::Json(user)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchUser {
    enabled: Option<bool>,
    roles: Option<Vec<RoleSel>>,
}

async fn update(
    State(state): State<SharedState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
    Json(body): Json<PatchUser>,
) -> Result<axum::Json<User>, ApiError> {
    let role_ids = match &body.roles {
        Some(r) => Some(role_ids(&state, r).await?),
        None => None,
    };
    let patch = UserPatch {
        enabled: body.enabled,
        role_ids,
    };
    Ok(axum::Json(
        state.store.update_user(&p.actor(), id, &patch).await?,
    ))
}

async fn remove(
    State(state): State<SharedState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    state.store.delete_user(&p.actor(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetPassword {
    password: Secret<String>,
}

async fn set_password(
    State(state): State<SharedState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
    Json(body): Json<SetPassword>,
) -> Result<StatusCode, ApiError> {
    check_password(body.password.expose())?;
    // Check the user first so a bad id costs no hashing.
    let user = state.store.get_user(id).await?;
    if user.deleted_at.is_some() {
        return Err(ApiError::not_found("user"));
    }
    let v = make_verifiers(&state, body.password.expose().clone()).await?;
    state
        .store
        .set_password(&p.actor(), id, &v, "user.set_password")
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

//! `/api/users`: dbward users (needs `manage_users`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Extension, Router};
use dbward_core::crypto::{Secret, password};
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
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub(crate) enum RoleSel {
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

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    #[serde(default)]
    include_deleted: bool,
}

#[utoipa::path(get, path = "/api/users", tag = "users", params(ListQuery), responses((status = 200, description = "Users", body = Vec<User>), (status = 400, description = "Invalid request", body = crate::error::ErrorBody), (status = 401, description = "Missing or wrong credentials", body = crate::error::ErrorBody), (status = 403, description = "Permission missing", body = crate::error::ErrorBody)))]
pub(crate) async fn list(
    State(state): State<SharedState>,
    Query(q): Query<ListQuery>,
) -> Result<axum::Json<Vec<User>>, ApiError> {
    Ok(axum::Json(state.store.list_users(q.include_deleted).await?))
}

#[utoipa::path(get, path = "/api/users/{id}", tag = "users", params(("id" = i64, Path, description = "Integer id")), responses((status = 200, description = "The user (deleted ones too)", body = User), (status = 400, description = "Invalid request", body = crate::error::ErrorBody), (status = 401, description = "Missing or wrong credentials", body = crate::error::ErrorBody), (status = 403, description = "Permission missing", body = crate::error::ErrorBody), (status = 404, description = "Not found", body = crate::error::ErrorBody)))]
pub(crate) async fn one(
    State(state): State<SharedState>,
    Id(id): Id,
) -> Result<axum::Json<User>, ApiError> {
    Ok(axum::Json(state.store.get_user(id).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateUser {
    username: String,
    #[serde(default = "local")]
    kind: UserKind,
    #[schema(value_type = Option<String>, format = Password, write_only)]
    password: Option<Secret<String>>,
    #[serde(default = "yes")]
    enabled: bool,
    /// Role ids or names; default: the built-in `user` role.
    roles: Option<Vec<RoleSel>>,
    /// Also accept `mysql_native_password` at the MySQL port, for old clients that speak
    /// nothing newer (local users only; weaker: see the README). Default off.
    #[serde(default)]
    mysql_native_password: bool,
}

fn local() -> UserKind {
    UserKind::Local
}

fn yes() -> bool {
    true
}

#[utoipa::path(post, path = "/api/users", tag = "users", request_body = CreateUser, responses((status = 201, description = "Created", body = User), (status = 400, description = "Invalid request", body = crate::error::ErrorBody), (status = 401, description = "Missing or wrong credentials", body = crate::error::ErrorBody), (status = 403, description = "Permission missing", body = crate::error::ErrorBody), (status = 404, description = "Not found", body = crate::error::ErrorBody), (status = 409, description = "Conflict", body = crate::error::ErrorBody)))]
pub(crate) async fn create(
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
    if body.mysql_native_password && body.kind != UserKind::Local {
        return Err(ApiError::invalid(
            "mysql_native_password needs a local password",
        ));
    }
    let mysql_native_sealed = body
        .password
        .as_ref()
        .filter(|_| body.mysql_native_password)
        .map(|pw| password::seal_mysql_native(&state.key, &body.username, pw.expose()));
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
                mysql_native_sealed,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, axum::Json(user)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PatchUser {
    enabled: Option<bool>,
    roles: Option<Vec<RoleSel>>,
    /// `false` turns `mysql_native_password` off. Turning it on needs the password: `PUT
    /// /api/users/{id}/password` with `mysql_native_password: true`.
    mysql_native_password: Option<bool>,
}

#[utoipa::path(patch, path = "/api/users/{id}", tag = "users", params(("id" = i64, Path, description = "Integer id")), request_body = PatchUser, responses((status = 200, description = "Changed", body = User), (status = 400, description = "Invalid request", body = crate::error::ErrorBody), (status = 401, description = "Missing or wrong credentials", body = crate::error::ErrorBody), (status = 403, description = "Permission missing", body = crate::error::ErrorBody), (status = 404, description = "Not found", body = crate::error::ErrorBody), (status = 409, description = "Conflict", body = crate::error::ErrorBody)))]
pub(crate) async fn update(
    State(state): State<SharedState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
    Json(body): Json<PatchUser>,
) -> Result<axum::Json<User>, ApiError> {
    let role_ids = match &body.roles {
        Some(r) => Some(role_ids(&state, r).await?),
        None => None,
    };
    if body.mysql_native_password == Some(true) {
        return Err(ApiError::invalid(
            "mysql_native_password is derived from the password, which dbward does not keep: \
             set it with PUT /api/users/{id}/password and mysql_native_password: true",
        ));
    }
    let patch = UserPatch {
        enabled: body.enabled,
        role_ids,
        clear_mysql_native: body.mysql_native_password == Some(false),
    };
    Ok(axum::Json(
        state.store.update_user(&p.actor(), id, &patch).await?,
    ))
}

#[utoipa::path(delete, path = "/api/users/{id}", tag = "users", params(("id" = i64, Path, description = "Integer id")), responses((status = 204, description = "Deleted (soft)"), (status = 400, description = "Invalid request", body = crate::error::ErrorBody), (status = 401, description = "Missing or wrong credentials", body = crate::error::ErrorBody), (status = 403, description = "Permission missing", body = crate::error::ErrorBody), (status = 404, description = "Not found", body = crate::error::ErrorBody), (status = 409, description = "Conflict", body = crate::error::ErrorBody)))]
pub(crate) async fn remove(
    State(state): State<SharedState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    state.store.delete_user(&p.actor(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetPassword {
    #[schema(value_type = String, format = Password, write_only)]
    password: Secret<String>,
    /// Turns `mysql_native_password` on or off with the new password; absent: as it was.
    mysql_native_password: Option<bool>,
}

#[utoipa::path(put, path = "/api/users/{id}/password", tag = "users", params(("id" = i64, Path, description = "Integer id")), request_body = SetPassword, responses((status = 204, description = "Changed"), (status = 400, description = "Invalid request", body = crate::error::ErrorBody), (status = 401, description = "Missing or wrong credentials", body = crate::error::ErrorBody), (status = 403, description = "Permission missing", body = crate::error::ErrorBody), (status = 404, description = "Not found", body = crate::error::ErrorBody)))]
pub(crate) async fn set_password(
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
    if body.mysql_native_password == Some(true) && user.kind != UserKind::Local {
        return Err(ApiError::invalid(
            "mysql_native_password needs a local password",
        ));
    }
    let v = make_verifiers(&state, body.password.expose().clone()).await?;
    let native = body
        .mysql_native_password
        .unwrap_or(user.mysql_native_password)
        .then(|| password::seal_mysql_native(&state.key, &user.username, body.password.expose()));
    state
        .store
        .set_password(&p.actor(), id, &v, native.as_deref(), "user.set_password")
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

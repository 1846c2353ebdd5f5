//! `/api/me*`: the caller's own account, grants and password, for every user whatever their
//! permissions.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Extension, Router};
use dbward_core::crypto::Secret;
use dbward_core::model::{AccessLevel, GrantState, cap_access_level};
use dbward_core::store::GrantFilter;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{check_password, make_verifiers};
use crate::access::Principal;
use crate::error::ApiError;
use crate::extract::Json;
use crate::state::SharedState;

pub fn router() -> Router<SharedState> {
    Router::new()
        .route("/api/me", get(me))
        .route("/api/me/grants", get(my_grants))
        .route("/api/me/password", put(change_password))
}

#[utoipa::path(get, path = "/api/me", tag = "me", responses((status = 200, description = "The caller", body = dbward_core::model::User), (status = 400, description = "Invalid request", body = crate::error::ErrorBody), (status = 401, description = "Missing or wrong credentials", body = crate::error::ErrorBody), (status = 403, description = "Permission missing", body = crate::error::ErrorBody)))]
pub(crate) async fn me(
    State(state): State<SharedState>,
    Extension(p): Extension<Principal>,
) -> Result<axum::Json<dbward_core::model::User>, ApiError> {
    Ok(axum::Json(state.store.get_user(p.user_id).await?))
}

/// A grant as its holder sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct MyGrant {
    id: i64,
    database_id: i64,
    database: String,
    access_level: AccessLevel,
    /// The level actually usable: capped by the caller's `execute_sql_*` permissions.
    effective_level: Option<AccessLevel>,
    state: GrantState,
    #[serde(with = "time::serde::rfc3339")]
    starts_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
    /// Seconds until `expires_at` (0 once expired).
    seconds_left: i64,
    max_queries: Option<i64>,
    used_queries: i64,
    remaining_queries: Option<i64>,
    max_bytes: Option<i64>,
    used_bytes: i64,
    remaining_bytes: Option<i64>,
}

/// The caller's grants that are active now or start later.
#[utoipa::path(get, path = "/api/me/grants", tag = "me", responses((status = 200, description = "Active and future grants with time and quota left", body = Vec<MyGrant>), (status = 400, description = "Invalid request", body = crate::error::ErrorBody), (status = 401, description = "Missing or wrong credentials", body = crate::error::ErrorBody), (status = 403, description = "Permission missing", body = crate::error::ErrorBody)))]
pub(crate) async fn my_grants(
    State(state): State<SharedState>,
    Extension(p): Extension<Principal>,
) -> Result<axum::Json<Vec<MyGrant>>, ApiError> {
    let now = dbward_core::time::now();
    let grants = state
        .store
        .list_grants(
            &GrantFilter {
                user_id: Some(p.user_id),
                ..GrantFilter::default()
            },
            now,
        )
        .await?;
    let mut out = Vec::new();
    for g in grants {
        let st = g.state(now);
        if !matches!(st, GrantState::Active | GrantState::Pending) {
            continue;
        }
        let Ok(db) = state.store.get_database(g.database_id).await else {
            continue; // the database was deleted: the grant leads nowhere
        };
        out.push(MyGrant {
            id: g.id,
            database_id: db.id,
            database: db.name,
            access_level: g.access_level,
            effective_level: cap_access_level(g.access_level, &p.permissions),
            state: st,
            starts_at: g.starts_at,
            expires_at: g.expires_at,
            seconds_left: (g.expires_at - now).whole_seconds().max(0),
            max_queries: g.max_queries,
            used_queries: g.used_queries,
            remaining_queries: g.remaining_queries(),
            max_bytes: g.max_bytes,
            used_bytes: g.used_bytes,
            remaining_bytes: g.remaining_bytes(),
        });
    }
    Ok(axum::Json(out))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChangePassword {
    #[schema(value_type = String, format = Password, write_only)]
    current_password: Secret<String>,
    #[schema(value_type = String, format = Password, write_only)]
    new_password: Secret<String>,
}

/// Changes the caller's own password; the current one is asked again.
#[utoipa::path(put, path = "/api/me/password", tag = "me", request_body = ChangePassword, responses((status = 204, description = "Changed"), (status = 400, description = "Invalid request", body = crate::error::ErrorBody), (status = 401, description = "Missing or wrong credentials", body = crate::error::ErrorBody), (status = 403, description = "Permission missing", body = crate::error::ErrorBody)))]
pub(crate) async fn change_password(
    State(state): State<SharedState>,
    Extension(p): Extension<Principal>,
    Json(body): Json<ChangePassword>,
) -> Result<StatusCode, ApiError> {
    check_password(body.new_password.expose())?;
    state
        .auth
        .verify_password(&p.username, body.current_password.expose(), p.client)
        .await
        .map_err(|_| ApiError::forbidden("current_password is wrong"))?;
    let v = make_verifiers(&state, body.new_password.expose().clone()).await?;
    // `mysql_native_password` stays as an admin set it, derived from the new password.
    let me = state.store.get_user(p.user_id).await?;
    let native = me.mysql_native_password.then(|| {
        dbward_core::crypto::password::seal_mysql_native(
            &state.key,
            &me.username,
            body.new_password.expose(),
        )
    });
    state
        .store
        .set_password(
            &p.actor(),
            p.user_id,
            &v,
            native.as_deref(),
            "me.change_password",
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

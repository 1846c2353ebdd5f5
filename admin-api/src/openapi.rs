//! `GET /api/openapi.json`: the OpenAPI 3.1 document, generated from the handlers' annotations
//! and the request/response types (utoipa), so it cannot drift from the code unnoticed: a test
//! compares its routes with the access table (which the router enforces) and validates real
//! responses against its schemas.

use axum::Router;
use axum::routing::get;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::api::{audit, databases, folders, grants, health, me, roles, sessions, users};
use crate::state::SharedState;

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "dbward admin API",
        description = "Users, roles, upstream databases, folders, grants and the audit trail. \
                       HTTP basic auth; see the README for the permission each route needs."
    ),
    modifiers(&BasicAuth),
    security(("basic" = [])),
    paths(
        health::health,
        openapi_json,
        me::me, me::my_grants, me::change_password,
        users::list, users::create, users::one, users::update, users::remove, users::set_password,
        roles::list, roles::create, roles::one, roles::update, roles::remove,
        databases::list, databases::create, databases::reorder, databases::one,
        databases::update, databases::remove,
        folders::list, folders::create, folders::rename, folders::remove,
        grants::list, grants::create, grants::one, grants::revoke,
        audit::list, audit::export, audit::stream, audit::verify,
        sessions::list, sessions::kill,
    ),
    tags(
        (name = "health"), (name = "me"), (name = "users"), (name = "roles"),
        (name = "databases"), (name = "folders"), (name = "grants"), (name = "audit"), (name = "sessions"),
    )
)]
pub struct ApiDoc;

struct BasicAuth;

impl Modify for BasicAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
    }
}

pub(crate) fn router() -> Router<SharedState> {
    Router::new().route("/api/openapi.json", get(openapi_json))
}

/// The OpenAPI document of this API.
#[utoipa::path(get, path = "/api/openapi.json", tag = "health", security(()),
    responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
pub(crate) async fn openapi_json() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi())
}

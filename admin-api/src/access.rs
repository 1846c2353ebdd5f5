//! Who may call what: the endpoint table, HTTP basic authentication and the `authorize`
//! middleware.
//!
//! Every route of the API is one row of [`ENDPOINTS`]. The middleware finds the row by the
//! request's method and matched route; a route without a row is refused (fail closed). The
//! README's permission table is this table, and a test checks the two against the router.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use dbward_core::model::{Permission, PermissionSet};
use dbward_core::store::{Actor, AdminAuditEntry, AuditOutcome};
use serde_json::json;

use crate::error::ApiError;
use crate::state::SharedState;

/// What an endpoint requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No authentication.
    Public,
    /// Any enabled, authenticated user, whatever their permissions.
    AnyUser,
    /// `api_access` plus this permission (`ApiAccess` itself: nothing more).
    Permission(Permission),
}

/// One row of the access table.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint {
    /// HTTP method.
    pub method: &'static str,
    /// Route as registered in the router.
    pub path: &'static str,
    /// What it requires.
    pub access: Access,
}

const fn ep(method: &'static str, path: &'static str, access: Access) -> Endpoint {
    Endpoint {
        method,
        path,
        access,
    }
}

use Access::{AnyUser, Permission as P, Public};
use Permission as Pm;

/// The access table: every route of the API and what it requires.
pub const ENDPOINTS: &[Endpoint] = &[
    ep("GET", "/api/health", Public),
    ep("GET", "/api/openapi.json", Public),
    ep("GET", "/api/me", AnyUser),
    ep("GET", "/api/me/grants", AnyUser),
    ep("PUT", "/api/me/password", AnyUser),
    ep("GET", "/api/users", P(Pm::ManageUsers)),
    ep("POST", "/api/users", P(Pm::ManageUsers)),
    ep("GET", "/api/users/{id}", P(Pm::ManageUsers)),
    ep("PATCH", "/api/users/{id}", P(Pm::ManageUsers)),
    ep("DELETE", "/api/users/{id}", P(Pm::ManageUsers)),
    ep("PUT", "/api/users/{id}/password", P(Pm::ManageUsers)),
    ep("GET", "/api/roles", P(Pm::ApiAccess)),
    ep("POST", "/api/roles", P(Pm::ManageRoles)),
    ep("GET", "/api/roles/{id}", P(Pm::ApiAccess)),
    ep("PATCH", "/api/roles/{id}", P(Pm::ManageRoles)),
    ep("DELETE", "/api/roles/{id}", P(Pm::ManageRoles)),
    // Listing needs only api_access: without manage_connections it shows the databases the
    // caller holds an active grant on, with name, engine and folder only.
    ep("GET", "/api/databases", P(Pm::ApiAccess)),
    ep("POST", "/api/databases", P(Pm::ManageConnections)),
    ep("POST", "/api/databases/reorder", P(Pm::ManageConnections)),
    ep("GET", "/api/databases/{id}", P(Pm::ApiAccess)),
    ep("PATCH", "/api/databases/{id}", P(Pm::ManageConnections)),
    ep("DELETE", "/api/databases/{id}", P(Pm::ManageConnections)),
    ep("GET", "/api/folders", P(Pm::ApiAccess)),
    ep("POST", "/api/folders", P(Pm::ManageConnections)),
    ep("PATCH", "/api/folders/{id}", P(Pm::ManageConnections)),
    ep("DELETE", "/api/folders/{id}", P(Pm::ManageConnections)),
    ep("GET", "/api/grants", P(Pm::ManageGrants)),
    ep("POST", "/api/grants", P(Pm::ManageGrants)),
    ep("GET", "/api/grants/{id}", P(Pm::ManageGrants)),
    ep("DELETE", "/api/grants/{id}", P(Pm::ManageGrants)),
    ep("GET", "/api/audit", P(Pm::ViewAudit)),
    ep("GET", "/api/audit/export", P(Pm::ViewAudit)),
    ep("GET", "/api/audit/stream", P(Pm::ViewAudit)),
    ep("GET", "/api/audit/verify", P(Pm::ViewAudit)),
    ep("GET", "/api/sessions", P(Pm::ManageSessions)),
    ep("DELETE", "/api/sessions/{id}", P(Pm::ManageSessions)),
];

/// The authenticated caller, as handlers see it.
#[derive(Debug, Clone)]
pub struct Principal {
    /// User id.
    pub user_id: i64,
    /// Login name.
    pub username: String,
    /// Union of the user's role permissions.
    pub permissions: PermissionSet,
    /// Client address.
    pub client: IpAddr,
}

impl Principal {
    /// Whether the caller holds `p`.
    #[must_use]
    pub fn has(&self, p: Permission) -> bool {
        self.permissions.contains(&p)
    }

    /// The caller as an audit actor.
    #[must_use]
    pub fn actor(&self) -> Actor {
        Actor {
            user_id: Some(self.user_id),
            username: self.username.as_str().into(),
            client_addr: Some(self.client.to_string().into()),
        }
    }
}

/// An error's code and message, attached to error responses so the middleware can audit them.
#[derive(Debug, Clone)]
pub struct ErrorInfo {
    /// Stable code.
    pub code: &'static str,
    /// Message shown to the client.
    pub message: String,
}

fn lookup(method: &Method, path: &str) -> Option<&'static Endpoint> {
    ENDPOINTS
        .iter()
        .find(|e| e.path == path && e.method == method.as_str())
}

/// Decodes `Authorization: Basic ...` into (user, password).
fn basic_credentials(req: &Request) -> Option<(String, String)> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_owned(), pass.to_owned()))
}

/// Authenticates and authorizes every request by the access table, then audits refused
/// mutations.
pub async fn authorize(State(state): State<SharedState>, mut req: Request, next: Next) -> Response {
    // Without connection info (in-process tests) the client counts as remote: fail closed.
    let client = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| {
            c.0.ip().to_canonical()
        });
    let Some(path) = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
    else {
        return next.run(req).await; // no route: the fallback answers 404
    };
    let method = req.method().clone();
    let Some(endpoint) = lookup(&method, &path) else {
        if ENDPOINTS.iter().any(|e| e.path == path) {
            return next.run(req).await; // the router answers 405
        }
        return ApiError::internal(&format!("route {path} missing from the access table"))
            .into_response();
    };
    if endpoint.access == Access::Public {
        return next.run(req).await;
    }
    let credentials = basic_credentials(&req);
    let principal = match authenticate(&state, credentials, client).await {
        Ok(p) => p,
        Err((err, username)) => {
            if let Some(username) = username {
                audit_refusal(
                    &state,
                    Actor {
                        user_id: None,
                        username: username.into(),
                        client_addr: Some(client.to_string().into()),
                    },
                    "api.login",
                    &method,
                    &path,
                    &err,
                )
                .await;
            }
            return err.into_response();
        }
    };
    let missing = match endpoint.access {
        Access::Public | Access::AnyUser => None,
        Access::Permission(p) => [Permission::ApiAccess, p]
            .into_iter()
            .find(|p| !principal.has(*p)),
    };
    if let Some(p) = missing {
        let err = ApiError::forbidden(format!("this requires the `{}` permission", p.as_str()));
        if method != Method::GET {
            audit_refusal(
                &state,
                principal.actor(),
                "api.denied",
                &method,
                &path,
                &err,
            )
            .await;
        }
        return err.into_response();
    }
    let actor = principal.actor();
    req.extensions_mut().insert(principal);
    let resp = next.run(req).await;
    if method != Method::GET && (resp.status().is_client_error() || resp.status().is_server_error())
    {
        let info = resp.extensions().get::<ErrorInfo>().cloned();
        let err = info.map_or_else(
            || ApiError::new(resp.status(), "error", ""),
            |i| ApiError::new(resp.status(), i.code, i.message),
        );
        audit_refusal(&state, actor, "api.refused", &method, &path, &err).await;
    }
    resp
}

/// Checks the transport and the credentials. On failure, also returns the username given, if
/// any, for the audit row.
async fn authenticate(
    state: &SharedState,
    credentials: Option<(String, String)>,
    client: IpAddr,
) -> Result<Principal, (ApiError, Option<String>)> {
    if !state.tls && !client.is_loopback() && !state.config.http.allow_insecure_basic_auth {
        return Err((
            ApiError::new(
                StatusCode::FORBIDDEN,
                "insecure_transport",
                "basic auth over plain HTTP is refused from non-loopback addresses: use HTTPS",
            ),
            None,
        ));
    }
    let Some((username, password)) = credentials else {
        return Err((
            ApiError::unauthorized("HTTP basic authentication required"),
            None,
        ));
    };
    match state
        .auth
        .verify_password(&username, &password, client)
        .await
    {
        Ok(user) => Ok(Principal {
            user_id: user.id,
            username: user.username,
            permissions: user.permissions,
            client,
        }),
        Err(e) => Err((ApiError::from(e), Some(username))),
    }
}

async fn audit_refusal(
    state: &SharedState,
    actor: Actor,
    action: &'static str,
    method: &Method,
    path: &str,
    err: &ApiError,
) {
    let entry = AdminAuditEntry {
        action: action.into(),
        entity_type: "api",
        entity_id: Some(format!("{method} {path}").into()),
        outcome: AuditOutcome::Failure,
        details: json!({"status": err.status.as_u16(), "code": err.code, "message": err.message}),
    };
    if let Err(e) = state.store.audit_record(&actor, &entry).await {
        tracing::error!(error = %e, "cannot write audit row for a refused request");
    }
}

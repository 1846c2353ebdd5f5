//! The OpenAPI document tells the truth: same routes as the access table (which the router
//! enforces, see `api_access`), and real responses validate against its schemas.

use std::collections::BTreeSet;

use dbward_admin_api::access::ENDPOINTS;
use serde_json::{Value, json};

use crate::harness::Dbward;

/// Validates `body` against the schema the document gives for (method, route, status).
fn check(doc: &Value, method: &str, route: &str, status: u16, body: &Value) {
    let op = &doc["paths"][route][method.to_lowercase()];
    assert!(op.is_object(), "{method} {route} is not documented");
    let response = &op["responses"][status.to_string()];
    assert!(
        response.is_object(),
        "{method} {route} does not document status {status}"
    );
    let Some(schema) = response["content"]["application/json"].get("schema") else {
        assert!(
            body.is_null(),
            "{method} {route} {status}: undocumented body {body}"
        );
        return;
    };
    // The response schema with the document's components beside it, so `$ref`s resolve.
    let root = json!({"components": doc["components"], "allOf": [schema]});
    let validator = jsonschema::draft202012::new(&root)
        .unwrap_or_else(|e| panic!("{method} {route}: invalid schema: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {route} {status}: {errors:?}\nbody: {body}"
    );
}

#[tokio::test]
async fn document_routes_match_the_router() {
    let d = Dbward::start().await;
    let (s, doc) = d.call("GET", "/api/openapi.json", None, None).await;
    assert_eq!(s, 200);
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .expect("operations")
                .keys()
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    let routed: BTreeSet<(String, String)> = ENDPOINTS
        .iter()
        .map(|e| (e.method.to_owned(), e.path.to_owned()))
        .collect();
    assert_eq!(documented, routed);
    assert_eq!(
        doc["components"]["securitySchemes"]["basic"]["scheme"],
        "basic"
    );
    d.stop().await;
}

/// (method, concrete path, documented route, body, credentials)
type Call<'a> = (
    &'a str,
    String,
    &'a str,
    Option<Value>,
    Option<(&'a str, &'a str)>,
);

#[tokio::test]
async fn real_responses_match_their_schemas() {
    let d = Dbward::start().await;
    let (_, doc) = d.call("GET", "/api/openapi.json", None, None).await;
    let alice_auth = Some(("alice", "alice-password-123"));
    let mut calls: Vec<Call> = Vec::new();
    let admin = Some(("admin", crate::harness::ADMIN_PASSWORD));
    let (_, folder) = d
        .admin("POST", "/api/folders", Some(json!({"name": "Prod"})))
        .await;
    let (_, db) = d
        .admin("POST", "/api/databases", Some(json!({"name": "orders", "engine": "postgres", "host": "127.0.0.1", "database": "o", "username": "u", "password": "upstream-secret-Kx9!", "folder_id": folder["id"]})))
        .await;
    let (_, alice) = d
        .admin(
            "POST",
            "/api/users",
            Some(json!({"username": "alice", "password": "alice-password-123"})),
        )
        .await;
    let (_, grant) = d
        .admin("POST", "/api/grants", Some(json!({"user_id": alice["id"], "database_id": db["id"], "access_level": "write", "expires_at": "2099-01-01T00:00:00Z", "max_queries": 10})))
        .await;
    for (route, path) in [
        ("/api/health", "/api/health".to_owned()),
        ("/api/me", "/api/me".to_owned()),
        ("/api/users", "/api/users".to_owned()),
        ("/api/users/{id}", format!("/api/users/{}", alice["id"])),
        ("/api/roles", "/api/roles".to_owned()),
        ("/api/roles/{id}", "/api/roles/1".to_owned()),
        ("/api/databases", "/api/databases".to_owned()),
        (
            "/api/databases/{id}",
            format!("/api/databases/{}", db["id"]),
        ),
        ("/api/folders", "/api/folders".to_owned()),
        ("/api/grants", "/api/grants".to_owned()),
        ("/api/grants/{id}", format!("/api/grants/{}", grant["id"])),
        ("/api/audit", "/api/audit".to_owned()),
        ("/api/users/{id}", "/api/users/999".to_owned()),
    ] {
        calls.push(("GET", path, route, None, admin));
    }
    calls.push((
        "GET",
        "/api/me/grants".into(),
        "/api/me/grants",
        None,
        alice_auth,
    ));
    calls.push((
        "GET",
        "/api/databases".into(),
        "/api/databases",
        None,
        alice_auth,
    ));
    calls.push((
        "GET",
        format!("/api/databases/{}", db["id"]),
        "/api/databases/{id}",
        None,
        alice_auth,
    ));
    calls.push(("GET", "/api/users".into(), "/api/users", None, alice_auth));
    calls.push(("GET", "/api/me".into(), "/api/me", None, None));
    calls.push((
        "POST",
        "/api/grants".into(),
        "/api/grants",
        Some(json!({"user_id": 1})),
        admin,
    ));
    calls.push((
        "POST",
        "/api/roles".into(),
        "/api/roles",
        Some(json!({"name": "ops", "permissions": ["api_access"]})),
        admin,
    ));
    calls.push((
        "PATCH",
        format!("/api/databases/{}", db["id"]),
        "/api/databases/{id}",
        Some(json!({"port": 5433})),
        admin,
    ));
    calls.push((
        "DELETE",
        format!("/api/grants/{}", grant["id"]),
        "/api/grants/{id}",
        None,
        admin,
    ));
    calls.push((
        "PUT",
        "/api/me/password".into(),
        "/api/me/password",
        Some(json!({"current_password": "alice-password-123", "new_password": "new-password-789"})),
        alice_auth,
    ));
    for (method, path, route, body, auth) in calls {
        let (status, resp) = d.call(method, &path, auth, body).await;
        check(&doc, method, route, status, &resp);
    }
    d.stop().await;
}

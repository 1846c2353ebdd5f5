//! The resources over real HTTP: users, roles, folders, databases, grants, the caller's own
//! view, validation, and the audit rows every mutation leaves.

use serde_json::{Value, json};

use crate::harness::Dbward;

fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap_or_else(|| panic!("no id in {v}"))
}

async fn audit_actions(d: &Dbward) -> Vec<(String, String)> {
    let (s, page) = d.admin("GET", "/api/audit?limit=1000", None).await;
    assert_eq!(s, 200, "{page}");
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap_or_default().to_owned(),
                r["outcome"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn admin_manages_everything_and_users_see_their_own() {
    let d = Dbward::start().await;
    // Folder, database (password write-only), user, grant.
    let (s, folder) = d
        .admin("POST", "/api/folders", Some(json!({"name": "Production"})))
        .await;
    assert_eq!(s, 201, "{folder}");
    let (s, db) = d
        .admin(
            "POST",
            "/api/databases",
            Some(json!({
                "name": "orders", "engine": "postgres", "host": "db.internal.example",
                "database": "orders", "username": "owner", "password": "upstream-secret-Kx9!",
                "folder_id": id(&folder), "description": "order service",
            })),
        )
        .await;
    assert_eq!(s, 201, "{db}");
    assert_eq!(db["tls_mode"], "verify-full", "non-loopback default");
    assert_eq!(db["has_password"], true);
    assert!(db.get("password").is_none());
    let (_, other_db) = d
        .admin(
            "POST",
            "/api/databases",
            Some(json!({"name": "crm", "engine": "mysql", "host": "127.0.0.1", "database": "crm", "username": "crm"})),
        )
        .await;
    assert_eq!(other_db["port"], 3306);

    let (s, alice) = d
        .admin(
            "POST",
            "/api/users",
            Some(json!({"username": "alice", "password": "alice-password-123"})),
        )
        .await;
    assert_eq!(s, 201, "{alice}");
    assert_eq!(alice["roles"][0]["name"], "user", "default role");
    let (s, grant) = d
        .admin(
            "POST",
            "/api/grants",
            Some(json!({
                "user_id": id(&alice), "database_id": id(&db), "access_level": "read",
                "starts_at": "2020-01-01T00:00:00+01:00", "expires_at": "2099-01-01T00:00:00Z",
                "max_queries": 1000, "max_bytes": 104_857_600,
            })),
        )
        .await;
    assert_eq!(s, 201, "{grant}");
    assert_eq!(
        grant["starts_at"], "2019-12-31T23:00:00Z",
        "stored and shown as UTC"
    );
    assert_eq!(grant["state"], "active");
    assert_eq!(grant["remaining_queries"], 1000);
    assert_eq!(grant["created_by"], 1);

    // Lists and filters.
    let (_, all) = d.admin("GET", "/api/grants", None).await;
    assert_eq!(all.as_array().map(Vec::len), Some(1));
    let (_, by_db) = d
        .admin(
            "GET",
            &format!("/api/grants?database_id={}", id(&other_db)),
            None,
        )
        .await;
    assert_eq!(by_db.as_array().map(Vec::len), Some(0));
    let (_, active) = d
        .admin(
            "GET",
            &format!("/api/grants?user_id={}&active=true", id(&alice)),
            None,
        )
        .await;
    assert_eq!(active.as_array().map(Vec::len), Some(1));
    let (s, bad_filter) = d.admin("GET", "/api/grants?user_id=abc", None).await;
    assert_eq!(s, 400, "{bad_filter}");

    // Alice sees her grant and only her database, reduced to what she needs.
    let alice_auth = Some(("alice", "alice-password-123"));
    let (s, mine) = d.call("GET", "/api/me/grants", alice_auth, None).await;
    assert_eq!(s, 200, "{mine}");
    assert_eq!(mine[0]["database"], "orders");
    assert_eq!(mine[0]["effective_level"], "read");
    assert!(mine[0]["seconds_left"].as_i64().is_some_and(|s| s > 0));
    assert_eq!(mine[0]["remaining_bytes"], 104_857_600);
    let (s, dbs) = d.call("GET", "/api/databases", alice_auth, None).await;
    assert_eq!(s, 200);
    assert_eq!(dbs.as_array().map(Vec::len), Some(1));
    assert_eq!(dbs[0]["name"], "orders");
    assert!(dbs[0].get("host").is_none() && dbs[0].get("username").is_none());
    let (s, _) = d
        .call(
            "GET",
            &format!("/api/databases/{}", id(&other_db)),
            alice_auth,
            None,
        )
        .await;
    assert_eq!(s, 404, "no grant, no database");

    // Revoke keeps the row.
    let (s, revoked) = d
        .admin("DELETE", &format!("/api/grants/{}", id(&grant)), None)
        .await;
    assert_eq!(s, 200, "{revoked}");
    assert_eq!(revoked["state"], "revoked");
    assert_eq!(revoked["revoked_by"], 1);
    let (s, again) = d
        .admin("DELETE", &format!("/api/grants/{}", id(&grant)), None)
        .await;
    assert_eq!(s, 409, "{again}");
    let (_, dbs) = d.call("GET", "/api/databases", alice_auth, None).await;
    assert_eq!(dbs.as_array().map(Vec::len), Some(0));

    // Passwords: the user's own change asks for the current one; an admin reset.
    let (s, _) = d
        .call(
            "PUT",
            "/api/me/password",
            alice_auth,
            Some(json!({"current_password": "wrong-one", "new_password": "new-password-789"})),
        )
        .await;
    assert_eq!(s, 403);
    let (s, _) = d
        .call("PUT", "/api/me/password", alice_auth, Some(json!({"current_password": "alice-password-123", "new_password": "new-password-789"})))
        .await;
    assert_eq!(s, 204);
    let (s, _) = d.call("GET", "/api/me", alice_auth, None).await;
    assert_eq!(
        s, 401,
        "the old password (and its cached check) no longer works"
    );
    let (s, _) = d
        .admin(
            "PUT",
            &format!("/api/users/{}/password", id(&alice)),
            Some(json!({"password": "alice-password-123"})),
        )
        .await;
    assert_eq!(s, 204);
    let (s, _) = d.call("GET", "/api/me", alice_auth, None).await;
    assert_eq!(s, 200);

    // Folders: rename, delete moves databases to the root; reorder.
    let (s, _) = d
        .admin(
            "PATCH",
            &format!("/api/folders/{}", id(&folder)),
            Some(json!({"name": "Prod"})),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = d
        .admin(
            "POST",
            "/api/databases/reorder",
            Some(json!([{"id": id(&other_db), "folder_id": id(&folder), "position": 2}])),
        )
        .await;
    assert_eq!(s, 204);
    let (s, _) = d
        .admin("DELETE", &format!("/api/folders/{}", id(&folder)), None)
        .await;
    assert_eq!(s, 204);
    let (_, dbs) = d.admin("GET", "/api/databases", None).await;
    assert!(
        dbs.as_array()
            .expect("list")
            .iter()
            .all(|d| d["folder_id"].is_null())
    );

    // Database changes: null clears, absent keeps.
    let (s, patched) = d
        .admin(
            "PATCH",
            &format!("/api/databases/{}", id(&db)),
            Some(json!({"password": null, "port": 6432})),
        )
        .await;
    assert_eq!(s, 200, "{patched}");
    assert_eq!(
        (patched["has_password"].as_bool(), patched["port"].as_i64()),
        (Some(false), Some(6432))
    );

    // Deleting a user keeps their grants readable.
    let (s, _) = d
        .admin("DELETE", &format!("/api/users/{}", id(&alice)), None)
        .await;
    assert_eq!(s, 204);
    let (s, g) = d
        .admin("GET", &format!("/api/grants/{}", id(&grant)), None)
        .await;
    assert_eq!((s, g["user_id"].as_i64()), (200, Some(id(&alice))));
    let (_, deleted) = d
        .admin("GET", &format!("/api/users/{}", id(&alice)), None)
        .await;
    assert!(deleted["deleted_at"].is_string());

    // Every mutation left a success row, in order.
    let actions = audit_actions(&d).await;
    for expected in [
        "folder.create",
        "database.create",
        "user.create",
        "grant.create",
        "grant.revoke",
        "me.change_password",
        "user.set_password",
        "folder.rename",
        "database.reorder",
        "folder.delete",
        "database.update",
        "user.delete",
    ] {
        assert!(
            actions.contains(&(expected.to_owned(), "success".to_owned())),
            "{expected} missing from {actions:?}"
        );
    }
    d.stop().await;
}

#[tokio::test]
async fn validation_errors_are_clear_and_write_nothing() {
    let d = Dbward::start().await;
    let (_, alice) = d
        .admin(
            "POST",
            "/api/users",
            Some(json!({"username": "alice", "password": "alice-password-123"})),
        )
        .await;
    let (_, db) = d
        .admin("POST", "/api/databases", Some(json!({"name": "orders", "engine": "postgres", "host": "127.0.0.1", "database": "o", "username": "u"})))
        .await;
    let grant = |fields: Value| {
        let mut g = json!({
            "user_id": id(&alice), "database_id": id(&db), "access_level": "read",
            "starts_at": "2026-01-15T09:00:00Z", "expires_at": "2026-01-15T18:00:00Z",
        });
        for (k, v) in fields.as_object().expect("object") {
            g[k] = v.clone();
        }
        g
    };
    let cases: Vec<(&str, &str, Value, u16, &str)> = vec![
        (
            "POST",
            "/api/grants",
            grant(json!({"expires_at": "2026-01-15T18:00:00"})),
            400,
            "explicit offset",
        ),
        (
            "POST",
            "/api/grants",
            grant(json!({"starts_at": "yesterday"})),
            400,
            "RFC 3339",
        ),
        (
            "POST",
            "/api/grants",
            grant(json!({"expires_at": "2026-01-15T08:00:00Z"})),
            400,
            "after starts_at",
        ),
        (
            "POST",
            "/api/grants",
            grant(json!({"max_queries": -1})),
            400,
            "negative",
        ),
        (
            "POST",
            "/api/grants",
            grant(json!({"access_level": "superuser"})),
            400,
            "access_level",
        ),
        (
            "POST",
            "/api/grants",
            grant(json!({"user_id": 999})),
            404,
            "user not found",
        ),
        (
            "POST",
            "/api/grants",
            grant(json!({"database_id": 999})),
            404,
            "database not found",
        ),
        (
            "POST",
            "/api/grants",
            grant(json!({"colour": "blue"})),
            400,
            "unknown field",
        ),
        (
            "POST",
            "/api/users",
            json!({"username": "alice", "password": "another-password"}),
            409,
            "already exists",
        ),
        (
            "POST",
            "/api/users",
            json!({"username": "bob"}),
            400,
            "needs a password",
        ),
        (
            "POST",
            "/api/users",
            json!({"username": "bob", "password": "short"}),
            400,
            "8 to 1024",
        ),
        (
            "POST",
            "/api/users",
            json!({"username": "bob", "password": "bob-password-456", "roles": ["wizard"]}),
            404,
            "role not found",
        ),
        (
            "POST",
            "/api/databases",
            json!({"name": "orders", "engine": "postgres", "host": "h", "database": "d", "username": "u"}),
            409,
            "already exists",
        ),
        (
            "POST",
            "/api/databases",
            json!({"name": "x", "engine": "oracle", "host": "h", "database": "d", "username": "u"}),
            400,
            "engine",
        ),
        (
            "POST",
            "/api/databases",
            json!({"name": "x", "engine": "postgres", "host": "h", "database": "d", "username": "u", "port": 70000}),
            400,
            "port",
        ),
        (
            "POST",
            "/api/databases",
            json!({"name": "x", "engine": "postgres", "host": "/var/run/postgresql", "database": "d", "username": "u"}),
            400,
            "Unix-domain sockets",
        ),
        (
            "POST",
            "/api/databases",
            json!({"name": "x", "engine": "postgres", "host": "h", "database": "d", "username": "u", "tls_ca_cert": "nope"}),
            400,
            "PEM",
        ),
        (
            "POST",
            "/api/roles",
            json!({"name": "r", "permissions": ["fly"]}),
            400,
            "permissions",
        ),
        (
            "POST",
            "/api/folders",
            json!({"name": ""}),
            400,
            "folder name",
        ),
        ("PATCH", "/api/users/abc", json!({}), 400, "integer"),
    ];
    let count = |path: &'static str| {
        let d = &d;
        async move {
            d.admin("GET", path, None)
                .await
                .1
                .as_array()
                .map_or(0, Vec::len)
        }
    };
    let before = (
        count("/api/grants").await,
        count("/api/users").await,
        count("/api/databases").await,
        count("/api/roles").await,
        count("/api/folders").await,
    );
    for (method, path, body, status, needle) in &cases {
        let (s, b) = d.admin(method, path, Some(body.clone())).await;
        assert_eq!(s, *status, "{method} {path} {body}: {b}");
        let message = b["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(needle),
            "{method} {path}: `{message}` lacks `{needle}`"
        );
        assert!(b["error"]["code"].is_string());
    }
    let after = (
        count("/api/grants").await,
        count("/api/users").await,
        count("/api/databases").await,
        count("/api/roles").await,
        count("/api/folders").await,
    );
    assert_eq!(before, after, "nothing was written");
    // Each refused mutation is audited as a failure, none as a success.
    let actions = audit_actions(&d).await;
    let failures = actions
        .iter()
        .filter(|(a, o)| a == "api.refused" && o == "failure")
        .count();
    assert_eq!(failures, cases.len());
    // Malformed JSON and a wrong content type answer in JSON too.
    let resp = d
        .http
        .post(d.url("/api/folders"))
        .basic_auth("admin", Some(crate::harness::ADMIN_PASSWORD))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.expect("json error");
    assert_eq!(body["error"]["code"], "invalid");
    let resp = d
        .http
        .post(d.url("/api/folders"))
        .basic_auth("admin", Some(crate::harness::ADMIN_PASSWORD))
        .body("name=x")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 415);
    d.stop().await;
}

#[tokio::test]
async fn roles_are_managed_and_built_ins_protected() {
    let d = Dbward::start().await;
    let (s, role) = d
        .admin("POST", "/api/roles", Some(json!({"name": "dba", "description": "grants and audit", "permissions": ["api_access", "manage_grants", "view_audit"]})))
        .await;
    assert_eq!(s, 201, "{role}");
    let (s, patched) = d
        .admin(
            "PATCH",
            &format!("/api/roles/{}", id(&role)),
            Some(json!({"permissions": ["api_access", "view_audit"]})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(patched["permissions"], json!(["api_access", "view_audit"]));
    let (_, roles) = d.admin("GET", "/api/roles", None).await;
    let admin_role = roles
        .as_array()
        .expect("roles")
        .iter()
        .find(|r| r["name"] == "admin")
        .expect("admin")
        .clone();
    let (s, b) = d
        .admin("DELETE", &format!("/api/roles/{}", id(&admin_role)), None)
        .await;
    assert_eq!(s, 409, "{b}");
    let (s, b) = d
        .admin(
            "PATCH",
            &format!("/api/roles/{}", id(&admin_role)),
            Some(json!({"permissions": ["api_access"]})),
        )
        .await;
    assert_eq!(s, 409, "{b}");
    // The last admin cannot be disabled.
    let (s, b) = d
        .admin("PATCH", "/api/users/1", Some(json!({"enabled": false})))
        .await;
    assert_eq!(s, 409, "{b}");
    let (s, _) = d
        .admin("DELETE", &format!("/api/roles/{}", id(&role)), None)
        .await;
    assert_eq!(s, 204);
    d.stop().await;
}

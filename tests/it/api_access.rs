//! Who may call what: every row of the access table, throttling, transport rules.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::ConnectInfo;
use dbward_admin_api::access::{Access, ENDPOINTS};
use dbward_core::auth::Authenticator;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::harness::{ADMIN_PASSWORD, Dbward, test_config};

/// A concrete path for a route pattern (ids replaced by 1).
fn concrete(path: &str) -> String {
    if path.starts_with("/api/sessions/") {
        return path.replace("{id}", "0190f3a0-0000-7000-8000-000000000000");
    }
    path.replace("{id}", "1")
}

/// Creates a user holding a fresh role with exactly `permissions`.
async fn user_with(d: &Dbward, name: &str, permissions: &[&str]) {
    let (s, role) = d
        .admin(
            "POST",
            "/api/roles",
            Some(json!({"name": format!("{name}_role"), "permissions": permissions})),
        )
        .await;
    assert_eq!(s, 201, "{role}");
    let (s, user) = d
        .admin(
            "POST",
            "/api/users",
            Some(
                json!({"username": name, "password": "alice-password-123", "roles": [role["id"]]}),
            ),
        )
        .await;
    assert_eq!(s, 201, "{user}");
}

fn body_for(method: &str) -> Option<Value> {
    (method != "GET" && method != "DELETE").then(|| json!({}))
}

#[tokio::test]
async fn every_endpoint_requires_what_the_table_says() {
    let d = Dbward::start().await;
    user_with(&d, "nobody", &[]).await;
    user_with(&d, "viewer", &["api_access"]).await;
    for ep in ENDPOINTS {
        let path = concrete(ep.path);
        // Without credentials.
        let (status, body) = d.call(ep.method, &path, None, body_for(ep.method)).await;
        if ep.access == Access::Public {
            assert_eq!(status, 200, "{} {}", ep.method, ep.path);
        } else {
            assert_eq!(status, 401, "{} {}: {body}", ep.method, ep.path);
            assert_eq!(body["error"]["code"], "unauthorized");
        }
        // With a wrong password.
        if ep.access != Access::Public {
            let (status, _) = d
                .call(
                    ep.method,
                    &path,
                    Some(("viewer", "wrong-password")),
                    body_for(ep.method),
                )
                .await;
            assert_eq!(status, 401, "{} {}", ep.method, ep.path);
        }
        // A user with no permission at all, and one with api_access only.
        let (s_nobody, b_nobody) = d
            .call(
                ep.method,
                &path,
                Some(("nobody", "alice-password-123")),
                body_for(ep.method),
            )
            .await;
        let (s_viewer, b_viewer) = d
            .call(
                ep.method,
                &path,
                Some(("viewer", "alice-password-123")),
                body_for(ep.method),
            )
            .await;
        match ep.access {
            Access::Public | Access::AnyUser => {
                assert_ne!(s_nobody, 403, "{} {}: {b_nobody}", ep.method, ep.path);
                assert_ne!(s_viewer, 403, "{} {}: {b_viewer}", ep.method, ep.path);
            }
            Access::Permission(p) => {
                assert_eq!(s_nobody, 403, "{} {}: {b_nobody}", ep.method, ep.path);
                assert!(
                    b_nobody["error"]["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("api_access")),
                    "{b_nobody}"
                );
                if p.as_str() == "api_access" {
                    assert_ne!(s_viewer, 403, "{} {}: {b_viewer}", ep.method, ep.path);
                } else {
                    assert_eq!(s_viewer, 403, "{} {}: {b_viewer}", ep.method, ep.path);
                    assert!(
                        b_viewer["error"]["message"]
                            .as_str()
                            .is_some_and(|m| m.contains(p.as_str())),
                        "{b_viewer}"
                    );
                }
            }
        }
        // The admin passes the permission check (the answer may be 400/404 for the dummy ids).
        if path.ends_with("/stream") || path.ends_with("/export") {
            // Streams: JSON Lines or server-sent events (this one never ends); the status
            // is what counts here.
            let resp = d
                .http
                .get(d.url(&path))
                .basic_auth("admin", Some(crate::harness::ADMIN_PASSWORD))
                .send()
                .await
                .expect("request");
            assert_eq!(resp.status(), 200, "{} {}", ep.method, ep.path);
            continue;
        }
        let (s_admin, b_admin) = d.admin(ep.method, &path, body_for(ep.method)).await;
        assert!(
            ![401, 403, 405, 500].contains(&s_admin),
            "{} {}: {s_admin} {b_admin}",
            ep.method,
            ep.path
        );
        assert_ne!(
            b_admin["error"]["message"], "route not found",
            "{} {} is routed",
            ep.method, ep.path
        );
    }
    // Unknown routes and methods.
    let (s, b) = d.admin("GET", "/api/nothing-here", None).await;
    assert_eq!((s, b["error"]["code"].as_str()), (404, Some("not_found")));
    let (s, _) = d.admin("PUT", "/api/users", Some(json!({}))).await;
    assert_eq!(s, 405);
    d.stop().await;
}

#[tokio::test]
async fn unknown_user_and_wrong_password_look_the_same() {
    let d = Dbward::start().await;
    let a = d
        .call("GET", "/api/me", Some(("admin", "not-the-password")), None)
        .await;
    let b = d
        .call("GET", "/api/me", Some(("ghost", "not-the-password")), None)
        .await;
    assert_eq!(a, b);
    assert_eq!(a.0, 401);
    // Both are audited as failed logins, with the name as given.
    let (_, audit) = d.admin("GET", "/api/audit?limit=10", None).await;
    let logins: Vec<_> = audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|r| r["action"] == "api.login")
        .map(|r| r["actor_username"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        logins.contains(&"ghost".to_owned()) && logins.contains(&"admin".to_owned()),
        "{logins:?}"
    );
    d.stop().await;
}

#[tokio::test]
async fn disabled_users_cannot_log_in() {
    let d = Dbward::start().await;
    let (_, alice) = d
        .admin(
            "POST",
            "/api/users",
            Some(json!({"username": "alice", "password": "alice-password-123"})),
        )
        .await;
    let path = format!("/api/users/{}", alice["id"]);
    let (s, _) = d
        .admin("PATCH", &path, Some(json!({"enabled": false})))
        .await;
    assert_eq!(s, 200);
    let (s, b) = d
        .call(
            "GET",
            "/api/me",
            Some(("alice", "alice-password-123")),
            None,
        )
        .await;
    assert_eq!(
        (s, b["error"]["message"].as_str()),
        (401, Some("account disabled"))
    );
    d.stop().await;
}

/// A client bound to a given loopback source address (127.0.0.0/8 is all loopback).
fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip.parse::<IpAddr>().expect("ip"))
        .build()
        .expect("client")
}

#[tokio::test]
async fn failures_are_throttled_per_user_and_address() {
    let d = Dbward::start().await;
    d.admin(
        "POST",
        "/api/users",
        Some(json!({"username": "bob", "password": "bob-password-456"})),
    )
    .await;
    let attacker = client_from("127.0.0.2");
    let me = d.url("/api/me");
    for _ in 0..5 {
        let r = attacker
            .get(&me)
            .basic_auth("bob", Some("guess"))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 401);
    }
    // Locked from that address, even with the right password, without checking it.
    let r = attacker
        .get(&me)
        .basic_auth("bob", Some("bob-password-456"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    // The real bob from elsewhere is not locked out, nor is admin from the attacker's address.
    let r = client_from("127.0.0.3")
        .get(&me)
        .basic_auth("bob", Some("bob-password-456"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let r = attacker
        .get(&me)
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    d.stop().await;
}

#[tokio::test]
async fn plain_http_basic_auth_from_a_remote_address_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = Dbward::start_with(test_config(dir.path().to_owned())).await;
    let started = d.started.as_ref().expect("started");
    let build = |allow: bool| {
        let mut config = test_config(dir.path().to_owned());
        config.http.allow_insecure_basic_auth = allow;
        dbward_admin_api::router(dbward_admin_api::AdminState {
            config: Arc::new(config.clone()),
            store: started.store.clone(),
            key: started.key.clone(),
            auth: Arc::new(Authenticator::new(started.store.clone(), config.auth)),
            sessions: Arc::default(),
            audit: dbward_core::audit::AuditHealth::default(),
            tls: false,
        })
    };
    let request = || {
        let mut req = axum::http::Request::get("/api/me")
            .header(
                "authorization",
                format!(
                    "Basic {}",
                    base64::Engine::encode(
                        &base64::engine::general_purpose::STANDARD,
                        format!("admin:{ADMIN_PASSWORD}")
                    )
                ),
            )
            .body(axum::body::Body::empty())
            .expect("request");
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([10, 1, 2, 3], 40000))));
        req
    };
    let resp = build(false).oneshot(request()).await.expect("response");
    assert_eq!(resp.status(), 403);
    let body = axum::body::to_bytes(resp.into_body(), 1 << 16)
        .await
        .expect("body");
    let body: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(body["error"]["code"], "insecure_transport");
    let resp = build(true).oneshot(request()).await.expect("response");
    assert_eq!(resp.status(), 200, "allowed when configured");
    d.stop().await;
}

/// The README's permission table is the access table, row for row.
#[test]
fn readme_permission_table_matches_the_code() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let rows: Vec<&str> = readme
        .lines()
        .filter(|l| l.starts_with("| ") && l.contains("| `/api/"))
        .collect();
    assert_eq!(rows.len(), ENDPOINTS.len(), "README rows: {rows:#?}");
    for ep in ENDPOINTS {
        let access = match ep.access {
            Access::Public => "none (public)".to_owned(),
            Access::AnyUser => "any authenticated user".to_owned(),
            Access::Permission(p) if p.as_str() == "api_access" => "`api_access`".to_owned(),
            Access::Permission(p) => format!("`api_access` + `{}`", p.as_str()),
        };
        let row = format!("| {} | `{}` | {access} |", ep.method, ep.path);
        assert!(rows.contains(&row.as_str()), "README lacks `{row}`");
    }
}

/// Sends `request` as is and returns the first answer dbward writes (within 5 s).
async fn raw_http(addr: SocketAddr, request: &str) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("tcp");
    tcp.write_all(request.as_bytes()).await.expect("write");
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), tcp.read(&mut answer))
        .await
        .expect("an answer within 5 s")
        .expect("read");
    String::from_utf8_lossy(&answer[..n]).into_owned()
}

/// What the layers and the router answer on their own comes in the API's error shape too: a
/// body over `http.max_body_bytes` (413, nothing written), a request slower than
/// `http.request_timeout` (408), a method a route does not take (405, with `Allow`).
#[tokio::test]
async fn limits_and_wrong_methods_answer_in_the_error_shape() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = test_config(dir.path().to_owned());
    config.http.max_body_bytes = 1024;
    config.http.request_timeout = std::time::Duration::from_millis(500);
    let d = Dbward::start_with(config).await;
    let (status, body) = d
        .admin(
            "POST",
            "/api/users",
            Some(json!({"username": "bob", "password": "p".repeat(2000)})),
        )
        .await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"]["code"], "payload_too_large", "{body}");
    // The same without a length: a chunked body, cut at the limit.
    let auth = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("admin:{ADMIN_PASSWORD}"),
    );
    let mut request = format!(
        "POST /api/users HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    let chunk = format!("100\r\n{}\r\n", " ".repeat(256));
    for _ in 0..8 {
        request.push_str(&chunk);
    }
    request.push_str("0\r\n\r\n");
    let answer = raw_http(d.addr, &request).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("\"payload_too_large\""), "{answer}");
    let (_, users) = d.admin("GET", "/api/users", None).await;
    assert!(!users.to_string().contains("\"bob\""), "{users}");

    let resp = d
        .http
        .delete(d.url("/api/health"))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "GET,HEAD");
    let body: Value = resp.json().await.expect("a JSON body");
    assert_eq!(body["error"]["code"], "method_not_allowed", "{body}");

    // Headers, then 10 of the 100 body bytes promised, then nothing.
    let answer = raw_http(
        d.addr,
        &format!(
            "POST /api/users HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\n\
             Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"username"
        ),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"request_timeout\""), "{answer}");
    d.stop().await;
}

/// A flood of logins beyond `auth.hash_workers` busy and `auth.hash_queue` waiting is refused at
/// once (503 `overloaded` with the API's error shape; MySQL ERR 1040), not queued without bound;
/// once it has passed, logins work again.
#[tokio::test]
async fn a_flood_of_logins_is_refused_quickly_and_then_served() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = test_config(dir.path().to_owned());
    config.auth.hash_workers = 1;
    config.auth.hash_queue = 1;
    config.auth.credential_cache_ttl = std::time::Duration::ZERO;
    let d = Dbward::start_with(config).await;
    let calls = (0..24).map(|_| d.admin("GET", "/api/me", None));
    let answers = futures_util::future::join_all(calls).await;
    let overloaded: Vec<_> = answers.iter().filter(|(s, _)| *s == 503).collect();
    let served = answers.iter().filter(|(s, _)| *s == 200).count();
    assert!(!overloaded.is_empty(), "{answers:?}");
    assert!(served >= 1, "{answers:?}");
    assert_eq!(overloaded.len() + served, answers.len(), "{answers:?}");
    assert_eq!(overloaded[0].1["error"]["code"], "overloaded");
    let (status, _) = d.admin("GET", "/api/me", None).await;
    assert_eq!(status, 200, "served once the flood has passed");
    d.stop().await;

    let fx = crate::my_fixture::MyProxy::start_with("read", json!({}), |c| {
        c.auth.hash_workers = 1;
        c.auth.hash_queue = 1;
        c.auth.credential_cache_ttl = std::time::Duration::ZERO;
    })
    .await;
    let logins = (0..16).map(|_| mysql_async::Conn::new(fx.mysql_async_opts()));
    let results = futures_util::future::join_all(logins).await;
    let refused: Vec<_> = results
        .iter()
        .filter_map(|r| match r {
            Err(mysql_async::Error::Server(e)) => Some(e),
            _ => None,
        })
        .collect();
    assert!(!refused.is_empty(), "some logins refused");
    assert!(refused.iter().all(|e| e.code == 1040), "{refused:?}");
    assert!(results.iter().any(Result::is_ok), "some logins served");
    drop(results);
    mysql_async::Conn::new(fx.mysql_async_opts())
        .await
        .expect("a login once the flood has passed");
    fx.dbward.stop().await;
}

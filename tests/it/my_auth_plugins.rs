//! Authentication plugins: `caching_sha2_password` without TLS (the RSA key exchange), both
//! ways, and MariaDB's `client_ed25519` for dbward's login upstream.
//!
//! - dbward's front door: plaintext clients (the mysql client over libmariadb, `PyMySQL`,
//!   `mysql_async`, its `COM_CHANGE_USER` too, mysql2, Go's driver, Connector/J) ask for
//!   dbward's RSA key and send the password encrypted with it, or send it at once with the key
//!   given beforehand (`mysql.rsa_private_key`); answers that are not the encrypted password
//!   fail as wrong passwords; with `mysql.rsa_key_exchange = false` they are refused, saying to
//!   use TLS.
//! - dbward's login upstream, against a server that speaks `caching_sha2_password` as MySQL 8
//!   does (none runs here: MariaDB has no such plugin): another dbward, whose front door the
//!   clients above check. Without TLS (loopback too) the password goes RSA-encrypted; over TLS
//!   as it is; a second login takes the fast path.
//! - An upstream account `IDENTIFIED VIA ed25519` (a private MariaDB with the plugin loaded):
//!   dbward signs the server's nonce, for sessions and for `KILL QUERY`'s own login.

use std::time::Duration;

use serde_json::json;

use crate::my_fixture::MyProxy;
use crate::my_proxy::{login_paths, mysql_connects};
use crate::netns::TestHost;
use crate::pg_cluster::TestPki;

/// An RSA key pair made by OpenSSL (PKCS#1, as MySQL's `private_key.pem`): (private, public).
fn openssl_key_pair(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (private, public) = (dir.join("private_key.pem"), dir.join("public_key.pem"));
    for args in [
        vec![
            "genrsa",
            "-traditional",
            "-out",
            private.to_str().expect("path"),
            "2048",
        ],
        vec![
            "rsa",
            "-in",
            private.to_str().expect("path"),
            "-pubout",
            "-out",
            public.to_str().expect("path"),
        ],
    ] {
        let out = std::process::Command::new("openssl")
            .args(&args)
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    (private, public)
}

/// Every login is a full authentication here (no credential cache, so no fast path), without
/// TLS: each client gets the password to dbward by the key exchange, and the audit says so.
#[tokio::test]
async fn plaintext_clients_log_in_by_the_rsa_key_exchange() {
    let keys = tempfile::tempdir().expect("tempdir");
    let (private, public) = openssl_key_pair(keys.path());
    let fx = MyProxy::start_with("read", json!({}), |c| {
        c.auth.credential_cache_ttl = Duration::ZERO;
        c.mysql.rsa_private_key = Some(private.clone());
    })
    .await;
    // The mysql client (libmariadb's caching_sha2_password plugin).
    let mut cmd = fx.client_tool("mysql");
    cmd.args(["--skip-ssl", "-N", "-B", "-e", "SELECT 42", "shop"]);
    let out = cmd.output().await.expect("mysql");
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "42",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // mysql_async (mysql_common's RSA), no TLS.
    {
        use mysql_async::prelude::Queryable as _;
        let mut conn = mysql_async::Conn::new(fx.mysql_async_opts())
            .await
            .expect("mysql_async login");
        let value: Option<i64> = conn.query_first("SELECT 6 * 7").await.expect("query");
        assert_eq!(value, Some(42));
        // COM_CHANGE_USER re-authenticates the same way; mysql_async keeps the key it was
        // sent and encrypts at once.
        conn.change_user(mysql_async::ChangeUserOpts::default())
            .await
            .expect("COM_CHANGE_USER without TLS");
        let value: Option<i64> = conn.query_first("SELECT 6 * 7").await.expect("query");
        assert_eq!(value, Some(42));
        conn.disconnect().await.expect("disconnect");
    }
    // mysql2 (Node.js) and go-sql-driver/mysql, their own RSA code; Go also with the key given.
    let out = fx
        .run_client("node/mysql2_rsa.js", &[public.to_str().expect("path")])
        .await;
    assert_eq!(out.trim(), "mysql2 asked=42 given=42");
    let out = fx
        .run_client("go_mysql_rsa.go", &[public.to_str().expect("path")])
        .await;
    assert_eq!(out.trim(), "go asked=42 given=42");
    // MariaDB Connector/J (what DBeaver's MariaDB driver is): it asks for the key only when
    // told to, or reads it from a file.
    let out = crate::harness::run_client(
        "ConnectorJRsa.java",
        "/usr/share/java/mariadb-java-client.jar",
        &[
            fx.port().to_string(),
            fx.password.clone(),
            public.to_str().expect("path").to_owned(),
        ],
    )
    .await;
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["default: no key", "asked: ok 42", "given: ok 42"],
        "{out}"
    );
    // PyMySQL: the key asked for, then given beforehand (the configured key's public half);
    // then a wrong password and two answers that are not an encrypted password.
    let out = fx
        .run_client("pymysql_rsa.py", &[public.to_str().expect("path")])
        .await;
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "requested key: ok 42",
            "key given: ok 42",
            "wrong password: error 1045",
            "random ciphertext: error 1045",
            "cleartext: error 1045",
        ],
        "{out}"
    );
    assert_eq!(login_paths(&fx, 10).await, ["full_rsa"; 10]);
    // The three failures are audited as wrong passwords.
    let wrong = mysql_connects(&fx, 3, |r| r["details"]["reason"] == "wrong_password").await;
    assert_eq!(wrong.len(), 3);
    // Two more failures lock alice out from here: then even the right password, encrypted,
    // gets the throttle's answer (and costs dbward no decryption).
    let plain_login = |password: String| {
        let mut cmd = tokio::process::Command::new("mysql");
        cmd.args([
            "-h",
            "127.0.0.1",
            "-P",
            &fx.port().to_string(),
            "-u",
            "alice",
        ])
        .arg(format!("-p{password}"))
        .args(["--skip-ssl", "-N", "-B", "-e", "SELECT 42", "shop"]);
        async move {
            let out = cmd.output().await.expect("mysql");
            String::from_utf8_lossy(&out.stderr).into_owned()
        }
    };
    for _ in 0..2 {
        let err = plain_login("wrong-again".into()).await;
        assert!(err.contains("ERROR 1045"), "{err}");
    }
    let err = plain_login(fx.password.clone()).await;
    assert!(err.contains("too many failed login attempts"), "{err}");
    fx.dbward.stop().await;
}

/// `mysql.rsa_key_exchange = false`: a plaintext client's full authentication is refused,
/// saying to use TLS; over TLS it logs in.
#[tokio::test]
async fn without_the_key_exchange_plaintext_logins_need_tls() {
    let fx = MyProxy::start_with("read", json!({}), |c| c.mysql.rsa_key_exchange = false).await;
    let mut cmd = fx.client_tool("mysql");
    cmd.args(["--skip-ssl", "-N", "-B", "-e", "SELECT 42", "shop"]);
    let out = cmd.output().await.expect("mysql");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("ERROR 3159") && err.contains("rsa_key_exchange"),
        "{err}"
    );
    let (ok, out, err) = fx.mysql(&["-e", "SELECT 42"]).await;
    assert!(ok && out.trim() == "42", "{err}");
    fx.dbward.stop().await;
}

/// Registers at dbward `a` a MySQL database `name` that is dbward `b`'s `shop` (reached at
/// `host`:`port` as `b`'s alice, with `tls`), and grants `a`'s alice `read` on it.
async fn register_chained(
    a: &MyProxy,
    b: &MyProxy,
    name: &str,
    host: &str,
    port: u16,
    tls: serde_json::Value,
) {
    let mut body = json!({
        "name": name, "engine": "mysql", "host": host, "port": port, "database": "shop",
        "username": "alice", "password": b.password,
    });
    for (k, v) in tls.as_object().expect("object") {
        body[k] = v.clone();
    }
    let (s, db) = a.dbward.admin("POST", "/api/databases", Some(body)).await;
    assert_eq!(s, 201, "{db}");
    let grant = json!({"user_id": a.user_id, "database_id": db["id"], "access_level": "read",
        "expires_at": "2099-01-01T00:00:00Z"});
    let (s, g) = a.dbward.admin("POST", "/api/grants", Some(grant)).await;
    assert_eq!(s, 201, "{g}");
}

/// `SELECT DATABASE()` through dbward `a` on its database `name`: (success, stdout, stderr).
async fn through(a: &MyProxy, name: &str) -> (bool, String, String) {
    let mut cmd = a.client_tool("mysql");
    cmd.args(["-N", "-B", "-e", "SELECT DATABASE()", name]);
    let out = cmd.output().await.expect("mysql");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// dbward's upstream login to a `caching_sha2_password` server on loopback without TLS: the
/// first login's full authentication sends the password RSA-encrypted (a MySQL server takes
/// nothing else over plain TCP, loopback included), the next takes the fast path.
#[tokio::test]
async fn upstream_caching_sha2_on_loopback_by_rsa_then_fast() {
    let b = MyProxy::start("read", json!({})).await;
    let a = MyProxy::start("read", json!({})).await;
    register_chained(
        &a,
        &b,
        "chained",
        "127.0.0.1",
        b.port(),
        json!({"tls_mode": "disable"}),
    )
    .await;
    for _ in 0..2 {
        let (ok, out, err) = through(&a, "chained").await;
        assert!(ok && out == b.upstream.name, "{out} {err}");
    }
    assert_eq!(login_paths(&b, 2).await, ["full_rsa", "fast"]);
    a.dbward.stop().await;
    b.dbward.stop().await;
}

/// dbward's upstream login to a `caching_sha2_password` server on another host, which offers
/// no fast path (its credential cache is off): without TLS the password goes RSA-encrypted;
/// over TLS, verified against the server's CA or not (`require`), it goes as it is.
#[tokio::test]
async fn upstream_caching_sha2_full_authentication_to_another_host() {
    let host = TestHost::create();
    let pki = TestPki::new(&[&host.host_addr]);
    let certs = tempfile::tempdir().expect("tempdir");
    let (cert, key) = (certs.path().join("b.crt"), certs.path().join("b.key"));
    std::fs::write(&cert, &pki.server_cert_pem).expect("cert");
    std::fs::write(&key, &pki.server_key_pem).expect("key");
    let listen = format!("{}:0", host.host_addr);
    let b = MyProxy::start_with("read", json!({}), |c| {
        c.mysql.listen = listen.parse().expect("addr");
        c.tls_cert = Some(cert.clone());
        c.tls_key = Some(key.clone());
        c.auth.credential_cache_ttl = Duration::ZERO;
    })
    .await;
    let a = MyProxy::start("read", json!({})).await;
    let addr = host.host_addr.as_str();
    register_chained(
        &a,
        &b,
        "plain",
        addr,
        b.port(),
        json!({"tls_mode": "disable"}),
    )
    .await;
    register_chained(
        &a,
        &b,
        "verified",
        addr,
        b.port(),
        json!({"tls_mode": "verify-full", "tls_ca_cert": pki.ca_pem}),
    )
    .await;
    register_chained(
        &a,
        &b,
        "unverified",
        addr,
        b.port(),
        json!({"tls_mode": "require"}),
    )
    .await;
    for name in ["plain", "verified"] {
        let (ok, out, err) = through(&a, name).await;
        assert!(ok && out == b.upstream.name, "{name}: {out} {err}");
    }
    let (ok, out, err) = through(&a, "unverified").await;
    assert!(ok && out == b.upstream.name, "unverified: {out} {err}");
    assert_eq!(login_paths(&b, 3).await, ["full_rsa", "full", "full"]);
    a.dbward.stop().await;
    b.dbward.stop().await;
}

/// An upstream account `IDENTIFIED VIA ed25519`, MariaDB's public-key plugin (the server keeps
/// only the public key): dbward's login, switched to `client_ed25519` by the server, signs its
/// nonce. Sessions work (several logins, each a fresh nonce), `KILL QUERY` (which logs in
/// upstream on its own) stops a running query, and a wrong stored password is refused with
/// the server's message.
#[tokio::test]
async fn upstream_account_identified_via_ed25519() {
    let server = crate::my_server::PrivateMariadb::start(&["--plugin-load-add=auth_ed25519"]);
    let upstream = crate::my_fixture::MyDatabase::create_on(server.port);
    upstream.sql(&format!(
        "ALTER USER '{}'@'%' IDENTIFIED VIA ed25519 USING PASSWORD('{}')",
        upstream.user, upstream.password
    ));
    let user = upstream.user.clone();
    let fx = MyProxy::start_on(upstream, "read", json!({}), |_| {}).await;
    assert_eq!(
        fx.upstream.sql(&format!(
            "SELECT plugin FROM mysql.user WHERE user = '{user}'"
        )),
        "ed25519"
    );
    for _ in 0..3 {
        let (ok, out, err) = fx.mysql(&["-e", "SELECT CURRENT_USER()"]).await;
        assert!(
            ok && out.trim().starts_with(&format!("{user}@")),
            "{out} {err}"
        );
    }
    // KILL QUERY from a second session: dbward logs in upstream for it, with the same plugin.
    {
        use mysql_async::prelude::Queryable as _;
        let opts = fx
            .mysql_async_opts()
            .ssl_opts(mysql_async::SslOpts::default().with_danger_accept_invalid_certs(true));
        let mut sleeper = mysql_async::Conn::new(opts.clone()).await.expect("login");
        let mut killer = mysql_async::Conn::new(opts).await.expect("login");
        let id = sleeper.id();
        let sleeping = tokio::spawn(async move {
            let r: Result<Option<i64>, _> = sleeper.query_first("SELECT SLEEP(30)").await;
            r
        });
        tokio::time::sleep(Duration::from_millis(500)).await;
        let started = std::time::Instant::now();
        killer
            .query_drop(format!("KILL QUERY {id}"))
            .await
            .expect("KILL QUERY");
        // MariaDB answers a killed SLEEP with 1 (interrupted) or an error 1317.
        let slept = sleeping.await.expect("task");
        assert!(matches!(slept, Ok(Some(1))) || slept.is_err(), "{slept:?}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }
    // A wrong stored password: the server's refusal, passed on.
    let (s, body) = fx
        .dbward
        .admin(
            "PATCH",
            &format!("/api/databases/{}", fx.db_id),
            Some(json!({"password": "not-the-password"})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let (ok, _, err) = fx.mysql(&["-e", "SELECT 1"]).await;
    assert!(!ok && err.contains("Access denied"), "{err}");
    fx.dbward.stop().await;
}

/// `mysql_server_public_key` pins the upstream's RSA key: without TLS, dbward encrypts the
/// password with it at once instead of asking the server for its key (which a machine in the
/// middle could answer with its own). The right key logs in; another key's ciphertext is a
/// wrong password to the server. Only the mysql engine takes it, only as a PEM public key.
#[tokio::test]
async fn the_upstream_rsa_key_can_be_pinned() {
    let keys = tempfile::tempdir().expect("tempdir");
    let (private, public) = openssl_key_pair(keys.path());
    let others = tempfile::tempdir().expect("tempdir");
    let (_, other_public) = openssl_key_pair(others.path());
    let b = MyProxy::start_with("read", json!({}), |c| {
        // No fast path: every login is a full authentication.
        c.auth.credential_cache_ttl = Duration::ZERO;
        c.mysql.rsa_private_key = Some(private.clone());
    })
    .await;
    let a = MyProxy::start("read", json!({})).await;
    let pem = |p: &std::path::Path| std::fs::read_to_string(p).expect("pem");
    register_chained(
        &a,
        &b,
        "pinned",
        "127.0.0.1",
        b.port(),
        json!({"tls_mode": "disable", "mysql_server_public_key": pem(&public)}),
    )
    .await;
    register_chained(
        &a,
        &b,
        "mispinned",
        "127.0.0.1",
        b.port(),
        json!({"tls_mode": "disable", "mysql_server_public_key": pem(&other_public)}),
    )
    .await;
    let (ok, out, err) = through(&a, "pinned").await;
    assert!(ok && out == b.upstream.name, "{out} {err}");
    assert_eq!(login_paths(&b, 1).await, ["full_rsa"]);
    let (ok, _, err) = through(&a, "mispinned").await;
    assert!(!ok, "a password encrypted for another key does not log in");
    assert!(err.contains("could not connect to the upstream"), "{err}");
    // Only for MySQL databases, only a PEM public key.
    for (engine, key, needle) in [
        ("postgres", pem(&public), "mysql engine only"),
        ("mysql", "not a key".to_owned(), "RSA public key in PEM"),
    ] {
        let body = json!({"name": "x", "engine": engine, "host": "127.0.0.1",
            "database": "d", "username": "u", "mysql_server_public_key": key});
        let (s, answer) = a.dbward.admin("POST", "/api/databases", Some(body)).await;
        assert_eq!(s, 400, "{answer}");
        assert!(answer.to_string().contains(needle), "{answer}");
    }
    a.dbward.stop().await;
    b.dbward.stop().await;
}

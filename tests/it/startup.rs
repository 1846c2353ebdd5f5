//! Start-up: bootstrap, master key, store backends, secrets at rest.

use base64::Engine as _;
use dbward_core::crypto::Secret;
use serde_json::json;

use crate::harness::{ADMIN_PASSWORD, Dbward, PgDatabase, test_config};

#[tokio::test]
async fn first_start_generates_admin_password_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = test_config(dir.path().to_owned());
    config.admin_password = None;
    let d = Dbward::start_with(config.clone()).await;
    let pw = d
        .started
        .as_ref()
        .and_then(|s| s.generated_admin_password.clone())
        .expect("generated on first start");
    assert!(pw.expose().len() >= 20);
    let (status, me) = d
        .call("GET", "/api/me", Some(("admin", pw.expose())), None)
        .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["username"], "admin");
    d.stop().await;

    let d = Dbward::start_with(config).await;
    assert!(
        d.started
            .as_ref()
            .expect("started")
            .generated_admin_password
            .is_none()
    );
    let (status, _) = d
        .call("GET", "/api/me", Some(("admin", pw.expose())), None)
        .await;
    assert_eq!(status, 200, "the first password still works");
    let key = std::fs::metadata(dir.path().join("secret.key")).expect("key file");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(key.permissions().mode() & 0o777, 0o600);
    }
    d.stop().await;
}

#[tokio::test]
async fn wrong_master_key_fails_startup_even_without_databases() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = test_config(dir.path().to_owned());
    Dbward::start_with(config.clone()).await.stop().await;
    let mut wrong = config;
    wrong.secret_key = Some(Secret::new(
        base64::engine::general_purpose::STANDARD.encode([42u8; 32]),
    ));
    let err = dbward::app::start(wrong, tokio_util::sync::CancellationToken::new())
        .await
        .expect_err("wrong key refused");
    assert!(
        err.to_string().contains("does not match this store"),
        "{err:#}"
    );
}

#[tokio::test]
async fn upstream_password_is_not_in_the_store_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = Dbward::start_with(test_config(dir.path().to_owned())).await;
    let (status, db) = d
        .admin(
            "POST",
            "/api/databases",
            Some(json!({
                "name": "orders", "engine": "postgres", "host": "127.0.0.1",
                "database": "orders", "username": "owner",
                "password": "upstream-secret-Kx9!", "read_username": "reader",
                "read_password": "read-secret-Qz7!",
            })),
        )
        .await;
    assert_eq!(status, 201, "{db}");
    assert_eq!(db["has_password"], true);
    d.stop().await;
    let mut scanned = 0;
    for entry in std::fs::read_dir(dir.path()).expect("dir") {
        let path = entry.expect("entry").path();
        let bytes = std::fs::read(&path).expect("read");
        scanned += bytes.len();
        for secret in ["upstream-secret-Kx9!", "read-secret-Qz7!"] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} found in clear in {}",
                path.display()
            );
        }
    }
    assert!(scanned > 10_000, "the store files were read");
    let store_bytes: Vec<u8> = ["dbward.db", "dbward.db-wal"]
        .iter()
        .filter_map(|f| std::fs::read(dir.path().join(f)).ok())
        .flatten()
        .collect();
    assert!(
        store_bytes.windows(6).any(|w| w == b"orders"),
        "the database row is in the store files"
    );
}

#[tokio::test]
async fn postgres_store_serves_the_api_and_requires_a_key() {
    let pg = PgDatabase::create().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = test_config(dir.path().to_owned());
    config.store_url = Some(pg.url.clone());
    let err = config.validate().expect_err("no key");
    assert!(err.to_string().contains("secret_key"), "{err}");

    config.secret_key = Some(Secret::new(
        base64::engine::general_purpose::STANDARD.encode([7u8; 32]),
    ));
    let d = Dbward::start_with(config.clone()).await;
    let (status, user) = d
        .admin(
            "POST",
            "/api/users",
            Some(json!({"username": "alice", "password": "alice-password-123"})),
        )
        .await;
    assert_eq!(status, 201, "{user}");
    let (status, _) = d
        .call(
            "GET",
            "/api/me",
            Some(("alice", "alice-password-123")),
            None,
        )
        .await;
    assert_eq!(status, 200);
    d.stop().await;

    // A second instance on the same store shares users and does not bootstrap again.
    let dir2 = tempfile::tempdir().expect("tempdir");
    let mut second = config;
    second.data_dir = dir2.path().to_owned();
    second.admin_password = Some(Secret::new("another-admin-password".into()));
    let d2 = Dbward::start_with(second).await;
    let (status, _) = d2
        .call(
            "GET",
            "/api/me",
            Some(("alice", "alice-password-123")),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = d2.admin("GET", "/api/me", None).await;
    assert_eq!(
        status, 200,
        "admin keeps the password of the first start: {ADMIN_PASSWORD}"
    );
    d2.stop().await;
    drop(pg);
}

#[tokio::test]
async fn health_needs_no_credentials() {
    let d = Dbward::start().await;
    let (status, body) = d.call("GET", "/api/health", None, None).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    d.stop().await;
}

/// HTTPS with the generated certificate, checked by a real client (curl) that verifies it.
#[tokio::test]
async fn https_serves_the_api_with_the_generated_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = test_config(dir.path().to_owned());
    config.http.tls = true;
    let d = Dbward::start_with(config).await;
    let url = format!("https://127.0.0.1:{}/api/me", d.addr.port());
    let cacert = dir.path().join("tls.crt");
    let out = tokio::process::Command::new("curl")
        .args(["-sS", "--fail-with-body", "--cacert"])
        .arg(&cacert)
        .args(["-u", &format!("admin:{ADMIN_PASSWORD}"), &url])
        .output()
        .await
        .expect("run curl");
    let body = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{body} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let me: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(me["username"], "admin");
    // Plain HTTP to the HTTPS port gets no API answer.
    let plain = reqwest::get(format!("http://127.0.0.1:{}/api/health", d.addr.port())).await;
    assert!(plain.is_err() || plain.is_ok_and(|r| r.status() != 200));
    d.stop().await;
}

/// The real binary: flags and variables apply, the banner names the bound address, SIGTERM
/// stops it cleanly.
#[tokio::test]
async fn binary_starts_prints_addresses_and_stops_on_sigterm() {
    use tokio::io::AsyncBufReadExt as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_dbward"))
        .args(["serve", "--http-listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("DBWARD_ADMIN_PASSWORD", ADMIN_PASSWORD)
        // A flag wins over its variable: this address must not be used.
        .env("DBWARD_HTTP_LISTEN", "127.0.0.1:1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn dbward");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let mut banner = Vec::new();
    let addr = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.expect("read") {
            banner.push(line.clone());
            if let Some(rest) = line.trim().strip_prefix("admin API:") {
                return rest
                    .trim()
                    .trim_start_matches("http://")
                    .trim_end_matches("/api/")
                    .to_owned();
            }
        }
        panic!("no address in the banner: {banner:?}");
    })
    .await
    .expect("banner within 30 s");
    assert!(
        !banner.iter().any(|l| l.contains("password")),
        "no generated password: {banner:?}"
    );
    let health = reqwest::get(format!("http://{addr}/api/health"))
        .await
        .expect("health");
    assert_eq!(health.status(), 200);
    let pid = child.id().expect("pid").to_string();
    let killed = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await;
    assert!(killed.expect("kill").success());
    let status = tokio::time::timeout(std::time::Duration::from_secs(10), child.wait())
        .await
        .expect("exits within 10 s")
        .expect("wait");
    assert!(status.success(), "clean exit: {status}");
}

/// `dbward classify` tells, offline, what class a grant needs for a string (per dialect), and
/// exits 1 when some string is refused outright; standard input is one string.
#[test]
fn classify_subcommand_prints_each_strings_class() {
    let run = |args: &[&str], stdin: &str| {
        use std::io::Write as _;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dbward"))
            .arg("classify")
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("spawn dbward");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write stdin");
        let out = child.wait_with_output().expect("wait");
        (
            out.status.code(),
            String::from_utf8(out.stdout).expect("utf8"),
        )
    };
    let (code, out) = run(
        &[
            "SELECT 1",
            "DELETE FROM t; SELECT 2",
            "DROP TABLE t",
            "GRANT ALL ON t TO bob",
        ],
        "",
    );
    assert_eq!(code, Some(0), "{out}");
    let classes: Vec<_> = out
        .lines()
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .collect();
    assert_eq!(classes.len(), 4, "{out}");
    assert_eq!(classes[0][..2], ["read", "1"], "{out}");
    assert_eq!(classes[1][..2], ["write", "2"], "{out}");
    assert_eq!(classes[2][0], "ddl", "{out}");
    assert_eq!(classes[3][0], "admin", "{out}");
    // A MySQL string read from standard input, in MySQL's lexing: `"` quotes a string there.
    let (code, out) = run(
        &["--dialect", "mariadb"],
        "SELECT \"a; DROP TABLE t\";\nSHOW CREATE DATABASE d\n",
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with("read\t2\t"), "{out}");
    // The same text in a session whose sql_mode has ANSI_QUOTES: `"` quotes a name, and the
    // DROP is a statement of its own. A mode dbward does not follow is a usage error.
    let (code, out) = run(
        &[
            "--dialect",
            "mysql",
            "--sql-mode",
            "ANSI_QUOTES,STRICT_TRANS_TABLES",
        ],
        "SELECT \"a; DROP TABLE t\";\nSHOW CREATE DATABASE d\n",
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with("read\t2\t"), "{out}");
    let (code, out) = run(
        &[
            "--dialect",
            "mysql",
            "--sql-mode",
            "ANSI_QUOTES",
            r#"SELECT "a\"; DROP TABLE t; -- ""#,
        ],
        "",
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with("ddl\t2\t"), "{out}");
    let (code, _) = run(
        &["--dialect", "mysql", "--sql-mode", "ORACLE", "SELECT 1"],
        "",
    );
    assert_eq!(code, Some(2));
    // What no grant may run: status 1, and the reason.
    let (code, out) = run(&["SELEC oops"], "");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.starts_with("refused\t"), "{out}");
    // One line per string, even when the parser's message quotes a line break.
    let (code, out) = run(
        &["--dialect", "mysql", "SELECT 1 AS x \"a\nb\"", "SELECT 2"],
        "",
    );
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(
        out.lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("read\t1\t")),
        "{out}"
    );
    let (code, _) = run(&["--dialect", "oracle", "SELECT 1"], "");
    assert_eq!(code, Some(2), "an unknown dialect is a usage error");
}

/// On dual-stack listeners (`[::]`), IPv4 clients arrive as `::ffff:a.b.c.d`. dbward treats
/// them by their own address: a client on 127.0.0.1 is loopback (plaintext where TLS is
/// required from elsewhere; basic auth over plain HTTP), and the trail records `127.0.0.1`.
#[tokio::test]
async fn ipv4_clients_of_dual_stack_listeners_keep_their_address() {
    let any: std::net::SocketAddr = "[::]:0".parse().expect("addr");
    let mut fx = crate::pg_fixture::PgProxy::start_with("read", |c| {
        c.pg.listen = any;
        c.pg.require_tls_remote = true;
        c.http.listen = any;
    })
    .await;
    // Through IPv4 to the dual-stack HTTP listener.
    fx.dbward.addr = std::net::SocketAddr::from(([127, 0, 0, 1], fx.dbward.addr.port()));
    let (s, me) = fx.dbward.admin("GET", "/api/me", None).await;
    assert_eq!(s, 200, "{me}");
    // fx.conninfo() connects to 127.0.0.1 without TLS.
    let (ok, out, err) = fx.psql(&["-Atc", "SELECT 42"]).await;
    assert!(ok && out.trim() == "42", "{err}");
    let (_, page) = fx.dbward.admin("GET", "/api/audit?limit=20", None).await;
    let connect = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|r| r["action"] == "pg.connect")
        .expect("a connect event")
        .clone();
    assert_eq!(connect["client_addr"], "127.0.0.1", "{connect}");
    fx.dbward.stop().await;
}

/// `mysql.rsa_private_key` is read at start: a missing file or a PEM that is not an RSA
/// private key stops start-up with a message naming the setting, before any listener opens.
#[tokio::test]
async fn a_bad_mysql_rsa_private_key_fails_startup() {
    let dir = tempfile::tempdir().expect("tempdir");
    let not_a_key = dir.path().join("not-a-key.pem");
    std::fs::write(
        &not_a_key,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .expect("write");
    for (path, says) in [
        (dir.path().join("missing.pem"), "cannot read"),
        (not_a_key, "not an unencrypted RSA private key"),
    ] {
        let mut config = test_config(dir.path().join("data"));
        config.mysql.rsa_private_key = Some(path);
        let err = dbward::app::start(config, tokio_util::sync::CancellationToken::new())
            .await
            .expect_err("refused");
        let text = format!("{err:#}");
        assert!(
            text.contains(says) && text.contains("mysql.rsa_private_key"),
            "{text}"
        );
    }
}

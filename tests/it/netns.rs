//! Non-loopback clients: a network namespace joined to the host by a veth pair, so a real
//! client connects from another address (`10.213.x.2`) to dbward listening on `10.213.x.1`.
//! The addresses exist only inside this machine, on links the test creates and removes.

use std::process::Command;

use crate::harness::{ADMIN_PASSWORD, Dbward, test_config};
use crate::pg_fixture::PgProxy;

/// A test host: a network namespace with one veth link to the host.
pub struct TestHost {
    ns: String,
    host_if: String,
    /// The host side's address (dbward listens here).
    pub host_addr: String,
    /// The namespace side's address (the client's).
    pub client_addr: String,
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .status()
        .is_ok_and(|s| s.success())
}

impl TestHost {
    /// Creates the namespace and link on a /30 of 10.213.0.0/16 no other test uses.
    pub fn create() -> Self {
        for _ in 0..20 {
            let tag = &uuid::Uuid::new_v4().simple().to_string()[..6];
            let subnet = u8::from_str_radix(&tag[..2], 16).expect("hex");
            let quad = u8::from_str_radix(&tag[2..4], 16).expect("hex") & 0x3f;
            let (a, b) = (
                format!("10.213.{subnet}.{}", quad * 4 + 1),
                format!("10.213.{subnet}.{}", quad * 4 + 2),
            );
            let ns = format!("dbw{tag}");
            let (host_if, peer_if) = (format!("dbw{tag}a"), format!("dbw{tag}b"));
            if !ip(&["netns", "add", &ns]) {
                continue;
            }
            let ok = ip(&[
                "link", "add", &host_if, "type", "veth", "peer", "name", &peer_if,
            ]) && ip(&["link", "set", &peer_if, "netns", &ns])
                && ip(&["addr", "add", &format!("{a}/30"), "dev", &host_if])
                && ip(&["link", "set", &host_if, "up"])
                && ip(&[
                    "netns",
                    "exec",
                    &ns,
                    "ip",
                    "addr",
                    "add",
                    &format!("{b}/30"),
                    "dev",
                    &peer_if,
                ])
                && ip(&["netns", "exec", &ns, "ip", "link", "set", &peer_if, "up"])
                && ip(&["netns", "exec", &ns, "ip", "link", "set", "lo", "up"]);
            let host = Self {
                ns,
                host_if,
                host_addr: a,
                client_addr: b,
            };
            if ok {
                return host;
            }
        }
        panic!("cannot create a network namespace (needs root and iproute2)");
    }

    /// Runs a command inside the namespace; returns (success, stdout + stderr). Async: dbward
    /// runs on the test's own runtime and must keep serving meanwhile.
    pub async fn run(&self, program: &str, args: &[&str]) -> (bool, String) {
        let out = tokio::time::timeout(
            std::time::Duration::from_secs(30),
            tokio::process::Command::new("ip")
                .args(["netns", "exec", &self.ns, program])
                .args(args)
                .kill_on_drop(true)
                .output(),
        )
        .await
        .expect("finished within 30 s")
        .expect("ip netns exec");
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }
}

impl Drop for TestHost {
    fn drop(&mut self) {
        ip(&["link", "del", &self.host_if]);
        ip(&["netns", "del", &self.ns]);
    }
}

#[tokio::test]
async fn remote_clients_need_tls_when_required() {
    let host = TestHost::create();
    let listen = format!("{}:0", host.host_addr);
    let fx = PgProxy::start_with("read", |c| {
        c.pg.listen = listen.parse().expect("addr");
        c.pg.require_tls_remote = true;
    })
    .await;
    let conninfo = |mode: &str| {
        format!(
            "host={} port={} dbname=orders user=alice password=alice-password-123 sslmode={mode}",
            host.host_addr,
            fx.port()
        )
    };
    let (ok, out) = host
        .run("psql", &[&conninfo("disable"), "-X", "-c", "SELECT 1"])
        .await;
    assert!(!ok && out.contains("requires TLS"), "{out}");
    let (ok, out) = host
        .run(
            "psql",
            &[&conninfo("require"), "-X", "-At", "-c", "SELECT 42"],
        )
        .await;
    assert!(ok && out.trim() == "42", "{out}");
    // The audit trail names the remote address.
    let (_, page) = fx.dbward.admin("GET", "/api/audit?limit=50", None).await;
    let remote = page["items"].as_array().expect("items").iter().any(|r| {
        r["action"] == "pg.connect"
            && r["outcome"] == "success"
            && r["client_addr"] == host.client_addr.as_str()
    });
    assert!(remote, "{page}");
    fx.dbward.stop().await;
}

#[tokio::test]
async fn remote_basic_auth_over_plain_http_is_refused() {
    let host = TestHost::create();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = test_config(dir.path().to_owned());
    config.http.listen = format!("{}:0", host.host_addr).parse().expect("addr");
    let d = Dbward::start_with(config).await;
    let url = format!("http://{}:{}/api/me", host.host_addr, d.addr.port());
    let credentials = format!("admin:{ADMIN_PASSWORD}");
    let (_, out) = host
        .run("curl", &["-s", "-m", "10", "-u", &credentials, &url])
        .await;
    let body: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|_| panic!("{out}"));
    assert_eq!(body["error"]["code"], "insecure_transport", "{body}");
    let health = format!("http://{}:{}/api/health", host.host_addr, d.addr.port());
    let (_, out) = host.run("curl", &["-s", "-m", "10", &health]).await;
    assert!(out.contains("\"status\":\"ok\""), "{out}");
    d.stop().await;
}

/// dbward's MySQL port listening on the test host's side, alice holding a `read` grant.
async fn remote_mysql_proxy(host: &TestHost, require_tls: bool) -> crate::my_fixture::MyProxy {
    let listen = format!("{}:0", host.host_addr);
    crate::my_fixture::MyProxy::start_with("read", serde_json::json!({}), |c| {
        c.mysql.listen = listen.parse().expect("addr");
        c.mysql.require_tls_remote = require_tls;
    })
    .await
}

/// `SELECT 42` as alice from the test host (`tls`: `--ssl` or `--skip-ssl`): (success, output).
async fn remote_mysql(
    host: &TestHost,
    fx: &crate::my_fixture::MyProxy,
    tls: &str,
) -> (bool, String) {
    let (port, password) = (fx.port().to_string(), format!("-p{}", fx.password));
    host.run(
        "mysql",
        &[
            "-h",
            &host.host_addr,
            "-P",
            &port,
            "-u",
            "alice",
            &password,
            tls,
            "-N",
            "-B",
            "-e",
            "SELECT 42",
            "shop",
        ],
    )
    .await
}

/// `caching_sha2_password`'s fast path stays off for plaintext from another address, even where
/// plaintext is allowed: after a full authentication over TLS, the remote client's plaintext
/// login takes a full authentication again (a scramble seen on the network could be attacked
/// offline), by the RSA key exchange; loopback may go without.
#[tokio::test]
async fn remote_plaintext_gets_no_fast_path() {
    let host = TestHost::create();
    let fx = remote_mysql_proxy(&host, false).await;
    let (ok, out) = remote_mysql(&host, &fx, "--ssl").await;
    assert!(ok && out.trim() == "42", "{out}");
    // Remembered now, yet no fast path without TLS from this address: a full authentication,
    // the password RSA-encrypted.
    let (ok, out) = remote_mysql(&host, &fx, "--skip-ssl").await;
    assert!(ok && out.trim() == "42", "{out}");
    assert_eq!(
        crate::my_proxy::login_paths(&fx, 2).await,
        ["full", "full_rsa"]
    );
    fx.dbward.stop().await;
}

/// `mysql_native_password` from another address needs TLS too, as the fast path does: a
/// plaintext scramble seen on the network could be attacked offline. An opted-in user's
/// plaintext login from the test host is switched to `caching_sha2_password` (which mysqljs
/// cannot speak); over TLS it logs in.
#[tokio::test]
async fn remote_native_password_needs_tls() {
    let host = TestHost::create();
    let fx = remote_mysql_proxy(&host, false).await;
    let (s, body) = fx
        .dbward
        .admin(
            "PUT",
            &format!("/api/users/{}/password", fx.user_id),
            Some(serde_json::json!({"password": fx.password, "mysql_native_password": true})),
        )
        .await;
    assert_eq!(s, 204, "{body}");
    let script = format!(
        "{}/tests/clients/node/mysqljs_login.js",
        env!("CARGO_MANIFEST_DIR")
    );
    let port = fx.port().to_string();
    let args = |mode| {
        [
            script.clone(),
            port.clone(),
            "alice".into(),
            fx.password.clone(),
            "shop".into(),
            mode,
            host.host_addr.clone(),
        ]
    };
    let login = async |mode: &str| {
        let args = args(mode.to_owned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        host.run("node", &args).await
    };
    let (ok, out) = login("plain").await;
    assert!(ok && out.trim() == "error:UNSUPPORTED_AUTH_METHOD", "{out}");
    let (ok, out) = login("tls").await;
    assert!(ok && out.trim().starts_with("ok:"), "{out}");
    fx.dbward.stop().await;
}

/// The MySQL front door from another address: plaintext refused when TLS is required, TLS
/// works, and the audit names the remote address.
#[tokio::test]
async fn remote_mysql_clients_need_tls_when_required() {
    let host = TestHost::create();
    let fx = remote_mysql_proxy(&host, true).await;
    let (ok, out) = remote_mysql(&host, &fx, "--skip-ssl").await;
    assert!(!ok && out.contains("requires TLS"), "{out}");
    let (ok, out) = remote_mysql(&host, &fx, "--ssl").await;
    assert!(ok && out.trim() == "42", "{out}");
    let (_, page) = fx.dbward.admin("GET", "/api/audit?limit=50", None).await;
    let remote = page["items"].as_array().expect("items").iter().any(|r| {
        r["action"] == "mysql.connect"
            && r["outcome"] == "success"
            && r["client_addr"] == host.client_addr.as_str()
    });
    assert!(remote, "{page}");
    fx.dbward.stop().await;
}

impl TestHost {
    /// Takes the namespace's address away: the host's ARP requests for it go unanswered, so a
    /// connect to it hangs (for about 3 s, then "no route to host") instead of being refused.
    fn go_silent(&self) {
        let peer_if = format!("{}b", self.host_if.strip_suffix('a').expect("host side"));
        let dropped = ip(&[
            "netns",
            "exec",
            &self.ns,
            "ip",
            "addr",
            "del",
            &format!("{}/30", self.client_addr),
            "dev",
            &peer_if,
        ]);
        assert!(dropped, "address removed");
    }
}

/// An upstream that does not answer at all (its packets vanish) is given up after
/// `connect_timeout`, with a FATAL / ERR that says so, on both front doors.
#[tokio::test]
async fn an_upstream_that_does_not_answer_is_given_up_after_the_connect_timeout() {
    use std::time::{Duration, Instant};
    let host = TestHost::create();
    host.go_silent();
    let fx = PgProxy::start_with("read", |c| {
        c.pg.connect_timeout = Duration::from_millis(400);
    })
    .await;
    fx.dbward
        .patch_database(fx.db_id, serde_json::json!({"host": host.client_addr}))
        .await;
    let started = Instant::now();
    let (ok, _, err) = fx.psql(&["-c", "SELECT 1"]).await;
    let waited = started.elapsed();
    assert!(!ok);
    assert!(
        err.contains("could not connect to the upstream of database") && err.contains("timed out"),
        "{err}"
    );
    assert!(waited < Duration::from_millis(2500), "{waited:?}");
    fx.dbward.stop().await;

    let fx = crate::my_fixture::MyProxy::start_with("read", serde_json::json!({}), |c| {
        c.mysql.connect_timeout = Duration::from_millis(400);
    })
    .await;
    fx.dbward
        .patch_database(fx.db_id, serde_json::json!({"host": host.client_addr}))
        .await;
    let started = Instant::now();
    let (ok, _, err) = fx.mysql(&["-e", "SELECT 1"]).await;
    let waited = started.elapsed();
    assert!(!ok);
    assert!(err.contains("timed out"), "{err}");
    assert!(waited < Duration::from_millis(2500), "{waited:?}");
    fx.dbward.stop().await;
}

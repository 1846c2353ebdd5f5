//! dbward's own login to the upstream: password methods and TLS modes, against a private
//! cluster that requires passwords and serves a certificate from a CA the test generates.

use serde_json::{Value, json};

use crate::harness::Dbward;
use crate::pg_cluster::{Cluster, TestPki};

const SUPERUSER_PASSWORD: &str = "upstream-secret-Kx9!";
const READER_PASSWORD: &str = "read-secret-Qz7!";

const HBA: &str = "\
local all all trust
host all md5_user 127.0.0.1/32 md5
host all clear_user 127.0.0.1/32 password
host all all 127.0.0.1/32 scram-sha-256
";

struct Setup {
    dbward: Dbward,
    cluster: Cluster,
    pki: TestPki,
    user_id: i64,
}

async fn setup() -> Setup {
    setup_on(&["127.0.0.1"], HBA, "127.0.0.1").await
}

/// A cluster with a certificate for `names`, `hba`, listening on `listen`, with the test roles,
/// and dbward with user alice.
async fn setup_on(names: &[&str], hba: &str, listen: &str) -> Setup {
    let pki = TestPki::new(names);
    let cluster = Cluster::start_on(SUPERUSER_PASSWORD, &pki, hba, listen);
    let url = format!(
        "postgres://postgres:{}@127.0.0.1:{}/postgres",
        "upstream-secret-Kx9%21", cluster.port
    );
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("superuser login");
    tokio::spawn(conn);
    client
        .batch_execute(&format!(
            "SET password_encryption = 'md5'; CREATE ROLE md5_user LOGIN PASSWORD '{SUPERUSER_PASSWORD}';
             RESET password_encryption;
             CREATE ROLE clear_user LOGIN PASSWORD '{SUPERUSER_PASSWORD}';
             CREATE ROLE reader LOGIN PASSWORD '{READER_PASSWORD}';"
        ))
        .await
        .expect("roles");
    let dbward = Dbward::start().await;
    let (_, user) = dbward
        .admin(
            "POST",
            "/api/users",
            Some(json!({"username": "alice", "password": "alice-password-123"})),
        )
        .await;
    Setup {
        dbward,
        cluster,
        pki,
        user_id: user["id"].as_i64().expect("id"),
    }
}

impl Setup {
    /// Registers a database with `fields` over the defaults and grants alice `level` on it.
    async fn database(&self, name: &str, level: &str, fields: Value) -> i64 {
        let mut body = json!({
            "name": name, "engine": "postgres", "host": "127.0.0.1", "port": self.cluster.port,
            "database": "postgres", "username": "postgres", "password": SUPERUSER_PASSWORD,
        });
        for (k, v) in fields.as_object().expect("object") {
            body[k] = v.clone();
        }
        let (s, db) = self
            .dbward
            .admin("POST", "/api/databases", Some(body))
            .await;
        assert_eq!(s, 201, "{db}");
        let (s, g) = self
            .dbward
            .admin(
                "POST",
                "/api/grants",
                Some(json!({
                    "user_id": self.user_id, "database_id": db["id"], "access_level": level,
                    "expires_at": "2099-01-01T00:00:00Z",
                })),
            )
            .await;
        assert_eq!(s, 201, "{g}");
        db["id"].as_i64().expect("id")
    }

    async fn connect(&self, name: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
        let conninfo = format!(
            "host=127.0.0.1 port={} dbname={name} user=alice password=alice-password-123 sslmode=disable",
            self.dbward
                .started
                .as_ref()
                .expect("started")
                .pg_addr
                .port()
        );
        let (client, conn) = tokio_postgres::connect(&conninfo, tokio_postgres::NoTls).await?;
        tokio::spawn(conn);
        Ok(client)
    }
}

/// The refusal dbward sends: 08006, and never an upstream secret.
fn assert_refused(result: Result<tokio_postgres::Client, tokio_postgres::Error>, needle: &str) {
    let Err(err) = result else {
        panic!("connected")
    };
    let db = err
        .as_db_error()
        .unwrap_or_else(|| panic!("not a server error: {err}"));
    assert_eq!(db.code().code(), "08006", "{}", db.message());
    assert!(
        db.message().contains(needle),
        "`{}` lacks `{needle}`",
        db.message()
    );
    for secret in [SUPERUSER_PASSWORD, READER_PASSWORD] {
        assert!(!db.message().contains(secret));
    }
}

#[tokio::test]
async fn verified_tls_and_scram_upstream() {
    let s = setup().await;
    s.database(
        "full",
        "write",
        json!({"tls_mode": "verify-full", "tls_ca_cert": s.pki.ca_pem}),
    )
    .await;
    let client = s
        .connect("full")
        .await
        .expect("verify-full with the right CA");
    let row = client
        .query_one(
            "SELECT current_user::text, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .expect("query");
    assert_eq!(
        (row.get::<_, String>(0), row.get::<_, bool>(1)),
        ("postgres".to_owned(), true)
    );

    // Another CA: refused, with no secret in the message.
    let other = TestPki::new(&["127.0.0.1"]);
    s.database(
        "wrong_ca",
        "read",
        json!({"tls_mode": "verify-full", "tls_ca_cert": other.ca_pem}),
    )
    .await;
    assert_refused(s.connect("wrong_ca").await, "TLS");
    // The certificate names 127.0.0.1, not localhost: verify-full refuses the name, verify-ca
    // (chain only) accepts it.
    s.database(
        "wrong_name",
        "read",
        json!({"host": "localhost", "tls_mode": "verify-full", "tls_ca_cert": s.pki.ca_pem}),
    )
    .await;
    assert_refused(s.connect("wrong_name").await, "TLS");
    s.database(
        "chain_only",
        "read",
        json!({"host": "localhost", "tls_mode": "verify-ca", "tls_ca_cert": s.pki.ca_pem}),
    )
    .await;
    s.connect("chain_only")
        .await
        .expect("verify-ca ignores the host name");
    // require: encrypted without verification, as libpq.
    s.database("required", "read", json!({"tls_mode": "require"}))
        .await;
    s.connect("required").await.expect("require");
    s.dbward.stop().await;
}

#[tokio::test]
async fn upstream_password_methods_and_wrong_password() {
    let s = setup().await;
    s.database(
        "md5",
        "read",
        json!({"username": "md5_user", "tls_mode": "disable"}),
    )
    .await;
    let c = s.connect("md5").await.expect("md5 upstream");
    let who: String = c
        .query_one("SELECT current_user::text", &[])
        .await
        .expect("q")
        .get(0);
    assert_eq!(who, "md5_user");
    // Cleartext goes only to loopback or over verified TLS: here the host is loopback.
    s.database(
        "clear",
        "read",
        json!({"username": "clear_user", "tls_mode": "disable"}),
    )
    .await;
    s.connect("clear").await.expect("cleartext to loopback");
    s.database(
        "badpw",
        "read",
        json!({"password": "not-the-password", "tls_mode": "disable"}),
    )
    .await;
    assert_refused(s.connect("badpw").await, "28P01");
    s.database(
        "nopw",
        "read",
        json!({"password": null, "tls_mode": "disable"}),
    )
    .await;
    assert_refused(s.connect("nopw").await, "none is stored");
    s.dbward.stop().await;
}

#[tokio::test]
async fn read_grants_use_the_read_only_credential() {
    let s = setup().await;
    s.database(
        "split",
        "read",
        json!({"tls_mode": "prefer", "read_username": "reader", "read_password": READER_PASSWORD}),
    )
    .await;
    let c = s.connect("split").await.expect("read session");
    let row = c
        .query_one(
            "SELECT current_user::text, current_setting('default_transaction_read_only')",
            &[],
        )
        .await
        .expect("q");
    assert_eq!(
        (row.get::<_, String>(0), row.get::<_, String>(1)),
        ("reader".to_owned(), "on".to_owned())
    );
    s.dbward.stop().await;
}

/// A cleartext password goes to a non-loopback upstream only over a verified TLS channel: the
/// cluster listens on a veth address of this machine (not loopback) and asks for `password`.
#[tokio::test]
async fn cleartext_to_a_remote_upstream_only_over_verified_tls() {
    let host = crate::netns::TestHost::create();
    let remote = host.host_addr.clone();
    let hba = format!(
        "local all all trust\nhost all clear_user {remote}/32 password\n\
         host all all 127.0.0.1/32 scram-sha-256\n"
    );
    let s = setup_on(
        &["127.0.0.1", &remote],
        &hba,
        &format!("127.0.0.1,{remote}"),
    )
    .await;
    let base = json!({"host": remote, "username": "clear_user"});
    let with = |extra: Value| {
        let mut b = base.clone();
        for (k, v) in extra.as_object().expect("object") {
            b[k] = v.clone();
        }
        b
    };
    // Plaintext, and TLS without verification: the password is not sent.
    s.database("plain", "read", with(json!({"tls_mode": "disable"})))
        .await;
    assert_refused(s.connect("plain").await, "cleartext");
    s.database("unverified", "read", with(json!({"tls_mode": "require"})))
        .await;
    assert_refused(s.connect("unverified").await, "cleartext");
    // Verified TLS: it is.
    s.database(
        "verified",
        "read",
        with(json!({"tls_mode": "verify-full", "tls_ca_cert": s.pki.ca_pem})),
    )
    .await;
    let c = s
        .connect("verified")
        .await
        .expect("cleartext over verified TLS");
    let who: String = c
        .query_one("SELECT current_user::text", &[])
        .await
        .expect("q")
        .get(0);
    assert_eq!(who, "clear_user");
    s.dbward.stop().await;
    drop(host);
}

/// A machine in the middle of dbward's unverified TLS (`tls_mode = require`): it answers with
/// its own certificate and relays to the server over a TLS connection of its own. Without
/// channel binding dbward's SCRAM exchange would pass through it; bound to the TLS channel
/// (SCRAM-SHA-256-PLUS, as libpq's default), the server's check of the binding fails and the
/// login is refused. The same database reached directly logs in, bound.
#[tokio::test]
async fn scram_is_bound_to_the_tls_channel_so_a_relaying_middle_fails() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject as _;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    let s = setup().await;
    // The middle's own certificate, and a client side that verifies the real server.
    let fake = TestPki::new(&["127.0.0.1"]);
    let chain =
        vec![CertificateDer::from_pem_slice(fake.server_cert_pem.as_bytes()).expect("cert")];
    let key = PrivateKeyDer::from_pem_slice(fake.server_key_pem.as_bytes()).expect("key");
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server config");
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(s.pki.ca_pem.as_bytes()).expect("ca"))
        .expect("root");
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(server));
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(client));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let middle_port = listener.local_addr().expect("addr").port();
    let server_port = s.cluster.port;
    let relayed = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = relayed.clone();
    tokio::spawn(async move {
        while let Ok((mut c, _)) = listener.accept().await {
            let (acceptor, connector, count) = (acceptor.clone(), connector.clone(), count.clone());
            tokio::spawn(async move {
                let mut request = [0u8; 8];
                c.read_exact(&mut request).await.ok()?;
                c.write_all(b"S").await.ok()?;
                let mut c = acceptor.accept(c).await.ok()?;
                let mut u = tokio::net::TcpStream::connect(("127.0.0.1", server_port))
                    .await
                    .ok()?;
                u.write_all(&request).await.ok()?;
                let mut answer = [0u8; 1];
                u.read_exact(&mut answer).await.ok()?;
                let name = ServerName::try_from("127.0.0.1").expect("name");
                let mut u = connector.connect(name, u).await.ok()?;
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::io::copy_bidirectional(&mut c, &mut u).await.ok()
            });
        }
    });
    s.database(
        "middle",
        "read",
        json!({"tls_mode": "require", "port": middle_port}),
    )
    .await;
    let refused = s.connect("middle").await;
    assert_eq!(
        relayed.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the middle relayed TLS both ways"
    );
    assert_refused(refused, "refused dbward's login (SQLSTATE 28000)");
    s.database("direct", "read", json!({"tls_mode": "require"}))
        .await;
    s.connect("direct")
        .await
        .expect("bound to the real server's certificate");
    s.dbward.stop().await;
}

/// `require_channel_binding` (libpq's `channel_binding=require`): the login must be
/// SCRAM-SHA-256-PLUS bound to the TLS channel, even when the certificate is not verified; an
/// MD5 login, a server that lets dbward in without SCRAM (trust), or no TLS is refused, with a
/// message that says so. It needs the postgres engine and TLS.
#[tokio::test]
async fn channel_binding_can_be_required() {
    let s = setup().await;
    s.database(
        "bound",
        "read",
        json!({"tls_mode": "require", "require_channel_binding": true}),
    )
    .await;
    let client = s
        .connect("bound")
        .await
        .expect("SCRAM-SHA-256-PLUS over TLS");
    let ssl: bool = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .expect("query")
        .get(0);
    assert!(ssl);
    s.database(
        "md5_bound",
        "read",
        json!({"username": "md5_user", "tls_mode": "require", "require_channel_binding": true}),
    )
    .await;
    assert_refused(
        s.connect("md5_bound").await,
        "channel binding is required for this database, but the upstream asked for a password",
    );
    // The shared server trusts local logins (and speaks no TLS): nothing to bind to.
    let shared = crate::harness::PgDatabase::create().await;
    s.database(
        "trusting",
        "read",
        json!({"port": shared.port(), "database": shared.name, "password": null,
               "tls_mode": "prefer", "require_channel_binding": true}),
    )
    .await;
    assert_refused(s.connect("trusting").await, "channel binding is required");
    // Without TLS, or for MySQL, the setting makes no sense: refused when registered.
    for (fields, needle) in [
        (json!({"tls_mode": "disable"}), "needs TLS"),
        (
            json!({"engine": "mysql", "port": 3306}),
            "postgres engine only",
        ),
    ] {
        let mut body = json!({
            "name": "nonsense", "engine": "postgres", "host": "127.0.0.1", "port": 5432,
            "database": "postgres", "username": "postgres", "require_channel_binding": true,
        });
        for (k, v) in fields.as_object().expect("object") {
            body[k] = v.clone();
        }
        let (status, answer) = s.dbward.admin("POST", "/api/databases", Some(body)).await;
        assert_eq!(status, 400, "{answer}");
        assert!(answer.to_string().contains(needle), "{answer}");
    }
    s.dbward.stop().await;
}

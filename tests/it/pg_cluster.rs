//! A private PostgreSQL cluster for tests that need what the shared server cannot give: password
//! authentication (the shared one trusts local logins) and TLS with a certificate from a CA the
//! test generates. Started with `initdb`/`pg_ctl` as the `postgres` OS user in a temporary
//! directory on a free port, stopped and removed on drop.

use std::path::PathBuf;
use std::process::Command;

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};

/// PEM texts of a CA and of a server certificate it signed.
#[allow(clippy::struct_field_names)] // they are all PEM texts, and say so
pub struct TestPki {
    pub ca_pem: String,
    pub server_cert_pem: String,
    pub server_key_pem: String,
}

impl TestPki {
    /// A fresh CA and a server certificate for `names` (DNS names or IP addresses).
    pub fn new(names: &[&str]) -> Self {
        let ca_key = KeyPair::generate().expect("ca key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "dbward test CA");
        let ca_cert = ca_params.self_signed(&ca_key).expect("ca");
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let server_key = KeyPair::generate().expect("key");
        let params =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
                .expect("params");
        let server_cert = params.signed_by(&server_key, &issuer).expect("server cert");
        Self {
            ca_pem: ca_cert.pem(),
            server_cert_pem: server_cert.pem(),
            server_key_pem: server_key.serialize_pem(),
        }
    }
}

/// A running private cluster.
pub struct Cluster {
    pub port: u16,
    dir: PathBuf,
    _tmp: tempfile::TempDir,
}

fn pg_bin(tool: &str) -> PathBuf {
    let base = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL server binaries under /usr/lib/postgresql")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .max()
        .expect("a PostgreSQL version");
    base.join("bin").join(tool)
}

fn as_postgres(cmd: &str, args: &[&str]) {
    let out = Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(pg_bin(cmd))
        .args(args)
        .output()
        .expect("runuser");
    assert!(
        out.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

impl Cluster {
    /// Starts a cluster whose superuser `postgres` has `superuser_password`, with TLS from
    /// `pki`, `hba` as its `pg_hba.conf`, listening on `listen` (`listen_addresses`).
    pub fn start_on(superuser_password: &str, pki: &TestPki, hba: &str, listen: &str) -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("data");
        let chown = |p: &std::path::Path| {
            let ok = Command::new("chown")
                .args(["-R", "postgres"])
                .arg(p)
                .status()
                .expect("chown");
            assert!(ok.success());
        };
        std::fs::create_dir(&dir).expect("mkdir");
        let pwfile = tmp.path().join("pw");
        std::fs::write(&pwfile, superuser_password).expect("pwfile");
        chown(tmp.path());
        let mut perms = std::fs::metadata(tmp.path()).expect("meta").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(tmp.path(), perms).expect("chmod");
        as_postgres(
            "initdb",
            &[
                "-D",
                dir.to_str().expect("utf8"),
                "-U",
                "postgres",
                "-A",
                "scram-sha-256",
                "--pwfile",
                pwfile.to_str().expect("utf8"),
            ],
        );
        std::fs::write(dir.join("server.crt"), &pki.server_cert_pem).expect("crt");
        std::fs::write(dir.join("server.key"), &pki.server_key_pem).expect("key");
        std::fs::write(dir.join("pg_hba.conf"), hba).expect("hba");
        let port = free_port();
        let conf = format!(
            "port = {port}\nlisten_addresses = '{listen}'\nunix_socket_directories = '{}'\n\
             ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n\
             password_encryption = 'scram-sha-256'\nfsync = off\n",
            tmp.path().display()
        );
        let mut existing = std::fs::read_to_string(dir.join("postgresql.conf")).expect("conf");
        existing.push_str(&conf);
        std::fs::write(dir.join("postgresql.conf"), existing).expect("conf");
        chown(tmp.path());
        let mut key_perms = std::fs::metadata(dir.join("server.key"))
            .expect("meta")
            .permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut key_perms, 0o600);
        std::fs::set_permissions(dir.join("server.key"), key_perms).expect("chmod key");
        let log = tmp.path().join("log");
        as_postgres(
            "pg_ctl",
            &[
                "-D",
                dir.to_str().expect("utf8"),
                "-l",
                log.to_str().expect("utf8"),
                "-w",
                "start",
            ],
        );
        Self {
            port,
            dir,
            _tmp: tmp,
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(pg_bin("pg_ctl"))
            .args([
                "-D",
                self.dir.to_str().unwrap_or_default(),
                "-m",
                "immediate",
                "stop",
            ])
            .output();
    }
}

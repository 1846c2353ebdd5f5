//! A private MariaDB server, for tests that need a server-wide setting the shared one must keep
//! (a default `sql_mode`). `mariadb-install-db` and `mariadbd` run as the `mysql` OS user in a
//! temporary directory, on a free loopback port; `root` logs in there without a password. The
//! server is stopped and its directory removed on drop.

use std::process::{Child, Command};

/// A running private server.
pub struct PrivateMariadb {
    pub port: u16,
    child: Child,
    dir: tempfile::TempDir,
}

impl PrivateMariadb {
    /// Starts a server with `options` (`--sql-mode=…`) beside the ones it needs.
    pub fn start(options: &[&str]) -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let data = tmp.path().join("data");
        let chown = Command::new("chown")
            .args(["-R", "mysql"])
            .arg(tmp.path())
            .status()
            .expect("chown");
        assert!(chown.success());
        let install = Command::new("mariadb-install-db")
            .arg(format!("--datadir={}", data.display()))
            .args([
                "--user=mysql",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ])
            .output()
            .expect("mariadb-install-db");
        assert!(
            install.status.success(),
            "{}",
            String::from_utf8_lossy(&install.stderr)
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let log = std::fs::File::create(tmp.path().join("log")).expect("log");
        let child = Command::new("mariadbd")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--socket={}", tmp.path().join("sock").display()))
            .arg(format!("--pid-file={}", tmp.path().join("pid").display()))
            .arg(format!("--port={port}"))
            .args([
                "--user=mysql",
                "--bind-address=127.0.0.1",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=16M",
            ])
            .args(options)
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("mariadbd");
        let server = Self {
            port,
            child,
            dir: tmp,
        };
        for _ in 0..300 {
            let ping = Command::new("mysqladmin")
                .args(["-h", "127.0.0.1", "-P", &port.to_string(), "-u", "root"])
                .arg("ping")
                .output()
                .expect("mysqladmin");
            if ping.status.success() {
                return server;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!(
            "the private MariaDB did not start: {}",
            std::fs::read_to_string(server.dir.path().join("log")).unwrap_or_default()
        );
    }
}

impl Drop for PrivateMariadb {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

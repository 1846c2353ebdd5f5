//! The dump tools DBAs reach for, under `read` grants: `pg_dump` and `mysqldump` through dbward
//! produce the dump they produce directly (as the upstream login dbward uses); and their dumps
//! restored through dbward under `ddl` grants (psql, the mysql client).

use serde_json::json;

use crate::my_fixture::MyProxy;
use crate::pg_fixture::PgProxy;

/// Registers `database` (the API's JSON) and grants `user_id` `level` on it until 2099.
async fn register_with_grant(
    dbward: &crate::harness::Dbward,
    user_id: i64,
    database: serde_json::Value,
    level: &str,
) {
    let (s, db) = dbward.admin("POST", "/api/databases", Some(database)).await;
    assert_eq!(s, 201, "{db}");
    let grant = json!({"user_id": user_id, "database_id": db["id"], "access_level": level,
        "expires_at": "2099-01-01T00:00:00Z"});
    let (s, g) = dbward.admin("POST", "/api/grants", Some(grant)).await;
    assert_eq!(s, 201, "{g}");
}

/// Runs `pg_dump` on `conninfo` with `args`; the dump (see [`without_restrict_keys`]).
async fn pg_dump(conninfo: &str, args: &[&str]) -> String {
    let out = tokio::process::Command::new("pg_dump")
        .args(["-d", conninfo])
        .args(args)
        .output()
        .await
        .expect("run pg_dump");
    assert!(
        out.status.success(),
        "pg_dump {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    without_restrict_keys(&out.stdout)
}

/// A SQL dump without the `\restrict` lines, whose key is random per dump.
fn without_restrict_keys(dump: &[u8]) -> String {
    String::from_utf8_lossy(dump)
        .lines()
        .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `pg_dump`'s session: `SET synchronize_seqscans`, `set_config(name, ...) FROM pg_settings WHERE
/// name = '...'`, `LOCK TABLE ... IN ACCESS SHARE MODE`, `COPY ... TO stdout`; with `-t`, a
/// catalog query using `OPERATOR(pg_catalog.=) ANY (...)`; with `--inserts`, a cursor over
/// `FROM ONLY`. Each dump through dbward equals the direct one.
#[tokio::test]
async fn pg_dump_under_a_read_grant_matches_a_direct_dump() {
    let fx = PgProxy::start("read").await;
    fx.upstream_sql(
        "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL);
         INSERT INTO items (name) SELECT 'n' || g FROM generate_series(1, 50) g;
         CREATE TABLE other (x int);
         CREATE VIEW v AS SELECT id FROM items WHERE id > 10;
         CREATE SEQUENCE sq;
         CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1';
         CREATE AGGREGATE total(integer) (SFUNC = int4pl, STYPE = integer, INITCOND = '0');
         CREATE TYPE code AS ENUM ('a', 'bb');
         CREATE FUNCTION code_len(code) RETURNS integer LANGUAGE sql IMMUTABLE
             AS 'SELECT length($1::text)';
         CREATE CAST (code AS integer) WITH FUNCTION code_len(code) AS ASSIGNMENT;
         CREATE CONVERSION conv FOR 'LATIN1' TO 'UTF8' FROM iso8859_1_to_utf8;
         CREATE DOMAIN positive AS int CONSTRAINT positive_check CHECK (VALUE > 0);
         CREATE TABLE log (id int, kept positive);
         CREATE STATISTICS log_stats ON id, kept FROM log;
         CREATE RULE log_big AS ON INSERT TO other WHERE new.x > 100
             DO ALSO INSERT INTO log (id) VALUES (new.x);
         CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
         CREATE TRIGGER touch BEFORE INSERT ON log FOR EACH ROW EXECUTE FUNCTION touch();
         CREATE TRIGGER touch_args BEFORE UPDATE ON log FOR EACH ROW
             EXECUTE FUNCTION touch('audit', 2);
         CREATE DOMAIN required AS int NOT NULL;
         CREATE MATERIALIZED VIEW big_items AS SELECT id FROM items WHERE id > 40;
         CREATE MATERIALIZED VIEW later AS SELECT id FROM items WITH NO DATA;
         CREATE TEXT SEARCH CONFIGURATION plain (COPY = simple);",
    )
    .await;
    let direct = fx.upstream.url.clone();
    for args in [
        &[][..],
        &["-t", "items", "--inserts"][..],
        &["--schema-only", "-n", "public", "-T", "other"][..],
        &["--serializable-deferrable", "-t", "items"][..],
    ] {
        let through = pg_dump(&fx.conninfo(), args).await;
        assert!(
            through.contains("CREATE TABLE public.items"),
            "{args:?}: {through}"
        );
        assert_eq!(through, pg_dump(&direct, args).await, "{args:?}");
    }
    // Parallel, directory format: the workers share the leader's snapshot (`SET TRANSACTION
    // SNAPSHOT`); restored to SQL it is the plain dump.
    let dir = tempfile::tempdir().expect("tempdir");
    let out_dir = dir.path().join("dump");
    let out_dir = out_dir.to_str().expect("utf-8 path");
    pg_dump(&fx.conninfo(), &["-Fd", "-j", "2", "-f", out_dir]).await;
    let restored = tokio::process::Command::new("pg_restore")
        .args(["-f", "-", out_dir])
        .output()
        .await
        .expect("run pg_restore");
    assert!(restored.status.success());
    assert_eq!(
        without_restrict_keys(&restored.stdout),
        pg_dump(&direct, &[]).await
    );
    restore_under_a_ddl_grant(&fx, &pg_dump(&direct, &["--no-owner"]).await).await;
    let inserts = pg_dump(&fx.conninfo(), &["-t", "items", "--inserts"]).await;
    assert_eq!(inserts.matches("INSERT INTO public.items").count(), 50);
    assert!(!inserts.contains("CREATE TABLE public.other"));
    // The read grant still holds: pg_dump's session settings opened nothing.
    let (ok, _, err) = fx
        .psql(&["-c", "INSERT INTO items (name) VALUES ('x')"])
        .await;
    assert!(!ok && err.contains("permission denied by dbward"), "{err}");
    // A set_config whose setting is a column is computed: it is not pg_dump's form.
    let (ok, _, err) = fx
        .psql(&[
            "-c",
            "SELECT set_config(search_path, 'off', false) \
             FROM (SELECT 'default_transaction_read_only' AS search_path) s",
        ])
        .await;
    assert!(!ok && err.contains("computed setting name"), "{err}");
    fx.dbward.stop().await;
}

/// Restores `dump` (plain SQL, `--no-owner`) with psql through dbward into a fresh database,
/// under a `ddl` grant: every statement passes (`pg_dump`'s settings, `CREATE SEQUENCE ... AS
/// integer START WITH ...`, `ALTER SEQUENCE ... OWNED BY`, `COPY ... FROM stdin`, `setval`), and
/// a direct dump of the result is the dump restored. Handing a table to another role (`OWNER TO`,
/// which a dump made without `--no-owner` holds) is a privilege change, refused below `admin`.
async fn restore_under_a_ddl_grant(fx: &PgProxy, dump: &str) {
    let target = crate::harness::PgDatabase::create().await;
    register_with_grant(
        &fx.dbward,
        fx.user_id,
        json!({
            "name": "restored", "engine": "postgres", "host": "127.0.0.1",
            "port": target.port(), "database": target.name,
            "username": target.user(), "password": target.password(),
            "tls_mode": "disable",
        }),
        "ddl",
    )
    .await;
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), dump).expect("write dump");
    let conninfo = fx.conninfo().replace("dbname=orders", "dbname=restored");
    let out = tokio::process::Command::new("psql")
        .arg(&conninfo)
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-f"])
        .arg(file.path())
        .output()
        .await
        .expect("run psql");
    assert!(
        out.status.success(),
        "restore: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(pg_dump(&target.url, &["--no-owner"]).await, dump);
    let out = tokio::process::Command::new("psql")
        .arg(&conninfo)
        .args(["-X", "-v", "ON_ERROR_STOP=1"])
        .args(["-c", "ALTER TABLE items OWNER TO CURRENT_USER"])
        .args(["-c", "ALTER TABLE items OWNER TO postgres"])
        .output()
        .await
        .expect("run psql");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("this statement is admin (OWNER TO"),
        "{err}"
    );
}

/// Runs `mysqldump` with `args` and `login` (the connection options); the dump without its
/// server-version line (dbward's greeting names itself).
async fn mysqldump(login: &[String], args: &[&str]) -> String {
    let out = tokio::process::Command::new("mysqldump")
        .args(login)
        .args(["--skip-dump-date", "--single-transaction", "--routines"])
        .args(args)
        .output()
        .await
        .expect("run mysqldump");
    assert!(
        out.status.success(),
        "mysqldump {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with("-- Server version"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// mysqldump connects without naming a database and selects the schema later: a user holding
/// one MySQL grant lands on it. `SHOW PROCEDURE/FUNCTION STATUS WHERE Db = '...'` is read. The
/// dump through dbward equals the direct one. `use <dbward name>` selects the configured
/// schema; a user holding several MySQL grants must name one.
#[tokio::test]
async fn mysqldump_under_a_read_grant_matches_a_direct_dump() {
    let fx = MyProxy::start("read", json!({})).await;
    let owner = format!("'{}'@'%'", fx.upstream.user);
    fx.upstream.sql(&format!(
        "CREATE TABLE items (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(20));
         INSERT INTO items (name) VALUES ('a'), ('b'), ('c');
         CREATE VIEW v AS SELECT id FROM items;
         CREATE DEFINER = {owner} PROCEDURE p() SELECT 1;
         CREATE DEFINER = {owner} FUNCTION f() RETURNS INT DETERMINISTIC RETURN 1;
         CREATE DEFINER = {owner} TRIGGER tr BEFORE INSERT ON items FOR EACH ROW SET NEW.name = UPPER(NEW.name);"
    ));
    let through = vec![
        "-h".into(),
        "127.0.0.1".into(),
        "-P".into(),
        fx.port().to_string(),
        "-u".into(),
        "alice".into(),
        format!("-p{}", fx.password),
        "--ssl".into(),
    ];
    let direct = vec![
        "-h".into(),
        "127.0.0.1".into(),
        "-P".into(),
        "3306".into(),
        "-u".into(),
        fx.upstream.user.clone(),
        format!("-p{}", fx.upstream.password),
    ];
    let schema = fx.upstream.name.as_str();
    let dump = mysqldump(&through, &[schema]).await;
    for object in [
        "CREATE TABLE `items`",
        "(1,'a')",
        "PROCEDURE `p`",
        "FUNCTION `f`",
        "TRIGGER",
        "VIEW `v`",
    ] {
        assert!(dump.contains(object), "{object}: {dump}");
    }
    assert_eq!(dump, mysqldump(&direct, &[schema]).await);
    // `use` of the dbward name selects the configured schema.
    let out = tokio::process::Command::new("mysql")
        .args(&through)
        .args([
            "-N",
            "-B",
            "-e",
            "use shop; SELECT DATABASE(), COUNT(*) FROM items",
        ])
        .output()
        .await
        .expect("run mysql");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("{schema}\t3")
    );
    // A second MySQL grant: connecting without a database is ambiguous now.
    register_with_grant(
        &fx.dbward,
        fx.user_id,
        json!({
            "name": "shop2", "engine": "mysql", "host": "127.0.0.1", "port": 3306,
            "database": schema, "username": fx.upstream.user,
            "password": fx.upstream.password, "tls_mode": "disable",
        }),
        "read",
    )
    .await;
    let out = tokio::process::Command::new("mysql")
        .args(&through)
        .args(["-e", "SELECT 1"])
        .output()
        .await
        .expect("run mysql");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("ERROR 1046"), "{err}");
    fx.dbward.stop().await;
}

/// A mysqldump restored through dbward under a `ddl` grant, as a DBA restores one with the
/// mysql client: tables (an Aria one, whose definition carries `PAGE_CHECKSUM=1`, and `InnoDB`
/// ones with a foreign key), a MariaDB sequence (dumped as `CREATE SEQUENCE` and `SELECT
/// SETVAL`), and rows, under mysqldump's session settings, `LOCK TABLES` and `DISABLE KEYS`.
/// A direct dump of the result is the dump restored.
#[tokio::test]
async fn mysqldump_restores_under_a_ddl_grant() {
    let fx = MyProxy::start("read", json!({})).await;
    fx.upstream.sql(
        "CREATE TABLE items (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(20)) ENGINE=InnoDB;
         CREATE TABLE notes (id INT PRIMARY KEY, item INT, body TEXT,
           FOREIGN KEY (item) REFERENCES items (id)) ENGINE=InnoDB;
         CREATE TABLE log (at DATETIME, line VARCHAR(100)) ENGINE=Aria PAGE_CHECKSUM=1;
         CREATE SEQUENCE ticket START WITH 100 INCREMENT BY 5 NOCACHE;
         INSERT INTO items (name) VALUES ('a'), ('b''s'), ('c');
         INSERT INTO notes VALUES (1, 1, 'first'), (2, 3, NULL);
         INSERT INTO log VALUES ('2026-01-01 10:00:00', 'started');
         SELECT NEXT VALUE FOR ticket;",
    );
    let direct = |db: &crate::my_fixture::MyDatabase| {
        vec![
            "-h".to_owned(),
            "127.0.0.1".into(),
            "-P".into(),
            "3306".into(),
            "-u".into(),
            db.user.clone(),
            format!("-p{}", db.password),
        ]
    };
    let dump = mysqldump(&direct(&fx.upstream), &[&fx.upstream.name]).await;
    assert!(dump.contains("PAGE_CHECKSUM=1"), "{dump}");
    assert!(dump.contains("CREATE SEQUENCE"), "{dump}");
    let target = crate::my_fixture::MyDatabase::create();
    register_with_grant(
        &fx.dbward,
        fx.user_id,
        json!({
            "name": "restored", "engine": "mysql", "host": "127.0.0.1", "port": 3306,
            "database": target.name, "username": target.user,
            "password": target.password, "tls_mode": "disable",
        }),
        "ddl",
    )
    .await;
    let mut mysql = tokio::process::Command::new("mysql")
        .args([
            "-h",
            "127.0.0.1",
            "-P",
            &fx.port().to_string(),
            "-u",
            "alice",
            &format!("-p{}", fx.password),
            "--ssl",
            "restored",
        ])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run mysql");
    {
        use tokio::io::AsyncWriteExt as _;
        let mut stdin = mysql.stdin.take().expect("stdin");
        stdin
            .write_all(dump.as_bytes())
            .await
            .expect("feed the dump");
    }
    let out = mysql.wait_with_output().await.expect("mysql");
    assert!(
        out.status.success(),
        "restore: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let restored = mysqldump(&direct(&target), &[&target.name]).await;
    let original = dump.replace(&fx.upstream.name, &target.name);
    assert_eq!(restored, original);
    // The sequence goes on where the original does.
    assert_eq!(
        target.sql("SELECT NEXT VALUE FOR ticket"),
        fx.upstream.sql("SELECT NEXT VALUE FOR ticket")
    );
    fx.dbward.stop().await;
}

//! Upstream databases. Passwords and client-certificate keys are sealed here, under the master
//! key with the record's stable `uid` as associated data, and are never returned by a read: only
//! [`Store::database_credentials`] opens them, for the code that connects upstream.
//!
//! Deleting a database is a soft delete: grants and audit rows that refer to it stay readable
//! and its name becomes free.

use std::hash::{Hash as _, Hasher as _};

use serde::Deserialize;
use serde_json::json;

use super::audit::insert_admin_audit;
use super::{Actor, AdminAuditEntry, Store, StoreError, new_uid, now_micros, on_backend};
use crate::crypto::{MasterKey, Secret, seal};
use crate::model::{Database, Engine, TlsMode};
use crate::time::from_micros;

/// A database to register.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DatabaseInput {
    /// Unique name clients use.
    pub name: String,
    /// Protocol family.
    pub engine: Engine,
    /// Amazon Redshift (PostgreSQL engine only).
    #[serde(default)]
    pub redshift: bool,
    /// Upstream host.
    pub host: String,
    /// Upstream port; default 5432 (PostgreSQL), 5439 (Redshift) or 3306 (MySQL).
    pub port: Option<u16>,
    /// Upstream database (MySQL: the default schema).
    pub database: String,
    /// Upstream login.
    pub username: String,
    /// Upstream password (write-only).
    #[schema(value_type = Option<String>, format = Password, write_only)]
    pub password: Option<Secret<String>>,
    /// Least-privileged login for `read` grants.
    pub read_username: Option<String>,
    /// Its password (write-only).
    #[schema(value_type = Option<String>, format = Password, write_only)]
    pub read_password: Option<Secret<String>>,
    /// Upstream TLS mode; default `prefer` on loopback, `verify-full` elsewhere.
    pub tls_mode: Option<TlsMode>,
    /// PEM CA certificate.
    pub tls_ca_cert: Option<String>,
    /// PEM client certificate.
    pub tls_client_cert: Option<String>,
    /// PEM client key (write-only).
    #[schema(value_type = Option<String>, format = Password, write_only)]
    pub tls_client_key: Option<Secret<String>>,
    /// PostgreSQL only: the upstream login must be SCRAM-SHA-256-PLUS over TLS.
    #[serde(default)]
    pub require_channel_binding: bool,
    /// MySQL only: the server's RSA public key (PEM), pinned.
    pub mysql_server_public_key: Option<String>,
    /// Folder.
    pub folder_id: Option<i64>,
    /// Position in the folder.
    #[serde(default)]
    pub position: i64,
    /// Free text.
    #[serde(default)]
    pub description: String,
}

/// Changes to a database. Absent fields stay; `null` clears a nullable field.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DatabasePatch {
    /// New name.
    pub name: Option<String>,
    /// Redshift flag.
    pub redshift: Option<bool>,
    /// Host.
    pub host: Option<String>,
    /// Port.
    pub port: Option<u16>,
    /// Upstream database.
    pub database: Option<String>,
    /// Upstream login.
    pub username: Option<String>,
    /// Upstream password; `null` clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, format = Password, write_only)]
    pub password: Option<Option<Secret<String>>>,
    /// Read login; `null` clears it (and its password).
    #[serde(default, deserialize_with = "double_option")]
    pub read_username: Option<Option<String>>,
    /// Read password; `null` clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, format = Password, write_only)]
    pub read_password: Option<Option<Secret<String>>>,
    /// TLS mode.
    pub tls_mode: Option<TlsMode>,
    /// CA certificate; `null` clears it.
    #[serde(default, deserialize_with = "double_option")]
    pub tls_ca_cert: Option<Option<String>>,
    /// Client certificate; `null` clears it.
    #[serde(default, deserialize_with = "double_option")]
    pub tls_client_cert: Option<Option<String>>,
    /// Client key; `null` clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, format = Password, write_only)]
    pub tls_client_key: Option<Option<Secret<String>>>,
    /// Channel binding required (PostgreSQL).
    pub require_channel_binding: Option<bool>,
    /// The server's pinned RSA public key (MySQL); `null` clears it.
    #[serde(default, deserialize_with = "double_option")]
    pub mysql_server_public_key: Option<Option<String>>,
    /// Folder; `null` moves to the root.
    #[serde(default, deserialize_with = "double_option")]
    pub folder_id: Option<Option<i64>>,
    /// Position.
    pub position: Option<i64>,
    /// Description.
    pub description: Option<String>,
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
#[allow(clippy::option_option)]
fn double_option<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// One entry of a reorder batch.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReorderItem {
    /// Database id.
    pub id: i64,
    /// Target folder, `null` for the root.
    pub folder_id: Option<i64>,
    /// Position in it.
    pub position: i64,
}

/// Opened upstream credentials, for `upstream::connect` only.
#[derive(Debug, Clone)]
pub struct DatabaseCredentials {
    /// Main login.
    pub username: String,
    /// Its password.
    pub password: Option<Secret<String>>,
    /// Read login.
    pub read_username: Option<String>,
    /// Its password.
    pub read_password: Option<Secret<String>>,
    /// Client-certificate key.
    pub tls_client_key: Option<Secret<String>>,
}

/// The full stored row (sealed columns included), before it is split into the public view.
struct Row {
    db: Database,
    uid: String,
    password_sealed: Option<String>,
    read_password_sealed: Option<String>,
    tls_client_key_sealed: Option<String>,
}

const SELECT_DATABASE: &str = "SELECT id, uid, name, engine, redshift, host, port, \
     database_name, username, password_sealed, read_username, read_password_sealed, tls_mode, \
     tls_ca_cert, tls_client_cert, tls_client_key_sealed, require_channel_binding, \
     mysql_server_public_key, folder_id, position, description, created_at, updated_at \
     FROM databases";

fn database_row<R: sqlx::Row>(r: &R) -> Result<Row, sqlx::Error>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<i64>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> bool: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let corrupt = |col: &str| sqlx::Error::ColumnDecode {
        index: col.to_owned(),
        source: format!("invalid stored value in column {col}").into(),
    };
    let password_sealed: Option<String> = r.try_get("password_sealed")?;
    let read_password_sealed: Option<String> = r.try_get("read_password_sealed")?;
    let tls_client_key_sealed: Option<String> = r.try_get("tls_client_key_sealed")?;
    let engine: String = r.try_get("engine")?;
    let tls_mode: String = r.try_get("tls_mode")?;
    let port: i64 = r.try_get("port")?;
    let connection_version = {
        let mut h = std::hash::DefaultHasher::new();
        for text in [&engine, &tls_mode] {
            text.hash(&mut h);
        }
        let redshift: bool = r.try_get("redshift")?;
        let binding: bool = r.try_get("require_channel_binding")?;
        (redshift, binding, port).hash(&mut h);
        for column in ["host", "database_name", "username"] {
            r.try_get::<String, _>(column)?.hash(&mut h);
        }
        for column in [
            "read_username",
            "tls_ca_cert",
            "tls_client_cert",
            "mysql_server_public_key",
        ] {
            r.try_get::<Option<String>, _>(column)?.hash(&mut h);
        }
        for sealed in [
            &password_sealed,
            &read_password_sealed,
            &tls_client_key_sealed,
        ] {
            sealed.hash(&mut h);
        }
        h.finish()
    };
    Ok(Row {
        db: Database {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            engine: engine.parse().map_err(|_| corrupt("engine"))?,
            redshift: r.try_get("redshift")?,
            host: r.try_get("host")?,
            port: u16::try_from(port).map_err(|_| corrupt("port"))?,
            database: r.try_get("database_name")?,
            username: r.try_get("username")?,
            has_password: password_sealed.is_some(),
            read_username: r.try_get("read_username")?,
            has_read_password: read_password_sealed.is_some(),
            tls_mode: tls_mode.parse().map_err(|_| corrupt("tls_mode"))?,
            tls_ca_cert: r.try_get("tls_ca_cert")?,
            tls_client_cert: r.try_get("tls_client_cert")?,
            has_tls_client_key: tls_client_key_sealed.is_some(),
            require_channel_binding: r.try_get("require_channel_binding")?,
            mysql_server_public_key: r.try_get("mysql_server_public_key")?,
            folder_id: r.try_get("folder_id")?,
            position: r.try_get("position")?,
            description: r.try_get("description")?,
            created_at: from_micros(r.try_get("created_at")?),
            updated_at: from_micros(r.try_get("updated_at")?),
            connection_version,
        },
        uid: r.try_get("uid")?,
        password_sealed,
        read_password_sealed,
        tls_client_key_sealed,
    })
}

/// Checks the fields of a database as they will be stored.
fn validate(db: &Database, has_read_password: bool) -> Result<(), StoreError> {
    let invalid = |m: &str| Err(StoreError::Invalid(m.to_owned()));
    crate::model::validate_name("database name", &db.name).map_err(StoreError::Invalid)?;
    if db.host.is_empty() || db.host.len() > 255 || db.host.chars().any(char::is_whitespace) {
        return invalid("host must be 1 to 255 characters without spaces");
    }
    // libpq and the mysql client read a path as a Unix-domain socket; dbward connects over TCP.
    if db.host.starts_with('/') || db.host.starts_with('@') {
        return invalid(
            "host must be a name or an address: dbward reaches upstreams over TCP, not \
             Unix-domain sockets (use 127.0.0.1 for a server on the same machine)",
        );
    }
    if db.port == 0 {
        return invalid("port must be between 1 and 65535");
    }
    if db.redshift && db.engine != Engine::Postgres {
        return invalid("redshift applies to the postgres engine only");
    }
    if db.database.is_empty() || db.database.len() > 255 {
        return invalid("database must be 1 to 255 characters");
    }
    if db.username.is_empty() || db.username.len() > 255 {
        return invalid("username must be 1 to 255 characters");
    }
    if has_read_password && db.read_username.is_none() {
        return invalid("read_password needs read_username");
    }
    for (field, pem) in [
        ("tls_ca_cert", &db.tls_ca_cert),
        ("tls_client_cert", &db.tls_client_cert),
    ] {
        if pem.as_ref().is_some_and(|p| !p.contains("-----BEGIN ")) {
            return Err(StoreError::Invalid(format!("{field} must be PEM")));
        }
    }
    if db.has_tls_client_key && db.tls_client_cert.is_none() {
        return invalid("tls_client_key needs tls_client_cert");
    }
    if db.require_channel_binding && db.engine != Engine::Postgres {
        return invalid("require_channel_binding applies to the postgres engine only");
    }
    if db.require_channel_binding && db.tls_mode == TlsMode::Disable {
        return invalid("require_channel_binding needs TLS: tls_mode must not be disable");
    }
    if let Some(pem) = &db.mysql_server_public_key {
        if db.engine != Engine::Mysql {
            return invalid("mysql_server_public_key applies to the mysql engine only");
        }
        if !pem.contains("-----BEGIN PUBLIC KEY-----")
            && !pem.contains("-----BEGIN RSA PUBLIC KEY-----")
        {
            return invalid("mysql_server_public_key must be an RSA public key in PEM");
        }
    }
    Ok(())
}

fn default_port(engine: Engine, redshift: bool) -> u16 {
    match (engine, redshift) {
        (Engine::Postgres, false) => 5432,
        (Engine::Postgres, true) => 5439,
        (Engine::Mysql, _) => 3306,
    }
}

/// A summary for audit rows: the public view, which carries no secret.
fn summary(db: &Database) -> serde_json::Value {
    json!({
        "name": db.name, "engine": db.engine, "redshift": db.redshift, "host": db.host,
        "port": db.port, "database": db.database, "username": db.username,
        "has_password": db.has_password, "read_username": db.read_username,
        "has_read_password": db.has_read_password, "tls_mode": db.tls_mode,
        "require_channel_binding": db.require_channel_binding, "folder_id": db.folder_id,
    })
}

impl Store {
    async fn database_rows(&self, filter: &str, ids: &[i64]) -> Result<Vec<Row>, StoreError> {
        on_backend!(self, read, |pool| {
            let sql = format!("{SELECT_DATABASE} WHERE deleted_at IS NULL {filter}");
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in ids {
                q = q.bind(*id);
            }
            q.fetch_all(pool)
                .await?
                .iter()
                .map(database_row)
                .collect::<Result<_, _>>()
                .map_err(StoreError::from)
        })
    }

    /// Live databases, by folder, position and name.
    pub async fn list_databases(&self) -> Result<Vec<Database>, StoreError> {
        Ok(self
            .database_rows("ORDER BY folder_id, position, name", &[])
            .await?
            .into_iter()
            .map(|r| r.db)
            .collect())
    }

    /// Live databases on which `user_id` holds a grant active at `now`.
    pub async fn list_databases_granted_to(
        &self,
        user_id: i64,
        now: time::OffsetDateTime,
    ) -> Result<Vec<Database>, StoreError> {
        let now = crate::time::to_micros(now);
        let ids: Vec<i64> = on_backend!(self, read, |pool| {
            sqlx::query_scalar(
                "SELECT DISTINCT database_id FROM grants WHERE user_id = $1 \
                 AND revoked_at IS NULL AND starts_at <= $2 AND expires_at > $2",
            )
            .bind(user_id)
            .bind(now)
            .fetch_all(pool)
            .await?
        });
        Ok(self
            .list_databases()
            .await?
            .into_iter()
            .filter(|d| ids.contains(&d.id))
            .collect())
    }

    /// The live ones among databases `ids` (at most [`super::MAX_IDS_PER_QUERY`]).
    pub(super) async fn databases_by_ids(&self, ids: &[i64]) -> Result<Vec<Database>, StoreError> {
        let filter = format!("AND id IN ({})", super::placeholders(ids.len()));
        Ok(self
            .database_rows(&filter, ids)
            .await?
            .into_iter()
            .map(|r| r.db)
            .collect())
    }

    /// One live database.
    pub async fn get_database(&self, id: i64) -> Result<Database, StoreError> {
        self.database_row_by_id(id).await.map(|r| r.db)
    }

    async fn database_row_by_id(&self, id: i64) -> Result<Row, StoreError> {
        self.database_rows("AND id = $1", &[id])
            .await?
            .pop()
            .ok_or(StoreError::NotFound("database"))
    }

    /// A live database by the name clients use.
    pub async fn get_database_by_name(&self, name: &str) -> Result<Database, StoreError> {
        let id: Option<i64> = on_backend!(self, read, |pool| {
            sqlx::query_scalar("SELECT id FROM databases WHERE name = $1 AND deleted_at IS NULL")
                .bind(name)
                .fetch_optional(pool)
                .await?
        });
        self.get_database(id.ok_or(StoreError::NotFound("database"))?)
            .await
    }

    /// Opens a database's sealed credentials. For the code that connects upstream only.
    pub async fn database_credentials(
        &self,
        key: &MasterKey,
        id: i64,
    ) -> Result<DatabaseCredentials, StoreError> {
        let row = self.database_row_by_id(id).await?;
        let open = |sealed: &Option<String>| -> Result<Option<Secret<String>>, StoreError> {
            sealed
                .as_deref()
                .map(|s| {
                    seal::open_string(key, &row.uid, s).map_err(|e| {
                        StoreError::Invalid(format!("database {id}: stored secret unusable: {e}"))
                    })
                })
                .transpose()
        };
        Ok(DatabaseCredentials {
            username: row.db.username.clone(),
            password: open(&row.password_sealed)?,
            read_username: row.db.read_username.clone(),
            read_password: open(&row.read_password_sealed)?,
            tls_client_key: open(&row.tls_client_key_sealed)?,
        })
    }

    async fn check_folder(&self, folder_id: Option<i64>) -> Result<(), StoreError> {
        match folder_id {
            Some(id) => self.get_folder(id).await.map(|_| ()),
            None => Ok(()),
        }
    }

    /// Registers a database.
    pub async fn create_database(
        &self,
        actor: &Actor,
        key: &MasterKey,
        input: &DatabaseInput,
    ) -> Result<Database, StoreError> {
        let now = crate::time::now();
        let db = Database {
            id: 0,
            name: input.name.clone(),
            engine: input.engine,
            redshift: input.redshift,
            host: input.host.clone(),
            port: input
                .port
                .unwrap_or_else(|| default_port(input.engine, input.redshift)),
            database: input.database.clone(),
            username: input.username.clone(),
            has_password: input.password.is_some(),
            read_username: input.read_username.clone(),
            has_read_password: input.read_password.is_some(),
            tls_mode: input
                .tls_mode
                .unwrap_or_else(|| TlsMode::default_for_host(&input.host)),
            tls_ca_cert: input.tls_ca_cert.clone(),
            tls_client_cert: input.tls_client_cert.clone(),
            has_tls_client_key: input.tls_client_key.is_some(),
            require_channel_binding: input.require_channel_binding,
            mysql_server_public_key: input.mysql_server_public_key.clone(),
            folder_id: input.folder_id,
            position: input.position,
            description: input.description.clone(),
            created_at: now,
            updated_at: now,
            // (Computed from the stored row, which is what this returns.)
            connection_version: 0,
        };
        validate(&db, db.has_read_password)?;
        self.check_folder(db.folder_id).await?;
        let uid = new_uid();
        let seal_opt = |s: &Option<Secret<String>>| {
            s.as_ref()
                .map(|s| seal::seal(key, &uid, s.expose().as_bytes()))
        };
        let id: i64 = on_backend!(self, write, |pool| {
            let mut tx = pool.begin().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO databases (uid, name, engine, redshift, host, port, database_name, \
                 username, password_sealed, read_username, read_password_sealed, tls_mode, \
                 tls_ca_cert, tls_client_cert, tls_client_key_sealed, folder_id, position, \
                 description, created_at, updated_at, require_channel_binding, \
                 mysql_server_public_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
                 $11, $12, $13, $14, $15, $16, $17, $18, $19, $19, $20, $21) RETURNING id",
            )
            .bind(&uid)
            .bind(&db.name)
            .bind(db.engine.as_str())
            .bind(db.redshift)
            .bind(&db.host)
            .bind(i64::from(db.port))
            .bind(&db.database)
            .bind(&db.username)
            .bind(seal_opt(&input.password))
            .bind(&db.read_username)
            .bind(seal_opt(&input.read_password))
            .bind(db.tls_mode.as_str())
            .bind(&db.tls_ca_cert)
            .bind(&db.tls_client_cert)
            .bind(seal_opt(&input.tls_client_key))
            .bind(db.folder_id)
            .bind(db.position)
            .bind(&db.description)
            .bind(crate::time::to_micros(now))
            .bind(db.require_channel_binding)
            .bind(&db.mysql_server_public_key)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| {
                StoreError::conflict_on_unique(e, format!("database `{}` already exists", db.name))
            })?;
            insert_admin_audit!(
                self,
                &mut *tx,
                actor,
                &AdminAuditEntry::success("database.create", "database", Some(id), summary(&db))
            )?;
            tx.commit().await?;
            id
        });
        self.get_database(id).await
    }

    /// Changes a database.
    // The patch's fields are three-way: absent (keep), null (clear) or a value (set).
    #[allow(clippy::option_option)]
    pub async fn update_database(
        &self,
        actor: &Actor,
        key: &MasterKey,
        id: i64,
        patch: &DatabasePatch,
    ) -> Result<Database, StoreError> {
        let before = self.database_row_by_id(id).await?;
        let uid = before.uid.clone();
        let reseal =
            |current: &Option<String>, change: &Option<Option<Secret<String>>>| match change {
                None => current.clone(),
                Some(None) => None,
                Some(Some(s)) => Some(seal::seal(key, &uid, s.expose().as_bytes())),
            };
        let mut db = before.db.clone();
        if let Some(v) = &patch.name {
            db.name.clone_from(v);
        }
        if let Some(v) = patch.redshift {
            db.redshift = v;
        }
        if let Some(v) = &patch.host {
            db.host.clone_from(v);
        }
        if let Some(v) = patch.port {
            db.port = v;
        }
        if let Some(v) = &patch.database {
            db.database.clone_from(v);
        }
        if let Some(v) = &patch.username {
            db.username.clone_from(v);
        }
        if let Some(v) = &patch.read_username {
            db.read_username.clone_from(v);
        }
        if let Some(v) = patch.tls_mode {
            db.tls_mode = v;
        }
        if let Some(v) = patch.require_channel_binding {
            db.require_channel_binding = v;
        }
        if let Some(v) = &patch.mysql_server_public_key {
            db.mysql_server_public_key.clone_from(v);
        }
        if let Some(v) = &patch.tls_ca_cert {
            db.tls_ca_cert.clone_from(v);
        }
        if let Some(v) = &patch.tls_client_cert {
            db.tls_client_cert.clone_from(v);
        }
        if let Some(v) = patch.folder_id {
            db.folder_id = v;
        }
        if let Some(v) = patch.position {
            db.position = v;
        }
        if let Some(v) = &patch.description {
            db.description.clone_from(v);
        }
        let password = reseal(&before.password_sealed, &patch.password);
        // Clearing the read login clears its password too.
        let read_password = if db.read_username.is_none() {
            None
        } else {
            reseal(&before.read_password_sealed, &patch.read_password)
        };
        let client_key = reseal(&before.tls_client_key_sealed, &patch.tls_client_key);
        db.has_password = password.is_some();
        db.has_read_password = read_password.is_some();
        db.has_tls_client_key = client_key.is_some();
        validate(
            &db,
            matches!(patch.read_password, Some(Some(_))) || db.has_read_password,
        )?;
        if patch.folder_id.is_some() {
            self.check_folder(db.folder_id).await?;
        }
        on_backend!(self, write, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "UPDATE databases SET name = $1, redshift = $2, host = $3, port = $4, \
                 database_name = $5, username = $6, password_sealed = $7, read_username = $8, \
                 read_password_sealed = $9, tls_mode = $10, tls_ca_cert = $11, \
                 tls_client_cert = $12, tls_client_key_sealed = $13, folder_id = $14, \
                 position = $15, description = $16, updated_at = $17, \
                 require_channel_binding = $19, mysql_server_public_key = $20 WHERE id = $18",
            )
            .bind(&db.name)
            .bind(db.redshift)
            .bind(&db.host)
            .bind(i64::from(db.port))
            .bind(&db.database)
            .bind(&db.username)
            .bind(&password)
            .bind(&db.read_username)
            .bind(&read_password)
            .bind(db.tls_mode.as_str())
            .bind(&db.tls_ca_cert)
            .bind(&db.tls_client_cert)
            .bind(&client_key)
            .bind(db.folder_id)
            .bind(db.position)
            .bind(&db.description)
            .bind(now_micros())
            .bind(id)
            .bind(db.require_channel_binding)
            .bind(&db.mysql_server_public_key)
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                StoreError::conflict_on_unique(e, format!("database `{}` already exists", db.name))
            })?;
            let mut details = json!({"before": summary(&before.db), "after": summary(&db)});
            if patch.password.is_some() {
                details["password_changed"] = json!(true);
            }
            insert_admin_audit!(
                self,
                &mut *tx,
                actor,
                &AdminAuditEntry::success("database.update", "database", Some(id), details)
            )?;
            tx.commit().await?;
        });
        self.get_database(id).await
    }

    /// Soft-deletes a database.
    pub async fn delete_database(&self, actor: &Actor, id: i64) -> Result<(), StoreError> {
        let db = self.get_database(id).await?;
        on_backend!(self, write, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query("UPDATE databases SET deleted_at = $1, updated_at = $1 WHERE id = $2")
                .bind(now_micros())
                .bind(id)
                .execute(&mut *tx)
                .await?;
            insert_admin_audit!(
                self,
                &mut *tx,
                actor,
                &AdminAuditEntry::success("database.delete", "database", Some(id), summary(&db))
            )?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Moves databases between folders and positions, all or nothing.
    pub async fn reorder_databases(
        &self,
        actor: &Actor,
        items: &[ReorderItem],
    ) -> Result<(), StoreError> {
        for item in items {
            self.get_database(item.id).await?;
            self.check_folder(item.folder_id).await?;
        }
        let now = now_micros();
        on_backend!(self, write, |pool| {
            let mut tx = pool.begin().await?;
            for item in items {
                sqlx::query(
                    "UPDATE databases SET folder_id = $1, position = $2, updated_at = $3 \
                     WHERE id = $4 AND deleted_at IS NULL",
                )
                .bind(item.folder_id)
                .bind(item.position)
                .bind(now)
                .bind(item.id)
                .execute(&mut *tx)
                .await?;
            }
            let summary: Vec<_> = items
                .iter()
                .map(|i| json!({"id": i.id, "folder_id": i.folder_id, "position": i.position}))
                .collect();
            insert_admin_audit!(
                self,
                &mut *tx,
                actor,
                &AdminAuditEntry::success(
                    "database.reorder",
                    "database",
                    None,
                    json!({"items": summary})
                )
            )?;
            tx.commit().await?;
        });
        Ok(())
    }
}

//! The domain: users, roles and permissions, upstream databases, folders and grants.
//!
//! Plain data plus the rules that need no I/O. Permissions govern what a user may do with the
//! admin API and console; grants govern which databases they reach through the proxies, at which
//! [`AccessLevel`], in which time window, with which quotas. The `execute_sql_*` permissions cap
//! every grant a user holds ([`cap_access_level`]). Secrets are not part of these types: sealed
//! upstream credentials are fetched separately and opened only when connecting upstream.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// An atomic permission held through roles.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Use the admin API at all (every endpoint but `/api/health` and `/api/me*`).
    ApiAccess,
    /// Use grants at `read` level.
    ExecuteSqlRead,
    /// Use grants up to `write` level.
    ExecuteSqlWrite,
    /// Use grants up to `ddl` level.
    ExecuteSqlDdl,
    /// Use grants up to `admin` level.
    ExecuteSqlAdmin,
    /// Create, change and delete users.
    ManageUsers,
    /// Create, change and delete roles.
    ManageRoles,
    /// Register and change upstream databases and folders.
    ManageConnections,
    /// Create and revoke grants.
    ManageGrants,
    /// Read the audit trail.
    ViewAudit,
    /// List and kill live sessions.
    ManageSessions,
    /// Export and restore encrypted backups.
    ManageBackups,
    /// Manage native database roles and privileges upstream.
    ManageNativeRoles,
}

impl Permission {
    /// Every permission, in declaration order.
    pub const ALL: [Permission; 13] = [
        Self::ApiAccess,
        Self::ExecuteSqlRead,
        Self::ExecuteSqlWrite,
        Self::ExecuteSqlDdl,
        Self::ExecuteSqlAdmin,
        Self::ManageUsers,
        Self::ManageRoles,
        Self::ManageConnections,
        Self::ManageGrants,
        Self::ViewAudit,
        Self::ManageSessions,
        Self::ManageBackups,
        Self::ManageNativeRoles,
    ];

    /// The permission's name as stored and shown.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ApiAccess => "api_access",
            Self::ExecuteSqlRead => "execute_sql_read",
            Self::ExecuteSqlWrite => "execute_sql_write",
            Self::ExecuteSqlDdl => "execute_sql_ddl",
            Self::ExecuteSqlAdmin => "execute_sql_admin",
            Self::ManageUsers => "manage_users",
            Self::ManageRoles => "manage_roles",
            Self::ManageConnections => "manage_connections",
            Self::ManageGrants => "manage_grants",
            Self::ViewAudit => "view_audit",
            Self::ManageSessions => "manage_sessions",
            Self::ManageBackups => "manage_backups",
            Self::ManageNativeRoles => "manage_native_roles",
        }
    }
}

impl FromStr for Permission {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownName(s.to_owned()))
    }
}

/// A name that matches no variant.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown value `{0}`")]
pub struct UnknownName(pub String);

/// A set of permissions, stored as a space-separated list.
pub type PermissionSet = BTreeSet<Permission>;

/// Encodes a permission set for the store.
#[must_use]
pub fn permissions_to_text(set: &PermissionSet) -> String {
    set.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(" ")
}

/// Decodes a stored permission set. Names a newer binary wrote and this one does not know are
/// skipped (fail closed: an unknown permission grants nothing).
#[must_use]
pub fn permissions_from_text(text: &str) -> PermissionSet {
    text.split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect()
}

/// The built-in roles: they cannot be deleted or stripped of these permissions.
pub mod builtin {
    use super::{Permission, PermissionSet};

    /// Name of the role holding every permission.
    pub const ADMIN: &str = "admin";
    /// Name of the role for ordinary database users.
    pub const USER: &str = "user";

    /// The permissions that define a built-in role, or `None` for another name.
    #[must_use]
    pub fn defining_permissions(role: &str) -> Option<PermissionSet> {
        match role {
            ADMIN => Some(Permission::ALL.into_iter().collect()),
            USER => Some(
                [
                    Permission::ApiAccess,
                    Permission::ExecuteSqlRead,
                    Permission::ExecuteSqlWrite,
                    Permission::ExecuteSqlDdl,
                    Permission::ExecuteSqlAdmin,
                ]
                .into_iter()
                .collect(),
            ),
            _ => None,
        }
    }
}

/// What a grant allows, each level including the ones below it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum AccessLevel {
    /// Queries that change nothing.
    Read,
    /// Read plus data changes.
    Write,
    /// Write plus schema changes.
    Ddl,
    /// Everything, including GRANT/REVOKE and role management upstream.
    Admin,
}

impl AccessLevel {
    /// The level's name as stored and shown.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Ddl => "ddl",
            Self::Admin => "admin",
        }
    }

    /// The permission a user needs to use a grant at this level.
    #[must_use]
    pub fn required_permission(self) -> Permission {
        match self {
            Self::Read => Permission::ExecuteSqlRead,
            Self::Write => Permission::ExecuteSqlWrite,
            Self::Ddl => Permission::ExecuteSqlDdl,
            Self::Admin => Permission::ExecuteSqlAdmin,
        }
    }
}

impl FromStr for AccessLevel {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "read" => Ok(Self::Read),
            "write" => Ok(Self::Write),
            "ddl" => Ok(Self::Ddl),
            "admin" => Ok(Self::Admin),
            _ => Err(UnknownName(s.to_owned())),
        }
    }
}

impl fmt::Display for AccessLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The level a user may actually use a grant at: the grant's level, capped by the highest
/// `execute_sql_*` permission the user's roles hold. `None` when they hold none of them.
#[must_use]
pub fn cap_access_level(granted: AccessLevel, permissions: &PermissionSet) -> Option<AccessLevel> {
    [
        AccessLevel::Read,
        AccessLevel::Write,
        AccessLevel::Ddl,
        AccessLevel::Admin,
    ]
    .into_iter()
    .take_while(|l| *l <= granted)
    .take_while(|l| permissions.contains(&l.required_permission()))
    .last()
}

/// How a user authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UserKind {
    /// A password stored (hashed) in dbward.
    Local,
    /// A password checked against the directory (LDAP issue).
    Ldap,
}

impl UserKind {
    /// The kind's name as stored and shown.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Ldap => "ldap",
        }
    }
}

impl FromStr for UserKind {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "local" => Ok(Self::Local),
            "ldap" => Ok(Self::Ldap),
            _ => Err(UnknownName(s.to_owned())),
        }
    }
}

/// A role as a user's list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RoleRef {
    /// Role id.
    pub id: i64,
    /// Role name.
    pub name: String,
}

/// A dbward user. Password verifiers are never part of it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct User {
    /// Integer id.
    pub id: i64,
    /// Login name: the `user` of a PostgreSQL startup packet or MySQL handshake.
    pub username: String,
    /// Local password or LDAP.
    pub kind: UserKind,
    /// A disabled user cannot log in anywhere and loses live sessions.
    pub enabled: bool,
    /// Roles held.
    pub roles: Vec<RoleRef>,
    /// Union of the roles' permissions.
    pub permissions: PermissionSet,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last change.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Set when deleted; deleted users stay readable for history.
    #[serde(with = "time::serde::rfc3339::option")]
    pub deleted_at: Option<OffsetDateTime>,
    /// Whether the MySQL front door also accepts `mysql_native_password` for this user (an
    /// opt-in for old clients; weaker: see the README).
    pub mysql_native_password: bool,
}

/// A role: a named set of permissions.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Role {
    /// Integer id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Permissions granted.
    pub permissions: PermissionSet,
    /// Built-in roles cannot be deleted or stripped of their defining permissions.
    pub builtin: bool,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last change.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// A folder grouping databases in the console.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Folder {
    /// Integer id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last change.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// Wire protocol family of an upstream database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Engine {
    /// PostgreSQL (and, with `redshift`, Amazon Redshift).
    Postgres,
    /// MySQL or MariaDB.
    Mysql,
}

impl Engine {
    /// The engine's name as stored and shown.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Mysql => "mysql",
        }
    }
}

impl FromStr for Engine {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "postgres" => Ok(Self::Postgres),
            "mysql" => Ok(Self::Mysql),
            _ => Err(UnknownName(s.to_owned())),
        }
    }
}

/// Upstream TLS mode, named as libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TlsMode {
    /// Never TLS.
    Disable,
    /// TLS if the server offers it, unverified.
    Prefer,
    /// TLS, unverified.
    Require,
    /// TLS, certificate chain verified.
    VerifyCa,
    /// TLS, chain and host name verified.
    VerifyFull,
}

impl TlsMode {
    /// The mode's name as stored and shown.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }

    /// The default for a host: `prefer` on loopback (a local socket needs no verification to
    /// be trusted), `verify-full` everywhere else.
    #[must_use]
    pub fn default_for_host(host: &str) -> Self {
        let loopback = host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if loopback {
            Self::Prefer
        } else {
            Self::VerifyFull
        }
    }
}

impl FromStr for TlsMode {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "disable" => Ok(Self::Disable),
            "prefer" => Ok(Self::Prefer),
            "require" => Ok(Self::Require),
            "verify-ca" => Ok(Self::VerifyCa),
            "verify-full" => Ok(Self::VerifyFull),
            _ => Err(UnknownName(s.to_owned())),
        }
    }
}

/// An upstream database registered by an admin. Secrets are not part of it: `has_password`
/// and friends say whether one is set.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[allow(clippy::struct_excessive_bools)] // independent flags of the API's shape, not a state machine
pub struct Database {
    /// Integer id.
    pub id: i64,
    /// Unique name: what clients put in their connection string.
    pub name: String,
    /// Protocol family.
    pub engine: Engine,
    /// A PostgreSQL-protocol Amazon Redshift cluster.
    pub redshift: bool,
    /// Upstream host.
    pub host: String,
    /// Upstream port.
    pub port: u16,
    /// Upstream database (MySQL: the default schema).
    pub database: String,
    /// Upstream login.
    pub username: String,
    /// Whether an upstream password is stored (it is never shown).
    pub has_password: bool,
    /// Optional least-privileged login used for `read` grants (recommended).
    pub read_username: Option<String>,
    /// Whether the read login has a stored password.
    pub has_read_password: bool,
    /// Upstream TLS mode.
    pub tls_mode: TlsMode,
    /// PEM CA certificate to verify the upstream against (instead of the system roots).
    pub tls_ca_cert: Option<String>,
    /// PEM client certificate presented upstream.
    pub tls_client_cert: Option<String>,
    /// Whether a client-certificate key is stored (it is never shown).
    pub has_tls_client_key: bool,
    /// PostgreSQL only: the upstream login must be SCRAM-SHA-256-PLUS, bound to the TLS
    /// channel (libpq's `channel_binding=require`); anything else (trust, MD5, cleartext,
    /// SCRAM without the binding) is refused. Protects the login from a machine in the middle
    /// even when the certificate is not verified (`tls_mode` `require`).
    pub require_channel_binding: bool,
    /// MySQL only: the server's RSA public key (PEM), pinned. Without TLS, a
    /// `caching_sha2_password` full authentication encrypts the password with it instead of
    /// asking the server for its key (which a machine in the middle could answer with its own),
    /// as the mysql client's `--server-public-key-path`.
    pub mysql_server_public_key: Option<String>,
    /// Folder, or `None` for the root.
    pub folder_id: Option<i64>,
    /// Position inside the folder.
    pub position: i64,
    /// Free text.
    pub description: String,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last change.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// A digest of what dbward connects upstream with (engine, address, database, logins and
    /// their sealed passwords, TLS settings), not shown: a live session whose database's
    /// version changed ends. Renaming, moving or describing a database leaves it alone.
    #[serde(skip)]
    pub connection_version: u64,
}

/// A grant's state at a given instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GrantState {
    /// `now < starts_at`.
    Pending,
    /// `starts_at <= now < expires_at`, not revoked.
    Active,
    /// `expires_at <= now`.
    Expired,
    /// Revoked by an admin.
    Revoked,
}

/// Access for one user to one database, in a time window, with optional quotas.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Grant {
    /// Integer id.
    pub id: i64,
    /// The user.
    pub user_id: i64,
    /// The database.
    pub database_id: i64,
    /// What the grant allows.
    pub access_level: AccessLevel,
    /// Start of the window (inclusive).
    #[serde(with = "time::serde::rfc3339")]
    pub starts_at: OffsetDateTime,
    /// End of the window (exclusive).
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// Statement quota, or unlimited.
    pub max_queries: Option<i64>,
    /// Result-byte quota, or unlimited.
    pub max_bytes: Option<i64>,
    /// Upstream `statement_timeout` for sessions on this grant, in milliseconds (none: the
    /// upstream's own setting).
    pub statement_timeout_ms: Option<i64>,
    /// Statements charged so far.
    pub used_queries: i64,
    /// Result bytes charged so far.
    pub used_bytes: i64,
    /// Who created it (`None` if that user was removed from the store entirely).
    pub created_by: Option<i64>,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When revoked.
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    /// Who revoked it.
    pub revoked_by: Option<i64>,
}

impl Grant {
    /// The grant's state at `now`.
    #[must_use]
    pub fn state(&self, now: OffsetDateTime) -> GrantState {
        if self.revoked_at.is_some() {
            GrantState::Revoked
        } else if now < self.starts_at {
            GrantState::Pending
        } else if now >= self.expires_at {
            GrantState::Expired
        } else {
            GrantState::Active
        }
    }

    /// Statements left, or `None` for unlimited.
    #[must_use]
    pub fn remaining_queries(&self) -> Option<i64> {
        self.max_queries.map(|m| (m - self.used_queries).max(0))
    }

    /// Result bytes left, or `None` for unlimited.
    #[must_use]
    pub fn remaining_bytes(&self) -> Option<i64> {
        self.max_bytes.map(|m| (m - self.used_bytes).max(0))
    }
}

/// Checks a user or database name: 1 to 63 characters of letters, digits, `_ . @ -`, starting
/// with a letter, digit or `_`. The limit matches PostgreSQL's identifiers (names travel in
/// startup packets and appear in `application_name`).
pub fn validate_name(what: &str, name: &str) -> Result<(), String> {
    let ok_first = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let ok_rest = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '@' | '-'));
    if name.is_empty() || name.len() > 63 || !ok_first || !ok_rest {
        return Err(format!(
            "{what} must be 1 to 63 characters of letters, digits, '_', '.', '@' or '-', \
             starting with a letter, digit or '_'"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn permissions_round_trip_and_unknown_names_grant_nothing() {
        let set: PermissionSet = Permission::ALL.into_iter().collect();
        assert_eq!(permissions_from_text(&permissions_to_text(&set)), set);
        assert!(permissions_from_text("fly_to_the_moon").is_empty());
    }

    #[test]
    fn roles_cap_grant_level() {
        let only_read: PermissionSet = [Permission::ExecuteSqlRead].into_iter().collect();
        assert_eq!(
            cap_access_level(AccessLevel::Admin, &only_read),
            Some(AccessLevel::Read)
        );
        let all = builtin::defining_permissions(builtin::USER).expect("builtin");
        assert_eq!(
            cap_access_level(AccessLevel::Ddl, &all),
            Some(AccessLevel::Ddl)
        );
        assert_eq!(
            cap_access_level(AccessLevel::Read, &PermissionSet::new()),
            None
        );
        // A gap (write without read) caps at the gap: levels include the ones below.
        let gap: PermissionSet = [Permission::ExecuteSqlWrite].into_iter().collect();
        assert_eq!(cap_access_level(AccessLevel::Write, &gap), None);
    }

    #[test]
    fn grant_state_follows_the_window() {
        let g = Grant {
            id: 1,
            user_id: 1,
            database_id: 1,
            access_level: AccessLevel::Read,
            starts_at: datetime!(2026-01-15 09:00 UTC),
            expires_at: datetime!(2026-01-15 18:00 UTC),
            max_queries: Some(10),
            max_bytes: None,
            statement_timeout_ms: None,
            used_queries: 12,
            used_bytes: 0,
            created_by: None,
            created_at: datetime!(2026-01-01 00:00 UTC),
            revoked_at: None,
            revoked_by: None,
        };
        assert_eq!(
            g.state(datetime!(2026-01-15 08:59:59 UTC)),
            GrantState::Pending
        );
        assert_eq!(g.state(datetime!(2026-01-15 09:00 UTC)), GrantState::Active);
        assert_eq!(
            g.state(datetime!(2026-01-15 18:00 UTC)),
            GrantState::Expired
        );
        assert_eq!(g.remaining_queries(), Some(0));
        assert_eq!(g.remaining_bytes(), None);
    }

    #[test]
    fn names_are_checked() {
        assert!(validate_name("username", "alice.smith@corp").is_ok());
        assert!(validate_name("username", "").is_err());
        assert!(validate_name("username", "-x").is_err());
        assert!(validate_name("username", "a b").is_err());
        assert!(validate_name("username", &"a".repeat(64)).is_err());
    }

    #[test]
    fn tls_default_depends_on_loopback() {
        assert_eq!(TlsMode::default_for_host("127.0.0.1"), TlsMode::Prefer);
        assert_eq!(TlsMode::default_for_host("localhost"), TlsMode::Prefer);
        assert_eq!(
            TlsMode::default_for_host("db.example.com"),
            TlsMode::VerifyFull
        );
    }
}

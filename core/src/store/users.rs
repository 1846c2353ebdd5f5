//! Users, their roles and password verifiers.
//!
//! Deleting a user is a soft delete (`deleted_at`): grants and audit rows that refer to the user
//! stay readable, and the name becomes free for a new user. The last enabled holder of the
//! built-in `admin` role can be neither disabled nor deleted nor stripped of the role; the check
//! runs inside the writing transaction, so two concurrent requests cannot both pass it.

use std::collections::BTreeMap;

use serde_json::json;
use sqlx::Row as _;

use super::audit::insert_admin_audit;
use super::roles::role_ref_from_row;
use super::{Actor, AdminAuditEntry, Store, StoreError, new_uid, now_micros, on_backend};
use crate::crypto::password::PasswordVerifiers;
use crate::model::{PermissionSet, RoleRef, User, UserKind, builtin, permissions_from_text};
use crate::time::from_micros;

/// A user to create. Verifiers are computed by the caller, off the async reactor.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Login name.
    pub username: String,
    /// Local or LDAP.
    pub kind: UserKind,
    /// Required for local users, absent for LDAP users.
    pub verifiers: Option<PasswordVerifiers>,
    /// Enabled at creation.
    pub enabled: bool,
    /// Roles to hold.
    pub role_ids: Vec<i64>,
    /// The sealed `mysql_native_password` verifier, for a user who opted in (see
    /// [`crate::crypto::password::seal_mysql_native`]).
    pub mysql_native_sealed: Option<String>,
}

/// Changes to a user; absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    /// Enable or disable.
    pub enabled: Option<bool>,
    /// The complete new role list.
    pub role_ids: Option<Vec<i64>>,
    /// Turns `mysql_native_password` off (turning it on needs the password: see
    /// [`Store::set_password`]).
    pub clear_mysql_native: bool,
}

/// What authentication needs about a user. Holds verifiers: never serialised, never logged.
#[derive(Clone)]
pub struct UserAuth {
    /// Id.
    pub id: i64,
    /// Login name.
    pub username: String,
    /// Local or LDAP.
    pub kind: UserKind,
    /// Enabled flag.
    pub enabled: bool,
    /// argon2id PHC string (local users).
    pub password_hash: Option<String>,
    /// SCRAM-SHA-256 verifier (local users).
    pub scram_verifier: Option<String>,
    /// The sealed `mysql_native_password` verifier, if the user opted in.
    pub mysql_native_sealed: Option<String>,
    /// Union of the roles' permissions.
    pub permissions: PermissionSet,
}

impl UserAuth {
    /// The sealed `mysql_native_password` verifier, for a local user who opted in to it.
    #[must_use]
    pub fn mysql_native(&self) -> Option<&str> {
        self.mysql_native_sealed
            .as_deref()
            .filter(|_| self.kind == UserKind::Local)
    }
}

impl std::fmt::Debug for UserAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserAuth")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

const SELECT_USER: &str = "SELECT id, username, kind, enabled, created_at, updated_at, deleted_at, \
     mysql_native_sealed IS NOT NULL AS mysql_native FROM users";

const SELECT_USER_ROLES: &str = "SELECT ur.user_id, ur.role_id, r.name, r.permissions \
     FROM user_roles ur JOIN roles r ON r.id = ur.role_id";

/// Raw user columns before roles are attached.
struct UserRow {
    id: i64,
    username: String,
    kind: String,
    enabled: bool,
    created_at: i64,
    updated_at: i64,
    deleted_at: Option<i64>,
    mysql_native: bool,
}

fn user_row<R: sqlx::Row>(r: &R) -> Result<UserRow, sqlx::Error>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<i64>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> bool: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(UserRow {
        id: r.try_get("id")?,
        username: r.try_get("username")?,
        kind: r.try_get("kind")?,
        enabled: r.try_get("enabled")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        deleted_at: r.try_get("deleted_at")?,
        mysql_native: r.try_get("mysql_native")?,
    })
}

/// Attaches role lists (`(user_id, role_id, name, permissions)` rows) to user rows.
fn assemble(users: Vec<UserRow>, roles: Vec<(i64, i64, String, String)>) -> Vec<User> {
    let mut by_user: BTreeMap<i64, Vec<(i64, String, String)>> = BTreeMap::new();
    for (user_id, role_id, name, perms) in roles {
        by_user
            .entry(user_id)
            .or_default()
            .push((role_id, name, perms));
    }
    users
        .into_iter()
        .map(|u| {
            let held = by_user.remove(&u.id).unwrap_or_default();
            let permissions = held
                .iter()
                .flat_map(|(_, _, p)| permissions_from_text(p))
                .collect();
            User {
                id: u.id,
                username: u.username,
                // The column has a CHECK constraint; an unknown kind would be a corrupted row,
                // treated as LDAP (which has no local password) rather than a panic.
                kind: u.kind.parse().unwrap_or(UserKind::Ldap),
                enabled: u.enabled,
                roles: held
                    .into_iter()
                    .map(|(id, name, _)| RoleRef { id, name })
                    .collect(),
                permissions,
                created_at: from_micros(u.created_at),
                updated_at: from_micros(u.updated_at),
                deleted_at: u.deleted_at.map(from_micros),
                mysql_native_password: u.mysql_native,
            }
        })
        .collect()
}

/// Counts enabled, live holders of the built-in admin role other than `except`, inside `$tx`.
macro_rules! other_enabled_admins {
    ($tx:expr, $except:expr) => {{
        // A no-op update of the admin role's row takes a row lock on PostgreSQL (SQLite's one
        // writer serialises anyway): concurrent "disable an admin" transactions queue here, and
        // the count below, a new statement under READ COMMITTED, sees the earlier one's result.
        sqlx::query("UPDATE roles SET updated_at = updated_at WHERE name = $1 AND builtin")
            .bind(builtin::ADMIN)
            .execute(&mut *$tx)
            .await?;
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM users u JOIN user_roles ur ON ur.user_id = u.id \
             JOIN roles r ON r.id = ur.role_id \
             WHERE r.name = $1 AND r.builtin AND u.enabled AND u.deleted_at IS NULL AND u.id <> $2",
        )
        .bind(builtin::ADMIN)
        .bind($except)
        .fetch_one(&mut *$tx)
        .await?;
        n
    }};
}

impl Store {
    /// Users by name; deleted ones only when `include_deleted`.
    pub async fn list_users(&self, include_deleted: bool) -> Result<Vec<User>, StoreError> {
        let filter = if include_deleted {
            ""
        } else {
            " WHERE deleted_at IS NULL"
        };
        on_backend!(self, read, |pool| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "{SELECT_USER}{filter} ORDER BY username, id"
            )))
            .fetch_all(pool)
            .await?;
            let users = rows.iter().map(user_row).collect::<Result<Vec<_>, _>>()?;
            let roles = sqlx::query(SELECT_USER_ROLES)
                .fetch_all(pool)
                .await?
                .iter()
                .map(role_ref_from_row)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(assemble(users, roles))
        })
    }

    /// One user, deleted or not.
    pub async fn get_user(&self, id: i64) -> Result<User, StoreError> {
        on_backend!(self, read, |pool| {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!("{SELECT_USER} WHERE id = $1")))
                .bind(id)
                .fetch_optional(pool)
                .await?
                .ok_or(StoreError::NotFound("user"))?;
            let user = user_row(&row)?;
            let roles = sqlx::query(sqlx::AssertSqlSafe(format!(
                "{SELECT_USER_ROLES} WHERE ur.user_id = $1"
            )))
            .bind(id)
            .fetch_all(pool)
            .await?
            .iter()
            .map(role_ref_from_row)
            .collect::<Result<Vec<_>, _>>()?;
            Ok(assemble(vec![user], roles)
                .pop()
                .expect("one row in, one user out"))
        })
    }

    /// What authentication needs about a live user, by login name.
    pub async fn user_auth(&self, username: &str) -> Result<Option<UserAuth>, StoreError> {
        on_backend!(self, read, |pool| {
            let Some(row) = sqlx::query(
                "SELECT id, username, kind, enabled, password_hash, scram_verifier, \
                 mysql_native_sealed FROM users WHERE username = $1 AND deleted_at IS NULL",
            )
            .bind(username)
            .fetch_optional(pool)
            .await?
            else {
                return Ok(None);
            };
            let id: i64 = row.try_get("id")?;
            let perms: Vec<String> = sqlx::query_scalar(
                "SELECT r.permissions FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
                 WHERE ur.user_id = $1",
            )
            .bind(id)
            .fetch_all(pool)
            .await?;
            let kind: String = row.try_get("kind")?;
            Ok(Some(UserAuth {
                id,
                username: row.try_get("username")?,
                kind: kind.parse().unwrap_or(UserKind::Ldap),
                enabled: row.try_get("enabled")?,
                password_hash: row.try_get("password_hash")?,
                scram_verifier: row.try_get("scram_verifier")?,
                mysql_native_sealed: row.try_get("mysql_native_sealed")?,
                permissions: perms
                    .iter()
                    .flat_map(|p| permissions_from_text(p))
                    .collect(),
            }))
        })
    }

    /// Whether any live user exists (bootstrap runs on an empty store only).
    pub async fn has_users(&self) -> Result<bool, StoreError> {
        on_backend!(self, read, |pool| {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
                .fetch_one(pool)
                .await?;
            Ok(n > 0)
        })
    }

    /// Creates a user holding `role_ids`.
    pub async fn create_user(&self, actor: &Actor, new: &NewUser) -> Result<User, StoreError> {
        crate::model::validate_name("username", &new.username).map_err(StoreError::Invalid)?;
        if new.kind == UserKind::Local && new.verifiers.is_none() {
            return Err(StoreError::Invalid("a local user needs a password".into()));
        }
        if new.kind == UserKind::Ldap && new.verifiers.is_some() {
            return Err(StoreError::Invalid(
                "an LDAP user's password lives in the directory; do not set one".into(),
            ));
        }
        let role_names = self.role_names(&new.role_ids).await?;
        let now = now_micros();
        let native = new
            .mysql_native_sealed
            .as_ref()
            .filter(|_| new.kind == UserKind::Local);
        let id: i64 = on_backend!(self, write, |pool| {
            let mut tx = pool.begin().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO users (uid, username, kind, password_hash, scram_verifier, enabled, \
                 created_at, updated_at, mysql_native_sealed) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8) RETURNING id",
            )
            .bind(new_uid())
            .bind(&new.username)
            .bind(new.kind.as_str())
            .bind(new.verifiers.as_ref().map(|v| v.argon2.clone()))
            .bind(new.verifiers.as_ref().map(|v| v.scram.clone()))
            .bind(new.enabled)
            .bind(now)
            .bind(native)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| {
                StoreError::conflict_on_unique(e, format!("user `{}` already exists", new.username))
            })?;
            for role_id in &new.role_ids {
                sqlx::query("INSERT INTO user_roles (user_id, role_id) VALUES ($1, $2)")
                    .bind(id)
                    .bind(role_id)
                    .execute(&mut *tx)
                    .await?;
            }
            insert_admin_audit!(
                self,
                &mut *tx,
                actor,
                &AdminAuditEntry::success(
                    "user.create",
                    "user",
                    Some(id),
                    json!({
                        "username": new.username, "kind": new.kind.as_str(),
                        "enabled": new.enabled, "roles": role_names,
                        "mysql_native_password": new.mysql_native_sealed.is_some(),
                    })
                )
            )?;
            tx.commit().await?;
            id
        });
        self.get_user(id).await
    }

    /// Names of the given roles, or `NotFound("role")` if any is missing.
    async fn role_names(&self, ids: &[i64]) -> Result<Vec<String>, StoreError> {
        let mut names = Vec::with_capacity(ids.len());
        for id in ids {
            names.push(self.get_role(*id).await?.name);
        }
        Ok(names)
    }

    /// Enables/disables a user or replaces their roles.
    pub async fn update_user(
        &self,
        actor: &Actor,
        id: i64,
        patch: &UserPatch,
    ) -> Result<User, StoreError> {
        let before = self.get_user(id).await?;
        if before.deleted_at.is_some() {
            return Err(StoreError::NotFound("user"));
        }
        let new_role_names = match &patch.role_ids {
            Some(ids) => Some(self.role_names(ids).await?),
            None => None,
        };
        let enabled = patch.enabled.unwrap_or(before.enabled);
        let keeps_admin = match &new_role_names {
            Some(names) => names.iter().any(|n| n == builtin::ADMIN),
            None => before.roles.iter().any(|r| r.name == builtin::ADMIN),
        };
        let was_admin = before.enabled && before.roles.iter().any(|r| r.name == builtin::ADMIN);
        on_backend!(self, write, |pool| {
            let mut tx = pool.begin().await?;
            if was_admin && !(enabled && keeps_admin) && other_enabled_admins!(tx, id) == 0 {
                return Err(StoreError::Conflict(
                    "this is the last enabled admin: it cannot be disabled or lose the admin role"
                        .into(),
                ));
            }
            sqlx::query("UPDATE users SET enabled = $1, updated_at = $2 WHERE id = $3")
                .bind(enabled)
                .bind(now_micros())
                .bind(id)
                .execute(&mut *tx)
                .await?;
            if patch.clear_mysql_native {
                sqlx::query("UPDATE users SET mysql_native_sealed = NULL WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            if let Some(ids) = &patch.role_ids {
                sqlx::query("DELETE FROM user_roles WHERE user_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                for role_id in ids {
                    sqlx::query("INSERT INTO user_roles (user_id, role_id) VALUES ($1, $2)")
                        .bind(id)
                        .bind(role_id)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            let before_roles: Vec<_> = before.roles.iter().map(|r| r.name.clone()).collect();
            insert_admin_audit!(
                self,
                &mut *tx,
                actor,
                &AdminAuditEntry::success(
                    "user.update",
                    "user",
                    Some(id),
                    json!({
                        "username": before.username,
                        "before": {"enabled": before.enabled, "roles": before_roles,
                            "mysql_native_password": before.mysql_native_password},
                        "after": {"enabled": enabled, "roles": new_role_names.as_ref().unwrap_or(&before_roles),
                            "mysql_native_password": before.mysql_native_password && !patch.clear_mysql_native},
                    })
                )
            )?;
            tx.commit().await?;
        });
        self.get_user(id).await
    }

    /// Replaces a local user's password verifiers, the sealed `mysql_native_password` one
    /// included (`None`: the option is off). `action` names the audit action
    /// (`user.set_password` by an admin, `me.change_password` by the user).
    pub async fn set_password(
        &self,
        actor: &Actor,
        id: i64,
        verifiers: &PasswordVerifiers,
        mysql_native_sealed: Option<&str>,
        action: &'static str,
    ) -> Result<(), StoreError> {
        let user = self.get_user(id).await?;
        if user.deleted_at.is_some() {
            return Err(StoreError::NotFound("user"));
        }
        if user.kind != UserKind::Local {
            return Err(StoreError::Invalid(
                "an LDAP user's password lives in the directory".into(),
            ));
        }
        on_backend!(self, write, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "UPDATE users SET password_hash = $1, scram_verifier = $2, updated_at = $3, \
                 mysql_native_sealed = $4 WHERE id = $5",
            )
            .bind(&verifiers.argon2)
            .bind(&verifiers.scram)
            .bind(now_micros())
            .bind(mysql_native_sealed)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            insert_admin_audit!(
                self,
                &mut *tx,
                actor,
                &AdminAuditEntry::success(
                    action,
                    "user",
                    Some(id),
                    json!({"username": user.username,
                        "mysql_native_password": mysql_native_sealed.is_some()})
                )
            )?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Soft-deletes a user: they can no longer log in; their grants and history stay readable.
    pub async fn delete_user(&self, actor: &Actor, id: i64) -> Result<(), StoreError> {
        let user = self.get_user(id).await?;
        if user.deleted_at.is_some() {
            return Err(StoreError::NotFound("user"));
        }
        let was_admin = user.enabled && user.roles.iter().any(|r| r.name == builtin::ADMIN);
        on_backend!(self, write, |pool| {
            let mut tx = pool.begin().await?;
            if was_admin && other_enabled_admins!(tx, id) == 0 {
                return Err(StoreError::Conflict(
                    "this is the last enabled admin: it cannot be deleted".into(),
                ));
            }
            sqlx::query(
                "UPDATE users SET deleted_at = $1, enabled = FALSE, updated_at = $1 WHERE id = $2",
            )
            .bind(now_micros())
            .bind(id)
            .execute(&mut *tx)
            .await?;
            insert_admin_audit!(
                self,
                &mut *tx,
                actor,
                &AdminAuditEntry::success(
                    "user.delete",
                    "user",
                    Some(id),
                    json!({"username": user.username})
                )
            )?;
            tx.commit().await?;
        });
        Ok(())
    }
}

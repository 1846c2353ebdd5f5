//! Roles: named permission sets. The built-in `admin` and `user` roles are created at
//! bootstrap, cannot be deleted or renamed, and cannot lose their defining permissions.

use serde::Deserialize;
use serde_json::json;

use super::audit::insert_admin_audit;
use super::{Actor, AdminAuditEntry, Store, StoreError, now_micros, on_backend};
use crate::model::{PermissionSet, Role, builtin, permissions_from_text, permissions_to_text};
use crate::time::from_micros;

/// A new role.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleInput {
    /// Unique name.
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Permissions granted.
    #[serde(default)]
    pub permissions: PermissionSet,
}

/// Changes to a role; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolePatch {
    /// New name (not for built-in roles).
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// The complete new permission set.
    pub permissions: Option<PermissionSet>,
}

const SELECT_ROLE: &str =
    "SELECT id, name, description, permissions, builtin, created_at, updated_at FROM roles";

fn role_from_row<R: sqlx::Row>(r: &R) -> Result<Role, sqlx::Error>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> bool: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let permissions: String = r.try_get("permissions")?;
    Ok(Role {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        permissions: permissions_from_text(&permissions),
        builtin: r.try_get("builtin")?,
        created_at: from_micros(r.try_get("created_at")?),
        updated_at: from_micros(r.try_get("updated_at")?),
    })
}

fn check_role_name(name: &str) -> Result<(), StoreError> {
    crate::model::validate_name("role name", name).map_err(StoreError::Invalid)
}

impl Store {
    /// Creates the built-in roles if missing (idempotent; run at every start).
    pub async fn ensure_builtin_roles(&self) -> Result<(), StoreError> {
        for name in [builtin::ADMIN, builtin::USER] {
            let perms = builtin::defining_permissions(name).expect("built-in role");
            let now = now_micros();
            on_backend!(self, write, |pool| {
                sqlx::query(
                    "INSERT INTO roles (name, description, permissions, builtin, created_at, \
                     updated_at) VALUES ($1, $2, $3, TRUE, $4, $4) ON CONFLICT (name) DO NOTHING",
                )
                .bind(name)
                .bind(if name == builtin::ADMIN {
                    "Every permission (built-in)"
                } else {
                    "Database access through grants (built-in)"
                })
                .bind(permissions_to_text(&perms))
                .bind(now)
                .execute(pool)
                .await?;
            });
        }
        Ok(())
    }

    /// Every role, by name.
    pub async fn list_roles(&self) -> Result<Vec<Role>, StoreError> {
        on_backend!(self, read, |pool| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!("{SELECT_ROLE} ORDER BY name")))
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(role_from_row)
                .collect::<Result<_, _>>()
                .map_err(StoreError::from)
        })
    }

    /// One role.
    pub async fn get_role(&self, id: i64) -> Result<Role, StoreError> {
        on_backend!(self, read, |pool| {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!("{SELECT_ROLE} WHERE id = $1")))
                .bind(id)
                .fetch_optional(pool)
                .await?
                .ok_or(StoreError::NotFound("role"))?;
            Ok(role_from_row(&row)?)
        })
    }

    /// A role by name.
    pub async fn get_role_by_name(&self, name: &str) -> Result<Role, StoreError> {
        on_backend!(self, read, |pool| {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "{SELECT_ROLE} WHERE name = $1"
            )))
            .bind(name)
            .fetch_optional(pool)
            .await?
            .ok_or(StoreError::NotFound("role"))?;
            Ok(role_from_row(&row)?)
        })
    }

    /// Creates a custom role.
    pub async fn create_role(&self, actor: &Actor, input: &RoleInput) -> Result<Role, StoreError> {
        check_role_name(&input.name)?;
        let now = now_micros();
        let id: i64 = on_backend!(self, write, |pool| {
            let mut tx = pool.begin().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO roles (name, description, permissions, builtin, created_at, \
                 updated_at) VALUES ($1, $2, $3, FALSE, $4, $4) RETURNING id",
            )
            .bind(&input.name)
            .bind(&input.description)
            .bind(permissions_to_text(&input.permissions))
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| {
                StoreError::conflict_on_unique(e, format!("role `{}` already exists", input.name))
            })?;
            insert_admin_audit!(
                self,
                &mut *tx,
                actor,
                &AdminAuditEntry::success(
                    "role.create",
                    "role",
                    Some(id),
                    json!({"name": input.name, "permissions": input.permissions})
                )
            )?;
            tx.commit().await?;
            id
        });
        self.get_role(id).await
    }

    /// Changes a role. Built-in roles keep their name and defining permissions.
    pub async fn update_role(
        &self,
        actor: &Actor,
        id: i64,
        patch: &RolePatch,
    ) -> Result<Role, StoreError> {
        let before = self.get_role(id).await?;
        if let Some(name) = &patch.name {
            check_role_name(name)?;
            if before.builtin && *name != before.name {
                return Err(StoreError::Conflict(format!(
                    "built-in role `{}` cannot be renamed",
                    before.name
                )));
            }
        }
        if let (Some(perms), Some(defining)) = (
            &patch.permissions,
            builtin::defining_permissions(&before.name).filter(|_| before.builtin),
        ) && !defining.is_subset(perms)
        {
            let missing: Vec<_> = defining.difference(perms).map(|p| p.as_str()).collect();
            return Err(StoreError::Conflict(format!(
                "built-in role `{}` cannot lose its defining permissions: {}",
                before.name,
                missing.join(", ")
            )));
        }
        let name = patch.name.clone().unwrap_or_else(|| before.name.clone());
        let description = patch
            .description
            .clone()
            .unwrap_or_else(|| before.description.clone());
        let permissions = patch
            .permissions
            .clone()
            .unwrap_or_else(|| before.permissions.clone());
        on_backend!(self, write, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "UPDATE roles SET name = $1, description = $2, permissions = $3, updated_at = $4 \
                 WHERE id = $5",
            )
            .bind(&name)
            .bind(&description)
            .bind(permissions_to_text(&permissions))
            .bind(now_micros())
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                StoreError::conflict_on_unique(e, format!("role `{name}` already exists"))
            })?;
            insert_admin_audit!(
                self,
                &mut *tx,
                actor,
                &AdminAuditEntry::success(
                    "role.update",
                    "role",
                    Some(id),
                    json!({
                        "before": {"name": before.name, "permissions": before.permissions},
                        "after": {"name": name, "permissions": permissions},
                    })
                )
            )?;
            tx.commit().await?;
        });
        self.get_role(id).await
    }

    /// Deletes a custom role (users holding it lose it).
    pub async fn delete_role(&self, actor: &Actor, id: i64) -> Result<(), StoreError> {
        let role = self.get_role(id).await?;
        if role.builtin {
            return Err(StoreError::Conflict(format!(
                "built-in role `{}` cannot be deleted",
                role.name
            )));
        }
        on_backend!(self, write, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM user_roles WHERE role_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM roles WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            insert_admin_audit!(
                self,
                &mut *tx,
                actor,
                &AdminAuditEntry::success(
                    "role.delete",
                    "role",
                    Some(id),
                    json!({"name": role.name})
                )
            )?;
            tx.commit().await?;
        });
        Ok(())
    }
}

/// Reads `role_id`s of users; shared with `users`.
pub(super) fn role_ref_from_row<R: sqlx::Row>(
    r: &R,
) -> Result<(i64, i64, String, String), sqlx::Error>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok((
        r.try_get("user_id")?,
        r.try_get("role_id")?,
        r.try_get("name")?,
        r.try_get("permissions")?,
    ))
}

//! Folders grouping databases in the console. Deleting a folder moves its databases to the root
//! (the foreign key's `ON DELETE SET NULL`).

use serde_json::json;
use sqlx::Row as _;

use super::audit::insert_admin_audit;
use super::{Actor, AdminAuditEntry, Store, StoreError, now_micros, on_backend};
use crate::model::Folder;
use crate::time::from_micros;

fn check_folder_name(name: &str) -> Result<(), StoreError> {
    if name.trim().is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(StoreError::Invalid(
            "folder name must be 1 to 100 printable characters".into(),
        ));
    }
    Ok(())
}

impl Store {
    /// Every folder, by name.
    pub async fn list_folders(&self) -> Result<Vec<Folder>, StoreError> {
        on_backend!(self, read, |pool| {
            sqlx::query("SELECT id, name, created_at, updated_at FROM folders ORDER BY name")
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| {
                    Ok(Folder {
                        id: r.try_get("id")?,
                        name: r.try_get("name")?,
                        created_at: from_micros(r.try_get("created_at")?),
                        updated_at: from_micros(r.try_get("updated_at")?),
                    })
                })
                .collect::<Result<_, sqlx::Error>>()
                .map_err(StoreError::from)
        })
    }

    /// One folder.
    pub async fn get_folder(&self, id: i64) -> Result<Folder, StoreError> {
        self.list_folders()
            .await?
            .into_iter()
            .find(|f| f.id == id)
            .ok_or(StoreError::NotFound("folder"))
    }

    /// Creates a folder.
    pub async fn create_folder(&self, actor: &Actor, name: &str) -> Result<Folder, StoreError> {
        check_folder_name(name)?;
        let id: i64 = on_backend!(self, write, |pool| {
            let mut tx = pool.begin().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO folders (name, created_at, updated_at) VALUES ($1, $2, $2) \
                 RETURNING id",
            )
            .bind(name)
            .bind(now_micros())
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| {
                StoreError::conflict_on_unique(e, format!("folder `{name}` already exists"))
            })?;
            insert_admin_audit!(
                self,
                &mut *tx,
                actor,
                &AdminAuditEntry::success(
                    "folder.create",
                    "folder",
                    Some(id),
                    json!({"name": name})
                )
            )?;
            tx.commit().await?;
            id
        });
        self.get_folder(id).await
    }

    /// Renames a folder.
    pub async fn rename_folder(
        &self,
        actor: &Actor,
        id: i64,
        name: &str,
    ) -> Result<Folder, StoreError> {
        check_folder_name(name)?;
        let before = self.get_folder(id).await?;
        on_backend!(self, write, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query("UPDATE folders SET name = $1, updated_at = $2 WHERE id = $3")
                .bind(name)
                .bind(now_micros())
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(|e| {
                    StoreError::conflict_on_unique(e, format!("folder `{name}` already exists"))
                })?;
            insert_admin_audit!(
                self,
                &mut *tx,
                actor,
                &AdminAuditEntry::success(
                    "folder.rename",
                    "folder",
                    Some(id),
                    json!({"before": before.name, "after": name})
                )
            )?;
            tx.commit().await?;
        });
        self.get_folder(id).await
    }

    /// Deletes a folder; its databases move to the root.
    pub async fn delete_folder(&self, actor: &Actor, id: i64) -> Result<(), StoreError> {
        let folder = self.get_folder(id).await?;
        on_backend!(self, write, |pool| {
            let mut tx = pool.begin().await?;
            // Explicit rather than relying on ON DELETE SET NULL alone: soft-deleted databases
            // reference folders too.
            sqlx::query("UPDATE databases SET folder_id = NULL WHERE folder_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM folders WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            insert_admin_audit!(
                self,
                &mut *tx,
                actor,
                &AdminAuditEntry::success(
                    "folder.delete",
                    "folder",
                    Some(id),
                    json!({"name": folder.name})
                )
            )?;
            tx.commit().await?;
        });
        Ok(())
    }
}

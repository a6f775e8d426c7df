//! Groups and their members.

use super::{Backend, Connection, dialect};
use crate::sql::{backend, conflict_or_backend};
use async_trait::async_trait;
use herald_core::store::{GroupStore, StoreResult};
use herald_core::{Group, StoreError, now_millis};
use sqlx::Row;

impl Backend {
    async fn fetch_group(conn: &mut Connection, app: &str, id: &str) -> StoreResult<Group> {
        let row = sqlx::query("SELECT id, name, created_at FROM chat_groups WHERE app_id = $1 AND id = $2")
            .bind(app)
            .bind(id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(backend)?
            .ok_or_else(|| StoreError::not_found("group", id))?;
        let members = sqlx::query(
            "SELECT user_id FROM group_members WHERE app_id = $1 AND group_id = $2 ORDER BY user_id",
        )
        .bind(app)
        .bind(id)
        .fetch_all(&mut *conn)
        .await
        .map_err(backend)?
        .iter()
        .map(|r| r.try_get("user_id"))
        .collect::<Result<Vec<String>, _>>()
        .map_err(backend)?;
        Ok(Group {
            id: row.try_get("id").map_err(backend)?,
            name: row.try_get("name").map_err(backend)?,
            members,
            created_at: row.try_get("created_at").map_err(backend)?,
        })
    }

    /// Checks that the group exists and keeps it from being deleted until the transaction ends.
    async fn lock_group(conn: &mut Connection, app: &str, id: &str) -> StoreResult<()> {
        let lock = dialect::KEY_SHARE;
        sqlx::query(&format!(
            "SELECT 1 FROM chat_groups WHERE app_id = $1 AND id = $2{lock}"
        ))
        .bind(app)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(backend)?
        .ok_or_else(|| StoreError::not_found("group", id))?;
        Ok(())
    }
}

#[async_trait]
impl GroupStore for Backend {
    async fn create_group(&self, app: &str, id: &str, name: &str, members: &[String]) -> StoreResult<Group> {
        let mut tx = self.write().await?;
        sqlx::query("INSERT INTO chat_groups (app_id, id, name, created_at) VALUES ($1, $2, $3, $4)")
            .bind(app)
            .bind(id)
            .bind(name)
            .bind(now_millis())
            .execute(&mut *tx)
            .await
            .map_err(conflict_or_backend(
                "group",
                format!("a group `{id}` already exists in this app"),
            ))?;
        dialect::insert_members(&mut tx, app, id, members).await?;
        let group = Self::fetch_group(&mut tx, app, id).await?;
        tx.commit().await.map_err(backend)?;
        Ok(group)
    }

    async fn get_group(&self, app: &str, id: &str) -> StoreResult<Group> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        Self::fetch_group(&mut conn, app, id).await
    }

    async fn group_name(&self, app: &str, id: &str) -> StoreResult<String> {
        let row = sqlx::query("SELECT name FROM chat_groups WHERE app_id = $1 AND id = $2")
            .bind(app)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?
            .ok_or_else(|| StoreError::not_found("group", id))?;
        row.try_get("name").map_err(backend)
    }

    async fn delete_group(&self, app: &str, id: &str) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM chat_groups WHERE app_id = $1 AND id = $2")
            .bind(app)
            .bind(id)
            .execute(&mut *self.writer().await?)
            .await
            .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found("group", id));
        }
        Ok(())
    }

    async fn add_members(&self, app: &str, id: &str, members: &[String]) -> StoreResult<Group> {
        let mut tx = self.write().await?;
        Self::lock_group(&mut tx, app, id).await?;
        dialect::insert_members(&mut tx, app, id, members).await?;
        let group = Self::fetch_group(&mut tx, app, id).await?;
        tx.commit().await.map_err(backend)?;
        Ok(group)
    }

    async fn remove_member(&self, app: &str, id: &str, user: &str) -> StoreResult<Group> {
        let mut tx = self.write().await?;
        Self::lock_group(&mut tx, app, id).await?;
        let done =
            sqlx::query("DELETE FROM group_members WHERE app_id = $1 AND group_id = $2 AND user_id = $3")
                .bind(app)
                .bind(id)
                .bind(user)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found("member", user));
        }
        let group = Self::fetch_group(&mut tx, app, id).await?;
        tx.commit().await.map_err(backend)?;
        Ok(group)
    }
}

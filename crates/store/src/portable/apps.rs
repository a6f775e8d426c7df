//! Apps (tenants); deleting one cascades to everything it owns.

use super::{Backend, DbRow};
use crate::sql::{backend, conflict_or_backend};
use async_trait::async_trait;
use herald_core::store::{AppStore, StoreResult};
use herald_core::{App, Secret, StoreError, now_millis};
use sqlx::Row;

const SECRET_LABEL: &str = "app_secret";

fn app_from_row(row: &DbRow) -> Result<App, sqlx::Error> {
    Ok(App {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        created_at: row.try_get("created_at")?,
    })
}

#[async_trait]
impl AppStore for Backend {
    async fn create_app(&self, id: &str, name: &str, secret: &Secret<String>) -> StoreResult<App> {
        let sealed = self.sealer.seal(SECRET_LABEL, secret.expose().as_bytes());
        let row = sqlx::query(
            "INSERT INTO apps (id, name, secret, created_at) VALUES ($1, $2, $3, $4) \
             RETURNING id, name, created_at",
        )
        .bind(id)
        .bind(name)
        .bind(sealed)
        .bind(now_millis())
        .fetch_one(&mut *self.writer().await?)
        .await
        .map_err(conflict_or_backend("app", format!("app `{id}` already exists")))?;
        app_from_row(&row).map_err(backend)
    }

    async fn list_apps(&self) -> StoreResult<Vec<App>> {
        let rows = sqlx::query("SELECT id, name, created_at FROM apps ORDER BY created_at, id")
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter()
            .map(app_from_row)
            .collect::<Result<_, _>>()
            .map_err(backend)
    }

    async fn get_app(&self, id: &str) -> StoreResult<App> {
        let row = sqlx::query("SELECT id, name, created_at FROM apps WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?
            .ok_or_else(|| StoreError::not_found("app", id))?;
        app_from_row(&row).map_err(backend)
    }

    async fn app_secret(&self, id: &str) -> StoreResult<Secret<String>> {
        let row = sqlx::query("SELECT secret FROM apps WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?
            .ok_or_else(|| StoreError::not_found("app", id))?;
        let sealed: Vec<u8> = row.try_get("secret").map_err(backend)?;
        let clear = self
            .sealer
            .open(SECRET_LABEL, &sealed)
            .map_err(|e| StoreError::Corrupt(format!("secret of app `{id}`: {e}")))?;
        String::from_utf8(clear)
            .map(Secret::new)
            .map_err(|_| StoreError::Corrupt(format!("secret of app `{id}` is not UTF-8")))
    }

    async fn set_app_secret(&self, id: &str, secret: &Secret<String>) -> StoreResult<()> {
        let sealed = self.sealer.seal(SECRET_LABEL, secret.expose().as_bytes());
        let done = sqlx::query("UPDATE apps SET secret = $1 WHERE id = $2")
            .bind(sealed)
            .bind(id)
            .execute(&mut *self.writer().await?)
            .await
            .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found("app", id));
        }
        Ok(())
    }

    async fn delete_app(&self, id: &str) -> StoreResult<()> {
        let mut tx = self.write().await?;
        // Devices reference certificates without a cascade; clear them first.
        sqlx::query("DELETE FROM devices WHERE app_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        let done = sqlx::query("DELETE FROM apps WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found("app", id));
        }
        tx.commit().await.map_err(backend)
    }
}

//! Operator-level values kept in the `meta` table.

use super::Backend;
use crate::sql::backend;
use async_trait::async_trait;
use herald_core::store::{MetaStore, StoreResult};
use sqlx::Row;

const ADMIN_TOKEN_HASH: &str = "admin_token_sha256";
const MASTER_KEY_CHECK: &str = "master_key_check";

impl Backend {
    /// Refuses a master key other than the one the database was first opened with (the first
    /// opening records a check value sealed with it). Runs while the store opens, before
    /// anything else can write.
    pub(crate) async fn check_master_key(&self) -> Result<(), crate::OpenError> {
        sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .bind(MASTER_KEY_CHECK)
            .bind(self.sealer.key_check())
            .execute(&self.pool)
            .await?;
        let stored: String = sqlx::query("SELECT value FROM meta WHERE key = $1")
            .bind(MASTER_KEY_CHECK)
            .fetch_one(&self.pool)
            .await?
            .try_get("value")?;
        if self.sealer.matches_key_check(&stored) {
            Ok(())
        } else {
            Err(crate::OpenError::WrongMasterKey)
        }
    }
}

#[async_trait]
impl MetaStore for Backend {
    async fn admin_token_hash(&self) -> StoreResult<Option<String>> {
        let row = sqlx::query("SELECT value FROM meta WHERE key = $1")
            .bind(ADMIN_TOKEN_HASH)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.map(|r| r.try_get("value")).transpose().map_err(backend)
    }

    async fn init_admin_token_hash(&self, hash: &str) -> StoreResult<bool> {
        let done = sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .bind(ADMIN_TOKEN_HASH)
            .bind(hash)
            .execute(&mut *self.writer().await?)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }
}

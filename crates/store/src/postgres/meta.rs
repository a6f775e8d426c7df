//! Operator-level values kept in the `meta` table.

use super::{PgStore, backend};
use async_trait::async_trait;
use herald_core::store::{MetaStore, StoreResult};
use sqlx::Row;

const ADMIN_TOKEN_HASH: &str = "admin_token_sha256";

#[async_trait]
impl MetaStore for PgStore {
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
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }
}

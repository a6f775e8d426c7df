//! Users, their profiles and push settings.

use super::{Backend, DbRow, dialect};
use crate::sql::{backend, from_json, not_found_or_backend, to_json};
use async_trait::async_trait;
use herald_core::store::{ProfileUpdate, StoreResult, UserStore};
use herald_core::{PushSettings, StoreError, User, now_millis};
use sqlx::Row;

fn user_from_row(row: &DbRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: row.try_get("id")?,
        nickname: row.try_get("nickname")?,
        avatar_url: row.try_get("avatar_url")?,
        created_at: row.try_get("created_at")?,
    })
}

/// A user's push settings from their JSON text column (the defaults when never set).
pub(crate) fn push_settings_from(text: Option<&str>) -> StoreResult<PushSettings> {
    match text {
        Some(text) => from_json("push_settings", text),
        None => Ok(PushSettings::default()),
    }
}

#[async_trait]
impl UserStore for Backend {
    async fn upsert_user(&self, app: &str, user: &str, update: &ProfileUpdate) -> StoreResult<(User, bool)> {
        let mut tx = self.write().await?;
        let inserted = sqlx::query(
            "INSERT INTO users (app_id, id, nickname, avatar_url, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (app_id, id) DO NOTHING",
        )
        .bind(app)
        .bind(user)
        .bind(&update.nickname)
        .bind(&update.avatar_url)
        .bind(now_millis())
        .execute(&mut *tx)
        .await
        .map_err(not_found_or_backend("app", app))?
        .rows_affected()
            == 1;
        let row = sqlx::query(
            "UPDATE users SET nickname = COALESCE($3, nickname), avatar_url = COALESCE($4, avatar_url) \
             WHERE app_id = $1 AND id = $2 RETURNING id, nickname, avatar_url, created_at",
        )
        .bind(app)
        .bind(user)
        .bind(&update.nickname)
        .bind(&update.avatar_url)
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
        let user = user_from_row(&row).map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok((user, inserted))
    }

    async fn get_user(&self, app: &str, user: &str) -> StoreResult<User> {
        let row = sqlx::query(
            "SELECT id, nickname, avatar_url, created_at FROM users WHERE app_id = $1 AND id = $2",
        )
        .bind(app)
        .bind(user)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?
        .ok_or_else(|| StoreError::not_found("user", user))?;
        user_from_row(&row).map_err(backend)
    }

    async fn missing_users(&self, app: &str, users: &[String]) -> StoreResult<Vec<String>> {
        dialect::users_not_in_app(&self.pool, app, users).await
    }

    async fn push_settings(&self, app: &str, user: &str) -> StoreResult<PushSettings> {
        let row = sqlx::query("SELECT push_settings FROM users WHERE app_id = $1 AND id = $2")
            .bind(app)
            .bind(user)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?
            .ok_or_else(|| StoreError::not_found("user", user))?;
        let text: Option<String> = row.try_get("push_settings").map_err(backend)?;
        push_settings_from(text.as_deref())
    }

    async fn set_push_settings(&self, app: &str, user: &str, settings: &PushSettings) -> StoreResult<()> {
        let done = sqlx::query("UPDATE users SET push_settings = $3 WHERE app_id = $1 AND id = $2")
            .bind(app)
            .bind(user)
            .bind(to_json(settings))
            .execute(&mut *self.writer().await?)
            .await
            .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found("user", user));
        }
        Ok(())
    }
}

//! Devices: session state and push binding. A token lives on at most one device of an app
//! (unique index); binding it elsewhere moves it in one transaction.

use super::{Backend, Db, DbRow, dialect};
use crate::sql::backend;
use async_trait::async_trait;
use herald_core::device::PushBinding;
use herald_core::store::{Binding, DeviceStore, StoreResult};
use herald_core::{Device, DeviceKey, Platform, SessionState, StoreError, Vendor, now_millis};
use sqlx::Row;

pub(crate) const COLUMNS: &str =
    "app_id, user_id, device_id, platform, state, certificate_id, vendor, token, badge, updated_at";

pub(crate) fn device_from_row(row: &DbRow) -> StoreResult<Device> {
    let text = |column: &str| -> StoreResult<String> { row.try_get(column).map_err(backend) };
    device_from_columns(DeviceColumns {
        app_id: text("app_id")?,
        user_id: text("user_id")?,
        device_id: text("device_id")?,
        platform: text("platform")?,
        state: text("state")?,
        certificate_id: row.try_get("certificate_id").map_err(backend)?,
        vendor: row.try_get("vendor").map_err(backend)?,
        token: row.try_get("token").map_err(backend)?,
        badge: row.try_get("badge").map_err(backend)?,
        updated_at: row.try_get("updated_at").map_err(backend)?,
    })
}

/// A device row's columns as stored, however they were read. The fields are in the order of
/// [`COLUMNS`]: `recipients` reads them as a JSON array of those columns.
#[derive(serde::Deserialize)]
pub(crate) struct DeviceColumns {
    pub app_id: String,
    pub user_id: String,
    pub device_id: String,
    pub platform: String,
    pub state: String,
    pub certificate_id: Option<i64>,
    pub vendor: Option<String>,
    pub token: Option<String>,
    pub badge: i64,
    pub updated_at: i64,
}

pub(crate) fn device_from_columns(c: DeviceColumns) -> StoreResult<Device> {
    let corrupt = StoreError::Corrupt;
    let binding = match (c.certificate_id, c.vendor, c.token) {
        (Some(certificate_id), Some(vendor), Some(token)) => Some(PushBinding {
            certificate_id,
            vendor: vendor
                .parse()
                .map_err(|e: herald_core::vendor::UnknownVendor| corrupt(e.to_string()))?,
            token,
        }),
        _ => None,
    };
    Ok(Device {
        app_id: c.app_id,
        user_id: c.user_id,
        device_id: c.device_id,
        platform: c.platform.parse().map_err(corrupt)?,
        state: c.state.parse().map_err(corrupt)?,
        binding,
        badge: c.badge,
        updated_at: c.updated_at,
    })
}

impl Backend {
    async fn fetch_device<'e, E>(executor: E, key: &DeviceKey) -> StoreResult<Device>
    where
        E: sqlx::Executor<'e, Database = Db>,
    {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM devices WHERE app_id = $1 AND user_id = $2 AND device_id = $3"
        ))
        .bind(&key.app)
        .bind(&key.user)
        .bind(&key.device)
        .fetch_optional(executor)
        .await
        .map_err(backend)?
        .ok_or_else(|| StoreError::not_found("device", key.device.as_str()))?;
        device_from_row(&row)
    }
}

#[async_trait]
impl DeviceStore for Backend {
    async fn get_device(&self, key: &DeviceKey) -> StoreResult<Device> {
        Self::fetch_device(&self.pool, key).await
    }

    async fn list_devices(&self, app: &str, user: &str) -> StoreResult<Vec<Device>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM devices WHERE app_id = $1 AND user_id = $2 ORDER BY device_id"
        ))
        .bind(app)
        .bind(user)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(device_from_row).collect()
    }

    async fn bind_token(&self, key: &DeviceKey, binding: &Binding<'_>) -> StoreResult<Device> {
        let DeviceKey { app, user, device } = key;
        let now = now_millis();
        let mut tx = self.write().await?;
        dialect::queue_binds_of_token(&mut tx, app, binding.token).await?;
        sqlx::query(
            "INSERT INTO users (app_id, id, created_at) VALUES ($1, $2, $3) ON CONFLICT (app_id, id) DO NOTHING",
        )
        .bind(app)
        .bind(user)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        dialect::lock_devices_of_bind(&mut tx, app, binding.token, user, device).await?;
        // The token moves: whichever other device of the app held it loses it.
        sqlx::query(
            "UPDATE devices SET certificate_id = NULL, vendor = NULL, token = NULL, updated_at = $5 \
             WHERE app_id = $1 AND token = $2 AND NOT (user_id = $3 AND device_id = $4)",
        )
        .bind(app)
        .bind(binding.token)
        .bind(user)
        .bind(device)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        sqlx::query(
            "INSERT INTO devices (app_id, user_id, device_id, platform, state, certificate_id, vendor, token, badge, updated_at) \
             VALUES ($1, $2, $3, $4, 'offline', $5, $6, $7, 0, $8) \
             ON CONFLICT (app_id, user_id, device_id) DO UPDATE SET \
               platform = excluded.platform, certificate_id = excluded.certificate_id, \
               vendor = excluded.vendor, token = excluded.token, updated_at = excluded.updated_at, \
               state = CASE WHEN devices.state IN ('logged_out', 'kicked') THEN 'offline' ELSE devices.state END",
        )
        .bind(app)
        .bind(user)
        .bind(device)
        .bind(binding.platform.as_str())
        .bind(binding.certificate_id)
        .bind(binding.vendor.as_str())
        .bind(binding.token)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        let bound = Self::fetch_device(&mut *tx, key).await?;
        tx.commit().await.map_err(backend)?;
        Ok(bound)
    }

    async fn open_session(
        &self,
        key: &DeviceKey,
        platform: Platform,
        state: SessionState,
    ) -> StoreResult<Device> {
        let DeviceKey { app, user, device } = key;
        let now = now_millis();
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO users (app_id, id, created_at) VALUES ($1, $2, $3) ON CONFLICT (app_id, id) DO NOTHING",
        )
        .bind(app)
        .bind(user)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        sqlx::query(
            "INSERT INTO devices (app_id, user_id, device_id, platform, state, badge, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 0, $6) \
             ON CONFLICT (app_id, user_id, device_id) DO UPDATE SET \
               platform = excluded.platform, state = excluded.state, updated_at = excluded.updated_at",
        )
        .bind(app)
        .bind(user)
        .bind(device)
        .bind(platform.as_str())
        .bind(state.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        let opened = Self::fetch_device(&mut *tx, key).await?;
        tx.commit().await.map_err(backend)?;
        Ok(opened)
    }

    async fn unbind_token(&self, key: &DeviceKey) -> StoreResult<Device> {
        let DeviceKey { app, user, device } = key;
        let mut tx = self.write().await?;
        sqlx::query(
            "UPDATE devices SET certificate_id = NULL, vendor = NULL, token = NULL, updated_at = $4 \
             WHERE app_id = $1 AND user_id = $2 AND device_id = $3",
        )
        .bind(app)
        .bind(user)
        .bind(device)
        .bind(now_millis())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        let unbound = Self::fetch_device(&mut *tx, key).await?;
        tx.commit().await.map_err(backend)?;
        Ok(unbound)
    }

    async fn set_session(
        &self,
        key: &DeviceKey,
        state: SessionState,
        badge: Option<i64>,
    ) -> StoreResult<Device> {
        let DeviceKey { app, user, device } = key;
        let mut tx = self.write().await?;
        sqlx::query(
            "UPDATE devices SET state = $4, badge = COALESCE($5, badge), updated_at = $6 \
             WHERE app_id = $1 AND user_id = $2 AND device_id = $3",
        )
        .bind(app)
        .bind(user)
        .bind(device)
        .bind(state.as_str())
        .bind(badge)
        .bind(now_millis())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        let updated = Self::fetch_device(&mut *tx, key).await?;
        tx.commit().await.map_err(backend)?;
        Ok(updated)
    }

    async fn logout(&self, key: &DeviceKey, unbind: bool) -> StoreResult<Device> {
        let DeviceKey { app, user, device } = key;
        let mut tx = self.write().await?;
        sqlx::query(
            "UPDATE devices SET state = 'logged_out', updated_at = $5, \
               certificate_id = CASE WHEN $4 THEN NULL ELSE certificate_id END, \
               vendor = CASE WHEN $4 THEN NULL ELSE vendor END, \
               token = CASE WHEN $4 THEN NULL ELSE token END \
             WHERE app_id = $1 AND user_id = $2 AND device_id = $3",
        )
        .bind(app)
        .bind(user)
        .bind(device)
        .bind(unbind)
        .bind(now_millis())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        let updated = Self::fetch_device(&mut *tx, key).await?;
        tx.commit().await.map_err(backend)?;
        Ok(updated)
    }

    async fn count_bound_devices(&self, app: &str) -> StoreResult<Vec<(Vendor, i64)>> {
        let rows = sqlx::query(
            "SELECT vendor, COUNT(*) AS n FROM devices WHERE app_id = $1 AND token IS NOT NULL \
             GROUP BY vendor ORDER BY vendor",
        )
        .bind(app)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|row| {
                let vendor: String = row.try_get("vendor").map_err(backend)?;
                let vendor = vendor
                    .parse::<Vendor>()
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                Ok((vendor, row.try_get("n").map_err(backend)?))
            })
            .collect()
    }
}

//! Who a message goes to: users with their push settings and devices, group members.

use super::PgStore;
use super::portable::devices::{COLUMNS as DEVICE_COLUMNS, device_from_row};
use super::portable::messages::recipient;
use crate::sql::backend;
use herald_core::store::{Recipient, StoreResult};
use sqlx::Row;
use std::collections::BTreeMap;

impl PgStore {
    /// The users among `users` with their devices, in two statements whatever their number.
    pub(super) async fn read_recipients(&self, app: &str, users: &[String]) -> StoreResult<Vec<Recipient>> {
        let mut recipients: BTreeMap<String, Recipient> = BTreeMap::new();
        let rows =
            sqlx::query("SELECT id, nickname, push_settings FROM users WHERE app_id = $1 AND id = ANY($2)")
                .bind(app)
                .bind(users)
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
        for row in rows {
            let id: String = row.try_get("id").map_err(backend)?;
            let nickname = row.try_get("nickname").map_err(backend)?;
            let settings: Option<String> = row.try_get("push_settings").map_err(backend)?;
            recipients.insert(id.clone(), recipient(id, nickname, settings.as_deref())?);
        }
        let rows = sqlx::query(&format!(
            "SELECT {DEVICE_COLUMNS} FROM devices WHERE app_id = $1 AND user_id = ANY($2) ORDER BY user_id, device_id"
        ))
        .bind(app)
        .bind(users)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        for row in rows {
            let device = device_from_row(&row)?;
            if let Some(recipient) = recipients.get_mut(&device.user_id) {
                recipient.devices.push(device);
            }
        }
        Ok(recipients.into_values().collect())
    }
}

//! Who a message goes to, read SQLite's way: one row that SQLite builds as a JSON array instead
//! of a row per user, device or member. sqlx hands rows from the connection's thread to the
//! caller one message at a time, and for a large group that hand-over (thread wake-ups, ~7 µs a
//! row) cost more than the read itself.

use super::SqliteStore;
use super::portable::devices::{COLUMNS as DEVICE_COLUMNS, DeviceColumns, device_from_columns};
use super::portable::messages::recipient;
use crate::sql::{backend, from_json};
use herald_core::store::{Recipient, StoreResult};
use sqlx::{Column, QueryBuilder, Row, Sqlite};
use std::collections::BTreeMap;

/// Users per round trip (SQLite allows 32,766 bound parameters).
const CHUNK: usize = 500;

/// A user as `read_recipients` reads it: id, nickname, push settings (JSON text).
type UserColumns = (String, Option<String>, Option<String>);

impl SqliteStore {
    /// Per chunk of users, one round trip of two statements, each answering with one row: a
    /// JSON array of the users, then of their devices.
    pub(super) async fn read_recipients(&self, app: &str, users: &[String]) -> StoreResult<Vec<Recipient>> {
        let mut recipients: BTreeMap<String, Recipient> = BTreeMap::new();
        for chunk in users.chunks(CHUNK) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "SELECT json_group_array(json_array(id, nickname, push_settings)) AS users \
                 FROM users WHERE app_id = ",
            );
            q.push_bind(app).push(" AND id IN (");
            let mut list = q.separated(", ");
            for user in chunk {
                list.push_bind(user);
            }
            q.push(format!(
                "); SELECT json_group_array(json_array({DEVICE_COLUMNS})) AS devices FROM devices WHERE app_id = "
            ));
            q.push_bind(app).push(" AND user_id IN (");
            let mut list = q.separated(", ");
            for user in chunk {
                list.push_bind(user);
            }
            q.push(")");
            for row in q.build().fetch_all(&self.pool).await.map_err(backend)? {
                if row.columns().iter().any(|c| c.name() == "users") {
                    let text: String = row.try_get("users").map_err(backend)?;
                    for (id, nickname, settings) in from_json::<Vec<UserColumns>>("users", &text)? {
                        recipients.insert(id.clone(), recipient(id, nickname, settings.as_deref())?);
                    }
                } else {
                    let text: String = row.try_get("devices").map_err(backend)?;
                    for columns in from_json::<Vec<DeviceColumns>>("devices", &text)? {
                        let device = device_from_columns(columns)?;
                        if let Some(recipient) = recipients.get_mut(&device.user_id) {
                            recipient.devices.push(device);
                        }
                    }
                }
            }
        }
        for recipient in recipients.values_mut() {
            recipient.devices.sort_by(|a, b| a.device_id.cmp(&b.device_id));
        }
        Ok(recipients.into_values().collect())
    }
}

//! Messages, inboxes and delivery records as the API reads them. Writing a message and reading
//! its recipients are where the databases differ most (see the backend's `commit.rs` and
//! `recipients.rs`); everything else is here once.

use super::deliveries::{DELIVERY_COLUMNS, delivery_from_row};
use super::dialect;
use super::users::push_settings_from;
use super::{Backend, Connection};
use crate::sql::{backend, from_json, to_json};
use async_trait::async_trait;
use herald_core::delivery::{DeliveryPlan, DeliveryRecord, DeliveryState, PushJob};
use herald_core::message::Message;
use herald_core::store::{InboxKey, MessageStore, Purged, Recipient, StoreResult};
use herald_core::{DeviceKey, Millis, StoreError, Vendor};
use sqlx::Row;
use std::collections::BTreeMap;

/// A message commit as the backends receive it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MessageCommit<'a> {
    /// The message.
    pub message: &'a Message,
    /// The users whose inbox gets it (each gets the next number of its sequence).
    pub inbox_users: &'a [String],
    /// What happens on each device; the pushes among them are the jobs.
    pub plans: &'a [DeliveryPlan],
    /// Until when the jobs are leased to the committing node, for `commit_message_leased`.
    pub lease_until: Option<Millis>,
}

/// What a message commit returns: each inbox user's sequence number, the leased jobs.
pub(crate) type Committed = (BTreeMap<String, i64>, Vec<PushJob>);

/// Writes the message row itself, the first statement of a message commit.
pub(crate) async fn insert_message(tx: &mut Connection, message: &Message) -> StoreResult<()> {
    sqlx::query("INSERT INTO messages (app_id, id, sender, body, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(message.app_id.as_str())
        .bind(&message.id)
        .bind(&message.from)
        .bind(to_json(message))
        .bind(message.created_at)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    Ok(())
}

/// A recipient as read from the users table, before its devices are added.
pub(crate) fn recipient(
    id: String,
    nickname: Option<String>,
    settings: Option<&str>,
) -> StoreResult<Recipient> {
    Ok(Recipient {
        user_id: id,
        nickname,
        settings: push_settings_from(settings)?,
        devices: Vec::new(),
    })
}

#[async_trait]
impl MessageStore for Backend {
    async fn recipients(&self, app: &str, users: &[String]) -> StoreResult<Vec<Recipient>> {
        self.read_recipients(app, users).await
    }

    async fn group_members(&self, app: &str, group: &str) -> StoreResult<Vec<String>> {
        let exists = sqlx::query("SELECT 1 FROM chat_groups WHERE app_id = $1 AND id = $2")
            .bind(app)
            .bind(group)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        if exists.is_none() {
            return Err(StoreError::not_found("group", group));
        }
        // One row, a JSON array the database builds, instead of a row per member: on SQLite
        // each row is a hand-over from the connection's thread.
        let members = dialect::JSON_ARRAY_OF_USER_IDS;
        let row = sqlx::query(&format!(
            "SELECT {members} AS members FROM group_members WHERE app_id = $1 AND group_id = $2"
        ))
        .bind(app)
        .bind(group)
        .fetch_one(&self.pool)
        .await
        .map_err(backend)?;
        let mut members: Vec<String> = from_json(
            "group_members",
            &row.try_get::<String, _>("members").map_err(backend)?,
        )?;
        members.sort_unstable();
        Ok(members)
    }

    async fn commit_message(
        &self,
        message: &Message,
        inbox_users: &[String],
        plans: &[DeliveryPlan],
    ) -> StoreResult<BTreeMap<String, i64>> {
        let commit = MessageCommit {
            message,
            inbox_users,
            plans,
            lease_until: None,
        };
        Ok(self.commit(commit).await?.0)
    }

    async fn commit_message_leased(
        &self,
        message: &Message,
        inbox_users: &[String],
        plans: &[DeliveryPlan],
        lease_until: Millis,
    ) -> StoreResult<(BTreeMap<String, i64>, Vec<PushJob>)> {
        let commit = MessageCommit {
            message,
            inbox_users,
            plans,
            lease_until: Some(lease_until),
        };
        self.commit(commit).await
    }

    async fn get_message(&self, app: &str, id: &str) -> StoreResult<Message> {
        let row = sqlx::query("SELECT body FROM messages WHERE app_id = $1 AND id = $2")
            .bind(app)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?
            .ok_or_else(|| StoreError::not_found("message", id))?;
        from_json(
            "messages.body",
            &row.try_get::<String, _>("body").map_err(backend)?,
        )
    }

    async fn inbox_after(
        &self,
        app: &str,
        user: &str,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<(i64, Message)>> {
        let rows = sqlx::query(
            "SELECT i.seq, m.body FROM inbox i JOIN messages m ON m.app_id = i.app_id AND m.id = i.message_id \
             WHERE i.app_id = $1 AND i.user_id = $2 AND i.seq > $3 ORDER BY i.seq LIMIT $4",
        )
        .bind(app)
        .bind(user)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                let seq: i64 = r.try_get("seq").map_err(backend)?;
                Ok((
                    seq,
                    from_json("messages.body", &r.try_get::<String, _>("body").map_err(backend)?)?,
                ))
            })
            .collect()
    }

    /// The acknowledged sequence number only moves forward.
    async fn ack(&self, key: &DeviceKey, seq: i64) -> StoreResult<()> {
        sqlx::query(
            "UPDATE devices SET acked_seq = $4 \
             WHERE app_id = $1 AND user_id = $2 AND device_id = $3 AND acked_seq < $4",
        )
        .bind(&key.app)
        .bind(&key.user)
        .bind(&key.device)
        .bind(seq)
        .execute(&mut *self.writer().await?)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn acked(&self, key: &DeviceKey) -> StoreResult<i64> {
        let row = sqlx::query(
            "SELECT acked_seq FROM devices WHERE app_id = $1 AND user_id = $2 AND device_id = $3",
        )
        .bind(&key.app)
        .bind(&key.user)
        .bind(&key.device)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        Ok(row
            .map(|r| r.try_get("acked_seq"))
            .transpose()
            .map_err(backend)?
            .unwrap_or(0))
    }

    async fn message_deliveries(&self, app: &str, message: &str) -> StoreResult<Vec<DeliveryRecord>> {
        let deliveries = dialect::DELIVERIES_OF_MESSAGE;
        let rows = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM {deliveries} WHERE app_id = $1 AND message_id = $2 \
             ORDER BY user_id, device_id"
        ))
        .bind(app)
        .bind(message)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(delivery_from_row).collect()
    }

    async fn device_deliveries(&self, key: &DeviceKey, limit: u32) -> StoreResult<Vec<DeliveryRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE app_id = $1 AND user_id = $2 AND device_id = $3 \
             ORDER BY id DESC LIMIT $4"
        ))
        .bind(&key.app)
        .bind(&key.user)
        .bind(&key.device)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(delivery_from_row).collect()
    }

    async fn delivery_counts(&self, app: &str) -> StoreResult<Vec<(Vendor, DeliveryState, i64)>> {
        let rows = sqlx::query(
            "SELECT vendor, state, COUNT(*) AS n FROM deliveries WHERE app_id = $1 AND vendor IS NOT NULL \
             GROUP BY vendor, state ORDER BY vendor, state",
        )
        .bind(app)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                let vendor: String = r.try_get("vendor").map_err(backend)?;
                let state: String = r.try_get("state").map_err(backend)?;
                Ok((
                    vendor.parse().map_err(|e: herald_core::vendor::UnknownVendor| {
                        StoreError::Corrupt(e.to_string())
                    })?,
                    DeliveryState::parse(&state)
                        .ok_or_else(|| StoreError::Corrupt(format!("delivery state `{state}`")))?,
                    r.try_get("n").map_err(backend)?,
                ))
            })
            .collect()
    }

    async fn purge_old(
        &self,
        messages_before: Millis,
        deliveries_before: Millis,
        limit: u32,
    ) -> StoreResult<Purged> {
        let mut tx = self.write().await?;
        let messages = purge(&mut tx, PURGE_MESSAGES, messages_before, limit).await?;
        let deliveries = purge(&mut tx, PURGE_DELIVERIES, deliveries_before, limit).await?;
        // Quota counts are needed for the vendor's day only; a week is kept to look back on.
        let week_ago = herald_core::now_millis().div_euclid(86_400_000) - 7;
        sqlx::query("DELETE FROM quota_usage WHERE day < $1")
            .bind(week_ago)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(Purged {
            messages,
            inbox: 0,
            deliveries,
        })
    }

    async fn sweep_inbox(&self, after: &InboxKey, limit: u32) -> StoreResult<(u64, Option<InboxKey>)> {
        // The last entry of this window, if the inbox goes on that far.
        let last = sqlx::query(
            "SELECT app_id, user_id, seq FROM inbox WHERE (app_id, user_id, seq) > ($1, $2, $3) \
             ORDER BY app_id, user_id, seq LIMIT 1 OFFSET $4",
        )
        .bind(&after.app)
        .bind(&after.user)
        .bind(after.seq)
        .bind(i64::from(limit.max(1)) - 1)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        let next = match last {
            Some(row) => Some(InboxKey {
                app: row.try_get("app_id").map_err(backend)?,
                user: row.try_get("user_id").map_err(backend)?,
                seq: row.try_get("seq").map_err(backend)?,
            }),
            None => None,
        };
        // Without a last entry the window runs to the end: past every app id.
        let end = next.clone().unwrap_or(InboxKey {
            app: "\u{10ffff}".into(),
            user: String::new(),
            seq: i64::MAX,
        });
        let deleted = sqlx::query(
            "DELETE FROM inbox WHERE (app_id, user_id, seq) > ($1, $2, $3) AND (app_id, user_id, seq) <= ($4, $5, $6) \
             AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.app_id = inbox.app_id AND m.id = inbox.message_id)",
        )
        .bind(&after.app)
        .bind(&after.user)
        .bind(after.seq)
        .bind(&end.app)
        .bind(&end.user)
        .bind(end.seq)
        .execute(&mut *self.writer().await?)
        .await
        .map_err(backend)?
        .rows_affected();
        Ok((deleted, next))
    }
}

/// Runs one of the purge statements (`$1` the cut-off, `$2` the batch size); rows deleted.
async fn purge(tx: &mut Connection, statement: &str, before: Millis, limit: u32) -> StoreResult<u64> {
    Ok(sqlx::query(statement)
        .bind(before)
        .bind(i64::from(limit))
        .execute(&mut *tx)
        .await
        .map_err(backend)?
        .rows_affected())
}

/// The oldest messages created before `$1`, at most `$2` (the `messages_created` index).
const PURGE_MESSAGES: &str = "DELETE FROM messages WHERE (app_id, id) IN ( \
       SELECT app_id, id FROM messages WHERE created_at < $1 ORDER BY created_at, app_id, id LIMIT $2)";

/// Among the `$2` oldest finished delivery records, those created before `$1`. Ids grow with
/// time, so this looks at the start of the table only (passing over the open jobs there),
/// never through all of it; open jobs, however old, are never deleted.
const PURGE_DELIVERIES: &str = "DELETE FROM deliveries WHERE id IN ( \
       SELECT id FROM (SELECT id, created_at FROM deliveries WHERE state NOT IN ('queued', 'in_flight') \
                       ORDER BY id LIMIT $2) AS oldest \
       WHERE created_at < $1)";

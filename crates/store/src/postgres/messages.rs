//! Messages, inboxes and delivery records. `commit_message` writes a message, every inbox
//! entry, every delivery decision and every push job in one transaction, with a fixed handful
//! of statements whatever the number of recipients: the rows travel as arrays and `UNNEST`
//! turns them back into rows on the server.

use super::jobs::{JOB_COLUMNS, job_from_row};
use super::{PgStore, backend, from_json, to_json};
use async_trait::async_trait;
use herald_core::delivery::{Attempt, DeliveryPlan, DeliveryRecord, DeliveryState, PushJob};
use herald_core::message::Message;
use herald_core::store::{MessageStore, Recipient, StoreResult};
use herald_core::{Millis, PushSettings, StoreError, Vendor, now_millis};
use serde_json::Value;
use sqlx::Row;
use sqlx::postgres::PgRow;
use std::collections::{BTreeMap, BTreeSet, HashMap};

pub(crate) const DELIVERY_COLUMNS: &str = "id, message_id, user_id, device_id, decision, reason, vendor, certificate_id, \
     state, attempts, vendor_code, vendor_msg_id, attempt_log, created_at, updated_at";

pub(crate) fn delivery_from_row(row: &PgRow) -> StoreResult<DeliveryRecord> {
    let text = |c: &str| -> StoreResult<String> { row.try_get(c).map_err(backend) };
    let vendor: Option<String> = row.try_get("vendor").map_err(backend)?;
    let state = text("state")?;
    let attempts: i64 = row.try_get("attempts").map_err(backend)?;
    let log: Value = row.try_get("attempt_log").map_err(backend)?;
    Ok(DeliveryRecord {
        id: row.try_get("id").map_err(backend)?,
        message_id: text("message_id")?,
        user_id: text("user_id")?,
        device_id: text("device_id")?,
        decision: text("decision")?,
        reason: text("reason")?,
        vendor: vendor
            .map(|v| v.parse::<Vendor>())
            .transpose()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        certificate_id: row.try_get("certificate_id").map_err(backend)?,
        state: DeliveryState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("delivery state `{state}`")))?,
        attempts: u32::try_from(attempts).unwrap_or(0),
        vendor_code: row.try_get("vendor_code").map_err(backend)?,
        vendor_msg_id: row.try_get("vendor_msg_id").map_err(backend)?,
        log: serde_json::from_value::<Vec<Attempt>>(log)
            .map_err(|e| StoreError::Corrupt(format!("attempt_log: {e}")))?,
        created_at: row.try_get("created_at").map_err(backend)?,
        updated_at: row.try_get("updated_at").map_err(backend)?,
    })
}

/// The delivery rows of a message as column arrays, for one `INSERT … SELECT FROM UNNEST`.
#[derive(Default)]
struct DeliveryColumns<'a> {
    user_id: Vec<&'a str>,
    device_id: Vec<&'a str>,
    decision: Vec<&'static str>,
    reason: Vec<&'static str>,
    certificate_id: Vec<Option<i64>>,
    vendor: Vec<Option<&'static str>>,
    token: Vec<Option<&'a str>>,
    badge: Vec<i64>,
    sound: Vec<Option<&'a str>>,
    state: Vec<&'static str>,
    expires_at: Vec<i64>,
}

impl<'a> DeliveryColumns<'a> {
    fn new(plans: &'a [DeliveryPlan], badges: &HashMap<(String, String), i64>) -> Self {
        let mut columns = DeliveryColumns::default();
        for plan in plans {
            let state = match (&plan.push, plan.decision.live()) {
                (Some(_), _) => DeliveryState::Queued,
                (None, true) => DeliveryState::Live,
                (None, false) => DeliveryState::Skipped,
            };
            let badge = badges
                .get(&(plan.user_id.clone(), plan.device_id.clone()))
                .copied()
                .unwrap_or(0);
            let push = plan.push.as_ref();
            columns.user_id.push(&plan.user_id);
            columns.device_id.push(&plan.device_id);
            columns.decision.push(plan.decision.as_str());
            columns.reason.push(plan.reason.as_str());
            columns.certificate_id.push(push.map(|p| p.certificate_id));
            columns.vendor.push(push.map(|p| p.vendor.as_str()));
            columns.token.push(push.map(|p| p.token.as_str()));
            columns.badge.push(badge);
            columns.sound.push(push.and_then(|p| p.sound.as_deref()));
            columns.state.push(state.as_str());
            columns.expires_at.push(push.map(|p| p.expires_at).unwrap_or(0));
        }
        columns
    }
}

#[async_trait]
impl MessageStore for PgStore {
    async fn recipients(&self, app: &str, users: &[String]) -> StoreResult<Vec<Recipient>> {
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
            let settings: Option<String> = row.try_get("push_settings").map_err(backend)?;
            let settings = match settings {
                Some(text) => from_json::<PushSettings>("push_settings", &text)?,
                None => PushSettings::default(),
            };
            recipients.insert(
                id.clone(),
                Recipient {
                    user_id: id,
                    nickname: row.try_get("nickname").map_err(backend)?,
                    settings,
                    devices: Vec::new(),
                },
            );
        }
        let rows = sqlx::query(&format!(
            "SELECT {} FROM devices WHERE app_id = $1 AND user_id = ANY($2) ORDER BY user_id, device_id",
            super::devices::COLUMNS
        ))
        .bind(app)
        .bind(users)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        for row in rows {
            let device = super::devices::device_from_row(&row)?;
            if let Some(recipient) = recipients.get_mut(&device.user_id) {
                recipient.devices.push(device);
            }
        }
        Ok(recipients.into_values().collect())
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
        let rows = sqlx::query(
            "SELECT user_id FROM group_members WHERE app_id = $1 AND group_id = $2 ORDER BY user_id",
        )
        .bind(app)
        .bind(group)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| r.try_get("user_id").map_err(backend))
            .collect()
    }

    /// Concurrent sends to overlapping groups lock the same rows: users are locked in id order
    /// and devices in (user, device) order, so one send waits for the other instead of both
    /// waiting for each other. `NO KEY UPDATE` is the lock an update of these columns needs
    /// anyway, and it lets foreign-key checks on the same rows (a device bound meanwhile) pass.
    async fn commit_message(
        &self,
        message: &Message,
        inbox_users: &[String],
        plans: &[DeliveryPlan],
    ) -> StoreResult<BTreeMap<String, i64>> {
        Ok(self.commit(message, inbox_users, plans, None).await?.0)
    }

    async fn commit_message_leased(
        &self,
        message: &Message,
        inbox_users: &[String],
        plans: &[DeliveryPlan],
        lease_until: Millis,
    ) -> StoreResult<(BTreeMap<String, i64>, Vec<PushJob>)> {
        self.commit(message, inbox_users, plans, Some(lease_until)).await
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

    async fn ack(&self, app: &str, user: &str, device: &str, seq: i64) -> StoreResult<()> {
        sqlx::query(
            "UPDATE devices SET acked_seq = GREATEST(acked_seq, $4) WHERE app_id = $1 AND user_id = $2 AND device_id = $3",
        )
        .bind(app)
        .bind(user)
        .bind(device)
        .bind(seq)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn acked(&self, app: &str, user: &str, device: &str) -> StoreResult<i64> {
        let row = sqlx::query(
            "SELECT acked_seq FROM devices WHERE app_id = $1 AND user_id = $2 AND device_id = $3",
        )
        .bind(app)
        .bind(user)
        .bind(device)
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
        let rows = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE app_id = $1 AND message_id = $2 ORDER BY user_id, device_id"
        ))
        .bind(app)
        .bind(message)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(delivery_from_row).collect()
    }

    async fn device_deliveries(
        &self,
        app: &str,
        user: &str,
        device: &str,
        limit: u32,
    ) -> StoreResult<Vec<DeliveryRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE app_id = $1 AND user_id = $2 AND device_id = $3 \
             ORDER BY id DESC LIMIT $4"
        ))
        .bind(app)
        .bind(user)
        .bind(device)
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
}

impl PgStore {
    /// The message commit, leasing the push jobs to the caller when `lease_until` is given.
    async fn commit(
        &self,
        message: &Message,
        inbox_users: &[String],
        plans: &[DeliveryPlan],
        lease_until: Option<Millis>,
    ) -> StoreResult<(BTreeMap<String, i64>, Vec<PushJob>)> {
        let app = message.app_id.as_str();
        let now = now_millis();
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO messages (app_id, id, sender, body, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(app)
        .bind(&message.id)
        .bind(&message.from)
        .bind(to_json(message))
        .bind(message.created_at)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;

        // Each inbox user's next sequence number, and the inbox rows, in one statement.
        let mut seqs = BTreeMap::new();
        if !inbox_users.is_empty() {
            sqlx::query(
                "SELECT 1 FROM users WHERE app_id = $1 AND id = ANY($2) ORDER BY id FOR NO KEY UPDATE",
            )
            .bind(app)
            .bind(inbox_users)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
            let rows = sqlx::query(
                "WITH next AS ( \
                   UPDATE users SET last_seq = last_seq + 1 WHERE app_id = $1 AND id = ANY($2) \
                   RETURNING id, last_seq) \
                 INSERT INTO inbox (app_id, user_id, seq, message_id) \
                 SELECT $1, id, last_seq, $3 FROM next RETURNING user_id, seq",
            )
            .bind(app)
            .bind(inbox_users)
            .bind(&message.id)
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
            for row in rows {
                seqs.insert(
                    row.try_get::<String, _>("user_id").map_err(backend)?,
                    row.try_get::<i64, _>("seq").map_err(backend)?,
                );
            }
        }

        // Every pushed device's badge goes up by one; the job carries the new number.
        let pushed: BTreeSet<(&str, &str)> = plans
            .iter()
            .filter(|p| p.push.is_some())
            .map(|p| (p.user_id.as_str(), p.device_id.as_str()))
            .collect();
        let mut badges: HashMap<(String, String), i64> = HashMap::new();
        if !pushed.is_empty() {
            let (users, devices): (Vec<&str>, Vec<&str>) = pushed.into_iter().unzip();
            sqlx::query(
                "SELECT 1 FROM devices d \
                 JOIN UNNEST($2::text[], $3::text[]) AS p (user_id, device_id) \
                   ON d.user_id = p.user_id AND d.device_id = p.device_id \
                 WHERE d.app_id = $1 ORDER BY d.user_id, d.device_id FOR NO KEY UPDATE OF d",
            )
            .bind(app)
            .bind(&users)
            .bind(&devices)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
            let rows = sqlx::query(
                "UPDATE devices d SET badge = d.badge + 1 \
                 FROM UNNEST($2::text[], $3::text[]) AS p (user_id, device_id) \
                 WHERE d.app_id = $1 AND d.user_id = p.user_id AND d.device_id = p.device_id \
                 RETURNING d.user_id, d.device_id, d.badge",
            )
            .bind(app)
            .bind(&users)
            .bind(&devices)
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
            for row in rows {
                badges.insert(
                    (
                        row.try_get("user_id").map_err(backend)?,
                        row.try_get("device_id").map_err(backend)?,
                    ),
                    row.try_get("badge").map_err(backend)?,
                );
            }
        }

        if !plans.is_empty() {
            // Rows are inserted in plan order (ordinality), so ids ascend as on SQLite.
            let c = DeliveryColumns::new(plans, &badges);
            sqlx::query(
                "INSERT INTO deliveries (app_id, message_id, user_id, device_id, decision, reason, \
                   certificate_id, vendor, token, badge, sound, state, expires_at, created_at, updated_at) \
                 SELECT $1, $2, p.user_id, p.device_id, p.decision, p.reason, p.certificate_id, p.vendor, \
                   p.token, p.badge, p.sound, p.state, p.expires_at, $3, $3 \
                 FROM UNNEST($4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::text[], \
                   $10::text[], $11::bigint[], $12::text[], $13::text[], $14::bigint[]) WITH ORDINALITY \
                   AS p (user_id, device_id, decision, reason, certificate_id, vendor, token, badge, sound, \
                     state, expires_at, n) \
                 ORDER BY p.n",
            )
            .bind(app)
            .bind(&message.id)
            .bind(now)
            .bind(&c.user_id)
            .bind(&c.device_id)
            .bind(&c.decision)
            .bind(&c.reason)
            .bind(&c.certificate_id)
            .bind(&c.vendor)
            .bind(&c.token)
            .bind(&c.badge)
            .bind(&c.sound)
            .bind(&c.state)
            .bind(&c.expires_at)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        let mut leased = Vec::new();
        if let Some(lease_until) = lease_until {
            leased = sqlx::query(&format!(
                "UPDATE deliveries SET state = 'in_flight', lease_until = $3 \
                 WHERE app_id = $1 AND message_id = $2 AND state = 'queued' RETURNING {JOB_COLUMNS}"
            ))
            .bind(app)
            .bind(&message.id)
            .bind(lease_until)
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?
            .iter()
            .map(job_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
            leased.sort_by_key(|j| j.id);
        }
        tx.commit().await.map_err(backend)?;
        Ok((seqs, leased))
    }
}

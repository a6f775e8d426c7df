//! Messages, inboxes and delivery records. `commit_message` writes a message, every inbox
//! entry, every delivery decision and every push job in one transaction, with multi-row
//! statements so that a group message to thousands of members stays one short transaction.

use super::{SqliteStore, backend, from_json, to_json};
use async_trait::async_trait;
use herald_core::delivery::{Attempt, DeliveryPlan, DeliveryRecord, DeliveryState, PlannedPush, PushJob};
use herald_core::message::Message;
use herald_core::store::{MessageStore, Recipient, StoreResult};
use herald_core::{Millis, PushSettings, StoreError, Vendor, now_millis};
use sqlx::query_builder::Separated;
use sqlx::sqlite::SqliteRow;
use sqlx::{Column, QueryBuilder, Row, Sqlite, SqliteConnection};
use std::collections::{BTreeMap, HashMap};
use tokio::sync::oneshot;

/// Rows per multi-row statement (SQLite allows 32,766 bound parameters).
const CHUNK: usize = 500;

/// A user as `recipients` reads it: id, nickname, push settings (JSON text).
type UserColumns = (String, Option<String>, Option<String>);

pub(crate) const DELIVERY_COLUMNS: &str = "id, message_id, user_id, device_id, decision, reason, vendor, certificate_id, \
     state, attempts, vendor_code, vendor_msg_id, attempt_log, created_at, updated_at";

pub(crate) fn delivery_from_row(row: &SqliteRow) -> StoreResult<DeliveryRecord> {
    let text = |c: &str| -> StoreResult<String> { row.try_get(c).map_err(backend) };
    let vendor: Option<String> = row.try_get("vendor").map_err(backend)?;
    let state = text("state")?;
    let attempts: i64 = row.try_get("attempts").map_err(backend)?;
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
        log: from_json::<Vec<Attempt>>("attempt_log", &text("attempt_log")?)?,
        created_at: row.try_get("created_at").map_err(backend)?,
        updated_at: row.try_get("updated_at").map_err(backend)?,
    })
}

#[async_trait]
impl MessageStore for SqliteStore {
    /// Per chunk of users, one round trip of two statements, each answering with one row: a
    /// JSON array SQLite builds of the users, then of their devices. sqlx hands rows from the
    /// connection's thread to the caller one message at a time, and for a large group that
    /// hand-over (thread wake-ups, ~7 µs a row) cost more than the read itself.
    async fn recipients(&self, app: &str, users: &[String]) -> StoreResult<Vec<Recipient>> {
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
                "); SELECT json_group_array(json_array({})) AS devices FROM devices WHERE app_id = ",
                super::devices::COLUMNS
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
                        let settings = match settings {
                            Some(text) => from_json::<PushSettings>("push_settings", &text)?,
                            None => PushSettings::default(),
                        };
                        recipients.insert(
                            id.clone(),
                            Recipient {
                                user_id: id,
                                nickname,
                                settings,
                                devices: Vec::new(),
                            },
                        );
                    }
                } else {
                    let text: String = row.try_get("devices").map_err(backend)?;
                    for columns in from_json::<Vec<super::devices::DeviceColumns>>("devices", &text)? {
                        let device = super::devices::device_from_columns(columns)?;
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
        // One row, a JSON array SQLite builds, instead of a row per member (see `recipients`).
        let row = sqlx::query(
            "SELECT json_group_array(user_id) AS members FROM group_members WHERE app_id = $1 AND group_id = $2",
        )
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
            "UPDATE devices SET acked_seq = MAX(acked_seq, $4) WHERE app_id = $1 AND user_id = $2 AND device_id = $3",
        )
        .bind(app)
        .bind(user)
        .bind(device)
        .bind(seq)
        .execute(&mut *self.writer().await?)
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

    /// Without statistics SQLite prefers the per-device index for the `ORDER BY` and then
    /// reads every delivery of the app; the message index reads only this message's rows.
    async fn message_deliveries(&self, app: &str, message: &str) -> StoreResult<Vec<DeliveryRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries INDEXED BY deliveries_message \
             WHERE app_id = $1 AND message_id = $2 ORDER BY user_id, device_id"
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

/// What a message commit returns: each inbox user's sequence number, the leased jobs.
type Committed = (BTreeMap<String, i64>, Vec<PushJob>);

/// Messages with at most this many delivery rows share write transactions (group commit);
/// larger ones are worth a transaction of their own, and copying them would cost memory.
const GROUP_COMMIT_MAX_PLANS: usize = 256;

/// A small message commit waiting for the writer.
#[derive(Debug)]
pub(crate) struct PendingCommit {
    message: Message,
    inbox_users: Vec<String>,
    plans: Vec<DeliveryPlan>,
    lease_until: Option<Millis>,
    reply: oneshot::Sender<StoreResult<Committed>>,
}

impl SqliteStore {
    /// The message commit, leasing the push jobs to the caller when `lease_until` is given.
    ///
    /// SQLite has one writer, and at a thousand messages a second the cost of each write
    /// transaction (taking the lock, the commit, its pages in the WAL) is what limits. Small
    /// commits therefore queue; whoever gets the writer next writes every queued one in one
    /// transaction. Should one of them fail, the group is rolled back and each is written
    /// alone, so a bad message never takes the others down with it.
    async fn commit(
        &self,
        message: &Message,
        inbox_users: &[String],
        plans: &[DeliveryPlan],
        lease_until: Option<Millis>,
    ) -> StoreResult<Committed> {
        if plans.len() > GROUP_COMMIT_MAX_PLANS {
            let mut tx = self.write().await?;
            let committed = write_message(&mut tx, message, inbox_users, plans, lease_until).await?;
            tx.commit().await.map_err(backend)?;
            return Ok(committed);
        }
        let (reply, answer) = oneshot::channel();
        self.commits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(PendingCommit {
                message: message.clone(),
                inbox_users: inbox_users.to_vec(),
                plans: plans.to_vec(),
                lease_until,
                reply,
            });
        let turn = self.writer.clone().lock_owned().await;
        let group = std::mem::take(
            &mut *self
                .commits
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        if group.is_empty() {
            // Another caller's group took this commit. The turn goes back before waiting: should
            // that group fail, it retries its commits one by one, each needing the turn again.
            drop(turn);
        } else {
            // A task of its own: a caller that goes away (its client hung up) must not abort
            // the others' commits.
            let store = self.clone();
            let _ = tokio::spawn(async move { store.commit_group(turn, group).await }).await;
        }
        answer
            .await
            .unwrap_or_else(|_| Err(StoreError::Backend("the message commit was abandoned".into())))
    }

    /// Writes a group of small commits as one transaction. The transaction's `BEGIN` rides
    /// with the first message's statements and its `COMMIT` with the last one's, so a lone
    /// message (most of them, at a thousand a second) is one round trip to the connection's
    /// thread instead of three, and holds the writer that much shorter.
    async fn commit_group(&self, turn: tokio::sync::OwnedMutexGuard<()>, group: Vec<PendingCommit>) {
        let mut conn = match self.writes.acquire().await {
            Ok(conn) => conn,
            Err(error) => {
                let reason = error.to_string();
                for pending in group {
                    let _ = pending
                        .reply
                        .send(Err(StoreError::Backend(reason.clone().into())));
                }
                return;
            }
        };
        let last = group.len().saturating_sub(1);
        let mut written = Vec::with_capacity(group.len());
        for (i, p) in group.iter().enumerate() {
            let frame = Frame {
                begin: i == 0,
                commit: i == last,
            };
            match write_small_message(
                &mut conn,
                &p.message,
                &p.inbox_users,
                &p.plans,
                p.lease_until,
                frame,
            )
            .await
            {
                Ok(committed) => written.push(committed),
                Err(_) => break,
            }
        }
        let committed = written.len() == group.len();
        if !committed {
            // A failed statement (or commit) may leave the transaction open: end it before
            // anyone else writes. Should even that fail, the connection's state is unknown
            // (SQLite may have ended the transaction itself): it is given up, and the pool
            // opens a fresh one.
            if sqlx::query("ROLLBACK").execute(&mut *conn).await.is_err() {
                conn.close_on_drop();
            }
        }
        // The writer turn goes back before the commits are retried one by one below.
        drop(conn);
        drop(turn);
        if committed {
            for (pending, committed) in group.into_iter().zip(written) {
                let _ = pending.reply.send(Ok(committed));
            }
            return;
        }
        // One of them failed (or the commit did): each on its own, to give each its answer.
        for pending in group {
            let alone = async {
                let mut tx = self.write().await?;
                let committed = write_message(
                    &mut tx,
                    &pending.message,
                    &pending.inbox_users,
                    &pending.plans,
                    pending.lease_until,
                )
                .await?;
                tx.commit().await.map_err(backend)?;
                Ok(committed)
            };
            let _ = pending.reply.send(alone.await);
        }
    }
}

/// Where a message's statements sit in its group's transaction.
#[derive(Debug, Clone, Copy)]
struct Frame {
    /// The statements open the transaction.
    begin: bool,
    /// The statements close it.
    commit: bool,
}

/// [`write_message`] for a small message, in one round trip to the connection's thread: the
/// statements go as one multi-statement query, the inbox rows take their numbers and the
/// delivery rows their badges from the rows updated just before them, and the rows every
/// `RETURNING` gives come back together (told apart by their columns).
async fn write_small_message(
    conn: &mut SqliteConnection,
    message: &Message,
    inbox_users: &[String],
    plans: &[DeliveryPlan],
    lease_until: Option<Millis>,
    frame: Frame,
) -> StoreResult<Committed> {
    let app = message.app_id.as_str();
    let now = now_millis();
    let mut q = QueryBuilder::<Sqlite>::new(if frame.begin { "BEGIN IMMEDIATE;" } else { "" });
    q.push("INSERT INTO messages (app_id, id, sender, body, created_at) VALUES (");
    {
        let mut values = q.separated(", ");
        values
            .push_bind(app)
            .push_bind(&message.id)
            .push_bind(&message.from)
            .push_bind(to_json(message))
            .push_bind(message.created_at);
    }
    q.push(");");
    if !inbox_users.is_empty() {
        q.push("UPDATE users SET last_seq = last_seq + 1 WHERE app_id = ");
        q.push_bind(app).push(" AND id IN (");
        let mut list = q.separated(", ");
        for user in inbox_users {
            list.push_bind(user);
        }
        q.push(") RETURNING id AS seq_user, last_seq;");
        q.push("INSERT INTO inbox (app_id, user_id, seq, message_id) SELECT app_id, id, last_seq, ");
        q.push_bind(&message.id).push(" FROM users WHERE app_id = ");
        q.push_bind(app).push(" AND id IN (");
        let mut list = q.separated(", ");
        for user in inbox_users {
            list.push_bind(user);
        }
        q.push(");");
    }
    let pushed: Vec<&DeliveryPlan> = plans.iter().filter(|p| p.push.is_some()).collect();
    if !pushed.is_empty() {
        // The user ids narrow the rows through the primary key; the pairs pick the devices.
        q.push("UPDATE devices SET badge = badge + 1 WHERE app_id = ");
        q.push_bind(app).push(" AND user_id IN (");
        let mut users = q.separated(", ");
        for plan in &pushed {
            users.push_bind(&plan.user_id);
        }
        q.push(") AND (user_id || char(31) || device_id) IN (");
        let mut pairs = q.separated(", ");
        for plan in &pushed {
            pairs.push_bind(format!("{}\u{1f}{}", plan.user_id, plan.device_id));
        }
        q.push(");");
    }
    if !plans.is_empty() {
        q.push(INSERT_DELIVERIES);
        q.push_values(plans, |mut row, plan| {
            bind_delivery(&mut row, message, plan, lease_until, now);
            if plan.push.is_some() {
                row.push("COALESCE((SELECT badge FROM devices WHERE app_id = ")
                    .push_bind_unseparated(app)
                    .push_unseparated(" AND user_id = ")
                    .push_bind_unseparated(&plan.user_id)
                    .push_unseparated(" AND device_id = ")
                    .push_bind_unseparated(&plan.device_id)
                    .push_unseparated("), 0)");
            } else {
                row.push("0");
            }
        });
        q.push(" RETURNING id, user_id, device_id, badge;");
    }
    if frame.commit {
        q.push("COMMIT;");
    }
    let mut seqs = BTreeMap::new();
    let mut rows: HashMap<(String, String), (i64, i64)> = HashMap::new();
    for row in q.build().fetch_all(&mut *conn).await.map_err(backend)? {
        if row.columns().iter().any(|c| c.name() == "last_seq") {
            seqs.insert(
                row.try_get::<String, _>("seq_user").map_err(backend)?,
                row.try_get::<i64, _>("last_seq").map_err(backend)?,
            );
        } else {
            rows.insert(
                (
                    row.try_get("user_id").map_err(backend)?,
                    row.try_get("device_id").map_err(backend)?,
                ),
                (
                    row.try_get("id").map_err(backend)?,
                    row.try_get::<Option<i64>, _>("badge")
                        .map_err(backend)?
                        .unwrap_or(0),
                ),
            );
        }
    }
    let mut leased = Vec::new();
    for plan in plans.iter().filter(|_| lease_until.is_some()) {
        let Some(push) = &plan.push else { continue };
        let key = (plan.user_id.clone(), plan.device_id.clone());
        let (id, badge) = rows
            .get(&key)
            .copied()
            .ok_or_else(|| StoreError::Corrupt(format!("no delivery row for {key:?}")))?;
        leased.push(leased_job(message, plan, push, id, badge, now));
    }
    leased.sort_by_key(|j| j.id);
    Ok((seqs, leased))
}

/// A new delivery row: the columns [`bind_delivery`] binds, then the badge.
const INSERT_DELIVERIES: &str = "INSERT INTO deliveries (app_id, message_id, user_id, device_id, decision, reason, \
     certificate_id, vendor, token, sound, state, lease_until, expires_at, created_at, updated_at, badge) ";

/// Binds every column of a new delivery row but the badge (see `INSERT_DELIVERIES`).
fn bind_delivery<'args>(
    row: &mut Separated<'_, 'args, Sqlite, &'static str>,
    message: &'args Message,
    plan: &'args DeliveryPlan,
    lease_until: Option<Millis>,
    now: Millis,
) {
    let push = plan.push.as_ref();
    row.push_bind(message.app_id.as_str())
        .push_bind(&message.id)
        .push_bind(&plan.user_id)
        .push_bind(&plan.device_id)
        .push_bind(plan.decision.as_str())
        .push_bind(plan.reason.as_str())
        .push_bind(push.map(|p| p.certificate_id))
        .push_bind(push.map(|p| p.vendor.as_str()))
        .push_bind(push.map(|p| p.token.as_str()))
        .push_bind(push.and_then(|p| p.sound.as_deref()))
        .push_bind(delivery_state(plan, lease_until).as_str())
        .push_bind(push.and(lease_until).unwrap_or(0))
        .push_bind(push.map(|p| p.expires_at).unwrap_or(0))
        .push_bind(now)
        .push_bind(now);
}

/// The state a new delivery row starts in.
fn delivery_state(plan: &DeliveryPlan, lease_until: Option<Millis>) -> DeliveryState {
    match (&plan.push, plan.decision.live(), lease_until) {
        (Some(_), _, Some(_)) => DeliveryState::InFlight,
        (Some(_), _, None) => DeliveryState::Queued,
        (None, true, _) => DeliveryState::Live,
        (None, false, _) => DeliveryState::Skipped,
    }
}

/// The job of a delivery row written leased to the committing node.
fn leased_job(
    message: &Message,
    plan: &DeliveryPlan,
    push: &PlannedPush,
    id: i64,
    badge: i64,
    now: Millis,
) -> PushJob {
    PushJob {
        id,
        app_id: message.app_id.clone(),
        message_id: message.id.clone(),
        user_id: plan.user_id.clone(),
        device_id: plan.device_id.clone(),
        certificate_id: push.certificate_id,
        vendor: push.vendor,
        token: push.token.clone(),
        badge,
        sound: push.sound.clone(),
        attempts: 0,
        expires_at: push.expires_at,
        created_at: now,
    }
}

/// Writes one message with its inbox entries, delivery rows and jobs in the open transaction.
async fn write_message(
    tx: &mut SqliteConnection,
    message: &Message,
    inbox_users: &[String],
    plans: &[DeliveryPlan],
    lease_until: Option<Millis>,
) -> StoreResult<Committed> {
    let app = message.app_id.as_str();
    let now = now_millis();
    sqlx::query("INSERT INTO messages (app_id, id, sender, body, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(app)
        .bind(&message.id)
        .bind(&message.from)
        .bind(to_json(message))
        .bind(message.created_at)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;

    // Each inbox user's next sequence number, then the inbox rows.
    let mut seqs = BTreeMap::new();
    for chunk in inbox_users.chunks(CHUNK) {
        let mut q = QueryBuilder::<Sqlite>::new("UPDATE users SET last_seq = last_seq + 1 WHERE app_id = ");
        q.push_bind(app).push(" AND id IN (");
        let mut list = q.separated(", ");
        for user in chunk {
            list.push_bind(user);
        }
        q.push(") RETURNING id, last_seq");
        for row in q.build().fetch_all(&mut *tx).await.map_err(backend)? {
            seqs.insert(
                row.try_get::<String, _>("id").map_err(backend)?,
                row.try_get::<i64, _>("last_seq").map_err(backend)?,
            );
        }
    }
    let entries: Vec<(&String, &i64)> = seqs.iter().collect();
    for chunk in entries.chunks(CHUNK) {
        let mut q = QueryBuilder::<Sqlite>::new("INSERT INTO inbox (app_id, user_id, seq, message_id) ");
        q.push_values(chunk, |mut row, (user, seq)| {
            row.push_bind(app)
                .push_bind(*user)
                .push_bind(**seq)
                .push_bind(&message.id);
        });
        q.build().execute(&mut *tx).await.map_err(backend)?;
    }

    // Every pushed device's badge goes up by one; the job carries the new number.
    let pushed: Vec<&DeliveryPlan> = plans.iter().filter(|p| p.push.is_some()).collect();
    let mut badges: HashMap<(String, String), i64> = HashMap::new();
    // Per chunk, one statement: the user ids narrow the rows through the primary key, the
    // exact (user, device) pairs then select the devices.
    for chunk in pushed.chunks(CHUNK) {
        let mut q = QueryBuilder::<Sqlite>::new("UPDATE devices SET badge = badge + 1 WHERE app_id = ");
        q.push_bind(app).push(" AND user_id IN (");
        let mut users = q.separated(", ");
        for plan in chunk {
            users.push_bind(&plan.user_id);
        }
        q.push(") AND (user_id || char(31) || device_id) IN (");
        let mut pairs = q.separated(", ");
        for plan in chunk {
            pairs.push_bind(format!("{}\u{1f}{}", plan.user_id, plan.device_id));
        }
        q.push(") RETURNING user_id, device_id, badge");
        for row in q.build().fetch_all(&mut *tx).await.map_err(backend)? {
            badges.insert(
                (
                    row.try_get("user_id").map_err(backend)?,
                    row.try_get("device_id").map_err(backend)?,
                ),
                row.try_get("badge").map_err(backend)?,
            );
        }
    }

    // Leased jobs are written in flight (and read back by their ids) in the same statement.
    let mut leased = Vec::new();
    let mut ids: HashMap<(String, String), i64> = HashMap::new();
    for chunk in plans.chunks(CHUNK) {
        let mut q = QueryBuilder::<Sqlite>::new(INSERT_DELIVERIES);
        q.push_values(chunk, |mut row, plan| {
            bind_delivery(&mut row, message, plan, lease_until, now);
            let badge = badges
                .get(&(plan.user_id.clone(), plan.device_id.clone()))
                .copied()
                .unwrap_or(0);
            row.push_bind(badge);
        });
        if lease_until.is_some() {
            q.push(" RETURNING id, user_id, device_id");
            for row in q.build().fetch_all(&mut *tx).await.map_err(backend)? {
                ids.insert(
                    (
                        row.try_get("user_id").map_err(backend)?,
                        row.try_get("device_id").map_err(backend)?,
                    ),
                    row.try_get("id").map_err(backend)?,
                );
            }
        } else {
            q.build().execute(&mut *tx).await.map_err(backend)?;
        }
    }
    for plan in plans.iter().filter(|_| lease_until.is_some()) {
        let Some(push) = &plan.push else { continue };
        let key = (plan.user_id.clone(), plan.device_id.clone());
        let id = ids
            .get(&key)
            .copied()
            .ok_or_else(|| StoreError::Corrupt(format!("no delivery row for {key:?}")))?;
        let badge = badges.get(&key).copied().unwrap_or(0);
        leased.push(leased_job(message, plan, push, id, badge, now));
    }
    leased.sort_by_key(|j| j.id);
    Ok((seqs, leased))
}

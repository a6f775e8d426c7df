//! Writing a message on SQLite: the message, every inbox entry, every delivery decision and
//! every push job, with multi-row statements so that a group message to thousands of members
//! stays one short transaction. A small message's statements go as one multi-statement query
//! that can carry its group's `BEGIN` and `COMMIT` (see `group_commit.rs`).

use super::portable::messages::{Committed, insert_message};
use crate::sql::{backend, to_json};
use herald_core::delivery::{DeliveryPlan, DeliveryState, PlannedPush, PushJob};
use herald_core::message::Message;
use herald_core::store::StoreResult;
use herald_core::{Millis, StoreError, now_millis};
use sqlx::query_builder::Separated;
use sqlx::{Column, QueryBuilder, Row, Sqlite, SqliteConnection};
use std::collections::{BTreeMap, HashMap};

/// Rows per multi-row statement (SQLite allows 32,766 bound parameters).
const CHUNK: usize = 500;

/// Where a message's statements sit in its group's transaction.
#[derive(Debug, Clone, Copy)]
pub(super) struct Frame {
    /// The statements open the transaction.
    pub(super) begin: bool,
    /// The statements close it.
    pub(super) commit: bool,
}

/// [`write_message`] for a small message, in one round trip to the connection's thread: the
/// statements go as one multi-statement query, the inbox rows take their numbers and the
/// delivery rows their badges from the rows updated just before them, and the rows every
/// `RETURNING` gives come back together (told apart by their columns).
pub(super) async fn write_small_message(
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
pub(super) async fn write_message(
    tx: &mut SqliteConnection,
    message: &Message,
    inbox_users: &[String],
    plans: &[DeliveryPlan],
    lease_until: Option<Millis>,
) -> StoreResult<Committed> {
    let app = message.app_id.as_str();
    let now = now_millis();
    insert_message(tx, message).await?;

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

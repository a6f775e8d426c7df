//! Writing a message on PostgreSQL: the message, every inbox entry, every delivery decision
//! and every push job in one transaction, with a fixed handful of statements whatever the
//! number of recipients: the rows travel as arrays and `UNNEST` turns them back into rows on
//! the server.

use super::PgStore;
use super::portable::deliveries::{JOB_COLUMNS, job_from_row};
use super::portable::messages::{Committed, MessageCommit, insert_message};
use crate::sql::backend;
use herald_core::delivery::{DeliveryPlan, DeliveryState};
use herald_core::now_millis;
use herald_core::store::StoreResult;
use sqlx::Row;
use std::collections::{BTreeMap, BTreeSet, HashMap};

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

impl PgStore {
    /// The message commit, leasing the push jobs to the caller when `lease_until` is given.
    ///
    /// Concurrent sends to overlapping groups lock the same rows: users are locked in id order
    /// and devices in (user, device) order, so one send waits for the other instead of both
    /// waiting for each other. `NO KEY UPDATE` is the lock an update of these columns needs
    /// anyway, and it lets foreign-key checks on the same rows (a device bound meanwhile) pass.
    pub(super) async fn commit(&self, commit: MessageCommit<'_>) -> StoreResult<Committed> {
        let app = commit.message.app_id.as_str();
        let now = now_millis();
        let mut tx = self.write().await?;
        insert_message(&mut tx, commit.message).await?;

        // Each inbox user's next sequence number, and the inbox rows, in one statement.
        let mut seqs = BTreeMap::new();
        if !commit.inbox_users.is_empty() {
            sqlx::query(
                "SELECT 1 FROM users WHERE app_id = $1 AND id = ANY($2) ORDER BY id FOR NO KEY UPDATE",
            )
            .bind(app)
            .bind(commit.inbox_users)
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
            .bind(commit.inbox_users)
            .bind(&commit.message.id)
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
        let pushed: BTreeSet<(&str, &str)> = commit
            .plans
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

        if !commit.plans.is_empty() {
            // Rows are inserted in plan order (ordinality), so ids ascend as on SQLite.
            let c = DeliveryColumns::new(commit.plans, &badges);
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
            .bind(&commit.message.id)
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
        if let Some(lease_until) = commit.lease_until {
            leased = sqlx::query(&format!(
                "UPDATE deliveries SET state = 'in_flight', lease_until = $3 \
                 WHERE app_id = $1 AND message_id = $2 AND state = 'queued' RETURNING {JOB_COLUMNS}"
            ))
            .bind(app)
            .bind(&commit.message.id)
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

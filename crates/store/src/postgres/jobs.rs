//! The shared push job queue: jobs are delivery rows in state `queued`; a dispatcher on any node
//! leases them (`in_flight` until `lease_until`), and a lease that runs out (the node died)
//! makes the job claimable again. Claims skip rows another claim has locked, so nodes claiming
//! at once never take the same job and never wait for each other.

use super::PgStore;
use super::portable::deliveries::{JOB_COLUMNS, job_from_row};
use crate::sql::{backend, to_json};
use async_trait::async_trait;
use herald_core::delivery::{Attempt, JobResult, PushJob};
use herald_core::now_millis;
use herald_core::store::{JobQueue, StoreResult};
use sqlx::Row;
use std::collections::BTreeMap;

/// The results of one job folded together: a batch may hold several attempts at one job, and
/// they apply in order, as separate updates would.
struct Folded<'a> {
    state: &'static str,
    not_before: i64,
    code: Option<&'a str>,
    vendor_msg_id: Option<&'a str>,
    attempts: Vec<&'a Attempt>,
}

impl PgStore {
    /// Records attempt outcomes: one statement for every job's state and attempt log, and one
    /// for the tokens to unbind, whatever the batch size. Rows are locked in key order first
    /// (jobs by id, devices by app, user and device) like every other multi-row writer.
    pub(crate) async fn complete_jobs_in(&self, results: &[JobResult]) -> StoreResult<()> {
        if results.is_empty() {
            return Ok(());
        }
        let mut folded: BTreeMap<i64, Folded<'_>> = BTreeMap::new();
        for result in results {
            let job = folded.entry(result.id).or_insert_with(|| Folded {
                state: result.state.as_str(),
                not_before: 0,
                code: None,
                vendor_msg_id: None,
                attempts: Vec::new(),
            });
            job.state = result.state.as_str();
            job.not_before = result.not_before.unwrap_or(0);
            job.code = result.attempt.code.as_deref();
            job.vendor_msg_id = result.vendor_msg_id.as_deref().or(job.vendor_msg_id);
            job.attempts.push(&result.attempt);
        }
        let ids: Vec<i64> = folded.keys().copied().collect();
        let states: Vec<&str> = folded.values().map(|j| j.state).collect();
        let not_before: Vec<i64> = folded.values().map(|j| j.not_before).collect();
        let codes: Vec<Option<&str>> = folded.values().map(|j| j.code).collect();
        let msg_ids: Vec<Option<&str>> = folded.values().map(|j| j.vendor_msg_id).collect();
        let counts: Vec<i64> = folded.values().map(|j| j.attempts.len() as i64).collect();
        let logs: Vec<String> = folded.values().map(|j| to_json(&j.attempts)).collect();

        let now = now_millis();
        let mut tx = self.write().await?;
        sqlx::query("SELECT 1 FROM deliveries WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE")
            .bind(&ids)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query(
            "UPDATE deliveries d SET state = r.state, attempts = d.attempts + r.count, \
               not_before = r.not_before, lease_until = 0, vendor_code = r.code, \
               vendor_msg_id = COALESCE(r.vendor_msg_id, d.vendor_msg_id), \
               attempt_log = d.attempt_log || r.log::jsonb, updated_at = $8 \
             FROM UNNEST($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::bigint[], \
               $7::text[]) AS r (id, state, not_before, code, vendor_msg_id, count, log) \
             WHERE d.id = r.id",
        )
        .bind(&ids)
        .bind(&states)
        .bind(&not_before)
        .bind(&codes)
        .bind(&msg_ids)
        .bind(&counts)
        .bind(&logs)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;

        // A token is unbound only if the device still holds the token the job was sent to: it
        // may have been bound again meanwhile.
        let mut unbinds: Vec<(&str, &str, &str, i64)> = results
            .iter()
            .filter_map(|r| {
                r.unbind
                    .as_ref()
                    .map(|d| (d.app.as_str(), d.user.as_str(), d.device.as_str(), r.id))
            })
            .collect();
        if !unbinds.is_empty() {
            unbinds.sort_unstable();
            unbinds.dedup();
            let apps: Vec<&str> = unbinds.iter().map(|u| u.0).collect();
            let users: Vec<&str> = unbinds.iter().map(|u| u.1).collect();
            let devices: Vec<&str> = unbinds.iter().map(|u| u.2).collect();
            let jobs: Vec<i64> = unbinds.iter().map(|u| u.3).collect();
            sqlx::query(
                "SELECT 1 FROM devices d \
                 JOIN UNNEST($1::text[], $2::text[], $3::text[]) AS u (app_id, user_id, device_id) \
                   ON d.app_id = u.app_id AND d.user_id = u.user_id AND d.device_id = u.device_id \
                 ORDER BY d.app_id, d.user_id, d.device_id FOR NO KEY UPDATE OF d",
            )
            .bind(&apps)
            .bind(&users)
            .bind(&devices)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
            sqlx::query(
                "UPDATE devices d SET certificate_id = NULL, vendor = NULL, token = NULL, updated_at = $5 \
                 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[]) AS u (app_id, user_id, device_id, job) \
                 JOIN deliveries j ON j.id = u.job \
                 WHERE d.app_id = u.app_id AND d.user_id = u.user_id AND d.device_id = u.device_id \
                   AND d.token = j.token",
            )
            .bind(&apps)
            .bind(&users)
            .bind(&devices)
            .bind(&jobs)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }
}

impl PgStore {
    /// Puts leased jobs back as `queued`, due at `until`, attempts and log untouched; rows are
    /// locked in id order like every other multi-row writer. Any open row qualifies, not only
    /// `in_flight` ones: in the scale-out mode a job can be claimed from JetStream before the
    /// relay's transaction marking it `in_flight` committed, and the statement, which saw the
    /// row still `queued`, waits for that lock and then puts it back.
    pub(crate) async fn postpone_jobs_in(&self, ids: &[i64], until: i64) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "UPDATE deliveries SET state = 'queued', not_before = $2, lease_until = 0, updated_at = $3 \
             WHERE id IN (SELECT id FROM deliveries WHERE id = ANY($1) AND state IN ('queued', 'in_flight') \
                          ORDER BY id FOR UPDATE)",
        )
        .bind(ids)
        .bind(until)
        .bind(now_millis())
        .execute(&self.pool)
        .await
        .map(|_| ())
        .map_err(backend)
    }
}

#[async_trait]
impl JobQueue for PgStore {
    /// The oldest due jobs first, at most `limit` in all. `SKIP LOCKED` passes over rows that a
    /// concurrent claim is taking, and the open-jobs index keeps final rows out of the scan.
    async fn claim_jobs(&self, limit: u32, lease_ms: i64) -> StoreResult<Vec<PushJob>> {
        let now = now_millis();
        let rows = sqlx::query(&format!(
            "UPDATE deliveries SET state = 'in_flight', lease_until = $1 + $2, updated_at = $1 \
             WHERE id IN ( \
               SELECT id FROM deliveries \
               WHERE state IN ('queued', 'in_flight') \
                 AND ((state = 'queued' AND not_before <= $1) OR (state = 'in_flight' AND lease_until < $1)) \
               ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED) \
             RETURNING {JOB_COLUMNS}"
        ))
        .bind(now)
        .bind(lease_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        let mut jobs = rows.iter().map(job_from_row).collect::<StoreResult<Vec<_>>>()?;
        jobs.sort_by_key(|j| j.id);
        Ok(jobs)
    }

    async fn complete_jobs(&self, results: &[JobResult]) -> StoreResult<()> {
        self.complete_jobs_in(results).await
    }

    async fn postpone_jobs(&self, ids: &[i64], until: i64) -> StoreResult<()> {
        self.postpone_jobs_in(ids, until).await
    }

    async fn next_due(&self) -> StoreResult<Option<i64>> {
        let row = sqlx::query(
            "SELECT MIN(due) AS due FROM ( \
               SELECT MIN(not_before) AS due FROM deliveries WHERE state = 'queued' \
               UNION ALL SELECT MIN(lease_until) FROM deliveries WHERE state = 'in_flight') AS open_jobs",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(backend)?;
        row.try_get("due").map_err(backend)
    }
}

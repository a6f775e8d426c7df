//! The embedded push job queue: jobs are delivery rows in state `queued`; a dispatcher leases
//! them (`in_flight` until `lease_until`), and a lease that runs out (the dispatcher died) makes
//! the job claimable again, so a crash at any point loses no job.

use super::SqliteStore;
use super::portable::deliveries::{JOB_COLUMNS, job_from_row};
use crate::sql::{backend, to_json};
use async_trait::async_trait;
use herald_core::delivery::{JobResult, PushJob};
use herald_core::now_millis;
use herald_core::store::{JobQueue, StoreResult};
use sqlx::Row;
use std::sync::LazyLock;

/// Leases due jobs. SQLite uses a partial index only when the query repeats the index's own
/// condition (`state IN ('queued', 'in_flight')`); `state = 'queued'` alone does not count,
/// and without it every claim scanned the whole table.
static CLAIM: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE deliveries SET state = 'in_flight', lease_until = $1 + $2, updated_at = $1 \
         WHERE id IN (SELECT id FROM deliveries WHERE state IN ('queued', 'in_flight') AND state = 'queued' AND not_before <= $1 LIMIT $3) \
            OR id IN (SELECT id FROM deliveries WHERE state IN ('queued', 'in_flight') AND state = 'in_flight' AND lease_until < $1 LIMIT $3) \
         RETURNING {JOB_COLUMNS}"
    )
});

/// Records the outcomes of distinct jobs given as a JSON array ([`results_json`]) in one
/// statement: per-row statements cost more than the updates themselves.
const RECORD_ALL: &str = "UPDATE deliveries SET state = r.state, attempts = attempts + 1, not_before = r.not_before, \
     lease_until = 0, vendor_code = r.code, vendor_msg_id = COALESCE(r.msg_id, vendor_msg_id), \
     attempt_log = json_insert(attempt_log, '$[#]', json(r.attempt)), updated_at = $2 \
     FROM (SELECT value ->> '$.id' AS id, value ->> '$.state' AS state, \
                  value ->> '$.not_before' AS not_before, value ->> '$.code' AS code, \
                  value ->> '$.msg_id' AS msg_id, value -> '$.attempt' AS attempt \
           FROM json_each($1)) AS r \
     WHERE deliveries.id = r.id";

/// The JSON array [`RECORD_ALL`] reads.
fn results_json(results: &[JobResult]) -> String {
    let rows: Vec<serde_json::Value> = results
        .iter()
        .map(|r| {
            serde_json::json!({
                "id": r.id,
                "state": r.state.as_str(),
                "not_before": r.not_before.unwrap_or(0),
                "code": r.attempt.code,
                "msg_id": r.vendor_msg_id,
                "attempt": r.attempt,
            })
        })
        .collect();
    to_json(&rows)
}

/// When the next job is due (same partial index).
const NEXT_DUE: &str = "SELECT MIN(due) AS due FROM ( \
               SELECT MIN(not_before) AS due FROM deliveries WHERE state IN ('queued', 'in_flight') AND state = 'queued' \
               UNION ALL SELECT MIN(lease_until) FROM deliveries WHERE state IN ('queued', 'in_flight') AND state = 'in_flight')";

#[async_trait]
impl JobQueue for SqliteStore {
    /// Two index range scans (the partial `deliveries_due` index holds only queued and
    /// in-flight rows), never a walk over the whole table: final rows cost nothing here.
    ///
    /// One statement, so it is a transaction by itself: no `BEGIN` and `COMMIT` round trips to
    /// the connection's thread around it.
    async fn claim_jobs(&self, limit: u32, lease_ms: i64) -> StoreResult<Vec<PushJob>> {
        let now = now_millis();
        let mut conn = self.writer().await?;
        let rows = sqlx::query(&CLAIM)
            .bind(now)
            .bind(lease_ms)
            .bind(i64::from(limit))
            .fetch_all(&mut *conn)
            .await
            .map_err(backend)?;
        drop(conn);
        let mut jobs = rows.iter().map(job_from_row).collect::<StoreResult<Vec<_>>>()?;
        jobs.sort_by_key(|j| j.id);
        Ok(jobs)
    }

    /// One statement for all results (the rows come from a JSON array), plus one per token to
    /// unbind: per-row statements cost more than the updates themselves.
    async fn complete_jobs(&self, results: &[JobResult]) -> StoreResult<()> {
        if results.is_empty() {
            return Ok(());
        }
        let now = now_millis();
        let mut seen = std::collections::HashSet::with_capacity(results.len());
        let distinct = results.iter().all(|r| seen.insert(r.id));
        if distinct && results.iter().all(|r| r.unbind.is_none()) {
            // The usual case is one statement, a transaction by itself: no `BEGIN` and `COMMIT`
            // round trips to the connection's thread around it.
            return sqlx::query(RECORD_ALL)
                .bind(results_json(results))
                .bind(now)
                .execute(&mut *self.writer().await?)
                .await
                .map(|_| ())
                .map_err(backend);
        }
        let mut tx = self.write().await?;
        if distinct {
            sqlx::query(RECORD_ALL)
                .bind(results_json(results))
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        } else {
            // Several results of one job apply in order, like attempts made one after another.
            for result in results {
                sqlx::query(
                    "UPDATE deliveries SET state = $2, attempts = attempts + 1, not_before = $3, lease_until = 0, \
                     vendor_code = $4, vendor_msg_id = COALESCE($5, vendor_msg_id), \
                     attempt_log = json_insert(attempt_log, '$[#]', json($6)), updated_at = $7 WHERE id = $1",
                )
                .bind(result.id)
                .bind(result.state.as_str())
                .bind(result.not_before.unwrap_or(0))
                .bind(&result.attempt.code)
                .bind(&result.vendor_msg_id)
                .bind(to_json(&result.attempt))
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
            }
        }
        for result in results {
            if let Some(device) = &result.unbind {
                sqlx::query(
                    "UPDATE devices SET certificate_id = NULL, vendor = NULL, token = NULL, updated_at = $5 \
                     WHERE app_id = $1 AND user_id = $2 AND device_id = $3 \
                       AND token = (SELECT token FROM deliveries WHERE id = $4)",
                )
                .bind(&device.app)
                .bind(&device.user)
                .bind(&device.device)
                .bind(result.id)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
            }
        }
        tx.commit().await.map_err(backend)
    }

    /// One statement over the ids as a JSON array; only jobs still leased are put back.
    async fn postpone_jobs(&self, ids: &[i64], until: i64) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "UPDATE deliveries SET state = 'queued', not_before = $2, lease_until = 0, updated_at = $3 \
             WHERE id IN (SELECT value FROM json_each($1)) AND state = 'in_flight'",
        )
        .bind(to_json(&ids))
        .bind(until)
        .bind(now_millis())
        .execute(&mut *self.writer().await?)
        .await
        .map(|_| ())
        .map_err(backend)
    }

    async fn next_due(&self) -> StoreResult<Option<i64>> {
        let row = sqlx::query(NEXT_DUE)
            .fetch_one(&self.pool)
            .await
            .map_err(backend)?;
        row.try_get("due").map_err(backend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_process_owns_the_database_and_a_dead_owners_leases_are_void_at_open() {
        let dir = tempfile::tempdir().expect("dir");
        let url = format!("sqlite://{}", dir.path().join("owned.db").display());
        let sealer = || crate::Sealer::new(&[1u8; 32]);
        let store = SqliteStore::open(&url, sealer()).await.expect("store");
        let second = SqliteStore::open(&url, sealer()).await;
        let error = second.expect_err("a second owner is refused");
        assert!(
            matches!(error, crate::OpenError::InUse(_)) && error.to_string().contains("owned.db.lock"),
            "{error}"
        );

        // A job leased for ten minutes by the owner, which then dies.
        let far = now_millis() + 600_000;
        sqlx::query("INSERT INTO apps (id, name, secret, created_at) VALUES ('app_1', 'a', x'00', 0)")
            .execute(&store.writes)
            .await
            .expect("app");
        sqlx::query(
            "INSERT INTO deliveries (app_id, message_id, user_id, device_id, decision, reason, state, \
             lease_until, created_at, updated_at) VALUES ('app_1', 'm', 'u', 'd', 'push', 'rules_passed', \
             'in_flight', $1, 0, 0)",
        )
        .bind(far)
        .execute(&store.writes)
        .await
        .expect("job");
        assert_eq!(store.next_due().await.expect("due"), Some(far));
        drop(store);

        let restarted = SqliteStore::open(&url, sealer())
            .await
            .expect("the lock died with its owner");
        let due = restarted.next_due().await.expect("due").expect("a job is open");
        assert!(due <= now_millis(), "the dead owner's lease is void: due {due}");
    }

    /// The queue's hot queries must read the partial index of open jobs, never scan the table
    /// (which holds every delivery record ever made).
    #[tokio::test]
    async fn claims_and_due_times_read_the_index_of_open_jobs() {
        let dir = tempfile::tempdir().expect("dir");
        let url = format!("sqlite://{}", dir.path().join("plan.db").display());
        let store = SqliteStore::open(&url, crate::Sealer::new(&[1u8; 32]))
            .await
            .expect("store");
        for sql in [CLAIM.as_str(), NEXT_DUE] {
            let plan: Vec<String> = sqlx::query(&format!("EXPLAIN QUERY PLAN {sql}"))
                .bind(0i64)
                .bind(0i64)
                .bind(10i64)
                .fetch_all(&store.pool)
                .await
                .expect("plan")
                .iter()
                .map(|row| row.try_get::<String, _>("detail").unwrap_or_default())
                .collect();
            assert!(
                plan.iter().all(|step| !step.starts_with("SCAN deliveries")),
                "a full scan of deliveries in {plan:?}"
            );
            assert!(
                plan.iter().any(|step| step.contains("deliveries_due")),
                "{plan:?}"
            );
        }
    }
}

//! The scale-out push queue: a JetStream work-queue stream consumed by the dispatchers of
//! every node.
//!
//! PostgreSQL stays the record: a message's delivery rows are committed with it, and a row in
//! state `queued` whose time has come is the outbox. [`JobQueue::relay`] publishes such rows
//! to JetStream (message id `<job>-<attempt>`, so a publish repeated after a crash is dropped
//! by the stream's duplicate window) and marks them `in_flight` in the same transaction that
//! locked them: a crash between the two republishes, never loses. Dispatchers pull with
//! explicit acks; a node that dies holding jobs has them redelivered to the others after the
//! ack wait, which is as short as the node heartbeat timeout because a live node reports the
//! jobs it holds in progress ([`JetStreamQueue::keep_held_jobs`]). A retry is written back to PostgreSQL as `queued` with its due time and the
//! JetStream message is acked: the relay publishes it again when due, so retries survive any
//! crash too. Jobs that end without reaching the phone (expired at the end of their TTL,
//! or redelivered too often) are copied to the dead-letter stream.

use crate::postgres::PgStore;
use crate::postgres::portable::deliveries::{JOB_COLUMNS, job_from_row};
use async_nats::jetstream::{self, consumer, stream};
use async_trait::async_trait;
use futures::StreamExt;
use herald_core::delivery::{Attempt, AttemptOutcome, DeliveryState, JobResult, PushJob};
use herald_core::store::{JobQueue, StoreResult};
use herald_core::{StoreError, now_millis};
use sqlx::Row;
use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// How often a job may be handed to a dispatcher that then vanished before it goes to the
/// dead-letter stream (a job that crashes every node that takes it must not loop forever).
const MAX_DELIVERIES: i64 = 5;
/// How long a claim waits for the first job when none is ready.
const CLAIM_WAIT: Duration = Duration::from_millis(500);

/// Wraps a NATS failure.
fn nats(error: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(error.to_string().into())
}

/// Wraps a database failure.
fn db(error: sqlx::Error) -> StoreError {
    StoreError::Backend(Box::new(error))
}

/// The messages of one pull request, until the server ends it. A failure after some messages
/// arrived keeps those (they are delivered to this node now).
async fn pulled(
    batch: Result<consumer::pull::Batch, consumer::pull::BatchError>,
) -> StoreResult<Vec<jetstream::Message>> {
    let mut batch = batch.map_err(nats)?;
    let mut taken = Vec::new();
    while let Some(message) = batch.next().await {
        match message {
            Ok(message) => taken.push(message),
            Err(error) if taken.is_empty() => return Err(nats(error)),
            Err(error) => {
                tracing::warn!(%error, "JetStream pull failed.");
                break;
            }
        }
    }
    Ok(taken)
}

/// Reports the held jobs in progress every `every` until the queue is gone.
async fn report_progress(pending: Weak<Mutex<HashMap<i64, Held>>>, every: Duration, hold: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let Some(pending) = pending.upgrade() else { return };
        let messages: Vec<jetstream::Message> = pending
            .lock()
            .await
            .values()
            .filter(|held| held.since.elapsed() < hold)
            .map(|held| held.message.clone())
            .collect();
        drop(pending);
        for message in messages {
            if let Err(error) = message.ack_with(jetstream::AckKind::Progress).await {
                tracing::debug!(%error, "Progress report failed; the job may move to another node.");
            }
        }
    }
}

/// The dead-letter record of a job.
#[derive(serde::Serialize)]
struct DeadLetter<'a> {
    job: &'a PushJob,
    state: DeliveryState,
    last_attempt: &'a Attempt,
}

/// The JetStream queue of one node. Share it behind an `Arc`.
pub struct JetStreamQueue {
    pg: PgStore,
    /// The NATS connection, for its state (the client reconnects by itself).
    client: async_nats::Client,
    js: jetstream::Context,
    jobs_prefix: String,
    dead_prefix: String,
    consumer: consumer::PullConsumer,
    /// Jobs handed to this node's dispatchers and not yet acked, by job id, with when.
    pending: Arc<Mutex<HashMap<i64, Held>>>,
}

/// A job with this node's dispatchers: its queue message and when it was handed out.
struct Held {
    job: PushJob,
    message: jetstream::Message,
    since: Instant,
}

impl std::fmt::Debug for JetStreamQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JetStreamQueue")
            .field("jobs", &self.jobs_prefix)
            .finish_non_exhaustive()
    }
}

impl JetStreamQueue {
    /// Creates (or joins) the cluster's job and dead-letter streams and the shared durable
    /// consumer. `ack_wait` is how long a job stays with a dispatcher before JetStream hands
    /// it to another one: longer than a vendor request can take, short enough that a dead
    /// node's jobs move on soon.
    pub async fn connect(
        client: async_nats::Client,
        cluster: &str,
        pg: PgStore,
        ack_wait: Duration,
    ) -> StoreResult<Self> {
        let js = jetstream::new(client.clone());
        let subject = super::nats_name(cluster);
        let jobs_prefix = format!("{subject}.jobs");
        let dead_prefix = format!("{subject}.dead");
        let jobs = js
            .get_or_create_stream(stream::Config {
                name: super::jobs_stream(cluster),
                subjects: vec![format!("{jobs_prefix}.>")],
                retention: stream::RetentionPolicy::WorkQueue,
                storage: stream::StorageType::File,
                duplicate_window: Duration::from_secs(120),
                ..Default::default()
            })
            .await
            .map_err(nats)?;
        js.get_or_create_stream(stream::Config {
            name: super::dead_letter_stream(cluster),
            subjects: vec![format!("{dead_prefix}.>")],
            retention: stream::RetentionPolicy::Limits,
            storage: stream::StorageType::File,
            max_age: Duration::from_secs(7 * 24 * 3600),
            ..Default::default()
        })
        .await
        .map_err(nats)?;
        let consumer: consumer::PullConsumer = jobs
            .get_or_create_consumer(
                "dispatch",
                consumer::pull::Config {
                    durable_name: Some("dispatch".into()),
                    ack_policy: consumer::AckPolicy::Explicit,
                    ack_wait,
                    max_ack_pending: 200_000,
                    ..Default::default()
                },
            )
            .await
            .map_err(nats)?;
        Ok(Self {
            pg,
            client,
            js,
            jobs_prefix,
            dead_prefix,
            consumer,
            pending: Arc::default(),
        })
    }

    /// Keeps this node's jobs its own while it lives: every third of the ack wait, each job
    /// its dispatchers hold (for less than `hold`) is reported in progress, so that the ack
    /// wait can be as short as a node's heartbeat timeout. A node that dies stops reporting
    /// and its jobs go to another node one ack wait later, instead of after the longest a
    /// vendor request may take; a job held for longer than `hold` is handed on all the same.
    /// The reporting stops when the queue is dropped.
    pub fn keep_held_jobs(self, ack_wait: Duration, hold: Duration) -> Self {
        let pending = Arc::downgrade(&self.pending);
        let every = (ack_wait / 3).max(Duration::from_millis(50));
        tokio::spawn(report_progress(pending, every, hold));
        self
    }

    /// Waits up to [`CLAIM_WAIT`] for a first job, then takes whatever else is ready.
    ///
    /// Jobs are pulled from JetStream only when a claim asks for them, never ahead of it.
    /// JetStream starts a job's ack wait when it delivers the message: a job prefetched into a
    /// buffer of this node would spend its lease waiting there, and once the ack wait ran out
    /// JetStream would hand it to a dispatcher again while the buffered copy was still handed
    /// out here. The job would be pushed twice, and each such redelivery would count towards
    /// [`MAX_DELIVERIES`] although no dispatcher ever failed with it.
    async fn next_messages(&self, limit: usize) -> StoreResult<Vec<jetstream::Message>> {
        let limit = limit.max(1);
        let mut taken = pulled(self.consumer.fetch().max_messages(limit).messages().await).await?;
        if taken.is_empty() {
            let first = self.consumer.batch().max_messages(1).expires(CLAIM_WAIT);
            taken = pulled(first.messages().await).await?;
            if !taken.is_empty() && limit > 1 {
                let rest = self.consumer.fetch().max_messages(limit - 1).messages().await;
                match pulled(rest).await {
                    Ok(rest) => taken.extend(rest),
                    Err(error) => tracing::warn!(%error, "JetStream pull failed."),
                }
            }
        }
        Ok(taken)
    }

    async fn dead_letter(&self, job: &PushJob, state: DeliveryState, attempt: &Attempt) {
        let record = DeadLetter {
            job,
            state,
            last_attempt: attempt,
        };
        let payload = serde_json::to_vec(&record).unwrap_or_default();
        let subject = format!("{}.{}", self.dead_prefix, job.vendor.as_str());
        match self.js.publish(subject, payload.into()).await {
            Ok(ack) => {
                if let Err(error) = ack.await {
                    tracing::warn!(%error, job = job.id, "Dead-letter publish was not confirmed.");
                }
            }
            Err(error) => tracing::warn!(%error, job = job.id, "Dead-letter publish failed."),
        }
    }
}

#[async_trait]
impl JobQueue for JetStreamQueue {
    async fn ready(&self) -> StoreResult<()> {
        match self.client.connection_state() {
            async_nats::connection::State::Connected => Ok(()),
            state => Err(StoreError::Backend(
                format!("the connection to NATS is {state} (the client keeps reconnecting)").into(),
            )),
        }
    }

    /// `lease_ms` is fixed by the consumer's ack wait (set at connect).
    async fn claim_jobs(&self, limit: u32, _lease_ms: i64) -> StoreResult<Vec<PushJob>> {
        let taken = self.next_messages(limit as usize).await?;
        if taken.is_empty() {
            return Ok(Vec::new());
        }
        let mut candidates = Vec::with_capacity(taken.len());
        for message in taken {
            match serde_json::from_slice::<PushJob>(&message.payload) {
                Ok(job) => candidates.push((job, message)),
                Err(error) => {
                    tracing::warn!(%error, "Dropping an unreadable job from the queue.");
                    let _ = message.ack_with(jetstream::AckKind::Term).await;
                }
            }
        }
        // The record decides: a job already final (a duplicate publish, or a redelivery of
        // one whose ack was lost) is acked and skipped; the attempt count comes from the
        // record, not from the copy in the queue.
        let ids: Vec<i64> = candidates.iter().map(|(job, _)| job.id).collect();
        let rows = sqlx::query("SELECT id, state, attempts FROM deliveries WHERE id = ANY($1)")
            .bind(&ids)
            .fetch_all(&self.pg.pool)
            .await
            .map_err(db)?;
        let mut live: HashMap<i64, i64> = HashMap::new();
        for row in rows {
            let state: String = row.try_get("state").map_err(db)?;
            if DeliveryState::parse(&state).is_some_and(|s| !s.is_final()) {
                live.insert(
                    row.try_get("id").map_err(db)?,
                    row.try_get("attempts").map_err(db)?,
                );
            }
        }
        let mut jobs = Vec::new();
        let mut exhausted = Vec::new();
        let mut pending = self.pending.lock().await;
        for (mut job, message) in candidates {
            let Some(attempts) = live.get(&job.id) else {
                let _ = message.ack().await;
                continue;
            };
            job.attempts = u32::try_from(*attempts).unwrap_or(0);
            let delivered = message.info().map(|info| info.delivered).unwrap_or(1);
            if delivered > MAX_DELIVERIES {
                exhausted.push(JobResult {
                    id: job.id,
                    state: DeliveryState::Rejected,
                    not_before: None,
                    attempt: Attempt {
                        at: now_millis(),
                        outcome: AttemptOutcome::Rejected,
                        code: Some(format!("redelivered_{delivered}_times")),
                        latency_ms: 0,
                    },
                    vendor_msg_id: None,
                    unbind: None,
                });
            } else {
                jobs.push(job.clone());
            }
            pending.insert(
                job.id,
                Held {
                    job,
                    message,
                    since: Instant::now(),
                },
            );
        }
        drop(pending);
        if !exhausted.is_empty() {
            self.complete_jobs(&exhausted).await?;
        }
        Ok(jobs)
    }

    async fn complete_jobs(&self, results: &[JobResult]) -> StoreResult<()> {
        if results.is_empty() {
            return Ok(());
        }
        self.pg.complete_jobs_in(results).await?;
        let finished: Vec<(JobResult, Option<Held>)> = {
            let mut pending = self.pending.lock().await;
            results
                .iter()
                .map(|r| (r.clone(), pending.remove(&r.id)))
                .collect()
        };
        for (result, held) in finished {
            let Some(Held { job, message, .. }) = held else {
                continue;
            };
            let gave_up = matches!(result.state, DeliveryState::Expired)
                || (result.state == DeliveryState::Rejected
                    && result
                        .attempt
                        .code
                        .as_deref()
                        .is_some_and(|c| c.starts_with("redelivered_")));
            if gave_up {
                self.dead_letter(&job, result.state, &result.attempt).await;
            }
            // The record is written: the job leaves the queue (a retry comes back through
            // the outbox when due).
            if let Err(error) = message.ack().await {
                tracing::warn!(%error, job = job.id, "Ack failed; the job may be delivered again.");
            }
        }
        Ok(())
    }

    /// The record is put back in the outbox first, then the JetStream message is acked: the
    /// relay publishes the job again when due, under a new message id (it names the due time),
    /// so a job held through a long vendor outage is never redelivered towards
    /// [`MAX_DELIVERIES`].
    async fn postpone_jobs(&self, ids: &[i64], until: i64) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        self.pg.postpone_jobs_in(ids, until).await?;
        let held: Vec<Held> = {
            let mut pending = self.pending.lock().await;
            ids.iter().filter_map(|id| pending.remove(id)).collect()
        };
        for Held { job, message, .. } in held {
            if let Err(error) = message.ack().await {
                tracing::warn!(%error, job = job.id, "Ack failed; the job may be delivered again.");
            }
        }
        Ok(())
    }

    /// Claims wait on JetStream themselves; dispatchers should ask again at once.
    async fn next_due(&self) -> StoreResult<Option<i64>> {
        Ok(Some(now_millis()))
    }

    async fn relay(&self, limit: u32) -> StoreResult<usize> {
        let now = now_millis();
        let mut tx = self.pg.pool.begin().await.map_err(db)?;
        let rows = sqlx::query(&format!(
            "SELECT {JOB_COLUMNS}, not_before FROM deliveries WHERE state = 'queued' AND not_before <= $1 \
             ORDER BY not_before, id LIMIT $2 FOR UPDATE SKIP LOCKED"
        ))
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        if rows.is_empty() {
            return Ok(0);
        }
        let jobs = rows.iter().map(job_from_row).collect::<StoreResult<Vec<_>>>()?;
        let due: Vec<i64> = rows
            .iter()
            .map(|row| row.try_get("not_before").map_err(db))
            .collect::<StoreResult<_>>()?;
        let mut acks = Vec::with_capacity(jobs.len());
        for (job, due) in jobs.iter().zip(due) {
            let payload = serde_json::to_vec(job).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            // Attempt and due time name one publish: a relay repeated after a crash is dropped
            // as a duplicate, a job postponed without an attempt is published anew.
            let publish = jetstream::context::Publish::build()
                .payload(payload.into())
                .message_id(format!("{}-{}-{}", job.id, job.attempts, due));
            let subject = format!("{}.{}", self.jobs_prefix, job.vendor.as_str());
            acks.push(self.js.send_publish(subject, publish).await.map_err(nats)?);
        }
        for ack in futures::future::join_all(acks.into_iter().map(std::future::IntoFuture::into_future)).await
        {
            ack.map_err(nats)?;
        }
        let ids: Vec<i64> = jobs.iter().map(|j| j.id).collect();
        sqlx::query(
            "UPDATE deliveries SET state = 'in_flight', lease_until = $2, updated_at = $3 WHERE id = ANY($1)",
        )
        .bind(&ids)
        .bind(i64::MAX)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(jobs.len())
    }
}

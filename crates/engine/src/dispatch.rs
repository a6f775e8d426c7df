//! Dispatchers: take due push jobs from the queue, group them by message, certificate and
//! sound (one vendor batch each), send through the certificate's adapter with bounded
//! concurrency, and record every outcome: accepted, invalid token (unbound), retry with
//! backoff or Retry-After, expired after the TTL, quota exceeded, rejected.

use crate::adapters::{AdapterRegistry, RegistryError};
use crate::recorder::Recorder;
use crate::retry::{MAX_ATTEMPTS, backoff};
use futures::StreamExt;
use herald_core::delivery::{Attempt, DeliveryState, JobResult, PushJob};
use herald_core::message::Message;
use herald_core::notify::build_notification;
use herald_core::store::JobQueue;
use herald_core::{Outcome, Store, Target, now_millis};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, Semaphore, mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};

/// Dispatcher tuning.
#[derive(Debug, Clone)]
pub struct DispatchConfig {
    /// Concurrent claim loops.
    pub workers: usize,
    /// Jobs claimed at once.
    pub batch: u32,
    /// How long a claimed job stays leased (a crashed dispatcher's jobs come back after it).
    pub lease_ms: i64,
    /// Vendor sends in flight at once per worker.
    pub concurrency: usize,
    /// Longest idle sleep when nothing is due.
    pub idle_poll: Duration,
    /// Most targets this node has with the vendors and not yet recorded, over all workers:
    /// what a crash can send twice. A vendor batch takes at most a quarter of it.
    pub window: usize,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        Self {
            workers: 2,
            batch: 2000,
            lease_ms: 60_000,
            concurrency: 64,
            idle_poll: Duration::from_millis(500),
            window: 1000,
        }
    }
}

/// Messages whose jobs may wait in the hand-off at once; beyond it, commits queue their jobs
/// for a claim instead (so a backlog stays far inside the lease).
const HANDOFF_CAPACITY: usize = 1024;

/// One message's push jobs, leased to this node by the commit that created them.
#[derive(Debug)]
pub struct Handed {
    /// The message (the dispatcher need not read it back).
    pub message: Arc<Message>,
    /// Its jobs, leased until `lease_until`.
    pub jobs: Vec<PushJob>,
}

/// The way from a message commit straight to this node's dispatchers: no claim transaction
/// and no wake-up, which is most of a single push's latency. Only for a queue kept in the
/// store itself (the embedded mode); a job that waits here when the node dies is claimed
/// again when its lease runs out. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Handoff {
    jobs: mpsc::Sender<Handed>,
    /// Set while the dispatchers take from the hand-off.
    open: Arc<AtomicBool>,
    lease_ms: i64,
}

impl Handoff {
    /// How long a commit leases the jobs it hands over.
    pub fn lease_ms(&self) -> i64 {
        self.lease_ms
    }

    /// A place for one message's jobs, if the dispatchers run and are not backlogged.
    pub fn reserve(&self) -> Option<mpsc::OwnedPermit<Handed>> {
        if !self.open.load(Ordering::Acquire) {
            return None;
        }
        self.jobs.clone().try_reserve_owned().ok()
    }
}

/// Sends queued pushes. Cheap to clone.
#[derive(Clone)]
pub struct Dispatcher {
    store: Arc<dyn Store>,
    queue: Arc<dyn JobQueue>,
    registry: AdapterRegistry,
    wake: Arc<Notify>,
    config: DispatchConfig,
    recorder: Recorder,
    window: Arc<Semaphore>,
    handoff: Handoff,
    handed: Arc<std::sync::Mutex<Option<mpsc::Receiver<Handed>>>>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Most jobs sent and recorded as one unit (one vendor batch at most).
const COMMIT_CHUNK: usize = 1000;
/// Jobs recorded as one unit for vendors without a batch API.
const SINGLE_TARGET_CHUNK: usize = 64;

/// Units that fit in the window at once: a unit (one vendor request of a batch vendor, or a
/// few single-target sends, recorded together) is at most this fraction of the window, so
/// even a small window keeps a request at the vendor, an outcome write and the next build
/// going side by side instead of one after the other (measured: a window of 64 sent 64 %
/// more pushes per second with units of 16 than with one unit of 64).
const PIPELINE_DEPTH: usize = 4;

/// Jobs that go out in one adapter call.
type GroupKey = (String, String, i64, Option<String>);

/// Messages loaded during one batch, by (app, message id).
type MessageCache = tokio::sync::Mutex<HashMap<(String, String), Arc<Message>>>;

impl Dispatcher {
    /// A dispatcher taking jobs from `queue` (the store itself in the embedded mode,
    /// JetStream in the scale-out mode) and reading messages and certificates from `store`.
    pub fn new(
        store: Arc<dyn Store>,
        queue: Arc<dyn JobQueue>,
        registry: AdapterRegistry,
        wake: Arc<Notify>,
        config: DispatchConfig,
    ) -> Self {
        let (jobs, handed) = mpsc::channel(HANDOFF_CAPACITY);
        Self {
            recorder: Recorder::spawn(queue.clone()),
            window: Arc::new(Semaphore::new(config.window.max(1))),
            handoff: Handoff {
                jobs,
                open: Arc::default(),
                lease_ms: config.lease_ms,
            },
            handed: Arc::new(std::sync::Mutex::new(Some(handed))),
            store,
            queue,
            registry,
            wake,
            config,
        }
    }

    /// Whether the job queue can hand out jobs now (see [`JobQueue::ready`]).
    pub async fn ready(&self) -> Result<(), herald_core::StoreError> {
        self.queue.ready().await
    }

    /// The hand-off for message commits (see [`Handoff`]); it opens when the dispatchers start.
    pub fn handoff(&self) -> Handoff {
        self.handoff.clone()
    }

    /// Starts the worker loops and the outbox relay; they stop when `shutdown` turns true.
    pub fn spawn(&self, shutdown: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
        let mut tasks: Vec<JoinHandle<()>> = (0..self.config.workers.max(1))
            .map(|_| {
                let me = self.clone();
                let shutdown = shutdown.clone();
                tokio::spawn(async move { me.worker(shutdown).await })
            })
            .collect();
        let handed = self.handed.lock().ok().and_then(|mut slot| slot.take());
        if let Some(handed) = handed {
            let me = self.clone();
            let shutdown = shutdown.clone();
            self.handoff.open.store(true, Ordering::Release);
            tasks.push(tokio::spawn(
                async move { me.handoff_loop(handed, shutdown).await },
            ));
        }
        let me = self.clone();
        tasks.push(tokio::spawn(async move { me.relay_loop(shutdown).await }));
        tasks
    }

    /// Sends what commits handed over, as it comes: whatever arrived while earlier sends were
    /// going out forms the next batch. On shutdown, what was handed over is still sent.
    async fn handoff_loop(self, mut handed: mpsc::Receiver<Handed>, mut shutdown: watch::Receiver<bool>) {
        let slots = Arc::new(Semaphore::new(self.config.concurrency.max(1)));
        let mut sending = JoinSet::new();
        loop {
            if *shutdown.borrow() {
                break;
            }
            let first = tokio::select! {
                first = handed.recv() => first,
                changed = shutdown.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    continue;
                }
            };
            let Some(first) = first else { break };
            let mut batch = vec![first];
            let mut count = batch[0].jobs.len();
            while count < self.config.batch as usize {
                match handed.try_recv() {
                    Ok(next) => {
                        count += next.jobs.len();
                        batch.push(next);
                    }
                    Err(_) => break,
                }
            }
            let Ok(slot) = slots.clone().acquire_owned().await else {
                break;
            };
            let me = self.clone();
            sending.spawn(async move {
                me.send_handed(batch).await;
                drop(slot);
            });
            while sending.try_join_next().is_some() {}
        }
        self.handoff.open.store(false, Ordering::Release);
        handed.close();
        while let Some(last) = handed.recv().await {
            self.send_handed(vec![last]).await;
        }
        while sending.join_next().await.is_some() {}
    }

    async fn send_handed(&self, batch: Vec<Handed>) {
        let mut messages = HashMap::new();
        let mut jobs = Vec::new();
        for handed in batch {
            messages.insert(
                (handed.message.app_id.clone(), handed.message.id.clone()),
                handed.message,
            );
            jobs.extend(handed.jobs);
        }
        if let Err(error) = self.send_jobs_with(jobs, messages).await {
            tracing::warn!(%error, "Recording push outcomes failed; the jobs are sent again when their lease runs out.");
        }
    }

    /// Moves due jobs from the store to the queue when they are apart (scale-out outbox):
    /// woken when a message queued pushes, and polling for retries that came due and for
    /// jobs a crashed node committed but never relayed.
    async fn relay_loop(self, mut shutdown: watch::Receiver<bool>) {
        const RELAY_BATCH: u32 = 1000;
        const RELAY_POLL: Duration = Duration::from_millis(200);
        loop {
            if *shutdown.borrow() {
                return;
            }
            let notified = self.wake.notified();
            match self.queue.relay(RELAY_BATCH).await {
                Ok(moved) if moved > 0 => continue,
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "Relaying push jobs to the queue failed; will retry."),
            }
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep(RELAY_POLL) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    async fn worker(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            let notified = self.wake.notified();
            let handled = match self.run_once().await {
                Ok(n) => n,
                Err(error) => {
                    tracing::warn!(%error, "Claiming push jobs failed; will retry.");
                    0
                }
            };
            if handled > 0 {
                continue;
            }
            let sleep = match self.queue.next_due().await {
                Ok(Some(due)) => Duration::from_millis(u64::try_from(due - now_millis()).unwrap_or(0))
                    .min(self.config.idle_poll),
                _ => self.config.idle_poll,
            };
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep(sleep.max(Duration::from_millis(1))) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// Claims one batch of due jobs and sends them; returns how many were handled.
    pub async fn run_once(&self) -> Result<usize, herald_core::StoreError> {
        let jobs = self
            .queue
            .claim_jobs(self.config.batch, self.config.lease_ms)
            .await?;
        let n = jobs.len();
        if n > 0 {
            self.send_jobs(jobs).await?;
        }
        Ok(n)
    }

    /// Sends claimed jobs in groups of at most `COMMIT_CHUNK`, recording each group's outcomes
    /// as soon as its vendor answered: after a crash, only pushes still in flight are sent
    /// again (at least once; the message id lets the phone drop a duplicate).
    async fn send_jobs(&self, jobs: Vec<PushJob>) -> Result<(), herald_core::StoreError> {
        self.send_jobs_with(jobs, HashMap::new()).await
    }

    /// [`send_jobs`](Self::send_jobs) with messages already at hand.
    async fn send_jobs_with(
        &self,
        jobs: Vec<PushJob>,
        known: HashMap<(String, String), Arc<Message>>,
    ) -> Result<(), herald_core::StoreError> {
        let mut groups: HashMap<GroupKey, Vec<PushJob>> = HashMap::new();
        for job in jobs {
            groups
                .entry((
                    job.app_id.clone(),
                    job.message_id.clone(),
                    job.certificate_id,
                    job.sound.clone(),
                ))
                .or_default()
                .push(job);
        }
        let messages: Arc<MessageCache> = Arc::new(tokio::sync::Mutex::new(known));
        // Record outcomes in units of one vendor request (a batch API's batch), or of a few
        // targets for vendors that take one target per request: what is with the vendor when
        // the process dies is what may be sent twice.
        let mut chunks = Vec::new();
        for (key, mut jobs) in groups {
            let per_request = match self.registry.get(self.store.as_ref(), &key.0, key.2).await {
                Ok((_, adapter)) => adapter.max_batch(),
                Err(_) => COMMIT_CHUNK,
            };
            let size = if per_request <= 1 {
                SINGLE_TARGET_CHUNK
            } else {
                per_request.min(COMMIT_CHUNK)
            }
            .min((self.config.window / PIPELINE_DEPTH).max(1));
            while jobs.len() > size {
                let rest = jobs.split_off(size);
                chunks.push((key.clone(), std::mem::replace(&mut jobs, rest)));
            }
            chunks.push((key, jobs));
        }
        let completed: Vec<Result<(), herald_core::StoreError>> = futures::stream::iter(chunks)
            .map(|(key, jobs)| {
                let messages = messages.clone();
                async move {
                    // Held from the send until the outcomes are stored.
                    let _window = self
                        .window
                        .acquire_many(u32::try_from(jobs.len()).unwrap_or(u32::MAX))
                        .await;
                    let results = self.send_group(key, jobs, messages).await;
                    // With the window at most half used nobody waits for these permits, and the
                    // outcome may wait a moment to share its write; a fuller window (a fan-out)
                    // sends its next unit as soon as this one is stored.
                    let patient = self.window.available_permits() * 2 >= self.config.window;
                    self.recorder.record(results, patient).await
                }
            })
            .buffer_unordered(self.config.concurrency.max(1))
            .collect()
            .await;
        completed.into_iter().collect()
    }

    async fn message(
        &self,
        app: &str,
        id: &str,
        cache: &MessageCache,
    ) -> Result<Arc<Message>, herald_core::StoreError> {
        let key = (app.to_string(), id.to_string());
        if let Some(found) = cache.lock().await.get(&key) {
            return Ok(found.clone());
        }
        let message = Arc::new(self.store.get_message(app, id).await?);
        cache.lock().await.insert(key, message.clone());
        Ok(message)
    }

    async fn send_group(
        &self,
        (app, message_id, certificate_id, sound): GroupKey,
        jobs: Vec<PushJob>,
        cache: Arc<MessageCache>,
    ) -> Vec<JobResult> {
        let now = now_millis();
        let (live, stale): (Vec<PushJob>, Vec<PushJob>) = jobs.into_iter().partition(|j| j.expires_at > now);
        let mut results: Vec<JobResult> = stale
            .iter()
            .map(|j| {
                final_result(
                    j,
                    DeliveryState::Expired,
                    "expired",
                    Some("ttl_elapsed".into()),
                    0,
                )
            })
            .collect();
        if live.is_empty() {
            return results;
        }
        let message = match self.message(&app, &message_id, &cache).await {
            Ok(message) => message,
            Err(error) => {
                results.extend(live.iter().map(|j| {
                    final_result(j, DeliveryState::Rejected, "rejected", Some(error.to_string()), 0)
                }));
                return results;
            }
        };
        let (cert, adapter) = match self.registry.get(self.store.as_ref(), &app, certificate_id).await {
            Ok(found) => found,
            Err(RegistryError::Store(herald_core::StoreError::NotFound { .. })) => {
                results.extend(live.iter().map(|j| {
                    final_result(
                        j,
                        DeliveryState::Rejected,
                        "rejected",
                        Some("certificate_missing".into()),
                        0,
                    )
                }));
                return results;
            }
            Err(error) => {
                results.extend(live.iter().map(|j| {
                    final_result(j, DeliveryState::Rejected, "rejected", Some(error.to_string()), 0)
                }));
                return results;
            }
        };
        let notification = build_notification(&message, &cert, sound.as_deref());
        let targets: Vec<Target> = live
            .iter()
            .map(|j| Target {
                token: j.token.clone(),
                badge: u32::try_from(j.badge).ok(),
            })
            .collect();
        let started = Instant::now();
        let sent = adapter.send(&notification, &targets).await;
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let vendor = cert.vendor.as_str();
        metrics::histogram!("herald_push_request_seconds", "vendor" => vendor)
            .record(started.elapsed().as_secs_f64());
        match sent {
            Ok(outcomes) => {
                for (job, outcome) in live.iter().zip(outcomes) {
                    metrics::counter!("herald_push_outcomes_total", "vendor" => vendor, "outcome" => outcome.state()).increment(1);
                    if matches!(outcome, Outcome::Accepted { .. }) {
                        let e2e = (now_millis() - job.created_at).max(0) as f64 / 1000.0;
                        metrics::histogram!("herald_push_end_to_end_seconds", "vendor" => vendor).record(e2e);
                    }
                    results.push(result_for(job, &outcome, latency_ms));
                }
            }
            Err(error) => {
                tracing::warn!(vendor, %error, "Push request failed; will retry.");
                metrics::counter!("herald_push_outcomes_total", "vendor" => vendor, "outcome" => "transport_error")
                    .increment(live.len() as u64);
                let outcome = Outcome::Retry {
                    after: None,
                    reason: error.to_string(),
                };
                results.extend(live.iter().map(|j| {
                    let mut r = result_for(j, &outcome, latency_ms);
                    r.attempt.outcome = "transport_error".into();
                    r
                }));
            }
        }
        results
    }
}

fn attempt(outcome: &str, code: Option<String>, latency_ms: u64) -> Attempt {
    Attempt {
        at: now_millis(),
        outcome: outcome.into(),
        code,
        latency_ms,
    }
}

fn final_result(
    job: &PushJob,
    state: DeliveryState,
    outcome: &str,
    code: Option<String>,
    latency_ms: u64,
) -> JobResult {
    JobResult {
        id: job.id,
        state,
        not_before: None,
        attempt: attempt(outcome, code, latency_ms),
        vendor_msg_id: None,
        unbind: None,
    }
}

/// Maps one vendor outcome to the job's next state.
fn result_for(job: &PushJob, outcome: &Outcome, latency_ms: u64) -> JobResult {
    let attempts = job.attempts + 1;
    let retry = |after: Option<Duration>, code: String| {
        let delay = backoff(attempts, after);
        let due = now_millis() + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2);
        if due >= job.expires_at || attempts >= MAX_ATTEMPTS {
            final_result(job, DeliveryState::Expired, "expired", Some(code), latency_ms)
        } else {
            JobResult {
                id: job.id,
                state: DeliveryState::Queued,
                not_before: Some(due),
                attempt: attempt("retry", Some(code), latency_ms),
                vendor_msg_id: None,
                unbind: None,
            }
        }
    };
    match outcome {
        Outcome::Accepted { vendor_msg_id } => JobResult {
            id: job.id,
            state: DeliveryState::Accepted,
            not_before: None,
            attempt: attempt("accepted", None, latency_ms),
            vendor_msg_id: vendor_msg_id.clone(),
            unbind: None,
        },
        Outcome::InvalidToken { reason } => JobResult {
            unbind: Some(job.device_key()),
            ..final_result(
                job,
                DeliveryState::InvalidToken,
                "invalid_token",
                Some(reason.clone()),
                latency_ms,
            )
        },
        Outcome::Retry { after, reason } => retry(*after, reason.clone()),
        // The adapter already refreshed once; a credential that keeps failing is a
        // configuration problem, but a few spaced retries cover a vendor-side hiccup.
        Outcome::AuthExpired { reason } if attempts < 3 => retry(None, reason.clone()),
        Outcome::AuthExpired { reason } => final_result(
            job,
            DeliveryState::Rejected,
            "auth_expired",
            Some(reason.clone()),
            latency_ms,
        ),
        Outcome::QuotaExceeded { reason } => final_result(
            job,
            DeliveryState::QuotaExceeded,
            "quota_exceeded",
            Some(reason.clone()),
            latency_ms,
        ),
        Outcome::Rejected { code, reason } => final_result(
            job,
            DeliveryState::Rejected,
            "rejected",
            Some(format!("{code}: {reason}")),
            latency_ms,
        ),
    }
}

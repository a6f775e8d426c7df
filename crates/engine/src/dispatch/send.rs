//! Sending a batch of jobs: group them, cut the groups into units, and for each unit ask the
//! certificate's health whether it may go out (else its jobs go back to the queue without an
//! attempt), enter the window (the certificate's share of it first), then, in a task of its
//! own, build the notification, call the certificate's adapter, judge each answer by the
//! outcome policy, tell the health board what the request showed and record the unit's
//! outcomes before leaving the window.
//!
//! A batch is *started* once each unit is with its vendor or back in the queue: the claim loop
//! goes on claiming from there, so a vendor that hangs keeps only its own requests waiting.

use super::Dispatcher;
use super::group::{GroupKey, MessageKey, Unit, group, unit_size, units};
use super::health::{Admission, Verdict};
use crate::adapters::RegistryError;
use crate::outcome::{Answer, Attempted, expired_unsent, judge, rejected_unsent};
use crate::retry::Jitter;
use futures::StreamExt;
use herald_core::delivery::{DeliveryState, JobResult, PushJob};
use herald_core::message::Message;
use herald_core::notify::build_notification;
use herald_core::{Adapter, Certificate, Millis, Outcome, StoreError, Target, now_millis};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// Messages loaded during one batch.
type MessageCache = tokio::sync::Mutex<HashMap<MessageKey, Arc<Message>>>;

/// A unit's send going on in its own task; it ends once the outcomes are recorded.
pub(super) type Sending = JoinHandle<Result<(), StoreError>>;

/// How long a unit waits for its certificate's share of the window before its jobs go back to
/// the queue: long enough for a healthy vendor's request to come back, short enough that a
/// claim is not held up by a vendor that hangs.
const SHARE_PATIENCE: Duration = Duration::from_secs(2);
/// When jobs whose certificate's share stayed full are due again.
const SHARE_FULL_HOLD: Duration = Duration::from_secs(1);

fn millis(duration: Duration) -> Millis {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX / 4)
}

impl Dispatcher {
    /// Sends claimed jobs in units, recording each unit's outcomes as soon as its vendor
    /// answered, and returns once every outcome is recorded. After a crash, only pushes still
    /// in flight are sent again (at least once; the message id lets the phone drop a
    /// duplicate).
    pub(super) async fn send_jobs(&self, jobs: Vec<PushJob>) -> Result<(), StoreError> {
        let sending = self.start_jobs(jobs, HashMap::new()).await?;
        finish(sending).await
    }

    /// Starts the units of `jobs` (messages in `known` need not be read) and returns once
    /// each is with its vendor, held back in the queue, or recorded; the sends go on in the
    /// returned tasks.
    pub(super) async fn start_jobs(
        &self,
        jobs: Vec<PushJob>,
        known: HashMap<MessageKey, Arc<Message>>,
    ) -> Result<Vec<Sending>, StoreError> {
        let messages: Arc<MessageCache> = Arc::new(tokio::sync::Mutex::new(known));
        let mut all = Vec::new();
        for (key, jobs) in group(jobs) {
            let size = unit_size(self.per_request(&key).await, self.config.window);
            all.extend(units(key, jobs, size));
        }
        let started: Vec<Result<Option<Sending>, StoreError>> = futures::stream::iter(all)
            .map(|unit| self.start_unit(unit, messages.clone()))
            .buffer_unordered(self.config.concurrency.max(1))
            .collect()
            .await;
        let mut sending = Vec::new();
        let mut failed = Ok(());
        for unit in started {
            match unit {
                Ok(Some(task)) => sending.push(task),
                Ok(None) => {}
                Err(error) => failed = Err(error),
            }
        }
        failed.map(|()| sending)
    }

    /// Records the jobs whose TTL is over, then lets the rest go out, probe or wait as the
    /// certificate's health says.
    async fn start_unit(
        &self,
        Unit { key, jobs }: Unit,
        messages: Arc<MessageCache>,
    ) -> Result<Option<Sending>, StoreError> {
        let now = now_millis();
        let (mut live, stale): (Vec<PushJob>, Vec<PushJob>) =
            jobs.into_iter().partition(|j| j.expires_at > now);
        if !stale.is_empty() {
            let expired = stale.iter().map(|j| expired_unsent(j, now)).collect();
            self.recorder.record(expired, self.window.has_room()).await?;
        }
        if live.is_empty() {
            return Ok(None);
        }
        match self.health.admit(key.app(), key.certificate_id, now) {
            Admission::Send => self.launch(Unit { key, jobs: live }, false, messages).await,
            Admission::Probe => {
                let rest = live.split_off(1);
                self.hold(&rest, now + millis(self.config.hold.while_probing))
                    .await?;
                self.launch(Unit { key, jobs: live }, true, messages).await
            }
            Admission::Hold { until } => {
                self.hold(&live, until).await?;
                Ok(None)
            }
        }
    }

    /// Puts jobs back in the queue until `until`, no attempt spent.
    async fn hold(&self, jobs: &[PushJob], until: Millis) -> Result<(), StoreError> {
        if jobs.is_empty() {
            return Ok(());
        }
        let ids: Vec<i64> = jobs.iter().map(|j| j.id).collect();
        metrics::counter!("herald_push_held_total").increment(ids.len() as u64);
        self.queue.postpone_jobs(&ids, until).await
    }

    /// Enters the window for the unit and sends it in a task of its own.
    async fn launch(
        &self,
        unit: Unit,
        probe: bool,
        messages: Arc<MessageCache>,
    ) -> Result<Option<Sending>, StoreError> {
        let (app, certificate) = (unit.key.app().to_string(), unit.key.certificate_id);
        let Some(entered) = self
            .window
            .enter(&app, certificate, unit.jobs.len(), SHARE_PATIENCE)
            .await
        else {
            if probe {
                self.health
                    .report(&app, certificate, "", &Verdict::Unknown, true, now_millis());
            }
            self.hold(&unit.jobs, now_millis() + millis(SHARE_FULL_HOLD))
                .await?;
            return Ok(None);
        };
        let open = self.sends.clone().read_owned().await;
        let me = self.clone();
        Ok(Some(tokio::spawn(async move {
            // Held from the send until the outcomes are stored.
            let _entered = entered;
            let _open = open;
            let jobs = unit.jobs.clone();
            let (mut results, verdict, vendor) = me.send_unit(unit, &messages).await;
            if let Some(next_probe) =
                me.health
                    .report(&app, certificate, vendor, &verdict, probe, now_millis())
            {
                // Degraded: the retries wait with the backlog and go out with it once the
                // vendor answers a probe.
                for (result, job) in results.iter_mut().zip(&jobs) {
                    if result.state == DeliveryState::Queued && next_probe < job.expires_at {
                        result.not_before = Some(next_probe);
                    }
                }
            }
            me.recorder.record(results, me.window.has_room()).await
        })))
    }

    /// Most targets one request of the group's certificate carries.
    async fn per_request(&self, key: &GroupKey) -> usize {
        match self
            .registry
            .get(self.store.as_ref(), key.app(), key.certificate_id)
            .await
        {
            Ok((_, adapter)) => adapter.max_batch(),
            Err(_) => super::group::COMMIT_CHUNK,
        }
    }

    async fn message(&self, key: &MessageKey, cache: &MessageCache) -> Result<Arc<Message>, StoreError> {
        if let Some(found) = cache.lock().await.get(key) {
            return Ok(found.clone());
        }
        let message = Arc::new(self.store.get_message(&key.app_id, &key.message_id).await?);
        cache.lock().await.insert(key.clone(), message.clone());
        Ok(message)
    }

    /// Sends one unit of live jobs; returns the record of each of its jobs (in order), what
    /// the request showed about the vendor, and the vendor's id.
    async fn send_unit(
        &self,
        Unit { key, jobs: live }: Unit,
        cache: &MessageCache,
    ) -> (Vec<JobResult>, Verdict, &'static str) {
        let (message, cert, adapter) = match self.prepare(&key, cache).await {
            Ok(ready) => ready,
            Err(code) => {
                let now = now_millis();
                let results = live
                    .iter()
                    .map(|j| rejected_unsent(j, code.clone(), now))
                    .collect();
                return (results, Verdict::Unknown, "");
            }
        };
        let notification = build_notification(&message, &cert, key.sound.as_deref());
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
        // One jitter for the whole unit: its retries come due together and go out as one
        // vendor batch again (a factor per job spread them over ±20 % of the delay, and a
        // claim in between took a few at a time).
        let jitter = Jitter::random();
        let at = |now| Attempted {
            now,
            latency_ms,
            jitter,
        };
        let mut results = Vec::with_capacity(live.len());
        let verdict = match sent {
            Ok(outcomes) => {
                let verdict = Verdict::of_outcomes(&outcomes);
                let now = now_millis();
                for (job, outcome) in live.iter().zip(outcomes) {
                    count_outcome(vendor, job, &outcome, now);
                    results.push(judge(job, Answer::Vendor(&outcome), at(now)));
                }
                verdict
            }
            Err(error) => {
                tracing::debug!(vendor, %error, "Push request failed; will retry.");
                metrics::counter!("herald_push_outcomes_total", "vendor" => vendor, "outcome" => "transport_error")
                    .increment(live.len() as u64);
                let reason = error.to_string();
                let now = now_millis();
                results.extend(live.iter().map(|j| judge(j, Answer::NoAnswer(&reason), at(now))));
                if error.is_retriable() {
                    Verdict::Failed {
                        reason,
                        retry_after: None,
                    }
                } else {
                    Verdict::Unknown
                }
            }
        };
        (results, verdict, vendor)
    }

    /// The message, certificate and adapter a unit needs; else the code its jobs are
    /// rejected with.
    async fn prepare(
        &self,
        key: &GroupKey,
        cache: &MessageCache,
    ) -> Result<(Arc<Message>, Certificate, Arc<dyn Adapter>), String> {
        let message = self
            .message(&key.message, cache)
            .await
            .map_err(|e| e.to_string())?;
        match self
            .registry
            .get(self.store.as_ref(), key.app(), key.certificate_id)
            .await
        {
            Ok((cert, adapter)) => Ok((message, cert, adapter)),
            Err(RegistryError::Store(StoreError::NotFound { .. })) => Err("certificate_missing".into()),
            Err(error) => Err(error.to_string()),
        }
    }
}

/// Counts one vendor answer (and, when accepted, its time from commit to vendor).
fn count_outcome(vendor: &'static str, job: &PushJob, outcome: &Outcome, now: i64) {
    metrics::counter!("herald_push_outcomes_total", "vendor" => vendor, "outcome" => outcome.state())
        .increment(1);
    if matches!(outcome, Outcome::Accepted { .. }) {
        let e2e = (now - job.created_at).max(0) as f64 / 1000.0;
        metrics::histogram!("herald_push_end_to_end_seconds", "vendor" => vendor).record(e2e);
    }
}

/// Waits for units' sends to end; the first failure to record outcomes is returned.
pub(super) async fn finish(sending: Vec<Sending>) -> Result<(), StoreError> {
    let mut result = Ok(());
    for task in sending {
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => result = Err(error),
            Err(error) => tracing::error!(%error, "A push send task failed."),
        }
    }
    result
}

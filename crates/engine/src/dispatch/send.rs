//! Sending a batch of jobs: group them, cut the groups into units, and for each unit enter the
//! window, build the notification, call the certificate's adapter, judge each answer by the
//! outcome policy and record the unit's outcomes before leaving the window.

use super::Dispatcher;
use super::group::{GroupKey, MessageKey, Unit, group, unit_size, units};
use crate::adapters::RegistryError;
use crate::outcome::{Answer, Attempted, expired_unsent, judge, rejected_unsent};
use crate::retry::Jitter;
use futures::StreamExt;
use herald_core::delivery::{JobResult, PushJob};
use herald_core::message::Message;
use herald_core::notify::build_notification;
use herald_core::{Adapter, Certificate, Outcome, StoreError, Target, now_millis};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

/// Messages loaded during one batch.
type MessageCache = tokio::sync::Mutex<HashMap<MessageKey, Arc<Message>>>;

impl Dispatcher {
    /// Sends claimed jobs in units, recording each unit's outcomes as soon as its vendor
    /// answered: after a crash, only pushes still in flight are sent again (at least once;
    /// the message id lets the phone drop a duplicate).
    pub(super) async fn send_jobs(&self, jobs: Vec<PushJob>) -> Result<(), StoreError> {
        self.send_jobs_with(jobs, HashMap::new()).await
    }

    /// [`send_jobs`](Self::send_jobs) with messages already at hand.
    pub(super) async fn send_jobs_with(
        &self,
        jobs: Vec<PushJob>,
        known: HashMap<MessageKey, Arc<Message>>,
    ) -> Result<(), StoreError> {
        let messages: Arc<MessageCache> = Arc::new(tokio::sync::Mutex::new(known));
        let mut all = Vec::new();
        for (key, jobs) in group(jobs) {
            let size = unit_size(self.per_request(&key).await, self.config.window);
            all.extend(units(key, jobs, size));
        }
        let completed: Vec<Result<(), StoreError>> = futures::stream::iter(all)
            .map(|unit| {
                let messages = messages.clone();
                async move {
                    // Held from the send until the outcomes are stored.
                    let _entered = self.window.enter(unit.jobs.len()).await;
                    let results = self.send_unit(unit, &messages).await;
                    self.recorder.record(results, self.window.has_room()).await
                }
            })
            .buffer_unordered(self.config.concurrency.max(1))
            .collect()
            .await;
        completed.into_iter().collect()
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

    /// Sends one unit and returns the record of each of its jobs.
    async fn send_unit(&self, Unit { key, jobs }: Unit, cache: &MessageCache) -> Vec<JobResult> {
        let now = now_millis();
        let (live, stale): (Vec<PushJob>, Vec<PushJob>) = jobs.into_iter().partition(|j| j.expires_at > now);
        let mut results: Vec<JobResult> = stale.iter().map(|j| expired_unsent(j, now)).collect();
        if live.is_empty() {
            return results;
        }
        let (message, cert, adapter) = match self.prepare(&key, cache).await {
            Ok(ready) => ready,
            Err(code) => {
                let now = now_millis();
                results.extend(live.iter().map(|j| rejected_unsent(j, code.clone(), now)));
                return results;
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
        match sent {
            Ok(outcomes) => {
                let now = now_millis();
                for (job, outcome) in live.iter().zip(outcomes) {
                    count_outcome(vendor, job, &outcome, now);
                    results.push(judge(job, Answer::Vendor(&outcome), at(now)));
                }
            }
            Err(error) => {
                tracing::warn!(vendor, %error, "Push request failed; will retry.");
                metrics::counter!("herald_push_outcomes_total", "vendor" => vendor, "outcome" => "transport_error")
                    .increment(live.len() as u64);
                let reason = error.to_string();
                let now = now_millis();
                results.extend(live.iter().map(|j| judge(j, Answer::NoAnswer(&reason), at(now))));
            }
        }
        results
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

//! Group commit of push outcomes. Every vendor answer must be written before its jobs count as
//! done, and on a single-writer store one write transaction per answer is the bottleneck at a
//! thousand messages a second. The recorder writes whatever answers queued while its previous
//! write ran in one transaction, so a busy node makes few large writes and an idle one answers
//! each at once.

use herald_core::StoreError;
use herald_core::delivery::JobResult;
use herald_core::store::JobQueue;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Most outcomes written in one transaction.
const MAX_GROUP: usize = 5_000;

/// A write of fewer outcomes than this waits up to [`LINGER`] for others to join it, when
/// every caller in it can wait (see [`Recorder::record`]). A steady trickle of single pushes
/// (a thousand messages a second to single recipients) would otherwise make one write
/// transaction per push, and message commits queue behind each.
const LINGER_BELOW: usize = 16;

/// How long a small write waits for company. The outcome of a push sent already is only
/// recorded this much later; its job stays leased meanwhile, so nothing is sent twice.
const LINGER: std::time::Duration = std::time::Duration::from_millis(2);

/// Outcomes to write, whether their caller can wait for company, and where the answer goes.
struct Request {
    results: Vec<JobResult>,
    patient: bool,
    done: oneshot::Sender<Result<(), String>>,
}

/// Hands outcomes to the recording task. Cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    requests: mpsc::UnboundedSender<Request>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").finish_non_exhaustive()
    }
}

impl Recorder {
    /// Starts the recording task over `queue`; it ends when the last `Recorder` is dropped,
    /// after writing what it was given.
    pub fn spawn(queue: Arc<dyn JobQueue>) -> Self {
        let (requests, receiver) = mpsc::unbounded_channel();
        tokio::spawn(record_loop(queue, receiver));
        Self { requests }
    }

    /// Writes `results` (with any others waiting) and returns once they are stored. A
    /// `patient` caller lets a small write wait [`LINGER`] for others to join it; one that
    /// others wait on (a dispatch window full until these outcomes are stored) is written at
    /// once.
    pub async fn record(&self, results: Vec<JobResult>, patient: bool) -> Result<(), StoreError> {
        if results.is_empty() {
            return Ok(());
        }
        let (done, written) = oneshot::channel();
        self.requests
            .send(Request {
                results,
                patient,
                done,
            })
            .map_err(|_| StoreError::Backend("the outcome recorder has stopped".into()))?;
        match written.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(reason)) => Err(StoreError::Backend(reason.into())),
            Err(_) => Err(StoreError::Backend("the outcome recorder has stopped".into())),
        }
    }
}

/// Requests gathered into one write.
struct Batch {
    requests: Vec<Request>,
    /// Outcomes in all the requests.
    count: usize,
    /// Whether every caller in it can wait for company.
    patient: bool,
}

impl Batch {
    fn new(first: Request) -> Self {
        Self {
            count: first.results.len(),
            patient: first.patient,
            requests: vec![first],
        }
    }

    fn add(&mut self, next: Request) {
        self.count += next.results.len();
        self.patient &= next.patient;
        self.requests.push(next);
    }

    fn lingers(&self) -> bool {
        self.patient && self.count < LINGER_BELOW
    }
}

async fn record_loop(queue: Arc<dyn JobQueue>, mut receiver: mpsc::UnboundedReceiver<Request>) {
    while let Some(first) = receiver.recv().await {
        let mut batch = Batch::new(first);
        while batch.count < MAX_GROUP {
            match receiver.try_recv() {
                Ok(next) => batch.add(next),
                Err(_) => break,
            }
        }
        let until = tokio::time::Instant::now() + LINGER;
        while batch.lingers() {
            match tokio::time::timeout_at(until, receiver.recv()).await {
                Ok(Some(next)) => batch.add(next),
                // Time is up, or every sender is gone: write what there is.
                _ => break,
            }
        }
        let mut group = batch.requests;
        let results: Vec<JobResult> = if group.len() == 1 {
            std::mem::take(&mut group[0].results)
        } else {
            group
                .iter_mut()
                .flat_map(|r| std::mem::take(&mut r.results))
                .collect()
        };
        metrics::histogram!("herald_outcomes_per_write").record(results.len() as f64);
        let written = queue.complete_jobs(&results).await.map_err(|e| e.to_string());
        if written.is_ok() {
            log_unbinds(&results);
        }
        for Request { done, .. } in group {
            // A caller that stopped waiting does not need the answer.
            let _ = done.send(written.clone());
        }
    }
}

/// An unbound token is news for the operator (the app must upload a fresh one): said once, at
/// INFO, with the vendor's reason.
fn log_unbinds(results: &[JobResult]) {
    for result in results {
        if let Some(device) = &result.unbind {
            tracing::info!(
                app = %device.app,
                user = %device.user,
                device = %device.device,
                job = result.id,
                reason = result.attempt.code.as_deref().unwrap_or("invalid token"),
                "Push token unbound: the vendor called it invalid; the app must bind a new one."
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use herald_core::delivery::{Attempt, AttemptOutcome, DeliveryState, PushJob};
    use herald_core::store::StoreResult;
    use std::sync::Mutex;
    use std::time::Duration;

    /// A queue that only remembers how many outcomes each write carried.
    #[derive(Default)]
    struct Writes(Mutex<Vec<usize>>);

    impl Writes {
        fn sizes(&self) -> Vec<usize> {
            self.0.lock().expect("lock").clone()
        }
    }

    #[async_trait]
    impl JobQueue for Writes {
        async fn claim_jobs(&self, _limit: u32, _lease_ms: i64) -> StoreResult<Vec<PushJob>> {
            Ok(Vec::new())
        }
        async fn complete_jobs(&self, results: &[JobResult]) -> StoreResult<()> {
            self.0.lock().expect("lock").push(results.len());
            Ok(())
        }
        async fn postpone_jobs(&self, _ids: &[i64], _until: i64) -> StoreResult<()> {
            Ok(())
        }
        async fn next_due(&self) -> StoreResult<Option<i64>> {
            Ok(None)
        }
    }

    fn accepted(id: i64) -> JobResult {
        JobResult {
            id,
            state: DeliveryState::Accepted,
            not_before: None,
            attempt: Attempt {
                at: 0,
                outcome: AttemptOutcome::Accepted,
                code: None,
                latency_ms: 1,
            },
            vendor_msg_id: None,
            unbind: None,
        }
    }

    /// Records one outcome per push at the given offsets (virtual time) and waits for all.
    async fn record_at(recorder: &Recorder, offsets: &[Duration]) {
        let tasks: Vec<_> = offsets
            .iter()
            .enumerate()
            .map(|(i, offset)| {
                let recorder = recorder.clone();
                let offset = *offset;
                tokio::spawn(async move {
                    tokio::time::sleep(offset).await;
                    recorder.record(vec![accepted(i as i64)], true).await
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("task").expect("recorded");
        }
    }

    #[test]
    fn an_unbind_is_logged_once_at_info_with_the_vendors_reason() {
        let mut unbound = accepted(9);
        unbound.state = DeliveryState::InvalidToken;
        unbound.attempt.outcome = AttemptOutcome::InvalidToken;
        unbound.attempt.code = Some("80300007".into());
        unbound.unbind = Some(herald_core::DeviceKey::new("app_1", "alice", "phone"));
        let logged = crate::test_logs::capture(|| log_unbinds(&[accepted(1), unbound]));
        assert_eq!(logged.lines().count(), 1, "{logged}");
        assert!(
            logged.contains("INFO") && logged.contains("Push token unbound"),
            "{logged}"
        );
        for field in ["app=app_1", "user=alice", "device=phone", "reason=\"80300007\""] {
            assert!(logged.contains(field), "{field} in {logged}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn single_outcomes_a_moment_apart_share_one_write() {
        let writes = Arc::new(Writes::default());
        let recorder = Recorder::spawn(writes.clone());
        let step = LINGER / 4;
        record_at(&recorder, &[Duration::ZERO, step, 2 * step, 3 * step]).await;
        assert_eq!(writes.sizes(), vec![4]);
    }

    #[tokio::test(start_paused = true)]
    async fn outcomes_further_apart_than_the_linger_are_written_apart() {
        let writes = Arc::new(Writes::default());
        let recorder = Recorder::spawn(writes.clone());
        record_at(&recorder, &[Duration::ZERO, 2 * LINGER]).await;
        assert_eq!(writes.sizes(), vec![1, 1]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_with_enough_outcomes_does_not_wait() {
        let writes = Arc::new(Writes::default());
        let recorder = Recorder::spawn(writes.clone());
        let started = tokio::time::Instant::now();
        let results = (0..LINGER_BELOW as i64).map(accepted).collect();
        recorder.record(results, true).await.expect("recorded");
        assert_eq!(
            started.elapsed(),
            Duration::ZERO,
            "no time passes on a paused clock unless something waits"
        );
        assert_eq!(writes.sizes(), vec![LINGER_BELOW]);
    }

    #[tokio::test(start_paused = true)]
    async fn an_outcome_others_wait_on_is_written_at_once() {
        let writes = Arc::new(Writes::default());
        let recorder = Recorder::spawn(writes.clone());
        let started = tokio::time::Instant::now();
        recorder.record(vec![accepted(1)], false).await.expect("recorded");
        assert_eq!(started.elapsed(), Duration::ZERO);
        assert_eq!(writes.sizes(), vec![1]);
    }

    #[tokio::test(start_paused = true)]
    async fn an_outcome_others_wait_on_ends_the_linger() {
        let writes = Arc::new(Writes::default());
        let recorder = Recorder::spawn(writes.clone());
        let started = tokio::time::Instant::now();
        let step = LINGER / 4;
        let lingering = {
            let recorder = recorder.clone();
            tokio::spawn(async move { recorder.record(vec![accepted(1)], true).await })
        };
        tokio::time::sleep(step).await;
        recorder.record(vec![accepted(2)], false).await.expect("recorded");
        lingering.await.expect("task").expect("recorded");
        // The timer's resolution is a millisecond: less than the linger, more than the step.
        assert!(started.elapsed() < LINGER, "{:?}", started.elapsed());
        assert_eq!(writes.sizes(), vec![2]);
    }
}

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

type Request = (Vec<JobResult>, oneshot::Sender<Result<(), String>>);

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

    /// Writes `results` (with any others waiting) and returns once they are stored.
    pub async fn record(&self, results: Vec<JobResult>) -> Result<(), StoreError> {
        if results.is_empty() {
            return Ok(());
        }
        let (done, written) = oneshot::channel();
        self.requests
            .send((results, done))
            .map_err(|_| StoreError::Backend("the outcome recorder has stopped".into()))?;
        match written.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(reason)) => Err(StoreError::Backend(reason.into())),
            Err(_) => Err(StoreError::Backend("the outcome recorder has stopped".into())),
        }
    }
}

async fn record_loop(queue: Arc<dyn JobQueue>, mut receiver: mpsc::UnboundedReceiver<Request>) {
    while let Some(first) = receiver.recv().await {
        let mut group = vec![first];
        let mut count = group[0].0.len();
        while count < MAX_GROUP {
            match receiver.try_recv() {
                Ok(next) => {
                    count += next.0.len();
                    group.push(next);
                }
                Err(_) => break,
            }
        }
        let results: Vec<JobResult> = if group.len() == 1 {
            std::mem::take(&mut group[0].0)
        } else {
            group.iter_mut().flat_map(|(r, _)| std::mem::take(r)).collect()
        };
        metrics::histogram!("herald_outcomes_per_write").record(results.len() as f64);
        let written = queue.complete_jobs(&results).await.map_err(|e| e.to_string());
        for (_, done) in group {
            // A caller that stopped waiting does not need the answer.
            let _ = done.send(written.clone());
        }
    }
}

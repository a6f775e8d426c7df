//! The hand-off: the way from a message commit straight to this node's dispatchers, without a
//! claim transaction or a wake-up (most of a single push's latency).

use super::Dispatcher;
use super::group::MessageKey;
use herald_core::delivery::PushJob;
use herald_core::message::Message;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;

/// Messages whose jobs may wait in the hand-off at once; beyond it, commits queue their jobs
/// for a claim instead (so a backlog stays far inside the lease).
pub(super) const HANDOFF_CAPACITY: usize = 1024;

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
    /// A closed hand-off and the receiving end the dispatchers take from once they run.
    pub(super) fn new(lease_ms: i64) -> (Self, mpsc::Receiver<Handed>) {
        let (jobs, handed) = mpsc::channel(HANDOFF_CAPACITY);
        let handoff = Self {
            jobs,
            open: Arc::default(),
            lease_ms,
        };
        (handoff, handed)
    }

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

    /// Opens or closes the hand-off to commits.
    pub(super) fn set_open(&self, open: bool) {
        self.open.store(open, Ordering::Release);
    }
}

impl Dispatcher {
    /// Sends what commits handed over, as it comes: whatever arrived while earlier sends were
    /// going out forms the next batch. On shutdown, what was handed over is still sent.
    pub(super) async fn handoff_loop(
        self,
        mut handed: mpsc::Receiver<Handed>,
        mut shutdown: watch::Receiver<bool>,
    ) {
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
            let batch = self.gather(first, &mut handed);
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
        self.handoff.set_open(false);
        handed.close();
        while let Some(last) = handed.recv().await {
            self.send_handed(vec![last]).await;
        }
        while sending.join_next().await.is_some() {}
        self.sends_done().await;
    }

    /// `first` and whatever else is waiting, up to a claim's batch of jobs.
    fn gather(&self, first: Handed, handed: &mut mpsc::Receiver<Handed>) -> Vec<Handed> {
        let mut count = first.jobs.len();
        let mut batch = vec![first];
        while count < self.config.batch as usize {
            match handed.try_recv() {
                Ok(next) => {
                    count += next.jobs.len();
                    batch.push(next);
                }
                Err(_) => break,
            }
        }
        batch
    }

    async fn send_handed(&self, batch: Vec<Handed>) {
        let mut messages = HashMap::new();
        let mut jobs = Vec::new();
        for handed in batch {
            messages.insert(
                MessageKey::new(&handed.message.app_id, &handed.message.id),
                handed.message,
            );
            jobs.extend(handed.jobs);
        }
        // Started, not finished: a slot is taken until the batch's units are with their
        // vendors, so a vendor that hangs does not keep the slots of the others.
        match self.start_jobs(jobs, messages).await {
            Ok(sending) => {
                tokio::spawn(async move {
                    if let Err(error) = super::send::finish(sending).await {
                        tracing::warn!(%error, "Recording push outcomes failed; the jobs are sent again when their lease runs out.");
                    }
                });
            }
            Err(error) => {
                tracing::warn!(%error, "Recording push outcomes failed; the jobs are sent again when their lease runs out.");
            }
        }
    }
}

//! The claim loop: each worker leases due jobs from the queue and sends them, sleeping until
//! the next job is due (or a commit wakes it) when nothing is; and the outbox relay, which
//! moves due jobs from the store to a separate queue (the scale-out mode).

use super::Dispatcher;
use super::send::finish;
use herald_core::{StoreError, now_millis};
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::watch;

/// Most outbox rows moved to the queue at once.
const RELAY_BATCH: u32 = 1000;
/// How often the relay looks for retries that came due and for jobs a crashed node committed
/// but never relayed.
const RELAY_POLL: Duration = Duration::from_millis(200);

impl Dispatcher {
    /// Claims one batch of due jobs and sends them; returns how many were handled.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
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

    /// Claims one batch of due jobs and starts sending them; returns how many were claimed
    /// once each is with its vendor or back in the queue, not when every vendor answered: a
    /// vendor that hangs keeps its own requests waiting, not the next claim.
    async fn claim_and_start(&self) -> Result<usize, StoreError> {
        let jobs = self
            .queue
            .claim_jobs(self.config.batch, self.config.lease_ms)
            .await?;
        let n = jobs.len();
        if n > 0 {
            let sending = self.start_jobs(jobs, HashMap::new()).await?;
            tokio::spawn(async move {
                if let Err(error) = finish(sending).await {
                    tracing::warn!(%error, "Recording push outcomes failed; the jobs are sent again when their lease runs out.");
                }
            });
        }
        Ok(n)
    }

    /// Claims and sends until `shutdown` turns true; then waits for the sends it started.
    pub(super) async fn worker(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                self.sends_done().await;
                return;
            }
            let notified = self.wake.notified();
            let handled = match self.claim_and_start().await {
                Ok(n) => n,
                Err(error) => {
                    tracing::warn!(%error, "Claiming push jobs failed; will retry.");
                    0
                }
            };
            if handled > 0 {
                continue;
            }
            let sleep = self.idle_sleep().await;
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep(sleep) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// How long an idle worker sleeps: until the next job is due, at most `idle_poll`.
    async fn idle_sleep(&self) -> Duration {
        let sleep = match self.queue.next_due().await {
            Ok(Some(due)) => Duration::from_millis(u64::try_from(due - now_millis()).unwrap_or(0))
                .min(self.config.idle_poll),
            _ => self.config.idle_poll,
        };
        sleep.max(Duration::from_millis(1))
    }

    /// Moves due jobs from the store to the queue when they are apart (scale-out outbox):
    /// woken when a message queued pushes, and polling for retries that came due and for
    /// jobs a crashed node committed but never relayed.
    pub(super) async fn relay_loop(self, mut shutdown: watch::Receiver<bool>) {
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
}

//! Retention: messages and finished delivery records older than the configured ages are
//! deleted, a small batch per transaction with a pause between batches, so writers never wait
//! behind a long delete and the database stops growing at steady load. The inbox entries of
//! deleted messages are then swept in key order (sync no longer reads them: it joins the
//! message), which costs a pass over the inbox when messages were deleted instead of a second
//! index entry for every recipient of every message.

use herald_core::store::{InboxKey, Purged, Store};
use herald_core::{Millis, now_millis};
use std::sync::Arc;
use std::time::Duration;

/// Rows of each kind deleted per transaction.
const BATCH: u32 = 500;
/// Inbox entries looked at per sweep step.
const SWEEP_BATCH: u32 = 5_000;
/// Pause between two batches: the writers' turn.
const PAUSE: Duration = Duration::from_millis(20);
/// How often old data is looked for (ages are counted in days).
const EVERY: Duration = Duration::from_secs(3600);
const DAY_MS: Millis = 86_400_000;

/// How long data is kept; `0` keeps it forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Days a message stays readable (sync, `GET .../messages/{id}`).
    pub message_days: u64,
    /// Days a finished delivery record stays (the deliveries API, the push test tool, stats).
    pub delivery_days: u64,
}

impl RetentionPolicy {
    /// Whether anything is ever deleted.
    pub fn deletes(&self) -> bool {
        self.message_days > 0 || self.delivery_days > 0
    }

    /// The cut-off of a kept-for-`days` kind at `now` (nothing is older than 0).
    fn cut_off(days: u64, now: Millis) -> Millis {
        match Millis::try_from(days) {
            Ok(days) if days > 0 => now.saturating_sub(days.saturating_mul(DAY_MS)),
            _ => 0,
        }
    }
}

/// Deletes old data of one store.
#[derive(Clone)]
pub struct Retention {
    store: Arc<dyn Store>,
    policy: RetentionPolicy,
}

impl Retention {
    /// Retention of `store` under `policy`.
    pub fn new(store: Arc<dyn Store>, policy: RetentionPolicy) -> Self {
        Self { store, policy }
    }

    /// Deletes everything older than the policy's ages at `now`, batch by batch; returns the
    /// totals.
    pub async fn purge(&self, now: Millis) -> Result<Purged, herald_core::StoreError> {
        let messages_before = RetentionPolicy::cut_off(self.policy.message_days, now);
        let deliveries_before = RetentionPolicy::cut_off(self.policy.delivery_days, now);
        let mut total = Purged::default();
        loop {
            let batch = self
                .store
                .purge_old(messages_before, deliveries_before, BATCH)
                .await?;
            total.messages += batch.messages;
            total.inbox += batch.inbox;
            total.deliveries += batch.deliveries;
            if !batch.was_full(BATCH) {
                break;
            }
            tokio::time::sleep(PAUSE).await;
        }
        if total.messages > 0 {
            total.inbox = self.sweep_inbox().await?;
        }
        Ok(total)
    }

    /// One pass over the inbox, deleting the entries whose message is gone.
    async fn sweep_inbox(&self) -> Result<u64, herald_core::StoreError> {
        let mut after = InboxKey::start();
        let mut deleted = 0;
        loop {
            let (swept, next) = self.store.sweep_inbox(&after, SWEEP_BATCH).await?;
            deleted += swept;
            let Some(next) = next else { return Ok(deleted) };
            after = next;
            tokio::time::sleep(PAUSE).await;
        }
    }

    /// Purges every hour until `stopped` turns true.
    pub fn spawn(self, mut stopped: tokio::sync::watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            if !self.policy.deletes() {
                return;
            }
            loop {
                match self.purge(now_millis()).await {
                    Ok(purged) if purged != Purged::default() => tracing::info!(
                        messages = purged.messages,
                        inbox = purged.inbox,
                        deliveries = purged.deliveries,
                        "Retention deleted old data."
                    ),
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "Retention failed; it tries again in a minute."),
                }
                tokio::select! {
                    _ = tokio::time::sleep(EVERY) => {}
                    _ = stopped.wait_for(|stop| *stop) => return,
                }
            }
        })
    }
}

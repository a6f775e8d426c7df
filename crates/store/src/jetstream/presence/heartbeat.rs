//! Node liveness: each node rewrites its key in the nodes bucket every third of the node TTL,
//! and the surviving nodes delete the presence entries of nodes silent for twice the TTL.

use super::keys::encode_device;
use super::{CLEANUP_BATCH, Inner, State, backend};
use async_nats::jetstream::kv::UpdateErrorKind;
use herald_core::presence::DeviceKey;
use herald_core::store::StoreResult;
use std::sync::Arc;
use std::time::Instant;

impl Inner {
    pub(super) async fn heartbeat(&self) -> StoreResult<u64> {
        self.nodes
            .put(self.node_key.as_str(), self.node_id.clone().into())
            .await
            .map_err(backend)
    }

    /// Deletes presence entries of nodes silent for over twice the TTL (by revision, so an
    /// entry rewritten since survives), and forgets nodes dead that long.
    async fn clean_up(&self) {
        let stale: Vec<(DeviceKey, u64)> = {
            let mut state = self.state();
            let now = Instant::now();
            let grace = self.node_ttl * 2;
            let healthy = state
                .healthy_since
                .is_some_and(|since| now.duration_since(since) > grace);
            let started = state.started.unwrap_or(now);
            let long_silent = |state: &State, node: &str| {
                let heard = state
                    .nodes
                    .get(node)
                    .map_or(started, |seen| seen.beat.unwrap_or(started));
                !self.alive(state, node, now) && now.saturating_duration_since(heard) > grace
            };
            let stale = if healthy {
                state
                    .holders
                    .iter()
                    .filter(|(_, holder)| long_silent(&state, &holder.node))
                    .take(CLEANUP_BATCH)
                    .map(|(key, holder)| (key.clone(), holder.revision))
                    .collect()
            } else {
                Vec::new()
            };
            let gone: Vec<String> = state
                .nodes
                .keys()
                .filter(|node| long_silent(&state, node))
                .cloned()
                .collect();
            for node in gone {
                state.nodes.remove(&node);
            }
            stale
        };
        if !stale.is_empty() {
            tracing::info!(entries = stale.len(), "Deleting presence entries of dead nodes.");
        }
        for (key, revision) in stale {
            let kv_key = encode_device(&key);
            match self
                .presence
                .delete_expect_revision(&kv_key, Some(revision))
                .await
            {
                Ok(()) => {}
                Err(error) if error.kind() == UpdateErrorKind::WrongLastRevision => {}
                Err(error) => {
                    tracing::warn!(%error, "Deleting a dead node's presence entry failed.");
                    return;
                }
            }
        }
    }
}

/// Beats until the node leaves; a failed beat is retried at the next tick.
pub(super) async fn beat(inner: Arc<Inner>) {
    let period = inner.node_ttl / 3;
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if let Err(error) = inner.heartbeat().await {
            tracing::warn!(%error, "Cluster heartbeat failed.");
            continue;
        }
        inner.clean_up().await;
    }
}

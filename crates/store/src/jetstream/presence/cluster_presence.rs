//! What the engine sees: [`NatsPresence`] as the cluster's [`ClusterPresence`].

use super::keys::encode_device;
use super::signals::Envelope;
use super::{Holder, NatsPresence, PARALLEL_WRITES, REPLACED, backend, failure, lock};
use async_trait::async_trait;
use futures::StreamExt;
use herald_core::presence::{ClusterPresence, DeviceKey, LocalDelivery, SessionSignal};
use herald_core::store::{StoreError, StoreResult};
use std::collections::HashMap;

#[async_trait]
impl ClusterPresence for NatsPresence {
    fn node_id(&self) -> &str {
        &self.inner.node_id
    }

    async fn start(&self, deliver: LocalDelivery) -> StoreResult<()> {
        if self.inner.deliver.set(deliver).is_err() {
            return Err(failure("cluster presence already started".into()));
        }
        if let Err(error) = self.follow_cluster().await {
            self.stop_tasks();
            return Err(error);
        }
        self.inner.drop_stale_entries().await;
        Ok(())
    }

    async fn announce(&self, key: &DeviceKey) -> StoreResult<()> {
        let inner = &self.inner;
        let previous = inner.holder_elsewhere(key);
        inner.state().local.insert(key.clone(), None);
        let revision = match inner
            .presence
            .put(encode_device(key), inner.node_id.clone().into())
            .await
        {
            Ok(revision) => revision,
            Err(error) => {
                let mut state = inner.state();
                if state.local.get(key) == Some(&None) {
                    state.local.remove(key);
                }
                return Err(backend(error));
            }
        };
        let replaced = {
            let mut state = inner.state();
            // The replica may already show a newer login elsewhere (seen while the put was in
            // flight, when this node could not yet tell which came first).
            let newer = state
                .holders
                .get(key)
                .is_some_and(|holder| holder.node != inner.node_id && holder.revision > revision);
            if newer {
                state.local.remove(key);
            } else if let Some(announced) = state.local.get_mut(key) {
                *announced = Some(announced.map_or(revision, |known| known.max(revision)));
                // Known now, not only when the watch brings the put back: until then the
                // replica would still name the previous holder.
                state.holders.insert(
                    key.clone(),
                    Holder {
                        node: inner.node_id.clone(),
                        revision,
                    },
                );
            }
            newer
        };
        if replaced {
            inner.deliver(
                key.clone(),
                SessionSignal::Close {
                    reason: REPLACED.into(),
                },
            );
        }
        if let Some(node) = previous {
            // The previous holder also learns it from its replica; this is only faster.
            let close = Envelope {
                key: key.clone(),
                signal: SessionSignal::Close {
                    reason: REPLACED.into(),
                },
                replaced_at: Some(revision),
            };
            inner.publish(&node, &close).await?;
        }
        Ok(())
    }

    async fn withdraw(&self, key: &DeviceKey) -> StoreResult<()> {
        let revision = self.inner.state().local.remove(key).flatten();
        self.inner.delete_own(key, revision).await
    }

    fn held_elsewhere(&self, key: &DeviceKey) -> bool {
        self.inner.holder_elsewhere(key).is_some()
    }

    async fn forward(&self, key: &DeviceKey, signal: SessionSignal) -> StoreResult<bool> {
        let Some(node) = self.inner.holder_elsewhere(key) else {
            return Ok(false);
        };
        let envelope = Envelope {
            key: key.clone(),
            signal,
            replaced_at: None,
        };
        self.inner.publish(&node, &envelope).await?;
        Ok(true)
    }

    async fn leave(&self) -> StoreResult<()> {
        let inner = &self.inner;
        let heartbeat = lock(&self.heartbeat).take();
        if let Some(heartbeat) = heartbeat {
            heartbeat.abort();
            // Wait for it to stop, so no heartbeat lands after the node key is deleted.
            let _ = heartbeat.await;
        }
        let own: Vec<(DeviceKey, Option<u64>)> = {
            let mut state = inner.state();
            let mut own: HashMap<DeviceKey, Option<u64>> = state.local.drain().collect();
            for (key, holder) in &state.holders {
                if holder.node == inner.node_id {
                    own.entry(key.clone()).or_insert(Some(holder.revision));
                }
            }
            own.into_iter().collect()
        };
        let failures: Vec<StoreError> = futures::stream::iter(own)
            .map(|(key, revision)| async move { inner.delete_own(&key, revision).await })
            .buffer_unordered(PARALLEL_WRITES)
            .filter_map(|done| async move { done.err() })
            .collect()
            .await;
        let node = inner.nodes.delete(inner.node_key.as_str()).await.map_err(backend);
        self.stop_tasks();
        if let Some(error) = failures.into_iter().next() {
            return Err(error);
        }
        node
    }
}

//! The in-memory replica of both buckets: every node follows the presence bucket (device →
//! node) and the nodes bucket (heartbeats), so routing asks no network question.

use super::keys::{decode_device, decode_token};
use super::{Holder, Inner, NodeSeen, PARALLEL_WRITES, REPLACED, backend};
use async_nats::jetstream::consumer::{DeliverPolicy, ReplayPolicy, push};
use async_nats::jetstream::kv;
use futures::StreamExt;
use herald_core::presence::{DeviceKey, SessionSignal};
use herald_core::store::StoreResult;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::oneshot;

/// One change read from a bucket.
struct Change {
    /// The KV key.
    key: String,
    /// The value of a put; `None` for a delete or purge.
    value: Option<String>,
    revision: u64,
    /// Age by the server's clock.
    age: Duration,
    /// Messages after this one still to come.
    pending: u64,
}

fn parse_change(prefix: &str, message: &async_nats::jetstream::Message) -> Option<Change> {
    let info = message.info().ok()?;
    let key = message.subject.as_str().strip_prefix(prefix)?.to_string();
    let removed = message
        .headers
        .as_ref()
        .and_then(|headers| headers.get("KV-Operation"))
        .is_some_and(|op| matches!(op.as_str(), "DEL" | "PURGE"));
    let value = if removed {
        None
    } else {
        Some(String::from_utf8_lossy(&message.payload).into_owned())
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos() as i128);
    let age = (now - info.published.unix_timestamp_nanos()).clamp(0, i128::from(u64::MAX));
    Some(Change {
        key,
        value,
        revision: info.stream_sequence,
        age: Duration::from_nanos(age as u64),
        pending: info.pending,
    })
}

#[derive(Clone, Copy)]
pub(super) enum Bucket {
    /// Device → node holding its session.
    Presence,
    /// Node → heartbeat.
    Nodes,
}

/// Starts following a whole bucket from the last value of each key. Returns the messages and
/// whether the bucket was empty (then no message marks the end of the initial load).
pub(super) async fn follow(inner: &Inner, bucket: &kv::Store) -> StoreResult<(push::Ordered, bool)> {
    let consumer = bucket
        .stream
        .create_consumer(push::OrderedConfig {
            deliver_subject: inner.client.new_inbox(),
            description: Some(format!("herald presence replica of {}", inner.node_id)),
            filter_subject: format!("{}>", bucket.prefix),
            replay_policy: ReplayPolicy::Instant,
            deliver_policy: DeliverPolicy::LastPerSubject,
            ..Default::default()
        })
        .await
        .map_err(backend)?;
    let empty = consumer.cached_info().num_pending == 0;
    let messages = consumer.messages().await.map_err(backend)?;
    Ok((messages, empty))
}

/// Applies a bucket's changes to the replica for as long as the node runs; `loaded` fires
/// once the values present at the start have all been applied.
pub(super) async fn replicate(
    inner: Arc<Inner>,
    which: Bucket,
    mut messages: push::Ordered,
    mut loaded: Option<oneshot::Sender<()>>,
) {
    let prefix = match which {
        Bucket::Presence => inner.presence.prefix.clone(),
        Bucket::Nodes => inner.nodes.prefix.clone(),
    };
    while let Some(message) = messages.next().await {
        let message = match message {
            Ok(message) => message,
            Err(error) => {
                // The ordered consumer recreates itself; keep reading.
                tracing::debug!(%error, "Presence replica interrupted.");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(change) = parse_change(&prefix, &message) else {
            continue;
        };
        let pending = change.pending;
        match which {
            Bucket::Presence => inner.apply_presence(change),
            Bucket::Nodes => inner.apply_node(change, loaded.is_none()),
        }
        if pending == 0
            && let Some(loaded) = loaded.take()
        {
            let _ = loaded.send(());
        }
    }
    tracing::warn!("Presence replica stopped: this node's view of the cluster is frozen.");
}

impl Inner {
    /// Applies one change of the presence bucket to the replica; closes this node's session
    /// when another node took the device over.
    fn apply_presence(&self, change: Change) {
        let Some(key) = decode_device(&change.key) else {
            tracing::debug!(key = %change.key, "Ignoring a presence key Herald did not write.");
            return;
        };
        let mut replaced = false;
        {
            let mut state = self.state();
            // This node's own put may be in the replica already (written by `announce`);
            // the watch can still bring older changes of the key, which must not undo it.
            if state
                .holders
                .get(&key)
                .is_some_and(|holder| holder.revision > change.revision)
            {
                return;
            }
            match change.value {
                Some(node) => {
                    if node != self.node_id
                        && let Some(Some(announced)) = state.local.get(&key)
                        && change.revision > *announced
                    {
                        state.local.remove(&key);
                        replaced = true;
                    }
                    state.holders.insert(
                        key.clone(),
                        Holder {
                            node,
                            revision: change.revision,
                        },
                    );
                }
                None => {
                    state.holders.remove(&key);
                }
            }
        }
        if replaced {
            self.deliver(
                key,
                SessionSignal::Close {
                    reason: REPLACED.into(),
                },
            );
        }
    }

    /// Applies one change of the nodes bucket. Heartbeats from the initial load are dated by
    /// the server's timestamp; later ones by their arrival, which no clock skew distorts.
    fn apply_node(&self, change: Change, live: bool) {
        let Some(node) = decode_token(&change.key) else {
            return;
        };
        let now = Instant::now();
        let mut state = self.state();
        if change.value.is_none() {
            state.nodes.insert(
                node,
                NodeSeen {
                    beat: Some(now),
                    left: true,
                },
            );
            return;
        }
        if node == self.node_id {
            if state
                .own_seen
                .is_none_or(|seen| now.duration_since(seen) > self.node_ttl)
            {
                state.healthy_since = Some(now);
            }
            state.own_seen = Some(now);
        }
        let beat = if live {
            Some(now)
        } else {
            now.checked_sub(change.age)
        };
        state.nodes.insert(node, NodeSeen { beat, left: false });
    }

    /// Deletes entries naming this node that it did not announce: they are left from an
    /// earlier run under the same id, and the other nodes would route to sessions that no
    /// longer exist.
    pub(super) async fn drop_stale_entries(&self) {
        let stale: Vec<(DeviceKey, u64)> = {
            let state = self.state();
            state
                .holders
                .iter()
                .filter(|(key, holder)| holder.node == self.node_id && !state.local.contains_key(*key))
                .map(|(key, holder)| (key.clone(), holder.revision))
                .collect()
        };
        if !stale.is_empty() {
            tracing::info!(
                entries = stale.len(),
                "Deleting presence entries left by this node's last run."
            );
        }
        futures::stream::iter(stale)
            .map(|(key, revision)| async move {
                if let Err(error) = self.delete_own(&key, Some(revision)).await {
                    tracing::warn!(%error, "Deleting a stale presence entry failed.");
                }
            })
            .buffer_unordered(PARALLEL_WRITES)
            .collect::<()>()
            .await;
    }
}

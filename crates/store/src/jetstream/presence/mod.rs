//! Cluster presence on NATS.
//!
//! Two KV buckets hold the shared state: `<cluster>_presence` maps a device to the node
//! holding its live session, `<cluster>_nodes` holds one heartbeat key per node (rewritten
//! every third of the node TTL). Every node follows both buckets into an in-memory replica,
//! so routing asks no network question. Signals travel on core NATS, one subject per node.
//!
//! Liveness comes from heartbeat timestamps, never from deletions: NATS 2.9 tells no watcher
//! when `max_age` removes an entry, so a crashed node's last heartbeat simply grows old.
//! Presence entries carry no TTL either (NATS 2.9 has no per-message TTL): a dead node's
//! entries are ignored at once and deleted by the surviving nodes after twice the TTL.
//!
//! The parts: `kv_bucket.rs` opens the buckets, `replica.rs` follows them into the replica,
//! `heartbeat.rs` keeps this node alive in the nodes bucket and cleans up after dead ones,
//! `signals.rs` carries frames and kicks to the node holding a device, `keys.rs` turns device
//! keys into KV keys and subject tokens, and `cluster_presence.rs` is what the engine sees: the
//! `ClusterPresence` trait on [`NatsPresence`].

mod cluster_presence;
mod heartbeat;
mod keys;
mod kv_bucket;
mod replica;
mod signals;

use async_nats::Client;
use async_nats::jetstream::kv::{self, UpdateErrorKind};
use herald_core::presence::{DeviceKey, LocalDelivery, SessionSignal};
use herald_core::store::{StoreError, StoreResult};
use keys::{encode_device, encode_token};
use replica::{Bucket, follow, replicate};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// What the replaced session is told (the same words as a replacement on one node).
const REPLACED: &str = "replaced by a newer login of this device";
/// How long `start` waits for the replicas' first load before giving up.
const INITIAL_LOAD_TIMEOUT: Duration = Duration::from_secs(120);
/// Stale entries deleted per heartbeat, so a mass cleanup never delays the heartbeat much.
const CLEANUP_BATCH: usize = 256;
/// KV writes in flight at once when many keys go together (leave, stale entries at start).
const PARALLEL_WRITES: usize = 64;

fn backend<E: std::error::Error + Send + Sync + 'static>(error: E) -> StoreError {
    StoreError::Backend(Box::new(error))
}

fn failure(message: String) -> StoreError {
    StoreError::Backend(message.into())
}

/// Cluster presence backed by NATS JetStream KV and core NATS subjects. Dropping it stops its
/// heartbeat without leaving: the other nodes time it out, as if it had crashed.
pub struct NatsPresence {
    inner: Arc<Inner>,
    heartbeat: Mutex<Option<JoinHandle<()>>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for NatsPresence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsPresence")
            .field("node", &self.inner.node_id)
            .field("presence", &self.inner.presence.name)
            .finish_non_exhaustive()
    }
}

struct Inner {
    client: Client,
    presence: kv::Store,
    nodes: kv::Store,
    /// `<cluster>.node.`: a node's signals go to `<prefix><encoded node id>.signal`.
    subject_prefix: String,
    node_id: String,
    /// This node's key in the nodes bucket.
    node_key: String,
    node_ttl: Duration,
    state: Mutex<State>,
    deliver: OnceLock<LocalDelivery>,
}

#[derive(Default)]
struct State {
    /// Replica of the presence bucket.
    holders: HashMap<DeviceKey, Holder>,
    /// Replica of the nodes bucket (kept past expiry, pruned by the heartbeat task).
    nodes: HashMap<String, NodeSeen>,
    /// Devices this node announced, with the revision of its put (`None` while in flight).
    /// A change of the key to another node with a higher revision replaced this session.
    local: HashMap<DeviceKey, Option<u64>>,
    /// When this node started following the buckets: nodes never heard of count as last
    /// heard then.
    started: Option<Instant>,
    /// When this node last saw its own heartbeat come back through the watch.
    own_seen: Option<Instant>,
    /// Start of the current unbroken run of own heartbeats: only a node whose own view has
    /// been current for a while may judge others dead for good (after a NATS outage every
    /// node looks silent).
    healthy_since: Option<Instant>,
}

struct Holder {
    node: String,
    revision: u64,
}

struct NodeSeen {
    /// Last heartbeat (`None`: older than this process can express, i.e. long dead).
    beat: Option<Instant>,
    /// Deleted its key on a graceful leave.
    left: bool,
}

impl NatsPresence {
    /// Opens (creating if needed) the cluster's buckets. `cluster` prefixes the bucket and
    /// subject names (characters NATS names forbid become `_`); `node_ttl` is the heartbeat
    /// silence after which a node counts as dead (heartbeats go every third of it). Nothing
    /// runs until [`ClusterPresence::start`].
    pub async fn connect(
        client: Client,
        cluster: &str,
        node_id: String,
        node_ttl: Duration,
    ) -> StoreResult<NatsPresence> {
        if node_ttl < Duration::from_millis(30) {
            return Err(failure(format!("node TTL {node_ttl:?} is too short")));
        }
        if node_id.is_empty() {
            return Err(failure("the node id is empty".into()));
        }
        let [presence_bucket, nodes_bucket] = super::presence_buckets(cluster);
        let cluster = super::nats_name(cluster);
        let js = async_nats::jetstream::new(client.clone());
        let presence = kv_bucket::open_bucket(
            &js,
            presence_bucket,
            "Herald: which node holds each device's live session",
            Duration::ZERO,
        )
        .await?;
        let nodes = kv_bucket::open_bucket(&js, nodes_bucket, "Herald: node heartbeats", node_ttl).await?;
        let node_key = encode_token(&node_id);
        Ok(NatsPresence {
            inner: Arc::new(Inner {
                client,
                presence,
                nodes,
                subject_prefix: format!("{cluster}.node."),
                node_id,
                node_key,
                node_ttl,
                state: Mutex::default(),
                deliver: OnceLock::new(),
            }),
            heartbeat: Mutex::default(),
            tasks: Mutex::default(),
        })
    }

    fn stop_tasks(&self) {
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
        if let Some(task) = lock(&self.heartbeat).take() {
            task.abort();
        }
    }

    /// Subscribes to this node's signals, loads both replicas and starts the heartbeat.
    async fn follow_cluster(&self) -> StoreResult<()> {
        let inner = &self.inner;
        inner.state().started = Some(Instant::now());
        let signals = inner
            .client
            .subscribe(inner.signal_subject(&inner.node_id))
            .await
            .map_err(backend)?;
        lock(&self.tasks).push(tokio::spawn(signals::receive_signals(inner.clone(), signals)));
        let mut waits = Vec::new();
        for (which, bucket) in [(Bucket::Presence, &inner.presence), (Bucket::Nodes, &inner.nodes)] {
            let (messages, empty) = follow(inner, bucket).await?;
            let (loaded_tx, loaded) = oneshot::channel();
            let loaded_tx = if empty {
                let _ = loaded_tx.send(());
                None
            } else {
                Some(loaded_tx)
            };
            lock(&self.tasks).push(tokio::spawn(replicate(inner.clone(), which, messages, loaded_tx)));
            waits.push(loaded);
        }
        // Written after the nodes watch began: the load then always ends with a message
        // (values counted at the start may expire before they are delivered).
        inner.heartbeat().await?;
        inner.client.flush().await.map_err(backend)?;
        let loaded = tokio::time::timeout(INITIAL_LOAD_TIMEOUT, futures::future::join_all(waits))
            .await
            .map_err(|_| failure("timed out loading the cluster presence".into()))?;
        if loaded.iter().any(Result::is_err) {
            return Err(failure(
                "the cluster presence replica stopped while loading".into(),
            ));
        }
        *lock(&self.heartbeat) = Some(tokio::spawn(heartbeat::beat(inner.clone())));
        Ok(())
    }
}

impl Drop for NatsPresence {
    fn drop(&mut self) {
        self.stop_tasks();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded maps stay consistent between statements: keep going after a panic.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Inner {
    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    fn deliver(&self, key: DeviceKey, signal: SessionSignal) {
        if let Some(deliver) = self.deliver.get() {
            deliver(key, signal);
        }
    }

    fn alive(&self, state: &State, node: &str, now: Instant) -> bool {
        node == self.node_id
            || state.nodes.get(node).is_some_and(|seen| {
                !seen.left
                    && seen
                        .beat
                        .is_some_and(|beat| now.saturating_duration_since(beat) < self.node_ttl)
            })
    }

    /// The live node other than this one that holds the device, from the replica.
    fn holder_elsewhere(&self, key: &DeviceKey) -> Option<String> {
        let state = self.state();
        let holder = state.holders.get(key)?;
        (holder.node != self.node_id && self.alive(&state, &holder.node, Instant::now()))
            .then(|| holder.node.clone())
    }

    /// Deletes the device's entry if it still names this node: at `revision` when known,
    /// else at the revision read now. The delete is revision-checked, so an entry another
    /// node wrote meanwhile survives.
    async fn delete_own(&self, key: &DeviceKey, revision: Option<u64>) -> StoreResult<()> {
        let kv_key = encode_device(key);
        let revision = match revision {
            Some(revision) => revision,
            None => match self.presence.entry(kv_key.as_str()).await.map_err(backend)? {
                Some(entry)
                    if entry.operation == kv::Operation::Put && entry.value == self.node_id.as_bytes() =>
                {
                    entry.revision
                }
                _ => return Ok(()),
            },
        };
        match self
            .presence
            .delete_expect_revision(&kv_key, Some(revision))
            .await
        {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == UpdateErrorKind::WrongLastRevision => Ok(()),
            Err(error) => Err(backend(error)),
        }
    }
}

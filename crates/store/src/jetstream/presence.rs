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

use async_nats::Client;
use async_nats::jetstream::consumer::{DeliverPolicy, ReplayPolicy, push};
use async_nats::jetstream::kv::{self, UpdateErrorKind};
use async_nats::jetstream::stream;
use async_trait::async_trait;
use futures::StreamExt;
use herald_core::presence::{ClusterPresence, DeviceKey, LocalDelivery, SessionSignal};
use herald_core::store::{StoreError, StoreResult};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
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

/// A signal on the wire. `replaced_at` marks the close sent to the previous holder on a new
/// login: it only closes a session announced before that revision, so a close that arrives
/// late cannot end a newer login on the same node.
#[derive(Serialize, Deserialize)]
struct Envelope {
    key: DeviceKey,
    signal: SessionSignal,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    replaced_at: Option<u64>,
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
        let presence = open_bucket(
            &js,
            presence_bucket,
            "Herald: which node holds each device's live session",
            Duration::ZERO,
        )
        .await?;
        let nodes = open_bucket(&js, nodes_bucket, "Herald: node heartbeats", node_ttl).await?;
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
        lock(&self.tasks).push(tokio::spawn(receive_signals(inner.clone(), signals)));
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
        *lock(&self.heartbeat) = Some(tokio::spawn(beat(inner.clone())));
        Ok(())
    }
}

impl Drop for NatsPresence {
    fn drop(&mut self) {
        self.stop_tasks();
    }
}

/// Opens a KV bucket, creating it when missing. An existing bucket is used as it is, so
/// nodes configured with different TTLs still share one bucket.
///
/// The bucket's stream is created directly, with the settings a KV bucket has, because the
/// client's `create_key_value` first reads the account info, which it cannot parse from a
/// NATS 2.9 server.
async fn open_bucket(
    js: &async_nats::jetstream::Context,
    bucket: String,
    description: &str,
    max_age: Duration,
) -> StoreResult<kv::Store> {
    if let Ok(store) = js.get_key_value(bucket.as_str()).await {
        return Ok(store);
    }
    let config = stream::Config {
        name: format!("KV_{bucket}"),
        description: Some(description.into()),
        subjects: vec![format!("$KV.{bucket}.>")],
        max_messages_per_subject: 1,
        max_age,
        storage: stream::StorageType::File,
        num_replicas: 1,
        discard: stream::DiscardPolicy::New,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        ..Default::default()
    };
    let created = js.get_or_create_stream(config).await;
    match js.get_key_value(bucket).await {
        Ok(store) => Ok(store),
        Err(error) => Err(match created {
            Err(create) => backend(create),
            Ok(_) => backend(error),
        }),
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

    fn signal_subject(&self, node_id: &str) -> String {
        format!("{}{}.signal", self.subject_prefix, encode_token(node_id))
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

    async fn publish(&self, node: &str, envelope: &Envelope) -> StoreResult<()> {
        let payload = serde_json::to_vec(envelope).map_err(backend)?;
        self.client
            .publish(self.signal_subject(node), payload.into())
            .await
            .map_err(backend)
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

    /// Closes this node's session of a device on a signal from the node that took it over,
    /// unless this node announced the device again after that takeover.
    fn apply_replacement(&self, key: DeviceKey, signal: SessionSignal, replaced_at: u64) {
        let replaced = {
            let mut state = self.state();
            let older = matches!(state.local.get(&key), Some(Some(announced)) if *announced < replaced_at);
            if older {
                state.local.remove(&key);
            }
            older
        };
        if replaced {
            self.deliver(key, signal);
        }
    }

    /// Deletes entries naming this node that it did not announce: they are left from an
    /// earlier run under the same id, and the other nodes would route to sessions that no
    /// longer exist.
    async fn drop_stale_entries(&self) {
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

    /// Hands a signal from another node to the session. A close ends the session for good
    /// (the hub forgets it without withdrawing), so this node's entry goes with it: other
    /// nodes must not keep routing to a session that is gone.
    async fn receive(&self, key: DeviceKey, signal: SessionSignal) {
        let ended = match signal {
            SessionSignal::Close { .. } => self.state().local.remove(&key).flatten(),
            SessionSignal::Frame { .. } => None,
        };
        self.deliver(key.clone(), signal);
        if let Some(revision) = ended
            && let Err(error) = self.delete_own(&key, Some(revision)).await
        {
            tracing::warn!(%error, "Withdrawing a closed session failed.");
        }
    }

    async fn heartbeat(&self) -> StoreResult<u64> {
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
enum Bucket {
    Presence,
    Nodes,
}

/// Starts following a whole bucket from the last value of each key. Returns the messages and
/// whether the bucket was empty (then no message marks the end of the initial load).
async fn follow(inner: &Inner, bucket: &kv::Store) -> StoreResult<(push::Ordered, bool)> {
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
async fn replicate(
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

/// Hands signals addressed to this node to its sessions.
async fn receive_signals(inner: Arc<Inner>, mut signals: async_nats::Subscriber) {
    while let Some(message) = signals.next().await {
        match serde_json::from_slice::<Envelope>(&message.payload) {
            Ok(Envelope {
                key,
                signal,
                replaced_at: Some(revision),
            }) => inner.apply_replacement(key, signal, revision),
            Ok(envelope) => inner.receive(envelope.key, envelope.signal).await,
            Err(error) => tracing::warn!(%error, "Ignoring an unreadable cluster signal."),
        }
    }
}

async fn beat(inner: Arc<Inner>) {
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

/// The KV key of a device: `app.user.device`, each id escaped by [`encode_token`], so any
/// id is allowed and one user's devices share a subject prefix.
fn encode_device(key: &DeviceKey) -> String {
    format!(
        "{}.{}.{}",
        encode_token(&key.app),
        encode_token(&key.user),
        encode_token(&key.device)
    )
}

fn decode_device(kv_key: &str) -> Option<DeviceKey> {
    let mut tokens = kv_key.split('.');
    let key = DeviceKey {
        app: decode_token(tokens.next()?)?,
        user: decode_token(tokens.next()?)?,
        device: decode_token(tokens.next()?)?,
    };
    tokens.next().is_none().then_some(key)
}

/// Escapes an id into one KV key / subject token: ASCII letters, digits, `-` and `_` stay,
/// every other byte becomes `=XX` (upper-case hex), and the empty id is `=`. The result is
/// readable for the usual ids and never contains `.`, `*`, `>` or whitespace.
fn encode_token(raw: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    if raw.is_empty() {
        return "=".into();
    }
    let mut out = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' {
            out.push(char::from(byte));
        } else {
            out.push('=');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
    out
}

fn decode_token(token: &str) -> Option<String> {
    fn hex(digit: u8) -> Option<u8> {
        match digit {
            b'0'..=b'9' => Some(digit - b'0'),
            b'A'..=b'F' => Some(digit - b'A' + 10),
            _ => None,
        }
    }
    if token == "=" {
        return Some(String::new());
    }
    if token.is_empty() {
        return None;
    }
    let bytes = token.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'=' => {
                out.push(hex(*bytes.get(at + 1)?)? << 4 | hex(*bytes.get(at + 2)?)?);
                at += 3;
            }
            byte if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' => {
                out.push(byte);
                at += 1;
            }
            _ => return None,
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_keys_round_trip_through_legal_kv_keys() {
        for key in [
            DeviceKey::new("app", "alice", "phone"),
            DeviceKey::new("a.b", "user with space", "dev*>/é=\0"),
            DeviceKey::new("", "", "x"),
            DeviceKey::new("=", "==", "=3D"),
        ] {
            let encoded = encode_device(&key);
            assert!(
                encoded
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_=.".contains(&b)),
                "{encoded}"
            );
            assert_eq!(encoded.split('.').count(), 3, "{encoded}");
            assert_eq!(decode_device(&encoded), Some(key));
        }
        assert_eq!(
            encode_device(&DeviceKey::new("app", "alice", "phone")),
            "app.alice.phone"
        );
        assert_eq!(decode_device("a.b"), None);
        assert_eq!(decode_device("a.b.c.d"), None);
        assert_eq!(decode_device("a.b.=zz"), None);
        assert_eq!(decode_device("a.b.=3d"), None, "lower-case hex is not canonical");
    }
}

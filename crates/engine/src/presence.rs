//! The presence hub: the devices connected to this node, each with a channel the rest of the
//! system uses to reach its live session (deliver a frame, kick it). A device has at most one
//! live session: a second login replaces the first. In the scale-out mode the hub also tells
//! the cluster which devices it holds and reaches devices held by other nodes through it.

pub use herald_core::presence::{DeviceKey, SessionSignal};

use herald_core::presence::ClusterPresence;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::mpsc;

/// A registered session: its id (to tell a replaced session from the current one) and its
/// channel.
#[derive(Debug)]
struct Session {
    id: u64,
    tx: mpsc::UnboundedSender<SessionSignal>,
}

/// What the hub asks of the cluster, in the order it happened (an announce must not overtake
/// the withdraw before it).
enum ClusterOp {
    Announce(DeviceKey),
    Withdraw(DeviceKey),
    Forward(DeviceKey, SessionSignal),
}

/// The connected devices of this node. Cheap to clone; all clones share one table.
#[derive(Clone, Default)]
pub struct PresenceHub {
    inner: Arc<Mutex<HubTable>>,
    cluster: Option<Arc<dyn ClusterPresence>>,
    ops: Option<mpsc::UnboundedSender<ClusterOp>>,
}

impl std::fmt::Debug for PresenceHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresenceHub")
            .field("clustered", &self.cluster.is_some())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct HubTable {
    next_id: u64,
    sessions: HashMap<DeviceKey, Session>,
}

/// A session's registration; dropping it does not unregister (call [`PresenceHub::leave`]).
#[derive(Debug)]
pub struct Registration {
    /// The session id to pass to [`PresenceHub::leave`].
    pub id: u64,
    /// Signals for this session.
    pub signals: mpsc::UnboundedReceiver<SessionSignal>,
}

impl PresenceHub {
    /// A hub with no sessions, for a node on its own.
    pub fn new() -> Self {
        Self::default()
    }

    /// A hub that is one node of a cluster: it starts the cluster presence (signals from
    /// other nodes reach this hub's sessions) and a task that carries this node's presence
    /// changes and forwarded signals to the cluster in order.
    pub async fn clustered(cluster: Arc<dyn ClusterPresence>) -> herald_core::store::StoreResult<Self> {
        let (ops_tx, mut ops_rx) = mpsc::unbounded_channel::<ClusterOp>();
        let hub = Self {
            inner: Arc::default(),
            cluster: Some(cluster.clone()),
            ops: Some(ops_tx),
        };
        let local = hub.local_only();
        cluster
            .start(Arc::new(move |key, signal| match signal {
                SessionSignal::Close { reason } => {
                    local.close_local(&key, &reason);
                }
                frame => {
                    local.signal_local(&key, frame);
                }
            }))
            .await?;
        tokio::spawn(async move {
            while let Some(op) = ops_rx.recv().await {
                let done = match &op {
                    ClusterOp::Announce(key) => cluster.announce(key).await,
                    ClusterOp::Withdraw(key) => cluster.withdraw(key).await,
                    ClusterOp::Forward(key, signal) => cluster.forward(key, signal.clone()).await.map(|_| ()),
                };
                if let Err(error) = done {
                    tracing::warn!(%error, "Cluster presence update failed.");
                }
            }
        });
        Ok(hub)
    }

    /// The same table without the cluster link (what signals from other nodes are given to).
    fn local_only(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            cluster: None,
            ops: None,
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HubTable> {
        // A panic while holding the lock leaves a consistent map: keep going.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn tell_cluster(&self, op: ClusterOp) {
        if let Some(ops) = &self.ops {
            let _ = ops.send(op);
        }
    }

    /// Registers a live session for a device, closing the one it replaces (on this node or,
    /// through the cluster, on another).
    pub fn join(&self, key: DeviceKey) -> Registration {
        let (tx, signals) = mpsc::unbounded_channel();
        let id = {
            let mut table = self.table();
            table.next_id += 1;
            let id = table.next_id;
            if let Some(old) = table.sessions.insert(key.clone(), Session { id, tx }) {
                let _ = old.tx.send(SessionSignal::Close {
                    reason: "replaced by a newer login of this device".into(),
                });
            }
            id
        };
        self.tell_cluster(ClusterOp::Announce(key));
        Registration { id, signals }
    }

    /// Removes a session, unless a newer one already replaced it. Returns whether it was the
    /// current session.
    pub fn leave(&self, key: &DeviceKey, id: u64) -> bool {
        let removed = {
            let mut table = self.table();
            if table.sessions.get(key).is_some_and(|s| s.id == id) {
                table.sessions.remove(key);
                true
            } else {
                false
            }
        };
        if removed {
            self.tell_cluster(ClusterOp::Withdraw(key.clone()));
        }
        removed
    }

    /// Whether the device has a live session on this node or, in a cluster, on another live
    /// node.
    pub fn is_connected(&self, key: &DeviceKey) -> bool {
        self.table().sessions.contains_key(key)
            || self.cluster.as_ref().is_some_and(|c| c.held_elsewhere(key))
    }

    /// Sends a signal to the device's live session wherever it is; returns whether one was
    /// there to take it.
    pub fn signal(&self, key: &DeviceKey, signal: SessionSignal) -> bool {
        // Handed back when no local session took it: a live frame is not copied per device.
        let signal = match self.try_local(key, signal) {
            Ok(()) => return true,
            Err(signal) => signal,
        };
        match &self.cluster {
            Some(cluster) if cluster.held_elsewhere(key) => {
                self.tell_cluster(ClusterOp::Forward(key.clone(), signal));
                true
            }
            _ => false,
        }
    }

    fn signal_local(&self, key: &DeviceKey, signal: SessionSignal) -> bool {
        self.try_local(key, signal).is_ok()
    }

    /// Gives the signal to this node's session of the device, or hands it back.
    fn try_local(&self, key: &DeviceKey, signal: SessionSignal) -> Result<(), SessionSignal> {
        match self.table().sessions.get(key) {
            Some(session) => session.tx.send(signal).map_err(|e| e.0),
            None => Err(signal),
        }
    }

    /// Closes the device's live session (wherever it is) with a reason and forgets it.
    pub fn kick(&self, key: &DeviceKey, reason: &str) -> bool {
        if self.close_local(key, reason) {
            self.tell_cluster(ClusterOp::Withdraw(key.clone()));
            return true;
        }
        self.signal(
            key,
            SessionSignal::Close {
                reason: reason.into(),
            },
        )
    }

    fn close_local(&self, key: &DeviceKey, reason: &str) -> bool {
        let session = self.table().sessions.remove(key);
        session.is_some_and(|s| {
            s.tx.send(SessionSignal::Close {
                reason: reason.into(),
            })
            .is_ok()
        })
    }

    /// Number of live sessions on this node.
    pub fn len(&self) -> usize {
        self.table().sessions.len()
    }

    /// Whether no session is live on this node.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Leaves the cluster (graceful shutdown): other nodes stop counting this node's devices
    /// as connected at once instead of after the heartbeat timeout.
    pub async fn leave_cluster(&self) {
        if let Some(cluster) = &self.cluster
            && let Err(error) = cluster.leave().await
        {
            tracing::warn!(%error, "Leaving the cluster failed; other nodes will time this node out.");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_login_replaces_the_first_and_the_old_leave_is_ignored() {
        let hub = PresenceHub::new();
        let key = DeviceKey::new("app", "alice", "phone");
        let mut first = hub.join(key.clone());
        let second = hub.join(key.clone());
        assert!(matches!(
            first.signals.try_recv(),
            Ok(SessionSignal::Close { .. })
        ));
        assert!(
            !hub.leave(&key, first.id),
            "stale session must not remove the new one"
        );
        assert!(hub.is_connected(&key));
        assert!(hub.leave(&key, second.id));
        assert!(hub.is_empty());
    }

    #[test]
    fn kick_closes_the_session_with_the_reason() {
        let hub = PresenceHub::new();
        let key = DeviceKey::new("app", "bob", "tablet");
        let mut session = hub.join(key.clone());
        assert!(hub.kick(&key, "account disabled"));
        assert_eq!(
            session.signals.try_recv(),
            Ok(SessionSignal::Close {
                reason: "account disabled".into()
            })
        );
        assert!(!hub.is_connected(&key));
        assert!(!hub.kick(&key, "again"));
    }
}

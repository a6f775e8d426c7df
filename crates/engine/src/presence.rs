//! The presence hub: the devices connected to this node, each with a channel the rest of the
//! system uses to reach its live session (deliver a frame, kick it). A device has at most one
//! live session: a second login replaces the first.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::mpsc;

/// Identifies one device of one user of one app.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DeviceKey {
    /// App id.
    pub app: String,
    /// User id.
    pub user: String,
    /// Device id.
    pub device: String,
}

impl DeviceKey {
    /// Builds a key.
    pub fn new(app: &str, user: &str, device: &str) -> Self {
        Self {
            app: app.into(),
            user: user.into(),
            device: device.into(),
        }
    }
}

/// What the hub tells a live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionSignal {
    /// Close with this reason (kicked by the server, replaced by a newer login).
    Close {
        /// Shown to the client in the `kicked` frame.
        reason: String,
    },
    /// A JSON text frame to send down the socket.
    Frame(String),
}

/// A registered session: its id (to tell a replaced session from the current one) and its
/// channel.
#[derive(Debug)]
struct Session {
    id: u64,
    tx: mpsc::UnboundedSender<SessionSignal>,
}

/// The connected devices of this node. Cheap to clone; all clones share one table.
#[derive(Debug, Clone, Default)]
pub struct PresenceHub {
    inner: Arc<Mutex<HubTable>>,
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
    /// A hub with no sessions.
    pub fn new() -> Self {
        Self::default()
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HubTable> {
        // A panic while holding the lock leaves a consistent map: keep going.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a live session for a device, closing the one it replaces.
    pub fn join(&self, key: DeviceKey) -> Registration {
        let (tx, signals) = mpsc::unbounded_channel();
        let mut table = self.table();
        table.next_id += 1;
        let id = table.next_id;
        if let Some(old) = table.sessions.insert(key, Session { id, tx }) {
            let _ = old.tx.send(SessionSignal::Close {
                reason: "replaced by a newer login of this device".into(),
            });
        }
        Registration { id, signals }
    }

    /// Removes a session, unless a newer one already replaced it. Returns whether it was the
    /// current session.
    pub fn leave(&self, key: &DeviceKey, id: u64) -> bool {
        let mut table = self.table();
        if table.sessions.get(key).is_some_and(|s| s.id == id) {
            table.sessions.remove(key);
            true
        } else {
            false
        }
    }

    /// Whether the device has a live session on this node.
    pub fn is_connected(&self, key: &DeviceKey) -> bool {
        self.table().sessions.contains_key(key)
    }

    /// Sends a signal to the device's live session; returns whether one was there to take it.
    pub fn signal(&self, key: &DeviceKey, signal: SessionSignal) -> bool {
        self.table()
            .sessions
            .get(key)
            .is_some_and(|s| s.tx.send(signal).is_ok())
    }

    /// Closes the device's live session with a reason and forgets it.
    pub fn kick(&self, key: &DeviceKey, reason: &str) -> bool {
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

    /// Whether no session is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
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

//! Signals between nodes: live frames and kicks for a device travel on core NATS to the
//! subject of the node holding its session, `<cluster>.node.<node id>.signal`.

use super::keys::encode_token;
use super::{Inner, backend};
use futures::StreamExt;
use herald_core::presence::{DeviceKey, SessionSignal};
use herald_core::store::StoreResult;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A signal on the wire. `replaced_at` marks the close sent to the previous holder on a new
/// login: it only closes a session announced before that revision, so a close that arrives
/// late cannot end a newer login on the same node.
#[derive(Serialize, Deserialize)]
pub(super) struct Envelope {
    pub(super) key: DeviceKey,
    pub(super) signal: SessionSignal,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) replaced_at: Option<u64>,
}

impl Inner {
    pub(super) fn signal_subject(&self, node_id: &str) -> String {
        format!("{}{}.signal", self.subject_prefix, encode_token(node_id))
    }

    pub(super) async fn publish(&self, node: &str, envelope: &Envelope) -> StoreResult<()> {
        let payload = serde_json::to_vec(envelope).map_err(backend)?;
        self.client
            .publish(self.signal_subject(node), payload.into())
            .await
            .map_err(backend)
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
}

/// Hands signals addressed to this node to its sessions.
pub(super) async fn receive_signals(inner: Arc<Inner>, mut signals: async_nats::Subscriber) {
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

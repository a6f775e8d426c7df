//! Live sessions across nodes. In the embedded mode a device's session lives on the one node;
//! in the scale-out mode a [`ClusterPresence`] tells every node which other node holds a
//! device and carries signals (live frames, kicks) to it, so any node can send to any device.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub use crate::device::DeviceKey;
use crate::store::StoreResult;

/// What a live session is told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SessionSignal {
    /// Close with this reason (kicked by the server, replaced by a newer login).
    Close {
        /// Shown to the client in the `kicked` frame.
        reason: String,
    },
    /// A JSON text frame to send down the socket.
    Frame {
        /// The frame's text.
        text: String,
    },
}

/// Hands a signal that arrived from another node to this node's session of the device.
pub type LocalDelivery = Arc<dyn Fn(DeviceKey, SessionSignal) + Send + Sync>;

/// Presence shared by the nodes of a cluster.
///
/// Implementations keep a local replica of who holds which device, so routing a fan-out of
/// 100,000 devices asks no network question per device; a node that stops heartbeating counts
/// as dead and its devices as disconnected (they get pushes).
#[async_trait]
pub trait ClusterPresence: Send + Sync {
    /// This node's id.
    fn node_id(&self) -> &str;
    /// Starts listening for signals addressed to this node and for presence changes;
    /// `deliver` reaches this node's sessions. Also called when another node takes over one
    /// of this node's devices (with a `Close`).
    async fn start(&self, deliver: LocalDelivery) -> StoreResult<()>;
    /// Records that this node holds the device's live session.
    async fn announce(&self, key: &DeviceKey) -> StoreResult<()>;
    /// Records that this node no longer holds it (kept if another node took it since).
    async fn withdraw(&self, key: &DeviceKey) -> StoreResult<()>;
    /// Whether a live node other than this one holds the device's session (from the local
    /// replica: no network round trip).
    fn held_elsewhere(&self, key: &DeviceKey) -> bool;
    /// Sends a signal to the node holding the device; returns whether a live node holds it.
    async fn forward(&self, key: &DeviceKey, signal: SessionSignal) -> StoreResult<bool>;
    /// Leaves the cluster: withdraws this node's sessions and its heartbeat.
    async fn leave(&self) -> StoreResult<()>;
}

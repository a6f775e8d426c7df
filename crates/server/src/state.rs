//! What every handler can reach: the store, the presence hub, the admin token hash, the metrics
//! handle and the configuration.

use crate::config::Config;
use herald_core::Store;
use herald_engine::{AdapterRegistry, CertificateChanges, Devices, Dispatcher, Messenger, PresenceHub};
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;

/// Shared state of one Herald node.
#[derive(Clone)]
pub struct AppState {
    /// Persistence.
    pub store: Arc<dyn Store>,
    /// Live sessions on this node.
    pub hub: PresenceHub,
    /// SHA-256 of the admin token (the token itself is never kept).
    pub admin_token_hash: Arc<str>,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// Settings in effect.
    pub config: Arc<Config>,
    /// Accepts messages (routing, commit, live delivery).
    pub messenger: Messenger,
    /// A device's token and session (both transports call it).
    pub devices: Devices,
    /// Certificate create, update and delete (with the caches they invalidate).
    pub certificates: CertificateChanges,
    /// Sends queued pushes; started by `run`.
    pub dispatcher: Dispatcher,
    /// The adapters of every certificate (shared with the dispatchers).
    pub adapters: AdapterRegistry,
    /// App secrets recently read (credential checks).
    pub secrets: crate::auth::SecretCache,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

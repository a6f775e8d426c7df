//! First start and every start: make the data folder, load or create the master key, open the
//! store, and issue the admin token once (only its hash is kept).

use crate::auth::{random_credential, token_hash};
use crate::config::Config;
use crate::state::AppState;
use crate::vendor_rules::VendorChecks;
use herald_core::Store;
use herald_core::store::JobQueue;
use herald_engine::{
    AdapterRegistry, CertificateChanges, Devices, DispatchConfig, Dispatcher, Messenger, PresenceHub,
    VendorRules,
};
use herald_store::MASTER_KEY_LEN;
use herald_vendors::http::{Http, HttpOptions};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Why Herald could not start.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// The data folder or key file could not be read or written.
    #[error("{path}: {cause}")]
    Io {
        /// The file or folder.
        path: String,
        /// The cause (said in the message, not exposed as `source()`: printing the chain would
        /// repeat it).
        cause: std::io::Error,
    },
    /// The master key file exists but is not 64 hex digits.
    #[error("{0}: the master key file must hold 64 hex digits (32 bytes)")]
    BadMasterKey(String),
    /// The store would not open.
    #[error(transparent)]
    Store(#[from] herald_store::OpenError),
    /// The store failed while issuing the admin token.
    #[error(transparent)]
    Data(#[from] herald_core::StoreError),
    /// The vendor HTTP client could not be built (e.g. a bad trusted CA file).
    #[error("vendor HTTP client: {0}")]
    Http(herald_core::AdapterError),
}

impl From<herald_core::AdapterError> for BootstrapError {
    fn from(error: herald_core::AdapterError) -> Self {
        BootstrapError::Http(error)
    }
}

/// A prepared node.
#[derive(Debug)]
pub struct Prepared {
    /// The state to serve with.
    pub state: AppState,
    /// The admin token, only on the start that created it.
    pub new_admin_token: Option<String>,
}

/// Prepares a node from its configuration.
pub async fn prepare(config: Config) -> Result<Prepared, BootstrapError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |cause| BootstrapError::Io { path, cause }
    };
    std::fs::create_dir_all(&config.data_dir).map_err(io(&config.data_dir))?;
    let key_file = config.effective_master_key_file();
    let (key, key_created) = load_or_create_master_key(&key_file)?;
    let (store, queue, hub) = match open_backend(&config, &key).await {
        Ok(opened) => opened,
        Err(error) => {
            // A key made by this start and refused (or never used) must not be taken for the
            // database's key by the next start.
            if key_created {
                let _ = std::fs::remove_file(&key_file);
            }
            return Err(error);
        }
    };

    let mut new_admin_token = None;
    let hash = match store.admin_token_hash().await? {
        Some(hash) => hash,
        None => {
            let token = random_credential("hra_");
            let hash = token_hash(&token);
            if store.init_admin_token_hash(&hash).await? {
                new_admin_token = Some(token);
                hash
            } else {
                // Another node issued it at the same moment: use theirs.
                store.admin_token_hash().await?.unwrap_or(hash)
            }
        }
    };
    let mut http_options = HttpOptions {
        timeout: Some(Duration::from_secs(config.vendor_request_timeout_seconds.max(1))),
        connect_timeout: Some(Duration::from_secs(config.vendor_connect_timeout_seconds.max(1))),
        ..HttpOptions::default()
    };
    if !config.trusted_ca_file.is_empty() {
        let path = Path::new(&config.trusted_ca_file);
        http_options
            .extra_roots_pem
            .push(std::fs::read(path).map_err(io(path))?);
    }
    let http = Http::new(&http_options)?;
    let registry = AdapterRegistry::new(Arc::new(move |cert, secrets| {
        herald_vendors::build_adapter(cert, secrets, &http)
    }));
    let wake = Arc::new(tokio::sync::Notify::new());
    let dispatch = DispatchConfig {
        workers: config.dispatch_workers,
        batch: config.dispatch_batch.max(1),
        window: config.dispatch_window.max(1),
        lease_ms: i64::try_from(config.dispatch_lease_seconds.saturating_mul(1000)).unwrap_or(i64::MAX),
        ..DispatchConfig::default()
    };
    let dispatcher = Dispatcher::new(store.clone(), queue, registry.clone(), wake.clone(), dispatch);
    let mut messenger = Messenger::new(store.clone(), hub.clone(), wake);
    if !config.is_clustered() {
        // The store is the queue: jobs of small messages skip the claim (in the scale-out
        // mode they go through the outbox to JetStream, where any node may take them).
        messenger = messenger.with_handoff(dispatcher.handoff());
    }
    let vendors: Arc<dyn VendorRules> = Arc::new(VendorChecks);
    let devices = Devices::new(store.clone(), hub.clone(), vendors.clone());
    let certificates = CertificateChanges::new(store.clone(), vendors, messenger.clone(), registry.clone());
    let state = AppState {
        store,
        hub,
        admin_token_hash: hash.into(),
        metrics: metrics_handle(),
        config: Arc::new(config),
        messenger,
        devices,
        certificates,
        dispatcher,
        adapters: registry,
        secrets: crate::auth::SecretCache::default(),
    };
    Ok(Prepared {
        state,
        new_admin_token,
    })
}

/// The store, job queue and presence hub of this node: PostgreSQL + NATS in a cluster, the
/// embedded store (its own queue) otherwise.
async fn open_backend(
    config: &Config,
    key: &[u8; MASTER_KEY_LEN],
) -> Result<(Arc<dyn Store>, Arc<dyn JobQueue>, PresenceHub), BootstrapError> {
    if config.is_clustered() {
        let node = herald_store::jetstream::join(&cluster_options(config), key).await?;
        tracing::info!(node = node.presence.node_id(), cluster = %config.cluster_name, "Joined the cluster.");
        let hub = PresenceHub::clustered(node.presence.clone()).await?;
        Ok((node.store, node.queue, hub))
    } else {
        let store = herald_store::open(&config.effective_database_url(), key).await?;
        let queue: Arc<dyn JobQueue> = store.clone();
        Ok((store, queue, PresenceHub::new()))
    }
}

/// The cluster settings of a node's configuration.
fn cluster_options(config: &Config) -> herald_store::jetstream::ClusterOptions {
    let node_id = if config.node_id.is_empty() {
        format!("node-{:08x}", rand::random::<u32>())
    } else {
        config.node_id.clone()
    };
    herald_store::jetstream::ClusterOptions {
        database_url: config.effective_database_url(),
        nats_url: config.nats_url.clone(),
        cluster: config.cluster_name.clone(),
        node_id,
        node_ttl: Duration::from_secs(config.node_ttl_seconds.max(1)),
        // A dead node's jobs move on as soon as the node counts as dead; a live one keeps
        // its jobs for up to the dispatch lease.
        ack_wait: Duration::from_secs(config.node_ttl_seconds.max(1)),
        hold: Duration::from_secs(config.dispatch_lease_seconds.max(1)),
    }
}

/// Reads the master key, or creates it (mode 0600) when the file does not exist; says whether
/// it was created.
fn load_or_create_master_key(path: &Path) -> Result<([u8; MASTER_KEY_LEN], bool), BootstrapError> {
    let io = |cause| BootstrapError::Io {
        path: path.display().to_string(),
        cause,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let key = parse_hex_key(text.trim())
                .ok_or_else(|| BootstrapError::BadMasterKey(path.display().to_string()))?;
            Ok((key, false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; MASTER_KEY_LEN];
            rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut key);
            let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
            write_private_file(path, &hex).map_err(io)?;
            Ok((key, true))
        }
        Err(e) => Err(io(e)),
    }
}

fn parse_hex_key(hex: &str) -> Option<[u8; MASTER_KEY_LEN]> {
    if hex.len() != MASTER_KEY_LEN * 2 {
        return None;
    }
    let mut key = [0u8; MASTER_KEY_LEN];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(key)
}

#[cfg(unix)]
fn write_private_file(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private_file(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

/// The process-wide Prometheus recorder (installed once, shared by every node in the process).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5])
                .unwrap_or_else(|_| PrometheusBuilder::new())
                .build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder was installed first; metrics then go there.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

//! Herald's configuration: every key has a default, so `herald serve` runs with none. The binary
//! layers `herald.toml` and `HERALD_*` environment variables over these defaults.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;

/// All settings of a Herald node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// Folder for the embedded database and the master key.
    pub data_dir: PathBuf,
    /// Database URL; empty = `sqlite://<data_dir>/herald.db`.
    pub database_url: String,
    /// File holding the 32-byte master key (hex); empty = `<data_dir>/master.key`, created on
    /// first start.
    pub master_key_file: String,
    /// `text` or `json` logs.
    pub log_format: LogFormat,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Extra CA certificate (PEM file) to trust when talking to vendors, e.g. the sandbox's.
    pub trusted_ca_file: String,
    /// Push dispatcher loops on this node.
    pub dispatch_workers: usize,
    /// Jobs one dispatcher loop claims at once (fewer, larger claims cost the store less).
    pub dispatch_batch: u32,
    /// Most push targets this node has with the vendors and not yet recorded: a node killed
    /// mid-send sends at most these again after its restart (at least once). A vendor
    /// batch takes at most a quarter of it, so several requests are in flight.
    pub dispatch_window: usize,
    /// Seconds a claimed push job stays leased; a node that dies holding jobs delays them by
    /// at most this long before another dispatcher takes them over.
    pub dispatch_lease_seconds: u64,
    /// NATS server URL for the scale-out mode (JetStream job queue, cluster presence); empty =
    /// embedded mode. Needs a `postgres://` `database_url`, shared by every node.
    pub nats_url: String,
    /// Prefix of the cluster's NATS streams, buckets and subjects: clusters sharing one NATS
    /// server stay apart.
    pub cluster_name: String,
    /// This node's id in the cluster; empty = a random one at each start.
    pub node_id: String,
    /// Seconds without a heartbeat after which a node counts as dead and its devices as
    /// disconnected (they get pushes).
    pub node_ttl_seconds: u64,
    /// Seconds a client has to send a whole request head; also how long an idle keep-alive
    /// connection stays open.
    pub http_header_timeout_seconds: u64,
    /// Seconds a request body may pause before the request is answered 408.
    pub http_body_timeout_seconds: u64,
    /// Connections served at once; further ones wait in the listen backlog. Keep it below
    /// the process's descriptor limit (`ulimit -n`).
    pub http_max_connections: usize,
    /// Seconds a shutdown waits for open requests before closing their connections.
    pub shutdown_timeout_seconds: u64,
    /// Seconds to open a connection to a vendor (TCP and TLS) before the request counts as
    /// failed: a vendor that refuses or drops connections is found out this fast.
    pub vendor_connect_timeout_seconds: u64,
    /// Seconds a vendor request may take in all before it counts as failed (and is retried).
    /// A hanging vendor holds only its own certificate's share of the dispatch window this
    /// long; keep it well below `dispatch_lease_seconds`.
    pub vendor_request_timeout_seconds: u64,
    /// Days a message (and its place in the recipients' inboxes) is kept; 0 = forever.
    pub retention_message_days: u64,
    /// Days a finished delivery record is kept; 0 = forever. Open pushes are never deleted.
    pub retention_delivery_days: u64,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("herald-data"),
            database_url: String::new(),
            master_key_file: String::new(),
            log_format: LogFormat::Text,
            max_body_bytes: 1024 * 1024,
            trusted_ca_file: String::new(),
            dispatch_workers: 2,
            dispatch_batch: 2000,
            dispatch_window: 1000,
            dispatch_lease_seconds: 30,
            nats_url: String::new(),
            cluster_name: "herald".into(),
            node_id: String::new(),
            node_ttl_seconds: 10,
            http_header_timeout_seconds: 10,
            http_body_timeout_seconds: 30,
            http_max_connections: 10_000,
            shutdown_timeout_seconds: 10,
            vendor_connect_timeout_seconds: 5,
            vendor_request_timeout_seconds: 10,
            retention_message_days: 30,
            retention_delivery_days: 30,
        }
    }
}

impl Config {
    /// The database URL in effect.
    pub fn effective_database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!("sqlite://{}", self.data_dir.join("herald.db").display())
        } else {
            self.database_url.clone()
        }
    }

    /// Whether this node is one of a cluster (PostgreSQL + NATS JetStream).
    pub fn is_clustered(&self) -> bool {
        !self.nats_url.is_empty()
    }

    /// The master key file in effect.
    pub fn effective_master_key_file(&self) -> PathBuf {
        if self.master_key_file.is_empty() {
            self.data_dir.join("master.key")
        } else {
            PathBuf::from(&self.master_key_file)
        }
    }
}

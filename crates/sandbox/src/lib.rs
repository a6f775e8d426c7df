//! Local emulators of every push vendor's server API: the same paths and methods, auth checked
//! against the credentials they were given, payloads validated against the vendor's rules, the
//! vendor's own response bodies and error codes, and fault injection. APNs is served over
//! HTTP/2 with TLS under a CA generated at start; the others over plain HTTP on loopback.
//!
//! Tests, `herald sandbox`, `herald demo` and the benchmark all run these as real servers.

pub mod credentials;
mod emulator;
mod inspect;
pub mod state;
mod tls;
mod verified;

mod apns;
mod fcm;
mod honor;
mod huawei;
mod meizu;
mod oppo;
mod vivo;
mod webpush;
mod xiaomi;

pub use credentials::Credentials;
pub use state::{
    AnyFault, Delivered, Fault, FaultKind, LoggedRequest, Outage, OutageKind, SandboxState, VendorCounters,
};

use herald_core::Vendor;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use tokio::task::JoinHandle;

/// Builds one emulator's routes.
type RouterFn = fn(Arc<SandboxState>) -> axum::Router;

/// Emulators served over plain HTTP on loopback (one port each, same paths as the vendor), in
/// port order; APNs (HTTP/2 over TLS) takes the port after them, the inspection API the next.
const PLAIN_HTTP: [(Vendor, RouterFn); 8] = [
    (Vendor::Huawei, huawei::router),
    (Vendor::Fcm, fcm::router),
    (Vendor::Honor, honor::router),
    (Vendor::Xiaomi, xiaomi::router),
    (Vendor::Oppo, oppo::router),
    (Vendor::Vivo, vivo::router),
    (Vendor::Meizu, meizu::router),
    (Vendor::Webpush, webpush::router),
];

/// The vendors whose emulators speak plain HTTP, in the order they take ports from
/// `base_port` (APNs takes the port after them).
pub fn plain_http_vendors() -> impl Iterator<Item = Vendor> {
    PLAIN_HTTP.iter().map(|(vendor, _)| *vendor)
}

/// How to start the sandbox.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// Credentials the emulators accept.
    pub credentials: Credentials,
    /// Print each notification as a phone would show it.
    pub console: bool,
    /// Keep inboxes and request logs (turn off for benchmarks).
    pub record: bool,
    /// Accept every send without checking credentials, signatures or encryption (the fast
    /// sink of benchmarks; see `SandboxState::sink`).
    pub sink: bool,
    /// Address to bind (loopback by default).
    pub ip: IpAddr,
    /// Port of the first emulator; 0 = ephemeral ports everywhere.
    pub base_port: u16,
    /// The CA's private key (PEM) to reuse, so a CA trusted before stays trusted across
    /// restarts; None = a new CA.
    pub ca_key_pem: Option<String>,
}

impl SandboxOptions {
    /// Loopback, ephemeral ports, recording on, console off.
    pub fn new(credentials: Credentials) -> Self {
        Self {
            credentials,
            console: false,
            record: true,
            sink: false,
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            base_port: 0,
            ca_key_pem: None,
        }
    }
}

/// Why the sandbox could not start.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// A port could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The TLS material could not be generated.
    #[error("TLS setup: {0}")]
    Tls(String),
}

/// A running sandbox; the emulators stop when it is dropped.
#[derive(Debug)]
pub struct Sandbox {
    /// Base URL of each vendor's emulator.
    pub urls: BTreeMap<Vendor, String>,
    /// Base URL of the inspection API.
    pub inspect_url: String,
    /// The CA that signed the APNs emulator's certificate (PEM): trust it to talk to APNs.
    pub ca_pem: String,
    /// The CA's private key (PEM), to pass back in `SandboxOptions::ca_key_pem` next time.
    pub ca_key_pem: String,
    /// Shared state (faults, inboxes, counters).
    pub state: Arc<SandboxState>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Sandbox {
    /// Starts every emulator and the inspection API.
    pub async fn start(options: SandboxOptions) -> Result<Self, SandboxError> {
        let mut state = SandboxState::new(options.credentials.clone(), options.console, options.record);
        state.sink = options.sink;
        let state = Arc::new(state);
        let tls = tls::SandboxTls::generate(options.ca_key_pem.as_deref()).map_err(SandboxError::Tls)?;
        let mut urls = BTreeMap::new();
        let mut tasks = Vec::new();
        let mut port = options.base_port;
        let mut next_addr = || {
            let addr = SocketAddr::new(options.ip, port);
            if port != 0 {
                port += 1;
            }
            addr
        };
        for (vendor, router) in PLAIN_HTTP {
            let (url, task) = emulator::serve_plain(
                next_addr(),
                emulator::with_log(vendor, router(state.clone()), state.clone()),
                Some((vendor, state.clone())),
            )
            .await?;
            urls.insert(vendor, url);
            tasks.push(task);
        }
        // APNs speaks HTTP/2 over TLS only, under the sandbox CA.
        let apns_router = emulator::with_log(Vendor::Apns, apns::router(state.clone()), state.clone());
        let (url, task) = emulator::serve_tls(next_addr(), apns_router, &tls).await?;
        urls.insert(Vendor::Apns, url);
        tasks.push(task);
        let (inspect_url, task) =
            emulator::serve_plain(next_addr(), inspect::router(state.clone()), None).await?;
        tasks.push(task);
        Ok(Self {
            urls,
            inspect_url,
            ca_pem: tls.ca_pem.clone(),
            ca_key_pem: tls.ca_key_pem.clone(),
            state,
            tasks,
        })
    }

    /// The URL of one vendor's emulator.
    pub fn url(&self, vendor: Vendor) -> &str {
        self.urls.get(&vendor).map(String::as_str).unwrap_or_default()
    }

    /// Certificate definitions pointing Herald at these emulators.
    pub fn certificate_definitions(&self) -> Vec<serde_json::Value> {
        self.state.credentials.certificate_definitions(&self.urls)
    }
}

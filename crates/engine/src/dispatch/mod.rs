//! Dispatchers: take due push jobs from the queue, group them by message, certificate and
//! sound (one vendor batch each), send through the certificate's adapter with bounded
//! concurrency, and record every outcome: accepted, invalid token (unbound), retry with
//! backoff or Retry-After, expired after the TTL, quota exceeded, rejected.
//!
//! - `handoff`: jobs handed over by this node's commits, sent without a claim;
//! - `claim`: the claim loop over the queue, and the outbox relay of the scale-out mode;
//! - [`group`]: grouping by [`GroupKey`] and cutting groups into units;
//! - [`window`]: the bound on targets with the vendors and not yet recorded, and each
//!   certificate's share of it;
//! - [`health`]: per certificate, working or degraded (held and probed);
//! - `send`: one unit through its adapter, judged by [`crate::outcome`], then recorded.

mod claim;
pub mod group;
mod handoff;
pub mod health;
mod send;
pub mod window;

pub use group::GroupKey;
pub use handoff::{Handed, Handoff};
pub use health::{CertificateHealth, HealthState, HoldPolicy};

use crate::adapters::AdapterRegistry;
use crate::recorder::Recorder;
use health::HealthBoard;
use herald_core::Store;
use herald_core::store::JobQueue;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, RwLock, mpsc, watch};
use tokio::task::JoinHandle;
use window::Window;

/// Dispatcher tuning.
#[derive(Debug, Clone)]
pub struct DispatchConfig {
    /// Concurrent claim loops.
    pub workers: usize,
    /// Jobs claimed at once.
    pub batch: u32,
    /// How long a claimed job stays leased (a crashed dispatcher's jobs come back after it).
    pub lease_ms: i64,
    /// Vendor sends in flight at once per worker.
    pub concurrency: usize,
    /// Longest idle sleep when nothing is due.
    pub idle_poll: Duration,
    /// Most targets this node has with the vendors and not yet recorded, over all workers:
    /// what a crash can send twice. A vendor batch takes at most a quarter of it, one
    /// certificate three quarters.
    pub window: usize,
    /// When a failing certificate is held and how it is probed.
    pub hold: HoldPolicy,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        Self {
            workers: 2,
            batch: 2000,
            lease_ms: 60_000,
            concurrency: 64,
            idle_poll: Duration::from_millis(500),
            window: 1000,
            hold: HoldPolicy::default(),
        }
    }
}

/// Sends queued pushes. Cheap to clone.
#[derive(Clone)]
pub struct Dispatcher {
    store: Arc<dyn Store>,
    queue: Arc<dyn JobQueue>,
    registry: AdapterRegistry,
    wake: Arc<Notify>,
    config: DispatchConfig,
    recorder: Recorder,
    window: Window,
    handoff: Handoff,
    handed: Arc<std::sync::Mutex<Option<mpsc::Receiver<Handed>>>>,
    health: HealthBoard,
    /// Held (shared) by every send going on; a stopping loop takes it to wait for them.
    sends: Arc<RwLock<()>>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Dispatcher {
    /// A dispatcher taking jobs from `queue` (the store itself in the embedded mode,
    /// JetStream in the scale-out mode) and reading messages and certificates from `store`.
    pub fn new(
        store: Arc<dyn Store>,
        queue: Arc<dyn JobQueue>,
        registry: AdapterRegistry,
        wake: Arc<Notify>,
        config: DispatchConfig,
    ) -> Self {
        let (handoff, handed) = Handoff::new(config.lease_ms);
        Self {
            recorder: Recorder::spawn(queue.clone()),
            window: Window::new(config.window),
            health: HealthBoard::new(config.hold),
            sends: Arc::default(),
            handoff,
            handed: Arc::new(std::sync::Mutex::new(Some(handed))),
            store,
            queue,
            registry,
            wake,
            config,
        }
    }

    /// Whether the job queue can hand out jobs now (see [`JobQueue::ready`]).
    pub async fn ready(&self) -> Result<(), herald_core::StoreError> {
        self.queue.ready().await
    }

    /// Whether `certificate` of `app` is working or degraded (held while a probe tests its
    /// vendor), since when, and the last error, as this node sees it.
    pub fn certificate_health(&self, app: &str, certificate: i64) -> CertificateHealth {
        self.health.get(app, certificate)
    }

    /// Waits until every send this dispatcher started has recorded its outcomes.
    async fn sends_done(&self) {
        drop(self.sends.write().await);
    }

    /// The hand-off for message commits (see [`Handoff`]); it opens when the dispatchers start.
    pub fn handoff(&self) -> Handoff {
        self.handoff.clone()
    }

    /// Starts the worker loops and the outbox relay; they stop when `shutdown` turns true.
    pub fn spawn(&self, shutdown: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
        let mut tasks: Vec<JoinHandle<()>> = (0..self.config.workers.max(1))
            .map(|_| {
                let me = self.clone();
                let shutdown = shutdown.clone();
                tokio::spawn(async move { me.worker(shutdown).await })
            })
            .collect();
        let handed = self.handed.lock().ok().and_then(|mut slot| slot.take());
        if let Some(handed) = handed {
            let me = self.clone();
            let shutdown = shutdown.clone();
            self.handoff.set_open(true);
            tasks.push(tokio::spawn(
                async move { me.handoff_loop(handed, shutdown).await },
            ));
        }
        let me = self.clone();
        tasks.push(tokio::spawn(async move { me.relay_loop(shutdown).await }));
        tasks
    }
}

//! One adapter per certificate, built on first use and rebuilt when the certificate changes
//! (its `updated_at` moves), so a saved certificate takes effect immediately while token caches
//! survive between pushes. The adapters' daily quota counts are shared through the store
//! ([`AdapterRegistry::sync_quotas`]), so every node counts against one budget.

use herald_core::quota::DailyQuota;
use herald_core::{Adapter, AdapterError, Certificate, Store};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// Builds a vendor adapter from a certificate and its secrets (the server passes
/// `herald_vendors::build_adapter`).
pub type AdapterFactory =
    Arc<dyn Fn(&Certificate, &Map<String, Value>) -> Result<Arc<dyn Adapter>, AdapterError> + Send + Sync>;

/// Adapters by (app, certificate id): the certificate they were built from, and when it was
/// last checked against the store.
type AdapterCache = HashMap<(String, i64), (Certificate, Arc<dyn Adapter>, std::time::Instant)>;

/// How long a cached certificate is trusted before the store is asked whether it changed.
const RECHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// Cached adapters keyed by (app, certificate id).
#[derive(Clone)]
pub struct AdapterRegistry {
    factory: AdapterFactory,
    cache: Arc<Mutex<AdapterCache>>,
}

impl std::fmt::Debug for AdapterRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdapterRegistry").finish_non_exhaustive()
    }
}

/// Why no adapter could be had.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The certificate is gone or unreadable.
    #[error(transparent)]
    Store(#[from] herald_core::StoreError),
    /// The certificate cannot be used.
    #[error(transparent)]
    Adapter(#[from] AdapterError),
}

impl AdapterRegistry {
    /// A registry building adapters with `factory`.
    pub fn new(factory: AdapterFactory) -> Self {
        Self {
            factory,
            cache: Arc::default(),
        }
    }

    /// Drops a certificate's adapter (it was changed or deleted through this node), so the
    /// next push builds one from the certificate as stored, without waiting for the recheck.
    pub fn forget(&self, app: &str, certificate_id: i64) {
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&(app.to_string(), certificate_id));
    }

    /// The adapter for a certificate as it is stored now.
    pub async fn get(
        &self,
        store: &dyn Store,
        app: &str,
        certificate_id: i64,
    ) -> Result<(Certificate, Arc<dyn Adapter>), RegistryError> {
        let key = (app.to_string(), certificate_id);
        let cached = self
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .cloned();
        if let Some((cert, adapter, checked)) = &cached
            && checked.elapsed() < RECHECK
        {
            return Ok((cert.clone(), adapter.clone()));
        }
        let cert = store.get_certificate(app, certificate_id).await?;
        let adapter = match cached {
            // Unchanged since it was built: keep the adapter (and its token cache).
            Some((old, adapter, _)) if old.updated_at == cert.updated_at => adapter,
            replaced => {
                // What the replaced adapter counted and did not share yet is not lost.
                if let Some(quota) = replaced.and_then(|(_, old, _)| old.quota()) {
                    share_quota_count(store, app, certificate_id, &quota).await?;
                }
                let secrets = store.certificate_secrets(app, certificate_id).await?;
                let adapter = (self.factory)(&cert, secrets.expose())?;
                // A new adapter starts from the day's count of every node, not from zero.
                if let Some(quota) = adapter.quota() {
                    share_quota_count(store, app, certificate_id, &quota).await?;
                }
                adapter
            }
        };
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, (cert.clone(), adapter.clone(), std::time::Instant::now()));
        Ok((cert, adapter))
    }

    /// Adds what each cached adapter counted against its daily quota since the last time to
    /// the store's count, and reads back the total of every node.
    pub async fn sync_quotas(&self, store: &dyn Store) {
        let adapters: Vec<(String, i64, Arc<dyn Adapter>)> = self
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|((app, id), (_, adapter, _))| (app.clone(), *id, adapter.clone()))
            .collect();
        for (app, id, adapter) in adapters {
            let Some(quota) = adapter.quota() else { continue };
            if let Err(error) = share_quota_count(store, &app, id, &quota).await {
                tracing::warn!(%app, certificate = id, %error, "Sharing the daily quota count failed; will retry.");
            }
        }
    }

    /// Shares the quota counts every `every` until `stopped` turns true.
    pub fn spawn_quota_sync(
        &self,
        store: Arc<dyn Store>,
        every: std::time::Duration,
        mut stopped: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let registry = self.clone();
        tokio::spawn(async move {
            loop {
                let stop = tokio::select! {
                    _ = tokio::time::sleep(every) => false,
                    _ = stopped.wait_for(|stop| *stop) => true,
                };
                registry.sync_quotas(store.as_ref()).await;
                if stop {
                    return;
                }
            }
        })
    }
}

/// Adds what `quota` counted since it last did to the store's count of every node and takes
/// the total back; on a failed write the count stays with `quota` for the next time.
pub async fn share_quota_count(
    store: &dyn Store,
    app: &str,
    certificate_id: i64,
    quota: &DailyQuota,
) -> Result<(), herald_core::StoreError> {
    let (day, count) = quota.take_unsynced();
    match store.add_quota_usage(app, certificate_id, day, count).await {
        Ok(total) => {
            quota.settle(day, total);
            Ok(())
        }
        Err(error) => {
            quota.restore_unsynced(day, count);
            Err(error)
        }
    }
}

//! One adapter per certificate, built on first use and rebuilt when the certificate changes
//! (its `updated_at` moves), so a saved certificate takes effect immediately while token caches
//! survive between pushes.

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
            _ => {
                let secrets = store.certificate_secrets(app, certificate_id).await?;
                (self.factory)(&cert, secrets.expose())?
            }
        };
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, (cert.clone(), adapter.clone(), std::time::Instant::now()));
        Ok((cert, adapter))
    }
}

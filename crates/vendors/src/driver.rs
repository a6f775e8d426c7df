//! The one adapter loop every vendor shares: shape the notification (limits first), split the
//! targets at the vendor's batch size, wait for the rate limiter, check the daily quota, get a
//! credential from the cache, send, and on `AuthExpired` refresh once and resend the affected
//! targets. Vendor modules supply only the vendor-specific steps ([`VendorApi`]).

use crate::auth::{AuthFailure, TokenCache};
use crate::http::Http;
use crate::quota::{DailyQuota, RateLimit};
use async_trait::async_trait;
use futures::StreamExt;
use herald_core::{Adapter, AdapterError, Notification, Outcome, Target, Vendor};
use std::future::Future;
use std::sync::Arc;

/// Vendor requests of one send in flight at once.
const MAX_CONCURRENT_REQUESTS: usize = 64;

/// The vendor-specific steps.
pub(crate) trait VendorApi: Send + Sync + std::fmt::Debug + 'static {
    /// The vendor's shaped message, shared by every chunk of one send.
    type Payload: Send + Sync;

    fn vendor(&self) -> Vendor;
    /// Targets per request (1 = no batch API).
    fn max_batch(&self) -> usize;
    /// Applies the vendor's limits and shapes the message; `Err` = every target gets that
    /// outcome without any request.
    fn prepare(&self, notification: &Notification) -> Result<Self::Payload, Outcome>;
    /// Obtains a credential (an OAuth token, a signed JWT, a static key).
    fn authenticate(
        &self,
        http: &Http,
    ) -> impl Future<Output = Result<crate::auth::Credential, AuthFailure>> + Send;
    /// Sends one chunk; one outcome per target, in order.
    fn send_chunk(
        &self,
        http: &Http,
        credential: &str,
        payload: &Self::Payload,
        targets: &[Target],
    ) -> impl Future<Output = Result<Vec<Outcome>, AdapterError>> + Send;
}

/// A vendor's steps wrapped with the shared loop: the `Adapter` of one certificate.
#[derive(Debug)]
pub(crate) struct Driver<V: VendorApi> {
    api: V,
    http: Http,
    tokens: TokenCache,
    rate: RateLimit,
    quota: Arc<DailyQuota>,
}

impl<V: VendorApi> Driver<V> {
    pub(crate) fn new(api: V, http: Http, rate: RateLimit, quota: DailyQuota) -> Self {
        Self {
            api,
            http,
            tokens: TokenCache::default(),
            rate,
            quota: Arc::new(quota),
        }
    }

    async fn credential(&self) -> Result<String, AuthFailure> {
        self.tokens.get(|| self.api.authenticate(&self.http)).await
    }

    async fn send_one_chunk(
        &self,
        payload: &V::Payload,
        chunk: &[Target],
    ) -> Result<Vec<Outcome>, AdapterError> {
        if let Some(reason) = self.quota.exhausted() {
            return Ok(vec![Outcome::QuotaExceeded { reason }; chunk.len()]);
        }
        self.rate.wait().await;
        let token = match self.credential().await {
            Ok(token) => token,
            Err(failure) => return auth_failure(failure, chunk.len()),
        };
        let mut outcomes = self.api.send_chunk(&self.http, &token, payload, chunk).await?;
        let expired: Vec<usize> = (0..outcomes.len())
            .filter(|&i| matches!(outcomes[i], Outcome::AuthExpired { .. }))
            .collect();
        if !expired.is_empty() {
            // One refresh, then one resend of the affected targets.
            self.tokens.invalidate(&token).await;
            let fresh = match self.credential().await {
                Ok(fresh) => fresh,
                Err(failure) => {
                    let replaced = auth_failure(failure, expired.len())?;
                    for (i, outcome) in expired.iter().zip(replaced) {
                        outcomes[*i] = outcome;
                    }
                    return Ok(outcomes);
                }
            };
            let retry_targets: Vec<Target> = expired.iter().map(|&i| chunk[i].clone()).collect();
            self.rate.wait().await;
            let retried = self
                .api
                .send_chunk(&self.http, &fresh, payload, &retry_targets)
                .await?;
            for (i, outcome) in expired.iter().zip(retried) {
                outcomes[*i] = outcome;
            }
        }
        self.quota.record(&outcomes);
        Ok(outcomes)
    }
}

fn auth_failure(failure: AuthFailure, n: usize) -> Result<Vec<Outcome>, AdapterError> {
    match failure {
        AuthFailure::Refused { code, reason } => Ok(vec![Outcome::Rejected { code, reason }; n]),
        AuthFailure::Transport(error) => Err(error),
    }
}

#[async_trait]
impl<V: VendorApi> Adapter for Driver<V> {
    fn vendor(&self) -> Vendor {
        self.api.vendor()
    }

    fn max_batch(&self) -> usize {
        self.api.max_batch()
    }

    async fn send(
        &self,
        notification: &Notification,
        targets: &[Target],
    ) -> Result<Vec<Outcome>, AdapterError> {
        let payload = match self.api.prepare(notification) {
            Ok(payload) => payload,
            Err(outcome) => return Ok(vec![outcome; targets.len()]),
        };
        // Chunks go out concurrently (HTTP/2 multiplexes them; HTTP/1.1 uses the pool), bounded
        // so a large fan-out does not open thousands of sockets. Order is kept.
        let size = self.api.max_batch().max(1);
        let payload = &payload;
        let sends: Vec<_> = targets
            .chunks(size)
            .map(|chunk| self.send_one_chunk(payload, chunk))
            .collect();
        let sent: Vec<Result<Vec<Outcome>, AdapterError>> = futures::stream::iter(sends)
            .buffered(MAX_CONCURRENT_REQUESTS)
            .collect()
            .await;
        let results = targets
            .chunks(size)
            .zip(sent)
            .map(|(chunk, result)| match result {
                // A transport failure of one request only concerns its own targets.
                Err(error) if error.is_retriable() => Ok(vec![
                    Outcome::Retry {
                        after: None,
                        reason: error.to_string()
                    };
                    chunk.len()
                ]),
                other => other,
            });
        let mut outcomes = Vec::with_capacity(targets.len());
        for result in results {
            outcomes.extend(result?);
        }
        Ok(outcomes)
    }
}

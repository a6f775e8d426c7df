//! The one adapter loop every vendor shares: shape the notification (limits first), split the
//! targets at the vendor's batch size, wait for the rate limiter, check the daily quota, get a
//! credential from the cache, send, and on `AuthExpired` refresh once and resend the affected
//! targets. Vendor modules supply only the vendor-specific steps ([`VendorApi`]).

use crate::auth::{AuthFailure, TokenCache};
use crate::cert::CertView;
use crate::exchange::Step;
use crate::fields::Fields;
use crate::http::Http;
use crate::quota::{DailyQuota, RateLimit};
use crate::rules::UsedDefaults;
use async_trait::async_trait;
use futures::StreamExt;
use herald_core::{
    Adapter, AdapterError, CredentialCheck, CredentialFailure, CredentialRequest, Invalid, Notification,
    Outcome, Platform, Target, Vendor,
};
use serde_json::Value;
use std::future::Future;
use std::sync::Arc;

/// Vendor requests of one send in flight at once.
const MAX_CONCURRENT_REQUESTS: usize = 64;

/// A vendor's constants: what the registry and the shared loop need to know about it.
#[derive(Debug)]
pub(crate) struct Profile {
    pub(crate) vendor: Vendor,
    /// Targets per request (1 = no batch API).
    pub(crate) max_batch: usize,
    /// Usual request rate per certificate when none is configured (requests per second).
    /// Vendors publish few numbers; these stay below what a new app is granted.
    pub(crate) requests_per_second: u32,
    /// The vendor's day, for the daily quota, starts at midnight in this UTC offset (hours).
    pub(crate) quota_day_offset_hours: i64,
    /// The platforms the vendor delivers to.
    pub(crate) platforms: &'static [Platform],
    /// Write-only certificate fields, sealed at rest and never returned.
    pub(crate) secret_fields: &'static [&'static str],
    /// Request headers that carry a credential: previews show them redacted.
    pub(crate) credential_headers: &'static [&'static str],
    /// The certificate defaults the vendor uses.
    pub(crate) defaults: UsedDefaults,
    /// The vendor's certificate fields, described (what `check_fields` reads).
    pub(crate) fields: crate::describe::CertificateFields,
    /// Checks the vendor's certificate fields deeply; returns advice for the operator.
    pub(crate) check_fields: fn(&mut Fields<'_>) -> Result<Vec<String>, Invalid>,
    /// What `VendorApi::sign_locally` signs, if anything.
    pub(crate) local_signing: Option<LocalSigning>,
}

/// A vendor's local signing step, described for benchmarks and diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalSigning {
    /// What is signed, e.g. "ES256 provider JWT".
    pub what: &'static str,
    /// How often it is signed again, e.g. "every 50 min".
    pub renewed: &'static str,
}

/// Everything vendor-specific: constants, certificate fields, token shape, and the steps of the
/// shared loop. One implementation per vendor folder (`<vendor>/adapter.rs`).
/// A certificate is read with `TryFrom<CertView>` (in `config.rs`).
pub(crate) trait VendorApi:
    for<'c> TryFrom<CertView<'c>, Error = AdapterError> + Send + Sync + std::fmt::Debug + 'static
{
    /// The vendor's shaped message, shared by every chunk of one send.
    type Payload: Send + Sync;

    /// The vendor's constants.
    const PROFILE: Profile;

    /// Checks an uploaded device token and returns the string to store.
    fn check_token(token: &Value) -> Result<String, Invalid> {
        crate::token::check_opaque(Self::PROFILE.vendor, token)
    }
    /// The HTTP client this certificate sends through.
    fn client(&self, shared: &Http) -> Result<Http, AdapterError> {
        Ok(shared.clone())
    }
    /// The local signing step done when the cached credential runs out, once, for benchmarks
    /// and diagnostics; `None` when the credential only comes from the vendor or is a static key.
    fn sign_locally(&self) -> Result<Option<String>, AdapterError> {
        Ok(None)
    }
    /// Applies the vendor's limits and shapes the message; `Err` = every target gets that
    /// outcome without any request.
    fn prepare(&self, notification: &Notification) -> Result<Self::Payload, Outcome>;
    /// Where the credential is requested (an OAuth token endpoint), for the push test tool;
    /// `None` when it is made locally or is the certificate's key itself.
    fn credential_endpoint(&self) -> Option<&str> {
        None
    }
    /// Obtains a credential (an OAuth token, a signed JWT, a static key).
    fn authenticate(
        &self,
        http: &Http,
    ) -> impl Future<Output = Result<crate::auth::Credential, AuthFailure>> + Send;
    /// The exact requests of one chunk (at most `max_batch` targets) and how their answers
    /// become one outcome per target, in order. Sending, previews and golden tests all go
    /// through here.
    fn exchange<'a>(
        &'a self,
        credential: &'a str,
        payload: &'a Self::Payload,
        targets: &'a [Target],
    ) -> Step<'a>;
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
        let mut outcomes = self.api.exchange(&token, payload, chunk).run(&self.http).await?;
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
                .exchange(&fresh, payload, &retry_targets)
                .run(&self.http)
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
        V::PROFILE.vendor
    }

    fn max_batch(&self) -> usize {
        V::PROFILE.max_batch
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
        let size = V::PROFILE.max_batch.max(1);
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

    fn quota(&self) -> Option<Arc<DailyQuota>> {
        Some(Arc::clone(&self.quota))
    }

    async fn check_credential(&self) -> Option<CredentialCheck> {
        let request = self.api.credential_endpoint().map(|url| CredentialRequest {
            method: "POST".into(),
            url: url.to_string(),
        });
        let source = match (&request, V::PROFILE.local_signing) {
            (Some(_), _) => "an access token from the vendor's auth endpoint".to_string(),
            (None, Some(signing)) => format!("{} made locally ({})", signing.what, signing.renewed),
            (None, None) => return None,
        };
        let failure = match self.api.authenticate(&self.http).await {
            Ok(_) => None,
            Err(AuthFailure::Refused { code, reason }) if request.is_some() => {
                Some(CredentialFailure::Refused { code, reason })
            }
            Err(AuthFailure::Refused { reason, .. }) => Some(CredentialFailure::Unusable { reason }),
            Err(AuthFailure::Transport(error)) => Some(CredentialFailure::NoAnswer {
                cause: error.to_string(),
            }),
        };
        Some(CredentialCheck {
            source,
            request,
            failure,
        })
    }
}

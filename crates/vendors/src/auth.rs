//! Credentials shared by several vendors: a cache of short-lived access tokens (refreshed
//! shortly before expiry, single-flight, dropped on `AuthExpired`), JWT signing, and the hex
//! digests vendors sign requests with.

use herald_core::AdapterError;
use md5::Md5;
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// A credential and how long it stays valid.
#[derive(Debug, Clone)]
pub struct Credential {
    /// The token (or static key) to send.
    pub token: String,
    /// Lifetime from now.
    pub valid_for: Duration,
}

impl Credential {
    /// A credential that never expires (static keys, per-request signatures).
    pub fn forever(token: impl Into<String>) -> Self {
        Self {
            token: token.into(),
            valid_for: Duration::from_secs(100 * 365 * 24 * 3600),
        }
    }
}

/// Why no credential could be had.
#[derive(Debug)]
pub enum AuthFailure {
    /// The vendor refused the app's credentials (wrong secret, wrong key): a configuration
    /// problem, reported as `Rejected` on every target.
    Refused {
        /// Vendor code.
        code: String,
        /// Vendor reason.
        reason: String,
    },
    /// The auth request did not get an answer.
    Transport(AdapterError),
}

impl AuthFailure {
    /// The failure of a local signing step outside the send path: a refusal is the
    /// certificate's configuration at fault.
    pub(crate) fn into_adapter_error(self) -> AdapterError {
        match self {
            AuthFailure::Refused { reason, .. } => AdapterError::Config(reason),
            AuthFailure::Transport(error) => error,
        }
    }
}

/// Renew this long before a cached token expires.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

#[derive(Debug)]
struct Cached {
    token: String,
    renew_at: Instant,
}

/// One cached credential per certificate.
#[derive(Debug, Default)]
pub struct TokenCache {
    slot: Mutex<Option<Cached>>,
}

impl TokenCache {
    /// The cached token, or a fresh one from `fetch` when there is none or it is about to
    /// expire. Concurrent callers wait for one fetch.
    pub async fn get<F, Fut>(&self, fetch: F) -> Result<String, AuthFailure>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Credential, AuthFailure>>,
    {
        let mut slot = self.slot.lock().await;
        if let Some(cached) = slot.as_ref()
            && Instant::now() < cached.renew_at
        {
            return Ok(cached.token.clone());
        }
        let credential = fetch().await?;
        let lifetime = credential
            .valid_for
            .saturating_sub(REFRESH_MARGIN)
            .max(credential.valid_for / 2);
        *slot = Some(Cached {
            token: credential.token.clone(),
            renew_at: Instant::now() + lifetime,
        });
        Ok(credential.token)
    }

    /// Forgets `token` if it is still the cached one (the vendor called it expired).
    pub async fn invalidate(&self, token: &str) {
        let mut slot = self.slot.lock().await;
        if slot.as_ref().is_some_and(|c| c.token == token) {
            *slot = None;
        }
    }
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(input: &str) -> String {
    hex(&Sha256::digest(input.as_bytes()))
}

/// Lower-case hex MD5.
pub fn md5_hex(input: &str) -> String {
    hex(&Md5::digest(input.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Milliseconds since the epoch, as vendors' timestamps want them.
pub fn now_millis() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// Seconds since the epoch.
pub fn now_seconds() -> i64 {
    jiff::Timestamp::now().as_second()
}

//! Per-certificate throttles: a request rate limit (vendor default or configured) and the
//! daily message quota (`herald_core::quota::DailyQuota`, shared through the store).

use governor::{DefaultDirectRateLimiter, Quota as GovernorQuota, RateLimiter};
pub use herald_core::quota::DailyQuota;
use std::num::NonZeroU32;

/// Requests per second allowed for one certificate.
#[derive(Debug)]
pub struct RateLimit {
    limiter: Option<DefaultDirectRateLimiter>,
}

impl RateLimit {
    /// `per_second` requests per second; 0 = unlimited.
    pub fn new(per_second: u32) -> Self {
        let limiter = NonZeroU32::new(per_second).map(|n| RateLimiter::direct(GovernorQuota::per_second(n)));
        Self { limiter }
    }

    /// Waits for a slot.
    pub async fn wait(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.until_ready().await;
        }
    }
}

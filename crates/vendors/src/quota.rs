//! Per-certificate throttles: a request rate limit (vendor default or configured) and a daily
//! message quota, counted in the vendor's own day (Beijing time for the Chinese vendors).
//! Once a vendor reports its quota used up, nothing more is sent that day: vivo and others
//! lower an app's quota when it keeps calling after the quota code.

use governor::{DefaultDirectRateLimiter, Quota as GovernorQuota, RateLimiter};
use herald_core::Outcome;
use std::num::NonZeroU32;
use std::sync::Mutex;

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

/// Messages one certificate may send per vendor day.
#[derive(Debug)]
pub struct DailyQuota {
    limit: Option<u64>,
    utc_offset_hours: i64,
    state: Mutex<QuotaState>,
}

#[derive(Debug, Default)]
struct QuotaState {
    day: i64,
    sent: u64,
    /// Set when the vendor said the quota is used up; cleared when the day changes.
    vendor_exhausted: Option<String>,
}

impl DailyQuota {
    /// A quota of `limit` messages per day (None = only what the vendor reports), with days
    /// starting at midnight in UTC+`utc_offset_hours`.
    pub fn new(limit: Option<u64>, utc_offset_hours: i64) -> Self {
        Self {
            limit,
            utc_offset_hours,
            state: Mutex::new(QuotaState::default()),
        }
    }

    fn today(&self) -> i64 {
        (jiff::Timestamp::now().as_second() + self.utc_offset_hours * 3600).div_euclid(86_400)
    }

    fn with_state<T>(&self, f: impl FnOnce(&mut QuotaState) -> T) -> T {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let today = self.today();
        if state.day != today {
            *state = QuotaState {
                day: today,
                ..QuotaState::default()
            };
        }
        f(&mut state)
    }

    /// Why nothing may be sent now, if so.
    pub fn exhausted(&self) -> Option<String> {
        let limit = self.limit;
        self.with_state(|s| {
            if let Some(reason) = &s.vendor_exhausted {
                return Some(reason.clone());
            }
            match limit {
                Some(limit) if s.sent >= limit => Some(format!("daily quota of {limit} messages used up")),
                _ => None,
            }
        })
    }

    /// Counts accepted messages and remembers a vendor's quota verdict.
    pub fn record(&self, outcomes: &[Outcome]) {
        self.with_state(|s| {
            for outcome in outcomes {
                match outcome {
                    Outcome::Accepted { .. } => s.sent += 1,
                    Outcome::QuotaExceeded { reason } => s.vendor_exhausted = Some(reason.clone()),
                    _ => {}
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_limit_and_a_vendor_verdict_both_stop_sending() {
        let quota = DailyQuota::new(Some(2), 8);
        assert_eq!(quota.exhausted(), None);
        quota.record(&[
            Outcome::Accepted { vendor_msg_id: None },
            Outcome::Accepted { vendor_msg_id: None },
        ]);
        assert!(quota.exhausted().is_some());

        let vendor = DailyQuota::new(None, 8);
        vendor.record(&[Outcome::QuotaExceeded {
            reason: "10070".into(),
        }]);
        assert_eq!(vendor.exhausted(), Some("10070".into()));
    }
}

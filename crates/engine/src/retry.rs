//! When to try a push again: after the larger of the vendor's `Retry-After` and an exponential
//! backoff with jitter (capped), for as long as the job's TTL lasts. A vendor that is down for
//! a minute must not cost the pushes of that minute, so there is no cap on attempts: a push is
//! given up only when its next attempt would come after its TTL (a stale offline push is worth
//! nothing). Attempt counts stay in the record as information.
//!
//! When a failing push is given up is decided by [`gives_up`] alone.

use herald_core::Millis;
use std::time::Duration;

/// First retry delay.
const BASE: Duration = Duration::from_secs(1);
/// Longest delay between attempts.
const MAX: Duration = Duration::from_secs(300);
/// Attempts that once were the cap, kept as a reference point for tests: a push is retried
/// after this many attempts as long as its TTL lasts.
pub const FORMER_ATTEMPT_CAP: u32 = 25;

/// The factor a backoff delay is multiplied by, between 0.8 and 1.2: ±20 % so that a burst
/// of failures does not come back as a burst. Passed in, so the outcome policy stays a pure
/// function that tests can pin.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Jitter(f64);

impl Jitter {
    /// No jitter: the delay as computed.
    pub const NONE: Jitter = Jitter(1.0);

    /// A random factor in [0.8, 1.2).
    pub fn random() -> Self {
        Jitter(rand::random::<f64>() * 0.4 + 0.8)
    }

    /// A given factor, held to [0.8, 1.2].
    pub fn of(factor: f64) -> Self {
        Jitter(factor.clamp(0.8, 1.2))
    }
}

/// The delay before attempt `attempts + 1`, given that `attempts` were made.
pub fn backoff(attempts: u32, retry_after: Option<Duration>) -> Duration {
    backoff_with(attempts, retry_after, Jitter::random())
}

/// [`backoff`] with the jitter given: the larger of the vendor's `Retry-After` (as given,
/// without jitter) and the growing backoff, so a vendor that keeps answering `Retry-After: 1`
/// during an outage is not asked every second for minutes.
pub fn backoff_with(attempts: u32, retry_after: Option<Duration>, jitter: Jitter) -> Duration {
    let exp = BASE.saturating_mul(1u32 << attempts.saturating_sub(1).min(16));
    let grown = exp.min(MAX).mul_f64(jitter.0);
    retry_after.map_or(grown, |after| after.max(grown))
}

/// Whether a failed push is given up instead of tried again at `due`: only when `due` is not
/// before the job expires. How many attempts it had does not matter.
pub fn gives_up(due: Millis, expires_at: Millis) -> bool {
    due >= expires_at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_honours_retry_after() {
        assert!(backoff(1, None) <= Duration::from_millis(1200));
        assert!(backoff(4, None) >= Duration::from_millis(6400));
        assert!(backoff(30, None) <= MAX.mul_f64(1.2));
        assert_eq!(backoff(3, Some(Duration::from_secs(7))), Duration::from_secs(7));
        assert!(
            backoff(6, Some(Duration::from_secs(1))) >= Duration::from_millis(25_600),
            "a short Retry-After does not undercut the grown backoff"
        );
    }

    #[test]
    fn backoff_without_jitter_doubles_from_one_second_up_to_five_minutes() {
        let delays: Vec<u64> = [1, 2, 3, 4, 9, 10, 30]
            .into_iter()
            .map(|n| backoff_with(n, None, Jitter::NONE).as_secs())
            .collect();
        assert_eq!(delays, [1, 2, 4, 8, 256, 300, 300]);
        assert_eq!(
            backoff_with(2, None, Jitter::of(1.2)),
            Duration::from_millis(2400)
        );
        assert_eq!(
            backoff_with(2, Some(Duration::from_secs(30)), Jitter::of(0.8)),
            Duration::from_secs(30),
            "Retry-After is taken as given, without jitter"
        );
    }

    #[test]
    fn a_push_is_given_up_at_its_ttl_only() {
        assert!(!gives_up(999, 1000));
        assert!(gives_up(1000, 1000), "due exactly at the expiry");
        assert!(gives_up(1001, 1000));
    }

    #[test]
    fn retry_after_and_backoff_the_larger_wins() {
        let after = |secs| Some(Duration::from_secs(secs));
        // Early on the vendor's Retry-After is longer; later the grown backoff is.
        assert_eq!(backoff_with(1, after(5), Jitter::NONE), Duration::from_secs(5));
        assert_eq!(backoff_with(4, after(5), Jitter::NONE), Duration::from_secs(8));
        assert_eq!(backoff_with(30, after(1), Jitter::NONE), MAX);
        assert_eq!(
            backoff_with(30, after(900), Jitter::NONE),
            Duration::from_secs(900)
        );
    }
}

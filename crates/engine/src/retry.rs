//! When to try a push again: exponential backoff with jitter, or exactly the vendor's
//! `Retry-After`; never past the job's TTL (a stale offline push is worth nothing).
//!
//! When a failing push is given up is decided by [`gives_up`] alone, so a change of that rule
//! (retrying until the TTL instead of until an attempt cap) is made here.

use herald_core::Millis;
use std::time::Duration;

/// First retry delay.
const BASE: Duration = Duration::from_secs(1);
/// Longest delay between attempts.
const MAX: Duration = Duration::from_secs(300);
/// Attempts after which a job that keeps failing is given up.
pub const MAX_ATTEMPTS: u32 = 25;

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

/// [`backoff`] with the jitter given.
pub fn backoff_with(attempts: u32, retry_after: Option<Duration>, jitter: Jitter) -> Duration {
    if let Some(after) = retry_after {
        return after;
    }
    let exp = BASE.saturating_mul(1u32 << attempts.saturating_sub(1).min(16));
    let capped = exp.min(MAX);
    capped.mul_f64(jitter.0)
}

/// Whether a push that failed on its attempt number `attempt` (1 for the first) is given up
/// instead of tried again at `due`: when `due` is not before the job expires, or when it has
/// had its [`MAX_ATTEMPTS`].
pub fn gives_up(attempt: u32, due: Millis, expires_at: Millis) -> bool {
    due >= expires_at || attempt >= MAX_ATTEMPTS
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
    fn a_push_is_given_up_at_its_ttl_or_its_last_attempt() {
        assert!(!gives_up(1, 999, 1000));
        assert!(gives_up(1, 1000, 1000), "due exactly at the expiry");
        assert!(!gives_up(MAX_ATTEMPTS - 1, 0, 1000));
        assert!(gives_up(MAX_ATTEMPTS, 0, 1000));
    }
}

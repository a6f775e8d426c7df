//! When to try a push again: exponential backoff with jitter, or exactly the vendor's
//! `Retry-After`; never past the job's TTL (a stale offline push is worth nothing).

use std::time::Duration;

/// First retry delay.
const BASE: Duration = Duration::from_secs(1);
/// Longest delay between attempts.
const MAX: Duration = Duration::from_secs(300);
/// Attempts after which a job that keeps failing is given up.
pub const MAX_ATTEMPTS: u32 = 25;

/// The delay before attempt `attempts + 1`, given that `attempts` were made.
pub fn backoff(attempts: u32, retry_after: Option<Duration>) -> Duration {
    if let Some(after) = retry_after {
        return after;
    }
    let exp = BASE.saturating_mul(1u32 << attempts.saturating_sub(1).min(16));
    let capped = exp.min(MAX);
    // ±20 % jitter so that a burst of failures does not come back as a burst.
    let jitter = rand::random::<f64>() * 0.4 + 0.8;
    capped.mul_f64(jitter)
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
}

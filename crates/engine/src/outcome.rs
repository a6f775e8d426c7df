//! The outcome policy: what a vendor's answer to one push attempt makes of the job. A pure
//! function of the answer, the job (its attempts so far and its expiry), the time and the
//! backoff jitter, so every rule is one row of a table test.
//!
//! | answer | record |
//! |---|---|
//! | accepted | `accepted`, with the vendor's message id |
//! | invalid token | `invalid_token`, and the token is unbound from the device |
//! | retry (the larger of Retry-After and backoff) | `queued` again, due then, however many attempts it had; `expired` once the next attempt would come after the TTL ([`gives_up`]) |
//! | auth expired, first two attempts | as retry, with backoff |
//! | auth expired, later | `rejected` (`auth_expired`) |
//! | quota exceeded | `quota_exceeded` |
//! | rejected | `rejected`, code `<code>: <reason>` |
//! | no answer (transport) | as retry, logged as `transport_error` |

use crate::retry::{Jitter, backoff_with, gives_up};
use herald_core::delivery::{Attempt, AttemptOutcome, DeliveryState, JobResult, PushJob};
use herald_core::{Millis, Outcome};
use std::time::Duration;

/// Attempts at which an expired credential is still retried (the adapter refreshed it once
/// already): a few spaced retries cover a vendor-side hiccup, more would hide a
/// configuration problem.
const AUTH_EXPIRED_RETRIES_BELOW: u32 = 3;

/// What came back from one attempt.
#[derive(Debug, Clone, Copy)]
pub enum Answer<'a> {
    /// The vendor's verdict for this target.
    Vendor(&'a Outcome),
    /// The request got no answer (transport or protocol error); the text says why.
    NoAnswer(&'a str),
}

/// When and how the attempt was made.
#[derive(Debug, Clone, Copy)]
pub struct Attempted {
    /// When the answer came, ms since the epoch (the attempt's time, and the base of a retry).
    pub now: Millis,
    /// The request's round trip.
    pub latency_ms: u64,
    /// Factor for a computed backoff (not for a vendor's Retry-After).
    pub jitter: Jitter,
}

/// The record of `job` after an attempt answered with `answer`.
pub fn judge(job: &PushJob, answer: Answer<'_>, at: Attempted) -> JobResult {
    match answer {
        Answer::Vendor(outcome) => judge_outcome(job, outcome, at),
        Answer::NoAnswer(error) => {
            let mut result = retry_or_expire(job, None, error.to_string(), at);
            result.attempt.outcome = AttemptOutcome::TransportError;
            result
        }
    }
}

/// The record of a job whose TTL ran out before it could be sent.
pub fn expired_unsent(job: &PushJob, now: Millis) -> JobResult {
    finished(
        job,
        DeliveryState::Expired,
        AttemptOutcome::Expired,
        Some("ttl_elapsed".into()),
        now,
        0,
    )
}

/// The record of a job that cannot be sent at all (its message or certificate cannot be had);
/// `code` says why.
pub fn rejected_unsent(job: &PushJob, code: String, now: Millis) -> JobResult {
    finished(
        job,
        DeliveryState::Rejected,
        AttemptOutcome::Rejected,
        Some(code),
        now,
        0,
    )
}

fn judge_outcome(job: &PushJob, outcome: &Outcome, at: Attempted) -> JobResult {
    let attempt = job.attempts + 1;
    match outcome {
        Outcome::Accepted { vendor_msg_id } => JobResult {
            vendor_msg_id: vendor_msg_id.clone(),
            ..finished(
                job,
                DeliveryState::Accepted,
                AttemptOutcome::Accepted,
                None,
                at.now,
                at.latency_ms,
            )
        },
        Outcome::InvalidToken { reason } => JobResult {
            unbind: Some(job.device_key()),
            ..finished(
                job,
                DeliveryState::InvalidToken,
                AttemptOutcome::InvalidToken,
                Some(reason.clone()),
                at.now,
                at.latency_ms,
            )
        },
        Outcome::Retry { after, reason } => retry_or_expire(job, *after, reason.clone(), at),
        Outcome::AuthExpired { reason } if attempt < AUTH_EXPIRED_RETRIES_BELOW => {
            retry_or_expire(job, None, reason.clone(), at)
        }
        Outcome::AuthExpired { reason } => finished(
            job,
            DeliveryState::Rejected,
            AttemptOutcome::AuthExpired,
            Some(reason.clone()),
            at.now,
            at.latency_ms,
        ),
        Outcome::QuotaExceeded { reason } => finished(
            job,
            DeliveryState::QuotaExceeded,
            AttemptOutcome::QuotaExceeded,
            Some(reason.clone()),
            at.now,
            at.latency_ms,
        ),
        Outcome::Rejected { code, reason } => finished(
            job,
            DeliveryState::Rejected,
            AttemptOutcome::Rejected,
            Some(format!("{code}: {reason}")),
            at.now,
            at.latency_ms,
        ),
    }
}

/// Queued again after the larger of the vendor's `retry_after` and the backoff, or expired
/// when [`gives_up`] says so (the TTL is over by then).
fn retry_or_expire(job: &PushJob, retry_after: Option<Duration>, code: String, at: Attempted) -> JobResult {
    let attempt = job.attempts + 1;
    let delay = backoff_with(attempt, retry_after, at.jitter);
    let due = at.now + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2);
    if gives_up(due, job.expires_at) {
        return finished(
            job,
            DeliveryState::Expired,
            AttemptOutcome::Expired,
            Some(code),
            at.now,
            at.latency_ms,
        );
    }
    JobResult {
        state: DeliveryState::Queued,
        not_before: Some(due),
        ..finished(
            job,
            DeliveryState::Queued,
            AttemptOutcome::Retry,
            Some(code),
            at.now,
            at.latency_ms,
        )
    }
}

fn finished(
    job: &PushJob,
    state: DeliveryState,
    outcome: AttemptOutcome,
    code: Option<String>,
    now: Millis,
    latency_ms: u64,
) -> JobResult {
    JobResult {
        id: job.id,
        state,
        not_before: None,
        attempt: Attempt {
            at: now,
            outcome,
            code,
            latency_ms,
        },
        vendor_msg_id: None,
        unbind: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retry::FORMER_ATTEMPT_CAP;
    use herald_core::Vendor;

    const NOW: Millis = 1_000_000;
    const SECOND: i64 = 1000;

    fn job(attempts_before: u32, ttl_ms: i64) -> PushJob {
        PushJob {
            id: 7,
            app_id: "a1".into(),
            message_id: "m1".into(),
            user_id: "bob".into(),
            device_id: "pixel".into(),
            certificate_id: 3,
            vendor: Vendor::Fcm,
            token: "tok".into(),
            badge: 1,
            sound: None,
            attempts: attempts_before,
            expires_at: NOW + ttl_ms,
            created_at: NOW - SECOND,
        }
    }

    fn retry(after_secs: Option<u64>) -> Outcome {
        Outcome::Retry {
            after: after_secs.map(Duration::from_secs),
            reason: "503".into(),
        }
    }

    fn reason(kind: fn(String) -> Outcome) -> Outcome {
        kind("why".into())
    }

    /// One row: an answer to attempt number `attempt` of a job with `ttl` left, and the
    /// record expected (state, due time, logged outcome, code, unbound).
    struct Row {
        answer: Outcome,
        attempt: u32,
        ttl_ms: i64,
        state: DeliveryState,
        due: Option<Millis>,
        logged: AttemptOutcome,
        code: Option<&'static str>,
        unbinds: bool,
    }

    fn check(rows: &[Row]) {
        for (n, row) in rows.iter().enumerate() {
            let job = job(row.attempt - 1, row.ttl_ms);
            let at = Attempted {
                now: NOW,
                latency_ms: 42,
                jitter: Jitter::NONE,
            };
            let got = judge(&job, Answer::Vendor(&row.answer), at);
            let what = format!("row {n}: {:?} on attempt {}", row.answer, row.attempt);
            assert_eq!(got.id, job.id, "{what}");
            assert_eq!(got.state, row.state, "{what}");
            assert_eq!(got.not_before, row.due, "{what}");
            assert_eq!(got.attempt.outcome, row.logged, "{what}");
            assert_eq!(got.attempt.code.as_deref(), row.code, "{what}");
            assert_eq!(got.attempt.at, NOW, "{what}");
            assert_eq!(got.attempt.latency_ms, 42, "{what}");
            let unbind = row
                .unbinds
                .then(|| herald_core::DeviceKey::new("a1", "bob", "pixel"));
            assert_eq!(got.unbind, unbind, "{what}");
        }
    }

    #[test]
    fn final_answers() {
        use AttemptOutcome as O;
        use DeliveryState as S;
        let hour = 3600 * SECOND;
        check(&[
            Row {
                answer: Outcome::Accepted { vendor_msg_id: None },
                attempt: 1,
                ttl_ms: hour,
                state: S::Accepted,
                due: None,
                logged: O::Accepted,
                code: None,
                unbinds: false,
            },
            Row {
                answer: reason(|reason| Outcome::InvalidToken { reason }),
                attempt: 1,
                ttl_ms: hour,
                state: S::InvalidToken,
                due: None,
                logged: O::InvalidToken,
                code: Some("why"),
                unbinds: true,
            },
            Row {
                answer: reason(|reason| Outcome::QuotaExceeded { reason }),
                attempt: 4,
                ttl_ms: hour,
                state: S::QuotaExceeded,
                due: None,
                logged: O::QuotaExceeded,
                code: Some("why"),
                unbinds: false,
            },
            Row {
                answer: Outcome::rejected("InvalidRegistration", "bad payload"),
                attempt: 1,
                ttl_ms: hour,
                state: S::Rejected,
                due: None,
                logged: O::Rejected,
                code: Some("InvalidRegistration: bad payload"),
                unbinds: false,
            },
            // An expired credential is retried on the first two attempts, then rejected.
            Row {
                answer: reason(|reason| Outcome::AuthExpired { reason }),
                attempt: 2,
                ttl_ms: hour,
                state: S::Queued,
                due: Some(NOW + 2 * SECOND),
                logged: O::Retry,
                code: Some("why"),
                unbinds: false,
            },
            Row {
                answer: reason(|reason| Outcome::AuthExpired { reason }),
                attempt: 3,
                ttl_ms: hour,
                state: S::Rejected,
                due: None,
                logged: O::AuthExpired,
                code: Some("why"),
                unbinds: false,
            },
        ]);
    }

    #[test]
    fn retries_back_off_honour_retry_after_and_stop_at_the_ttl_only() {
        use AttemptOutcome as O;
        use DeliveryState as S;
        let hour = 3600 * SECOND;
        check(&[
            // Backoff: 1 s after the first attempt, 8 s after the fourth.
            Row {
                answer: retry(None),
                attempt: 1,
                ttl_ms: hour,
                state: S::Queued,
                due: Some(NOW + SECOND),
                logged: O::Retry,
                code: Some("503"),
                unbinds: false,
            },
            Row {
                answer: retry(None),
                attempt: 4,
                ttl_ms: hour,
                state: S::Queued,
                due: Some(NOW + 8 * SECOND),
                logged: O::Retry,
                code: Some("503"),
                unbinds: false,
            },
            // Retry-After is taken as given, whatever the backoff would be.
            Row {
                answer: retry(Some(120)),
                attempt: 1,
                ttl_ms: hour,
                state: S::Queued,
                due: Some(NOW + 120 * SECOND),
                logged: O::Retry,
                code: Some("503"),
                unbinds: false,
            },
            // A retry due at or past the TTL is not made.
            Row {
                answer: retry(Some(120)),
                attempt: 1,
                ttl_ms: 120 * SECOND,
                state: S::Expired,
                due: None,
                logged: O::Expired,
                code: Some("503"),
                unbinds: false,
            },
            Row {
                answer: retry(Some(120)),
                attempt: 1,
                ttl_ms: 120 * SECOND + 1,
                state: S::Queued,
                due: Some(NOW + 120 * SECOND),
                logged: O::Retry,
                code: Some("503"),
                unbinds: false,
            },
            // The vendor's Retry-After does not undercut the grown backoff: the larger wins.
            Row {
                answer: retry(Some(1)),
                attempt: 9,
                ttl_ms: hour,
                state: S::Queued,
                due: Some(NOW + 256 * SECOND),
                logged: O::Retry,
                code: Some("503"),
                unbinds: false,
            },
            // No attempt cap: still retried after the attempts that once were the cap,
            // as long as the TTL lasts (the record counts the attempts)...
            Row {
                answer: retry(None),
                attempt: FORMER_ATTEMPT_CAP,
                ttl_ms: 365 * 24 * hour,
                state: S::Queued,
                due: Some(NOW + 300 * SECOND),
                logged: O::Retry,
                code: Some("503"),
                unbinds: false,
            },
            Row {
                answer: retry(Some(1)),
                attempt: FORMER_ATTEMPT_CAP + 100,
                ttl_ms: 300 * SECOND + 1,
                state: S::Queued,
                due: Some(NOW + 300 * SECOND),
                logged: O::Retry,
                code: Some("503"),
                unbinds: false,
            },
            // ...and expired once the next attempt would come after it.
            Row {
                answer: retry(None),
                attempt: FORMER_ATTEMPT_CAP + 100,
                ttl_ms: 300 * SECOND,
                state: S::Expired,
                due: None,
                logged: O::Expired,
                code: Some("503"),
                unbinds: false,
            },
        ]);
    }

    #[test]
    fn no_answer_is_retried_and_logged_as_a_transport_error() {
        let at = Attempted {
            now: NOW,
            latency_ms: 5000,
            jitter: Jitter::NONE,
        };
        let queued = judge(&job(0, 3600 * SECOND), Answer::NoAnswer("timed out"), at);
        assert_eq!(queued.state, DeliveryState::Queued);
        assert_eq!(queued.not_before, Some(NOW + SECOND));
        assert_eq!(queued.attempt.outcome, AttemptOutcome::TransportError);
        assert_eq!(queued.attempt.code.as_deref(), Some("timed out"));

        // Given up at the TTL, it still says why the last attempt failed.
        let expired = judge(&job(0, SECOND), Answer::NoAnswer("timed out"), at);
        assert_eq!(expired.state, DeliveryState::Expired);
        assert_eq!(expired.not_before, None);
        assert_eq!(expired.attempt.outcome, AttemptOutcome::TransportError);
    }

    #[test]
    fn jobs_that_cannot_be_sent() {
        let expired = expired_unsent(&job(2, -1), NOW);
        assert_eq!(
            (
                expired.state,
                expired.attempt.outcome,
                expired.attempt.code.as_deref()
            ),
            (
                DeliveryState::Expired,
                AttemptOutcome::Expired,
                Some("ttl_elapsed")
            )
        );
        assert_eq!(expired.attempt.latency_ms, 0);
        let rejected = rejected_unsent(&job(0, SECOND), "certificate_missing".into(), NOW);
        assert_eq!(
            (
                rejected.state,
                rejected.attempt.outcome,
                rejected.attempt.code.as_deref()
            ),
            (
                DeliveryState::Rejected,
                AttemptOutcome::Rejected,
                Some("certificate_missing")
            )
        );
    }
}

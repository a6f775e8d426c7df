//! Certificate health: a vendor that keeps failing is held, not hammered. After
//! [`HoldPolicy::degrade_after`] requests in a row through one certificate failed (no answer,
//! or every target told to retry: 5xx, timeouts, throttling) the certificate is `degraded`: its
//! jobs go back to the queue without spending an attempt, and one probe request (one target of
//! the backlog) tests the vendor at growing intervals (at least the vendor's `Retry-After`).
//! When a request is answered the certificate is `working` again and the backlog, which came
//! due with the probe, goes out at full speed in full vendor batches.
//!
//! Kept per node and in memory: a restarted node starts with every certificate working, and
//! finds out again within [`HoldPolicy::degrade_after`] requests.

use herald_core::{Millis, Outcome, now_millis};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// When a certificate is held and how often it is probed.
#[derive(Debug, Clone, Copy)]
pub struct HoldPolicy {
    /// Failed requests in a row after which a certificate is degraded.
    pub degrade_after: u32,
    /// Wait before the first probe (and the least wait between probes).
    pub first_probe: Duration,
    /// Longest wait between probes.
    pub longest_probe: Duration,
    /// How long jobs held while a probe is out wait before they look again: they go out soon
    /// after the probe is answered.
    pub while_probing: Duration,
}

impl Default for HoldPolicy {
    fn default() -> Self {
        Self {
            degrade_after: 3,
            first_probe: Duration::from_secs(1),
            longest_probe: Duration::from_secs(10),
            while_probing: Duration::from_secs(1),
        }
    }
}

impl HoldPolicy {
    /// A policy that never holds a certificate (tests of the retry rule alone).
    pub fn never() -> Self {
        Self {
            degrade_after: u32::MAX,
            ..Self::default()
        }
    }
}

/// Whether a certificate's vendor answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthState {
    /// Requests go out as they come.
    Working,
    /// Held: jobs wait while a probe tests the vendor.
    Degraded,
}

impl HealthState {
    /// The state's id string.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthState::Working => "working",
            HealthState::Degraded => "degraded",
        }
    }
}

/// A certificate's health as the API and the push test tool show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateHealth {
    /// Working or degraded.
    pub state: HealthState,
    /// Since when, ms since the epoch (the dispatcher's start while nothing changed).
    pub since: Millis,
    /// Why the last failed request failed, if one did.
    pub last_error: Option<String>,
}

/// What a unit of a certificate may do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Go out.
    Send,
    /// Go out as the probe: one target, the rest of the unit is held.
    Probe,
    /// Wait in the queue until then (no attempt spent).
    Hold {
        /// When to look again.
        until: Millis,
    },
}

/// What one request through a certificate showed about its vendor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The vendor answered (whatever it said about the targets).
    Answered,
    /// No answer, or every target told to retry.
    Failed {
        /// Why, for the log and the API.
        reason: String,
        /// The longest wait the vendor asked for.
        retry_after: Option<Duration>,
    },
    /// Nothing learned (the request was not made, or failed on our side).
    Unknown,
}

impl Verdict {
    /// The verdict of a request answered with `outcomes`.
    pub fn of_outcomes(outcomes: &[Outcome]) -> Self {
        let all_retry = !outcomes.is_empty() && outcomes.iter().all(|o| matches!(o, Outcome::Retry { .. }));
        if !all_retry {
            return Verdict::Answered;
        }
        let retry_after = outcomes
            .iter()
            .filter_map(|o| match o {
                Outcome::Retry { after, .. } => *after,
                _ => None,
            })
            .max();
        let reason = match &outcomes[0] {
            Outcome::Retry { reason, .. } => reason.clone(),
            other => other.state().to_string(),
        };
        Verdict::Failed { reason, retry_after }
    }
}

/// A certificate of an app.
type Key = (String, i64);

#[derive(Debug)]
struct Tracked {
    health: CertificateHealth,
    failures: u32,
    probe_every: Duration,
    next_probe: Millis,
    /// Set while a probe is out, until when it counts as out (a lost probe does not hold the
    /// certificate forever).
    probing_until: Option<Millis>,
}

/// The health of every certificate this node sends through. Cheap to clone.
#[derive(Debug, Clone)]
pub struct HealthBoard {
    certificates: Arc<Mutex<HashMap<Key, Tracked>>>,
    policy: HoldPolicy,
    started: Millis,
}

/// How long a probe counts as out at most.
const PROBE_LOST_AFTER: Duration = Duration::from_secs(120);

fn ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX / 4)
}

impl HealthBoard {
    /// A board where every certificate is working.
    pub fn new(policy: HoldPolicy) -> Self {
        Self {
            certificates: Arc::default(),
            policy,
            started: now_millis(),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<Key, Tracked>) -> T) -> T {
        match self.certificates.lock() {
            Ok(mut map) => f(&mut map),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// The health of `certificate` of `app`.
    pub fn get(&self, app: &str, certificate: i64) -> CertificateHealth {
        self.with(|map| {
            map.get(&(app.to_string(), certificate))
                .map(|t| t.health.clone())
                .unwrap_or(CertificateHealth {
                    state: HealthState::Working,
                    since: self.started,
                    last_error: None,
                })
        })
    }

    /// Whether a unit of `certificate` may go out at `now`.
    pub fn admit(&self, app: &str, certificate: i64, now: Millis) -> Admission {
        self.with(|map| {
            let Some(tracked) = map.get_mut(&(app.to_string(), certificate)) else {
                return Admission::Send;
            };
            if tracked.health.state == HealthState::Working {
                return Admission::Send;
            }
            if tracked.probing_until.is_some_and(|until| now < until) {
                return Admission::Hold {
                    until: now + ms(self.policy.while_probing),
                };
            }
            if now >= tracked.next_probe {
                tracked.probing_until = Some(now + ms(PROBE_LOST_AFTER));
                return Admission::Probe;
            }
            Admission::Hold {
                until: tracked.next_probe,
            }
        })
    }

    /// Takes what a request through `certificate` showed; returns when its jobs are next
    /// looked at while the certificate is degraded (its retries wait with the backlog).
    pub fn report(
        &self,
        app: &str,
        certificate: i64,
        vendor: &'static str,
        verdict: &Verdict,
        probe: bool,
        now: Millis,
    ) -> Option<Millis> {
        self.with(|map| {
            let tracked = map.entry((app.to_string(), certificate)).or_insert_with(|| Tracked {
                health: CertificateHealth {
                    state: HealthState::Working,
                    since: self.started,
                    last_error: None,
                },
                failures: 0,
                probe_every: self.policy.first_probe,
                next_probe: now,
                probing_until: None,
            });
            if probe {
                tracked.probing_until = None;
            }
            match verdict {
                Verdict::Unknown => {}
                Verdict::Answered => {
                    tracked.failures = 0;
                    if tracked.health.state == HealthState::Degraded {
                        let held_ms = now - tracked.health.since;
                        tracked.health.state = HealthState::Working;
                        tracked.health.since = now;
                        tracing::info!(
                            app, certificate, vendor, held_ms,
                            "Certificate working again: its vendor answered the probe; the held pushes go out now."
                        );
                        metrics::gauge!("herald_certificate_degraded", "certificate" => certificate.to_string(), "vendor" => vendor)
                            .set(0.0);
                    }
                }
                Verdict::Failed { reason, retry_after } => {
                    tracked.failures = tracked.failures.saturating_add(1);
                    tracked.health.last_error = Some(reason.clone());
                    let asked = retry_after.unwrap_or_default();
                    if tracked.failures == 1 && tracked.health.state == HealthState::Working {
                        // Said once per run of failures: retries that go on stay visible
                        // without a line per attempt.
                        tracing::warn!(
                            app, certificate, vendor, cause = %reason,
                            "Push request through the certificate failed; its pushes are retried until their TTL."
                        );
                    }
                    match tracked.health.state {
                        HealthState::Working if tracked.failures >= self.policy.degrade_after => {
                            tracked.health.state = HealthState::Degraded;
                            tracked.health.since = now;
                            tracked.probe_every = self.policy.first_probe.max(asked);
                            tracked.next_probe = now + ms(tracked.probe_every);
                            tracing::warn!(
                                app, certificate, vendor, cause = %reason, failures = tracked.failures,
                                "Certificate degraded: its vendor keeps failing; its pushes wait while a probe tests it."
                            );
                            metrics::gauge!("herald_certificate_degraded", "certificate" => certificate.to_string(), "vendor" => vendor)
                                .set(1.0);
                        }
                        HealthState::Degraded if probe => {
                            tracked.probe_every = (tracked.probe_every * 2).min(self.policy.longest_probe).max(asked);
                            tracked.next_probe = now + ms(tracked.probe_every);
                        }
                        _ => {}
                    }
                }
            }
            (tracked.health.state == HealthState::Degraded).then_some(tracked.next_probe)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Millis = 1_000_000;

    fn failed(after: Option<u64>) -> Verdict {
        Verdict::Failed {
            reason: "503".into(),
            retry_after: after.map(Duration::from_secs),
        }
    }

    #[test]
    fn requests_answered_with_retry_for_every_target_count_as_failed() {
        let retry = Outcome::Retry {
            after: Some(Duration::from_secs(2)),
            reason: "503".into(),
        };
        let accepted = Outcome::Accepted { vendor_msg_id: None };
        assert_eq!(
            Verdict::of_outcomes(&[retry.clone(), retry.clone()]),
            failed(Some(2))
        );
        assert_eq!(Verdict::of_outcomes(&[retry, accepted]), Verdict::Answered);
        assert_eq!(Verdict::of_outcomes(&[]), Verdict::Answered);
    }

    #[test]
    fn a_certificate_is_degraded_after_failures_in_a_row_then_probed_at_growing_intervals() {
        let board = HealthBoard::new(HoldPolicy::default());
        let second = 1000;
        assert_eq!(board.admit("a", 1, NOW), Admission::Send);
        // Two failures and an answer: the count starts over.
        for verdict in [
            failed(None),
            failed(None),
            Verdict::Answered,
            failed(None),
            failed(None),
        ] {
            assert_eq!(board.report("a", 1, "fcm", &verdict, false, NOW), None);
        }
        assert_eq!(board.get("a", 1).state, HealthState::Working);
        // The third in a row degrades it; the vendor asked for 3 s, longer than the first probe.
        assert_eq!(
            board.report("a", 1, "fcm", &failed(Some(3)), false, NOW),
            Some(NOW + 3 * second)
        );
        let health = board.get("a", 1);
        assert_eq!((health.state, health.since), (HealthState::Degraded, NOW));
        assert_eq!(health.last_error.as_deref(), Some("503"));
        assert_eq!(
            board.admit("a", 1, NOW + 10),
            Admission::Hold {
                until: NOW + 3 * second
            }
        );
        assert_eq!(
            board.admit("b", 1, NOW),
            Admission::Send,
            "other apps' certificates go on"
        );

        // At the probe time one unit probes; the others wait a moment for its answer.
        let t = NOW + 3 * second;
        assert_eq!(board.admit("a", 1, t), Admission::Probe);
        assert_eq!(board.admit("a", 1, t), Admission::Hold { until: t + second });
        // The probe failed: the next one comes after twice the wait.
        assert_eq!(
            board.report("a", 1, "fcm", &failed(None), true, t + 100),
            Some(t + 100 + 6 * second)
        );
        // Up to the longest wait.
        let mut at = t + 100;
        for _ in 0..5 {
            at += 60 * second;
            assert_eq!(board.admit("a", 1, at), Admission::Probe);
            board.report("a", 1, "fcm", &failed(None), true, at);
        }
        assert_eq!(
            board.admit("a", 1, at),
            Admission::Hold {
                until: at + 10 * second
            }
        );

        // An answered probe makes it working again: everything goes out.
        at += 10 * second;
        assert_eq!(board.admit("a", 1, at), Admission::Probe);
        assert_eq!(board.report("a", 1, "fcm", &Verdict::Answered, true, at), None);
        let health = board.get("a", 1);
        assert_eq!((health.state, health.since), (HealthState::Working, at));
        assert_eq!(
            health.last_error.as_deref(),
            Some("503"),
            "the last error stays as information"
        );
        assert_eq!(board.admit("a", 1, at), Admission::Send);
    }

    #[test]
    fn the_first_failure_and_each_change_of_health_are_logged_once_with_the_cause() {
        let board = HealthBoard::new(HoldPolicy::default());
        let lines = |verdicts: &[(Verdict, bool)]| {
            crate::test_logs::capture(|| {
                for (verdict, probe) in verdicts {
                    board.report("a", 7, "fcm", verdict, *probe, NOW);
                }
            })
        };
        let first = lines(&[(failed(None), false), (failed(None), false)]);
        assert_eq!(first.matches("failed").count(), 1, "{first}");
        assert!(first.contains("WARN") && first.contains("cause=503"), "{first}");
        assert!(
            first.contains("certificate=7") && first.contains("vendor=\"fcm\""),
            "{first}"
        );

        let degraded = lines(&[(failed(None), false), (failed(None), true)]);
        assert_eq!(degraded.matches("Certificate degraded").count(), 1, "{degraded}");
        assert!(!degraded.contains("request through"), "{degraded}");

        let recovered = lines(&[(Verdict::Answered, true), (Verdict::Answered, false)]);
        assert_eq!(
            recovered.matches("Certificate working again").count(),
            1,
            "{recovered}"
        );

        let again = lines(&[(failed(None), false)]);
        assert_eq!(
            again.matches("request through the certificate failed").count(),
            1,
            "a new run of failures is said again: {again}"
        );
    }

    #[test]
    fn a_lost_probe_does_not_hold_the_certificate_forever() {
        let board = HealthBoard::new(HoldPolicy {
            degrade_after: 1,
            ..HoldPolicy::default()
        });
        board.report("a", 1, "fcm", &failed(None), false, NOW);
        assert_eq!(board.admit("a", 1, NOW + 1000), Admission::Probe);
        let later = NOW + 1000 + ms(PROBE_LOST_AFTER);
        assert_eq!(board.admit("a", 1, later), Admission::Probe);
    }
}

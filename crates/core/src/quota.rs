//! A certificate's daily message quota, counted in the vendor's own day (Beijing time for the
//! Chinese vendors). The adapter counts what it sends; the engine adds this node's count to the
//! store's and reads the total back, so every node of a cluster counts against one budget and a
//! restart keeps the day's count. Once a vendor reports its quota used up, nothing more is sent
//! that day: vivo and others lower an app's quota when it keeps calling after the quota code.

use crate::push::Outcome;
use serde::Serialize;
use std::sync::Mutex;

/// The quota of one certificate on this node.
#[derive(Debug)]
pub struct DailyQuota {
    limit: Option<u64>,
    utc_offset_hours: i64,
    state: Mutex<QuotaState>,
}

#[derive(Debug, Default)]
struct QuotaState {
    day: i64,
    /// Accepted here and not yet added to the store's count.
    unsynced: u64,
    /// The store's count for the day when last read (every node's).
    synced: u64,
    /// Set when the vendor said the quota is used up; cleared when the day changes.
    vendor_exhausted: Option<String>,
}

/// A quota as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct QuotaView {
    /// The vendor's day, as days since 1970-01-01 in the vendor's time zone.
    pub day: i64,
    /// Messages accepted today by every node (as last synchronised, plus this node's since).
    pub used: u64,
    /// The configured daily limit (`defaults.daily_quota`), if any.
    pub limit: Option<u64>,
    /// The vendor's own verdict today, if it said the quota is used up.
    pub vendor_exhausted: Option<String>,
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
                Some(limit) if s.synced + s.unsynced >= limit => {
                    Some(format!("daily quota of {limit} messages used up"))
                }
                _ => None,
            }
        })
    }

    /// Counts accepted messages and remembers a vendor's quota verdict.
    pub fn record(&self, outcomes: &[Outcome]) {
        self.with_state(|s| {
            for outcome in outcomes {
                match outcome {
                    Outcome::Accepted { .. } => s.unsynced += 1,
                    Outcome::QuotaExceeded { reason } => s.vendor_exhausted = Some(reason.clone()),
                    _ => {}
                }
            }
        });
    }

    /// Takes this node's count not yet added to the store's: (day, count).
    pub fn take_unsynced(&self) -> (i64, u64) {
        self.with_state(|s| (s.day, std::mem::take(&mut s.unsynced)))
    }

    /// Gives back a count [`take_unsynced`](Self::take_unsynced) took (the store could not be
    /// written); a count of another day is dropped.
    pub fn restore_unsynced(&self, day: i64, count: u64) {
        self.with_state(|s| {
            if s.day == day {
                s.unsynced += count;
            }
        });
    }

    /// The store's count for `day` (every node's), as just read.
    pub fn settle(&self, day: i64, total: u64) {
        self.with_state(|s| {
            if s.day == day {
                s.synced = total;
            }
        });
    }

    /// Today's quota as the API shows it.
    pub fn view(&self) -> QuotaView {
        let limit = self.limit;
        self.with_state(|s| QuotaView {
            day: s.day,
            used: s.synced + s.unsynced,
            limit,
            vendor_exhausted: s.vendor_exhausted.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepted(n: usize) -> Vec<Outcome> {
        vec![Outcome::Accepted { vendor_msg_id: None }; n]
    }

    #[test]
    fn a_local_limit_and_a_vendor_verdict_both_stop_sending() {
        let quota = DailyQuota::new(Some(2), 8);
        assert_eq!(quota.exhausted(), None);
        quota.record(&accepted(2));
        assert!(quota.exhausted().is_some());

        let vendor = DailyQuota::new(None, 8);
        vendor.record(&[Outcome::QuotaExceeded {
            reason: "10070".into(),
        }]);
        assert_eq!(vendor.exhausted(), Some("10070".into()));
    }

    #[test]
    fn the_count_of_other_nodes_counts_against_the_limit() {
        let quota = DailyQuota::new(Some(10), 8);
        quota.record(&accepted(3));
        let (day, mine) = quota.take_unsynced();
        assert_eq!(mine, 3);
        // The store adds this node's 3 to the 6 the others sent.
        quota.settle(day, 9);
        assert_eq!(quota.view().used, 9);
        assert_eq!(quota.exhausted(), None);
        quota.record(&accepted(1));
        assert!(quota.exhausted().is_some(), "9 elsewhere and 1 here use up 10");
        let (day, mine) = quota.take_unsynced();
        quota.restore_unsynced(day, mine);
        assert_eq!(
            quota.take_unsynced(),
            (day, 1),
            "a failed write gives the count back"
        );
    }
}

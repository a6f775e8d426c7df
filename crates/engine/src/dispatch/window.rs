//! The dispatch window: the most targets this node has with the vendors and not yet recorded,
//! over all workers. It bounds what a crash can send twice. A unit enters with one place per
//! target before it is sent and leaves once its outcomes are stored.
//!
//! How the window is shared is decided here alone: each certificate may hold at most
//! [`SHARE`] of it (its in-flight limit), so a vendor that hangs leaves the rest to the
//! others, and a unit waits for its certificate's share only so long before its jobs go back
//! to the queue for a moment instead of holding up the claim they came in.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The part of the window one certificate may hold (numerator, denominator): three units of
/// a quarter of the window each, so one vendor alone still keeps three requests going side by
/// side and the last quarter is always left to the others.
pub const SHARE: (usize, usize) = (3, 4);

/// Each certificate's share, by app and certificate id.
type Shares = Mutex<HashMap<(String, i64), Arc<Semaphore>>>;

/// Places for targets with the vendors. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Window {
    places: Arc<Semaphore>,
    /// The configured size (the semaphore holds at least one place).
    size: usize,
    shares: Arc<Shares>,
}

/// A unit's places in the window and in its certificate's share, given back when dropped.
#[derive(Debug)]
pub struct Entered {
    _share: Option<OwnedSemaphorePermit>,
    _places: Option<OwnedSemaphorePermit>,
}

fn count(targets: usize) -> u32 {
    u32::try_from(targets).unwrap_or(u32::MAX)
}

impl Window {
    /// A window of `size` targets (at least one).
    pub fn new(size: usize) -> Self {
        Self {
            places: Arc::new(Semaphore::new(size.max(1))),
            size,
            shares: Arc::default(),
        }
    }

    /// The most targets one certificate may have in the window.
    pub fn share(&self) -> usize {
        (self.size * SHARE.0 / SHARE.1).max(1)
    }

    fn share_of(&self, app: &str, certificate: i64) -> Arc<Semaphore> {
        let mut shares = match self.shares.lock() {
            Ok(shares) => shares,
            Err(poisoned) => poisoned.into_inner(),
        };
        shares
            .entry((app.to_string(), certificate))
            .or_insert_with(|| Arc::new(Semaphore::new(self.share())))
            .clone()
    }

    /// Waits up to `patience` for places in the share of `certificate` of `app`, then for
    /// places in the window, for `targets` targets (a unit is never larger than a share).
    /// `None` when the certificate's share stayed full: its jobs should wait in the queue.
    pub async fn enter(
        &self,
        app: &str,
        certificate: i64,
        targets: usize,
        patience: Duration,
    ) -> Option<Entered> {
        let share = self.share_of(app, certificate);
        let wanted = count(targets.min(self.share()));
        let share = match tokio::time::timeout(patience, share.acquire_many_owned(wanted)).await {
            Ok(permit) => permit.ok(),
            Err(_) => return None,
        };
        // The semaphores are never closed; should one be, the unit goes out unbounded.
        let places = self.places.clone().acquire_many_owned(count(targets)).await.ok();
        Some(Entered {
            _share: share,
            _places: places,
        })
    }

    /// Whether at most half the window is in use: nobody waits for places, so an outcome may
    /// wait a moment to share its write. A fuller window (a fan-out) sends its next unit as
    /// soon as this one is stored.
    pub fn has_room(&self) -> bool {
        self.places.available_permits() * 2 >= self.size
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAIT: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn places_are_held_until_the_unit_leaves() {
        let window = Window::new(8);
        assert!(window.has_room());
        let first = window.enter("a", 1, 2, WAIT).await.expect("entered");
        assert!(window.has_room(), "a quarter used");
        let second = window.enter("a", 2, 4, WAIT).await.expect("entered");
        assert!(!window.has_room(), "six of eight used");
        let waiting = tokio::time::timeout(Duration::from_millis(20), window.enter("a", 3, 4, WAIT)).await;
        assert!(waiting.is_err(), "only two places are left");
        drop(first);
        drop(second);
        assert!(window.has_room());
        let _all = window.enter("a", 1, 6, WAIT).await.expect("entered");
    }

    #[tokio::test]
    async fn a_certificate_holds_its_share_at_most_and_the_rest_stays_for_the_others() {
        let window = Window::new(8);
        assert_eq!(window.share(), 6);
        let hung = window.enter("a", 1, 6, WAIT).await.expect("entered");
        // The same certificate waits for its share only so long.
        let more = window.enter("a", 1, 1, Duration::from_millis(20)).await;
        assert!(more.is_none(), "the share is full");
        // Another certificate (or the same id in another app) still gets the rest at once.
        let other = tokio::time::timeout(Duration::from_millis(20), window.enter("a", 2, 2, WAIT)).await;
        assert!(other.is_ok_and(|entered| entered.is_some()));
        drop(hung);
        assert!(window.enter("a", 1, 1, Duration::from_millis(20)).await.is_some());
    }
}

//! The dispatch window: the most targets this node has with the vendors and not yet recorded,
//! over all workers. It bounds what a crash can send twice. A unit enters with one place per
//! target before it is sent and leaves once its outcomes are stored.
//!
//! How the window is shared (today: first come, over all certificates) is decided here alone.

use std::sync::Arc;
use tokio::sync::{Semaphore, SemaphorePermit};

/// Places for targets with the vendors. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Window {
    places: Arc<Semaphore>,
    /// The configured size (the semaphore holds at least one place).
    size: usize,
}

/// A unit's places in the window, given back when dropped.
#[derive(Debug)]
pub struct Entered<'a> {
    _places: Option<SemaphorePermit<'a>>,
}

impl Window {
    /// A window of `size` targets (at least one).
    pub fn new(size: usize) -> Self {
        Self {
            places: Arc::new(Semaphore::new(size.max(1))),
            size,
        }
    }

    /// Waits for places for `targets` targets (a unit is never larger than the window).
    pub async fn enter(&self, targets: usize) -> Entered<'_> {
        let places = self
            .places
            .acquire_many(u32::try_from(targets).unwrap_or(u32::MAX))
            .await
            // The semaphore is never closed; should it be, the unit goes out unbounded.
            .ok();
        Entered { _places: places }
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

    #[tokio::test]
    async fn places_are_held_until_the_unit_leaves() {
        let window = Window::new(4);
        assert!(window.has_room());
        let first = window.enter(2).await;
        assert!(window.has_room(), "half used");
        let second = window.enter(1).await;
        assert!(!window.has_room(), "three of four used");
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(20), window.enter(2)).await;
        assert!(waiting.is_err(), "only one place is left");
        drop(first);
        drop(second);
        assert!(window.has_room());
        let _all = window.enter(4).await;
    }
}

//! A small per-app cache whose entries are used for a fixed time, then read again: what a node
//! keeps of rarely changing rows (app secrets, certificates) so that each request does not read
//! them. A change made through this node calls [`TtlCache::forget`]; other nodes of a cluster
//! see it when their entry runs out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Values by key, each fresh for `ttl` after it was put. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct TtlCache<V> {
    ttl: Duration,
    entries: Arc<Mutex<HashMap<String, (V, Instant)>>>,
}

impl<V: Clone> TtlCache<V> {
    /// An empty cache whose entries are fresh for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Arc::default(),
        }
    }

    /// The value under `key`, if put less than `ttl` ago.
    pub fn get(&self, key: &str) -> Option<V> {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .filter(|(_, put)| put.elapsed() < self.ttl)
            .map(|(value, _)| value.clone())
    }

    /// Keeps `value` under `key` from now.
    pub fn put(&self, key: &str, value: V) {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.to_string(), (value, Instant::now()));
    }

    /// Drops the value under `key` (it changed).
    pub fn forget(&self, key: &str) {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_used_until_they_run_out_or_are_forgotten() {
        let cache = TtlCache::new(Duration::from_millis(50));
        assert_eq!(cache.get("a"), None);
        cache.put("a", 1);
        assert_eq!(cache.get("a"), Some(1));
        cache.forget("a");
        assert_eq!(cache.get("a"), None);
        cache.put("a", 2);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(cache.get("a"), None, "stale after the ttl");
    }
}

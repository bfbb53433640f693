//! A read-through cache of CouchDB documents with a time-to-live and one load per key at a
//! time: concurrent misses for the same key wait for the first one's read.
//!
//! The time-to-live (`CONFIG_CACHE_TTL`) bounds how stale a document written elsewhere (by
//! Kazoo, another instance, an operator) can be; writes made through this service evict
//! their keys at once. A TTL of zero turns caching off.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

use crate::metrics::CacheCounters;

/// Entries kept before expired ones are swept (and, failing that, all are dropped).
const MAX_ENTRIES: usize = 50_000;

type Slot<V> = (Instant, Arc<OnceCell<V>>);

/// Cached values of one kind, by key.
pub struct DocCache<V> {
    ttl: Duration,
    slots: Mutex<HashMap<String, Slot<V>>>,
    counters: CacheCounters,
}

impl<V: Clone> DocCache<V> {
    /// A cache whose entries live for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        DocCache {
            ttl,
            slots: Mutex::new(HashMap::new()),
            counters: CacheCounters::default(),
        }
    }

    /// Counts this cache's hits and misses in `counters`.
    pub fn counted(mut self, counters: CacheCounters) -> Self {
        self.counters = counters;
        self
    }

    /// The cached value of `key`, or what `load` reads, shared with concurrent callers.
    /// A failed load is not cached: the next caller tries again.
    pub async fn get_or_load<E, F>(&self, key: &str, load: impl FnOnce() -> F) -> Result<V, E>
    where
        F: Future<Output = Result<V, E>>,
    {
        if self.ttl.is_zero() {
            self.counters.miss();
            return load().await;
        }
        let cell = {
            let mut slots = self.slots.lock().expect("cache lock");
            match slots.get(key) {
                Some((at, cell)) if at.elapsed() < self.ttl => cell.clone(),
                _ => {
                    if slots.len() >= MAX_ENTRIES {
                        let ttl = self.ttl;
                        slots.retain(|_, (at, _)| at.elapsed() < ttl);
                        if slots.len() >= MAX_ENTRIES {
                            slots.clear();
                        }
                    }
                    let cell = Arc::new(OnceCell::new());
                    slots.insert(key.to_string(), (Instant::now(), cell.clone()));
                    cell
                }
            }
        };
        // A hit is a read that `load` did not have to answer, whether the value was there
        // already or another caller's load provided it.
        let mut loaded = false;
        let value = cell
            .get_or_try_init(|| {
                loaded = true;
                load()
            })
            .await
            .cloned();
        if loaded {
            self.counters.miss();
        } else {
            self.counters.hit();
        }
        value
    }

    /// Forgets every key that contains `part` (a key naming an account's whole lineage
    /// contains each ancestor's id).
    pub fn evict_containing(&self, part: &str) {
        self.slots
            .lock()
            .expect("cache lock")
            .retain(|key, _| !key.contains(part));
    }

    /// Forgets `key`, so that the next read goes to CouchDB.
    pub fn evict(&self, key: &str) {
        self.slots.lock().expect("cache lock").remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn concurrent_misses_load_once() {
        let cache = Arc::new(DocCache::<u32>::new(Duration::from_secs(60)));
        let loads = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let (cache, loads) = (cache.clone(), loads.clone());
                tokio::spawn(async move {
                    cache
                        .get_or_load("k", || async {
                            loads.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            Ok::<_, ()>(7)
                        })
                        .await
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap(), Ok(7));
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn eviction_and_a_zero_ttl_read_again() {
        let cache = DocCache::<u32>::new(Duration::from_secs(60));
        assert_eq!(
            cache.get_or_load("k", || async { Ok::<_, ()>(1) }).await,
            Ok(1)
        );
        assert_eq!(
            cache.get_or_load("k", || async { Ok::<_, ()>(2) }).await,
            Ok(1)
        );
        cache.evict("k");
        assert_eq!(
            cache.get_or_load("k", || async { Ok::<_, ()>(3) }).await,
            Ok(3)
        );

        let off = DocCache::<u32>::new(Duration::ZERO);
        assert_eq!(
            off.get_or_load("k", || async { Ok::<_, ()>(1) }).await,
            Ok(1)
        );
        assert_eq!(
            off.get_or_load("k", || async { Ok::<_, ()>(2) }).await,
            Ok(2)
        );
    }

    #[tokio::test]
    async fn a_lineage_is_forgotten_with_any_of_its_accounts() {
        let cache = DocCache::<u32>::new(Duration::from_secs(60));
        for key in ["m,r,a", "m,x"] {
            cache
                .get_or_load(key, || async { Ok::<_, ()>(1) })
                .await
                .unwrap();
        }
        cache.evict_containing("r");
        assert_eq!(
            cache
                .get_or_load("m,r,a", || async { Ok::<_, ()>(2) })
                .await,
            Ok(2)
        );
        assert_eq!(
            cache.get_or_load("m,x", || async { Ok::<_, ()>(2) }).await,
            Ok(1)
        );
    }

    #[tokio::test]
    async fn failed_loads_are_not_cached() {
        let cache = DocCache::<u32>::new(Duration::from_secs(60));
        assert_eq!(
            cache
                .get_or_load("k", || async { Err::<u32, _>("down") })
                .await,
            Err("down")
        );
        assert_eq!(
            cache.get_or_load("k", || async { Ok::<_, &str>(5) }).await,
            Ok(5)
        );
    }
}

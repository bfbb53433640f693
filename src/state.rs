//! What every request shares: the store, the clock, the node id, the settings, the keys.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use crate::auth::keys::KeyRing;
use crate::auth::rate_limit::RateLimiter;
use crate::auth::tokens::Claims;
pub use crate::metrics::Metrics;
use crate::settings::Settings;
use crate::store::cache::DocCache;
use crate::store::{Couch, Store, StoreError};

/// The shared state of one running service.
pub struct AppState {
    pub store: Store,
    pub clock: Clock,
    /// Identifies this instance in envelopes and attempt documents; stable per process.
    pub node: String,
    pub settings: Settings,
    pub keys: KeyRing,
    pub metrics: Metrics,
    pub rate_limiter: RateLimiter,
    pub config_writes: WriteLocks,
    /// Claims of tokens whose signature has been checked, by the token's SHA-256.
    pub verified_tokens: DocCache<Claims>,
}

impl AppState {
    /// Builds the state for `settings`, reading time from `clock`.
    pub fn new(settings: Settings, clock: Clock) -> Result<Arc<Self>, StoreError> {
        let couch = Couch::new(&settings.couchdb_url, settings.couchdb_timeout)?;
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into());
        let node = format!(
            "kazoo_security@{host}-{}",
            &crate::domain::ids::new_raw_id()[..8]
        );
        let metrics = Metrics::default();
        Ok(Arc::new(AppState {
            store: Store::new(couch, settings.cache_ttl, &metrics),
            keys: KeyRing::new(settings.cache_ttl),
            config_writes: WriteLocks::default(),
            verified_tokens: DocCache::new(settings.cache_ttl)
                .counted(metrics.cache("verified_tokens")),
            metrics,
            rate_limiter: RateLimiter::new(
                settings.rate_limit_bucket,
                settings.rate_limit_refill_per_s,
            ),
            clock,
            node,
            settings,
        }))
    }
}

/// The service's only source of time, so tests can stop and move it.
#[derive(Clone)]
pub struct Clock(Arc<AtomicI64>);

const SYSTEM_TIME: i64 = i64::MIN;

impl Clock {
    /// Follows the system clock.
    pub fn system() -> Self {
        Clock(Arc::new(AtomicI64::new(SYSTEM_TIME)))
    }

    /// Stands still at `unix` until set or advanced.
    pub fn fixed(unix: i64) -> Self {
        Clock(Arc::new(AtomicI64::new(unix)))
    }

    /// Moves a fixed clock to `unix`.
    pub fn set(&self, unix: i64) {
        self.0.store(unix, Ordering::SeqCst);
    }

    /// Moves a fixed clock by `seconds`.
    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }

    /// Unix seconds now.
    pub fn now(&self) -> i64 {
        match self.0.load(Ordering::SeqCst) {
            SYSTEM_TIME => chrono::Utc::now().timestamp(),
            fixed => fixed,
        }
    }
}

/// Serialises this instance's writes to one account's config, so that concurrent requests
/// here queue instead of racing CouchDB; writers elsewhere are still handled by retrying
/// on conflict. Striped, so memory stays fixed whatever the number of accounts.
pub struct WriteLocks(Vec<tokio::sync::Mutex<()>>);

impl Default for WriteLocks {
    fn default() -> Self {
        WriteLocks((0..64).map(|_| tokio::sync::Mutex::new(())).collect())
    }
}

impl WriteLocks {
    /// Waits for the lock of `key`.
    pub async fn lock(&self, key: &str) -> tokio::sync::MutexGuard<'_, ()> {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(key);
        self.0[(hash % self.0.len() as u64) as usize].lock().await
    }
}

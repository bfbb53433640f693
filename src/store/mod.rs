//! The CouchDB adapter: every read and write of the service goes through here.
//!
//! `couch` speaks HTTP to CouchDB; `designs` holds the design documents of `views/`; `cache`
//! keeps what every request reads; `documents` stamps the private fields of API saves;
//! `accounts`, `configs`, `providers`, `attempts` and `keys` turn Kazoo's documents into the
//! plain data the domain uses; `provisioning` writes the accounts, users, credentials and
//! API keys of the operator commands, shaped by `kazoo_documents`.
//! Nothing here knows the service's HTTP status codes.

pub mod accounts;
pub mod attempts;
pub mod cache;
pub mod configs;
pub mod couch;
pub mod designs;
pub mod documents;
pub mod kazoo_documents;
pub mod keys;
pub mod providers;
pub mod provisioning;

pub use couch::{Couch, ViewQuery, ViewRow};

use crate::metrics::Metrics;

/// What can go wrong talking to CouchDB.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// CouchDB could not be reached, timed out, or failed on its side.
    #[error("datastore unavailable: {0}")]
    Unavailable(String),
    /// A write carried a revision that is no longer current.
    #[error("document update conflict")]
    Conflict,
    /// A write went to a database that does not exist.
    #[error("database does not exist")]
    MissingDatabase,
    /// A view's design document is missing (installed on demand, never seen by callers).
    #[error("design document missing")]
    MissingDesign,
    /// CouchDB answered something this service does not expect.
    #[error("unexpected datastore answer: {0}")]
    Unexpected(String),
}

/// Whether a document is soft-deleted, which the service treats exactly like missing.
pub fn is_soft_deleted(doc: &serde_json::Value) -> bool {
    doc.get("pvt_deleted").and_then(|v| v.as_bool()) == Some(true)
}

/// Drops soft-deleted documents, so that callers only ever see live ones.
pub fn live(doc: Option<serde_json::Value>) -> Option<serde_json::Value> {
    doc.filter(|d| !is_soft_deleted(d))
}

/// The service's view of CouchDB: one pooled client, typed reads of Kazoo's documents, and
/// the cache in front of the reads every request makes.
#[derive(Clone)]
pub struct Store {
    /// The raw client, for the few callers that need plain documents.
    pub couch: Couch,
    cached: std::sync::Arc<Cached>,
}

/// Documents read on every request, cached for `CONFIG_CACHE_TTL`.
struct Cached {
    /// Account-database copies of account documents, by account id.
    accounts: cache::DocCache<Option<serde_json::Value>>,
    /// `services` documents, by account id.
    services: cache::DocCache<Option<serde_json::Value>>,
    /// Security config documents, by account id.
    configs: cache::DocCache<Option<serde_json::Value>>,
    /// User documents, by `account/user`.
    users: cache::DocCache<Option<serde_json::Value>>,
    /// `default` sections of `system_config` documents, by id.
    system: cache::DocCache<serde_json::Value>,
    /// Reseller flags of a lineage (account ids joined by commas), read in one request.
    lineages: cache::DocCache<Vec<bool>>,
    /// Account ids found by a `listing_by_*` view, by view and key.
    lookups: cache::DocCache<Vec<String>>,
    /// Whether a database exists, by name.
    databases: cache::DocCache<bool>,
    /// Effective configs, by the account's lineage (ancestor ids and its own, joined).
    effective: cache::DocCache<configs::EffectiveConfig>,
}

impl Store {
    /// Wraps a client; cached documents live for `ttl` (zero: no caching). CouchDB requests
    /// and cache reads are counted in `metrics`.
    pub fn new(couch: Couch, ttl: std::time::Duration, metrics: &Metrics) -> Self {
        let cached = Cached {
            accounts: cache::DocCache::new(ttl).counted(metrics.cache("accounts")),
            services: cache::DocCache::new(ttl).counted(metrics.cache("services")),
            configs: cache::DocCache::new(ttl).counted(metrics.cache("configs")),
            users: cache::DocCache::new(ttl).counted(metrics.cache("users")),
            system: cache::DocCache::new(ttl).counted(metrics.cache("system_configs")),
            lineages: cache::DocCache::new(ttl).counted(metrics.cache("lineages")),
            lookups: cache::DocCache::new(ttl).counted(metrics.cache("lookups")),
            databases: cache::DocCache::new(ttl).counted(metrics.cache("databases")),
            effective: cache::DocCache::new(ttl).counted(metrics.cache("effective_configs")),
        };
        Store {
            couch: couch.observed(metrics.couchdb()),
            cached: std::sync::Arc::new(cached),
        }
    }

    /// A live document, through `cache`.
    async fn cached_doc(
        &self,
        cache: &cache::DocCache<Option<serde_json::Value>>,
        key: &str,
        db: &str,
        id: &str,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        cache
            .get_or_load(key, || async { Ok(live(self.couch.get(db, id).await?)) })
            .await
    }

    /// Forgets the cached security config of an account after this service changed it; its
    /// descendants see the change at once, as they read the same entry.
    pub fn evict_config(&self, account: &str) {
        self.cached.configs.evict(account);
        self.cached.effective.evict_containing(account);
    }

    /// Whether a database exists, through the cache (databases are never deleted here; one
    /// created elsewhere is seen within the TTL, one created here at once).
    pub async fn db_exists(&self, db: &str) -> Result<bool, StoreError> {
        self.cached
            .databases
            .get_or_load(db, || self.couch.db_exists(db))
            .await
    }

    /// Records that this service created a database.
    pub fn evict_database(&self, db: &str) {
        self.cached.databases.evict(db);
    }

    /// Forgets a cached account or user document after this service changed it.
    pub fn evict_identity(&self, account: &str, user: Option<&str>) {
        match user {
            Some(user) => self.cached.users.evict(&format!("{account}/{user}")),
            None => self.cached.accounts.evict(account),
        }
    }
}

/// Kazoo's `pvt_document_hash`: the MD5, in lowercase hex, of the compact JSON
/// `{"public": {…public fields in order…, "id": <_id>}}`.
pub fn document_hash(public: &serde_json::Map<String, serde_json::Value>, id: &str) -> String {
    use md5::Digest;
    let mut fields = public.clone();
    fields.insert("id".into(), serde_json::Value::from(id));
    let text = serde_json::json!({ "public": fields }).to_string();
    hex::encode(md5::Md5::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_seeded_duo_provider_hash_matches_kazoos() {
        let public = json!({"enabled": false, "name": "System Default Provider",
            "provider_name": "duo", "settings": {}});
        let hash = document_hash(public.as_object().unwrap(), "duo");
        assert_eq!(hash, "0f968cb518a39f985dc0802db49613dc");
    }

    #[test]
    fn the_fixture_attempt_hash_matches_storage_md() {
        let public = json!({"auth_type": "jwt_auth_token", "status": "success",
            "auth_module": "cb_user_auth",
            "message": "authentication resulted in token creation",
            "client_headers": {"user-agent": "fixture-client/1.0"}, "client_ip": "192.0.2.44",
            "crossbar_request_id": "fb85e92ebc95fabeaf28a9008289e8f0", "timestamp": 63877213205i64,
            "metadata": {"owner_id": "65a3d47bd2ec575e4f0adc8564121fc7",
                         "account_id": "3618236ec296a99f5240f72db1839110"}});
        let id = "202403-1bb1d71421cb86f5fb4140c0f771ce85";
        assert_eq!(
            document_hash(public.as_object().unwrap(), id),
            "3164184ea6035603818b727ac503b250"
        );
    }
}

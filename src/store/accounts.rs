//! Accounts, users, reseller status and the lookups that find an account from a login.

use serde_json::{Value, json};

use super::designs::{ACCOUNT_USERS, ACCOUNTS};
use super::{Store, StoreError, ViewQuery, live};
use crate::domain::ids::{AccountId, is_raw_id};

/// The fields of an account document the service acts on (the account-database copy).
#[derive(Debug, Clone)]
pub struct Account {
    pub id: AccountId,
    /// Ancestors, root first, parent last.
    pub tree: Vec<String>,
    pub name: String,
    pub is_superduper: bool,
    /// Both `enabled` and `pvt_enabled` are `true` or absent.
    pub enabled: bool,
    /// Gregorian seconds at which a trial ends, if the account is on trial.
    pub trial_expires: Option<i64>,
    pub signature_secret: Option<String>,
}

/// An account document's ancestors, master first, as Kazoo lists them in `pvt_tree`.
pub fn pvt_tree(doc: &Value) -> Vec<String> {
    doc["pvt_tree"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

impl Account {
    fn from_doc(id: AccountId, doc: &Value) -> Self {
        let tree = pvt_tree(doc);
        let flag = |key: &str| {
            doc.get(key)
                .map(|v| v == &Value::Bool(true))
                .unwrap_or(true)
        };
        Account {
            id,
            tree,
            name: doc["name"].as_str().unwrap_or_default().to_string(),
            is_superduper: doc["pvt_superduper_admin"] == Value::Bool(true),
            enabled: flag("enabled") && flag("pvt_enabled"),
            trial_expires: doc["pvt_trial_expires"].as_i64(),
            signature_secret: doc["pvt_signature_secret"].as_str().map(str::to_string),
        }
    }
}

/// A user found by its credentials.
#[derive(Debug, Clone)]
pub struct CredentialMatch {
    pub owner_id: String,
    pub account_id: String,
}

impl Store {
    /// The account-database copy of an account, if it exists and is not soft-deleted.
    pub async fn account(&self, id: &AccountId) -> Result<Option<Account>, StoreError> {
        let cache = &self.cached.accounts;
        let doc = self
            .cached_doc(cache, id.as_str(), &id.db(), id.as_str())
            .await?;
        Ok(doc.map(|doc| Account::from_doc(id.clone(), &doc)))
    }

    /// The `accounts`-database copy, if live.
    pub async fn accounts_copy(&self, id: &AccountId) -> Result<Option<Value>, StoreError> {
        Ok(live(self.couch.get("accounts", id.as_str()).await?))
    }

    /// Whether each of `ids` is a reseller, by its live `services` document.
    pub async fn reseller_flags(&self, ids: &[String]) -> Result<Vec<bool>, StoreError> {
        let load = || async {
            let docs = self.couch.get_many("services", ids).await?;
            Ok(docs
                .into_iter()
                .map(|doc| live(doc).is_some_and(|d| d["pvt_reseller"] == Value::Bool(true)))
                .collect())
        };
        self.cached.lineages.get_or_load(&ids.join(","), load).await
    }

    async fn services_doc(&self, id: &str) -> Result<Option<Value>, StoreError> {
        self.cached_doc(&self.cached.services, id, "services", id)
            .await
    }

    /// The stored `pvt_reseller_id` of an account's services document, if any.
    pub async fn stored_reseller_id(&self, id: &AccountId) -> Result<Option<String>, StoreError> {
        let doc = self.services_doc(id.as_str()).await?;
        Ok(doc.and_then(|d| d["pvt_reseller_id"].as_str().map(str::to_string)))
    }

    /// The master account: `system_config/accounts`, else the oldest account.
    pub async fn master_account_id(&self) -> Result<Option<String>, StoreError> {
        let config = live(self.couch.get("system_config", "accounts").await?);
        let configured = config
            .as_ref()
            .and_then(|c| c["default"]["master_account_id"].as_str())
            .filter(|id| is_raw_id(id));
        if let Some(id) = configured {
            return Ok(Some(id.to_string()));
        }
        let query = ViewQuery {
            include_docs: true,
            ..Default::default()
        };
        let rows = self
            .couch
            .view("accounts", &ACCOUNTS, "listing_by_id", &query)
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let created = row.doc.as_ref()?["pvt_created"].as_i64()?;
                Some((created, row.id))
            })
            .min()
            .map(|(_, id)| id))
    }

    /// A live user document of an account, read fresh (for updates).
    pub async fn user(
        &self,
        account: &AccountId,
        user_id: &str,
    ) -> Result<Option<Value>, StoreError> {
        self.user_doc(account, user_id, false).await
    }

    /// A live user document, through the cache: for checking tokens, not for updates.
    pub async fn user_cached(
        &self,
        account: &AccountId,
        user_id: &str,
    ) -> Result<Option<Value>, StoreError> {
        self.user_doc(account, user_id, true).await
    }

    async fn user_doc(
        &self,
        account: &AccountId,
        user_id: &str,
        cached: bool,
    ) -> Result<Option<Value>, StoreError> {
        if !is_raw_id(user_id) {
            return Ok(None);
        }
        let doc = if cached {
            let key = format!("{account}/{user_id}");
            self.cached_doc(&self.cached.users, &key, &account.db(), user_id)
                .await?
        } else {
            live(self.couch.get(&account.db(), user_id).await?)
        };
        Ok(doc.filter(|d| d["pvt_type"] == "user"))
    }

    /// Account ids whose `listing_by_*` view has `key`, in view order.
    /// Cached within the TTL: a renamed or new account is found by its new name that late.
    pub async fn accounts_by(&self, view: &str, key: &str) -> Result<Vec<String>, StoreError> {
        let load = || async {
            let query = ViewQuery {
                key: Some(json!(key)),
                ..Default::default()
            };
            let rows = self.couch.view("accounts", &ACCOUNTS, view, &query).await?;
            Ok(rows
                .into_iter()
                .filter_map(|row| row.value["account_id"].as_str().map(str::to_string))
                .filter(|id| is_raw_id(id))
                .collect())
        };
        self.cached
            .lookups
            .get_or_load(&format!("{view}/{key}"), load)
            .await
    }

    /// The first `(account_id, owner_id)` registered for a client IP.
    pub async fn account_by_ip(
        &self,
        ip: &str,
    ) -> Result<Option<(String, Option<String>)>, StoreError> {
        let query = ViewQuery {
            key: Some(json!(ip)),
            ..Default::default()
        };
        let rows = self
            .couch
            .view("accounts", &ACCOUNTS, "listing_by_ip", &query)
            .await?;
        Ok(rows.into_iter().find_map(|row| {
            let account = row.value["account_id"]
                .as_str()
                .filter(|id| is_raw_id(id))?;
            let owner = row.value["owner_id"].as_str().filter(|id| is_raw_id(id));
            Some((account.to_string(), owner.map(str::to_string)))
        }))
    }

    /// The user of `account` whose md5 (or sha1) credentials hash is exactly `credentials`.
    pub async fn user_by_credentials(
        &self,
        account: &AccountId,
        credentials: &str,
        sha: bool,
    ) -> Result<Option<CredentialMatch>, StoreError> {
        let view = if sha { "creds_by_sha" } else { "creds_by_md5" };
        let query = ViewQuery {
            key: Some(json!(credentials)),
            ..Default::default()
        };
        let rows = self
            .couch
            .view(&account.db(), &ACCOUNT_USERS, view, &query)
            .await?;
        Ok(rows.into_iter().find_map(|row| {
            let owner_id = row.value["owner_id"].as_str()?.to_string();
            let account_id = row.value["account_id"].as_str()?.to_string();
            (account_id == account.as_str()).then_some(CredentialMatch {
                owner_id,
                account_id,
            })
        }))
    }

    /// The account a phone number (E.164) is assigned to, when the number is in service.
    pub async fn account_by_number(&self, e164: &str) -> Result<Option<String>, StoreError> {
        let prefix: String = e164.chars().take(5).collect();
        let doc = live(self.couch.get(&format!("numbers/{prefix}"), e164).await?);
        let usable = ["in_service", "port_in", "port_out", "reserved"];
        Ok(doc.and_then(|d| {
            let state = d["pvt_state"].as_str()?;
            let account = d["pvt_assigned_to"].as_str().filter(|id| is_raw_id(id))?;
            usable.contains(&state).then(|| account.to_string())
        }))
    }
}

impl Store {
    /// The `pvt_signature_secret` of a user or account document, creating a random one as a
    /// single-field update when it is missing (re-read and retried on conflict, so a secret
    /// another writer set meanwhile wins).
    pub async fn ensure_signature_secret(
        &self,
        account: &AccountId,
        user: Option<&str>,
    ) -> Result<String, StoreError> {
        let db = &account.db();
        let id = user.unwrap_or(account.as_str());
        for _ in 0..5 {
            let Some(mut doc) = live(self.couch.get(db, id).await?) else {
                return Err(StoreError::Unexpected(format!(
                    "{id} vanished while signing"
                )));
            };
            if let Some(secret) = doc["pvt_signature_secret"]
                .as_str()
                .filter(|s| !s.is_empty())
            {
                return Ok(secret.to_string());
            }
            let secret = crate::domain::ids::new_raw_id();
            doc["pvt_signature_secret"] = json!(secret);
            match self.couch.put(db, &doc).await {
                Ok(_) => {
                    self.evict_identity(account.as_str(), user);
                    return Ok(secret);
                }
                Err(StoreError::Conflict) => continue,
                Err(error) => return Err(error),
            }
        }
        Err(StoreError::Conflict)
    }
}

//! What the operator commands write: new accounts (the account database with its design
//! documents, both copies of the account document, the `services` document), new users,
//! and updates of credentials and API keys, re-read and retried on conflict.

use serde_json::{Value, json};

use super::designs::{ACCOUNT_AUTH, ACCOUNT_USERS, ACCOUNTS};
use super::kazoo_documents::{
    NewAccount, account_document, services_document, system_config_document,
};
use super::{Store, StoreError, ViewQuery, live};
use crate::domain::ids::{AccountId, new_raw_id};

/// How often an update is re-read and re-applied after a conflict before giving up.
const UPDATE_ATTEMPTS: usize = 5;

/// One row of the account listing.
#[derive(Debug, Clone)]
pub struct AccountListing {
    pub id: String,
    pub name: Option<String>,
    pub realm: Option<String>,
    pub parent: Option<String>,
    pub reseller: bool,
    /// The view key, to continue the listing after this row.
    pub key: Value,
}

impl Store {
    /// The live account-database copy of an account, as stored.
    pub async fn account_document(&self, id: &AccountId) -> Result<Option<Value>, StoreError> {
        Ok(live(self.couch.get(&id.db(), id.as_str()).await?))
    }

    /// Whether any account exists (its `accounts` copy, through `listing_by_id`).
    pub async fn any_account_exists(&self) -> Result<bool, StoreError> {
        Ok(!self.list_accounts(None, 1).await?.is_empty())
    }

    /// Up to `limit` accounts in id order, after the row whose key is `after`.
    pub async fn list_accounts(
        &self,
        after: Option<&Value>,
        limit: usize,
    ) -> Result<Vec<AccountListing>, StoreError> {
        let query = ViewQuery {
            start_key: after.cloned(),
            skip: after.map(|_| 1),
            limit: Some(limit),
            ..Default::default()
        };
        let rows = self
            .couch
            .view("accounts", &ACCOUNTS, "listing_by_id", &query)
            .await?;
        let text = |v: &Value| v.as_str().map(str::to_string);
        let ids: Vec<String> = rows
            .iter()
            .map(|row| text(&row.key[0]).unwrap_or_else(|| row.id.clone()))
            .collect();
        let flags = self.reseller_flags(&ids).await?;
        Ok(rows
            .into_iter()
            .zip(ids)
            .zip(flags)
            .map(|((row, id), reseller)| {
                let path = row.key[1].as_array().cloned().unwrap_or_default();
                let parent = path.len().checked_sub(2).and_then(|i| text(&path[i]));
                AccountListing {
                    id,
                    name: text(&row.value["name"]),
                    realm: text(&row.value["realm"]),
                    parent,
                    reseller,
                    key: row.key,
                }
            })
            .collect())
    }

    /// Creates the account's database with its design documents, then the account document
    /// in it and in `accounts`, then its `services` document. Nothing existing is
    /// overwritten: a document already there is `StoreError::Conflict`.
    pub async fn create_account(&self, new: &NewAccount<'_>) -> Result<(), StoreError> {
        let db = new.id.db();
        if !self.couch.create_db(&db).await? {
            return Err(StoreError::Conflict);
        }
        self.evict_database(&db);
        self.couch.install_design(&db, &ACCOUNT_USERS).await?;
        self.couch.install_design(&db, &ACCOUNT_AUTH).await?;

        let doc = account_document(new);
        self.couch.put(&db, &doc).await?;
        self.couch.put("accounts", &doc).await?;
        self.couch.put("services", &services_document(new)).await?;
        Ok(())
    }

    /// Records `id` as the master account when none is configured yet.
    pub async fn ensure_master_account(
        &self,
        id: &AccountId,
        now_gregorian: i64,
    ) -> Result<(), StoreError> {
        for _ in 0..UPDATE_ATTEMPTS {
            let existing = live(self.couch.get("system_config", "accounts").await?);
            let mut doc = existing.unwrap_or_else(|| {
                system_config_document("accounts", "kazoo_security@cli", now_gregorian)
            });
            if doc["default"]["master_account_id"].is_string() {
                return Ok(());
            }
            if !doc["default"].is_object() {
                doc["default"] = json!({});
            }
            doc["default"]["master_account_id"] = json!(id.as_str());
            doc["pvt_modified"] = json!(now_gregorian);
            match self.couch.put("system_config", &doc).await {
                Err(StoreError::Conflict) => continue,
                other => return other.map(|_| ()),
            }
        }
        Err(StoreError::Conflict)
    }

    /// The live user of `account` whose stored username is `username`. Kazoo's username
    /// view is not among the service's design documents, so the database is read in pages.
    pub async fn user_by_username(
        &self,
        account: &AccountId,
        username: &str,
    ) -> Result<Option<Value>, StoreError> {
        const PAGE: usize = 500;
        let db = account.db();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .couch
                .all_docs_page(&db, after.as_deref(), PAGE)
                .await?;
            let found = page.iter().find(|doc| {
                doc["pvt_type"] == "user" && doc["username"] == username && live_doc(doc)
            });
            if let Some(user) = found {
                return Ok(Some(user.clone()));
            }
            if page.len() < PAGE {
                return Ok(None);
            }
            after = page
                .last()
                .and_then(|d| d["_id"].as_str())
                .map(str::to_string);
        }
    }

    /// Stores a new user document; an existing id is `StoreError::Conflict`.
    pub async fn create_user(&self, account: &AccountId, doc: &Value) -> Result<(), StoreError> {
        self.couch.put(&account.db(), doc).await.map(|_| ())
    }

    /// Applies `change` to the live document `db/id` and stores it with its revision; on a
    /// conflict re-reads and re-applies. `None` when the document is missing.
    pub async fn update_document(
        &self,
        db: &str,
        id: &str,
        change: impl Fn(&mut Value),
    ) -> Result<Option<Value>, StoreError> {
        for _ in 0..UPDATE_ATTEMPTS {
            let Some(mut doc) = live(self.couch.get(db, id).await?) else {
                return Ok(None);
            };
            change(&mut doc);
            match self.couch.put(db, &doc).await {
                Ok(rev) => {
                    doc["_rev"] = json!(rev);
                    return Ok(Some(doc));
                }
                Err(StoreError::Conflict) => continue,
                Err(error) => return Err(error),
            }
        }
        Err(StoreError::Conflict)
    }

    /// Gives the account a new API key in both copies, the account database first. Answers
    /// whether both copies existed.
    pub async fn set_api_key(
        &self,
        account: &AccountId,
        api_key: &str,
        now_gregorian: i64,
    ) -> Result<bool, StoreError> {
        let change = |doc: &mut Value| {
            doc["pvt_api_key"] = json!(api_key);
            doc["pvt_modified"] = json!(now_gregorian);
        };
        let own = self
            .update_document(&account.db(), account.as_str(), change)
            .await?;
        let listed = self
            .update_document("accounts", account.as_str(), change)
            .await?;
        self.evict_identity(account.as_str(), None);
        Ok(own.is_some() && listed.is_some())
    }

    /// Replaces a user's credentials hashes and, as Kazoo does on every rehash, its identity
    /// secret, which ends the tokens issued before. `None` when the user is missing.
    pub async fn set_credentials(
        &self,
        account: &AccountId,
        user_id: &str,
        (md5, sha1): (&str, &str),
        now_gregorian: i64,
    ) -> Result<Option<Value>, StoreError> {
        let secret = new_raw_id();
        let change = |doc: &mut Value| {
            doc["pvt_md5_auth"] = json!(md5);
            doc["pvt_sha1_auth"] = json!(sha1);
            doc["pvt_signature_secret"] = json!(secret);
            doc["pvt_modified"] = json!(now_gregorian);
        };
        let updated = self.update_document(&account.db(), user_id, change).await?;
        self.evict_identity(account.as_str(), Some(user_id));
        Ok(updated.filter(|doc| doc["pvt_type"] == "user"))
    }
}

fn live_doc(doc: &Value) -> bool {
    !super::is_soft_deleted(doc)
}

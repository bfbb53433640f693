//! Security config documents, system config and multi-factor providers, and the loading of
//! an account's effective config from them.

use futures::future::try_join_all;
use serde_json::Value;

use super::accounts::Account;
use super::documents::{WriteMeta, api_document};
use super::{Store, StoreError, live};
use crate::domain::ids::{AccountId, is_raw_id};
use crate::domain::merge::{builtin_defaults, config_ancestors, merge_layers, modules_layer};
use crate::domain::sources::ConfigSource;

/// The id of an account's security config document.
pub const CONFIG_DOC_ID: &str = "configs_crossbar.auth";

/// What an account's effective config is merged from.
#[derive(Debug, Clone)]
pub struct ConfigLayers {
    /// Merge layers 1 to 3 (`modules_layer` of each document), lowest first, with sources.
    pub inherited: Vec<(ConfigSource, Value)>,
    /// The account's own document (with `_rev` and private fields), if it has one.
    pub own: Option<Value>,
    /// Whether the account itself is a reseller.
    pub is_reseller: bool,
    /// The nearest reseller among the ancestors, if any.
    pub nearest_reseller: Option<String>,
    /// The `default` section of `system_config/crossbar.auth`.
    pub system: Value,
}

/// An account's config as the hierarchy makes it.
#[derive(Debug, Clone)]
pub struct EffectiveConfig {
    /// The account's own document (with `_rev` and private fields), if it has one.
    pub own: Option<Value>,
    /// What the account would have without its own document (merge layers 1 to 3).
    pub inherited: Value,
    /// The full merge, the account's own document on top.
    pub effective: Value,
    /// Whether the account itself is a reseller.
    pub is_reseller: bool,
    /// The nearest reseller among the ancestors, if any.
    pub nearest_reseller: Option<String>,
    /// The system `crossbar.auth` `token_auth_expiry_s` (3600 when unset).
    pub system_token_expiry: Option<i64>,
}

impl Store {
    /// The account's live security config document.
    pub async fn security_config(&self, account: &AccountId) -> Result<Option<Value>, StoreError> {
        Ok(live(self.couch.get(&account.db(), CONFIG_DOC_ID).await?))
    }

    /// The same through the cache, for merging.
    async fn security_config_cached(
        &self,
        account: &AccountId,
    ) -> Result<Option<Value>, StoreError> {
        let cache = &self.cached.configs;
        self.cached_doc(cache, account.as_str(), &account.db(), CONFIG_DOC_ID)
            .await
    }

    /// The `default` section of a `system_config` document (`{}` when absent).
    pub async fn system_config(&self, category: &str) -> Result<Value, StoreError> {
        let load = || async {
            let doc = live(self.couch.get("system_config", category).await?);
            Ok(doc
                .map(|mut d| d["default"].take())
                .filter(Value::is_object)
                .unwrap_or_else(|| Value::Object(Default::default())))
        };
        self.cached.system.get_or_load(category, load).await
    }

    /// A live multi-factor provider document of an account.
    pub async fn provider(
        &self,
        account_id: &str,
        configuration_id: &str,
    ) -> Result<Option<Value>, StoreError> {
        let Some(account) = AccountId::parse(account_id) else {
            return Ok(None);
        };
        if configuration_id.is_empty() || configuration_id.starts_with('_') {
            return Ok(None);
        }
        let doc = live(self.couch.get(&account.db(), configuration_id).await?);
        Ok(doc.filter(super::providers::is_mfa_provider))
    }

    /// The effective config of `account`, merged once per cache period.
    pub async fn effective_config(&self, account: &Account) -> Result<EffectiveConfig, StoreError> {
        let mut lineage = account.tree.join(",");
        lineage.push(',');
        lineage.push_str(account.id.as_str());
        let load = || self.merge_hierarchy(account);
        self.cached.effective.get_or_load(&lineage, load).await
    }

    /// Loads and merges the hierarchy of `account` in two rounds of parallel reads.
    async fn merge_hierarchy(&self, account: &Account) -> Result<EffectiveConfig, StoreError> {
        let ConfigLayers {
            inherited: layers,
            own,
            is_reseller,
            nearest_reseller,
            system,
        } = self.config_layers(account).await?;
        let inherited = merge_layers(layers.iter().map(|(_, layer)| layer));
        let effective = match &own {
            Some(doc) => merge_layers([&inherited, &modules_layer(doc)]),
            None => inherited.clone(),
        };
        let system_token_expiry = match system.get("token_auth_expiry_s") {
            None => Some(3600),
            Some(value) => value.as_i64(),
        };
        Ok(EffectiveConfig {
            own,
            inherited,
            effective,
            is_reseller,
            nearest_reseller,
            system_token_expiry,
        })
    }

    /// The layers an account's effective config is merged from, each with its source.
    pub async fn config_layers(&self, account: &Account) -> Result<ConfigLayers, StoreError> {
        let mut lineage = account.tree.clone();
        lineage.push(account.id.to_string());
        let (flags, system, own) = tokio::try_join!(
            self.reseller_flags(&lineage),
            self.system_config("crossbar.auth"),
            self.security_config_cached(&account.id),
        )?;
        let is_reseller = flags.last() == Some(&true);
        let tree_flags = &flags[..account.tree.len()];
        let ancestors = config_ancestors(&account.tree, tree_flags, is_reseller);
        let nearest_reseller = (0..account.tree.len())
            .rev()
            .find(|&i| tree_flags[i])
            .map(|i| account.tree[i].clone());

        let reads = ancestors
            .iter()
            .filter_map(|id| AccountId::parse(id))
            .map(|id| async move { Ok((self.security_config_cached(&id).await?, id)) });
        let ancestor_docs: Vec<(Option<Value>, AccountId)> = try_join_all(reads).await?;

        let mut inherited = vec![
            (ConfigSource::Defaults, builtin_defaults()),
            (ConfigSource::System, modules_layer(&system)),
        ];
        for (doc, id) in ancestor_docs {
            let Some(doc) = doc else { continue };
            let id = id.to_string();
            let source = if nearest_reseller.as_ref() == Some(&id) {
                ConfigSource::Reseller(id)
            } else {
                ConfigSource::Ancestor(id)
            };
            inherited.push((source, modules_layer(&doc)));
        }
        Ok(ConfigLayers {
            inherited,
            own,
            is_reseller,
            nearest_reseller,
            system,
        })
    }

    /// The `reseller_id` Kazoo reports for an account: the stored one, else the nearest
    /// reseller ancestor, else the master account.
    pub async fn reseller_id(
        &self,
        account: &Account,
        config: &EffectiveConfig,
    ) -> Result<Option<String>, StoreError> {
        if let Some(stored) = self.stored_reseller_id(&account.id).await?
            && is_raw_id(&stored)
        {
            return Ok(Some(stored));
        }
        match &config.nearest_reseller {
            Some(id) => Ok(Some(id.clone())),
            None => self.master_account_id().await,
        }
    }
}

/// The document to store for a security config: see `api_document`.
pub fn config_document(
    existing: Option<&Value>,
    public: &serde_json::Map<String, Value>,
    meta: &WriteMeta<'_>,
) -> Value {
    api_document(existing, public, CONFIG_DOC_ID, "account_config", meta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn saving_replaces_the_public_part_and_keeps_private_fields() {
        let account = AccountId::parse("0d1c678f5cb1c4e04cab2066f0b4adbe").unwrap();
        let existing = json!({"_id": CONFIG_DOC_ID, "_rev": "1-a", "pvt_created": 5,
            "pvt_custom": "kept", "old": true, "id": "x"});
        let public = json!({"auth_modules": {}, "id": "configs_crossbar.auth"});
        let meta = WriteMeta {
            account: &account,
            now_gregorian: 9,
            request_id: "r",
            auth_account_id: "c",
            auth_user_id: None,
        };
        let doc = config_document(Some(&existing), public.as_object().unwrap(), &meta);
        assert_eq!(doc["_rev"], "1-a");
        assert_eq!(doc["pvt_custom"], "kept");
        assert_eq!(doc["pvt_created"], 5);
        assert_eq!(doc["pvt_modified"], 9);
        assert!(doc.get("old").is_none() && doc.get("id").is_none());
        assert_eq!(
            doc["pvt_account_db"],
            "account%2F0d%2F1c%2F678f5cb1c4e04cab2066f0b4adbe"
        );
        assert_eq!(doc["pvt_type"], "account_config");
        assert_eq!(doc["pvt_vsn"], "1");
    }
}

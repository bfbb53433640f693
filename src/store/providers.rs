//! Multi-factor provider documents: an account's own (account database) and the system's
//! (`system_auth`), listed through their `providers` views.

use serde_json::{Value, json};

use super::designs::{ACCOUNT_AUTH, SYSTEM_PROVIDERS};
use super::{Store, StoreError, ViewQuery, live};
use crate::domain::ids::AccountId;

/// Whether a document is a live multi-factor provider.
pub fn is_mfa_provider(doc: &Value) -> bool {
    doc["pvt_type"] == "provider" && doc["pvt_provider_type"] == "multi_factor"
}

impl Store {
    /// `{id, name, provider_name, enabled}` of an account's multi-factor providers.
    pub async fn list_providers(&self, account: &AccountId) -> Result<Vec<Value>, StoreError> {
        self.provider_rows(&account.db(), &ACCOUNT_AUTH, "providers_by_type")
            .await
    }

    /// The same for `system_auth`.
    pub async fn list_system_providers(&self) -> Result<Vec<Value>, StoreError> {
        self.provider_rows("system_auth", &SYSTEM_PROVIDERS, "list_by_type")
            .await
    }

    async fn provider_rows(
        &self,
        db: &str,
        design: &super::designs::DesignDoc,
        view: &str,
    ) -> Result<Vec<Value>, StoreError> {
        let query = ViewQuery {
            start_key: Some(json!(["multi_factor"])),
            end_key: Some(json!(["multi_factor", {}])),
            ..Default::default()
        };
        let rows = self.couch.view(db, design, view, &query).await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let v = &row.value;
                let mut summary = json!({"id": row.id, "name": v["name"],
                    "provider_name": v["provider_name"], "enabled": v["enabled"]});
                // A field the document lacks is left out, as Kazoo's view leaves it out.
                if let Some(map) = summary.as_object_mut() {
                    map.retain(|_, value| !value.is_null());
                }
                summary
            })
            .collect())
    }

    /// A live system multi-factor provider (`system_auth/<id>`).
    pub async fn system_provider(&self, id: &str) -> Result<Option<Value>, StoreError> {
        if id.is_empty() || id.starts_with('_') {
            return Ok(None);
        }
        let doc = live(self.couch.get("system_auth", id).await?);
        Ok(doc.filter(is_mfa_provider))
    }

    /// The system provider used when a config names none:
    /// `system_config/auth` `default_multi_factor_provider`, normally `duo`.
    pub async fn default_provider(&self) -> Result<Option<Value>, StoreError> {
        let section = self.system_config("auth").await?;
        let id = section["default_multi_factor_provider"]
            .as_str()
            .unwrap_or("duo")
            .to_string();
        self.system_provider(&id).await
    }
}

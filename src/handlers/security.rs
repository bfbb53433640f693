//! `/v2/accounts/{A}/security`: an account's own security config and what it inherits.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::{caller, managed_account, write_meta};
use crate::auth::caller::Authenticated;
use crate::domain::ids::AccountId;
use crate::domain::merge::{patch, public_part};
use crate::domain::permissions::may_reference_provider;
use crate::domain::schema::{ValidationErrors, add_error, validate_security_config};
use crate::domain::sources::{TracedConfig, pointer, traced_config};
use crate::http::envelope::Reply;
use crate::http::error::ApiError;
use crate::http::request::Ctx;
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::accounts::Account;
use crate::store::configs::{CONFIG_DOC_ID, config_document};

/// How often a save re-reads and re-applies after a CouchDB conflict.
const SAVE_ATTEMPTS: usize = 10;

const NO_CONFIG: &str = "account does not have customize auth configuration";

/// `GET`: `{account, inherited_config}`.
pub async fn get_config(state: &AppState, ctx: &Ctx, raw_id: &str) -> Result<Reply, ApiError> {
    let who = caller(state, ctx).await?;
    let account = managed_account(state, &who, raw_id).await?;

    let config = state.store.effective_config(&account).await?;
    let revision = config
        .own
        .as_ref()
        .and_then(|d| d["_rev"].as_str())
        .map(str::to_string);
    let mut own = Value::Object(config.own.as_ref().map(public_part).unwrap_or_default());
    let mut inherited = config.inherited.clone();
    let mut providers = ProviderNames::default();
    providers.decorate(state, &mut own).await?;
    providers.decorate(state, &mut inherited).await?;

    Ok(Reply::ok(json!({"account": own, "inherited_config": inherited})).with_revision(revision))
}

/// `GET …/security/sources`: the effective config, the names of the layers it is merged
/// from (lowest first), and every leaf value with its JSON pointer and the layer that set it.
pub async fn get_sources(state: &AppState, ctx: &Ctx, raw_id: &str) -> Result<Reply, ApiError> {
    let who = caller(state, ctx).await?;
    let account = managed_account(state, &who, raw_id).await?;

    let layers = state.store.config_layers(&account).await?;
    let TracedConfig {
        layers: names,
        effective,
        origins,
    } = traced_config(&layers.inherited, layers.own.as_ref());
    let values: Vec<Value> = origins
        .iter()
        .map(|(path, source)| {
            let value = path.iter().fold(&effective, |v, key| &v[key.as_str()]);
            json!({"path": pointer(path), "value": value, "source": source.to_string()})
        })
        .collect();
    Ok(Reply::ok(json!({
        "layers": names,
        "has_own_config": layers.own.is_some(),
        "effective": effective,
        "values": values,
    })))
}

/// `POST`: replaces the account's public config with the request's `data`.
pub async fn replace_config(state: &AppState, ctx: &Ctx, raw_id: &str) -> Result<Reply, ApiError> {
    let who = caller(state, ctx).await?;
    let account = managed_account(state, &who, raw_id).await?;
    let mut public = ctx.public_data()?;
    validate(&mut public)?;

    let saved = save(state, ctx, &who, &account.id, |_| Ok(public.clone())).await?;
    respond_saved(state, saved).await
}

/// `PATCH`: merges the request's `data` into the stored public config.
pub async fn patch_config(state: &AppState, ctx: &Ctx, raw_id: &str) -> Result<Reply, ApiError> {
    let who = caller(state, ctx).await?;
    let account = managed_account(state, &who, raw_id).await?;
    let changes = ctx.public_data()?;

    let saved = save(state, ctx, &who, &account.id, |stored| {
        let mut merged = patch(&Value::Object(stored), &changes);
        validate(&mut merged)?;
        Ok(merged)
    })
    .await?;
    respond_saved(state, saved).await
}

/// `DELETE`: removes the config document; the account inherits everything again.
pub async fn delete_config(state: &AppState, ctx: &Ctx, raw_id: &str) -> Result<Reply, ApiError> {
    let who = caller(state, ctx).await?;
    let account = managed_account(state, &who, raw_id).await?;
    let db = account.id.db();
    let _queued = state.config_writes.lock(account.id.as_str()).await;
    for attempt in 0..SAVE_ATTEMPTS {
        if attempt > 0 {
            back_off(attempt).await;
        }
        let Some(doc) = state.store.security_config(&account.id).await? else {
            return Err(ApiError::BadIdentifier(NO_CONFIG.into()));
        };
        let rev = doc["_rev"].as_str().unwrap_or_default().to_string();
        match state.store.couch.delete(&db, CONFIG_DOC_ID, &rev).await {
            Ok(_) => {
                state.store.evict_config(account.id.as_str());
                let mut data = public_part(&doc);
                data.insert("id".into(), json!(CONFIG_DOC_ID));
                data.insert("_read_only".into(), json!({"deleted": true}));
                return Ok(Reply::ok(Value::Object(data)).with_revision(Some(rev)));
            }
            Err(StoreError::Conflict) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(ApiError::Conflict)
}

/// A short random pause before retrying a conflicted write, growing with each attempt, so
/// that writers on several instances do not collide again in lockstep.
async fn back_off(attempt: usize) {
    let ceiling_ms = 10 * (1u64 << attempt.min(6));
    let pause = rand::random::<u64>() % ceiling_ms;
    tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
}

fn validate(config: &mut Value) -> Result<(), ApiError> {
    validate_security_config(config).map_err(|errors| ApiError::Validation {
        message: "validation error",
        errors,
    })
}

struct Saved {
    public: Value,
    rev: String,
}

/// Loads the stored config, computes the new public part with `change`, checks it, and
/// stores it at the loaded revision; on a conflict, starts again from a fresh read.
async fn save(
    state: &AppState,
    ctx: &Ctx,
    who: &Authenticated,
    account: &AccountId,
    change: impl Fn(Map<String, Value>) -> Result<Value, ApiError>,
) -> Result<Saved, ApiError> {
    let db = account.db();
    let _queued = state.config_writes.lock(account.as_str()).await;
    for attempt in 0..SAVE_ATTEMPTS {
        if attempt > 0 {
            back_off(attempt).await;
        }
        let existing = state.store.security_config(account).await?;
        let stored = existing.as_ref().map(public_part).unwrap_or_default();
        let public = change(stored)?;
        check_multi_factor(state, who, &public).await?;

        let meta = write_meta(state, ctx, who, account);
        let public_map = public.as_object().cloned().unwrap_or_default();
        let doc = config_document(existing.as_ref(), &public_map, &meta);
        match state.store.couch.put(&db, &doc).await {
            Ok(rev) => {
                state.store.evict_config(account.as_str());
                return Ok(Saved { public, rev });
            }
            Err(StoreError::Conflict) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(ApiError::Conflict)
}

async fn respond_saved(state: &AppState, saved: Saved) -> Result<Reply, ApiError> {
    let mut data = saved.public;
    ProviderNames::default().decorate(state, &mut data).await?;
    data["id"] = json!(CONFIG_DOC_ID);
    Ok(Reply::ok(data).with_revision(Some(saved.rev)))
}

/// The multi-factor rules for saving a config (auth.md): a referenced configuration needs
/// its account, that account must be in the caller's reach, and the provider must exist.
async fn check_multi_factor(
    state: &AppState,
    who: &Authenticated,
    config: &Value,
) -> Result<(), ApiError> {
    let mut errors = ValidationErrors::new();
    let modules = config["auth_modules"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    for (module, settings) in &modules {
        let mfa = &settings["multi_factor"];
        let Some(configuration_id) = mfa["configuration_id"].as_str().filter(|s| !s.is_empty())
        else {
            continue;
        };
        let path = format!("auth_modules.{module}.multi_factor");
        let Some(account_id) = mfa["account_id"].as_str().filter(|s| !s.is_empty()) else {
            let message = "setting multi-factor configuration_id needs setting account_id";
            add_error(
                &mut errors,
                &format!("{path}.account_id"),
                "required",
                json!({"message": message}),
            );
            continue;
        };
        let referenced = referenced_account(state, account_id).await?;
        let include_subaccounts = mfa["include_subaccounts"] == Value::Bool(true);
        let allowed = referenced.as_ref().is_some_and(|account| {
            may_reference_provider(&who.caller, account_id, &account.tree, include_subaccounts)
        });
        if !allowed && !who.caller.is_superduper_admin {
            let message =
                format!("multi-factor account_id {account_id} is not in your account tree");
            add_error(
                &mut errors,
                &format!("{path}.account_id"),
                "forbidden",
                json!({"message": message}),
            );
            continue;
        }
        if state
            .store
            .provider(account_id, configuration_id)
            .await?
            .is_none()
        {
            let message = format!("multi-factor configuration {configuration_id} not found");
            add_error(
                &mut errors,
                &format!("{path}.configuration_id"),
                "not_found",
                json!({"message": message}),
            );
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation {
            message: "validation failed",
            errors,
        })
    }
}

async fn referenced_account(
    state: &AppState,
    account_id: &str,
) -> Result<Option<Account>, ApiError> {
    match AccountId::parse(account_id) {
        Some(id) => Ok(state.store.account(&id).await?),
        None => Ok(None),
    }
}

/// `_read_only` names of referenced providers, each read once per request.
#[derive(Default)]
struct ProviderNames(HashMap<(String, String), Value>);

impl ProviderNames {
    async fn decorate(&mut self, state: &AppState, config: &mut Value) -> Result<(), ApiError> {
        let Some(modules) = config
            .get_mut("auth_modules")
            .and_then(Value::as_object_mut)
        else {
            return Ok(());
        };
        for settings in modules.values_mut() {
            let Some(mfa) = settings
                .get_mut("multi_factor")
                .and_then(Value::as_object_mut)
            else {
                continue;
            };
            let account_id = mfa
                .get("account_id")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let configuration_id = mfa
                .get("configuration_id")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let key = (account_id.to_string(), configuration_id.to_string());
            let names = match self.0.get(&key) {
                Some(names) => names.clone(),
                None => {
                    let names = provider_names(state, &key.0, &key.1).await?;
                    self.0.insert(key, names.clone());
                    names
                }
            };
            mfa.insert("_read_only".into(), names);
        }
        Ok(())
    }
}

async fn provider_names(
    state: &AppState,
    account_id: &str,
    configuration_id: &str,
) -> Result<Value, ApiError> {
    let default = json!({"name": "Default System Provider", "provider_name": "duo"});
    if account_id.is_empty() || configuration_id.is_empty() {
        return Ok(default);
    }
    Ok(
        match state.store.provider(account_id, configuration_id).await? {
            Some(doc) => json!({"name": doc["name"], "provider_name": doc["provider_name"]}),
            None => default,
        },
    )
}

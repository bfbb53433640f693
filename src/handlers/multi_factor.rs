//! `/v2/accounts/{A}/multi_factor` and `/v2/multi_factor`: multi-factor provider
//! configurations, with their secrets masked on every read.

use hyper::StatusCode;
use serde_json::{Map, Value, json};

use super::{caller, managed_account, write_meta};
use crate::auth::caller::Authenticated;
use crate::auth::multi_factor::totp_settings_for;
use crate::domain::ids::{AccountId, new_raw_id};
use crate::domain::merge::{is_public_key, patch, public_part};
use crate::domain::names::normalize_account_name;
use crate::domain::permissions::may_manage_account;
use crate::domain::providers::{mask_secrets, restore_masked, validate_provider};
use crate::domain::time::to_gregorian;
use crate::domain::totp;
use crate::http::envelope::Reply;
use crate::http::error::ApiError;
use crate::http::request::Ctx;
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::documents::api_document;

const SAVE_ATTEMPTS: usize = 5;

/// `GET /v2/accounts/{A}/multi_factor`.
pub async fn list_providers(state: &AppState, ctx: &Ctx, raw_id: &str) -> Result<Reply, ApiError> {
    let who = caller(state, ctx).await?;
    let account = managed_account(state, &who, raw_id).await?;
    let rows = state.store.list_providers(&account.id).await?;
    Ok(Reply::ok(Value::Array(rows)))
}

/// `PUT /v2/accounts/{A}/multi_factor`: a new provider configuration.
pub async fn create_provider(state: &AppState, ctx: &Ctx, raw_id: &str) -> Result<Reply, ApiError> {
    let who = caller(state, ctx).await?;
    let account = managed_account(state, &who, raw_id).await?;
    let mut public = ctx.public_data()?;
    validate(&mut public)?;

    let id = new_raw_id();
    let doc = provider_document(state, ctx, &who, &account.id, None, &public, &id);
    let rev = state.store.couch.put(&account.id.db(), &doc).await?;
    let mut reply = respond(&public, &id, Some(rev));
    reply.status = StatusCode::CREATED;
    Ok(reply)
}

/// `GET /v2/accounts/{A}/multi_factor/{ID}`.
pub async fn get_provider(
    state: &AppState,
    ctx: &Ctx,
    raw_id: &str,
    id: &str,
) -> Result<Reply, ApiError> {
    let who = caller(state, ctx).await?;
    let account = managed_account(state, &who, raw_id).await?;
    let doc = load(state, &account.id, id).await?;
    Ok(respond(
        &Value::Object(public_part(&doc)),
        id,
        revision(&doc),
    ))
}

/// `POST` (replace) and `PATCH` (merge) of `/v2/accounts/{A}/multi_factor/{ID}`.
pub async fn update_provider(
    state: &AppState,
    ctx: &Ctx,
    raw_id: &str,
    id: &str,
    merge: bool,
) -> Result<Reply, ApiError> {
    let who = caller(state, ctx).await?;
    let account = managed_account(state, &who, raw_id).await?;
    let request = ctx.public_data()?;
    for _ in 0..SAVE_ATTEMPTS {
        let existing = load(state, &account.id, id).await?;
        let public = updated_public(&existing, &request, merge)?;
        let doc = provider_document(state, ctx, &who, &account.id, Some(&existing), &public, id);
        match state.store.couch.put(&account.id.db(), &doc).await {
            Ok(rev) => return Ok(respond(&public, id, Some(rev))),
            Err(StoreError::Conflict) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(ApiError::Conflict)
}

/// `DELETE /v2/accounts/{A}/multi_factor/{ID}`: a soft delete, as Kazoo does.
pub async fn delete_provider(
    state: &AppState,
    ctx: &Ctx,
    raw_id: &str,
    id: &str,
) -> Result<Reply, ApiError> {
    let who = caller(state, ctx).await?;
    let account = managed_account(state, &who, raw_id).await?;
    for _ in 0..SAVE_ATTEMPTS {
        let mut doc = load(state, &account.id, id).await?;
        doc["pvt_deleted"] = json!(true);
        doc["pvt_modified"] = json!(to_gregorian(state.clock.now()));
        match state.store.couch.put(&account.id.db(), &doc).await {
            Ok(rev) => {
                let mut reply = respond(&Value::Object(public_part(&doc)), id, Some(rev));
                reply.data["_read_only"] = json!({"deleted": true});
                return Ok(reply);
            }
            Err(StoreError::Conflict) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(ApiError::Conflict)
}

/// `GET /v2/multi_factor`: the system providers, for super-duper admins.
pub async fn list_system_providers(state: &AppState, ctx: &Ctx) -> Result<Reply, ApiError> {
    superduper(state, ctx).await?;
    Ok(Reply::ok(Value::Array(
        state.store.list_system_providers().await?,
    )))
}

/// `GET /v2/multi_factor/{ID}`.
pub async fn get_system_provider(state: &AppState, ctx: &Ctx, id: &str) -> Result<Reply, ApiError> {
    superduper(state, ctx).await?;
    let doc = state.store.system_provider(id).await?;
    let doc = doc.ok_or_else(|| ApiError::BadIdentifier(id.to_string()))?;
    Ok(respond(
        &Value::Object(public_part(&doc)),
        id,
        revision(&doc),
    ))
}

/// `POST` and `PATCH` of `/v2/multi_factor/{ID}`. Only public fields and `pvt_modified`
/// change: the seeded `pvt_document_hash` must stay, or Kazoo resets the provider at start.
pub async fn update_system_provider(
    state: &AppState,
    ctx: &Ctx,
    id: &str,
    merge: bool,
) -> Result<Reply, ApiError> {
    superduper(state, ctx).await?;
    let request = ctx.public_data()?;
    for _ in 0..SAVE_ATTEMPTS {
        let existing = state.store.system_provider(id).await?;
        let existing = existing.ok_or_else(|| ApiError::BadIdentifier(id.to_string()))?;
        let public = updated_public(&existing, &request, merge)?;

        let mut doc: Map<String, Value> = existing
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| !is_public_key(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        doc.extend(
            public
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        doc.insert(
            "pvt_modified".into(),
            json!(to_gregorian(state.clock.now())),
        );
        match state
            .store
            .couch
            .put("system_auth", &Value::Object(doc))
            .await
        {
            Ok(rev) => return Ok(respond(&public, id, Some(rev))),
            Err(StoreError::Conflict) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(ApiError::Conflict)
}

/// `PUT /v2/accounts/{A}/users/{U}/multi_factor/totp`: a new TOTP secret for the user, kept
/// only in the user document's private fields; the `otpauth://` URI is shown this once.
pub async fn enroll_totp(
    state: &AppState,
    ctx: &Ctx,
    raw_id: &str,
    user_id: &str,
) -> Result<Reply, ApiError> {
    let who = caller(state, ctx).await?;
    let id = AccountId::parse(raw_id).ok_or_else(|| ApiError::BadIdentifier(raw_id.to_string()))?;
    let account = state.store.account(&id).await?;
    let account = account.ok_or_else(|| ApiError::BadIdentifier(raw_id.to_string()))?;
    let is_self =
        who.caller.account_id == raw_id && who.caller.owner_id.as_deref() == Some(user_id);
    if !is_self && !may_manage_account(&who.caller, raw_id, &account.tree) {
        return Err(ApiError::Forbidden);
    }
    let missing_user = || ApiError::BadIdentifier(user_id.to_string());
    state
        .store
        .user(&id, user_id)
        .await?
        .ok_or_else(missing_user)?;

    let config = state.store.effective_config(&account).await?;
    let mfa = &config.effective["auth_modules"]["cb_user_auth"]["multi_factor"];
    let settings = totp_settings_for(state, mfa).await?;
    let secret = totp::new_secret();
    for _ in 0..SAVE_ATTEMPTS {
        let mut user = state
            .store
            .user(&id, user_id)
            .await?
            .ok_or_else(missing_user)?;
        user["pvt_totp_secret"] = json!(secret);
        if let Some(map) = user.as_object_mut() {
            map.remove("pvt_totp_last_step");
        }
        match state.store.couch.put(&id.db(), &user).await {
            Ok(_) => {
                let username = user["username"].as_str().unwrap_or(user_id);
                let uri = totp::otpauth_uri(&secret, username, &settings);
                return Ok(Reply::ok(json!({
                    "otpauth_uri": uri,
                    "digits": settings.digits,
                    "period_s": settings.period_s,
                })));
            }
            Err(StoreError::Conflict) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(ApiError::Conflict)
}

async fn superduper(state: &AppState, ctx: &Ctx) -> Result<Authenticated, ApiError> {
    let who = caller(state, ctx).await?;
    if who.caller.is_superduper_admin {
        Ok(who)
    } else {
        Err(ApiError::Forbidden)
    }
}

async fn load(state: &AppState, account: &AccountId, id: &str) -> Result<Value, ApiError> {
    state
        .store
        .provider(account.as_str(), id)
        .await?
        .ok_or_else(|| ApiError::BadIdentifier(id.to_string()))
}

/// The public part a POST (`merge` false) or PATCH makes of a stored provider: a mask sent
/// back keeps the stored secret, and the result must be a valid provider.
fn updated_public(existing: &Value, request: &Value, merge: bool) -> Result<Value, ApiError> {
    let stored = Value::Object(public_part(existing));
    let mut public = if merge {
        patch(&stored, request)
    } else {
        request.clone()
    };
    restore_masked(&mut public, &stored);
    validate(&mut public)?;
    Ok(public)
}

fn validate(public: &mut Value) -> Result<(), ApiError> {
    validate_provider(public).map_err(|errors| ApiError::Validation {
        message: "validation error",
        errors,
    })
}

fn provider_document(
    state: &AppState,
    ctx: &Ctx,
    who: &Authenticated,
    account: &AccountId,
    existing: Option<&Value>,
    public: &Value,
    id: &str,
) -> Value {
    let meta = write_meta(state, ctx, who, account);
    let public_map = public.as_object().cloned().unwrap_or_default();
    let mut doc = api_document(existing, &public_map, id, "provider", &meta);
    doc["pvt_provider_type"] = json!("multi_factor");
    let name = public["name"].as_str().unwrap_or_default();
    doc["pvt_alphanum_name"] = json!(normalize_account_name(name));
    doc
}

fn respond(public: &Value, id: &str, revision: Option<String>) -> Reply {
    let mut data = public.clone();
    mask_secrets(&mut data);
    data["id"] = json!(id);
    Reply::ok(data).with_revision(revision)
}

fn revision(doc: &Value) -> Option<String> {
    doc["_rev"].as_str().map(str::to_string)
}

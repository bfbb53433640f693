//! `PUT /v2/user_auth`, `/v2/api_auth`, `/v2/ip_auth` and `/v2/auth`: find the account and
//! identity each one proves, then hand over to the common login path.

use hyper::StatusCode;
use serde_json::{Map, Value, json};

use super::caller;
use crate::auth::attempts::Attempt;
use crate::auth::login::{LoginContext, LoginSubject, Refusal, complete_login, record};
use crate::domain::ids::AccountId;
use crate::domain::merge::ModuleSettings;
use crate::domain::names::{normalize_account_name, to_e164};
use crate::http::envelope::Reply;
use crate::http::error::ApiError;
use crate::http::request::Ctx;
use crate::state::AppState;
use crate::store::accounts::Account;

/// `cb_user_auth`: a credentials hash and an account name, realm or phone number.
pub async fn user_auth(state: &AppState, ctx: &Ctx) -> Result<Reply, ApiError> {
    counted(state, "cb_user_auth", login_user(state, ctx).await)
}

/// `cb_api_auth`: the account's 64-character API key.
pub async fn api_auth(state: &AppState, ctx: &Ctx) -> Result<Reply, ApiError> {
    counted(state, "cb_api_auth", login_api(state, ctx).await)
}

/// `cb_ip_auth`: the client IP, registered on an account.
pub async fn ip_auth(state: &AppState, ctx: &Ctx) -> Result<Reply, ApiError> {
    counted(state, "cb_ip_auth", login_ip(state, ctx).await)
}

/// `cb_auth`: a fresh token for the holder of a valid one.
pub async fn refresh(state: &AppState, ctx: &Ctx) -> Result<Reply, ApiError> {
    counted(state, "cb_auth", login_refresh(state, ctx).await)
}

/// Counts a login's outcome in the metrics, by module.
fn counted(
    state: &AppState,
    module: &'static str,
    result: Result<Reply, ApiError>,
) -> Result<Reply, ApiError> {
    let outcome = match &result {
        Ok(_) => "success",
        Err(ApiError::UnauthorizedWith(data)) if data.get("multi_factor_request").is_some() => {
            "multi_factor_challenge"
        }
        Err(ApiError::Unauthorized | ApiError::UnauthorizedWith(_)) => "invalid_credentials",
        Err(ApiError::Locked(_)) => "account_locked",
        Err(ApiError::TooManyRequests) => "rate_limited",
        Err(ApiError::Validation { .. } | ApiError::MissingData | ApiError::InvalidJson(_)) => {
            "bad_request"
        }
        Err(_) => "error",
    };
    if outcome == "rate_limited" {
        state.metrics.rate_limited(module);
    }
    state.metrics.login(module, outcome);
    result
}

async fn login_user(state: &AppState, ctx: &Ctx) -> Result<Reply, ApiError> {
    let data = ctx.data()?;
    let credentials = credentials_of(data)?;
    let sha = match data.get("method").and_then(Value::as_str) {
        None | Some("md5") => false,
        Some("sha") => true,
        Some(_) => return Err(enum_error("method", &["md5", "sha"])),
    };
    if data.get("method").is_some_and(|m| !m.is_string()) {
        return Err(enum_error("method", &["md5", "sha"]));
    }

    let claimed = claimed_account(data)?;
    limit(state, ctx, &claimed.bucket_key())?;
    let candidates = candidate_accounts(state, &claimed).await?;
    let login = login_context(ctx);
    for account_id in &candidates {
        let Some(account) = load_account(state, account_id).await? else {
            continue;
        };
        if let Some(found) = state
            .store
            .user_by_credentials(&account.id, credentials, sha)
            .await?
        {
            let subject = LoginSubject {
                account,
                owner_id: Some(found.owner_id),
                module: "cb_user_auth",
                auth_type: "credentials",
            };
            return finish(state, &login, subject).await;
        }
    }

    if let Some(account) = first_account(state, &candidates).await? {
        let message = format!("invalid credentials from {}", ctx.client_ip);
        let attempt = Attempt {
            account_id: account.id.to_string(),
            auth_module: "cb_user_auth",
            auth_type: "credentials",
            success: false,
            message,
            metadata: None,
        };
        let config = state.store.effective_config(&account).await?;
        let settings = ModuleSettings::of(&config.effective, "cb_user_auth");
        record(state, &login, attempt, &settings).await;
    }
    Err(ApiError::Unauthorized)
}

async fn login_api(state: &AppState, ctx: &Ctx) -> Result<Reply, ApiError> {
    limit(state, ctx, "api_auth")?;
    let data = ctx.data()?;
    let api_key = match data.get("api_key") {
        None => {
            return Err(ApiError::invalid(
                "api_key",
                "required",
                "Field is required but missing",
            ));
        }
        Some(Value::String(key)) if key.chars().count() == 64 => key.as_str(),
        Some(Value::String(_)) => {
            return Err(ApiError::invalid(
                "api_key",
                "minLength",
                "Value must be 64 characters",
            ));
        }
        Some(_) => {
            return Err(ApiError::invalid(
                "api_key",
                "type",
                "Value did not match type(s): string",
            ));
        }
    };
    let accounts = state.store.accounts_by("listing_by_api", api_key).await?;
    let Some(account) = first_account(state, &accounts).await? else {
        return Err(ApiError::Unauthorized);
    };
    let subject = LoginSubject {
        account,
        owner_id: None,
        module: "cb_api_auth",
        auth_type: "account_api_token",
    };
    finish(state, &login_context(ctx), subject).await
}

async fn login_ip(state: &AppState, ctx: &Ctx) -> Result<Reply, ApiError> {
    limit(state, ctx, "ip_auth")?;
    let found = state
        .store
        .account_by_ip(&ctx.client_ip.to_string())
        .await?;
    let Some((account_id, owner_id)) = found else {
        return Err(ApiError::Unauthorized);
    };
    let Some(account) = load_account(state, &account_id).await? else {
        return Err(ApiError::Unauthorized);
    };
    let subject = LoginSubject {
        account,
        owner_id,
        module: "cb_ip_auth",
        auth_type: "ip_auth",
    };
    finish(state, &login_context(ctx), subject).await
}

async fn login_refresh(state: &AppState, ctx: &Ctx) -> Result<Reply, ApiError> {
    limit(state, ctx, "refresh")?;
    let who = caller(state, ctx).await?;
    let in_data = ctx.body_key("data").and_then(|d| d.get("action"));
    match ctx.body_key("action").or(in_data).and_then(Value::as_str) {
        Some("refresh_token") => {}
        _ => return Err(enum_error("action", &["refresh_token"])),
    }
    let subject = LoginSubject {
        account: who.account,
        owner_id: who.claims.owner_id,
        module: "cb_auth",
        auth_type: "jwt_auth_token",
    };
    finish(state, &login_context(ctx), subject).await
}

async fn finish(
    state: &AppState,
    login: &LoginContext,
    subject: LoginSubject,
) -> Result<Reply, ApiError> {
    match complete_login(state, login, subject).await {
        Ok(issued) => {
            let mut reply = Reply::ok(issued.data);
            reply.status = StatusCode::CREATED;
            reply.auth_token = Some(issued.token);
            Ok(reply)
        }
        Err(Refusal::Unauthorized(data)) => Err(ApiError::UnauthorizedWith(data)),
        Err(Refusal::Locked(data)) => Err(ApiError::Locked(data)),
        Err(Refusal::Failed(error)) => Err(error.into()),
    }
}

fn login_context(ctx: &Ctx) -> LoginContext {
    let data = ctx.body_key("data");
    let response = data.and_then(|d| d.get("multi_factor_response"));
    LoginContext {
        multi_factor_response: response.and_then(Value::as_str).map(str::to_string),
        request_id: ctx.request_id.clone(),
        client_ip: ctx.client_ip,
        headers: ctx.headers.clone(),
    }
}

fn credentials_of(data: &Map<String, Value>) -> Result<&str, ApiError> {
    match data.get("credentials") {
        None => Err(ApiError::invalid(
            "credentials",
            "required",
            "Field is required but missing",
        )),
        Some(Value::String(text)) if text.is_empty() => Err(ApiError::invalid(
            "credentials",
            "minLength",
            "Value must be at least 1 characters",
        )),
        Some(Value::String(text)) if text.chars().count() > 64 => Err(ApiError::invalid(
            "credentials",
            "maxLength",
            "Value must be at most 64 characters",
        )),
        Some(Value::String(text)) => Ok(text),
        Some(_) => Err(ApiError::invalid(
            "credentials",
            "type",
            "Value did not match type(s): string",
        )),
    }
}

/// Step 1 of every authenticator: a token from the (client IP, claimed account) bucket.
fn limit(state: &AppState, ctx: &Ctx, claimed: &str) -> Result<(), ApiError> {
    if state.rate_limiter.allow(ctx.client_ip, claimed) {
        Ok(())
    } else {
        Err(ApiError::TooManyRequests)
    }
}

/// How a user login names its account.
enum ClaimedAccount {
    Name(String),
    Realm(String),
    Phone(Option<String>),
}

impl ClaimedAccount {
    fn bucket_key(&self) -> String {
        match self {
            ClaimedAccount::Name(name) => format!("name:{name}"),
            ClaimedAccount::Realm(realm) => format!("realm:{realm}"),
            ClaimedAccount::Phone(number) => format!("phone:{}", number.as_deref().unwrap_or("")),
        }
    }
}

fn claimed_account(data: &Map<String, Value>) -> Result<ClaimedAccount, ApiError> {
    let text = |key: &str| {
        data.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let realm = text("account_realm").or_else(|| text("realm"));
    let ways = [
        text("account_name").is_some(),
        realm.is_some(),
        text("phone_number").is_some(),
    ];
    match ways.iter().filter(|w| **w).count() {
        0 => {
            let message = "one of account_name, account_realm or phone_number is required";
            Err(ApiError::invalid("account_name", "required", message))
        }
        1 => Ok(if let Some(name) = text("account_name") {
            ClaimedAccount::Name(normalize_account_name(name))
        } else if let Some(realm) = realm {
            ClaimedAccount::Realm(realm.to_lowercase())
        } else {
            ClaimedAccount::Phone(text("phone_number").and_then(to_e164))
        }),
        _ => {
            let message = "give only one of account_name, account_realm or phone_number";
            Err(ApiError::invalid("account_name", "oneOf", message))
        }
    }
}

/// The accounts a user login names, in the order to try them.
async fn candidate_accounts(
    state: &AppState,
    claimed: &ClaimedAccount,
) -> Result<Vec<String>, ApiError> {
    let store = &state.store;
    Ok(match claimed {
        ClaimedAccount::Name(name) => store.accounts_by("listing_by_name", name).await?,
        ClaimedAccount::Realm(realm) => store.accounts_by("listing_by_realm", realm).await?,
        ClaimedAccount::Phone(Some(number)) => {
            store.account_by_number(number).await?.into_iter().collect()
        }
        ClaimedAccount::Phone(None) => Vec::new(),
    })
}

async fn load_account(state: &AppState, id: &str) -> Result<Option<Account>, ApiError> {
    match AccountId::parse(id) {
        Some(id) => Ok(state.store.account(&id).await?),
        None => Ok(None),
    }
}

async fn first_account(state: &AppState, ids: &[String]) -> Result<Option<Account>, ApiError> {
    for id in ids {
        if let Some(account) = load_account(state, id).await? {
            return Ok(Some(account));
        }
    }
    Ok(None)
}

fn enum_error(key: &str, options: &[&str]) -> ApiError {
    let mut errors = Map::new();
    errors.insert(
        key.to_string(),
        json!({"enum": {
            "message": "Value not found in enumerated list of values",
            "target": options,
        }}),
    );
    ApiError::Validation {
        message: "validation error",
        errors,
    }
}

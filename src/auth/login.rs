//! What every authenticator does once it knows the account and identity: the module switch,
//! account status, the second factor, the token, and the attempt for the audit trail.

use std::net::IpAddr;

use serde_json::{Value, json};

use super::AuthError;
use super::attempts::Attempt;
use super::multi_factor::{SecondFactor, second_factor};
use super::tokens::{Claims, sign};
use crate::domain::lockout::LockoutPolicy;
use crate::domain::merge::{ModuleSettings, token_expiry};
use crate::domain::signatures::identity_sig;
use crate::domain::time::to_gregorian;
use crate::state::AppState;
use crate::store::accounts::Account;

/// The request facts an attempt records.
pub struct LoginContext {
    pub request_id: String,
    /// The client's answer to a second-factor challenge, if it sent one.
    pub multi_factor_response: Option<String>,
    pub client_ip: IpAddr,
    pub headers: Vec<(String, String)>,
}

/// Who is logging in, through which module.
pub struct LoginSubject {
    pub account: Account,
    pub owner_id: Option<String>,
    pub module: &'static str,
    /// The `auth_type` of this module's attempts.
    pub auth_type: &'static str,
}

/// A successful login.
pub struct Issued {
    pub token: String,
    pub data: Value,
}

/// Why a login with a known identity was refused.
#[derive(Debug)]
pub enum Refusal {
    /// 401 with this `data`.
    Unauthorized(Value),
    /// 423 with this `data`.
    Locked(Value),
    /// Something failed underneath.
    Failed(AuthError),
}

impl From<AuthError> for Refusal {
    fn from(error: AuthError) -> Self {
        Refusal::Failed(error)
    }
}

impl From<crate::store::StoreError> for Refusal {
    fn from(error: crate::store::StoreError) -> Self {
        Refusal::Failed(error.into())
    }
}

/// Steps 3 to 7 of the authenticators' common path (auth.md).
pub async fn complete_login(
    state: &AppState,
    ctx: &LoginContext,
    subject: LoginSubject,
) -> Result<Issued, Refusal> {
    let store = &state.store;
    let config = store.effective_config(&subject.account).await?;
    let settings = ModuleSettings::of(&config.effective, subject.module);
    let fail = |message: String| Attempt {
        account_id: subject.account.id.to_string(),
        auth_module: subject.module,
        auth_type: subject.auth_type,
        success: false,
        message,
        metadata: None,
    };

    if !settings.enabled {
        let message = format!("authentication module {} is disabled", subject.module);
        record(state, ctx, fail(message), &settings).await;
        return Err(Refusal::Unauthorized(json!({})));
    }

    let now = state.clock.now();
    if let Some(policy) = LockoutPolicy::from_config(&settings.lockout) {
        let now_g = to_gregorian(now);
        let ip = ctx.client_ip.to_string();
        let from = now_g.saturating_sub(policy.lookback_s());
        let failures = store
            .failed_attempt_times(&subject.account.id, &ip, from, now_g)
            .await?;
        if policy.locked(&failures, now_g) {
            record(state, ctx, fail("locked out".into()), &settings).await;
            return Err(Refusal::Unauthorized(json!({"message": "locked out"})));
        }
    }

    let account = &subject.account;
    if !account.enabled {
        record(state, ctx, fail("account disabled".into()), &settings).await;
        return Err(Refusal::Locked(
            json!({"account": {"disabled": {"message": "account disabled"}}}),
        ));
    }
    if let Some(expires) = account.trial_expires.filter(|t| *t <= to_gregorian(now)) {
        record(state, ctx, fail("account expired".into()), &settings).await;
        return Err(Refusal::Locked(
            json!({"account": {"expired": {"message": "account expired", "cause": expires}}}),
        ));
    }

    let response = ctx.multi_factor_response.as_deref();
    let owner = subject.owner_id.as_deref();
    match second_factor(state, account, owner, &settings.multi_factor, response).await? {
        SecondFactor::NotRequired => {}
        SecondFactor::Passed => {
            let passed = Attempt {
                auth_type: "multi_factor",
                success: true,
                message: "second-factor authentication succeeded".into(),
                ..fail(String::new())
            };
            record(state, ctx, passed, &settings).await;
        }
        SecondFactor::Challenge(data) => return Err(Refusal::Unauthorized(data)),
        SecondFactor::Failed(reason) => {
            let failed = Attempt {
                auth_type: "multi_factor",
                ..fail(reason.clone())
            };
            record(state, ctx, failed, &settings).await;
            return Err(Refusal::Unauthorized(json!({"message": reason})));
        }
    }

    let expiry = token_expiry(settings.token_auth_expiry_s, config.system_token_expiry);
    let token = issue_token(state, &subject, now, expiry).await?;
    let reseller_id = store.reseller_id(account, &config).await?;
    let mut data = json!({
        "account_id": account.id.as_str(),
        "account_name": account.name,
        "is_reseller": config.is_reseller,
        "reseller_id": reseller_id,
        "method": subject.module,
    });
    if let Some(owner) = &subject.owner_id {
        data["owner_id"] = json!(owner);
    }

    let success = Attempt {
        success: true,
        message: "authentication resulted in token creation".into(),
        auth_type: if subject.module == "cb_api_auth" || subject.module == "cb_ip_auth" {
            subject.auth_type
        } else {
            "jwt_auth_token"
        },
        metadata: subject
            .owner_id
            .as_ref()
            .map(|owner| json!({"owner_id": owner, "account_id": account.id.as_str()})),
        ..fail(String::new())
    };
    record(state, ctx, success, &settings).await;
    Ok(Issued { token, data })
}

/// Signs a token for the subject, creating a missing identity secret first.
async fn issue_token(
    state: &AppState,
    subject: &LoginSubject,
    now: i64,
    expiry: Option<i64>,
) -> Result<String, AuthError> {
    let store = &state.store;
    let owner = subject.owner_id.as_deref();
    let identity = owner.unwrap_or(subject.account.id.as_str());
    let known = match owner {
        Some(user) => store
            .user_cached(&subject.account.id, user)
            .await?
            .and_then(|u| u["pvt_signature_secret"].as_str().map(str::to_string)),
        None => subject.account.signature_secret.clone(),
    };
    let identity_secret = match known.filter(|s| !s.is_empty()) {
        Some(secret) => secret,
        None => {
            store
                .ensure_signature_secret(&subject.account.id, owner)
                .await?
        }
    };
    let system_secret = state
        .keys
        .system_secret(store)
        .await?
        .ok_or(AuthError::NotConfigured("no secret_for_user_signature"))?;
    let key = state.keys.signing(store).await?;
    let claims = Claims {
        iss: "kazoo".into(),
        account_id: subject.account.id.to_string(),
        owner_id: subject.owner_id.clone(),
        method: Some(subject.module.to_string()),
        // The expiry may come from a document no schema checked: any 64-bit number.
        exp: expiry.map(|s| now.saturating_add(s)),
        iat: Some(now),
        identity_sig: Some(identity_sig(&identity_secret, &system_secret, identity)),
    };
    sign(&key, &claims)
}

/// Records an attempt when the module's settings ask for it.
pub async fn record(
    state: &AppState,
    ctx: &LoginContext,
    attempt: Attempt,
    settings: &ModuleSettings,
) {
    if attempt.wanted(settings) {
        super::attempts::write(state, ctx, attempt).await;
    }
}

//! From a request's token to an authenticated `Caller`, in the order of storage.md §10.

use sha2::{Digest, Sha256};

use super::AuthError;
use super::tokens::{Claims, verify_signature};
use crate::domain::ids::AccountId;
use crate::domain::merge::AUTH_MODULES;
use crate::domain::permissions::Caller;
use crate::domain::signatures::{identity_sig, same_signature};
use crate::domain::time::to_gregorian;
use crate::state::AppState;
use crate::store::accounts::Account;

/// A verified token, with the caller it stands for.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub caller: Caller,
    pub claims: Claims,
    pub account: Account,
}

/// Verifies `token` completely: signature, expiry, account, identity, account status and
/// the issuing module's switch.
pub async fn authenticate(state: &AppState, token: &str) -> Result<Authenticated, AuthError> {
    let now = state.clock.now();
    let invalid = |why: &str| AuthError::Invalid(why.to_string());
    // One RSA verification per distinct token: the verified claims are kept by the token's
    // hash, and expiry is checked on every use.
    let hash = hex::encode(Sha256::digest(token.as_bytes()));
    let verify = || verify_signature(&state.keys, &state.store, token, now);
    let claims = state.verified_tokens.get_or_load(&hash, verify).await?;
    if claims.exp.is_some_and(|exp| exp <= now) {
        return Err(invalid("expired"));
    }

    let account_id =
        AccountId::parse(&claims.account_id).ok_or_else(|| invalid("bad account_id"))?;
    let account = state
        .store
        .account(&account_id)
        .await?
        .ok_or_else(|| invalid("no account"))?;

    let user = match &claims.owner_id {
        Some(owner) => Some(
            state
                .store
                .user_cached(&account_id, owner)
                .await?
                .ok_or_else(|| invalid("no user"))?,
        ),
        None => None,
    };
    if let Some(sig) = &claims.identity_sig {
        let identity_secret = match &user {
            Some(user) => user["pvt_signature_secret"].as_str().map(str::to_string),
            None => account.signature_secret.clone(),
        };
        let identity_secret = identity_secret.ok_or_else(|| invalid("identity has no secret"))?;
        let system = state
            .keys
            .system_secret(&state.store)
            .await?
            .ok_or_else(|| invalid("no system secret"))?;
        let message = claims.owner_id.as_deref().unwrap_or(&claims.account_id);
        let expected = identity_sig(&identity_secret, &system, message);
        if sig.is_empty() || !same_signature(sig, &expected) {
            return Err(invalid("identity signature does not match"));
        }
    }

    if !account.enabled
        || account
            .trial_expires
            .is_some_and(|t| t <= to_gregorian(now))
    {
        return Err(invalid("account disabled or expired"));
    }
    if let Some(method) = &claims.method {
        let config = state.store.effective_config(&account).await?;
        let entry = &config.effective["auth_modules"][method.as_str()];
        let known = AUTH_MODULES.contains(&method.as_str()) || !entry.is_null();
        if known && entry["enabled"] != serde_json::Value::Bool(true) {
            return Err(invalid("issuing module disabled"));
        }
    }

    let is_admin = match &user {
        Some(user) => user["priv_level"] == "admin",
        None => true,
    };
    let caller = Caller {
        account_id: claims.account_id.clone(),
        owner_id: claims.owner_id.clone(),
        is_admin,
        is_superduper_admin: is_admin && account.is_superduper,
        tree: account.tree.clone(),
    };
    Ok(Authenticated {
        caller,
        claims,
        account,
    })
}

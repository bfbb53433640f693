//! The second factor of a login: whether it applies, which provider runs it, the challenge,
//! and the check of the client's answer. Every doubt fails closed.

use serde_json::{Value, json};

use super::AuthError;
use crate::domain::duo::{DuoKeys, sign_request, verify_response};
use crate::domain::ids::AccountId;
use crate::domain::totp::{self, TotpSettings};
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::accounts::Account;

/// The text of every challenge (Kazoo's, spelling included).
pub const CHALLENGE_MESSAGE: &str = "client needs to preform second-factor authentication";

/// The outcome of the second-factor step.
#[derive(Debug)]
pub enum SecondFactor {
    /// The module's config does not ask for one here.
    NotRequired,
    /// The client proved it.
    Passed,
    /// The client must answer this challenge (a 401 with this `data`).
    Challenge(Value),
    /// Refused, with a reason fit for the client and the audit trail.
    Failed(String),
}

/// Whether `multi_factor` (a module's effective settings) applies to `account`.
pub fn applies(multi_factor: &Value, account: &Account, master_id: Option<&str>) -> bool {
    if multi_factor["enabled"] != Value::Bool(true) {
        return false;
    }
    let referenced = multi_factor["account_id"]
        .as_str()
        .filter(|s| !s.is_empty());
    master_id == Some(account.id.as_str())
        || referenced.is_none_or(|id| id == account.id.as_str())
        || multi_factor["include_subaccounts"] == Value::Bool(true)
}

/// Runs the second factor for `owner_id` of `account`, with the client's `response`.
pub async fn second_factor(
    state: &AppState,
    account: &Account,
    owner_id: Option<&str>,
    multi_factor: &Value,
    response: Option<&str>,
) -> Result<SecondFactor, AuthError> {
    if multi_factor["enabled"] != Value::Bool(true) {
        return Ok(SecondFactor::NotRequired);
    }
    // The master-account lookup can scan every account: only make it when it decides.
    if !applies(multi_factor, account, None) {
        let master = state.store.master_account_id().await?;
        if !applies(multi_factor, account, master.as_deref()) {
            return Ok(SecondFactor::NotRequired);
        }
    }
    let fail = |reason: &str| Ok(SecondFactor::Failed(reason.to_string()));
    let Some(provider) = provider_of(state, multi_factor).await? else {
        return fail("multi-factor provider configuration not found");
    };
    if provider["enabled"] != Value::Bool(true) {
        return fail("multi-factor provider is disabled");
    }
    let Some(user) = owner_id else {
        return fail("multi-factor authentication needs a user, and this login has none");
    };
    let now = state.clock.now();
    match provider["provider_name"].as_str() {
        Some("duo") => {
            let Ok(keys) = DuoKeys::from_settings(&provider["settings"]) else {
                return fail("multi-factor provider settings are invalid");
            };
            match response {
                None => Ok(SecondFactor::Challenge(duo_challenge(&keys, user, now))),
                Some(answer) => Ok(match verify_response(&keys, answer, user, now) {
                    Ok(()) => SecondFactor::Passed,
                    Err(error) => SecondFactor::Failed(error.to_string()),
                }),
            }
        }
        Some("totp") => {
            let Ok(settings) = TotpSettings::from_settings(&provider["settings"]) else {
                return fail("multi-factor provider settings are invalid");
            };
            let user_doc = state.store.user(&account.id, user).await?;
            if user_doc.is_none_or(|u| !u["pvt_totp_secret"].is_string()) {
                return fail("user has not enrolled in TOTP");
            }
            match response {
                None => Ok(SecondFactor::Challenge(json!({
                    "message": CHALLENGE_MESSAGE,
                    "multi_factor_request": {"provider_name": "totp", "settings": {}},
                }))),
                Some(code) => totp_check(state, &account.id, user, code, &settings, now).await,
            }
        }
        _ => fail("multi-factor provider is not supported"),
    }
}

fn duo_challenge(keys: &DuoKeys, user: &str, now: i64) -> Value {
    json!({
        "message": CHALLENGE_MESSAGE,
        "multi_factor_request": {
            "provider_name": "duo",
            "settings": {
                "duo_sig_request": sign_request(keys, user, now),
                "duo_api_hostname": keys.api_hostname,
            },
        },
    })
}

/// The provider a config names, or the system default when it names none.
async fn provider_of(state: &AppState, multi_factor: &Value) -> Result<Option<Value>, StoreError> {
    let account_id = multi_factor["account_id"].as_str().unwrap_or_default();
    let configuration_id = multi_factor["configuration_id"]
        .as_str()
        .unwrap_or_default();
    if configuration_id.is_empty() {
        return state.store.default_provider().await;
    }
    state.store.provider(account_id, configuration_id).await
}

/// Checks a TOTP code and records its step, so that the same code is accepted only once,
/// even by two requests racing each other (the second write conflicts and re-checks).
async fn totp_check(
    state: &AppState,
    account: &AccountId,
    user_id: &str,
    code: &str,
    settings: &TotpSettings,
    now: i64,
) -> Result<SecondFactor, AuthError> {
    let db = account.db();
    for _ in 0..5 {
        let Some(mut user) = state.store.user(account, user_id).await? else {
            return Ok(SecondFactor::Failed("user not found".into()));
        };
        let Some(secret) = user["pvt_totp_secret"].as_str().map(str::to_string) else {
            return Ok(SecondFactor::Failed("user has not enrolled in TOTP".into()));
        };
        let last = user["pvt_totp_last_step"].as_u64();
        let step = match totp::verify(&secret, code, now, settings.digits, settings.period_s, last)
        {
            Ok(step) => step,
            Err(error) => return Ok(SecondFactor::Failed(error.to_string())),
        };
        user["pvt_totp_last_step"] = json!(step);
        match state.store.couch.put(&db, &user).await {
            Ok(_) => return Ok(SecondFactor::Passed),
            Err(StoreError::Conflict) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(StoreError::Conflict.into())
}

/// The TOTP settings that apply to a user login into `account`: those of the totp provider
/// its `cb_user_auth` config names, else the defaults.
pub async fn totp_settings_for(
    state: &AppState,
    multi_factor: &Value,
) -> Result<TotpSettings, StoreError> {
    let provider = provider_of(state, multi_factor).await?;
    Ok(provider
        .filter(|p| p["provider_name"] == "totp")
        .and_then(|p| TotpSettings::from_settings(&p["settings"]).ok())
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(id: &str) -> Account {
        Account {
            id: AccountId::parse(id).unwrap(),
            tree: vec![],
            name: String::new(),
            is_superduper: false,
            enabled: true,
            trial_expires: None,
            signature_secret: None,
        }
    }

    #[test]
    fn multi_factor_applies_by_the_spec_rule() {
        let own = "33333333333333333333333333333333";
        let parent = "22222222222222222222222222222222";
        let a = account(own);
        assert!(!applies(&json!({"enabled": false}), &a, None));
        assert!(applies(&json!({"enabled": true}), &a, None));
        assert!(applies(
            &json!({"enabled": true, "account_id": own}),
            &a,
            None
        ));
        let inherited = json!({"enabled": true, "account_id": parent});
        assert!(!applies(&inherited, &a, None));
        assert!(
            applies(&inherited, &a, Some(own)),
            "the master account always applies"
        );
        let shared = json!({"enabled": true, "account_id": parent, "include_subaccounts": true});
        assert!(applies(&shared, &a, None));
    }
}

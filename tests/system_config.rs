//! Everything that needs `system_config/crossbar.auth` changed. Every test holds
//! `SYSTEM_CONFIG_LOCK` and restores the document, even when it fails; no other test binary
//! touches system documents, and cargo runs test binaries one after another.

mod common;

use std::future::Future;
use std::panic::AssertUnwindSafe;

use common::{DEFAULT_MODULES, JAN_15_2024, SYSTEM_CONFIG_LOCK, TestApp, claims};
use futures::FutureExt;
use kazoo_security::state::Clock;
use serde_json::{Value, json};

/// Sets the `default` section of `system_config/crossbar.auth`.
async fn set_crossbar_auth(app: &TestApp, section: Value) {
    let existing = app
        .couch()
        .get("system_config", "crossbar.auth")
        .await
        .unwrap();
    let mut doc = json!({"_id": "crossbar.auth", "default": section, "pvt_type": "config",
        "pvt_account_id": "system_config", "pvt_account_db": "system_config"});
    if let Some(rev) = existing.as_ref().and_then(|d| d["_rev"].as_str()) {
        doc["_rev"] = json!(rev);
    }
    app.couch().put("system_config", &doc).await.unwrap();
}

/// Runs `test` with the section set, under the lock, and puts the document back as it was.
async fn with_crossbar_auth<F, Fut>(app: &TestApp, section: Value, test: F)
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ()>,
{
    let _lock = SYSTEM_CONFIG_LOCK.lock().await;
    let before = app
        .couch()
        .get("system_config", "crossbar.auth")
        .await
        .unwrap();
    set_crossbar_auth(app, section).await;

    let outcome = AssertUnwindSafe(test()).catch_unwind().await;

    let current = app
        .couch()
        .get("system_config", "crossbar.auth")
        .await
        .unwrap();
    let rev = current.as_ref().and_then(|d| d["_rev"].as_str());
    match (before, rev) {
        (Some(mut doc), Some(rev)) => {
            doc["_rev"] = json!(rev);
            app.couch().put("system_config", &doc).await.unwrap();
        }
        (None, Some(rev)) => {
            app.couch()
                .delete("system_config", "crossbar.auth", rev)
                .await
                .unwrap();
        }
        (_, None) => {}
    }
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

fn user_module(settings: Value) -> Value {
    json!({"auth_modules": {"cb_user_auth": settings}})
}

/// The lifetime of a fresh token of a new user of `acct`; `None` without `exp`.
async fn lifetime(app: &TestApp, acct: &common::Acct) -> (Option<i64>, String) {
    let user = app.user(acct, false).await;
    let token = app.login(acct, &user).await;
    let claims = claims(&token);
    let life = claims["exp"]
        .as_i64()
        .map(|exp| exp - claims["iat"].as_i64().unwrap());
    (life, token)
}

#[tokio::test]
async fn c03_the_system_layer_lies_under_the_reseller_and_alone_under_a_reseller_account() {
    let app = TestApp::spawn().await;
    let master = app.superduper().await;
    let reseller = app.account(Some(&master), true).await;
    let middle = app.account(Some(&reseller), false).await;
    let leaf = app.account(Some(&middle), false).await;
    app.store_config(&master, user_module(json!({"enabled": false})))
        .await;
    let r = json!({"token_auth_expiry_s": 86400, "log_successful_attempts": false});
    app.store_config(&reseller, user_module(r)).await;
    app.store_config(&middle, user_module(json!({}))).await;
    app.store_config(&leaf, user_module(json!({"log_successful_attempts": true})))
        .await;

    let system = user_module(json!({"token_auth_expiry_s": 3600}));
    with_crossbar_auth(&app, system, || async {
        assert_eq!(lifetime(&app, &leaf).await.0, Some(86400));
        let successes = app.attempts(&leaf, app.now()).await;
        assert_eq!(successes.len(), 1, "{successes:?}");
        assert_eq!(successes[0]["status"], "success");

        app.set_reseller(&leaf, true).await;
        assert_eq!(lifetime(&app, &leaf).await.0, Some(3600));
        set_crossbar_auth(&app, user_module(json!({"token_auth_expiry_s": 5400}))).await;
        assert_eq!(lifetime(&app, &leaf).await.0, Some(5400));
        assert_eq!(app.attempts(&leaf, app.now()).await.len(), 3);
    })
    .await;
}

#[tokio::test]
async fn system_module_settings_apply_only_where_no_closer_layer_speaks() {
    let app = TestApp::spawn().await;
    let root = app.account(None, true).await;
    let quiet = app.account(Some(&root), true).await;
    let speaking = app.account(Some(&root), true).await;
    let child = app.account(Some(&speaking), false).await;
    let api_on = json!({"auth_modules": {"cb_api_auth": {"enabled": true}}});
    app.store_config(&speaking, api_on).await;

    let system = json!({"auth_modules": {"cb_api_auth": {"enabled": false}}});
    with_crossbar_auth(&app, system, || async {
        assert_eq!(app.api_auth(&quiet).await.status, 401);
        assert_eq!(app.api_auth(&speaking).await.status, 201);
        assert_eq!(app.api_auth(&child).await.status, 201);
    })
    .await;
}

#[tokio::test]
async fn c13_a_module_expiry_of_zero_or_less_uses_the_system_expiry() {
    let app = TestApp::spawn_with(Clock::fixed(JAN_15_2024)).await;
    let t = app.tree().await;
    with_crossbar_auth(&app, json!({"token_auth_expiry_s": 7200}), || async {
        for expiry in [0, -5] {
            app.store_config(&t.leaf, user_module(json!({"token_auth_expiry_s": expiry})))
                .await;
            let (life, token) = lifetime(&app, &t.leaf).await;
            assert_eq!(life, Some(7200), "module expiry {expiry}");
            let answer = app.send("GET", "/v2/security", Some(&token), None).await;
            assert_eq!(answer.status, 200, "usable at once: {}", answer.body);
        }
        app.store_config(&t.leaf, user_module(json!({"token_auth_expiry_s": 600})))
            .await;
        assert_eq!(
            lifetime(&app, &t.leaf).await.0,
            Some(600),
            "a positive module wins"
        );
    })
    .await;
}

#[tokio::test]
async fn c13_with_a_system_expiry_of_zero_too_the_token_has_no_exp() {
    let app = TestApp::spawn_with(Clock::fixed(JAN_15_2024)).await;
    let t = app.tree().await;
    with_crossbar_auth(&app, json!({"token_auth_expiry_s": 0}), || async {
        for expiry in [0, -5] {
            app.store_config(&t.leaf, user_module(json!({"token_auth_expiry_s": expiry})))
                .await;
            let (life, token) = lifetime(&app, &t.leaf).await;
            assert_eq!(life, None, "module expiry {expiry}: {}", claims(&token));
            app.state.clock.advance(10 * 365 * 86400);
            let answer = app.send("GET", "/v2/security", Some(&token), None).await;
            assert_eq!(answer.status, 200, "{}", answer.body);
        }
    })
    .await;
}

async fn modules_listed(app: &TestApp, token: &str) -> Value {
    let answer = app.send("GET", "/v2/security", Some(token), None).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let data = &answer.body["data"];
    assert_eq!(
        data["available_auth_modules"],
        data["available_auth_methods"]
    );
    data["available_auth_modules"].clone()
}

#[tokio::test]
async fn c15_get_v2_security_lists_the_configured_modules_under_both_keys() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let configured = json!(["cb_user_auth", "cb_api_auth"]);
    let sections = [
        json!({"available_auth_modules": configured}),
        json!({"available_auth_methods": configured}),
        json!({"available_auth_modules": configured, "available_auth_methods": ["cb_auth"]}),
    ];
    for section in sections {
        with_crossbar_auth(&app, section.clone(), || async {
            assert_eq!(
                modules_listed(&app, &t.token).await,
                configured,
                "{section}"
            );
        })
        .await;
    }
    let unusable = [json!([""]), json!([1, "cb_auth"]), json!("cb_user_auth")];
    for list in unusable {
        with_crossbar_auth(&app, json!({"available_auth_modules": list}), || async {
            assert_eq!(modules_listed(&app, &t.token).await, json!(DEFAULT_MODULES));
        })
        .await;
    }
}

/// The built-in defaults (api.md, layer 1) as `GET` shows them, `_read_only` included.
fn built_in_defaults() -> Value {
    let provider = json!({"name": "Default System Provider", "provider_name": "duo"});
    let mut modules = serde_json::Map::new();
    for module in DEFAULT_MODULES {
        let settings = json!({"enabled": true, "token_auth_expiry_s": 3600,
            "log_failed_attempts": true, "log_successful_attempts": module == "cb_user_auth",
            "multi_factor": {"enabled": false, "_read_only": provider}});
        modules.insert(module.to_string(), settings);
    }
    json!({"auth_modules": modules})
}

#[tokio::test]
async fn c04_a_reseller_inherits_the_built_in_defaults_under_the_system_config() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let (_, token) = app.admin(&t.reseller).await;
    let root_config = json!({"auth_modules": {"cb_ip_auth": {"enabled": false}}});
    app.store_config(&t.root, root_config).await;
    let own = json!({"auth_modules": {"cb_user_auth": {"token_auth_expiry_s": 600}}});
    app.store_config(&t.reseller, own.clone()).await;

    with_crossbar_auth(&app, json!({}), || async {
        let read = app
            .send("GET", &t.reseller.security(), Some(&token), None)
            .await;
        assert_eq!(read.status, 200, "{}", read.body);
        assert_eq!(read.body["data"]["inherited_config"], built_in_defaults());
        assert_eq!(read.body["data"]["account"], own);

        let system = json!({"auth_modules": {"cb_api_auth": {"enabled": false},
            "cb_user_auth": {"token_auth_expiry_s": 1800, "lockout": {"enabled": false}}}});
        set_crossbar_auth(&app, system).await;
        let mut expected = built_in_defaults();
        expected["auth_modules"]["cb_api_auth"]["enabled"] = json!(false);
        let user = &mut expected["auth_modules"]["cb_user_auth"];
        user["token_auth_expiry_s"] = json!(1800);
        user["lockout"] = json!({"enabled": false});
        let read = app
            .send("GET", &t.reseller.security(), Some(&token), None)
            .await;
        assert_eq!(read.body["data"]["inherited_config"], expected);
    })
    .await;
}

/// The master account gets its second factor even from a provider its config borrows from
/// another account without `include_subaccounts` (auth.md, "MFA applies").
#[tokio::test]
async fn multi_factor_always_applies_to_the_master_account() {
    let app = TestApp::spawn().await;
    let _lock = SYSTEM_CONFIG_LOCK.lock().await;
    let master = app.account(None, true).await;
    let other = app.account(None, true).await;
    let provider = app.provider(&other, "Borrowed Duo").await;
    let mfa = json!({"enabled": true, "account_id": other.id, "configuration_id": provider});
    app.store_config(&master, user_module(json!({"multi_factor": mfa})))
        .await;
    let user = app.user(&master, false).await;
    let before_master = app.user_auth(&master, &user).await.status;

    let saved = app.couch().get("system_config", "accounts").await.unwrap();
    let mut doc = saved
        .clone()
        .unwrap_or_else(|| json!({"_id": "accounts", "default": {}}));
    doc["default"]["master_account_id"] = json!(master.id);
    app.couch().put("system_config", &doc).await.unwrap();
    let as_master = app.user_auth(&master, &user).await;

    let current = app
        .couch()
        .get("system_config", "accounts")
        .await
        .unwrap()
        .unwrap();
    let rev = current["_rev"].as_str().unwrap().to_string();
    match saved {
        Some(mut original) => {
            original["_rev"] = json!(rev);
            app.couch().put("system_config", &original).await.unwrap();
        }
        None => {
            app.couch()
                .delete("system_config", "accounts", &rev)
                .await
                .unwrap();
        }
    }

    assert_eq!(
        before_master, 201,
        "another account's provider, not shared: no second factor"
    );
    assert_eq!(as_master.status, 401, "{}", as_master.body);
    assert!(
        as_master.body["data"]["multi_factor_request"].is_object(),
        "{}",
        as_master.body
    );
}

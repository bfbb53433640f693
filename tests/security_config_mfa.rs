//! Multi-factor settings in a security config: the `_read_only` provider names, and the
//! check that a referenced provider is in the caller's tree (auth.md).

mod common;

use common::{Answer, TestApp, Tree, assert_validation, public};
use serde_json::{Value, json};

const DEFAULT_PROVIDER: &str = r#"{"name": "Default System Provider", "provider_name": "duo"}"#;

fn default_provider() -> Value {
    serde_json::from_str(DEFAULT_PROVIDER).unwrap()
}

/// `{"auth_modules": {"cb_user_auth": {"multi_factor": mfa}}}`.
fn with_mfa(mfa: Value) -> Value {
    json!({"auth_modules": {"cb_user_auth": {"multi_factor": mfa}}})
}

async fn post_as(app: &TestApp, token: &str, t: &Tree, data: Value) -> Answer {
    let body = json!({ "data": data });
    app.send("POST", &t.leaf.security(), Some(token), Some(body))
        .await
}

fn reference(account_id: &str, configuration_id: &str) -> Value {
    json!({"enabled": true, "account_id": account_id, "configuration_id": configuration_id})
}

#[tokio::test]
async fn multi_factor_without_a_provider_shows_the_default_system_provider() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let answer = post_as(&app, &t.token, &t, with_mfa(json!({"enabled": false}))).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let mfa = &answer.body["data"]["auth_modules"]["cb_user_auth"]["multi_factor"];
    assert_eq!(mfa["_read_only"], default_provider());

    let doc = app.config_doc(&t.leaf).await.unwrap();
    assert_eq!(public(&doc), with_mfa(json!({"enabled": false})));

    let read = app
        .send("GET", &t.leaf.security(), Some(&t.token), None)
        .await;
    let own = &read.body["data"]["account"]["auth_modules"]["cb_user_auth"];
    assert_eq!(own["multi_factor"]["_read_only"], default_provider());
    let inherited = &read.body["data"]["inherited_config"]["auth_modules"];
    for module in common::DEFAULT_MODULES {
        let mfa = &inherited[module]["multi_factor"];
        assert_eq!(mfa["_read_only"], default_provider(), "{module}");
        assert_eq!(mfa["enabled"], false, "{module}");
    }
}

#[tokio::test]
async fn a_referenced_provider_names_itself_in_read_only() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let provider = app.provider(&t.leaf, "Leaf Duo").await;
    let data = with_mfa(reference(&t.leaf.id, &provider));
    let answer = post_as(&app, &t.token, &t, data.clone()).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let names = json!({"name": "Leaf Duo", "provider_name": "duo"});
    let mfa = &answer.body["data"]["auth_modules"]["cb_user_auth"]["multi_factor"];
    assert_eq!(mfa["_read_only"], names);

    let doc = app.config_doc(&t.leaf).await.unwrap();
    assert_eq!(public(&doc), data, "_read_only is never stored");
    let read = app
        .send("GET", &t.leaf.security(), Some(&t.token), None)
        .await;
    let own = &read.body["data"]["account"]["auth_modules"]["cb_user_auth"];
    assert_eq!(own["multi_factor"]["_read_only"], names);
}

#[tokio::test]
async fn sending_read_only_back_is_refused_like_any_unknown_multi_factor_key() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let echoed = with_mfa(json!({"enabled": false, "_read_only": default_provider()}));
    let answer = post_as(&app, &t.token, &t, echoed).await;
    let path = "auth_modules.cb_user_auth.multi_factor._read_only";
    assert_validation(&answer, "validation error", path, "additionalProperties");
    assert!(app.config_doc(&t.leaf).await.is_none());
}

#[tokio::test]
async fn a_configuration_id_without_an_account_id_is_required_to_have_one() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let provider = app.provider(&t.leaf, "Leaf Duo").await;
    let data = with_mfa(json!({"enabled": true, "configuration_id": provider}));
    let answer = post_as(&app, &t.token, &t, data).await;
    let path = "auth_modules.cb_user_auth.multi_factor.account_id";
    assert_validation(&answer, "validation failed", path, "required");
    assert_eq!(
        answer.body["data"][path]["required"]["message"],
        "setting multi-factor configuration_id needs setting account_id"
    );
    assert!(app.config_doc(&t.leaf).await.is_none());
}

#[tokio::test]
async fn a_provider_of_an_unrelated_account_is_forbidden() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let stranger = app.account(None, true).await;
    let provider = app.provider(&stranger, "Their Duo").await;
    let data = with_mfa(json!({"enabled": true, "account_id": stranger.id,
        "configuration_id": provider, "include_subaccounts": true}));
    let answer = post_as(&app, &t.token, &t, data).await;
    let path = "auth_modules.cb_user_auth.multi_factor.account_id";
    assert_validation(&answer, "validation failed", path, "forbidden");
    assert_eq!(
        answer.body["data"][path]["forbidden"]["message"],
        format!(
            "multi-factor account_id {} is not in your account tree",
            stranger.id
        )
    );
    assert!(app.config_doc(&t.leaf).await.is_none());
}

#[tokio::test]
async fn a_provider_of_the_callers_own_account_or_a_descendant_is_allowed() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let own = app.provider(&t.leaf, "Own Duo").await;
    let answer = post_as(&app, &t.token, &t, with_mfa(reference(&t.leaf.id, &own))).await;
    assert_eq!(answer.status, 200, "{}", answer.body);

    let child = app.account(Some(&t.leaf), false).await;
    let below = app.provider(&child, "Child Duo").await;
    let data = with_mfa(reference(&child.id, &below));
    let answer = post_as(&app, &t.token, &t, data.clone()).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(public(&app.config_doc(&t.leaf).await.unwrap()), data);
}

#[tokio::test]
async fn an_ancestors_provider_is_allowed_only_with_include_subaccounts_true() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let provider = app.provider(&t.reseller, "Reseller Duo").await;
    let path = "auth_modules.cb_user_auth.multi_factor.account_id";
    for include in [None, Some(false)] {
        let mut mfa = reference(&t.reseller.id, &provider);
        if let Some(include) = include {
            mfa["include_subaccounts"] = json!(include);
        }
        let answer = post_as(&app, &t.token, &t, with_mfa(mfa)).await;
        assert_validation(&answer, "validation failed", path, "forbidden");
    }
    assert!(app.config_doc(&t.leaf).await.is_none());

    let mut mfa = reference(&t.reseller.id, &provider);
    mfa["include_subaccounts"] = json!(true);
    let answer = post_as(&app, &t.token, &t, with_mfa(mfa)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let read = answer.body["data"]["auth_modules"]["cb_user_auth"]["multi_factor"].clone();
    assert_eq!(read["_read_only"]["name"], "Reseller Duo");
}

#[tokio::test]
async fn a_missing_provider_or_one_of_another_kind_is_not_found() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let oauth = app.provider_of_type(&t.leaf, "OAuth", "oauth").await;
    let user = app.user(&t.leaf, false).await;
    let path = "auth_modules.cb_user_auth.multi_factor.configuration_id";
    for configuration_id in [
        "0123456789abcdef0123456789abcdef",
        oauth.as_str(),
        user.id.as_str(),
    ] {
        let data = with_mfa(reference(&t.leaf.id, configuration_id));
        let answer = post_as(&app, &t.token, &t, data).await;
        assert_validation(&answer, "validation failed", path, "not_found");
    }
    assert!(app.config_doc(&t.leaf).await.is_none());
}

#[tokio::test]
async fn a_soft_deleted_provider_is_not_found() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let provider = app.provider(&t.leaf, "Gone Duo").await;
    app.update_doc(&t.leaf.db(), &provider, |doc| {
        doc["pvt_deleted"] = json!(true)
    })
    .await;
    let answer = post_as(
        &app,
        &t.token,
        &t,
        with_mfa(reference(&t.leaf.id, &provider)),
    )
    .await;
    let path = "auth_modules.cb_user_auth.multi_factor.configuration_id";
    assert_validation(&answer, "validation failed", path, "not_found");
}

#[tokio::test]
async fn a_superduper_admin_may_reference_a_provider_anywhere() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let master = app.superduper().await;
    let (_, master_token) = app.admin(&master).await;
    let stranger = app.account(None, true).await;
    let provider = app.provider(&stranger, "Their Duo").await;
    let data = with_mfa(reference(&stranger.id, &provider));
    let answer = post_as(&app, &master_token, &t, data.clone()).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(public(&app.config_doc(&t.leaf).await.unwrap()), data);
}

#[tokio::test]
async fn patch_runs_the_multi_factor_check_too() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let stranger = app.account(None, true).await;
    let provider = app.provider(&stranger, "Their Duo").await;
    app.store_config(&t.leaf, json!({"foo": 1})).await;

    let body = json!({"data": with_mfa(reference(&stranger.id, &provider))});
    let answer = app
        .send("PATCH", &t.leaf.security(), Some(&t.token), Some(body))
        .await;
    let path = "auth_modules.cb_user_auth.multi_factor.account_id";
    assert_validation(&answer, "validation failed", path, "forbidden");
    assert_eq!(
        public(&app.config_doc(&t.leaf).await.unwrap()),
        json!({"foo": 1})
    );
}

#[tokio::test]
async fn the_tree_check_is_relative_to_the_caller_not_the_edited_account() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let (_, reseller_admin) = app.admin(&t.reseller).await;
    let provider = app.provider(&t.middle, "Middle Duo").await;
    let data = with_mfa(reference(&t.middle.id, &provider));

    let by_leaf = post_as(&app, &t.token, &t, data.clone()).await;
    let path = "auth_modules.cb_user_auth.multi_factor.account_id";
    assert_validation(&by_leaf, "validation failed", path, "forbidden");
    let by_reseller = post_as(&app, &reseller_admin, &t, data).await;
    assert_eq!(by_reseller.status, 200, "{}", by_reseller.body);
}

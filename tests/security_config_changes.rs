//! `PATCH` and `DELETE /v2/accounts/{A}/security`, the `verb` override, concurrent writers,
//! and how fast a change reaches the account's descendants.

mod common;

use common::{Acct, Answer, TestApp, Tree, claims, public};
use serde_json::{Value, json};

async fn post(app: &TestApp, t: &Tree, data: Value) -> Answer {
    let body = json!({ "data": data });
    app.send("POST", &t.leaf.security(), Some(&t.token), Some(body))
        .await
}

async fn patch(app: &TestApp, t: &Tree, data: Value) -> Answer {
    let body = json!({ "data": data });
    app.send("PATCH", &t.leaf.security(), Some(&t.token), Some(body))
        .await
}

/// The lifetime of a fresh user token of `acct`, in seconds.
async fn login_lifetime(app: &TestApp, acct: &Acct) -> i64 {
    let user = app.user(acct, false).await;
    let token = app.login(acct, &user).await;
    let claims = claims(&token);
    claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap()
}

#[tokio::test]
async fn patch_answers_the_whole_merged_public_part() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let stored = json!({"auth_modules": {"cb_user_auth": {"token_auth_expiry_s": 600}},
        "foo": 1});
    app.store_config(&t.leaf, stored).await;

    let change = json!({"auth_modules": {"cb_api_auth": {"enabled": false}}});
    let answer = patch(&app, &t, change).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let merged = json!({"auth_modules": {"cb_user_auth": {"token_auth_expiry_s": 600},
        "cb_api_auth": {"enabled": false}}, "foo": 1});
    let mut answered = merged.clone();
    answered["id"] = json!("configs_crossbar.auth");
    assert_eq!(answer.body["data"], answered);

    let doc = app.config_doc(&t.leaf).await.unwrap();
    assert_eq!(public(&doc), merged);
    assert_eq!(answer.body["revision"], doc["_rev"]);
}

#[tokio::test]
async fn patch_with_null_removes_the_override_and_the_inherited_value_applies_again() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let expiry = json!({"auth_modules": {"cb_user_auth": {"token_auth_expiry_s": 7200}}});
    app.store_config(&t.middle, expiry).await;
    let own = json!({"auth_modules": {"cb_user_auth":
        {"token_auth_expiry_s": 600, "log_failed_attempts": false}}});
    app.store_config(&t.leaf, own).await;
    assert_eq!(login_lifetime(&app, &t.leaf).await, 600);

    let change = json!({"auth_modules": {"cb_user_auth": {"token_auth_expiry_s": null}}});
    let answer = patch(&app, &t, change).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let left = json!({"auth_modules": {"cb_user_auth": {"log_failed_attempts": false}}});
    let doc = app.config_doc(&t.leaf).await.unwrap();
    assert_eq!(public(&doc), left);
    assert_eq!(login_lifetime(&app, &t.leaf).await, 7200);
}

#[tokio::test]
async fn patch_with_an_empty_object_replaces_the_stored_object() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let stored = json!({"auth_modules": {
        "cb_ip_auth": {"enabled": false, "token_auth_expiry_s": 600},
        "cb_api_auth": {"enabled": false}}});
    app.store_config(&t.leaf, stored).await;

    let answer = patch(&app, &t, json!({"auth_modules": {"cb_ip_auth": {}}})).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let expected = json!({"auth_modules": {"cb_ip_auth": {},
        "cb_api_auth": {"enabled": false}}});
    let doc = app.config_doc(&t.leaf).await.unwrap();
    assert_eq!(public(&doc), expected);
}

#[tokio::test]
async fn patch_creates_the_document_from_data_when_there_is_none() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let data = json!({"auth_modules": {"cb_ip_auth": {"enabled": false}}});
    let answer = patch(&app, &t, data.clone()).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let doc = app.config_doc(&t.leaf).await.expect("PATCH created it");
    assert_eq!(public(&doc), data);
    assert_eq!(doc["pvt_type"], "account_config");
}

#[tokio::test]
async fn patch_validates_the_merged_result_and_keeps_the_stored_one_on_failure() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let stored = json!({"auth_modules": {"cb_api_auth": {"enabled": false}}});
    app.store_config(&t.leaf, stored.clone()).await;

    let bad = json!({"auth_modules": {"cb_api_auth": {"log_failed_attempts": 3}}});
    let answer = patch(&app, &t, bad).await;
    let path = "auth_modules.cb_api_auth.log_failed_attempts";
    common::assert_validation(&answer, "validation error", path, "type");
    let doc = app.config_doc(&t.leaf).await.unwrap();
    assert_eq!(public(&doc), stored);
}

#[tokio::test]
async fn fifty_concurrent_patches_of_distinct_keys_all_survive() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    post(&app, &t, json!({"base": true})).await;

    let patches = (0..50).map(|i| patch(&app, &t, json!({ format!("k{i:02}"): i })));
    let answers = futures::future::join_all(patches).await;
    let refused: Vec<String> = answers
        .iter()
        .enumerate()
        .filter(|(_, a)| a.status != 200)
        .map(|(i, a)| format!("k{i:02}: {} {}", a.status, a.body["message"]))
        .collect();
    let doc = app.config_doc(&t.leaf).await.unwrap();
    let stored = public(&doc);
    let lost: Vec<usize> = (0..50)
        .filter(|i| answers[*i].status == 200 && stored[format!("k{i:02}")] != *i)
        .collect();
    assert!(lost.is_empty(), "answered 200 but not stored: {lost:?}");
    assert!(
        refused.is_empty(),
        "{} of 50 refused: {refused:?}",
        refused.len()
    );
    assert_eq!(stored["base"], true);
    for i in 0..50 {
        assert_eq!(stored[format!("k{i:02}")], i, "k{i:02} was lost: {stored}");
    }
    assert_eq!(stored.as_object().unwrap().len(), 51);
}

#[tokio::test]
async fn delete_answers_the_deleted_config_and_the_account_inherits_again() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let expiry = |s: i64| json!({"auth_modules": {"cb_user_auth": {"token_auth_expiry_s": s}}});
    app.store_config(&t.middle, expiry(7200)).await;
    app.store_config(&t.leaf, expiry(600)).await;
    let rev = app.config_doc(&t.leaf).await.unwrap()["_rev"].clone();

    let answer = app
        .send("DELETE", &t.leaf.security(), Some(&t.token), None)
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let mut deleted = expiry(600);
    deleted["id"] = json!("configs_crossbar.auth");
    deleted["_read_only"] = json!({"deleted": true});
    assert_eq!(answer.body["data"], deleted);
    assert_eq!(answer.body["revision"], rev);

    assert!(
        app.config_doc(&t.leaf).await.is_none(),
        "a real delete, not a soft one"
    );
    let read = app
        .send("GET", &t.leaf.security(), Some(&t.token), None)
        .await;
    assert_eq!(read.body["data"]["account"], json!({}));
    assert!(read.body.get("revision").is_none(), "{}", read.body);
    assert_eq!(login_lifetime(&app, &t.leaf).await, 7200);

    let again = app
        .send("DELETE", &t.leaf.security(), Some(&t.token), None)
        .await;
    assert_eq!(again.status, 404, "{}", again.body);
}

#[tokio::test]
async fn a_change_reaches_every_descendant_at_once() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let (_, middle_admin) = app.admin(&t.middle).await;
    let expiry = json!({"data": {"auth_modules": {"cb_user_auth": {"token_auth_expiry_s": 7200}}}});
    let posted = app
        .send(
            "POST",
            &t.middle.security(),
            Some(&middle_admin),
            Some(expiry),
        )
        .await;
    assert_eq!(posted.status, 200, "{}", posted.body);

    let read = app
        .send("GET", &t.leaf.security(), Some(&t.token), None)
        .await;
    let inherited = &read.body["data"]["inherited_config"]["auth_modules"];
    assert_eq!(inherited["cb_user_auth"]["token_auth_expiry_s"], 7200);
    assert_eq!(login_lifetime(&app, &t.leaf).await, 7200);

    let deleted = app
        .send("DELETE", &t.middle.security(), Some(&middle_admin), None)
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    let read = app
        .send("GET", &t.leaf.security(), Some(&t.token), None)
        .await;
    let inherited = &read.body["data"]["inherited_config"]["auth_modules"];
    assert_eq!(inherited["cb_user_auth"]["token_auth_expiry_s"], 3600);
    assert_eq!(login_lifetime(&app, &t.leaf).await, 3600);
}

#[tokio::test]
async fn a_post_with_a_patch_verb_merges_instead_of_replacing() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    post(&app, &t, json!({"a": 1})).await;

    let path = format!("{}?verb=PATCH", t.leaf.security());
    let by_query = app
        .send(
            "POST",
            &path,
            Some(&t.token),
            Some(json!({"data": {"b": 2}})),
        )
        .await;
    assert_eq!(by_query.status, 200, "{}", by_query.body);
    let by_body = json!({"data": {"c": 3}, "verb": "PATCH"});
    let answer = app
        .send("POST", &t.leaf.security(), Some(&t.token), Some(by_body))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);

    let stored = app.config_doc(&t.leaf).await.unwrap();
    assert_eq!(public(&stored), json!({"a": 1, "b": 2, "c": 3}));
}

#[tokio::test]
async fn a_post_with_a_delete_verb_deletes() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    post(&app, &t, json!({"a": 1})).await;
    let path = format!("{}?verb=delete", t.leaf.security());
    let answer = app.send("POST", &path, Some(&t.token), None).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["data"]["_read_only"], json!({"deleted": true}));
    assert!(app.config_doc(&t.leaf).await.is_none());
}

#[tokio::test]
async fn a_post_with_an_unknown_verb_is_a_405_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    post(&app, &t, json!({"a": 1})).await;
    let before = app.config_doc(&t.leaf).await.unwrap();

    let by_query = format!("{}?verb=PACTH", t.leaf.security());
    let answer = app
        .send("POST", &by_query, Some(&t.token), Some(json!({"data": {}})))
        .await;
    assert_eq!(answer.status, 405, "{}", answer.body);
    assert_eq!(answer.body["status"], "error");
    let by_body = json!({"data": {}, "verb": "fly"});
    let answer = app
        .send("POST", &t.leaf.security(), Some(&t.token), Some(by_body))
        .await;
    assert_eq!(answer.status, 405, "{}", answer.body);

    let after = app.config_doc(&t.leaf).await.unwrap();
    assert_eq!(after["_rev"], before["_rev"], "nothing was written");
}

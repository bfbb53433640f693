//! `GET`, `POST`, `PATCH` and `DELETE /v2/accounts/{A}/security`: what is stored, what is
//! answered, and the bad bodies of C05. Multi-factor references are in
//! `security_config_mfa.rs`, PATCH and DELETE in `security_config_changes.rs`, who may
//! call in `authorization.rs`.

mod common;

use common::{
    Acct, Answer, GREGORIAN_OFFSET, JAN_15_2024, TestApp, Tree, assert_validation, public,
};
use kazoo_security::state::Clock;
use serde_json::{Value, json};

async fn post(app: &TestApp, t: &Tree, data: Value) -> Answer {
    let body = json!({ "data": data });
    app.send("POST", &t.leaf.security(), Some(&t.token), Some(body))
        .await
}

async fn get(app: &TestApp, t: &Tree, acct: &Acct) -> Answer {
    app.send("GET", &acct.security(), Some(&t.token), None)
        .await
}

#[tokio::test]
async fn c02_a_partial_post_stores_only_what_was_sent() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let api_off = json!({"auth_modules": {"cb_api_auth": {"enabled": false}}});
    app.store_config(&t.reseller, api_off).await;

    let sent = json!({"auth_modules": {"cb_api_auth": {"token_auth_expiry_s": 600}}});
    let posted = post(&app, &t, sent.clone()).await;
    assert_eq!(posted.status, 200, "{}", posted.body);
    let mut answered = sent.clone();
    answered["id"] = json!("configs_crossbar.auth");
    assert_eq!(posted.body["data"], answered);

    let stored = app.config_doc(&t.leaf).await.expect("the config is stored");
    assert_eq!(public(&stored), sent);
    assert_eq!(posted.body["revision"], stored["_rev"]);

    let read = get(&app, &t, &t.leaf).await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(read.body["data"]["account"], sent);
    let inherited = &read.body["data"]["inherited_config"]["auth_modules"];
    assert_eq!(inherited["cb_api_auth"]["enabled"], false);
    assert_eq!(app.api_auth(&t.leaf).await.status, 401);
}

#[tokio::test]
async fn c02_posting_empty_data_stores_no_module_and_keeps_inheriting() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let parent = json!({"auth_modules": {"cb_user_auth": {"token_auth_expiry_s": 7200}}});
    app.store_config(&t.middle, parent).await;

    let posted = post(&app, &t, json!({})).await;
    assert_eq!(posted.status, 200, "{}", posted.body);
    assert_eq!(posted.body["data"], json!({"id": "configs_crossbar.auth"}));
    let stored = app.config_doc(&t.leaf).await.expect("the config is stored");
    assert_eq!(public(&stored), json!({}));

    let read = get(&app, &t, &t.leaf).await;
    assert_eq!(read.body["data"]["account"], json!({}));
    let user = &read.body["data"]["inherited_config"]["auth_modules"]["cb_user_auth"];
    assert_eq!(user["token_auth_expiry_s"], 7200);
    assert_eq!(user["enabled"], true);
}

#[tokio::test]
async fn c04_get_splits_the_own_config_from_the_inherited_one() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let expiry = |s: i64| json!({"auth_modules": {"cb_user_auth": {"token_auth_expiry_s": s}}});
    app.store_config(&t.middle, expiry(7200)).await;
    app.store_config(&t.leaf, expiry(600)).await;
    app.update_doc(&t.leaf.db(), "configs_crossbar.auth", |doc| {
        doc["id"] = json!("configs_crossbar.auth")
    })
    .await;

    let read = get(&app, &t, &t.leaf).await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(read.body["data"]["account"], expiry(600));
    let inherited = &read.body["data"]["inherited_config"]["auth_modules"];
    assert_eq!(inherited["cb_user_auth"]["token_auth_expiry_s"], 7200);
    for module in common::DEFAULT_MODULES {
        assert_eq!(inherited[module]["enabled"], true, "{module}");
    }
    let stored = app.config_doc(&t.leaf).await.unwrap();
    assert_eq!(read.body["revision"], stored["_rev"]);
}

#[tokio::test]
async fn c05_unknown_top_level_keys_are_kept() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let posted = post(&app, &t, json!({"foo": 1})).await;
    assert_eq!(posted.status, 200, "{}", posted.body);
    assert_eq!(posted.body["data"]["foo"], 1);
    let stored = app.config_doc(&t.leaf).await.unwrap();
    assert_eq!(public(&stored), json!({"foo": 1}));
}

#[tokio::test]
async fn c05_an_unknown_module_is_an_additional_property_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let answer = post(&app, &t, json!({"auth_modules": {"cb_foo_auth": {}}})).await;
    assert_validation(
        &answer,
        "validation error",
        "auth_modules.cb_foo_auth",
        "additionalProperties",
    );
    assert!(app.config_doc(&t.leaf).await.is_none());
}

#[tokio::test]
async fn c05_a_wrong_type_names_the_rule_target_and_value() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let bad = json!({"auth_modules": {"cb_user_auth": {"enabled": "yes"}}});
    let answer = post(&app, &t, bad).await;
    assert_validation(
        &answer,
        "validation error",
        "auth_modules.cb_user_auth.enabled",
        "type",
    );
    assert_eq!(
        answer.body["data"]["auth_modules.cb_user_auth.enabled"]["type"],
        json!({"message": "Value did not match type(s): boolean",
               "target": "boolean", "value": "yes"})
    );
    let expiry = json!({"auth_modules": {"cb_api_auth": {"token_auth_expiry_s": "soon"}}});
    let answer = post(&app, &t, expiry).await;
    assert_validation(
        &answer,
        "validation error",
        "auth_modules.cb_api_auth.token_auth_expiry_s",
        "type",
    );
    assert!(app.config_doc(&t.leaf).await.is_none());
}

#[tokio::test]
async fn c05_a_body_that_is_not_json_is_a_400_on_the_body() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let headers = [
        ("X-Auth-Token", t.token.as_str()),
        ("Content-Type", "application/json"),
    ];
    let answer = app
        .send_raw("POST", &t.leaf.security(), &headers, "{")
        .await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(answer.body["message"], "validation error");
    assert_eq!(answer.body["data"]["json"]["invalid"]["target"], "body");
    assert!(answer.body["data"]["json"]["invalid"]["message"].is_string());
}

#[tokio::test]
async fn c05_a_body_without_a_data_object_is_a_400_on_data() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let required = json!({"data": {"required": {"message": "Field is required but missing"}}});
    let bodies = [
        json!({"auth_modules": {}}),
        json!({"data": "auth_modules"}),
        json!({"data": [1]}),
        json!([{"data": {}}]),
    ];
    for body in bodies {
        let answer = app
            .send(
                "POST",
                &t.leaf.security(),
                Some(&t.token),
                Some(body.clone()),
            )
            .await;
        assert_eq!(answer.status, 400, "{body}: {}", answer.body);
        assert_eq!(answer.body["message"], "validation error", "{body}");
        assert_eq!(answer.body["data"], required, "{body}");
    }
    assert!(app.config_doc(&t.leaf).await.is_none());
}

#[tokio::test]
async fn c05_delete_without_a_config_is_a_bad_identifier() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let answer = app
        .send("DELETE", &t.leaf.security(), Some(&t.token), None)
        .await;
    assert_eq!(answer.status, 404, "{}", answer.body);
    assert_eq!(answer.body["error"], "404");
    assert_eq!(answer.body["message"], "bad_identifier");
    assert_eq!(
        answer.body["data"],
        json!({"message": "bad identifier",
               "cause": "account does not have customize auth configuration"})
    );
}

#[tokio::test]
async fn underscore_and_pvt_keys_of_a_request_are_dropped_before_validation() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let sent = json!({"_id": "elsewhere", "_rev": "9-x", "_read_only": {"a": 1},
        "pvt_type": "user", "pvt_account_id": "00000000000000000000000000000000",
        "pvt_anything": {"not": "a schema"}, "id": "other",
        "auth_modules": {"cb_user_auth": {"enabled": true}}});
    let posted = post(&app, &t, sent).await;
    assert_eq!(posted.status, 200, "{}", posted.body);
    let kept = json!({"auth_modules": {"cb_user_auth": {"enabled": true}}});
    let mut answered = kept.clone();
    answered["id"] = json!("configs_crossbar.auth");
    assert_eq!(posted.body["data"], answered);

    let stored = app.config_doc(&t.leaf).await.unwrap();
    assert_eq!(public(&stored), kept);
    assert_eq!(stored["pvt_type"], "account_config");
    assert_eq!(stored["pvt_account_id"], t.leaf.id);
    assert!(stored.get("pvt_anything").is_none() && stored.get("_read_only").is_none());
}

#[tokio::test]
async fn boolean_and_integer_strings_are_coerced_before_they_are_stored() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let sent = json!({"auth_modules": {"cb_user_auth": {"enabled": "true",
        "token_auth_expiry_s": "600", "log_failed_attempts": "false"}}, "note": "true"});
    let posted = post(&app, &t, sent).await;
    assert_eq!(posted.status, 200, "{}", posted.body);
    let stored = app.config_doc(&t.leaf).await.unwrap();
    let coerced = json!({"auth_modules": {"cb_user_auth": {"enabled": true,
        "token_auth_expiry_s": 600, "log_failed_attempts": false}}, "note": "true"});
    assert_eq!(public(&stored), coerced);
}

#[tokio::test]
async fn put_on_an_account_security_is_method_not_allowed() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let body = json!({"data": {"a": 1}});
    let answer = app
        .send("PUT", &t.leaf.security(), Some(&t.token), Some(body))
        .await;
    assert_eq!(answer.status, 405, "{}", answer.body);
    assert_eq!(answer.body["error"], "405");
    assert_eq!(answer.body["message"], "invalid_method");
    assert_eq!(
        answer.body["data"],
        json!({"message": "method not allowed"})
    );
    assert!(app.config_doc(&t.leaf).await.is_none());
}

#[tokio::test]
async fn an_unknown_path_under_security_is_not_found() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    for rest in ["/other", "/attempts/202401-x/more", "/config"] {
        let path = format!("{}{rest}", t.leaf.security());
        let answer = app.send("GET", &path, Some(&t.token), None).await;
        assert_eq!(answer.status, 404, "{path}: {}", answer.body);
        assert_eq!(answer.body["message"], "not_found", "{path}");
        assert_eq!(
            answer.body["data"],
            json!({"message": "not found"}),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_malformed_account_id_is_a_bad_identifier_naming_the_text() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let upper = t.leaf.id.to_uppercase();
    for text in ["abc", upper.as_str(), "0123456789abcdef0123456789abcdeg"] {
        let path = format!("/v2/accounts/{text}/security");
        let answer = app.send("GET", &path, Some(&t.token), None).await;
        assert_eq!(answer.status, 404, "{text}: {}", answer.body);
        assert_eq!(answer.body["message"], "bad_identifier", "{text}");
        assert_eq!(
            answer.body["data"],
            json!({"message": "bad identifier", "cause": text})
        );
    }
}

#[tokio::test]
async fn a_missing_or_soft_deleted_account_is_a_bad_identifier() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let missing = "0123456789abcdef0123456789abcdef";
    let path = format!("/v2/accounts/{missing}/security");
    let answer = app.send("GET", &path, Some(&t.token), None).await;
    assert_eq!(answer.status, 404, "{}", answer.body);
    assert_eq!(answer.body["data"]["cause"], missing);

    let child = app.account(Some(&t.leaf), false).await;
    app.update_account(&child, |doc| doc["pvt_deleted"] = json!(true))
        .await;
    let answer = get(&app, &t, &child).await;
    assert_eq!(answer.status, 404, "{}", answer.body);
    assert_eq!(answer.body["message"], "bad_identifier");
    assert_eq!(answer.body["data"]["cause"], child.id);
}

#[tokio::test]
async fn the_stored_document_carries_the_private_fields_kazoo_writes() {
    let app = TestApp::spawn_with(Clock::fixed(JAN_15_2024)).await;
    let t = app.tree().await;
    let (user, token) = app.admin(&t.middle).await;
    let body = json!({"data": {"auth_modules": {}}});
    let headers = [
        ("X-Auth-Token", token.as_str()),
        ("X-Request-ID", "req-0001"),
    ];
    let posted = app
        .send_with("POST", &t.leaf.security(), &headers, Some(body))
        .await;
    assert_eq!(posted.status, 200, "{}", posted.body);

    let doc = app.config_doc(&t.leaf).await.unwrap();
    let now = JAN_15_2024 + GREGORIAN_OFFSET;
    assert_eq!(doc["_id"], "configs_crossbar.auth");
    assert_eq!(doc["pvt_type"], "account_config");
    assert_eq!(doc["pvt_vsn"], "1");
    assert_eq!(doc["pvt_account_id"], t.leaf.id);
    let id = &t.leaf.id;
    let db = format!("account%2F{}%2F{}%2F{}", &id[..2], &id[2..4], &id[4..]);
    assert_eq!(doc["pvt_account_db"], db);
    assert_eq!(doc["pvt_created"], now);
    assert_eq!(doc["pvt_modified"], now);
    assert_eq!(doc["pvt_request_id"], "req-0001");
    assert_eq!(doc["pvt_is_authenticated"], true);
    assert_eq!(doc["pvt_auth_account_id"], t.middle.id);
    assert_eq!(doc["pvt_auth_user_id"], user.id);
    for absent in ["id", "pvt_node", "pvt_document_hash"] {
        assert!(doc.get(absent).is_none(), "{absent} stored: {doc}");
    }
}

#[tokio::test]
async fn a_later_save_keeps_pvt_created_and_kazoos_private_fields() {
    let app = TestApp::spawn_with(Clock::fixed(JAN_15_2024)).await;
    let t = app.tree().await;
    app.store_config(&t.leaf, json!({"old": true, "id": "configs_crossbar.auth"}))
        .await;
    app.update_doc(&t.leaf.db(), "configs_crossbar.auth", |doc| {
        doc["pvt_created"] = json!(63_800_000_000i64);
        doc["pvt_kazoo_only"] = json!("kept");
    })
    .await;
    app.state.clock.advance(90);

    let api = app.api_token(&t.leaf).await;
    let body = json!({"data": {"new": true}});
    let posted = app
        .send("POST", &t.leaf.security(), Some(&api), Some(body))
        .await;
    assert_eq!(posted.status, 200, "{}", posted.body);

    let doc = app.config_doc(&t.leaf).await.unwrap();
    assert_eq!(public(&doc), json!({"new": true}));
    assert_eq!(doc["pvt_created"], 63_800_000_000i64);
    assert_eq!(doc["pvt_modified"], JAN_15_2024 + 90 + GREGORIAN_OFFSET);
    assert_eq!(doc["pvt_kazoo_only"], "kept");
    assert_eq!(doc["pvt_auth_account_id"], t.leaf.id);
    assert!(doc.get("pvt_auth_user_id").is_none(), "{doc}");
    assert!(doc.get("id").is_none(), "{doc}");
}

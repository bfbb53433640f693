//! Multi-factor: provider configurations, Duo and TOTP at login, inheritance, failing closed.

mod common;

use common::{Acct, TestApp, User};
use kazoo_security::domain::duo::sign_value;
use kazoo_security::domain::totp;
use kazoo_security::state::Clock;
use serde_json::{Value, json};

const IKEY: &str = "DIABCDEFGHIJKLMNOPQR";
const SKEY: &str = "deadbeefdeadbeefdeadbeefdeadbeefdeadbeef";
const AKEY: &str = "0123456789abcdef0123456789abcdef01234567";
const NOW: i64 = 1_704_067_200;

fn duo_provider() -> Value {
    json!({"name": "Test Duo", "provider_name": "duo", "enabled": true, "settings": {
        "integration_key": IKEY, "secret_key": SKEY, "application_secret_key": AKEY,
        "api_hostname": "api-test.duo.example"}})
}

async fn create_provider(app: &TestApp, acct: &Acct, token: &str, body: Value) -> common::Answer {
    let path = format!("/v2/accounts/{}/multi_factor", acct.id);
    app.send("PUT", &path, Some(token), Some(json!({"data": body})))
        .await
}

/// An account whose `cb_user_auth` asks for the provider `body`, and a user of it.
async fn protected(app: &TestApp, body: Value) -> (Acct, User, String) {
    let acct = app.account(None, true).await;
    let token = app.api_token(&acct).await;
    let created = create_provider(app, &acct, &token, body).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let provider = created.body["data"]["id"].as_str().unwrap().to_string();
    let mfa = json!({"enabled": true, "account_id": acct.id, "configuration_id": provider});
    let config = json!({"data": {"auth_modules": {"cb_user_auth": {"multi_factor": mfa}}}});
    let saved = app
        .send("POST", &acct.security(), Some(&token), Some(config))
        .await;
    assert_eq!(saved.status, 200, "{}", saved.body);
    let user = app.user(&acct, false).await;
    (acct, user, provider)
}

async fn login_with(
    app: &TestApp,
    acct: &Acct,
    user: &User,
    response: Option<&str>,
) -> common::Answer {
    let mut data = json!({"credentials": user.md5(), "account_name": acct.name});
    if let Some(response) = response {
        data["multi_factor_response"] = json!(response);
    }
    app.send("PUT", "/v2/user_auth", None, Some(json!({"data": data})))
        .await
}

/// What Duo's frame hands back after the user approves: an AUTH value signed with the
/// secret key, and the APP half of the challenge unchanged.
fn duo_answer(challenge: &common::Answer, user: &str, expiry: i64) -> String {
    let request = challenge.body["data"]["multi_factor_request"]["settings"]["duo_sig_request"]
        .as_str()
        .unwrap();
    let app_part = request.split(':').nth(1).unwrap();
    format!(
        "{}:{app_part}",
        sign_value(SKEY, "AUTH", user, IKEY, expiry)
    )
}

#[tokio::test]
async fn providers_are_created_listed_read_masked_and_soft_deleted() {
    let app = TestApp::spawn().await;
    let acct = app.account(None, true).await;
    let token = app.api_token(&acct).await;
    let created = create_provider(&app, &acct, &token, duo_provider()).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["data"]["settings"]["secret_key"], "[redacted]");
    let id = created.body["data"]["id"].as_str().unwrap().to_string();

    let stored = app.couch().get(&acct.db(), &id).await.unwrap().unwrap();
    assert_eq!(stored["settings"]["secret_key"], SKEY);
    assert_eq!(stored["pvt_type"], "provider");
    assert_eq!(stored["pvt_provider_type"], "multi_factor");
    assert_eq!(stored["pvt_alphanum_name"], "testduo");

    let path = format!("/v2/accounts/{}/multi_factor", acct.id);
    let listed = app.send("GET", &path, Some(&token), None).await;
    assert_eq!(
        listed.body["data"],
        json!([{"id": id, "name": "Test Duo", "provider_name": "duo", "enabled": true}])
    );

    let one = format!("{path}/{id}");
    let read = app.send("GET", &one, Some(&token), None).await;
    assert_eq!(
        read.body["data"]["settings"]["application_secret_key"],
        "[redacted]"
    );

    // Sending back what a read showed keeps the stored secrets.
    let mut edited = read.body["data"].clone();
    edited["name"] = json!("Renamed");
    let replaced = app
        .send("POST", &one, Some(&token), Some(json!({"data": edited})))
        .await;
    assert_eq!(replaced.status, 200, "{}", replaced.body);
    let stored = app.couch().get(&acct.db(), &id).await.unwrap().unwrap();
    assert_eq!(
        (
            stored["name"].as_str(),
            stored["settings"]["secret_key"].as_str()
        ),
        (Some("Renamed"), Some(SKEY))
    );

    let deleted = app.send("DELETE", &one, Some(&token), None).await;
    assert_eq!(deleted.status, 200);
    let stored = app.couch().get(&acct.db(), &id).await.unwrap().unwrap();
    assert_eq!(stored["pvt_deleted"], true, "a soft delete, as Kazoo does");
    assert_eq!(app.send("GET", &one, Some(&token), None).await.status, 404);
    assert_eq!(
        app.send("GET", &path, Some(&token), None).await.body["data"],
        json!([])
    );
}

#[tokio::test]
async fn bad_provider_settings_are_named_and_plain_users_are_refused() {
    let app = TestApp::spawn().await;
    let acct = app.account(None, true).await;
    let token = app.api_token(&acct).await;
    let mut bad = duo_provider();
    bad["settings"]["integration_key"] = json!("short");
    bad["settings"]["api_hostname"] = json!("https://evil.example/x");
    let answer = create_provider(&app, &acct, &token, bad).await;
    assert_eq!(answer.status, 400);
    assert!(
        answer.body["data"]["settings.integration_key"].is_object(),
        "{}",
        answer.body
    );
    assert!(answer.body["data"]["settings.api_hostname"].is_object());
    let answer = create_provider(
        &app,
        &acct,
        &token,
        json!({"name": "x", "provider_name": "sms"}),
    )
    .await;
    assert!(answer.body["data"]["provider_name"]["enum"].is_object());

    let user = app.user(&acct, false).await;
    let user_token = app.login(&acct, &user).await;
    assert_eq!(
        create_provider(&app, &acct, &user_token, duo_provider())
            .await
            .status,
        403
    );
}

#[tokio::test]
async fn a_duo_login_is_challenged_then_verified() {
    let app = TestApp::spawn_with(Clock::fixed(NOW)).await;
    let (acct, user, _) = protected(&app, duo_provider()).await;

    let challenge = login_with(&app, &acct, &user, None).await;
    assert_eq!(challenge.status, 401);
    assert_eq!(challenge.body["message"], "invalid_credentials");
    let data = &challenge.body["data"];
    assert_eq!(
        data["message"],
        "client needs to preform second-factor authentication"
    );
    assert_eq!(data["multi_factor_request"]["provider_name"], "duo");
    assert_eq!(
        data["multi_factor_request"]["settings"]["duo_api_hostname"],
        "api-test.duo.example"
    );
    let request = data["multi_factor_request"]["settings"]["duo_sig_request"]
        .as_str()
        .unwrap();
    let expected_tx = sign_value(SKEY, "TX", &user.id, IKEY, NOW + 300);
    let expected_app = sign_value(AKEY, "APP", &user.id, IKEY, NOW + 3600);
    assert_eq!(request, format!("{expected_tx}:{expected_app}"));

    let answer = duo_answer(&challenge, &user.id, NOW + 300);
    let accepted = login_with(&app, &acct, &user, Some(&answer)).await;
    assert_eq!(accepted.status, 201, "{}", accepted.body);
    let docs = app.attempts(&acct, NOW).await;
    assert!(
        docs.iter()
            .any(|d| d["auth_type"] == "multi_factor" && d["status"] == "success")
    );

    let mut tampered = answer.clone().into_bytes();
    let at = tampered.iter().position(|b| *b == b':').unwrap() - 1;
    tampered[at] = if tampered[at] == b'0' { b'1' } else { b'0' };
    let tampered = String::from_utf8(tampered).unwrap();
    for bad in [
        tampered.as_str(),
        "TX|a|b:APP|c|d",
        "a:b:c",
        "AUTH|!!!|00:APP|x|y",
        "",
    ] {
        let refused = login_with(&app, &acct, &user, Some(bad)).await;
        assert_eq!(refused.status, 401, "{bad}");
        assert!(refused.body["data"]["message"].is_string());
    }
    let failed = app.attempts(&acct, NOW).await;
    assert!(
        failed
            .iter()
            .filter(|d| d["auth_type"] == "multi_factor" && d["status"] == "failed")
            .count()
            >= 4
    );

    app.state.clock.advance(301);
    let late = login_with(&app, &acct, &user, Some(&answer)).await;
    assert_eq!(late.status, 401, "an expired AUTH value is refused");
    assert_eq!(late.body["data"]["message"], "expired Duo response");
}

#[tokio::test]
async fn another_users_duo_answer_is_refused() {
    let app = TestApp::spawn_with(Clock::fixed(NOW)).await;
    let (acct, user, _) = protected(&app, duo_provider()).await;
    let challenge = login_with(&app, &acct, &user, None).await;
    let answer = duo_answer(&challenge, "someone-else", NOW + 300);
    assert_eq!(
        login_with(&app, &acct, &user, Some(&answer)).await.status,
        401
    );
}

#[tokio::test]
async fn sub_accounts_follow_include_subaccounts() {
    let app = TestApp::spawn_with(Clock::fixed(NOW)).await;
    let (parent, _, provider) = protected(&app, duo_provider()).await;
    let child = app.account(Some(&parent), false).await;
    let child_user = app.user(&child, false).await;
    assert_eq!(
        login_with(&app, &child, &child_user, None).await.status,
        201,
        "not shared with sub-accounts"
    );

    let token = app.api_token(&parent).await;
    let mfa = json!({"enabled": true, "account_id": parent.id, "configuration_id": provider,
                     "include_subaccounts": true});
    let body = json!({"data": {"auth_modules": {"cb_user_auth": {"multi_factor": mfa}}}});
    assert_eq!(
        app.send("POST", &parent.security(), Some(&token), Some(body))
            .await
            .status,
        200
    );
    let challenge = login_with(&app, &child, &child_user, None).await;
    assert_eq!(challenge.status, 401);
    assert!(challenge.body["data"]["multi_factor_request"].is_object());
}

#[tokio::test]
async fn missing_disabled_or_broken_providers_fail_closed() {
    let app = TestApp::spawn_with(Clock::fixed(NOW)).await;
    let (acct, user, provider) = protected(&app, duo_provider()).await;

    app.update_doc(&acct.db(), &provider, |doc| doc["enabled"] = json!(false))
        .await;
    let refused = login_with(&app, &acct, &user, None).await;
    assert_eq!(
        (refused.status, refused.body["data"]["message"].as_str()),
        (401, Some("multi-factor provider is disabled"))
    );

    app.update_doc(&acct.db(), &provider, |doc| {
        doc["enabled"] = json!(true);
        doc["settings"]["secret_key"] = json!("short");
    })
    .await;
    let refused = login_with(&app, &acct, &user, None).await;
    assert_eq!(
        refused.body["data"]["message"],
        "multi-factor provider settings are invalid"
    );

    app.update_doc(&acct.db(), &provider, |doc| {
        doc["pvt_deleted"] = json!(true)
    })
    .await;
    let refused = login_with(&app, &acct, &user, None).await;
    assert_eq!(
        refused.body["data"]["message"],
        "multi-factor provider configuration not found"
    );
    let failures = app.attempts(&acct, NOW).await;
    assert_eq!(
        failures
            .iter()
            .filter(|d| d["auth_type"] == "multi_factor")
            .count(),
        3
    );

    // The system default provider is seeded disabled: asking for MFA without naming one fails.
    let other = app.account(None, true).await;
    app.store_config(
        &other,
        json!({"auth_modules": {"cb_user_auth": {"multi_factor": {"enabled": true}}}}),
    )
    .await;
    let other_user = app.user(&other, false).await;
    let refused = login_with(&app, &other, &other_user, None).await;
    assert_eq!(refused.status, 401);
    assert_eq!(
        refused.body["data"]["message"],
        "multi-factor provider is disabled"
    );
}

#[tokio::test]
async fn api_key_logins_cannot_use_a_second_factor() {
    let app = TestApp::spawn().await;
    let acct = app.account(None, true).await;
    let token = app.api_token(&acct).await;
    let created = create_provider(&app, &acct, &token, duo_provider()).await;
    let provider = created.body["data"]["id"].as_str().unwrap();
    let mfa = json!({"enabled": true, "account_id": acct.id, "configuration_id": provider});
    app.store_config(
        &acct,
        json!({"auth_modules": {"cb_api_auth": {"multi_factor": mfa}}}),
    )
    .await;
    let refused = app.api_auth(&acct).await;
    assert_eq!(refused.status, 401);
    assert!(
        refused.body["data"]["message"]
            .as_str()
            .unwrap()
            .contains("needs a user")
    );
}

#[tokio::test]
async fn totp_codes_are_enrolled_accepted_once_and_never_stored_in_public() {
    let app = TestApp::spawn_with(Clock::fixed(NOW)).await;
    let provider = json!({"name": "Authenticator", "provider_name": "totp", "enabled": true,
                          "settings": {"issuer": "Kazoo Test"}});
    let (acct, user, _) = protected(&app, provider).await;

    let challenge = login_with(&app, &acct, &user, None).await;
    assert_eq!(challenge.status, 401);
    assert_eq!(
        challenge.body["data"]["message"],
        "user has not enrolled in TOTP"
    );

    let user_token = {
        let token = app.api_token(&acct).await;
        let path = format!(
            "/v2/accounts/{}/users/{}/multi_factor/totp",
            acct.id, user.id
        );
        let enrolled = app
            .send("PUT", &path, Some(&token), Some(json!({"data": {}})))
            .await;
        assert_eq!(enrolled.status, 200, "{}", enrolled.body);
        let uri = enrolled.body["data"]["otpauth_uri"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(uri.starts_with("otpauth://totp/Kazoo%20Test:"), "{uri}");
        uri
    };
    let stored = app
        .couch()
        .get(&acct.db(), &user.id)
        .await
        .unwrap()
        .unwrap();
    let secret = stored["pvt_totp_secret"].as_str().unwrap().to_string();
    assert!(user_token.contains(&secret));

    let challenge = login_with(&app, &acct, &user, None).await;
    assert_eq!(
        challenge.body["data"]["multi_factor_request"],
        json!({"provider_name": "totp", "settings": {}})
    );
    let code = totp::code_at(&secret, NOW, 6, 30).unwrap();
    assert_eq!(
        login_with(&app, &acct, &user, Some(&code)).await.status,
        201
    );
    let again = login_with(&app, &acct, &user, Some(&code)).await;
    assert_eq!(
        (again.status, again.body["data"]["message"].as_str()),
        (401, Some("code already used"))
    );
    let next = totp::code_at(&secret, NOW + 30, 6, 30).unwrap();
    assert_eq!(
        login_with(&app, &acct, &user, Some(&next)).await.status,
        201,
        "the next step's code"
    );
    assert_eq!(
        login_with(&app, &acct, &user, Some("12345")).await.status,
        401
    );
}

#[tokio::test]
async fn multi_factor_attempts_are_listed_on_their_own() {
    let app = TestApp::spawn_with(Clock::fixed(NOW)).await;
    let (acct, user, _) = protected(&app, duo_provider()).await;
    let challenge = login_with(&app, &acct, &user, None).await;
    let answer = duo_answer(&challenge, &user.id, NOW + 300);
    assert_eq!(
        login_with(&app, &acct, &user, Some(&answer)).await.status,
        201
    );
    let token = app.api_token(&acct).await;
    let path = format!("/v2/accounts/{}/multi_factor/attempts", acct.id);
    let listed = app.send("GET", &path, Some(&token), None).await;
    let rows = listed.body["data"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{}", listed.body);
    assert_eq!(rows[0]["auth_type"], "multi_factor");
    let all = app
        .send(
            "GET",
            &format!("/v2/accounts/{}/security/attempts", acct.id),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(
        all.body["data"].as_array().unwrap().len(),
        2,
        "the token's success too"
    );
}

#[tokio::test]
async fn superduper_admins_edit_the_system_provider_without_touching_its_hash() {
    let app = TestApp::spawn().await;
    let root = app.superduper().await;
    let token = app.api_token(&root).await;
    let read = app
        .send("GET", "/v2/multi_factor/duo", Some(&token), None)
        .await;
    assert_eq!(read.status, 200, "{}", read.body);
    let name = read.body["data"]["name"].clone();
    let body = json!({"data": {"name": "Renamed System Duo"}});
    let patched = app
        .send("PATCH", "/v2/multi_factor/duo", Some(&token), Some(body))
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    let stored = app
        .couch()
        .get("system_auth", "duo")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored["pvt_document_hash"],
        "0f968cb518a39f985dc0802db49613dc"
    );
    assert_eq!(stored["name"], "Renamed System Duo");
    let restore = json!({"data": {"name": name}});
    assert_eq!(
        app.send("PATCH", "/v2/multi_factor/duo", Some(&token), Some(restore))
            .await
            .status,
        200
    );

    let listed = app
        .send("GET", "/v2/multi_factor", Some(&token), None)
        .await;
    assert!(
        listed.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == "duo")
    );
    let plain = app.account(None, true).await;
    let plain_token = app.api_token(&plain).await;
    assert_eq!(
        app.send("GET", "/v2/multi_factor/duo", Some(&plain_token), None)
            .await
            .status,
        403
    );
}

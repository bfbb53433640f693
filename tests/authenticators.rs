//! `PUT /v2/user_auth`, `/v2/api_auth` and `/v2/ip_auth`: how each finds its account, what
//! the account's effective config changes, what is logged, and the 423 of a locked account.
//! Token contents and checks are in `tokens.rs`.

mod common;

use common::{Acct, Answer, GREGORIAN_OFFSET, JAN_15_2024, TestApp, User, claims};
use kazoo_security::state::Clock;
use serde_json::{Value, json};

async fn user_auth(app: &TestApp, data: Value) -> Answer {
    app.send("PUT", "/v2/user_auth", None, Some(json!({ "data": data })))
        .await
}

fn lifetime(answer: &Answer) -> Option<i64> {
    let claims = claims(answer.body["auth_token"].as_str().unwrap());
    Some(claims["exp"].as_i64()? - claims["iat"].as_i64().unwrap())
}

/// A random address in 198.18.0.0/15, so that parallel tests register different IPs.
fn random_ip() -> String {
    let id = kazoo_security::domain::ids::new_raw_id();
    let byte = |i: usize| u8::from_str_radix(&id[i..i + 2], 16).unwrap();
    format!("198.{}.{}.{}", 18 + byte(0) % 2, byte(2), 1 + byte(4) % 254)
}

/// The failed login attempts of `acct` in the month of `unix` (the tree's admin login
/// is a success there too).
async fn failed_attempts(app: &TestApp, acct: &Acct, unix: i64) -> Vec<Value> {
    let attempts = app.attempts(acct, unix).await;
    attempts
        .into_iter()
        .filter(|a| a["status"] == "failed")
        .collect()
}

async fn register_ip(app: &TestApp, acct: &Acct, ip: &str) {
    app.update_doc("accounts", &acct.id, |doc| {
        doc["ips"] = json!([{"ip": ip, "owner_id": ""}])
    })
    .await;
}

async fn ip_auth(app: &TestApp, ip: &str) -> Answer {
    let headers = [("X-Forwarded-For", ip)];
    app.send_with("PUT", "/v2/ip_auth", &headers, Some(json!({"data": {}})))
        .await
}

#[tokio::test]
async fn c01_a_disabled_api_module_refuses_the_key_and_logs_why() {
    let app = TestApp::spawn_with(Clock::fixed(JAN_15_2024)).await;
    let t = app.tree().await;
    let own = json!({"auth_modules": {"cb_api_auth": {"enabled": false},
        "cb_user_auth": {"token_auth_expiry_s": 600}}});
    app.store_config(&t.leaf, own).await;

    let answer = app.api_auth(&t.leaf).await;
    assert_eq!(answer.status, 401, "{}", answer.body);
    assert_eq!(answer.body["data"], json!({}));

    let attempts = failed_attempts(&app, &t.leaf, JAN_15_2024).await;
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    let attempt = &attempts[0];
    assert_eq!(attempt["auth_module"], "cb_api_auth");
    assert_eq!(attempt["auth_type"], "account_api_token");
    assert_eq!(
        attempt["message"],
        "authentication module cb_api_auth is disabled"
    );
    assert!(attempt["_id"].as_str().unwrap().starts_with("202401-"));
    assert!(!attempt.to_string().contains(&t.leaf.api_key));
    // Every 401 carries the envelope message of api.md's error table, as Kazoo's do.
    assert_eq!(answer.body["message"], "invalid_credentials");
}

#[tokio::test]
async fn c01_a_user_login_takes_its_expiry_from_the_accounts_own_config() {
    let app = TestApp::spawn_with(Clock::fixed(JAN_15_2024)).await;
    let t = app.tree().await;
    let own = json!({"auth_modules": {"cb_api_auth": {"enabled": false},
        "cb_user_auth": {"token_auth_expiry_s": 600}}});
    app.store_config(&t.leaf, own).await;
    let user = app.user(&t.leaf, false).await;

    let answer = app.user_auth(&t.leaf, &user).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    let token = claims(answer.body["auth_token"].as_str().unwrap());
    assert_eq!(token["exp"], JAN_15_2024 + 600);
}

#[tokio::test]
async fn c01_a_wrong_hash_is_a_401_and_one_failed_attempt_without_the_hash() {
    let app = TestApp::spawn_with(Clock::fixed(JAN_15_2024)).await;
    let t = app.tree().await;
    let wrong = "0123456789abcdef0123456789abcdef";
    let body = json!({"data": {"credentials": wrong, "account_name": t.leaf.name}});
    let headers = [
        ("Cookie", "session=s3cret"),
        ("Authorization", "Basic Zm9vOmJhcg=="),
    ];
    let answer = app
        .send_with("PUT", "/v2/user_auth", &headers, Some(body))
        .await;
    assert_eq!(answer.status, 401, "{}", answer.body);
    assert_eq!(answer.body["error"], "401");

    let attempts = failed_attempts(&app, &t.leaf, JAN_15_2024).await;
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    let attempt = &attempts[0];
    assert_eq!(attempt["auth_type"], "credentials");
    assert_eq!(attempt["auth_module"], "cb_user_auth");
    assert!(attempt["message"].as_str().unwrap().contains("127.0.0.1"));
    assert_eq!(attempt["client_ip"], "127.0.0.1");
    assert_eq!(attempt["crossbar_request_id"], answer.body["request_id"]);
    assert_eq!(attempt["timestamp"], JAN_15_2024 + GREGORIAN_OFFSET);
    assert_eq!(attempt["pvt_created"], attempt["timestamp"]);
    assert_eq!(attempt["client_headers"]["cookie"], "[redacted]");
    assert_eq!(attempt["client_headers"]["authorization"], "[redacted]");
    assert!(!attempt.to_string().contains(wrong), "the hash was stored");
}

#[tokio::test]
async fn c03_merge_order_empty_objects_and_the_reseller_boundary() {
    let app = TestApp::spawn().await;
    let master = app.superduper().await;
    let reseller = app.account(Some(&master), true).await;
    let middle = app.account(Some(&reseller), false).await;
    let leaf = app.account(Some(&middle), false).await;
    let module = |settings: Value| json!({"auth_modules": {"cb_user_auth": settings}});
    app.store_config(&master, module(json!({"enabled": false})))
        .await;
    let r = json!({"token_auth_expiry_s": 86400, "log_successful_attempts": false});
    app.store_config(&reseller, module(r)).await;
    app.store_config(&middle, module(json!({}))).await;
    app.store_config(&leaf, module(json!({"log_successful_attempts": true})))
        .await;
    let user = app.user(&leaf, false).await;

    let answer = app.user_auth(&leaf, &user).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    assert_eq!(lifetime(&answer), Some(86400));
    let attempts = app.attempts(&leaf, app.now()).await;
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    assert_eq!(attempts[0]["status"], "success");
    assert_eq!(attempts[0]["auth_type"], "jwt_auth_token");
    assert_eq!(
        attempts[0]["message"],
        "authentication resulted in token creation"
    );
    let metadata = json!({"owner_id": user.id, "account_id": leaf.id});
    assert_eq!(attempts[0]["metadata"], metadata);

    app.set_reseller(&leaf, true).await;
    let answer = app.user_auth(&leaf, &user).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    assert_eq!(
        lifetime(&answer),
        Some(3600),
        "the reseller's 86400 no longer applies"
    );
    assert_eq!(app.attempts(&leaf, app.now()).await.len(), 2);
}

#[tokio::test]
async fn user_auth_finds_the_account_by_name_realm_or_realm_alias() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let user = app.user(&t.leaf, false).await;
    let shouted = format!("  {}!! ", t.leaf.name.to_uppercase());
    let realm = t.leaf.realm.to_uppercase();
    let ways = [
        json!({"account_name": shouted}),
        json!({"account_realm": realm}),
        json!({"realm": realm}),
    ];
    for way in ways {
        let mut data = way.clone();
        data["credentials"] = json!(user.md5());
        let answer = user_auth(&app, data).await;
        assert_eq!(answer.status, 201, "{way}: {}", answer.body);
        assert_eq!(answer.body["data"]["account_id"], t.leaf.id, "{way}");
        assert_eq!(answer.body["data"]["owner_id"], user.id, "{way}");
    }
}

async fn assign_number(app: &TestApp, acct: &Acct, state: &str) -> String {
    let id = kazoo_security::domain::ids::new_raw_id();
    let digits: String = id.chars().filter(char::is_ascii_digit).take(6).collect();
    let number = format!("+14155{digits:0<6}");
    app.couch().create_db("numbers/+1415").await.unwrap();
    let doc = json!({"_id": number, "pvt_assigned_to": acct.id, "pvt_state": state,
        "pvt_type": "number", "pvt_module_name": "knm_local"});
    app.couch().put("numbers/+1415", &doc).await.unwrap();
    number
}

#[tokio::test]
async fn user_auth_finds_the_account_by_a_phone_number_in_service() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let user = app.user(&t.leaf, false).await;
    let number = assign_number(&app, &t.leaf, "in_service").await;
    let national = number.trim_start_matches("+1").to_string();
    for dialled in [number.clone(), national] {
        let data = json!({"credentials": user.md5(), "phone_number": dialled});
        let answer = user_auth(&app, data).await;
        assert_eq!(answer.status, 201, "{dialled}: {}", answer.body);
        assert_eq!(answer.body["data"]["account_id"], t.leaf.id);
    }

    let parked = assign_number(&app, &t.leaf, "available").await;
    let data = json!({"credentials": user.md5(), "phone_number": parked});
    assert_eq!(user_auth(&app, data).await.status, 401);
}

#[tokio::test]
async fn sha_credentials_log_in_with_method_sha_only() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let user = app.user(&t.leaf, false).await;
    let sha = json!({"credentials": user.sha1(), "method": "sha", "account_name": t.leaf.name});
    let answer = user_auth(&app, sha).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    assert_eq!(answer.body["data"]["owner_id"], user.id);

    let md5_as_sha = json!({"credentials": user.md5(), "method": "sha",
        "account_name": t.leaf.name});
    assert_eq!(user_auth(&app, md5_as_sha).await.status, 401);
    let sha_as_md5 = json!({"credentials": user.sha1(), "account_name": t.leaf.name});
    assert_eq!(user_auth(&app, sha_as_md5).await.status, 401);
}

#[tokio::test]
async fn wrong_credentials_or_an_unknown_account_are_401() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let user = app.user(&t.leaf, false).await;
    let other = app.user(&t.middle, false).await;
    let cases = [
        json!({"credentials": other.md5(), "account_name": t.leaf.name}),
        json!({"credentials": user.md5(), "account_name": t.middle.name}),
        json!({"credentials": user.md5(), "account_name": "No Such Account 9f3e1c"}),
        json!({"credentials": user.md5(), "account_realm": "nowhere.realm.test"}),
    ];
    for data in cases {
        let answer = user_auth(&app, data.clone()).await;
        assert_eq!(answer.status, 401, "{data}: {}", answer.body);
        assert_eq!(answer.body["message"], "invalid_credentials", "{data}");
    }
    let disabled = app.user(&t.leaf, false).await;
    app.update_doc(&t.leaf.db(), &disabled.id, |doc| {
        doc["enabled"] = json!(false)
    })
    .await;
    assert_eq!(app.user_auth(&t.leaf, &disabled).await.status, 401);
}

#[tokio::test]
async fn missing_credentials_or_account_identifier_are_400() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let user = app.user(&t.leaf, false).await;
    let answer = user_auth(&app, json!({"account_name": t.leaf.name})).await;
    common::assert_validation(&answer, "validation error", "credentials", "required");
    let answer = user_auth(&app, json!({"credentials": user.md5()})).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(answer.body["message"], "validation error");
    let answer = app.send("PUT", "/v2/user_auth", None, None).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
}

#[tokio::test]
async fn api_auth_refuses_an_unknown_key_and_rejects_a_key_of_the_wrong_length() {
    let app = TestApp::spawn().await;
    let unknown = "0".repeat(64);
    let body = json!({"data": {"api_key": unknown}});
    let answer = app.send("PUT", "/v2/api_auth", None, Some(body)).await;
    assert_eq!(answer.status, 401, "{}", answer.body);
    for bad in [json!("abc"), json!("0".repeat(65))] {
        let body = json!({"data": {"api_key": bad}});
        let answer = app.send("PUT", "/v2/api_auth", None, Some(body)).await;
        assert_eq!(answer.status, 400, "{bad}: {}", answer.body);
        assert_eq!(answer.body["message"], "validation error");
        assert!(
            answer.body["data"]["api_key"].is_object(),
            "{}",
            answer.body
        );
    }
}

#[tokio::test]
async fn ip_auth_logs_in_the_account_that_registered_the_client_ip() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let ip = random_ip();
    register_ip(&app, &t.leaf, &ip).await;

    let answer = ip_auth(&app, &ip).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    assert_eq!(answer.body["data"]["account_id"], t.leaf.id);
    assert_eq!(answer.body["data"]["method"], "cb_ip_auth");
    let token = claims(answer.body["auth_token"].as_str().unwrap());
    assert_eq!(token["method"], "cb_ip_auth");
    assert_eq!(token["account_id"], t.leaf.id);

    assert_eq!(ip_auth(&app, &random_ip()).await.status, 401);
}

#[tokio::test]
async fn ip_auth_obeys_the_accounts_own_config_and_logs_the_refusal() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let ip = random_ip();
    register_ip(&app, &t.leaf, &ip).await;
    let off = json!({"auth_modules": {"cb_ip_auth": {"enabled": false}}});
    app.store_config(&t.leaf, off).await;

    let answer = ip_auth(&app, &ip).await;
    assert_eq!(answer.status, 401, "{}", answer.body);
    let attempts = failed_attempts(&app, &t.leaf, app.now()).await;
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    assert_eq!(attempts[0]["auth_type"], "ip_auth");
    assert_eq!(attempts[0]["auth_module"], "cb_ip_auth");
    assert_eq!(attempts[0]["client_ip"], ip.as_str());
}

fn assert_locked(answer: &Answer, data: Value) {
    assert_eq!(answer.status, 423, "{}", answer.body);
    assert_eq!(answer.body["error"], "423");
    assert_eq!(answer.body["message"], "locked");
    assert_eq!(answer.body["data"], data);
}

#[tokio::test]
async fn a_disabled_account_is_locked_with_423() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let user = app.user(&t.leaf, false).await;
    let disabled = json!({"account": {"disabled": {"message": "account disabled"}}});
    for field in ["enabled", "pvt_enabled"] {
        app.update_account(&t.leaf, |doc| doc[field] = json!(false))
            .await;
        assert_locked(&app.user_auth(&t.leaf, &user).await, disabled.clone());
        assert_locked(&app.api_auth(&t.leaf).await, disabled.clone());
        app.update_account(&t.leaf, |doc| doc[field] = json!(true))
            .await;
    }
    assert_eq!(app.user_auth(&t.leaf, &user).await.status, 201);
}

#[tokio::test]
async fn an_expired_trial_is_locked_with_423_naming_the_expiry() {
    let app = TestApp::spawn_with(Clock::fixed(JAN_15_2024)).await;
    let t = app.tree().await;
    let user: User = app.user(&t.leaf, false).await;
    let now = JAN_15_2024 + GREGORIAN_OFFSET;
    app.update_account(&t.leaf, |doc| doc["pvt_trial_expires"] = json!(now + 60))
        .await;
    assert_eq!(app.user_auth(&t.leaf, &user).await.status, 201);

    app.state.clock.advance(60);
    let expired = json!({"account": {"expired": {"message": "account expired",
        "cause": now + 60}}});
    assert_locked(&app.user_auth(&t.leaf, &user).await, expired);
}

#[tokio::test]
async fn the_token_response_names_the_account_the_reseller_and_the_module() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let user = app.user(&t.leaf, false).await;
    let answer = app.user_auth(&t.leaf, &user).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    let expected = json!({"account_id": t.leaf.id, "owner_id": user.id,
        "account_name": t.leaf.name, "is_reseller": false, "reseller_id": t.reseller.id,
        "method": "cb_user_auth"});
    assert_eq!(answer.body["data"], expected);
    assert_eq!(answer.body["status"], "success");

    let answer = app.api_auth(&t.reseller).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    let expected = json!({"account_id": t.reseller.id, "account_name": t.reseller.name,
        "is_reseller": true, "reseller_id": t.root.id, "method": "cb_api_auth"});
    assert_eq!(answer.body["data"], expected);
}

#[tokio::test]
async fn a_user_without_an_identity_secret_gets_one_and_a_working_token() {
    let app = TestApp::spawn().await;
    let acct = app.account(None, true).await;
    let user = app.user(&acct, true).await;
    app.update_doc(&acct.db(), &user.id, |doc| {
        doc.as_object_mut().unwrap().remove("pvt_signature_secret");
    })
    .await;
    let token = app.login(&acct, &user).await;
    let stored = app
        .couch()
        .get(&acct.db(), &user.id)
        .await
        .unwrap()
        .unwrap();
    let secret = stored["pvt_signature_secret"]
        .as_str()
        .expect("a secret was created");
    assert_eq!(secret.len(), 32);
    assert_eq!(stored["username"], user.username, "only that field changed");
    let answer = app.send("GET", &acct.security(), Some(&token), None).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

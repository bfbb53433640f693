//! The tokens the authenticators issue, and the checks every later request makes of them
//! (auth.md "Tokens", storage.md §10, C13, C14).

mod common;

use common::{
    JAN_15_2024, TestApp, b64url, claims, expected_identity_sig, forge_jwt, hmac_sha256_b64url,
    jwt_header,
};
use kazoo_security::state::Clock;
use serde_json::{Value, json};

/// `GET /v2/security` with `token`: any valid token may read it.
async fn status_with(app: &TestApp, token: &str) -> u16 {
    app.send("GET", "/v2/security", Some(token), None)
        .await
        .status
}

fn user_expiry(seconds: Value) -> Value {
    json!({"auth_modules": {"cb_user_auth": {"token_auth_expiry_s": seconds}}})
}

#[tokio::test]
async fn a_user_token_carries_kazoos_claims_under_an_rs256_header() {
    let app = TestApp::spawn_with(Clock::fixed(JAN_15_2024)).await;
    let t = app.tree().await;
    let user = app.user(&t.leaf, false).await;
    let token = app.login(&t.leaf, &user).await;
    let (kid, system_secret) = app.auth_secrets().await;

    let header = jwt_header(&token);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], kid);
    let user_doc = app
        .couch()
        .get(&t.leaf.db(), &user.id)
        .await
        .unwrap()
        .unwrap();
    let secret = user_doc["pvt_signature_secret"].as_str().unwrap();
    let expected = json!({"iss": "kazoo", "account_id": t.leaf.id, "owner_id": user.id,
        "method": "cb_user_auth", "exp": JAN_15_2024 + 3600, "iat": JAN_15_2024,
        "identity_sig": expected_identity_sig(secret, &system_secret, &user.id)});
    let mut got = claims(&token);
    got.as_object_mut()
        .unwrap()
        .retain(|k, _| expected.get(k).is_some());
    assert_eq!(got, expected);
}

#[tokio::test]
async fn an_api_key_token_signs_the_accounts_identity_and_has_no_owner() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let token = app.api_token(&t.leaf).await;
    let (_, system_secret) = app.auth_secrets().await;
    let account = app
        .couch()
        .get(&t.leaf.db(), &t.leaf.id)
        .await
        .unwrap()
        .unwrap();
    let secret = account["pvt_signature_secret"].as_str().unwrap();

    let got = claims(&token);
    assert_eq!(got["method"], "cb_api_auth");
    assert_eq!(got["account_id"], t.leaf.id);
    assert!(got.get("owner_id").is_none(), "{got}");
    assert_eq!(
        got["identity_sig"],
        expected_identity_sig(secret, &system_secret, &t.leaf.id)
    );
}

#[tokio::test]
async fn c13_a_module_expiry_of_zero_or_less_falls_back_to_the_system_default() {
    let app = TestApp::spawn_with(Clock::fixed(JAN_15_2024)).await;
    let t = app.tree().await;
    let user = app.user(&t.leaf, false).await;
    for expiry in [0, -5] {
        app.store_config(&t.leaf, user_expiry(json!(expiry))).await;
        let token = app.login(&t.leaf, &user).await;
        assert_eq!(claims(&token)["exp"], JAN_15_2024 + 3600, "expiry {expiry}");
        assert_eq!(status_with(&app, &token).await, 200, "expiry {expiry}");
    }
}

#[tokio::test]
async fn c14_a_token_works_until_the_second_before_its_exp() {
    let app = TestApp::spawn_with(Clock::fixed(JAN_15_2024)).await;
    let t = app.tree().await;
    app.store_config(&t.leaf, user_expiry(json!(60))).await;
    let user = app.user(&t.leaf, false).await;
    let token = app.login(&t.leaf, &user).await;
    assert_eq!(claims(&token)["exp"], JAN_15_2024 + 60);

    app.state.clock.set(JAN_15_2024 + 59);
    assert_eq!(status_with(&app, &token).await, 200);
    app.state.clock.set(JAN_15_2024 + 60);
    let answer = app.send("GET", "/v2/security", Some(&token), None).await;
    assert_eq!(answer.status, 401, "{}", answer.body);
    assert_eq!(answer.body["message"], "invalid_credentials");
}

/// The header, payload and signature texts of a token.
fn parts(token: &str) -> (String, String, String) {
    let parts: Vec<&str> = token.split('.').collect();
    (parts[0].into(), parts[1].into(), parts[2].into())
}

#[tokio::test]
async fn c14_a_token_re_signed_with_alg_none_is_refused() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let (_, token) = app.admin(&t.leaf).await;
    let (_, _, signature) = parts(&token);
    let header = jwt_header(&token);
    let payload = claims(&token);
    for alg in ["none", "None", "NONE"] {
        let mut forged_header = header.clone();
        forged_header["alg"] = json!(alg);
        for sig in ["", signature.as_str()] {
            let forged = forge_jwt(&forged_header, &payload, sig);
            assert_eq!(
                status_with(&app, &forged).await,
                401,
                "alg {alg}, sig {sig:?}"
            );
        }
    }
    assert_eq!(status_with(&app, &token).await, 200);
}

/// The public key of the signing key, as PEM texts an attacker could find.
async fn public_key_pems(app: &TestApp, kid: &str) -> Vec<String> {
    use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPublicKey};
    use rsa::pkcs8::{EncodePublicKey, LineEnding};
    let pem = app
        .couch()
        .get_attachment("system_auth", kid, "private_key.pem")
        .await
        .unwrap()
        .expect("the signing key has its attachment");
    let private = rsa::RsaPrivateKey::from_pkcs1_pem(std::str::from_utf8(&pem).unwrap())
        .expect("a PKCS#1 key");
    let public = private.to_public_key();
    vec![
        public.to_public_key_pem(LineEnding::LF).unwrap(),
        public.to_pkcs1_pem(LineEnding::LF).unwrap(),
    ]
}

#[tokio::test]
async fn c14_a_token_re_signed_with_hs256_is_refused() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let (_, token) = app.admin(&t.leaf).await;
    let (kid, system_secret) = app.auth_secrets().await;
    let mut header = jwt_header(&token);
    header["alg"] = json!("HS256");
    let payload = claims(&token);
    let signing_input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(payload.to_string().as_bytes())
    );

    let mut keys = public_key_pems(&app, &kid).await;
    keys.extend([kid.clone(), system_secret, String::new()]);
    for key in keys {
        let sig = hmac_sha256_b64url(key.as_bytes(), signing_input.as_bytes());
        let forged = format!("{signing_input}.{sig}");
        assert_eq!(status_with(&app, &forged).await, 401, "HS256 key {key:?}");
    }
}

#[tokio::test]
async fn a_token_whose_claims_were_edited_is_refused() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let (_, token) = app.admin(&t.leaf).await;
    let (header, _, signature) = parts(&token);
    let mut payload = claims(&token);
    payload["exp"] = json!(payload["exp"].as_i64().unwrap() + 86400);
    let forged = format!(
        "{header}.{}.{signature}",
        b64url(payload.to_string().as_bytes())
    );
    assert_eq!(status_with(&app, &forged).await, 401);
}

#[tokio::test]
async fn c14_a_new_signature_secret_ends_the_users_older_tokens() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let user = app.user(&t.leaf, false).await;
    let old = app.login(&t.leaf, &user).await;
    assert_eq!(status_with(&app, &old).await, 200);

    let fresh = kazoo_security::domain::ids::new_raw_id();
    app.update_doc(&t.leaf.db(), &user.id, |doc| {
        doc["pvt_signature_secret"] = json!(fresh)
    })
    .await;
    assert_eq!(status_with(&app, &old).await, 401);
    let new = app.login(&t.leaf, &user).await;
    assert_eq!(status_with(&app, &new).await, 200);
}

#[tokio::test]
async fn c14_refresh_issues_a_cb_auth_token_unless_cb_auth_is_disabled() {
    let app = TestApp::spawn_with(Clock::fixed(JAN_15_2024)).await;
    let t = app.tree().await;
    let cb_auth = json!({"auth_modules": {"cb_auth": {"token_auth_expiry_s": 120}}});
    app.store_config(&t.leaf, cb_auth).await;
    let user = app.user(&t.leaf, false).await;
    let token = app.login(&t.leaf, &user).await;
    let refresh = json!({"data": {}, "action": "refresh_token"});

    let answer = app
        .send("PUT", "/v2/auth", Some(&token), Some(refresh.clone()))
        .await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    let fresh = claims(answer.body["auth_token"].as_str().unwrap());
    assert_eq!(fresh["method"], "cb_auth");
    assert_eq!(fresh["account_id"], t.leaf.id);
    assert_eq!(fresh["owner_id"], user.id);
    assert_eq!(fresh["exp"], JAN_15_2024 + 120);

    let off = json!({"auth_modules": {"cb_auth": {"enabled": false}}});
    app.store_config(&t.leaf, off).await;
    let answer = app
        .send("PUT", "/v2/auth", Some(&token), Some(refresh))
        .await;
    assert_eq!(answer.status, 401, "{}", answer.body);
    let attempts = app.attempts(&t.leaf, JAN_15_2024).await;
    let refused = attempts.iter().filter(|a| a["auth_module"] == "cb_auth");
    assert_eq!(refused.filter(|a| a["status"] == "failed").count(), 1);
}

#[tokio::test]
async fn a_token_is_refused_once_its_module_is_disabled_for_its_account() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let user = app.user(&t.leaf, false).await;
    let user_token = app.login(&t.leaf, &user).await;
    let key_token = app.api_token(&t.leaf).await;

    let off = json!({"data": {"auth_modules": {"cb_user_auth": {"enabled": false}}}});
    let answer = app
        .send("POST", &t.leaf.security(), Some(&key_token), Some(off))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(status_with(&app, &user_token).await, 401);
    assert_eq!(status_with(&app, &key_token).await, 200);
}

#[tokio::test]
async fn a_token_is_refused_once_its_account_is_disabled() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let user = app.user(&t.leaf, false).await;
    let token = app.login(&t.leaf, &user).await;
    app.update_account(&t.leaf, |doc| doc["enabled"] = json!(false))
        .await;
    assert_eq!(status_with(&app, &token).await, 401);
}

#[tokio::test]
async fn an_undefined_or_empty_token_on_user_auth_means_no_token() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let user = app.user(&t.leaf, false).await;
    let body = json!({"data": {"credentials": user.md5(), "account_name": t.leaf.name}});
    for value in ["undefined", ""] {
        let headers = [("X-Auth-Token", value)];
        let answer = app
            .send_with("PUT", "/v2/user_auth", &headers, Some(body.clone()))
            .await;
        assert_eq!(
            answer.status, 201,
            "X-Auth-Token {value:?}: {}",
            answer.body
        );
    }
}

#[tokio::test]
async fn a_token_is_accepted_from_bearer_query_and_body() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let (_, token) = app.admin(&t.leaf).await;
    let bearer = format!("Bearer {token}");
    let answer = app
        .send_with(
            "GET",
            &t.leaf.security(),
            &[("Authorization", &bearer)],
            None,
        )
        .await;
    assert_eq!(answer.status, 200, "Bearer: {}", answer.body);
    assert_eq!(answer.body["auth_token"], token.as_str());

    let path = format!("{}?auth_token={token}", t.leaf.security());
    let answer = app.send("GET", &path, None, None).await;
    assert_eq!(answer.status, 200, "query: {}", answer.body);

    let body = json!({"data": {"via": "body"}, "auth_token": token});
    let answer = app
        .send("PATCH", &t.leaf.security(), None, Some(body))
        .await;
    assert_eq!(answer.status, 200, "body: {}", answer.body);
    let doc = app.config_doc(&t.leaf).await.unwrap();
    assert_eq!(doc["via"], "body");
    assert!(doc.get("auth_token").is_none(), "{doc}");
}

//! Forged, altered and outlived tokens, each tried on a read and on writes: every one is a
//! 401 in the error envelope and changes nothing. tests/tokens.rs has the single-route
//! versions of `alg: none`, HS256 and an edited `exp`; this file extends them to writes and
//! adds the attacks it lacks.

mod common;

use common::{Acct, JAN_15_2024, TestApp, b64url, claims, forge_jwt, jwt_header, public};
use kazoo_security::domain::ids::new_raw_id;
use kazoo_security::state::Clock;
use rsa::RsaPrivateKey;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use serde_json::{Value, json};

/// RS256 over `header` and `claims` with `key`.
fn sign_rs256(key: &RsaPrivateKey, header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key.clone());
    format!(
        "{input}.{}",
        b64url(&signer.sign(input.as_bytes()).to_bytes())
    )
}

/// The service's own signing key, read from CouchDB: what Kazoo nodes sign with too.
async fn service_key(app: &TestApp) -> (String, RsaPrivateKey) {
    let (kid, _) = app.auth_secrets().await;
    let pem = app
        .couch()
        .get_attachment("system_auth", &kid, "private_key.pem")
        .await
        .unwrap()
        .expect("the signing key has its attachment");
    let key = RsaPrivateKey::from_pkcs1_pem(std::str::from_utf8(&pem).unwrap()).unwrap();
    (kid, key)
}

/// A key nobody registered.
fn foreign_key() -> RsaPrivateKey {
    RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap()
}

/// Asserts the 401 envelope of api.md.
fn assert_401(answer: &common::Answer, what: &str) {
    assert_eq!(answer.status, 401, "{what}: {}", answer.body);
    assert_eq!(answer.body["status"], "error", "{what}");
    assert_eq!(answer.body["error"], "401", "{what}");
    assert_eq!(answer.body["message"], "invalid_credentials", "{what}");
    assert_eq!(
        answer.body["data"],
        json!({"message": "invalid credentials"}),
        "{what}"
    );
}

/// Tries `token` on a read and on three writes of `acct`; every answer must be a 401, and
/// `acct`'s config (`{"kept": true}`) and providers must be unchanged afterwards.
async fn assert_refused_everywhere(app: &TestApp, acct: &Acct, token: &str, what: &str) {
    let providers = format!("/v2/accounts/{}/multi_factor", acct.id);
    let provider = json!({"data": {"name": "forged", "provider_name": "duo", "enabled": false}});
    let refresh = json!({"data": {}, "action": "refresh_token"});
    let change = json!({"data": {"kept": false}});
    let tries = [
        ("GET", acct.security(), None),
        ("PATCH", acct.security(), Some(change.clone())),
        ("POST", acct.security(), Some(change)),
        ("DELETE", acct.security(), None),
        ("PUT", providers.clone(), Some(provider)),
        ("PUT", "/v2/auth".to_string(), Some(refresh)),
        ("GET", "/v2/security".to_string(), None),
    ];
    for (method, path, body) in tries {
        let answer = app.send(method, &path, Some(token), body).await;
        assert_401(&answer, &format!("{what}: {method} {path}"));
        assert!(
            answer
                .body
                .get("auth_token")
                .is_none_or(|t| t == "" || t == token)
        );
    }
    let doc = app.config_doc(acct).await.expect("the config survived");
    assert_eq!(
        public(&doc),
        json!({"kept": true}),
        "{what} changed the config"
    );
    let kinds: Vec<Value> = app
        .all_docs(&acct.db())
        .await
        .into_iter()
        .filter(|d| d["pvt_type"] == "provider")
        .collect();
    assert!(kinds.is_empty(), "{what} created a provider: {kinds:?}");
}

/// An account with `{"kept": true}` as its config and an admin's valid token.
async fn target(app: &TestApp) -> (Acct, common::User, String) {
    let acct = app.account(None, true).await;
    let (user, token) = app.admin(&acct).await;
    app.store_config(&acct, json!({"kept": true})).await;
    let answer = app.send("GET", &acct.security(), Some(&token), None).await;
    assert_eq!(
        answer.status, 200,
        "the genuine token works: {}",
        answer.body
    );
    (acct, user, token)
}

fn signature_of(token: &str) -> String {
    token.rsplit('.').next().unwrap().to_string()
}

#[tokio::test]
async fn alg_none_and_hs256_are_refused_on_writes_too() {
    let app = TestApp::spawn().await;
    let (acct, _, token) = target(&app).await;
    let (header, payload) = (jwt_header(&token), claims(&token));
    let public_pem = {
        use rsa::pkcs8::{EncodePublicKey, LineEnding};
        let (_, key) = service_key(&app).await;
        key.to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap()
    };
    for alg in ["none", "HS256", "HS512", "ES256", "PS256", "rs256", ""] {
        let mut forged_header = header.clone();
        forged_header["alg"] = json!(alg);
        let input = format!(
            "{}.{}",
            b64url(forged_header.to_string().as_bytes()),
            b64url(payload.to_string().as_bytes())
        );
        let hmac = common::hmac_sha256_b64url(public_pem.as_bytes(), input.as_bytes());
        for sig in [String::new(), signature_of(&token), hmac] {
            let forged = format!("{input}.{sig}");
            assert_refused_everywhere(&app, &acct, &forged, &format!("alg {alg:?}")).await;
        }
    }
}

#[tokio::test]
async fn rs256_signed_with_a_foreign_key_is_refused_whatever_the_kid() {
    let app = TestApp::spawn().await;
    let (acct, _, token) = target(&app).await;
    let (kid, _) = app.auth_secrets().await;
    let foreign = foreign_key();
    let payload = claims(&token);
    for forged_kid in [json!(kid), json!(new_raw_id()), Value::Null] {
        let mut header = jwt_header(&token);
        header["kid"] = forged_kid.clone();
        let forged = sign_rs256(&foreign, &header, &payload);
        assert_refused_everywhere(
            &app,
            &acct,
            &forged,
            &format!("foreign key, kid {forged_kid}"),
        )
        .await;
    }
}

#[tokio::test]
async fn claims_edited_after_signing_are_refused() {
    let app = TestApp::spawn().await;
    let (acct, _, token) = target(&app).await;
    let other = app.account(None, true).await;
    let other_admin = app.user(&other, true).await;
    let (header, signature) = (jwt_header(&token), signature_of(&token));
    let edits: Vec<(&str, Value)> = vec![
        ("account_id", json!(other.id)),
        ("owner_id", json!(other_admin.id)),
        ("method", json!("cb_api_auth")),
        ("iss", json!("kazoo ")),
        ("identity_sig", Value::Null),
    ];
    for (claim, value) in edits {
        let mut payload = claims(&token);
        if value.is_null() {
            payload.as_object_mut().unwrap().remove(claim);
        } else {
            payload[claim] = value;
        }
        let forged = forge_jwt(&header, &payload, &signature);
        assert_refused_everywhere(&app, &acct, &forged, &format!("edited {claim}")).await;
        // The same edit against the other account, which the edit points at.
        app.store_config(&other, json!({"kept": true})).await;
        assert_refused_everywhere(&app, &other, &forged, &format!("edited {claim}, other")).await;
    }
}

#[tokio::test]
async fn an_expired_token_is_refused_on_reads_and_writes() {
    let app = TestApp::spawn_with(Clock::fixed(JAN_15_2024)).await;
    let (acct, _, token) = target(&app).await;
    app.state.clock.advance(3600);
    assert_refused_everywhere(&app, &acct, &token, "expired by a second").await;
    app.state.clock.advance(86400 * 365);
    assert_refused_everywhere(&app, &acct, &token, "expired a year ago").await;
}

#[tokio::test]
async fn an_unknown_kid_is_refused_and_nothing_is_created_for_it() {
    let app = TestApp::spawn().await;
    let (acct, _, token) = target(&app).await;
    let (_, key) = service_key(&app).await;
    let ids = |docs: Vec<Value>| -> Vec<String> {
        let mut ids: Vec<String> = docs
            .iter()
            .map(|d| d["_id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    let before = ids(app.all_docs("system_auth").await);
    let unknown = new_raw_id();
    let kids = [
        json!(unknown),
        json!("duo"),
        json!("_design/providers"),
        json!(".."),
        json!("../system_config/auth"),
        json!("%2E%2E"),
        json!("\u{0}"),
        json!("k".repeat(3000)),
        json!(42),
        json!(["a"]),
    ];
    for kid in &kids {
        let mut header = jwt_header(&token);
        header["kid"] = kid.clone();
        // Signed with the real key: only the kid is wrong.
        let forged = sign_rs256(&key, &header, &claims(&token));
        let what = format!("kid {}", &kid.to_string()[..kid.to_string().len().min(40)]);
        assert_refused_everywhere(&app, &acct, &forged, &what).await;
    }
    assert!(
        app.couch()
            .get("system_auth", &unknown)
            .await
            .unwrap()
            .is_none()
    );
    let after = ids(app.all_docs("system_auth").await);
    assert_eq!(before, after, "documents appeared in system_auth");
}

#[tokio::test]
async fn a_token_from_another_issuer_is_refused_even_when_signed_with_the_right_key() {
    let app = TestApp::spawn().await;
    let (acct, _, token) = target(&app).await;
    let (_, key) = service_key(&app).await;
    let header = jwt_header(&token);
    for iss in [
        json!("evil"),
        json!("Kazoo"),
        json!(""),
        json!(null),
        json!(["kazoo"]),
    ] {
        let mut payload = claims(&token);
        if iss.is_null() {
            payload.as_object_mut().unwrap().remove("iss");
        } else {
            payload["iss"] = iss.clone();
        }
        let forged = sign_rs256(&key, &header, &payload);
        assert_refused_everywhere(&app, &acct, &forged, &format!("iss {iss}")).await;
    }
    // Control: the same signer with Kazoo's issuer is accepted, so the refusals above are
    // about the issuer alone.
    let genuine = sign_rs256(&key, &header, &claims(&token));
    let answer = app
        .send("GET", &acct.security(), Some(&genuine), None)
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[tokio::test]
async fn claims_naming_nobody_are_refused_even_when_signed_with_the_right_key() {
    let app = TestApp::spawn().await;
    let (acct, user, token) = target(&app).await;
    let (_, key) = service_key(&app).await;
    let header = jwt_header(&token);
    let edits = [
        ("account_id", json!(new_raw_id())),
        ("account_id", json!(format!("../{}", acct.id))),
        ("account_id", json!(acct.id.to_uppercase())),
        ("account_id", json!(null)),
        ("owner_id", json!(new_raw_id())),
        ("owner_id", json!(format!("{}/..", user.id))),
        ("owner_id", json!(acct.id)),
        ("identity_sig", json!("")),
        ("identity_sig", json!("AAAA")),
        ("exp", json!("9999999999")),
        ("exp", json!(1)),
    ];
    for (claim, value) in edits {
        let mut payload = claims(&token);
        payload[claim] = value.clone();
        if value.is_null() {
            payload.as_object_mut().unwrap().remove(claim);
        }
        let forged = sign_rs256(&key, &header, &payload);
        assert_refused_everywhere(&app, &acct, &forged, &format!("{claim} = {value}")).await;
    }
}

#[tokio::test]
async fn a_deleted_users_token_is_refused() {
    let app = TestApp::spawn().await;
    let (acct, user, token) = target(&app).await;
    app.update_doc(&acct.db(), &user.id, |doc| doc["pvt_deleted"] = json!(true))
        .await;
    assert_refused_everywhere(&app, &acct, &token, "soft-deleted user").await;

    let other = app.user(&acct, true).await;
    let other_token = app.login(&acct, &other).await;
    let doc = app
        .couch()
        .get(&acct.db(), &other.id)
        .await
        .unwrap()
        .unwrap();
    let rev = doc["_rev"].as_str().unwrap();
    app.couch()
        .delete(&acct.db(), &other.id, rev)
        .await
        .unwrap();
    assert_refused_everywhere(&app, &acct, &other_token, "deleted user").await;
}

#[tokio::test]
async fn tokens_of_a_deleted_disabled_or_expired_account_are_refused() {
    let app = TestApp::spawn_with(Clock::fixed(JAN_15_2024)).await;
    let cases: [(&str, Value); 4] = [
        ("soft-deleted", json!({"pvt_deleted": true})),
        ("disabled", json!({"enabled": false})),
        ("pvt-disabled", json!({"pvt_enabled": false})),
        (
            "trial over",
            json!({"pvt_trial_expires": JAN_15_2024 + 62_167_219_200 + 10}),
        ),
    ];
    for (what, change) in cases {
        let (acct, _, user_token) = target(&app).await;
        let key_token = app.api_token(&acct).await;
        app.update_account(&acct, |doc| {
            for (k, v) in change.as_object().unwrap() {
                doc[k] = v.clone();
            }
        })
        .await;
        app.state.clock.advance(20);
        for (kind, token) in [("user", &user_token), ("api key", &key_token)] {
            let answer = app.send("GET", "/v2/security", Some(token), None).await;
            assert_401(&answer, &format!("{what} account, {kind} token"));
            let change = json!({"data": {"kept": false}});
            let answer = app
                .send("PATCH", &acct.security(), Some(token), Some(change))
                .await;
            assert_401(&answer, &format!("{what} account, {kind} token, write"));
            let refresh = json!({"data": {}, "action": "refresh_token"});
            let answer = app
                .send("PUT", "/v2/auth", Some(token), Some(refresh))
                .await;
            assert_401(&answer, &format!("{what} account, {kind} token, refresh"));
        }
        let doc = app.config_doc(&acct).await.unwrap();
        assert_eq!(public(&doc), json!({"kept": true}), "{what}");
    }

    // A hard-deleted account database copy: the token names nobody.
    let (acct, _, token) = target(&app).await;
    let doc = app
        .couch()
        .get(&acct.db(), &acct.id)
        .await
        .unwrap()
        .unwrap();
    let rev = doc["_rev"].as_str().unwrap();
    app.couch().delete(&acct.db(), &acct.id, rev).await.unwrap();
    let answer = app.send("GET", "/v2/security", Some(&token), None).await;
    assert_401(&answer, "deleted account");
}

#[tokio::test]
async fn a_token_issued_before_a_password_change_is_refused() {
    let app = TestApp::spawn().await;
    let (acct, user, old) = target(&app).await;
    // What Kazoo writes on a password change: both hashes and a new identity secret.
    let password = "a-new-password";
    let md5 = {
        use md5::Digest;
        hex::encode(md5::Md5::digest(format!("{}:{password}", user.username)))
    };
    let sha1 = {
        use sha1::Digest;
        hex::encode(sha1::Sha1::digest(format!("{}:{password}", user.username)))
    };
    app.update_doc(&acct.db(), &user.id, |doc| {
        doc["pvt_md5_auth"] = json!(md5);
        doc["pvt_sha1_auth"] = json!(sha1);
        doc["pvt_signature_secret"] = json!(new_raw_id());
    })
    .await;
    assert_refused_everywhere(&app, &acct, &old, "token before the password change").await;

    let old_login = app.user_auth(&acct, &user).await;
    assert_401(&old_login, "the old password");
    let body = json!({"data": {"credentials": md5, "account_name": acct.name}});
    let answer = app.send("PUT", "/v2/user_auth", None, Some(body)).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    let new = answer.body["auth_token"].as_str().unwrap();
    let answer = app.send("GET", &acct.security(), Some(new), None).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

//! `setup` and `seed` against the real CouchDB-compatible server.

mod common;

use common::TestApp;
use kazoo_security::cli::{seed, setup};
use serde_json::json;

#[tokio::test]
async fn setup_creates_only_what_is_missing_and_keeps_the_seeded_duo_hash() {
    let app = TestApp::spawn().await;
    let store = &app.state.store;
    let again = setup::run(store, app.now()).await.unwrap();
    assert_eq!(again, "setup: nothing was missing");

    let duo = app
        .couch()
        .get("system_auth", "duo")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(duo["pvt_document_hash"], "0f968cb518a39f985dc0802db49613dc");
    assert_eq!(duo["enabled"], false);
    assert_eq!(duo["pvt_provider_type"], "multi_factor");
    let auth = app
        .couch()
        .get("system_config", "auth")
        .await
        .unwrap()
        .unwrap();
    let kid = auth["default"]["system_key"].as_str().unwrap();
    let pem = store
        .private_key_pem(kid)
        .await
        .unwrap()
        .expect("the key has its attachment");
    assert!(
        String::from_utf8(pem)
            .unwrap()
            .starts_with("-----BEGIN RSA PRIVATE KEY-----")
    );
    assert_eq!(
        auth["default"]["secret_for_user_signature"]
            .as_str()
            .unwrap()
            .len(),
        32
    );
}

#[tokio::test]
async fn seeding_the_demo_twice_writes_nothing_the_second_time_and_its_users_log_in() {
    let app = TestApp::spawn().await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo");
    seed::run(&app.state.store, &dir).await.unwrap();
    let second = seed::run(&app.state.store, &dir).await.unwrap();
    assert!(second.starts_with("seed: 0 documents written"), "{second}");

    // ops@copperline of Copperline Voice, whose config sets 5400 s.
    let body = json!({"data": {"credentials": "bd952b3ef7c3deb3a3262798115c405d",
                               "account_name": "Copperline Voice"}});
    let answer = app.send("PUT", "/v2/user_auth", None, Some(body)).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    let claims = common::claims(answer.body["auth_token"].as_str().unwrap());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        5400
    );
    assert_eq!(answer.body["data"]["is_reseller"], true);
    assert_eq!(
        answer.body["data"]["reseller_id"],
        "0d1c678f5cb1c4e04cab2066f0b4adbe"
    );

    // The sub-account SS has no services document: its reseller is computed as R1.
    let body = json!({"data": {"credentials": "f3aeef58b5958f04df57b6a2c60ef311",
                               "account_name": "Ortega Café (Uptown)"}});
    let answer = app.send("PUT", "/v2/user_auth", None, Some(body)).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    assert_eq!(
        answer.body["data"]["reseller_id"],
        "28504c0453a482f7a2f3e6f8ae598ef4"
    );
    assert_eq!(answer.body["data"]["is_reseller"], false);

    // S disables cb_api_auth, and SS inherits that.
    let key = "1ae3054fcee77ec08527ac2514fd0aa5d8ef83b51f75d8b1eb7629f8105fd1cd";
    let answer = app
        .send(
            "PUT",
            "/v2/api_auth",
            None,
            Some(json!({"data": {"api_key": key}})),
        )
        .await;
    assert_eq!(answer.status, 401);
}

//! The cache's promises (api.md, "Caching and consistency"), checked without timing anything
//! but the TTL itself.

mod common;

use common::TestApp;
use kazoo_security::state::Clock;
use serde_json::json;

/// What `child` inherits as `cb_user_auth.token_auth_expiry_s`, read through the service.
async fn inherited_expiry(app: &TestApp, child: &common::Acct, token: &str) -> serde_json::Value {
    expiry_of(&app.send("GET", &child.security(), Some(token), None).await)
}

/// Changes `parent`'s config the way Kazoo would: straight in CouchDB.
async fn write_expiry_out_of_band(app: &TestApp, parent: &common::Acct, expiry: i64) {
    let config = json!({"auth_modules": {"cb_user_auth": {"token_auth_expiry_s": expiry}}});
    app.store_config(parent, config).await;
}

fn expiry_of(answer: &common::Answer) -> serde_json::Value {
    answer.body["data"]["inherited_config"]["auth_modules"]["cb_user_auth"]["token_auth_expiry_s"]
        .clone()
}

async fn cached_app(ttl: &str) -> TestApp {
    TestApp::spawn_configured(Clock::system(), &[("CONFIG_CACHE_TTL", ttl)]).await
}

#[tokio::test]
async fn a_parents_change_is_seen_by_a_cached_descendant_at_once() {
    let app = cached_app("300").await;
    let parent = app.account(None, true).await;
    let child = app.account(Some(&parent), false).await;
    let token = app.api_token(&parent).await;
    assert_eq!(
        expiry_of(&app.send("GET", &child.security(), Some(&token), None).await),
        3600
    );

    let body = json!({"data": {"auth_modules": {"cb_user_auth": {"token_auth_expiry_s": 1200}}}});
    assert_eq!(
        app.send("PATCH", &parent.security(), Some(&token), Some(body))
            .await
            .status,
        200
    );
    assert_eq!(
        expiry_of(&app.send("GET", &child.security(), Some(&token), None).await),
        1200
    );

    assert_eq!(
        app.send("DELETE", &parent.security(), Some(&token), None)
            .await
            .status,
        200
    );
    assert_eq!(
        expiry_of(&app.send("GET", &child.security(), Some(&token), None).await),
        3600
    );
}

#[tokio::test]
async fn an_out_of_band_change_is_seen_within_the_ttl() {
    let app = cached_app("1").await;
    let parent = app.account(None, true).await;
    let child = app.account(Some(&parent), false).await;
    let token = app.api_token(&parent).await;
    assert_eq!(inherited_expiry(&app, &child, &token).await, 3600);

    write_expiry_out_of_band(&app, &parent, 900).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(inherited_expiry(&app, &child, &token).await, 900);
}

#[tokio::test]
async fn a_zero_ttl_sees_out_of_band_changes_immediately() {
    let app = TestApp::spawn().await;
    let parent = app.account(None, true).await;
    let child = app.account(Some(&parent), false).await;
    let token = app.api_token(&parent).await;
    assert_eq!(inherited_expiry(&app, &child, &token).await, 3600);

    write_expiry_out_of_band(&app, &parent, 700).await;
    assert_eq!(inherited_expiry(&app, &child, &token).await, 700);
}

#[tokio::test]
async fn disabling_a_module_through_the_service_ends_its_cached_tokens_at_once() {
    let app = cached_app("300").await;
    let acct = app.account(None, true).await;
    let admin = app.user(&acct, true).await;
    let user_token = app.login(&acct, &admin).await;
    let api_token = app.api_token(&acct).await;
    assert_eq!(
        app.send("GET", &acct.security(), Some(&user_token), None)
            .await
            .status,
        200
    );

    let body = json!({"data": {"auth_modules": {"cb_user_auth": {"enabled": false}}}});
    assert_eq!(
        app.send("PATCH", &acct.security(), Some(&api_token), Some(body))
            .await
            .status,
        200
    );
    assert_eq!(
        app.send("GET", &acct.security(), Some(&user_token), None)
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn concurrent_misses_cost_what_one_request_costs() {
    // Tokens come from another instance, so that both measured instances start cold.
    let issuer = TestApp::spawn().await;
    let (one, many) = (
        issuer.account(None, true).await,
        issuer.account(None, true).await,
    );
    let (one_token, many_token) = (issuer.api_token(&one).await, issuer.api_token(&many).await);

    let single = cached_app("300").await;
    let before = single.couch().request_count();
    assert_eq!(
        single
            .send("GET", &one.security(), Some(&one_token), None)
            .await
            .status,
        200
    );
    let cost_of_one = single.couch().request_count() - before;

    let crowd = std::sync::Arc::new(cached_app("300").await);
    let before = crowd.couch().request_count();
    let requests: Vec<_> = (0..50)
        .map(|_| {
            let (crowd, path, token) = (crowd.clone(), many.security(), many_token.clone());
            tokio::spawn(async move { crowd.send("GET", &path, Some(&token), None).await.status })
        })
        .collect();
    for request in requests {
        assert_eq!(request.await.unwrap(), 200);
    }
    let cost_of_fifty = crowd.couch().request_count() - before;
    assert!(cost_of_one > 0);
    assert!(
        cost_of_fifty <= cost_of_one,
        "50 concurrent cold requests made {cost_of_fifty} CouchDB requests, one made {cost_of_one}"
    );
}

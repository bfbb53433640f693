//! Who may use `/v2/accounts/{A}/security*` and `/v2/security`: the deliberate difference
//! from Kazoo 4.3 (README), and the order of checks (api.md).

mod common;

use common::{Acct, Answer, DEFAULT_MODULES, TestApp, public};
use serde_json::json;

/// master (super-duper) → reseller → middle → target → child; a sibling of the target
/// under middle; and a stranger, root of another tree.
struct Family {
    master: Acct,
    reseller: Acct,
    middle: Acct,
    target: Acct,
    child: Acct,
    sibling: Acct,
    stranger: Acct,
}

async fn family(app: &TestApp) -> Family {
    let master = app.superduper().await;
    let reseller = app.account(Some(&master), true).await;
    let middle = app.account(Some(&reseller), false).await;
    let target = app.account(Some(&middle), false).await;
    let child = app.account(Some(&target), false).await;
    let sibling = app.account(Some(&middle), false).await;
    let stranger = app.account(None, true).await;
    Family {
        master,
        reseller,
        middle,
        target,
        child,
        sibling,
        stranger,
    }
}

/// GET, POST, PATCH and DELETE on the target's config, in that order, with `token`.
async fn use_every_method(app: &TestApp, acct: &Acct, token: &str) -> Vec<Answer> {
    let path = acct.security();
    let body = json!({"data": {"marker": 1}});
    vec![
        app.send("GET", &path, Some(token), None).await,
        app.send("POST", &path, Some(token), Some(body.clone()))
            .await,
        app.send("PATCH", &path, Some(token), Some(body)).await,
        app.send("DELETE", &path, Some(token), None).await,
    ]
}

async fn assert_allowed(app: &TestApp, acct: &Acct, token: &str, who: &str) {
    for answer in use_every_method(app, acct, token).await {
        assert_eq!(answer.status, 200, "{who}: {}", answer.body);
    }
}

fn assert_forbidden(answer: &Answer, who: &str) {
    assert_eq!(answer.status, 403, "{who}: {}", answer.body);
    assert_eq!(answer.body["error"], "403", "{who}");
    assert_eq!(answer.body["message"], "forbidden", "{who}");
    assert_eq!(
        answer.body["data"],
        json!({"message": "forbidden"}),
        "{who}"
    );
}

async fn assert_refused(app: &TestApp, acct: &Acct, token: &str, who: &str) {
    app.store_config(acct, json!({"kept": true})).await;
    for answer in use_every_method(app, acct, token).await {
        assert_forbidden(&answer, who);
    }
    let doc = app.config_doc(acct).await.expect("nothing was deleted");
    assert_eq!(
        public(&doc),
        json!({"kept": true}),
        "{who} changed the config"
    );
}

fn assert_unauthenticated(answer: &Answer, what: &str) {
    assert_eq!(answer.status, 401, "{what}: {}", answer.body);
    assert_eq!(answer.body["error"], "401", "{what}");
    assert_eq!(answer.body["message"], "invalid_credentials", "{what}");
    assert_eq!(
        answer.body["data"],
        json!({"message": "invalid credentials"}),
        "{what}"
    );
}

#[tokio::test]
async fn a_superduper_admin_may_use_the_security_routes_of_any_account() {
    let app = TestApp::spawn().await;
    let f = family(&app).await;
    let (_, token) = app.admin(&f.master).await;
    assert_allowed(&app, &f.target, &token, "super-duper admin").await;
    assert_allowed(&app, &f.stranger, &token, "super-duper admin, other tree").await;
}

#[tokio::test]
async fn an_admin_of_the_account_may_use_its_security_routes() {
    let app = TestApp::spawn().await;
    let f = family(&app).await;
    let (_, token) = app.admin(&f.target).await;
    assert_allowed(&app, &f.target, &token, "own admin").await;
}

#[tokio::test]
async fn an_admin_of_any_ancestor_may_use_the_security_routes() {
    let app = TestApp::spawn().await;
    let f = family(&app).await;
    for ancestor in [&f.reseller, &f.middle] {
        let (_, token) = app.admin(ancestor).await;
        assert_allowed(&app, &f.target, &token, "ancestor admin").await;
    }
}

#[tokio::test]
async fn an_api_key_token_counts_as_an_admin_of_its_account() {
    let app = TestApp::spawn().await;
    let f = family(&app).await;
    let own = app.api_token(&f.target).await;
    assert_allowed(&app, &f.target, &own, "own API key").await;
    let ancestor = app.api_token(&f.reseller).await;
    assert_allowed(&app, &f.target, &ancestor, "ancestor API key").await;
}

#[tokio::test]
async fn a_plain_user_of_the_account_is_forbidden() {
    let app = TestApp::spawn().await;
    let f = family(&app).await;
    let user = app.user(&f.target, false).await;
    let token = app.login(&f.target, &user).await;
    assert_refused(&app, &f.target, &token, "plain user").await;
}

#[tokio::test]
async fn an_admin_of_a_sibling_is_forbidden() {
    let app = TestApp::spawn().await;
    let f = family(&app).await;
    let (_, token) = app.admin(&f.sibling).await;
    assert_refused(&app, &f.target, &token, "sibling admin").await;
    let key = app.api_token(&f.sibling).await;
    assert_refused(&app, &f.target, &key, "sibling API key").await;
}

#[tokio::test]
async fn an_admin_of_a_descendant_is_forbidden() {
    let app = TestApp::spawn().await;
    let f = family(&app).await;
    let (_, token) = app.admin(&f.child).await;
    assert_refused(&app, &f.target, &token, "descendant admin").await;
}

#[tokio::test]
async fn an_admin_of_an_unrelated_tree_is_forbidden() {
    let app = TestApp::spawn().await;
    let f = family(&app).await;
    let (_, token) = app.admin(&f.stranger).await;
    assert_refused(&app, &f.target, &token, "stranger admin").await;
    let key = app.api_token(&f.stranger).await;
    assert_refused(&app, &f.target, &key, "stranger API key").await;
}

#[tokio::test]
async fn a_plain_user_of_the_superduper_account_is_not_a_superduper_admin() {
    let app = TestApp::spawn().await;
    let f = family(&app).await;
    let user = app.user(&f.master, false).await;
    let token = app.login(&f.master, &user).await;
    assert_refused(&app, &f.target, &token, "plain user of the master").await;
}

#[tokio::test]
async fn a_request_without_a_token_is_unauthenticated() {
    let app = TestApp::spawn().await;
    let f = family(&app).await;
    let path = f.target.security();
    assert_unauthenticated(&app.send("GET", &path, None, None).await, "no token");
    for empty in ["undefined", ""] {
        let answer = app.send("GET", &path, Some(empty), None).await;
        assert_unauthenticated(&answer, &format!("X-Auth-Token {empty:?}"));
    }
    let body = json!({"data": {"marker": 1}});
    let answer = app.send("POST", &path, None, Some(body)).await;
    assert_unauthenticated(&answer, "POST without a token");
    assert!(app.config_doc(&f.target).await.is_none());
}

#[tokio::test]
async fn a_garbage_token_is_unauthenticated() {
    let app = TestApp::spawn().await;
    let f = family(&app).await;
    let (_, real) = app.admin(&f.target).await;
    let at = real.len() - 20;
    let swap = if &real[at..=at] == "A" { "B" } else { "A" };
    let mut flipped = real.clone();
    flipped.replace_range(at..=at, swap);
    let truncated = real[..real.len() - 10].to_string();
    let garbage = [
        "garbage",
        "a.b.c",
        "...",
        truncated.as_str(),
        flipped.as_str(),
    ];
    for token in garbage {
        let answer = app
            .send("GET", &f.target.security(), Some(token), None)
            .await;
        assert_unauthenticated(&answer, token);
    }
}

#[tokio::test]
async fn an_unauthenticated_caller_learns_nothing_about_which_accounts_exist() {
    let app = TestApp::spawn().await;
    let missing = "/v2/accounts/0123456789abcdef0123456789abcdef/security";
    let malformed = "/v2/accounts/not-an-id/security";
    for path in [missing, malformed] {
        let answer = app.send("GET", path, None, None).await;
        assert_unauthenticated(&answer, path);
        let answer = app.send("GET", path, Some("garbage"), None).await;
        assert_unauthenticated(&answer, path);
    }
}

#[tokio::test]
async fn a_missing_account_is_a_404_before_authorization_is_decided() {
    let app = TestApp::spawn().await;
    let f = family(&app).await;
    let user = app.user(&f.target, false).await;
    let token = app.login(&f.target, &user).await;
    let missing = "0123456789abcdef0123456789abcdef";
    let path = format!("/v2/accounts/{missing}/security");
    let answer = app.send("GET", &path, Some(&token), None).await;
    assert_eq!(answer.status, 404, "{}", answer.body);
    assert_eq!(answer.body["message"], "bad_identifier");
    assert_eq!(answer.body["data"]["cause"], missing);
}

#[tokio::test]
async fn the_attempts_routes_are_guarded_like_the_config() {
    let app = TestApp::spawn().await;
    let f = family(&app).await;
    let attempts = format!("{}/attempts", f.target.security());
    let one = format!("{attempts}/202401-0123456789abcdef0123456789abcdef");
    let (_, sibling) = app.admin(&f.sibling).await;
    for path in [&attempts, &one] {
        let answer = app.send("GET", path, Some(&sibling), None).await;
        assert_forbidden(&answer, path);
        assert_unauthenticated(&app.send("GET", path, None, None).await, path);
    }
    let (_, own) = app.admin(&f.target).await;
    let answer = app.send("GET", &attempts, Some(&own), None).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[tokio::test]
async fn c15_any_authenticated_caller_reads_the_modules_under_both_keys() {
    let app = TestApp::spawn().await;
    let f = family(&app).await;
    let user = app.user(&f.target, false).await;
    let token = app.login(&f.target, &user).await;
    let answer = app.send("GET", "/v2/security", Some(&token), None).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let modules = json!(DEFAULT_MODULES);
    assert_eq!(
        answer.body["data"],
        json!({"available_auth_modules": modules, "available_auth_methods": modules})
    );
    let answer = app.send("GET", "/v2/security", None, None).await;
    assert_unauthenticated(&answer, "GET /v2/security without a token");
}

#[tokio::test]
async fn c15_nobody_may_write_to_v2_security() {
    let app = TestApp::spawn().await;
    let f = family(&app).await;
    let (_, superduper) = app.admin(&f.master).await;
    let user = app.user(&f.target, false).await;
    let plain = app.login(&f.target, &user).await;
    let key = app.api_token(&f.target).await;
    let body = json!({"data": {"available_auth_modules": ["cb_user_auth"]}});
    for method in ["POST", "PUT", "PATCH", "DELETE"] {
        for (who, token) in [
            ("super-duper", &superduper),
            ("user", &plain),
            ("key", &key),
        ] {
            let answer = app
                .send(method, "/v2/security", Some(token), Some(body.clone()))
                .await;
            assert_forbidden(&answer, &format!("{method} by {who}"));
        }
        let answer = app
            .send(method, "/v2/security", None, Some(body.clone()))
            .await;
        assert_unauthenticated(&answer, &format!("{method} without a token"));
    }
}

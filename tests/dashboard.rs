//! The security dashboard: the page and its headers, the config-sources route it reads, and
//! the page itself in headless Chromium against an account with attempts.

mod common;

use std::process::Command;

use base64::Engine as _;
use common::{Acct, TestApp, User};
use kazoo_security::state::Clock;
use serde_json::json;
use sha2::{Digest, Sha256};

const DAY: i64 = 86_400;

fn dashboard(acct: &Acct) -> String {
    format!("/v2/accounts/{}/security/dashboard", acct.id)
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

fn inline(page: &str, tag: &str) -> String {
    let start = page.find(&format!("<{tag}>")).unwrap() + tag.len() + 2;
    let end = start + page[start..].find(&format!("</{tag}>")).unwrap();
    page[start..end].to_string()
}

fn csp_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    let encoded = base64::engine::general_purpose::STANDARD.encode(digest);
    format!("'sha256-{encoded}'")
}

#[tokio::test]
async fn the_page_is_a_static_shell_under_a_strict_policy_with_no_external_urls() {
    let app = TestApp::spawn().await;
    let acct = app.account(None, false).await;

    let url = format!("{}{}", app.url, dashboard(&acct));
    let response = app.http.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "content-type"),
        "text/html; charset=utf-8"
    );
    assert_eq!(header(&response, "x-content-type-options"), "nosniff");
    assert_eq!(header(&response, "cache-control"), "no-store");
    assert_eq!(header(&response, "referrer-policy"), "no-referrer");
    let csp = header(&response, "content-security-policy").to_string();
    let page = response.text().await.unwrap();

    let directives: Vec<&str> = csp.split(';').map(str::trim).collect();
    for fixed in [
        "default-src 'none'",
        "connect-src 'self'",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ] {
        assert!(directives.contains(&fixed), "{fixed} missing from {csp}");
    }
    let script = format!("script-src {}", csp_hash(&inline(&page, "script")));
    let style = format!("style-src {}", csp_hash(&inline(&page, "style")));
    assert!(directives.contains(&script.as_str()), "{csp}");
    assert!(directives.contains(&style.as_str()), "{csp}");
    assert!(!csp.contains("unsafe"), "{csp}");

    // The page loads nothing: no URL but the SVG namespace, no src or href, no data.
    let without_namespace = page.replace("\"http://www.w3.org/2000/svg\"", "");
    for external in [
        "http:", "https:", "//cdn", "src=", "href=", "@import", "url(",
    ] {
        assert!(
            !without_namespace.contains(external),
            "{external} in the page"
        );
    }
    assert!(
        !page.contains(&acct.name),
        "the page carries no account data"
    );
    assert!(page.contains("<form id=\"login\""));
}

#[tokio::test]
async fn the_page_needs_no_token_but_a_well_formed_account_id() {
    let app = TestApp::spawn().await;
    let bad = app
        .send(
            "GET",
            "/v2/accounts/not-an-id/security/dashboard",
            None,
            None,
        )
        .await;
    assert_eq!(bad.status, 404, "{}", bad.body);
    assert_eq!(bad.body["status"], "error");
    let post = app
        .send(
            "POST",
            &dashboard(&app.account(None, false).await),
            None,
            None,
        )
        .await;
    assert_eq!(post.status, 405);
}

/// A reseller with a config, a child with one of its own, and the child's admin.
async fn account_with_configs(app: &TestApp) -> (Acct, Acct, User) {
    let reseller = app.account(None, true).await;
    let acct = app.account(Some(&reseller), false).await;
    let parent_config = json!({"auth_modules": {"cb_user_auth": {"token_auth_expiry_s": 5400}}});
    app.store_config(&reseller, parent_config).await;
    let own = json!({"auth_modules": {"cb_api_auth": {"enabled": false}}});
    app.store_config(&acct, own).await;
    let admin = app.user(&acct, true).await;
    (reseller, acct, admin)
}

#[tokio::test]
async fn sources_name_the_layer_of_every_value_for_the_accounts_managers_only() {
    let app = TestApp::spawn().await;
    let (reseller, acct, admin) = account_with_configs(&app).await;
    let path = format!("{}/sources", acct.security());

    let anonymous = app.send("GET", &path, None, None).await;
    assert_eq!(anonymous.status, 401);
    let stranger = app.account(None, false).await;
    let (_, stranger_token) = app.admin(&stranger).await;
    let other = app.send("GET", &path, Some(&stranger_token), None).await;
    assert_eq!(other.status, 403, "{}", other.body);

    let token = app.login(&acct, &admin).await;
    let answer = app.send("GET", &path, Some(&token), None).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let data = &answer.body["data"];
    let reseller_layer = format!("reseller {}", reseller.id);
    assert_eq!(
        data["layers"],
        json!(["default", "system", reseller_layer, "account"])
    );
    assert_eq!(data["has_own_config"], true);
    let source = |pointer: &str| {
        let rows = data["values"].as_array().unwrap();
        let row = rows.iter().find(|r| r["path"] == pointer);
        row.map(|r| (r["value"].clone(), r["source"].clone()))
    };
    let user_expiry = "/auth_modules/cb_user_auth/token_auth_expiry_s";
    assert_eq!(
        source(user_expiry),
        Some((json!(5400), json!(reseller_layer)))
    );
    assert_eq!(
        source("/auth_modules/cb_api_auth/enabled"),
        Some((json!(false), json!("account")))
    );
    assert_eq!(
        source("/auth_modules/cb_user_auth/enabled"),
        Some((json!(true), json!("default")))
    );
    // The same effective config as GET security merges.
    let security = app.send("GET", &acct.security(), Some(&token), None).await;
    let inherited = &security.body["data"]["inherited_config"]["auth_modules"];
    assert_eq!(
        inherited["cb_user_auth"]["token_auth_expiry_s"],
        data["effective"]["auth_modules"]["cb_user_auth"]["token_auth_expiry_s"]
    );
}

async fn log_in_from(app: &TestApp, acct: &Acct, user: &User, password: &str, ip: &str) -> u16 {
    let md5 = if password == user.password {
        user.md5()
    } else {
        hex::encode(md5::Md5::digest(format!("{}:{password}", user.username)))
    };
    let body = json!({"data": {"credentials": md5, "account_name": acct.name}});
    let headers = [("X-Forwarded-For", ip)];
    app.send_with("PUT", "/v2/user_auth", &headers, Some(body))
        .await
        .status
}

fn date(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .unwrap()
        .format("%Y-%m-%d")
        .to_string()
}

#[tokio::test]
async fn the_dashboard_logs_in_and_draws_the_config_the_chart_and_the_top_ip_in_chromium() {
    let now = chrono::Utc::now().timestamp();
    let earlier = now - 3 * DAY;
    let clock = Clock::fixed(earlier);
    let app = TestApp::spawn_with(clock.clone()).await;
    let (reseller, acct, admin) = account_with_configs(&app).await;

    let noisy = "203.0.113.7";
    for _ in 0..2 {
        assert_eq!(log_in_from(&app, &acct, &admin, "wrong", noisy).await, 401);
    }
    assert_eq!(
        log_in_from(&app, &acct, &admin, &admin.password, noisy).await,
        201
    );
    clock.set(now);
    let quiet = "198.51.100.2";
    assert_eq!(log_in_from(&app, &acct, &admin, "wrong", quiet).await, 401);

    let root = env!("CARGO_MANIFEST_DIR");
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or(format!("{root}/target"));
    let screenshot = format!("{target}/test-output/dashboard.png");
    // The browser's own login is today's success.
    let expectations = json!({
        "url": format!("{}{}", app.url, dashboard(&acct)),
        "account_name": acct.name,
        "username": admin.username,
        "password": admin.password,
        "screenshot": screenshot,
        "config": {
            "/auth_modules/cb_user_auth/token_auth_expiry_s":
                [5400, format!("reseller {}", reseller.id)],
            "/auth_modules/cb_api_auth/enabled": [false, "account"],
            "/auth_modules/cb_ip_auth/enabled": [true, "default"],
        },
        "days": {date(earlier): [1, 2], date(now): [1, 1]},
        "top_ip": [noisy, 3, 2, 1],
    });
    let script = format!("{root}/tests/browser/dashboard.mjs");
    assert!(
        std::path::Path::new(&format!(
            "{root}/tests/browser/node_modules/playwright-core"
        ))
        .exists(),
        "playwright-core is missing: run `npm ci --prefix tests/browser` (make test does)"
    );
    // The service answers on this test's runtime: wait for the browser off it.
    let argument = expectations.to_string();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node").arg(&script).arg(argument).output()
    })
    .await
    .unwrap()
    .expect("node runs (make test needs Node.js)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "the browser test failed:\n{stdout}\n{stderr}"
    );
    assert!(std::path::Path::new(&screenshot).exists());
}

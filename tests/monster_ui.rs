//! Requests shaped the way the Monster UI's kazoosdk sends them: every header a browser
//! adds, `X-Auth-Token: undefined` before login, `Content-Type: application/json` on GETs, a
//! `_=<milliseconds>` cache buster on every GET, `ui_metadata` inside `data` and
//! `accept_charges` beside it on writes, and configs read with GET, edited, and posted back
//! whole (api.md "Envelope", "Requests", "The config document and its schema").

mod common;

use common::{Acct, Answer, TestApp, User, assert_validation, public};
use serde_json::{Value, json};

const ORIGIN: &str = "http://127.0.0.1:3000";
const CACHE_BUSTER: &str = "1733300000000";

/// What the UI stamps into `data` on every write.
fn ui_metadata() -> Value {
    json!({"version": "4.3-140", "ui": "monster-ui", "origin": "myaccount"})
}

/// A request with a browser's headers; `token` `None` sends the literal `undefined` that
/// the UI sends before it has one. GETs get a cache buster; writes get `ui_metadata`.
async fn monster(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let path = if method == "GET" {
        let joiner = if path.contains('?') { '&' } else { '?' };
        format!("{path}{joiner}_={CACHE_BUSTER}")
    } else {
        path.to_string()
    };
    let body = body.map(|mut body| {
        if body["data"].is_object() && body["data"].get("ui_metadata").is_none() {
            body["data"]["ui_metadata"] = ui_metadata();
        }
        body.to_string()
    });
    let headers = [
        ("Accept", "application/json, text/javascript, */*; q=0.01"),
        ("Content-Type", "application/json"),
        ("X-Auth-Token", token.unwrap_or("undefined")),
        ("Origin", ORIGIN),
        ("Referer", "http://127.0.0.1:3000/"),
        (
            "User-Agent",
            "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0 Safari/537.36",
        ),
        ("Accept-Language", "en-US,en;q=0.9"),
    ];
    app.send_raw(method, &path, &headers, body.unwrap_or_default())
        .await
}

fn content_type(answer: &Answer) -> &str {
    answer
        .headers
        .get("content-type")
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}

async fn monster_login(app: &TestApp, acct: &Acct, user: &User) -> String {
    let body = json!({"data": {"credentials": user.md5(), "account_name": acct.name}});
    let answer = monster(app, "PUT", "/v2/user_auth", None, Some(body)).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    assert_eq!(content_type(&answer), "application/json");
    answer.body["auth_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn logins_with_the_undefined_token_header_succeed() {
    let app = TestApp::spawn().await;
    let acct = app.account(None, false).await;
    let user = app.user(&acct, true).await;

    let token = monster_login(&app, &acct, &user).await;
    assert_eq!(common::claims(&token)["owner_id"], user.id);

    // The same login by realm, and with the method named, as the UI's other forms send it.
    let by_realm = json!({"data": {"credentials": user.md5(), "account_realm": acct.realm,
        "method": "md5"}});
    let answer = monster(&app, "PUT", "/v2/user_auth", None, Some(by_realm)).await;
    assert_eq!(answer.status, 201, "{}", answer.body);

    let by_key = json!({"data": {"api_key": acct.api_key}});
    let answer = monster(&app, "PUT", "/v2/api_auth", None, Some(by_key)).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    assert_eq!(answer.body["data"]["account_id"], acct.id);

    // Wrong credentials still answer the UI's 401, with a body it can read.
    let wrong = json!({"data": {"credentials": "0".repeat(32), "account_name": acct.name}});
    let answer = monster(&app, "PUT", "/v2/user_auth", None, Some(wrong)).await;
    assert_eq!(answer.status, 401, "{}", answer.body);
    assert_eq!(answer.body["message"], "invalid_credentials");
    assert_eq!(content_type(&answer), "application/json");

    // `undefined` on a protected route is no token at all, not a malformed one.
    let answer = monster(&app, "GET", &acct.security(), None, None).await;
    assert_eq!(answer.status, 401, "{}", answer.body);
    assert_eq!(answer.body["message"], "invalid_credentials");
}

#[tokio::test]
async fn the_browsers_preflight_is_answered_without_a_token() {
    let app = TestApp::spawn().await;
    let acct = app.account(None, false).await;
    for path in ["/v2/user_auth".to_string(), acct.security()] {
        let headers = [
            ("Origin", ORIGIN),
            ("Access-Control-Request-Method", "PATCH"),
            (
                "Access-Control-Request-Headers",
                "content-type,x-auth-token",
            ),
        ];
        let answer = app.send_raw("OPTIONS", &path, &headers, "").await;
        assert_eq!(answer.status, 200, "{path}");
        let allowed = answer.headers["access-control-allow-headers"]
            .to_str()
            .unwrap();
        assert!(allowed.contains("X-Auth-Token") && allowed.contains("Content-Type"));
        assert_eq!(answer.headers["access-control-allow-origin"], "*");
    }
}

#[tokio::test]
async fn gets_with_a_json_content_type_and_a_cache_buster_are_served() {
    let app = TestApp::spawn().await;
    let acct = app.account(None, false).await;
    let user = app.user(&acct, true).await;
    let token = monster_login(&app, &acct, &user).await;

    let answer = monster(&app, "GET", "/v2/security", Some(&token), None).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.body["data"]["available_auth_modules"].is_array());

    let answer = monster(&app, "GET", &acct.security(), Some(&token), None).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["data"]["account"], json!({}));
    assert_eq!(
        answer.body["data"]["inherited_config"]["auth_modules"]["cb_user_auth"]["enabled"],
        true
    );
    assert_eq!(content_type(&answer), "application/json");
    assert_eq!(answer.headers["access-control-allow-origin"], "*");
}

fn ids(answer: &Answer) -> Vec<String> {
    answer.body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no rows: {}", answer.body))
        .iter()
        .map(|row| row["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn attempts_page_and_validate_with_a_cache_buster_in_the_query() {
    let app = TestApp::spawn().await;
    let acct = app.account(None, false).await;
    let user = app.user(&acct, true).await;
    let token = monster_login(&app, &acct, &user).await;
    for _ in 0..4 {
        monster_login(&app, &acct, &user).await;
    }
    let listing = format!("{}/attempts", acct.security());

    let all = monster(&app, "GET", &listing, Some(&token), None).await;
    assert_eq!(all.status, 200, "{}", all.body);
    let every = ids(&all);
    assert_eq!(every.len(), 5, "{}", all.body);

    // Page by two, as the UI's table does, each request with its own cache buster.
    let mut seen = Vec::new();
    let mut query = format!("{listing}?page_size=2");
    for _ in 0..5 {
        let page = monster(&app, "GET", &query, Some(&token), None).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert_eq!(page.body["page_size"], ids(&page).len());
        seen.extend(ids(&page));
        match page.body["next_start_key"].as_str() {
            Some(next) => query = format!("{listing}?page_size=2&start_key={next}"),
            None => break,
        }
    }
    assert_eq!(
        seen, every,
        "paging with `_=` must give every row once, in order"
    );

    let filtered = format!("{listing}?filter_status=failed");
    let answer = monster(&app, "GET", &filtered, Some(&token), None).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(ids(&answer), Vec::<String>::new());

    // Validation still happens: the cache buster neither hides nor causes errors.
    let backwards = format!("{listing}?created_from=63900000000&created_to=63800000000");
    let answer = monster(&app, "GET", &backwards, Some(&token), None).await;
    assert_validation(&answer, "validation error", "created_from", "date_range");
    let zero = format!("{listing}?page_size=0");
    let answer = monster(&app, "GET", &zero, Some(&token), None).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(
        answer.body["data"]["page_size"].is_object(),
        "{}",
        answer.body
    );

    let one = format!("{listing}/{}", every[0]);
    let answer = monster(&app, "GET", &one, Some(&token), None).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["data"]["id"], every[0].as_str());
    assert_eq!(
        answer.body["data"]["client_headers"]["x-auth-token"],
        "[redacted]"
    );
}

#[tokio::test]
async fn writes_with_ui_metadata_and_accept_charges_are_stored_without_the_envelope() {
    let app = TestApp::spawn().await;
    let acct = app.account(None, false).await;
    let user = app.user(&acct, true).await;
    let token = monster_login(&app, &acct, &user).await;

    let post = json!({"data": {"auth_modules": {"cb_user_auth": {"token_auth_expiry_s": 600}}},
        "accept_charges": true});
    let answer = monster(&app, "POST", &acct.security(), Some(&token), Some(post)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["data"]["ui_metadata"], ui_metadata());
    assert_eq!(answer.body["data"]["id"], "configs_crossbar.auth");

    let patch = json!({"data": {"auth_modules": {"cb_api_auth": {"enabled": false}},
        "ui_metadata": {"version": "4.3-141", "ui": "monster-ui", "origin": "accounts"}},
        "accept_charges": false});
    let answer = monster(&app, "PATCH", &acct.security(), Some(&token), Some(patch)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let modules = &answer.body["data"]["auth_modules"];
    assert_eq!(modules["cb_user_auth"]["token_auth_expiry_s"], 600);
    assert_eq!(modules["cb_api_auth"]["enabled"], false);

    let doc = app.config_doc(&acct).await.expect("the config is stored");
    let stored = public(&doc);
    assert_eq!(
        stored,
        json!({"auth_modules": {"cb_user_auth": {"token_auth_expiry_s": 600},
                                "cb_api_auth": {"enabled": false}},
               "ui_metadata": {"version": "4.3-141", "ui": "monster-ui", "origin": "accounts"}})
    );

    // The stored config steers logins: the UI's next login gets the shorter token.
    let fresh = monster_login(&app, &acct, &user).await;
    let claims = common::claims(&fresh);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        600
    );
    let by_key = json!({"data": {"api_key": acct.api_key}});
    let answer = monster(&app, "PUT", "/v2/api_auth", None, Some(by_key)).await;
    assert_eq!(answer.status, 401, "{}", answer.body);
}

#[tokio::test]
async fn a_config_read_edited_and_posted_back_whole_replaces_the_old_one() {
    let app = TestApp::spawn().await;
    let acct = app.account(None, false).await;
    let user = app.user(&acct, true).await;
    let token = monster_login(&app, &acct, &user).await;
    app.store_config(
        &acct,
        json!({"auth_modules": {"cb_user_auth": {"token_auth_expiry_s": 900,
                                                 "custom_flag": "kept"}},
               "notes": "from an operator"}),
    )
    .await;

    let read = monster(&app, "GET", &acct.security(), Some(&token), None).await;
    assert_eq!(read.status, 200, "{}", read.body);
    let mut edited = read.body["data"]["account"].clone();
    edited["auth_modules"]["cb_ip_auth"] = json!({"enabled": false});
    // What a client holding earlier answers sends back: the config's `id`, a `_read_only`
    // from a delete, and keys the service never knew.
    edited["id"] = json!("configs_crossbar.auth");
    edited["_read_only"] = json!({"deleted": true});
    edited["pvt_anything"] = json!("a client cannot set private fields");
    edited["monster_extra"] = json!({"columns": ["date", "ip"]});

    let body = json!({"data": edited, "accept_charges": true});
    let answer = monster(&app, "POST", &acct.security(), Some(&token), Some(body)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);

    let expected = json!({
        "auth_modules": {"cb_user_auth": {"token_auth_expiry_s": 900, "custom_flag": "kept"},
                         "cb_ip_auth": {"enabled": false}},
        "notes": "from an operator",
        "monster_extra": {"columns": ["date", "ip"]},
        "ui_metadata": ui_metadata(),
    });
    let mut answered = answer.body["data"].clone();
    assert_eq!(answered["id"], "configs_crossbar.auth");
    answered.as_object_mut().unwrap().remove("id");
    assert_eq!(answered, expected);

    let doc = app.config_doc(&acct).await.unwrap();
    assert_eq!(
        public(&doc),
        expected,
        "no `id`, `_read_only` or client `pvt_` stored"
    );
    assert!(doc.get("pvt_anything").is_none(), "{doc}");
    assert_eq!(doc["_id"], "configs_crossbar.auth");

    let again = monster(&app, "GET", &acct.security(), Some(&token), None).await;
    assert_eq!(again.body["data"]["account"], expected);

    // Replacing is replacing: what the edit dropped is gone.
    let mut shorter = again.body["data"]["account"].clone();
    shorter.as_object_mut().unwrap().remove("notes");
    let body = json!({"data": shorter});
    let answer = monster(&app, "POST", &acct.security(), Some(&token), Some(body)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let doc = app.config_doc(&acct).await.unwrap();
    assert!(doc.get("notes").is_none(), "{doc}");
}

#[tokio::test]
async fn a_multi_factor_config_posted_back_with_its_read_only_names_is_refused_unchanged() {
    let app = TestApp::spawn().await;
    let acct = app.account(None, false).await;
    let user = app.user(&acct, true).await;
    let token = monster_login(&app, &acct, &user).await;
    let provider = app.provider(&acct, "Office Duo").await;
    let mfa = json!({"enabled": false, "account_id": acct.id, "configuration_id": provider});
    let body = json!({"data": {"auth_modules": {"cb_user_auth": {"multi_factor": mfa}}}});
    let answer = monster(&app, "POST", &acct.security(), Some(&token), Some(body)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let before = app.config_doc(&acct).await.unwrap();

    let read = monster(&app, "GET", &acct.security(), Some(&token), None).await;
    let account = read.body["data"]["account"].clone();
    let names = &account["auth_modules"]["cb_user_auth"]["multi_factor"]["_read_only"];
    assert_eq!(names["name"], "Office Duo", "{}", read.body);

    // api.md: `_read_only` inside `multi_factor` is output only; sending it back is a 400.
    let body = json!({"data": account.clone()});
    let answer = monster(&app, "POST", &acct.security(), Some(&token), Some(body)).await;
    assert_validation(
        &answer,
        "validation error",
        "auth_modules.cb_user_auth.multi_factor._read_only",
        "additionalProperties",
    );
    let patch = json!({"data": account.clone()});
    let answer = monster(&app, "PATCH", &acct.security(), Some(&token), Some(patch)).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(app.config_doc(&acct).await.unwrap()["_rev"], before["_rev"]);

    // Without the output-only names, the same edit goes through.
    let mut cleaned = account;
    cleaned["auth_modules"]["cb_user_auth"]["multi_factor"]
        .as_object_mut()
        .unwrap()
        .remove("_read_only");
    cleaned["auth_modules"]["cb_user_auth"]["multi_factor"]["include_subaccounts"] = json!(true);
    let body = json!({"data": cleaned, "accept_charges": true});
    let answer = monster(&app, "POST", &acct.security(), Some(&token), Some(body)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let saved = &answer.body["data"]["auth_modules"]["cb_user_auth"]["multi_factor"];
    assert_eq!(saved["include_subaccounts"], true);
    assert_eq!(saved["_read_only"]["name"], "Office Duo");
}

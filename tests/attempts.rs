//! Login attempts: which are written, how they look, and how they are listed and read.
//! Cases C06 to C11 of the shared cases are kept here.

mod common;

use common::{Acct, TestApp};
use kazoo_security::domain::ids::new_raw_id;
use kazoo_security::state::Clock;
use serde_json::{Value, json};

const DEC_31_235950: i64 = 63_871_286_390;
const JAN_01_000010: i64 = 63_871_286_410;
const GREGORIAN: i64 = 62_167_219_200;

/// An account with an admin whose own logins are not logged, and a token to read with.
async fn audited_account(app: &TestApp) -> (Acct, String) {
    let acct = app.account(None, true).await;
    let token = app.api_token(&acct).await;
    (acct, token)
}

async fn list(app: &TestApp, acct: &Acct, token: &str, query: &str) -> common::Answer {
    let path = format!("/v2/accounts/{}/security/attempts{query}", acct.id);
    app.send("GET", &path, Some(token), None).await
}

fn ids(answer: &common::Answer) -> Vec<String> {
    let rows = answer.body["data"].as_array().expect("data is a list");
    rows.iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

/// Writes an attempt document as Kazoo would, in the month database of its timestamp.
async fn put_attempt(app: &TestApp, acct: &Acct, gregorian: i64, extra: Value) -> String {
    let unix = gregorian - GREGORIAN;
    let db = acct.month_db(unix);
    let prefix = &db[db.len() - 6..];
    let id = format!("{prefix}-{}", new_raw_id());
    let mut doc = json!({
        "_id": id, "auth_type": "jwt_auth_token", "status": "success",
        "auth_module": "cb_user_auth", "message": "authentication resulted in token creation",
        "client_headers": {"user-agent": "test"}, "client_ip": "192.0.2.10",
        "crossbar_request_id": new_raw_id(), "timestamp": gregorian,
        "metadata": {"owner_id": new_raw_id(), "account_id": acct.id},
        "pvt_type": "login_attempt", "pvt_account_id": acct.id,
        "pvt_created": gregorian, "pvt_modified": gregorian,
    });
    for (k, v) in extra.as_object().unwrap() {
        doc[k] = v.clone();
    }
    app.couch().create_db(&db).await.unwrap();
    app.couch().put(&db, &doc).await.unwrap();
    id
}

/// Writes many attempt documents at once through `_bulk_docs`.
async fn bulk_attempts(app: &TestApp, acct: &Acct, timestamps: &[i64]) -> Vec<String> {
    let base = std::env::var("COUCHDB_URL").unwrap();
    let mut by_db: std::collections::BTreeMap<String, Vec<Value>> = Default::default();
    let mut ids = Vec::new();
    for t in timestamps {
        let db = acct.month_db(t - GREGORIAN);
        let id = format!("{}-{}", &db[db.len() - 6..], new_raw_id());
        ids.push(id.clone());
        by_db.entry(db).or_default().push(json!({
            "_id": id, "auth_type": "credentials",
            "status": if t % 3 == 0 { "failed" } else { "success" },
            "auth_module": "cb_user_auth", "message": "m", "client_ip": "192.0.2.1",
            "timestamp": t, "pvt_type": "login_attempt", "pvt_account_id": acct.id,
            "pvt_created": t, "pvt_modified": t,
        }));
    }
    for (db, docs) in by_db {
        app.couch().create_db(&db).await.unwrap();
        let url = format!(
            "{}/{}/_bulk_docs",
            base.trim_end_matches('/'),
            kazoo_security::store::couch::encode(&db)
        );
        let response = app
            .http
            .post(url)
            .json(&json!({"docs": docs}))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }
    ids
}

#[tokio::test]
async fn c06_defaults_log_user_logins_and_failures_but_not_api_logins() {
    let app = TestApp::spawn().await;
    let (acct, _) = audited_account(&app).await;
    assert!(
        app.attempts(&acct, app.now()).await.is_empty(),
        "api_auth success is not logged"
    );

    let user = app.user(&acct, false).await;
    app.login(&acct, &user).await;
    let wrong = json!({"data": {"credentials": "0".repeat(32), "account_name": acct.name}});
    assert_eq!(
        app.send("PUT", "/v2/user_auth", None, Some(wrong))
            .await
            .status,
        401
    );

    let docs = app.attempts(&acct, app.now()).await;
    let success: Vec<_> = docs.iter().filter(|d| d["status"] == "success").collect();
    let failed: Vec<_> = docs.iter().filter(|d| d["status"] == "failed").collect();
    assert_eq!((success.len(), failed.len()), (1, 1), "{docs:?}");
    assert_eq!(success[0]["auth_type"], "jwt_auth_token");
    assert_eq!(
        success[0]["metadata"],
        json!({"owner_id": user.id, "account_id": acct.id})
    );
    assert_eq!(failed[0]["auth_type"], "credentials");
    assert!(failed[0]["message"].as_str().unwrap().contains("127.0.0.1"));
    let text = serde_json::to_string(&docs).unwrap();
    assert!(
        !text.contains(&user.md5()) && !text.contains(&"0".repeat(32)),
        "no hash is stored"
    );
}

#[tokio::test]
async fn c06_an_unknown_account_name_logs_nothing_anywhere() {
    let app = TestApp::spawn().await;
    let name = format!("Nobody {}", new_raw_id());
    let body = json!({"data": {"credentials": "0".repeat(32), "account_name": name}});
    let answer = app.send("PUT", "/v2/user_auth", None, Some(body)).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.body["message"], "invalid_credentials");
}

#[tokio::test]
async fn c06_logged_api_logins_never_store_the_key() {
    let app = TestApp::spawn().await;
    let acct = app.account(None, true).await;
    app.store_config(
        &acct,
        json!({"auth_modules": {"cb_api_auth": {"log_successful_attempts": true}}}),
    )
    .await;
    app.api_token(&acct).await;
    let docs = app.attempts(&acct, app.now()).await;
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0]["auth_type"], "account_api_token");
    assert_eq!(docs[0]["auth_module"], "cb_api_auth");
    assert!(
        !serde_json::to_string(&docs)
            .unwrap()
            .contains(&acct.api_key)
    );
}

#[tokio::test]
async fn attempt_documents_have_kazoos_fields_and_redacted_secrets() {
    let app = TestApp::spawn().await;
    let acct = app.account(None, true).await;
    let user = app.user(&acct, false).await;
    let body = json!({"data": {"credentials": user.md5(), "account_name": acct.name}});
    let headers = [
        ("content-type", "application/json"),
        ("authorization", "Bearer secret-bearer"),
        ("cookie", "session=secret-cookie"),
        ("proxy-authorization", "Basic c2VjcmV0"),
        ("x-auth-token", "undefined"),
        ("x-forwarded-for", "198.51.100.23"),
    ];
    let answer = app
        .send_raw("PUT", "/v2/user_auth", &headers, body.to_string())
        .await;
    assert_eq!(answer.status, 201, "{}", answer.body);

    let docs = app.attempts(&acct, app.now()).await;
    assert_eq!(docs.len(), 1);
    let doc = &docs[0];
    for header in [
        "authorization",
        "cookie",
        "proxy-authorization",
        "x-auth-token",
    ] {
        assert_eq!(doc["client_headers"][header], "[redacted]", "{header}");
    }
    assert_eq!(
        doc["client_ip"], "198.51.100.23",
        "loopback is a trusted proxy"
    );
    assert_eq!(doc["crossbar_request_id"], answer.body["request_id"]);
    assert_eq!(doc["pvt_type"], "login_attempt");
    assert_eq!(doc["pvt_account_id"], acct.id);
    let month = &doc["_id"].as_str().unwrap()[..6];
    assert_eq!(
        doc["pvt_account_db"],
        format!("{}-{month}", acct.encoded_db())
    );
    assert_eq!(doc["pvt_created"], doc["timestamp"]);
    assert_eq!(doc["pvt_node"], answer.body["node"]);
    assert_eq!(doc["pvt_document_hash"].as_str().unwrap().len(), 32);
    for absent in ["pvt_vsn", "pvt_request_id", "pvt_auth_account_id"] {
        assert!(doc.get(absent).is_none(), "{absent}");
    }
    let text = doc.to_string();
    assert!(!text.contains("secret-bearer") && !text.contains("secret-cookie"));
}

#[tokio::test]
async fn forwarded_for_is_ignored_from_untrusted_peers() {
    let app =
        TestApp::spawn_configured(Clock::system(), &[("TRUSTED_PROXIES", "192.0.2.250")]).await;
    let acct = app.account(None, true).await;
    let user = app.user(&acct, false).await;
    let body = json!({"data": {"credentials": user.md5(), "account_name": acct.name}});
    let headers = [
        ("content-type", "application/json"),
        ("x-forwarded-for", "203.0.113.1"),
    ];
    assert_eq!(
        app.send_raw("PUT", "/v2/user_auth", &headers, body.to_string())
            .await
            .status,
        201
    );
    let docs = app.attempts(&acct, app.now()).await;
    assert_eq!(docs[0]["client_ip"], "127.0.0.1");
}

#[tokio::test]
async fn the_month_database_is_created_on_the_first_attempt_with_its_views() {
    let app = TestApp::spawn().await;
    let acct = app.account(None, true).await;
    let db = acct.month_db(app.now());
    assert!(!app.couch().db_exists(&db).await.unwrap());
    let user = app.user(&acct, false).await;
    app.login(&acct, &user).await;
    assert!(app.couch().db_exists(&db).await.unwrap());
    let design = app
        .couch()
        .get(&db, "_design/auth")
        .await
        .unwrap()
        .expect("design installed");
    assert!(design["views"]["login_attempt_by_time"].is_object());
}

#[tokio::test]
async fn c07_the_listing_returns_attempts_only_with_summary_fields() {
    let app = TestApp::spawn().await;
    let (acct, token) = audited_account(&app).await;
    let now_g = app.now() + GREGORIAN;
    put_attempt(&app, &acct, now_g - 20, json!({})).await;
    put_attempt(&app, &acct, now_g - 10, json!({})).await;
    put_attempt(&app, &acct, now_g - 5, json!({"pvt_type": "cdr"})).await;

    let answer = list(&app, &acct, &token, "").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let rows = answer.body["data"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for row in rows {
        let mut keys: Vec<_> = row.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        let expected = [
            "auth_module",
            "auth_type",
            "client_ip",
            "id",
            "message",
            "status",
            "timestamp",
        ];
        assert_eq!(keys, expected);
    }
    assert!(
        rows[0]["timestamp"].as_i64() > rows[1]["timestamp"].as_i64(),
        "newest first"
    );
    assert_eq!(answer.body["page_size"], 2);
    assert!(answer.body["start_key"].is_string());
    assert!(answer.body.get("next_start_key").is_none());
}

#[tokio::test]
async fn c08_an_attempt_is_found_by_its_ids_month() {
    let app = TestApp::spawn_with(Clock::fixed(common::JAN_15_2024)).await;
    let (acct, token) = audited_account(&app).await;
    let december = put_attempt(&app, &acct, DEC_31_235950, json!({})).await;
    let other_type = put_attempt(&app, &acct, DEC_31_235950, json!({"pvt_type": "ledger"})).await;
    let path = |id: &str| format!("/v2/accounts/{}/security/attempts/{id}", acct.id);

    let answer = app.send("GET", &path(&december), Some(&token), None).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["data"]["id"], december);
    assert!(answer.body["data"]["client_headers"].is_object());
    assert!(answer.body["data"]["metadata"].is_object());
    assert!(answer.body["data"].get("pvt_type").is_none());
    assert!(answer.body["revision"].is_string());

    let hex = new_raw_id();
    let missing_month = format!("202311-{hex}");
    let malformed = [
        "not-a-modb-id",
        "abcdef-1234",
        &format!("202413-{hex}"),
        &format!("202312-{hex}Z"),
    ];
    for id in malformed
        .iter()
        .copied()
        .chain([other_type.as_str(), missing_month.as_str()])
    {
        let answer = app.send("GET", &path(id), Some(&token), None).await;
        assert_eq!(answer.status, 404, "{id}");
        assert_eq!(answer.body["message"], "bad_identifier", "{id}");
        assert_eq!(answer.body["data"]["cause"], id);
    }

    let other = app.account(None, true).await;
    let foreign = put_attempt(&app, &other, DEC_31_235950, json!({})).await;
    assert_eq!(
        app.send("GET", &path(&foreign), Some(&token), None)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn c09_ranges_span_months_and_years_without_duplicates() {
    let app = TestApp::spawn_with(Clock::fixed(common::JAN_15_2024)).await;
    let (acct, token) = audited_account(&app).await;
    let a = put_attempt(&app, &acct, DEC_31_235950, json!({})).await;
    let b = put_attempt(&app, &acct, JAN_01_000010, json!({})).await;

    let answer = list(
        &app,
        &acct,
        &token,
        "?created_from=63871282800&created_to=63871290000",
    )
    .await;
    assert_eq!(ids(&answer), vec![b.clone(), a.clone()]);
    let inside = list(
        &app,
        &acct,
        &token,
        "?created_from=63871286400&created_to=63871290000",
    )
    .await;
    assert_eq!(ids(&inside), vec![b.clone()]);
    // November has no database: no error.
    let over_november = "?created_from=63869000000&created_to=63871286395";
    let answer = list(&app, &acct, &token, over_november).await;
    assert_eq!(answer.status, 200);
    assert_eq!(ids(&answer), vec![a]);
}

#[tokio::test]
async fn c10_direction_validation_and_the_default_window() {
    let app = TestApp::spawn_with(Clock::fixed(common::JAN_15_2024)).await;
    let (acct, token) = audited_account(&app).await;
    let a = put_attempt(&app, &acct, DEC_31_235950, json!({})).await;
    let b = put_attempt(&app, &acct, JAN_01_000010, json!({})).await;
    let range = "created_from=63871282800&created_to=63871290000";

    let answer = list(&app, &acct, &token, &format!("?{range}&ascending=true")).await;
    assert_eq!(ids(&answer), vec![a.clone(), b.clone()]);

    let backwards = list(
        &app,
        &acct,
        &token,
        "?created_from=63871290000&created_to=63871282800",
    )
    .await;
    assert_eq!(backwards.status, 400);
    assert_eq!(
        backwards.body["data"]["created_from"]["date_range"]["message"],
        "created_to 63871282800 is prior to created_from 63871290000"
    );
    let wide = list(
        &app,
        &acct,
        &token,
        "?created_from=63871282800&created_to=63873964801",
    )
    .await;
    assert_eq!(wide.status, 400);
    assert!(
        wide.body["data"]["created_from"]["date_range"]["message"]
            .as_str()
            .unwrap()
            .contains("is more than 2682000 seconds from")
    );

    // No range: the last 2682000 seconds before now (2024-01-15) hold both.
    let answer = list(&app, &acct, &token, "?created_from=soon").await;
    assert_eq!(ids(&answer), vec![b, a]);
    let bad_size = list(&app, &acct, &token, "?page_size=0").await;
    assert_eq!(bad_size.status, 400);
    assert!(bad_size.body["data"]["page_size"].is_object());
    assert_eq!(
        list(&app, &acct, &token, "?start_key=%21%21").await.status,
        400
    );
}

#[tokio::test]
async fn c11_documents_and_tokens_use_their_own_clocks() {
    let midnight = 1_704_067_200;
    let app = TestApp::spawn_with(Clock::fixed(midnight)).await;
    let acct = app.account(None, true).await;
    let user = app.user(&acct, false).await;
    let token = app.login(&acct, &user).await;
    assert_eq!(common::claims(&token)["exp"], midnight + 3600);
    let docs = app.attempts(&acct, midnight).await;
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0]["timestamp"], 63_871_286_400i64);
    assert!(docs[0]["_id"].as_str().unwrap().starts_with("202401-"));
    assert!(acct.month_db(midnight).ends_with("-202401"));
}

/// Pages through the whole range and checks every id comes exactly once, in order.
async fn walk(
    app: &TestApp,
    acct: &Acct,
    token: &str,
    range: &str,
    page: usize,
    asc: bool,
) -> Vec<String> {
    let mut seen = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let mut query = format!("?{range}&page_size={page}&ascending={asc}");
        if let Some(key) = &start {
            query.push_str(&format!("&start_key={key}"));
        }
        let answer = list(app, acct, token, &query).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        let rows = ids(&answer);
        assert!(rows.len() <= page);
        assert_eq!(answer.body["page_size"], rows.len());
        seen.extend(rows);
        match answer.body["next_start_key"].as_str() {
            Some(next) => start = Some(next.to_string()),
            None => return seen,
        }
    }
}

#[tokio::test]
async fn paging_returns_every_attempt_exactly_once_even_within_one_second() {
    let jan_15 = common::JAN_15_2024 + GREGORIAN;
    let app = TestApp::spawn_with(Clock::fixed(common::JAN_15_2024)).await;
    let (acct, token) = audited_account(&app).await;
    // 5,000 attempts over December and January, most of them sharing a few seconds.
    let timestamps: Vec<i64> = (0..5000)
        .map(|i| match i % 4 {
            0 => DEC_31_235950,
            1 => JAN_01_000010,
            2 => jan_15 - 1000 - (i as i64 % 7),
            _ => DEC_31_235950 - 86_400 * (i as i64 % 12),
        })
        .collect();
    let stored = bulk_attempts(&app, &acct, &timestamps).await;
    let range = format!("created_from={}&created_to={}", jan_15 - 2_682_000, jan_15);

    let mut expected = stored.clone();
    expected.sort();
    for (page, asc) in [(50, false), (7, true), (50, true), (1000, false)] {
        let walked = walk(&app, &acct, &token, &range, page, asc).await;
        assert_eq!(walked.len(), 5000, "page size {page}, ascending {asc}");
        let mut sorted = walked.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(
            sorted, expected,
            "each id exactly once with page size {page}"
        );
    }
}

#[tokio::test]
async fn paging_one_row_at_a_time_crosses_seconds_and_months() {
    let jan_15 = common::JAN_15_2024 + GREGORIAN;
    let app = TestApp::spawn_with(Clock::fixed(common::JAN_15_2024)).await;
    let (acct, token) = audited_account(&app).await;
    let timestamps: Vec<i64> = (0..60)
        .map(|i| {
            if i % 2 == 0 {
                DEC_31_235950
            } else {
                JAN_01_000010
            }
        })
        .collect();
    let mut stored = bulk_attempts(&app, &acct, &timestamps).await;
    stored.sort();
    let range = format!("created_from={}&created_to={}", jan_15 - 2_682_000, jan_15);
    for asc in [false, true] {
        let mut walked = walk(&app, &acct, &token, &range, 1, asc).await;
        assert_eq!(walked.len(), 60);
        walked.sort();
        assert_eq!(walked, stored);
    }
}

#[tokio::test]
async fn filters_thin_pages_without_skipping_rows() {
    let jan_15 = common::JAN_15_2024 + GREGORIAN;
    let app = TestApp::spawn_with(Clock::fixed(common::JAN_15_2024)).await;
    let (acct, token) = audited_account(&app).await;
    let timestamps: Vec<i64> = (0..900).map(|i| jan_15 - 100 - i).collect();
    bulk_attempts(&app, &acct, &timestamps).await;
    let failed = timestamps.iter().filter(|t| *t % 3 == 0).count();
    let range = format!(
        "created_from={}&created_to={}&filter_status=failed",
        jan_15 - 2_000_000,
        jan_15
    );
    let walked = walk(&app, &acct, &token, &range, 7, false).await;
    assert_eq!(walked.len(), failed);

    let everything = list(&app, &acct, &token, &format!("?{range}&paginate=false")).await;
    assert_eq!(ids(&everything).len(), failed);
    assert!(everything.body.get("page_size").is_none());
}

#[tokio::test]
async fn kazoo_keys_and_plain_seconds_are_accepted_as_start_keys() {
    let app = TestApp::spawn_with(Clock::fixed(common::JAN_15_2024)).await;
    let (acct, token) = audited_account(&app).await;
    let a = put_attempt(&app, &acct, DEC_31_235950, json!({})).await;
    let b = put_attempt(&app, &acct, JAN_01_000010, json!({})).await;
    let range = "created_from=63871282800&created_to=63871290000";

    let plain = list(
        &app,
        &acct,
        &token,
        &format!("?{range}&start_key={DEC_31_235950}"),
    )
    .await;
    assert_eq!(ids(&plain), vec![a.clone()]);
    // base64url of the Erlang term for 63871286410 (131, 110, 5, 0, little-endian bytes).
    use base64::Engine;
    let mut term = vec![131u8, 110, 5, 0];
    term.extend_from_slice(&(JAN_01_000010 as u64).to_le_bytes()[..5]);
    let key = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(term);
    let kazoo = list(
        &app,
        &acct,
        &token,
        &format!("?{range}&start_key={key}&ascending=true"),
    )
    .await;
    assert_eq!(ids(&kazoo), vec![b]);
}

#[tokio::test]
async fn a_full_bucket_answers_429_and_checks_nothing() {
    let env = [("RATE_LIMIT_BUCKET", "3"), ("RATE_LIMIT_REFILL_PER_S", "0")];
    let app = TestApp::spawn_configured(Clock::system(), &env).await;
    let acct = app.account(None, true).await;
    let user = app.user(&acct, false).await;
    for _ in 0..3 {
        assert_eq!(app.user_auth(&acct, &user).await.status, 201);
    }
    let refused = app.user_auth(&acct, &user).await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.body["message"], "too_many_requests");
    assert_eq!(refused.body["error"], "429");
    assert_eq!(
        app.attempts(&acct, app.now()).await.len(),
        3,
        "a refused request logs nothing"
    );
    let other = app.account(None, true).await;
    let other_user = app.user(&other, false).await;
    assert_eq!(
        app.user_auth(&other, &other_user).await.status,
        201,
        "buckets are per account"
    );
}

#[tokio::test]
async fn lockout_refuses_even_good_credentials_until_it_expires() {
    let app = TestApp::spawn_with(Clock::fixed(common::JAN_15_2024)).await;
    let acct = app.account(None, true).await;
    let lockout = json!({"enabled": true, "max_failures": 3, "window_s": 60, "duration_s": 120});
    app.store_config(
        &acct,
        json!({"auth_modules": {"cb_user_auth": {"lockout": lockout}}}),
    )
    .await;
    let user = app.user(&acct, false).await;
    let wrong = json!({"data": {"credentials": "f".repeat(32), "account_name": acct.name}});
    for _ in 0..3 {
        assert_eq!(
            app.send("PUT", "/v2/user_auth", None, Some(wrong.clone()))
                .await
                .status,
            401
        );
        app.state.clock.advance(5);
    }
    let locked = app.user_auth(&acct, &user).await;
    assert_eq!(locked.status, 401);
    assert_eq!(locked.body["data"]["message"], "locked out");
    let docs = app.attempts(&acct, app.now()).await;
    assert!(docs.iter().any(|d| d["message"] == "locked out"));

    app.state.clock.advance(200);
    assert_eq!(
        app.user_auth(&acct, &user).await.status,
        201,
        "the lockout has expired"
    );
}

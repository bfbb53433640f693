//! Requests built to hurt: malformed and enormous bodies, numbers at the edges of 64 bits,
//! ids that try to leave their database, repeated and oversized query strings and headers,
//! and a client that sends its headers a byte at a time. Each must get a clear 4xx in the
//! error envelope, store nothing, and leave the service answering.

mod common;

use std::time::Duration;

use common::{Acct, Answer, JAN_15_2024, TestApp, public};
use kazoo_security::state::Clock;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Asserts an error envelope with `status`.
fn assert_envelope(answer: &Answer, status: u16, what: &str) {
    assert_eq!(answer.status, status, "{what}: {}", answer.body);
    assert_eq!(answer.body["status"], "error", "{what}: {}", answer.body);
    assert_eq!(answer.body["error"], status.to_string(), "{what}");
    assert!(
        answer.body["message"].is_string(),
        "{what}: {}",
        answer.body
    );
    assert!(
        answer.body["request_id"].is_string(),
        "{what}: {}",
        answer.body
    );
}

/// An account whose config holds `{"kept": true}`, with an API-key token for it.
async fn guarded(app: &TestApp) -> (Acct, String) {
    let acct = app.account(None, true).await;
    let token = app.api_token(&acct).await;
    app.store_config(&acct, json!({"kept": true})).await;
    (acct, token)
}

/// The stored config must still be exactly `{"kept": true}`.
async fn assert_untouched(app: &TestApp, acct: &Acct, what: &str) {
    let doc = app
        .config_doc(acct)
        .await
        .expect("the config is still there");
    assert_eq!(
        public(&doc),
        json!({"kept": true}),
        "{what} changed the config"
    );
}

/// The service still answers an ordinary request.
async fn assert_alive(app: &TestApp, token: &str) {
    let answer = app.send("GET", "/v2/security", Some(token), None).await;
    assert_eq!(
        answer.status, 200,
        "the service stopped answering: {}",
        answer.body
    );
}

#[tokio::test]
async fn bodies_that_are_not_json_objects_are_400_and_store_nothing() {
    let app = TestApp::spawn().await;
    let (acct, token) = guarded(&app).await;
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("unclosed", b"{".to_vec()),
        ("text", b"not json at all".to_vec()),
        ("trailing garbage", br#"{"data":{}} x"#.to_vec()),
        ("bare string", br#""data""#.to_vec()),
        ("null", b"null".to_vec()),
        ("array", br#"[{"data":{}}]"#.to_vec()),
        ("latin-1", b"{\"data\":{\"n\":\"\xe9\"}}".to_vec()),
        ("utf-16", b"\xff\xfe{\x00}\x00".to_vec()),
        ("lone surrogate", br#"{"data":{"n":"\ud800"}}"#.to_vec()),
        ("NUL byte", b"{\"data\":{}}\x00".to_vec()),
        ("data not an object", br#"{"data":[1,2]}"#.to_vec()),
        ("data a string", br#"{"data":"{}"}"#.to_vec()),
    ];
    let headers = [
        ("X-Auth-Token", token.as_str()),
        ("Content-Type", "application/json"),
    ];
    let provider_path = format!("/v2/accounts/{}/multi_factor", acct.id);
    for (what, body) in &bodies {
        for (method, path) in [
            ("POST", acct.security()),
            ("PATCH", acct.security()),
            ("PUT", provider_path.clone()),
            ("PUT", "/v2/user_auth".to_string()),
            ("PUT", "/v2/api_auth".to_string()),
        ] {
            let answer = app.send_raw(method, &path, &headers, body.clone()).await;
            assert_envelope(&answer, 400, &format!("{what} on {method} {path}"));
        }
    }
    assert_untouched(&app, &acct, "a malformed body").await;
    let providers = app.send("GET", &provider_path, Some(&token), None).await;
    assert_eq!(providers.body["data"], json!([]), "a provider was stored");
}

#[tokio::test]
async fn a_two_mebibyte_body_is_413_with_or_without_a_length() {
    let app = TestApp::spawn().await;
    let (acct, token) = guarded(&app).await;
    let big = format!(r#"{{"data":{{"pad":"{}"}}}}"#, "x".repeat(2 * 1024 * 1024));
    let headers = [
        ("X-Auth-Token", token.as_str()),
        ("Content-Type", "application/json"),
    ];
    let answer = app
        .send_raw("POST", &acct.security(), &headers, big.clone())
        .await;
    assert_envelope(&answer, 413, "2 MiB with Content-Length");

    // Chunked, so the size is only known by reading.
    let chunks: Vec<Result<_, std::io::Error>> = big
        .into_bytes()
        .chunks(64 * 1024)
        .map(|c| Ok(hyper::body::Frame::data(bytes::Bytes::copy_from_slice(c))))
        .collect();
    let stream = http_body_util::StreamBody::new(futures::stream::iter(chunks));
    let body = reqwest::Body::wrap(stream);
    let answer = app
        .send_raw("PATCH", &acct.security(), &headers, body)
        .await;
    assert_envelope(&answer, 413, "2 MiB chunked");

    let lying = [
        ("X-Auth-Token", token.as_str()),
        ("Content-Type", "application/json"),
        ("Content-Length", "18446744073709551615"),
    ];
    let response = app
        .http
        .post(format!("{}{}", app.url, acct.security()))
        .headers(header_map(&lying))
        .body(r#"{"data":{}}"#)
        .send()
        .await;
    // hyper refuses a length it cannot hold before any handler runs; the service survives.
    if let Ok(response) = response {
        assert!(response.status().is_client_error(), "{}", response.status());
    }
    assert_untouched(&app, &acct, "an oversized body").await;
    assert_alive(&app, &token).await;
}

fn header_map(pairs: &[(&str, &str)]) -> reqwest::header::HeaderMap {
    let mut map = reqwest::header::HeaderMap::new();
    for (name, value) in pairs {
        let name = reqwest::header::HeaderName::from_bytes(name.as_bytes()).unwrap();
        map.insert(name, value.parse().unwrap());
    }
    map
}

#[tokio::test]
async fn bodies_nested_ten_thousand_deep_are_400() {
    let app = TestApp::spawn().await;
    let (acct, token) = guarded(&app).await;
    let depth = 10_000;
    let arrays = format!(
        r#"{{"data":{{"x":{}{}}}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let objects = format!(
        r#"{{"data":{}1{}}}"#,
        r#"{"a":"#.repeat(depth),
        "}".repeat(depth)
    );
    let unclosed = "[".repeat(depth * 10);
    let headers = [
        ("X-Auth-Token", token.as_str()),
        ("Content-Type", "application/json"),
    ];
    for (what, body) in [
        ("arrays", arrays),
        ("objects", objects),
        ("unclosed", unclosed),
    ] {
        for method in ["POST", "PATCH"] {
            let answer = app
                .send_raw(method, &acct.security(), &headers, body.clone())
                .await;
            assert_envelope(&answer, 400, &format!("{method} nested {what}"));
        }
        let answer = app
            .send_raw("PUT", "/v2/user_auth", &headers, body.clone())
            .await;
        assert_envelope(&answer, 400, &format!("user_auth nested {what}"));
    }
    assert_untouched(&app, &acct, "a deep body").await;
    assert_alive(&app, &token).await;
}

#[tokio::test]
async fn expiry_numbers_out_of_range_are_400_and_store_nothing() {
    let app = TestApp::spawn().await;
    let (acct, token) = guarded(&app).await;
    let values = [
        "1e400",
        "-1e400",
        "99999999999999999999999",
        "9223372036854775808",
        "2147483648",
        "1.5",
        "0.0001",
        "\"12abc\"",
        "\"1e3\"",
        "[3600]",
        "{}",
        "true",
    ];
    let headers = [
        ("X-Auth-Token", token.as_str()),
        ("Content-Type", "application/json"),
    ];
    for value in values {
        for module in ["cb_user_auth", "cb_api_auth"] {
            let body = format!(
                r#"{{"data":{{"auth_modules":{{"{module}":{{"token_auth_expiry_s":{value}}}}}}}}}"#
            );
            for method in ["POST", "PATCH"] {
                let answer = app
                    .send_raw(method, &acct.security(), &headers, body.clone())
                    .await;
                assert_envelope(&answer, 400, &format!("{method} expiry {value}"));
            }
        }
        let window = format!(r#"{{"window_s":{value}}}"#);
        let lockout =
            format!(r#"{{"data":{{"auth_modules":{{"cb_user_auth":{{"lockout":{window}}}}}}}}}"#);
        let answer = app
            .send_raw("PATCH", &acct.security(), &headers, lockout)
            .await;
        assert_envelope(&answer, 400, &format!("lockout window {value}"));
        app.store_config(&acct, json!({"kept": true})).await;
    }
    assert_untouched(&app, &acct, "an out-of-range number").await;
    assert_alive(&app, &token).await;
}

#[tokio::test]
async fn the_largest_stored_numbers_still_give_logins_an_answer() {
    // Kazoo's own writes pass no schema of ours: a config can hold any 64-bit number.
    let app = TestApp::spawn_with(Clock::fixed(JAN_15_2024)).await;
    let acct = app.account(None, true).await;
    let user = app.user(&acct, true).await;
    // The largest values a JavaScript-backed server (pouchdb) gives back unchanged as i64.
    let max = 9_223_372_036_854_774_784i64;
    app.store_config(
        &acct,
        json!({"auth_modules": {"cb_user_auth": {"token_auth_expiry_s": max,
            "lockout": {"enabled": true, "max_failures": max, "window_s": max / 2,
                        "duration_s": max / 2 + 1024}}}}),
    )
    .await;
    let answer = app.user_auth(&acct, &user).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    let token = answer.body["auth_token"].as_str().unwrap().to_string();
    assert_alive(&app, &token).await;

    let min = json!({"auth_modules": {"cb_user_auth": {"token_auth_expiry_s": -max,
        "lockout": {"enabled": true, "max_failures": 1, "window_s": max, "duration_s": 1}}}});
    app.store_config(&acct, min).await;
    let answer = app.user_auth(&acct, &user).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
}

#[tokio::test]
async fn attempt_listing_numbers_at_the_edges_of_64_bits_are_answered() {
    let app = TestApp::spawn_with(Clock::fixed(JAN_15_2024)).await;
    let (acct, token) = guarded(&app).await;
    let path = format!("{}/attempts", acct.security());
    let (min, max) = (i64::MIN, i64::MAX);
    let ok = [
        format!("created_to={min}"),
        format!("created_from={max}&created_to={max}"),
        format!("created_from={min}&created_to={min}"),
        format!("start_key={min}"),
        format!("start_key={max}"),
        format!("start_key={max}&ascending=true"),
        "created_from=1e400".to_string(),
        "created_to=-0".to_string(),
        "page_size=1&page_size=2".to_string(),
        "paginate=false&paginate=true".to_string(),
    ];
    for query in &ok {
        let answer = app
            .send("GET", &format!("{path}?{query}"), Some(&token), None)
            .await;
        assert_eq!(answer.status, 200, "{query}: {}", answer.body);
    }
    let refused = [
        format!("created_from={min}&created_to={max}"),
        format!("created_from=-1&created_to={max}"),
        format!("created_from={max}&created_to={min}"),
        "page_size=0".to_string(),
        "page_size=-1".to_string(),
        "page_size=1.5".to_string(),
        "page_size=18446744073709551616".to_string(),
        "page_size=1001".to_string(),
        "page_size=0&page_size=1".to_string(),
        "start_key=%00".to_string(),
        "start_key=".to_string() + &"A".repeat(4000),
    ];
    for query in &refused {
        let answer = app
            .send("GET", &format!("{path}?{query}"), Some(&token), None)
            .await;
        assert_envelope(&answer, 400, query);
    }
    assert_alive(&app, &token).await;
}

#[tokio::test]
async fn a_repeated_query_parameter_counts_once_the_first_time() {
    let app = TestApp::spawn_with(Clock::fixed(JAN_15_2024)).await;
    let acct = app.account(None, true).await;
    let user = app.user(&acct, true).await;
    for _ in 0..3 {
        app.login(&acct, &user).await;
    }
    let token = app.api_token(&acct).await;
    let path = format!(
        "{}/attempts?page_size=1&page_size=2&page_size=3",
        acct.security()
    );
    let answer = app.send("GET", &path, Some(&token), None).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.body["data"].as_array().unwrap().len(),
        1,
        "{}",
        answer.body
    );
}

#[tokio::test]
async fn oversized_query_strings_are_414_and_many_parameters_are_harmless() {
    let app = TestApp::spawn().await;
    let (acct, token) = guarded(&app).await;
    let long = format!("{}?_={}", acct.security(), "x".repeat(9000));
    let answer = app.send("GET", &long, Some(&token), None).await;
    assert_envelope(&answer, 414, "a 9 KB query");
    let answer = app
        .send(
            "PATCH",
            &long,
            Some(&token),
            Some(json!({"data": {"x": 1}})),
        )
        .await;
    assert_envelope(&answer, 414, "a 9 KB query on a write");

    let many: Vec<String> = (0..1000).map(|i| format!("p{i}=1")).collect();
    let path = format!("{}?{}", acct.security(), many.join("&"));
    let answer = app.send("GET", &path, Some(&token), None).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_untouched(&app, &acct, "a long query").await;
}

/// Sends `target` exactly as written (no client-side resolution of `.` and `..`), over a
/// fresh connection; answers the status and the JSON body.
async fn send_exact(
    app: &TestApp,
    method: &str,
    target: &str,
    token: &str,
    body: Option<&Value>,
) -> Answer {
    let addr = app.url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let body = body.map(Value::to_string).unwrap_or_default();
    let request = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nX-Auth-Token: {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let received = read_to_close(&mut stream).await;
    let text = String::from_utf8_lossy(&received).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer to {method} {target}: {text:?}"));
    Answer {
        status,
        body: serde_json::from_str(body).unwrap_or(Value::Null),
        headers: Default::default(),
    }
}

/// Account ids in paths that are not raw ids: each a 404, and no database call can reach
/// outside the account's database.
const BAD_IDS: [&str; 14] = [
    "..",
    "%2E%2E",
    ".",
    "..%2F..%2Fsystem_auth",
    "a%2Fb",
    "%00",
    "0d1c678f5cb1c4e04cab2066f0b4adb%00",
    "0D1C678F5CB1C4E04CAB2066F0B4ADBE",
    "%C3%A9t%C3%A9",
    "%F0%9F%94%91",
    "_all_docs",
    "_design%2Fauth",
    "%25",
    "%20",
];

#[tokio::test]
async fn account_ids_that_are_not_raw_ids_are_404_on_every_route() {
    let app = TestApp::spawn().await;
    let (acct, token) = guarded(&app).await;
    let overlong = "a".repeat(5000);
    let mut ids: Vec<String> = BAD_IDS.iter().map(|s| s.to_string()).collect();
    ids.push(overlong);
    for id in &ids {
        for (method, suffix) in [
            ("GET", "security"),
            ("PATCH", "security"),
            ("DELETE", "security"),
            ("GET", "security/attempts"),
            ("GET", "multi_factor"),
            ("PUT", "multi_factor"),
        ] {
            let path = format!("/v2/accounts/{id}/{suffix}");
            let body = json!({"data": {"name": "x", "provider_name": "duo"}});
            let answer = send_exact(&app, method, &path, &token, Some(&body)).await;
            assert_envelope(&answer, 404, &format!("{method} {path}"));
        }
    }
    assert_untouched(&app, &acct, "a bad account id").await;
}

#[tokio::test]
async fn document_ids_that_try_to_leave_their_database_are_404() {
    let app = TestApp::spawn_with(Clock::fixed(JAN_15_2024)).await;
    let (acct, token) = guarded(&app).await;
    let superduper = app.superduper().await;
    let (_, root_token) = app.admin(&superduper).await;
    let mut ids: Vec<String> = BAD_IDS.iter().map(|s| s.to_string()).collect();
    ids.extend([
        "%2E".into(),
        ".%2E".into(),
        "a".repeat(5000),
        "configs_crossbar.auth".into(),
    ]);
    let body = json!({"data": {"name": "x", "provider_name": "duo", "enabled": false}});
    for id in &ids {
        let provider = format!("/v2/accounts/{}/multi_factor/{id}", acct.id);
        for method in ["GET", "POST", "PATCH", "DELETE"] {
            let answer = send_exact(&app, method, &provider, &token, Some(&body)).await;
            assert_envelope(&answer, 404, &format!("{method} {provider}"));
        }
        let attempt = format!("{}/attempts/{id}", acct.security());
        let answer = send_exact(&app, "GET", &attempt, &token, None).await;
        assert_envelope(&answer, 404, &attempt);
        let totp = format!("/v2/accounts/{}/users/{id}/multi_factor/totp", acct.id);
        let answer = send_exact(&app, "PUT", &totp, &token, Some(&json!({"data": {}}))).await;
        assert_envelope(&answer, 404, &totp);
        let system = format!("/v2/multi_factor/{id}");
        for method in ["GET", "POST", "PATCH"] {
            let answer = send_exact(&app, method, &system, &root_token, Some(&body)).await;
            assert_envelope(&answer, 404, &format!("{method} {system}"));
        }
    }
    assert_untouched(&app, &acct, "a bad document id").await;
    let leftovers: Vec<Value> = app
        .all_docs(&acct.db())
        .await
        .into_iter()
        .filter(|d| d["pvt_type"] != "account" && d["pvt_type"] != "user")
        .filter(|d| d["_id"] != "configs_crossbar.auth")
        .collect();
    assert_eq!(leftovers, Vec::<Value>::new(), "documents appeared");
}

#[tokio::test]
async fn many_or_large_headers_are_refused_without_harm() {
    let app = TestApp::spawn().await;
    let (acct, token) = guarded(&app).await;

    // Within the limits: a 64 KiB token is just a bad token.
    let big_token = "x".repeat(64 * 1024);
    let answer = app
        .send("GET", &acct.security(), Some(&big_token), None)
        .await;
    assert_envelope(&answer, 401, "a 64 KiB token");

    // Past them, hyper answers before any handler runs (431, or the connection closes).
    let huge = "y".repeat(400 * 1024);
    let response = app
        .http
        .get(format!("{}{}", app.url, acct.security()))
        .header("X-Auth-Token", &token)
        .header("X-Padding", huge)
        .send()
        .await;
    if let Ok(response) = response {
        assert_eq!(response.status().as_u16(), 431);
    }
    let mut request = app
        .http
        .patch(format!("{}{}", app.url, acct.security()))
        .header("X-Auth-Token", &token)
        .json(&json!({"data": {"changed": true}}));
    for i in 0..500 {
        request = request.header(format!("x-filler-{i}"), "v");
    }
    if let Ok(response) = request.send().await {
        assert!(response.status().is_client_error(), "{}", response.status());
    }
    assert_untouched(&app, &acct, "a request with too many headers").await;
    assert_alive(&app, &token).await;
}

/// Reads until the server closes the connection; answers what it sent.
async fn read_to_close(stream: &mut tokio::net::TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return received,
            Ok(n) => received.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test]
async fn a_client_sending_its_headers_slowly_is_cut_off() {
    let app = TestApp::spawn_configured(Clock::system(), &[("HEADER_READ_TIMEOUT_S", "1")]).await;
    let addr = app.url.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stream
        .write_all(b"GET /v2/security HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();

    // One header byte every 200 ms would take minutes; the server must hang up long before.
    let drip = async {
        for _ in 0..600 {
            if stream.write_all(b"X").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let closed = tokio::time::timeout(Duration::from_secs(60), drip).await;
    assert!(closed.is_ok(), "the connection was still open after 60 s");

    let mut idle = tokio::net::TcpStream::connect(&addr).await.unwrap();
    idle.write_all(b"GET /v2/sec").await.unwrap();
    let received = tokio::time::timeout(Duration::from_secs(60), read_to_close(&mut idle)).await;
    let received = received.expect("a half-sent request line was kept open over 60 s");
    let text = String::from_utf8_lossy(&received);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{text}"
    );

    let answer = app.send("GET", "/v2/security", None, None).await;
    assert_envelope(&answer, 401, "after the slow clients");
}

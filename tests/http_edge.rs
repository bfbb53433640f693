//! The HTTP edge: the envelope, request ids, headers, CORS, body limits, unknown paths and
//! methods (api.md "Envelope").

mod common;

use common::{Answer, JAN_15_2024, TestApp, is_raw_id};
use kazoo_security::state::Clock;
use serde_json::{Value, json};

const ALLOW_HEADERS: &str = "Content-Type, Depth, User-Agent, X-HTTP-Method-Override, \
    X-File-Size, X-Requested-With, If-Modified-Since, X-File-Name, Cache-Control, \
    X-Auth-Token, X-Kazoo-Cluster-ID, If-Match";
const EXPOSE_HEADERS: &str =
    "Content-Type, X-Auth-Token, X-Request-ID, X-Kazoo-Cluster-ID, Location, Etag";

fn header<'a>(answer: &'a Answer, name: &str) -> &'a str {
    answer
        .headers
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or_else(|| panic!("no {name} header: {:?}", answer.headers))
}

fn methods_of(answer: &Answer) -> Vec<String> {
    let mut methods: Vec<String> = header(answer, "access-control-allow-methods")
        .split(',')
        .map(|m| m.trim().to_string())
        .collect();
    methods.sort();
    methods
}

fn assert_cors(answer: &Answer) {
    assert_eq!(header(answer, "access-control-allow-origin"), "*");
    assert_eq!(
        header(answer, "access-control-allow-headers"),
        ALLOW_HEADERS
    );
    assert_eq!(
        header(answer, "access-control-expose-headers"),
        EXPOSE_HEADERS
    );
    assert_eq!(header(answer, "access-control-max-age"), "86400");
}

/// The envelope keys every answer has besides `data` and `status`.
fn assert_common_envelope(answer: &Answer) {
    let body = &answer.body;
    assert!(is_raw_id(body["request_id"].as_str().unwrap()), "{body}");
    assert!(!body["node"].as_str().unwrap().is_empty(), "{body}");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert!(body["auth_token"].is_string(), "{body}");
    assert_eq!(header(answer, "content-type"), "application/json");
}

#[tokio::test]
async fn a_success_envelope_carries_every_field() {
    let app = TestApp::spawn_with(Clock::fixed(JAN_15_2024)).await;
    let t = app.tree().await;
    let first = app
        .send("GET", &t.leaf.security(), Some(&t.token), None)
        .await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_common_envelope(&first);
    assert_eq!(first.body["status"], "success");
    assert_eq!(first.body["auth_token"], t.token.as_str());
    assert_eq!(first.body["timestamp"], "2024-01-15T10:00:00Z");
    assert!(first.body["data"]["account"].is_object());
    assert!(
        first.body.get("revision").is_none(),
        "no document, no revision"
    );
    assert!(first.headers.get("etag").is_none());

    let second = app.send("GET", "/v2/security", Some(&t.token), None).await;
    assert_eq!(second.body["node"], first.body["node"], "node is stable");
    assert_ne!(second.body["request_id"], first.body["request_id"]);
}

#[tokio::test]
async fn config_reads_and_writes_answer_the_revision_and_an_etag() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let body = json!({"data": {"a": 1}});
    let path = t.leaf.security();
    let mut revisions = Vec::new();
    for (method, body) in [
        ("POST", Some(body.clone())),
        ("PATCH", Some(body)),
        ("GET", None),
    ] {
        let answer = app.send(method, &path, Some(&t.token), body).await;
        assert_eq!(answer.status, 200, "{method}: {}", answer.body);
        let stored = app.config_doc(&t.leaf).await.unwrap()["_rev"].clone();
        assert_eq!(answer.body["revision"], stored, "{method}");
        let etag = format!("\"{}\"", stored.as_str().unwrap());
        assert_eq!(header(&answer, "etag"), etag, "{method}");
        revisions.push(stored);
    }
    assert_ne!(revisions[0], revisions[1], "PATCH made a new revision");

    let deleted = app.send("DELETE", &path, Some(&t.token), None).await;
    assert_eq!(deleted.body["revision"], revisions[2]);
    assert_eq!(
        header(&deleted, "etag"),
        format!("\"{}\"", revisions[2].as_str().unwrap())
    );
}

#[tokio::test]
async fn an_error_envelope_gives_the_status_as_a_string() {
    let app = TestApp::spawn_with(Clock::fixed(JAN_15_2024)).await;
    let answer = app.send("GET", "/v2/nowhere", None, None).await;
    assert_eq!(answer.status, 404);
    assert_common_envelope(&answer);
    let keys = common::keys_of(&answer.body);
    let expected = [
        "auth_token",
        "data",
        "error",
        "message",
        "node",
        "request_id",
        "status",
        "timestamp",
        "version",
    ];
    assert_eq!(keys, expected);
    assert_eq!(answer.body["error"], "404");
    assert_eq!(answer.body["status"], "error");
    assert_eq!(answer.body["message"], "not_found");
    assert_eq!(answer.body["data"], json!({"message": "not found"}));
    assert_eq!(answer.body["timestamp"], "2024-01-15T10:00:00Z");
}

#[tokio::test]
async fn the_request_id_is_echoed_when_sent_and_generated_when_not() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let path = t.leaf.security();
    let headers = [
        ("X-Request-ID", "client-chosen-id-42"),
        ("X-Auth-Token", t.token.as_str()),
    ];
    let answer = app.send_with("GET", &path, &headers, None).await;
    assert_eq!(answer.body["request_id"], "client-chosen-id-42");
    assert_eq!(header(&answer, "x-request-id"), "client-chosen-id-42");

    for token in [Some(t.token.as_str()), None] {
        let answer = app.send("GET", &path, token, None).await;
        let id = answer.body["request_id"].as_str().unwrap().to_string();
        assert!(is_raw_id(&id), "{id}");
        assert_eq!(header(&answer, "x-request-id"), id);
    }
    let headers = [("X-Request-ID", "error-path-id")];
    let answer = app.send_with("GET", &path, &headers, None).await;
    assert_eq!(answer.status, 401);
    assert_eq!(header(&answer, "x-request-id"), "error-path-id");
    assert_eq!(answer.body["request_id"], "error-path-id");
}

#[tokio::test]
async fn cors_headers_come_on_successes_and_errors() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let origin = [
        ("Origin", "https://portal.example.com"),
        ("X-Auth-Token", t.token.as_str()),
    ];
    let ok = app
        .send_with("GET", &t.leaf.security(), &origin, None)
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_cors(&ok);
    assert_eq!(
        methods_of(&ok),
        ["DELETE", "GET", "OPTIONS", "PATCH", "POST"]
    );

    let origin = [("Origin", "https://portal.example.com")];
    let denied = app
        .send_with("GET", &t.leaf.security(), &origin, None)
        .await;
    assert_eq!(denied.status, 401);
    assert_cors(&denied);
    let lost = app.send("GET", "/v2/nowhere", None, None).await;
    assert_cors(&lost);
}

#[tokio::test]
async fn options_needs_no_token_and_lists_the_paths_methods() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let cases = [
        (
            t.leaf.security(),
            vec!["DELETE", "GET", "OPTIONS", "PATCH", "POST"],
        ),
        ("/v2/user_auth".to_string(), vec!["OPTIONS", "PUT"]),
        (
            format!("{}/attempts", t.leaf.security()),
            vec!["GET", "OPTIONS"],
        ),
    ];
    for (path, methods) in cases {
        let headers = [("Origin", "https://portal.example.com")];
        let answer = app.send_raw("OPTIONS", &path, &headers, "").await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
        assert_cors(&answer);
        assert_eq!(methods_of(&answer), methods, "{path}");
    }
}

#[tokio::test]
async fn a_body_over_one_mebibyte_is_refused_with_413() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let frame = r#"{"data":{"pad":""}}"#.len();
    let fits = format!(
        r#"{{"data":{{"pad":"{}"}}}}"#,
        "x".repeat(1024 * 1024 - frame)
    );
    assert_eq!(fits.len(), 1024 * 1024);
    let headers = [
        ("X-Auth-Token", t.token.as_str()),
        ("Content-Type", "application/json"),
    ];
    let answer = app
        .send_raw("POST", &t.leaf.security(), &headers, fits)
        .await;
    assert_eq!(
        answer.status, 200,
        "exactly 1 MiB is allowed: {}",
        answer.body
    );

    let over = format!(r#"{{"data":{{"pad":"{}"}}}}"#, "x".repeat(1024 * 1024));
    let answer = app
        .send_raw("POST", &t.leaf.security(), &headers, over)
        .await;
    assert_eq!(answer.status, 413, "{}", answer.body);
    assert_eq!(answer.body["error"], "413");
    assert_eq!(answer.body["message"], "request_entity_too_large");
    assert!(answer.body["data"]["message"].is_string());
    assert_eq!(header(&answer, "content-type"), "application/json");
}

#[tokio::test]
async fn a_body_that_is_not_utf8_is_a_400() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let headers = [
        ("X-Auth-Token", t.token.as_str()),
        ("Content-Type", "application/json"),
    ];
    let bytes: Vec<u8> = b"{\"data\":{\"name\":\"caf\xe9\"}}".to_vec();
    let answer = app
        .send_raw("POST", &t.leaf.security(), &headers, bytes)
        .await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(answer.body["message"], "validation error");
    assert_eq!(answer.body["data"]["json"]["invalid"]["target"], "body");
    assert!(app.config_doc(&t.leaf).await.is_none());
}

#[tokio::test]
async fn an_unknown_path_is_404_not_found_even_without_a_token() {
    let app = TestApp::spawn().await;
    let paths = [
        "/",
        "/v2",
        "/v1/security",
        "/v2/securities",
        "/v2/accounts/x/other",
    ];
    for path in paths {
        let answer = app.send("GET", path, None, None).await;
        assert_eq!(answer.status, 404, "{path}: {}", answer.body);
        assert_eq!(answer.body["message"], "not_found", "{path}");
        assert_eq!(
            answer.body["data"],
            json!({"message": "not found"}),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_method_the_path_does_not_serve_is_405_before_authentication() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let attempts = format!("{}/attempts", t.leaf.security());
    let cases = [
        ("GET", "/v2/user_auth".to_string()),
        ("DELETE", "/v2/api_auth".to_string()),
        ("POST", "/v2/ip_auth".to_string()),
        ("PATCH", attempts),
        ("PUT", t.leaf.security()),
    ];
    for (method, path) in cases {
        let answer = app.send(method, &path, None, None).await;
        assert_eq!(answer.status, 405, "{method} {path}: {}", answer.body);
        assert_eq!(answer.body["error"], "405");
        assert_eq!(answer.body["message"], "invalid_method");
        assert_eq!(
            answer.body["data"],
            json!({"message": "method not allowed"})
        );
        assert_eq!(header(&answer, "content-type"), "application/json");
    }
}

#[tokio::test]
async fn requests_are_read_leniently_like_crossbar_reads_them() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let path = format!("{}?_=1700000000000&unknown=1", t.leaf.security());
    let body = json!({"DATA": {"a": 1}, "Auth_Token": t.token});
    let answer = app.send_raw("POST", &path, &[], body.to_string()).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let stored: Value = common::public(&app.config_doc(&t.leaf).await.unwrap());
    assert_eq!(stored, json!({"a": 1}));
}

#[tokio::test]
async fn x_forwarded_for_counts_only_from_a_trusted_proxy() {
    let env = [("TRUSTED_PROXIES", "192.0.2.0/24")];
    let app = TestApp::spawn_configured(Clock::system(), &env).await;
    let t = app.tree().await;
    let ip = "198.18.255.77";
    app.update_doc("accounts", &t.leaf.id, |doc| {
        doc["ips"] = json!([{"ip": ip, "owner_id": ""}])
    })
    .await;

    let headers = [("X-Forwarded-For", ip)];
    let body = Some(json!({"data": {}}));
    let answer = app.send_with("PUT", "/v2/ip_auth", &headers, body).await;
    assert_eq!(
        answer.status, 401,
        "loopback is not trusted here: {}",
        answer.body
    );
}

#[tokio::test]
async fn long_targets_and_non_object_data_get_envelopes() {
    let app = TestApp::spawn().await;
    let long = format!("/v2/accounts/{}/security", "a".repeat(20_000));
    let answer = app.send("GET", &long, None, None).await;
    assert_eq!(answer.status, 414);
    assert_eq!(answer.body["message"], "request_uri_too_long");

    let acct = app.account(None, true).await;
    let token = app.api_token(&acct).await;
    let answer = app
        .send(
            "POST",
            &acct.security(),
            Some(&token),
            Some(serde_json::json!({"data": 5})),
        )
        .await;
    assert_eq!(answer.status, 400);
    assert!(
        answer.body["data"]["data"]["required"].is_object(),
        "{}",
        answer.body
    );
}

#[tokio::test]
async fn the_method_override_header_is_honoured_on_post() {
    let app = TestApp::spawn().await;
    let acct = app.account(None, true).await;
    let token = app.api_token(&acct).await;
    app.store_config(&acct, serde_json::json!({"auth_modules": {}}))
        .await;
    let headers = [
        ("x-auth-token", token.as_str()),
        ("x-http-method-override", "DELETE"),
    ];
    let answer = app.send_raw("POST", &acct.security(), &headers, "").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["data"]["_read_only"]["deleted"], true);
    assert!(
        app.couch()
            .get(&acct.db(), "configs_crossbar.auth")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_refresh_action_may_come_beside_or_inside_data() {
    let app = TestApp::spawn().await;
    let acct = app.account(None, true).await;
    let token = app.api_token(&acct).await;
    for body in [
        json!({"data": {}, "action": "refresh_token"}),
        json!({"data": {"action": "refresh_token"}}),
    ] {
        let answer = app.send("PUT", "/v2/auth", Some(&token), Some(body)).await;
        assert_eq!(answer.status, 201, "{}", answer.body);
        assert_eq!(answer.body["data"]["method"], "cb_auth");
    }
    let answer = app
        .send("PUT", "/v2/auth", Some(&token), Some(json!({"data": {}})))
        .await;
    assert_eq!(answer.status, 400);
}

#[tokio::test]
async fn head_answers_as_get_without_a_body() {
    let app = TestApp::spawn().await;
    let t = app.tree().await;
    let head = |path: String, token: Option<String>| {
        let mut request = app.http.head(format!("{}{path}", app.url));
        if let Some(token) = token {
            request = request.header("X-Auth-Token", token);
        }
        request.send()
    };

    let answer = head(t.leaf.security(), Some(t.token.clone()))
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["content-type"], "application/json");
    assert!(answer.bytes().await.unwrap().is_empty(), "HEAD has no body");

    let unauthenticated = head(t.leaf.security(), None).await.unwrap();
    assert_eq!(unauthenticated.status(), 401, "HEAD is checked as GET is");
    let login = head("/v2/user_auth".to_string(), None).await.unwrap();
    assert_eq!(login.status(), 405, "a route without GET has no HEAD");
}

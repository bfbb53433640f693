//! The operators' endpoints: `/healthz`, `/readyz`, `/metrics`, and request ids in JSON logs.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::TestApp;
use kazoo_security::domain::ids::new_raw_id;
use kazoo_security::state::Clock;
use serde_json::{Value, json};

/// The text of `GET /metrics`.
async fn metrics(app: &TestApp) -> String {
    let response = app
        .http
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    response.text().await.unwrap()
}

/// The value of one series, written as `name{labels}` exactly as the text has it.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| value.trim().parse().unwrap())
}

/// The sum of every series of the metric `name`.
fn total(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|line| line.starts_with(&format!("{name}{{")))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// A port nothing listens on (just released by the operating system).
fn unused_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn healthz_answers_without_a_token() {
    let app = TestApp::spawn().await;
    let answer = app.send("GET", "/healthz", None, None).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["data"]["status"], "up");
}

#[tokio::test]
async fn readyz_is_ready_when_couchdb_answers_and_the_key_loads() {
    let app = TestApp::spawn().await;
    let answer = app.send("GET", "/readyz", None, None).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.body["data"],
        json!({"couchdb": "ok", "signing_key": "ok"})
    );
}

#[tokio::test]
async fn readyz_is_not_ready_without_couchdb_and_the_failure_is_counted() {
    // The harness runs setup through the first app it spawns: let that be a working one.
    TestApp::spawn().await;
    let dead = format!("http://127.0.0.1:{}", unused_port());
    let app = TestApp::spawn_configured(Clock::system(), &[("COUCHDB_URL", &dead)]).await;

    let answer = app.send("GET", "/readyz", None, None).await;
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert_eq!(answer.body["status"], "error");
    assert_eq!(answer.body["error"], "503");
    assert_eq!(answer.body["message"], "not_ready");
    assert_eq!(answer.body["data"]["couchdb"], "unreachable");
    let health = app.send("GET", "/healthz", None, None).await;
    assert_eq!(health.status, 200, "the process itself is up");

    let text = metrics(&app).await;
    let errors = sample(
        &text,
        r#"kazoo_security_couchdb_errors_total{method="GET",kind="unreachable"}"#,
    );
    assert!(errors.unwrap_or(0.0) >= 1.0, "{text}");
    let not_ready =
        r#"kazoo_security_http_requests_total{route="/readyz",method="GET",status="503"}"#;
    assert_eq!(sample(&text, not_ready), Some(1.0), "{text}");
}

#[tokio::test]
async fn logins_are_counted_by_module_and_outcome() {
    let app = TestApp::spawn().await;
    let acct = app.account(None, false).await;
    let user = app.user(&acct, true).await;
    app.login(&acct, &user).await;
    app.api_token(&acct).await;
    let wrong = json!({"data": {"credentials": "0".repeat(32), "account_name": acct.name}});
    let refused = app.send("PUT", "/v2/user_auth", None, Some(wrong)).await;
    assert_eq!(refused.status, 401);
    let invalid = app
        .send("PUT", "/v2/user_auth", None, Some(json!({"data": {}})))
        .await;
    assert_eq!(invalid.status, 400);

    let text = metrics(&app).await;
    let logins = |module: &str, outcome: &str| {
        let series =
            format!(r#"kazoo_security_logins_total{{module="{module}",outcome="{outcome}"}}"#);
        sample(&text, &series)
    };
    assert_eq!(logins("cb_user_auth", "success"), Some(1.0), "{text}");
    assert_eq!(logins("cb_api_auth", "success"), Some(1.0), "{text}");
    assert_eq!(logins("cb_user_auth", "invalid_credentials"), Some(1.0));
    assert_eq!(logins("cb_user_auth", "bad_request"), Some(1.0));
    let created =
        r#"kazoo_security_http_requests_total{route="/v2/user_auth",method="PUT",status="201"}"#;
    assert_eq!(sample(&text, created), Some(1.0), "{text}");
    assert!(
        total(
            &text,
            "kazoo_security_couchdb_request_duration_seconds_count"
        ) > 0.0
    );
    assert_eq!(
        sample(&text, "kazoo_security_attempt_write_failures_total"),
        Some(0.0)
    );
}

#[tokio::test]
async fn requests_are_counted_by_route_template_never_by_raw_path() {
    let app = TestApp::spawn().await;
    let account = new_raw_id();
    let unknown = app.send("GET", "/v2/no/such/route", None, None).await;
    assert_eq!(unknown.status, 404);
    let path = format!("/v2/accounts/{account}/security");
    let anonymous = app.send("GET", &path, None, None).await;
    assert_eq!(anonymous.status, 401);

    let text = metrics(&app).await;
    let not_found =
        r#"kazoo_security_http_requests_total{route="unknown",method="GET",status="404"}"#;
    assert_eq!(sample(&text, not_found), Some(1.0), "{text}");
    let route = "/v2/accounts/{account_id}/security";
    let security = format!(
        r#"kazoo_security_http_requests_total{{route="{route}",method="GET",status="401"}}"#
    );
    assert_eq!(sample(&text, &security), Some(1.0), "{text}");
    let latency = format!(
        r#"kazoo_security_http_request_duration_seconds_count{{route="{route}",method="GET"}}"#
    );
    assert_eq!(sample(&text, &latency), Some(1.0), "{text}");
    assert!(!text.contains(&account), "an id leaked into a label");
    assert!(!text.contains("no/such"), "a raw path leaked into a label");
}

#[tokio::test]
async fn cache_hits_are_counted_when_caching_is_on() {
    let app = TestApp::spawn_configured(Clock::system(), &[("CONFIG_CACHE_TTL", "60")]).await;
    let acct = app.account(None, false).await;
    let (_, token) = app.admin(&acct).await;
    for _ in 0..2 {
        let answer = app.send("GET", &acct.security(), Some(&token), None).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }

    let text = metrics(&app).await;
    assert!(
        total(&text, "kazoo_security_cache_hits_total") >= 1.0,
        "{text}"
    );
    assert!(
        total(&text, "kazoo_security_cache_misses_total") >= 1.0,
        "{text}"
    );
    let tokens = r#"kazoo_security_cache_hits_total{cache="verified_tokens"}"#;
    assert!(sample(&text, tokens).unwrap() >= 1.0, "{text}");
}

#[tokio::test]
async fn rate_limit_refusals_are_counted() {
    let limited = [("RATE_LIMIT_BUCKET", "1"), ("RATE_LIMIT_REFILL_PER_S", "0")];
    let app = TestApp::spawn_configured(Clock::system(), &limited).await;
    let acct = app.account(None, false).await;
    let user = app.user(&acct, true).await;
    assert_eq!(app.user_auth(&acct, &user).await.status, 201);
    assert_eq!(app.user_auth(&acct, &user).await.status, 429);

    let text = metrics(&app).await;
    let refused = r#"kazoo_security_rate_limited_total{module="cb_user_auth"}"#;
    assert_eq!(sample(&text, refused), Some(1.0), "{text}");
    let outcome = r#"kazoo_security_logins_total{module="cb_user_auth",outcome="rate_limited"}"#;
    assert_eq!(sample(&text, outcome), Some(1.0), "{text}");
}

/// The built binary serving with `LOG_FORMAT=json`; killed when dropped.
struct Served {
    child: Child,
    lines: mpsc::Receiver<String>,
    url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    fn start() -> Served {
        let addr = format!("127.0.0.1:{}", unused_port());
        let mut child = Command::new(env!("CARGO_BIN_EXE_kazoo-security"))
            .arg("serve")
            .env("LISTEN_ADDR", &addr)
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let stderr = child.stderr.take().unwrap();
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = send.send(line);
            }
        });
        Served {
            child,
            lines,
            url: format!("http://{addr}"),
        }
    }

    /// The next log line, waiting at most `timeout`.
    fn next_line(&self, timeout: Duration) -> Option<String> {
        self.lines.recv_timeout(timeout).ok()
    }
}

#[tokio::test]
async fn json_log_lines_carry_the_request_id() {
    let served = Served::start();
    let started = (0..50).any(|_| {
        served
            .next_line(Duration::from_secs(60))
            .is_some_and(|line| line.contains("serving"))
    });
    assert!(started, "the service did not log that it is serving");

    let request_id = format!("ops-log-{}", &new_raw_id()[..12]);
    let http = reqwest::Client::new();
    for path in ["/v2/security", "/readyz"] {
        http.get(format!("{}{path}", served.url))
            .header("X-Request-ID", &request_id)
            .send()
            .await
            .expect("the service answers");
    }

    let mut ours = Vec::new();
    while ours.len() < 2 {
        let line = served
            .next_line(Duration::from_secs(60))
            .expect("a log line for each request");
        let event: Value = serde_json::from_str(&line).expect("every line is JSON");
        if event.get("span").is_some() {
            assert!(event["span"]["request_id"].is_string(), "{line}");
        }
        if event["span"]["request_id"] == request_id.as_str() {
            ours.push(event);
        }
    }
    let completed: Vec<_> = ours
        .iter()
        .filter(|e| e["message"] == "request completed")
        .map(|e| {
            (
                e["span"]["http.route"].clone(),
                e["http.status_code"].clone(),
            )
        })
        .collect();
    assert!(
        completed.contains(&(json!("/v2/security"), json!(401))),
        "{ours:?}"
    );
}

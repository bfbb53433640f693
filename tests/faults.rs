//! CouchDB faults: a server that stops under load and comes back, and one that never
//! answers. Every request ends in a timely answer, a 503 `datastore_fault` while CouchDB is
//! away, nothing half-written, and the same instance serves again once CouchDB is back.
//!
//! `SOAK_FAULT_ROUNDS` sets how often CouchDB is stopped and restarted (`make soak`: 5).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::load::{CouchServer, Proxy, ProxyMode, env_number, logging_account};
use common::{Acct, TestApp, User, public};
use kazoo_security::state::Clock;
use serde_json::{Value, json};

/// `COUCHDB_TIMEOUT_S` of these tests.
const TIMEOUT_S: u64 = 2;

/// How long a client waits for any answer: far beyond what the service may take.
const CLIENT_PATIENCE: Duration = Duration::from_secs(60);

/// A service on `couchdb_url` with a short CouchDB timeout, after running setup there.
async fn service_on(couchdb_url: &str) -> TestApp {
    let timeout = TIMEOUT_S.to_string();
    let env = [
        ("COUCHDB_URL", couchdb_url),
        ("COUCHDB_TIMEOUT_S", &timeout),
    ];
    let app = TestApp::spawn_configured(Clock::system(), &env).await;
    let now = app.now();
    kazoo_security::cli::setup::run(&app.state.store, now)
        .await
        .expect("setup succeeds");
    app
}

/// An account that logs every user login, a user, and an API token of the account.
struct Subject {
    acct: Acct,
    user: User,
    token: String,
}

async fn subject(app: &TestApp) -> Subject {
    let (acct, token, user) = logging_account(app).await;
    Subject { acct, user, token }
}

/// The requests the load mixes.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Login,
    FailedLogin,
    ReadConfig,
    PatchConfig,
    ListAttempts,
}

const KINDS: [Kind; 5] = [
    Kind::Login,
    Kind::FailedLogin,
    Kind::ReadConfig,
    Kind::PatchConfig,
    Kind::ListAttempts,
];

impl Kind {
    /// The status of this request when CouchDB is healthy.
    fn healthy_status(self) -> u16 {
        match self {
            Kind::Login => 201,
            Kind::FailedLogin => 401,
            _ => 200,
        }
    }
}

/// One request and its answer.
#[derive(Debug)]
struct Outcome {
    kind: Kind,
    /// The key a PATCH added.
    key: String,
    request_id: String,
    status: u16,
    message: Value,
    /// Whether CouchDB was stopped for the whole time the request took.
    while_down: bool,
}

/// Sends one request of `kind`; panics when the service does not answer in time.
async fn send(app: &TestApp, client: &reqwest::Client, s: &Subject, kind: Kind) -> Outcome {
    let request_id = kazoo_security::domain::ids::new_raw_id();
    let key = format!("k_{}", &request_id[..8]);
    let (method, path, token, body) = match kind {
        Kind::Login | Kind::FailedLogin => {
            let credentials = if kind == Kind::Login {
                s.user.md5()
            } else {
                "0".repeat(32)
            };
            let body = json!({"data": {"credentials": credentials, "account_name": s.acct.name}});
            ("PUT", "/v2/user_auth".to_string(), None, Some(body))
        }
        Kind::ReadConfig => ("GET", s.acct.security(), Some(&s.token), None),
        Kind::PatchConfig => {
            let body = json!({"data": {key.clone(): true}});
            ("PATCH", s.acct.security(), Some(&s.token), Some(body))
        }
        Kind::ListAttempts => {
            let path = format!("{}/attempts", s.acct.security());
            ("GET", path, Some(&s.token), None)
        }
    };
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = client
        .request(method, format!("{}{path}", app.url))
        .header("X-Request-ID", &request_id)
        .timeout(CLIENT_PATIENCE);
    if let Some(token) = token {
        request = request.header("X-Auth-Token", token.as_str());
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{kind:?} {request_id} got no answer: {e}"));
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    Outcome {
        kind,
        key,
        request_id,
        status,
        message: body["message"].clone(),
        while_down: false,
    }
}

/// Whether CouchDB is stopped, and a counter that moves on every stop and restart, so that a
/// request can tell whether it ran entirely while CouchDB was down.
#[derive(Default)]
struct Phase {
    down: AtomicBool,
    changes: AtomicU64,
}

/// Clients sending the mixed requests until `stop`, each outcome kept.
fn start_load(
    app: &Arc<TestApp>,
    s: &Arc<Subject>,
    phase: &Arc<Phase>,
    stop: &Arc<AtomicBool>,
    clients: usize,
) -> Vec<tokio::task::JoinHandle<Vec<Outcome>>> {
    (0..clients)
        .map(|c| {
            let (app, s, phase, stop) = (app.clone(), s.clone(), phase.clone(), stop.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let mut outcomes = Vec::new();
                let mut n = c;
                while !stop.load(Ordering::SeqCst) {
                    let before = phase.changes.load(Ordering::SeqCst);
                    let down = phase.down.load(Ordering::SeqCst);
                    let mut outcome = send(&app, &client, &s, KINDS[n % KINDS.len()]).await;
                    outcome.while_down = down && before == phase.changes.load(Ordering::SeqCst);
                    outcomes.push(outcome);
                    n += 1;
                }
                outcomes
            })
        })
        .collect()
}

/// Waits (boundedly) until `done` holds.
async fn wait_until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done().await {
        assert!(Instant::now() < deadline, "waited too long for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn is_datastore_fault(outcome: &Outcome) -> bool {
    outcome.status == 503 && outcome.message == "datastore_fault"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stopped_couchdb_gives_503s_and_the_same_instance_recovers_when_it_is_back() {
    let couch = Arc::new(CouchServer::start());
    let app = Arc::new(service_on(&couch.url()).await);
    let s = Arc::new(subject(&app).await);
    let phase = Arc::new(Phase::default());
    let stop = Arc::new(AtomicBool::new(false));
    let load = start_load(&app, &s, &phase, &stop, 16);
    let client = reqwest::Client::new();

    for _ in 0..env_number("SOAK_FAULT_ROUNDS", 1) {
        let successes = app.state.store.couch.request_count();
        wait_until("load before the stop", async || {
            app.state.store.couch.request_count() > successes + 200
        })
        .await;

        let stopping = couch.clone();
        tokio::task::spawn_blocking(move || stopping.stop())
            .await
            .unwrap();
        // Only once the server is gone: a request that began while it was stopping may
        // still have been answered by it.
        phase.down.store(true, Ordering::SeqCst);
        phase.changes.fetch_add(1, Ordering::SeqCst);
        for kind in KINDS {
            let outcome = send(&app, &client, &s, kind).await;
            assert!(is_datastore_fault(&outcome), "CouchDB is down: {outcome:?}");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;

        phase.down.store(false, Ordering::SeqCst);
        phase.changes.fetch_add(1, Ordering::SeqCst);
        let starting = couch.clone();
        tokio::task::spawn_blocking(move || starting.restart())
            .await
            .unwrap();
        wait_until("a login after the restart", async || {
            send(&app, &client, &s, Kind::Login).await.status == 201
        })
        .await;
        for kind in KINDS {
            let outcome = send(&app, &client, &s, kind).await;
            assert_eq!(outcome.status, kind.healthy_status(), "{outcome:?}");
        }
    }

    stop.store(true, Ordering::SeqCst);
    let mut outcomes = Vec::new();
    for client in load {
        outcomes.extend(client.await.expect("no client panicked"));
    }
    check_outcomes(&outcomes);
    check_nothing_half_written(&app, &s, &outcomes).await;
}

/// Every answer is the healthy one or a 503 `datastore_fault`; while CouchDB was down, only
/// the 503.
fn check_outcomes(outcomes: &[Outcome]) {
    let mut down = 0;
    for outcome in outcomes {
        if outcome.while_down {
            down += 1;
            assert!(is_datastore_fault(outcome), "while down: {outcome:?}");
        } else {
            assert!(
                outcome.status == outcome.kind.healthy_status() || is_datastore_fault(outcome),
                "{outcome:?}"
            );
        }
    }
    assert!(
        down > 0,
        "some requests of the load ran while CouchDB was down"
    );
    assert!(
        outcomes.iter().any(|o| o.status == 201),
        "some logins of the load succeeded"
    );
}

/// The config holds every PATCH answered 200, whole; every attempt document is whole, and
/// each answered login lacking one is counted as a failed write.
async fn check_nothing_half_written(app: &TestApp, s: &Subject, outcomes: &[Outcome]) {
    let stored = app.config_doc(&s.acct).await.expect("the config exists");
    assert_eq!(stored["pvt_type"], "account_config");
    assert_eq!(stored["pvt_account_id"], s.acct.id.as_str());
    assert!(stored["pvt_modified"].is_i64() && stored["pvt_request_id"].is_string());
    let config = public(&stored);
    assert_eq!(
        config["auth_modules"]["cb_user_auth"]["log_failed_attempts"],
        true
    );
    for outcome in outcomes.iter().filter(|o| o.kind == Kind::PatchConfig) {
        if outcome.status == 200 {
            assert_eq!(config[&outcome.key], true, "a saved PATCH is kept");
        }
    }

    let mut attempts = app.attempts(&s.acct, app.now()).await;
    attempts.extend(app.attempts(&s.acct, app.now() - 31 * 86_400).await);
    let mut logged = std::collections::HashSet::new();
    for doc in &attempts {
        let id = doc["_id"].as_str().unwrap();
        let mut fields = public(doc).as_object().unwrap().clone();
        fields.remove("id");
        let hash = kazoo_security::store::document_hash(&fields, id);
        assert_eq!(doc["pvt_document_hash"], hash.as_str(), "whole: {doc}");
        logged.insert(doc["crossbar_request_id"].as_str().unwrap().to_string());
    }
    let unlogged = outcomes
        .iter()
        .filter(|o| matches!(o.kind, Kind::Login | Kind::FailedLogin))
        .filter(|o| o.status == o.kind.healthy_status())
        .filter(|o| !logged.contains(&o.request_id))
        .count();
    let counted = app.state.metrics.attempt_write_failures() as usize;
    assert!(
        unlogged <= counted,
        "{unlogged} answered logins have no attempt, {counted} failed writes were counted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_couchdb_that_never_answers_gives_bounded_503s_without_a_growing_queue() {
    let couchdb_url = std::env::var("COUCHDB_URL").expect("COUCHDB_URL is set");
    let proxy = Proxy::start(&couchdb_url).await;
    let app = Arc::new(service_on(&proxy.url).await);
    let s = Arc::new(subject(&app).await);
    let timeout = Duration::from_secs(TIMEOUT_S);

    for _ in 0..env_number("SOAK_FAULT_ROUNDS", 1) {
        proxy.set_mode(ProxyMode::Swallow);
        proxy.reset_most_open();
        let open_before = proxy.most_open();

        // Far more requests than CouchDB connections: were the waiting for a connection not
        // bounded by the timeout, the last would wait about 2000 / 64 timeouts.
        let client = reqwest::Client::new();
        let burst = (0..2000).map(|i| {
            let (app, s, client) = (app.clone(), s.clone(), client.clone());
            tokio::spawn(async move {
                let started = Instant::now();
                let kind = [Kind::Login, Kind::ReadConfig][i % 2];
                let outcome = send(&app, &client, &s, kind).await;
                assert!(is_datastore_fault(&outcome), "{outcome:?}");
                started.elapsed()
            })
        });
        let mut slowest = Duration::ZERO;
        for took in futures::future::join_all(burst).await {
            slowest = slowest.max(took.unwrap());
        }
        // A liveness bound, far above the two timeouts (a wait for a connection, then the
        // request) a request may take, far below what a queue of 2000 would take.
        let bound = timeout * 5 + Duration::from_secs(10);
        assert!(slowest < bound, "the slowest 503 took {slowest:?}");
        // 64 in flight at most; the proxy notices a connection the service gave up on a
        // little after its slot is reused, hence the margin (still far below the burst).
        assert!(
            proxy.most_open() <= open_before + 2 * 64,
            "about 64 requests at most wait on CouchDB at once, saw {}",
            proxy.most_open()
        );

        proxy.set_mode(ProxyMode::Pass);
        wait_until("an answer after CouchDB is fast again", async || {
            send(&app, &client, &s, Kind::Login).await.status == 201
        })
        .await;
        for kind in KINDS {
            let outcome = send(&app, &client, &s, kind).await;
            assert_eq!(outcome.status, kind.healthy_status(), "{outcome:?}");
        }
    }
}

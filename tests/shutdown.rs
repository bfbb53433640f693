//! Graceful shutdown of the real binary: SIGTERM under login load lets the requests in
//! flight finish, with their attempts written, and the process exits 0 in bounded time.

mod common;

use std::collections::HashSet;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::load::{Proxy, ProxyMode, free_port, logging_account};
use common::{Acct, TestApp, User};
use serde_json::json;

/// What one login of the load got.
enum Sent {
    /// An answer: its status, its request id, and whether it came after the SIGTERM.
    Answered {
        status: u16,
        request_id: String,
        after_term: bool,
    },
    /// No answer: the connection was refused or closed (only once SIGTERM was sent); each
    /// client stops at its first.
    Refused { after_term: bool },
}

async fn login(client: &reqwest::Client, base: &str, acct: &Acct, user: &User) -> (String, bool) {
    let request_id = kazoo_security::domain::ids::new_raw_id();
    let body = json!({"data": {"credentials": user.md5(), "account_name": acct.name}});
    let sent = client
        .put(format!("{base}/v2/user_auth"))
        .header("X-Request-ID", &request_id)
        .json(&body)
        .timeout(Duration::from_secs(60))
        .send()
        .await;
    match sent {
        Ok(response) => {
            let status = response.status().as_u16();
            (format!("{status} {request_id}"), true)
        }
        Err(_) => (String::new(), false),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_under_load_finishes_the_requests_in_flight_and_their_attempts() {
    let app = TestApp::spawn().await;
    let (acct, _token, user) = logging_account(&app).await;

    // A slow CouchDB makes each login take long enough that many are in flight at SIGTERM.
    let proxy = Proxy::start(app.state.settings.couchdb_url.as_str()).await;
    let listen = format!("127.0.0.1:{}", free_port());
    let base = format!("http://{listen}");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_kazoo-security"))
        .arg("serve")
        .env("COUCHDB_URL", &proxy.url)
        .env("LISTEN_ADDR", &listen)
        .env("RATE_LIMIT_BUCKET", "0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let mut child = KillOnDrop(child);
    let probe = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while probe.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "the service never answered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    proxy.set_mode(ProxyMode::Delay(100));

    let terminated = Arc::new(AtomicBool::new(false));
    let (acct, user, base) = (Arc::new(acct), Arc::new(user), Arc::new(base));
    let clients: Vec<_> = (0..20)
        .map(|_| {
            let (acct, user, base, terminated) =
                (acct.clone(), user.clone(), base.clone(), terminated.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let mut sent = Vec::new();
                loop {
                    let (answer, ok) = login(&client, &base, &acct, &user).await;
                    let after_term = terminated.load(Ordering::SeqCst);
                    if !ok {
                        sent.push(Sent::Refused { after_term });
                        return sent;
                    }
                    let (status, request_id) = answer.split_once(' ').unwrap();
                    sent.push(Sent::Answered {
                        status: status.parse().unwrap(),
                        request_id: request_id.to_string(),
                        after_term,
                    });
                }
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_secs(3)).await;
    terminated.store(true, Ordering::SeqCst);
    let pid = child.0.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    let exit = loop {
        if let Some(exit) = child.0.try_wait().unwrap() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "the service exits within a minute of SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "the service exits 0 on SIGTERM: {exit}");

    let mut answered = Vec::new();
    let mut answered_after_term = 0;
    for client in futures::future::join_all(clients).await {
        for sent in client.expect("no client panicked") {
            match sent {
                Sent::Answered {
                    status,
                    request_id,
                    after_term,
                } => {
                    assert_eq!(status, 201, "login {request_id}");
                    answered_after_term += usize::from(after_term);
                    answered.push(request_id);
                }
                Sent::Refused { after_term } => {
                    assert!(after_term, "a login failed before SIGTERM");
                }
            }
        }
    }
    assert!(
        answered_after_term > 0,
        "some logins in flight at SIGTERM were answered after it"
    );

    let logged: HashSet<String> = app
        .attempts(&acct, app.now())
        .await
        .iter()
        .map(|doc| doc["crossbar_request_id"].as_str().unwrap().to_string())
        .collect();
    let missing: Vec<_> = answered.iter().filter(|id| !logged.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} answered logins have no attempt: {missing:?}",
        missing.len(),
        answered.len()
    );
    assert_eq!(
        logged.len(),
        answered.len(),
        "no attempt without an answered login"
    );
}

/// The service's process, killed if the test ends before it exits.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

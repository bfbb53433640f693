//! Nothing lost under concurrency: config writes from many clients on two instances of the
//! service, and login attempts from many clients across a month boundary.
//!
//! `SOAK_LOGINS` sets the number of logins (`make soak` runs 10,000).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::load::{env_number, logging_account};
use common::{Acct, TestApp, public};
use kazoo_security::state::Clock;
use serde_json::{Value, json};

/// Two instances of the service on one CouchDB, as a cluster runs them.
async fn two_instances() -> [TestApp; 2] {
    [TestApp::spawn().await, TestApp::spawn().await]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_patches_of_distinct_keys_on_two_instances_all_survive() {
    let apps = Arc::new(two_instances().await);
    let acct = apps[0].account(None, true).await;
    let token = apps[0].api_token(&acct).await;

    let writers = (0..50).map(|i| {
        let (apps, path, token) = (apps.clone(), acct.security(), token.clone());
        tokio::spawn(async move {
            let body = json!({"data": {format!("key_{i:02}"): i}});
            let answer = apps[i % 2]
                .send("PATCH", &path, Some(&token), Some(body))
                .await;
            (i, answer.status, answer.body)
        })
    });
    for writer in futures::future::join_all(writers).await {
        let (i, status, body) = writer.unwrap();
        assert_eq!(status, 200, "PATCH {i}: {body}");
    }

    let stored = apps[0].config_doc(&acct).await.expect("the config exists");
    let expected: serde_json::Map<String, Value> =
        (0..50).map(|i| (format!("key_{i:02}"), json!(i))).collect();
    assert_eq!(
        public(&stored),
        Value::Object(expected),
        "every PATCH survives"
    );
    assert_eq!(stored["pvt_type"], "account_config");
}

/// What a round of a concurrent POST and DELETE may leave, and what each answered.
struct Round {
    post: common::Answer,
    delete: common::Answer,
    stored: Option<Value>,
}

async fn post_and_delete_at_once(apps: &[TestApp; 2], acct: &Acct, token: &str, body: &Value) {
    let path = acct.security();
    let post = apps[0].send("POST", &path, Some(token), Some(json!({"data": body})));
    let delete = apps[1].send("DELETE", &path, Some(token), None);
    let (post, delete) = tokio::join!(post, delete);
    let stored = apps[0].config_doc(acct).await;
    check_serial(
        &Round {
            post,
            delete,
            stored,
        },
        body,
    );
}

/// The round's end state and answers must be those of POST then DELETE, or DELETE then POST.
fn check_serial(round: &Round, posted: &Value) {
    let Round {
        post,
        delete,
        stored,
    } = round;
    assert_eq!(post.status, 200, "POST: {}", post.body);
    assert!(
        matches!(delete.status, 200 | 404),
        "DELETE: {} {}",
        delete.status,
        delete.body
    );
    match stored {
        // POST, then DELETE: the DELETE removed exactly what was posted.
        None => {
            assert_eq!(delete.status, 200, "{}", delete.body);
            let mut removed = delete.body["data"].clone();
            let removed = removed.as_object_mut().unwrap();
            removed.remove("id");
            removed.remove("_read_only");
            assert_eq!(&Value::Object(removed.clone()), posted, "DELETE after POST");
        }
        // DELETE (of the older config, or of nothing), then POST.
        Some(doc) => {
            assert_eq!(&public(doc), posted, "the stored config is the POSTed one");
            assert_eq!(doc["pvt_type"], "account_config");
            if delete.status == 200 {
                let removed = &delete.body["data"];
                assert_ne!(removed["round"], posted["round"], "DELETE before POST");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_concurrent_post_and_delete_end_as_one_of_their_serial_orders() {
    let apps = two_instances().await;
    let acct = apps[0].account(None, true).await;
    let token = apps[0].api_token(&acct).await;

    for round in 0..12 {
        let body = json!({"round": round, "auth_modules":
            {"cb_user_auth": {"token_auth_expiry_s": 600 + round}}});
        // Half the rounds start with a config to delete, half with none.
        if round % 2 == 0 {
            let older = json!({"data": {"round": -1, "older": true}});
            let answer = apps[1]
                .send("POST", &acct.security(), Some(&token), Some(older))
                .await;
            assert_eq!(answer.status, 200, "{}", answer.body);
        } else if apps[0].config_doc(&acct).await.is_some() {
            let answer = apps[1]
                .send("DELETE", &acct.security(), Some(&token), None)
                .await;
            assert_eq!(answer.status, 200, "{}", answer.body);
        }
        post_and_delete_at_once(&apps, &acct, &token, &body).await;
    }
}

/// 2025-01-31T23:59:30Z: half a minute before a month ends.
const JAN_31_2025_235930: i64 = 1_738_367_970;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_login_of_fifty_concurrent_clients_across_a_month_end_leaves_one_attempt() {
    let logins = env_number("SOAK_LOGINS", 500);
    let clock = Clock::fixed(JAN_31_2025_235930);
    let app = TestApp::spawn_configured(clock.clone(), &[("CONFIG_CACHE_TTL", "5")]).await;
    let (acct, _token, user) = logging_account(&app).await;

    // The clock moves one second every `step` logins, so the run spans about a minute and
    // midnight falls halfway.
    let step = (logins / 60).max(1);
    let next = Arc::new(AtomicUsize::new(0));
    let app = Arc::new(app);
    let clients = (0..50).map(|_| {
        let (app, acct, user, next, clock) = (
            app.clone(),
            acct.clone(),
            user.clone(),
            next.clone(),
            clock.clone(),
        );
        tokio::spawn(async move {
            let mut answers = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= logins {
                    return answers;
                }
                if i % step == 0 && i > 0 {
                    clock.advance(1);
                }
                let credentials = if i % 3 == 0 {
                    "0".repeat(32)
                } else {
                    user.md5()
                };
                let body = json!({"data": {"credentials": credentials,
                    "account_name": acct.name}});
                let answer = app.send("PUT", "/v2/user_auth", None, Some(body)).await;
                answers.push((i, answer.status));
            }
        })
    });
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for client in futures::future::join_all(clients).await {
        for (i, status) in client.unwrap() {
            let expected = if i % 3 == 0 { 401 } else { 201 };
            assert_eq!(status, expected, "login {i}");
            *statuses.entry(status).or_default() += 1;
        }
    }
    assert_eq!(statuses.values().sum::<usize>(), logins);

    let january = attempt_ids(&app, &acct, JAN_31_2025_235930).await;
    let february = attempt_ids(&app, &acct, JAN_31_2025_235930 + 60).await;
    assert!(
        !january.is_empty() && !february.is_empty(),
        "both months hold attempts: {} and {}",
        january.len(),
        february.len()
    );
    let all: std::collections::HashSet<_> = january.iter().chain(&february).collect();
    assert_eq!(all.len(), january.len() + february.len(), "no id twice");
    assert_eq!(
        january.len() + february.len(),
        logins,
        "one attempt per login ({} in January, {} in February)",
        january.len(),
        february.len()
    );
    assert_eq!(app.state.metrics.attempt_write_failures(), 0);
}

/// The ids of the attempt documents of the month database holding `unix`, read by name.
async fn attempt_ids(app: &TestApp, acct: &Acct, unix: i64) -> Vec<String> {
    let docs = app.attempts(acct, unix).await;
    let prefix = &acct.month_db(unix)[acct.db().len() + 1..];
    for doc in &docs {
        let id = doc["_id"].as_str().unwrap();
        assert!(
            id.starts_with(prefix),
            "{id} is in the month database of {prefix}"
        );
    }
    docs.iter()
        .map(|d| d["_id"].as_str().unwrap().to_string())
        .collect()
}

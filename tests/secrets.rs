//! No secret where it does not belong: issued tokens, passwords, credentials hashes, API
//! keys, identity, Duo and TOTP secrets may sit only in their own documents (the user's
//! hashes in the user, the API key in the account, the Duo keys in the provider…), never in
//! attempt documents, other documents, or log lines.
//!
//! The full scan runs after the whole suite (`scripts/test.sh`): every test process, with
//! `KAZOO_TEST_LOG_DIR` set, wrote its log lines and the secrets its helpers made to that
//! directory (`tests/common`), and `cargo test --test secrets -- --ignored` reads them and
//! every document of the test CouchDB. The scanner itself is tested with planted leaks.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use aho_corasick::AhoCorasick;
use futures::StreamExt;
use kazoo_security::settings::Settings;
use kazoo_security::state::{AppState, Clock};
use kazoo_security::store::couch::encode;
use serde_json::{Value, json};

/// The demo fixtures' password (storage.md §14): known, so scanned for too.
const DEMO_PASSWORD: &str = "Gr4nite-Sparrow-19";

/// Secret values shorter than this are not scanned for: they would match by chance.
const SHORTEST: usize = 10;

/// Where a document's own secrets live: top-level private fields, and provider settings.
const OWN_FIELDS: [&str; 5] = [
    "pvt_md5_auth",
    "pvt_sha1_auth",
    "pvt_signature_secret",
    "pvt_totp_secret",
    "pvt_api_key",
];
const OWN_SETTINGS: [&str; 2] = ["secret_key", "application_secret_key"];

/// The secrets a document legitimately holds.
fn own_secrets(doc: &Value) -> Vec<(&'static str, String)> {
    let mut own = Vec::new();
    for field in OWN_FIELDS {
        if let Some(value) = doc[field].as_str() {
            own.push((field, value.to_string()));
        }
    }
    for field in OWN_SETTINGS {
        if let Some(value) = doc["settings"][field].as_str() {
            own.push((field, value.to_string()));
        }
    }
    if let Some(value) = doc["default"]["secret_for_user_signature"].as_str() {
        own.push(("secret_for_user_signature", value.to_string()));
    }
    own
}

/// A stored document and where it was found.
struct Doc {
    place: String,
    body: Value,
}

/// Every leak: a known secret in a document that does not own it, or in a log line.
/// `recorded` holds `(kind, value)` pairs; the documents' own secrets are added to them.
fn find_leaks(
    recorded: &[(String, String)],
    docs: &[Doc],
    logs: &[(String, String)],
) -> Vec<String> {
    let mut kinds: HashMap<String, String> = HashMap::new();
    let all = recorded
        .iter()
        .cloned()
        .chain(docs.iter().flat_map(|d| {
            own_secrets(&d.body)
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
        }))
        .chain([("password".to_string(), DEMO_PASSWORD.to_string())]);
    for (kind, value) in all {
        if value.len() >= SHORTEST {
            kinds.entry(value).or_insert(kind);
        }
    }
    let values: Vec<&String> = kinds.keys().collect();
    let matcher = AhoCorasick::new(&values).expect("the secrets make an automaton");
    let describe = |value: &str| format!("{} {}…", kinds[value], &value[..6]);

    let mut leaks = Vec::new();
    for doc in docs {
        let text = doc.body.to_string();
        let own: HashSet<String> = own_secrets(&doc.body).into_iter().map(|(_, v)| v).collect();
        let mut seen = HashSet::new();
        for found in matcher.find_overlapping_iter(&text) {
            let value = values[found.pattern().as_usize()];
            if !own.contains(value) && seen.insert(value) {
                leaks.push(format!("document {}: {}", doc.place, describe(value)));
            }
        }
    }
    for (file, line) in logs {
        for found in matcher.find_overlapping_iter(line) {
            let value = values[found.pattern().as_usize()];
            leaks.push(format!("log {file}: {} in {:.120}", describe(value), line));
        }
    }
    leaks
}

#[test]
fn the_scanner_finds_planted_leaks_and_accepts_secrets_at_home() {
    let md5 = "0a765dd9ae823d44c7d68226d83f07da";
    let api_key = "df0f571430eb4230c7aa6c6cb81cdc54a1849e7b1807b613f8fe33d497bd2b4f";
    let token = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJrYXpvbyJ9.c2lnbmF0dXJl";
    let duo = "9vaZvKeRe2oDP6SNmoVY8OyEUJHrwHDMX7RjfYDr";
    let docs = vec![
        Doc {
            place: "account/user".into(),
            body: json!({"_id": "u", "pvt_type": "user", "pvt_md5_auth": md5}),
        },
        Doc {
            place: "accounts/a".into(),
            body: json!({"_id": "a", "pvt_type": "account", "pvt_api_key": api_key}),
        },
        Doc {
            place: "account/provider".into(),
            body: json!({"_id": "p", "settings": {"secret_key": duo}}),
        },
        Doc {
            place: "account-202401/attempt".into(),
            body: json!({"message": format!("invalid credentials {md5}"),
                         "client_headers": {"x-auth-token": "[redacted]"}}),
        },
        Doc {
            place: "account/configs_crossbar.auth".into(),
            body: json!({"copied": {"duo": duo, "k": api_key}}),
        },
    ];
    let logs = vec![
        (
            "log-1.log".to_string(),
            format!("request completed token={token}"),
        ),
        (
            "log-1.log".to_string(),
            "request completed status=200".to_string(),
        ),
        (
            "log-2.log".to_string(),
            format!("login with {DEMO_PASSWORD}"),
        ),
    ];
    let recorded = vec![("token".to_string(), token.to_string())];

    let leaks = find_leaks(&recorded, &docs, &logs);
    let expected = [
        "document account-202401/attempt: pvt_md5_auth 0a765d…",
        "document account/configs_crossbar.auth: secret_key 9vaZvK…",
        "document account/configs_crossbar.auth: pvt_api_key df0f57…",
        "log log-1.log: token eyJhbG…",
        "log log-2.log: password Gr4nit…",
    ];
    assert_eq!(leaks.len(), expected.len(), "{leaks:#?}");
    for leak in expected {
        assert!(
            leaks.iter().any(|l| l.starts_with(leak)),
            "{leak} missing: {leaks:#?}"
        );
    }
    assert!(find_leaks(&recorded, &docs[..3], &logs[1..2]).is_empty());
}

/// A writer into shared memory, for capturing one test's log lines.
#[derive(Clone)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_datastore_failure_logs_no_api_key() {
    // The runtime of a #[tokio::test] is one thread: the service's events land here.
    let buffer = Captured(Arc::new(Mutex::new(Vec::new())));
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    // A CouchDB that is not there: a port that was free a moment ago.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let settings = Settings::from_lookup(|name| match name {
        "COUCHDB_URL" => Some(format!("http://127.0.0.1:{port}")),
        "CONFIG_CACHE_TTL" => Some("0".into()),
        "RATE_LIMIT_BUCKET" => Some("0".into()),
        _ => None,
    })
    .unwrap();
    let state = AppState::new(settings, Clock::system()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(kazoo_security::http::serve(
        listener,
        state,
        std::future::pending(),
    ));

    let api_key = &"7e1f".repeat(16);
    let answer = reqwest::Client::new()
        .put(format!("{url}/v2/api_auth"))
        .json(&json!({"data": {"api_key": api_key}}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 503);

    let text = String::from_utf8_lossy(&buffer.0.lock().unwrap()).into_owned();
    assert!(
        text.contains("datastore fault"),
        "nothing was captured: {text}"
    );
    assert!(!text.contains(api_key), "the API key was logged:\n{text}");
}

/// GETs `path` of the test CouchDB; `None` on 404.
async fn couch_get(http: &reqwest::Client, base: &str, path: &str) -> Option<Value> {
    let response = http.get(format!("{base}/{path}")).send().await.unwrap();
    if response.status().as_u16() == 404 {
        return None;
    }
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    Some(response.json().await.unwrap())
}

/// Every non-design document of `db`.
async fn docs_of(http: &reqwest::Client, base: &str, db: &str) -> Vec<Doc> {
    let path = format!("{}/_all_docs?include_docs=true", encode(db));
    let Some(answer) = couch_get(http, base, &path).await else {
        return Vec::new();
    };
    answer["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|row| row.get("doc").filter(|d| d.is_object()).cloned())
        .filter(|doc| !doc["_id"].as_str().unwrap_or("").starts_with("_design/"))
        .map(|body| Doc {
            place: format!("{db}/{}", body["_id"].as_str().unwrap_or("?")),
            body,
        })
        .collect()
}

/// The months whose databases the suite can have written: those of its fixed clocks
/// (late 2023 to spring 2024) and the months around now.
fn months() -> Vec<String> {
    use chrono::Datelike;
    let mut months: Vec<String> = (11..=12)
        .map(|m| format!("2023{m:02}"))
        .chain((1..=4).map(|m| format!("2024{m:02}")))
        .collect();
    let now = chrono::Utc::now();
    for shift in [-1i32, 0, 1] {
        let index = now.year() * 12 + now.month0() as i32 + shift;
        months.push(format!("{:04}{:02}", index / 12, index % 12 + 1));
    }
    months.sort();
    months.dedup();
    months
}

/// Every document the suite stored: system databases, account databases (from the
/// `accounts` database) and their month databases (by name, never through `_all_dbs`).
async fn stored_documents(base: &str) -> Vec<Doc> {
    let http = reqwest::Client::new();
    let mut docs = Vec::new();
    for db in ["accounts", "system_config", "system_auth", "services"] {
        docs.extend(docs_of(&http, base, db).await);
    }
    let account_dbs: Vec<String> = docs
        .iter()
        .filter(|d| d.place.starts_with("accounts/") && d.body["pvt_type"] == "account")
        .filter_map(|d| d.body["_id"].as_str())
        .filter(|id| common::is_raw_id(id))
        .map(|id| format!("account/{}/{}/{}", &id[..2], &id[2..4], &id[4..]))
        .collect();
    let mut dbs = Vec::new();
    for db in &account_dbs {
        dbs.push(db.clone());
        dbs.extend(months().iter().map(|m| format!("{db}-{m}")));
    }
    let found: Vec<Vec<Doc>> = futures::stream::iter(dbs)
        .map(|db| {
            let http = http.clone();
            async move { docs_of(&http, base, &db).await }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    docs.extend(found.into_iter().flatten());
    docs
}

/// A secret's kind and value, or a log line's file and text.
type Pair = (String, String);

/// The capture files of the suite: recorded secrets and log lines.
fn captured(dir: &std::path::Path) -> (Vec<Pair>, Vec<Pair>) {
    let mut secrets = Vec::new();
    let mut logs = Vec::new();
    for entry in std::fs::read_dir(dir).expect("the capture directory exists") {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        if name.starts_with("secrets-") {
            secrets.extend(text.lines().filter_map(|l| {
                let (kind, value) = l.split_once('\t')?;
                Some((kind.to_string(), value.to_string()))
            }));
        } else if name.starts_with("log-") {
            logs.extend(text.lines().map(|l| (name.clone(), l.to_string())));
        }
    }
    (secrets, logs)
}

#[tokio::test]
#[ignore = "scans what the whole suite left behind; scripts/test.sh runs it last"]
async fn nothing_the_suite_stored_or_logged_holds_a_secret_out_of_place() {
    let dir = std::env::var_os("KAZOO_TEST_LOG_DIR").expect("KAZOO_TEST_LOG_DIR names the capture");
    let base = std::env::var("COUCHDB_URL").expect("COUCHDB_URL names the test CouchDB");
    let (secrets, logs) = captured(std::path::Path::new(&dir));
    let tokens = secrets.iter().filter(|(k, _)| k == "token").count();
    assert!(
        tokens > 0,
        "no issued token was recorded: is the capture on?"
    );
    assert!(!logs.is_empty(), "no log line was captured");
    let docs = stored_documents(base.trim_end_matches('/')).await;

    let leaks = find_leaks(&secrets, &docs, &logs);
    println!(
        "secrets scan: {} recorded secrets ({tokens} tokens), {} documents, {} log lines: \
         {} leaks",
        secrets.len(),
        docs.len(),
        logs.len(),
        leaks.len()
    );
    for leak in &leaks {
        println!("LEAK {leak}");
    }
    assert!(leaks.is_empty(), "{} leaks, listed above", leaks.len());
}

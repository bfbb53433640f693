//! The API-test harness: a real service on 127.0.0.1:0 against the CouchDB-compatible server
//! named by `COUCHDB_URL` (`make test` starts one), and builders for fresh account trees so
//! that every test works in accounts of its own.

#![allow(
    dead_code,
    reason = "each test binary uses a different part of the harness"
)]

use std::sync::Arc;

use kazoo_security::domain::ids::new_raw_id;
use kazoo_security::settings::Settings;
use kazoo_security::state::{AppState, Clock};
use md5::Digest;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

static SETUP: OnceCell<()> = OnceCell::const_new();

/// A running service and a client for it.
pub struct TestApp {
    pub url: String,
    pub state: Arc<AppState>,
    pub http: reqwest::Client,
}

/// An account made for one test.
#[derive(Debug, Clone)]
pub struct Acct {
    pub id: String,
    pub name: String,
    pub realm: String,
    pub api_key: String,
    pub tree: Vec<String>,
}

impl Acct {
    /// The unencoded account database name.
    pub fn db(&self) -> String {
        format!(
            "account/{}/{}/{}",
            &self.id[..2],
            &self.id[2..4],
            &self.id[4..]
        )
    }
}

/// A user made for one test.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub username: String,
    pub password: String,
    pub account_id: String,
}

impl User {
    /// `md5("<username>:<password>")`, as clients send it.
    pub fn md5(&self) -> String {
        hex::encode(md5::Md5::digest(format!(
            "{}:{}",
            self.username, self.password
        )))
    }
}

/// A JSON answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl TestApp {
    /// A service on the system clock, with caching off.
    pub async fn spawn() -> TestApp {
        Self::spawn_with(Clock::system()).await
    }

    /// A service reading time from `clock`.
    pub async fn spawn_with(clock: Clock) -> TestApp {
        Self::spawn_configured(clock, &[]).await
    }

    /// A service reading time from `clock`, with extra environment settings.
    pub async fn spawn_configured(clock: Clock, env: &[(&str, &str)]) -> TestApp {
        capture_logs();
        let couch = std::env::var("COUCHDB_URL")
            .expect("COUCHDB_URL must name a CouchDB-compatible server; `make test` starts one");
        let settings = Settings::from_lookup(|name| {
            let fixed = match name {
                "COUCHDB_URL" => Some(couch.clone()),
                "CONFIG_CACHE_TTL" => Some("0".into()),
                // Tests log in far more often than people; the limiter has tests of its own.
                "RATE_LIMIT_BUCKET" => Some("0".into()),
                _ => None,
            };
            let given = env
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string());
            given.or(fixed)
        })
        .expect("test settings are valid");
        let state = AppState::new(settings, clock).expect("the store client builds");
        SETUP
            .get_or_init(|| async {
                kazoo_security::cli::setup::run(&state.store, chrono::Utc::now().timestamp())
                    .await
                    .expect("setup succeeds");
            })
            .await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let served = state.clone();
        tokio::spawn(async move {
            kazoo_security::http::serve(listener, served, std::future::pending()).await
        });
        TestApp {
            url,
            state,
            http: reqwest::Client::new(),
        }
    }

    /// Sends a request; `token` goes in `X-Auth-Token`.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.http.request(method, format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.header("X-Auth-Token", token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        answer(request.send().await.expect("the service answers")).await
    }

    /// Sends a raw body with extra headers.
    pub async fn send_raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<reqwest::Body>,
    ) -> Answer {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.url))
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        answer(request.send().await.expect("the service answers")).await
    }

    /// The CouchDB client the service uses, for arranging and inspecting documents.
    pub fn couch(&self) -> &kazoo_security::store::Couch {
        &self.state.store.couch
    }

    /// A new account under `parent` (or a new root); `reseller` writes its services document
    /// with `pvt_reseller: true`.
    pub async fn account(&self, parent: Option<&Acct>, reseller: bool) -> Acct {
        self.make_account(parent, reseller, json!({})).await
    }

    /// A new root account whose admins are super-duper admins.
    pub async fn superduper(&self) -> Acct {
        self.make_account(None, true, json!({"pvt_superduper_admin": true}))
            .await
    }

    /// A new account with extra fields on its document.
    pub async fn make_account(&self, parent: Option<&Acct>, reseller: bool, extra: Value) -> Acct {
        let id = new_raw_id();
        let tree = match parent {
            Some(p) => [p.tree.clone(), vec![p.id.clone()]].concat(),
            None => Vec::new(),
        };
        let acct = Acct {
            name: format!("Test Account {}", &id[..12]),
            realm: format!("{}.realm.test", &id[..12]),
            api_key: format!("{}{}", new_raw_id(), new_raw_id()),
            tree,
            id,
        };
        let mut doc = json!({
            "_id": acct.id, "name": acct.name, "realm": acct.realm,
            "pvt_type": "account", "pvt_account_id": acct.id,
            "pvt_account_db": acct.db().replace('/', "%2F"), "pvt_api_key": acct.api_key,
            "pvt_tree": acct.tree, "pvt_vsn": "1", "enabled": true, "pvt_enabled": true,
            "pvt_created": 63870998400i64, "pvt_modified": 63870998400i64,
            "pvt_signature_secret": new_raw_id(),
        });
        for (k, v) in extra.as_object().unwrap() {
            doc[k] = v.clone();
        }
        let couch = self.couch();
        couch.create_db(&acct.db()).await.unwrap();
        couch.put(&acct.db(), &doc).await.unwrap();
        couch.put("accounts", &doc).await.unwrap();
        let services = json!({"_id": acct.id, "pvt_type": "service", "pvt_reseller": reseller,
            "pvt_tree": acct.tree, "pvt_vsn": 2});
        couch.put("services", &services).await.unwrap();
        record_secret("api_key", &acct.api_key);
        acct
    }

    /// A new enabled user of `acct` with a random password.
    pub async fn user(&self, acct: &Acct, admin: bool) -> User {
        let id = new_raw_id();
        let user = User {
            username: format!("user.{}", &id[..10]),
            password: format!("pw-{}", &id[10..20]),
            account_id: acct.id.clone(),
            id,
        };
        let sha1 = {
            use sha1::Digest as _;
            hex::encode(sha1::Sha1::digest(format!(
                "{}:{}",
                user.username, user.password
            )))
        };
        let doc = json!({
            "_id": user.id, "pvt_type": "user", "username": user.username,
            "first_name": "Test", "last_name": "User",
            "priv_level": if admin { "admin" } else { "user" }, "enabled": true,
            "pvt_md5_auth": user.md5(), "pvt_sha1_auth": sha1,
            "pvt_signature_secret": new_raw_id(), "pvt_account_id": acct.id,
            "pvt_account_db": acct.db().replace('/', "%2F"), "pvt_vsn": "1",
        });
        self.couch().put(&acct.db(), &doc).await.unwrap();
        record_secret("password", &user.password);
        record_secret("credentials", &user.md5());
        record_secret("credentials", &sha1);
        user
    }

    /// Logs `user` in by account name; answers the whole answer.
    pub async fn user_auth(&self, acct: &Acct, user: &User) -> Answer {
        let body = json!({"data": {"credentials": user.md5(), "account_name": acct.name}});
        self.send("PUT", "/v2/user_auth", None, Some(body)).await
    }

    /// Logs `user` in and answers the token, asserting a 201.
    pub async fn login(&self, acct: &Acct, user: &User) -> String {
        let answer = self.user_auth(acct, user).await;
        assert_eq!(answer.status, 201, "login failed: {}", answer.body);
        answer.body["auth_token"].as_str().unwrap().to_string()
    }

    /// An API-key token of `acct`, asserting a 201.
    pub async fn api_token(&self, acct: &Acct) -> String {
        let answer = self.api_auth(acct).await;
        assert_eq!(answer.status, 201, "api login failed: {}", answer.body);
        answer.body["auth_token"].as_str().unwrap().to_string()
    }

    /// `PUT /v2/api_auth` with the account's key.
    pub async fn api_auth(&self, acct: &Acct) -> Answer {
        let body = json!({"data": {"api_key": acct.api_key}});
        self.send("PUT", "/v2/api_auth", None, Some(body)).await
    }

    /// Writes `public` as the account's security config document, as Kazoo would have.
    pub async fn store_config(&self, acct: &Acct, public: Value) {
        let db = acct.db();
        let existing = self
            .couch()
            .get(&db, "configs_crossbar.auth")
            .await
            .unwrap();
        let mut doc = public;
        doc["_id"] = json!("configs_crossbar.auth");
        doc["pvt_type"] = json!("account_config");
        if let Some(rev) = existing.as_ref().and_then(|d| d["_rev"].as_str()) {
            doc["_rev"] = json!(rev);
        }
        self.couch().put(&db, &doc).await.unwrap();
    }

    /// Updates one field of a stored document, re-reading for the revision.
    pub async fn update_doc(&self, db: &str, id: &str, change: impl Fn(&mut Value)) {
        let mut doc = self
            .couch()
            .get(db, id)
            .await
            .unwrap()
            .expect("document exists");
        change(&mut doc);
        self.couch().put(db, &doc).await.unwrap();
    }
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    record_answer_token(&body);
    Answer {
        status,
        body,
        headers,
    }
}

/// The claims of a JWT, without checking anything.
pub fn claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("a JWT has a payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// Serialises tests that change system-wide config documents, and restores them after.
pub static SYSTEM_CONFIG_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

// ---------------------------------------------------------------------------------------
// Helpers added for the API test files (security_config, authorization, authenticators,
// http_edge, system_config).

/// Gregorian seconds minus Unix seconds.
pub const GREGORIAN_OFFSET: i64 = 62_167_219_200;

/// 2024-01-15T10:00:00Z, a convenient fixed instant (Gregorian 63872532000).
pub const JAN_15_2024: i64 = 1_705_312_800;

/// The modules `GET /v2/security` lists when the system config names none.
pub const DEFAULT_MODULES: [&str; 4] = ["cb_api_auth", "cb_auth", "cb_ip_auth", "cb_user_auth"];

impl Acct {
    /// The account database name as Kazoo stores it in `pvt_account_db`.
    pub fn encoded_db(&self) -> String {
        self.db().replace('/', "%2F")
    }

    /// The unencoded month database name of the UTC month holding `unix`.
    pub fn month_db(&self, unix: i64) -> String {
        use chrono::Datelike;
        let at = chrono::DateTime::from_timestamp(unix, 0).unwrap();
        format!("{}-{:04}{:02}", self.db(), at.year(), at.month())
    }

    /// `/v2/accounts/{id}/security`.
    pub fn security(&self) -> String {
        format!("/v2/accounts/{}/security", self.id)
    }
}

impl User {
    /// `sha1("<username>:<password>")`, for `"method": "sha"`.
    pub fn sha1(&self) -> String {
        use sha1::Digest as _;
        hex::encode(sha1::Sha1::digest(format!(
            "{}:{}",
            self.username, self.password
        )))
    }
}

impl TestApp {
    /// The service's clock, in Unix seconds.
    pub fn now(&self) -> i64 {
        self.state.clock.now()
    }

    /// A new admin user of `acct`, logged in; answers the user and its token.
    pub async fn admin(&self, acct: &Acct) -> (User, String) {
        let user = self.user(acct, true).await;
        let token = self.login(acct, &user).await;
        (user, token)
    }

    /// The stored security config document of `acct` (with private fields), if any.
    pub async fn config_doc(&self, acct: &Acct) -> Option<Value> {
        self.couch()
            .get(&acct.db(), "configs_crossbar.auth")
            .await
            .unwrap()
    }

    /// Every live document of a database, read straight from CouchDB; empty when the
    /// database does not exist.
    pub async fn all_docs(&self, db: &str) -> Vec<Value> {
        // The app's own server: the fault tests run theirs, not the one of COUCHDB_URL.
        let base = self.state.settings.couchdb_url.to_string();
        let url = format!(
            "{}/{}/_all_docs?include_docs=true",
            base.trim_end_matches('/'),
            kazoo_security::store::couch::encode(db)
        );
        let response = self.http.get(url).send().await.unwrap();
        if response.status().as_u16() == 404 {
            return Vec::new();
        }
        let body: Value = response.json().await.unwrap();
        body["rows"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|row| row.get("doc").cloned())
            .filter(|doc| !doc["_id"].as_str().unwrap_or("").starts_with("_design/"))
            .collect()
    }

    /// The login-attempt documents of `acct` in the month database of `unix`.
    pub async fn attempts(&self, acct: &Acct, unix: i64) -> Vec<Value> {
        self.all_docs(&acct.month_db(unix))
            .await
            .into_iter()
            .filter(|doc| doc["pvt_type"] == "login_attempt")
            .collect()
    }

    /// A multi-factor provider document in `acct`'s database, written as Kazoo would;
    /// answers its id.
    pub async fn provider(&self, acct: &Acct, name: &str) -> String {
        self.provider_of_type(acct, name, "multi_factor").await
    }

    /// A provider document of any `pvt_provider_type`; answers its id.
    pub async fn provider_of_type(&self, acct: &Acct, name: &str, kind: &str) -> String {
        let id = new_raw_id();
        let doc = json!({
            "_id": id, "name": name, "provider_name": "duo", "enabled": true,
            "settings": {"integration_key": "DIABCDEFGHIJKLMNOPQR",
                         "secret_key": "deadbeef".repeat(5),
                         "application_secret_key": "0123456789abcdef0123456789abcdef01234567",
                         "api_hostname": "api-test.duo.kzsec.test"},
            "pvt_type": "provider", "pvt_provider_type": kind,
            "pvt_account_id": acct.id, "pvt_account_db": acct.encoded_db(),
        });
        self.couch().put(&acct.db(), &doc).await.unwrap();
        id
    }

    /// Makes `acct` a reseller (or not) through its `services` document.
    pub async fn set_reseller(&self, acct: &Acct, reseller: bool) {
        self.update_doc("services", &acct.id, |doc| {
            doc["pvt_reseller"] = json!(reseller)
        })
        .await;
    }

    /// Changes the account-database copy of `acct`'s account document.
    pub async fn update_account(&self, acct: &Acct, change: impl Fn(&mut Value)) {
        self.update_doc(&acct.db(), &acct.id, change).await;
    }

    /// A JSON answer of a request with extra headers and a JSON body.
    pub async fn send_with(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Answer {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut all = vec![("Content-Type", "application/json")];
        all.extend_from_slice(headers);
        self.send_raw(method, path, &all, body).await
    }

    /// The `default` section of `system_config/auth`: the signing `kid` and system secret.
    pub async fn auth_secrets(&self) -> (String, String) {
        let doc = self
            .couch()
            .get("system_config", "auth")
            .await
            .unwrap()
            .expect("setup wrote system_config/auth");
        let text = |key: &str| doc["default"][key].as_str().unwrap().to_string();
        (text("system_key"), text("secret_for_user_signature"))
    }
}

/// base64url without padding.
pub fn b64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The header of a JWT, without checking anything.
pub fn jwt_header(token: &str) -> Value {
    use base64::Engine;
    let header = token.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// A JWT made by hand: `header` and `claims` as base64url JSON, then `signature` as given.
pub fn forge_jwt(header: &Value, claims: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    )
}

/// base64url(HMAC-SHA256(key, message)).
pub fn hmac_sha256_b64url(key: &[u8], message: &[u8]) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(message);
    b64url(&mac.finalize().into_bytes())
}

/// The `identity_sig` a token for `message` must carry (storage.md §10), computed here
/// independently of the service's code.
pub fn expected_identity_sig(identity_secret: &str, system_secret: &str, message: &str) -> String {
    let key = format!("{identity_secret}{system_secret}");
    hmac_sha256_b64url(key.as_bytes(), message.as_bytes())
}

/// Whether `text` is 32 lowercase hex characters.
pub fn is_raw_id(text: &str) -> bool {
    text.len() == 32 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The object keys of a JSON value, sorted.
pub fn keys_of(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    keys.sort();
    keys
}

/// root (reseller) → reseller → middle → leaf, with a logged-in admin of the leaf.
pub struct Tree {
    pub root: Acct,
    pub reseller: Acct,
    pub middle: Acct,
    pub leaf: Acct,
    /// The leaf admin's token.
    pub token: String,
}

impl TestApp {
    /// A fresh [`Tree`].
    pub async fn tree(&self) -> Tree {
        let root = self.account(None, true).await;
        let reseller = self.account(Some(&root), true).await;
        let middle = self.account(Some(&reseller), false).await;
        let leaf = self.account(Some(&middle), false).await;
        let (_, token) = self.admin(&leaf).await;
        Tree {
            root,
            reseller,
            middle,
            leaf,
            token,
        }
    }
}

/// The public part of a stored document: no `_…` or `pvt_…` keys.
pub fn public(doc: &Value) -> Value {
    let map = doc.as_object().expect("a document is an object");
    let public = map
        .iter()
        .filter(|(k, _)| !k.starts_with('_') && !k.starts_with("pvt_"))
        .map(|(k, v)| (k.clone(), v.clone()));
    Value::Object(public.collect())
}

/// Asserts a 400 `validation error` with `rule` failing on `path`.
pub fn assert_validation(answer: &Answer, message: &str, path: &str, rule: &str) {
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(answer.body["error"], "400");
    assert_eq!(answer.body["status"], "error");
    assert_eq!(answer.body["message"], message, "{}", answer.body);
    assert!(
        answer.body["data"][path][rule]["message"].is_string(),
        "no {rule} on {path}: {}",
        answer.body
    );
}

// ---------------------------------------------------------------------------------------
// Secrets capture, for tests/secrets.rs: with KAZOO_TEST_LOG_DIR set, every test process
// writes the service's log lines (TRACE) and the secrets its helpers made or received to
// files in that directory, which the scan after the suite reads.

/// The directory of the capture files, when capturing.
fn capture_dir() -> Option<std::path::PathBuf> {
    std::env::var_os("KAZOO_TEST_LOG_DIR")
        .filter(|d| !d.is_empty())
        .map(std::path::PathBuf::from)
}

/// Installs, once per process, a TRACE subscriber writing to `<dir>/log-<pid>.log`.
pub fn capture_logs() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    let Some(dir) = capture_dir() else {
        return;
    };
    INSTALLED.call_once(|| {
        std::fs::create_dir_all(&dir).expect("the log directory can be made");
        let path = dir.join(format!("log-{}.log", std::process::id()));
        let file = std::fs::File::create(path).expect("the log file can be made");
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
            .with_writer(std::sync::Mutex::new(file))
            .with_ansi(false)
            .try_init();
    });
}

/// Notes a secret (`kind` a short word, `value` the secret) for the scan, when capturing.
pub fn record_secret(kind: &str, value: &str) {
    use std::io::Write;
    let Some(dir) = capture_dir() else {
        return;
    };
    static FILE: std::sync::Mutex<Option<std::fs::File>> = std::sync::Mutex::new(None);
    let mut file = FILE.lock().unwrap();
    if file.is_none() {
        std::fs::create_dir_all(&dir).expect("the log directory can be made");
        let path = dir.join(format!("secrets-{}.txt", std::process::id()));
        *file = Some(std::fs::File::create(path).expect("the secrets file can be made"));
    }
    let line = format!("{kind}\t{value}\n");
    file.as_mut().unwrap().write_all(line.as_bytes()).unwrap();
}

/// Records the JWT an answer carries, if any.
fn record_answer_token(body: &Value) {
    if let Some(token) = body["auth_token"]
        .as_str()
        .filter(|t| t.split('.').count() == 3)
    {
        record_secret("token", token);
    }
}

// ---------------------------------------------------------------------------------------
// Load, fault and shutdown tests: their own CouchDB servers and a proxy (tests/common/load.rs).

pub mod load;

//! A thin CouchDB HTTP client: documents, databases, views and attachments.
//!
//! Only the API that Apache CouchDB 3 and pouchdb-server both serve is used: no `_all_dbs`,
//! every delete carries its `rev`, and a missing database is told apart from a missing
//! document by the `reason` CouchDB gives.

use std::time::Duration;

use base64::Engine;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::StoreError;
use super::designs::DesignDoc;
use crate::metrics::CouchMetrics;
use crate::metrics::method_label;

/// CouchDB requests one instance keeps in flight at most.
const MAX_IN_FLIGHT: usize = 64;

/// Characters left unencoded in a database name or document id inside a URL path.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'_').remove(b'-').remove(b'.');

/// One CouchDB server, reached through a pooled keep-alive HTTP client.
#[derive(Clone)]
pub struct Couch {
    http: reqwest::Client,
    /// Requests sent so far, for tests of the cache's promises and for metrics.
    requests: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Bounds the requests in flight, so that a burst of clients cannot open thousands of
    /// connections to CouchDB; the rest wait their turn, at most `timeout`.
    in_flight: std::sync::Arc<tokio::sync::Semaphore>,
    /// `COUCHDB_TIMEOUT_S`: the bound on the wait for a turn, and on the request itself.
    timeout: Duration,
    base: String,
    credentials: Option<(String, String)>,
    metrics: CouchMetrics,
}

/// Query parameters of a view request; values are JSON-encoded as CouchDB expects.
#[derive(Default, Clone)]
pub struct ViewQuery {
    pub key: Option<Value>,
    pub start_key: Option<Value>,
    pub end_key: Option<Value>,
    pub limit: Option<usize>,
    pub skip: Option<usize>,
    pub descending: bool,
    pub include_docs: bool,
}

/// One row of a view answer.
#[derive(Debug, Clone)]
pub struct ViewRow {
    pub id: String,
    pub key: Value,
    pub value: Value,
    pub doc: Option<Value>,
}

impl Couch {
    /// Connects lazily to the server at `url`; credentials in the URL become basic auth.
    pub fn new(url: &url::Url, timeout: Duration) -> Result<Self, StoreError> {
        let mut base = url.clone();
        let credentials = if base.username().is_empty() {
            None
        } else {
            let user = percent_decode(base.username());
            let pass = percent_decode(base.password().unwrap_or(""));
            Some((user, pass))
        };
        let _ = base.set_username("");
        let _ = base.set_password(None);
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(5))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(Couch {
            http,
            requests: Default::default(),
            in_flight: std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT)),
            timeout,
            base: base.as_str().trim_end_matches('/').to_string(),
            credentials,
            metrics: CouchMetrics::default(),
        })
    }

    /// Records each request's duration and failures in `metrics`.
    pub fn observed(mut self, metrics: CouchMetrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// How many requests this client has sent.
    pub fn request_count(&self) -> u64 {
        self.requests.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn url(&self, db: &str, rest: &str) -> String {
        format!("{}/{}{}", self.base, encode(db), rest)
    }

    async fn send(
        &self,
        method: Method,
        url: String,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), StoreError> {
        let (status, bytes) = self.send_raw(method, url, body).await?;
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }

    async fn send_raw(
        &self,
        method: Method,
        url: String,
        body: Option<&Value>,
    ) -> Result<(StatusCode, bytes::Bytes), StoreError> {
        self.requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let closed = |_| StoreError::Unavailable("the CouchDB client is closed".into());
        let label = method_label(&method);
        // Without a bound here, a CouchDB that stops answering makes every request queue
        // behind the 64 in flight, and the last of a burst would wait many timeouts.
        let waited = std::time::Instant::now();
        let _permit = match tokio::time::timeout(self.timeout, self.in_flight.acquire()).await {
            Ok(permit) => permit.map_err(closed)?,
            Err(_) => {
                self.metrics
                    .observe(label, waited.elapsed(), Some("timeout"));
                return Err(StoreError::Unavailable(
                    "no CouchDB connection became free in time".into(),
                ));
            }
        };
        let mut request = self.http.request(method, url);
        if let Some((user, pass)) = &self.credentials {
            request = request.basic_auth(user, Some(pass));
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let started = std::time::Instant::now();
        let answer = async {
            let response = request.send().await?;
            let status = response.status();
            Ok::<_, reqwest::Error>((status, response.bytes().await?))
        }
        .await;
        let error = match &answer {
            Err(e) if e.is_timeout() => Some("timeout"),
            Err(_) => Some("unreachable"),
            Ok((status, _)) if status.is_server_error() => Some("server_error"),
            Ok(_) => None,
        };
        self.metrics.observe(label, started.elapsed(), error);
        // Without the URL: a view query's URL holds its key, which can be a credentials
        // hash or an API key, and this message ends up in the logs.
        answer.map_err(|e| StoreError::Unavailable(e.without_url().to_string()))
    }

    /// Answers whether CouchDB is reachable at all.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let (status, body) = self
            .send(Method::GET, format!("{}/", self.base), None)
            .await?;
        check(status, &body).map(|_| ())
    }

    /// Whether the database exists (`HEAD /db`).
    pub async fn db_exists(&self, db: &str) -> Result<bool, StoreError> {
        let (status, body) = self.send(Method::HEAD, self.url(db, ""), None).await?;
        match status {
            StatusCode::NOT_FOUND => Ok(false),
            _ => check(status, &body).map(|_| true),
        }
    }

    /// Creates a database; `false` when it already existed.
    pub async fn create_db(&self, db: &str) -> Result<bool, StoreError> {
        let (status, body) = self.send(Method::PUT, self.url(db, ""), None).await?;
        match status {
            StatusCode::PRECONDITION_FAILED => Ok(false),
            _ => check(status, &body).map(|_| true),
        }
    }

    /// Reads a document; `None` when it or its database is missing, or it is deleted.
    pub async fn get(&self, db: &str, id: &str) -> Result<Option<Value>, StoreError> {
        if !is_document_id(id) {
            return Ok(None);
        }
        let url = self.url(db, &format!("/{}", encode_id(id)));
        let (status, body) = self.send(Method::GET, url, None).await?;
        match status {
            StatusCode::NOT_FOUND => Ok(None),
            _ => check(status, &body).map(Some),
        }
    }

    /// Reads several documents of one database in one request (`_all_docs` with `keys`);
    /// each answer is `None` when missing or deleted.
    pub async fn get_many(
        &self,
        db: &str,
        ids: &[String],
    ) -> Result<Vec<Option<Value>>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let url = self.url(db, "/_all_docs?include_docs=true");
        let body = serde_json::json!({ "keys": ids });
        let (status, answer) = self.send(Method::POST, url, Some(&body)).await?;
        if status == StatusCode::NOT_FOUND {
            return Ok(vec![None; ids.len()]);
        }
        let answer = check(status, &answer)?;
        let rows = answer["rows"].as_array().cloned().unwrap_or_default();
        Ok(ids
            .iter()
            .map(|id| {
                let row = rows.iter().find(|r| r["key"] == id.as_str())?;
                row.get("doc").filter(|d| d.is_object()).cloned()
            })
            .collect())
    }

    /// Up to `limit` documents of a database (design documents included) in id order,
    /// starting after the id `after`. A missing database has none.
    pub async fn all_docs_page(
        &self,
        db: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Value>, StoreError> {
        let url = self.url(db, "/_all_docs");
        let mut url = url::Url::parse(&url).map_err(|e| StoreError::Unexpected(e.to_string()))?;
        {
            let mut pairs = url.query_pairs_mut();
            pairs.append_pair("include_docs", "true");
            pairs.append_pair("limit", &limit.to_string());
            if let Some(after) = after {
                pairs.append_pair("startkey", &json!(after).to_string());
                pairs.append_pair("skip", "1");
            }
        }
        let (status, body) = self.send(Method::GET, url.to_string(), None).await?;
        if status == StatusCode::NOT_FOUND {
            return Ok(Vec::new());
        }
        let body = check(status, &body)?;
        let rows = body["rows"].as_array().cloned().unwrap_or_default();
        Ok(rows
            .into_iter()
            .filter_map(|mut row| Some(row.get_mut("doc")?.take()))
            .collect())
    }

    /// Writes a document (its `_id` and, for an update, `_rev` are in the body).
    /// Returns the new revision; a stale revision is `StoreError::Conflict`.
    pub async fn put(&self, db: &str, doc: &Value) -> Result<String, StoreError> {
        let id = doc["_id"].as_str().unwrap_or_default();
        let url = self.url(db, &format!("/{}", encode_id(id)));
        let (status, body) = self.send(Method::PUT, url, Some(doc)).await?;
        if status == StatusCode::NOT_FOUND {
            return Err(StoreError::MissingDatabase);
        }
        check(status, &body)?;
        Ok(body["rev"].as_str().unwrap_or_default().to_string())
    }

    /// Deletes a document at a known revision (CouchDB refuses a delete without one).
    pub async fn delete(&self, db: &str, id: &str, rev: &str) -> Result<String, StoreError> {
        let rev = utf8_percent_encode(rev, PATH_SEGMENT);
        let url = self.url(db, &format!("/{}?rev={rev}", encode_id(id)));
        let (status, body) = self.send(Method::DELETE, url, None).await?;
        check(status, &body)?;
        Ok(body["rev"].as_str().unwrap_or_default().to_string())
    }

    /// Reads an attachment's bytes; `None` when the document or attachment is missing.
    pub async fn get_attachment(
        &self,
        db: &str,
        id: &str,
        name: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let url = self.url(db, &format!("/{}/{}", encode_id(id), encode(name)));
        let (status, bytes) = self.send_raw(Method::GET, url, None).await?;
        match status {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => Ok(Some(bytes.to_vec())),
            s => Err(StoreError::Unexpected(format!("{s} reading attachment"))),
        }
    }

    /// Queries a view of `design`. When the database lacks the design document, installs it
    /// and asks once more; when the database itself is missing, answers no rows.
    pub async fn view(
        &self,
        db: &str,
        design: &DesignDoc,
        view: &str,
        query: &ViewQuery,
    ) -> Result<Vec<ViewRow>, StoreError> {
        match self.view_once(db, design, view, query).await {
            Err(StoreError::MissingDesign) => {
                self.install_design(db, design).await?;
                self.view_once(db, design, view, query).await
            }
            other => other,
        }
    }

    async fn view_once(
        &self,
        db: &str,
        design: &DesignDoc,
        view: &str,
        query: &ViewQuery,
    ) -> Result<Vec<ViewRow>, StoreError> {
        let url = self.url(db, &format!("/_design/{}/_view/{view}", design.name));
        let mut url = url::Url::parse(&url).map_err(|e| StoreError::Unexpected(e.to_string()))?;
        query.append_to(&mut url);
        let (status, body) = self.send(Method::GET, url.to_string(), None).await?;
        if status == StatusCode::NOT_FOUND {
            let reason = body["reason"].as_str().unwrap_or_default();
            return match reason {
                "missing" | "deleted" if self.db_exists(db).await? => {
                    Err(StoreError::MissingDesign)
                }
                // CouchDB and pouchdb-server name a missing database differently.
                "missing" | "deleted" | "no_db_file" | "Database does not exist." => Ok(Vec::new()),
                _ => Err(StoreError::Unexpected(format!(
                    "design document {} in {db} cannot answer {view}: {reason}",
                    design.name
                ))),
            };
        }
        check(status, &body)?;
        let rows = body["rows"].as_array().cloned().unwrap_or_default();
        Ok(rows.into_iter().map(ViewRow::from_json).collect())
    }

    /// Installs a design document unless one of that name is already there.
    pub async fn install_design(&self, db: &str, design: &DesignDoc) -> Result<(), StoreError> {
        let doc = design.document();
        let id = doc["_id"].as_str().unwrap_or_default().to_string();
        if self.get(db, &id).await?.is_some() {
            return Ok(());
        }
        match self.put(db, &doc).await {
            Ok(_) | Err(StoreError::Conflict) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Writes a document with one inline attachment.
    pub async fn put_with_attachment(
        &self,
        db: &str,
        doc: &Value,
        name: &str,
        content_type: &str,
        data: &[u8],
    ) -> Result<String, StoreError> {
        let mut doc = doc.clone();
        let encoded = base64::engine::general_purpose::STANDARD.encode(data);
        doc["_attachments"] = json!({ name: {"content_type": content_type, "data": encoded} });
        self.put(db, &doc).await
    }
}

impl ViewQuery {
    fn append_to(&self, url: &mut url::Url) {
        let mut pairs = url.query_pairs_mut();
        let json_params = [
            ("key", &self.key),
            ("startkey", &self.start_key),
            ("endkey", &self.end_key),
        ];
        for (name, value) in json_params {
            if let Some(value) = value {
                pairs.append_pair(name, &value.to_string());
            }
        }
        if let Some(limit) = self.limit {
            pairs.append_pair("limit", &limit.to_string());
        }
        if let Some(skip) = self.skip {
            pairs.append_pair("skip", &skip.to_string());
        }
        if self.descending {
            pairs.append_pair("descending", "true");
        }
        if self.include_docs {
            pairs.append_pair("include_docs", "true");
        }
    }
}

impl ViewRow {
    fn from_json(mut row: Value) -> Self {
        let doc = match row["doc"].take() {
            Value::Null => None,
            doc => Some(doc),
        };
        ViewRow {
            id: row["id"].as_str().unwrap_or_default().to_string(),
            key: row["key"].take(),
            value: row["value"].take(),
            doc,
        }
    }
}

fn check(status: StatusCode, body: &Value) -> Result<Value, StoreError> {
    match status {
        s if s.is_success() => Ok(body.clone()),
        StatusCode::CONFLICT => Err(StoreError::Conflict),
        s if s.is_server_error() => Err(StoreError::Unavailable(format!("{s}: {body}"))),
        s => Err(StoreError::Unexpected(format!("{s}: {body}"))),
    }
}

/// Encodes a database name or attachment name as one URL path segment (`/` becomes `%2F`).
pub fn encode(name: &str) -> String {
    utf8_percent_encode(name, PATH_SEGMENT).to_string()
}

/// Encodes a document id; a design document keeps its literal `_design/` prefix.
fn encode_id(id: &str) -> String {
    match id.strip_prefix("_design/") {
        Some(rest) => format!("_design/{}", encode(rest)),
        None => encode(id),
    }
}

/// Whether `id` can name a document at all. `.` and `..` (even percent-encoded) are dot
/// segments that URL parsing resolves away, reaching the database or the server instead;
/// control characters make CouchDB answer 400. Such ids come only from clients' paths.
pub fn is_document_id(id: &str) -> bool {
    !matches!(id, "" | "." | "..") && !id.chars().any(char::is_control)
}

fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

//! Login attempts: what the authenticators report, and their documents in the account's
//! month database (storage.md §8).

use serde_json::{Map, Value, json};

use super::login::LoginContext;
use crate::domain::ids::{AccountId, new_raw_id};
use crate::domain::merge::ModuleSettings;
use crate::domain::time::{to_gregorian, utc_month};
use crate::state::AppState;
use crate::store::designs::MONTH_AUTH;
use crate::store::{StoreError, document_hash};

/// Header values never written to the audit trail.
const REDACTED_HEADERS: [&str; 4] = [
    "authorization",
    "x-auth-token",
    "cookie",
    "proxy-authorization",
];

/// One outcome of one login, as the attempt document will describe it.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub account_id: String,
    pub auth_module: &'static str,
    pub auth_type: &'static str,
    pub success: bool,
    pub message: String,
    pub metadata: Option<Value>,
}

impl Attempt {
    /// Whether the module's effective settings ask for this outcome to be recorded.
    pub fn wanted(&self, settings: &ModuleSettings) -> bool {
        if self.success {
            settings.log_successful_attempts
        } else {
            settings.log_failed_attempts
        }
    }
}

/// The attempt document, stamped `now_unix`, for the month database of that instant.
pub fn attempt_document(
    attempt: &Attempt,
    ctx: &LoginContext,
    account: &AccountId,
    node: &str,
    now_unix: i64,
) -> Value {
    let (year, month) = utc_month(now_unix);
    let id = format!("{year:04}{month:02}-{}", new_raw_id());
    let timestamp = to_gregorian(now_unix);
    let headers: Map<String, Value> = ctx
        .headers
        .iter()
        .map(|(name, value)| {
            let value = if REDACTED_HEADERS.contains(&name.as_str()) {
                "[redacted]"
            } else {
                value
            };
            (name.clone(), json!(value))
        })
        .collect();

    let mut public = Map::new();
    public.insert("auth_type".into(), json!(attempt.auth_type));
    public.insert(
        "status".into(),
        json!(if attempt.success { "success" } else { "failed" }),
    );
    public.insert("auth_module".into(), json!(attempt.auth_module));
    public.insert("message".into(), json!(attempt.message));
    public.insert("client_headers".into(), Value::Object(headers));
    public.insert("client_ip".into(), json!(ctx.client_ip.to_string()));
    public.insert("crossbar_request_id".into(), json!(ctx.request_id));
    public.insert("timestamp".into(), json!(timestamp));
    if let Some(metadata) = &attempt.metadata {
        public.insert("metadata".into(), metadata.clone());
    }

    let mut doc = public.clone();
    doc.insert("_id".into(), json!(id));
    doc.insert("pvt_type".into(), json!("login_attempt"));
    doc.insert("pvt_node".into(), json!(node));
    doc.insert("pvt_account_id".into(), json!(account.as_str()));
    doc.insert(
        "pvt_account_db".into(),
        json!(format!("{}-{year:04}{month:02}", account.encoded_db())),
    );
    doc.insert("pvt_created".into(), json!(timestamp));
    doc.insert("pvt_modified".into(), json!(timestamp));
    doc.insert(
        "pvt_document_hash".into(),
        json!(document_hash(&public, &id)),
    );
    Value::Object(doc)
}

/// Writes an attempt before the response goes out. A failure is logged and counted, and the
/// login answers all the same: logins must not depend on the audit log's health.
pub async fn write(state: &AppState, ctx: &LoginContext, attempt: Attempt) {
    let Some(account) = AccountId::parse(&attempt.account_id) else {
        return;
    };
    let now = state.clock.now();
    let doc = attempt_document(&attempt, ctx, &account, &state.node, now);
    let (year, month) = utc_month(now);
    let db = account.month_db(year, month);
    if let Err(error) = save(state, &account, &db, &doc).await {
        state.metrics.attempt_write_failed();
        tracing::error!(
            request_id = %ctx.request_id,
            account.id = %account,
            %error,
            "a login attempt could not be written"
        );
    }
}

async fn save(
    state: &AppState,
    account: &AccountId,
    db: &str,
    doc: &Value,
) -> Result<(), StoreError> {
    let couch = &state.store.couch;
    match couch.put(db, doc).await {
        Err(StoreError::MissingDatabase) => {}
        other => return other.map(|_| ()),
    }
    if state.store.accounts_copy(account).await?.is_none() {
        return Err(StoreError::Unexpected(format!(
            "account {account} is missing or deleted"
        )));
    }
    couch.create_db(db).await?;
    state.store.evict_database(db);
    couch.install_design(db, &MONTH_AUTH).await?;
    couch.put(db, doc).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempt_documents_redact_secrets_and_use_one_clock_reading() {
        let ctx = LoginContext {
            multi_factor_response: None,
            request_id: "r1".into(),
            client_ip: "192.0.2.1".parse().unwrap(),
            headers: vec![
                ("authorization".into(), "Bearer x".into()),
                ("cookie".into(), "s=1".into()),
                ("user-agent".into(), "t".into()),
            ],
        };
        let attempt = Attempt {
            account_id: "0d1c678f5cb1c4e04cab2066f0b4adbe".into(),
            auth_module: "cb_user_auth",
            auth_type: "credentials",
            success: false,
            message: "m".into(),
            metadata: None,
        };
        let account = AccountId::parse(&attempt.account_id).unwrap();
        let doc = attempt_document(&attempt, &ctx, &account, "n", 1_704_067_199);
        assert!(doc["_id"].as_str().unwrap().starts_with("202312-"));
        assert_eq!(doc["timestamp"], 63_871_286_399i64);
        assert_eq!(doc["pvt_created"], doc["timestamp"]);
        assert_eq!(doc["client_headers"]["authorization"], "[redacted]");
        assert_eq!(doc["client_headers"]["cookie"], "[redacted]");
        assert_eq!(doc["client_headers"]["user-agent"], "t");
        assert_eq!(doc["status"], "failed");
        assert_eq!(
            doc["pvt_account_db"],
            "account%2F0d%2F1c%2F678f5cb1c4e04cab2066f0b4adbe-202312"
        );
        assert!(doc.get("metadata").is_none());
    }
}

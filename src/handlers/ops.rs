//! `/healthz`, `/readyz`, `/metrics` and `/v2/openapi.json`: what operators, probes and
//! client generators read. None of them needs a token.

use serde_json::json;

use crate::http::envelope::Reply;
use crate::http::error::ApiError;
use crate::state::AppState;

/// The OpenAPI 3 description of every route.
pub const OPENAPI: &str = include_str!("../../openapi/openapi.json");

/// `GET /healthz`: the process is up and answering.
pub fn health() -> Reply {
    Reply::ok(json!({"status": "up"}))
}

/// `GET /readyz`: CouchDB answers and the signing key can be loaded, so logins can work.
pub async fn ready(state: &AppState) -> Result<Reply, ApiError> {
    if let Err(cause) = state.store.couch.ping().await {
        tracing::warn!(%cause, "not ready: CouchDB does not answer");
        return Err(ApiError::NotReady(json!({
            "couchdb": "unreachable",
            "signing_key": "unknown",
        })));
    }
    if let Err(cause) = state.keys.signing(&state.store).await {
        tracing::warn!(%cause, "not ready: no signing key");
        return Err(ApiError::NotReady(json!({
            "couchdb": "ok",
            "signing_key": "missing",
        })));
    }
    Ok(Reply::ok(json!({"couchdb": "ok", "signing_key": "ok"})))
}

/// `GET /metrics`: the Prometheus metrics of this instance.
pub fn metrics(state: &AppState) -> Reply {
    Reply::raw(crate::metrics::CONTENT_TYPE, state.metrics.render())
}

/// `GET /v2/openapi.json`: the API description, outside the envelope.
pub fn openapi() -> Reply {
    Reply::raw("application/json", OPENAPI)
}

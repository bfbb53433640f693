//! Crossbar's response envelope, shared by successes and errors.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, ETAG, HeaderName, HeaderValue};
use hyper::{Response, StatusCode};
use serde_json::{Map, Value, json};

use super::error::ApiError;
use crate::domain::time::iso8601;

/// A successful answer, before it is wrapped in the envelope.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub data: Value,
    /// The document revision the answer is about, if any (`revision` and `ETag`).
    pub revision: Option<String>,
    /// A token to return instead of the caller's (the authenticators' new token).
    pub auth_token: Option<String>,
    /// Keys beside `data` (paging).
    pub extra: Map<String, Value>,
    /// A body sent as it is, without the envelope, and its content type.
    pub raw: Option<(&'static str, Bytes)>,
    /// Headers added to a raw body's answer.
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl Reply {
    /// A 200 with `data`.
    pub fn ok(data: Value) -> Self {
        Reply {
            status: StatusCode::OK,
            data,
            revision: None,
            auth_token: None,
            extra: Map::new(),
            raw: None,
            headers: Vec::new(),
        }
    }

    /// A 200 whose body is `bytes` of `content_type`, outside the envelope.
    pub fn raw(content_type: &'static str, bytes: impl Into<Bytes>) -> Self {
        Reply {
            raw: Some((content_type, bytes.into())),
            ..Reply::ok(Value::Null)
        }
    }

    /// Sets the revision.
    pub fn with_revision(mut self, revision: Option<String>) -> Self {
        self.revision = revision.filter(|r| !r.is_empty());
        self
    }
}

/// The parts of the envelope that come from the request and the instance.
pub struct EnvelopeContext<'a> {
    pub request_id: &'a str,
    pub node: &'a str,
    pub auth_token: &'a str,
    pub now_unix: i64,
}

impl EnvelopeContext<'_> {
    fn base(&self, auth_token: &str) -> Map<String, Value> {
        let mut map = Map::new();
        map.insert("auth_token".into(), json!(auth_token));
        map.insert("request_id".into(), json!(self.request_id));
        map.insert("node".into(), json!(self.node));
        map.insert("version".into(), json!(env!("CARGO_PKG_VERSION")));
        map.insert("timestamp".into(), json!(iso8601(self.now_unix)));
        map
    }

    /// Wraps a success.
    pub fn success(&self, reply: Reply) -> Response<Full<Bytes>> {
        if let Some((content_type, bytes)) = reply.raw {
            let mut response = Response::new(Full::new(bytes));
            *response.status_mut() = reply.status;
            let content_type = HeaderValue::from_static(content_type);
            response.headers_mut().insert(CONTENT_TYPE, content_type);
            response.headers_mut().extend(reply.headers);
            return response;
        }
        let mut body = Map::new();
        body.insert("data".into(), reply.data);
        body.extend(reply.extra);
        body.insert("status".into(), json!("success"));
        body.extend(self.base(reply.auth_token.as_deref().unwrap_or(self.auth_token)));
        if let Some(rev) = &reply.revision {
            body.insert("revision".into(), json!(rev));
        }
        let mut response = json_response(reply.status, &Value::Object(body));
        if let Some(etag) = reply
            .revision
            .and_then(|r| HeaderValue::from_str(&format!("\"{r}\"")).ok())
        {
            response.headers_mut().insert(ETAG, etag);
        }
        response
    }

    /// Wraps an error.
    pub fn error(&self, error: &ApiError) -> Response<Full<Bytes>> {
        let (status, message, data) = error.parts();
        let mut body = Map::new();
        body.insert("data".into(), data);
        body.insert("error".into(), json!(status.as_u16().to_string()));
        body.insert("message".into(), json!(message));
        body.insert("status".into(), json!("error"));
        body.extend(self.base(self.auth_token));
        json_response(status, &Value::Object(body))
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut response = Response::new(Full::new(Bytes::from(bytes)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

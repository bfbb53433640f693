//! Request bodies, the raw bytes a client sends (already within the 1 MiB limit): refused
//! with a 400 or read into lower-cased top-level keys without a panic, and what the handlers
//! then do with `data` (public part, PATCH, schema check, envelope) holds up too.
#![no_main]

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::{HeaderMap, Method};
use kazoo_security::domain::merge::{is_public_key, patch};
use kazoo_security::domain::schema::validate_security_config;
use kazoo_security::http::envelope::{EnvelopeContext, Reply};
use kazoo_security::http::error::ApiError;
use kazoo_security::http::request::{
    Ctx, MAX_BODY_BYTES, effective_method, find_token, parse_body,
};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

const ENVELOPE: EnvelopeContext<'static> = EnvelopeContext {
    request_id: "fuzz",
    node: "fuzz",
    auth_token: "",
    now_unix: 1_704_067_200,
};

/// The envelope of an answer is JSON with the status the error or reply carries.
fn check_envelope(result: Result<Reply, ApiError>) {
    let response = match result {
        Ok(reply) => ENVELOPE.success(reply),
        Err(error) => {
            let response = ENVELOPE.error(&error);
            assert!(response.status().is_client_error(), "{error:?}");
            response
        }
    };
    let Ok(collected) = ready(response.into_body().collect());
    let body = collected.to_bytes();
    let envelope: Value = serde_json::from_slice(&body).expect("the envelope is JSON");
    assert!(envelope["status"].is_string());
}

/// Polls a future that is ready at once (a `Full` body).
fn ready<F: std::future::Future>(future: F) -> F::Output {
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let mut future = std::pin::pin!(future);
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => panic!("a full body is ready at once"),
    }
}

fn handle(body: Map<String, Value>) -> Result<Reply, ApiError> {
    let headers = HeaderMap::new();
    let query = Default::default();
    let method = effective_method(&Method::POST, &headers, &query, Some(&body));
    let token = find_token(&headers, &query, Some(&body));
    assert!(
        token
            .as_deref()
            .is_none_or(|t| !t.is_empty() && t != "undefined")
    );
    let ctx = Ctx {
        request_id: "fuzz".into(),
        method,
        query,
        body: Some(body),
        token,
        client_ip: [127, 0, 0, 1].into(),
        headers: Vec::new(),
    };

    let public = ctx.public_data()?;
    let keys = public.as_object().expect("public data is an object").keys();
    for key in keys {
        assert!(is_public_key(key) && key != "id", "{key}");
    }

    let stored = json!({"auth_modules": {"cb_user_auth": {"token_auth_expiry_s": 600}}});
    for mut config in [public.clone(), patch(&stored, &public)] {
        validate_security_config(&mut config).map_err(|errors| ApiError::Validation {
            message: "validation error",
            errors,
        })?;
    }
    Ok(Reply::ok(public))
}

/// How deep arrays and objects nest in `value`.
fn depth(value: &Value) -> usize {
    let children: Box<dyn Iterator<Item = &Value>> = match value {
        Value::Array(items) => Box::new(items.iter()),
        Value::Object(map) => Box::new(map.values()),
        _ => return 0,
    };
    1 + children.map(depth).max().unwrap_or(0)
}

fuzz_target!(|data: &[u8]| {
    if data.len() > MAX_BODY_BYTES {
        return;
    }
    let parsed = parse_body(&Bytes::copy_from_slice(data));
    let json = std::str::from_utf8(data)
        .ok()
        .and_then(|text| serde_json::from_str::<Value>(text).ok());

    match parsed {
        Ok(None) => assert!(data.iter().all(u8::is_ascii_whitespace)),
        Ok(Some(body)) => {
            let sent = json.expect("an accepted body is UTF-8 JSON");
            let sent = sent.as_object().expect("an accepted body is an object");
            assert!(body.keys().all(|k| *k == k.to_lowercase()));
            assert!(sent.keys().all(|k| body.contains_key(&k.to_lowercase())));
            assert!(body.len() <= sent.len());
            assert!(depth(&Value::Object(body.clone())) <= 128);
            check_envelope(handle(body));
        }
        Err(ApiError::InvalidJson(why)) => {
            assert!(json.is_none(), "refused valid JSON: {why}");
            check_envelope(Err(ApiError::InvalidJson(why)));
        }
        Err(ApiError::MissingData) => {
            assert!(json.is_some_and(|v| !v.is_object()));
            check_envelope(Err(ApiError::MissingData));
        }
        Err(other) => panic!("parse_body answered {other:?}"),
    }
});

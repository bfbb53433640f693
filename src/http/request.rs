//! What the handlers see of a request: its id, method, query, JSON body, token and client IP.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;
use hyper::{HeaderMap, Method};
use ipnet::IpNet;
use serde_json::{Map, Value};

use super::error::ApiError;

/// The largest body accepted; larger ones are a 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A parsed request.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub request_id: String,
    /// The effective method, after a `verb` override.
    pub method: Method,
    /// Query parameters; of a repeated one, the first counts.
    pub query: HashMap<String, String>,
    /// The top-level keys of a JSON body, lower-cased; `None` without a body.
    pub body: Option<Map<String, Value>>,
    /// The caller's token, from whichever place it came in.
    pub token: Option<String>,
    /// The client, after the trusted-proxy rule.
    pub client_ip: IpAddr,
    /// Request headers, names lower-cased, for the login-attempt audit trail.
    pub headers: Vec<(String, String)>,
}

impl Ctx {
    /// The body's `data`, which must be an object.
    pub fn data(&self) -> Result<&Map<String, Value>, ApiError> {
        match self.body.as_ref().and_then(|b| b.get("data")) {
            Some(Value::Object(data)) => Ok(data),
            // api.md: a body without a `data` object, whatever stands there instead.
            _ => Err(ApiError::MissingData),
        }
    }

    /// The body's `data` without `_…`, `pvt_…` or `id` keys: what a client may store.
    pub fn public_data(&self) -> Result<Value, ApiError> {
        let data = Value::Object(self.data()?.clone());
        Ok(Value::Object(crate::domain::merge::public_part(&data)))
    }

    /// A top-level body key (lower-cased name).
    pub fn body_key(&self, key: &str) -> Option<&Value> {
        self.body.as_ref().and_then(|b| b.get(key))
    }
}

/// A request id from the client if it is sane, else a new one.
pub fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_string)
        .unwrap_or_else(crate::domain::ids::new_raw_id)
}

/// Query parameters of a URI query string; the first of a repeated name wins.
pub fn parse_query(query: Option<&str>) -> HashMap<String, String> {
    let mut map = HashMap::new();
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        map.entry(key.into_owned())
            .or_insert_with(|| value.into_owned());
    }
    map
}

/// Parses a body: empty is none; otherwise a JSON object whose keys are lower-cased.
pub fn parse_body(bytes: &Bytes) -> Result<Option<Map<String, Value>>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ApiError::InvalidJson("the body is not UTF-8".into()))?;
    let value: Value = serde_json::from_str(text)
        .map_err(|e| ApiError::InvalidJson(format!("the body is not valid JSON: {e}")))?;
    match value {
        Value::Object(map) => Ok(Some(
            map.into_iter()
                .map(|(k, v)| (k.to_lowercase(), v))
                .collect(),
        )),
        _ => Err(ApiError::MissingData),
    }
}

/// The method after Crossbar's overrides (`X-HTTP-Method-Override`, then a `verb` in the
/// body or query), which only a POST may use.
pub fn effective_method(
    method: &Method,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    body: Option<&Map<String, Value>>,
) -> Method {
    // HEAD is a GET whose body hyper leaves out of the response.
    if method == Method::HEAD {
        return Method::GET;
    }
    if method != Method::POST {
        return method.clone();
    }
    let header = headers
        .get("x-http-method-override")
        .and_then(|v| v.to_str().ok());
    let verb = header
        .or_else(|| body.and_then(|b| b.get("verb")).and_then(Value::as_str))
        .or_else(|| query.get("verb").map(String::as_str));
    // An unknown verb is the method the client asked for, so the route refuses it with a 405;
    // falling back to POST would turn a mistyped `verb=PACTH` into a full replace.
    match verb {
        None => Method::POST,
        Some(verb) => Method::from_bytes(verb.to_ascii_uppercase().as_bytes())
            .unwrap_or_else(|_| unknown_method()),
    }
}

/// A method no route allows, for verbs that are not even an HTTP token.
fn unknown_method() -> Method {
    Method::from_bytes(b"UNKNOWN-VERB").unwrap_or(Method::CONNECT)
}

/// The token from `X-Auth-Token`, `Authorization: Bearer`, `?auth_token=` or the body.
/// `undefined` and empty values mean no token, as browser clients send before login.
pub fn find_token(
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    body: Option<&Map<String, Value>>,
) -> Option<String> {
    let usable = |t: &str| {
        let t = t.trim();
        (!t.is_empty() && t != "undefined").then(|| t.to_string())
    };
    let header = headers
        .get("x-auth-token")
        .and_then(|v| v.to_str().ok())
        .and_then(usable);
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .and_then(usable);
    let in_query = query.get("auth_token").and_then(|t| usable(t));
    let in_body = body
        .and_then(|b| b.get("auth_token"))
        .and_then(Value::as_str)
        .and_then(usable);
    header.or(bearer).or(in_query).or(in_body)
}

/// The TCP peer, or the first `X-Forwarded-For` address when the peer is a trusted proxy.
pub fn client_ip(peer: SocketAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer_ip = peer.ip().to_canonical();
    if !trusted.iter().any(|net| net.contains(&peer_ip)) {
        return peer_ip;
    }
    headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .and_then(|first| first.trim().parse::<IpAddr>().ok())
        .unwrap_or(peer_ip)
}

/// Header names lower-cased with their values, for the audit trail.
pub fn header_list(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(value.as_bytes()).into(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, v.parse().unwrap());
        }
        map
    }

    #[test]
    fn undefined_and_empty_tokens_mean_none() {
        let none = HashMap::new();
        assert_eq!(
            find_token(&headers(&[("x-auth-token", "undefined")]), &none, None),
            None
        );
        assert_eq!(
            find_token(&headers(&[("x-auth-token", "")]), &none, None),
            None
        );
        let bearer = headers(&[("authorization", "Bearer abc")]);
        assert_eq!(find_token(&bearer, &none, None).as_deref(), Some("abc"));
    }

    #[test]
    fn forwarded_for_counts_only_from_trusted_proxies() {
        let trusted = vec!["127.0.0.0/8".parse().unwrap()];
        let forwarded = headers(&[("x-forwarded-for", "203.0.113.9, 10.0.0.1")]);
        let local: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let remote: SocketAddr = "198.51.100.1:5000".parse().unwrap();
        assert_eq!(
            client_ip(local, &forwarded, &trusted).to_string(),
            "203.0.113.9"
        );
        assert_eq!(
            client_ip(remote, &forwarded, &trusted).to_string(),
            "198.51.100.1"
        );
    }

    #[test]
    fn bodies_must_be_json_objects_with_lowercased_keys() {
        assert!(parse_body(&Bytes::from_static(b"")).unwrap().is_none());
        assert!(matches!(
            parse_body(&Bytes::from_static(b"{")),
            Err(ApiError::InvalidJson(_))
        ));
        assert!(matches!(
            parse_body(&Bytes::from_static(b"[1]")),
            Err(ApiError::MissingData)
        ));
        let body = parse_body(&Bytes::from_static(b"{\"DATA\":{}}"))
            .unwrap()
            .unwrap();
        assert!(body.contains_key("data"));
    }

    #[test]
    fn only_post_can_be_overridden_by_verb() {
        let mut query = HashMap::new();
        query.insert("verb".to_string(), "patch".to_string());
        let none = HeaderMap::new();
        assert_eq!(
            effective_method(&Method::POST, &none, &query, None),
            Method::PATCH
        );
        assert_eq!(
            effective_method(&Method::GET, &none, &query, None),
            Method::GET
        );
        let delete = headers(&[("x-http-method-override", "DELETE")]);
        assert_eq!(
            effective_method(&Method::POST, &delete, &query, None),
            Method::DELETE
        );
    }

    #[test]
    fn an_unknown_verb_is_not_a_post() {
        let none = HeaderMap::new();
        for verb in ["PACTH", "fly", "", "no spaces"] {
            let query = HashMap::from([("verb".to_string(), verb.to_string())]);
            let method = effective_method(&Method::POST, &none, &query, None);
            assert_ne!(method, Method::POST, "verb {verb:?}");
            assert_ne!(method, Method::PUT, "verb {verb:?}");
        }
    }
}

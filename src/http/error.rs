//! `ApiError`: the one error type that knows HTTP status codes and Crossbar's error envelope.

use hyper::StatusCode;
use serde_json::{Value, json};

use crate::auth::AuthError;
use crate::domain::schema::ValidationErrors;
use crate::store::StoreError;

/// Every way a request can fail, each with its Crossbar status, `message` and `data`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("invalid credentials")]
    Unauthorized,
    /// A 401 that carries data for the client (a module switched off, a second factor).
    #[error("invalid credentials with detail")]
    UnauthorizedWith(Value),
    #[error("forbidden")]
    Forbidden,
    #[error("bad identifier {0}")]
    BadIdentifier(String),
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("body is not JSON: {0}")]
    InvalidJson(String),
    #[error("body has no data object")]
    MissingData,
    /// Schema violations, keyed by dotted path; `message` is the envelope's message.
    #[error("{message}")]
    Validation {
        message: &'static str,
        errors: ValidationErrors,
    },
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("request target too long")]
    UriTooLong,
    #[error("account is locked")]
    Locked(Value),
    #[error("too many requests")]
    TooManyRequests,
    #[error("conflicting documents")]
    Conflict,
    #[error("datastore fault: {0}")]
    Datastore(String),
    /// `/readyz`: a dependency is missing; `data` says which.
    #[error("not ready")]
    NotReady(Value),
}

impl ApiError {
    /// A validation error on one path with one rule.
    pub fn invalid(path: &str, rule: &str, message: impl Into<String>) -> Self {
        let mut errors = ValidationErrors::new();
        crate::domain::schema::add_error(
            &mut errors,
            path,
            rule,
            json!({"message": message.into()}),
        );
        ApiError::Validation {
            message: "validation error",
            errors,
        }
    }

    /// The HTTP status, the envelope's `message`, and its `data`.
    pub fn parts(&self) -> (StatusCode, &'static str, Value) {
        match self {
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                json!({"message": "invalid credentials"}),
            ),
            ApiError::UnauthorizedWith(data) => (
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                data.clone(),
            ),
            ApiError::Forbidden => (
                StatusCode::FORBIDDEN,
                "forbidden",
                json!({"message": "forbidden"}),
            ),
            ApiError::BadIdentifier(cause) => (
                StatusCode::NOT_FOUND,
                "bad_identifier",
                json!({"message": "bad identifier", "cause": cause}),
            ),
            ApiError::NotFound => (
                StatusCode::NOT_FOUND,
                "not_found",
                json!({"message": "not found"}),
            ),
            ApiError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "invalid_method",
                json!({"message": "method not allowed"}),
            ),
            ApiError::InvalidJson(why) => (
                StatusCode::BAD_REQUEST,
                "validation error",
                json!({"json": {"invalid": {"message": why, "target": "body"}}}),
            ),
            ApiError::MissingData => (
                StatusCode::BAD_REQUEST,
                "validation error",
                json!({"data": {"required": {"message": "Field is required but missing"}}}),
            ),
            ApiError::Validation { message, errors } => (
                StatusCode::BAD_REQUEST,
                message,
                Value::Object(errors.clone()),
            ),
            ApiError::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "request_entity_too_large",
                json!({"message": "the request body is larger than 1 MiB"}),
            ),
            ApiError::UriTooLong => (
                StatusCode::URI_TOO_LONG,
                "request_uri_too_long",
                json!({"message": "the request target is longer than 8 KiB"}),
            ),
            ApiError::Locked(data) => (StatusCode::LOCKED, "locked", data.clone()),
            ApiError::TooManyRequests => (
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                json!({"message": "too many requests"}),
            ),
            ApiError::Conflict => (
                StatusCode::CONFLICT,
                "datastore_conflict",
                json!({"message": "conflicting documents"}),
            ),
            ApiError::Datastore(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "datastore_fault",
                json!({"message": "datastore fatal error"}),
            ),
            ApiError::NotReady(data) => {
                (StatusCode::SERVICE_UNAVAILABLE, "not_ready", data.clone())
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict => ApiError::Conflict,
            other => ApiError::Datastore(other.to_string()),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Invalid(_) => ApiError::Unauthorized,
            AuthError::NotConfigured(why) => ApiError::Datastore(format!("{why}; run setup")),
            AuthError::Store(store) => store.into(),
        }
    }
}

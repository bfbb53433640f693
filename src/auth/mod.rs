//! Tokens and the authenticators' common path.
//!
//! - `keys`: the signing key and system secret from CouchDB, cached within the TTL.
//! - `tokens`: RS256 JWTs, signed and verified as Kazoo does.
//! - `caller`: turns a request's token into a `Caller`, with every check of the spec.
//! - `login`: what every authenticator does once it has found an account and identity.
//! - `multi_factor`: the second factor of a login (Duo, TOTP), failing closed.
//! - `rate_limit`: the token bucket per client IP and account in front of logins.
//! - `attempts`: login-attempt documents, written when the config asks for them.

pub mod attempts;
pub mod caller;
pub mod keys;
pub mod login;
pub mod multi_factor;
pub mod rate_limit;
pub mod tokens;

use crate::store::StoreError;

/// Why a token or a login was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Bad, expired or revoked token, or wrong credentials: a 401 without detail.
    #[error("invalid credentials: {0}")]
    Invalid(String),
    /// The signing key or system secrets are missing: `setup` was not run.
    #[error("signing is not configured: {0}")]
    NotConfigured(&'static str),
    /// CouchDB failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

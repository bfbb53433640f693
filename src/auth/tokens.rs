//! RS256 JWTs in Kazoo's format: `kid` in the header, the key in `system_auth`, `exp` in Unix
//! seconds, and an identity signature tying the token to a secret that can be changed.

use jsonwebtoken::{Algorithm, Validation};
use serde::{Deserialize, Serialize};

use super::AuthError;
use super::keys::{KeyRing, SigningKey};
use crate::store::Store;

/// The claims this service writes and reads. Kazoo's tokens may carry more; they are ignored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    pub iss: String,
    pub account_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_sig: Option<String>,
}

/// Signs `claims` with the current system key: RS256 over `base64url(header).base64url(claims)`.
pub fn sign(key: &SigningKey, claims: &Claims) -> Result<String, AuthError> {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use rsa::signature::{RandomizedSigner, SignatureEncoding};

    let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "kid": key.kid});
    let claims = serde_json::to_vec(claims).map_err(|_| AuthError::NotConfigured("claims"))?;
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims)
    );
    // Blinded with a random factor, so the signing time says nothing about the key.
    let signature = key
        .key
        .try_sign_with_rng(&mut rand::thread_rng(), message.as_bytes());
    let signature =
        signature.map_err(|_| AuthError::NotConfigured("the signing key cannot sign"))?;
    Ok(format!(
        "{message}.{}",
        URL_SAFE_NO_PAD.encode(signature.to_bytes())
    ))
}

/// Checks a token's form, algorithm, key, signature, issuer and expiry against `now_unix`.
/// The checks that need the account (identity, enabled, module) are the caller's.
pub async fn verify_signature(
    keys: &KeyRing,
    store: &Store,
    token: &str,
    now_unix: i64,
) -> Result<Claims, AuthError> {
    let invalid = |why: &str| AuthError::Invalid(why.to_string());
    let header = jsonwebtoken::decode_header(token).map_err(|_| invalid("malformed token"))?;
    if !matches!(
        header.alg,
        Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512
    ) {
        return Err(invalid("algorithm not accepted"));
    }
    let kid = header.kid.ok_or_else(|| invalid("token has no kid"))?;
    let key = keys
        .verifying(store, &kid)
        .await?
        .ok_or_else(|| invalid("unknown kid"))?;

    let mut validation = Validation::new(header.alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<Claims>(token, &key, &validation)
        .map_err(|_| invalid("bad signature or claims"))?;

    let claims = data.claims;
    if claims.iss != "kazoo" {
        return Err(invalid("foreign issuer"));
    }
    if claims.exp.is_some_and(|exp| exp <= now_unix) {
        return Err(invalid("expired"));
    }
    Ok(claims)
}

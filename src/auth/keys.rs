//! The signing key and the system identity secret, read from CouchDB and kept for at most
//! `CONFIG_CACHE_TTL`. A key is never created here: only `setup` makes one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use rsa::RsaPrivateKey;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;

use super::AuthError;
use crate::store::Store;

/// The key new tokens are signed with, parsed once: signing through `jsonwebtoken` re-parses
/// the key and recomputes its CRT values on every token, which the profile of a login showed
/// as a tenth of its cost.
pub struct SigningKey {
    pub kid: String,
    pub key: rsa::pkcs1v15::SigningKey<sha2::Sha256>,
}

impl SigningKey {
    /// Parses a PKCS#1 (or PKCS#8) private key PEM; Kazoo's exponent 2049 is accepted.
    pub fn from_pem(kid: String, pem: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(pem).ok()?;
        let private = RsaPrivateKey::from_pkcs1_pem(text)
            .or_else(|_| RsaPrivateKey::from_pkcs8_pem(text))
            .ok()?;
        Some(SigningKey {
            kid,
            key: rsa::pkcs1v15::SigningKey::new(private),
        })
    }
}

type Cached<T> = Mutex<Option<(Instant, T)>>;
type PublicKeys = HashMap<String, (Instant, Option<Arc<DecodingKey>>)>;

/// Keys and secrets with their read times.
pub struct KeyRing {
    ttl: Duration,
    signing: Cached<Arc<SigningKey>>,
    system_secret: Cached<Option<String>>,
    verifying: Mutex<PublicKeys>,
}

impl KeyRing {
    /// An empty ring whose entries live for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        KeyRing {
            ttl,
            signing: Mutex::new(None),
            system_secret: Mutex::new(None),
            verifying: Mutex::new(HashMap::new()),
        }
    }

    fn fresh<T: Clone>(&self, slot: &Cached<T>) -> Option<T> {
        let guard = slot.lock().expect("key cache lock");
        guard
            .as_ref()
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, v)| v.clone())
    }

    /// The current signing key (`system_config/auth` `system_key`).
    pub async fn signing(&self, store: &Store) -> Result<Arc<SigningKey>, AuthError> {
        if let Some(key) = self.fresh(&self.signing) {
            return Ok(key);
        }
        let secrets = store.auth_secrets().await?;
        let kid = secrets
            .system_key
            .ok_or(AuthError::NotConfigured("no system_key"))?;
        let pem = store
            .private_key_pem(&kid)
            .await?
            .ok_or(AuthError::NotConfigured(
                "the system_key document has no private key",
            ))?;
        let key = SigningKey::from_pem(kid, &pem).ok_or(AuthError::NotConfigured(
            "the private key is not an RSA PEM",
        ))?;
        let key = Arc::new(key);
        *self.signing.lock().expect("key cache lock") = Some((Instant::now(), key.clone()));
        Ok(key)
    }

    /// The system `secret_for_user_signature`, if set.
    pub async fn system_secret(&self, store: &Store) -> Result<Option<String>, AuthError> {
        if let Some(secret) = self.fresh(&self.system_secret) {
            return Ok(secret);
        }
        let secret = store.auth_secrets().await?.secret_for_user_signature;
        *self.system_secret.lock().expect("key cache lock") =
            Some((Instant::now(), secret.clone()));
        Ok(secret)
    }

    /// The public key of `kid`, derived from its stored private key; `None` if unknown.
    pub async fn verifying(
        &self,
        store: &Store,
        kid: &str,
    ) -> Result<Option<Arc<DecodingKey>>, AuthError> {
        {
            let cache = self.verifying.lock().expect("key cache lock");
            if let Some((at, key)) = cache.get(kid)
                && at.elapsed() < self.ttl
            {
                return Ok(key.clone());
            }
        }
        let key = store
            .private_key_pem(kid)
            .await?
            .and_then(|pem| public_key_of(&pem))
            .map(Arc::new);
        let mut cache = self.verifying.lock().expect("key cache lock");
        if cache.len() > 64 {
            cache.clear();
        }
        if !self.ttl.is_zero() {
            cache.insert(kid.to_string(), (Instant::now(), key.clone()));
        }
        Ok(key)
    }
}

/// Derives the public key from a PKCS#1 (or PKCS#8) private key PEM.
fn public_key_of(pem: &[u8]) -> Option<DecodingKey> {
    let text = std::str::from_utf8(pem).ok()?;
    let private = RsaPrivateKey::from_pkcs1_pem(text)
        .or_else(|_| RsaPrivateKey::from_pkcs8_pem(text))
        .ok()?;
    let n = private.n().to_bytes_be();
    let e = private.e().to_bytes_be();
    Some(DecodingKey::from_rsa_raw_components(&n, &e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::tokens::{Claims, sign};

    /// A key made the way Kazoo makes them: 2048 bits, public exponent 2049.
    const KAZOO_KEY: &[u8] = include_bytes!(
        "../../fixtures/demo/system_auth/95d8183d44c2958404d05801ec9617ba.private_key.pem"
    );

    #[test]
    fn kazoo_keys_with_exponent_2049_sign_and_verify() {
        let key =
            SigningKey::from_pem("95d8183d44c2958404d05801ec9617ba".into(), KAZOO_KEY).unwrap();
        let claims = Claims {
            iss: "kazoo".into(),
            account_id: "28504c0453a482f7a2f3e6f8ae598ef4".into(),
            owner_id: None,
            method: Some("cb_api_auth".into()),
            exp: None,
            iat: Some(1),
            identity_sig: None,
        };
        let token = sign(&key, &claims).unwrap();
        let public = public_key_of(KAZOO_KEY).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        let decoded = jsonwebtoken::decode::<Claims>(&token, &public, &validation).unwrap();
        assert_eq!(decoded.claims, claims);
        assert_eq!(
            decoded.header.kid.as_deref(),
            Some("95d8183d44c2958404d05801ec9617ba")
        );
    }
}

//! The token signing key and the system secrets, where Kazoo keeps them.

use serde_json::Value;

use super::{Store, StoreError, live};

/// The attachment holding a key document's private key.
pub const PRIVATE_KEY_ATTACHMENT: &str = "private_key.pem";

/// The system-wide settings of `system_config/auth` that tokens depend on.
#[derive(Debug, Clone, Default)]
pub struct AuthSecrets {
    /// The `kid` new tokens are signed with.
    pub system_key: Option<String>,
    /// Appended to every identity secret before signing identities.
    pub secret_for_user_signature: Option<String>,
}

impl Store {
    /// Reads `system_config/auth`.
    pub async fn auth_secrets(&self) -> Result<AuthSecrets, StoreError> {
        let section = self.system_config("auth").await?;
        let text = |key: &str| {
            section[key]
                .as_str()
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        Ok(AuthSecrets {
            system_key: text("system_key"),
            secret_for_user_signature: text("secret_for_user_signature"),
        })
    }

    /// The PEM of key `kid`, if its live document has the attachment.
    pub async fn private_key_pem(&self, kid: &str) -> Result<Option<Vec<u8>>, StoreError> {
        if kid.is_empty() || kid.starts_with('_') {
            return Ok(None);
        }
        let doc: Option<Value> = live(self.couch.get("system_auth", kid).await?);
        if doc.is_none() {
            return Ok(None);
        }
        self.couch
            .get_attachment("system_auth", kid, PRIVATE_KEY_ATTACHMENT)
            .await
    }
}

//! `kazoo-security setup`: creates what is missing, never overwrites (storage.md §13.4).

use rsa::RsaPrivateKey;
use rsa::pkcs1::{EncodeRsaPrivateKey, LineEnding};
use serde_json::{Map, json};

use crate::domain::ids::new_raw_id;
use crate::domain::time::to_gregorian;
use crate::store::designs::{ACCOUNTS, SYSTEM_PROVIDERS};
use crate::store::kazoo_documents::system_config_document;
use crate::store::keys::PRIVATE_KEY_ATTACHMENT;
use crate::store::{Store, StoreError, document_hash, live};

/// The system databases the service needs.
pub const SYSTEM_DATABASES: [&str; 4] = ["accounts", "system_config", "system_auth", "services"];

/// Runs setup; answers a line per thing created.
pub async fn run(store: &Store, now_unix: i64) -> Result<String, StoreError> {
    let couch = &store.couch;
    let now = to_gregorian(now_unix);
    let mut created = Vec::new();

    for db in SYSTEM_DATABASES {
        if couch.create_db(db).await? {
            created.push(format!("database {db}"));
        }
    }
    for (db, design) in [("accounts", &ACCOUNTS), ("system_auth", &SYSTEM_PROVIDERS)] {
        let id = format!("_design/{}", design.name);
        if couch.get(db, &id).await?.is_none() {
            couch.install_design(db, design).await?;
            created.push(format!("{db}/{id}"));
        }
    }

    let kid = ensure_auth_setting(store, "system_key", now, &mut created).await?;
    ensure_auth_setting(store, "secret_for_user_signature", now, &mut created).await?;
    if ensure_signing_key(store, &kid, now).await? {
        created.push(format!(
            "system_auth/{kid} (a new 2048-bit RSA signing key)"
        ));
    }
    if ensure_duo_provider(store, now).await? {
        created.push("system_auth/duo".into());
    }

    if created.is_empty() {
        Ok("setup: nothing was missing".into())
    } else {
        Ok(format!("setup created:\n  {}", created.join("\n  ")))
    }
}

/// Adds `default.<key>` (32 random hex) to `system_config/auth` if absent; answers the value.
async fn ensure_auth_setting(
    store: &Store,
    key: &str,
    now: i64,
    created: &mut Vec<String>,
) -> Result<String, StoreError> {
    for _ in 0..5 {
        let existing = store.couch.get("system_config", "auth").await?;
        let mut doc = existing
            .clone()
            .unwrap_or_else(|| system_config_document("auth", "kazoo_security@setup", now));
        if let Some(value) = doc["default"][key].as_str().filter(|v| !v.is_empty()) {
            return Ok(value.to_string());
        }
        if !doc["default"].is_object() {
            doc["default"] = json!({});
        }
        let value = new_raw_id();
        doc["default"][key] = json!(value);
        doc["pvt_modified"] = json!(now);
        match store.couch.put("system_config", &doc).await {
            Ok(_) => {
                created.push(format!("system_config/auth default.{key}"));
                return Ok(value);
            }
            Err(StoreError::Conflict) => continue,
            Err(error) => return Err(error),
        }
    }
    Err(StoreError::Conflict)
}

/// Creates the key document `kid` with a fresh key when it is missing.
async fn ensure_signing_key(store: &Store, kid: &str, now: i64) -> Result<bool, StoreError> {
    if live(store.couch.get("system_auth", kid).await?).is_some() {
        return Ok(false);
    }
    let pem = tokio::task::spawn_blocking(|| {
        let key = RsaPrivateKey::new(&mut rand::thread_rng(), 2048).map_err(|e| e.to_string())?;
        let pem = key
            .to_pkcs1_pem(LineEnding::LF)
            .map_err(|e| e.to_string())?;
        Ok::<String, String>(pem.to_string())
    })
    .await
    .map_err(|e| StoreError::Unexpected(e.to_string()))?
    .map_err(|e| StoreError::Unexpected(format!("key generation failed: {e}")))?;

    let doc = json!({
        "_id": kid,
        "pvt_type": "system_key",
        "pvt_account_id": "system_auth",
        "pvt_account_db": "system_auth",
        "pvt_created": now,
        "pvt_modified": now,
        "pvt_node": "kazoo_security@setup",
        "pvt_document_hash": document_hash(&Map::new(), kid),
    });
    let put = store.couch.put_with_attachment(
        "system_auth",
        &doc,
        PRIVATE_KEY_ATTACHMENT,
        "application/x-pem-file",
        pem.as_bytes(),
    );
    match put.await {
        Ok(_) => Ok(true),
        Err(StoreError::Conflict) => Ok(false),
        Err(error) => Err(error),
    }
}

/// Seeds `system_auth/duo` exactly as Kazoo does, when missing.
async fn ensure_duo_provider(store: &Store, now: i64) -> Result<bool, StoreError> {
    if store.couch.get("system_auth", "duo").await?.is_some() {
        return Ok(false);
    }
    let doc = json!({
        "_id": "duo",
        "enabled": false,
        "name": "System Default Provider",
        "provider_name": "duo",
        "settings": {},
        "pvt_type": "provider",
        "pvt_provider_type": "multi_factor",
        "pvt_account_id": "system_auth",
        "pvt_account_db": "system_auth",
        "pvt_created": now,
        "pvt_modified": now,
        "pvt_node": "kazoo_security@setup",
        "pvt_document_hash": "0f968cb518a39f985dc0802db49613dc",
    });
    match store.couch.put("system_auth", &doc).await {
        Ok(_) => Ok(true),
        Err(StoreError::Conflict) => Ok(false),
        Err(error) => Err(error),
    }
}

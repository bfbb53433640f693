//! `kazoo-security seed DIR`: loads a fixture directory into CouchDB, skipping documents
//! that already exist. The layout is described in `fixtures/demo/README.md`.

use std::path::Path;

use serde_json::Value;

use crate::domain::ids::AccountId;
use crate::store::designs::{ACCOUNT_AUTH, ACCOUNT_USERS, MONTH_AUTH};
use crate::store::keys::PRIVATE_KEY_ATTACHMENT;
use crate::store::{Store, StoreError};

/// What went wrong while seeding.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("{path}: {problem}")]
    File { path: String, problem: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Loads every fixture of `dir`; answers a summary.
pub async fn run(store: &Store, dir: &Path) -> Result<String, SeedError> {
    let mut written = 0;
    let mut skipped = 0;
    let mut count = |was_written: bool| {
        if was_written {
            written += 1
        } else {
            skipped += 1
        }
    };

    for db in ["system_config", "system_auth", "services", "accounts"] {
        for (path, doc) in documents(&dir.join(db))? {
            store.couch.create_db(db).await?;
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default();
            let attachment = path.with_file_name(format!("{stem}.{PRIVATE_KEY_ATTACHMENT}"));
            let pem = std::fs::read(&attachment).ok();
            count(insert(store, db, &doc, pem.as_deref()).await?);
            if db == "accounts" {
                let id = account_of(&path, &doc)?;
                prepare_account_db(store, &id).await?;
                count(insert(store, &id.db(), &doc, None).await?);
            }
        }
    }
    for (path, doc) in documents(&dir.join("account"))? {
        let id = account_of(&path, &doc)?;
        prepare_account_db(store, &id).await?;
        count(insert(store, &id.db(), &doc, None).await?);
    }
    for (path, doc) in documents(&dir.join("modb"))? {
        let id = account_of(&path, &doc)?;
        let month = doc["_id"]
            .as_str()
            .and_then(|i| i.get(..6))
            .unwrap_or_default()
            .to_string();
        let db = format!("{}-{month}", id.db());
        store.couch.create_db(&db).await?;
        store.couch.install_design(&db, &MONTH_AUTH).await?;
        count(insert(store, &db, &doc, None).await?);
    }
    Ok(format!(
        "seed: {written} documents written, {skipped} already present"
    ))
}

async fn prepare_account_db(store: &Store, id: &AccountId) -> Result<(), StoreError> {
    let db = id.db();
    store.couch.create_db(&db).await?;
    store.couch.install_design(&db, &ACCOUNT_USERS).await?;
    store.couch.install_design(&db, &ACCOUNT_AUTH).await
}

/// Writes `doc` unless a document with its id exists; answers whether it wrote.
async fn insert(
    store: &Store,
    db: &str,
    doc: &Value,
    pem: Option<&[u8]>,
) -> Result<bool, StoreError> {
    let id = doc["_id"].as_str().unwrap_or_default();
    if store.couch.get(db, id).await?.is_some() {
        return Ok(false);
    }
    let put = match pem {
        Some(pem) => {
            store
                .couch
                .put_with_attachment(
                    db,
                    doc,
                    PRIVATE_KEY_ATTACHMENT,
                    "application/x-pem-file",
                    pem,
                )
                .await
        }
        None => store.couch.put(db, doc).await,
    };
    match put {
        Ok(_) => Ok(true),
        Err(StoreError::Conflict) => Ok(false),
        Err(error) => Err(error),
    }
}

fn account_of(path: &Path, doc: &Value) -> Result<AccountId, SeedError> {
    doc["pvt_account_id"]
        .as_str()
        .and_then(AccountId::parse)
        .ok_or_else(|| SeedError::File {
            path: path.display().to_string(),
            problem: "pvt_account_id is not a raw account id".into(),
        })
}

/// The JSON documents of a folder, sorted by file name; a missing folder has none.
fn documents(dir: &Path) -> Result<Vec<(std::path::PathBuf, Value)>, SeedError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut paths: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let fail = |problem: String| SeedError::File {
                path: path.display().to_string(),
                problem,
            };
            let text = std::fs::read_to_string(&path).map_err(|e| fail(e.to_string()))?;
            let doc: Value = serde_json::from_str(&text).map_err(|e| fail(e.to_string()))?;
            if !doc["_id"].is_string() {
                return Err(fail("the document has no _id".into()));
            }
            Ok((path, doc))
        })
        .collect()
}

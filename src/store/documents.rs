//! The private fields Kazoo's API adds to every document it saves for a client.

use serde_json::{Map, Value};

use crate::domain::ids::AccountId;
use crate::domain::merge::is_public_key;

/// Who wrote a document, for the private fields of storage.md §7.
pub struct WriteMeta<'a> {
    pub account: &'a AccountId,
    pub now_gregorian: i64,
    pub request_id: &'a str,
    pub auth_account_id: &'a str,
    pub auth_user_id: Option<&'a str>,
}

/// The document to store: `public` as its whole public part, the existing document's private
/// fields (and `_rev`) kept, and the private fields a Kazoo API save sets. A stored `id` is
/// never written, as Kazoo strips it.
pub fn api_document(
    existing: Option<&Value>,
    public: &Map<String, Value>,
    id: &str,
    pvt_type: &str,
    meta: &WriteMeta<'_>,
) -> Value {
    let mut doc: Map<String, Value> = existing
        .and_then(Value::as_object)
        .map(|d| {
            d.iter()
                .filter(|(k, _)| !is_public_key(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    let public = public.iter().filter(|(k, _)| k.as_str() != "id");
    doc.extend(public.map(|(k, v)| (k.clone(), v.clone())));
    doc.insert("_id".into(), Value::from(id));
    doc.insert("pvt_type".into(), Value::from(pvt_type));
    doc.entry("pvt_vsn").or_insert_with(|| Value::from("1"));
    doc.insert("pvt_account_id".into(), Value::from(meta.account.as_str()));
    doc.insert(
        "pvt_account_db".into(),
        Value::from(meta.account.encoded_db()),
    );
    doc.entry("pvt_created")
        .or_insert_with(|| Value::from(meta.now_gregorian));
    doc.insert("pvt_modified".into(), Value::from(meta.now_gregorian));
    doc.insert("pvt_request_id".into(), Value::from(meta.request_id));
    doc.insert("pvt_is_authenticated".into(), Value::Bool(true));
    doc.insert(
        "pvt_auth_account_id".into(),
        Value::from(meta.auth_account_id),
    );
    match meta.auth_user_id {
        Some(user) => doc.insert("pvt_auth_user_id".into(), Value::from(user)),
        None => doc.remove("pvt_auth_user_id"),
    };
    Value::Object(doc)
}

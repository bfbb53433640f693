//! The documents Kazoo writes for a new account, its `services` entry, a new user and a new
//! `system_config` category, field for field as in `fixtures/demo`.

use serde_json::{Value, json};

use crate::domain::ids::{AccountId, new_raw_id};

/// A new account, as the operator asked for it and its parent makes it.
pub struct NewAccount<'a> {
    pub id: &'a AccountId,
    pub name: &'a str,
    pub realm: &'a str,
    /// Ancestors, root first, parent last.
    pub tree: &'a [String],
    pub api_key: &'a str,
    pub reseller: bool,
    /// The reseller above the account; the master's own id on the master.
    pub reseller_id: &'a str,
    pub superduper_admin: bool,
    /// `pvt_enabled`, copied from the parent as Kazoo does; `None` for a root account.
    pub pvt_enabled: Option<bool>,
    pub now_gregorian: i64,
}

/// The account document, the same in both copies.
pub fn account_document(new: &NewAccount<'_>) -> Value {
    let mut doc = json!({
        "_id": new.id.as_str(),
        "name": new.name,
        "realm": new.realm,
        "enabled": true,
        "pvt_type": "account",
        "pvt_vsn": "1",
        "pvt_account_id": new.id.as_str(),
        "pvt_account_db": new.id.encoded_db(),
        "pvt_tree": new.tree,
        "pvt_api_key": new.api_key,
        // Kazoo creates this lazily; creating it with the account means no node can cache
        // the account before its tokens' secret exists.
        "pvt_signature_secret": new_raw_id(),
        "pvt_reseller_id": new.reseller_id,
        "pvt_created": new.now_gregorian,
        "pvt_modified": new.now_gregorian,
    });
    if let Some(enabled) = new.pvt_enabled {
        doc["pvt_enabled"] = json!(enabled);
    }
    if new.reseller {
        doc["pvt_reseller"] = json!(true);
    }
    if new.superduper_admin {
        doc["pvt_superduper_admin"] = json!(true);
    }
    doc
}

/// The account's `services` document, as Kazoo's reconciliation creates it.
pub fn services_document(new: &NewAccount<'_>) -> Value {
    json!({
        "_id": new.id.as_str(),
        "billing_id": new.id.as_str(),
        "plans": {},
        "quantities": {},
        "pvt_type": "service",
        "pvt_vsn": 2,
        "pvt_account_id": new.id.as_str(),
        "pvt_account_db": new.id.encoded_db(),
        "pvt_reseller": new.reseller,
        "pvt_reseller_id": new.reseller_id,
        "pvt_tree": new.tree,
        "pvt_status": "good_standing",
        "pvt_dirty": false,
        "pvt_created": new.now_gregorian,
        "pvt_modified": new.now_gregorian,
    })
}

/// A new user of an account.
pub struct NewUser<'a> {
    pub account: &'a AccountId,
    /// Lower-cased, as stored.
    pub username: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub email: Option<&'a str>,
    pub admin: bool,
    /// `pvt_md5_auth` and `pvt_sha1_auth`.
    pub hashes: (&'a str, &'a str),
    pub now_gregorian: i64,
}

/// The user document, with a fresh id and identity secret.
pub fn user_document(new: &NewUser<'_>) -> Value {
    let mut doc = json!({
        "_id": new_raw_id(),
        "username": new.username,
        "first_name": new.first_name,
        "last_name": new.last_name,
        "priv_level": if new.admin { "admin" } else { "user" },
        "enabled": true,
        "pvt_type": "user",
        "pvt_vsn": "1",
        "pvt_account_id": new.account.as_str(),
        "pvt_account_db": new.account.encoded_db(),
        "pvt_md5_auth": new.hashes.0,
        "pvt_sha1_auth": new.hashes.1,
        "pvt_signature_secret": new_raw_id(),
        "pvt_created": new.now_gregorian,
        "pvt_modified": new.now_gregorian,
    });
    if let Some(email) = new.email {
        doc["email"] = json!(email);
    }
    doc
}

/// A new `system_config` document with no settings, as `setup` and Kazoo write them.
pub fn system_config_document(id: &str, node: &str, now_gregorian: i64) -> Value {
    json!({
        "_id": id,
        "default": {},
        "pvt_type": "config",
        "pvt_account_id": "system_config",
        "pvt_account_db": "system_config",
        "pvt_created": now_gregorian,
        "pvt_modified": now_gregorian,
        "pvt_node": node,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_account<'a>(id: &'a AccountId, tree: &'a [String], reseller: bool) -> NewAccount<'a> {
        NewAccount {
            id,
            name: "Ortega & Sons Bakery",
            realm: "ortega.copper.kzsec.test",
            tree,
            api_key: "k",
            reseller,
            reseller_id: "28504c0453a482f7a2f3e6f8ae598ef4",
            superduper_admin: false,
            pvt_enabled: Some(true),
            now_gregorian: 63870999600,
        }
    }

    #[test]
    fn a_customer_looks_like_the_fixture_customer() {
        let id = AccountId::parse("3618236ec296a99f5240f72db1839110").unwrap();
        let tree = [
            "0d1c678f5cb1c4e04cab2066f0b4adbe".to_string(),
            "28504c0453a482f7a2f3e6f8ae598ef4".to_string(),
        ];
        let doc = account_document(&new_account(&id, &tree, false));
        let fixture: Value = serde_json::from_str(include_str!(
            "../../fixtures/demo/accounts/3618236ec296a99f5240f72db1839110.json"
        ))
        .unwrap();
        let mut keys: Vec<_> = doc.as_object().unwrap().keys().collect();
        let mut expected: Vec<_> = fixture.as_object().unwrap().keys().collect();
        keys.sort();
        expected.sort();
        assert_eq!(keys, expected);
        for key in [
            "pvt_account_db",
            "pvt_tree",
            "pvt_type",
            "pvt_vsn",
            "pvt_reseller_id",
        ] {
            assert_eq!(doc[key], fixture[key], "{key}");
        }
        assert_eq!(doc["pvt_signature_secret"].as_str().unwrap().len(), 32);
    }

    #[test]
    fn services_documents_look_like_the_fixtures() {
        let id = AccountId::parse("3618236ec296a99f5240f72db1839110").unwrap();
        let tree = [
            "0d1c678f5cb1c4e04cab2066f0b4adbe".to_string(),
            "28504c0453a482f7a2f3e6f8ae598ef4".to_string(),
        ];
        let doc = services_document(&new_account(&id, &tree, false));
        let fixture: Value = serde_json::from_str(include_str!(
            "../../fixtures/demo/services/3618236ec296a99f5240f72db1839110.json"
        ))
        .unwrap();
        assert_eq!(doc, fixture);
        let reseller = account_document(&new_account(&id, &tree, true));
        assert_eq!(reseller["pvt_reseller"], true);
    }

    #[test]
    fn a_user_looks_like_the_fixture_admin() {
        let account = AccountId::parse("3618236ec296a99f5240f72db1839110").unwrap();
        let new = NewUser {
            account: &account,
            username: "rosa.ortega",
            first_name: "Fixture",
            last_name: "Admin",
            email: None,
            admin: true,
            hashes: (
                "0a765dd9ae823d44c7d68226d83f07da",
                "d61b671c8cf1f90671555452b10ff6264730c3d2",
            ),
            now_gregorian: 63870999660,
        };
        let mut doc = user_document(&new);
        let mut fixture: Value = serde_json::from_str(include_str!(
            "../../fixtures/demo/account/ortega-admin.json"
        ))
        .unwrap();
        for random in ["_id", "pvt_signature_secret"] {
            assert_eq!(doc[random].as_str().unwrap().len(), 32);
            doc[random] = Value::Null;
            fixture[random] = Value::Null;
        }
        assert_eq!(doc, fixture);
    }
}

//! The design documents of `views/`, compiled into the binary so that the service can
//! install whichever one a database lacks.

use serde_json::Value;

/// One design document and the JSON text it is installed from.
pub struct DesignDoc {
    /// The name after `_design/`.
    pub name: &'static str,
    source: &'static str,
}

impl DesignDoc {
    /// The document as stored, without `_rev`.
    pub fn document(&self) -> Value {
        serde_json::from_str(self.source).expect("design documents under views/ are valid JSON")
    }
}

/// `_design/accounts` in the `accounts` database: account lookups by name, realm, key, IP.
pub const ACCOUNTS: DesignDoc = DesignDoc {
    name: "accounts",
    source: include_str!("../../views/accounts/accounts.json"),
};

/// `_design/providers` in `system_auth`: system multi-factor providers.
pub const SYSTEM_PROVIDERS: DesignDoc = DesignDoc {
    name: "providers",
    source: include_str!("../../views/system_auth/providers.json"),
};

/// `_design/users` in an account database: credential lookups.
pub const ACCOUNT_USERS: DesignDoc = DesignDoc {
    name: "users",
    source: include_str!("../../views/account/users.json"),
};

/// `_design/auth` in an account database: multi-factor provider listing.
pub const ACCOUNT_AUTH: DesignDoc = DesignDoc {
    name: "auth",
    source: include_str!("../../views/account/auth.json"),
};

/// `_design/auth` in a month database: login attempts by time, type, module and status.
pub const MONTH_AUTH: DesignDoc = DesignDoc {
    name: "auth",
    source: include_str!("../../views/modb/auth.json"),
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_design_document_parses_and_names_itself() {
        for design in [
            ACCOUNTS,
            SYSTEM_PROVIDERS,
            ACCOUNT_USERS,
            ACCOUNT_AUTH,
            MONTH_AUTH,
        ] {
            let doc = design.document();
            assert_eq!(doc["_id"], format!("_design/{}", design.name));
            assert!(doc["views"].is_object());
        }
    }
}

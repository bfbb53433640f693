//! Who may do what. Kazoo 4.3 lets any authenticated caller manage any account's security;
//! this service allows only the account's own admins, its ancestors' admins, and
//! super-duper admins.

/// The authenticated party behind a request, as far as permissions care.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The account the token was issued for.
    pub account_id: String,
    /// The user, for user tokens; `None` for API-key and account tokens.
    pub owner_id: Option<String>,
    /// An admin of its account: a user with `priv_level: admin`, or an API-key token.
    pub is_admin: bool,
    /// An admin of an account marked `pvt_superduper_admin`.
    pub is_superduper_admin: bool,
    /// The caller's account's ancestors, root first.
    pub tree: Vec<String>,
}

/// Whether `caller` may read and change the security of the account `target_id`, whose
/// ancestors are `target_tree`.
pub fn may_manage_account(caller: &Caller, target_id: &str, target_tree: &[String]) -> bool {
    if caller.is_superduper_admin {
        return true;
    }
    caller.is_admin && (caller.account_id == target_id || target_tree.contains(&caller.account_id))
}

/// Whether a security config saved by `caller` may point its multi-factor settings at a
/// provider in the account `referenced_id` (whose ancestors are `referenced_tree`).
pub fn may_reference_provider(
    caller: &Caller,
    referenced_id: &str,
    referenced_tree: &[String],
    include_subaccounts: bool,
) -> bool {
    let own_or_descendant =
        caller.account_id == referenced_id || referenced_tree.contains(&caller.account_id);
    let ancestor = caller.tree.iter().any(|a| a == referenced_id);
    caller.is_superduper_admin || own_or_descendant || (ancestor && include_subaccounts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(account: &str, tree: &[&str], admin: bool) -> Caller {
        Caller {
            account_id: account.into(),
            owner_id: Some("u".into()),
            is_admin: admin,
            is_superduper_admin: false,
            tree: tree.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn tree(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn admins_manage_their_account_and_descendants_only() {
        let reseller_admin = caller("r", &["m"], true);
        assert!(may_manage_account(&reseller_admin, "r", &tree(&["m"])));
        assert!(may_manage_account(&reseller_admin, "a", &tree(&["m", "r"])));
        assert!(!may_manage_account(&reseller_admin, "m", &tree(&[])));
        assert!(!may_manage_account(&reseller_admin, "x", &tree(&["m"])));
    }

    #[test]
    fn plain_users_manage_nothing_and_superduper_admins_everything() {
        let user = caller("a", &["m", "r"], false);
        assert!(!may_manage_account(&user, "a", &tree(&["m", "r"])));
        let mut master = caller("m", &[], true);
        master.is_superduper_admin = true;
        assert!(may_manage_account(&master, "x", &tree(&["m"])));
    }

    #[test]
    fn providers_of_ancestors_need_include_subaccounts() {
        let admin = caller("a", &["m", "r"], true);
        assert!(may_reference_provider(
            &admin,
            "a",
            &tree(&["m", "r"]),
            false
        ));
        assert!(may_reference_provider(
            &admin,
            "c",
            &tree(&["m", "r", "a"]),
            false
        ));
        assert!(!may_reference_provider(&admin, "r", &tree(&["m"]), false));
        assert!(may_reference_provider(&admin, "r", &tree(&["m"]), true));
        assert!(!may_reference_provider(&admin, "x", &tree(&["m"]), true));
    }
}

//! The effective security config of an account, and the PATCH merge of a stored config.
//!
//! Two merges with different rules live here on purpose: the effective merge stacks the
//! hierarchy's layers (an empty object erases nothing), while PATCH edits one document (an
//! empty object replaces what was stored). Both treat `null` as "remove this key", and both
//! keep the order of the keys that stay, as Kazoo's JSON objects do.

use serde_json::{Map, Value, json};

use super::sources::Trace;

/// The auth modules this service configures, in the order `GET /v2/security` lists them.
pub const AUTH_MODULES: [&str; 4] = ["cb_api_auth", "cb_auth", "cb_ip_auth", "cb_user_auth"];

/// The bottom layer of every merge: what an account gets when nobody configured anything.
pub fn builtin_defaults() -> Value {
    let mut modules = Map::new();
    for module in AUTH_MODULES {
        modules.insert(
            module.to_string(),
            json!({
                "enabled": true,
                "token_auth_expiry_s": 3600,
                "log_failed_attempts": true,
                "log_successful_attempts": module == "cb_user_auth",
                "multi_factor": {"enabled": false},
            }),
        );
    }
    json!({ "auth_modules": modules })
}

/// Stacks `layers` (lowest first) into one config. Objects merge key by key, scalars and
/// arrays replace, an empty object changes nothing, and `null` removes the inherited key.
pub fn merge_layers<'a>(layers: impl IntoIterator<Item = &'a Value>) -> Value {
    let mut merged = Value::Object(Map::new());
    for layer in layers {
        stack(
            &mut merged,
            layer,
            &mut Vec::new(),
            None::<&mut Trace<'_, ()>>,
        );
    }
    merged
}

/// Stacks `above` on `below` at `path`, telling `trace` (if any) what changed.
pub(super) fn stack<L: Clone>(
    below: &mut Value,
    above: &Value,
    path: &mut Vec<String>,
    mut trace: Option<&mut Trace<'_, L>>,
) {
    match (below, above) {
        (Value::Object(below), Value::Object(above)) => {
            let was_empty = below.is_empty();
            for (key, value) in above {
                path.push(key.clone());
                if value.is_null() {
                    below.shift_remove(key);
                    if let Some(trace) = trace.as_deref_mut() {
                        trace.forget(path);
                    }
                } else if let Some(existing) = below.get_mut(key) {
                    stack(existing, value, path, trace.as_deref_mut());
                } else {
                    let value = strip_nulls(value);
                    if let Some(trace) = trace.as_deref_mut() {
                        trace.set(path, &value);
                    }
                    below.insert(key.clone(), value);
                }
                path.pop();
            }
            // An object emptied by this layer's nulls is now a leaf this layer made.
            if below.is_empty()
                && !was_empty
                && let Some(trace) = trace
            {
                trace.set(path, &Value::Object(Map::new()));
            }
        }
        (below, above) => {
            *below = strip_nulls(above);
            if let Some(trace) = trace {
                trace.set(path, below);
            }
        }
    }
}

pub(super) fn strip_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), strip_nulls(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Applies a PATCH body to a stored public part. Request keys win, objects merge
/// recursively, `null` removes the key, and a nested empty object replaces the stored one.
pub fn patch(stored: &Value, request: &Value) -> Value {
    let mut out = stored.as_object().cloned().unwrap_or_default();
    for (key, value) in request.as_object().into_iter().flatten() {
        if value.is_null() {
            out.shift_remove(key);
            continue;
        }
        let merged = match (out.get(key), value) {
            (Some(existing @ Value::Object(_)), Value::Object(inner)) if !inner.is_empty() => {
                patch(existing, value)
            }
            _ => strip_nulls(value),
        };
        out.insert(key.clone(), merged);
    }
    Value::Object(out)
}

/// Only the `auth_modules` part of a config, which is all the merge looks at.
pub fn modules_layer(config: &Value) -> Value {
    match config.get("auth_modules") {
        Some(modules @ Value::Object(_)) => json!({ "auth_modules": modules }),
        _ => json!({}),
    }
}

/// The public part of a stored document: no `_…` or `pvt_…` keys, and no stored `id`.
pub fn public_part(doc: &Value) -> Map<String, Value> {
    doc.as_object()
        .map(|map| {
            map.iter()
                .filter(|(k, _)| is_public_key(k) && k.as_str() != "id")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether a top-level key is public (neither `_…` nor `pvt_…`).
pub fn is_public_key(key: &str) -> bool {
    !key.starts_with('_') && !key.starts_with("pvt_")
}

/// The settings of one auth module, read from an effective config.
#[derive(Debug, Clone, PartialEq)]
pub struct ModuleSettings {
    pub enabled: bool,
    pub token_auth_expiry_s: Option<i64>,
    pub log_failed_attempts: bool,
    pub log_successful_attempts: bool,
    pub multi_factor: Value,
    pub lockout: Value,
}

impl ModuleSettings {
    /// Reads `module`'s entry; a key that is absent or of the wrong type counts as unset.
    pub fn of(effective: &Value, module: &str) -> Self {
        let entry = &effective["auth_modules"][module];
        ModuleSettings {
            enabled: entry["enabled"] == Value::Bool(true),
            token_auth_expiry_s: whole_number(&entry["token_auth_expiry_s"]),
            log_failed_attempts: entry["log_failed_attempts"] == Value::Bool(true),
            log_successful_attempts: entry["log_successful_attempts"] == Value::Bool(true),
            multi_factor: entry["multi_factor"].clone(),
            lockout: entry["lockout"].clone(),
        }
    }
}

/// An integer, also when JSON wrote it as a float with no fraction (`1e4`).
fn whole_number(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| {
        let float = value.as_f64()?;
        let whole = float.fract() == 0.0 && float.abs() < 9.0e15;
        whole.then_some(float as i64)
    })
}

/// Token lifetime: the module's expiry if positive, else the system's if positive, else none.
pub fn token_expiry(module_expiry: Option<i64>, system_expiry: Option<i64>) -> Option<i64> {
    module_expiry
        .filter(|s| *s > 0)
        .or(system_expiry.filter(|s| *s > 0))
}

/// The ancestors whose configs an account inherits, root-most first: from the nearest
/// reseller ancestor down to the parent; none when the account is itself a reseller.
/// `reseller` holds one flag per entry of `tree`.
pub fn config_ancestors<'a>(
    tree: &'a [String],
    reseller: &[bool],
    self_is_reseller: bool,
) -> &'a [String] {
    if self_is_reseller {
        return &[];
    }
    let nearest = (0..tree.len())
        .rev()
        .find(|&i| reseller.get(i) == Some(&true));
    &tree[nearest.unwrap_or(0)..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closer_layers_win_and_empty_objects_erase_nothing() {
        let system = json!({"auth_modules": {"cb_user_auth": {"token_auth_expiry_s": 3600}}});
        let reseller = json!({"auth_modules": {"cb_user_auth":
            {"token_auth_expiry_s": 86400, "log_successful_attempts": false}}});
        let middle = json!({"auth_modules": {"cb_user_auth": {}}});
        let own = json!({"auth_modules": {"cb_user_auth": {"log_successful_attempts": true}}});
        let defaults = builtin_defaults();
        let merged = merge_layers([&defaults, &system, &reseller, &middle, &own]);
        let user = ModuleSettings::of(&merged, "cb_user_auth");
        assert_eq!(user.token_auth_expiry_s, Some(86400));
        assert!(user.log_successful_attempts);
        assert!(user.enabled);
    }

    #[test]
    fn a_stored_null_removes_the_inherited_key() {
        let parent = json!({"auth_modules": {"cb_api_auth": {"enabled": false, "x": 1}}});
        let own = json!({"auth_modules": {"cb_api_auth": {"enabled": null}}});
        let merged = merge_layers([&parent, &own]);
        assert_eq!(merged, json!({"auth_modules": {"cb_api_auth": {"x": 1}}}));
    }

    #[test]
    fn only_ancestors_from_the_nearest_reseller_down_apply() {
        let tree: Vec<String> = ["m", "r", "c"].iter().map(|s| s.to_string()).collect();
        assert_eq!(
            config_ancestors(&tree, &[true, true, false], false),
            &tree[1..]
        );
        assert_eq!(
            config_ancestors(&tree, &[false, false, false], false),
            &tree[..]
        );
        assert!(config_ancestors(&tree, &[true, true, false], true).is_empty());
        assert!(config_ancestors(&[], &[], false).is_empty());
    }

    #[test]
    fn defaults_log_successes_only_for_user_logins() {
        let defaults = builtin_defaults();
        assert!(ModuleSettings::of(&defaults, "cb_user_auth").log_successful_attempts);
        assert!(!ModuleSettings::of(&defaults, "cb_api_auth").log_successful_attempts);
        assert!(ModuleSettings::of(&defaults, "cb_ip_auth").log_failed_attempts);
        assert_eq!(
            defaults["auth_modules"]["cb_auth"]["multi_factor"],
            json!({"enabled": false})
        );
    }

    #[test]
    fn patch_with_null_removes_and_empty_object_replaces() {
        let stored = json!({"auth_modules": {"cb_user_auth": {"enabled": false, "a": 1},
                                             "cb_api_auth": {"enabled": true}}});
        let request = json!({"auth_modules": {"cb_user_auth": {"enabled": null},
                                              "cb_api_auth": {}}});
        assert_eq!(
            patch(&stored, &request),
            json!({"auth_modules": {"cb_user_auth": {"a": 1}, "cb_api_auth": {}}})
        );
    }

    #[test]
    fn removing_a_key_keeps_the_order_of_the_others() {
        // Found by the `config_merge` fuzz target: the last key took the removed one's place.
        let stored = json!({"x": 1, "a": 2, "y": 3, "z": 4});
        let removal = json!({"x": null});
        let order = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(order(&patch(&stored, &removal)), ["a", "y", "z"]);
        assert_eq!(order(&merge_layers([&stored, &removal])), ["a", "y", "z"]);
    }

    #[test]
    fn patch_with_an_empty_body_changes_nothing() {
        let stored = json!({"auth_modules": {"cb_user_auth": {"enabled": false}}});
        assert_eq!(patch(&stored, &json!({})), stored);
    }

    #[test]
    fn patch_keeps_keys_the_request_does_not_name() {
        let stored =
            json!({"auth_modules": {"cb_user_auth": {"token_auth_expiry_s": 600}}, "x": 1});
        let request = json!({"auth_modules": {"cb_api_auth": {"enabled": false}}});
        let out = patch(&stored, &request);
        assert_eq!(
            out["auth_modules"]["cb_user_auth"]["token_auth_expiry_s"],
            600
        );
        assert_eq!(out["auth_modules"]["cb_api_auth"]["enabled"], false);
        assert_eq!(out["x"], 1);
    }

    #[test]
    fn expiries_written_as_whole_floats_count() {
        let config = json!({"auth_modules": {"cb_auth": {"token_auth_expiry_s": 1e4}}});
        assert_eq!(
            ModuleSettings::of(&config, "cb_auth").token_auth_expiry_s,
            Some(10_000)
        );
        let config = json!({"auth_modules": {"cb_auth": {"token_auth_expiry_s": 1.5}}});
        assert_eq!(
            ModuleSettings::of(&config, "cb_auth").token_auth_expiry_s,
            None
        );
    }

    #[test]
    fn expiry_falls_back_to_the_system_and_then_to_none() {
        assert_eq!(token_expiry(Some(600), Some(7200)), Some(600));
        assert_eq!(token_expiry(Some(0), Some(7200)), Some(7200));
        assert_eq!(token_expiry(Some(-5), Some(7200)), Some(7200));
        assert_eq!(token_expiry(Some(0), Some(0)), None);
        assert_eq!(token_expiry(None, None), None);
    }

    #[test]
    fn public_part_drops_private_keys_and_id() {
        let doc = json!({"_id": "x", "_rev": "1", "pvt_type": "t", "id": "x", "auth_modules": {}});
        assert_eq!(
            Value::Object(public_part(&doc)),
            json!({"auth_modules": {}})
        );
    }
}

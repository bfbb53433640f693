//! Where each value of an account's effective config comes from: the same merge as
//! `merge::merge_layers`, with every leaf labelled by the layer that set it.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::merge::{modules_layer, stack};

/// Where a layer of an account's effective config comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// The built-in defaults.
    Defaults,
    /// The `default` section of `system_config/crossbar.auth`.
    System,
    /// The config of the nearest reseller ancestor.
    Reseller(String),
    /// The config of an ancestor below the nearest reseller (or of any ancestor, without one).
    Ancestor(String),
    /// The account's own config.
    Account,
}

impl std::fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigSource::Defaults => f.write_str("default"),
            ConfigSource::System => f.write_str("system"),
            ConfigSource::Reseller(id) => write!(f, "reseller {id}"),
            ConfigSource::Ancestor(id) => write!(f, "ancestor {id}"),
            ConfigSource::Account => f.write_str("account"),
        }
    }
}

/// An account's effective config with the source of every leaf.
pub struct TracedConfig {
    /// The names of the merge layers, lowest first.
    pub layers: Vec<String>,
    /// The merged config.
    pub effective: Value,
    /// Every leaf of `effective`, by its path of keys, with the layer that set it.
    pub origins: Vec<(Vec<String>, ConfigSource)>,
}

/// Merges `inherited` (the layers below the account's own, lowest first) and `own` (the
/// account's config document, if any), tracing where each value comes from.
pub fn traced_config(inherited: &[(ConfigSource, Value)], own: Option<&Value>) -> TracedConfig {
    let mut layers = inherited.to_vec();
    if let Some(own) = own {
        layers.push((ConfigSource::Account, modules_layer(own)));
    }
    let names = layers
        .iter()
        .map(|(source, _)| source.to_string())
        .collect();
    let (effective, origins) = merge_layers_traced(layers.iter().map(|(s, l)| (s.clone(), l)));
    TracedConfig {
        layers: names,
        effective,
        origins,
    }
}

/// The JSON pointer (RFC 6901) of a path of keys.
pub fn pointer(path: &[String]) -> String {
    path.iter()
        .map(|key| format!("/{}", key.replace('~', "~0").replace('/', "~1")))
        .collect()
}

/// The same merge, also telling which layer set each leaf of the result: `layers` carry a
/// label each, and the answer lists every leaf (a scalar, an array or an empty object) by
/// its path of keys, in the merged config's key order, with the label of its layer.
pub fn merge_layers_traced<'a, L: Clone>(
    layers: impl IntoIterator<Item = (L, &'a Value)>,
) -> (Value, Vec<(Vec<String>, L)>) {
    let mut merged = Value::Object(Map::new());
    let mut origins = BTreeMap::new();
    for (label, layer) in layers {
        let mut trace = Trace {
            origins: &mut origins,
            label,
        };
        stack(&mut merged, layer, &mut Vec::new(), Some(&mut trace));
    }
    let mut leaves = Vec::new();
    collect_leaves(&merged, &mut Vec::new(), &mut leaves);
    let traced = leaves
        .into_iter()
        .filter_map(|path| {
            let label = origins.get(&path)?.clone();
            Some((path, label))
        })
        .collect();
    (merged, traced)
}

/// Where the leaves of a traced merge came from, and the layer being stacked.
pub(super) struct Trace<'t, L> {
    pub(super) origins: &'t mut BTreeMap<Vec<String>, L>,
    pub(super) label: L,
}

impl<L: Clone> Trace<'_, L> {
    /// Records that the current layer put `value` at `path`, replacing whatever was there.
    pub(super) fn set(&mut self, path: &[String], value: &Value) {
        self.forget(path);
        let mut leaves = Vec::new();
        collect_leaves(value, &mut path.to_vec(), &mut leaves);
        for leaf in leaves {
            self.origins.insert(leaf, self.label.clone());
        }
    }

    /// Forgets `path` and everything below it.
    pub(super) fn forget(&mut self, path: &[String]) {
        self.origins.retain(|p, _| !p.starts_with(path));
    }
}

/// The paths of every leaf of `value`: scalars, arrays and empty objects.
fn collect_leaves(value: &Value, path: &mut Vec<String>, leaves: &mut Vec<Vec<String>>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                path.push(key.clone());
                collect_leaves(child, path, leaves);
                path.pop();
            }
        }
        _ => leaves.push(path.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::merge::{builtin_defaults, merge_layers};
    use serde_json::json;

    #[test]
    fn the_traced_merge_names_the_layer_of_every_leaf() {
        let defaults = builtin_defaults();
        let reseller = json!({"auth_modules": {"cb_user_auth": {"token_auth_expiry_s": 5400}}});
        let own = json!({"auth_modules": {"cb_api_auth": {"enabled": false, "extra": {}}}});
        let layers = [
            (ConfigSource::Defaults, &defaults),
            (ConfigSource::Reseller("r".into()), &reseller),
            (ConfigSource::Account, &own),
        ];
        let (merged, origins) = merge_layers_traced(layers);
        assert_eq!(merged, merge_layers([&defaults, &reseller, &own]));
        let source = |path: &str| {
            let path: Vec<String> = path.split('.').map(str::to_string).collect();
            origins
                .iter()
                .find(|(p, _)| *p == path)
                .map(|(_, s)| s.clone())
        };
        let user_expiry = source("auth_modules.cb_user_auth.token_auth_expiry_s");
        assert_eq!(user_expiry, Some(ConfigSource::Reseller("r".into())));
        let api_enabled = source("auth_modules.cb_api_auth.enabled");
        assert_eq!(api_enabled, Some(ConfigSource::Account));
        let extra = source("auth_modules.cb_api_auth.extra");
        assert_eq!(extra, Some(ConfigSource::Account));
        let logging = source("auth_modules.cb_api_auth.log_failed_attempts");
        assert_eq!(logging, Some(ConfigSource::Defaults));
        assert_eq!(source("auth_modules.cb_auth.multi_factor"), None);
        assert_eq!(
            source("auth_modules.cb_auth.multi_factor.enabled"),
            Some(ConfigSource::Defaults)
        );
        assert_eq!(origins.len(), 4 * 5 + 1);
    }

    #[test]
    fn the_traced_merge_forgets_removed_keys_and_keeps_origins_under_empty_objects() {
        let parent = json!({"a": {"x": 1, "y": 2}, "b": 1, "c": {"z": 1}});
        let own = json!({"a": {"x": null}, "b": {"k": [1]}, "c": {}, "d": {"only": null}});
        let layers = [(1, &parent), (2, &own)];
        let (merged, origins) = merge_layers_traced(layers);
        assert_eq!(merged, merge_layers([&parent, &own]));
        let path = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            origins,
            vec![
                (path(&["a", "y"]), 1),
                (path(&["b", "k"]), 2),
                (path(&["c", "z"]), 1),
                (path(&["d"]), 2),
            ]
        );
    }

    #[test]
    fn an_object_emptied_by_nulls_is_a_leaf_of_the_layer_that_emptied_it() {
        let parent = json!({"a": {"x": 1}});
        let own = json!({"a": {"x": null}});
        let (merged, origins) = merge_layers_traced([("p", &parent), ("o", &own)]);
        assert_eq!(merged, json!({"a": {}}));
        assert_eq!(origins, vec![(vec!["a".to_string()], "o")]);
    }
}

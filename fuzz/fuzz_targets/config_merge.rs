//! Security configs: the effective merge of hierarchy layers, the PATCH merge and the schema
//! check of its result, on arbitrary JSON. The input is one layer, or a JSON array of layers
//! (lowest first); for PATCH the first two are the stored config and the request.
#![no_main]

use std::collections::BTreeSet;

use kazoo_security::domain::merge::{
    AUTH_MODULES, ModuleSettings, builtin_defaults, merge_layers, modules_layer, patch,
    token_expiry,
};
use kazoo_security::domain::schema::validate_security_config;
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

/// Every key path (`a/b/c`) reachable through objects only.
fn paths(value: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    if let Value::Object(map) = value {
        for (key, child) in map {
            let path = format!("{prefix}/{key}");
            paths(child, &path, out);
            out.insert(path);
        }
    }
}

/// Whether an object anywhere below `value`, through objects only, holds a `null`.
fn holds_null(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.values().any(|v| v.is_null() || holds_null(v)),
        _ => false,
    }
}

/// The top-level keys of `value` that `from` also has, in `value`'s order.
fn keys_shared_with<'a>(value: &'a Value, from: &Value) -> Vec<&'a String> {
    let from = from.as_object();
    let keys = value.as_object().into_iter().flat_map(|m| m.keys());
    keys.filter(|k| from.is_some_and(|f| f.contains_key(*k)))
        .collect()
}

/// The top-level keys of `value` in its order, restricted to `only`.
fn keys_among<'a>(value: &'a Value, only: &[&String]) -> Vec<&'a String> {
    let keys = value.as_object().into_iter().flat_map(|m| m.keys());
    keys.filter(|k| only.contains(k)).collect()
}

fn check_effective_merge(layers: &[Value]) {
    let merged = merge_layers(layers);
    assert!(merged.is_object());
    assert!(!holds_null(&merged), "{merged}");

    let mut known = BTreeSet::new();
    for layer in layers {
        paths(layer, "", &mut known);
    }
    let mut found = BTreeSet::new();
    paths(&merged, "", &mut found);
    assert!(found.is_subset(&known), "{merged}");

    // A merged config is a fixed point, and so is stacking the top layer or `{}` once more.
    assert_eq!(merge_layers([&merged]), merged);
    assert_eq!(merge_layers(layers.iter().chain([&json!({})])), merged);
    if let Some(top) = layers.last() {
        assert_eq!(merge_layers(layers.iter().chain([top])), merged);
    }

    // Keys of the lowest layer keep their order, whatever the layers above remove.
    if let Some(bottom) = layers.first().filter(|l| l.is_object()) {
        let kept = keys_shared_with(&merged, bottom);
        assert_eq!(keys_among(bottom, &kept), kept, "{merged}");
    }

    // As the store builds an account's effective config, and as a login reads it.
    let defaults = builtin_defaults();
    let modules: Vec<Value> = layers.iter().map(modules_layer).collect();
    let effective = merge_layers(std::iter::once(&defaults).chain(&modules));
    for module in AUTH_MODULES {
        let settings = ModuleSettings::of(&effective, module);
        let expiry = token_expiry(settings.token_auth_expiry_s, Some(3600));
        assert!(expiry.is_some_and(|s| s > 0));
    }
}

fn check_patch(stored: &Value, request: &Value) {
    let patched = patch(stored, request);
    let empty = serde_json::Map::new();
    let stored_map = stored.as_object().unwrap_or(&empty);
    let request_map = request.as_object().unwrap_or(&empty);
    let out = patched.as_object().expect("a patch answers an object");

    for (key, value) in out {
        assert!(stored_map.contains_key(key) || request_map.contains_key(key));
        assert!(!request_map.get(key).is_some_and(Value::is_null));
        assert!(!value.is_null() || request_map.get(key).is_none());
    }
    for (key, value) in request_map {
        assert_eq!(out.contains_key(key), !value.is_null());
    }
    assert_eq!(patch(&patched, request), patched, "a patch applied twice");
    if stored.is_object() {
        assert_eq!(&patch(stored, &json!({})), stored);
    }

    // Stored keys keep their order in the document written back.
    let kept = keys_shared_with(&patched, stored);
    assert_eq!(keys_among(stored, &kept), kept, "{patched}");

    // What PATCH and POST then validate; coercion happens once.
    let mut checked = patched;
    if validate_security_config(&mut checked).is_ok() {
        let mut again = checked.clone();
        assert_eq!(validate_security_config(&mut again), Ok(()));
        assert_eq!(again, checked);
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let layers = match input {
        Value::Array(layers) => layers,
        other => vec![other],
    };

    // The store merges only objects (`modules_layer` of each document); a scalar layer
    // replaces everything below it, which no caller relies on.
    let objects: Vec<Value> = layers.iter().filter(|l| l.is_object()).cloned().collect();
    check_effective_merge(&objects);
    let _ = merge_layers(&layers);

    let stored = layers.first().cloned().unwrap_or_else(|| json!({}));
    let request = layers.get(1).cloned().unwrap_or_else(|| json!({}));
    check_patch(&stored, &request);
    check_patch(&json!({}), &stored);
});

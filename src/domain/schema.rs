//! Validation of an account's security config, with the errors keyed the way Kazoo keys them.

use std::sync::LazyLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::paths::LocationSegment;
use serde_json::{Map, Value, json};

/// Failing property paths (dot-joined) mapped to `{rule: {message, target?, value?}}`.
pub type ValidationErrors = Map<String, Value>;

/// Adds one failure to `errors`.
pub fn add_error(errors: &mut ValidationErrors, path: &str, rule: &str, detail: Value) {
    let entry = errors
        .entry(path.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    entry[rule] = detail;
}

/// The JSON schema of the public part of `configs_crossbar.auth`.
pub static SECURITY_CONFIG_SCHEMA: LazyLock<Value> = LazyLock::new(|| {
    let module = json!({"$ref": "#/definitions/auth_module_config"});
    json!({
        "type": "object",
        "properties": {
            "auth_modules": {
                "type": "object",
                "properties": {
                    "cb_api_auth": module, "cb_auth": module, "cb_ip_auth": module,
                    "cb_user_auth": module,
                    // Kazoo's own schema allows it; documents written by Kazoo may hold it.
                    "cb_ubiquiti_auth": module,
                },
                "additionalProperties": false,
            }
        },
        "definitions": {
            "auth_module_config": {
                "type": "object",
                "properties": {
                    "enabled": {"type": "boolean"},
                    // Larger values would be stored and then ignored at login.
                    "token_auth_expiry_s": {"type": "integer", "maximum": 2_147_483_647},
                    "log_failed_attempts": {"type": "boolean"},
                    "log_successful_attempts": {"type": "boolean"},
                    "lockout": {
                        "type": "object",
                        "properties": {
                            "enabled": {"type": "boolean"},
                            "max_failures": {"type": "integer", "minimum": 1,
                                             "maximum": 2_147_483_647},
                            "window_s": {"type": "integer", "minimum": 1,
                                         "maximum": 2_147_483_647},
                            "duration_s": {"type": "integer", "minimum": 1,
                                           "maximum": 2_147_483_647},
                        },
                    },
                    "multi_factor": {
                        "type": "object",
                        "properties": {
                            "enabled": {"type": "boolean"},
                            "account_id": {"type": "string"},
                            "configuration_id": {"type": "string"},
                            "include_subaccounts": {"type": "boolean"},
                        },
                        "additionalProperties": false,
                    },
                },
            }
        }
    })
});

static SECURITY_CONFIG_VALIDATOR: LazyLock<jsonschema::Validator> = LazyLock::new(|| {
    jsonschema::validator_for(&SECURITY_CONFIG_SCHEMA).expect("the config schema compiles")
});

/// Coerces Kazoo's accepted strings, then validates a config's public part.
pub fn validate_security_config(config: &mut Value) -> Result<(), ValidationErrors> {
    coerce(&SECURITY_CONFIG_SCHEMA, &SECURITY_CONFIG_SCHEMA, config);
    let mut errors = ValidationErrors::new();
    for error in SECURITY_CONFIG_VALIDATOR.iter_errors(config) {
        let path: Vec<String> = error
            .instance_path()
            .segments()
            .map(|segment| match segment {
                LocationSegment::Property(name) => name.into_owned(),
                LocationSegment::Index(index) => index.to_string(),
            })
            .collect();
        let (path, rule, detail) = describe(path, error.kind(), error.instance());
        add_error(&mut errors, &path, &rule, detail);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn describe(
    mut path: Vec<String>,
    kind: &ValidationErrorKind,
    value: &Value,
) -> (String, String, Value) {
    let (rule, detail) = match kind {
        ValidationErrorKind::Type { kind } => {
            let target = match kind {
                TypeKind::Single(t) => t.to_string(),
                TypeKind::Multiple(set) => set
                    .iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            let message = format!("Value did not match type(s): {target}");
            (
                "type",
                json!({"message": message, "target": target, "value": value}),
            )
        }
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            path.push(unexpected.join(","));
            let message = "Strict checking of data is enabled; only include schema \
                           properties and data may not contain fields that are not defined \
                           in the schema";
            (
                "additionalProperties",
                json!({"message": message, "value": unexpected.join(",")}),
            )
        }
        ValidationErrorKind::Required { property } => {
            path.push(property.as_str().unwrap_or_default().to_string());
            (
                "required",
                json!({"message": "Field is required but missing"}),
            )
        }
        ValidationErrorKind::Minimum { limit } => {
            let message = format!("Value must be at least {limit}");
            (
                "minimum",
                json!({"message": message, "target": limit, "value": value}),
            )
        }
        ValidationErrorKind::Maximum { limit } => {
            let message = format!("Value must be at most {limit}");
            (
                "maximum",
                json!({"message": message, "target": limit, "value": value}),
            )
        }
        ValidationErrorKind::Enum { options } => {
            let message = "Value not found in enumerated list of values";
            (
                "enum",
                json!({"message": message, "target": **options, "value": value}),
            )
        }
        other => (
            other.keyword(),
            json!({"message": format!("failed {}", other.keyword())}),
        ),
    };
    (path.join("."), rule.to_string(), detail)
}

/// Kazoo's non-strict mode: `"true"`/`"false"` become booleans and decimal integer strings
/// become integers wherever the schema asks for those types.
fn coerce(root: &Value, schema: &Value, value: &mut Value) {
    let schema = resolve(root, schema);
    match (schema["type"].as_str(), &mut *value) {
        (Some("boolean"), Value::String(text)) => match text.as_str() {
            "true" => *value = Value::Bool(true),
            "false" => *value = Value::Bool(false),
            _ => {}
        },
        (Some("integer"), Value::String(text)) => {
            if let Some(number) = parse_decimal(text) {
                *value = Value::from(number);
            }
        }
        (_, Value::Object(map)) => {
            for (key, child) in map.iter_mut() {
                if let Some(child_schema) = schema["properties"].get(key) {
                    coerce(root, child_schema, child);
                }
            }
        }
        _ => {}
    }
}

fn resolve<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix("#/definitions/"))
    {
        Some(name) => &root["definitions"][name],
        None => schema,
    }
}

fn parse_decimal(text: &str) -> Option<i64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors_of(mut config: Value) -> Value {
        match validate_security_config(&mut config) {
            Ok(()) => json!({}),
            Err(errors) => Value::Object(errors),
        }
    }

    #[test]
    fn unknown_modules_are_refused_by_name() {
        let errors = errors_of(json!({"auth_modules": {"cb_foo_auth": {}}}));
        assert!(errors["auth_modules.cb_foo_auth"]["additionalProperties"].is_object());
    }

    #[test]
    fn a_wrong_type_names_the_path_target_and_value() {
        let errors = errors_of(json!({"auth_modules": {"cb_user_auth": {"enabled": "yes"}}}));
        assert_eq!(
            errors["auth_modules.cb_user_auth.enabled"]["type"],
            json!({"message": "Value did not match type(s): boolean",
                   "target": "boolean", "value": "yes"})
        );
    }

    #[test]
    fn expiries_too_large_to_honour_are_refused() {
        let errors = errors_of(json!({"auth_modules": {"cb_user_auth":
            {"token_auth_expiry_s": 1e30}}}));
        assert!(
            errors["auth_modules.cb_user_auth.token_auth_expiry_s"].is_object(),
            "{errors}"
        );
        let errors = errors_of(json!({"auth_modules": {"cb_user_auth":
            {"token_auth_expiry_s": 99_999_999_999i64}}}));
        assert!(errors["auth_modules.cb_user_auth.token_auth_expiry_s"]["maximum"].is_object());
    }

    #[test]
    fn strings_are_coerced_like_kazoo_does() {
        let mut config = json!({"auth_modules": {"cb_user_auth":
            {"enabled": "false", "token_auth_expiry_s": "600"}}, "foo": "true"});
        validate_security_config(&mut config).unwrap();
        assert_eq!(config["auth_modules"]["cb_user_auth"]["enabled"], false);
        assert_eq!(
            config["auth_modules"]["cb_user_auth"]["token_auth_expiry_s"],
            600
        );
        assert_eq!(config["foo"], "true");
    }

    #[test]
    fn multi_factor_allows_only_its_own_keys() {
        let errors = errors_of(json!({"auth_modules": {"cb_user_auth":
            {"multi_factor": {"enabled": true, "_read_only": {}}}}}));
        assert!(
            errors["auth_modules.cb_user_auth.multi_factor._read_only"]["additionalProperties"]
                .is_object()
        );
    }

    #[test]
    fn unknown_top_level_and_module_keys_are_kept() {
        assert_eq!(
            errors_of(json!({"foo": 1, "auth_modules": {"cb_auth": {"bar": 2}}})),
            json!({})
        );
    }
}

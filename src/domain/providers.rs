//! Multi-factor provider configurations: what a valid one holds, and which of its settings
//! are secrets that no read returns.

use serde_json::{Value, json};

use super::schema::{ValidationErrors, add_error};

/// Settings never returned by a read.
pub const SECRET_SETTINGS: [&str; 2] = ["secret_key", "application_secret_key"];

/// What a masked secret reads as.
pub const MASK: &str = "[redacted]";

/// The providers this service can run.
pub const PROVIDER_NAMES: [&str; 2] = ["duo", "totp"];

/// Checks a provider's public part: `name`, `provider_name`, `enabled`, and the settings
/// of its kind.
pub fn validate_provider(public: &mut Value) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::new();
    // An explicit `null` means "not set", as a missing key does; it is not stored.
    if let Some(map) = public.as_object_mut() {
        map.retain(|_, value| !value.is_null());
    }
    let required = json!({"message": "Field is required but missing"});
    match &public["name"] {
        Value::String(name) if !name.trim().is_empty() => {}
        Value::Null => add_error(&mut errors, "name", "required", required.clone()),
        other => type_error(&mut errors, "name", "non-empty string", other),
    }
    match public["enabled"] {
        Value::Null | Value::Bool(_) => {}
        Value::String(ref s) if s == "true" || s == "false" => {
            public["enabled"] = json!(s == "true")
        }
        ref other => type_error(&mut errors, "enabled", "boolean", &other.clone()),
    }
    if public.get("settings").is_none() {
        public["settings"] = json!({});
    }
    if !public["settings"].is_object() {
        type_error(
            &mut errors,
            "settings",
            "object",
            &public["settings"].clone(),
        );
    }
    // A disabled provider may wait with no settings, as Kazoo's seeded one does.
    let settings_given = public["settings"]
        .as_object()
        .is_some_and(|s| !s.is_empty());
    let check_settings = public["enabled"] == Value::Bool(true) || settings_given;
    match public["provider_name"].as_str() {
        Some("duo" | "totp") if !check_settings => {}
        Some("duo") if public["settings"].is_object() => {
            let problems = super::duo::DuoKeys::from_settings(&public["settings"]).err();
            for (setting, problem) in problems.into_iter().flatten() {
                let path = format!("settings.{setting}");
                add_error(&mut errors, &path, "invalid", json!({"message": problem}));
            }
        }
        Some("totp") if public["settings"].is_object() => {
            for (setting, problem) in super::totp::validate_settings(&public["settings"]) {
                let path = format!("settings.{setting}");
                add_error(&mut errors, &path, "invalid", json!({"message": problem}));
            }
        }
        Some("duo" | "totp") => {}
        None if public["provider_name"].is_null() => {
            add_error(&mut errors, "provider_name", "required", required)
        }
        _ => add_error(
            &mut errors,
            "provider_name",
            "enum",
            json!({"message": "Value not found in enumerated list of values",
                   "target": PROVIDER_NAMES, "value": public["provider_name"]}),
        ),
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn type_error(errors: &mut ValidationErrors, path: &str, target: &str, value: &Value) {
    let message = format!("Value did not match type(s): {target}");
    add_error(
        errors,
        path,
        "type",
        json!({"message": message, "target": target, "value": value}),
    );
}

/// Replaces secret settings with the mask, for reads.
pub fn mask_secrets(public: &mut Value) {
    if let Some(settings) = public.get_mut("settings").and_then(Value::as_object_mut) {
        for key in SECRET_SETTINGS {
            if let Some(value) = settings.get_mut(key) {
                *value = json!(MASK);
            }
        }
    }
}

/// Puts the stored secret back where a client sent the mask it was shown.
pub fn restore_masked(public: &mut Value, stored: &Value) {
    for key in SECRET_SETTINGS {
        if public["settings"][key] == MASK && stored["settings"][key].is_string() {
            public["settings"][key] = stored["settings"][key].clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn duo() -> Value {
        json!({"name": "Duo", "provider_name": "duo", "enabled": true, "settings": {
            "integration_key": "DIABCDEFGHIJKLMNOPQR", "secret_key": "s".repeat(40),
            "application_secret_key": "a".repeat(40), "api_hostname": "api-1.duo.example"}})
    }

    #[test]
    fn a_complete_duo_provider_is_valid() {
        assert!(validate_provider(&mut duo()).is_ok());
    }

    #[test]
    fn missing_names_and_unknown_providers_are_refused() {
        let mut provider = json!({"provider_name": "sms"});
        let errors = validate_provider(&mut provider).unwrap_err();
        assert!(errors["name"]["required"].is_object());
        assert!(errors["provider_name"]["enum"].is_object());
    }

    #[test]
    fn secrets_are_masked_and_a_returned_mask_keeps_the_secret() {
        let stored = duo();
        let mut shown = stored.clone();
        mask_secrets(&mut shown);
        assert_eq!(shown["settings"]["secret_key"], MASK);
        assert_eq!(shown["settings"]["integration_key"], "DIABCDEFGHIJKLMNOPQR");
        restore_masked(&mut shown, &stored);
        assert_eq!(shown, stored);
    }
}

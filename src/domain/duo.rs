//! Duo Web v2 signatures: the provider settings, the signed challenge handed to the client,
//! and the check of the `AUTH|..:APP|..` response it brings back (auth.md).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha1::Sha1;

use super::signatures::same_signature;

/// One invalid provider setting: its name and what is wrong with it.
pub type SettingProblem = (&'static str, &'static str);

/// The validated settings of a Duo provider document.
#[derive(Clone, PartialEq, Eq)]
pub struct DuoKeys {
    pub integration_key: String,
    pub secret_key: String,
    pub application_secret_key: String,
    pub api_hostname: String,
    /// Lifetime in seconds of the `TX` half of a challenge.
    pub duo_expire: i64,
    /// Lifetime in seconds of the `APP` half of a challenge.
    pub app_expire: i64,
}

// The keys are secrets: a stray `{:?}` in a log line must not print them.
impl std::fmt::Debug for DuoKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DuoKeys")
            .field("integration_key", &self.integration_key)
            .field("api_hostname", &self.api_hostname)
            .field("duo_expire", &self.duo_expire)
            .field("app_expire", &self.app_expire)
            .finish_non_exhaustive()
    }
}

impl DuoKeys {
    /// The keys of a provider's `settings` object, or every setting that is wrong with it.
    pub fn from_settings(settings: &Value) -> Result<Self, Vec<SettingProblem>> {
        let mut problems = Vec::new();
        let mut text = |name: &'static str, valid: fn(&str) -> bool, rule: &'static str| {
            match settings[name].as_str() {
                Some(value) if valid(value) => return value.to_string(),
                Some(_) => problems.push((name, rule)),
                None => problems.push((name, "is required and must be a string")),
            }
            String::new()
        };
        let at_least_40 = |key: &str| key.chars().count() >= 40;
        let integration_key = text(
            "integration_key",
            |key| key.chars().count() == 20,
            "must be exactly 20 characters",
        );
        let secret_key = text("secret_key", at_least_40, "must be at least 40 characters");
        let application_secret_key = text(
            "application_secret_key",
            at_least_40,
            "must be at least 40 characters",
        );
        let api_hostname = text("api_hostname", plausible_host_name, "must be a host name");

        let duo_expire = lifetime(settings, "duo_expire", 300, &mut problems);
        let app_expire = lifetime(settings, "app_expire", 3600, &mut problems);

        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(DuoKeys {
            integration_key,
            secret_key,
            application_secret_key,
            api_hostname,
            duo_expire,
            app_expire,
        })
    }
}

/// An optional positive lifetime in seconds; like Kazoo's `get_integer_value`, a numeric
/// string counts as its number.
fn lifetime(
    settings: &Value,
    name: &'static str,
    default: i64,
    problems: &mut Vec<SettingProblem>,
) -> i64 {
    let value = match &settings[name] {
        Value::Null => return default,
        Value::String(s) => s.parse::<i64>().ok(),
        other => other.as_i64(),
    };
    match value {
        Some(n) if n > 0 => n,
        _ => {
            problems.push((name, "must be a positive integer"));
            default
        }
    }
}

/// Letters, digits and hyphens in dot-separated labels of 1 to 63 characters, as in a DNS
/// name: no scheme, port or path, which would otherwise end up in the client's Duo URL.
fn plausible_host_name(host: &str) -> bool {
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    host.len() <= 253 && host.split('.').all(label_ok)
}

/// Why a Duo response was refused; the text is fit for a 401 and a login attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DuoError {
    #[error("malformed Duo response")]
    Malformed,
    #[error("unexpected prefix in Duo response")]
    WrongPrefix,
    #[error("invalid Duo response signature")]
    BadSignature,
    #[error("malformed Duo response cookie")]
    BadCookie,
    #[error("Duo response for another integration")]
    WrongIntegration,
    #[error("expired Duo response")]
    Expired,
    #[error("Duo response for another user")]
    WrongUser,
}

/// `prefix|base64(user|ikey|expiry)|hex(HMAC-SHA1(key, prefix|base64(..)))`.
pub fn sign_value(key: &str, prefix: &str, user: &str, ikey: &str, expiry: i64) -> String {
    let cookie = format!(
        "{prefix}|{}",
        STANDARD.encode(format!("{user}|{ikey}|{expiry}"))
    );
    let sig = hmac_sha1_hex(key, &cookie);
    format!("{cookie}|{sig}")
}

/// The `duo_sig_request` of a challenge to `user` at `unix_now`.
///
/// A user containing `|` yields a request whose answer can never verify, so such a login
/// fails closed rather than being refused here.
pub fn sign_request(keys: &DuoKeys, user: &str, unix_now: i64) -> String {
    let ikey = &keys.integration_key;
    let tx_expiry = unix_now.saturating_add(keys.duo_expire);
    let app_expiry = unix_now.saturating_add(keys.app_expire);

    let tx = sign_value(&keys.secret_key, "TX", user, ikey, tx_expiry);
    let app = sign_value(&keys.application_secret_key, "APP", user, ikey, app_expiry);
    format!("{tx}:{app}")
}

/// Checks a `multi_factor_response` of `AUTH|..:APP|..` for `expected_user` at `unix_now`.
pub fn verify_response(
    keys: &DuoKeys,
    response: &str,
    expected_user: &str,
    unix_now: i64,
) -> Result<(), DuoError> {
    let parts: Vec<&str> = response.split(':').collect();
    let [auth, app] = parts[..] else {
        return Err(DuoError::Malformed);
    };

    let ikey = &keys.integration_key;
    let auth_user = verify_value(&keys.secret_key, "AUTH", auth, ikey, unix_now)?;
    let app_user = verify_value(&keys.application_secret_key, "APP", app, ikey, unix_now)?;

    if auth_user != app_user || auth_user != expected_user {
        return Err(DuoError::WrongUser);
    }
    Ok(())
}

/// Checks one `prefix|cookie|sig` value signed with `key` and returns the user it names.
fn verify_value(
    key: &str,
    prefix: &str,
    value: &str,
    ikey: &str,
    unix_now: i64,
) -> Result<String, DuoError> {
    let fields: Vec<&str> = value.split('|').collect();
    let [given_prefix, cookie, sig] = fields[..] else {
        return Err(DuoError::Malformed);
    };
    if fields.iter().any(|f| f.is_empty()) {
        return Err(DuoError::Malformed);
    }
    if given_prefix != prefix {
        return Err(DuoError::WrongPrefix);
    }

    // Authenticate before looking inside the cookie.
    let expected = hmac_sha1_hex(key, &format!("{prefix}|{cookie}"));
    if !same_signature(&expected, sig) {
        return Err(DuoError::BadSignature);
    }

    let decoded = STANDARD.decode(cookie).map_err(|_| DuoError::BadCookie)?;
    let decoded = String::from_utf8(decoded).map_err(|_| DuoError::BadCookie)?;
    let fields: Vec<&str> = decoded.split('|').collect();
    let [user, cookie_ikey, expiry] = fields[..] else {
        return Err(DuoError::BadCookie);
    };
    let expiry: i64 = expiry.parse().map_err(|_| DuoError::BadCookie)?;

    if cookie_ikey != ikey {
        return Err(DuoError::WrongIntegration);
    }
    if unix_now > expiry {
        return Err(DuoError::Expired);
    }
    Ok(user.to_string())
}

/// Lowercase hex of HMAC-SHA1 over `message`, both strings taken as their bytes.
fn hmac_sha1_hex(key: &str, message: &str) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(key.as_bytes()).expect("HMAC takes any key");
    mac.update(message.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;
    use serde_json::json;

    const C12_USER: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
    const C12_NOW: i64 = 1_704_067_200;
    const C12_RESPONSE: &str = concat!(
        "AUTH|MGExYjJjM2Q0ZTVmNjA3MTgyOTNhNGI1YzZkN2U4Zjl8",
        "RElBQkNERUZHSElKS0xNTk9QUVJ8MTcwNDA2NzUwMA==|",
        "238f1dc1d56f99fc3541206be2e6ee0ed0776f79:",
        "APP|MGExYjJjM2Q0ZTVmNjA3MTgyOTNhNGI1YzZkN2U4Zjl8",
        "RElBQkNERUZHSElKS0xNTk9QUVJ8MTcwNDA3MDgwMA==|",
        "77e7c4d59f360a753fe76e40a0b9357c5160e0dd",
    );

    fn c12_keys() -> DuoKeys {
        DuoKeys {
            integration_key: "DIABCDEFGHIJKLMNOPQR".into(),
            secret_key: "deadbeef".repeat(5),
            application_secret_key: "0123456789abcdef0123456789abcdef01234567".into(),
            api_hostname: "api-12345678.duosecurity.com".into(),
            duo_expire: 300,
            app_expire: 3600,
        }
    }

    fn verify_c12(response: &str) -> Result<(), DuoError> {
        verify_response(&c12_keys(), response, C12_USER, C12_NOW)
    }

    /// The response Duo's frame would post back after `sign_request`.
    fn duo_answer(keys: &DuoKeys, user: &str, unix_now: i64) -> String {
        let request = sign_request(keys, user, unix_now);
        let app = request.split(':').nth(1).unwrap();
        let auth = sign_value(
            &keys.secret_key,
            "AUTH",
            user,
            &keys.integration_key,
            unix_now + 300,
        );
        format!("{auth}:{app}")
    }

    #[test]
    fn signing_matches_the_spec_vector() {
        let ikey = "DIXXXXXXXXXXXXXXXXXX";
        let skey = "deadbeef".repeat(5);
        let akey = "useacustomerprovidedapplicationsecretkey";
        let tx = sign_value(&skey, "TX", "testuser", ikey, 1_486_769_809);
        let app = sign_value(akey, "APP", "testuser", ikey, 1_486_769_809);

        assert_eq!(
            format!("{tx}:{app}"),
            concat!(
                "TX|dGVzdHVzZXJ8RElYWFhYWFhYWFhYWFhYWFhYWFh8MTQ4Njc2OTgwOQ==|",
                "28af5ae63742cfc52f36002a146ee181326cd40d:",
                "APP|dGVzdHVzZXJ8RElYWFhYWFhYWFhYWFhYWFhYWFh8MTQ4Njc2OTgwOQ==|",
                "1f02e643de667f188f409a13b7770dce0a1be777",
            )
        );
    }

    #[test]
    fn sign_request_adds_each_lifetime_to_the_clock() {
        let keys = DuoKeys {
            integration_key: "DIXXXXXXXXXXXXXXXXXX".into(),
            secret_key: "deadbeef".repeat(5),
            application_secret_key: "useacustomerprovidedapplicationsecretkey".into(),
            api_hostname: "api-xxxxxxxx.duosecurity.com".into(),
            duo_expire: 300,
            app_expire: 3600,
        };
        let request = sign_request(&keys, "testuser", 1_486_769_509);

        let tx = sign_value(
            &keys.secret_key,
            "TX",
            "testuser",
            &keys.integration_key,
            1_486_769_809,
        );
        assert!(request.starts_with(&format!("{tx}:APP|")));
        let app_cookie = request.split('|').nth(3).unwrap();
        let decoded = STANDARD.decode(app_cookie).unwrap();
        assert_eq!(decoded, b"testuser|DIXXXXXXXXXXXXXXXXXX|1486773109");
    }

    #[test]
    fn the_c12_response_verifies_until_its_auth_half_expires() {
        assert_eq!(verify_c12(C12_RESPONSE), Ok(()));
        let keys = c12_keys();
        assert_eq!(
            verify_response(&keys, C12_RESPONSE, C12_USER, 1_704_067_500),
            Ok(())
        );
        assert_eq!(
            verify_response(&keys, C12_RESPONSE, C12_USER, 1_704_067_501),
            Err(DuoError::Expired)
        );
    }

    #[test]
    fn a_flipped_hex_digit_is_a_bad_signature() {
        let flipped = C12_RESPONSE.replacen("238f1dc1", "238f1dc2", 1);
        assert_eq!(verify_c12(&flipped), Err(DuoError::BadSignature));
        let flipped = C12_RESPONSE.replacen("77e7c4d5", "77e7c4d6", 1);
        assert_eq!(verify_c12(&flipped), Err(DuoError::BadSignature));
    }

    #[test]
    fn anything_but_two_parts_is_malformed() {
        let app = C12_RESPONSE.split(':').nth(1).unwrap();
        assert_eq!(
            verify_c12(&format!("{C12_RESPONSE}:{app}")),
            Err(DuoError::Malformed)
        );
        assert_eq!(verify_c12(app), Err(DuoError::Malformed));
        assert_eq!(verify_c12(""), Err(DuoError::Malformed));
    }

    #[test]
    fn a_tx_prefix_or_swapped_halves_are_refused() {
        let as_tx = C12_RESPONSE.replacen("AUTH|", "TX|", 1);
        assert_eq!(verify_c12(&as_tx), Err(DuoError::WrongPrefix));
        let (auth, app) = C12_RESPONSE.split_once(':').unwrap();
        assert_eq!(
            verify_c12(&format!("{app}:{auth}")),
            Err(DuoError::WrongPrefix)
        );
    }

    #[test]
    fn empty_or_missing_fields_are_malformed() {
        for response in [
            "AUTH||238f:APP|x|y",
            "AUTH|x|:APP|x|y",
            "|x|y:APP|x|y",
            "AUTH|x:APP|x|y",
            "AUTH|x|y|z:APP|x|y",
        ] {
            assert_eq!(verify_c12(response), Err(DuoError::Malformed), "{response}");
        }
    }

    #[test]
    fn bad_base64_behind_a_valid_signature_is_a_bad_cookie() {
        let keys = c12_keys();
        let cookie = "AUTH|not*base64";
        let auth = format!("{cookie}|{}", hmac_sha1_hex(&keys.secret_key, cookie));
        let app = C12_RESPONSE.split(':').nth(1).unwrap();

        assert_eq!(
            verify_c12(&format!("{auth}:{app}")),
            Err(DuoError::BadCookie)
        );
    }

    #[test]
    fn a_cookie_without_three_fields_is_a_bad_cookie() {
        let keys = c12_keys();
        for payload in [
            "user|ikey",
            "user|DIABCDEFGHIJKLMNOPQR|1|2",
            "u|DIABCDEFGHIJKLMNOPQR|soon",
        ] {
            let cookie = format!("AUTH|{}", STANDARD.encode(payload));
            let auth = format!("{cookie}|{}", hmac_sha1_hex(&keys.secret_key, &cookie));
            let app = C12_RESPONSE.split(':').nth(1).unwrap();
            assert_eq!(
                verify_c12(&format!("{auth}:{app}")),
                Err(DuoError::BadCookie)
            );
        }
    }

    #[test]
    fn another_user_is_refused() {
        let keys = c12_keys();
        let other = "ffffffffffffffffffffffffffffffff";
        assert_eq!(
            verify_response(&keys, C12_RESPONSE, other, C12_NOW),
            Err(DuoError::WrongUser)
        );

        let auth = sign_value(
            &keys.secret_key,
            "AUTH",
            other,
            &keys.integration_key,
            C12_NOW + 300,
        );
        let app = C12_RESPONSE.split(':').nth(1).unwrap();
        assert_eq!(
            verify_c12(&format!("{auth}:{app}")),
            Err(DuoError::WrongUser)
        );
    }

    #[test]
    fn another_integration_key_is_refused() {
        let mut keys = c12_keys();
        keys.integration_key = "DIZZZZZZZZZZZZZZZZZZ".into();
        assert_eq!(
            verify_response(&keys, C12_RESPONSE, C12_USER, C12_NOW),
            Err(DuoError::WrongIntegration)
        );
    }

    #[test]
    fn an_answer_built_as_duo_does_round_trips() {
        let keys = c12_keys();
        let answer = duo_answer(&keys, "u1", C12_NOW);

        assert_eq!(verify_response(&keys, &answer, "u1", C12_NOW + 300), Ok(()));
        assert_eq!(
            verify_response(&keys, &answer, "u1", C12_NOW + 301),
            Err(DuoError::Expired)
        );
        assert_eq!(
            verify_response(&keys, &answer, "u2", C12_NOW),
            Err(DuoError::WrongUser)
        );
    }

    #[test]
    fn any_change_to_a_valid_response_fails_without_panicking() {
        let mut rng = rand::thread_rng();
        let alphabet: Vec<char> = "AUTHP|:=+/0123456789abcdefXYZ\u{e9}".chars().collect();
        for _ in 0..5_000 {
            let mut chars: Vec<char> = C12_RESPONSE.chars().collect();
            let at = rng.gen_range(0..chars.len());
            let c = alphabet[rng.gen_range(0..alphabet.len())];
            match rng.gen_range(0..3) {
                0 => chars[at] = c,
                1 => chars.insert(at, c),
                _ => {
                    chars.remove(at);
                }
            }
            let mutated: String = chars.into_iter().collect();
            if mutated != C12_RESPONSE {
                assert!(verify_c12(&mutated).is_err(), "{mutated}");
            }
        }
    }

    #[test]
    fn random_strings_are_refused_without_panicking() {
        let mut rng = rand::thread_rng();
        let alphabet: Vec<char> = "AUTHP|:=\u{0}\u{1f600}0123456789".chars().collect();
        for _ in 0..5_000 {
            let len = rng.gen_range(0..60);
            let junk: String = (0..len)
                .map(|_| alphabet[rng.gen_range(0..alphabet.len())])
                .collect();
            assert!(verify_c12(&junk).is_err(), "{junk}");
        }
    }

    #[test]
    fn valid_settings_take_the_default_lifetimes() {
        let settings = json!({
            "integration_key": "DIABCDEFGHIJKLMNOPQR",
            "secret_key": "deadbeef".repeat(5),
            "application_secret_key": "0123456789abcdef0123456789abcdef01234567",
            "api_hostname": "api-12345678.duosecurity.com",
        });
        assert_eq!(DuoKeys::from_settings(&settings), Ok(c12_keys()));

        let mut settings = settings;
        settings["duo_expire"] = json!(60);
        settings["app_expire"] = json!("7200");
        let keys = DuoKeys::from_settings(&settings).unwrap();
        assert_eq!((keys.duo_expire, keys.app_expire), (60, 7200));
    }

    #[test]
    fn every_wrong_setting_is_named() {
        let settings = json!({
            "integration_key": "DI-too-short",
            "secret_key": "short",
            "api_hostname": "https://api.duosecurity.com/",
            "duo_expire": 0,
            "app_expire": "soon",
        });
        let problems = DuoKeys::from_settings(&settings).unwrap_err();
        let names: Vec<&str> = problems.iter().map(|(name, _)| *name).collect();

        assert_eq!(
            names,
            [
                "integration_key",
                "secret_key",
                "application_secret_key",
                "api_hostname",
                "duo_expire",
                "app_expire"
            ]
        );
        assert_eq!(problems[2].1, "is required and must be a string");
    }

    #[test]
    fn debug_output_hides_the_secret_keys() {
        let shown = format!("{:?}", c12_keys());
        assert!(shown.contains("DIABCDEFGHIJKLMNOPQR"));
        assert!(!shown.contains("deadbeef"));
        assert!(!shown.contains("0123456789abcdef"));
    }
}

//! Duo `multi_factor_response` values and provider settings: a response nobody signed never
//! verifies, one signed as Duo does verifies for its user until it expires, and settings are
//! accepted only when every rule holds.
#![no_main]

use kazoo_security::domain::duo::{DuoError, DuoKeys, sign_request, sign_value, verify_response};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const USER: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
const NOW: i64 = 1_704_067_200;
/// The one response that verifies for `USER` at `NOW` (auth.md, case C12).
const GENUINE: &str = concat!(
    "AUTH|MGExYjJjM2Q0ZTVmNjA3MTgyOTNhNGI1YzZkN2U4Zjl8",
    "RElBQkNERUZHSElKS0xNTk9QUVJ8MTcwNDA2NzUwMA==|",
    "238f1dc1d56f99fc3541206be2e6ee0ed0776f79:",
    "APP|MGExYjJjM2Q0ZTVmNjA3MTgyOTNhNGI1YzZkN2U4Zjl8",
    "RElBQkNERUZHSElKS0xNTk9QUVJ8MTcwNDA3MDgwMA==|",
    "77e7c4d59f360a753fe76e40a0b9357c5160e0dd",
);

fn keys() -> DuoKeys {
    DuoKeys {
        integration_key: "DIABCDEFGHIJKLMNOPQR".into(),
        secret_key: "deadbeef".repeat(5),
        application_secret_key: "0123456789abcdef0123456789abcdef01234567".into(),
        api_hostname: "api-12345678.duosecurity.com".into(),
        duo_expire: 300,
        app_expire: 3600,
    }
}

/// What Duo's frame posts back for `user` after a challenge at `now`.
fn duo_answer(keys: &DuoKeys, user: &str, now: i64) -> String {
    let request = sign_request(keys, user, now);
    let app = request
        .split_once(':')
        .expect("a challenge has two halves")
        .1;
    let auth_expiry = now.saturating_add(keys.duo_expire);
    let auth = sign_value(
        &keys.secret_key,
        "AUTH",
        user,
        &keys.integration_key,
        auth_expiry,
    );
    format!("{auth}:{app}")
}

fn check_settings(settings: &Value) {
    let Ok(keys) = DuoKeys::from_settings(settings) else {
        return;
    };
    assert_eq!(keys.integration_key.chars().count(), 20);
    assert!(keys.secret_key.chars().count() >= 40);
    assert!(keys.application_secret_key.chars().count() >= 40);
    let host_char = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'.';
    assert!(
        keys.api_hostname.bytes().all(host_char),
        "{}",
        keys.api_hostname
    );
    assert!(keys.duo_expire > 0 && keys.app_expire > 0);
    // Lifetimes up to i64::MAX must not overflow a challenge.
    let answer = duo_answer(&keys, USER, NOW);
    assert_eq!(verify_response(&keys, &answer, USER, NOW), Ok(()));
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let keys = keys();

    // Without the secret keys nothing but the genuine response verifies.
    if verify_response(&keys, text, USER, NOW).is_ok() {
        assert_eq!(text, GENUINE);
    }

    // The text as a user name, at a clock taken from the input.
    let user = text;
    let now = NOW + i64::from(data.first().copied().unwrap_or(0)) * 86_400;
    let answer = duo_answer(&keys, user, now);
    let verified = verify_response(&keys, &answer, user, now);
    if user.contains('|') {
        assert_eq!(verified, Err(DuoError::BadCookie), "{user:?}");
    } else {
        assert_eq!(verified, Ok(()), "{user:?}");
        let late = verify_response(&keys, &answer, user, now + keys.duo_expire + 1);
        assert_eq!(late, Err(DuoError::Expired));
        let other = format!("{user}x");
        assert_eq!(
            verify_response(&keys, &answer, &other, now),
            Err(DuoError::WrongUser)
        );
    }

    if let Ok(settings) = serde_json::from_str::<Value>(text) {
        check_settings(&settings);
    }
});

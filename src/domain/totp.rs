//! RFC 6238 one-time codes (HMAC-SHA1): the provider settings, enrollment secrets and
//! `otpauth://` URIs, and the check of a code, good for one period either side and only once.

use std::ops::RangeInclusive;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;
use totp_rs::{Builder, Secret, Totp};

/// One invalid provider setting: its name and what is wrong with it.
pub type SettingProblem = (&'static str, &'static str);

/// Everything but RFC 3986's unreserved characters is escaped in the URI's label and issuer.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The settings of a TOTP provider document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpSettings {
    /// Digits per code, 6 to 8 (RFC 4226).
    pub digits: u8,
    /// Seconds per code, 10 to 300: shorter leaves no time to type, longer keeps a code
    /// alive for too long.
    pub period_s: u64,
    /// The service name shown by authenticator apps.
    pub issuer: Option<String>,
}

impl Default for TotpSettings {
    fn default() -> Self {
        TotpSettings {
            digits: 6,
            period_s: 30,
            issuer: None,
        }
    }
}

impl TotpSettings {
    /// The settings of a provider's `settings` object, or every setting that is wrong with it.
    pub fn from_settings(settings: &Value) -> Result<Self, Vec<SettingProblem>> {
        let mut problems = Vec::new();
        // Like Kazoo's `get_integer_value`, a numeric string counts as its number.
        let mut integer = |name, default, range: RangeInclusive<u64>, rule| {
            let value = match &settings[name] {
                Value::Null => Some(default),
                Value::String(s) => s.parse::<u64>().ok(),
                other => other.as_u64(),
            };
            match value {
                Some(n) if range.contains(&n) => n,
                _ => {
                    problems.push((name, rule));
                    default
                }
            }
        };
        let digits = integer("digits", 6, 6..=8, "must be an integer from 6 to 8");
        let period_s = integer(
            "period_s",
            30,
            10..=300,
            "must be an integer from 10 to 300",
        );

        let issuer = match &settings["issuer"] {
            Value::Null => None,
            Value::String(s) if !s.is_empty() && !s.contains(':') => Some(s.clone()),
            _ => {
                problems.push(("issuer", "must be a non-empty string without a colon"));
                None
            }
        };

        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(TotpSettings {
            digits: u8::try_from(digits).unwrap_or(6),
            period_s,
            issuer,
        })
    }
}

/// Every setting that is wrong with a provider's `settings` object.
pub fn validate_settings(settings: &Value) -> Vec<SettingProblem> {
    TotpSettings::from_settings(settings)
        .err()
        .unwrap_or_default()
}

/// Why a code was refused; the text is fit for a 401 and a login attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TotpError {
    #[error("the code must be {digits} digits")]
    MalformedCode { digits: u8 },
    #[error("wrong or expired code")]
    WrongCode,
    #[error("code already used")]
    Reused,
    #[error("the stored TOTP secret is unusable")]
    InvalidSecret,
    #[error("invalid TOTP settings")]
    InvalidSettings,
    #[error("clock before the Unix epoch")]
    ClockBeforeEpoch,
}

/// A new random secret of 160 bits (RFC 4226's recommendation), in unpadded base32.
pub fn new_secret() -> String {
    Secret::from(rand::random::<[u8; 20]>()).to_base32()
}

/// The `otpauth://totp/` URI an authenticator app enrolls from, for `account`.
pub fn otpauth_uri(secret: &str, account: &str, settings: &TotpSettings) -> String {
    let account = utf8_percent_encode(account, URI_COMPONENT);
    let mut query = format!("secret={secret}");
    let label = match &settings.issuer {
        Some(issuer) => {
            let issuer = utf8_percent_encode(issuer, URI_COMPONENT);
            query.push_str(&format!("&issuer={issuer}"));
            format!("{issuer}:{account}")
        }
        None => account.to_string(),
    };
    let (digits, period) = (settings.digits, settings.period_s);
    format!("otpauth://totp/{label}?{query}&digits={digits}&period={period}")
}

/// The code of the period containing `unix`, for a base32 secret.
pub fn code_at(secret: &str, unix: i64, digits: u8, period_s: u64) -> Result<String, TotpError> {
    let totp = generator(secret, digits, period_s)?;
    let unix = u64::try_from(unix).map_err(|_| TotpError::ClockBeforeEpoch)?;
    Ok(totp.generate(unix).to_string())
}

/// Checks `code` against the previous, current and next period at `unix_now` and returns
/// the step it matched, refusing steps up to `last_used_step` so each code works once.
pub fn verify(
    secret: &str,
    code: &str,
    unix_now: i64,
    digits: u8,
    period_s: u64,
    last_used_step: Option<u64>,
) -> Result<u64, TotpError> {
    if code.len() != usize::from(digits) || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TotpError::MalformedCode { digits });
    }
    let totp = generator(secret, digits, period_s)?;
    let now = u64::try_from(unix_now).map_err(|_| TotpError::ClockBeforeEpoch)?;

    // No overflow: `now` fits in an i64, so one more period still fits in a u64.
    let current = now / period_s;
    let mut reused = false;
    for step in current.saturating_sub(1)..=current + 1 {
        if totp.check(code, step * period_s).is_none() {
            continue;
        }
        if last_used_step.is_some_and(|used| step <= used) {
            reused = true;
            continue;
        }
        return Ok(step);
    }
    Err(if reused {
        TotpError::Reused
    } else {
        TotpError::WrongCode
    })
}

/// A generator for exactly one period (no skew; `verify` walks the window itself).
fn generator(secret: &str, digits: u8, period_s: u64) -> Result<Totp, TotpError> {
    let secret = Secret::try_from_base32(secret).map_err(|_| TotpError::InvalidSecret)?;
    let built = Builder::new()
        .with_secret(secret)
        .with_digits(digits)
        .with_step_duration(period_s)
        .with_skew(0)
        .build();
    built.map_err(|error| match error {
        totp_rs::TotpError::SecretTooShort { .. } => TotpError::InvalidSecret,
        _ => TotpError::InvalidSettings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;
    use serde_json::json;

    /// Base32 of RFC 6238's ASCII secret "12345678901234567890".
    const RFC_SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    const NOW: i64 = 1_704_067_215;
    const NOW_STEP: u64 = 1_704_067_215 / 30;

    fn verify_at_now(code: &str, last_used_step: Option<u64>) -> Result<u64, TotpError> {
        verify(RFC_SECRET, code, NOW, 6, 30, last_used_step)
    }

    fn code_of_step(step: u64) -> String {
        code_at(RFC_SECRET, (step * 30) as i64, 6, 30).unwrap()
    }

    #[test]
    fn codes_match_the_rfc_6238_sha1_vectors() {
        let vectors = [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ];
        for (unix, code) in vectors {
            assert_eq!(code_at(RFC_SECRET, unix, 8, 30).unwrap(), code, "at {unix}");
            let step = u64::try_from(unix).unwrap() / 30;
            assert_eq!(verify(RFC_SECRET, code, unix, 8, 30, None), Ok(step));
        }
    }

    #[test]
    fn the_previous_current_and_next_periods_are_accepted() {
        for step in [NOW_STEP - 1, NOW_STEP, NOW_STEP + 1] {
            assert_eq!(verify_at_now(&code_of_step(step), None), Ok(step));
        }
    }

    #[test]
    fn codes_two_periods_away_are_refused() {
        for step in [NOW_STEP - 2, NOW_STEP + 2] {
            assert_eq!(
                verify_at_now(&code_of_step(step), None),
                Err(TotpError::WrongCode)
            );
        }
    }

    #[test]
    fn a_code_works_only_once() {
        let code = code_of_step(NOW_STEP);
        let used = verify_at_now(&code, None).unwrap();

        assert_eq!(verify_at_now(&code, Some(used)), Err(TotpError::Reused));
        assert_eq!(
            verify(RFC_SECRET, &code, NOW + 30, 6, 30, Some(used)),
            Err(TotpError::Reused)
        );
        let next = code_of_step(NOW_STEP + 1);
        assert_eq!(verify_at_now(&next, Some(used)), Ok(NOW_STEP + 1));
    }

    #[test]
    fn an_earlier_code_after_a_later_one_is_refused() {
        let later = verify_at_now(&code_of_step(NOW_STEP + 1), None).unwrap();
        let earlier = code_of_step(NOW_STEP);
        assert_eq!(verify_at_now(&earlier, Some(later)), Err(TotpError::Reused));
    }

    #[test]
    fn malformed_codes_are_refused() {
        let good = code_of_step(NOW_STEP);
        for code in [
            "",
            "12345",
            "1234567",
            "12a456",
            "+12345",
            " 12345",
            "١٢٣٤٥٦",
            &format!("{good} "),
        ] {
            assert_eq!(
                verify_at_now(code, None),
                Err(TotpError::MalformedCode { digits: 6 }),
                "{code:?}"
            );
        }
    }

    #[test]
    fn unusable_secrets_and_settings_are_errors() {
        let code = "123456";
        assert_eq!(
            verify("not base32!", code, NOW, 6, 30, None),
            Err(TotpError::InvalidSecret)
        );
        assert_eq!(
            verify("GEZDGNBVGY3TQ", code, NOW, 6, 30, None),
            Err(TotpError::InvalidSecret)
        );
        assert_eq!(
            verify(RFC_SECRET, "123", NOW, 3, 30, None),
            Err(TotpError::InvalidSettings)
        );
        assert_eq!(
            verify(RFC_SECRET, code, NOW, 6, 0, None),
            Err(TotpError::InvalidSettings)
        );
        assert_eq!(
            verify(RFC_SECRET, code, -1, 6, 30, None),
            Err(TotpError::ClockBeforeEpoch)
        );
    }

    #[test]
    fn random_input_is_refused_without_panicking() {
        let mut rng = rand::thread_rng();
        let alphabet: Vec<char> = "0123456789A=Z2 \u{0}\u{e9}".chars().collect();
        for _ in 0..2_000 {
            let mut junk = || -> String {
                let len = rng.gen_range(0..40);
                (0..len)
                    .map(|_| alphabet[rng.gen_range(0..alphabet.len())])
                    .collect()
            };
            let (secret, code) = (junk(), junk());
            let unix = rng.gen_range(i64::MIN..=i64::MAX);
            let digits = rng.gen_range(0..=12);
            let period = rng.gen_range(0..=400);
            let _ = verify(&secret, &code, unix, digits, period, Some(rng.r#gen()));
            let _ = code_at(&secret, unix, digits, period);
        }
    }

    #[test]
    fn new_secrets_are_160_random_bits_in_base32() {
        let (a, b) = (new_secret(), new_secret());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert_eq!(Secret::try_from_base32(&a).unwrap().as_bytes().len(), 20);
        assert!(code_at(&a, NOW, 6, 30).is_ok());
    }

    #[test]
    fn the_uri_escapes_the_label_and_names_every_parameter() {
        let settings = TotpSettings {
            issuer: Some("Acme Phones".into()),
            ..TotpSettings::default()
        };
        assert_eq!(
            otpauth_uri(RFC_SECRET, "alice@example.com", &settings),
            concat!(
                "otpauth://totp/Acme%20Phones:alice%40example.com",
                "?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Acme%20Phones&digits=6&period=30"
            )
        );
        let plain = TotpSettings::default();
        assert_eq!(
            otpauth_uri("ABC", "bob:1", &plain),
            "otpauth://totp/bob%3A1?secret=ABC&digits=6&period=30"
        );
    }

    #[test]
    fn settings_default_and_coerce_numeric_strings() {
        assert_eq!(
            TotpSettings::from_settings(&json!({})),
            Ok(TotpSettings::default())
        );
        let settings = json!({"digits": "8", "period_s": 60, "issuer": "Acme"});
        assert_eq!(
            TotpSettings::from_settings(&settings),
            Ok(TotpSettings {
                digits: 8,
                period_s: 60,
                issuer: Some("Acme".into())
            })
        );
    }

    #[test]
    fn every_wrong_setting_is_named() {
        let settings = json!({"digits": 9, "period_s": 0, "issuer": "a:b"});
        let names: Vec<&str> = validate_settings(&settings).iter().map(|p| p.0).collect();
        assert_eq!(names, ["digits", "period_s", "issuer"]);
        assert!(validate_settings(&json!({"digits": 7})).is_empty());
    }
}

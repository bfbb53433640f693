//! How a login names its account: normalised account names and E.164 phone numbers.

/// Lower-cases with full Unicode rules, then keeps only `a`–`z` and `0`–`9`, as the
/// `listing_by_name` view does.
pub fn normalize_account_name(name: &str) -> String {
    name.to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        .collect()
}

/// Rewrites a dialled number to E.164 with Kazoo's default converters; `None` when no
/// converter matches.
pub fn to_e164(number: &str) -> Option<String> {
    if number.starts_with('+') {
        return Some(number.to_string());
    }
    let digits_only = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let nanp = |s: &str| {
        let b = s.as_bytes();
        s.len() == 10 && digits_only(s) && b[0] >= b'2' && b[3] >= b'2'
    };
    let without_one = number
        .strip_prefix("+1")
        .or_else(|| number.strip_prefix('1'));
    if nanp(number) {
        return Some(format!("+1{number}"));
    }
    if let Some(rest) = without_one.filter(|r| nanp(r)) {
        return Some(format!("+1{rest}"));
    }
    for prefix in ["011", "00"] {
        if let Some(rest) = number.strip_prefix(prefix)
            && rest.len() >= 5
            && digits_only(rest)
        {
            return Some(format!("+{rest}"));
        }
    }
    if number.len() >= 8 && digits_only(number) && number.as_bytes()[0] >= b'2' {
        return Some(format!("+{number}"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_only_ascii_letters_and_digits() {
        assert_eq!(
            normalize_account_name("Ortega Café (Uptown)"),
            "ortegacafuptown"
        );
        assert_eq!(
            normalize_account_name("Ortega & Sons Bakery"),
            "ortegasonsbakery"
        );
        assert_eq!(
            normalize_account_name("İ\u{212A}"),
            "i\u{307}k".replace('\u{307}', "")
        );
        assert_eq!(normalize_account_name("!!!"), "");
    }

    #[test]
    fn numbers_become_e164_with_the_default_converters() {
        assert_eq!(to_e164("4155550100").as_deref(), Some("+14155550100"));
        assert_eq!(to_e164("14155550100").as_deref(), Some("+14155550100"));
        assert_eq!(to_e164("+442071838750").as_deref(), Some("+442071838750"));
        assert_eq!(to_e164("011442071838750").as_deref(), Some("+442071838750"));
        assert_eq!(to_e164("00442071838750").as_deref(), Some("+442071838750"));
        assert_eq!(to_e164("442071838750").as_deref(), Some("+442071838750"));
        assert_eq!(to_e164("123"), None);
    }
}

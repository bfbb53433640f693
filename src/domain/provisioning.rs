//! What an operator may create: account names and realms, usernames and passwords, and the
//! credentials hashes, API keys and realms Kazoo derives for them.

use md5::Digest;
use rand::Rng;
use rand::distributions::Alphanumeric;

/// Characters of a generated password: about 119 bits of entropy.
const GENERATED_PASSWORD_LEN: usize = 20;

/// Why an operator's input cannot be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct InvalidInput {
    pub field: &'static str,
    pub problem: &'static str,
}

fn invalid(field: &'static str, problem: &'static str) -> InvalidInput {
    InvalidInput { field, problem }
}

/// An account name as Kazoo's schema allows it: 1 to 128 characters, not only blanks.
pub fn account_name(name: &str) -> Result<String, InvalidInput> {
    let count = name.chars().count();
    if name.trim().is_empty() || count > 128 {
        return Err(invalid(
            "name",
            "must have 1 to 128 characters, not only blanks",
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid("name", "must not contain control characters"));
    }
    Ok(name.to_string())
}

/// A realm as Kazoo stores it: spaces removed, lower-cased, 4 to 253 characters of a host
/// name (letters, digits, `-` and `.`).
pub fn realm(text: &str) -> Result<String, InvalidInput> {
    let realm: String = text.split_whitespace().collect::<String>().to_lowercase();
    if !(4..=253).contains(&realm.len()) {
        return Err(invalid("realm", "must have 4 to 253 characters"));
    }
    let host_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.';
    if !realm.chars().all(host_char) || realm.starts_with('.') || realm.ends_with('.') {
        return Err(invalid(
            "realm",
            "must be a host name (letters, digits, '-', '.')",
        ));
    }
    Ok(realm)
}

/// The realm Kazoo gives an account created without one: 8 random hex characters, then
/// the configured suffix.
pub fn generated_realm(suffix: &str) -> String {
    let suffix = suffix.trim_matches('.');
    format!("{}.{suffix}", hex::encode(rand::random::<[u8; 4]>()))
}

/// A username as Kazoo stores it, lower-cased. Only printable ASCII is accepted: Kazoo
/// lower-cases byte by byte and would store a different name for anything else.
pub fn username(text: &str) -> Result<String, InvalidInput> {
    if text.is_empty() || text.len() > 256 {
        return Err(invalid("username", "must have 1 to 256 characters"));
    }
    if !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid(
            "username",
            "only printable ASCII without spaces is accepted",
        ));
    }
    Ok(text.to_ascii_lowercase())
}

/// A password to hash: anything but empty. Kazoo sets no other rule.
pub fn password(text: &str) -> Result<&str, InvalidInput> {
    if text.is_empty() {
        return Err(invalid("password", "must not be empty"));
    }
    Ok(text)
}

/// A random password of letters and digits, for users created without one.
pub fn generated_password() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(GENERATED_PASSWORD_LEN)
        .map(char::from)
        .collect()
}

/// The two credentials hashes of a user, `pvt_md5_auth` and `pvt_sha1_auth`: lowercase hex
/// MD5 and SHA-1 of `<username>:<password>`, with the username as stored.
pub fn credential_hashes(username: &str, password: &str) -> (String, String) {
    let text = format!("{username}:{password}");
    let md5 = hex::encode(md5::Md5::digest(text.as_bytes()));
    let sha1 = hex::encode(sha1::Sha1::digest(text.as_bytes()));
    (md5, sha1)
}

/// A new account API key: 64 lowercase hex characters, as Kazoo makes them.
pub fn new_api_key() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_match_the_fixture_users() {
        let (md5, sha1) = credential_hashes("rosa.ortega", "Gr4nite-Sparrow-19");
        assert_eq!(md5, "0a765dd9ae823d44c7d68226d83f07da");
        assert_eq!(sha1, "d61b671c8cf1f90671555452b10ff6264730c3d2");
    }

    #[test]
    fn usernames_are_lower_cased_ascii() {
        assert_eq!(username("Ops@Copperline").unwrap(), "ops@copperline");
        assert!(username("").is_err());
        assert!(username("with space").is_err());
        assert!(username("café").is_err());
    }

    #[test]
    fn realms_lose_spaces_and_case_and_must_be_host_names() {
        assert_eq!(realm(" Copper.KZSEC.test ").unwrap(), "copper.kzsec.test");
        assert_eq!(realm("a b.test").unwrap(), "ab.test");
        assert!(realm("a.b").is_err());
        assert!(realm("under_score.test").is_err());
        assert!(realm(".leading.test").is_err());
        let generated = generated_realm("sip.example.test");
        assert!(realm(&generated).is_ok(), "{generated}");
        assert!(generated.ends_with(".sip.example.test"));
    }

    #[test]
    fn names_need_a_visible_character() {
        assert!(account_name("Ortega Café (Uptown)").is_ok());
        assert!(account_name("   ").is_err());
        assert!(account_name(&"x".repeat(129)).is_err());
        assert!(account_name("tab\there").is_err());
    }

    #[test]
    fn generated_secrets_have_their_sizes() {
        let password = generated_password();
        assert_eq!(password.len(), GENERATED_PASSWORD_LEN);
        assert!(password.bytes().all(|b| b.is_ascii_alphanumeric()));
        let key = new_api_key();
        assert_eq!(key.len(), 64);
        assert!(
            key.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
    }
}

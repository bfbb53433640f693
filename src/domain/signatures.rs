//! Identity signatures: the `identity_sig` claim that ties a token to a user's or an
//! account's current secret, so that a new secret ends the older tokens.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// base64url(HMAC-SHA256(identity secret ++ system secret, message)), both secrets used as
/// the ASCII text they are stored as.
pub fn identity_sig(identity_secret: &str, system_secret: &str, message: &str) -> String {
    let key = format!("{identity_secret}{system_secret}");
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes any key");
    mac.update(message.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// Compares two signatures in constant time.
pub fn same_signature(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYSTEM: &str = "fedcba9876543210fedcba9876543210";

    #[test]
    fn user_identity_matches_the_spec_vector() {
        let sig = identity_sig(
            "0123456789abcdef0123456789abcdef",
            SYSTEM,
            "a3000000000000000000000000000003",
        );
        assert_eq!(sig, "WZdKCaEiz0D2K4nA7y9RFYUCpwn8eBjznjnKZWkBtPI");
    }

    #[test]
    fn account_identity_matches_the_spec_vector() {
        let sig = identity_sig(
            "00112233445566778899aabbccddeeff",
            SYSTEM,
            "20000000000000000000000000000002",
        );
        assert_eq!(sig, "u6DgsykTmALIkguaIJ5EnRM_lOLFWFRRtJIt62Eb6fo");
    }

    #[test]
    fn fixture_user_identity_matches_storage_md() {
        let sig = identity_sig(
            "d8bc5c4e2cf8b1b22b48cf07fbe30137",
            "994a8d4a99291af616f967f2186e955c",
            "5ad83821ee64ed9221eda54a7c34e1d6",
        );
        assert_eq!(sig, "_dylxdPIalT_OKZx-Ms3st2PjDIin1O4FJbv7mlOoNA");
        assert!(same_signature(
            &sig,
            "_dylxdPIalT_OKZx-Ms3st2PjDIin1O4FJbv7mlOoNA"
        ));
        assert!(!same_signature(&sig, "x"));
    }
}

//! `GET /v2/accounts/{A}/security/dashboard`: a page that shows an account's effective
//! config and its login attempts. The page is a static shell and needs no token: it asks for
//! credentials, logs in through `/v2/user_auth`, and reads everything else from the API with
//! the token it got, so the API's own authorization decides what it may show.

use std::sync::LazyLock;

use base64::Engine as _;
use hyper::header::{CACHE_CONTROL, HeaderName, HeaderValue};
use sha2::{Digest, Sha256};

use crate::domain::ids::AccountId;
use crate::http::envelope::Reply;
use crate::http::error::ApiError;

/// The page; its one `<style>` and one `<script>` are allowed by their hashes.
pub const PAGE: &str = include_str!("dashboard.html");

/// The page's Content-Security-Policy: nothing but its own inline style and script, and
/// requests to this origin.
pub static CONTENT_SECURITY_POLICY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "default-src 'none'; script-src '{}'; style-src '{}'; connect-src 'self'; \
         form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
        inline_hash("script"),
        inline_hash("style"),
    )
});

/// The CSP source of the text between `<tag>` and `</tag>` in the page.
fn inline_hash(tag: &str) -> String {
    let open = format!("<{tag}>");
    let start = PAGE.find(&open).map(|i| i + open.len()).unwrap_or(0);
    let end = PAGE[start..]
        .find(&format!("</{tag}>"))
        .map_or(start, |i| start + i);
    let digest = Sha256::digest(&PAGE.as_bytes()[start..end]);
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The page, for any well-formed account id: whether the account exists is for the API to
/// say, to a caller with a token.
pub fn page(raw_id: &str) -> Result<Reply, ApiError> {
    AccountId::parse(raw_id).ok_or_else(|| ApiError::BadIdentifier(raw_id.to_string()))?;
    let mut reply = Reply::raw("text/html; charset=utf-8", PAGE);
    let fixed = |name: &'static str, value: &'static str| {
        (
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        )
    };
    if let Ok(csp) = HeaderValue::from_str(&CONTENT_SECURITY_POLICY) {
        reply
            .headers
            .push((HeaderName::from_static("content-security-policy"), csp));
    }
    reply.headers.extend([
        (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        fixed("x-content-type-options", "nosniff"),
        fixed("x-frame-options", "DENY"),
        fixed("referrer-policy", "no-referrer"),
        fixed("cross-origin-opener-policy", "same-origin"),
    ]);
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_exactly_the_pages_inline_script_and_style() {
        let csp = CONTENT_SECURITY_POLICY.as_str();
        assert_eq!(PAGE.matches("<script>").count(), 1);
        assert_eq!(PAGE.matches("<style>").count(), 1);
        assert!(!PAGE.contains("<script "), "no other script elements");
        let script_hash = inline_hash("script");
        assert!(csp.contains(&format!("script-src '{script_hash}'")));
        assert_ne!(script_hash, inline_hash("style"));
        assert!(!csp.contains("unsafe"));
    }
}

//! Settings from the environment. Each variable is documented once, in the README; a bad
//! value stops start-up with the variable's name in the message.

use std::net::SocketAddr;
use std::time::Duration;

use ipnet::IpNet;

/// Everything the service reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `COUCHDB_URL`: the CouchDB server, with admin credentials in production.
    pub couchdb_url: url::Url,
    /// `LISTEN_ADDR`: where `serve` listens.
    pub listen_addr: SocketAddr,
    /// `CONFIG_CACHE_TTL`: how long a cached key or config may be used; zero disables caching.
    pub cache_ttl: Duration,
    /// `TRUSTED_PROXIES`: peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// `LOG_FORMAT`: `text` or `json`.
    pub log_json: bool,
    /// `COUCHDB_TIMEOUT_S`: the bound on one CouchDB request.
    pub couchdb_timeout: Duration,
    /// `HEADER_READ_TIMEOUT_S`: how long a client may take to send a request's headers.
    pub header_read_timeout: Duration,
    /// `RATE_LIMIT_BUCKET`: logins a client IP may make into one account in a burst (0: off).
    pub rate_limit_bucket: u32,
    /// `RATE_LIMIT_REFILL_PER_S`: how fast that bucket refills.
    pub rate_limit_refill_per_s: u32,
}

/// A variable that is set but unusable.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {problem} (got {value:?})")]
pub struct SettingsError {
    name: &'static str,
    value: String,
    problem: &'static str,
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let whole = |t: &str| t.parse::<u64>().ok();
        let seconds = |t: &str| whole(t).map(Duration::from_secs);
        let positive_seconds = |t: &str| whole(t).filter(|s| *s > 0).map(Duration::from_secs);
        Ok(Settings {
            couchdb_url: setting(
                &lookup,
                ("COUCHDB_URL", "http://127.0.0.1:5984"),
                "not an http(s) URL",
                |t| {
                    url::Url::parse(t)
                        .ok()
                        .filter(|u| matches!(u.scheme(), "http" | "https"))
                },
            )?,
            listen_addr: setting(
                &lookup,
                ("LISTEN_ADDR", "127.0.0.1:8000"),
                "not an address like 127.0.0.1:8000",
                |t| t.parse().ok(),
            )?,
            cache_ttl: setting(
                &lookup,
                ("CONFIG_CACHE_TTL", "5"),
                "not a whole number of seconds",
                seconds,
            )?,
            couchdb_timeout: setting(
                &lookup,
                ("COUCHDB_TIMEOUT_S", "10"),
                "not a positive number of seconds",
                positive_seconds,
            )?,
            header_read_timeout: setting(
                &lookup,
                ("HEADER_READ_TIMEOUT_S", "10"),
                "not a positive number of seconds",
                positive_seconds,
            )?,
            trusted_proxies: setting(
                &lookup,
                ("TRUSTED_PROXIES", "127.0.0.0/8,::1/128"),
                "not a comma-separated list of IPs or CIDRs",
                parse_networks,
            )?,
            log_json: setting(
                &lookup,
                ("LOG_FORMAT", "text"),
                "must be text or json",
                |t| match t {
                    "text" => Some(false),
                    "json" => Some(true),
                    _ => None,
                },
            )?,
            rate_limit_bucket: setting(
                &lookup,
                ("RATE_LIMIT_BUCKET", "100"),
                "not a whole number",
                |t| t.parse().ok(),
            )?,
            rate_limit_refill_per_s: setting(
                &lookup,
                ("RATE_LIMIT_REFILL_PER_S", "10"),
                "not a whole number",
                |t| t.parse().ok(),
            )?,
        })
    }
}

/// One variable: its value, or the default when unset or empty, parsed by `parse`; a value
/// `parse` refuses is an error naming the variable and the problem.
fn setting<T>(
    lookup: &impl Fn(&str) -> Option<String>,
    (name, default): (&'static str, &str),
    problem: &'static str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Result<T, SettingsError> {
    let value = lookup(name)
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_string());
    parse(&value).ok_or(SettingsError {
        name,
        value,
        problem,
    })
}

/// Parses `10.0.0.0/8, 192.0.2.7` into networks; a bare address is a one-address network.
pub fn parse_networks(text: &str) -> Option<Vec<IpNet>> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .ok()
                .or_else(|| s.parse::<std::net::IpAddr>().ok().map(IpNet::from))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let settings = with(&[]).unwrap();
        assert_eq!(settings.listen_addr.to_string(), "127.0.0.1:8000");
        assert_eq!(settings.cache_ttl, Duration::from_secs(5));
        assert!(!settings.log_json);
        assert_eq!(settings.trusted_proxies.len(), 2);
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        let error = with(&[("CONFIG_CACHE_TTL", "soon")])
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("CONFIG_CACHE_TTL"), "{error}");
        let error = with(&[("TRUSTED_PROXIES", "10.0.0.0/33")])
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("TRUSTED_PROXIES"), "{error}");
        let error = with(&[("LOG_FORMAT", "xml")]).unwrap_err().to_string();
        assert!(error.starts_with("LOG_FORMAT"), "{error}");
        let error = with(&[("COUCHDB_URL", "ftp://x")]).unwrap_err().to_string();
        assert!(error.starts_with("COUCHDB_URL"), "{error}");
    }
}

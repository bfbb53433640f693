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
        let read = |name: &'static str, default: &str| {
            let value = lookup(name).filter(|v| !v.is_empty());
            value.unwrap_or_else(|| default.to_string())
        };
        let fail = |name, value: String, problem| SettingsError {
            name,
            value,
            problem,
        };

        let url_text = read("COUCHDB_URL", "http://127.0.0.1:5984");
        let couchdb_url = url::Url::parse(&url_text)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| fail("COUCHDB_URL", url_text.clone(), "not an http(s) URL"))?;

        let addr_text = read("LISTEN_ADDR", "127.0.0.1:8000");
        let listen_addr = addr_text.parse().map_err(|_| {
            fail(
                "LISTEN_ADDR",
                addr_text.clone(),
                "not an address like 127.0.0.1:8000",
            )
        })?;

        let ttl_text = read("CONFIG_CACHE_TTL", "5");
        let cache_ttl = ttl_text
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| {
                fail(
                    "CONFIG_CACHE_TTL",
                    ttl_text.clone(),
                    "not a whole number of seconds",
                )
            })?;

        let timeout_text = read("COUCHDB_TIMEOUT_S", "10");
        let couchdb_timeout = timeout_text
            .parse::<u64>()
            .ok()
            .filter(|s| *s > 0)
            .map(Duration::from_secs)
            .ok_or_else(|| {
                fail(
                    "COUCHDB_TIMEOUT_S",
                    timeout_text.clone(),
                    "not a positive number of seconds",
                )
            })?;

        let header_text = read("HEADER_READ_TIMEOUT_S", "10");
        let header_read_timeout = header_text
            .parse::<u64>()
            .ok()
            .filter(|s| *s > 0)
            .map(Duration::from_secs)
            .ok_or_else(|| {
                fail(
                    "HEADER_READ_TIMEOUT_S",
                    header_text.clone(),
                    "not a positive number of seconds",
                )
            })?;

        let proxies_text = read("TRUSTED_PROXIES", "127.0.0.0/8,::1/128");
        let trusted_proxies = parse_networks(&proxies_text).ok_or_else(|| {
            fail(
                "TRUSTED_PROXIES",
                proxies_text.clone(),
                "not a comma-separated list of IPs or CIDRs",
            )
        })?;

        let format_text = read("LOG_FORMAT", "text");
        let log_json = match format_text.as_str() {
            "text" => false,
            "json" => true,
            _ => return Err(fail("LOG_FORMAT", format_text, "must be text or json")),
        };

        let bucket_text = read("RATE_LIMIT_BUCKET", "100");
        let rate_limit_bucket = bucket_text.parse().map_err(|_| {
            fail(
                "RATE_LIMIT_BUCKET",
                bucket_text.clone(),
                "not a whole number",
            )
        })?;
        let refill_text = read("RATE_LIMIT_REFILL_PER_S", "10");
        let rate_limit_refill_per_s = refill_text.parse().map_err(|_| {
            fail(
                "RATE_LIMIT_REFILL_PER_S",
                refill_text.clone(),
                "not a whole number",
            )
        })?;

        Ok(Settings {
            rate_limit_bucket,
            rate_limit_refill_per_s,
            couchdb_url,
            listen_addr,
            cache_ttl,
            trusted_proxies,
            log_json,
            couchdb_timeout,
            header_read_timeout,
        })
    }
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

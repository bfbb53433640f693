//! The service's Prometheus metrics, one registry per running service, rendered at
//! `GET /metrics` in the OpenMetrics text format.
//!
//! Labels are chosen from small fixed sets (route templates, module names, outcomes), never
//! from ids or raw paths, so that the number of series stays bounded whatever clients send.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

/// The content type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// Labels of a served request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The route's template, `unknown` for a path no route matches.
    pub route: &'static str,
    pub method: &'static str,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
    method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CouchErrorLabels {
    method: &'static str,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    cache: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LoginLabels {
    module: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModuleLabels {
    module: &'static str,
}

/// Counters and histograms the service keeps about itself.
pub struct Metrics {
    registry: Registry,
    http_requests: Family<RequestLabels, Counter>,
    http_duration: Histograms<RouteLabels>,
    couch: CouchMetrics,
    cache_hits: Family<CacheLabels, Counter>,
    cache_misses: Family<CacheLabels, Counter>,
    logins: Family<LoginLabels, Counter>,
    rate_limited: Family<ModuleLabels, Counter>,
    attempt_write_failures: Counter,
}

/// What the CouchDB client records of each request it sends.
#[derive(Clone)]
pub struct CouchMetrics {
    duration: Histograms<MethodLabels>,
    errors: Family<CouchErrorLabels, Counter>,
}

/// The hit and miss counters of one cache; unregistered (counting for nobody) by default.
#[derive(Clone, Default)]
pub struct CacheCounters {
    hits: Counter,
    misses: Counter,
}

fn latency_histogram() -> Histogram {
    // 1 ms to about 16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// A fixed label for a request method, in our requests and in CouchDB's: clients may send any
/// token as a method, and a label must not grow the number of series.
pub fn method_label(method: &hyper::Method) -> &'static str {
    match *method {
        hyper::Method::GET => "GET",
        hyper::Method::HEAD => "HEAD",
        hyper::Method::PUT => "PUT",
        hyper::Method::POST => "POST",
        hyper::Method::PATCH => "PATCH",
        hyper::Method::DELETE => "DELETE",
        hyper::Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

impl Default for CouchMetrics {
    fn default() -> Self {
        CouchMetrics {
            duration: Family::new_with_constructor(latency_histogram),
            errors: Family::default(),
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let metrics = Metrics {
            registry: Registry::with_prefix("kazoo_security"),
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(latency_histogram),
            couch: CouchMetrics::default(),
            cache_hits: Family::default(),
            cache_misses: Family::default(),
            logins: Family::default(),
            rate_limited: Family::default(),
            attempt_write_failures: Counter::default(),
        };
        metrics.registered()
    }
}

impl Metrics {
    fn registered(mut self) -> Self {
        let registry = &mut self.registry;
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template, method and status",
            self.http_requests.clone(),
        );
        registry.register_with_unit(
            "http_request_duration",
            "Time to answer an HTTP request, by route template and method",
            Unit::Seconds,
            self.http_duration.clone(),
        );
        registry.register_with_unit(
            "couchdb_request_duration",
            "Time of one CouchDB request, by HTTP method",
            Unit::Seconds,
            self.couch.duration.clone(),
        );
        registry.register(
            "couchdb_errors",
            "CouchDB requests that failed: unreachable, timed out or answered a 5xx",
            self.couch.errors.clone(),
        );
        registry.register(
            "cache_hits",
            "Reads answered from a cache, by cache",
            self.cache_hits.clone(),
        );
        registry.register(
            "cache_misses",
            "Reads a cache passed on to CouchDB, by cache",
            self.cache_misses.clone(),
        );
        registry.register(
            "logins",
            "Authenticator requests, by auth module and outcome",
            self.logins.clone(),
        );
        registry.register(
            "rate_limited",
            "Authenticator requests refused by the rate limit, by auth module",
            self.rate_limited.clone(),
        );
        registry.register(
            "attempt_write_failures",
            "Login attempts that could not be written to CouchDB",
            self.attempt_write_failures.clone(),
        );
        self
    }

    /// The registry in the OpenMetrics text format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }

    /// Counts an answered request and its duration.
    pub fn request_answered(&self, labels: RequestLabels, took: Duration) {
        let route = RouteLabels {
            route: labels.route,
            method: labels.method,
        };
        self.http_duration
            .get_or_create(&route)
            .observe(took.as_secs_f64());
        self.http_requests.get_or_create(&labels).inc();
    }

    /// The handles the CouchDB client records into.
    pub fn couchdb(&self) -> CouchMetrics {
        self.couch.clone()
    }

    /// The counters of the cache called `name`.
    pub fn cache(&self, name: &'static str) -> CacheCounters {
        let labels = CacheLabels { cache: name };
        CacheCounters {
            hits: self.cache_hits.get_or_create(&labels).clone(),
            misses: self.cache_misses.get_or_create(&labels).clone(),
        }
    }

    /// Counts an authenticator request of `module` that ended in `outcome`.
    pub fn login(&self, module: &'static str, outcome: &'static str) {
        let labels = LoginLabels { module, outcome };
        self.logins.get_or_create(&labels).inc();
    }

    /// Counts a request of `module` refused by the rate limit.
    pub fn rate_limited(&self, module: &'static str) {
        self.rate_limited
            .get_or_create(&ModuleLabels { module })
            .inc();
    }

    /// Counts a login attempt that could not be written.
    pub fn attempt_write_failed(&self) {
        self.attempt_write_failures.inc();
    }

    /// How many login attempts could not be written.
    pub fn attempt_write_failures(&self) -> u64 {
        self.attempt_write_failures.get()
    }
}

impl CouchMetrics {
    /// Records one request by `method` that took `took`; `error` names how it failed.
    pub fn observe(&self, method: &'static str, took: Duration, error: Option<&'static str>) {
        let labels = MethodLabels { method };
        self.duration
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
        if let Some(kind) = error {
            let labels = CouchErrorLabels { method, kind };
            self.errors.get_or_create(&labels).inc();
        }
    }
}

impl CacheCounters {
    /// Counts a read answered from the cache.
    pub fn hit(&self) {
        self.hits.inc();
    }

    /// Counts a read passed on to CouchDB.
    pub fn miss(&self) {
        self.misses.inc();
    }
}

#[cfg(test)]
mod tests {
    use super::method_label;
    use hyper::Method;

    #[test]
    fn methods_outside_the_known_set_share_one_label() {
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        for odd in ["FLY", "PROPFIND", "UNKNOWN-VERB"] {
            let method = Method::from_bytes(odd.as_bytes()).unwrap();
            assert_eq!(method_label(&method), "other", "{odd}");
        }
    }
}

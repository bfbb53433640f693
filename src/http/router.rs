//! Paths to routes, and which methods each route answers.
//!
//! [`ROUTES`] is the one table of what this service serves: the router matches paths against
//! it, and the OpenAPI description is tested against it.

use hyper::Method;

use super::error::ApiError;

/// Everything this service serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/v2/security`
    Modules,
    /// `/v2/accounts/{A}/security`; the id is checked after authentication.
    AccountSecurity(String),
    /// `/v2/accounts/{A}/security/attempts`
    Attempts(String),
    /// `/v2/accounts/{A}/security/attempts/{ID}`
    Attempt(String, String),
    /// `/v2/accounts/{A}/security/sources`: the effective config and where each value
    /// comes from.
    Sources(String),
    /// `/v2/accounts/{A}/security/dashboard`: the HTML page that shows the account's
    /// config and attempts.
    Dashboard(String),
    /// `/v2/user_auth`, `/v2/api_auth`, `/v2/ip_auth`
    UserAuth,
    ApiAuth,
    IpAuth,
    /// `/v2/auth` (token refresh)
    Refresh,
    /// `/v2/accounts/{A}/multi_factor`
    Providers(String),
    /// `/v2/accounts/{A}/multi_factor/attempts`
    ProviderAttempts(String),
    /// `/v2/accounts/{A}/multi_factor/{ID}`
    Provider(String, String),
    /// `/v2/multi_factor`
    SystemProviders,
    /// `/v2/multi_factor/{ID}`
    SystemProvider(String),
    /// `/v2/accounts/{A}/users/{U}/multi_factor/totp`
    UserTotp(String, String),
    /// `/healthz`: the process is up.
    Health,
    /// `/readyz`: CouchDB answers and the signing key is loaded.
    Ready,
    /// `/metrics`: Prometheus metrics.
    Metrics,
    /// `/v2/openapi.json`: the OpenAPI description of every route.
    OpenApi,
}

/// One row of the route table.
pub struct RouteSpec {
    /// The path, with `{name}` for each variable segment (as OpenAPI writes it).
    pub template: &'static str,
    /// The methods the route answers, besides `OPTIONS`.
    pub methods: &'static [Method],
    /// Makes the route from the variable segments, in order.
    build: fn(&[&str]) -> Route,
}

const GET: &[Method] = &[Method::GET];
const PUT: &[Method] = &[Method::PUT];

/// Every route, in matching order: a literal segment must come before a variable one in
/// the same place (`…/multi_factor/attempts` before `…/multi_factor/{provider_id}`).
pub static ROUTES: &[RouteSpec] = &[
    RouteSpec {
        template: "/v2/security",
        methods: &[
            Method::GET,
            Method::PUT,
            Method::POST,
            Method::PATCH,
            Method::DELETE,
        ],
        build: |_| Route::Modules,
    },
    RouteSpec {
        template: "/v2/accounts/{account_id}/security",
        methods: &[Method::GET, Method::POST, Method::PATCH, Method::DELETE],
        build: |p| Route::AccountSecurity(p[0].into()),
    },
    RouteSpec {
        template: "/v2/accounts/{account_id}/security/attempts",
        methods: GET,
        build: |p| Route::Attempts(p[0].into()),
    },
    RouteSpec {
        template: "/v2/accounts/{account_id}/security/attempts/{attempt_id}",
        methods: GET,
        build: |p| Route::Attempt(p[0].into(), p[1].into()),
    },
    RouteSpec {
        template: "/v2/accounts/{account_id}/security/sources",
        methods: GET,
        build: |p| Route::Sources(p[0].into()),
    },
    RouteSpec {
        template: "/v2/accounts/{account_id}/security/dashboard",
        methods: GET,
        build: |p| Route::Dashboard(p[0].into()),
    },
    RouteSpec {
        template: "/v2/user_auth",
        methods: PUT,
        build: |_| Route::UserAuth,
    },
    RouteSpec {
        template: "/v2/api_auth",
        methods: PUT,
        build: |_| Route::ApiAuth,
    },
    RouteSpec {
        template: "/v2/ip_auth",
        methods: PUT,
        build: |_| Route::IpAuth,
    },
    RouteSpec {
        template: "/v2/auth",
        methods: PUT,
        build: |_| Route::Refresh,
    },
    RouteSpec {
        template: "/v2/accounts/{account_id}/multi_factor",
        methods: &[Method::GET, Method::PUT],
        build: |p| Route::Providers(p[0].into()),
    },
    RouteSpec {
        template: "/v2/accounts/{account_id}/multi_factor/attempts",
        methods: GET,
        build: |p| Route::ProviderAttempts(p[0].into()),
    },
    RouteSpec {
        template: "/v2/accounts/{account_id}/multi_factor/{provider_id}",
        methods: &[Method::GET, Method::POST, Method::PATCH, Method::DELETE],
        build: |p| Route::Provider(p[0].into(), p[1].into()),
    },
    RouteSpec {
        template: "/v2/multi_factor",
        methods: GET,
        build: |_| Route::SystemProviders,
    },
    RouteSpec {
        template: "/v2/multi_factor/{provider_id}",
        methods: &[Method::GET, Method::POST, Method::PATCH],
        build: |p| Route::SystemProvider(p[0].into()),
    },
    RouteSpec {
        template: "/v2/accounts/{account_id}/users/{user_id}/multi_factor/totp",
        methods: PUT,
        build: |p| Route::UserTotp(p[0].into(), p[1].into()),
    },
    RouteSpec {
        template: "/healthz",
        methods: GET,
        build: |_| Route::Health,
    },
    RouteSpec {
        template: "/readyz",
        methods: GET,
        build: |_| Route::Ready,
    },
    RouteSpec {
        template: "/metrics",
        methods: GET,
        build: |_| Route::Metrics,
    },
    RouteSpec {
        template: "/v2/openapi.json",
        methods: GET,
        build: |_| Route::OpenApi,
    },
];

impl RouteSpec {
    /// The route, when the decoded `segments` fit the template.
    fn route_of(&self, segments: &[String]) -> Option<Route> {
        let pattern: Vec<&str> = self.template.split('/').filter(|s| !s.is_empty()).collect();
        if pattern.len() != segments.len() {
            return None;
        }
        let mut params = Vec::new();
        for (part, segment) in pattern.iter().zip(segments) {
            if part.starts_with('{') {
                params.push(segment.as_str());
            } else if part != segment {
                return None;
            }
        }
        Some((self.build)(&params))
    }
}

impl Route {
    /// Finds the route of a request path (without its query string).
    pub fn of_path(path: &str) -> Result<Route, ApiError> {
        let segments: Vec<String> = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .collect();
        ROUTES
            .iter()
            .find_map(|spec| spec.route_of(&segments))
            .ok_or(ApiError::NotFound)
    }

    /// The methods the route answers (besides `OPTIONS`).
    pub fn methods(&self) -> &'static [Method] {
        let name = self.name();
        ROUTES
            .iter()
            .find(|spec| spec.template == name)
            .map_or(&[], |spec| spec.methods)
    }

    /// The route's template: a low-cardinality name for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Route::Modules => "/v2/security",
            Route::AccountSecurity(_) => "/v2/accounts/{account_id}/security",
            Route::Attempts(_) => "/v2/accounts/{account_id}/security/attempts",
            Route::Attempt(..) => "/v2/accounts/{account_id}/security/attempts/{attempt_id}",
            Route::Sources(_) => "/v2/accounts/{account_id}/security/sources",
            Route::Dashboard(_) => "/v2/accounts/{account_id}/security/dashboard",
            Route::UserAuth => "/v2/user_auth",
            Route::ApiAuth => "/v2/api_auth",
            Route::IpAuth => "/v2/ip_auth",
            Route::Refresh => "/v2/auth",
            Route::Providers(_) => "/v2/accounts/{account_id}/multi_factor",
            Route::ProviderAttempts(_) => "/v2/accounts/{account_id}/multi_factor/attempts",
            Route::Provider(..) => "/v2/accounts/{account_id}/multi_factor/{provider_id}",
            Route::SystemProviders => "/v2/multi_factor",
            Route::SystemProvider(_) => "/v2/multi_factor/{provider_id}",
            Route::UserTotp(..) => "/v2/accounts/{account_id}/users/{user_id}/multi_factor/totp",
            Route::Health => "/healthz",
            Route::Ready => "/readyz",
            Route::Metrics => "/metrics",
            Route::OpenApi => "/v2/openapi.json",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_routes_with_trailing_slashes_and_encoding() {
        assert_eq!(Route::of_path("/v2/security/").unwrap(), Route::Modules);
        assert_eq!(
            Route::of_path("/v2/accounts/abc/security/attempts/202401-x").unwrap(),
            Route::Attempt("abc".into(), "202401-x".into())
        );
        assert_eq!(
            Route::of_path("/v2/accounts/a%2Fb/security").unwrap(),
            Route::AccountSecurity("a/b".into())
        );
        assert_eq!(
            Route::of_path("/v2/accounts/abc/multi_factor/attempts").unwrap(),
            Route::ProviderAttempts("abc".into())
        );
        assert!(matches!(
            Route::of_path("/v2/accounts/a/security/other"),
            Err(ApiError::NotFound)
        ));
        assert!(matches!(
            Route::of_path("/v1/security"),
            Err(ApiError::NotFound)
        ));
    }

    #[test]
    fn every_row_of_the_table_routes_to_a_route_of_its_own_name() {
        for spec in ROUTES {
            let path = spec
                .template
                .split('/')
                .map(|part| if part.starts_with('{') { "x1" } else { part })
                .collect::<Vec<_>>()
                .join("/");
            let route = Route::of_path(&path).unwrap();
            assert_eq!(route.name(), spec.template, "{path}");
            assert_eq!(route.methods(), spec.methods, "{path}");
        }
    }
}

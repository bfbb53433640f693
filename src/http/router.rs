//! Paths to routes, and which methods each route answers.

use hyper::Method;

use super::error::ApiError;

/// Everything this service serves under `/v2`.
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
        let parts: Vec<&str> = segments.iter().map(String::as_str).collect();
        match parts.as_slice() {
            ["v2", "security"] => Ok(Route::Modules),
            ["v2", "user_auth"] => Ok(Route::UserAuth),
            ["v2", "api_auth"] => Ok(Route::ApiAuth),
            ["v2", "ip_auth"] => Ok(Route::IpAuth),
            ["v2", "auth"] => Ok(Route::Refresh),
            ["v2", "accounts", account, "security"] => {
                Ok(Route::AccountSecurity(account.to_string()))
            }
            ["v2", "accounts", account, "security", "attempts"] => {
                Ok(Route::Attempts(account.to_string()))
            }
            ["v2", "accounts", account, "security", "attempts", id] => {
                Ok(Route::Attempt(account.to_string(), id.to_string()))
            }
            ["v2", "multi_factor"] => Ok(Route::SystemProviders),
            ["v2", "multi_factor", id] => Ok(Route::SystemProvider(id.to_string())),
            ["v2", "accounts", account, "multi_factor"] => {
                Ok(Route::Providers(account.to_string()))
            }
            ["v2", "accounts", account, "multi_factor", "attempts"] => {
                Ok(Route::ProviderAttempts(account.to_string()))
            }
            ["v2", "accounts", account, "multi_factor", id] => {
                Ok(Route::Provider(account.to_string(), id.to_string()))
            }
            [
                "v2",
                "accounts",
                account,
                "users",
                user,
                "multi_factor",
                "totp",
            ] => Ok(Route::UserTotp(account.to_string(), user.to_string())),
            _ => Err(ApiError::NotFound),
        }
    }

    /// The methods the route answers (besides `OPTIONS`).
    pub fn methods(&self) -> &'static [Method] {
        match self {
            Route::Modules => &[
                Method::GET,
                Method::PUT,
                Method::POST,
                Method::PATCH,
                Method::DELETE,
            ],
            Route::AccountSecurity(_) => {
                &[Method::GET, Method::POST, Method::PATCH, Method::DELETE]
            }
            Route::Attempts(_) | Route::Attempt(..) => &[Method::GET],
            Route::UserAuth | Route::ApiAuth | Route::IpAuth | Route::Refresh => &[Method::PUT],
            Route::Providers(_) => &[Method::GET, Method::PUT],
            Route::ProviderAttempts(_) | Route::SystemProviders => &[Method::GET],
            Route::Provider(..) => &[Method::GET, Method::POST, Method::PATCH, Method::DELETE],
            Route::SystemProvider(_) => &[Method::GET, Method::POST, Method::PATCH],
            Route::UserTotp(..) => &[Method::PUT],
        }
    }

    /// A low-cardinality name for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Route::Modules => "/v2/security",
            Route::AccountSecurity(_) => "/v2/accounts/{A}/security",
            Route::Attempts(_) => "/v2/accounts/{A}/security/attempts",
            Route::Attempt(..) => "/v2/accounts/{A}/security/attempts/{ID}",
            Route::UserAuth => "/v2/user_auth",
            Route::ApiAuth => "/v2/api_auth",
            Route::IpAuth => "/v2/ip_auth",
            Route::Refresh => "/v2/auth",
            Route::Providers(_) => "/v2/accounts/{A}/multi_factor",
            Route::ProviderAttempts(_) => "/v2/accounts/{A}/multi_factor/attempts",
            Route::Provider(..) => "/v2/accounts/{A}/multi_factor/{ID}",
            Route::SystemProviders => "/v2/multi_factor",
            Route::SystemProvider(_) => "/v2/multi_factor/{ID}",
            Route::UserTotp(..) => "/v2/accounts/{A}/users/{U}/multi_factor/totp",
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
        assert!(matches!(
            Route::of_path("/v2/accounts/a/security/other"),
            Err(ApiError::NotFound)
        ));
        assert!(matches!(
            Route::of_path("/v1/security"),
            Err(ApiError::NotFound)
        ));
    }
}

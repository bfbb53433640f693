//! One module per resource, `ops` for probes, metrics and the API description, and
//! `dashboard` for the HTML page. A handler authenticates, finds and authorizes the account,
//! validates, acts through `store`, and answers a `Reply`; the order of those steps is the
//! API's (api.md, "Order of checks").

pub mod attempts;
pub mod authenticators;
pub mod dashboard;
pub mod modules;
pub mod multi_factor;
pub mod ops;
pub mod security;

use hyper::Method;

use crate::auth::caller::{Authenticated, authenticate};
use crate::domain::ids::AccountId;
use crate::domain::permissions::may_manage_account;
use crate::domain::time::to_gregorian;
use crate::http::envelope::Reply;
use crate::http::error::ApiError;
use crate::http::request::Ctx;
use crate::http::router::Route;
use crate::state::AppState;
use crate::store::accounts::Account;
use crate::store::documents::WriteMeta;

/// Sends a routed request to its handler.
pub async fn dispatch(state: &AppState, ctx: &mut Ctx, route: &Route) -> Result<Reply, ApiError> {
    match (route, ctx.method.clone()) {
        (Route::Modules, Method::GET) => modules::list_modules(state, ctx).await,
        (Route::Modules, _) => {
            caller(state, ctx).await?;
            Err(ApiError::Forbidden)
        }
        (Route::AccountSecurity(id), Method::GET) => security::get_config(state, ctx, id).await,
        (Route::AccountSecurity(id), Method::POST) => {
            security::replace_config(state, ctx, id).await
        }
        (Route::AccountSecurity(id), Method::PATCH) => security::patch_config(state, ctx, id).await,
        (Route::AccountSecurity(id), Method::DELETE) => {
            security::delete_config(state, ctx, id).await
        }
        (Route::Sources(id), Method::GET) => security::get_sources(state, ctx, id).await,
        (Route::Dashboard(id), Method::GET) => dashboard::page(id),
        (Route::Attempts(id), Method::GET) => attempts::list_attempts(state, ctx, id).await,
        (Route::Attempt(id, attempt), Method::GET) => {
            attempts::get_attempt(state, ctx, id, attempt).await
        }
        (Route::Providers(id), Method::GET) => multi_factor::list_providers(state, ctx, id).await,
        (Route::Providers(id), Method::PUT) => multi_factor::create_provider(state, ctx, id).await,
        (Route::ProviderAttempts(id), _) => {
            attempts::list(state, ctx, id, Some("multi_factor")).await
        }
        (Route::Provider(id, p), Method::GET) => {
            multi_factor::get_provider(state, ctx, id, p).await
        }
        (Route::Provider(id, p), Method::POST) => {
            multi_factor::update_provider(state, ctx, id, p, false).await
        }
        (Route::Provider(id, p), Method::PATCH) => {
            multi_factor::update_provider(state, ctx, id, p, true).await
        }
        (Route::Provider(id, p), Method::DELETE) => {
            multi_factor::delete_provider(state, ctx, id, p).await
        }
        (Route::SystemProviders, _) => multi_factor::list_system_providers(state, ctx).await,
        (Route::SystemProvider(p), Method::GET) => {
            multi_factor::get_system_provider(state, ctx, p).await
        }
        (Route::SystemProvider(p), Method::POST) => {
            multi_factor::update_system_provider(state, ctx, p, false).await
        }
        (Route::SystemProvider(p), Method::PATCH) => {
            multi_factor::update_system_provider(state, ctx, p, true).await
        }
        (Route::UserTotp(id, user), _) => multi_factor::enroll_totp(state, ctx, id, user).await,
        (Route::UserAuth, _) => authenticators::user_auth(state, ctx).await,
        (Route::ApiAuth, _) => authenticators::api_auth(state, ctx).await,
        (Route::IpAuth, _) => authenticators::ip_auth(state, ctx).await,
        (Route::Refresh, _) => authenticators::refresh(state, ctx).await,
        (Route::Health, _) => Ok(ops::health()),
        (Route::Ready, _) => ops::ready(state).await,
        (Route::Metrics, _) => Ok(ops::metrics(state)),
        (Route::OpenApi, _) => Ok(ops::openapi()),
        _ => Err(ApiError::NotFound),
    }
}

/// Authenticates the request's token.
pub async fn caller(state: &AppState, ctx: &Ctx) -> Result<Authenticated, ApiError> {
    let token = ctx.token.as_deref().ok_or(ApiError::Unauthorized)?;
    Ok(authenticate(state, token).await?)
}

/// Who is writing, for the private fields of a document saved for a client.
pub fn write_meta<'a>(
    state: &AppState,
    ctx: &'a Ctx,
    who: &'a Authenticated,
    account: &'a AccountId,
) -> WriteMeta<'a> {
    WriteMeta {
        account,
        now_gregorian: to_gregorian(state.clock.now()),
        request_id: &ctx.request_id,
        auth_account_id: &who.caller.account_id,
        auth_user_id: who.caller.owner_id.as_deref(),
    }
}

/// The account named in the path, if it exists and `who` may manage its security.
pub async fn managed_account(
    state: &AppState,
    who: &Authenticated,
    raw_id: &str,
) -> Result<Account, ApiError> {
    let id = AccountId::parse(raw_id).ok_or_else(|| ApiError::BadIdentifier(raw_id.to_string()))?;
    let account = state
        .store
        .account(&id)
        .await?
        .ok_or_else(|| ApiError::BadIdentifier(raw_id.to_string()))?;
    if !may_manage_account(&who.caller, id.as_str(), &account.tree) {
        return Err(ApiError::Forbidden);
    }
    Ok(account)
}

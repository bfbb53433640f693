//! `GET /v2/security`: which auth modules can be configured.

use serde_json::{Value, json};

use super::caller;
use crate::domain::merge::AUTH_MODULES;
use crate::http::envelope::Reply;
use crate::http::error::ApiError;
use crate::http::request::Ctx;
use crate::state::AppState;

/// Lists the modules under both keys Kazoo has used for them.
pub async fn list_modules(state: &AppState, ctx: &Ctx) -> Result<Reply, ApiError> {
    caller(state, ctx).await?;
    let system = state.store.system_config("crossbar.auth").await?;
    let configured = ["available_auth_modules", "available_auth_methods"]
        .iter()
        .find_map(|key| usable_list(&system[*key]));
    let modules = configured.unwrap_or_else(|| json!(AUTH_MODULES));
    Ok(Reply::ok(json!({
        "available_auth_modules": modules,
        "available_auth_methods": modules,
    })))
}

fn usable_list(value: &Value) -> Option<Value> {
    let list = value.as_array()?;
    let usable = list
        .iter()
        .all(|v| v.as_str().is_some_and(|s| !s.is_empty()));
    usable.then(|| value.clone())
}

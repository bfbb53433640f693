//! `/v2/accounts/{A}/security/attempts`: the login-attempt audit trail, paged across months.

use serde_json::{Map, Value, json};

use super::{caller, managed_account};
use crate::domain::cursor::Cursor;
use crate::domain::ids::attempt_month;
use crate::domain::merge::public_part;
use crate::domain::time::to_gregorian;
use crate::http::envelope::Reply;
use crate::http::error::ApiError;
use crate::http::request::Ctx;
use crate::state::AppState;
use crate::store::attempts::AttemptQuery;

/// The widest range one listing may span: 31 days and an hour.
pub const MAX_RANGE_S: i64 = 2_682_000;
const DEFAULT_PAGE_SIZE: usize = 50;
const MAX_PAGE_SIZE: usize = 1000;

/// Filters a listing accepts, each matched against the row field of the same name.
const FILTERS: [(&str, &str); 4] = [
    ("filter_status", "status"),
    ("filter_auth_module", "auth_module"),
    ("filter_auth_type", "auth_type"),
    ("filter_client_ip", "client_ip"),
];

/// `GET …/security/attempts`.
pub async fn list_attempts(state: &AppState, ctx: &Ctx, raw_id: &str) -> Result<Reply, ApiError> {
    list(state, ctx, raw_id, None).await
}

/// Lists the account's attempts, all or those of one `auth_type`.
pub async fn list(
    state: &AppState,
    ctx: &Ctx,
    raw_id: &str,
    auth_type: Option<&'static str>,
) -> Result<Reply, ApiError> {
    let who = caller(state, ctx).await?;
    let account = managed_account(state, &who, raw_id).await?;
    let query = listing_query(ctx, to_gregorian(state.clock.now()))?;

    let request = AttemptQuery {
        account: &account.id,
        from: query.from,
        to: query.to,
        ascending: query.ascending,
        page_size: query.page_size,
        start: query.start.clone(),
        filters: query.filters.clone(),
        auth_type,
    };
    let page = state.store.list_attempts(&request).await?;

    let mut reply = Reply::ok(Value::Array(page.rows.clone()));
    if query.page_size.is_some() {
        reply
            .extra
            .insert("page_size".into(), json!(page.rows.len()));
        let start_key = match (&query.start, page.rows.first()) {
            (Some(start), _) => Some(start.encode()),
            (None, Some(first)) => Some(row_cursor(first).encode()),
            (None, None) => None,
        };
        if let Some(start_key) = start_key {
            reply.extra.insert("start_key".into(), json!(start_key));
        }
        if let Some(next) = page.next {
            reply
                .extra
                .insert("next_start_key".into(), json!(next.encode()));
        }
    }
    Ok(reply)
}

/// `GET …/security/attempts/{ID}`: one attempt in full. The id is checked before CouchDB is.
pub async fn get_attempt(
    state: &AppState,
    ctx: &Ctx,
    raw_id: &str,
    attempt_id: &str,
) -> Result<Reply, ApiError> {
    let who = caller(state, ctx).await?;
    let account = managed_account(state, &who, raw_id).await?;
    let not_found = || ApiError::BadIdentifier(attempt_id.to_string());
    let month = attempt_month(attempt_id).ok_or_else(not_found)?;

    let doc = state
        .store
        .attempt(&account.id, month, attempt_id)
        .await?
        .ok_or_else(not_found)?;
    let mut data = public_part(&doc);
    data.insert("id".into(), json!(attempt_id));
    let revision = doc["_rev"].as_str().map(str::to_string);
    Ok(Reply::ok(Value::Object(data)).with_revision(revision))
}

struct ListingQuery {
    from: i64,
    to: i64,
    ascending: bool,
    page_size: Option<usize>,
    start: Option<Cursor>,
    filters: Vec<(&'static str, String)>,
}

fn listing_query(ctx: &Ctx, now_gregorian: i64) -> Result<ListingQuery, ApiError> {
    let number = |key: &str| {
        ctx.query
            .get(key)
            .and_then(|v| v.trim().parse::<i64>().ok())
    };
    let to = number("created_to").unwrap_or(now_gregorian);
    let from = number("created_from").unwrap_or(to.saturating_sub(MAX_RANGE_S));
    if to < from {
        let message = format!("created_to {to} is prior to created_from {from}");
        return Err(range_error(message));
    }
    // Both ends are the client's: their difference can exceed the 64-bit range.
    if to.checked_sub(from).is_none_or(|span| span > MAX_RANGE_S) {
        let message =
            format!("created_to {to} is more than {MAX_RANGE_S} seconds from created_from {from}");
        return Err(range_error(message));
    }

    let paginate = ctx.query.get("paginate").is_none_or(|v| v != "false");
    let page_size = match ctx.query.get("page_size") {
        None => DEFAULT_PAGE_SIZE,
        Some(text) => text
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
            .ok_or_else(|| {
                let message = format!("page_size must be a whole number from 1 to {MAX_PAGE_SIZE}");
                ApiError::invalid("page_size", "type", message)
            })?,
    };
    let start = match ctx.query.get("start_key") {
        Some(text) if paginate => Some(Cursor::parse(text).ok_or_else(|| {
            ApiError::invalid(
                "start_key",
                "type",
                "start_key is not a key this listing gave out",
            )
        })?),
        _ => None,
    };
    let filters = FILTERS
        .iter()
        .filter_map(|(param, field)| ctx.query.get(*param).map(|v| (*field, v.clone())))
        .collect();
    Ok(ListingQuery {
        from,
        to,
        ascending: ctx.query.get("ascending").is_some_and(|v| v == "true"),
        page_size: paginate.then_some(page_size),
        start,
        filters,
    })
}

fn range_error(message: String) -> ApiError {
    let mut errors = Map::new();
    errors.insert(
        "created_from".into(),
        json!({"date_range": {"message": message}}),
    );
    ApiError::Validation {
        message: "validation error",
        errors,
    }
}

fn row_cursor(row: &Value) -> Cursor {
    Cursor {
        timestamp: row["timestamp"].as_i64().unwrap_or_default(),
        doc_id: row["id"].as_str().map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(pairs: &[(&str, &str)]) -> Result<ListingQuery, ApiError> {
        let ctx = Ctx {
            request_id: "test".into(),
            method: hyper::Method::GET,
            query: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: None,
            token: None,
            client_ip: [127, 0, 0, 1].into(),
            headers: Vec::new(),
        };
        listing_query(&ctx, 63_871_286_400)
    }

    #[test]
    fn ranges_at_the_ends_of_i64_are_refused_without_overflowing() {
        let min = i64::MIN.to_string();
        let max = i64::MAX.to_string();
        assert!(listing(&[("created_to", &min)]).is_ok());
        assert!(listing(&[("created_to", &max), ("created_from", "-1")]).is_err());
        assert!(listing(&[("created_to", &max), ("created_from", &min)]).is_err());
    }

    #[test]
    fn a_start_key_at_the_end_of_time_is_read() {
        let min = i64::MIN.to_string();
        let query = listing(&[("start_key", &min)]).unwrap();
        assert_eq!(query.start.map(|c| c.timestamp), Some(i64::MIN));
    }
}

//! Reading login attempts from month databases, a page at a time.

use serde_json::{Map, Value, json};

use super::designs::MONTH_AUTH;
use super::{Store, StoreError, ViewQuery, live};
use crate::domain::cursor::Cursor;
use crate::domain::ids::{AccountId, attempt_month};
use crate::domain::time::{to_unix, utc_month};

/// The fields of an attempt that listings show.
const SUMMARY_FIELDS: [&str; 7] = [
    "id",
    "auth_type",
    "auth_module",
    "status",
    "message",
    "timestamp",
    "client_ip",
];

/// Rows fetched from CouchDB at a time while filling a page.
const BATCH: usize = 1000;

/// What to list.
pub struct AttemptQuery<'a> {
    pub account: &'a AccountId,
    /// Gregorian seconds, inclusive.
    pub from: i64,
    pub to: i64,
    pub ascending: bool,
    /// `None` lists everything in the range.
    pub page_size: Option<usize>,
    pub start: Option<Cursor>,
    /// Field and value every row must have.
    pub filters: Vec<(&'static str, String)>,
    /// Restricts to one `auth_type`, through `login_attempt_by_auth_type`.
    pub auth_type: Option<&'static str>,
}

/// One page.
pub struct AttemptPage {
    pub rows: Vec<Value>,
    /// The first row of the next page, when there is one.
    pub next: Option<Cursor>,
}

impl Store {
    /// Lists attempts across the existing month databases of the range, newest first unless
    /// ascending. Rows of one second are ordered by document id, so a cursor of key and id
    /// resumes exactly where a page ended.
    pub async fn list_attempts(&self, query: &AttemptQuery<'_>) -> Result<AttemptPage, StoreError> {
        let limit = query.page_size.unwrap_or(usize::MAX);
        let mut rows = Vec::new();
        let start_month = query
            .start
            .as_ref()
            .map(|c| utc_month(to_unix(c.timestamp)));
        for (year, month) in months_between(query.from, query.to, query.ascending) {
            if let Some(start) = start_month {
                let before_start = if query.ascending {
                    (year, month) < start
                } else {
                    (year, month) > start
                };
                if before_start {
                    continue;
                }
            }
            let db = query.account.month_db(year, month);
            if !self.db_exists(&db).await? {
                continue;
            }
            let resume = query
                .start
                .clone()
                .filter(|_| start_month == Some((year, month)));
            if let Some(next) = self
                .scan_month(&db, query, resume, limit, &mut rows)
                .await?
            {
                return Ok(AttemptPage {
                    rows,
                    next: Some(next),
                });
            }
        }
        Ok(AttemptPage { rows, next: None })
    }

    /// Adds the month's matching rows to `rows` until `limit`; answers the next page's first
    /// row if the page filled up and another matching row exists.
    ///
    /// Rows of one key come in document-id order on CouchDB and pouchdb alike, but only
    /// CouchDB honours `startkey_docid`; so a page resumes at its key with `skip` counting
    /// the rows of that key already passed, and drops those before the cursor's id itself.
    async fn scan_month(
        &self,
        db: &str,
        query: &AttemptQuery<'_>,
        resume: Option<Cursor>,
        limit: usize,
        rows: &mut Vec<Value>,
    ) -> Result<Option<Cursor>, StoreError> {
        let (first, last) = if query.ascending {
            (query.from, query.to)
        } else {
            (query.to, query.from)
        };
        let key = |t: i64| match query.auth_type {
            Some(auth_type) => json!([auth_type, t]),
            None => json!(t),
        };
        let view = if query.auth_type.is_some() {
            "login_attempt_by_auth_type"
        } else {
            "login_attempt_by_time"
        };
        let before_cursor = |t: i64, id: &str| match &resume {
            Some(Cursor {
                timestamp,
                doc_id: Some(cursor_id),
            }) if *timestamp == t => {
                if query.ascending {
                    id < cursor_id.as_str()
                } else {
                    id > cursor_id.as_str()
                }
            }
            _ => false,
        };
        // The key the next batch starts at, and how many rows of that key were passed.
        let mut at = (resume.as_ref().map_or(first, |c| c.timestamp), 0usize);
        let mut passed_cursor = resume.as_ref().is_none_or(|c| c.doc_id.is_none());
        loop {
            // Unfiltered and past the cursor, a page needs only its rows and one to peek at;
            // before the cursor, or filtered, rows may be passed over, so read more at once.
            let wanted = limit.saturating_sub(rows.len()).saturating_add(1);
            let batch_size = if query.filters.is_empty() && passed_cursor {
                wanted.min(BATCH)
            } else {
                BATCH
            };
            let view_query = ViewQuery {
                start_key: Some(key(at.0)),
                end_key: Some(key(last)),
                limit: Some(batch_size),
                skip: (at.1 > 0).then_some(at.1),
                descending: !query.ascending,
                ..Default::default()
            };
            let batch = self.couch.view(db, &MONTH_AUTH, view, &view_query).await?;
            for row in &batch {
                let timestamp = row_timestamp(&row.key);
                at = if timestamp == at.0 {
                    (at.0, at.1 + 1)
                } else {
                    (timestamp, 1)
                };
                if before_cursor(timestamp, &row.id) {
                    continue;
                }
                passed_cursor = true;
                let summary = summary(&row.id, &row.value);
                if !query
                    .filters
                    .iter()
                    .all(|(field, value)| summary[*field] == json!(value))
                {
                    continue;
                }
                if rows.len() == limit {
                    return Ok(Some(Cursor {
                        timestamp,
                        doc_id: Some(row.id.clone()),
                    }));
                }
                rows.push(summary);
            }
            if batch.len() < batch_size {
                return Ok(None);
            }
        }
    }

    /// One attempt document of an account, if live and really a login attempt of it.
    pub async fn attempt(
        &self,
        account: &AccountId,
        (year, month): (i32, u32),
        id: &str,
    ) -> Result<Option<Value>, StoreError> {
        let db = account.month_db(year, month);
        if !self.db_exists(&db).await? {
            return Ok(None);
        }
        let doc = live(self.couch.get(&db, id).await?);
        Ok(doc.filter(|d| {
            d["pvt_type"] == "login_attempt"
                && d.get("pvt_account_id")
                    .is_none_or(|owner| owner == account.as_str())
        }))
    }
}

impl Store {
    /// The whole documents of listed attempt rows, in the rows' order, read with one request
    /// per month database. A row whose document vanished meanwhile is left out.
    pub async fn attempts_in_full(
        &self,
        account: &AccountId,
        rows: &[Value],
    ) -> Result<Vec<Value>, StoreError> {
        let month_of = |row: &Value| {
            let id = row["id"].as_str().unwrap_or_default();
            attempt_month(id).or_else(|| row["timestamp"].as_i64().map(|t| utc_month(to_unix(t))))
        };
        let mut months: Vec<(i32, u32)> = rows.iter().filter_map(month_of).collect();
        months.sort();
        months.dedup();

        let mut docs = std::collections::HashMap::new();
        for (year, month) in months {
            let ids: Vec<String> = rows
                .iter()
                .filter(|row| month_of(row) == Some((year, month)))
                .filter_map(|row| row["id"].as_str().map(str::to_string))
                .collect();
            let db = account.month_db(year, month);
            let found = self.couch.get_many(&db, &ids).await?;
            docs.extend(ids.into_iter().zip(found));
        }
        Ok(rows
            .iter()
            .filter_map(|row| docs.remove(row["id"].as_str()?).flatten())
            .filter(|doc| !super::is_soft_deleted(doc))
            .collect())
    }
}

impl Store {
    /// Timestamps of failed attempts from `client_ip` in `[from, to]` (Gregorian), read from
    /// the month databases the range touches.
    pub async fn failed_attempt_times(
        &self,
        account: &AccountId,
        client_ip: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<i64>, StoreError> {
        let mut times = Vec::new();
        for (year, month) in months_between(from, to, true) {
            let db = account.month_db(year, month);
            if !self.db_exists(&db).await? {
                continue;
            }
            let query = ViewQuery {
                start_key: Some(json!(["failed", from])),
                end_key: Some(json!(["failed", to])),
                ..Default::default()
            };
            let rows = self
                .couch
                .view(&db, &MONTH_AUTH, "login_attempt_by_status", &query)
                .await?;
            times.extend(
                rows.iter()
                    .filter(|row| row.value["client_ip"] == client_ip)
                    .map(|row| row_timestamp(&row.key)),
            );
        }
        Ok(times)
    }
}

fn row_timestamp(key: &Value) -> i64 {
    key.as_i64()
        .or_else(|| key.get(1).and_then(Value::as_i64))
        .unwrap_or_default()
}

fn summary(id: &str, value: &Value) -> Value {
    let mut row = Map::new();
    for field in SUMMARY_FIELDS {
        if let Some(v) = value.get(field) {
            row.insert(field.into(), v.clone());
        }
    }
    row.insert("id".into(), json!(id));
    Value::Object(row)
}

/// The UTC months touched by a Gregorian range, in listing order.
pub fn months_between(from: i64, to: i64, ascending: bool) -> Vec<(i32, u32)> {
    let (mut year, mut month) = utc_month(to_unix(from));
    let end = utc_month(to_unix(to));
    let mut months = Vec::new();
    while (year, month) <= end && months.len() < 1200 {
        months.push((year, month));
        (year, month) = if month == 12 {
            (year + 1, 1)
        } else {
            (year, month + 1)
        };
    }
    if !ascending {
        months.reverse();
    }
    months
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_over_new_year_touches_both_months() {
        assert_eq!(
            months_between(63_871_282_800, 63_871_290_000, false),
            vec![(2024, 1), (2023, 12)]
        );
        assert_eq!(
            months_between(63_871_282_800, 63_871_290_000, true),
            vec![(2023, 12), (2024, 1)]
        );
        assert_eq!(
            months_between(63_872_532_000, 63_872_532_000, true),
            vec![(2024, 1)]
        );
    }
}

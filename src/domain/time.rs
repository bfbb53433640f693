//! The two clocks: Gregorian seconds in CouchDB documents, Unix seconds in tokens.

use chrono::{DateTime, Datelike, SecondsFormat};

/// Seconds from 0000-01-01T00:00:00Z to the Unix epoch.
pub const GREGORIAN_OFFSET: i64 = 62_167_219_200;

/// Unix seconds to Gregorian seconds. Clients send seconds (`start_key`, `created_to`), so
/// the ends of `i64` saturate rather than overflow.
pub fn to_gregorian(unix: i64) -> i64 {
    unix.saturating_add(GREGORIAN_OFFSET)
}

/// Gregorian seconds to Unix seconds, saturating like `to_gregorian`.
pub fn to_unix(gregorian: i64) -> i64 {
    gregorian.saturating_sub(GREGORIAN_OFFSET)
}

/// The UTC `(year, month)` of a Unix time.
pub fn utc_month(unix: i64) -> (i32, u32) {
    let at = DateTime::from_timestamp(unix, 0).unwrap_or_default();
    (at.year(), at.month())
}

/// ISO-8601 UTC with seconds, as the envelope's `timestamp`.
pub fn iso8601(unix: i64) -> String {
    DateTime::from_timestamp(unix, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Which end of a range a date names: a bare day starts at 00:00:00 or ends at 23:59:59.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeEnd {
    Start,
    End,
}

/// Unix seconds of a date given as `YYYY-MM-DD` (UTC; the whole day, from its first or to
/// its last second), as RFC 3339 (`2024-03-09T14:20:05Z`), or as `now`.
pub fn parse_date(text: &str, end: RangeEnd, now_unix: i64) -> Option<i64> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("now") {
        return Some(now_unix);
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.timestamp());
    }
    let day = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    let time = match end {
        RangeEnd::Start => chrono::NaiveTime::MIN,
        RangeEnd::End => chrono::NaiveTime::from_hms_opt(23, 59, 59)?,
    };
    Some(day.and_time(time).and_utc().timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gregorian_and_unix_differ_by_the_epoch_offset() {
        assert_eq!(to_gregorian(1_709_994_005), 63_877_213_205);
        assert_eq!(to_unix(63_871_286_400), 1_704_067_200);
    }

    #[test]
    fn the_ends_of_the_range_saturate() {
        // Found by the `cursor` fuzz target: `start_key=-9223372036854775808` overflowed.
        assert_eq!(to_unix(i64::MIN), i64::MIN);
        assert_eq!(to_gregorian(i64::MAX), i64::MAX);
        assert_eq!(utc_month(to_unix(i64::MIN)), (1970, 1));
    }

    #[test]
    fn months_are_utc() {
        assert_eq!(utc_month(1_704_067_199), (2023, 12));
        assert_eq!(utc_month(1_704_067_200), (2024, 1));
        assert_eq!(iso8601(1_704_067_200), "2024-01-01T00:00:00Z");
    }

    #[test]
    fn dates_are_whole_utc_days_unless_a_time_is_given() {
        let start = parse_date("2024-01-01", RangeEnd::Start, 0);
        assert_eq!(start, Some(1_704_067_200));
        let end = parse_date("2023-12-31", RangeEnd::End, 0);
        assert_eq!(end, Some(1_704_067_199));
        let exact = parse_date("2024-03-09T15:20:05+01:00", RangeEnd::End, 0);
        assert_eq!(exact, Some(1_709_994_005));
        assert_eq!(parse_date("now", RangeEnd::Start, 42), Some(42));
        assert_eq!(parse_date("2024-13-01", RangeEnd::Start, 0), None);
        assert_eq!(parse_date("yesterday", RangeEnd::Start, 0), None);
    }
}

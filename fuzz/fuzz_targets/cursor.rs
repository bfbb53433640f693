//! `start_key` of attempt listings: any text is refused or read without a panic, a cursor
//! read back from its own encoding is the same cursor, and the listing can place every
//! accepted cursor in a month.
#![no_main]

use kazoo_security::domain::cursor::Cursor;
use kazoo_security::domain::time::{to_unix, utc_month};
use kazoo_security::store::attempts::months_between;
use libfuzzer_sys::fuzz_target;

/// The longest document id a cursor carries.
const MAX_ID_BYTES: usize = 64;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };

    if let Some(cursor) = Cursor::parse(text) {
        assert_eq!(Cursor::parse(&cursor.encode()).as_ref(), Some(&cursor));
        // What `list_attempts` does with the cursor of a request.
        let _ = utc_month(to_unix(cursor.timestamp));
        assert!(months_between(cursor.timestamp, cursor.timestamp, true).len() <= 1);
    }

    // Any second and any id make a cursor; ids too long to be ours are refused on the way in.
    let mut second = [0u8; 8];
    let n = data.len().min(8);
    second[..n].copy_from_slice(&data[..n]);
    let made = Cursor {
        timestamp: i64::from_le_bytes(second),
        doc_id: Some(text.to_string()),
    };
    let encoded = made.encode();
    let url_safe = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    assert!(encoded.bytes().all(url_safe), "{encoded}");
    let read = Cursor::parse(&encoded);
    if text.len() <= MAX_ID_BYTES {
        assert_eq!(read, Some(made));
    } else {
        assert_eq!(read, None);
    }
});

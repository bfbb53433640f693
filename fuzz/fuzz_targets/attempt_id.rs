//! Login-attempt ids (`YYYYMM-<32 hex>`) and raw account ids from the URL path: refused or
//! accepted without a panic, and an accepted id names a real month and nothing but itself.
#![no_main]

use kazoo_security::domain::ids::{AccountId, attempt_month, is_raw_id};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };

    if let Some((year, month)) = attempt_month(text) {
        assert!((0..=9999).contains(&year), "{text}");
        assert!((1..=12).contains(&month), "{text}");
        let (_, raw) = text.split_once('-').expect("an attempt id has a dash");
        assert_eq!(format!("{year:04}{month:02}-{raw}"), text);
        let account = AccountId::parse(raw).expect("an attempt id ends in a raw id");
        let month_db = account.month_db(year, month);
        assert!(month_db.ends_with(&format!("-{year:04}{month:02}")));
    }

    match AccountId::parse(text) {
        Some(id) => {
            assert!(is_raw_id(text));
            assert_eq!(id.as_str(), text);
            assert_eq!(id.db().replace('/', ""), format!("account{text}"));
            assert!(!id.encoded_db().contains('/'));
        }
        None => assert!(!is_raw_id(text)),
    }
});

//! Identifiers: raw account ids and the database names Kazoo derives from them.

use std::fmt;

/// A raw account (or user, or document) id: exactly 32 lowercase hex characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(String);

impl AccountId {
    /// Accepts only the raw form; anything else is not an id Kazoo would have made.
    pub fn parse(text: &str) -> Option<Self> {
        is_raw_id(text).then(|| AccountId(text.to_string()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The account database name, unencoded: `account/0d/1c/678f…`.
    pub fn db(&self) -> String {
        let id = &self.0;
        format!("account/{}/{}/{}", &id[0..2], &id[2..4], &id[4..])
    }

    /// The account database name as Kazoo stores it in `pvt_account_db`: `/` as `%2F`.
    pub fn encoded_db(&self) -> String {
        self.db().replace('/', "%2F")
    }

    /// The month database of `(year, month)`, unencoded: `account/0d/1c/678f…-202403`.
    pub fn month_db(&self, year: i32, month: u32) -> String {
        format!("{}-{year:04}{month:02}", self.db())
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `text` is 32 lowercase hex characters.
pub fn is_raw_id(text: &str) -> bool {
    text.len() == 32
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The UTC `(year, month)` named by a login-attempt id `YYYYMM-<32 hex>`, if well formed.
pub fn attempt_month(id: &str) -> Option<(i32, u32)> {
    let (prefix, rest) = id.split_once('-')?;
    if prefix.len() != 6 || !prefix.bytes().all(|b| b.is_ascii_digit()) || !is_raw_id(rest) {
        return None;
    }
    let year: i32 = prefix[..4].parse().ok()?;
    let month: u32 = prefix[4..].parse().ok()?;
    (1..=12).contains(&month).then_some((year, month))
}

/// A fresh random raw id.
pub fn new_raw_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_database_names_split_the_id_like_kazoo() {
        let id = AccountId::parse("0d1c678f5cb1c4e04cab2066f0b4adbe").unwrap();
        assert_eq!(id.db(), "account/0d/1c/678f5cb1c4e04cab2066f0b4adbe");
        assert_eq!(
            id.encoded_db(),
            "account%2F0d%2F1c%2F678f5cb1c4e04cab2066f0b4adbe"
        );
        assert_eq!(
            id.month_db(2024, 3),
            "account/0d/1c/678f5cb1c4e04cab2066f0b4adbe-202403"
        );
    }

    #[test]
    fn only_lowercase_hex_of_length_32_is_an_account_id() {
        assert!(AccountId::parse("0d1c678f5cb1c4e04cab2066f0b4adbe").is_some());
        assert!(AccountId::parse("0D1C678F5CB1C4E04CAB2066F0B4ADBE").is_none());
        assert!(AccountId::parse("0d1c678f5cb1c4e04cab2066f0b4adb").is_none());
        assert!(AccountId::parse("0d1c678f5cb1c4e04cab2066f0b4adbz").is_none());
        assert!(AccountId::parse("../../../../../../../../../../..").is_none());
        assert_eq!(new_raw_id().len(), 32);
    }

    #[test]
    fn attempt_ids_name_their_month() {
        let hex = "1bb1d71421cb86f5fb4140c0f771ce85";
        assert_eq!(attempt_month(&format!("202403-{hex}")), Some((2024, 3)));
        for bad in [
            "not-a-modb-id",
            "abcdef-1234",
            &format!("202413-{hex}"),
            &format!("202400-{hex}"),
            &format!("20240-{hex}"),
            &format!("202403-{hex}x"),
            &format!("202403_{hex}"),
            &format!("2024031{hex}"),
        ] {
            assert_eq!(attempt_month(bad), None, "{bad}");
        }
        assert!(is_raw_id(&new_raw_id()));
    }
}

//! Paging cursors for login-attempt listings.
//!
//! Kazoo pages on the timestamp alone, so attempts of the same second repeat or vanish
//! between pages. Our `next_start_key` names the first row of the next page by its view key
//! *and* document id, so every row appears exactly once. Kazoo's own encoded keys and plain
//! integers are still accepted; they name a second, not a row.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// Where a page starts: a Gregorian second, and within it a document id (inclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub timestamp: i64,
    pub doc_id: Option<String>,
}

impl Cursor {
    /// The opaque text handed to clients as `next_start_key`.
    pub fn encode(&self) -> String {
        let body = json!([self.timestamp, self.doc_id]).to_string();
        URL_SAFE_NO_PAD.encode(body)
    }

    /// Reads a `start_key`: our cursor, a plain integer, or a Kazoo-encoded integer.
    pub fn parse(text: &str) -> Option<Cursor> {
        if let Ok(timestamp) = text.parse::<i64>() {
            return Some(Cursor {
                timestamp,
                doc_id: None,
            });
        }
        let bytes = URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()?;
        match bytes.first()? {
            131 => erlang_integer(&bytes[1..]).map(|timestamp| Cursor {
                timestamp,
                doc_id: None,
            }),
            b'[' => {
                let value: Value = serde_json::from_slice(&bytes).ok()?;
                let timestamp = value.get(0)?.as_i64()?;
                let doc_id = match value.get(1)? {
                    Value::Null => None,
                    Value::String(id) if id.len() <= 64 => Some(id.clone()),
                    _ => return None,
                };
                (value.as_array()?.len() == 2).then_some(Cursor { timestamp, doc_id })
            }
            _ => None,
        }
    }
}

/// Decodes an Erlang external-term integer (after the version byte 131).
fn erlang_integer(term: &[u8]) -> Option<i64> {
    match term {
        [97, byte] => Some(i64::from(*byte)),
        [98, a, b, c, d] => Some(i64::from(i32::from_be_bytes([*a, *b, *c, *d]))),
        [110, n, sign, digits @ ..] if usize::from(*n) == digits.len() && digits.len() <= 8 => {
            let mut magnitude: u64 = 0;
            for (i, byte) in digits.iter().enumerate() {
                magnitude |= u64::from(*byte) << (8 * i);
            }
            let magnitude = i64::try_from(magnitude).ok()?;
            match sign {
                0 => Some(magnitude),
                1 => Some(-magnitude),
                _ => None,
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_cursors_round_trip() {
        let cursor = Cursor {
            timestamp: 63_871_286_410,
            doc_id: Some("202401-ab".into()),
        };
        assert_eq!(Cursor::parse(&cursor.encode()), Some(cursor));
    }

    #[test]
    fn plain_integers_and_kazoo_keys_name_a_second() {
        assert_eq!(
            Cursor::parse("63871286410").unwrap().timestamp,
            63_871_286_410
        );
        // 131, 110 (small big), 5 bytes, positive, little-endian 63871286410
        let value: u64 = 63_871_286_410;
        let mut term = vec![131, 110, 5, 0];
        term.extend_from_slice(&value.to_le_bytes()[..5]);
        let key = URL_SAFE_NO_PAD.encode(&term);
        assert_eq!(Cursor::parse(&key).unwrap().timestamp, 63_871_286_410);
        assert_eq!(
            Cursor::parse(&URL_SAFE_NO_PAD.encode([131, 97, 7]))
                .unwrap()
                .timestamp,
            7
        );
        let int = URL_SAFE_NO_PAD.encode([131, 98, 0, 0, 1, 0]);
        assert_eq!(Cursor::parse(&int).unwrap().timestamp, 256);
    }

    #[test]
    fn garbage_is_not_a_cursor() {
        for text in [
            "",
            "!!",
            "e30",
            "WzEsMiwzXQ",
            &URL_SAFE_NO_PAD.encode([131, 110, 9, 0]),
        ] {
            assert_eq!(Cursor::parse(text), None, "{text}");
        }
    }
}

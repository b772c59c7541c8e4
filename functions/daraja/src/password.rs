//! STK `Password` and `Timestamp`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};

const EAT_OFFSET_SECS: i32 = 3 * 3600;
const TIMESTAMP_FORMAT: &str = "%Y%m%d%H%M%S";

fn eat() -> FixedOffset {
    // 3 h is always within FixedOffset's +-24 h range.
    FixedOffset::east_opt(EAT_OFFSET_SECS).unwrap_or_else(|| unreachable!())
}

/// `base64(shortcode + passkey + timestamp)`, the STK push/query `Password`.
pub fn stk_password(shortcode: &str, passkey: &str, timestamp: &str) -> String {
    let mut raw = String::with_capacity(shortcode.len() + passkey.len() + timestamp.len());
    raw.push_str(shortcode);
    raw.push_str(passkey);
    raw.push_str(timestamp);
    STANDARD.encode(raw)
}

/// `now` as Daraja's `YYYYMMDDHHmmss` in Africa/Nairobi time (UTC+3, no daylight saving).
pub fn timestamp_eat(now: DateTime<Utc>) -> String {
    now.with_timezone(&eat()).format(TIMESTAMP_FORMAT).to_string()
}

/// Reads a Daraja `YYYYMMDDHHmmss` (Nairobi time: `TransTime`, `TransactionDate`) back to UTC.
/// Exactly 14 digits, else `None`.
pub fn parse_timestamp_eat(text: &str) -> Option<DateTime<Utc>> {
    if text.len() != 14 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let naive = NaiveDateTime::parse_from_str(text, TIMESTAMP_FORMAT).ok()?;
    eat().from_local_datetime(&naive).single().map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SHORTCODE: &str = "174379";
    const PASSKEY: &str = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919";

    #[test]
    fn stk_password_doc_vector_matches() {
        assert_eq!(
            stk_password(SHORTCODE, PASSKEY, "20210628092408"),
            "MTc0Mzc5YmZiMjc5ZjlhYTliZGJjZjE1OGU5N2RkNzFhNDY3Y2QyZTBjODkzMDU5YjEwZjc4ZTZiNzJhZGExZWQyYzkxOTIwMjEwNjI4MDkyNDA4"
        );
    }

    #[test]
    fn stk_password_computed_vector_matches() {
        assert_eq!(
            stk_password(SHORTCODE, PASSKEY, "20240101120000"),
            "MTc0Mzc5YmZiMjc5ZjlhYTliZGJjZjE1OGU5N2RkNzFhNDY3Y2QyZTBjODkzMDU5YjEwZjc4ZTZiNzJhZGExZWQyYzkxOTIwMjQwMTAxMTIwMDAw"
        );
    }

    #[test]
    fn timestamp_eat_utc_evening_rolls_to_next_day() {
        let t = Utc.with_ymd_and_hms(2023, 12, 31, 22, 30, 5).unwrap();
        assert_eq!(timestamp_eat(t), "20240101013005");
    }

    #[test]
    fn parse_timestamp_eat_bad_text_is_none() {
        assert_eq!(parse_timestamp_eat("2024010101300"), None);
        assert_eq!(parse_timestamp_eat("20241301013005"), None);
        assert_eq!(parse_timestamp_eat("2024010101300x"), None);
        assert_eq!(parse_timestamp_eat("+2024010101300"), None);
    }

    proptest! {
        #[test]
        fn timestamp_eat_roundtrip_is_identity(secs in 0i64..4_102_444_800) {
            let t = DateTime::<Utc>::from_timestamp(secs, 0).unwrap();
            prop_assert_eq!(parse_timestamp_eat(&timestamp_eat(t)), Some(t));
        }
    }
}

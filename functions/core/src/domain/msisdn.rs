//! Kenyan mobile numbers, normalised to `2547XXXXXXXX` / `2541XXXXXXXX`.

use serde::{Serialize, Serializer};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Msisdn(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a Kenyan mobile number (expected 07XXXXXXXX, 01XXXXXXXX, +2547XXXXXXXX or 2541XXXXXXXX)")]
pub struct MsisdnError;

impl Msisdn {
    /// Accepts `0712345678`, `712345678`, `+254712345678`, `254712345678`,
    /// with spaces or dashes, and the `01` range.
    pub fn parse(input: &str) -> Result<Msisdn, MsisdnError> {
        let digits: String = input.chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')')).collect();
        let digits = digits.strip_prefix('+').unwrap_or(&digits);
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(MsisdnError);
        }
        let national = if let Some(rest) = digits.strip_prefix("254") {
            rest
        } else if let Some(rest) = digits.strip_prefix('0') {
            rest
        } else {
            digits
        };
        if national.len() != 9 || !(national.starts_with('7') || national.starts_with('1')) {
            return Err(MsisdnError);
        }
        Ok(Msisdn(format!("254{national}")))
    }

    /// A number read back from a tenant's own database, which only ever stores parsed ones.
    /// Not re-checked: a row written by an older, looser version must stay readable.
    pub fn from_stored(s: String) -> Msisdn {
        Msisdn(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `2547****678`, for pages and logs.
    pub fn masked(&self) -> String {
        format!("{}****{}", &self.0[..4], &self.0[9..])
    }
}

impl fmt::Display for Msisdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A read-only view as `&str` (nothing can be written through it, so the parse stays true).
impl std::ops::Deref for Msisdn {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl schemars::JsonSchema for Msisdn {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Msisdn".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "string", "pattern": "^254[17][0-9]{8}$", "description": "2547XXXXXXXX or 2541XXXXXXXX"})
    }
}

impl Serialize for Msisdn {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msisdn_common_forms_normalise() {
        for s in ["0712345678", "712345678", "+254712345678", "254712345678", "0712 345 678", "+254-712-345-678"] {
            assert_eq!(Msisdn::parse(s).unwrap().as_str(), "254712345678", "{s}");
        }
        assert_eq!(Msisdn::parse("0110123456").unwrap().as_str(), "254110123456");
    }

    #[test]
    fn msisdn_wrong_length_or_prefix_is_rejected() {
        for s in ["", "07123", "0212345678", "25571234567", "2547123456789", "07x2345678", "94c392c3"] {
            assert!(Msisdn::parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn msisdn_masked_hides_middle() {
        assert_eq!(Msisdn::parse("0712345678").unwrap().masked(), "2547****678");
    }
}

//! Money in integer minor units. Never floats.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An amount in minor units (cents) of the platform currency, KES.
/// Negative amounts are debits in the ledger.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default, schemars::JsonSchema,
)]
#[serde(transparent)]
#[schemars(inline)]
pub struct Money(pub i64);

pub const CURRENCY: &str = "KES";

impl Money {
    pub const ZERO: Money = Money(0);

    pub fn cents(self) -> i64 {
        self.0
    }
    pub fn from_shillings(kes: i64) -> Money {
        Money(kes * 100)
    }
    /// Whole shillings, rounded up (M-Pesa takes whole shillings).
    pub fn whole_shillings_ceil(self) -> i64 {
        (self.0 + 99).div_euclid(100)
    }
    /// Parses a decimal amount like `"5"`, `"5.00"`, `"1500.5"` into cents.
    /// More than two decimals, signs, exponents or junk are refused.
    pub fn parse_decimal(s: &str) -> Option<Money> {
        let s = s.trim();
        let (whole, frac) = match s.split_once('.') {
            Some((w, f)) => (w, f),
            None => (s, ""),
        };
        if whole.is_empty() || whole.len() > 12 || !whole.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if s.contains('.') && frac.is_empty() {
            return None;
        }
        if frac.len() > 2 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let w: i64 = whole.parse().ok()?;
        let f: i64 = match frac.len() {
            0 => 0,
            1 => frac.parse::<i64>().ok()? * 10,
            _ => frac.parse().ok()?,
        };
        Some(Money(w * 100 + f))
    }
}

impl std::ops::Add for Money {
    type Output = Money;
    fn add(self, o: Money) -> Money {
        Money(self.0 + o.0)
    }
}
impl std::ops::Sub for Money {
    type Output = Money;
    fn sub(self, o: Money) -> Money {
        Money(self.0 - o.0)
    }
}
impl std::ops::Neg for Money {
    type Output = Money;
    fn neg(self) -> Money {
        Money(-self.0)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let a = self.0.unsigned_abs();
        write!(f, "{sign}KES {}.{:02}", a / 100, a % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn money_parse_decimal_accepts_daraja_forms() {
        assert_eq!(Money::parse_decimal("5.00"), Some(Money(500)));
        assert_eq!(Money::parse_decimal("1"), Some(Money(100)));
        assert_eq!(Money::parse_decimal("1500.5"), Some(Money(150050)));
    }

    #[test]
    fn money_parse_decimal_rejects_junk() {
        for s in ["", "-1", "1e3", "1.234", "abc", "1.", ".5", "1,000"] {
            assert_eq!(Money::parse_decimal(s), None, "{s}");
        }
    }

    #[test]
    fn money_display_shows_shillings_and_cents() {
        assert_eq!(Money(150050).to_string(), "KES 1500.50");
        assert_eq!(Money(-5).to_string(), "-KES 0.05");
    }

    proptest! {
        #[test]
        fn money_parse_decimal_round_trips(c in 0i64..10_000_000_000) {
            let s = format!("{}.{:02}", c / 100, c % 100);
            prop_assert_eq!(Money::parse_decimal(&s), Some(Money(c)));
        }
    }
}

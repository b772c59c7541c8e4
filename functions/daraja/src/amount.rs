//! Decimal KES amounts as exact integer cents.

/// Why a decimal amount text could not be turned into cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("empty amount")]
    Empty,
    #[error("negative amount")]
    Negative,
    #[error("zero amount")]
    Zero,
    #[error("not a plain decimal number")]
    NotDecimal,
    #[error("more precision than cents")]
    SubCent,
    #[error("amount too large")]
    TooLarge,
}

/// Parses a plain decimal (`"5"`, `"5.00"`, `"1.5"`, `"1.000"`) into cents, exactly.
///
/// Accepts digits with an optional `.` and fraction; digits past the second decimal place must be
/// zeros. Rejects signs (`-` is [`AmountError::Negative`], `+` is not decimal), exponents, spaces and
/// anything else. Zero is returned as `Ok(0)`; callers that need a positive amount check it.
pub fn parse_decimal_cents(text: &str) -> Result<u64, AmountError> {
    if text.is_empty() {
        return Err(AmountError::Empty);
    }
    if let Some(rest) = text.strip_prefix('-') {
        // "-0" / "-0.00" are still zero; anything else is a negative amount.
        return match parse_decimal_cents(rest) {
            Ok(0) => Ok(0),
            Ok(_) => Err(AmountError::Negative),
            Err(e) => Err(e),
        };
    }
    let (whole, frac) = match text.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (text, None),
    };
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AmountError::NotDecimal);
    }
    let mut cents: u64 = 0;
    for b in whole.bytes() {
        cents = cents.checked_mul(10).and_then(|c| c.checked_add(u64::from(b - b'0'))).ok_or(AmountError::TooLarge)?;
    }
    cents = cents.checked_mul(100).ok_or(AmountError::TooLarge)?;
    if let Some(frac) = frac {
        if frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AmountError::NotDecimal);
        }
        let bytes = frac.as_bytes();
        if bytes.iter().skip(2).any(|&b| b != b'0') {
            return Err(AmountError::SubCent);
        }
        let tens = u64::from(bytes[0] - b'0') * 10;
        let ones = bytes.get(1).map_or(0, |b| u64::from(b - b'0'));
        cents = cents.checked_add(tens + ones).ok_or(AmountError::TooLarge)?;
    }
    Ok(cents)
}

/// Renders cents as a decimal with two places: `150` -> `"1.50"`.
pub fn cents_to_decimal(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parse_decimal_cents_plain_forms_are_exact() {
        assert_eq!(parse_decimal_cents("1"), Ok(100));
        assert_eq!(parse_decimal_cents("1.00"), Ok(100));
        assert_eq!(parse_decimal_cents("5.5"), Ok(550));
        assert_eq!(parse_decimal_cents("0.01"), Ok(1));
        assert_eq!(parse_decimal_cents("1.000"), Ok(100));
        assert_eq!(parse_decimal_cents("250000.00"), Ok(25_000_000));
        assert_eq!(parse_decimal_cents("0"), Ok(0));
        assert_eq!(parse_decimal_cents("-0.00"), Ok(0));
    }

    #[test]
    fn parse_decimal_cents_bad_forms_are_rejected() {
        assert_eq!(parse_decimal_cents(""), Err(AmountError::Empty));
        assert_eq!(parse_decimal_cents("-1"), Err(AmountError::Negative));
        assert_eq!(parse_decimal_cents("1.005"), Err(AmountError::SubCent));
        assert_eq!(parse_decimal_cents("1e2"), Err(AmountError::NotDecimal));
        assert_eq!(parse_decimal_cents("1."), Err(AmountError::NotDecimal));
        assert_eq!(parse_decimal_cents(".5"), Err(AmountError::NotDecimal));
        assert_eq!(parse_decimal_cents("+1"), Err(AmountError::NotDecimal));
        assert_eq!(parse_decimal_cents(" 1"), Err(AmountError::NotDecimal));
        assert_eq!(parse_decimal_cents("1,000"), Err(AmountError::NotDecimal));
        assert_eq!(parse_decimal_cents("99999999999999999999"), Err(AmountError::TooLarge));
    }

    proptest! {
        #[test]
        fn cents_to_decimal_roundtrip_is_identity(c in 0u64..u64::MAX / 100) {
            prop_assert_eq!(parse_decimal_cents(&cents_to_decimal(c)), Ok(c));
        }

        #[test]
        fn parse_decimal_cents_arbitrary_text_never_panics(s in "\\PC{0,24}") {
            let _ = parse_decimal_cents(&s);
        }
    }
}

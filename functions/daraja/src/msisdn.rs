//! Kenyan mobile numbers as Daraja wants them (`2547XXXXXXXX`, `2541XXXXXXXX`).

/// True for `254` followed by `7` or `1` and 8 more digits.
pub fn is_valid_msisdn(msisdn: &str) -> bool {
    let b = msisdn.as_bytes();
    b.len() == 12 && b.iter().all(u8::is_ascii_digit) && msisdn.starts_with("254") && matches!(b[3], b'7' | b'1')
}

/// Normalises what people type (`0712 345 678`, `+254712345678`, `712345678`, `254712345678`)
/// to `254712345678`; `None` if it is not a Kenyan mobile number.
pub fn normalize_msisdn(input: &str) -> Option<String> {
    let digits: String = input.chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')')).collect();
    let digits = digits.strip_prefix('+').unwrap_or(&digits);
    let candidate = if let Some(rest) = digits.strip_prefix('0') {
        format!("254{rest}")
    } else if digits.len() == 9 {
        format!("254{digits}")
    } else {
        digits.to_owned()
    };
    is_valid_msisdn(&candidate).then_some(candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_msisdn_common_forms_give_254() {
        for input in ["0712345678", "+254712345678", "254712345678", "712345678", "0712 345-678"] {
            assert_eq!(normalize_msisdn(input).as_deref(), Some("254712345678"), "{input}");
        }
        assert_eq!(normalize_msisdn("0110000001").as_deref(), Some("254110000001"));
    }

    #[test]
    fn normalize_msisdn_non_mobile_is_none() {
        for input in ["", "0202345678", "25471234567", "2547123456789", "07123x5678", "+1 712345678"] {
            assert_eq!(normalize_msisdn(input), None, "{input}");
        }
    }
}

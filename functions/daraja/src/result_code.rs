//! STK result codes (callback `ResultCode`, query `ResultCode`).

use std::fmt;

/// The outcome code of an STK transaction. A number in callbacks, a string in query responses;
/// both parse to the same value. Unknown codes are kept verbatim in [`ResultCode::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ResultCode {
    /// 0: paid.
    Success,
    /// 1: the customer's balance is insufficient.
    InsufficientBalance,
    /// 2: below the minimum amount (KES 1).
    BelowMinimum,
    /// 3: above the maximum per transaction.
    AboveMaximum,
    /// 4: would exceed the daily transfer limit.
    DailyLimitExceeded,
    /// 8: would exceed the till/paybill maximum balance.
    MaxBalanceExceeded,
    /// 17: same amount to the same customer within 2 minutes.
    DuplicateWithinTwoMinutes,
    /// 1019: transaction expired before it was processed.
    Expired,
    /// 1025: error sending the push (e.g. prompt too long).
    PushFailed,
    /// 1032: cancelled by the customer.
    CancelledByUser,
    /// 1037: the phone could not be reached (offline, busy).
    Unreachable,
    /// 2001: wrong PIN / initiator information invalid.
    InvalidInitiator,
    /// 2028: not permitted by product assignment (wrong TransactionType/PartyB).
    NotPermitted,
    /// 8006: security credential locked.
    CredentialLocked,
    /// `SFC_IC0003`: operator does not exist (wrong TransactionType/PartyB).
    OperatorDoesNotExist,
    /// Any other code, verbatim.
    Other(String),
}

impl ResultCode {
    /// From the numeric form used in callbacks.
    pub fn from_number(code: i64) -> Self {
        match code {
            0 => Self::Success,
            1 => Self::InsufficientBalance,
            2 => Self::BelowMinimum,
            3 => Self::AboveMaximum,
            4 => Self::DailyLimitExceeded,
            8 => Self::MaxBalanceExceeded,
            17 => Self::DuplicateWithinTwoMinutes,
            1019 => Self::Expired,
            1025 => Self::PushFailed,
            1032 => Self::CancelledByUser,
            1037 => Self::Unreachable,
            2001 => Self::InvalidInitiator,
            2028 => Self::NotPermitted,
            8006 => Self::CredentialLocked,
            other => Self::Other(other.to_string()),
        }
    }

    /// From the string form used in query responses (`"0"`, `"1032"`, `"SFC_IC0003"`).
    pub fn parse(code: &str) -> Self {
        let trimmed = code.trim();
        if trimmed.eq_ignore_ascii_case("SFC_IC0003") {
            return Self::OperatorDoesNotExist;
        }
        match trimmed.parse::<i64>() {
            Ok(n) => Self::from_number(n),
            Err(_) => Self::Other(trimmed.to_owned()),
        }
    }

    /// The wire code as text (`"0"`, `"1032"`, `"SFC_IC0003"`).
    pub fn code(&self) -> String {
        match self.number() {
            Some(n) => n.to_string(),
            None => match self {
                Self::OperatorDoesNotExist => "SFC_IC0003".to_owned(),
                Self::Other(s) => s.clone(),
                _ => unreachable!("every numbered variant has a number"),
            },
        }
    }

    /// The numeric code, if it has one.
    pub fn number(&self) -> Option<i64> {
        Some(match self {
            Self::Success => 0,
            Self::InsufficientBalance => 1,
            Self::BelowMinimum => 2,
            Self::AboveMaximum => 3,
            Self::DailyLimitExceeded => 4,
            Self::MaxBalanceExceeded => 8,
            Self::DuplicateWithinTwoMinutes => 17,
            Self::Expired => 1019,
            Self::PushFailed => 1025,
            Self::CancelledByUser => 1032,
            Self::Unreachable => 1037,
            Self::InvalidInitiator => 2001,
            Self::NotPermitted => 2028,
            Self::CredentialLocked => 8006,
            Self::OperatorDoesNotExist => return None,
            Self::Other(s) => return s.parse().ok(),
        })
    }

    pub fn is_success(&self) -> bool {
        matches!(self, Self::Success)
    }

    /// Failures the customer can fix by simply trying again (cancelled, unreachable, expired,
    /// wrong PIN, insufficient funds), as opposed to configuration errors of the merchant.
    pub fn is_customer_retryable(&self) -> bool {
        matches!(
            self,
            Self::InsufficientBalance
                | Self::Expired
                | Self::CancelledByUser
                | Self::Unreachable
                | Self::InvalidInitiator
                | Self::DuplicateWithinTwoMinutes
        )
    }

    /// A short English description (from the Daraja result code table).
    pub fn description(&self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::InsufficientBalance => "insufficient balance",
            Self::BelowMinimum => "amount below the minimum",
            Self::AboveMaximum => "amount above the maximum per transaction",
            Self::DailyLimitExceeded => "would exceed the daily transfer limit",
            Self::MaxBalanceExceeded => "would exceed the maximum account balance",
            Self::DuplicateWithinTwoMinutes => "same amount to the same customer within 2 minutes",
            Self::Expired => "transaction expired",
            Self::PushFailed => "error sending the push request",
            Self::CancelledByUser => "cancelled by the customer",
            Self::Unreachable => "the customer's phone could not be reached",
            Self::InvalidInitiator => "invalid initiator information (wrong PIN)",
            Self::NotPermitted => "not permitted by product assignment",
            Self::CredentialLocked => "security credential locked",
            Self::OperatorDoesNotExist => "operator does not exist",
            Self::Other(_) => "unknown result code",
        }
    }
}

impl fmt::Display for ResultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.code(), self.description())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_code_doc_table_roundtrips() {
        for n in [0, 1, 2, 3, 4, 8, 17, 1019, 1025, 1032, 1037, 2001, 2028, 8006] {
            let code = ResultCode::from_number(n);
            assert!(!matches!(code, ResultCode::Other(_)), "{n} should be known");
            assert_eq!(code.number(), Some(n));
            assert_eq!(ResultCode::parse(&n.to_string()), code);
        }
    }

    #[test]
    fn result_code_unknown_is_kept_verbatim() {
        assert_eq!(ResultCode::from_number(9999), ResultCode::Other("9999".into()));
        assert_eq!(ResultCode::parse("9999").code(), "9999");
        assert_eq!(ResultCode::parse("SFC_IC0003"), ResultCode::OperatorDoesNotExist);
        assert_eq!(ResultCode::parse("XYZ").code(), "XYZ");
    }
}

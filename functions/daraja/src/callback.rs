//! Strict parsing of the STK callback Daraja POSTs to our `CallBackURL`.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde_json::value::RawValue;

use crate::amount::{AmountError, parse_decimal_cents};
use crate::json::{RawObject, as_string, body_value, kind, scalar_text};
use crate::password::parse_timestamp_eat;
use crate::result_code::ResultCode;
use crate::wire::Ack;

/// Callback bodies larger than this are refused unread (a real one is well under 2 KiB).
pub const MAX_CALLBACK_BODY: usize = 64 * 1024;

/// Exactly what is wrong with a callback body (STK or C2B).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    #[error("body is {len} bytes, over the {max}-byte limit")]
    TooLarge { len: usize, max: usize },
    #[error("body is empty")]
    Empty,
    #[error("body is truncated JSON")]
    Truncated,
    #[error("body is not JSON: {0}")]
    NotJson(String),
    #[error("`{field}` has the wrong type: expected {expected}, found {found}")]
    WrongType { field: String, expected: &'static str, found: &'static str },
    #[error("`{field}` is missing")]
    MissingField { field: String },
    #[error("`{field}` appears more than once")]
    DuplicateField { field: String },
    #[error("ResultCode is 0 (success) but CallbackMetadata is missing")]
    MissingCallbackMetadata,
    #[error("CallbackMetadata has no `{name}` item")]
    MissingItem { name: &'static str },
    #[error("CallbackMetadata has more than one `{name}` item")]
    DuplicateItem { name: String },
    #[error("`{field}` is not a valid amount ({text:?}): {reason}")]
    InvalidAmount { field: String, text: String, reason: AmountError },
    #[error("`{field}` has an invalid value ({value:?}): {reason}")]
    InvalidValue { field: String, value: String, reason: &'static str },
}

impl CallbackError {
    pub(crate) fn invalid(field: impl Into<String>, value: &str, reason: &'static str) -> Self {
        let mut value = value.to_owned();
        if value.len() > 64 {
            let mut cut = 64;
            while !value.is_char_boundary(cut) {
                cut -= 1;
            }
            value.truncate(cut);
            value.push('…');
        }
        CallbackError::InvalidValue { field: field.into(), value, reason }
    }
}

/// A parsed STK callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StkCallback {
    pub merchant_request_id: String,
    /// The correlation key returned by the STK push.
    pub checkout_request_id: String,
    pub result_desc: String,
    pub outcome: StkOutcome,
}

impl StkCallback {
    pub fn result_code(&self) -> ResultCode {
        match &self.outcome {
            StkOutcome::Paid(_) => ResultCode::Success,
            StkOutcome::Failed(code) => code.clone(),
        }
    }
}

/// Paid (ResultCode 0 with its metadata) or failed with a non-zero code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StkOutcome {
    Paid(StkPayment),
    Failed(ResultCode),
}

/// The `CallbackMetadata` of a successful STK payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StkPayment {
    /// KES cents (from the exact decimal text; always > 0).
    pub amount_cents: u64,
    /// `MpesaReceiptNumber`, unique per payment.
    pub receipt: String,
    /// `TransactionDate` (sent in Nairobi time), if present.
    pub transaction_date: Option<DateTime<Utc>>,
    /// `PhoneNumber` digits, if present.
    pub phone_number: Option<String>,
}

/// Parses an STK callback body strictly: items by `Name`, `Amount` to exact cents, `ResultCode` as a
/// number (a string is accepted too), and a success must carry `Amount` and `MpesaReceiptNumber`.
pub fn parse_stk_callback(body: &[u8]) -> Result<StkCallback, CallbackError> {
    let root = RawObject::from_raw(body_value(body, MAX_CALLBACK_BODY)?, String::new())?;
    let cb = root.object("Body")?.object("stkCallback")?;

    let merchant_request_id = cb.string("MerchantRequestID")?;
    let checkout_request_id = cb.string("CheckoutRequestID")?;
    if checkout_request_id.trim().is_empty() {
        return Err(CallbackError::invalid(cb.field_path("CheckoutRequestID"), &checkout_request_id, "empty"));
    }
    let result_code = result_code(cb.require("ResultCode")?, &cb.field_path("ResultCode"))?;
    let result_desc = cb.opt_string("ResultDesc")?.unwrap_or_default();

    let outcome = if result_code.is_success() {
        let meta = match cb.get("CallbackMetadata")? {
            Some(raw) if kind(raw) != "null" => RawObject::from_raw(raw, cb.field_path("CallbackMetadata"))?,
            _ => return Err(CallbackError::MissingCallbackMetadata),
        };
        StkOutcome::Paid(payment(&meta)?)
    } else {
        StkOutcome::Failed(result_code)
    };

    Ok(StkCallback { merchant_request_id, checkout_request_id, result_desc, outcome })
}

fn result_code(raw: &RawValue, path: &str) -> Result<ResultCode, CallbackError> {
    match kind(raw) {
        "number" => {
            let text = raw.get();
            text.parse::<i64>()
                .map(ResultCode::from_number)
                .map_err(|_| CallbackError::invalid(path, text, "not an integer"))
        }
        "string" => {
            let text = as_string(raw, path)?;
            if text.trim().is_empty() {
                return Err(CallbackError::invalid(path, &text, "empty"));
            }
            Ok(ResultCode::parse(&text))
        }
        found => Err(CallbackError::WrongType { field: path.to_owned(), expected: "number", found }),
    }
}

fn payment(meta: &RawObject<'_>) -> Result<StkPayment, CallbackError> {
    let items_path = meta.field_path("Item");
    let items_raw = meta.require("Item")?;
    if kind(items_raw) != "array" {
        return Err(CallbackError::WrongType { field: items_path, expected: "array", found: kind(items_raw) });
    }
    let items: Vec<&RawValue> =
        serde_json::from_str(items_raw.get()).map_err(|e| CallbackError::NotJson(e.to_string()))?;

    // Look items up by Name, never by position.
    let mut named: Vec<(String, Option<&RawValue>)> = Vec::with_capacity(items.len());
    for (i, raw) in items.into_iter().enumerate() {
        let item = RawObject::from_raw(raw, format!("{items_path}[{i}]"))?;
        let name = item.string("Name")?;
        if named.iter().any(|(n, _)| *n == name) {
            return Err(CallbackError::DuplicateItem { name });
        }
        let value = item.get("Value")?.filter(|v| kind(v) != "null");
        named.push((name, value));
    }
    let find = |name: &str| named.iter().find(|(n, _)| n == name).and_then(|(_, v)| *v);
    let item_path = |name: &str| format!("{items_path}[{name}].Value");

    let amount_path = item_path("Amount");
    let amount_raw = find("Amount").ok_or(CallbackError::MissingItem { name: "Amount" })?;
    let amount_text = scalar_text(amount_raw, &amount_path)?;
    let amount_cents = match parse_decimal_cents(&amount_text) {
        Ok(0) => Err(AmountError::Zero),
        other => other,
    }
    .map_err(|reason| CallbackError::InvalidAmount {
        field: amount_path.clone(),
        text: amount_text.clone(),
        reason,
    })?;

    let receipt_path = item_path("MpesaReceiptNumber");
    let receipt_raw = find("MpesaReceiptNumber").ok_or(CallbackError::MissingItem { name: "MpesaReceiptNumber" })?;
    let receipt = as_string(receipt_raw, &receipt_path)?;
    if receipt.is_empty() || receipt.len() > 32 || !receipt.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(CallbackError::invalid(receipt_path, &receipt, "not an M-Pesa receipt number"));
    }

    let transaction_date = match find("TransactionDate") {
        None => None,
        Some(raw) => {
            let path = item_path("TransactionDate");
            let text = scalar_text(raw, &path)?;
            Some(parse_timestamp_eat(&text).ok_or_else(|| CallbackError::invalid(path, &text, "not YYYYMMDDHHmmss"))?)
        }
    };

    let phone_number = match find("PhoneNumber") {
        None => None,
        Some(raw) => {
            let path = item_path("PhoneNumber");
            let text = scalar_text(raw, &path)?;
            if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
                return Err(CallbackError::invalid(path, &text, "not a phone number"));
            }
            Some(text)
        }
    };

    Ok(StkPayment { amount_cents, receipt, transaction_date, phone_number })
}

/// The `200 OK` to answer an STK callback with: `{"ResultCode":0,"ResultDesc":"Accepted"}`.
pub fn stk_callback_ack() -> http::Response<Bytes> {
    crate::c2b::json_response(&Ack { result_code: 0, result_desc: "Accepted".into() })
}

#[cfg(test)]
mod tests;

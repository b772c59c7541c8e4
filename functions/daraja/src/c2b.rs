//! C2B (customer-initiated Paybill/Till payments): the validation/confirmation payload, our replies,
//! and the rules Daraja applies to the URLs we register.

use std::net::IpAddr;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::amount::{AmountError, parse_decimal_cents};
use crate::callback::{CallbackError, MAX_CALLBACK_BODY};
use crate::env::Environment;
use crate::json::{RawObject, body_value};
use crate::password::parse_timestamp_eat;
use crate::wire::{Ack, C2bValidationReply};

/// `TransactionType` of a C2B payment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum C2bTransactionType {
    /// "Pay Bill"
    PayBill,
    /// "Buy Goods"
    BuyGoods,
    Other(String),
}

impl C2bTransactionType {
    pub fn parse(text: &str) -> Self {
        let squashed: String = text.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_lowercase();
        match squashed.as_str() {
            "paybill" | "customerpaybillonline" => Self::PayBill,
            "buygoods" | "customerbuygoodsonline" => Self::BuyGoods,
            _ => Self::Other(text.to_owned()),
        }
    }
}

/// The payer's `MSISDN` as Daraja chose to show it. Do not identify payers by it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum C2bMsisdn {
    /// Empty or absent.
    Absent,
    /// Full digits, e.g. `254708374149` (sandbox).
    Plain(String),
    /// Masked, e.g. `2547 ***** 126`.
    Masked(String),
    /// 64 hex characters (seen in production since 2025).
    Hashed(String),
    /// Anything else, verbatim.
    Unknown(String),
}

impl C2bMsisdn {
    /// The text as Daraja sent it (trimmed; hashes lower-cased); `None` if absent.
    pub fn as_sent(&self) -> Option<&str> {
        match self {
            Self::Absent => None,
            Self::Plain(t) | Self::Masked(t) | Self::Hashed(t) | Self::Unknown(t) => Some(t),
        }
    }

    pub fn classify(text: &str) -> Self {
        let t = text.trim();
        if t.is_empty() {
            Self::Absent
        } else if t.bytes().all(|b| b.is_ascii_digit()) {
            Self::Plain(t.to_owned())
        } else if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
            Self::Hashed(t.to_ascii_lowercase())
        } else if t.contains('*') {
            Self::Masked(t.to_owned())
        } else {
            Self::Unknown(t.to_owned())
        }
    }
}

/// A parsed C2B validation or confirmation request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct C2bPayment {
    pub transaction_type: C2bTransactionType,
    /// `TransID`: the M-Pesa receipt, unique; the idempotency key.
    pub trans_id: String,
    /// `TransTime` (sent in Nairobi time).
    pub trans_time: DateTime<Utc>,
    /// `TransAmount` in KES cents (> 0).
    pub amount_cents: u64,
    pub business_short_code: String,
    /// `BillRefNumber` verbatim (what the customer typed); see [`C2bPayment::normalized_bill_ref`].
    pub bill_ref_number: String,
    pub invoice_number: String,
    /// `OrgAccountBalance` in cents: blank in validation requests (and `None` if not a decimal).
    pub org_account_balance_cents: Option<u64>,
    pub third_party_trans_id: String,
    pub msisdn: C2bMsisdn,
    pub first_name: String,
    pub middle_name: String,
    pub last_name: String,
}

impl C2bPayment {
    /// `BillRefNumber` trimmed, inner whitespace removed, upper-cased: `" ab 12 "` -> `"AB12"`.
    pub fn normalized_bill_ref(&self) -> String {
        self.bill_ref_number.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_uppercase()
    }

    /// The non-empty name parts joined by single spaces.
    pub fn payer_name(&self) -> String {
        [&self.first_name, &self.middle_name, &self.last_name]
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Parses a C2B validation or confirmation body. Values are strings on the wire; a number is
/// tolerated. `TransID`, `TransTime`, `TransAmount` and `BusinessShortCode` are required.
pub fn parse_c2b_payment(body: &[u8]) -> Result<C2bPayment, CallbackError> {
    let obj = RawObject::from_raw(body_value(body, MAX_CALLBACK_BODY)?, String::new())?;
    let opt = |f: &str| -> Result<String, CallbackError> {
        Ok(obj.opt_scalar_text(f)?.map(|s| s.trim().to_owned()).unwrap_or_default())
    };

    let trans_id = obj.scalar_text("TransID")?.trim().to_owned();
    if trans_id.is_empty() || !trans_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(CallbackError::invalid("TransID", &trans_id, "not an M-Pesa receipt number"));
    }
    let trans_time_text = obj.scalar_text("TransTime")?;
    let trans_time = parse_timestamp_eat(trans_time_text.trim())
        .ok_or_else(|| CallbackError::invalid("TransTime", &trans_time_text, "not YYYYMMDDHHmmss"))?;
    let amount_text = obj.scalar_text("TransAmount")?;
    let amount_cents = match parse_decimal_cents(amount_text.trim()) {
        Ok(0) => Err(AmountError::Zero),
        other => other,
    }
    .map_err(|reason| CallbackError::InvalidAmount {
        field: "TransAmount".into(),
        text: amount_text.clone(),
        reason,
    })?;
    let business_short_code = obj.scalar_text("BusinessShortCode")?.trim().to_owned();
    if business_short_code.is_empty() || !business_short_code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CallbackError::invalid("BusinessShortCode", &business_short_code, "not a shortcode"));
    }
    let balance = opt("OrgAccountBalance")?;

    Ok(C2bPayment {
        transaction_type: C2bTransactionType::parse(&opt("TransactionType")?),
        trans_id,
        trans_time,
        amount_cents,
        business_short_code,
        // Keep BillRefNumber exactly as typed (no trim): normalise with normalized_bill_ref().
        bill_ref_number: obj.opt_scalar_text("BillRefNumber")?.unwrap_or_default(),
        invoice_number: opt("InvoiceNumber")?,
        org_account_balance_cents: parse_decimal_cents(&balance).ok(),
        third_party_trans_id: opt("ThirdPartyTransID")?,
        msisdn: C2bMsisdn::classify(&opt("MSISDN")?),
        first_name: opt("FirstName")?,
        middle_name: opt("MiddleName")?,
        last_name: opt("LastName")?,
    })
}

/// The `C2B0001x` reject codes; the choice decides the SMS the customer gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum C2bRejectCode {
    /// C2B00011
    InvalidMsisdn,
    /// C2B00012
    InvalidAccountNumber,
    /// C2B00013
    InvalidAmount,
    /// C2B00014
    InvalidKycDetails,
    /// C2B00015
    InvalidShortcode,
    /// C2B00016
    OtherError,
}

impl C2bRejectCode {
    pub fn code(self) -> &'static str {
        match self {
            Self::InvalidMsisdn => "C2B00011",
            Self::InvalidAccountNumber => "C2B00012",
            Self::InvalidAmount => "C2B00013",
            Self::InvalidKycDetails => "C2B00014",
            Self::InvalidShortcode => "C2B00015",
            Self::OtherError => "C2B00016",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Some(match code.trim() {
            "C2B00011" => Self::InvalidMsisdn,
            "C2B00012" => Self::InvalidAccountNumber,
            "C2B00013" => Self::InvalidAmount,
            "C2B00014" => Self::InvalidKycDetails,
            "C2B00015" => Self::InvalidShortcode,
            "C2B00016" => Self::OtherError,
            _ => return None,
        })
    }
}

/// Our answer to a C2B validation request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum C2bValidationResponse {
    /// `{"ResultCode":"0","ResultDesc":"Accepted"}` (+ optional `ThirdPartyTransID`, echoed back in
    /// the confirmation).
    Accept { third_party_trans_id: Option<String> },
    /// `{"ResultCode":"C2B0001x","ResultDesc":"Rejected"}`.
    Reject(C2bRejectCode),
}

impl C2bValidationResponse {
    pub fn accept() -> Self {
        Self::Accept { third_party_trans_id: None }
    }

    pub fn reject(code: C2bRejectCode) -> Self {
        Self::Reject(code)
    }

    pub fn to_wire(&self) -> C2bValidationReply {
        match self {
            Self::Accept { third_party_trans_id } => C2bValidationReply {
                result_code: "0".into(),
                result_desc: "Accepted".into(),
                third_party_trans_id: third_party_trans_id.clone(),
            },
            Self::Reject(code) => C2bValidationReply {
                result_code: code.code().into(),
                result_desc: "Rejected".into(),
                third_party_trans_id: None,
            },
        }
    }

    pub fn body(&self) -> Bytes {
        to_json_bytes(&self.to_wire())
    }

    /// `200 OK`, `application/json`.
    pub fn into_http(self) -> http::Response<Bytes> {
        json_response(&self.to_wire())
    }

    /// Reads a validation answer (what M-Pesa, or the simulator, does with our reply). `ResultCode`
    /// `0`/`"0"` accepts; a `C2B0001x` code rejects; anything else is an error.
    pub fn parse(body: &[u8]) -> Result<Self, CallbackError> {
        let obj = RawObject::from_raw(body_value(body, MAX_CALLBACK_BODY)?, String::new())?;
        let code = obj.scalar_text("ResultCode")?;
        if code.trim() == "0" {
            return Ok(Self::Accept { third_party_trans_id: obj.opt_string("ThirdPartyTransID")? });
        }
        C2bRejectCode::parse(&code)
            .map(Self::Reject)
            .ok_or_else(|| CallbackError::invalid("ResultCode", &code, "neither 0 nor a C2B0001x code"))
    }
}

/// The `200 OK` to answer a C2B confirmation with: `{"ResultCode":0,"ResultDesc":"Success"}`.
pub fn c2b_confirmation_ack() -> http::Response<Bytes> {
    json_response(&Ack { result_code: 0, result_desc: "Success".into() })
}

pub(crate) fn to_json_bytes<T: Serialize>(value: &T) -> Bytes {
    // Serialising these plain structs cannot fail.
    Bytes::from(serde_json::to_vec(value).unwrap_or_default())
}

pub(crate) fn json_response<T: Serialize>(value: &T) -> http::Response<Bytes> {
    let mut resp = http::Response::new(to_json_bytes(value));
    resp.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    resp
}

/// Why Daraja would refuse a C2B URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlRuleViolation {
    #[error("not an absolute URL")]
    NotAUrl,
    #[error("scheme `{0}` is not http or https")]
    Scheme(String),
    #[error("production URLs must be https")]
    HttpsRequired,
    #[error("URL contains the forbidden word `{0}`")]
    ForbiddenWord(&'static str),
    #[error("URL uses a tunnelling or request-bin service (`{0}`)")]
    ForbiddenService(&'static str),
    #[error("host `{0}` is not public")]
    NotPublic(String),
}

/// Words Daraja refuses anywhere in a C2B URL, in any case (longest first so the report is exact).
const FORBIDDEN_WORDS: [&str; 8] = ["safaricom", "m-pesa", "mpesa", "query", "exec", "exe", "cmd", "sql"];
const FORBIDDEN_SERVICES: [&str; 3] = ["ngrok", "mockbin", "requestbin"];

/// Checks a C2B confirmation/validation URL against Daraja's rules for `env`: absolute http(s), no
/// forbidden words or tunnelling services; Sandbox and Production also need a public host, and
/// Production needs https. [`Environment::Custom`] (a simulator) allows http and private hosts.
pub fn check_c2b_url(url: &str, env: &Environment) -> Result<(), UrlRuleViolation> {
    let uri: http::Uri = url.trim().parse().map_err(|_| UrlRuleViolation::NotAUrl)?;
    let scheme = uri.scheme_str().ok_or(UrlRuleViolation::NotAUrl)?.to_ascii_lowercase();
    let host = uri.host().ok_or(UrlRuleViolation::NotAUrl)?.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(UrlRuleViolation::Scheme(scheme));
    }
    let lower = url.to_ascii_lowercase();
    if let Some(word) = FORBIDDEN_WORDS.iter().find(|w| lower.contains(*w)) {
        return Err(UrlRuleViolation::ForbiddenWord(word));
    }
    if let Some(svc) = FORBIDDEN_SERVICES.iter().find(|s| host.contains(*s)) {
        return Err(UrlRuleViolation::ForbiddenService(svc));
    }
    if matches!(env, Environment::Custom(_)) {
        return Ok(());
    }
    if env.is_production() && scheme != "https" {
        return Err(UrlRuleViolation::HttpsRequired);
    }
    if !is_public_host(&host) {
        return Err(UrlRuleViolation::NotPublic(host));
    }
    Ok(())
}

/// True if `url` may be registered as a production C2B URL (see [`check_c2b_url`]).
pub fn is_url_allowed_for_c2b(url: &str) -> bool {
    check_c2b_url(url, &Environment::Production).is_ok()
}

fn is_public_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return match ip {
            IpAddr::V4(v4) => {
                !(v4.is_private()
                    || v4.is_loopback()
                    || v4.is_link_local()
                    || v4.is_unspecified()
                    || v4.is_broadcast()
                    || v4.is_documentation()
                    || v4.octets()[0] == 100 && (64..128).contains(&v4.octets()[1]))
            }
            IpAddr::V6(v6) => {
                !(v6.is_loopback()
                    || v6.is_unspecified()
                    || (v6.segments()[0] & 0xfe00) == 0xfc00
                    || (v6.segments()[0] & 0xffc0) == 0xfe80)
            }
        };
    }
    let name = bare.trim_end_matches('.');
    name.contains('.')
        && !name.ends_with(".localhost")
        && !name.ends_with(".local")
        && !name.ends_with(".internal")
        && name != "localhost"
}

#[cfg(test)]
mod tests;

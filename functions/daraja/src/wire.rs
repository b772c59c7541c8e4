//! Daraja JSON payloads exactly as they travel, field names as Safaricom spells them.
//!
//! These are for building bodies (and for the simulator to read requests). Parsing of what
//! Daraja sends *to us* goes through the strict parsers ([`crate::parse_stk_callback`],
//! [`crate::parse_c2b_payment`]) and the response parsers, which give typed reasons.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// A field Daraja documents as a number but that integrators (and Daraja itself) send either way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum NumOrString {
    Number(serde_json::Number),
    Text(String),
}

impl NumOrString {
    /// The value as text: a number's JSON form, or the string itself.
    pub fn to_text(&self) -> String {
        match self {
            NumOrString::Number(n) => n.to_string(),
            NumOrString::Text(s) => s.clone(),
        }
    }

    /// A non-negative whole number, from a JSON integer or a string of digits.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            NumOrString::Number(n) => n.as_u64(),
            NumOrString::Text(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s.parse().ok(),
            NumOrString::Text(_) => None,
        }
    }
}

impl From<u64> for NumOrString {
    fn from(n: u64) -> Self {
        NumOrString::Number(n.into())
    }
}

impl From<String> for NumOrString {
    fn from(s: String) -> Self {
        NumOrString::Text(s)
    }
}

impl From<&str> for NumOrString {
    fn from(s: &str) -> Self {
        NumOrString::Text(s.to_owned())
    }
}

/// `GET /oauth/v1/generate` answer. `expires_in` arrives as a number or a string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OAuthResponse {
    pub access_token: Redacted,
    pub expires_in: NumOrString,
}

/// The generic Daraja error body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    #[serde(rename = "requestId", default)]
    pub request_id: String,
    #[serde(rename = "errorCode")]
    pub error_code: String,
    #[serde(rename = "errorMessage", default)]
    pub error_message: String,
}

/// A value that must not reach a log: the STK `Password` is `base64(shortcode + passkey +
/// timestamp)`, so whoever reads it has the tenant's passkey; the passkey itself and the OAuth
/// access token likewise. Held in a [`secrecy::SecretString`] (zeroed on drop); `Debug` shows
/// `<redacted>`; the wire form is the plain string; equality does not stop at the first byte
/// that differs.
#[derive(Clone)]
pub struct Redacted(SecretString);

impl Redacted {
    pub fn new(s: impl Into<String>) -> Self {
        Redacted(SecretString::from(s.into()))
    }
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
    pub fn is_empty(&self) -> bool {
        self.expose().is_empty()
    }
}

impl PartialEq for Redacted {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (self.expose().as_bytes(), other.expose().as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl Eq for Redacted {}

impl Serialize for Redacted {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.expose())
    }
}

impl<'de> Deserialize<'de> for Redacted {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Redacted::new)
    }
}

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// `POST /mpesa/stkpush/v1/processrequest` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StkPushRequest {
    #[serde(rename = "BusinessShortCode")]
    pub business_short_code: NumOrString,
    #[serde(rename = "Password")]
    pub password: Redacted,
    #[serde(rename = "Timestamp")]
    pub timestamp: String,
    #[serde(rename = "TransactionType")]
    pub transaction_type: String,
    #[serde(rename = "Amount")]
    pub amount: NumOrString,
    #[serde(rename = "PartyA")]
    pub party_a: NumOrString,
    #[serde(rename = "PartyB")]
    pub party_b: NumOrString,
    #[serde(rename = "PhoneNumber")]
    pub phone_number: NumOrString,
    #[serde(rename = "CallBackURL")]
    pub callback_url: String,
    #[serde(rename = "AccountReference")]
    pub account_reference: String,
    #[serde(rename = "TransactionDesc", default, skip_serializing_if = "Option::is_none")]
    pub transaction_desc: Option<String>,
}

/// STK push synchronous acknowledgement ("accepted for processing", not "paid").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StkPushResponse {
    #[serde(rename = "MerchantRequestID")]
    pub merchant_request_id: String,
    #[serde(rename = "CheckoutRequestID")]
    pub checkout_request_id: String,
    #[serde(rename = "ResponseCode")]
    pub response_code: String,
    #[serde(rename = "ResponseDescription")]
    pub response_description: String,
    #[serde(rename = "CustomerMessage", default)]
    pub customer_message: String,
}

/// `POST /mpesa/stkpushquery/v1/query` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StkQueryRequest {
    #[serde(rename = "BusinessShortCode")]
    pub business_short_code: NumOrString,
    #[serde(rename = "Password")]
    pub password: Redacted,
    #[serde(rename = "Timestamp")]
    pub timestamp: String,
    #[serde(rename = "CheckoutRequestID")]
    pub checkout_request_id: String,
}

/// STK query answer once the transaction is final (`ResultCode` is a string here).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StkQueryResponse {
    #[serde(rename = "ResponseCode")]
    pub response_code: String,
    #[serde(rename = "ResponseDescription", default)]
    pub response_description: String,
    #[serde(rename = "MerchantRequestID", default)]
    pub merchant_request_id: String,
    #[serde(rename = "CheckoutRequestID", default)]
    pub checkout_request_id: String,
    #[serde(rename = "ResultCode")]
    pub result_code: NumOrString,
    #[serde(rename = "ResultDesc", default)]
    pub result_desc: String,
}

/// The STK callback envelope `{"Body":{"stkCallback":{...}}}` (for building one; parse with
/// [`crate::parse_stk_callback`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StkCallbackEnvelope {
    #[serde(rename = "Body")]
    pub body: StkCallbackBody,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StkCallbackBody {
    #[serde(rename = "stkCallback")]
    pub stk_callback: StkCallbackWire,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StkCallbackWire {
    #[serde(rename = "MerchantRequestID")]
    pub merchant_request_id: String,
    #[serde(rename = "CheckoutRequestID")]
    pub checkout_request_id: String,
    /// A JSON number on the wire.
    #[serde(rename = "ResultCode")]
    pub result_code: i64,
    #[serde(rename = "ResultDesc")]
    pub result_desc: String,
    #[serde(rename = "CallbackMetadata", default, skip_serializing_if = "Option::is_none")]
    pub callback_metadata: Option<CallbackMetadataWire>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CallbackMetadataWire {
    #[serde(rename = "Item")]
    pub item: Vec<CallbackItemWire>,
}

/// `{"Name": ..., "Value": ...}`; `Value` is kept as raw JSON so `1.00` stays `1.00`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CallbackItemWire {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Value", default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Box<RawValue>>,
}

impl CallbackItemWire {
    /// An item whose value is the given JSON text (e.g. `"1.00"`, `"\"NLJ7RT61SV\""`).
    ///
    /// # Panics
    /// If `json` is not valid JSON (a programming error in the caller).
    pub fn raw(name: &str, json: String) -> Self {
        let value = RawValue::from_string(json).expect("CallbackItemWire::raw needs valid JSON");
        CallbackItemWire { name: name.to_owned(), value: Some(value) }
    }
}

impl StkCallbackEnvelope {
    /// A success callback as Daraja sends it: `Amount` as a decimal number with two places,
    /// `MpesaReceiptNumber`, `TransactionDate` (number, `YYYYMMDDHHmmss` Nairobi) and `PhoneNumber`
    /// (number).
    pub fn success(
        merchant_request_id: &str,
        checkout_request_id: &str,
        amount_cents: u64,
        receipt: &str,
        transaction_date: &str,
        phone_number: &str,
    ) -> Self {
        let string_json = |s: &str| serde_json::Value::from(s).to_string();
        let number_or_string = |s: &str| {
            if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && !s.starts_with('0') {
                s.to_owned()
            } else {
                string_json(s)
            }
        };
        let items = vec![
            CallbackItemWire::raw("Amount", crate::cents_to_decimal(amount_cents)),
            CallbackItemWire::raw("MpesaReceiptNumber", string_json(receipt)),
            CallbackItemWire { name: "Balance".into(), value: None },
            CallbackItemWire::raw("TransactionDate", number_or_string(transaction_date)),
            CallbackItemWire::raw("PhoneNumber", number_or_string(phone_number)),
        ];
        StkCallbackEnvelope {
            body: StkCallbackBody {
                stk_callback: StkCallbackWire {
                    merchant_request_id: merchant_request_id.to_owned(),
                    checkout_request_id: checkout_request_id.to_owned(),
                    result_code: 0,
                    result_desc: "The service request is processed successfully.".into(),
                    callback_metadata: Some(CallbackMetadataWire { item: items }),
                },
            },
        }
    }

    /// A failure callback (no `CallbackMetadata`).
    pub fn failure(merchant_request_id: &str, checkout_request_id: &str, result_code: i64, result_desc: &str) -> Self {
        StkCallbackEnvelope {
            body: StkCallbackBody {
                stk_callback: StkCallbackWire {
                    merchant_request_id: merchant_request_id.to_owned(),
                    checkout_request_id: checkout_request_id.to_owned(),
                    result_code,
                    result_desc: result_desc.to_owned(),
                    callback_metadata: None,
                },
            },
        }
    }
}

/// C2B register URL body (v1 and v2 share it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct C2bRegisterRequest {
    #[serde(rename = "ShortCode")]
    pub short_code: NumOrString,
    /// `Completed` or `Cancelled`.
    #[serde(rename = "ResponseType")]
    pub response_type: String,
    #[serde(rename = "ConfirmationURL")]
    pub confirmation_url: String,
    #[serde(rename = "ValidationURL", default, skip_serializing_if = "Option::is_none")]
    pub validation_url: Option<String>,
}

/// C2B register (and simulate) acknowledgement. Safaricom spells it `OriginatorCoversationID`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct C2bRegisterResponse {
    #[serde(rename = "OriginatorCoversationID", alias = "OriginatorConversationID", default)]
    pub originator_conversation_id: String,
    #[serde(rename = "ResponseCode")]
    pub response_code: String,
    #[serde(rename = "ResponseDescription", default)]
    pub response_description: String,
}

/// Sandbox-only simulated customer payment (`POST /mpesa/c2b/v2/simulate`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct C2bSimulateRequest {
    #[serde(rename = "ShortCode")]
    pub short_code: NumOrString,
    /// `CustomerPayBillOnline` or `CustomerBuyGoodsOnline`.
    #[serde(rename = "CommandID")]
    pub command_id: String,
    #[serde(rename = "Amount")]
    pub amount: NumOrString,
    #[serde(rename = "Msisdn")]
    pub msisdn: NumOrString,
    /// `null` for Buy Goods.
    #[serde(rename = "BillRefNumber", default)]
    pub bill_ref_number: Option<String>,
}

/// The C2B validation and confirmation payload (same shape; every value a string).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct C2bNotification {
    #[serde(rename = "TransactionType")]
    pub transaction_type: String,
    #[serde(rename = "TransID")]
    pub trans_id: String,
    #[serde(rename = "TransTime")]
    pub trans_time: String,
    #[serde(rename = "TransAmount")]
    pub trans_amount: String,
    #[serde(rename = "BusinessShortCode")]
    pub business_short_code: String,
    #[serde(rename = "BillRefNumber")]
    pub bill_ref_number: String,
    #[serde(rename = "InvoiceNumber")]
    pub invoice_number: String,
    #[serde(rename = "OrgAccountBalance")]
    pub org_account_balance: String,
    #[serde(rename = "ThirdPartyTransID")]
    pub third_party_trans_id: String,
    #[serde(rename = "MSISDN")]
    pub msisdn: String,
    #[serde(rename = "FirstName")]
    pub first_name: String,
    #[serde(rename = "MiddleName")]
    pub middle_name: String,
    #[serde(rename = "LastName")]
    pub last_name: String,
}

/// What we answer to a C2B validation request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct C2bValidationReply {
    /// `"0"` to accept, `"C2B0001x"` to reject.
    #[serde(rename = "ResultCode")]
    pub result_code: String,
    #[serde(rename = "ResultDesc")]
    pub result_desc: String,
    #[serde(rename = "ThirdPartyTransID", default, skip_serializing_if = "Option::is_none")]
    pub third_party_trans_id: Option<String>,
}

/// What we answer to a C2B confirmation (always `ResultCode` 0) and to an STK callback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    #[serde(rename = "ResultCode")]
    pub result_code: i64,
    #[serde(rename = "ResultDesc")]
    pub result_desc: String,
}

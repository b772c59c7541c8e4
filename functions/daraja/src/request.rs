//! Request builders: everything Daraja needs, as `http::Request<Bytes>` for any HTTP client.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{HeaderValue, Method, Request, header};

use crate::c2b::{UrlRuleViolation, check_c2b_url, to_json_bytes};
use crate::env::{Environment, paths};
use crate::msisdn::is_valid_msisdn;
use crate::password::{stk_password, timestamp_eat};
use crate::wire::{C2bRegisterRequest, C2bSimulateRequest, Redacted, StkPushRequest, StkQueryRequest};

/// Why a request could not be built (nothing was sent).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error("`{field}` is invalid: {reason}")]
    InvalidField { field: &'static str, reason: &'static str },
    #[error("URL is not usable for C2B: {0}")]
    UrlRule(#[from] UrlRuleViolation),
    #[error("cannot build the request: {0}")]
    Http(String),
}

fn invalid(field: &'static str, reason: &'static str) -> BuildError {
    BuildError::InvalidField { field, reason }
}

/// `TransactionType` of an STK push, also the `CommandID` of a C2B simulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StkTransactionType {
    /// `CustomerPayBillOnline`
    PayBill,
    /// `CustomerBuyGoodsOnline`
    BuyGoods,
}

impl StkTransactionType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PayBill => "CustomerPayBillOnline",
            Self::BuyGoods => "CustomerBuyGoodsOnline",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "CustomerPayBillOnline" => Some(Self::PayBill),
            "CustomerBuyGoodsOnline" => Some(Self::BuyGoods),
            _ => None,
        }
    }
}

/// An STK push ("M-Pesa Express") to send.
#[derive(Clone, PartialEq, Eq)]
pub struct StkPush {
    /// `BusinessShortCode` (Paybill, or the store/HO number for Tills).
    pub shortcode: String,
    pub passkey: Redacted,
    pub transaction_type: StkTransactionType,
    /// Whole shillings, at least 1.
    pub amount_kes: u64,
    /// `PartyA`: the paying MSISDN `2547XXXXXXXX`.
    pub party_a: String,
    /// `PartyB`: the shortcode (Paybill) or till number.
    pub party_b: String,
    /// `PhoneNumber`: who gets the PIN prompt.
    pub phone_number: String,
    pub callback_url: String,
    /// `AccountReference`: 1 to 12 characters, shown in the prompt.
    pub account_reference: String,
    /// `TransactionDesc`: at most 13 characters.
    pub transaction_desc: Option<String>,
}

impl StkPush {
    /// A Paybill push where the payer is also the one prompted.
    pub fn paybill(
        shortcode: &str,
        passkey: &str,
        amount_kes: u64,
        msisdn: &str,
        callback_url: &str,
        account_reference: &str,
    ) -> Self {
        StkPush {
            shortcode: shortcode.to_owned(),
            passkey: Redacted::new(passkey),
            transaction_type: StkTransactionType::PayBill,
            amount_kes,
            party_a: msisdn.to_owned(),
            party_b: shortcode.to_owned(),
            phone_number: msisdn.to_owned(),
            callback_url: callback_url.to_owned(),
            account_reference: account_reference.to_owned(),
            transaction_desc: None,
        }
    }

    /// Checks the field rules Daraja applies.
    pub fn validate(&self) -> Result<(), BuildError> {
        check_shortcode("BusinessShortCode", &self.shortcode)?;
        if self.passkey.is_empty() {
            return Err(invalid("Passkey", "empty"));
        }
        if self.party_b.is_empty() || !self.party_b.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid("PartyB", "not a shortcode or till number"));
        }
        if self.amount_kes < 1 {
            return Err(invalid("Amount", "must be at least 1 KES"));
        }
        if !is_valid_msisdn(&self.party_a) {
            return Err(invalid("PartyA", "not a 2547XXXXXXXX/2541XXXXXXXX number"));
        }
        if !is_valid_msisdn(&self.phone_number) {
            return Err(invalid("PhoneNumber", "not a 2547XXXXXXXX/2541XXXXXXXX number"));
        }
        let n = self.account_reference.chars().count();
        if n == 0 || n > 12 {
            return Err(invalid("AccountReference", "must be 1 to 12 characters"));
        }
        if self.transaction_desc.as_ref().is_some_and(|d| d.chars().count() > 13) {
            return Err(invalid("TransactionDesc", "must be at most 13 characters"));
        }
        check_absolute_url("CallBackURL", &self.callback_url)?;
        Ok(())
    }

    /// The JSON body for `now`.
    pub fn to_wire(&self, now: DateTime<Utc>) -> StkPushRequest {
        let timestamp = timestamp_eat(now);
        StkPushRequest {
            business_short_code: self.shortcode.as_str().into(),
            password: Redacted::new(stk_password(&self.shortcode, self.passkey.expose(), &timestamp)),
            timestamp,
            transaction_type: self.transaction_type.as_str().to_owned(),
            amount: self.amount_kes.into(),
            party_a: self.party_a.as_str().into(),
            party_b: self.party_b.as_str().into(),
            phone_number: self.phone_number.as_str().into(),
            callback_url: self.callback_url.clone(),
            account_reference: self.account_reference.clone(),
            transaction_desc: Some(self.transaction_desc.clone().unwrap_or_else(|| "Payment".to_owned())),
        }
    }
}

impl fmt::Debug for StkPush {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StkPush")
            .field("shortcode", &self.shortcode)
            .field("passkey", &self.passkey)
            .field("transaction_type", &self.transaction_type)
            .field("amount_kes", &self.amount_kes)
            .field("party_a", &self.party_a)
            .field("party_b", &self.party_b)
            .field("phone_number", &self.phone_number)
            .field("callback_url", &self.callback_url)
            .field("account_reference", &self.account_reference)
            .field("transaction_desc", &self.transaction_desc)
            .finish()
    }
}

fn check_shortcode(field: &'static str, code: &str) -> Result<(), BuildError> {
    if (5..=7).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(invalid(field, "must be 5 to 7 digits"))
    }
}

fn check_absolute_url(field: &'static str, url: &str) -> Result<(), BuildError> {
    let uri: http::Uri = url.parse().map_err(|_| invalid(field, "not a URL"))?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(_)) => Ok(()),
        _ => Err(invalid(field, "must be an absolute http(s) URL")),
    }
}

fn bearer(access_token: &str) -> Result<HeaderValue, BuildError> {
    if access_token.is_empty() {
        return Err(invalid("access_token", "empty"));
    }
    HeaderValue::try_from(format!("Bearer {access_token}"))
        .map_err(|_| invalid("access_token", "not a valid header value"))
}

fn post_json(env: &Environment, path: &str, access_token: &str, body: Bytes) -> Result<Request<Bytes>, BuildError> {
    Request::builder()
        .method(Method::POST)
        .uri(env.url(path))
        .header(header::AUTHORIZATION, bearer(access_token)?)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/json")
        .body(body)
        .map_err(|e| BuildError::Http(e.to_string()))
}

/// `GET /oauth/v1/generate?grant_type=client_credentials` with
/// `Authorization: Basic base64(key:secret)`.
pub fn oauth_request(
    env: &Environment,
    consumer_key: &str,
    consumer_secret: &str,
) -> Result<Request<Bytes>, BuildError> {
    if consumer_key.is_empty() || consumer_key.contains(':') {
        return Err(invalid("consumer_key", "empty or contains ':'"));
    }
    let basic = STANDARD.encode(format!("{consumer_key}:{consumer_secret}"));
    let mut auth = HeaderValue::try_from(format!("Basic {basic}"))
        .map_err(|_| invalid("consumer_key", "not a valid header value"))?;
    auth.set_sensitive(true);
    Request::builder()
        .method(Method::GET)
        .uri(format!("{}?grant_type=client_credentials", env.url(paths::OAUTH)))
        .header(header::AUTHORIZATION, auth)
        .header(header::ACCEPT, "application/json")
        .body(Bytes::new())
        .map_err(|e| BuildError::Http(e.to_string()))
}

/// `POST /mpesa/stkpush/v1/processrequest`. `now` sets `Timestamp` (and so `Password`).
pub fn stk_push_request(
    env: &Environment,
    access_token: &str,
    push: &StkPush,
    now: DateTime<Utc>,
) -> Result<Request<Bytes>, BuildError> {
    push.validate()?;
    post_json(env, paths::STK_PUSH, access_token, to_json_bytes(&push.to_wire(now)))
}

/// `POST /mpesa/stkpushquery/v1/query` for a `CheckoutRequestID`.
pub fn stk_query_request(
    env: &Environment,
    access_token: &str,
    shortcode: &str,
    passkey: &str,
    checkout_request_id: &str,
    now: DateTime<Utc>,
) -> Result<Request<Bytes>, BuildError> {
    check_shortcode("BusinessShortCode", shortcode)?;
    if checkout_request_id.trim().is_empty() {
        return Err(invalid("CheckoutRequestID", "empty"));
    }
    let timestamp = timestamp_eat(now);
    let body = StkQueryRequest {
        business_short_code: shortcode.into(),
        password: Redacted::new(stk_password(shortcode, passkey, &timestamp)),
        timestamp,
        checkout_request_id: checkout_request_id.to_owned(),
    };
    post_json(env, paths::STK_QUERY, access_token, to_json_bytes(&body))
}

/// Which C2B register URL endpoint to call (v2 per the docs; v1 per Safaricom support in 2025).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum C2bRegisterVersion {
    V1,
    #[default]
    V2,
}

impl C2bRegisterVersion {
    pub fn path(self) -> &'static str {
        match self {
            Self::V1 => paths::C2B_REGISTER_V1,
            Self::V2 => paths::C2B_REGISTER_V2,
        }
    }
}

/// What M-Pesa does when the validation URL does not answer in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum C2bResponseType {
    /// Complete the payment (and still send the confirmation).
    #[default]
    Completed,
    /// Cancel the payment.
    Cancelled,
}

impl C2bResponseType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "Completed",
            Self::Cancelled => "Cancelled",
        }
    }

    /// Exact sentence case, as Daraja requires.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "Completed" => Some(Self::Completed),
            "Cancelled" => Some(Self::Cancelled),
            _ => None,
        }
    }
}

/// C2B URLs to register for a shortcode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct C2bRegister {
    pub shortcode: String,
    pub response_type: C2bResponseType,
    pub confirmation_url: String,
    /// Only called if Safaricom enabled external validation for the shortcode.
    pub validation_url: Option<String>,
}

/// `POST /mpesa/c2b/{v1,v2}/registerurl`. URLs are checked with [`check_c2b_url`] for `env`.
pub fn c2b_register_request(
    env: &Environment,
    access_token: &str,
    version: C2bRegisterVersion,
    register: &C2bRegister,
) -> Result<Request<Bytes>, BuildError> {
    check_shortcode("ShortCode", &register.shortcode)?;
    check_c2b_url(&register.confirmation_url, env)?;
    if let Some(v) = &register.validation_url {
        check_c2b_url(v, env)?;
    }
    let body = C2bRegisterRequest {
        short_code: register.shortcode.as_str().into(),
        response_type: register.response_type.as_str().to_owned(),
        confirmation_url: register.confirmation_url.clone(),
        validation_url: register.validation_url.clone(),
    };
    post_json(env, version.path(), access_token, to_json_bytes(&body))
}

/// A simulated customer payment (sandbox and simulator only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct C2bSimulate {
    pub shortcode: String,
    pub command: StkTransactionType,
    /// Whole shillings.
    pub amount_kes: u64,
    pub msisdn: String,
    /// `None` for Buy Goods.
    pub bill_ref_number: Option<String>,
}

/// `POST /mpesa/c2b/v2/simulate`. Refused for [`Environment::Production`].
pub fn c2b_simulate_request(
    env: &Environment,
    access_token: &str,
    simulate: &C2bSimulate,
) -> Result<Request<Bytes>, BuildError> {
    if env.is_production() {
        return Err(invalid("Environment", "C2B simulate is not available in production"));
    }
    check_shortcode("ShortCode", &simulate.shortcode)?;
    if simulate.amount_kes < 1 {
        return Err(invalid("Amount", "must be at least 1 KES"));
    }
    if !is_valid_msisdn(&simulate.msisdn) {
        return Err(invalid("Msisdn", "not a 2547XXXXXXXX/2541XXXXXXXX number"));
    }
    let body = C2bSimulateRequest {
        short_code: simulate.shortcode.as_str().into(),
        command_id: simulate.command.as_str().to_owned(),
        amount: simulate.amount_kes.into(),
        msisdn: simulate.msisdn.as_str().into(),
        bill_ref_number: simulate.bill_ref_number.clone(),
    };
    post_json(env, paths::C2B_SIMULATE, access_token, to_json_bytes(&body))
}

#[cfg(test)]
mod tests;

//! Response parsers: `http::Response<Bytes>` in, typed outcome or [`ApiError`] out.

use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use http::Response;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ErrorCode};
use crate::result_code::ResultCode;
use crate::wire::{C2bRegisterResponse, ErrorBody, OAuthResponse, Redacted, StkPushResponse, StkQueryResponse};

const SNIPPET: usize = 256;

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut s: String = text.chars().take(SNIPPET).collect();
    if text.chars().count() > SNIPPET {
        s.push('…');
    }
    s
}

fn error_body(body: &[u8]) -> Option<ErrorBody> {
    serde_json::from_slice::<ErrorBody>(body).ok().filter(|e| !e.error_code.is_empty())
}

fn daraja_error(status: u16, e: ErrorBody) -> ApiError {
    ApiError::Daraja {
        status,
        code: ErrorCode::parse(&e.error_code),
        message: e.error_message,
        request_id: Some(e.request_id).filter(|r| !r.is_empty()),
    }
}

/// The success body deserialised as `T`, or the right [`ApiError`].
fn success_body<T: DeserializeOwned>(resp: &Response<Bytes>) -> Result<T, ApiError> {
    let status = resp.status().as_u16();
    let body = resp.body();
    if let Some(e) = error_body(body) {
        return Err(daraja_error(status, e));
    }
    if !resp.status().is_success() {
        return Err(ApiError::UnexpectedStatus { status, body: snippet(body) });
    }
    serde_json::from_slice(body).map_err(|e| ApiError::Malformed { status, reason: e.to_string() })
}

fn accepted(code: &str, description: &str) -> Result<(), ApiError> {
    if code.trim() == "0" {
        Ok(())
    } else {
        Err(ApiError::Rejected { response_code: code.to_owned(), description: description.to_owned() })
    }
}

/// An OAuth access token. `Debug` does not show the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    pub token: Redacted,
    pub expires_in_secs: u64,
}

impl AccessToken {
    /// When the token stops working, for a token received at `issued_at`.
    pub fn expires_at(&self, issued_at: DateTime<Utc>) -> DateTime<Utc> {
        let secs = i64::try_from(self.expires_in_secs).unwrap_or(i64::MAX / 1000);
        issued_at + Duration::seconds(secs.min(10 * 365 * 86_400))
    }

    /// When to fetch a new one: `margin_secs` before expiry (never before `issued_at`).
    pub fn refresh_at(&self, issued_at: DateTime<Utc>, margin_secs: u64) -> DateTime<Utc> {
        let secs = self.expires_in_secs.saturating_sub(margin_secs);
        issued_at + Duration::seconds(i64::try_from(secs).unwrap_or(0).min(10 * 365 * 86_400))
    }
}

/// Parses the OAuth answer; `expires_in` may be a number or a string.
pub fn parse_oauth_response(resp: &Response<Bytes>) -> Result<AccessToken, ApiError> {
    let status = resp.status().as_u16();
    let wire: OAuthResponse = success_body(resp)?;
    if wire.access_token.is_empty() {
        return Err(ApiError::Malformed { status, reason: "empty access_token".into() });
    }
    let expires_in_secs = wire.expires_in.as_u64().ok_or_else(|| ApiError::Malformed {
        status,
        reason: format!("expires_in is not a whole number: {}", wire.expires_in.to_text()),
    })?;
    Ok(AccessToken { token: wire.access_token, expires_in_secs })
}

/// The STK push acknowledgement: accepted for processing (not paid).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StkPushAck {
    pub merchant_request_id: String,
    /// Store this: it correlates the callback and the query.
    pub checkout_request_id: String,
    pub response_description: String,
    pub customer_message: String,
}

pub fn parse_stk_push_response(resp: &Response<Bytes>) -> Result<StkPushAck, ApiError> {
    let status = resp.status().as_u16();
    let wire: StkPushResponse = success_body(resp)?;
    accepted(&wire.response_code, &wire.response_description)?;
    if wire.checkout_request_id.is_empty() {
        return Err(ApiError::Malformed { status, reason: "empty CheckoutRequestID".into() });
    }
    Ok(StkPushAck {
        merchant_request_id: wire.merchant_request_id,
        checkout_request_id: wire.checkout_request_id,
        response_description: wire.response_description,
        customer_message: wire.customer_message,
    })
}

/// What an STK query learned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StkQueryOutcome {
    /// Daraja's `500.001.1001` "The transaction is being processed": ask again later.
    Pending { message: String },
    /// The transaction is final (paid or failed: see `result_code`).
    Final(StkQueryResult),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StkQueryResult {
    pub merchant_request_id: String,
    pub checkout_request_id: String,
    pub result_code: ResultCode,
    pub result_desc: String,
}

/// Parses an STK query answer, mapping the "being processed" error to [`StkQueryOutcome::Pending`].
pub fn parse_stk_query_response(resp: &Response<Bytes>) -> Result<StkQueryOutcome, ApiError> {
    if let Some(e) = error_body(resp.body()) {
        let pending = ErrorCode::parse(&e.error_code) == ErrorCode::ServiceError
            && e.error_message.to_ascii_lowercase().contains("being processed");
        if pending {
            return Ok(StkQueryOutcome::Pending { message: e.error_message });
        }
        return Err(daraja_error(resp.status().as_u16(), e));
    }
    let status = resp.status().as_u16();
    let wire: StkQueryResponse = success_body(resp)?;
    accepted(&wire.response_code, &wire.response_description)?;
    let code_text = wire.result_code.to_text();
    if code_text.trim().is_empty() {
        return Err(ApiError::Malformed { status, reason: "empty ResultCode".into() });
    }
    Ok(StkQueryOutcome::Final(StkQueryResult {
        merchant_request_id: wire.merchant_request_id,
        checkout_request_id: wire.checkout_request_id,
        result_code: ResultCode::parse(&code_text),
        result_desc: wire.result_desc,
    }))
}

/// C2B register acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct C2bRegisterAck {
    pub originator_conversation_id: String,
    pub response_description: String,
}

/// Parses the register URL (or simulate) answer. "Urls are already registered" arrives as a
/// [`ApiError::Daraja`] with [`ErrorCode::ServiceError`].
pub fn parse_c2b_register_response(resp: &Response<Bytes>) -> Result<C2bRegisterAck, ApiError> {
    let wire: C2bRegisterResponse = success_body(resp)?;
    accepted(&wire.response_code, &wire.response_description)?;
    Ok(C2bRegisterAck {
        originator_conversation_id: wire.originator_conversation_id,
        response_description: wire.response_description,
    })
}

#[cfg(test)]
mod tests;

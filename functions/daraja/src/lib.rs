//! Pure Safaricom M-Pesa Daraja protocol.
//!
//! What it is: serde wire types for every payload Konnekted exchanges with Daraja, the STK `Password`
//! and `Timestamp` rules, request builders that return [`http::Request<Bytes>`], response parsers that
//! take [`http::Response<Bytes>`], strict callback parsers (STK and C2B) with typed reasons, the C2B
//! validation/confirmation replies and the C2B URL rules.
//!
//! What it is not: an HTTP client. No I/O, no async runtime, no clock or randomness: the current time is
//! always an argument. It compiles for the host, `wasm32-unknown-unknown` and `wasm32-wasip2`.
//!
//! Money leaves this crate as integer minor units (KES cents, `u64`); decimal amounts on the wire are
//! parsed from their exact text, never through a float.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! let now = Utc.with_ymd_and_hms(2021, 6, 28, 6, 24, 8).unwrap();
//! assert_eq!(daraja::timestamp_eat(now), "20210628092408");
//! ```

mod amount;
mod c2b;
mod callback;
mod env;
mod error;
mod json;
mod msisdn;
mod password;
mod request;
mod response;
mod result_code;
pub mod wire;

pub use amount::{AmountError, cents_to_decimal, parse_decimal_cents};
pub use c2b::{
    C2bMsisdn, C2bPayment, C2bRejectCode, C2bTransactionType, C2bValidationResponse, UrlRuleViolation,
    c2b_confirmation_ack, check_c2b_url, is_url_allowed_for_c2b, parse_c2b_payment,
};
pub use callback::{
    CallbackError, MAX_CALLBACK_BODY, StkCallback, StkOutcome, StkPayment, parse_stk_callback, stk_callback_ack,
};
pub use env::{Environment, paths};
pub use error::{ApiError, ErrorCode};
pub use msisdn::{is_valid_msisdn, normalize_msisdn};
pub use password::{parse_timestamp_eat, stk_password, timestamp_eat};
pub use request::{
    BuildError, C2bRegister, C2bRegisterVersion, C2bResponseType, C2bSimulate, StkPush, StkTransactionType,
    c2b_register_request, c2b_simulate_request, oauth_request, stk_push_request, stk_query_request,
};
pub use response::{
    AccessToken, C2bRegisterAck, StkPushAck, StkQueryOutcome, StkQueryResult, parse_c2b_register_response,
    parse_oauth_response, parse_stk_push_response, parse_stk_query_response,
};
pub use result_code::ResultCode;

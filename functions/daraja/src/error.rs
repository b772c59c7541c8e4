//! Errors Daraja answers with, and what this crate makes of unexpected answers.

use std::fmt;

/// A Daraja `errorCode` (`"404.001.03"`...). Unknown codes are kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 400.002.02: bad request / invalid field (also a non-JSON Content-Type).
    BadRequest,
    /// 400.002.05: invalid request payload.
    InvalidPayload,
    /// 400.008.01: invalid authentication type (OAuth must be Basic).
    InvalidAuthenticationType,
    /// 400.008.02: invalid grant type.
    InvalidGrantType,
    /// 404.001.01: resource not found.
    ResourceNotFound,
    /// 404.001.03: invalid access token (fetch a new one).
    InvalidAccessToken,
    /// 404.001.04: invalid authentication header.
    InvalidAuthenticationHeader,
    /// 405.001: method not allowed.
    MethodNotAllowed,
    /// 500.001.1001: several meanings (wrong credentials, merchant does not exist, subscriber locked,
    /// transaction being processed, URLs already registered): read the message.
    ServiceError,
    /// 500.003.02: system busy / spike arrest.
    SystemBusy,
    /// 500.003.03: quota violation.
    QuotaViolation,
    /// 500.003.1001: internal server error.
    InternalError,
    Other(String),
}

impl ErrorCode {
    pub fn parse(code: &str) -> Self {
        match code.trim() {
            "400.002.02" => Self::BadRequest,
            "400.002.05" => Self::InvalidPayload,
            "400.008.01" => Self::InvalidAuthenticationType,
            "400.008.02" => Self::InvalidGrantType,
            "404.001.01" => Self::ResourceNotFound,
            "404.001.03" => Self::InvalidAccessToken,
            "404.001.04" => Self::InvalidAuthenticationHeader,
            "405.001" => Self::MethodNotAllowed,
            "500.001.1001" => Self::ServiceError,
            "500.003.02" => Self::SystemBusy,
            "500.003.03" => Self::QuotaViolation,
            "500.003.1001" => Self::InternalError,
            other => Self::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::BadRequest => "400.002.02",
            Self::InvalidPayload => "400.002.05",
            Self::InvalidAuthenticationType => "400.008.01",
            Self::InvalidGrantType => "400.008.02",
            Self::ResourceNotFound => "404.001.01",
            Self::InvalidAccessToken => "404.001.03",
            Self::InvalidAuthenticationHeader => "404.001.04",
            Self::MethodNotAllowed => "405.001",
            Self::ServiceError => "500.001.1001",
            Self::SystemBusy => "500.003.02",
            Self::QuotaViolation => "500.003.03",
            Self::InternalError => "500.003.1001",
            Self::Other(s) => s,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Daraja call that did not give what was asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// Daraja's own error body (`requestId`, `errorCode`, `errorMessage`).
    #[error("Daraja error {code} (HTTP {status}): {message}")]
    Daraja { status: u16, code: ErrorCode, message: String, request_id: Option<String> },
    /// A well-formed response whose `ResponseCode` is not `"0"`.
    #[error("Daraja rejected the request: ResponseCode {response_code}: {description}")]
    Rejected { response_code: String, description: String },
    /// A status that is neither success nor carries an error body.
    #[error("unexpected HTTP {status} from Daraja: {body}")]
    UnexpectedStatus { status: u16, body: String },
    /// A success status whose body is not what the API documents.
    #[error("malformed Daraja response (HTTP {status}): {reason}")]
    Malformed { status: u16, reason: String },
}

impl ApiError {
    /// The access token was refused: fetch a new one and retry once.
    pub fn is_invalid_token(&self) -> bool {
        matches!(self, ApiError::Daraja { code: ErrorCode::InvalidAccessToken, .. })
    }

    /// Worth retrying later with the same input (busy, quota, 5xx without a body, subscriber locked).
    pub fn is_transient(&self) -> bool {
        match self {
            ApiError::Daraja { code, message, .. } => match code {
                ErrorCode::SystemBusy | ErrorCode::QuotaViolation | ErrorCode::InternalError => true,
                ErrorCode::ServiceError => {
                    let m = message.to_ascii_lowercase();
                    m.contains("unable to lock subscriber") || m.contains("being processed")
                }
                _ => false,
            },
            ApiError::UnexpectedStatus { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }
}

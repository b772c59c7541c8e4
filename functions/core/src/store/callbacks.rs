//! The raw-body log of every callback.

use serde::Serialize;

use crate::db::{Db, Statement, StoreError};
use crate::stmt;

/// Bodies above this are refused (413) and kept only up to this size.
pub const MAX_CALLBACK_BODY: usize = 64 * 1024;

/// What became of a callback (the `outcome` column; `GET .../callbacks?outcome=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Money credited to a subscriber.
    Applied,
    /// Seen before (or nothing left to do); acknowledged.
    Duplicate,
    /// An STK push that failed (cancelled, wrong PIN...).
    FailedResult,
    /// Money that matched nobody: in the unmatched inbox.
    Unmatched,
    /// A failure callback for a push we never sent.
    UnknownRequest,
    /// Not a body we could read: refused with the reason.
    Malformed,
    /// An amount over the tenant's bound (or zero): refused with the reason.
    AmountRefused,
    /// C2B validation said no.
    Rejected,
    /// C2B validation said yes.
    Accepted,
    /// Storage failed after the body was read; answered 503.
    Error,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Duplicate => "duplicate",
            Outcome::FailedResult => "failed_result",
            Outcome::Unmatched => "unmatched",
            Outcome::UnknownRequest => "unknown_request",
            Outcome::Malformed => "malformed",
            Outcome::AmountRefused => "amount_refused",
            Outcome::Rejected => "rejected",
            Outcome::Accepted => "accepted",
            Outcome::Error => "error",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[schemars(rename = "Callback")]
pub struct Logged {
    pub id: i64,
    pub provider: String,
    pub kind: String,
    pub received_at: String,
    pub raw_body: String,
    pub body_size: i64,
    pub http_status: i64,
    #[schemars(extend("enum" = ["applied", "duplicate", "failed_result", "unmatched", "unknown_request", "malformed", "amount_refused", "rejected", "accepted", "error"]))]
    pub outcome: String,
    pub detail: Option<String>,
    pub provider_ref: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub provider: &'a str,
    pub kind: &'a str,
    pub received_at: &'a str,
    pub body: &'a [u8],
    /// How many bytes arrived (more than `body` when a host cut it short).
    pub body_size: usize,
    pub http_status: u16,
    pub outcome: Outcome,
    pub detail: Option<&'a str>,
    pub provider_ref: Option<&'a str>,
}

pub fn insert(e: &Entry<'_>) -> Statement {
    let kept = &e.body[..e.body.len().min(MAX_CALLBACK_BODY)];
    stmt!(
        "INSERT INTO callback_log (provider, kind, received_at, raw_body, body_size, http_status, outcome, detail, provider_ref) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        e.provider,
        e.kind,
        e.received_at,
        kept.to_vec(),
        e.body_size as i64,
        i64::from(e.http_status),
        e.outcome.as_str(),
        e.detail,
        e.provider_ref,
    )
}

pub async fn list(db: &impl Db, outcome: Option<&str>, limit: i64) -> Result<Vec<Logged>, StoreError> {
    let rows = db
        .query(&stmt!(
            "SELECT id, provider, kind, received_at, raw_body, body_size, http_status, outcome, detail, provider_ref \
             FROM callback_log WHERE (?1 IS NULL OR outcome = ?1) ORDER BY id DESC LIMIT ?2",
            outcome,
            limit
        ))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Logged {
                id: r.int("id")?,
                provider: r.text("provider")?,
                kind: r.text("kind")?,
                received_at: r.text("received_at")?,
                raw_body: String::from_utf8_lossy(&r.blob("raw_body")?).into_owned(),
                body_size: r.int("body_size")?,
                http_status: r.int("http_status")?,
                outcome: r.text("outcome")?,
                detail: r.opt_text("detail")?,
                provider_ref: r.opt_text("provider_ref")?,
            })
        })
        .collect()
}

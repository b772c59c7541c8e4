//! Payments received.

use serde::Serialize;

use crate::db::{Db, Row, Statement, StoreError};
use crate::stmt;

/// Where a received payment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PaymentStatus {
    /// On a subscriber's balance.
    Applied,
    /// In the unmatched inbox, waiting for an operator.
    Unmatched,
}

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Applied => "applied",
            PaymentStatus::Unmatched => "unmatched",
        }
    }
    pub fn parse(s: &str) -> Option<PaymentStatus> {
        match s {
            "applied" => Some(PaymentStatus::Applied),
            "unmatched" => Some(PaymentStatus::Unmatched),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Payment {
    pub id: String,
    pub provider: String,
    pub method: String,
    pub provider_ref: String,
    pub receipt: Option<String>,
    pub amount_cents: i64,
    pub subscriber_id: Option<String>,
    pub status: PaymentStatus,
    pub msisdn: Option<String>,
    pub payer_name: Option<String>,
    pub bill_ref: Option<String>,
    pub note: Option<String>,
    pub paid_at: Option<String>,
    pub received_at: String,
    pub applied_at: Option<String>,
}

const COLS: &str = "id, provider, method, provider_ref, receipt, amount_cents, subscriber_id, status, msisdn, \
                    payer_name, bill_ref, note, paid_at, received_at, applied_at";

fn from_row(r: &Row<'_>) -> Result<Payment, StoreError> {
    Ok(Payment {
        id: r.text("id")?,
        provider: r.text("provider")?,
        method: r.text("method")?,
        provider_ref: r.text("provider_ref")?,
        receipt: r.opt_text("receipt")?,
        amount_cents: r.int("amount_cents")?,
        subscriber_id: r.opt_text("subscriber_id")?,
        status: PaymentStatus::parse(&r.text("status")?).ok_or_else(|| StoreError::Corrupt("payment status".into()))?,
        msisdn: r.opt_text("msisdn")?,
        payer_name: r.opt_text("payer_name")?,
        bill_ref: r.opt_text("bill_ref")?,
        note: r.opt_text("note")?,
        paid_at: r.opt_text("paid_at")?,
        received_at: r.text("received_at")?,
        applied_at: r.opt_text("applied_at")?,
    })
}

pub fn insert(p: &Payment) -> Statement {
    stmt!(
        format!(
            "INSERT INTO payments ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
        ),
        &p.id,
        &p.provider,
        &p.method,
        &p.provider_ref,
        p.receipt.clone(),
        p.amount_cents,
        p.subscriber_id.clone(),
        p.status.as_str(),
        p.msisdn.clone(),
        p.payer_name.clone(),
        p.bill_ref.clone(),
        p.note.clone(),
        p.paid_at.clone(),
        &p.received_at,
        p.applied_at.clone(),
    )
}

/// Moves an unmatched payment onto a subscriber; fails the batch (via `changes()`) if
/// it was assigned meanwhile. Follow with `occ_guard` semantics: see `assign_guard`.
pub fn assign(id: &str, subscriber_id: &str, note: &str, applied_at: &str) -> [Statement; 3] {
    [
        stmt!(
            "UPDATE payments SET subscriber_id = ?2, status = 'applied', note = ?3, applied_at = ?4 \
             WHERE id = ?1 AND status = 'unmatched'",
            id,
            subscriber_id,
            note,
            applied_at
        ),
        Statement::new("INSERT INTO occ_guard (changed) VALUES (changes())"),
        Statement::new("DELETE FROM occ_guard"),
    ]
}

/// Keeps the M-Pesa receipt of a payment credited before its receipt was known (the STK query
/// carries none). Only fills an empty receipt.
pub fn set_receipt(provider: &str, provider_ref: &str, receipt: &str) -> Statement {
    stmt!(
        "UPDATE payments SET receipt = ?3 WHERE provider = ?1 AND provider_ref = ?2 AND receipt IS NULL",
        provider,
        provider_ref,
        receipt
    )
}

pub async fn get(db: &impl Db, id: &str) -> Result<Option<Payment>, StoreError> {
    let rows = db.query(&stmt!(format!("SELECT {COLS} FROM payments WHERE id = ?1"), id)).await?;
    rows.first().map(|r| from_row(&r)).transpose()
}

pub async fn by_ref(db: &impl Db, provider: &str, provider_ref: &str) -> Result<Option<Payment>, StoreError> {
    let rows = db
        .query(&stmt!(
            format!("SELECT {COLS} FROM payments WHERE provider = ?1 AND provider_ref = ?2"),
            provider,
            provider_ref
        ))
        .await?;
    rows.first().map(|r| from_row(&r)).transpose()
}

pub async fn list(
    db: &impl Db,
    status: Option<PaymentStatus>,
    subscriber_id: Option<&str>,
    limit: i64,
) -> Result<Vec<Payment>, StoreError> {
    let rows = db
        .query(&stmt!(
            format!(
                "SELECT {COLS} FROM payments WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR subscriber_id = ?2) \
                 ORDER BY received_at DESC, id LIMIT ?3"
            ),
            status.map(PaymentStatus::as_str),
            subscriber_id,
            limit
        ))
        .await?;
    rows.iter().map(|r| from_row(&r)).collect()
}

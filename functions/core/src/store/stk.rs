//! STK pushes we started.

use serde::Serialize;

use crate::db::{Db, Row, Statement, StoreError};
use crate::domain::payment::{Resolver, StkStatus};
use crate::stmt;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StkRequest {
    pub checkout_request_id: String,
    pub merchant_request_id: String,
    pub subscriber_id: String,
    pub msisdn: String,
    pub amount_cents: i64,
    pub account_ref: String,
    pub status: StkStatus,
    pub result_code: Option<String>,
    pub result_desc: Option<String>,
    pub resolved_by: Option<String>,
    pub query_attempts: i64,
    pub last_query_at: Option<String>,
    pub created_at: String,
    pub resolved_at: Option<String>,
}

const COLS: &str = "checkout_request_id, merchant_request_id, subscriber_id, msisdn, amount_cents, account_ref, status, \
                    result_code, result_desc, resolved_by, query_attempts, last_query_at, created_at, resolved_at";

fn from_row(r: &Row<'_>) -> Result<StkRequest, StoreError> {
    Ok(StkRequest {
        checkout_request_id: r.text("checkout_request_id")?,
        merchant_request_id: r.text("merchant_request_id")?,
        subscriber_id: r.text("subscriber_id")?,
        msisdn: r.text("msisdn")?,
        amount_cents: r.int("amount_cents")?,
        account_ref: r.text("account_ref")?,
        status: StkStatus::parse(&r.text("status")?).ok_or_else(|| StoreError::Corrupt("stk status".into()))?,
        result_code: r.opt_text("result_code")?,
        result_desc: r.opt_text("result_desc")?,
        resolved_by: r.opt_text("resolved_by")?,
        query_attempts: r.int("query_attempts")?,
        last_query_at: r.opt_text("last_query_at")?,
        created_at: r.text("created_at")?,
        resolved_at: r.opt_text("resolved_at")?,
    })
}

pub fn insert(s: &StkRequest) -> Statement {
    stmt!(
        format!(
            "INSERT INTO stk_requests ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
        ),
        &s.checkout_request_id,
        &s.merchant_request_id,
        &s.subscriber_id,
        &s.msisdn,
        s.amount_cents,
        &s.account_ref,
        s.status.as_str(),
        s.result_code.clone(),
        s.result_desc.clone(),
        s.resolved_by.clone(),
        s.query_attempts,
        s.last_query_at.clone(),
        &s.created_at,
        s.resolved_at.clone(),
    )
}

pub async fn get(db: &impl Db, checkout_request_id: &str) -> Result<Option<StkRequest>, StoreError> {
    let rows = db
        .query(&stmt!(format!("SELECT {COLS} FROM stk_requests WHERE checkout_request_id = ?1"), checkout_request_id))
        .await?;
    rows.first().map(|r| from_row(&r)).transpose()
}

/// Pending requests created before `before`, oldest first.
pub async fn pending_before(db: &impl Db, before: &str, limit: i64) -> Result<Vec<StkRequest>, StoreError> {
    let rows = db
        .query(&stmt!(
            format!("SELECT {COLS} FROM stk_requests WHERE status = 'pending' AND created_at <= ?1 ORDER BY created_at LIMIT ?2"),
            before,
            limit
        ))
        .await?;
    rows.iter().map(|r| from_row(&r)).collect()
}

/// Moves a request from `from` to `to` exactly once: fails the batch (occ_guard) if it is no
/// longer in `from` (someone else resolved it meanwhile).
pub fn resolve(
    id: &str,
    from: StkStatus,
    to: StkStatus,
    code: &str,
    desc: &str,
    by: Resolver,
    at: &str,
) -> [Statement; 3] {
    [
        stmt!(
            "UPDATE stk_requests SET status = ?2, result_code = ?3, result_desc = ?4, resolved_by = ?5, resolved_at = ?6 \
             WHERE checkout_request_id = ?1 AND status = ?7",
            id,
            to.as_str(),
            code,
            desc,
            by.as_str(),
            at,
            from.as_str()
        ),
        Statement::new("INSERT INTO occ_guard (changed) VALUES (changes())"),
        Statement::new("DELETE FROM occ_guard"),
    ]
}

pub fn note_query(id: &str, at: &str) -> Statement {
    stmt!(
        "UPDATE stk_requests SET query_attempts = query_attempts + 1, last_query_at = ?2 WHERE checkout_request_id = ?1",
        id,
        at
    )
}

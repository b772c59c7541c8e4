//! Voucher batches (codes themselves are derived, not stored).

use serde::Serialize;

use crate::db::{Db, Row, Statement, StoreError};
use crate::stmt;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[schemars(rename = "VoucherBatch")]
pub struct Batch {
    pub id: u32,
    pub plan_id: String,
    pub count: u32,
    pub note: String,
    pub valid_until: Option<String>,
    pub created_at: String,
    /// The agent or reseller a printed batch was made for (`""`: none).
    pub agent: String,
    /// Price of one code in cents; null: the plan's price.
    pub price_cents: Option<i64>,
    /// `printed` (made by the operator) or `online` (codes minted one by one for M-Pesa sales).
    #[schemars(extend("enum" = ["printed", "online"]))]
    pub kind: String,
}

/// A batch the portal mints codes into, one per paid sale.
pub const KIND_ONLINE: &str = "online";
/// A batch the operator made to print.
pub const KIND_PRINTED: &str = "printed";

const COLS: &str = "id, plan_id, count, note, valid_until, created_at, agent, price_cents, kind";

fn from_row(r: &Row<'_>) -> Result<Batch, StoreError> {
    let small = |name: &str| -> Result<u32, StoreError> {
        u32::try_from(r.int(name)?).map_err(|_| StoreError::Corrupt(format!("voucher batch {name}")))
    };
    Ok(Batch {
        id: small("id")?,
        plan_id: r.text("plan_id")?,
        count: small("count")?,
        note: r.text("note")?,
        valid_until: r.opt_text("valid_until")?,
        created_at: r.text("created_at")?,
        agent: r.text("agent")?,
        price_cents: r.opt_int("price_cents")?,
        kind: r.text("kind")?,
    })
}

/// What a new batch says about itself (besides its plan and size).
#[derive(Debug, Clone, Copy)]
pub struct NewBatch<'a> {
    pub note: &'a str,
    pub valid_until: Option<&'a str>,
    pub agent: &'a str,
    pub price_cents: Option<i64>,
    pub kind: &'a str,
}

/// Inserts a batch under the next free batch number; `request_id` finds it again.
pub fn insert(request_id: &str, plan_id: &str, count: u32, b: NewBatch<'_>, created_at: &str) -> Statement {
    stmt!(
        "INSERT INTO voucher_batches (id, request_id, plan_id, count, note, valid_until, created_at, agent, price_cents, kind) \
         SELECT COALESCE(MAX(id), 0) + 1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9 FROM voucher_batches",
        request_id,
        plan_id,
        i64::from(count),
        b.note,
        b.valid_until,
        created_at,
        b.agent,
        b.price_cents,
        b.kind,
    )
}

pub async fn by_request(db: &impl Db, request_id: &str) -> Result<Option<Batch>, StoreError> {
    let rows =
        db.query(&stmt!(format!("SELECT {COLS} FROM voucher_batches WHERE request_id = ?1"), request_id)).await?;
    rows.first().map(|r| from_row(&r)).transpose()
}

pub async fn get(db: &impl Db, id: u32) -> Result<Option<Batch>, StoreError> {
    let rows = db.query(&stmt!(format!("SELECT {COLS} FROM voucher_batches WHERE id = ?1"), i64::from(id))).await?;
    rows.first().map(|r| from_row(&r)).transpose()
}

/// Newest first.
pub async fn list(db: &impl Db, limit: i64) -> Result<Vec<Batch>, StoreError> {
    let rows = db.query(&stmt!(format!("SELECT {COLS} FROM voucher_batches ORDER BY id DESC LIMIT ?1"), limit)).await?;
    rows.iter().map(|r| from_row(&r)).collect()
}

/// Newest first, only the batches printed for `agent` (an agent's own batches).
pub async fn list_for_agent(db: &impl Db, agent: &str, limit: i64) -> Result<Vec<Batch>, StoreError> {
    let rows = db
        .query(&stmt!(
            format!("SELECT {COLS} FROM voucher_batches WHERE agent = ?1 AND kind = ?2 ORDER BY id DESC LIMIT ?3"),
            agent,
            KIND_PRINTED,
            limit
        ))
        .await?;
    rows.iter().map(|r| from_row(&r)).collect()
}

pub async fn last_id(db: &impl Db) -> Result<u32, StoreError> {
    let rows = db.query(&stmt!("SELECT COALESCE(MAX(id), 0) AS n FROM voucher_batches")).await?;
    let n = rows.first().map(|r| r.int("n")).transpose()?.unwrap_or(0);
    u32::try_from(n).map_err(|_| StoreError::Corrupt("voucher batch id".into()))
}

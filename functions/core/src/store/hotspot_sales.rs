//! Hotspot sales the captive portal started, and the codes minted for them.

use crate::db::{Db, Row, Statement, StoreError};
use crate::stmt;
use crate::store::vouchers::{self, KIND_ONLINE, NewBatch};

/// The subscriber every hotspot sale is credited to: the payment goes the billing core's way
/// (`stk_requests` -> `payments` -> ledger) without touching a real subscriber. It is kept
/// `suspended` with auto-renew off, so money on it never buys a period or reaches the network.
pub const SALES_ACCOUNT_ID: &str = "hotspot-sales";
/// Its account number, as the STK prompt and the payments list show it.
pub const SALES_ACCOUNT_NO: &str = "HOTSPOT";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sale {
    pub checkout_request_id: String,
    pub plan_id: String,
    pub msisdn: String,
    pub amount_cents: i64,
    pub visitor: String,
    pub mac: Option<String>,
    /// The minted code's batch and serial, once paid.
    pub minted: Option<(u32, u32)>,
    pub created_at: String,
}

const COLS: &str = "checkout_request_id, plan_id, msisdn, amount_cents, visitor, mac, batch_id, serial, created_at";

fn from_row(r: &Row<'_>) -> Result<Sale, StoreError> {
    let small = |v: Option<i64>| v.and_then(|n| u32::try_from(n).ok());
    let minted = match (small(r.opt_int("batch_id")?), small(r.opt_int("serial")?)) {
        (Some(b), Some(s)) => Some((b, s)),
        _ => None,
    };
    Ok(Sale {
        checkout_request_id: r.text("checkout_request_id")?,
        plan_id: r.text("plan_id")?,
        msisdn: r.text("msisdn")?,
        amount_cents: r.int("amount_cents")?,
        visitor: r.text("visitor")?,
        mac: r.opt_text("mac")?,
        minted,
        created_at: r.text("created_at")?,
    })
}

pub fn insert(s: &Sale) -> Statement {
    stmt!(
        format!("INSERT INTO hotspot_sales ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, NULL, ?7)"),
        &s.checkout_request_id,
        &s.plan_id,
        &s.msisdn,
        s.amount_cents,
        &s.visitor,
        s.mac.clone(),
        &s.created_at,
    )
}

pub async fn get(db: &impl Db, checkout_request_id: &str) -> Result<Option<Sale>, StoreError> {
    let rows = db
        .query(&stmt!(format!("SELECT {COLS} FROM hotspot_sales WHERE checkout_request_id = ?1"), checkout_request_id))
        .await?;
    rows.first().map(|r| from_row(&r)).transpose()
}

/// Creates the sales account if the tenant has none yet (its plan is only a placeholder: the
/// account is suspended and never renews).
pub fn ensure_sales_account(plan_id: &str, password: &str, at: &str) -> Statement {
    stmt!(
        "INSERT INTO subscribers (id, account_no, account_loose, name, phone, username, password, site, static_ip, \
         plan_id, status, expires_at, auto_renew, version, created_at) \
         VALUES (?1, ?2, ?2, 'Hotspot sales (M-Pesa)', NULL, ?1, ?3, NULL, NULL, ?4, 'suspended', NULL, 0, 0, ?5) \
         ON CONFLICT DO NOTHING",
        SALES_ACCOUNT_ID,
        SALES_ACCOUNT_NO,
        password,
        plan_id,
        at,
    )
}

/// The online batch of `plan_id` that still has serials to give, if any.
pub async fn open_online_batch(db: &impl Db, plan_id: &str) -> Result<Option<vouchers::Batch>, StoreError> {
    let rows = db
        .query(&stmt!(
            "SELECT id FROM voucher_batches WHERE kind = ?1 AND plan_id = ?2 AND count < ?3 ORDER BY id DESC LIMIT 1",
            KIND_ONLINE,
            plan_id,
            i64::from(crate::domain::voucher::SERIALS_PER_BATCH)
        ))
        .await?;
    let Some(id) = rows.first().map(|r| r.int("id")).transpose()? else { return Ok(None) };
    vouchers::get(db, u32::try_from(id).map_err(|_| StoreError::Corrupt("voucher batch id".into()))?).await
}

fn guard() -> [Statement; 2] {
    [Statement::new("INSERT INTO occ_guard (changed) VALUES (changes())"), Statement::new("DELETE FROM occ_guard")]
}

/// Mints the next serial of an open online batch for a sale: the sale takes serial `count` and
/// the batch grows by one, both only if nobody did it first (the batch fails otherwise: re-read).
pub fn mint_into(checkout_request_id: &str, batch: &vouchers::Batch, at: &str) -> Vec<Statement> {
    let [g1, d1] = guard();
    let [g2, d2] = guard();
    vec![
        stmt!(
            "UPDATE hotspot_sales SET batch_id = ?2, serial = ?3, minted_at = ?4 \
             WHERE checkout_request_id = ?1 AND batch_id IS NULL",
            checkout_request_id,
            i64::from(batch.id),
            i64::from(batch.count),
            at
        ),
        g1,
        d1,
        stmt!(
            "UPDATE voucher_batches SET count = count + 1 WHERE id = ?1 AND count = ?2",
            i64::from(batch.id),
            i64::from(batch.count)
        ),
        g2,
        d2,
    ]
}

/// The number the next voucher batch gets (see [`vouchers::insert`]).
pub async fn next_batch_id(db: &impl Db) -> Result<u32, StoreError> {
    let rows = db.query(&Statement::new("SELECT COALESCE(MAX(id), 0) + 1 AS n FROM voucher_batches")).await?;
    let n = rows.first().map(|r| r.int("n")).transpose()?.unwrap_or(1);
    u32::try_from(n).map_err(|_| StoreError::Corrupt("voucher batch id".into()))
}

/// [`mint_new_batch`] under a number known beforehand (`id`, from [`next_batch_id`]), so the code
/// is known before the batch commits: the batch fails (`Conflict`) when another took that number.
pub fn mint_new_batch_as(checkout_request_id: &str, plan_id: &str, id: u32, at: &str) -> Vec<Statement> {
    let request_id = format!("online:{checkout_request_id}");
    let [g, d] = guard();
    vec![
        stmt!(
            "INSERT INTO voucher_batches (id, request_id, plan_id, count, note, valid_until, created_at, agent, \
             price_cents, kind) VALUES (?1, ?2, ?3, 1, 'M-Pesa sales', NULL, ?4, '', NULL, ?5)",
            i64::from(id),
            &request_id,
            plan_id,
            at,
            KIND_ONLINE
        ),
        stmt!(
            "UPDATE hotspot_sales SET batch_id = ?2, serial = 0, minted_at = ?3 \
             WHERE checkout_request_id = ?1 AND batch_id IS NULL",
            checkout_request_id,
            i64::from(id),
            at
        ),
        g,
        d,
    ]
}

/// Opens a new online batch for `plan_id` with the sale as its serial 0.
pub fn mint_new_batch(checkout_request_id: &str, plan_id: &str, at: &str) -> Vec<Statement> {
    let request_id = format!("online:{checkout_request_id}");
    let new = NewBatch { note: "M-Pesa sales", valid_until: None, agent: "", price_cents: None, kind: KIND_ONLINE };
    let [g, d] = guard();
    vec![
        vouchers::insert(&request_id, plan_id, 1, new, at),
        stmt!(
            "UPDATE hotspot_sales SET batch_id = (SELECT id FROM voucher_batches WHERE request_id = ?2), serial = 0, \
             minted_at = ?3 WHERE checkout_request_id = ?1 AND batch_id IS NULL",
            checkout_request_id,
            &request_id,
            at
        ),
        g,
        d,
    ]
}

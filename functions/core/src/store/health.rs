//! One tenant's health at a glance, for the platform console: subscribers, the unmatched inbox,
//! payments of the last day, and when callbacks and router reports last arrived.

use serde::Serialize;

use crate::db::{Db, Row, StoreError};
use crate::stmt;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Health {
    pub subscribers: i64,
    pub active: i64,
    pub unmatched: i64,
    /// When the oldest unmatched payment arrived.
    pub oldest_unmatched: Option<String>,
    /// Payments applied since `since`, and their sum.
    pub paid_count: i64,
    pub paid_cents: i64,
    pub last_callback: Option<String>,
    /// Callbacks since `since` answered with an HTTP error (refused or failed).
    pub callback_errors: i64,
    pub last_router_report: Option<String>,
    /// Router passes since `since` that did not end `ok`.
    pub router_failures: i64,
}

/// The health of the tenant whose database is `db`, counting events since `since` (a timestamp).
pub async fn of(db: &impl Db, since: &str) -> Result<Health, StoreError> {
    let one = |s| async move { db.query(&s).await };
    let subs = one(stmt!(
        "SELECT COUNT(*) AS n, COALESCE(SUM(CASE WHEN status = 'active' THEN 1 ELSE 0 END), 0) AS a FROM subscribers"
    ))
    .await?;
    let unm =
        one(stmt!("SELECT COUNT(*) AS n, MIN(received_at) AS o FROM payments WHERE status = 'unmatched'")).await?;
    let paid = one(stmt!(
        "SELECT COUNT(*) AS n, COALESCE(SUM(amount_cents), 0) AS c FROM payments WHERE status = 'applied' AND received_at >= ?1",
        since
    ))
    .await?;
    let cb = one(stmt!(
        "SELECT MAX(received_at) AS l, COALESCE(SUM(CASE WHEN received_at >= ?1 AND http_status >= 400 THEN 1 ELSE 0 END), 0) AS e \
         FROM callback_log",
        since
    ))
    .await?;
    let rr = one(stmt!(
        "SELECT MAX(received_at) AS l, COALESCE(SUM(CASE WHEN received_at >= ?1 AND outcome <> 'ok' THEN 1 ELSE 0 END), 0) AS f \
         FROM sync_reports",
        since
    ))
    .await?;
    let (s, u, p, c, r) = (subs.first(), unm.first(), paid.first(), cb.first(), rr.first());
    let int =
        |row: &Option<Row<'_>>, k: &str| row.as_ref().map(|r| r.int(k)).transpose().map(Option::unwrap_or_default);
    let text = |row: &Option<Row<'_>>, k: &str| row.as_ref().map(|r| r.opt_text(k)).transpose().map(Option::flatten);
    Ok(Health {
        subscribers: int(&s, "n")?,
        active: int(&s, "a")?,
        unmatched: int(&u, "n")?,
        oldest_unmatched: text(&u, "o")?,
        paid_count: int(&p, "n")?,
        paid_cents: int(&p, "c")?,
        last_callback: text(&c, "l")?,
        callback_errors: int(&c, "e")?,
        last_router_report: text(&r, "l")?,
        router_failures: int(&r, "f")?,
    })
}

//! SQL for each capability, over the storage port. One dialect (SQLite), every platform.

pub mod callbacks;
pub mod cards;
pub mod customer;
pub mod feed;
pub mod health;
pub mod held;
pub mod hotspot_sales;
pub mod ledger;
pub mod payments;
pub mod plans;
pub mod platform_audit;
pub mod redemptions;
pub mod reports;
pub mod self_service;
pub mod sms;
pub mod staff;
pub mod stk;
pub mod subscribers;
pub mod summaries;
pub mod tenants;
pub mod throttle;
pub mod tokens;
pub mod usage;
pub mod voucher_report;
pub mod vouchers;

use crate::db::Statement;
use crate::stmt;

/// The optimistic-concurrency pair: bump `version` only if it is still `expected`,
/// and make the batch fail if it was not. Put these first in a batch.
pub fn occ_bump(subscriber_id: &str, expected: i64) -> [Statement; 3] {
    [
        stmt!("UPDATE subscribers SET version = version + 1 WHERE id = ?1 AND version = ?2", subscriber_id, expected),
        Statement::new("INSERT INTO occ_guard (changed) VALUES (changes())"),
        Statement::new("DELETE FROM occ_guard"),
    ]
}

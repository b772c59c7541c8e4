//! The ledger: every credit and debit of a subscriber's account.

use serde::Serialize;

use crate::db::{Db, Statement, StoreError};
use crate::stmt;

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[schemars(rename = "LedgerEntry")]
pub struct Entry {
    pub id: i64,
    pub kind: String,
    pub amount_cents: i64,
    pub payment_id: Option<String>,
    pub subscription_id: Option<String>,
    pub memo: String,
    #[schemars(schema_with = "crate::openapi::field::ts")]
    pub created_at: String,
    /// Running balance after this entry.
    pub balance_cents: i64,
}

/// One paid period of a plan (a renewal's subscription row).
pub fn insert_subscription(
    id: &str,
    subscriber_id: &str,
    plan_id: &str,
    starts_at: &str,
    ends_at: &str,
    price_cents: i64,
    created_at: &str,
) -> Statement {
    stmt!(
        "INSERT INTO subscriptions (id, subscriber_id, plan_id, starts_at, ends_at, price_cents, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        id,
        subscriber_id,
        plan_id,
        starts_at,
        ends_at,
        price_cents,
        created_at
    )
}

pub fn insert(
    subscriber_id: &str,
    kind: &str,
    amount_cents: i64,
    payment_id: Option<&str>,
    subscription_id: Option<&str>,
    memo: &str,
    created_at: &str,
) -> Statement {
    stmt!(
        "INSERT INTO ledger (subscriber_id, kind, amount_cents, payment_id, subscription_id, memo, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        subscriber_id,
        kind,
        amount_cents,
        payment_id,
        subscription_id,
        memo,
        created_at,
    )
}

pub async fn for_subscriber(db: &impl Db, subscriber_id: &str) -> Result<Vec<Entry>, StoreError> {
    let rows = db
        .query(&stmt!(
            "SELECT id, kind, amount_cents, payment_id, subscription_id, memo, created_at FROM ledger \
             WHERE subscriber_id = ?1 ORDER BY id",
            subscriber_id
        ))
        .await?;
    let mut balance = 0;
    rows.iter()
        .map(|r| {
            let amount = r.int("amount_cents")?;
            balance += amount;
            Ok(Entry {
                id: r.int("id")?,
                kind: r.text("kind")?,
                amount_cents: amount,
                payment_id: r.opt_text("payment_id")?,
                subscription_id: r.opt_text("subscription_id")?,
                memo: r.text("memo")?,
                created_at: r.text("created_at")?,
                balance_cents: balance,
            })
        })
        .collect()
}

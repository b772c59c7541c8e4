//! The change feed (outbox) the reconciler reads by cursor.

use serde::Serialize;

use crate::db::{Db, Statement, StoreError};
use crate::stmt;

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Change {
    pub seq: i64,
    pub subscriber_id: Option<String>,
    pub kind: String,
    pub payload: serde_json::Value,
    pub created_at: String,
}

/// Kinds of network-affecting change.
pub mod kind {
    pub const ACTIVATED: &str = "subscription_activated";
    pub const RENEWED: &str = "subscription_renewed";
    pub const EXPIRED: &str = "subscription_expired";
    pub const PLAN_CHANGED: &str = "plan_changed";
    pub const SUSPENDED: &str = "subscriber_suspended";
    pub const RESUMED: &str = "subscriber_resumed";
    pub const CREATED: &str = "subscriber_created";
    pub const UPDATED: &str = "subscriber_updated";
    pub const PLAN_UPDATED: &str = "plan_updated";
    /// An operator confirmed the disables held on a router (payload `router`, `hold_id`): the
    /// reconciler reloads the desired state, which carries the confirmation.
    pub const DISABLES_CONFIRMED: &str = "disables_confirmed";
    /// The subscriber asked to end their online sessions (the RADIUS agent sends a Disconnect).
    pub const SESSION_DISCONNECT: &str = "session_disconnect";
    /// A hotspot code's first use (payload `code`, `plan`, `expires_at`): the RADIUS agent
    /// writes its rows at once.
    pub const VOUCHER_REDEEMED: &str = "voucher_redeemed";
}

pub fn append(subscriber_id: Option<&str>, kind: &str, payload: &serde_json::Value, at: &str) -> Statement {
    stmt!(
        "INSERT INTO change_feed (subscriber_id, kind, payload, created_at) VALUES (?1, ?2, ?3, ?4)",
        subscriber_id,
        kind,
        payload.to_string(),
        at
    )
}

/// The newest change's sequence number (0 for an empty feed): where a reader that has just
/// read the whole desired state continues.
pub async fn cursor(db: &impl Db) -> Result<i64, StoreError> {
    db.query(&stmt!("SELECT COALESCE(MAX(seq), 0) AS c FROM change_feed"))
        .await?
        .first()
        .map(|r| r.int("c"))
        .transpose()
        .map(|c| c.unwrap_or(0))
}

pub async fn after(db: &impl Db, cursor: i64, limit: i64) -> Result<Vec<Change>, StoreError> {
    let rows = db
        .query(&stmt!(
            "SELECT seq, subscriber_id, kind, payload, created_at FROM change_feed WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            cursor,
            limit
        ))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Change {
                seq: r.int("seq")?,
                subscriber_id: r.opt_text("subscriber_id")?,
                kind: r.text("kind")?,
                payload: serde_json::from_str(&r.text("payload")?).unwrap_or(serde_json::Value::Null),
                created_at: r.text("created_at")?,
            })
        })
        .collect()
}

//! Disables the reconciler's mass-disable guard holds on a router (from each router's latest
//! run report, [`konnekted_sync_proto::HeldDisables`]) and the operators' confirmations of them
//! (`disable_confirmations`; the desired state carries the latest of each router back).

use konnekted_sync_proto as proto;

use crate::db::{Db, Statement, StoreError};
use crate::stmt;

/// What one router holds now, as its latest report says, and whether an operator has already
/// confirmed that very hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterHold {
    pub router: String,
    pub held: proto::HeldDisables,
    /// When the report saying so arrived.
    pub reported_at: String,
    /// The confirmation of this hold (`confirmed_at`, `confirmed_by`), waiting for the
    /// reconciler to apply it.
    pub confirmed: Option<(String, String)>,
}

/// A confirmation row; put it in the same batch as its change-feed row.
pub fn insert(router: &str, hold_id: i64, disables: i64, at: &str, by: &str) -> Statement {
    stmt!(
        "INSERT INTO disable_confirmations (router, hold_id, disables, confirmed_at, confirmed_by) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        router,
        hold_id,
        disables,
        at,
        by
    )
}

/// The latest confirmation of each router, by router name.
pub async fn latest_confirmations(db: &impl Db) -> Result<Vec<proto::DisablesConfirmation>, StoreError> {
    let rows = db
        .query(&stmt!(
            "SELECT router, hold_id, confirmed_at FROM disable_confirmations d \
             WHERE id = (SELECT MAX(id) FROM disable_confirmations WHERE router = d.router) ORDER BY router"
        ))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(proto::DisablesConfirmation {
                router: r.text("router")?,
                hold_id: u64::try_from(r.int("hold_id")?).unwrap_or(0),
                confirmed_at: r.text("confirmed_at")?,
            })
        })
        .collect()
}

/// Every router whose latest report holds disables, by router name.
pub async fn holds(db: &impl Db) -> Result<Vec<RouterHold>, StoreError> {
    let rows = db
        .query(&stmt!(
            "SELECT s.router, s.report, s.received_at, c.confirmed_at, c.confirmed_by, c.hold_id \
             FROM sync_reports s \
             LEFT JOIN disable_confirmations c ON c.id = (SELECT MAX(id) FROM disable_confirmations WHERE router = s.router) \
             WHERE s.id = (SELECT MAX(id) FROM sync_reports WHERE router = s.router) ORDER BY s.router"
        ))
        .await?;
    let mut out = Vec::new();
    for r in rows.iter() {
        let report: serde_json::Value = serde_json::from_str(&r.text("report")?).unwrap_or(serde_json::Value::Null);
        let Some(held) = report.get("held").and_then(|h| serde_json::from_value::<proto::HeldDisables>(h.clone()).ok())
        else {
            continue;
        };
        let confirmed = match (r.opt_int("hold_id")?, r.opt_text("confirmed_at")?, r.opt_text("confirmed_by")?) {
            (Some(id), Some(at), Some(by)) if u64::try_from(id).ok() == Some(held.hold_id) => Some((at, by)),
            _ => None,
        };
        out.push(RouterHold { router: r.text("router")?, held, reported_at: r.text("received_at")?, confirmed });
    }
    Ok(out)
}

/// What `router` holds now, if anything.
pub async fn hold_of(db: &impl Db, router: &str) -> Result<Option<RouterHold>, StoreError> {
    Ok(holds(db).await?.into_iter().find(|h| h.router == router))
}

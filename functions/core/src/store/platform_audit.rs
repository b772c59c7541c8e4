//! The platform operator's audit log in the control database: who created, suspended or resumed
//! which tenant, and when (issue 14).

use chrono::{DateTime, Utc};

use crate::db::{Db, StoreError};
use crate::domain::time::fmt_ts;
use crate::stmt;

/// One entry, newest first from [`recent`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub at: String,
    /// Who: the platform token's tag and the client address it came from.
    pub actor: String,
    /// `tenant.create`, `tenant.disabled`, `tenant.active`.
    pub action: String,
    pub realm: String,
}

/// Records `action` on `realm` by `actor` at `now`.
pub async fn record(
    control: &impl Db,
    now: DateTime<Utc>,
    actor: &str,
    action: &str,
    realm: &str,
) -> Result<(), StoreError> {
    control
        .batch(&[stmt!(
            "INSERT INTO platform_audit (at, actor, action, realm) VALUES (?1, ?2, ?3, ?4)",
            fmt_ts(now),
            actor,
            action,
            realm
        )])
        .await?;
    Ok(())
}

/// The newest `limit` entries, newest first.
pub async fn recent(control: &impl Db, limit: i64) -> Result<Vec<Entry>, StoreError> {
    let rows = control
        .query(&stmt!("SELECT at, actor, action, realm FROM platform_audit ORDER BY id DESC LIMIT ?1", limit))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Entry { at: r.text("at")?, actor: r.text("actor")?, action: r.text("action")?, realm: r.text("realm")? })
        })
        .collect()
}

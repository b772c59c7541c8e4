//! The platform operator's audit log in the control database: who created, suspended or resumed
//! which tenant, and when (issue 14).
//!
//! An entry is never written on its own: [`entry`] and [`entry_if_tenant`] are statements for the
//! same atomic batch as the change they record ([`crate::store::tenants::insert`],
//! [`crate::store::tenants::set_status`]), so a change is never without its entry and an entry
//! never without its change.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::db::{Db, Statement, StoreError};
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

/// The tag of a platform token: the first 16 hex digits of its SHA-256 (the token itself is never
/// stored or shown).
pub fn token_tag(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))[..16].to_owned()
}

/// "Who" for an entry: the token's tag (its first 8 hex digits) and the client's address.
pub fn actor(token_tag: &str, client: &str) -> String {
    format!("token {} from {client}", &token_tag[..token_tag.len().min(8)])
}

/// The statement that records `action` on `realm` by `actor` at `now`: put it in the batch of the
/// change it records.
pub fn entry(now: DateTime<Utc>, actor: &str, action: &str, realm: &str) -> Statement {
    stmt!(
        "INSERT INTO platform_audit (at, actor, action, realm) VALUES (?1, ?2, ?3, ?4)",
        fmt_ts(now),
        actor,
        action,
        realm
    )
}

/// Like [`entry`], but writes nothing when no tenant `realm` is registered: a change that found no
/// tenant is not logged (and changes 0 rows, which is how the caller tells).
pub fn entry_if_tenant(now: DateTime<Utc>, actor: &str, action: &str, realm: &str) -> Statement {
    stmt!(
        "INSERT INTO platform_audit (at, actor, action, realm) \
         SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM tenants WHERE realm = ?4)",
        fmt_ts(now),
        actor,
        action,
        realm
    )
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

//! Cached provider access tokens (Daraja OAuth), shared by every request of a tenant.

use chrono::{DateTime, Utc};

use crate::db::{Db, Statement, StoreError};
use crate::domain::time::{fmt_ts, parse_ts};
use crate::stmt;

/// The cached token of `provider` if it is still good at `now`.
pub async fn fresh(db: &impl Db, provider: &str, now: DateTime<Utc>) -> Result<Option<String>, StoreError> {
    let rows = db.query(&stmt!("SELECT token, expires_at FROM provider_tokens WHERE provider = ?1", provider)).await?;
    let Some(r) = rows.first() else {
        return Ok(None);
    };
    let good = r.text("expires_at").ok().and_then(|e| parse_ts(&e)).is_some_and(|e| e > now);
    if good { r.text("token").map(Some) } else { Ok(None) }
}

/// Keeps `token` for `provider` until `refresh_at`.
pub fn put(provider: &str, token: &str, refresh_at: DateTime<Utc>) -> Statement {
    stmt!(
        "INSERT INTO provider_tokens (provider, token, expires_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (provider) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at",
        provider,
        token,
        fmt_ts(refresh_at)
    )
}

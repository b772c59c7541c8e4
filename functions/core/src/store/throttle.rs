//! Windowed counters for throttling, on every platform (no memory survives a stateless request).
//!
//! A limit is "at most `limit` events per `window` seconds for `key`". Fixed windows: the count of
//! the window `now` falls in. Check before acting ([`check`]); count what must be limited
//! ([`bump`], a statement to put in the same batch as the event, or alone). Keys say what is
//! counted, e.g. `voucher-fail:mac:AA:BB:CC:DD:EE:FF`, `otp-send:phone:254712345678`,
//! `login-fail:ip:10.0.0.7`. The tenant database holds a tenant's counters; the control database
//! those with no tenant. The scheduled pass deletes old windows ([`prune`]).

use chrono::{DateTime, Utc};

use crate::db::{Db, Statement, StoreError};
use crate::stmt;

/// One limit: at most `limit` events per `window_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub limit: i64,
    pub window_seconds: i64,
}

/// What [`check`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed {
        remaining: i64,
    },
    /// Over the limit until the window ends, `retry_after_seconds` from now.
    Limited {
        retry_after_seconds: i64,
    },
}

impl Verdict {
    pub fn is_allowed(self) -> bool {
        matches!(self, Verdict::Allowed { .. })
    }
}

fn window_start(now: DateTime<Utc>, window_seconds: i64) -> i64 {
    let t = now.timestamp();
    let w = window_seconds.max(1);
    t - t.rem_euclid(w)
}

/// Whether one more event for `key` is within `limit` at `now`.
pub async fn check(db: &impl Db, key: &str, limit: Limit, now: DateTime<Utc>) -> Result<Verdict, StoreError> {
    let start = window_start(now, limit.window_seconds);
    let rows = db.query(&stmt!("SELECT count FROM throttle WHERE key = ?1 AND window_start = ?2", key, start)).await?;
    let used = match rows.first() {
        Some(r) => r.int("count")?,
        None => 0,
    };
    Ok(if used < limit.limit {
        Verdict::Allowed { remaining: limit.limit - used }
    } else {
        Verdict::Limited { retry_after_seconds: (start + limit.window_seconds.max(1) - now.timestamp()).max(1) }
    })
}

/// Counts one event for `key` in the window of `now` (put it in the event's own batch).
pub fn bump(key: &str, limit: Limit, now: DateTime<Utc>) -> Statement {
    stmt!(
        "INSERT INTO throttle (key, window_start, count) VALUES (?1, ?2, 1) \
         ON CONFLICT (key, window_start) DO UPDATE SET count = count + 1",
        key,
        window_start(now, limit.window_seconds)
    )
}

/// Forgets the count of `key` in the window of `now` (after a success, where a limit counts
/// failures only).
pub fn reset(key: &str, limit: Limit, now: DateTime<Utc>) -> Statement {
    stmt!("DELETE FROM throttle WHERE key = ?1 AND window_start = ?2", key, window_start(now, limit.window_seconds))
}

/// Deletes windows that started more than `keep_seconds` before `now`.
pub fn prune(now: DateTime<Utc>, keep_seconds: i64) -> Statement {
    stmt!("DELETE FROM throttle WHERE window_start < ?1", now.timestamp() - keep_seconds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestDb;
    use chrono::TimeZone;
    use futures::executor::block_on;

    #[test]
    fn throttle_trips_at_the_limit_and_recovers_in_the_next_window() {
        let db = TestDb::tenant();
        let lim = Limit { limit: 3, window_seconds: 600 };
        let t0 = Utc.with_ymd_and_hms(2026, 12, 3, 10, 0, 0).single().expect("valid");
        let key = "voucher-fail:mac:AA";
        block_on(async {
            for i in 0..3 {
                assert_eq!(check(&db, key, lim, t0).await.expect("check"), Verdict::Allowed { remaining: 3 - i });
                db.batch(&[bump(key, lim, t0)]).await.expect("bump");
            }
            let v = check(&db, key, lim, t0 + chrono::Duration::seconds(100)).await.expect("check");
            assert_eq!(v, Verdict::Limited { retry_after_seconds: 500 });
            assert!(check(&db, "voucher-fail:mac:BB", lim, t0).await.expect("check").is_allowed(), "keys are apart");
            let next = t0 + chrono::Duration::seconds(600);
            assert!(check(&db, key, lim, next).await.expect("check").is_allowed(), "a new window starts empty");
            db.batch(&[reset(key, lim, t0)]).await.expect("reset");
            assert!(check(&db, key, lim, t0).await.expect("check").is_allowed(), "reset forgets");
            db.batch(&[bump(key, lim, t0), prune(next, 0)]).await.expect("prune");
            let n = db.query(&Statement::new("SELECT COUNT(*) AS n FROM throttle")).await.expect("count");
            assert_eq!(n.first().map(|r| r.int("n").expect("int")), Some(0));
        });
    }
}

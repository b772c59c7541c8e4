//! An operator confirms the disables the reconciler's mass-disable guard holds on a router
//! (console routers page, `POST /api/t/{realm}/routers/{router}/confirm-disables`).
//!
//! The edge cannot reach the reconciler: it records the confirmation with the hold's id and
//! writes a `disables_confirmed` change-feed row in the same batch; the reconciler reloads the
//! desired state (which carries the latest confirmation of each router) and releases exactly
//! that hold, never one held after it (a hold that grew has another id).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::db::Db;
use crate::domain::time::fmt_ts;
use crate::store::{feed, held};
use crate::usecases::UseCaseError;

/// A confirmation recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[schemars(rename = "DisablesConfirmed")]
pub struct Confirmed {
    pub router: String,
    pub hold_id: u64,
    /// Disables it releases.
    pub disables: u64,
    pub confirmed_at: String,
    /// `false` when this hold was already confirmed (nothing new recorded).
    pub recorded: bool,
}

/// Confirms hold `hold_id` of `router` as `actor`. `NotFound` when nothing is held there;
/// `Conflict` when the hold is not the one named (it grew or was released since the operator
/// looked). Confirming a hold again records nothing.
pub async fn confirm(
    db: &impl Db,
    router: &str,
    hold_id: u64,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Confirmed, UseCaseError> {
    let Some(h) = held::hold_of(db, router).await? else {
        return Err(UseCaseError::NotFound("held disables on this router"));
    };
    if h.held.hold_id != hold_id {
        return Err(UseCaseError::Conflict(format!(
            "the disables held on {router} changed (hold {} now, not {hold_id}): look again before confirming",
            h.held.hold_id
        )));
    }
    let at = fmt_ts(now);
    let mut out = Confirmed {
        router: router.to_owned(),
        hold_id,
        disables: h.held.disables,
        confirmed_at: h.confirmed.as_ref().map_or_else(|| at.clone(), |c| c.0.clone()),
        recorded: h.confirmed.is_none(),
    };
    if h.confirmed.is_some() {
        return Ok(out);
    }
    let id = i64::try_from(hold_id).map_err(|_| UseCaseError::Invalid("hold_id out of range".into()))?;
    let disables = i64::try_from(h.held.disables).unwrap_or(i64::MAX);
    db.batch(&[
        held::insert(router, id, disables, &at, actor),
        feed::append(
            None,
            feed::kind::DISABLES_CONFIRMED,
            &serde_json::json!({"router": router, "hold_id": hold_id}),
            &at,
        ),
    ])
    .await?;
    out.recorded = true;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestDb, run};

    fn report(db: &TestDb, router: &str, held: Option<serde_json::Value>) {
        db.report(router, held, 1, "2026-12-06T07:15:00Z");
    }

    fn held(id: u64) -> serde_json::Value {
        serde_json::json!({"hold_id": id, "disables": 7, "since": "2026-12-06T07:10:00Z", "reason": "limit",
                           "usernames": ["m1", "m2"]})
    }

    fn now() -> DateTime<Utc> {
        crate::domain::time::parse_ts("2026-12-06T07:20:00Z").unwrap()
    }

    #[test]
    fn confirm_held_disables_records_once_with_a_feed_row_and_the_desired_state_carries_it() {
        let db = TestDb::tenant();
        report(&db, "tower-1", Some(held(41)));
        report(&db, "tower-2", None);
        let c = run(confirm(&db, "tower-1", 41, "owner@acme", now())).unwrap();
        assert_eq!((c.disables, c.recorded), (7, true));
        let again = run(confirm(&db, "tower-1", 41, "staff@acme", now())).unwrap();
        assert!(!again.recorded, "the same hold twice: recorded once");
        let feed = run(feed::after(&db, 0, 10)).unwrap();
        assert_eq!(feed.len(), 1);
        assert_eq!((feed[0].kind.as_str(), feed[0].payload["hold_id"].as_u64()), ("disables_confirmed", Some(41)));
        let latest = run(held::latest_confirmations(&db)).unwrap();
        assert_eq!(latest.len(), 1);
        assert_eq!((latest[0].router.as_str(), latest[0].hold_id), ("tower-1", 41));
        let h = run(held::hold_of(&db, "tower-1")).unwrap().expect("held");
        assert_eq!(h.confirmed.map(|c| c.1), Some("owner@acme".into()));
    }

    #[test]
    fn confirm_of_an_old_hold_or_of_nothing_held_is_refused() {
        let db = TestDb::tenant();
        report(&db, "tower-1", Some(held(41)));
        report(&db, "tower-1", Some(held(42)));
        assert!(matches!(run(confirm(&db, "tower-1", 41, "o", now())), Err(UseCaseError::Conflict(_))));
        assert!(matches!(run(confirm(&db, "tower-9", 41, "o", now())), Err(UseCaseError::NotFound(_))));
        report(&db, "tower-1", None);
        assert!(matches!(run(confirm(&db, "tower-1", 42, "o", now())), Err(UseCaseError::NotFound(_))));
        assert!(run(feed::after(&db, 0, 10)).unwrap().is_empty());
    }
}

//! What the reconciler saw and did on each router pass (`POST /sync/{realm}/reports`), kept for
//! the operator: refusals of the mass-disable guard, traps, name conflicts, drift.

use serde::Serialize;

use crate::db::{Db, Statement, StoreError};
use crate::stmt;

/// One stored run report.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct RunReport {
    pub id: i64,
    pub router: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub outcome: String,
    pub drift_found: i64,
    pub drift_fixed: i64,
    /// The report as the reconciler sent it (its `details`: refusals, errors, conflicts...).
    pub report: serde_json::Value,
    pub received_at: String,
}

/// The columns of a report as received.
pub struct NewReport<'a> {
    pub router: &'a str,
    pub started_at: Option<&'a str>,
    pub finished_at: Option<&'a str>,
    pub outcome: &'a str,
    pub drift_found: i64,
    pub drift_fixed: i64,
    pub report_json: &'a str,
    pub received_at: &'a str,
}

pub fn insert(r: &NewReport<'_>) -> Statement {
    stmt!(
        "INSERT INTO sync_reports (router, started_at, finished_at, outcome, drift_found, drift_fixed, report, received_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        r.router,
        r.started_at,
        r.finished_at,
        r.outcome,
        r.drift_found,
        r.drift_fixed,
        r.report_json,
        r.received_at,
    )
}

/// The newest reports first, optionally of one router and/or one outcome (`ok`, `refused`, `error`).
pub async fn list(
    db: &impl Db,
    router: Option<&str>,
    outcome: Option<&str>,
    limit: i64,
) -> Result<Vec<RunReport>, StoreError> {
    let rows = db
        .query(&stmt!(
            "SELECT id, router, started_at, finished_at, outcome, drift_found, drift_fixed, report, received_at \
             FROM sync_reports WHERE (?1 IS NULL OR router = ?1) AND (?2 IS NULL OR outcome = ?2) \
             ORDER BY id DESC LIMIT ?3",
            router,
            outcome,
            limit
        ))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(RunReport {
                id: r.int("id")?,
                router: r.text("router")?,
                started_at: r.opt_text("started_at")?,
                finished_at: r.opt_text("finished_at")?,
                outcome: r.text("outcome")?,
                drift_found: r.int("drift_found")?,
                drift_fixed: r.int("drift_fixed")?,
                report: serde_json::from_str(&r.text("report")?).unwrap_or(serde_json::Value::Null),
                received_at: r.text("received_at")?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestDb, run};

    #[test]
    fn reports_list_filters_by_router_and_outcome_newest_first() {
        let db = TestDb::tenant();
        for (router, outcome) in [("r1", "ok"), ("r2", "refused"), ("r1", "refused")] {
            let json = format!(r#"{{"router":"{router}","details":{{"refusal":"guard"}}}}"#);
            let r = NewReport {
                router,
                started_at: None,
                finished_at: None,
                outcome,
                drift_found: 1,
                drift_fixed: 0,
                report_json: &json,
                received_at: "2026-12-03T10:00:00Z",
            };
            run(db.batch(&[insert(&r)])).unwrap();
        }
        let all = run(list(&db, None, None, 10)).unwrap();
        assert_eq!(all.iter().map(|r| r.router.as_str()).collect::<Vec<_>>(), ["r1", "r2", "r1"]);
        let refused_r1 = run(list(&db, Some("r1"), Some("refused"), 10)).unwrap();
        assert_eq!(refused_r1.len(), 1);
        assert_eq!(refused_r1[0].report["details"]["refusal"], "guard");
    }
}

//! The expiry pass: auto-renew from balance at expiry, cut off after grace.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::db::{Db, Statement, StoreError};
use crate::domain::billing;
use crate::ids::IdGen;
use crate::store::tenants::TenantSettings;
use crate::store::{occ_bump, plans, subscribers};
use crate::usecases::credit::{account_state, outcome_statements};

#[derive(Debug, Default, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ExpiryReport {
    pub examined: usize,
    pub renewed: usize,
    pub expired: usize,
}

pub async fn run(
    db: &impl Db,
    settings: &TenantSettings,
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Result<ExpiryReport, StoreError> {
    let mut report = ExpiryReport::default();
    for s in subscribers::due_for_tick(db, now, 500).await? {
        report.examined += 1;
        let Some(plan) = plans::get(db, &s.subscriber.plan_id).await? else {
            continue;
        };
        let outcome = billing::on_tick(&account_state(&s, plan.price, plan.period_seconds, settings), now);
        let stmts = outcome_statements(&s, &plan, &outcome, ids, now);
        if stmts.is_empty() {
            continue;
        }
        let mut batch: Vec<Statement> = occ_bump(&s.subscriber.id, s.subscriber.version).into();
        batch.extend(stmts);
        match db.batch(&batch).await {
            Ok(_) => {
                report.renewed += usize::from(!outcome.periods.is_empty());
                report.expired += usize::from(outcome.expired);
            }
            // Someone paid or changed the subscriber meanwhile: the next pass looks again.
            Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(report)
}

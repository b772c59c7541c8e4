//! The missed-callback sweep: ask Daraja about STK pushes that never called back,
//! and apply the answer through the same exactly-once path as a callback.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::db::{Db, StoreError};
use crate::domain::Money;
use crate::domain::payment::{StkDecision, StkEvidence, StkView, decide_stk};
use crate::domain::time::{fmt_ts, parse_ts};
use crate::ids::IdGen;
use crate::mpesa;
use crate::platform::{Level, Platform};
use crate::store::stk;
use crate::store::tenants::Tenant;
use crate::usecases::callbacks::{StkPaymentFacts, apply_stk};
use crate::usecases::retry_races;

#[derive(Debug, Default, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct SweepReport {
    pub examined: usize,
    pub paid: usize,
    pub failed: usize,
    pub still_pending: usize,
    pub errors: usize,
}

pub async fn run<P: Platform>(
    p: &P,
    db: &P::Db,
    tenant: &Tenant,
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Result<SweepReport, StoreError> {
    let settings = &tenant.settings;
    let key = crate::usecases::vouchers::key(p.settings(), &tenant.realm).ok();
    let before = fmt_ts(now - Duration::seconds(settings.stk_sweep_after_seconds));
    let mut report = SweepReport::default();
    for req in stk::pending_before(db, &before, 100).await? {
        report.examined += 1;
        let recently = req
            .last_query_at
            .as_deref()
            .and_then(parse_ts)
            .is_some_and(|t| now - t < Duration::seconds(settings.stk_requery_seconds));
        if recently {
            report.still_pending += 1;
            continue;
        }
        let id = req.checkout_request_id.as_str();
        let answer = mpesa::stk_query(p, db, tenant, id, now).await;
        if let Err(e) = &answer {
            p.log(Level::Warn, &format!("{}: STK query for {id} failed: {e}", tenant.realm));
        }
        let (evidence, trusted) = evidence_from_query(id, answer.ok());
        if !trusted {
            report.errors += 1;
        }
        let age = parse_ts(&req.created_at).map(|c| now - c).unwrap_or_default();
        let overdue = age > Duration::seconds(settings.stk_give_up_seconds);
        match apply_evidence(db, tenant, key.as_ref(), id, &evidence, overdue, ids, now).await? {
            Some(StkDecision::Credit { .. }) => report.paid += 1,
            Some(StkDecision::Fail { .. }) => report.failed += 1,
            Some(StkDecision::NoteQuery) => report.still_pending += 1,
            _ => {} // resolved by a callback meanwhile
        }
    }
    Ok(report)
}

/// What an STK query's answer (None: the query failed) says about push `id`, and whether the
/// answer could be used. An answer about another CheckoutRequestID is no answer.
pub fn evidence_from_query(id: &str, answer: Option<daraja::StkQueryOutcome>) -> (StkEvidence, bool) {
    match answer {
        None => (StkEvidence::QueryUnknown, false),
        Some(daraja::StkQueryOutcome::Pending { .. }) => (StkEvidence::QueryUnknown, true),
        Some(daraja::StkQueryOutcome::Final(r)) if r.checkout_request_id != id => (StkEvidence::QueryUnknown, false),
        Some(daraja::StkQueryOutcome::Final(r)) if r.result_code.is_success() => {
            (StkEvidence::QueryPaid { desc: r.result_desc }, true)
        }
        Some(daraja::StkQueryOutcome::Final(r)) => {
            (StkEvidence::QueryFailed { code: r.result_code.code(), desc: r.result_desc }, true)
        }
    }
}

/// Applies one piece of sweep evidence to a push (re-reading it after a lost race), and gives
/// up on a push still unanswered past `stk_give_up_seconds`. Returns the decision applied.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn apply_evidence(
    db: &impl Db,
    tenant: &Tenant,
    voucher_key: Option<&crate::domain::voucher::VoucherKey>,
    id: &str,
    evidence: &StkEvidence,
    overdue: bool,
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Result<Option<StkDecision>, StoreError> {
    let applied = retry_races!(StoreError, {
        let Some(req) = stk::get(db, id).await? else {
            return Ok(None);
        };
        let view = StkView { status: req.status, requested: Money(req.amount_cents), receipt: None };
        let mut decision = decide_stk(&view, evidence);
        if decision == StkDecision::NoteQuery && overdue {
            decision = decide_stk(&view, &StkEvidence::GiveUp);
        }
        let facts = match evidence {
            StkEvidence::QueryPaid { desc } | StkEvidence::QueryFailed { desc, .. } => {
                StkPaymentFacts { result_desc: desc.clone(), ..Default::default() }
            }
            _ => StkPaymentFacts::default(),
        };
        apply_stk(db, tenant, voucher_key, &req, decision.clone(), None, facts, ids, now).await?;
        Ok(Some(decision))
    })
    .await?;
    Ok(applied.flatten())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn final_answer(id: &str, code: i64) -> daraja::StkQueryOutcome {
        daraja::StkQueryOutcome::Final(daraja::StkQueryResult {
            merchant_request_id: "m".into(),
            checkout_request_id: id.into(),
            result_code: daraja::ResultCode::from_number(code),
            result_desc: "d".into(),
        })
    }

    #[test]
    fn stk_query_answer_about_another_push_is_no_answer() {
        let (e, trusted) = evidence_from_query("ws_CO_A", Some(final_answer("ws_CO_B", 0)));
        assert_eq!(e, StkEvidence::QueryUnknown);
        assert!(!trusted);
    }

    #[test]
    fn stk_query_answers_map_to_evidence() {
        assert!(matches!(evidence_from_query("a", Some(final_answer("a", 0))).0, StkEvidence::QueryPaid { .. }));
        assert!(matches!(
            evidence_from_query("a", Some(final_answer("a", 1037))).0,
            StkEvidence::QueryFailed { ref code, .. } if code == "1037"
        ));
        assert_eq!(evidence_from_query("a", None), (StkEvidence::QueryUnknown, false));
    }
}

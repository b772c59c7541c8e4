//! The missed-callback sweep: ask Daraja about STK pushes that never called back,
//! and apply the answer through the same exactly-once path as a callback.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::db::{Db, Statement, StoreError};
use crate::domain::Money;
use crate::domain::time::{fmt_ts, parse_ts};
use crate::ids::IdGen;
use crate::mpesa;
use crate::platform::{Level, Platform};
use crate::store::payments::{self, Payment};
use crate::store::stk;
use crate::store::tenants::Tenant;
use crate::usecases::MAX_ATTEMPTS;
use crate::usecases::credit::{Credit, credit_once};

#[derive(Debug, Default, Clone, PartialEq, Serialize)]
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
        let age = parse_ts(&req.created_at).map(|c| now - c).unwrap_or_default();
        let outcome = match mpesa::stk_query(p, db, tenant, &req.checkout_request_id, now).await {
            Ok(o) => o,
            Err(e) => {
                report.errors += 1;
                p.log(Level::Warn, &format!("{}: STK query for {} failed: {e}", tenant.realm, req.checkout_request_id));
                db.batch(&[stk::note_query(&req.checkout_request_id, &fmt_ts(now))]).await?;
                if age > Duration::seconds(settings.stk_give_up_seconds) {
                    give_up(db, &req.checkout_request_id, now).await?;
                }
                continue;
            }
        };
        match outcome {
            daraja::StkQueryOutcome::Pending { .. } => {
                if age > Duration::seconds(settings.stk_give_up_seconds) {
                    give_up(db, &req.checkout_request_id, now).await?;
                    report.failed += 1;
                } else {
                    db.batch(&[stk::note_query(&req.checkout_request_id, &fmt_ts(now))]).await?;
                    report.still_pending += 1;
                }
            }
            daraja::StkQueryOutcome::Final(result) if result.result_code.is_success() => {
                if apply_paid(db, tenant, &req, &result.result_desc, ids, now).await? {
                    report.paid += 1;
                }
            }
            daraja::StkQueryOutcome::Final(result) => {
                let batch: Vec<Statement> = stk::resolve(
                    &req.checkout_request_id,
                    "failed",
                    &result.result_code.code(),
                    &result.result_desc,
                    "sweep",
                    &fmt_ts(now),
                )
                .into();
                match db.batch(&batch).await {
                    Ok(_) => report.failed += 1,
                    Err(StoreError::Conflict(_)) => {} // the callback got there first
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(report)
}

async fn give_up(db: &impl Db, id: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
    let batch: Vec<Statement> =
        stk::resolve(id, "failed", "timeout", "no final answer from M-Pesa", "sweep", &fmt_ts(now)).into();
    match db.batch(&batch).await {
        Ok(_) | Err(StoreError::Conflict(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Credits a push the query says was paid. The query carries no receipt number, so the
/// payment is keyed by CheckoutRequestID, exactly as the callback's would be.
async fn apply_paid(
    db: &impl Db,
    tenant: &Tenant,
    req: &stk::StkRequest,
    desc: &str,
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    for _ in 0..MAX_ATTEMPTS {
        match stk::get(db, &req.checkout_request_id).await? {
            Some(r) if r.status == "pending" => {}
            _ => return Ok(false),
        }
        let payment = Payment {
            id: ids.uuid(),
            provider: "mpesa".into(),
            method: "stk".into(),
            provider_ref: req.checkout_request_id.clone(),
            receipt: None,
            amount_cents: req.amount_cents,
            subscriber_id: Some(req.subscriber_id.clone()),
            status: "applied".into(),
            msisdn: Some(req.msisdn.clone()),
            payer_name: None,
            bill_ref: Some(req.account_ref.clone()),
            note: Some("recovered by STK query (no callback received)".into()),
            paid_at: None,
            received_at: fmt_ts(now),
            applied_at: Some(fmt_ts(now)),
        };
        let mut prelude: Vec<Statement> =
            stk::resolve(&req.checkout_request_id, "paid", "0", desc, "sweep", &fmt_ts(now)).into();
        prelude.push(payments::insert(&payment));
        let memo = "M-Pesa (recovered by STK query)";
        match credit_once(
            db,
            &tenant.settings,
            &req.subscriber_id,
            Credit { amount: Money(req.amount_cents), payment_id: &payment.id, memo, prelude },
            ids,
            now,
        )
        .await
        {
            Ok(_) => return Ok(true),
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

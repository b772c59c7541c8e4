//! M-Pesa callbacks: STK results and Paybill (C2B) validation and confirmation.
//!
//! Every body is logged raw, whatever becomes of it. Crediting is exactly-once:
//! the STK request's pending->paid transition and the (provider, provider_ref)
//! unique key both guard the one atomic batch that credits.

use chrono::{DateTime, Utc};

use crate::db::{Db, Statement, StoreError};
use crate::domain::Money;
use crate::domain::Msisdn;
use crate::domain::names::canonical_account;
use crate::domain::time::fmt_ts;
use crate::ids::IdGen;
use crate::store::callbacks::{self, Entry};
use crate::store::payments::{self, Payment};
use crate::store::stk;
use crate::store::subscribers::{self, WithBalance};
use crate::store::tenants::{C2bValidation, Tenant};
use crate::usecases::MAX_ATTEMPTS;
use crate::usecases::credit::{Applied, Credit, credit_once, credit_snapshot};

/// What to answer the provider, and what happened (for logs and tests).
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub body: serde_json::Value,
    pub outcome: &'static str,
    pub applied: Option<Applied>,
}

fn reply(status: u16, body: serde_json::Value, outcome: &'static str) -> Reply {
    Reply { status, body, outcome, applied: None }
}

fn log_stmt(
    kind: &str,
    now: DateTime<Utc>,
    body: &[u8],
    r: &Reply,
    detail: Option<&str>,
    reference: Option<&str>,
) -> Statement {
    callbacks::insert(&Entry {
        provider: "mpesa",
        kind,
        received_at: &fmt_ts(now),
        body,
        http_status: r.status,
        outcome: r.outcome,
        detail,
        provider_ref: reference,
    })
}

async fn log_only(
    db: &impl Db,
    kind: &str,
    now: DateTime<Utc>,
    body: &[u8],
    r: Reply,
    detail: Option<&str>,
    reference: Option<&str>,
) -> Result<Reply, StoreError> {
    db.batch(&[log_stmt(kind, now, body, &r, detail, reference)]).await?;
    Ok(r)
}

fn ack() -> serde_json::Value {
    serde_json::json!({"ResultCode": 0, "ResultDesc": "Accepted"})
}

fn malformed(reason: &str) -> serde_json::Value {
    serde_json::json!({"ResultCode": 1, "ResultDesc": format!("Rejected: {reason}")})
}

/// Handles an STK callback body.
pub async fn stk_callback(
    db: &impl Db,
    tenant: &Tenant,
    body: &[u8],
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Result<Reply, StoreError> {
    const KIND: &str = "stk_callback";
    let cb = match daraja::parse_stk_callback(body) {
        Ok(cb) => cb,
        Err(e) => {
            let status = if matches!(e, daraja::CallbackError::TooLarge { .. }) { 413 } else { 400 };
            let reason = e.to_string();
            return log_only(db, KIND, now, body, reply(status, malformed(&reason), "malformed"), Some(&reason), None)
                .await;
        }
    };
    let id = cb.checkout_request_id.clone();
    for _ in 0..MAX_ATTEMPTS {
        let Some(req) = stk::get(db, &id).await? else {
            return stk_unknown(db, &cb, body, ids, now).await;
        };
        if req.status != "pending" {
            let detail = format!("already {} by {}", req.status, req.resolved_by.as_deref().unwrap_or("?"));
            return log_only(db, KIND, now, body, reply(200, ack(), "duplicate"), Some(&detail), Some(&id)).await;
        }
        let code = cb.result_code();
        let attempt = match &cb.outcome {
            daraja::StkOutcome::Failed(code) => {
                let r = reply(200, ack(), "failed_result");
                let mut batch: Vec<Statement> =
                    stk::resolve(&id, "failed", &code.code(), &cb.result_desc, "callback", &fmt_ts(now)).into();
                batch.push(log_stmt(KIND, now, body, &r, Some(&cb.result_desc), Some(&id)));
                db.batch(&batch).await.map(|_| r)
            }
            daraja::StkOutcome::Paid(paid) => {
                let mut r = reply(200, ack(), "applied");
                let payment = Payment {
                    id: ids.uuid(),
                    provider: "mpesa".into(),
                    method: "stk".into(),
                    provider_ref: id.clone(),
                    receipt: Some(paid.receipt.clone()),
                    amount_cents: paid.amount_cents as i64,
                    subscriber_id: Some(req.subscriber_id.clone()),
                    status: "applied".into(),
                    msisdn: paid.phone_number.clone().or(Some(req.msisdn.clone())),
                    payer_name: None,
                    bill_ref: Some(req.account_ref.clone()),
                    note: (paid.amount_cents as i64 != req.amount_cents)
                        .then(|| format!("requested {} cents, paid {}", req.amount_cents, paid.amount_cents)),
                    paid_at: paid.transaction_date.map(fmt_ts),
                    received_at: fmt_ts(now),
                    applied_at: Some(fmt_ts(now)),
                };
                let mut prelude: Vec<Statement> =
                    stk::resolve(&id, "paid", &code.code(), &cb.result_desc, "callback", &fmt_ts(now)).into();
                prelude.push(payments::insert(&payment));
                prelude.push(log_stmt(KIND, now, body, &r, None, Some(&id)));
                let memo = format!("M-Pesa {}", paid.receipt);
                credit_once(
                    db,
                    &tenant.settings,
                    &req.subscriber_id,
                    Credit { amount: Money(payment.amount_cents), payment_id: &payment.id, memo: &memo, prelude },
                    ids,
                    now,
                )
                .await
                .map(|a| {
                    r.applied = Some(a);
                    r
                })
            }
        };
        match attempt {
            Ok(r) => return Ok(r),
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Unavailable("too much contention on one STK request".into()))
}

/// A callback for a CheckoutRequestID we never issued (or lost). Money that arrived is never
/// dropped: it goes to the unmatched inbox.
async fn stk_unknown(
    db: &impl Db,
    cb: &daraja::StkCallback,
    body: &[u8],
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Result<Reply, StoreError> {
    const KIND: &str = "stk_callback";
    let id = &cb.checkout_request_id;
    let daraja::StkOutcome::Paid(paid) = &cb.outcome else {
        return log_only(
            db,
            KIND,
            now,
            body,
            reply(200, ack(), "unknown_request"),
            Some("no such STK request"),
            Some(id),
        )
        .await;
    };
    if payments::by_ref(db, "mpesa", id).await?.is_some() {
        return log_only(db, KIND, now, body, reply(200, ack(), "duplicate"), None, Some(id)).await;
    }
    let r = reply(200, ack(), "unmatched");
    let payment = Payment {
        id: ids.uuid(),
        provider: "mpesa".into(),
        method: "stk".into(),
        provider_ref: id.clone(),
        receipt: Some(paid.receipt.clone()),
        amount_cents: paid.amount_cents as i64,
        subscriber_id: None,
        status: "unmatched".into(),
        msisdn: paid.phone_number.clone(),
        payer_name: None,
        bill_ref: None,
        note: Some("STK callback for an unknown request".into()),
        paid_at: paid.transaction_date.map(fmt_ts),
        received_at: fmt_ts(now),
        applied_at: None,
    };
    match db.batch(&[payments::insert(&payment), log_stmt(KIND, now, body, &r, None, Some(id))]).await {
        Ok(_) => Ok(r),
        Err(StoreError::Conflict(_)) => {
            log_only(db, KIND, now, body, reply(200, ack(), "duplicate"), None, Some(id)).await
        }
        Err(e) => Err(e),
    }
}

/// Finds the subscriber a Paybill payment is for: exact account number, then the
/// normalised form, then the username, then the payer's phone.
pub async fn match_payer(
    db: &impl Db,
    bill_ref: &str,
    msisdn: Option<&Msisdn>,
) -> Result<Option<(WithBalance, &'static str)>, StoreError> {
    let canonical = canonical_account(bill_ref);
    if !canonical.is_empty() {
        if let Some(s) = subscribers::by_account(db, &canonical).await? {
            return Ok(Some((s, "account")));
        }
        if let Some(s) = subscribers::by_account_loose(db, bill_ref).await? {
            return Ok(Some((s, "account_normalised")));
        }
        if let Some(s) = subscribers::by_username(db, bill_ref.trim()).await? {
            return Ok(Some((s, "username")));
        }
    }
    if let Some(m) = msisdn
        && let Some(s) = subscribers::by_phone_unique(db, m.as_str()).await?
    {
        return Ok(Some((s, "phone")));
    }
    Ok(None)
}

fn payer_msisdn(p: &daraja::C2bPayment) -> Option<Msisdn> {
    match &p.msisdn {
        daraja::C2bMsisdn::Plain(s) => Msisdn::parse(s).ok(),
        _ => None,
    }
}

fn c2b_parse_error(e: &daraja::CallbackError) -> (u16, String) {
    let status = if matches!(e, daraja::CallbackError::TooLarge { .. }) { 413 } else { 400 };
    (status, e.to_string())
}

/// C2B validation: answer fast, from reads only (plus the log line).
pub async fn c2b_validation(
    db: &impl Db,
    tenant: &Tenant,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Reply, StoreError> {
    const KIND: &str = "c2b_validation";
    let p = match daraja::parse_c2b_payment(body) {
        Ok(p) => p,
        Err(e) => {
            let (status, reason) = c2b_parse_error(&e);
            let body_json = serde_json::json!({"ResultCode": "C2B00016", "ResultDesc": format!("Rejected: {reason}")});
            return log_only(db, KIND, now, body, reply(status, body_json, "malformed"), Some(&reason), None).await;
        }
    };
    let accept = serde_json::json!({"ResultCode": "0", "ResultDesc": "Accepted"});
    let reject = |code: &str| serde_json::json!({"ResultCode": code, "ResultDesc": "Rejected"});
    if !tenant.daraja.shortcode.is_empty()
        && p.business_short_code != tenant.daraja.shortcode
        && p.business_short_code != tenant.daraja.till
    {
        let r = reply(200, reject("C2B00015"), "rejected");
        return log_only(db, KIND, now, body, r, Some("shortcode is not this tenant's"), Some(&p.trans_id)).await;
    }
    if p.amount_cents < 100 {
        let r = reply(200, reject("C2B00013"), "rejected");
        return log_only(db, KIND, now, body, r, Some("amount below KES 1"), Some(&p.trans_id)).await;
    }
    if tenant.settings.c2b_validation == C2bValidation::RejectUnknownAccount
        && match_payer(db, &p.bill_ref_number, None).await?.is_none()
    {
        let r = reply(200, reject("C2B00012"), "rejected");
        return log_only(db, KIND, now, body, r, Some("unknown account number"), Some(&p.trans_id)).await;
    }
    log_only(db, KIND, now, body, reply(200, accept, "accepted"), None, Some(&p.trans_id)).await
}

/// C2B confirmation: the money has moved. Credit the right subscriber exactly once,
/// or park it in the unmatched inbox.
pub async fn c2b_confirmation(
    db: &impl Db,
    tenant: &Tenant,
    body: &[u8],
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Result<Reply, StoreError> {
    const KIND: &str = "c2b_confirmation";
    let ok = serde_json::json!({"ResultCode": 0, "ResultDesc": "Success"});
    let p = match daraja::parse_c2b_payment(body) {
        Ok(p) => p,
        Err(e) => {
            let (status, reason) = c2b_parse_error(&e);
            let body_json = serde_json::json!({"ResultCode": 1, "ResultDesc": format!("Rejected: {reason}")});
            return log_only(db, KIND, now, body, reply(status, body_json, "malformed"), Some(&reason), None).await;
        }
    };
    let msisdn = payer_msisdn(&p);
    for _ in 0..MAX_ATTEMPTS {
        if payments::by_ref(db, "mpesa", &p.trans_id).await?.is_some() {
            return log_only(db, KIND, now, body, reply(200, ok.clone(), "duplicate"), None, Some(&p.trans_id)).await;
        }
        let matched = match_payer(db, &p.bill_ref_number, msisdn.as_ref()).await?;
        let mut payment = Payment {
            id: ids.uuid(),
            provider: "mpesa".into(),
            method: "c2b".into(),
            provider_ref: p.trans_id.clone(),
            receipt: Some(p.trans_id.clone()),
            amount_cents: p.amount_cents as i64,
            subscriber_id: None,
            status: "unmatched".into(),
            // a masked or hashed MSISDN cannot match anyone but helps the operator assign it
            msisdn: msisdn.as_ref().map(|m| m.to_string()).or_else(|| p.msisdn.as_sent().map(str::to_owned)),
            payer_name: Some(p.payer_name()),
            bill_ref: Some(p.bill_ref_number.clone()),
            note: None,
            paid_at: Some(fmt_ts(p.trans_time)),
            received_at: fmt_ts(now),
            applied_at: None,
        };
        let attempt = match matched {
            None => {
                let r = reply(200, ok.clone(), "unmatched");
                let batch = [payments::insert(&payment), log_stmt(KIND, now, body, &r, None, Some(&p.trans_id))];
                db.batch(&batch).await.map(|_| r)
            }
            Some((s, how)) => {
                let mut r = reply(200, ok.clone(), "applied");
                payment.subscriber_id = Some(s.subscriber.id.clone());
                payment.status = "applied".into();
                payment.applied_at = Some(fmt_ts(now));
                payment.note = Some(format!("matched by {how}"));
                let prelude = vec![payments::insert(&payment), log_stmt(KIND, now, body, &r, None, Some(&p.trans_id))];
                let memo = format!("M-Pesa Paybill {}", p.trans_id);
                credit_snapshot(
                    db,
                    &tenant.settings,
                    &s,
                    Credit { amount: Money(payment.amount_cents), payment_id: &payment.id, memo: &memo, prelude },
                    ids,
                    now,
                )
                .await
                .map(|a| {
                    r.applied = Some(a);
                    r
                })
            }
        };
        match attempt {
            Ok(r) => return Ok(r),
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Unavailable("too much contention applying a Paybill payment".into()))
}

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
use crate::domain::payment::{
    AmountRefused, C2bDecision, C2bRefusal, PayerMatch, StkDecision, StkEvidence, StkStatus, StkView, bounded_amount,
    decide_c2b, decide_stk, validate_c2b,
};
use crate::domain::time::fmt_ts;
use crate::domain::voucher::VoucherKey;
use crate::ids::IdGen;
use crate::store::callbacks::{self, Entry, Outcome};
use crate::store::hotspot_sales::SALES_ACCOUNT_ID;
use crate::store::payments::{self, Payment, PaymentStatus};
use crate::store::stk;
use crate::store::subscribers::{self, WithBalance};
use crate::store::tenants::{C2bValidation, Tenant};
use crate::usecases::credit::{Applied, Credit, credit_once, credit_snapshot};
use crate::usecases::hotspot_sales::paid_statements;
use crate::usecases::retry_races;

/// The kind of answer a provider gets; the API layer maps it to HTTP (see [`Answer::http_status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Taken (credited, parked, or a duplicate): the provider must not retry.
    Taken,
    /// Refused for what it says (malformed, an absurd amount): retrying will not help.
    Refused,
    /// Over the size limit.
    TooLarge,
    /// We could not store it: the provider may retry.
    Unavailable,
}

impl Answer {
    pub fn http_status(self) -> u16 {
        match self {
            Answer::Taken => 200,
            Answer::Refused => 400,
            Answer::TooLarge => 413,
            Answer::Unavailable => 503,
        }
    }
}

/// What to answer the provider, and what happened (for logs and tests).
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub answer: Answer,
    pub body: serde_json::Value,
    pub outcome: Outcome,
    pub applied: Option<Applied>,
}

fn reply(answer: Answer, body: serde_json::Value, outcome: Outcome) -> Reply {
    Reply { answer, body, outcome, applied: None }
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
        body_size: body.len(),
        http_status: r.answer.http_status(),
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

/// Answers for a body that failed somewhere after parsing (storage down): the raw body is
/// still logged when the log can be written at all, so nothing vanishes without a trace.
async fn log_failure<T>(
    db: &impl Db,
    kind: &str,
    now: DateTime<Utc>,
    body: &[u8],
    result: Result<T, StoreError>,
) -> Result<T, StoreError> {
    if let Err(e) = &result {
        let r = reply(Answer::Unavailable, malformed("temporarily unavailable"), Outcome::Error);
        let _ = log_only(db, kind, now, body, r, Some(&e.to_string()), None).await;
    }
    result
}

/// An M-Pesa callback whose body the host cut short (over its size limit): the part kept is
/// logged with the size that arrived, and the answer is 413.
pub async fn oversized(
    db: &impl Db,
    kind: &str,
    body: &[u8],
    total: usize,
    now: DateTime<Utc>,
) -> Result<Reply, StoreError> {
    log_oversized(db, "mpesa", kind, body, total, now, malformed).await
}

/// Any provider's body the host cut short: logged as [`oversized`] says, answered 413 with
/// the provider's own refusal (`refusal` of the reason).
pub(crate) async fn log_oversized(
    db: &impl Db,
    provider: &str,
    kind: &str,
    body: &[u8],
    total: usize,
    now: DateTime<Utc>,
    refusal: impl FnOnce(&str) -> serde_json::Value,
) -> Result<Reply, StoreError> {
    let reason = format!("body of {total} bytes is over the limit; first part kept");
    let r = reply(Answer::TooLarge, refusal(&reason), Outcome::Malformed);
    db.batch(&[callbacks::insert(&Entry {
        provider,
        kind,
        received_at: &fmt_ts(now),
        body,
        body_size: total,
        http_status: r.answer.http_status(),
        outcome: r.outcome,
        detail: Some(&reason),
        provider_ref: None,
    })])
    .await?;
    Ok(r)
}

/// Handles an STK callback body. `voucher_key` (the tenant's, if the deployment has a voucher
/// secret) lets a captive-portal sale's code and its SMS be written with the money.
pub async fn stk_callback(
    db: &impl Db,
    tenant: &Tenant,
    voucher_key: Option<&VoucherKey>,
    body: &[u8],
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Result<Reply, StoreError> {
    let result = stk_callback_inner(db, tenant, voucher_key, body, ids, now).await;
    log_failure(db, STK_KIND, now, body, result).await
}

const STK_KIND: &str = "stk_callback";

async fn stk_callback_inner(
    db: &impl Db,
    tenant: &Tenant,
    voucher_key: Option<&VoucherKey>,
    body: &[u8],
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Result<Reply, StoreError> {
    const KIND: &str = STK_KIND;
    let cb = match daraja::parse_stk_callback(body) {
        Ok(cb) => cb,
        Err(e) => {
            let answer =
                if matches!(e, daraja::CallbackError::TooLarge { .. }) { Answer::TooLarge } else { Answer::Refused };
            let reason = e.to_string();
            let r = reply(answer, malformed(&reason), Outcome::Malformed);
            return log_only(db, KIND, now, body, r, Some(&reason), None).await;
        }
    };
    let id = cb.checkout_request_id.clone();
    let evidence = match &cb.outcome {
        daraja::StkOutcome::Failed(code) => {
            StkEvidence::CallbackFailed { code: code.code(), desc: cb.result_desc.clone() }
        }
        daraja::StkOutcome::Paid(paid) => match bounded_amount(paid.amount_cents, tenant.settings.max_payment()) {
            Ok(amount) => StkEvidence::CallbackPaid { amount, receipt: paid.receipt.clone() },
            Err(e) => return refuse_amount(db, KIND, now, body, &e, Some(&id)).await,
        },
    };
    let answered = retry_races!(StoreError, {
        let Some(req) = stk::get(db, &id).await? else {
            return stk_unknown(db, &cb, body, ids, now).await;
        };
        let receipt = match req.status {
            StkStatus::Paid => payments::by_ref(db, "mpesa", &id).await?.and_then(|p| p.receipt),
            _ => None,
        };
        let view = StkView { status: req.status, requested: Money(req.amount_cents), receipt };
        let decision = decide_stk(&view, &evidence);
        let log = LogLine { kind: KIND, body, reference: &id };
        let paid = match &cb.outcome {
            daraja::StkOutcome::Paid(p) => Some(p),
            daraja::StkOutcome::Failed(_) => None,
        };
        let extra = StkPaymentFacts {
            msisdn: paid.and_then(|p| p.phone_number.clone()),
            paid_at: paid.and_then(|p| p.transaction_date.map(fmt_ts)),
            result_code: cb.result_code().code(),
            result_desc: cb.result_desc.clone(),
        };
        apply_stk(db, tenant, voucher_key, &req, decision, Some(log), extra, ids, now)
            .await?
            .ok_or_else(|| StoreError::Corrupt("an STK decision with a log line gave no reply".into()))
    })
    .await?;
    answered.ok_or_else(|| StoreError::Unavailable("too much contention on one STK request".into()))
}

/// The callback's raw body, to log in the same batch as what it caused.
pub(crate) struct LogLine<'a> {
    pub kind: &'a str,
    pub body: &'a [u8],
    pub reference: &'a str,
}

/// What a success callback says beyond the amount and receipt.
#[derive(Default)]
pub(crate) struct StkPaymentFacts {
    pub msisdn: Option<String>,
    pub paid_at: Option<String>,
    pub result_code: String,
    pub result_desc: String,
}

/// Applies a decision about one STK push as one atomic batch (plus the settlement of a credit).
/// With a log line, the callback's raw body is logged in that batch and the reply is returned.
/// `Err(Conflict)`: the push changed meanwhile; re-read and decide again.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn apply_stk(
    db: &impl Db,
    tenant: &Tenant,
    voucher_key: Option<&VoucherKey>,
    req: &stk::StkRequest,
    decision: StkDecision,
    log: Option<LogLine<'_>>,
    facts: StkPaymentFacts,
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Result<Option<Reply>, StoreError> {
    let id = req.checkout_request_id.as_str();
    let at = fmt_ts(now);
    let log_stmt_for = |r: &Reply, detail: Option<&str>| {
        log.as_ref().map(|l| log_stmt(l.kind, now, l.body, r, detail, Some(l.reference)))
    };
    match decision {
        StkDecision::Credit { from, amount, receipt, by, note } => {
            let mut r = reply(Answer::Taken, ack(), Outcome::Applied);
            let payment = Payment {
                id: ids.uuid(),
                provider: "mpesa".into(),
                method: "stk".into(),
                provider_ref: id.to_owned(),
                receipt: receipt.clone(),
                amount_cents: amount.cents(),
                subscriber_id: Some(req.subscriber_id.clone()),
                status: PaymentStatus::Applied,
                msisdn: facts.msisdn.or(Some(req.msisdn.clone())),
                payer_name: None,
                bill_ref: Some(req.account_ref.clone()),
                note: note.clone(),
                paid_at: facts.paid_at,
                received_at: at.clone(),
                applied_at: Some(at.clone()),
            };
            let code = if facts.result_code.is_empty() { "0".to_owned() } else { facts.result_code };
            let mut prelude: Vec<Statement> =
                stk::resolve(id, from, StkStatus::Paid, &code, &facts.result_desc, by, &at).into();
            prelude.push(payments::insert(&payment));
            prelude.extend(log_stmt_for(&r, note.as_deref()));
            // A captive-portal sale: its code and the code's SMS commit with the money.
            if let Some(key) = voucher_key.filter(|_| req.subscriber_id == SALES_ACCOUNT_ID) {
                let realm = &tenant.realm;
                prelude.extend(paid_statements(db, key, realm, &tenant.settings, id, ids, now).await?);
            }
            let memo = match (&receipt, by) {
                (Some(rc), _) => format!("M-Pesa {rc}"),
                (None, _) => "M-Pesa (recovered by STK query)".to_owned(),
            };
            let reference = receipt.clone().unwrap_or_else(|| id.to_owned());
            let credit = Credit { amount, payment_id: &payment.id, reference: &reference, memo: &memo, prelude };
            let a = credit_once(db, &tenant.settings, &req.subscriber_id, credit, ids, now).await?;
            r.applied = Some(a);
            Ok(log.map(|_| r))
        }
        StkDecision::AttachReceipt { receipt } => {
            let r = reply(Answer::Taken, ack(), Outcome::Duplicate);
            let mut batch = vec![payments::set_receipt("mpesa", id, &receipt)];
            batch.extend(log_stmt_for(&r, Some("already paid (STK query); receipt kept")));
            db.batch(&batch).await?;
            Ok(log.map(|_| r))
        }
        StkDecision::Fail { code, desc, by } => {
            let r = reply(Answer::Taken, ack(), Outcome::FailedResult);
            let mut batch: Vec<Statement> =
                stk::resolve(id, StkStatus::Pending, StkStatus::Failed, &code, &desc, by, &at).into();
            batch.extend(log_stmt_for(&r, Some(&desc)));
            db.batch(&batch).await?;
            Ok(log.map(|_| r))
        }
        StkDecision::NoteQuery => {
            db.batch(&[stk::note_query(id, &at)]).await?;
            Ok(None)
        }
        StkDecision::Nothing { why } => {
            let r = reply(Answer::Taken, ack(), Outcome::Duplicate);
            if let Some(stmt) = log_stmt_for(&r, Some(&why)) {
                db.batch(&[stmt]).await?;
            }
            Ok(log.map(|_| r))
        }
    }
}

/// An amount over the tenant's bound (or zero): a 400 with the reason, the body kept in the
/// callback log for the operator (`GET .../callbacks?outcome=amount_refused`).
async fn refuse_amount(
    db: &impl Db,
    kind: &str,
    now: DateTime<Utc>,
    body: &[u8],
    e: &AmountRefused,
    reference: Option<&str>,
) -> Result<Reply, StoreError> {
    let reason = e.to_string();
    log_only(
        db,
        kind,
        now,
        body,
        reply(Answer::Refused, malformed(&reason), Outcome::AmountRefused),
        Some(&reason),
        reference,
    )
    .await
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
            reply(Answer::Taken, ack(), Outcome::UnknownRequest),
            Some("no such STK request"),
            Some(id),
        )
        .await;
    };
    if payments::by_ref(db, "mpesa", id).await?.is_some() {
        return log_only(db, KIND, now, body, reply(Answer::Taken, ack(), Outcome::Duplicate), None, Some(id)).await;
    }
    let amount = match bounded_amount(paid.amount_cents, Money(i64::MAX)) {
        Ok(a) => a,
        Err(e) => return refuse_amount(db, KIND, now, body, &e, Some(id)).await,
    };
    let r = reply(Answer::Taken, ack(), Outcome::Unmatched);
    let payment = Payment {
        id: ids.uuid(),
        provider: "mpesa".into(),
        method: "stk".into(),
        provider_ref: id.clone(),
        receipt: Some(paid.receipt.clone()),
        amount_cents: amount.cents(),
        subscriber_id: None,
        status: PaymentStatus::Unmatched,
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
            log_only(db, KIND, now, body, reply(Answer::Taken, ack(), Outcome::Duplicate), None, Some(id)).await
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
) -> Result<Option<(WithBalance, PayerMatch)>, StoreError> {
    let canonical = canonical_account(bill_ref);
    if !canonical.is_empty() {
        if let Some(s) = subscribers::by_account(db, &canonical).await? {
            return Ok(Some((s, PayerMatch::Account)));
        }
        if let Some(s) = subscribers::by_account_loose(db, bill_ref).await? {
            return Ok(Some((s, PayerMatch::AccountNormalised)));
        }
        if let Some(s) = subscribers::by_username(db, bill_ref.trim()).await? {
            return Ok(Some((s, PayerMatch::Username)));
        }
    }
    if let Some(m) = msisdn
        && let Some(s) = subscribers::by_phone_unique(db, m.as_str()).await?
    {
        return Ok(Some((s, PayerMatch::Phone)));
    }
    Ok(None)
}

fn payer_msisdn(p: &daraja::C2bPayment) -> Option<Msisdn> {
    match &p.msisdn {
        daraja::C2bMsisdn::Plain(s) => Msisdn::parse(s).ok(),
        _ => None,
    }
}

fn c2b_parse_error(e: &daraja::CallbackError) -> (Answer, String) {
    let answer = if matches!(e, daraja::CallbackError::TooLarge { .. }) { Answer::TooLarge } else { Answer::Refused };
    (answer, e.to_string())
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
            return log_only(db, KIND, now, body, reply(status, body_json, Outcome::Malformed), Some(&reason), None)
                .await;
        }
    };
    let accept = serde_json::json!({"ResultCode": "0", "ResultDesc": "Accepted"});
    let s = &tenant.settings;
    let mut verdict = validate_c2b(
        &p.business_short_code,
        &tenant.daraja.shortcode,
        &tenant.daraja.till,
        p.amount_cents,
        s.max_payment(),
    )
    .map(|_| ());
    if verdict.is_ok()
        && s.c2b_validation == C2bValidation::RejectUnknownAccount
        && match_payer(db, &p.bill_ref_number, None).await?.is_none()
    {
        verdict = Err(C2bRefusal::UnknownAccount);
    }
    if let Err(refusal) = verdict {
        let body_json = serde_json::json!({"ResultCode": refusal.result_code(), "ResultDesc": "Rejected"});
        let r = reply(Answer::Taken, body_json, Outcome::Rejected);
        return log_only(db, KIND, now, body, r, Some(&refusal.to_string()), Some(&p.trans_id)).await;
    }
    log_only(db, KIND, now, body, reply(Answer::Taken, accept, Outcome::Accepted), None, Some(&p.trans_id)).await
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
    let result = c2b_confirmation_inner(db, tenant, body, ids, now).await;
    log_failure(db, "c2b_confirmation", now, body, result).await
}

async fn c2b_confirmation_inner(
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
            return log_only(db, KIND, now, body, reply(status, body_json, Outcome::Malformed), Some(&reason), None)
                .await;
        }
    };
    let amount = match bounded_amount(p.amount_cents, tenant.settings.max_payment()) {
        Ok(a) => a,
        Err(e) => return refuse_amount(db, KIND, now, body, &e, Some(&p.trans_id)).await,
    };
    let msisdn = payer_msisdn(&p);
    let answered = retry_races!(StoreError, {
        let recorded = payments::by_ref(db, "mpesa", &p.trans_id).await?.is_some();
        let matched = if recorded { None } else { match_payer(db, &p.bill_ref_number, msisdn.as_ref()).await? };
        let decision = decide_c2b(recorded, matched.as_ref().map(|(_, how)| *how));
        if decision == C2bDecision::Duplicate {
            let r = reply(Answer::Taken, ok.clone(), Outcome::Duplicate);
            return log_only(db, KIND, now, body, r, None, Some(&p.trans_id)).await;
        }
        let mut payment = Payment {
            id: ids.uuid(),
            provider: "mpesa".into(),
            method: "c2b".into(),
            provider_ref: p.trans_id.clone(),
            receipt: Some(p.trans_id.clone()),
            amount_cents: amount.cents(),
            subscriber_id: None,
            status: PaymentStatus::Unmatched,
            // a masked or hashed MSISDN cannot match anyone but helps the operator assign it
            msisdn: msisdn.as_ref().map(|m| m.to_string()).or_else(|| p.msisdn.as_sent().map(str::to_owned)),
            payer_name: Some(p.payer_name()),
            bill_ref: Some(p.bill_ref_number.clone()),
            note: None,
            paid_at: Some(fmt_ts(p.trans_time)),
            received_at: fmt_ts(now),
            applied_at: None,
        };
        match (decision, matched) {
            (C2bDecision::Credit(how), Some((s, _))) => {
                let mut r = reply(Answer::Taken, ok.clone(), Outcome::Applied);
                payment.subscriber_id = Some(s.subscriber.id.clone());
                payment.status = PaymentStatus::Applied;
                payment.applied_at = Some(fmt_ts(now));
                payment.note = Some(format!("matched by {}", how.as_str()));
                let prelude = vec![payments::insert(&payment), log_stmt(KIND, now, body, &r, None, Some(&p.trans_id))];
                let memo = format!("M-Pesa Paybill {}", p.trans_id);
                credit_snapshot(
                    db,
                    &tenant.settings,
                    &s,
                    Credit {
                        amount: Money(payment.amount_cents),
                        payment_id: &payment.id,
                        reference: &p.trans_id,
                        memo: &memo,
                        prelude,
                    },
                    ids,
                    now,
                )
                .await
                .map(|a| {
                    r.applied = Some(a);
                    r
                })
            }
            _ => {
                let r = reply(Answer::Taken, ok.clone(), Outcome::Unmatched);
                let batch = [payments::insert(&payment), log_stmt(KIND, now, body, &r, None, Some(&p.trans_id))];
                db.batch(&batch).await.map(|_| r)
            }
        }
    })
    .await?;
    // Only a duplicate delivery racing this one can make every attempt conflict; the next
    // read finds its payment.
    answered.ok_or_else(|| StoreError::Unavailable("a Paybill payment kept conflicting; Daraja may retry".into()))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use proptest::prelude::*;

    use super::*;
    use crate::Ctx;
    use crate::domain::payment::StkEvidence;
    use crate::store::{ledger, stk::StkRequest};
    use crate::testing::{TestDb, run, tenant};
    use crate::usecases::{self as uc, sweep};

    #[derive(Debug, Clone, Copy)]
    enum Event {
        CallbackSuccess,
        CallbackFailure,
        QuerySuccess,
        Query1037,
        QueryError,
        GiveUp,
    }

    const CHECKOUT: &str = "ws_CO_PROP_1";

    fn success_body() -> String {
        format!(
            r#"{{"Body":{{"stkCallback":{{"MerchantRequestID":"m1","CheckoutRequestID":"{CHECKOUT}","ResultCode":0,"ResultDesc":"ok","CallbackMetadata":{{"Item":[{{"Name":"Amount","Value":1000.00}},{{"Name":"MpesaReceiptNumber","Value":"RCPT000001"}},{{"Name":"TransactionDate","Value":20261127102115}},{{"Name":"PhoneNumber","Value":254711000001}}]}}}}}}}}"#
        )
    }

    fn failure_body() -> String {
        format!(
            r#"{{"Body":{{"stkCallback":{{"MerchantRequestID":"m1","CheckoutRequestID":"{CHECKOUT}","ResultCode":1032,"ResultDesc":"Request cancelled by user"}}}}}}"#
        )
    }

    /// One tenant database with a plan, a subscriber and one pending KES 1,000 push.
    fn setup(ids: &mut IdGen, now: DateTime<Utc>) -> (TestDb, Tenant, String) {
        let db = TestDb::tenant();
        let plan = uc::plans::PlanInput {
            code: "home".into(),
            name: "Home".into(),
            kind: crate::domain::plan::PlanKind::Pppoe,
            price_cents: 100_000,
            period_seconds: 30 * 86_400,
            down_kbps: 10_000,
            up_kbps: 2_000,
            data_cap_bytes: None,
            max_devices: 1,
        };
        run(uc::plans::create_plan(&db, plan, ids, now)).expect("plan");
        let input = uc::subscribers::SubscriberInput {
            name: "Jane".into(),
            plan: "home".into(),
            phone: Some("0711000001".into()),
            account_no: Some("ACC1".into()),
            username: None,
            password: None,
            site: None,
            static_ip: None,
            auto_renew: None,
        };
        let s = run(uc::subscribers::create_subscriber(&db, input, ids, now)).expect("subscriber");
        let req = StkRequest {
            checkout_request_id: CHECKOUT.into(),
            merchant_request_id: "m1".into(),
            subscriber_id: s.subscriber.id.clone(),
            msisdn: "254711000001".into(),
            amount_cents: 100_000,
            account_ref: "ACC1".into(),
            status: StkStatus::Pending,
            result_code: None,
            result_desc: None,
            resolved_by: None,
            query_attempts: 0,
            last_query_at: None,
            created_at: fmt_ts(now),
            resolved_at: None,
        };
        run(db.batch(&[stk::insert(&req)])).expect("push");
        let settings = crate::store::tenants::TenantSettings::default();
        (db, tenant(settings), s.subscriber.id.clone())
    }

    fn apply(db: &TestDb, t: &Tenant, e: Event, ids: &mut IdGen, now: DateTime<Utc>) {
        let query = |ev: StkEvidence, overdue: bool, ids: &mut IdGen| {
            run(sweep::apply_evidence(db, t, None, CHECKOUT, &ev, overdue, ids, now)).expect("sweep evidence");
        };
        match e {
            Event::CallbackSuccess => {
                let r = run(stk_callback(db, t, None, success_body().as_bytes(), ids, now)).expect("callback");
                assert_eq!(r.answer, Answer::Taken);
            }
            Event::CallbackFailure => {
                let r = run(stk_callback(db, t, None, failure_body().as_bytes(), ids, now)).expect("callback");
                assert_eq!(r.answer, Answer::Taken);
            }
            Event::QuerySuccess => query(StkEvidence::QueryPaid { desc: "ok".into() }, false, ids),
            Event::Query1037 => {
                query(StkEvidence::QueryFailed { code: "1037".into(), desc: "no response".into() }, false, ids)
            }
            Event::QueryError => query(StkEvidence::QueryUnknown, false, ids),
            Event::GiveUp => query(StkEvidence::QueryUnknown, true, ids),
        }
    }

    fn event() -> impl Strategy<Value = Event> {
        prop_oneof![
            Just(Event::CallbackSuccess),
            Just(Event::CallbackFailure),
            Just(Event::QuerySuccess),
            Just(Event::Query1037),
            Just(Event::QueryError),
            Just(Event::GiveUp),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Any interleaving of callbacks and sweep answers for one push, through the real use
        /// cases and SQL: M-Pesa's money (seen in any success) is credited exactly once, and
        /// nothing is credited when no success was ever seen.
        #[test]
        fn stk_any_interleaving_credits_money_taken_once(events in proptest::collection::vec(event(), 1..10)) {
            let now = Utc.with_ymd_and_hms(2026, 12, 3, 10, 0, 0).unwrap();
            let ctx = Ctx { now, entropy: [7; 32] };
            let mut ids = IdGen::new(&ctx);
            let (db, t, sub) = setup(&mut ids, now);
            for e in &events {
                apply(&db, &t, *e, &mut ids, now);
            }
            let money_taken = events.iter().any(|e| matches!(e, Event::CallbackSuccess | Event::QuerySuccess));
            let receipt_seen = events.iter().any(|e| matches!(e, Event::CallbackSuccess));
            let paid = run(payments::list(&db, None, Some(&sub), 100)).unwrap();
            prop_assert_eq!(paid.len(), usize::from(money_taken));
            let credited: i64 = run(ledger::for_subscriber(&db, &sub)).unwrap()
                .iter().filter(|l| l.kind == "payment").map(|l| l.amount_cents).sum();
            prop_assert_eq!(credited, if money_taken { 100_000 } else { 0 });
            prop_assert_eq!(paid.first().and_then(|p| p.receipt.clone()).is_some(), receipt_seen);
            let req = run(stk::get(&db, CHECKOUT)).unwrap().unwrap();
            prop_assert_eq!(req.status == StkStatus::Paid, money_taken);
            let s = run(subscribers::get(&db, &sub)).unwrap().unwrap();
            prop_assert_eq!(s.subscriber.status.as_str(), if money_taken { "active" } else { "pending" });
        }
    }

    #[test]
    fn oversized_body_is_logged_in_part_and_answered_413_in_each_providers_form() {
        let now = Utc.with_ymd_and_hms(2026, 12, 3, 10, 0, 0).unwrap();
        let db = TestDb::tenant();
        let kept = b"{\"Body\":{\"stkCallback\":";
        let mpesa = run(oversized(&db, STK_KIND, kept, 300_000, now)).expect("m-pesa");
        assert_eq!((mpesa.answer, mpesa.outcome), (Answer::TooLarge, Outcome::Malformed));
        assert_eq!(mpesa.body["ResultCode"], 1, "{}", mpesa.body);
        assert!(mpesa.body["ResultDesc"].as_str().is_some_and(|d| d.contains("300000 bytes")), "{}", mpesa.body);
        let card = run(crate::usecases::cards::oversized(&db, "stripe", b"{\"id\":", 70_000, now)).expect("card");
        assert_eq!((card.answer, card.outcome), (Answer::TooLarge, Outcome::Malformed));
        assert_eq!(card.body["received"], false, "{}", card.body);
        assert!(card.body["error"].as_str().is_some_and(|d| d.contains("70000 bytes")), "{}", card.body);

        let logged = run(callbacks::list(&db, None, 10)).expect("log");
        let row = |provider: &str| logged.iter().find(|l| l.provider == provider).expect(provider).clone();
        let (m, c) = (row("mpesa"), row("stripe"));
        assert_eq!((m.kind.as_str(), m.body_size, m.http_status), (STK_KIND, 300_000, 413));
        assert_eq!(m.raw_body.as_bytes(), kept);
        assert_eq!((c.kind.as_str(), c.body_size, c.http_status), ("webhook", 70_000, 413));
        assert_eq!(c.outcome, "malformed");
        assert!(m.detail.is_some_and(|d| d.contains("first part kept")));
    }
}

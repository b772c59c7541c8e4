//! Applying money to a subscriber: the one path every payment takes.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use crate::db::{Db, Statement, StoreError};
use crate::domain::Money;
use crate::domain::billing::{self, AccountState, Outcome};
use crate::domain::time::fmt_ts;
use crate::ids::IdGen;
use crate::store::subscribers::WithBalance;
use crate::store::tenants::TenantSettings;
use crate::store::{feed, ledger, occ_bump, plans, subscribers};

/// What a credit or renewal did: periods bought, the status and expiry after it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct Applied {
    pub subscriber_id: String,
    pub periods: usize,
    pub status: String,
    #[schemars(schema_with = "crate::openapi::field::opt_ts")]
    pub expires_at: Option<String>,
    #[schemars(schema_with = "crate::openapi::field::cents")]
    pub balance_cents: i64,
}

pub fn account_state(s: &WithBalance, price: Money, period_seconds: i64, settings: &TenantSettings) -> AccountState {
    AccountState {
        status: s.subscriber.status,
        expires_at: s.subscriber.expires_at,
        balance: s.balance(),
        auto_renew: s.subscriber.auto_renew,
        price,
        period: Duration::seconds(period_seconds),
        grace: Duration::seconds(settings.grace_seconds),
    }
}

/// The subscriber's snapshot the reconciler needs, carried in change-feed rows.
pub fn feed_payload(
    s: &WithBalance,
    plan_code: &str,
    status: &str,
    expires_at: Option<DateTime<Utc>>,
) -> serde_json::Value {
    json!({
        "subscriber_id": s.subscriber.id,
        "username": s.subscriber.username,
        "account_no": s.subscriber.account_no,
        "plan": plan_code,
        "status": status,
        "expires_at": expires_at.map(fmt_ts),
        "site": s.subscriber.site,
        "static_ip": s.subscriber.static_ip,
    })
}

/// Turns a billing outcome into statements: subscriptions, renewal debits, state, feed.
pub fn outcome_statements(
    s: &WithBalance,
    plan: &crate::domain::plan::Plan,
    outcome: &Outcome,
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Vec<Statement> {
    let at = fmt_ts(now);
    let mut out = Vec::new();
    for p in &outcome.periods {
        let sub_id = ids.uuid();
        out.push(ledger::insert_subscription(
            &sub_id,
            &s.subscriber.id,
            &plan.id,
            &fmt_ts(p.starts_at),
            &fmt_ts(p.ends_at),
            plan.price.cents(),
            &at,
        ));
        out.push(ledger::insert(
            &s.subscriber.id,
            "renewal",
            -plan.price.cents(),
            None,
            Some(&sub_id),
            &format!("{} until {}", plan.name, crate::domain::time::fmt_eat(p.ends_at)),
            &at,
        ));
    }
    if !outcome.periods.is_empty() {
        // the dashboard's summaries, in the same batch as the periods they count
        out.extend(crate::store::summaries::refresh(&s.subscriber.id));
    }
    let changed_state = outcome.status != s.subscriber.status || outcome.expires_at != s.subscriber.expires_at;
    if changed_state {
        out.push(subscribers::set_state(&s.subscriber.id, outcome.status, outcome.expires_at));
    }
    let payload = feed_payload(s, &plan.code, outcome.status.as_str(), outcome.expires_at);
    if outcome.activated {
        out.push(feed::append(Some(&s.subscriber.id), feed::kind::ACTIVATED, &payload, &at));
    } else if !outcome.periods.is_empty() {
        out.push(feed::append(Some(&s.subscriber.id), feed::kind::RENEWED, &payload, &at));
    }
    if outcome.expired {
        out.push(feed::append(Some(&s.subscriber.id), feed::kind::EXPIRED, &payload, &at));
    }
    out
}

/// One payment to credit: the money, the payment row it comes from, the ledger memo, and the
/// statements that must commit with it (the payment row, the STK resolution, the callback log...).
pub struct Credit<'a> {
    pub amount: Money,
    pub payment_id: &'a str,
    /// What the payer knows the payment by (M-Pesa receipt, card payment id...): on the SMS receipt.
    pub reference: &'a str,
    pub memo: &'a str,
    pub prelude: Vec<Statement>,
}

/// How many times the scheduled pass's settlement re-reads after losing a race.
const SETTLE_ATTEMPTS: usize = 6;

/// How many times a payment's own settlement tries. Few is enough: a settlement loses only to a
/// write made after the payment was recorded, and that write is either another payment (whose
/// own settlement comes later and sees this money too) or a settlement that already saw it.
/// What is left (an operator's edit racing it) is finished by the scheduled pass.
const INLINE_SETTLE_ATTEMPTS: usize = 2;

/// Credits a payment to a subscriber (read just before), atomically with its prelude.
///
/// Fast path: the money, the renewals it buys and the prelude in ONE batch guarded by the
/// subscriber's version. When that loses a race (another payment to the same subscriber, an
/// operator's edit), the money is recorded on its own, with the prelude and without the
/// version guard, so it can never be refused for contention, and the renewal is settled
/// after ([`settle`]); a settlement that keeps losing is finished by the scheduled pass.
///
/// `Err(Conflict)` only means the prelude itself lost (a duplicate payment key, an STK request
/// resolved meanwhile): re-read and decide again.
pub async fn credit_snapshot(
    db: &impl Db,
    settings: &TenantSettings,
    s: &WithBalance,
    credit: Credit<'_>,
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Result<Applied, StoreError> {
    let Credit { amount, payment_id, reference, memo, prelude } = credit;
    let subscriber_id = s.subscriber.id.as_str();
    // The SMS receipt is written with the money, in the same batch: never lost, never doubled.
    let sms_id = ids.uuid();
    let receipt = |until: Option<DateTime<Utc>>| {
        let r = crate::usecases::sms::Receipt {
            message_id: &sms_id,
            subscriber_id,
            account: &s.subscriber.account_no,
            payment_id,
            reference,
            cents: amount.cents(),
            until,
        };
        crate::usecases::sms::receipt_statement(settings, &r, now)
    };
    let plan = plans::get(db, &s.subscriber.plan_id).await?.ok_or(StoreError::NotFound)?;
    let entry = ledger::insert(subscriber_id, "payment", amount.cents(), Some(payment_id), None, memo, &fmt_ts(now));

    let state = account_state(s, plan.price, plan.period_seconds, settings);
    let outcome = billing::apply_credit(&state, amount, now);
    let mut batch: Vec<Statement> = occ_bump(subscriber_id, s.subscriber.version).into();
    batch.extend(prelude.iter().cloned());
    batch.push(entry.clone());
    batch.extend(outcome_statements(s, &plan, &outcome, ids, now));
    batch.push(subscribers::mark_settled(subscriber_id));
    let active = outcome.status == crate::domain::subscriber::Status::Active;
    batch.push(receipt(outcome.expires_at.filter(|_| active)));
    match db.batch(&batch).await {
        Ok(_) => return Ok(applied(subscriber_id, &outcome)),
        Err(StoreError::Conflict(_)) => {}
        Err(e) => return Err(e),
    }

    let mut record = prelude;
    record.push(entry);
    record.push(receipt(None));
    record.push(subscribers::mark_unsettled(subscriber_id));
    db.batch(&record).await?;
    Ok(settle_within(db, settings, subscriber_id, INLINE_SETTLE_ATTEMPTS, ids, now).await.unwrap_or_else(|_| Applied {
        subscriber_id: subscriber_id.to_owned(),
        periods: 0,
        status: s.subscriber.status.as_str().to_owned(),
        expires_at: s.subscriber.expires_at.map(fmt_ts),
        balance_cents: s.balance_cents + amount.cents(),
    }))
}

/// [`credit_snapshot`] for a subscriber known by id.
pub async fn credit_once(
    db: &impl Db,
    settings: &TenantSettings,
    subscriber_id: &str,
    credit: Credit<'_>,
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Result<Applied, StoreError> {
    let s = subscribers::get(db, subscriber_id).await?.ok_or(StoreError::NotFound)?;
    credit_snapshot(db, settings, &s, credit, ids, now).await
}

/// Buys the periods the balance covers for money recorded without its renewal, and clears the
/// subscriber's "unsettled" mark. Retries a few races; `Err(Conflict)` if it kept losing
/// (the scheduled pass settles it later: nothing is lost, only delayed).
pub async fn settle(
    db: &impl Db,
    settings: &TenantSettings,
    subscriber_id: &str,
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Result<Applied, StoreError> {
    settle_within(db, settings, subscriber_id, SETTLE_ATTEMPTS, ids, now).await
}

async fn settle_within(
    db: &impl Db,
    settings: &TenantSettings,
    subscriber_id: &str,
    attempts: usize,
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Result<Applied, StoreError> {
    for _ in 0..attempts {
        let s = subscribers::get(db, subscriber_id).await?.ok_or(StoreError::NotFound)?;
        let plan = plans::get(db, &s.subscriber.plan_id).await?.ok_or(StoreError::NotFound)?;
        let state = account_state(&s, plan.price, plan.period_seconds, settings);
        let outcome = billing::apply_credit(&state, Money::ZERO, now);
        let mut batch: Vec<Statement> = occ_bump(subscriber_id, s.subscriber.version).into();
        batch.extend(outcome_statements(&s, &plan, &outcome, ids, now));
        batch.push(subscribers::mark_settled(subscriber_id));
        match db.batch(&batch).await {
            Ok(_) => return Ok(applied(subscriber_id, &outcome)),
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Conflict(format!("subscriber {subscriber_id} kept changing; settled by the scheduled pass")))
}

/// The scheduled pass's share: settles every subscriber whose money is not settled yet.
pub async fn settle_pending(
    db: &impl Db,
    settings: &TenantSettings,
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let mut settled = 0;
    for id in subscribers::unsettled_ids(db, 500).await? {
        match settle(db, settings, &id, ids, now).await {
            Ok(_) => settled += 1,
            Err(StoreError::Conflict(_)) => {} // still busy: the next pass
            Err(e) => return Err(e),
        }
    }
    Ok(settled)
}

fn applied(subscriber_id: &str, outcome: &Outcome) -> Applied {
    Applied {
        subscriber_id: subscriber_id.to_owned(),
        periods: outcome.periods.len(),
        status: outcome.status.as_str().to_owned(),
        expires_at: outcome.expires_at.map(fmt_ts),
        balance_cents: outcome.balance.cents(),
    }
}

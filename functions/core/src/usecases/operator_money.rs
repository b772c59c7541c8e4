//! Money an operator moves by hand: assigning an unmatched payment, recording cash.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::db::{Db, Statement, StoreError};
use crate::domain::Money;
use crate::domain::payment::bounded_amount;
use crate::domain::time::fmt_ts;
use crate::ids::IdGen;
use crate::store::payments::PaymentStatus;
use crate::store::tenants::TenantSettings;
use crate::store::{payments, subscribers};
use crate::usecases::credit::{Applied, Credit, credit_once, credit_snapshot};
use crate::usecases::{UseCaseError, retry_races};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct AssignInput {
    /// Subscriber id or account number.
    pub subscriber: String,
    #[serde(default)]
    pub note: Option<String>,
}

/// Moves an unmatched payment onto a subscriber and credits it (same path as any payment).
pub async fn assign_unmatched(
    db: &impl Db,
    settings: &TenantSettings,
    payment_id: &str,
    input: AssignInput,
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Result<Applied, UseCaseError> {
    let applied = retry_races!(UseCaseError, {
        let p = payments::get(db, payment_id).await?.ok_or(UseCaseError::NotFound("payment"))?;
        if p.status != PaymentStatus::Unmatched {
            return Err(UseCaseError::Conflict("payment is already applied".into()));
        }
        let s = subscribers::find(db, &input.subscriber)
            .await?
            .ok_or(UseCaseError::Invalid("no such subscriber (give its id, account number or username)".into()))?;
        let note = input.note.clone().unwrap_or_else(|| "assigned from the unmatched inbox".into());
        let prelude: Vec<Statement> = payments::assign(&p.id, &s.subscriber.id, &note, &fmt_ts(now)).into();
        let memo = format!("{} {} (assigned)", p.method, p.receipt.as_deref().unwrap_or(&p.provider_ref));
        let reference = p.receipt.clone().unwrap_or_else(|| p.provider_ref.clone());
        let credit =
            Credit { amount: Money(p.amount_cents), payment_id: &p.id, reference: &reference, memo: &memo, prelude };
        // `s` was read just above: credit that snapshot rather than reading it again
        Ok(credit_snapshot(db, settings, &s, credit, ids, now).await?)
    })
    .await?;
    applied.ok_or_else(|| UseCaseError::Conflict("payment is being changed by someone else; try again".into()))
}

/// A manual credit or debit by the operator (cash at the office, a goodwill credit).
pub async fn adjust(
    db: &impl Db,
    settings: &TenantSettings,
    subscriber_id: &str,
    amount_cents: i64,
    memo: &str,
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Result<Applied, UseCaseError> {
    if amount_cents <= 0 {
        return Err(UseCaseError::Invalid("amount_cents must be positive (record cash received)".into()));
    }
    let amount = bounded_amount(amount_cents.unsigned_abs(), settings.max_payment())
        .map_err(|e| UseCaseError::Invalid(format!("{e} (settings.max_payment_cents)")))?;
    if memo.trim().is_empty() {
        return Err(UseCaseError::Invalid("memo is required".into()));
    }
    // One attempt: a manual payment has a fresh key, so recording it cannot lose a race.
    {
        let payment = payments::Payment {
            id: ids.uuid(),
            provider: "manual".into(),
            method: "cash".into(),
            provider_ref: ids.uuid(),
            receipt: None,
            amount_cents,
            subscriber_id: Some(subscriber_id.to_owned()),
            status: PaymentStatus::Applied,
            msisdn: None,
            payer_name: None,
            bill_ref: None,
            note: Some(memo.to_owned()),
            paid_at: Some(fmt_ts(now)),
            received_at: fmt_ts(now),
            applied_at: Some(fmt_ts(now)),
        };
        let prelude = vec![payments::insert(&payment)];
        let reference = format!("CASH-{}", &payment.id[payment.id.len().saturating_sub(6)..]).to_ascii_uppercase();
        let credit = Credit { amount, payment_id: &payment.id, reference: &reference, memo, prelude };
        match credit_once(db, settings, subscriber_id, credit, ids, now).await {
            Ok(a) => Ok(a),
            Err(StoreError::NotFound) => Err(UseCaseError::NotFound("subscriber")),
            Err(e) => Err(e.into()),
        }
    }
}

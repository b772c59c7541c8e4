//! Starting an M-Pesa STK push so a subscriber can pay from their phone.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::db::Db;
use crate::domain::Msisdn;
use crate::domain::names::canonical_account;
use crate::domain::time::fmt_ts;
use crate::mpesa::{self, GatewayError};
use crate::platform::Platform;
use crate::store::stk::{self, StkRequest};
use crate::store::tenants::Tenant;
use crate::store::{plans, subscribers};
use crate::usecases::UseCaseError;

#[derive(Debug, Deserialize)]
pub struct TopupInput {
    /// Account number (or username) of the subscriber being paid for.
    pub account: String,
    /// Phone that gets the PIN prompt; defaults to the subscriber's phone.
    #[serde(default)]
    pub phone: Option<String>,
    /// Whole shillings; defaults to what is due for the next period.
    #[serde(default)]
    pub amount_kes: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct TopupStarted {
    pub checkout_request_id: String,
    pub amount_kes: u64,
    pub phone: String,
    pub customer_message: String,
}

/// Largest single STK push Daraja accepts.
const MAX_STK_KES: u64 = 250_000;

pub async fn start<P: Platform>(
    p: &P,
    db: &P::Db,
    tenant: &Tenant,
    input: TopupInput,
    now: DateTime<Utc>,
) -> Result<TopupStarted, UseCaseError> {
    let s = match subscribers::by_account(db, &canonical_account(&input.account)).await? {
        Some(s) => s,
        None => subscribers::by_username(db, input.account.trim()).await?.ok_or(UseCaseError::NotFound("account"))?,
    };
    let phone_text = input
        .phone
        .or_else(|| s.subscriber.phone.as_ref().map(|m| m.to_string()))
        .ok_or_else(|| UseCaseError::Invalid("phone is required (this account has no phone number on file)".into()))?;
    let phone = Msisdn::parse(&phone_text).map_err(|e| UseCaseError::Invalid(e.to_string()))?;
    let plan = plans::get(db, &s.subscriber.plan_id).await?.ok_or(UseCaseError::NotFound("plan"))?;
    let due = (plan.price - s.balance()).whole_shillings_ceil().max(1) as u64;
    let amount_kes = input.amount_kes.unwrap_or(due);
    if amount_kes == 0 || amount_kes > MAX_STK_KES {
        return Err(UseCaseError::Invalid(format!("amount_kes must be between 1 and {MAX_STK_KES}")));
    }
    // AccountReference is at most 12 characters and shown in the prompt.
    let account_ref: String = s.subscriber.account_no.chars().take(12).collect();
    let ack =
        mpesa::stk_push(p, db, tenant, amount_kes, phone.as_str(), &account_ref, now).await.map_err(|e| match e {
            GatewayError::NotConfigured => UseCaseError::Invalid(e.to_string()),
            GatewayError::Store(s) => UseCaseError::Store(s),
            other => UseCaseError::Provider(other.to_string()),
        })?;
    let req = StkRequest {
        checkout_request_id: ack.checkout_request_id.clone(),
        merchant_request_id: ack.merchant_request_id.clone(),
        subscriber_id: s.subscriber.id.clone(),
        msisdn: phone.to_string(),
        amount_cents: amount_kes as i64 * 100,
        account_ref,
        status: crate::domain::payment::StkStatus::Pending,
        result_code: None,
        result_desc: None,
        resolved_by: None,
        query_attempts: 0,
        last_query_at: None,
        created_at: fmt_ts(now),
        resolved_at: None,
    };
    db.batch(&[stk::insert(&req)]).await?;
    Ok(TopupStarted {
        checkout_request_id: ack.checkout_request_id,
        amount_kes,
        phone: phone.masked(),
        customer_message: ack.customer_message,
    })
}

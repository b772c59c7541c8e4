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
use crate::store::throttle::{self, Limit, Verdict};
use crate::store::{plans, subscribers};
use crate::usecases::UseCaseError;

/// A top-up request. Unknown fields are refused by name (an `amount` the caller meant must never
/// be dropped silently and the prompt sent for another sum).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopupInput {
    /// Account number (or username) of the subscriber being paid for.
    pub account: String,
    /// Phone that gets the PIN prompt; defaults to the subscriber's phone. Without a session
    /// only the phone on file may be named.
    #[serde(default)]
    pub phone: Option<String>,
    /// Whole shillings; defaults to what is due for the next period.
    #[serde(default)]
    pub amount_kes: Option<u64>,
    /// The same in cents (whole shillings only: M-Pesa takes no cents). At most one of the two.
    #[serde(default)]
    pub amount_cents: Option<i64>,
}

/// Who asks for the prompt: that decides which phone may ring and how often.
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    /// Nobody signed in (the public top-up endpoint, the captive "suspended" page): the prompt goes
    /// only to the phone on file, at most `stk_prompts_per_account_hour` per account and
    /// `stk_prompts_per_ip_hour` per client address (tenant settings).
    Anonymous { ip: &'a str },
    /// The subscriber themselves, signed in (customer API, portal): may name another phone.
    Subscriber { id: &'a str },
    /// The ISP's staff (admin API, console).
    Operator,
}

/// Why a top-up was refused, with what the caller can do about it.
pub fn amount_kes(input: &TopupInput, due_kes: u64, max_payment_cents: i64) -> Result<u64, UseCaseError> {
    let kes = match (input.amount_kes, input.amount_cents) {
        (Some(_), Some(_)) => {
            return Err(UseCaseError::Invalid("give amount_kes or amount_cents, not both".into()));
        }
        (Some(k), None) => k,
        (None, Some(c)) if c <= 0 => return Err(UseCaseError::Invalid("amount_cents must be above zero".into())),
        (None, Some(c)) if c % 100 != 0 => {
            return Err(UseCaseError::Invalid(
                "amount_cents must be whole shillings (a multiple of 100): M-Pesa takes no cents".into(),
            ));
        }
        (None, Some(c)) => (c / 100) as u64,
        (None, None) => due_kes,
    };
    if kes == 0 || kes > MAX_STK_KES {
        return Err(UseCaseError::Invalid(format!("the amount must be between KES 1 and KES {MAX_STK_KES}")));
    }
    if (kes as i64).saturating_mul(100) > max_payment_cents {
        return Err(UseCaseError::Invalid(format!(
            "the amount is above this ISP's limit for one payment (KES {})",
            max_payment_cents / 100
        )));
    }
    Ok(kes)
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "StkStarted")]
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
    caller: Caller<'_>,
    now: DateTime<Utc>,
) -> Result<TopupStarted, UseCaseError> {
    let s = match subscribers::by_account(db, &canonical_account(&input.account)).await? {
        Some(s) => s,
        None => subscribers::by_username(db, input.account.trim()).await?.ok_or(UseCaseError::NotFound("account"))?,
    };
    if let Caller::Subscriber { id } = caller
        && id != s.subscriber.id
    {
        return Err(UseCaseError::NotFound("account"));
    }
    let on_file = s.subscriber.phone.clone();
    let phone = match input.phone.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        Some(p) => Msisdn::parse(p).map_err(|e| UseCaseError::Invalid(e.to_string()))?,
        None => on_file.clone().ok_or_else(|| {
            UseCaseError::Invalid("phone is required (this account has no phone number on file)".into())
        })?,
    };
    let mut throttle_bumps = Vec::new();
    if let Caller::Anonymous { ip } = caller {
        if on_file.as_ref() != Some(&phone) {
            return Err(UseCaseError::Invalid(
                "without signing in, the M-Pesa prompt goes only to the phone number on file for this account; \
                 sign in to the portal to pay from another phone"
                    .into(),
            ));
        }
        let per_hour = |n: i64| Limit { limit: n.max(0), window_seconds: 3600 };
        let limits = [
            (format!("stk-anon:account:{}", s.subscriber.id), per_hour(tenant.settings.stk_prompts_per_account_hour)),
            (format!("stk-anon:ip:{ip}"), per_hour(tenant.settings.stk_prompts_per_ip_hour)),
        ];
        for (key, lim) in &limits {
            if let Verdict::Limited { retry_after_seconds } = throttle::check(db, key, *lim, now).await? {
                return Err(UseCaseError::Throttled(retry_after_seconds));
            }
        }
        throttle_bumps = limits.iter().map(|(k, l)| throttle::bump(k, *l, now)).collect();
    }
    let plan = plans::get(db, &s.subscriber.plan_id).await?.ok_or(UseCaseError::NotFound("plan"))?;
    let due = (plan.price - s.balance()).whole_shillings_ceil().max(1) as u64;
    let amount_kes = amount_kes(&input, due, tenant.settings.max_payment_cents)?;
    if !throttle_bumps.is_empty() {
        // Counted before the prompt goes out: a prompt that rang counts even if what follows fails.
        db.batch(&throttle_bumps).await?;
    }
    // AccountReference is at most 12 characters and shown in the prompt.
    let account_ref: String = s.subscriber.account_no.chars().take(12).collect();
    let ack =
        mpesa::stk_push(p, db, tenant, amount_kes, phone.as_str(), &account_ref, now).await.map_err(|e| match e {
            GatewayError::NotConfigured => UseCaseError::Invalid(e.to_string()),
            GatewayError::Store(s) => UseCaseError::Store(s),
            // A prompt is already waiting on that phone (Daraja locks the subscriber until it ends):
            // the payer's state, not a fault of the provider's.
            GatewayError::Api(daraja::ApiError::Daraja { code: daraja::ErrorCode::ServiceError, ref message, .. })
                if message.to_ascii_lowercase().contains("unable to lock subscriber") =>
            {
                UseCaseError::Conflict(
                    "a payment prompt is already waiting on this phone: enter your M-Pesa PIN there, or try again in a minute"
                        .into(),
                )
            }
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

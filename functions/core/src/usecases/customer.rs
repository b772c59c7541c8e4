//! What a signed-in subscriber can do to their own account: change plan (with its quote), renew
//! from the balance, claim a Paybill payment that went to the unmatched inbox, edit their profile.
//! Every function takes the subscriber's id from the verified access token, never from the request.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::db::{Db, Statement};
use crate::domain::Money;
use crate::domain::Msisdn;
use crate::domain::plan::{Plan, PlanKind};
use crate::domain::plan_change::{self, Quote, When};
use crate::domain::subscriber::Status;
use crate::domain::time::fmt_ts;
use crate::ids::IdGen;
use crate::openapi::field;
use crate::store::payments::PaymentStatus;
use crate::store::subscribers::WithBalance;
use crate::store::tenants::TenantSettings;
use crate::store::throttle::{self, Limit, Verdict};
use crate::store::{customer, feed, ledger, occ_bump, payments, plans, subscribers};
use crate::usecases::credit::{self, Applied, Credit, credit_snapshot, feed_payload};
use crate::usecases::{UseCaseError, retry_races};

/// `POST subscription/plan-change/quote` and `POST subscription/plan-change`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanChangeInput {
    /// plan id or code
    pub plan: String,
    #[serde(default = "now_when")]
    pub when: When,
}

fn now_when() -> When {
    When::Now
}

pub(crate) async fn load(db: &impl Db, subscriber_id: &str) -> Result<(WithBalance, Plan), UseCaseError> {
    let s = subscribers::get(db, subscriber_id).await?.ok_or(UseCaseError::NotFound("subscriber"))?;
    let plan = plans::get(db, &s.subscriber.plan_id).await?.ok_or(UseCaseError::NotFound("plan"))?;
    Ok((s, plan))
}

/// The plans a subscriber may move to: active home (PPPoE) plans.
pub async fn offered_plans(db: &impl Db) -> Result<Vec<Plan>, UseCaseError> {
    Ok(plans::list(db).await?.into_iter().filter(|p| p.active && p.kind == PlanKind::Pppoe).collect())
}

pub(crate) async fn target(db: &impl Db, key: &str, current: &Plan) -> Result<Plan, UseCaseError> {
    let to = plans::get(db, key.trim())
        .await?
        .filter(|p| p.active && p.kind == PlanKind::Pppoe)
        .ok_or(UseCaseError::NotFound("plan"))?;
    if to.id == current.id {
        return Err(UseCaseError::Invalid("that is already your plan".into()));
    }
    Ok(to)
}

/// States what a change would cost, without making it.
pub async fn quote(
    db: &impl Db,
    subscriber_id: &str,
    input: &PlanChangeInput,
    now: DateTime<Utc>,
) -> Result<Quote, UseCaseError> {
    let (s, plan) = load(db, subscriber_id).await?;
    let to = target(db, &input.plan, &plan).await?;
    Ok(plan_change::quote(&plan, &to, paid_until(&s, now), s.balance(), input.when, now))
}

fn paid_until(s: &WithBalance, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match s.subscriber.status {
        Status::Active => s.subscriber.expires_at.filter(|e| *e > now),
        _ => None,
    }
}

/// Makes a plan change now, at the quoted price (one atomic batch: plan, money, change feed).
pub async fn change_plan(
    db: &impl Db,
    subscriber_id: &str,
    input: &PlanChangeInput,
    now: DateTime<Utc>,
) -> Result<Quote, UseCaseError> {
    if input.when == When::AtRenewal {
        return Err(UseCaseError::Invalid(
            "a change at renewal is scheduled, not made: see self_service::schedule_plan_change".into(),
        ));
    }
    let done = retry_races!(UseCaseError, {
        let (s, plan) = load(db, subscriber_id).await?;
        if s.subscriber.status == Status::Suspended {
            return Err(UseCaseError::Invalid("the account is suspended; call your ISP".into()));
        }
        let to = target(db, &input.plan, &plan).await?;
        let q = plan_change::quote(&plan, &to, paid_until(&s, now), s.balance(), When::Now, now);
        if !q.affordable {
            return Err(UseCaseError::Invalid(format!(
                "the balance does not cover this change: top up KES {} first (quote: {})",
                Money(-q.balance_after_cents).whole_shillings_ceil(),
                q.explanation
            )));
        }
        let at = fmt_ts(now);
        let mut batch: Vec<Statement> = occ_bump(subscriber_id, s.subscriber.version).into();
        // A change made now replaces one that was waiting for the renewal.
        batch.push(crate::store::self_service::take_pending_plan(subscriber_id, &to.id));
        if q.balance_change_cents != 0 {
            let memo = format!("plan change {} -> {}: {}", plan.name, to.name, q.explanation);
            batch.push(ledger::insert(subscriber_id, "adjustment", q.balance_change_cents, None, None, &memo, &at));
        }
        let payload = feed_payload(&s, &to.code, s.subscriber.status.as_str(), s.subscriber.expires_at);
        batch.push(feed::append(Some(subscriber_id), feed::kind::PLAN_CHANGED, &payload, &at));
        db.batch(&batch).await?;
        Ok(q)
    })
    .await?;
    done.ok_or_else(|| UseCaseError::Conflict("the account is being changed; try again".into()))
}

/// `POST subscription/renew`: buys the next period from the balance.
pub async fn renew(
    db: &impl Db,
    settings: &TenantSettings,
    subscriber_id: &str,
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Result<Applied, UseCaseError> {
    let (s, plan) = load(db, subscriber_id).await?;
    if s.subscriber.status == Status::Suspended {
        return Err(UseCaseError::Invalid("the account is suspended; call your ISP".into()));
    }
    if s.balance() < plan.price {
        return Err(UseCaseError::Invalid(format!(
            "the balance does not cover a period of {}: top up KES {} first",
            plan.name,
            (plan.price - s.balance()).whole_shillings_ceil()
        )));
    }
    Ok(credit::settle(db, settings, subscriber_id, ids, now).await?)
}

/// `POST payments/claim`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimInput {
    /// the M-Pesa receipt code from the payer's SMS (e.g. `SIM0000001`)
    pub receipt: String,
    /// the amount paid, in cents
    #[schemars(range(min = 1))]
    pub amount_cents: i64,
    /// the phone that paid
    #[schemars(pattern(r"^(\+?254|0)?[17][0-9]{8}$"))]
    pub phone: String,
}

/// Wrong claims allowed per subscriber in an hour (receipt codes are guessable only slowly).
pub const CLAIM_FAIL_LIMIT: Limit = Limit { limit: 5, window_seconds: 3600 };

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Claimed {
    pub payment_id: String,
    #[serde(flatten)]
    pub applied: Applied,
}

fn payer_matches(stored: Option<&str>, phone: &Msisdn) -> bool {
    let Some(stored) = stored.map(str::trim).filter(|s| !s.is_empty()) else { return false };
    if let Ok(m) = Msisdn::parse(stored) {
        return &m == phone;
    }
    // Daraja's newer C2B confirmations carry a hash of the payer's number, not the number.
    stored.len() == 64 && stored.eq_ignore_ascii_case(&hex::encode(Sha256::digest(phone.as_str().as_bytes())))
}

/// Claims a Paybill payment that landed in the unmatched inbox (a wrong account number): the
/// receipt finds it, the amount and the paying phone must match too. Exactly once: the payment
/// moves out of the inbox in the same batch as the credit and the claim row.
pub async fn claim(
    db: &impl Db,
    settings: &TenantSettings,
    subscriber_id: &str,
    input: &ClaimInput,
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Result<Claimed, UseCaseError> {
    let key = format!("claim-fail:{subscriber_id}");
    if let Verdict::Limited { retry_after_seconds } = throttle::check(db, &key, CLAIM_FAIL_LIMIT, now).await? {
        return Err(UseCaseError::Throttled(retry_after_seconds));
    }
    let phone = Msisdn::parse(&input.phone).map_err(|e| UseCaseError::Invalid(e.to_string()))?;
    let receipt = input.receipt.trim().to_ascii_uppercase();
    let found = customer::unmatched_by_receipt(db, &receipt).await?;
    let Some(p) = found.filter(|p| p.amount_cents == input.amount_cents && payer_matches(p.msisdn.as_deref(), &phone))
    else {
        db.batch(&[throttle::bump(&key, CLAIM_FAIL_LIMIT, now)]).await?;
        return Err(UseCaseError::NotFound("unmatched payment with that receipt, amount and phone"));
    };
    let claimed = retry_races!(UseCaseError, {
        let cur = payments::get(db, &p.id).await?.ok_or(UseCaseError::NotFound("payment"))?;
        if cur.status != PaymentStatus::Unmatched {
            return Err(UseCaseError::Conflict("this payment has already been claimed or assigned".into()));
        }
        let s = subscribers::get(db, subscriber_id).await?.ok_or(UseCaseError::NotFound("subscriber"))?;
        let at = fmt_ts(now);
        let mut prelude: Vec<Statement> =
            payments::assign(&p.id, subscriber_id, "claimed by the subscriber", &at).into();
        prelude.push(customer::insert_claim(&p.id, subscriber_id, &at));
        let memo = format!("{} {} (claimed)", p.method, p.receipt.as_deref().unwrap_or(&p.provider_ref));
        let reference = p.receipt.clone().unwrap_or_else(|| p.provider_ref.clone());
        let credit =
            Credit { amount: Money(p.amount_cents), payment_id: &p.id, reference: &reference, memo: &memo, prelude };
        match credit_snapshot(db, settings, &s, credit, ids, now).await {
            Ok(a) => Ok(a),
            // The guard of `payments::assign` lost: someone claimed or assigned it first.
            Err(crate::db::StoreError::Conflict(_)) => {
                let again = payments::get(db, &p.id).await?;
                if again.is_some_and(|x| x.status != PaymentStatus::Unmatched) {
                    return Err(UseCaseError::Conflict("this payment has already been claimed or assigned".into()));
                }
                Err(UseCaseError::Store(crate::db::StoreError::Conflict("retry".into())))
            }
            Err(e) => Err(e.into()),
        }
    })
    .await?;
    let applied = claimed.ok_or_else(|| UseCaseError::Conflict("the payment is being changed; try again".into()))?;
    Ok(Claimed { payment_id: p.id, applied })
}

/// `PATCH me`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    #[serde(default)]
    pub name: Option<String>,
    /// `""` clears it.
    #[serde(default)]
    pub email: Option<String>,
    /// `sw` or `en`.
    #[serde(default)]
    #[schemars(extend("enum" = ["sw", "en"]))]
    pub language: Option<String>,
}

pub async fn patch_profile(db: &impl Db, subscriber_id: &str, patch: &ProfilePatch) -> Result<(), UseCaseError> {
    let (s, _) = load(db, subscriber_id).await?;
    let cur = customer::profile(db, subscriber_id).await?;
    let name = match &patch.name {
        Some(n) if n.trim().is_empty() || n.trim().chars().count() > 100 => {
            return Err(UseCaseError::Invalid("name must be 1-100 characters".into()));
        }
        Some(n) => n.trim().to_owned(),
        None => s.subscriber.name.clone(),
    };
    let email = match patch.email.as_deref().map(str::trim) {
        Some("") => None,
        Some(e) if e.len() > 200 || !e.contains('@') || e.chars().any(|c| c.is_whitespace() || c.is_control()) => {
            return Err(UseCaseError::Invalid("email must look like name@example.com".into()));
        }
        Some(e) => Some(e.to_owned()),
        None => cur.email,
    };
    let language = match patch.language.as_deref() {
        Some(l @ ("sw" | "en")) => Some(l.to_owned()),
        Some(_) => return Err(UseCaseError::Invalid("language must be sw or en".into())),
        None => cur.language,
    };
    db.batch(&[customer::set_contact(subscriber_id, &name, email.as_deref(), language.as_deref())]).await?;
    Ok(())
}

/// `POST vouchers/redeem`: a hotspot voucher's value onto the account, once.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RedeemInput {
    pub code: String,
}

/// Wrong codes allowed per subscriber in ten minutes (as per device on the hotspot).
pub const REDEEM_FAIL_LIMIT: Limit = Limit { limit: 5, window_seconds: 600 };

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct VoucherCredited {
    #[schemars(schema_with = "field::cents")]
    pub value_cents: i64,
    #[schemars(schema_with = "field::currency")]
    pub currency: &'static str,
    #[serde(flatten)]
    pub applied: Applied,
}

/// Puts an unused voucher's price (the batch's price per code, else its plan's) on the balance.
/// The voucher is used up in the same batch (a redemption row that has already ended, so the
/// hotspot refuses it as expired), and the payment's key `voucher / batch:serial` makes it once
/// however often it is sent or raced.
#[allow(clippy::too_many_arguments)]
pub async fn redeem_voucher(
    db: &impl Db,
    platform: &crate::platform::Settings,
    tenant: &crate::store::tenants::Tenant,
    subscriber_id: &str,
    input: &RedeemInput,
    ip: &str,
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Result<VoucherCredited, UseCaseError> {
    use crate::store::{redemptions, vouchers};
    let key = format!("redeem-fail:{subscriber_id}");
    if let Verdict::Limited { retry_after_seconds } = throttle::check(db, &key, REDEEM_FAIL_LIMIT, now).await? {
        return Err(UseCaseError::Throttled(retry_after_seconds));
    }
    let fail = |e: UseCaseError| async { db.batch(&[throttle::bump(&key, REDEEM_FAIL_LIMIT, now)]).await.map(|_| e) };
    let (code, id) = match crate::usecases::vouchers::check(platform, &tenant.realm, &input.code) {
        Ok(v) => v,
        Err(e) => return Err(fail(e).await?),
    };
    let issued = redemptions::batch(db, id.batch).await?;
    let batch = vouchers::get(db, id.batch).await?;
    let (Some(issued), Some(batch)) = (issued, batch) else {
        return Err(fail(UseCaseError::NotFound("voucher")).await?);
    };
    if id.serial >= issued.count {
        return Err(fail(UseCaseError::NotFound("voucher")).await?);
    }
    if issued.voided || issued.valid_until.is_some_and(|v| v <= now) {
        return Err(UseCaseError::Invalid("this voucher was cancelled or has expired".into()));
    }
    if redemptions::get(db, id.batch, id.serial).await?.is_some() {
        return Err(UseCaseError::Conflict("this voucher has been used already".into()));
    }
    let plan = plans::get(db, &issued.plan_id).await?.ok_or(UseCaseError::NotFound("plan"))?;
    let value = batch.price_cents.unwrap_or(plan.price.cents());
    let s = subscribers::get(db, subscriber_id).await?.ok_or(UseCaseError::NotFound("subscriber"))?;
    let at = fmt_ts(now);
    let payment_id = ids.uuid();
    let provider_ref = format!("{}:{}", id.batch, id.serial);
    let mac = crate::domain::redemption::Mac::parse("00:00:00:00:00:00").ok_or(UseCaseError::Invalid("mac".into()))?;
    let prelude = vec![
        redemptions::insert(id.batch, id.serial, &code, &issued.plan_id, now, now, &mac, ip),
        payments::insert(&payments::Payment {
            id: payment_id.clone(),
            provider: "voucher".into(),
            method: "voucher".into(),
            provider_ref: provider_ref.clone(),
            receipt: Some(code.clone()),
            amount_cents: value,
            subscriber_id: Some(subscriber_id.to_owned()),
            status: PaymentStatus::Applied,
            msisdn: None,
            payer_name: None,
            bill_ref: None,
            note: Some("voucher redeemed onto the account".into()),
            paid_at: Some(at.clone()),
            received_at: at.clone(),
            applied_at: Some(at.clone()),
        }),
    ];
    let memo = format!("voucher {provider_ref}");
    let credit = Credit { amount: Money(value), payment_id: &payment_id, reference: &code, memo: &memo, prelude };
    match credit_snapshot(db, &tenant.settings, &s, credit, ids, now).await {
        Ok(applied) => Ok(VoucherCredited { value_cents: value, currency: crate::domain::money::CURRENCY, applied }),
        // The redemption or the payment key was taken meanwhile: used once, by someone else.
        Err(crate::db::StoreError::Conflict(_)) => {
            Err(UseCaseError::Conflict("this voucher has been used already".into()))
        }
        Err(e) => Err(e.into()),
    }
}

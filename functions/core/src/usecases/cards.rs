//! Card and aggregator payments: hosted checkouts (Stripe, Paystack) and their webhooks.
//!
//! Every webhook body is logged raw (`callback_log`, provider `stripe` / `paystack`) in the same
//! batch as what it caused. A payment credits through the one exactly-once path
//! ([`credit_once`]) keyed by `(provider, provider_ref)`: the payment intent for Stripe, the
//! transaction reference for Paystack. A Paystack webhook is never believed by itself: the
//! transaction is verified by reference (status, amount, currency) before anything is credited.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::db::{Db, Statement, StoreError};
use crate::domain::cards::{
    self, CardPayment, PaystackAction, Reversal, STRIPE_TOLERANCE_SECONDS, SignatureError, StripeAction,
};
use crate::domain::names::canonical_account;
use crate::domain::payment::bounded_amount;
use crate::domain::time::fmt_ts;
use crate::ids::IdGen;
use crate::platform::Platform;
use crate::store::callbacks::{self as log, Entry, Outcome};
use crate::store::cards::{self as store, Checkout, PaystackKeys, StripeKeys};
use crate::store::payments::{self, Payment, PaymentStatus};
use crate::store::tenants::Tenant;
use crate::store::{ledger, occ_bump, subscribers};
use crate::usecases::callbacks::{Answer, Reply};
use crate::usecases::credit::{Credit, credit_once};
use crate::usecases::{UseCaseError, retry_races};

pub const STRIPE: &str = "stripe";
pub const PAYSTACK: &str = "paystack";

/// Largest single card top-up (KES).
const MAX_CARD_KES: u64 = 1_000_000;

#[derive(Debug, Deserialize)]
pub struct CheckoutInput {
    /// Account number (or username) of the subscriber being paid for.
    pub account: String,
    /// `stripe` or `paystack`.
    pub provider: String,
    /// Whole shillings; defaults to what is due for the next period.
    #[serde(default)]
    pub amount_kes: Option<u64>,
    /// Paystack needs the payer's email; defaults to a placeholder under the tenant's realm.
    #[serde(default)]
    pub email: Option<String>,
    /// Where the payer returns after paying (defaults to the subscriber portal).
    #[serde(default)]
    pub return_url: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct CheckoutStarted {
    pub checkout_id: String,
    pub provider: String,
    pub amount_kes: u64,
    /// The hosted payment page to send the payer to.
    pub url: String,
}

/// `application/x-www-form-urlencoded` escaping (Stripe's API takes form bodies).
fn form_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn form(fields: &[(&str, String)]) -> String {
    fields.iter().map(|(k, v)| format!("{}={}", form_escape(k), form_escape(v))).collect::<Vec<_>>().join("&")
}

fn provider_err(e: impl std::fmt::Display) -> UseCaseError {
    UseCaseError::Provider(e.to_string())
}

/// Starts a hosted checkout for a subscriber's top-up; the payer is sent to `url`.
pub async fn start_checkout<P: Platform>(
    p: &P,
    db: &P::Db,
    tenant: &Tenant,
    input: CheckoutInput,
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Result<CheckoutStarted, UseCaseError> {
    let s = match subscribers::by_account(db, &canonical_account(&input.account)).await? {
        Some(s) => s,
        None => subscribers::by_username(db, input.account.trim()).await?.ok_or(UseCaseError::NotFound("account"))?,
    };
    let plan = crate::store::plans::get(db, &s.subscriber.plan_id).await?.ok_or(UseCaseError::NotFound("plan"))?;
    let due = (plan.price - s.balance()).whole_shillings_ceil().max(1) as u64;
    let amount_kes = input.amount_kes.unwrap_or(due);
    if amount_kes == 0 || amount_kes > MAX_CARD_KES {
        return Err(UseCaseError::Invalid(format!("amount_kes must be between 1 and {MAX_CARD_KES}")));
    }
    bounded_amount(amount_kes * 100, tenant.settings.max_payment())
        .map_err(|e| UseCaseError::Invalid(format!("{e} (settings.max_payment_cents)")))?;
    let amount_cents = amount_kes as i64 * 100;
    // One id per top-up: our reference at the provider and the Idempotency-Key of its creation.
    let checkout_id = format!("kc_{}", ids.token(24));
    let base = p.settings().public_base_url.trim_end_matches('/').to_owned();
    let return_url = input.return_url.unwrap_or_else(|| format!("{base}/p/{}", tenant.realm));
    let account = s.subscriber.account_no.clone();
    let (session_id, url) = match input.provider.as_str() {
        STRIPE => {
            let keys: StripeKeys = store::keys(db, STRIPE).await?;
            if keys.secret_key.is_empty() {
                return Err(UseCaseError::Invalid("card payments (Stripe) are not set up for this ISP".into()));
            }
            let body = form(&[
                ("mode", "payment".into()),
                ("success_url", format!("{return_url}?checkout={checkout_id}")),
                ("cancel_url", format!("{return_url}?checkout={checkout_id}&cancelled=1")),
                ("client_reference_id", checkout_id.clone()),
                ("line_items[0][quantity]", "1".into()),
                ("line_items[0][price_data][currency]", "kes".into()),
                ("line_items[0][price_data][unit_amount]", amount_cents.to_string()),
                ("line_items[0][price_data][product_data][name]", format!("{} top-up {account}", tenant.name)),
                ("metadata[account]", account.to_string()),
                ("metadata[checkout_id]", checkout_id.clone()),
                ("metadata[realm]", tenant.realm.to_string()),
                ("payment_intent_data[metadata][account]", account.to_string()),
                ("payment_intent_data[metadata][checkout_id]", checkout_id.clone()),
            ]);
            let req = http::Request::post(format!("{}/v1/checkout/sessions", keys.base_url()))
                .header("authorization", format!("Bearer {}", keys.secret_key.expose()))
                .header("content-type", "application/x-www-form-urlencoded")
                .header("idempotency-key", &checkout_id)
                .body(Bytes::from(body))
                .map_err(provider_err)?;
            let resp = p.fetch(req).await.map_err(provider_err)?;
            let v: serde_json::Value = serde_json::from_slice(resp.body()).unwrap_or_default();
            if !resp.status().is_success() {
                let msg = v["error"]["message"].as_str().unwrap_or("no message");
                return Err(provider_err(format!("Stripe answered {}: {msg}", resp.status())));
            }
            let id = v["id"].as_str().ok_or_else(|| provider_err("Stripe session without an id"))?;
            let url = v["url"].as_str().ok_or_else(|| provider_err("Stripe session without a url"))?;
            (id.to_owned(), url.to_owned())
        }
        PAYSTACK => {
            let keys: PaystackKeys = store::keys(db, PAYSTACK).await?;
            if !keys.is_configured() {
                return Err(UseCaseError::Invalid("Paystack is not set up for this ISP".into()));
            }
            let email =
                input.email.unwrap_or_else(|| format!("{}@{}.invalid", account.to_ascii_lowercase(), tenant.realm));
            let channels: &[&str] = if keys.mobile_money { &["card", "mobile_money"] } else { &["card"] };
            let body = serde_json::json!({
                "email": email,
                "amount": amount_cents,
                "currency": "KES",
                "reference": checkout_id,
                "callback_url": format!("{return_url}?checkout={checkout_id}"),
                "channels": channels,
                "metadata": {"account": account, "checkout_id": checkout_id, "realm": tenant.realm.to_string()},
            });
            let req = http::Request::post(format!("{}/transaction/initialize", keys.base_url()))
                .header("authorization", format!("Bearer {}", keys.secret_key.expose()))
                .header("content-type", "application/json")
                .body(Bytes::from(body.to_string()))
                .map_err(provider_err)?;
            let resp = p.fetch(req).await.map_err(provider_err)?;
            let v: serde_json::Value = serde_json::from_slice(resp.body()).unwrap_or_default();
            if !resp.status().is_success() || v["status"].as_bool() != Some(true) {
                let msg = v["message"].as_str().unwrap_or("no message");
                return Err(provider_err(format!("Paystack answered {}: {msg}", resp.status())));
            }
            let code = v["data"]["access_code"].as_str().unwrap_or_default();
            let url = v["data"]["authorization_url"]
                .as_str()
                .ok_or_else(|| provider_err("Paystack answer without authorization_url"))?;
            (code.to_owned(), url.to_owned())
        }
        other => return Err(UseCaseError::Invalid(format!("provider must be stripe or paystack, not {other:?}"))),
    };
    let c = Checkout {
        id: checkout_id.clone(),
        provider: input.provider.clone(),
        subscriber_id: s.subscriber.id.clone(),
        amount_cents,
        currency: "KES".into(),
        session_id: Some(session_id),
        url: Some(url.clone()),
        status: "open".into(),
        created_at: fmt_ts(now),
        paid_at: None,
    };
    db.batch(&[store::insert_checkout(&c)]).await?;
    Ok(CheckoutStarted { checkout_id, provider: input.provider, amount_kes, url })
}

/// Stripe's keys as the settings show them: which are set, never their values.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(inline)]
pub struct StripeView {
    pub environment: String,
    pub configured: bool,
    pub secret_key_set: bool,
    pub webhook_secret_set: bool,
    pub previous_webhook_secret_set: bool,
}

/// The Stripe keys as answers show them: which secrets are set, never their values.
pub fn stripe_view(k: &StripeKeys) -> StripeView {
    StripeView {
        environment: k.environment.clone(),
        configured: k.is_configured(),
        secret_key_set: !k.secret_key.is_empty(),
        webhook_secret_set: !k.webhook_secret.is_empty(),
        previous_webhook_secret_set: !k.previous_webhook_secret.is_empty(),
    }
}

/// Paystack's keys as the settings show them.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(inline)]
pub struct PaystackView {
    pub environment: String,
    pub configured: bool,
    pub secret_key_set: bool,
    pub mobile_money: bool,
}

pub fn paystack_view(k: &PaystackKeys) -> PaystackView {
    PaystackView {
        environment: k.environment.clone(),
        configured: k.is_configured(),
        secret_key_set: !k.secret_key.is_empty(),
        mobile_money: k.mobile_money,
    }
}

/// The `stripe` and `paystack` parts of a settings update, laid over the stored keys (a secret
/// is kept unless a new one is given; `null` clears it). Statements to run after validation.
pub async fn merge_keys(
    db: &impl Db,
    patch: &serde_json::Value,
    now: DateTime<Utc>,
) -> Result<Vec<Statement>, UseCaseError> {
    let mut out = Vec::new();
    if let Some(p) = patch.get("stripe") {
        let cur: StripeKeys = store::keys(db, STRIPE).await?;
        let merged: StripeKeys = crate::usecases::tenants::overlay(
            "stripe",
            &cur,
            p,
            &["secret_key", "webhook_secret", "previous_webhook_secret"],
        )?;
        out.push(store::put_keys(STRIPE, &merged, &fmt_ts(now)));
    }
    if let Some(p) = patch.get("paystack") {
        let cur: PaystackKeys = store::keys(db, PAYSTACK).await?;
        let merged: PaystackKeys = crate::usecases::tenants::overlay("paystack", &cur, p, &["secret_key"])?;
        out.push(store::put_keys(PAYSTACK, &merged, &fmt_ts(now)));
    }
    Ok(out)
}

/// The public status of a checkout: `open` or `paid`.
pub async fn checkout_status(db: &impl Db, id: &str) -> Result<serde_json::Value, UseCaseError> {
    let c = store::checkout(db, id).await?.ok_or(UseCaseError::NotFound("checkout"))?;
    Ok(serde_json::json!({
        "checkout_id": c.id, "provider": c.provider, "status": c.status,
        "amount_kes": c.amount_cents / 100, "paid_at": c.paid_at,
    }))
}

fn reply(answer: Answer, outcome: Outcome, detail: &str) -> Reply {
    let body = match answer {
        Answer::Taken => serde_json::json!({"received": true, "outcome": outcome.as_str()}),
        _ => serde_json::json!({"received": false, "error": detail}),
    };
    Reply { answer, body, outcome, applied: None }
}

/// One webhook's raw body, logged in the batch of whatever it causes.
struct Hook<'a> {
    provider: &'static str,
    kind: &'a str,
    body: &'a [u8],
    now: DateTime<Utc>,
}

impl Hook<'_> {
    fn log(&self, r: &Reply, detail: Option<&str>, reference: Option<&str>) -> Statement {
        log::insert(&Entry {
            provider: self.provider,
            kind: self.kind,
            received_at: &fmt_ts(self.now),
            body: self.body,
            body_size: self.body.len(),
            http_status: r.answer.http_status(),
            outcome: r.outcome,
            detail,
            provider_ref: reference,
        })
    }
    async fn only(&self, db: &impl Db, r: Reply, detail: &str, reference: Option<&str>) -> Result<Reply, StoreError> {
        db.batch(&[self.log(&r, Some(detail), reference)]).await?;
        Ok(r)
    }
}

fn sig_reply(e: &SignatureError) -> Reply {
    // 400: the provider shows it in its dashboard; a retry with the same signature would not help.
    let answer = if *e == SignatureError::NoSecret { Answer::Unavailable } else { Answer::Refused };
    reply(answer, Outcome::Malformed, &format!("signature: {e}"))
}

/// A body the host cut short: kept in part, answered 413.
pub async fn oversized(
    db: &impl Db,
    provider: &'static str,
    body: &[u8],
    total: usize,
    now: DateTime<Utc>,
) -> Result<Reply, StoreError> {
    let refusal = |reason: &str| reply(Answer::TooLarge, Outcome::Malformed, reason).body;
    crate::usecases::callbacks::log_oversized(db, provider, "webhook", body, total, now, refusal).await
}

/// `POST /hooks/{realm}/{token}/stripe`.
pub async fn stripe_webhook(
    db: &impl Db,
    tenant: &Tenant,
    signature: Option<&str>,
    body: &[u8],
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Result<Reply, StoreError> {
    let hook = Hook { provider: STRIPE, kind: "webhook", body, now };
    let keys: StripeKeys = store::keys(db, STRIPE).await?;
    let secrets = [keys.webhook_secret.expose(), keys.previous_webhook_secret.expose()];
    if let Err(e) = cards::verify_stripe(signature, body, &secrets, now.timestamp(), STRIPE_TOLERANCE_SECONDS) {
        let r = sig_reply(&e);
        return hook.only(db, r, &format!("signature: {e}"), None).await;
    }
    let (event_id, kind, action) = match cards::stripe_event(body) {
        Ok(x) => x,
        Err(e) => return hook.only(db, reply(Answer::Refused, Outcome::Malformed, &e.0), &e.0, None).await,
    };
    let hook = Hook { kind: &kind, ..hook };
    match action {
        StripeAction::Ignore(why) => {
            hook.only(db, reply(Answer::Taken, Outcome::Accepted, &why), &why, Some(&event_id)).await
        }
        StripeAction::Credit(pay) => credit_card(db, tenant, &hook, &pay, "card", ids).await,
        StripeAction::Reverse(rev) => reverse(db, &hook, &rev, ids).await,
    }
}

/// `POST /hooks/{realm}/{token}/paystack`: signature first, then the transaction is verified.
pub async fn paystack_webhook<P: Platform>(
    p: &P,
    db: &P::Db,
    tenant: &Tenant,
    signature: Option<&str>,
    body: &[u8],
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Result<Reply, StoreError> {
    let hook = Hook { provider: PAYSTACK, kind: "webhook", body, now };
    let keys: PaystackKeys = store::keys(db, PAYSTACK).await?;
    if let Err(e) = cards::verify_paystack(signature, body, keys.secret_key.expose()) {
        let r = sig_reply(&e);
        return hook.only(db, r, &format!("signature: {e}"), None).await;
    }
    let (event, action) = match cards::paystack_event(body) {
        Ok(x) => x,
        Err(e) => return hook.only(db, reply(Answer::Refused, Outcome::Malformed, &e.0), &e.0, None).await,
    };
    let hook = Hook { kind: &event, ..hook };
    match action {
        PaystackAction::Ignore(why) => hook.only(db, reply(Answer::Taken, Outcome::Accepted, &why), &why, None).await,
        PaystackAction::Reverse(rev) => reverse(db, &hook, &rev, ids).await,
        PaystackAction::Verify { reference } => {
            if payments::by_ref(db, PAYSTACK, &reference).await?.is_some() {
                let r = reply(Answer::Taken, Outcome::Duplicate, "already credited");
                return hook.only(db, r, "already credited", Some(&reference)).await;
            }
            let Some(checkout) = store::checkout(db, &reference).await? else {
                let why = "no checkout of ours has this reference";
                return hook.only(db, reply(Answer::Taken, Outcome::UnknownRequest, why), why, Some(&reference)).await;
            };
            let verified = match verify_paystack(p, &keys, &reference).await {
                Ok(v) => v,
                Err(e) => {
                    // Paystack retries: the next delivery verifies again.
                    let r = reply(Answer::Unavailable, Outcome::Error, &e);
                    return hook.only(db, r, &e, Some(&reference)).await;
                }
            };
            if let Err(why) = cards::paystack_accept(&verified, &reference, checkout.amount_cents) {
                let why = format!("verification: {why}");
                return hook.only(db, reply(Answer::Taken, Outcome::AmountRefused, &why), &why, Some(&reference)).await;
            }
            let pay = CardPayment {
                reference: reference.clone(),
                amount_cents: verified.amount_cents,
                currency: verified.currency,
                checkout_id: Some(reference),
                account: None,
                payer_email: verified.email,
            };
            let method = verified.channel.unwrap_or_else(|| "card".into());
            credit_card(db, tenant, &hook, &pay, &method, ids).await
        }
    }
}

async fn verify_paystack<P: Platform>(
    p: &P,
    keys: &PaystackKeys,
    reference: &str,
) -> Result<cards::PaystackVerified, String> {
    let req = http::Request::get(format!("{}/transaction/verify/{}", keys.base_url(), form_escape(reference)))
        .header("authorization", format!("Bearer {}", keys.secret_key.expose()))
        .body(Bytes::new())
        .map_err(|e| e.to_string())?;
    let resp = p.fetch(req).await.map_err(|e| format!("verify: {e}"))?;
    if resp.status().is_server_error() {
        return Err(format!("verify: Paystack answered {}", resp.status()));
    }
    cards::paystack_verified(resp.body()).map_err(|e| e.0)
}

/// Credits a card payment exactly once (by `(provider, reference)`), with its log line.
async fn credit_card(
    db: &impl Db,
    tenant: &Tenant,
    hook: &Hook<'_>,
    pay: &CardPayment,
    method: &str,
    ids: &mut IdGen,
) -> Result<Reply, StoreError> {
    let reference = pay.reference.as_str();
    if pay.currency != "KES" {
        let why = format!("currency {} is not KES; not credited", pay.currency);
        return hook.only(db, reply(Answer::Taken, Outcome::AmountRefused, &why), &why, Some(reference)).await;
    }
    let amount = match u64::try_from(pay.amount_cents).map(|c| bounded_amount(c, tenant.settings.max_payment())) {
        Ok(Ok(a)) => a,
        Ok(Err(e)) => {
            let why = e.to_string();
            return hook.only(db, reply(Answer::Taken, Outcome::AmountRefused, &why), &why, Some(reference)).await;
        }
        Err(_) => {
            let why = "negative amount";
            return hook.only(db, reply(Answer::Refused, Outcome::Malformed, why), why, Some(reference)).await;
        }
    };
    let now = hook.now;
    let at = fmt_ts(now);
    let answered = retry_races!(StoreError, {
        if payments::by_ref(db, hook.provider, reference).await?.is_some() {
            let r = reply(Answer::Taken, Outcome::Duplicate, "already credited");
            db.batch(&[hook.log(&r, Some("already credited"), Some(reference))]).await?;
            return Ok(r);
        }
        let checkout = match &pay.checkout_id {
            Some(id) => store::checkout(db, id).await?,
            None => None,
        };
        let subscriber_id = match &checkout {
            Some(c) => Some(c.subscriber_id.clone()),
            None => match &pay.account {
                Some(a) => subscribers::by_account(db, &canonical_account(a)).await?.map(|s| s.subscriber.id),
                None => None,
            },
        };
        let payment = Payment {
            id: ids.uuid(),
            provider: hook.provider.into(),
            method: method.into(),
            provider_ref: reference.to_owned(),
            receipt: None,
            amount_cents: amount.cents(),
            subscriber_id: subscriber_id.clone(),
            status: if subscriber_id.is_some() { PaymentStatus::Applied } else { PaymentStatus::Unmatched },
            msisdn: None,
            payer_name: pay.payer_email.clone(),
            bill_ref: pay.account.clone().or_else(|| pay.checkout_id.clone()),
            note: pay.checkout_id.as_ref().map(|c| format!("checkout {c}")),
            paid_at: Some(at.clone()),
            received_at: at.clone(),
            applied_at: subscriber_id.as_ref().map(|_| at.clone()),
        };
        let mut prelude = vec![payments::insert(&payment)];
        if let Some(c) = &checkout {
            prelude.push(store::mark_paid(&c.id, &at));
        }
        match subscriber_id {
            None => {
                let r = reply(Answer::Taken, Outcome::Unmatched, "no subscriber matched");
                prelude.push(hook.log(&r, Some("no subscriber matched: in the unmatched inbox"), Some(reference)));
                db.batch(&prelude).await?;
                Ok(r)
            }
            Some(sid) => {
                let mut r = reply(Answer::Taken, Outcome::Applied, "");
                prelude.push(hook.log(&r, None, Some(reference)));
                let memo = match hook.provider {
                    STRIPE => format!("Card (Stripe) {reference}"),
                    _ => format!("Paystack {reference}"),
                };
                let credit = Credit { amount, payment_id: &payment.id, reference, memo: &memo, prelude };
                r.applied = Some(credit_once(db, &tenant.settings, &sid, credit, ids, now).await?);
                Ok(r)
            }
        }
    })
    .await?;
    answered.ok_or_else(|| StoreError::Unavailable("too much contention on one payment".into()))
}

/// Records a refund or dispute once, with a debit of its amount on the paid subscriber.
async fn reverse(db: &impl Db, hook: &Hook<'_>, rev: &Reversal, ids: &mut IdGen) -> Result<Reply, StoreError> {
    let at = fmt_ts(hook.now);
    let reference = rev.reference.as_str();
    let answered = retry_races!(StoreError, {
        if store::reversal_exists(db, hook.provider, reference).await? {
            let r = reply(Answer::Taken, Outcome::Duplicate, "already recorded");
            db.batch(&[hook.log(&r, Some("already recorded"), Some(reference))]).await?;
            return Ok(r);
        }
        let payment = payments::by_ref(db, hook.provider, &rev.payment_reference).await?;
        let subscriber_id = payment.as_ref().and_then(|p| p.subscriber_id.clone());
        let detail = format!("{} of {} cents: {}", rev.kind.as_str(), rev.amount_cents, rev.reason);
        let r = reply(Answer::Taken, Outcome::Applied, &detail);
        let mut batch: Vec<Statement> = Vec::new();
        if let Some(sid) = &subscriber_id {
            let s = subscribers::get(db, sid).await?.ok_or(StoreError::NotFound)?;
            batch.extend(occ_bump(sid, s.subscriber.version));
            let memo = format!("{} {} {}: {}", hook.provider, rev.kind.as_str(), reference, rev.reason);
            batch.push(ledger::insert(
                sid,
                "adjustment",
                -rev.amount_cents.abs(),
                payment.as_ref().map(|p| p.id.as_str()),
                None,
                &memo,
                &at,
            ));
        }
        batch.push(store::insert_reversal(&store::Reversal {
            id: ids.uuid(),
            provider: hook.provider.into(),
            provider_ref: reference.to_owned(),
            payment_ref: rev.payment_reference.clone(),
            subscriber_id: subscriber_id.clone(),
            amount_cents: rev.amount_cents.abs(),
            kind: rev.kind.as_str().into(),
            reason: rev.reason.clone(),
            created_at: at.clone(),
        }));
        let detail = if subscriber_id.is_some() { detail } else { format!("{detail} (payment not known here)") };
        batch.push(hook.log(&r, Some(&detail), Some(reference)));
        db.batch(&batch).await?;
        Ok(r)
    })
    .await?;
    answered.ok_or_else(|| StoreError::Unavailable("too much contention on one refund".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_escapes_brackets_and_spaces() {
        assert_eq!(
            form(&[("line_items[0][quantity]", "1".into()), ("n", "a b&c".into())]),
            "line_items%5B0%5D%5Bquantity%5D=1&n=a%20b%26c"
        );
    }
}

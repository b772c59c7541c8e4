//! Card and aggregator payments (Stripe, Paystack): webhook signatures and what an event means.
//!
//! Pure: bytes and times in, decisions out. The use cases (`usecases::cards`) read, decide with
//! these and write one atomic batch.

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::{Sha256, Sha512};

use crate::secret::constant_time_eq;

/// Stripe's default tolerance for a webhook's timestamp (its SDKs' `DEFAULT_TOLERANCE`).
pub const STRIPE_TOLERANCE_SECONDS: i64 = 300;

/// Why a webhook's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no signature header")]
    Missing,
    #[error("unable to extract timestamp and signatures from header")]
    Malformed,
    #[error("no signatures found with expected scheme v1")]
    NoV1,
    #[error("no signatures found matching the expected signature for payload")]
    Mismatch,
    #[error("timestamp outside the tolerance zone")]
    Stale,
    #[error("no webhook secret configured")]
    NoSecret,
}

/// The parts of a `Stripe-Signature` header: `t=<unix>,v1=<hex>[,v1=<hex>...][,v0=...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeHeader {
    pub timestamp: i64,
    pub v1: Vec<String>,
}

/// Splits on `,`, each item on its first `=`; takes `t` and every `v1` (other schemes ignored).
pub fn parse_stripe_header(header: &str) -> Result<StripeHeader, SignatureError> {
    let mut timestamp = None;
    let mut v1 = Vec::new();
    for item in header.split(',') {
        let Some((k, v)) = item.trim().split_once('=') else { continue };
        match k {
            "t" => timestamp = v.parse::<i64>().ok(),
            "v1" => v1.push(v.to_owned()),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if v1.is_empty() {
        return Err(SignatureError::NoV1);
    }
    Ok(StripeHeader { timestamp, v1 })
}

/// Lowercase hex HMAC-SHA256 of `"{t}.{body}"` keyed with the endpoint secret (`whsec_...`).
pub fn stripe_signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// A header as Stripe sends it (one `v1` per secret): for simulators and tests.
pub fn stripe_header(secrets: &[&str], timestamp: i64, body: &[u8]) -> String {
    let mut h = format!("t={timestamp}");
    for s in secrets {
        h.push_str(",v1=");
        h.push_str(&stripe_signature(s, timestamp, body));
    }
    h
}

/// Verifies a `Stripe-Signature` header over the raw body against any of `secrets` (the current
/// endpoint secret and, during a roll, the previous one). Accepts if any `v1` matches any secret
/// (constant-time), and the timestamp is within `tolerance` of `now` on either side (Stripe's SDK
/// checks only the old side; a timestamp far in the future is as suspect as an old one).
pub fn verify_stripe(
    header: Option<&str>,
    body: &[u8],
    secrets: &[&str],
    now_unix: i64,
    tolerance: i64,
) -> Result<i64, SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let parsed = parse_stripe_header(header)?;
    let secrets: Vec<&str> = secrets.iter().copied().filter(|s| !s.is_empty()).collect();
    if secrets.is_empty() {
        return Err(SignatureError::NoSecret);
    }
    let mut matched = false;
    for s in &secrets {
        let expected = stripe_signature(s, parsed.timestamp, body);
        for v in &parsed.v1 {
            // no early exit: every comparison runs
            matched |= constant_time_eq(expected.as_bytes(), v.as_bytes());
        }
    }
    if !matched {
        return Err(SignatureError::Mismatch);
    }
    if (now_unix - parsed.timestamp).abs() > tolerance {
        return Err(SignatureError::Stale);
    }
    Ok(parsed.timestamp)
}

/// Lowercase hex HMAC-SHA512 of the raw body keyed with the Paystack secret key.
pub fn paystack_signature(secret_key: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha512>::new_from_slice(secret_key.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Verifies `x-paystack-signature` over the raw body (before anything parses it).
pub fn verify_paystack(header: Option<&str>, body: &[u8], secret_key: &str) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?.trim();
    if secret_key.is_empty() {
        return Err(SignatureError::NoSecret);
    }
    if header.len() != 128 || !header.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(SignatureError::Malformed);
    }
    let expected = paystack_signature(secret_key, body);
    if constant_time_eq(expected.as_bytes(), header.to_ascii_lowercase().as_bytes()) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// What a (verified) Stripe event asks of us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StripeAction {
    /// Money received: credit once by payment intent.
    Credit(CardPayment),
    /// Money taken back (refund or dispute): debit once by the refund's or dispute's id.
    Reverse(Reversal),
    /// Acknowledged and ignored (an event we do not act on, or a session not paid yet).
    Ignore(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardPayment {
    /// The exactly-once key: the payment intent (Stripe) or the transaction reference (Paystack).
    pub reference: String,
    pub amount_cents: i64,
    pub currency: String,
    /// Our checkout id (Stripe `client_reference_id` / `metadata.checkout_id`; Paystack reference).
    pub checkout_id: Option<String>,
    /// The subscriber's account (metadata), when our checkout is not known.
    pub account: Option<String>,
    pub payer_email: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reversal {
    pub kind: ReversalKind,
    /// The exactly-once key of the reversal (`re_...`, `dp_...`, Paystack refund id).
    pub reference: String,
    /// The payment it takes money from (its exactly-once key).
    pub payment_reference: String,
    pub amount_cents: i64,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReversalKind {
    Refund,
    Dispute,
}

impl ReversalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReversalKind::Refund => "refund",
            ReversalKind::Dispute => "dispute",
        }
    }
}

/// Why an event body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EventError(pub String);

fn s<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str().filter(|t| !t.is_empty())
}

fn i(v: &Value, path: &[&str]) -> Option<i64> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_i64()
}

/// The event's `id` and `type`, and what it asks of us.
pub fn stripe_event(body: &[u8]) -> Result<(String, String, StripeAction), EventError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| EventError(format!("not JSON: {e}")))?;
    let id = s(&v, &["id"]).ok_or_else(|| EventError("event without an id".into()))?.to_owned();
    let kind = s(&v, &["type"]).ok_or_else(|| EventError("event without a type".into()))?.to_owned();
    let obj =
        v.get("data").and_then(|d| d.get("object")).ok_or_else(|| EventError("event without data.object".into()))?;
    let action = match kind.as_str() {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            let status = s(obj, &["payment_status"]).unwrap_or("");
            if status != "paid" {
                StripeAction::Ignore(format!("session payment_status is {status:?}, not paid"))
            } else {
                let reference = s(obj, &["payment_intent"])
                    .ok_or_else(|| EventError("paid session without a payment_intent".into()))?
                    .to_owned();
                let amount_cents =
                    i(obj, &["amount_total"]).ok_or_else(|| EventError("session without amount_total".into()))?;
                StripeAction::Credit(CardPayment {
                    reference,
                    amount_cents,
                    currency: s(obj, &["currency"]).unwrap_or("").to_ascii_uppercase(),
                    checkout_id: s(obj, &["client_reference_id"])
                        .or_else(|| s(obj, &["metadata", "checkout_id"]))
                        .map(str::to_owned),
                    account: s(obj, &["metadata", "account"]).map(str::to_owned),
                    payer_email: s(obj, &["customer_details", "email"]).map(str::to_owned),
                })
            }
        }
        "charge.refunded" => {
            let payment_reference = s(obj, &["payment_intent"])
                .ok_or_else(|| EventError("refunded charge without a payment_intent".into()))?
                .to_owned();
            // The newest refund is first in `refunds.data`; older ones were recorded by their own events.
            let refund = obj.get("refunds").and_then(|r| r.get("data")).and_then(|d| d.get(0));
            match refund {
                Some(r) => StripeAction::Reverse(Reversal {
                    kind: ReversalKind::Refund,
                    reference: s(r, &["id"]).ok_or_else(|| EventError("refund without an id".into()))?.to_owned(),
                    payment_reference,
                    amount_cents: i(r, &["amount"]).ok_or_else(|| EventError("refund without an amount".into()))?,
                    reason: s(r, &["reason"]).unwrap_or("refund").to_owned(),
                }),
                None => {
                    let id = s(obj, &["id"]).unwrap_or("charge");
                    StripeAction::Reverse(Reversal {
                        kind: ReversalKind::Refund,
                        reference: format!("{id}:refunded"),
                        payment_reference,
                        amount_cents: i(obj, &["amount_refunded"])
                            .ok_or_else(|| EventError("refunded charge without amount_refunded".into()))?,
                        reason: "refund".into(),
                    })
                }
            }
        }
        "charge.dispute.created" => StripeAction::Reverse(Reversal {
            kind: ReversalKind::Dispute,
            reference: s(obj, &["id"]).ok_or_else(|| EventError("dispute without an id".into()))?.to_owned(),
            payment_reference: s(obj, &["payment_intent"])
                .or_else(|| s(obj, &["charge"]))
                .ok_or_else(|| EventError("dispute without a payment_intent".into()))?
                .to_owned(),
            amount_cents: i(obj, &["amount"]).ok_or_else(|| EventError("dispute without an amount".into()))?,
            reason: s(obj, &["reason"]).unwrap_or("dispute").to_owned(),
        }),
        other => StripeAction::Ignore(format!("event type {other} is not acted on")),
    };
    Ok((id, kind, action))
}

/// What a (verified) Paystack webhook asks of us. Paystack events carry no id: a charge is known
/// by its `data.reference`, a refund by its own id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaystackAction {
    /// Says a charge succeeded: verify the transaction by reference, then credit once.
    Verify {
        reference: String,
    },
    Reverse(Reversal),
    Ignore(String),
}

pub fn paystack_event(body: &[u8]) -> Result<(String, PaystackAction), EventError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| EventError(format!("not JSON: {e}")))?;
    let event = s(&v, &["event"]).ok_or_else(|| EventError("webhook without an event".into()))?.to_owned();
    let data = v.get("data").ok_or_else(|| EventError("webhook without data".into()))?;
    let action = match event.as_str() {
        "charge.success" => PaystackAction::Verify {
            reference: s(data, &["reference"])
                .ok_or_else(|| EventError("charge without a reference".into()))?
                .to_owned(),
        },
        "refund.processed" => {
            let payment_reference = s(data, &["transaction_reference"])
                .or_else(|| s(data, &["transaction", "reference"]))
                .ok_or_else(|| EventError("refund without a transaction reference".into()))?
                .to_owned();
            let id = data
                .get("id")
                .map(|x| x.as_str().map(str::to_owned).unwrap_or_else(|| x.to_string()))
                .unwrap_or_else(|| format!("{payment_reference}:refund"));
            PaystackAction::Reverse(Reversal {
                kind: ReversalKind::Refund,
                reference: id,
                payment_reference,
                amount_cents: i(data, &["amount"]).ok_or_else(|| EventError("refund without an amount".into()))?,
                reason: s(data, &["customer_note"])
                    .or_else(|| s(data, &["merchant_note"]))
                    .unwrap_or("refund")
                    .to_owned(),
            })
        }
        other => PaystackAction::Ignore(format!("event {other} is not acted on")),
    };
    Ok((event, action))
}

/// What `GET /transaction/verify/:reference` said, read from its `data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaystackVerified {
    pub status: String,
    pub amount_cents: i64,
    pub currency: String,
    pub reference: String,
    pub email: Option<String>,
    pub channel: Option<String>,
}

pub fn paystack_verified(body: &[u8]) -> Result<PaystackVerified, EventError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| EventError(format!("verify: not JSON: {e}")))?;
    if v.get("status").and_then(Value::as_bool) != Some(true) {
        return Err(EventError(format!("verify refused: {}", s(&v, &["message"]).unwrap_or("no message"))));
    }
    let d = v.get("data").ok_or_else(|| EventError("verify without data".into()))?;
    Ok(PaystackVerified {
        status: s(d, &["status"]).unwrap_or("").to_owned(),
        amount_cents: i(d, &["amount"]).ok_or_else(|| EventError("verify without amount".into()))?,
        currency: s(d, &["currency"]).unwrap_or("").to_ascii_uppercase(),
        reference: s(d, &["reference"]).unwrap_or("").to_owned(),
        email: s(d, &["customer", "email"]).map(str::to_owned),
        channel: s(d, &["channel"]).map(str::to_owned),
    })
}

/// Gives value only to a verified success of the expected amount in KES.
pub fn paystack_accept(v: &PaystackVerified, reference: &str, expected_cents: i64) -> Result<(), String> {
    if v.reference != reference {
        return Err(format!("verify answered for reference {:?}, not {reference:?}", v.reference));
    }
    if v.status != "success" {
        return Err(format!("transaction status is {:?}, not success", v.status));
    }
    if v.currency != "KES" {
        return Err(format!("currency is {:?}, not KES", v.currency));
    }
    if v.amount_cents != expected_cents {
        return Err(format!("amount is {} subunits, expected {expected_cents}", v.amount_cents));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;

    #[test]
    fn stripe_vector_from_the_reference_matches() {
        let body = br#"{"id":"evt_test_webhook","object":"event"}"#;
        assert_eq!(
            stripe_header(&["whsec_test_secret"], NOW, body),
            "t=1700000000,v1=d95c6b7477fbd7e9f90b1b0ef5f9c7ac25abca5382460e0d988c2b2a5b71b990"
        );
    }

    #[test]
    fn paystack_vector_from_the_reference_matches() {
        let body = br#"{"event":"charge.success","data":{"reference":"ref_123","amount":50000,"currency":"KES","status":"success"}}"#;
        assert_eq!(
            paystack_signature("sk_test_xxx", body),
            "300a09f3b2dc152fbfced1c9daf38907c73d1651ca5292d2e4c07e4cfe5ebeca8547b4e1cc3dd362656800468be651b97f18ff7232ec31e5aa0bb4d600475b3c"
        );
        let sig = paystack_signature("sk_test_xxx", body);
        assert_eq!(verify_paystack(Some(&sig), body, "sk_test_xxx"), Ok(()));
        assert_eq!(verify_paystack(Some(&sig.to_ascii_uppercase()), body, "sk_test_xxx"), Ok(()));
    }

    fn verify(h: Option<&str>, body: &[u8], secrets: &[&str], now: i64) -> Result<i64, SignatureError> {
        verify_stripe(h, body, secrets, now, STRIPE_TOLERANCE_SECONDS)
    }

    #[test]
    fn stripe_signature_cases() {
        let body = br#"{"id":"evt_1","type":"checkout.session.completed"}"#;
        let good = stripe_header(&["whsec_a"], NOW, body);
        assert_eq!(verify(Some(&good), body, &["whsec_a"], NOW), Ok(NOW));
        // tampered body
        assert_eq!(verify(Some(&good), br#"{"id":"evt_2"}"#, &["whsec_a"], NOW), Err(SignatureError::Mismatch));
        // old and future timestamps (signed correctly)
        let old = stripe_header(&["whsec_a"], NOW - 301, body);
        assert_eq!(verify(Some(&old), body, &["whsec_a"], NOW), Err(SignatureError::Stale));
        let edge = stripe_header(&["whsec_a"], NOW - 300, body);
        assert_eq!(verify(Some(&edge), body, &["whsec_a"], NOW), Ok(NOW - 300));
        let future = stripe_header(&["whsec_a"], NOW + 301, body);
        assert_eq!(verify(Some(&future), body, &["whsec_a"], NOW), Err(SignatureError::Stale));
        // rolled secret: two v1, either secret of ours matches
        let two = stripe_header(&["whsec_old", "whsec_new"], NOW, body);
        assert_eq!(verify(Some(&two), body, &["whsec_new"], NOW), Ok(NOW));
        assert_eq!(verify(Some(&two), body, &["whsec_old"], NOW), Ok(NOW));
        let one_bad = format!("{good},v1=bad_signature");
        assert_eq!(verify(Some(&one_bad), body, &["whsec_a"], NOW), Ok(NOW));
        // our secret roll: the previous secret still verifies
        assert_eq!(verify(Some(&good), body, &["whsec_new", "whsec_a"], NOW), Ok(NOW));
        // another tenant's secret
        assert_eq!(verify(Some(&good), body, &["whsec_b"], NOW), Err(SignatureError::Mismatch));
        // missing and malformed headers
        assert_eq!(verify(None, body, &["whsec_a"], NOW), Err(SignatureError::Missing));
        assert_eq!(verify(Some("garbage"), body, &["whsec_a"], NOW), Err(SignatureError::Malformed));
        assert_eq!(verify(Some("t=abc,v1=00"), body, &["whsec_a"], NOW), Err(SignatureError::Malformed));
        assert_eq!(verify(Some(""), body, &["whsec_a"], NOW), Err(SignatureError::Malformed));
        // v0 is ignored: only v0 means no v1
        let v0 = format!("t={NOW},v0={}", stripe_signature("whsec_a", NOW, body));
        assert_eq!(verify(Some(&v0), body, &["whsec_a"], NOW), Err(SignatureError::NoV1));
        // no secret configured
        assert_eq!(verify(Some(&good), body, &[""], NOW), Err(SignatureError::NoSecret));
    }

    #[test]
    fn paystack_signature_cases() {
        let body = br#"{"event":"charge.success","data":{"reference":"r1"}}"#;
        let sig = paystack_signature("sk_a", body);
        assert_eq!(
            verify_paystack(Some(&sig), br#"{"event":"charge.success","data":{"reference":"r2"}}"#, "sk_a"),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(verify_paystack(Some(&sig), body, "sk_b"), Err(SignatureError::Mismatch));
        assert_eq!(verify_paystack(None, body, "sk_a"), Err(SignatureError::Missing));
        assert_eq!(verify_paystack(Some("zz"), body, "sk_a"), Err(SignatureError::Malformed));
        assert_eq!(verify_paystack(Some(&sig), body, ""), Err(SignatureError::NoSecret));
        // a SHA-256 signature (wrong algorithm) is refused by shape
        assert_eq!(
            verify_paystack(Some(&stripe_signature("sk_a", 0, body)), body, "sk_a"),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn stripe_events_map_to_actions() {
        let paid = br#"{"id":"evt_1","type":"checkout.session.completed","data":{"object":{"id":"cs_1","payment_status":"paid","payment_intent":"pi_1","amount_total":50000,"currency":"kes","client_reference_id":"co_1","metadata":{"account":"A1"}}}}"#;
        let (id, kind, a) = stripe_event(paid).unwrap();
        assert_eq!((id.as_str(), kind.as_str()), ("evt_1", "checkout.session.completed"));
        assert_eq!(
            a,
            StripeAction::Credit(CardPayment {
                reference: "pi_1".into(),
                amount_cents: 50000,
                currency: "KES".into(),
                checkout_id: Some("co_1".into()),
                account: Some("A1".into()),
                payer_email: None,
            })
        );
        let unpaid =
            br#"{"id":"evt_2","type":"checkout.session.completed","data":{"object":{"payment_status":"unpaid"}}}"#;
        assert!(matches!(stripe_event(unpaid).unwrap().2, StripeAction::Ignore(_)));
        let other = br#"{"id":"evt_3","type":"customer.created","data":{"object":{}}}"#;
        assert!(matches!(stripe_event(other).unwrap().2, StripeAction::Ignore(_)));
        let refund = br#"{"id":"evt_4","type":"charge.refunded","data":{"object":{"id":"ch_1","payment_intent":"pi_1","amount_refunded":1000,"refunds":{"data":[{"id":"re_1","amount":1000,"reason":"requested_by_customer"}]}}}}"#;
        assert!(matches!(stripe_event(refund).unwrap().2,
            StripeAction::Reverse(Reversal { kind: ReversalKind::Refund, ref reference, amount_cents: 1000, .. }) if reference == "re_1"));
        let dispute = br#"{"id":"evt_5","type":"charge.dispute.created","data":{"object":{"id":"dp_1","payment_intent":"pi_1","amount":50000,"reason":"fraudulent"}}}"#;
        assert!(matches!(stripe_event(dispute).unwrap().2,
            StripeAction::Reverse(Reversal { kind: ReversalKind::Dispute, ref reason, .. }) if reason == "fraudulent"));
        assert!(stripe_event(b"not json").is_err());
        assert!(
            stripe_event(
                br#"{"id":"evt_6","type":"checkout.session.completed","data":{"object":{"payment_status":"paid"}}}"#
            )
            .is_err()
        );
    }

    #[test]
    fn paystack_verify_must_match_status_amount_currency() {
        let body = br#"{"status":true,"message":"Verification successful","data":{"status":"success","reference":"r1","amount":50000,"currency":"KES","channel":"card","customer":{"email":"a@b.c"}}}"#;
        let v = paystack_verified(body).unwrap();
        assert_eq!(paystack_accept(&v, "r1", 50000), Ok(()));
        assert!(paystack_accept(&v, "r1", 50001).is_err());
        assert!(paystack_accept(&v, "r2", 50000).is_err());
        let mut ngn = v.clone();
        ngn.currency = "NGN".into();
        assert!(paystack_accept(&ngn, "r1", 50000).is_err());
        let mut failed = v;
        failed.status = "abandoned".into();
        assert!(paystack_accept(&failed, "r1", 50000).is_err());
        assert!(paystack_verified(br#"{"status":false,"message":"Transaction reference not found"}"#).is_err());
    }
}

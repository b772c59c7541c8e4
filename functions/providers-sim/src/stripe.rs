//! Stripe: Checkout Sessions (create, retrieve), the hosted page, and signed webhooks.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::{Method, Request, Response};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::form::{self, esc};
use crate::webhook::{self, Outgoing};
use crate::{Sim, StripeAccount, bearer, json, now_unix, page, random_id, redirect};

/// A Checkout Session as the simulator keeps it.
#[derive(Debug, Clone, Serialize)]
pub struct StripeSession {
    pub id: String,
    /// The secret key it was created with (its account).
    #[serde(skip)]
    pub secret_key: String,
    pub amount_total: i64,
    pub currency: String,
    pub client_reference_id: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub payment_intent_metadata: BTreeMap<String, String>,
    pub product: String,
    pub success_url: String,
    pub cancel_url: Option<String>,
    /// `open`, `complete` or `expired`.
    pub status: String,
    /// `unpaid` or `paid`.
    pub payment_status: String,
    pub payment_intent: Option<String>,
    pub customer_email: Option<String>,
    pub created: i64,
    pub idempotency_key: Option<String>,
    /// The events sent about it.
    pub events: Vec<String>,
    /// The charge made when it was paid (`ch_...`).
    pub charge: Option<String>,
    /// Refunded so far (cents), and the refunds, newest first (as `charge.refunds.data`).
    pub amount_refunded: i64,
    pub refunds: Vec<Value>,
    /// The dispute opened by the cardholder, if any (a charge has at most one).
    pub dispute: Option<String>,
}

impl StripeSession {
    /// The session object on Stripe's wire.
    pub fn object(&self, base: &str) -> Value {
        json!({
            "id": self.id,
            "object": "checkout.session",
            "amount_subtotal": self.amount_total,
            "amount_total": self.amount_total,
            "cancel_url": self.cancel_url,
            "client_reference_id": self.client_reference_id,
            "created": self.created,
            "currency": self.currency,
            "customer_details": self.customer_email.as_ref().map(|e| json!({"email": e})),
            "expires_at": self.created + 86_400,
            "livemode": false,
            "metadata": self.metadata,
            "mode": "payment",
            "payment_intent": self.payment_intent,
            "payment_method_types": ["card"],
            "payment_status": self.payment_status,
            "status": self.status,
            "success_url": self.success_url,
            "url": (self.status == "open").then(|| format!("{base}/c/pay/{}", self.id)),
        })
    }
}

fn error(status: u16, kind: &str, message: &str, param: Option<&str>) -> Response<Bytes> {
    json(status, &json!({"error": {"type": kind, "message": message, "param": param}}))
}

/// `t=..,v1=..[,v1=..]`: HMAC-SHA256 of `"{t}.{body}"` with each endpoint secret.
pub fn signature_header(secrets: &[String], t: i64, body: &[u8]) -> String {
    let mut out = format!("t={t}");
    for s in secrets {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(s.as_bytes()) else { continue };
        mac.update(t.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        out.push_str(&format!(",v1={}", hex::encode(mac.finalize().into_bytes())));
    }
    out
}

fn account(sim: &Sim, req: &Request<Bytes>) -> Result<StripeAccount, Response<Bytes>> {
    let Some(key) = bearer(req) else {
        return Err(error(
            401,
            "invalid_request_error",
            "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
            None,
        ));
    };
    let st = sim.state();
    st.config.stripe.iter().find(|a| a.secret_key == key).cloned().ok_or_else(|| {
        let shown: String = key.chars().take(8).collect();
        error(401, "invalid_request_error", &format!("Invalid API Key provided: {shown}***"), None)
    })
}

pub(crate) async fn route(sim: &Sim, req: &Request<Bytes>) -> Response<Bytes> {
    let path = req.uri().path().trim_end_matches('/');
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match (req.method(), segs.as_slice()) {
        (&Method::POST, ["v1", "checkout", "sessions"]) => create(sim, req),
        (&Method::GET, ["v1", "checkout", "sessions", id]) => {
            let acct = match account(sim, req) {
                Ok(a) => a,
                Err(r) => return r,
            };
            let st = sim.state();
            match st.sessions.iter().find(|s| s.id == *id && s.secret_key == acct.secret_key) {
                Some(s) => json(200, &s.object(sim.base_url())),
                None => {
                    error(404, "invalid_request_error", &format!("No such checkout.session: '{id}'"), Some("session"))
                }
            }
        }
        (&Method::POST, ["v1", "refunds"]) => refund(sim, req),
        (&Method::GET | &Method::POST, ["c", "pay", _]) => hosted(sim, req, &segs),
        _ => error(404, "invalid_request_error", &format!("Unrecognized request URL ({} {path}).", req.method()), None),
    }
}

fn create(sim: &Sim, req: &Request<Bytes>) -> Response<Bytes> {
    let acct = match account(sim, req) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let params = String::from_utf8_lossy(req.body()).into_owned();
    let idem = req.headers().get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned);
    if let Some(k) = &idem {
        if k.len() > 255 {
            return error(400, "invalid_request_error", "Idempotency-Key must be at most 255 characters", None);
        }
        if let Some((p, status, body)) = sim.state().idempotency.get(&(acct.secret_key.clone(), k.clone())).cloned() {
            if p != params {
                return error(
                    400,
                    "idempotency_error",
                    &format!(
                        "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{k}' if you meant to execute a different request."
                    ),
                    None,
                );
            }
            let mut r = json(200, &Value::Null);
            *r.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
            *r.body_mut() = body;
            r.headers_mut().insert("idempotent-replayed", http::HeaderValue::from_static("true"));
            return r;
        }
    }
    let f = form::map(req.body());
    let (status, answer) = match session_from(&f, &acct, idem.clone()) {
        Err((param, message)) => (400, error(400, "invalid_request_error", &message, Some(&param))),
        Ok(s) => {
            let obj = s.object(sim.base_url());
            sim.state().sessions.push(s);
            sim.notify();
            (200, json(200, &obj))
        }
    };
    // Stripe does not save the result when parameter validation failed.
    if let (Some(k), 200) = (idem, status) {
        sim.state().idempotency.insert((acct.secret_key, k), (params, status, answer.body().clone()));
    }
    answer
}

fn session_from(
    f: &BTreeMap<String, String>,
    acct: &StripeAccount,
    idem: Option<String>,
) -> Result<StripeSession, (String, String)> {
    let missing = |p: &str| (p.to_owned(), format!("Missing required param: {p}."));
    let mode = f.get("mode").ok_or_else(|| missing("mode"))?;
    if mode != "payment" {
        return Err(("mode".into(), format!("The simulator only supports mode=payment, not {mode}.")));
    }
    let success_url = f.get("success_url").ok_or_else(|| missing("success_url"))?.clone();
    if !(success_url.starts_with("http://") || success_url.starts_with("https://")) {
        return Err(("success_url".into(), "Not a valid URL".into()));
    }
    let currency = f.get("line_items[0][price_data][currency]").ok_or_else(|| missing("line_items"))?.clone();
    if currency != currency.to_ascii_lowercase() || currency.len() != 3 {
        return Err(("line_items[0][price_data][currency]".into(), format!("Invalid currency: {currency}.")));
    }
    let unit: i64 = f
        .get("line_items[0][price_data][unit_amount]")
        .ok_or_else(|| missing("line_items[0][price_data][unit_amount]"))?
        .parse()
        .map_err(|_| ("line_items[0][price_data][unit_amount]".to_owned(), "Invalid integer".to_owned()))?;
    let qty: i64 = f.get("line_items[0][quantity]").map(|q| q.parse().unwrap_or(0)).unwrap_or(0);
    if qty < 1 {
        return Err(("line_items[0][quantity]".into(), "Quantity must be at least 1".into()));
    }
    if unit < 1 {
        return Err(("line_items[0][price_data][unit_amount]".into(), "This value must be greater than 0".into()));
    }
    let meta = |prefix: &str| -> BTreeMap<String, String> {
        f.iter()
            .filter_map(|(k, v)| {
                k.strip_prefix(prefix).and_then(|r| r.strip_suffix(']')).map(|name| (name.to_owned(), v.clone()))
            })
            .collect()
    };
    Ok(StripeSession {
        id: format!("cs_test_{}", random_id(58)),
        secret_key: acct.secret_key.clone(),
        amount_total: unit * qty,
        currency,
        client_reference_id: f.get("client_reference_id").cloned(),
        metadata: meta("metadata["),
        payment_intent_metadata: meta("payment_intent_data[metadata]["),
        product: f.get("line_items[0][price_data][product_data][name]").cloned().unwrap_or_default(),
        success_url,
        cancel_url: f.get("cancel_url").cloned(),
        status: "open".into(),
        payment_status: "unpaid".into(),
        payment_intent: None,
        customer_email: f.get("customer_email").cloned(),
        created: now_unix(),
        idempotency_key: idem,
        events: Vec::new(),
        charge: None,
        amount_refunded: 0,
        refunds: Vec::new(),
        dispute: None,
    })
}

/// Test cards, as Stripe documents them: 4242... pays, 4000 0000 0000 0002 is declined.
fn card_outcome(number: &str) -> Result<(), &'static str> {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    match digits.as_str() {
        "4000000000000002" => Err("Your card was declined."),
        "4000000000009995" => Err("Your card has insufficient funds."),
        d if d.len() >= 12 && d.len() <= 19 => Ok(()),
        _ => Err("Your card number is incomplete."),
    }
}

/// The payer pays: the session completes and `checkout.session.completed` is sent.
pub(crate) fn pay(sim: &Sim, id: &str, card: &str, email: &str) -> Result<StripeSession, String> {
    card_outcome(card).map_err(str::to_owned)?;
    {
        let mut st = sim.state();
        let s = st.sessions.iter_mut().find(|s| s.id == id).ok_or("no such session")?;
        if s.status != "open" {
            return Err(format!("this session is {}", s.status));
        }
        s.status = "complete".into();
        s.payment_status = "paid".into();
        s.payment_intent = Some(format!("pi_{}", random_id(24)));
        s.charge = Some(format!("ch_{}", random_id(24)));
        s.customer_email = Some(email.to_owned());
    }
    let object = sim.state().sessions.iter().find(|s| s.id == id).map(|s| s.object(sim.base_url()));
    if let Some(object) = object {
        send_event(sim, id, "checkout.session.completed", object);
    }
    sim.state().sessions.iter().find(|s| s.id == id).cloned().ok_or_else(|| "no such session".into())
}

/// Sends `event` (of `kind`) to the session's account's webhook, signed, with the configured
/// duplicates; records the event on the session.
fn send_event(sim: &Sim, session_id: &str, kind: &str, object: Value) {
    let event_id = format!("evt_{}", random_id(24));
    let (acct, copies, delay) = {
        let mut st = sim.state();
        let Some(i) = st.sessions.iter().position(|s| s.id == session_id) else { return };
        st.sessions[i].events.push(event_id.clone());
        let acct = st.config.stripe.iter().find(|a| a.secret_key == st.sessions[i].secret_key).cloned();
        (acct, st.config.webhook_deliveries, st.config.webhook_delay_ms)
    };
    sim.notify();
    let Some(acct) = acct else { return };
    let (Some(url), false) = (acct.webhook_url.clone(), acct.webhook_secrets.is_empty()) else { return };
    let event = json!({
        "id": event_id,
        "object": "event",
        "api_version": "2024-06-20",
        "created": now_unix(),
        "data": {"object": object},
        "livemode": false,
        "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null},
        "type": kind,
    });
    let secrets = acct.webhook_secrets.clone();
    webhook::spawn(
        sim,
        Outgoing {
            kind: "stripe",
            about: event_id,
            url,
            body: Bytes::from(event.to_string()),
            content_type: "application/json; charset=utf-8",
            sign: Box::new(move |body| Some(("stripe-signature", signature_header(&secrets, now_unix(), body)))),
            copies,
            first_delay: Duration::from_millis(delay),
        },
    );
}

fn kes(cents: i64) -> String {
    format!("KES {}.{:02}", cents / 100, cents % 100)
}

/// The charge of a paid session as Stripe sends it in `charge.refunded`.
fn charge_object(s: &StripeSession) -> Value {
    json!({
        "id": s.charge,
        "object": "charge",
        "amount": s.amount_total,
        "amount_captured": s.amount_total,
        "amount_refunded": s.amount_refunded,
        "currency": s.currency,
        "disputed": s.dispute.is_some(),
        "paid": true,
        "payment_intent": s.payment_intent,
        "refunded": s.amount_refunded >= s.amount_total,
        "refunds": {"object": "list", "data": s.refunds, "has_more": false},
        "status": "succeeded",
    })
}

/// `POST /v1/refunds` (`payment_intent` or `charge`, optional `amount` and `reason`): refunds a
/// paid session's charge, in full or in part, and sends `charge.refunded`.
fn refund(sim: &Sim, req: &Request<Bytes>) -> Response<Bytes> {
    let acct = match account(sim, req) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let f = form::map(req.body());
    let reason = f.get("reason").cloned();
    if let Some(r) = &reason
        && !matches!(r.as_str(), "duplicate" | "fraudulent" | "requested_by_customer")
    {
        return error(
            400,
            "invalid_request_error",
            "Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer",
            Some("reason"),
        );
    }
    let (session_id, refund) = {
        let mut st = sim.state();
        let found = match (f.get("payment_intent"), f.get("charge")) {
            (Some(pi), _) => st
                .sessions
                .iter()
                .position(|s| s.secret_key == acct.secret_key && s.payment_intent.as_deref() == Some(pi.as_str())),
            (None, Some(ch)) => st
                .sessions
                .iter()
                .position(|s| s.secret_key == acct.secret_key && s.charge.as_deref() == Some(ch.as_str())),
            (None, None) => {
                return error(
                    400,
                    "invalid_request_error",
                    "One of the following params should be provided for this request: payment_intent or charge.",
                    None,
                );
            }
        };
        let Some(i) = found else {
            let (param, id) = match f.get("payment_intent") {
                Some(pi) => ("payment_intent", pi.clone()),
                None => ("charge", f.get("charge").cloned().unwrap_or_default()),
            };
            return error(404, "invalid_request_error", &format!("No such {param}: '{id}'"), Some(param));
        };
        let s = &mut st.sessions[i];
        let left = s.amount_total - s.amount_refunded;
        if left <= 0 {
            let ch = s.charge.clone().unwrap_or_default();
            return error(400, "invalid_request_error", &format!("Charge {ch} has already been refunded."), None);
        }
        let amount = match f.get("amount").map(|a| a.parse::<i64>()) {
            None => left,
            Some(Ok(a)) if a > 0 => a,
            Some(_) => {
                return error(400, "invalid_request_error", "Invalid positive integer", Some("amount"));
            }
        };
        if amount > left {
            return error(
                400,
                "invalid_request_error",
                &format!("Refund amount ({}) is greater than unrefunded amount on charge ({})", kes(amount), kes(left)),
                Some("amount"),
            );
        }
        let refund = json!({
            "id": format!("re_{}", random_id(24)),
            "object": "refund",
            "amount": amount,
            "charge": s.charge,
            "created": now_unix(),
            "currency": s.currency,
            "payment_intent": s.payment_intent,
            "reason": reason,
            "status": "succeeded",
        });
        s.amount_refunded += amount;
        s.refunds.insert(0, refund.clone());
        (s.id.clone(), refund)
    };
    let object = sim.state().sessions.iter().find(|s| s.id == session_id).map(charge_object);
    if let Some(object) = object {
        send_event(sim, &session_id, "charge.refunded", object);
    }
    json(200, &refund)
}

/// The cardholder disputes a paid session's charge (what a bank does; no API call of the
/// merchant's): `charge.dispute.created` for what is not refunded yet.
pub(crate) fn dispute(sim: &Sim, session_id: &str, reason: &str) -> Result<Value, String> {
    let object = {
        let mut st = sim.state();
        let s = st.sessions.iter_mut().find(|s| s.id == session_id).ok_or("no such session")?;
        if s.payment_status != "paid" {
            return Err("this session is not paid".into());
        }
        if let Some(d) = &s.dispute {
            return Err(format!("this charge is already disputed ({d})"));
        }
        let amount = s.amount_total - s.amount_refunded;
        if amount <= 0 {
            return Err("this charge is fully refunded".into());
        }
        let id = format!("dp_{}", random_id(24));
        s.dispute = Some(id.clone());
        json!({
            "id": id,
            "object": "dispute",
            "amount": amount,
            "charge": s.charge,
            "created": now_unix(),
            "currency": s.currency,
            "payment_intent": s.payment_intent,
            "reason": reason,
            "status": "needs_response",
        })
    };
    send_event(sim, session_id, "charge.dispute.created", object.clone());
    Ok(object)
}

/// `GET /c/pay/{id}`: the hosted page; `POST /c/pay/{id}`: pay (or `cancel=1`).
fn hosted(sim: &Sim, req: &Request<Bytes>, segs: &[&str]) -> Response<Bytes> {
    let id = match segs {
        ["c", "pay", id] => (*id).to_owned(),
        _ => return page::html(404, &page::wrap("Not found", "<p>No such checkout page.</p>")),
    };
    let Some(s) = sim.state().sessions.iter().find(|s| s.id == id).cloned() else {
        return page::html(404, &page::wrap("Not found", "<p>This checkout session does not exist.</p>"));
    };
    if req.method() == Method::POST {
        let f = form::map(req.body());
        if f.contains_key("cancel") {
            return redirect(s.cancel_url.as_deref().unwrap_or(&s.success_url));
        }
        let card = f.get("card").map(String::as_str).unwrap_or("");
        let email = f.get("email").map(String::as_str).filter(|e| e.contains('@')).unwrap_or("payer@example.com");
        return match pay(sim, &id, card, email) {
            Ok(_) => redirect(&s.success_url),
            Err(why) => page::html(402, &page_for(&s, Some(&why))),
        };
    }
    page::html(200, &page_for(&s, None))
}

fn page_for(s: &StripeSession, error: Option<&str>) -> String {
    let amount = page::money(s.amount_total, &s.currency);
    let body = if s.status != "open" {
        format!(
            "<p class=ok>Paid {amount}.</p><p>Payment {}.</p><p><a href=\"{}\">Return to the merchant</a></p>",
            esc(s.payment_intent.as_deref().unwrap_or("")),
            esc(&s.success_url)
        )
    } else {
        format!(
            "<p class=amount>{amount}</p><p>{}</p>{}\
             <form method=post><label>Email <input name=email type=email value=\"payer@example.com\"></label>\
             <label>Card number <input name=card inputmode=numeric autocomplete=cc-number value=\"4242 4242 4242 4242\"></label>\
             <p class=hint>Test cards: 4242 4242 4242 4242 pays; 4000 0000 0000 0002 is declined.</p>\
             <button type=submit>Pay {amount}</button></form>\
             <form method=post><input type=hidden name=cancel value=1><button class=link type=submit>Cancel</button></form>",
            esc(&s.product),
            error.map(|e| format!("<p class=err>{}</p>", esc(e))).unwrap_or_default(),
        )
    };
    page::wrap("Stripe Checkout (simulator)", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripe_signature_matches_the_reference_vector() {
        let h = signature_header(
            &["whsec_test_secret".into()],
            1_700_000_000,
            br#"{"id":"evt_test_webhook","object":"event"}"#,
        );
        assert_eq!(h, "t=1700000000,v1=d95c6b7477fbd7e9f90b1b0ef5f9c7ac25abca5382460e0d988c2b2a5b71b990");
        let two = signature_header(&["a".into(), "b".into()], 1, b"x");
        assert_eq!(two.matches(",v1=").count(), 2);
    }

    #[test]
    fn stripe_test_cards_decline_and_pay() {
        assert!(card_outcome("4242 4242 4242 4242").is_ok());
        assert!(card_outcome("4000000000000002").is_err());
        assert!(card_outcome("42").is_err());
    }
}

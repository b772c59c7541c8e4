//! Paystack: initialize and verify transactions, the hosted page, and signed `charge.success`.

use std::time::Duration;

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::{Method, Request, Response};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::Sha512;

use crate::form::{self, esc};
use crate::webhook::{self, Outgoing};
use crate::{PaystackAccount, Sim, bearer, json, page, random_id, redirect};

const CURRENCIES: &[&str] = &["NGN", "GHS", "ZAR", "KES", "USD"];

#[derive(Debug, Clone, Serialize)]
pub struct PaystackTransaction {
    pub id: u64,
    pub reference: String,
    pub access_code: String,
    #[serde(skip)]
    pub secret_key: String,
    pub email: String,
    pub amount: i64,
    pub currency: String,
    pub channels: Vec<String>,
    pub callback_url: Option<String>,
    pub metadata: Value,
    /// `abandoned` until paid, then `success` (or `failed`).
    pub status: String,
    pub channel: Option<String>,
    pub paid_at: Option<String>,
    pub created_at: String,
    pub webhooks: u32,
    /// Refunded so far (lowest unit).
    pub refunded: i64,
}

impl PaystackTransaction {
    fn data(&self) -> Value {
        json!({
            "id": self.id,
            "domain": "test",
            "status": self.status,
            "reference": self.reference,
            "amount": self.amount,
            "message": null,
            "gateway_response": if self.status == "success" { "Successful" } else { "The transaction was not completed" },
            "paid_at": self.paid_at,
            "paidAt": self.paid_at,
            "created_at": self.created_at,
            "createdAt": self.created_at,
            "channel": self.channel.clone().unwrap_or_else(|| "card".into()),
            "currency": self.currency,
            "ip_address": "127.0.0.1",
            "metadata": self.metadata,
            "fees": if self.status == "success" { self.amount * 15 / 1000 } else { 0 },
            "authorization": if self.channel.as_deref() == Some("mobile_money") {
                json!({"authorization_code": format!("AUTH_{}", self.access_code), "channel": "mobile_money",
                       "bank": "M-PESA", "country_code": "KE", "brand": "M-PESA", "reusable": false})
            } else {
                json!({"authorization_code": format!("AUTH_{}", self.access_code), "bin": "408408", "last4": "4081",
                       "exp_month": "12", "exp_year": "2030", "channel": "card", "card_type": "visa ",
                       "bank": "TEST BANK", "country_code": "KE", "brand": "visa", "reusable": true,
                       "signature": format!("SIG_{}", self.access_code)})
            },
            "customer": {"id": self.id, "first_name": null, "last_name": null, "email": self.email,
                         "customer_code": format!("CUS_{}", self.access_code), "phone": null, "metadata": null,
                         "risk_action": "default"},
            "plan": null,
            "requested_amount": self.amount,
        })
    }
}

fn fail(status: u16, message: &str) -> Response<Bytes> {
    json(status, &json!({"status": false, "message": message}))
}

/// Lowercase hex HMAC-SHA512 of the raw body, keyed with the secret key.
pub fn signature(secret_key: &str, body: &[u8]) -> String {
    match Hmac::<Sha512>::new_from_slice(secret_key.as_bytes()) {
        Ok(mut mac) => {
            mac.update(body);
            hex::encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

fn account(sim: &Sim, req: &Request<Bytes>) -> Result<PaystackAccount, Response<Bytes>> {
    let key = bearer(req).ok_or_else(|| fail(401, "No Authorization Header was found"))?;
    let st = sim.state();
    st.config.paystack.iter().find(|a| a.secret_key == key).cloned().ok_or_else(|| fail(401, "Invalid key"))
}

pub(crate) async fn route(sim: &Sim, req: &Request<Bytes>) -> Response<Bytes> {
    let path = req.uri().path().trim_end_matches('/');
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match (req.method(), segs.as_slice()) {
        (&Method::POST, ["transaction", "initialize"]) => initialize(sim, req),
        (&Method::GET, ["transaction", "verify", reference]) => {
            let acct = match account(sim, req) {
                Ok(a) => a,
                Err(r) => return r,
            };
            let st = sim.state();
            match st.transactions.iter().find(|t| t.reference == *reference && t.secret_key == acct.secret_key) {
                Some(t) => json(200, &json!({"status": true, "message": "Verification successful", "data": t.data()})),
                None => fail(400, "Transaction reference not found"),
            }
        }
        (&Method::POST, ["refund"]) => refund(sim, req),
        (&Method::GET | &Method::POST, ["checkout", code]) => hosted(sim, req, code),
        _ => fail(404, "Route not found"),
    }
}

fn initialize(sim: &Sim, req: &Request<Bytes>) -> Response<Bytes> {
    let acct = match account(sim, req) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let v: Value = match serde_json::from_slice(req.body()) {
        Ok(v) => v,
        Err(_) => Value::Object(form::parse(req.body()).into_iter().map(|(k, v)| (k, Value::String(v))).collect()),
    };
    let Some(email) = v["email"].as_str().filter(|e| e.contains('@')) else {
        return fail(400, "Invalid Email Address Passed");
    };
    // Paystack takes the amount as an integer or as digits in a string.
    let amount = v["amount"].as_i64().or_else(|| v["amount"].as_str().and_then(|s| s.parse().ok()));
    let Some(amount) = amount.filter(|a| *a > 0) else {
        return fail(400, "Invalid Amount Sent");
    };
    let currency = v["currency"].as_str().unwrap_or("NGN").to_owned();
    if !CURRENCIES.contains(&currency.as_str()) {
        return fail(403, "Currency not supported by merchant");
    }
    let reference = match v["reference"].as_str() {
        Some(r) if r.is_empty() || !r.chars().all(|c| c.is_ascii_alphanumeric() || "-.=_".contains(c)) => {
            return fail(400, "Invalid transaction reference: only -, ., = and alphanumeric characters allowed");
        }
        Some(r) => r.to_owned(),
        None => random_id(10).to_ascii_lowercase(),
    };
    let mut st = sim.state();
    if st.transactions.iter().any(|t| t.reference == reference) {
        return fail(400, "Duplicate Transaction Reference");
    }
    let channels: Vec<String> = match &v["channels"] {
        Value::Array(a) => a.iter().filter_map(|c| c.as_str().map(str::to_owned)).collect(),
        _ => vec!["card".into(), "mobile_money".into()],
    };
    let metadata = match &v["metadata"] {
        Value::String(s) => serde_json::from_str(s).unwrap_or(Value::String(s.clone())),
        m => m.clone(),
    };
    let id = 4_000_000_000 + st.next();
    let access_code = random_id(15).to_ascii_lowercase();
    let t = PaystackTransaction {
        id,
        reference: reference.clone(),
        access_code: access_code.clone(),
        secret_key: acct.secret_key,
        email: email.to_owned(),
        amount,
        currency,
        channels,
        callback_url: v["callback_url"].as_str().map(str::to_owned),
        metadata,
        status: "abandoned".into(),
        channel: None,
        paid_at: None,
        created_at: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S.000Z").to_string(),
        webhooks: 0,
        refunded: 0,
    };
    st.transactions.push(t);
    drop(st);
    sim.notify();
    json(
        200,
        &json!({"status": true, "message": "Authorization URL created", "data": {
            "authorization_url": format!("{}/checkout/{access_code}", sim.base_url()),
            "access_code": access_code,
            "reference": reference,
        }}),
    )
}

/// The payer pays on the hosted page: the transaction succeeds and `charge.success` is sent.
pub(crate) fn pay(
    sim: &Sim,
    reference: &str,
    channel: &str,
    phone: Option<&str>,
) -> Result<PaystackTransaction, String> {
    let (t, acct, copies, delay) = {
        let mut st = sim.state();
        let i = st.transactions.iter().position(|t| t.reference == reference).ok_or("no such transaction")?;
        if st.transactions[i].status != "abandoned" {
            return Err(format!("this transaction is already {}", st.transactions[i].status));
        }
        if !st.transactions[i].channels.iter().any(|c| c == channel) {
            return Err(format!("{channel} is not offered for this transaction"));
        }
        if channel == "mobile_money" && phone.is_some_and(|p| p.chars().filter(char::is_ascii_digit).count() < 9) {
            return Err("Enter an M-Pesa number".into());
        }
        let acct = st.config.paystack.iter().find(|a| a.secret_key == st.transactions[i].secret_key).cloned();
        let t = &mut st.transactions[i];
        t.status = "success".into();
        t.channel = Some(channel.to_owned());
        t.paid_at = Some(chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S.000Z").to_string());
        t.webhooks += 1;
        let t = t.clone();
        (t, acct, st.config.webhook_deliveries, st.config.webhook_delay_ms)
    };
    sim.notify();
    if let Some(PaystackAccount { secret_key, webhook_url: Some(url) }) = acct {
        let body = json!({"event": "charge.success", "data": t.data()}).to_string();
        webhook::spawn(
            sim,
            Outgoing {
                kind: "paystack",
                about: t.reference.clone(),
                url,
                body: Bytes::from(body),
                content_type: "application/json",
                sign: Box::new(move |b| Some(("x-paystack-signature", signature(&secret_key, b)))),
                copies,
                first_delay: Duration::from_millis(delay),
            },
        );
    }
    Ok(t)
}

/// `POST /refund` (`transaction`: reference or id; optional `amount`, `customer_note`,
/// `merchant_note`): queues a refund of a successful transaction, in full or in part, and sends
/// `refund.processed` (Paystack sends `refund.pending` first; the simulator skips to the outcome).
fn refund(sim: &Sim, req: &Request<Bytes>) -> Response<Bytes> {
    let acct = match account(sim, req) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let Ok(body) = serde_json::from_slice::<Value>(req.body()) else {
        return fail(400, "Invalid JSON body");
    };
    let transaction = match body.get("transaction") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return fail(400, "Transaction reference is required"),
    };
    let note = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
    let (t, refund_id, amount) = {
        let mut st = sim.state();
        let refund_id = 3_000_000 + st.next();
        let Some(t) = st.transactions.iter_mut().find(|t| {
            t.secret_key == acct.secret_key && (t.reference == transaction || t.id.to_string() == transaction)
        }) else {
            return fail(404, "Transaction not found");
        };
        if t.status != "success" {
            return fail(400, "Cannot refund a transaction that was not successful");
        }
        let left = t.amount - t.refunded;
        if left <= 0 {
            return fail(400, "Transaction has been fully reversed");
        }
        let amount = match body.get("amount") {
            None => left,
            Some(v) => match v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())) {
                Some(a) if a > 0 => a,
                _ => return fail(400, "Amount should be a positive integer"),
            },
        };
        if amount > left {
            return fail(400, "Refund amount cannot be more than the transaction amount");
        }
        t.refunded += amount;
        (t.clone(), refund_id, amount)
    };
    sim.notify();
    let data = json!({
        "id": refund_id,
        "amount": amount,
        "currency": t.currency,
        "domain": "test",
        "status": "processed",
        "transaction_reference": t.reference,
        "refund_reference": format!("RF_{}", random_id(12)),
        "processor": if t.channel.as_deref() == Some("mobile_money") { "mpesa" } else { "card" },
        "customer_note": note("customer_note"),
        "merchant_note": note("merchant_note"),
        "customer": {"email": t.email},
    });
    let (acct, copies, delay) = {
        let st = sim.state();
        let acct = st.config.paystack.iter().find(|a| a.secret_key == t.secret_key).cloned();
        (acct, st.config.webhook_deliveries, st.config.webhook_delay_ms)
    };
    if let Some(PaystackAccount { secret_key, webhook_url: Some(url) }) = acct {
        let event = json!({"event": "refund.processed", "data": data}).to_string();
        webhook::spawn(
            sim,
            Outgoing {
                kind: "paystack",
                about: format!("refund {refund_id}"),
                url,
                body: Bytes::from(event),
                content_type: "application/json",
                sign: Box::new(move |b| Some(("x-paystack-signature", signature(&secret_key, b)))),
                copies,
                first_delay: Duration::from_millis(delay),
            },
        );
    }
    json(
        200,
        &json!({"status": true, "message": "Refund has been queued for processing",
                "data": {"transaction": t.data(), "amount": amount, "currency": t.currency, "status": "pending",
                         "id": refund_id, "customer_note": note("customer_note"), "merchant_note": note("merchant_note"),
                         "domain": "test", "fully_deducted": false, "deducted_amount": 0}}),
    )
}

fn hosted(sim: &Sim, req: &Request<Bytes>, code: &str) -> Response<Bytes> {
    let Some(t) = sim.state().transactions.iter().find(|t| t.access_code == code).cloned() else {
        return page::html(404, &page::wrap("Paystack", "<p>This payment link is not valid.</p>"));
    };
    let back = |t: &PaystackTransaction| {
        t.callback_url.as_ref().map(|u| {
            let sep = if u.contains('?') { '&' } else { '?' };
            format!("{u}{sep}trxref={0}&reference={0}", t.reference)
        })
    };
    if req.method() == Method::POST {
        let f = form::map(req.body());
        let channel = f.get("channel").map(String::as_str).unwrap_or("card");
        return match pay(sim, &t.reference, channel, f.get("phone").map(String::as_str)) {
            Ok(paid) => match back(&paid) {
                Some(u) => redirect(&u),
                None => page::html(200, &page_for(&paid, None)),
            },
            Err(why) => page::html(402, &page_for(&t, Some(&why))),
        };
    }
    page::html(200, &page_for(&t, None))
}

fn page_for(t: &PaystackTransaction, error: Option<&str>) -> String {
    let amount = page::money(t.amount, &t.currency);
    if t.status != "abandoned" {
        return page::wrap(
            "Paystack (simulator)",
            &format!("<p class=ok>Paid {amount}.</p><p>Reference {}.</p>", esc(&t.reference)),
        );
    }
    let mut forms = String::new();
    if t.channels.iter().any(|c| c == "card") {
        forms.push_str(&format!(
            "<form method=post><input type=hidden name=channel value=card><h2>Card</h2>\
             <label>Card number <input name=card inputmode=numeric value=\"4084 0840 8408 4081\"></label>\
             <button type=submit>Pay {amount}</button></form>"
        ));
    }
    if t.channels.iter().any(|c| c == "mobile_money") {
        forms.push_str(&format!(
            "<form method=post><input type=hidden name=channel value=mobile_money><h2>M-Pesa</h2>\
             <label>Phone <input name=phone inputmode=tel value=\"0712345678\"></label>\
             <button type=submit>Pay {amount} with M-Pesa</button></form>"
        ));
    }
    let err = error.map(|e| format!("<p class=err>{}</p>", esc(e))).unwrap_or_default();
    page::wrap("Paystack (simulator)", &format!("<p class=amount>{amount}</p><p>{}</p>{err}{forms}", esc(&t.email)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paystack_signature_matches_the_reference_vector() {
        let body = br#"{"event":"charge.success","data":{"reference":"ref_123","amount":50000,"currency":"KES","status":"success"}}"#;
        assert_eq!(
            signature("sk_test_xxx", body),
            "300a09f3b2dc152fbfced1c9daf38907c73d1651ca5292d2e4c07e4cfe5ebeca8547b4e1cc3dd362656800468be651b97f18ff7232ec31e5aa0bb4d600475b3c"
        );
    }
}

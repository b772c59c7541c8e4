//! Simulators of the card and SMS providers Konnekted talks to, on their real wire formats, for
//! tests and local runs (the demo of `scripts/run.sh`). One HTTP server answers all three: their
//! real paths do not overlap, so a tenant's Stripe, Paystack and Africa's Talking "environment"
//! can all be this server's base URL.
//!
//! | provider | API | hosted page / inbox |
//! |---|---|---|
//! | Stripe | `POST /v1/checkout/sessions` (form body, `Authorization: Bearer sk_...`, `Idempotency-Key` replayed or refused on other parameters), `GET /v1/checkout/sessions/{id}`, `POST /v1/refunds` (`payment_intent` or `charge`, `amount`, `reason`: full or partial, never past what is left; sends `charge.refunded`) | `GET /c/pay/{session}`: a card form; its "Pay" completes the session and sends `checkout.session.completed` to the account's webhook endpoint, signed `Stripe-Signature: t=..,v1=..` (one `v1` per endpoint secret) |
//! | Paystack | `POST /transaction/initialize` (JSON, subunits), `GET /transaction/verify/{reference}`, `POST /refund` (`transaction`, `amount`, notes: full or partial; sends `refund.processed`) | `GET /checkout/{access_code}`: card or M-Pesa (mobile money); "Pay" sends `charge.success` signed `x-paystack-signature` = HMAC-SHA512 of the body with the secret key |
//! | Africa's Talking | `POST /version1/messaging` (form body, `apiKey` header, JSON `SMSMessageData` answer with a status per recipient) | `GET /inbox`: every message received; delivery reports POSTed (form body) to the account's callback URL |
//!
//! Webhooks are delivered like the providers do it: at least once, each attempt signed afresh,
//! retried with backoff while the receiver does not answer 2xx, and (by default) delivered a
//! second time as a duplicate. A cardholder's dispute (what a bank opens, no merchant API call)
//! is started through the control API and sends `charge.dispute.created` for what is not
//! refunded. What it is not: TLS, 3-D Secure, Paystack's `refund.pending` step, dispute
//! evidence and outcomes, real timing.
//!
//! Control API (JSON) under `/__sim/`: `POST /__sim/stripe/accounts {"secret_key","webhook_url",
//! "webhook_secrets":[..]}`, `POST /__sim/paystack/accounts {"secret_key","webhook_url"}`,
//! `POST /__sim/sms/accounts {"username","api_key","callback_url"}`, `POST /__sim/sms/numbers
//! {"number":"+2547..","status_code":403}`, `GET /__sim/stripe`, `GET /__sim/paystack`,
//! `GET /__sim/sms`, `GET /__sim/deliveries`, `POST /__sim/stripe/sessions/{id}/pay`,
//! `POST /__sim/paystack/transactions/{reference}/pay`, `POST /__sim/stripe/sessions/{id}/dispute
//! {"reason":"fraudulent"}`.

// An early answer (a refusal) is an HTTP response: returning it as the `Err` is the point.
#![allow(clippy::result_large_err)]

mod control;
mod form;
mod page;
mod paystack;
mod sms;
mod stripe;
mod webhook;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use paystack::PaystackTransaction;
pub use sms::{SmsMessage, SmsReport};
pub use stripe::{StripeSession, signature_header as stripe_signature_header};
pub use webhook::Delivery;

/// Largest request body read.
const MAX_REQUEST_BODY: usize = 1024 * 1024;

/// A Stripe account as the simulator knows it: the API key, and the webhook endpoint registered
/// in its dashboard with that endpoint's signing secrets (two while a secret is rolled).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StripeAccount {
    pub secret_key: String,
    #[serde(default)]
    pub webhook_url: Option<String>,
    #[serde(default)]
    pub webhook_secrets: Vec<String>,
}

/// A Paystack integration: the secret key (which also signs webhooks) and its webhook URL.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PaystackAccount {
    pub secret_key: String,
    #[serde(default)]
    pub webhook_url: Option<String>,
}

/// An Africa's Talking app: username + API key, sender IDs it may use (empty: any), and the
/// delivery-report callback URL of its dashboard.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SmsAccount {
    pub username: String,
    pub api_key: String,
    #[serde(default)]
    pub sender_ids: Vec<String>,
    #[serde(default)]
    pub callback_url: Option<String>,
}

/// Knobs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SimConfig {
    pub stripe: Vec<StripeAccount>,
    pub paystack: Vec<PaystackAccount>,
    pub sms: Vec<SmsAccount>,
    /// How many times each webhook is delivered successfully (2: the event and one duplicate).
    pub webhook_deliveries: u32,
    /// Waits before each retry of a delivery that got no 2xx (attempts = 1 + this length).
    pub retry_delays_ms: Vec<u64>,
    /// Wait between the payment and the first delivery.
    pub webhook_delay_ms: u64,
    /// Wait between a message's acceptance and its delivery report.
    pub report_delay_ms: u64,
    /// Per-recipient status codes for given numbers (`+2547...` -> 403, 406, ...).
    pub number_status: BTreeMap<String, u16>,
    /// Numbers whose delivery report says `Failed` (with `failureReason` `DeliveryFailure`).
    pub undeliverable: Vec<String>,
    /// Price of one SMS segment, in KES (text, as the provider shows it).
    pub sms_price: String,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            stripe: Vec::new(),
            paystack: Vec::new(),
            sms: Vec::new(),
            webhook_deliveries: 2,
            retry_delays_ms: vec![200, 500, 1000, 2000, 4000],
            webhook_delay_ms: 50,
            report_delay_ms: 100,
            number_status: BTreeMap::new(),
            undeliverable: Vec::new(),
            sms_price: "0.8000".into(),
        }
    }
}

#[derive(Default)]
pub(crate) struct State {
    pub config: SimConfig,
    pub sessions: Vec<StripeSession>,
    /// (secret key, Idempotency-Key) -> (parameters, status, answer)
    pub idempotency: BTreeMap<(String, String), (String, u16, Bytes)>,
    pub transactions: Vec<PaystackTransaction>,
    pub messages: Vec<SmsMessage>,
    pub reports: Vec<SmsReport>,
    pub deliveries: Vec<Delivery>,
    pub seq: u64,
}

impl State {
    pub(crate) fn next(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }
}

/// The simulator core (state, change signal, outbound client), shared with `daraja-sim`.
pub(crate) type Sim = daraja_sim::Shared<State>;

/// Starts simulators.
pub struct ProvidersSim;

impl ProvidersSim {
    /// Binds `127.0.0.1:0` and serves in the background.
    pub async fn spawn(config: SimConfig) -> std::io::Result<SimHandle> {
        Self::bind(SocketAddr::from(([127, 0, 0, 1], 0)), config).await
    }

    pub async fn bind(addr: SocketAddr, config: SimConfig) -> std::io::Result<SimHandle> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let sim = Sim::new(State { config, ..State::default() }, format!("http://{addr}"));
        let server = tokio::spawn(serve(listener, sim.clone()));
        Ok(SimHandle { sim, addr, server })
    }
}

async fn serve(listener: TcpListener, sim: Sim) {
    daraja_sim::serve_http(listener, MAX_REQUEST_BODY, move |req| {
        let sim = sim.clone();
        async move {
            match req {
                Ok(req) => handle(&sim, req).await,
                Err(daraja_sim::TooLarge) => text(413, "request body too large"),
            }
        }
    })
    .await
}

async fn handle(sim: &Sim, req: http::Request<Bytes>) -> http::Response<Bytes> {
    let path = req.uri().path().to_owned();
    if path.starts_with("/__sim") {
        return control::route(sim, &req).await;
    }
    if path.starts_with("/v1/") || path.starts_with("/c/pay/") {
        return stripe::route(sim, &req).await;
    }
    if path.starts_with("/transaction/") || path.starts_with("/checkout/") || path == "/refund" {
        return paystack::route(sim, &req).await;
    }
    if path.starts_with("/version1/") || path == "/inbox" {
        return sms::route(sim, &req).await;
    }
    if path == "/" {
        return page::html(200, &page::index(sim));
    }
    text(404, "not found")
}

pub(crate) fn json<T: Serialize>(status: u16, v: &T) -> http::Response<Bytes> {
    http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Bytes::from(serde_json::to_vec(v).unwrap_or_default()))
        .unwrap_or_else(|_| http::Response::new(Bytes::new()))
}

pub(crate) fn text(status: u16, body: &str) -> http::Response<Bytes> {
    http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Bytes::from(body.to_owned()))
        .unwrap_or_else(|_| http::Response::new(Bytes::new()))
}

pub(crate) fn redirect(to: &str) -> http::Response<Bytes> {
    http::Response::builder()
        .status(303)
        .header(http::header::LOCATION, to)
        .body(Bytes::new())
        .unwrap_or_else(|_| http::Response::new(Bytes::new()))
}

pub(crate) fn bearer(req: &http::Request<Bytes>) -> Option<String> {
    let v = req.headers().get(http::header::AUTHORIZATION)?.to_str().ok()?;
    v.strip_prefix("Bearer ").map(|s| s.trim().to_owned())
}

pub(crate) fn random_id(n: usize) -> String {
    use rand::Rng;
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..n).map(|_| char::from(A[rng.gen_range(0..A.len())])).collect()
}

pub(crate) fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A running simulator; dropping it stops the server.
pub struct SimHandle {
    sim: Sim,
    addr: SocketAddr,
    server: JoinHandle<()>,
}

impl SimHandle {
    /// `http://127.0.0.1:PORT`: the "environment" to give a tenant for all three providers.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Answers one request in-process, exactly as over the network.
    pub async fn handle(&self, req: http::Request<Bytes>) -> http::Response<Bytes> {
        handle(&self.sim, req).await
    }

    pub fn configure(&self, f: impl FnOnce(&mut SimConfig)) {
        f(&mut self.sim.state().config);
        self.sim.notify();
    }

    /// Adds (or replaces, by secret key) a Stripe account.
    pub fn stripe_account(&self, a: StripeAccount) {
        self.configure(|c| {
            c.stripe.retain(|x| x.secret_key != a.secret_key);
            c.stripe.push(a);
        });
    }

    pub fn paystack_account(&self, a: PaystackAccount) {
        self.configure(|c| {
            c.paystack.retain(|x| x.secret_key != a.secret_key);
            c.paystack.push(a);
        });
    }

    pub fn sms_account(&self, a: SmsAccount) {
        self.configure(|c| {
            c.sms.retain(|x| x.username != a.username);
            c.sms.push(a);
        });
    }

    pub fn stripe_sessions(&self) -> Vec<StripeSession> {
        self.sim.state().sessions.clone()
    }

    pub fn paystack_transactions(&self) -> Vec<PaystackTransaction> {
        self.sim.state().transactions.clone()
    }

    /// Every message accepted (and refused per recipient), oldest first.
    pub fn sms_inbox(&self) -> Vec<SmsMessage> {
        self.sim.state().messages.clone()
    }

    pub fn sms_reports(&self) -> Vec<SmsReport> {
        self.sim.state().reports.clone()
    }

    /// Every webhook / delivery-report attempt, oldest first.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.sim.state().deliveries.clone()
    }

    /// The payer presses "Pay" on a Stripe hosted page (test card 4242...).
    pub async fn pay_stripe(&self, session_id: &str) -> Result<StripeSession, String> {
        stripe::pay(&self.sim, session_id, "4242424242424242", "payer@example.com")
    }

    /// The cardholder disputes a paid Stripe session's charge (`charge.dispute.created`).
    pub async fn dispute_stripe(&self, session_id: &str, reason: &str) -> Result<serde_json::Value, String> {
        stripe::dispute(&self.sim, session_id, reason)
    }

    /// The payer presses "Pay" on a Paystack hosted page (`card` or `mobile_money`).
    pub async fn pay_paystack(&self, reference: &str, channel: &str) -> Result<PaystackTransaction, String> {
        paystack::pay(&self.sim, reference, channel, None)
    }

    /// Waits until `n` webhook deliveries to URLs containing `url_part` were attempted and none is pending.
    pub async fn wait_deliveries(&self, url_part: &str, n: usize, timeout: Duration) -> Vec<Delivery> {
        let part = url_part.to_owned();
        let pick = move |st: &State| -> Vec<Delivery> {
            st.deliveries.iter().filter(|d| d.url.contains(&part)).cloned().collect()
        };
        let p2 = pick.clone();
        self.sim
            .wait_until(timeout, move |st| Some(p2(st)).filter(|v| v.len() >= n))
            .await
            .unwrap_or_else(|| pick(&self.sim.state()))
    }

    /// Waits until `n` messages reached the inbox.
    pub async fn wait_sms(&self, n: usize, timeout: Duration) -> Vec<SmsMessage> {
        self.sim
            .wait_until(timeout, |st| (st.messages.len() >= n).then(|| st.messages.clone()))
            .await
            .unwrap_or_else(|| self.sms_inbox())
    }

    pub fn shutdown(self) {
        self.server.abort();
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.server.abort();
    }
}

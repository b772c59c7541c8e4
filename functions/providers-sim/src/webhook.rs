//! Outbound deliveries (webhooks, delivery reports): at least once, each attempt signed afresh,
//! retried with backoff while the receiver does not answer 2xx, repeated as duplicates.

use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;

use crate::Sim;

/// One attempt to deliver something.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    /// `stripe`, `paystack` or `sms_report`.
    pub kind: String,
    /// The event id / reference / message id it carries.
    pub about: String,
    pub url: String,
    /// 1 for the first delivery, 2 for the duplicate...
    pub copy: u32,
    /// 1 for the first attempt of this copy, then retries.
    pub attempt: u32,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub response: String,
    pub at: String,
    pub body: String,
    /// The signature header sent, if any (`Stripe-Signature` or `x-paystack-signature`).
    pub signature: Option<String>,
}

impl Delivery {
    pub fn ok(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// Signs one attempt: the header (name, value) to send with it, if any.
pub(crate) type Signer = Box<dyn Fn(&[u8]) -> Option<(&'static str, String)> + Send + Sync>;

pub(crate) struct Outgoing {
    pub kind: &'static str,
    pub about: String,
    pub url: String,
    pub body: Bytes,
    pub content_type: &'static str,
    /// Called before every attempt: (header name, value) to sign this attempt.
    pub sign: Signer,
    /// How many successful copies to deliver.
    pub copies: u32,
    pub first_delay: Duration,
}

pub(crate) fn spawn(sim: &Sim, out: Outgoing) {
    let sim = sim.clone();
    let retries = sim.state().config.retry_delays_ms.clone();
    tokio::spawn(async move {
        tokio::time::sleep(out.first_delay).await;
        for copy in 1..=out.copies.max(1) {
            let mut attempt = 0u32;
            loop {
                attempt += 1;
                let sig = (out.sign)(&out.body);
                let mut req = http::Request::post(&out.url)
                    .header(http::header::CONTENT_TYPE, out.content_type)
                    .header(http::header::USER_AGENT, format!("providers-sim ({})", out.kind));
                if let Some((name, value)) = &sig {
                    req = req.header(*name, value);
                }
                let result = match req.body(out.body.clone()) {
                    Ok(r) => sim.client().send(r, Duration::from_secs(10)).await.map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                let d = Delivery {
                    kind: out.kind.into(),
                    about: out.about.clone(),
                    url: out.url.clone(),
                    copy,
                    attempt,
                    status: result.as_ref().ok().map(|r| r.status().as_u16()),
                    error: result.as_ref().err().cloned(),
                    response: result
                        .as_ref()
                        .map(|r| String::from_utf8_lossy(r.body()).into_owned())
                        .unwrap_or_default(),
                    at: chrono::Utc::now().to_rfc3339(),
                    body: String::from_utf8_lossy(&out.body).into_owned(),
                    signature: sig.map(|(_, v)| v),
                };
                let ok = d.ok();
                tracing::info!(kind = out.kind, about = %out.about, copy, attempt, status = ?d.status, "delivery");
                sim.state().deliveries.push(d);
                sim.notify();
                if ok {
                    break;
                }
                match retries.get(attempt as usize - 1) {
                    Some(ms) => tokio::time::sleep(Duration::from_millis(*ms)).await,
                    None => return, // given up: later copies are not sent either
                }
            }
        }
    });
}

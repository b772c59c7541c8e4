//! A Safaricom Daraja simulator for tests and local runs.
//!
//! What it is: an HTTP/1.1 server (tokio + hyper) that speaks Daraja's wire format, built on the
//! [`daraja`] crate's types: OAuth (Basic auth, a new token invalidates the previous one, `expires_in`
//! as number or string), STK push (Bearer token, `Password` check, field rules, "Unable to lock
//! subscriber"), the STK callback POSTed to `CallBackURL` after a scripted delay with a scripted
//! outcome (and N deliveries, or none), STK query ("The transaction is being processed" until final),
//! C2B register URL (v1 and v2, URL rules) and customer payments that call the ValidationURL and then
//! the ConfirmationURL. Several apps and shortcodes can share one simulator (one per tenant).
//!
//! What it is not: TLS (callbacks go to `http://` URLs only), Daraja's transaction status, B2C or
//! reversal APIs, or a model of real timing.
//!
//! Scripting and inspection: through [`SimHandle`] in Rust, or over HTTP under `/__sim/`:
//!
//! | request | does |
//! |---|---|
//! | `POST /__sim/outcome {"phone":"254700000001","outcome":"cancelled","delay_ms":200,"deliveries":1}` | per-phone script (no `phone`: the default). Outcomes: `success`, `cancelled`, `timeout`, `insufficient_funds`, `no_callback`, or a ResultCode number; `"concurrent":true` fires duplicate deliveries at once |
//! | `DELETE /__sim/outcome/{phone}` | drop a per-phone script |
//! | `GET /__sim/outcome` | default and per-phone scripts |
//! | `GET /__sim/stk`, `GET /__sim/stk/{CheckoutRequestID}` | STK requests with state and callback deliveries |
//! | `POST /__sim/c2b/pay {"shortcode","amount","bill_ref","msisdn","first_name"}` | a customer pays; answers what happened |
//! | `GET /__sim/c2b` | registrations and payments |
//! | `POST /__sim/reset` | back to the starting configuration |
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use daraja_sim::{DarajaSim, Outcome, Script, SimConfig};
//! let sim = DarajaSim::spawn(SimConfig::default()).await?;
//! sim.set_script_for("254700000001", Script::new(Outcome::Cancelled));
//! let env = sim.environment(); // daraja::Environment::Custom("http://127.0.0.1:PORT")
//! # Ok(()) }
//! ```

mod api;
mod c2b;
mod client;
mod config;
mod control;
mod sim;
mod sink;
mod state;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use c2b::C2bPay;
pub use client::{HttpClient, SendError};
pub use config::{
    DEFAULT_CONSUMER_KEY, DEFAULT_CONSUMER_SECRET, MsisdnStyle, Outcome, SANDBOX_PASSKEY, SANDBOX_SHORTCODE, Script,
    SimApp, SimConfig, SimShortcode,
};
pub use sink::{CallbackSink, Received};
pub use state::{C2bPayResult, C2bPayStatus, C2bRegistration, CallRecord, StkRecord, StkState};

pub use sim::Shared;
use sim::Sim;

/// Largest request body the simulator reads.
const MAX_REQUEST_BODY: usize = 1024 * 1024;

/// Starts simulators.
pub struct DarajaSim;

impl DarajaSim {
    /// Binds `127.0.0.1:0` and serves in the background.
    pub async fn spawn(config: SimConfig) -> std::io::Result<SimHandle> {
        Self::bind(SocketAddr::from(([127, 0, 0, 1], 0)), config).await
    }

    /// Binds `addr` and serves in the background.
    pub async fn bind(addr: SocketAddr, config: SimConfig) -> std::io::Result<SimHandle> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let sim = Sim::new(state::State::new(config), format!("http://{addr}"));
        let server = tokio::spawn(serve(listener, sim.clone()));
        Ok(SimHandle { sim, addr, server })
    }
}

async fn serve(listener: TcpListener, sim: Sim) {
    serve_http(listener, MAX_REQUEST_BODY, move |req| {
        let sim = sim.clone();
        async move {
            match req {
                Ok(req) => handle(&sim, req).await,
                Err(_) => sim::daraja_error("400.002.05", "Invalid request payload", None),
            }
        }
    })
    .await
}

/// A body over the size limit: what [`serve_http`] hands the handler instead of a request.
#[derive(Debug)]
pub struct TooLarge;

/// Serves HTTP/1.1 on `listener` until the task is dropped: each request's body is read whole (at
/// most `max_body` bytes, else the handler gets [`TooLarge`]) and answered by `handle`. The
/// simulators of this workspace share it.
pub async fn serve_http<F, Fut>(listener: TcpListener, max_body: usize, handle: F)
where
    F: Fn(Result<http::Request<Bytes>, TooLarge>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = http::Response<Bytes>> + Send + 'static,
{
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let handle = handle.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                let handle = handle.clone();
                async move {
                    let (parts, body) = req.into_parts();
                    let req = match Limited::new(body, max_body).collect().await {
                        Ok(collected) => Ok(http::Request::from_parts(parts, collected.to_bytes())),
                        Err(_) => Err(TooLarge),
                    };
                    Ok::<_, Infallible>(handle(req).await.map(Full::new))
                }
            });
            if let Err(e) = http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
}

async fn handle(sim: &Sim, req: http::Request<Bytes>) -> http::Response<Bytes> {
    tracing::debug!(method = %req.method(), path = req.uri().path(), "request");
    if req.uri().path().starts_with(control::PREFIX) {
        return control::route(sim, &req).await;
    }
    match api::route(sim, &req).await {
        Some(resp) => resp,
        None => sim::daraja_error("404.001.01", "Resource not found", None),
    }
}

/// A running simulator. Dropping it stops the server (callbacks already under way finish).
pub struct SimHandle {
    sim: Sim,
    addr: SocketAddr,
    server: JoinHandle<()>,
}

impl SimHandle {
    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `daraja::Environment::Custom(base_url)`, for the `daraja` request builders.
    pub fn environment(&self) -> daraja::Environment {
        daraja::Environment::Custom(self.base_url())
    }

    /// Answers one request in-process, exactly as over the network.
    pub async fn handle(&self, req: http::Request<Bytes>) -> http::Response<Bytes> {
        handle(&self.sim, req).await
    }

    /// Changes configuration knobs at run time (apps, shortcodes, `expires_in` form, timeouts...).
    pub fn configure(&self, f: impl FnOnce(&mut SimConfig)) {
        f(&mut self.sim.state().config);
        self.sim.notify();
    }

    /// The script for phones without an override.
    pub fn set_default_script(&self, script: Script) {
        self.configure(|c| c.default_script = script);
    }

    /// The script for STK pushes whose `PhoneNumber` is `phone` (any form [`daraja::normalize_msisdn`] takes).
    pub fn set_script_for(&self, phone: &str, script: Script) {
        let phone = daraja::normalize_msisdn(phone).unwrap_or_else(|| phone.to_owned());
        self.sim.state().overrides.insert(phone, script);
    }

    pub fn clear_script_for(&self, phone: &str) {
        let phone = daraja::normalize_msisdn(phone).unwrap_or_else(|| phone.to_owned());
        self.sim.state().overrides.remove(&phone);
    }

    /// Every STK push accepted so far, oldest first.
    pub fn stk_requests(&self) -> Vec<StkRecord> {
        self.sim.state().stk.clone()
    }

    pub fn stk_request(&self, checkout_request_id: &str) -> Option<StkRecord> {
        self.sim.state().stk_mut(checkout_request_id).map(|r| r.clone())
    }

    /// Waits until the request is final and every scripted callback delivery was attempted.
    pub async fn wait_stk_done(&self, checkout_request_id: &str, timeout: Duration) -> Option<StkRecord> {
        self.sim
            .wait_until(timeout, |st| {
                st.stk.iter().find(|r| r.checkout_request_id == checkout_request_id && r.done).cloned()
            })
            .await
    }

    /// Waits until `n` STK pushes have been accepted; returns them.
    pub async fn wait_stk_count(&self, n: usize, timeout: Duration) -> Vec<StkRecord> {
        self.sim
            .wait_until(timeout, |st| (st.stk.len() >= n).then(|| st.stk.clone()))
            .await
            .unwrap_or_else(|| self.stk_requests())
    }

    pub fn c2b_registration(&self, shortcode: &str) -> Option<C2bRegistration> {
        self.sim.state().c2b_registrations.get(shortcode).cloned()
    }

    pub fn c2b_payments(&self) -> Vec<C2bPayResult> {
        self.sim.state().c2b_payments.clone()
    }

    /// A customer pays: validation (if registered and enabled), then confirmation. Returns when done.
    pub async fn c2b_pay(&self, pay: C2bPay) -> C2bPayResult {
        c2b::pay(&self.sim, pay).await
    }

    /// The app's current token, if one was issued.
    pub fn current_token(&self, consumer_key: &str) -> Option<String> {
        self.sim.state().apps.get(consumer_key).and_then(|a| a.token.as_ref().map(|(t, _)| t.clone()))
    }

    /// Invalidates every issued token (as if they expired).
    pub fn expire_tokens(&self) {
        for app in self.sim.state().apps.values_mut() {
            app.token = None;
        }
    }

    /// Back to the configuration given at spawn.
    pub fn reset(&self) {
        self.sim.reset();
    }

    /// Stops accepting connections.
    pub fn shutdown(self) {
        self.server.abort();
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.server.abort();
    }
}

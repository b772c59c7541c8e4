//! The simulator core (shared with `providers-sim`): state behind a lock, a change signal, and
//! the outbound client; and this simulator's helpers.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use rand::Rng;
use serde::Serialize;
use tokio::sync::watch;

use crate::client::HttpClient;
use crate::state::State;

/// What a simulator here is built on (this one and `providers-sim`): its state `S` behind a
/// lock, a change signal that wakes waiters, the outbound client and its own base URL. Cheap to
/// clone (one `Arc`).
pub struct Shared<S> {
    inner: Arc<Inner<S>>,
}

impl<S> Clone for Shared<S> {
    fn clone(&self) -> Self {
        Shared { inner: Arc::clone(&self.inner) }
    }
}

struct Inner<S> {
    state: Mutex<S>,
    changed: watch::Sender<u64>,
    client: HttpClient,
    base_url: String,
}

/// This simulator's core.
pub(crate) type Sim = Shared<State>;

impl<S> Shared<S> {
    pub fn new(state: S, base_url: String) -> Self {
        let (changed, _) = watch::channel(0);
        Shared { inner: Arc::new(Inner { state: Mutex::new(state), changed, client: HttpClient::new(), base_url }) }
    }

    /// The state. Never hold the guard across an `.await`.
    pub fn state(&self) -> MutexGuard<'_, S> {
        self.inner.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Wakes everyone waiting in [`Shared::wait_until`].
    pub fn notify(&self) {
        self.inner.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    pub fn client(&self) -> &HttpClient {
        &self.inner.client
    }

    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// Polls `check` on every state change until it gives `Some`, or `timeout` passes.
    pub async fn wait_until<T>(&self, timeout: Duration, mut check: impl FnMut(&S) -> Option<T>) -> Option<T> {
        let mut rx = self.inner.changed.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(v) = check(&self.state()) {
                return Some(v);
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => continue,
                _ => return check(&self.state()),
            }
        }
    }
}

impl Sim {
    /// Back to the configuration given at spawn: tokens, scripts, records and registrations cleared.
    pub(crate) fn reset(&self) {
        {
            let mut st = self.state();
            let initial = st.initial.clone();
            *st = State::new(initial);
        }
        self.notify();
    }
}

const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

pub(crate) fn random_from(alphabet: &[u8], n: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..n).map(|_| char::from(alphabet[rng.gen_range(0..alphabet.len())])).collect()
}

pub(crate) fn random_token() -> String {
    random_from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 28)
}

pub(crate) fn random_digits(n: usize) -> String {
    random_from(b"0123456789", n)
}

/// `SIM` + 7 upper-case alphanumerics, unique within this simulator.
pub(crate) fn fresh_receipt(state: &State) -> String {
    loop {
        let r = format!("SIM{}", random_from(UPPER_ALNUM, 7));
        if !state.receipt_taken(&r) {
            return r;
        }
    }
}

pub(crate) fn json_response<T: Serialize>(status: u16, value: &T) -> http::Response<Bytes> {
    let body = serde_json::to_vec(value).unwrap_or_default();
    http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Bytes::from(body))
        .unwrap_or_else(|_| http::Response::new(Bytes::new()))
}

/// Daraja's generic error body, with the HTTP status its code starts with.
pub(crate) fn daraja_error(code: &str, message: &str, request_id: Option<&str>) -> http::Response<Bytes> {
    let status =
        code.split('.').next().and_then(|s| s.parse::<u16>().ok()).filter(|s| (400..600).contains(s)).unwrap_or(400);
    let request_id = request_id
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{}-{}-{}", random_digits(5), random_digits(8), random_digits(1)));
    json_response(
        status,
        &daraja::wire::ErrorBody { request_id, error_code: code.to_owned(), error_message: message.to_owned() },
    )
}

pub(crate) fn bad_field(field: &str) -> http::Response<Bytes> {
    daraja_error("400.002.02", &format!("Bad Request - Invalid {field}"), None)
}

//! Konnekted's platform-neutral billing core.
//!
//! Holds the domain (plans, subscribers, ledger, payments), the use cases
//! (M-Pesa STK and Paybill collection with exactly-once crediting, renewals,
//! expiry, the change feed), the HTTP API on `http` types, and the storage
//! port ([`db::Db`]). It does no I/O of its own: no sockets, no clock, no RNG.
//! Time and randomness arrive in [`Ctx`]; databases and outbound HTTP arrive
//! through [`platform::Platform`]. It builds for the host, `wasm32-unknown-unknown`
//! (Workers) and `wasm32-wasip2` (Spin).

pub mod api;
pub mod contract;
pub mod db;
pub mod dbwire;
pub mod domain;
pub mod ids;
pub mod migrations;
pub mod mpesa;
pub mod openapi;
pub mod platform;
pub mod scheduled;
pub mod secret;
#[cfg(any(test, feature = "seeded"))]
pub mod seeded;
pub mod store;
pub mod usecases;
pub mod web;

#[cfg(test)]
mod testing;

pub use api::handle;
pub use scheduled::run_scheduled;

use chrono::{DateTime, Utc};

/// Set by a host (as a request extension) when it cut a request body short: `total` bytes
/// arrived and the body holds only the first part. Callbacks log what was kept and answer 413.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyTruncated {
    pub total: usize,
}

/// The client's address as the host saw it (the native host: the TCP peer), set by the host as a
/// request extension. Without it the core reads `CF-Connecting-IP` (set by Cloudflare in front of
/// a Worker, not by the client). Used only for throttling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIp(pub String);

/// What the outside world lends one request: the time and some randomness.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub now: DateTime<Utc>,
    /// 32 bytes from the platform's CSPRNG, fresh per request.
    pub entropy: [u8; 32],
}

//! The contract between the billing edge and the network side: the signed sync API
//! (`/sync/{realm}/...`) as plain data.
//!
//! The edge (`konnekted-core`, the producer) serialises these types; the reconciler, the
//! RADIUS agent and their shared HTTP client (`konnekted-edge-client`) deserialise the same
//! types. Changing a field here changes it for every part at once, and the compiler finds
//! every reader.
//!
//! | route | method | body in | answer |
//! |---|---|---|---|
//! | `/sync/{realm}/desired` | GET | | [`DesiredState`] |
//! | `/sync/{realm}/feed?after=&limit=` | GET | | [`FeedPage`] |
//! | `/sync/{realm}/reports` | POST | [`Report`] | 202 [`ReportAccepted`] |
//! | `/sync/{realm}/usage` | POST | [`UsageReport`] | 202 [`UsageAccepted`] |
//!
//! Every request is signed ([`signing`]); the path helpers are in [`path`].
//!
//! What this crate is not: no HTTP client or server, no clock, no storage. It builds for
//! the host and for both edge targets (wasm32-unknown-unknown, wasm32-wasip2).

mod desired;
mod feed;
mod report;
pub mod secret;
pub mod signing;
mod usage;

pub use desired::{DesiredState, DisablesConfirmation, Plan, Subscriber, SubscriberStatus, Voucher};
pub use feed::{FeedChange, FeedKind, FeedPage};
pub use report::{HeldDisables, Outcome, Report, ReportAccepted};
pub use signing::{
    HEADER_SIGNATURE, HEADER_TIMESTAMP, HEADER_VOUCHER_KEY, REPLAY_WINDOW_SECS, SignatureError, radius_voucher_key,
    sign, verify,
};
pub use usage::{DailyUsage, OnlineSession, SessionStart, UsageAccepted, UsageReport};

/// Address list that holds the static addresses of subscribers who may not browse
/// (suspended, expired, pending): the reconciler writes it on routers, and FreeRADIUS
/// returns it as `Mikrotik-Address-List` for walled-garden accepts.
pub const SUSPENDED_ADDRESS_LIST: &str = "konnekted-suspended";

/// Change-feed page size when the request names none.
pub const FEED_DEFAULT_LIMIT: i64 = 500;
/// Largest change-feed page the edge serves.
pub const FEED_MAX_LIMIT: i64 = 5000;
/// Most day rows one usage report may carry.
pub const MAX_USAGE_DAYS: usize = 10_000;
/// Most usernames a report's [`HeldDisables`] lists (the count is always whole).
pub const MAX_HELD_USERNAMES: usize = 50;
/// Most online sessions one usage report may carry.
pub const MAX_ONLINE_SESSIONS: usize = 20_000;

/// Paths of the sync routes, as the client requests them (the edge's route table uses the
/// same shapes with `{realm}`).
pub mod path {
    /// `/sync/{realm}/desired`.
    pub fn desired(realm: &str) -> String {
        format!("/sync/{realm}/desired")
    }

    /// `/sync/{realm}/feed?after={after}&limit={limit}`.
    pub fn feed(realm: &str, after: i64, limit: u32) -> String {
        format!("/sync/{realm}/feed?after={after}&limit={limit}")
    }

    /// `/sync/{realm}/reports`.
    pub fn reports(realm: &str) -> String {
        format!("/sync/{realm}/reports")
    }

    /// `/sync/{realm}/usage`.
    pub fn usage(realm: &str) -> String {
        format!("/sync/{realm}/usage")
    }
}

//! konnekted-radius: everything Konnekted needs around FreeRADIUS, one database per tenant.
//!
//! - [`db`]: per-tenant RADIUS schema (PostgreSQL, MariaDB/MySQL, SQLite; FreeRADIUS 3.2's own
//!   tables plus radacct indexes), create-if-missing and migrate.
//! - [`config`]: renders a complete FreeRADIUS raddb directory for many tenants (realm -> tenant
//!   sql instance, per-tenant pool, statement timeout and circuit breaker, NAS binding, voucher REST).
//! - [`sync`]: diff-based sync of plans and subscribers into radcheck/radreply/radusergroup/radgroupreply.
//! - [`packet`] and [`coa`]: re-exported from the `radius-proto` crate (the pure RADIUS codec and the
//!   CoA/Disconnect client), so existing paths keep working.
//! - [`accounting`]: radacct reads, daily usage per subscriber, who is online.
//! - [`foreign_acct`]: accounting a tenant's NAS sent for another realm (the log the config writes).
//! - [`postauth`]: loads the post-auth lines the config writes with `postauth = "log"` into radpostauth.
//! - [`cli`]: `gen-config` and `migrate`, run by `konnekted-radius` and `konnekted-reconciler radius`.
//!
//! It is not the reconciler daemon: no scheduling, no edge API; the daemon calls into this crate.

pub mod accounting;
pub mod cli;
pub mod config;
pub mod db;
pub mod foreign_acct;
pub mod postauth;
pub mod sync;

pub use radius_proto::{coa, packet};

//! The Konnekted reconciler: keeps MikroTik routers in line with what the billing edge
//! says each tenant's subscribers have paid for.
//!
//! **What it is:** a controller in the shape of kube-rs controllers. Per router
//! ([`reconcile::RouterWorker`], one tokio task each, every pass under a timeout): load
//! the tenant's desired state from the edge's signed sync API ([`edge`]), build the
//! router's desired objects ([`model::build_desired`], pure, sharing the state), read the managed menus
//! ([`router::read_observed`], pipelined), plan ([`plan::plan_changes`], pure), guard
//! ([`plan::guard`]: mass-disable refusal, fail static), apply pipelined
//! ([`router::apply`]; a heavy plan first takes one of a few permits,
//! [`reconcile::ApplyLimiter`]), read back and verify, record metrics and report to the edge. A
//! full pass runs every few minutes (jittered); the change feed ([`reconcile::Tenant::poll_feed`])
//! nudges fast passes that look only at the subscribers that changed.
//!
//! **What it is not:** no RouterOS wire code (`routeros-client`), no billing logic (the
//! edge decides who is active), no RADIUS SQL (`radius-sql`). It never touches an object
//! whose comment does not start with `konnekted:` (see [`model`] for every convention),
//! and it never disables anyone on a desired state it could not refresh.

pub mod bench;
pub mod config;
pub mod daemon;
pub mod edge;
pub mod http;
pub mod ledger;
pub mod metrics;
pub mod model;
pub mod onboard;
pub mod plan;
pub mod reconcile;
pub mod redirect;
pub mod router;
pub mod show;

pub use config::Config;
pub use plan::{Change, Observed, plan_changes};
pub use reconcile::{Action, Ctx, ReconcileError, RouterWorker, Settings, Tenant};
pub use router::Scope;

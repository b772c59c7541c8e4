//! The mass-disable guard over time: disables counted over a rolling window per router
//! and per tenant, disables held past the limit, and the operator's confirmation.
//!
//! [`plan::guard`](crate::plan::guard) looks at one pass. A fleet of suspensions
//! arriving one at a time (the change feed's fast path runs a pass per payment or
//! suspension) would pass it one by one, so every pass also asks the ledger: the
//! subscribers disabled on this router (and on all of the tenant's routers) within the
//! last `guard.window_seconds` (default 600), plus this pass's, must stay within the
//! same limit as one pass (`max_disable_share` of the subscribers, and more than
//! `min_count`). Past it, the pass's disabling changes are **held** (re-enables always go
//! through) until an operator confirms: `POST /routers/{name}/confirm-disables` on the
//! daemon's HTTP listener ([`crate::http`]) lets the router's next pass apply its held
//! disables (a mass-disable refusal of one pass too), clears the router's window, and
//! runs that pass at once. `GET /routers` shows what is held.
//!
//! Time is an argument (`now`), so the window is tested without waiting.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio::sync::Notify;

/// Disables held on a router, waiting for an operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Held {
    /// Subscribers the held changes would take offline.
    pub disables: usize,
    /// Why they are held.
    pub reason: String,
    /// Unix seconds when they were first held.
    pub since: u64,
}

/// A window's verdict on a pass's disables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverLimit {
    /// `router` or `tenant`.
    pub scope: &'static str,
    /// Disabled within the window already.
    pub in_window: usize,
    /// This pass's.
    pub would_disable: usize,
    /// Subscribers counted against (the router's or the tenant's).
    pub of: usize,
}

/// What confirming a router's disables did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmation {
    /// The held disables go ahead on the next pass (which runs at once).
    Released(usize),
    /// Nothing is held on this router (nothing to confirm; no standing permission given).
    NothingHeld,
    /// No such router.
    UnknownRouter,
}

#[derive(Debug, Default)]
struct RouterEntry {
    tenant: String,
    /// `(when, how many)` disables applied, oldest first.
    events: VecDeque<(Instant, usize)>,
    held: Option<Held>,
    confirmed: bool,
    wake: Arc<Notify>,
}

/// Disables over time, per router and per tenant (shared by every router task and the
/// HTTP listener).
#[derive(Debug)]
pub struct DisableLedger {
    window: Duration,
    routers: Mutex<HashMap<String, RouterEntry>>,
}

fn prune(events: &mut VecDeque<(Instant, usize)>, now: Instant, window: Duration) {
    while events.front().is_some_and(|(t, _)| now.saturating_duration_since(*t) >= window) {
        events.pop_front();
    }
}

fn over(total: usize, of: usize, max_share: f64, min_count: usize) -> bool {
    let limit = ((of as f64) * max_share).floor() as usize;
    total > min_count && total > limit
}

impl DisableLedger {
    /// A ledger counting over `window`.
    pub fn new(window: Duration) -> DisableLedger {
        DisableLedger { window, routers: Mutex::new(HashMap::new()) }
    }

    fn with<R>(&self, f: impl FnOnce(&mut HashMap<String, RouterEntry>) -> R) -> R {
        f(&mut self.routers.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Makes a router known (so a confirmation for it is not "unknown router"); returns
    /// what wakes its task when an operator confirms.
    pub fn register(&self, router: &str, tenant: &str) -> Arc<Notify> {
        self.with(|m| {
            let e = m.entry(router.to_owned()).or_default();
            e.tenant = tenant.to_owned();
            e.wake.clone()
        })
    }

    /// Whether `would_disable` more disables now would exceed the limit over the window,
    /// on the router (`router_of` subscribers) or across the tenant's routers
    /// (`tenant_of` subscribers).
    #[allow(clippy::too_many_arguments)]
    pub fn over_limit(
        &self,
        router: &str,
        tenant: &str,
        would_disable: usize,
        router_of: usize,
        tenant_of: usize,
        max_share: f64,
        min_count: usize,
        now: Instant,
    ) -> Option<OverLimit> {
        let window = self.window;
        self.with(|m| {
            let mut in_router = 0;
            let mut in_tenant = 0;
            for (name, e) in m.iter_mut() {
                prune(&mut e.events, now, window);
                let n: usize = e.events.iter().map(|(_, n)| n).sum();
                if name == router {
                    in_router = n;
                }
                if e.tenant == tenant {
                    in_tenant += n;
                }
            }
            if over(in_router + would_disable, router_of, max_share, min_count) {
                return Some(OverLimit { scope: "router", in_window: in_router, would_disable, of: router_of });
            }
            if over(in_tenant + would_disable, tenant_of.max(router_of), max_share, min_count) {
                return Some(OverLimit { scope: "tenant", in_window: in_tenant, would_disable, of: tenant_of });
            }
            None
        })
    }

    /// Counts `n` disables applied on `router` at `now`.
    pub fn record(&self, router: &str, tenant: &str, n: usize, now: Instant) {
        if n == 0 {
            return;
        }
        self.with(|m| {
            let e = m.entry(router.to_owned()).or_default();
            e.tenant = tenant.to_owned();
            e.events.push_back((now, n));
        });
    }

    /// Notes that `disables` are held on `router` (keeps the first time they were).
    pub fn hold(&self, router: &str, disables: usize, reason: String) {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        self.with(|m| {
            let e = m.entry(router.to_owned()).or_default();
            let since = e.held.as_ref().map_or(now, |h| h.since);
            e.held = Some(Held { disables, reason, since });
        });
    }

    /// Nothing is held on `router` any more (its pass disabled nobody it should not).
    pub fn clear_held(&self, router: &str) {
        self.with(|m| {
            if let Some(e) = m.get_mut(router) {
                e.held = None;
            }
        });
    }

    /// An operator confirms the disables held on `router`: its next pass applies them
    /// (once), its window starts afresh, and its task is woken.
    pub fn confirm(&self, router: &str) -> Confirmation {
        self.with(|m| {
            let Some(e) = m.get_mut(router) else { return Confirmation::UnknownRouter };
            let Some(held) = e.held.take() else { return Confirmation::NothingHeld };
            e.confirmed = true;
            e.events.clear();
            e.wake.notify_one();
            Confirmation::Released(held.disables)
        })
    }

    /// Takes the router's confirmation, if an operator gave one (consumed by the pass
    /// that applies the disables).
    pub fn take_confirmation(&self, router: &str) -> bool {
        self.with(|m| m.get_mut(router).is_some_and(|e| std::mem::take(&mut e.confirmed)))
    }

    /// Every known router and what is held on it.
    pub fn held(&self) -> BTreeMap<String, Option<Held>> {
        self.with(|m| m.iter().map(|(k, e)| (k.clone(), e.held.clone())).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_millis(2500);

    #[test]
    fn ledger_ten_disables_two_and_a_half_seconds_apart_are_counted_together() {
        let l = DisableLedger::new(Duration::from_secs(600));
        l.register("r1", "acme");
        let t0 = Instant::now();
        let mut allowed = 0;
        for i in 0..10u32 {
            let now = t0 + S * i;
            match l.over_limit("r1", "acme", 1, 30, 30, 0.2, 5, now) {
                None => {
                    l.record("r1", "acme", 1, now);
                    allowed += 1;
                }
                Some(o) => assert_eq!((o.scope, o.in_window, o.of), ("router", 6, 30)),
            }
        }
        assert_eq!(allowed, 6, "20 % of 30");
        // Ten minutes after the first, the window has room again.
        let later = t0 + Duration::from_secs(600) + S * 6;
        assert_eq!(l.over_limit("r1", "acme", 1, 30, 30, 0.2, 5, later), None);
    }

    #[test]
    fn ledger_tenant_window_counts_every_router_of_the_tenant() {
        let l = DisableLedger::new(Duration::from_secs(600));
        let now = Instant::now();
        // Two routers of 30 each, 6 each: within each router's limit, not the tenant's
        // (12 of 40 subscribers the tenant has in all).
        l.record("r1", "acme", 6, now);
        l.record("r2", "acme", 5, now);
        l.record("x1", "other", 30, now);
        let o = l.over_limit("r2", "acme", 1, 30, 40, 0.2, 5, now).expect("tenant limit");
        assert_eq!((o.scope, o.in_window, o.of), ("tenant", 11, 40));
        assert_eq!(l.over_limit("r2", "acme", 1, 30, 100, 0.2, 5, now), None);
    }

    #[test]
    fn ledger_confirmation_releases_once_and_only_what_is_held() {
        let l = DisableLedger::new(Duration::from_secs(600));
        let wake = l.register("r1", "acme");
        assert_eq!(l.confirm("r9"), Confirmation::UnknownRouter);
        assert_eq!(l.confirm("r1"), Confirmation::NothingHeld);
        assert!(!l.take_confirmation("r1"), "confirming nothing gives no standing permission");
        let now = Instant::now();
        l.record("r1", "acme", 6, now);
        l.hold("r1", 4, "limit".into());
        assert_eq!(l.held().get("r1").and_then(|h| h.as_ref()).map(|h| h.disables), Some(4));
        assert_eq!(l.confirm("r1"), Confirmation::Released(4));
        assert!(wake.notified().now_or_never_is_ready());
        assert!(l.take_confirmation("r1"));
        assert!(!l.take_confirmation("r1"), "once");
        assert_eq!(l.over_limit("r1", "acme", 4, 30, 30, 0.2, 5, now), None, "window cleared");
        assert_eq!(l.held().get("r1"), Some(&None));
    }

    trait NowOrNever {
        fn now_or_never_is_ready(self) -> bool;
    }

    impl<F: std::future::Future> NowOrNever for F {
        fn now_or_never_is_ready(self) -> bool {
            futures::FutureExt::now_or_never(self).is_some()
        }
    }
}

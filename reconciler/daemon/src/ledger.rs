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
//! daemon's HTTP listener ([`crate::http`]), or the Confirm button of the console's routers
//! page (the edge records it and the desired state carries it back: [`DisableLedger::confirm_hold`])
//! lets the router's next pass apply its held disables (a mass-disable refusal of one pass too),
//! clears the router's window, and runs that pass at once. `GET /routers` and every run report
//! show what is held.
//!
//! **A confirmation releases exactly what was held when it was given.** Each hold has an id
//! ([`Held::hold_id`], unix milliseconds when it began or last grew, strictly increasing, so
//! ids stay unique across restarts); a hold that grows (a subscriber held who was not) gets a
//! new id, so a confirmation of the old one (the console page the operator looked at) releases
//! nothing. A confirmation takes the held subscribers' set: the next pass applies the disables
//! of those subscribers only; anyone else's disables go through the guard as usual.
//!
//! Time is an argument (`now`), so the window is tested without waiting.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio::sync::Notify;

/// Disables held on a router, waiting for an operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Held {
    /// Names this hold (a confirmation names it back); changes when the hold grows.
    pub hold_id: u64,
    /// Subscribers the held changes would take offline.
    pub disables: usize,
    /// Why they are held.
    pub reason: String,
    /// Unix seconds when they were first held.
    pub since: u64,
    /// The held subscribers (id → username; a change about no known subscriber is keyed by
    /// its menu path and comment).
    #[serde(skip)]
    pub subscribers: BTreeMap<String, String>,
}

/// Most subscribers listed by [`Held::usernames`] (and in a run report).
pub const MAX_LISTED: usize = konnekted_sync_proto::MAX_HELD_USERNAMES;

impl Held {
    /// The held subscribers' usernames, sorted, at most [`MAX_LISTED`].
    pub fn usernames(&self) -> Vec<String> {
        let mut names: Vec<String> = self.subscribers.values().cloned().collect();
        names.sort();
        names.truncate(MAX_LISTED);
        names
    }
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
    /// What is held now is not the hold confirmed (it grew, or it is a later one): nothing
    /// released.
    OtherHold,
    /// No such router.
    UnknownRouter,
}

#[derive(Debug, Default)]
struct RouterEntry {
    tenant: String,
    /// `(when, how many)` disables applied, oldest first.
    events: VecDeque<(Instant, usize)>,
    held: Option<Held>,
    /// The subscribers whose disables an operator confirmed (taken by the next pass).
    confirmed: Option<BTreeSet<String>>,
    wake: Arc<Notify>,
}

/// Disables over time, per router and per tenant (shared by every router task and the
/// HTTP listener).
#[derive(Debug)]
pub struct DisableLedger {
    window: Duration,
    routers: Mutex<HashMap<String, RouterEntry>>,
    /// The last hold id given.
    last_hold_id: Mutex<u64>,
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
        DisableLedger { window, routers: Mutex::new(HashMap::new()), last_hold_id: Mutex::new(0) }
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

    /// A fresh hold id: unix milliseconds, above every id given before.
    fn next_hold_id(&self) -> u64 {
        let ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
        let mut last = self.last_hold_id.lock().unwrap_or_else(|p| p.into_inner());
        *last = ms.max(*last + 1);
        *last
    }

    /// Notes that `disables` of `subscribers` (id → username) are held on `router`. Keeps the
    /// first time they were and, while nobody new is held, the hold's id; a hold that grows gets
    /// a new id (a confirmation of the smaller one releases nothing).
    pub fn hold(&self, router: &str, disables: usize, subscribers: BTreeMap<String, String>, reason: String) {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let same = self.with(|m| {
            m.get(router)
                .and_then(|e| e.held.as_ref())
                .filter(|h| subscribers.keys().all(|k| h.subscribers.contains_key(k)))
                .map(|h| h.hold_id)
        });
        let hold_id = match same {
            Some(id) => id,
            None => self.next_hold_id(),
        };
        self.with(|m| {
            let e = m.entry(router.to_owned()).or_default();
            let since = e.held.as_ref().map_or(now, |h| h.since);
            e.held = Some(Held { hold_id, disables, reason, since, subscribers });
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

    /// An operator confirms the disables held on `router` now (the local HTTP listener):
    /// its next pass applies them (once), its window starts afresh, and its task is woken.
    pub fn confirm(&self, router: &str) -> Confirmation {
        self.confirm_hold(router, None)
    }

    /// An operator confirms hold `hold_id` of `router` (the console, through the edge), or
    /// whatever is held (`None`). Only that hold is released: a later or larger one is
    /// [`Confirmation::OtherHold`], and a confirmation seen again after its hold was released
    /// finds nothing held. The same path as [`confirm`](Self::confirm) otherwise.
    pub fn confirm_hold(&self, router: &str, hold_id: Option<u64>) -> Confirmation {
        self.with(|m| {
            let Some(e) = m.get_mut(router) else { return Confirmation::UnknownRouter };
            let Some(held) = e.held.as_ref() else { return Confirmation::NothingHeld };
            if hold_id.is_some_and(|id| id != held.hold_id) {
                return Confirmation::OtherHold;
            }
            let Some(held) = e.held.take() else { return Confirmation::NothingHeld };
            e.confirmed = Some(held.subscribers.into_keys().collect());
            e.events.clear();
            e.wake.notify_one();
            Confirmation::Released(held.disables)
        })
    }

    /// Takes the router's confirmation, if an operator gave one: the subscribers whose
    /// disables go ahead (consumed by the pass that applies them).
    pub fn take_confirmation(&self, router: &str) -> Option<BTreeSet<String>> {
        self.with(|m| m.get_mut(router).and_then(|e| e.confirmed.take()))
    }

    /// What is held on `router`.
    pub fn held_of(&self, router: &str) -> Option<Held> {
        self.with(|m| m.get(router).and_then(|e| e.held.clone()))
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
        assert!(l.take_confirmation("r1").is_none(), "confirming nothing gives no standing permission");
        let now = Instant::now();
        l.record("r1", "acme", 6, now);
        l.hold("r1", 4, subs(&["a", "b", "c", "d"]), "limit".into());
        assert_eq!(l.held().get("r1").and_then(|h| h.as_ref()).map(|h| h.disables), Some(4));
        assert_eq!(l.confirm("r1"), Confirmation::Released(4));
        assert!(wake.notified().now_or_never_is_ready());
        assert_eq!(l.take_confirmation("r1").map(|s| s.len()), Some(4));
        assert!(l.take_confirmation("r1").is_none(), "once");
        assert_eq!(l.over_limit("r1", "acme", 4, 30, 30, 0.2, 5, now), None, "window cleared");
        assert_eq!(l.held().get("r1"), Some(&None));
    }

    fn subs(ids: &[&str]) -> BTreeMap<String, String> {
        ids.iter().map(|i| ((*i).to_owned(), format!("user-{i}"))).collect()
    }

    #[test]
    fn ledger_hold_keeps_its_id_until_it_grows_and_a_confirmation_names_one_hold() {
        let l = DisableLedger::new(Duration::from_secs(600));
        l.register("r1", "acme");
        l.hold("r1", 2, subs(&["a", "b"]), "limit".into());
        let first = l.held()["r1"].clone().expect("held");
        // Seen again by the next pass, or fewer of them: the same hold.
        l.hold("r1", 1, subs(&["a"]), "limit".into());
        assert_eq!(l.held()["r1"].as_ref().map(|h| (h.hold_id, h.since)), Some((first.hold_id, first.since)));
        // Somebody new is held: a new hold (the operator has not seen it), first held time kept.
        l.hold("r1", 3, subs(&["a", "b", "c"]), "limit".into());
        let grown = l.held()["r1"].clone().expect("held");
        assert!(grown.hold_id > first.hold_id);
        assert_eq!(
            (grown.since, grown.usernames()),
            (first.since, vec!["user-a".into(), "user-b".into(), "user-c".into()])
        );
        // The old page's confirmation releases nothing; the current one releases exactly its subscribers.
        assert_eq!(l.confirm_hold("r1", Some(first.hold_id)), Confirmation::OtherHold);
        assert!(l.take_confirmation("r1").is_none());
        assert_eq!(l.confirm_hold("r1", Some(grown.hold_id)), Confirmation::Released(3));
        assert_eq!(l.take_confirmation("r1"), Some(["a", "b", "c"].map(String::from).into()));
        // The same confirmation seen again (the desired state keeps carrying it) finds nothing.
        assert_eq!(l.confirm_hold("r1", Some(grown.hold_id)), Confirmation::NothingHeld);
        // A later hold gets a later id, never the confirmed one.
        l.hold("r1", 1, subs(&["a"]), "limit".into());
        assert!(l.held()["r1"].as_ref().is_some_and(|h| h.hold_id > grown.hold_id));
        assert_eq!(l.confirm_hold("r1", Some(grown.hold_id)), Confirmation::OtherHold);
    }

    #[test]
    fn ledger_usernames_are_sorted_and_bounded() {
        let l = DisableLedger::new(Duration::from_secs(600));
        let ids: Vec<String> = (0..MAX_LISTED + 10).map(|i| format!("{i:03}")).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        l.hold("r1", ids.len(), subs(&refs), "limit".into());
        let h = l.held()["r1"].clone().expect("held");
        assert_eq!((h.disables, h.usernames().len()), (MAX_LISTED + 10, MAX_LISTED));
        assert_eq!(h.usernames()[0], "user-000");
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

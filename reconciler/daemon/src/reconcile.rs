//! The controller: per router, `reconcile` = load desired, read observed, plan (pure),
//! guard, apply (pipelined), verify (read back and re-plan), record status, report.
//! [`reconcile`] runs one pass (with its metrics and report) and is what the daemon's
//! [`RouterWorker::run`] loop calls; [`error_policy`] says when to retry after a
//! failure, by the error's variant; [`Action`] says when to run again.
//! [`RouterWorker::try_step`] is the same pass returning its report (what tests read).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use routeros_client::{Client, Config as ClientConfig, ErrorKind};
use serde_json::json;
use tokio::sync::broadcast;

use crate::config::{Config, GuardConfig, RouterConfig, TenantConfig};
use crate::edge::{DesiredState, EdgeClient, EdgeError, HeldDisables, Report, ReportOutcome};
use crate::ledger::{Confirmation, DisableLedger};
use crate::metrics::Metrics;
use crate::model::{DesiredRouter, build_desired};
use crate::plan::{Change, ChangeKey, Conflict, Plan, Refusal, guard, plan, plan_changes};
use crate::router::{self, Scope};

/// When to run the next pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Action {
    /// Run again after this long (the safety net: a full pass always follows).
    pub requeue_after: Duration,
}

impl Action {
    /// Run again after `d`.
    pub fn requeue(d: Duration) -> Action {
        Action { requeue_after: d }
    }
}

/// Why a pass failed.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// No desired state has ever been loaded (the edge is unreachable); nothing was done.
    #[error("no desired state yet: {0}")]
    NoDesiredState(EdgeError),
    /// Could not connect or log in.
    #[error("connecting to the router: {0}")]
    Connect(routeros_client::Error),
    /// Reading the managed menus failed.
    #[error("reading the router: {0}")]
    Read(routeros_client::Error),
    /// The connection failed while applying; the next pass converges.
    #[error("connection lost while applying ({unsent} changes unsent): {source}")]
    ConnectionLost {
        /// Changes not known to be applied.
        unsent: usize,
        /// The failure.
        source: routeros_client::Error,
    },
    /// The router refused some changes.
    #[error("router refused {count} changes, first: {first}")]
    Traps {
        /// How many.
        count: usize,
        /// The first message.
        first: String,
    },
    /// The router acknowledged writes that reading back shows were not applied.
    #[error("{count} acknowledged changes were not applied (read back differs)")]
    Verify {
        /// How many.
        count: usize,
    },
    /// The pass took longer than allowed.
    #[error("pass timed out")]
    Timeout,
}

impl ReconcileError {
    /// The `label` of `konnekted_reconciler_errors_total`.
    pub fn metric_label(&self) -> &'static str {
        match self {
            ReconcileError::NoDesiredState(_) => "edge_unavailable",
            ReconcileError::Connect(e) => match e.kind() {
                ErrorKind::Login => "router_login",
                ErrorKind::Tls => "router_tls",
                _ => "router_connect",
            },
            ReconcileError::Read(_) => "router_read",
            ReconcileError::ConnectionLost { .. } => "connection_lost",
            ReconcileError::Traps { .. } => "router_trap",
            ReconcileError::Verify { .. } => "verify_mismatch",
            ReconcileError::Timeout => "timeout",
        }
    }
}

/// Settings shared by every router task.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Full-pass interval.
    pub full_pass: Duration,
    /// Jitter share of it.
    pub jitter: f64,
    /// Feed poll interval.
    pub feed_poll: Duration,
    /// Most time one pass may take.
    pub pass_timeout: Duration,
    /// A desired state fetched less than this long ago is reused by a full pass.
    pub desired_max_age: Duration,
    /// Mass-disable guard.
    pub guard: GuardConfig,
    /// Most routers applying a heavy plan at once.
    pub max_concurrent_applies: usize,
    /// A full pass's plan with more changes than this is heavy.
    pub heavy_apply_changes: usize,
    /// Most full reads at once.
    pub max_concurrent_reads: usize,
}

impl Settings {
    /// From the config.
    pub fn from_config(c: &Config) -> Settings {
        Settings {
            full_pass: c.full_pass(),
            jitter: c.jitter,
            feed_poll: c.feed_poll(),
            pass_timeout: Duration::from_secs(c.pass_timeout_seconds),
            desired_max_age: Duration::from_secs(2),
            guard: c.guard,
            max_concurrent_applies: c.max_concurrent_applies,
            heavy_apply_changes: c.heavy_apply_changes,
            max_concurrent_reads: c.max_concurrent_reads,
        }
    }

    /// The full-pass interval with jitter.
    pub fn jittered_full_pass(&self) -> Duration {
        let j = if self.jitter > 0.0 { rand::random::<f64>() * 2.0 * self.jitter - self.jitter } else { 0.0 };
        self.full_pass.mul_f64((1.0 + j).max(0.01))
    }
}

/// Shared state of the daemon: settings, metrics and the apply permits.
#[derive(Debug)]
pub struct Ctx {
    /// Settings.
    pub settings: Settings,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Permits to apply a heavy plan (`settings.max_concurrent_applies` of them).
    pub limiter: ApplyLimiter,
    /// Disables over time, held disables and confirmations.
    pub ledger: Arc<DisableLedger>,
}

impl Ctx {
    /// The context of routers sharing `settings` and `metrics`.
    pub fn new(settings: Settings, metrics: Arc<Metrics>) -> Ctx {
        let limiter = ApplyLimiter::new(settings.max_concurrent_applies, settings.heavy_apply_changes)
            .with_reads(settings.max_concurrent_reads);
        let ledger = Arc::new(DisableLedger::new(Duration::from_secs(settings.guard.window_seconds)));
        Ctx { settings, metrics, limiter, ledger }
    }
}

/// Bounds how many routers apply a heavy plan at once.
///
/// A cold sync holds its whole plan, then its read-back, in memory (about 2 KiB per
/// change); a fleet of routers cold-syncing at once would hold all of them. A full pass
/// whose plan has more than `heavy` changes needs a permit to apply; smaller plans (drift,
/// payments) and fast passes never wait. A pass waits
/// for its permit without holding its plan, outside its timeout, in FIFO order; a router
/// holding a permit is bounded by the pass timeout, so a dead router delays the others by
/// at most one pass timeout.
///
/// Full reads (a full pass's read and planning, its read-back) are bounded too, by
/// `reads` permits ([`DEFAULT_MAX_CONCURRENT_READS`](crate::config::DEFAULT_MAX_CONCURRENT_READS)):
/// a restarted daemon reading a thousand synced routers at once would otherwise hold a
/// thousand routers' observed state at the same moment. A read permit is held only while
/// reading and planning (never while waiting for an apply permit), and waiting for one
/// counts in the pass timeout. Fast passes read a few items and never wait.
#[derive(Debug, Clone)]
pub struct ApplyLimiter {
    permits: Arc<tokio::sync::Semaphore>,
    heavy: usize,
    reads: Arc<tokio::sync::Semaphore>,
}

/// Held while applying a heavy plan; dropping it frees the permit.
#[derive(Debug)]
pub struct ApplyPermit {
    _held: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl ApplyLimiter {
    /// `max_concurrent` permits (at least 1); plans above `heavy` changes need one.
    pub fn new(max_concurrent: usize, heavy: usize) -> ApplyLimiter {
        ApplyLimiter {
            permits: Arc::new(tokio::sync::Semaphore::new(max_concurrent.max(1))),
            heavy,
            reads: Arc::new(tokio::sync::Semaphore::new(crate::config::DEFAULT_MAX_CONCURRENT_READS)),
        }
    }

    /// With `max_reads` full reads at once (at least 1).
    pub fn with_reads(mut self, max_reads: usize) -> ApplyLimiter {
        self.reads = Arc::new(tokio::sync::Semaphore::new(max_reads.max(1)));
        self
    }

    /// Waits for a full-read permit.
    pub async fn read_permit(&self) -> ApplyPermit {
        ApplyPermit { _held: self.reads.clone().acquire_owned().await.ok() }
    }

    /// Whether a plan of `changes` changes needs a permit.
    pub fn is_heavy(&self, changes: usize) -> bool {
        changes > self.heavy
    }

    /// A permit if one is free now.
    pub fn try_permit(&self) -> Option<ApplyPermit> {
        self.permits.clone().try_acquire_owned().ok().map(|p| ApplyPermit { _held: Some(p) })
    }

    /// Waits for a permit (first come, first served).
    pub async fn permit(&self) -> ApplyPermit {
        // The semaphore is never closed, so this always holds a permit.
        ApplyPermit { _held: self.permits.clone().acquire_owned().await.ok() }
    }

    /// Permits free now.
    pub fn available(&self) -> usize {
        self.permits.available_permits()
    }
}

/// A nudge from the change feed to a tenant's routers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Nudge {
    /// These subscribers changed.
    Subscribers(BTreeSet<String>),
    /// Something wider changed (a plan): run a full pass.
    Full,
}

#[derive(Debug, Clone)]
struct Cached {
    state: Arc<DesiredState>,
    fetched_at: Instant,
    /// The last fetch failed: this is the last known state (fail static).
    stale: bool,
    /// The feed saw a change it cannot fold in: fetch again before the next full pass.
    reload: bool,
}

/// Most change-feed rows asked for at once.
const FEED_PAGE: u32 = 500;

/// One tenant: its edge client and the last known desired state (fail static).
#[derive(Debug)]
pub struct Tenant {
    /// Its config.
    pub cfg: TenantConfig,
    edge: EdgeClient,
    cache: Mutex<Option<Cached>>,
    cursor: Mutex<Option<i64>>,
    fetch: tokio::sync::Mutex<()>,
    nudges: broadcast::Sender<Nudge>,
}

impl Tenant {
    /// A tenant with nothing loaded yet.
    pub fn new(cfg: TenantConfig, edge_timeout: Duration) -> Result<Arc<Tenant>, EdgeError> {
        let edge = EdgeClient::new(&cfg.edge_url, &cfg.realm, cfg.sync_key.clone(), edge_timeout)?;
        let (nudges, _) = broadcast::channel(1024);
        Ok(Arc::new(Tenant {
            cfg,
            edge,
            cache: Mutex::new(None),
            cursor: Mutex::new(None),
            fetch: tokio::sync::Mutex::new(()),
            nudges,
        }))
    }

    /// The edge client.
    pub fn edge(&self) -> &EdgeClient {
        &self.edge
    }

    /// Subscribes to change-feed nudges.
    pub fn subscribe(&self) -> broadcast::Receiver<Nudge> {
        self.nudges.subscribe()
    }

    fn cached(&self) -> Option<Cached> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The desired state for a pass: fetched (or reused when younger than `max_age`);
    /// when the edge fails, the last known one marked stale; with none, an error.
    pub async fn desired(&self, max_age: Duration, metrics: &Metrics) -> Result<(Arc<DesiredState>, bool), EdgeError> {
        let _one_fetch = self.fetch.lock().await;
        if let Some(c) = self.cached().filter(|c| !c.stale && !c.reload && c.fetched_at.elapsed() < max_age) {
            return Ok((c.state, false));
        }
        match self.edge.desired().await {
            Ok(state) => {
                let state = Arc::new(state);
                *self.cursor.lock().unwrap_or_else(|p| p.into_inner()) = Some(state.cursor);
                *self.cache.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some(Cached { state: state.clone(), fetched_at: Instant::now(), stale: false, reload: false });
                Ok((state, false))
            }
            Err(e) => {
                metrics.inc(
                    "konnekted_reconciler_edge_errors_total",
                    &[("tenant", &self.cfg.realm), ("label", edge_label(&e))],
                    1.0,
                );
                tracing::warn!(tenant = %self.cfg.realm, "desired state: {e}");
                let mut g = self.cache.lock().unwrap_or_else(|p| p.into_inner());
                match g.as_mut() {
                    Some(c) => {
                        c.stale = true;
                        Ok((c.state.clone(), true))
                    }
                    None => Err(e),
                }
            }
        }
    }

    /// The last known desired state without asking the edge (fast path).
    pub fn last_known(&self) -> Option<(Arc<DesiredState>, bool)> {
        self.cached().map(|c| (c.state, c.stale))
    }

    /// One poll of the change feed: folds subscriber changes into the cached state and
    /// nudges the routers. Returns the number of changes seen.
    pub async fn poll_feed(&self, metrics: &Metrics) -> Result<usize, EdgeError> {
        let cursor = *self.cursor.lock().unwrap_or_else(|p| p.into_inner());
        let Some(after) = cursor else {
            // Nothing loaded yet: load the whole state first (this sets the cursor).
            self.desired(Duration::ZERO, metrics).await?;
            return Ok(0);
        };
        let page = match self.edge.feed(after, FEED_PAGE).await {
            Ok(p) => p,
            Err(e) => {
                metrics.inc(
                    "konnekted_reconciler_edge_errors_total",
                    &[("tenant", &self.cfg.realm), ("label", edge_label(&e))],
                    1.0,
                );
                return Err(e);
            }
        };
        if page.changes.is_empty() {
            return Ok(0);
        }
        metrics.inc(
            "konnekted_reconciler_feed_changes_total",
            &[("tenant", &self.cfg.realm)],
            page.changes.len() as f64,
        );
        let mut ids = BTreeSet::new();
        let mut full = false;
        {
            let mut g = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(c) = g.as_mut() {
                let state = Arc::make_mut(&mut c.state);
                // A redeemed hotspot code is RADIUS's business: nothing to reload or nudge.
                for ch in page.changes.iter().filter(|ch| ch.kind.concerns_routers()) {
                    let key = ch
                        .payload
                        .get("id")
                        .or_else(|| ch.payload.get("subscriber_id"))
                        .and_then(|v| v.as_str())
                        .map(str::to_owned)
                        .or_else(|| ch.subscriber_id.clone());
                    let pos = key.as_ref().and_then(|k| state.subscribers.iter().position(|x| &x.id == k));
                    match ch.merge_subscriber(pos.map(|i| &state.subscribers[i])) {
                        Some(s) => {
                            ids.insert(s.id.clone());
                            match pos {
                                Some(i) => state.subscribers[i] = s,
                                None => state.subscribers.push(s),
                            }
                        }
                        None => full = true,
                    }
                }
                state.cursor = state.cursor.max(page.cursor);
            } else {
                full = true;
            }
        }
        *self.cursor.lock().unwrap_or_else(|p| p.into_inner()) = Some(page.cursor.max(after));
        if full {
            // A plan changed (or the payload was not a subscriber): reload everything.
            if let Some(c) = self.cache.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
                c.reload = true;
            }
            let _ = self.nudges.send(Nudge::Full);
        } else if !ids.is_empty() {
            let _ = self.nudges.send(Nudge::Subscribers(ids));
        }
        Ok(page.changes.len())
    }

    /// Polls the feed forever (every `every`).
    pub async fn run_feed(self: Arc<Tenant>, every: Duration, metrics: Arc<Metrics>) {
        loop {
            match self.poll_feed(&metrics).await {
                // A full page: more are waiting, fetch them at once.
                Ok(n) if n >= FEED_PAGE as usize => continue,
                Ok(_) => {}
                Err(e) => tracing::debug!(tenant = %self.cfg.realm, "feed: {e}"),
            }
            tokio::time::sleep(every).await;
        }
    }
}

fn edge_label(e: &EdgeError) -> &'static str {
    match e {
        EdgeError::Unreachable(_) => "unreachable",
        EdgeError::Unauthorized => "unauthorized",
        EdgeError::Status { .. } => "status",
        EdgeError::Decode(_) | EdgeError::Encode(_) => "body",
    }
}

fn now_rfc3339() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    rfc3339(secs)
}

/// `YYYY-MM-DDTHH:MM:SSZ` of unix seconds (civil-from-days, no chrono needed).
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// The result of one pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassReport {
    /// `ok`, `refused` or `error`.
    pub outcome: &'static str,
    /// Changes the plan contained.
    pub drift_found: usize,
    /// Changes applied and verified.
    pub drift_fixed: usize,
    /// Disabling changes held back by the guard or fail static.
    pub withheld: usize,
    /// Why they were held back.
    pub refusal: Option<String>,
    /// Whether the desired state was stale (edge unreachable).
    pub stale: bool,
    /// Errors (texts).
    pub errors: Vec<String>,
    /// The error's metric label, if the pass failed.
    pub error_label: Option<&'static str>,
    /// Objects not added because an operator's object holds their name (each once).
    pub conflicts: Vec<String>,
}

/// One router and its connection.
pub struct RouterWorker {
    /// Its config.
    pub cfg: RouterConfig,
    tenant: Arc<Tenant>,
    ctx: Arc<Ctx>,
    client: Option<Client>,
    /// Managed secrets seen by the last full pass (the guard's denominator on fast passes).
    last_managed: usize,
    /// Conflicts known (by menu path and name): each is logged and counted once.
    conflicts: BTreeSet<(&'static str, String)>,
}

impl std::fmt::Debug for RouterWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouterWorker").field("router", &self.cfg.name).finish()
    }
}

struct Outcome {
    found: usize,
    fixed: usize,
    withheld: usize,
    refusal: Option<String>,
    stale: bool,
    errors: Vec<String>,
    conflicts: Vec<Conflict>,
}

impl Outcome {
    fn empty() -> Outcome {
        Outcome {
            found: 0,
            fixed: 0,
            withheld: 0,
            refusal: None,
            stale: false,
            errors: Vec::new(),
            conflicts: Vec::new(),
        }
    }
}

/// How a pass ended.
enum Step {
    /// It ran to the end.
    Done(Outcome),
    /// Its plan is heavy and no apply permit was free: wait for one and run again.
    NeedsPermit,
}

impl RouterWorker {
    /// A worker (not connected yet).
    pub fn new(cfg: RouterConfig, tenant: Arc<Tenant>, ctx: Arc<Ctx>) -> RouterWorker {
        ctx.ledger.register(&cfg.name, &tenant.cfg.realm);
        RouterWorker { cfg, tenant, ctx, client: None, last_managed: 0, conflicts: BTreeSet::new() }
    }

    fn client_config(&self) -> ClientConfig {
        ClientConfig::new(&self.cfg.username, self.cfg.password.expose())
            .window(self.cfg.window)
            .connect_timeout(Duration::from_secs(10))
            .command_timeout(Duration::from_secs(30))
    }

    async fn client(&mut self) -> Result<Client, ReconcileError> {
        if let Some(c) = self.client.as_ref().filter(|c| !c.is_closed()) {
            return Ok(c.clone());
        }
        self.client = None;
        let c = router::connect(&self.cfg, &self.client_config()).await.map_err(ReconcileError::Connect)?;
        self.client = Some(c.clone());
        Ok(c)
    }

    /// The desired objects of this router for a pass.
    async fn desired(&self, scope: &Scope) -> Result<(DesiredRouter, bool), ReconcileError> {
        let (state, stale) = match scope {
            Scope::Full => self
                .tenant
                .desired(self.ctx.settings.desired_max_age, &self.ctx.metrics)
                .await
                .map_err(ReconcileError::NoDesiredState)?,
            Scope::Subscribers(_) => match self.tenant.last_known() {
                Some(v) => v,
                None => self
                    .tenant
                    .desired(Duration::ZERO, &self.ctx.metrics)
                    .await
                    .map_err(ReconcileError::NoDesiredState)?,
            },
        };
        // An operator confirmed held disables on the console: the edge carries the latest
        // confirmation of each router; only the hold it names is released (once).
        for c in state.disable_confirmations.iter().filter(|c| c.router == self.cfg.name) {
            if let Confirmation::Released(n) = self.ctx.ledger.confirm_hold(&self.cfg.name, Some(c.hold_id)) {
                tracing::warn!(router = %self.cfg.name, hold_id = c.hold_id, "operator confirmed {n} held disables (console)");
            }
        }
        let d = build_desired(state, &self.tenant.cfg, &self.cfg);
        Ok(match scope {
            Scope::Full => (d, stale),
            Scope::Subscribers(ids) => (d.restrict(ids), stale),
        })
    }

    /// One pass under the pass timeout. A heavy plan with no apply permit free waits for
    /// one (outside the timeout, holding nothing) and the pass runs again, reading afresh.
    async fn limited_pass(&mut self, scope: &Scope) -> Result<Outcome, (ReconcileError, Outcome)> {
        let mut permit = None;
        loop {
            match tokio::time::timeout(self.ctx.settings.pass_timeout, self.pass(scope, &mut permit)).await {
                Ok(Ok(Step::Done(out))) => return Ok(out),
                Ok(Ok(Step::NeedsPermit)) => {
                    self.ctx.metrics.inc("konnekted_reconciler_apply_waits_total", &[("router", &self.cfg.name)], 1.0);
                    permit = Some(self.ctx.limiter.permit().await);
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    self.client = None;
                    return Err((ReconcileError::Timeout, Outcome::empty()));
                }
            }
        }
    }

    /// One pass. `permit`: the apply permit held, if any (a heavy plan takes one).
    async fn pass(
        &mut self,
        scope: &Scope,
        permit: &mut Option<ApplyPermit>,
    ) -> Result<Step, (ReconcileError, Outcome)> {
        let (desired, stale) = self.desired(scope).await.map_err(|e| (e, Outcome::empty()))?;
        let client = self.client().await.map_err(|e| (e, Outcome::empty()))?;
        let full = *scope == Scope::Full;
        let read_permit = if full { Some(self.ctx.limiter.read_permit().await) } else { None };
        let observed = match router::read_observed(&client, &desired, scope).await {
            Ok(o) => o,
            Err(e) => {
                if !e.is_connection_usable() {
                    self.client = None;
                }
                return Err((ReconcileError::Read(e), Outcome::empty()));
            }
        };
        if *scope == Scope::Full {
            // A cold router has none yet; what it is to serve counts as well.
            self.last_managed = observed.managed_secrets().max(desired.subscriber_count());
        }
        let managed = self.last_managed.max(observed.managed_secrets());
        let Plan { changes, mut conflicts } = plan(&desired, &observed);
        drop(observed);
        drop(read_permit);
        let found = changes.len();
        let g = self.ctx.settings.guard;
        let ledger = &self.ctx.ledger;
        let (router, realm) = (self.cfg.name.as_str(), self.tenant.cfg.realm.as_str());
        let would_disable = changes.iter().filter(|c| c.disables_secret()).count();
        // An operator confirmed the disables held on this router: those subscribers' disables
        // go ahead, once; anyone else's go through the guard as usual (a confirmation never
        // releases what was held after it was given). The confirmation is used up by the next
        // pass that disables anyone, or by the next full pass even if nobody is left to
        // disable (it is never a standing permission).
        let confirmed = if (would_disable > 0 || *scope == Scope::Full) && !stale {
            ledger.take_confirmation(router)
        } else {
            None
        };
        let (released, changes): (Vec<Change>, Vec<Change>) = match &confirmed {
            Some(ids) => changes
                .into_iter()
                .partition(|c| c.is_disabling() && desired.subject_of(c).is_some_and(|(id, _)| ids.contains(&id))),
            None => (Vec::new(), changes),
        };
        let would_disable = changes.iter().filter(|c| c.disables_secret()).count();
        let (share, min_count) = (g.max_disable_share, g.min_count);
        let mut guarded = guard(changes, managed, share, min_count, stale);
        if guarded.refusal.is_none() && would_disable > 0 {
            let tenant_subs = self.tenant.last_known().map_or(0, |(s, _)| s.subscribers.len());
            let now = Instant::now();
            match ledger.over_limit(router, realm, would_disable, managed, tenant_subs, share, min_count, now) {
                Some(o) => guarded = guarded.withhold(Refusal::RollingDisable(o)),
                None => ledger.record(router, realm, would_disable, now),
            }
        }
        guarded.apply.extend(released);
        match &guarded.refusal {
            Some(r @ (Refusal::MassDisable { .. } | Refusal::RollingDisable(_))) => {
                let held = guarded.withheld.iter().filter(|c| c.disables_secret()).count();
                let subjects: BTreeMap<String, String> = guarded
                    .withheld
                    .iter()
                    .map(|c| {
                        desired.subject_of(c).unwrap_or_else(|| {
                            let (path, key) = c.key();
                            (format!("{path}:{key}"), key)
                        })
                    })
                    .collect();
                ledger.hold(router, held, subjects, refusal_text(r, g.max_disable_share, g.window_seconds, router));
            }
            Some(Refusal::StaleDesired) => {}
            None if *scope == Scope::Full => ledger.clear_held(router),
            None => {}
        }
        // Fast passes are small by construction (one feed page) and must not queue
        // behind cold syncs: a payment goes through at once.
        if *scope == Scope::Full && permit.is_none() && self.ctx.limiter.is_heavy(guarded.apply.len()) {
            match self.ctx.limiter.try_permit() {
                Some(p) => *permit = Some(p),
                None => return Ok(Step::NeedsPermit),
            }
        }
        let refusal = guarded.refusal.as_ref().map(|r| refusal_text(r, g.max_disable_share, g.window_seconds, router));
        let mut out = Outcome {
            found,
            fixed: 0,
            withheld: guarded.withheld.len(),
            refusal,
            stale,
            errors: Vec::new(),
            conflicts: Vec::new(),
        };
        if guarded.apply.is_empty() {
            out.conflicts = conflicts;
            return Ok(Step::Done(out));
        }
        let mut applied = router::apply(&client, guarded.apply, self.cfg.window).await;
        conflicts.append(&mut applied.conflicts);
        out.conflicts = conflicts;
        out.errors.extend(applied.trapped.iter().map(|(c, m)| format!("{} {}: {m}", c.path(), describe(c))));
        if let Some(e) = applied.lost {
            self.client = None;
            out.fixed = applied.acked.len();
            return Err((ReconcileError::ConnectionLost { unsent: applied.unsent, source: e }, out));
        }
        // Verify: read back the same scope and plan again; whatever was acknowledged
        // and still shows up was not applied.
        let read_permit = if full { Some(self.ctx.limiter.read_permit().await) } else { None };
        let after = match router::read_observed(&client, &desired, scope).await {
            Ok(o) => o,
            Err(e) => {
                if !e.is_connection_usable() {
                    self.client = None;
                }
                return Err((ReconcileError::Read(e), out));
            }
        };
        let remaining = plan_changes(&desired, &after);
        drop(after);
        drop(read_permit);
        let acked_keys: BTreeSet<&ChangeKey> = applied.acked.iter().collect();
        let unverified: Vec<&Change> = remaining
            .iter()
            .filter(|c| !c.is_disabling() || out.withheld == 0)
            .filter(|c| acked_keys.contains(&c.key()))
            .collect();
        out.fixed = applied.acked.len() - unverified.len().min(applied.acked.len());
        out.errors
            .extend(unverified.iter().map(|c| format!("{} {}: acknowledged but not applied", c.path(), describe(c))));
        if !unverified.is_empty() {
            return Err((ReconcileError::Verify { count: unverified.len() }, out));
        }
        if let Some((_, first)) = applied.trapped.first() {
            let count = applied.trapped.len();
            let first = first.clone();
            return Err((ReconcileError::Traps { count, first }, out));
        }
        Ok(Step::Done(out))
    }

    /// One pass over `scope`, with the timeout, metrics and the report to the edge.
    pub async fn try_step(&mut self, scope: Scope) -> PassReport {
        self.step(scope).await.0
    }

    /// [`try_step`](Self::try_step), also returning the error itself.
    async fn step(&mut self, scope: Scope) -> (PassReport, Option<ReconcileError>) {
        let started = now_rfc3339();
        let t0 = Instant::now();
        let kind = if scope == Scope::Full { "full" } else { "fast" };
        let result = self.limited_pass(&scope).await;
        let name = self.cfg.name.clone();
        let m = &self.ctx.metrics;
        let (out, error) = match result {
            Ok(o) => (o, None),
            Err((e, o)) => (o, Some(e)),
        };
        let outcome = match (&error, &out.refusal) {
            (Some(_), _) => "error",
            (None, Some(_)) => "refused",
            (None, None) => "ok",
        };
        let mut errors = out.errors.clone();
        if let Some(e) = &error {
            errors.insert(0, e.to_string());
            m.inc("konnekted_reconciler_errors_total", &[("router", &name), ("label", e.metric_label())], 1.0);
            tracing::warn!(router = %name, label = e.metric_label(), "pass failed: {e}");
        }
        m.inc("konnekted_reconciler_passes_total", &[("router", &name), ("kind", kind), ("outcome", outcome)], 1.0);
        m.inc("konnekted_reconciler_changes_applied_total", &[("router", &name)], out.fixed as f64);
        m.inc("konnekted_reconciler_drift_found_total", &[("router", &name)], out.found as f64);
        m.set("konnekted_reconciler_drift", &[("router", &name)], out.found as f64);
        m.set("konnekted_reconciler_pass_duration_seconds", &[("router", &name)], t0.elapsed().as_secs_f64());
        if error.is_none() {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
            m.set("konnekted_reconciler_last_success_timestamp_seconds", &[("router", &name)], now);
        }
        // A pass that failed before planning knows nothing about conflicts.
        let conflicts = if error.is_none() || !out.conflicts.is_empty() {
            self.record_conflicts(&scope, &out.conflicts)
        } else {
            Vec::new()
        };
        let report = PassReport {
            conflicts,
            outcome,
            drift_found: out.found,
            drift_fixed: out.fixed,
            withheld: out.withheld,
            refusal: out.refusal.clone(),
            stale: out.stale,
            errors,
            error_label: error.as_ref().map(ReconcileError::metric_label),
        };
        // Fast passes that found nothing are not worth a report.
        if scope == Scope::Full || report.drift_found > 0 || error.is_some() || !report.conflicts.is_empty() {
            self.send_report(&report, kind, started).await;
        }
        (report, error)
    }

    /// Keeps the known conflicts (a full pass sees them all; a fast pass adds to them),
    /// logs and counts the new ones once, and returns this pass's, as report lines.
    fn record_conflicts(&mut self, scope: &Scope, found: &[Conflict]) -> Vec<String> {
        let keys: BTreeSet<(&'static str, String)> = found.iter().map(|c| (c.menu.path(), c.name.clone())).collect();
        let name = &self.cfg.name;
        for c in found.iter().filter(|c| !self.conflicts.contains(&(c.menu.path(), c.name.clone()))) {
            tracing::warn!(router = %name, "conflict: {c}");
            self.ctx.metrics.inc("konnekted_reconciler_conflicts_found_total", &[("router", name)], 1.0);
        }
        if *scope == Scope::Full {
            self.conflicts = keys;
        } else {
            self.conflicts.extend(keys);
        }
        self.ctx.metrics.set("konnekted_reconciler_conflicts", &[("router", name)], self.conflicts.len() as f64);
        let mut lines: Vec<String> = found.iter().map(ToString::to_string).collect();
        lines.sort();
        lines.dedup();
        lines
    }

    async fn send_report(&self, r: &PassReport, kind: &str, started_at: String) {
        if matches!(r.error_label, Some("edge_unavailable")) {
            return;
        }
        let report = Report {
            router: self.cfg.name.clone(),
            started_at: Some(started_at),
            finished_at: Some(now_rfc3339()),
            outcome: ReportOutcome::parse(r.outcome).unwrap_or(ReportOutcome::Error),
            drift_found: r.drift_found as u64,
            drift_fixed: r.drift_fixed as u64,
            errors: r.errors.clone(),
            details: json!({
                "kind": kind,
                "withheld": r.withheld,
                "refusal": r.refusal,
                "stale_desired": r.stale,
                "error_label": r.error_label,
                "conflicts": r.conflicts,
            }),
            held: self.ctx.ledger.held_of(&self.cfg.name).map(|h| HeldDisables {
                hold_id: h.hold_id,
                disables: h.disables as u64,
                since: rfc3339(h.since),
                usernames: h.usernames(),
                reason: h.reason,
            }),
        };
        if let Err(e) = self.tenant.edge().report(&report).await {
            self.ctx.metrics.inc(
                "konnekted_reconciler_edge_errors_total",
                &[("tenant", &self.tenant.cfg.realm), ("label", edge_label(&e))],
                1.0,
            );
            tracing::debug!(router = %self.cfg.name, "report not delivered: {e}");
        }
    }

    /// Runs forever: a full pass on start and every (jittered) full-pass interval; a
    /// fast pass whenever the change feed nudges; retries per [`error_policy`].
    pub async fn run(mut self) {
        let mut nudges = self.tenant.subscribe();
        let confirmed = self.ctx.ledger.register(&self.cfg.name, &self.tenant.cfg.realm);
        let mut next_full = tokio::time::Instant::now();
        loop {
            let scope = tokio::select! {
                _ = tokio::time::sleep_until(next_full) => Scope::Full,
                // An operator confirmed held disables: apply them now.
                _ = confirmed.notified() => Scope::Full,
                n = nudges.recv() => match n {
                    Ok(Nudge::Subscribers(mut ids)) => {
                        // Coalesce whatever else is queued.
                        let mut full = false;
                        while let Ok(more) = nudges.try_recv() {
                            match more {
                                Nudge::Subscribers(m) => ids.extend(m),
                                Nudge::Full => full = true,
                            }
                        }
                        if full { Scope::Full } else { Scope::Subscribers(ids) }
                    }
                    Ok(Nudge::Full) | Err(broadcast::error::RecvError::Lagged(_)) => Scope::Full,
                    Err(broadcast::error::RecvError::Closed) => {
                        nudges = self.tenant.subscribe();
                        continue;
                    }
                },
            };
            let full = scope == Scope::Full;
            let ctx = self.ctx.clone();
            let (action, failed) = match reconcile_scope(&mut self, scope, &ctx).await {
                Ok(action) => (action, false),
                Err(e) => (error_policy(&e, &ctx), true),
            };
            // A fast pass that went well does not move the next full pass.
            if full || failed {
                next_full = tokio::time::Instant::now() + action.requeue_after;
            }
        }
    }
}

/// The controller's reconcile step for one router: one full pass (load desired, read,
/// plan, guard, apply, verify), with its metrics and report to the edge. `Ok` says when
/// to run again; on `Err`, [`error_policy`] does. What [`RouterWorker::run`] calls.
pub async fn reconcile(router: &mut RouterWorker, ctx: &Ctx) -> Result<Action, ReconcileError> {
    reconcile_scope(router, Scope::Full, ctx).await
}

/// [`reconcile`] over a scope (a fast pass: these subscribers only).
pub async fn reconcile_scope(router: &mut RouterWorker, scope: Scope, ctx: &Ctx) -> Result<Action, ReconcileError> {
    match router.step(scope).await {
        (_, None) => Ok(Action::requeue(ctx.settings.jittered_full_pass())),
        (_, Some(e)) => Err(e),
    }
}

/// When to retry after a failed pass, by what failed.
pub fn error_policy(error: &ReconcileError, ctx: &Ctx) -> Action {
    let d = match error {
        // Partial results: converge soon.
        ReconcileError::ConnectionLost { .. } | ReconcileError::Verify { .. } | ReconcileError::Traps { .. } => {
            Duration::from_secs(15)
        }
        // The router is away or refusing us: back off more.
        ReconcileError::Connect(_) | ReconcileError::Read(_) | ReconcileError::Timeout => Duration::from_secs(30),
        // The edge is away: the feed task retries too.
        ReconcileError::NoDesiredState(_) => Duration::from_secs(10),
    };
    Action::requeue(d.min(ctx.settings.full_pass))
}

/// A refusal as the run report and `GET /routers` word it.
fn refusal_text(r: &Refusal, share: f64, window_seconds: u64, router: &str) -> String {
    let confirm = format!(
        "held until an operator confirms on the console's routers page (or the reconciler's POST /routers/{router}/confirm-disables)"
    );
    match r {
        Refusal::MassDisable { would_disable, of } => {
            format!("plan would disable {would_disable} of {of} subscribers (limit {:.0}%): {confirm}", share * 100.0)
        }
        Refusal::RollingDisable(o) => format!(
            "{} more disables after {} in the last {window_seconds} s would exceed {:.0}% of the {}'s {} subscribers: {confirm}",
            o.would_disable,
            o.in_window,
            share * 100.0,
            o.scope,
            o.of
        ),
        Refusal::StaleDesired => "edge unreachable: fail static, nobody disabled".to_owned(),
    }
}

fn describe(c: &Change) -> String {
    match c {
        Change::Add { comment, .. } => format!("add {comment}"),
        Change::Set { comment, attrs, .. } => {
            format!("set {comment} ({})", attrs.keys().map(String::as_str).collect::<Vec<_>>().join(","))
        }
        Change::Remove { comment, .. } => format!("remove {comment}"),
        Change::Move { comment, .. } => format!("move {comment}"),
        Change::Kick { name, .. } => format!("kick {name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn limiter_one_permit_waits_then_is_freed_on_drop() {
        let l = ApplyLimiter::new(1, 10);
        assert!(!l.is_heavy(10) && l.is_heavy(11), "more than `heavy` changes is heavy");
        let held = l.try_permit().expect("a free permit");
        assert!(l.try_permit().is_none(), "only one");
        let waiter = tokio::spawn({
            let l = l.clone();
            async move { l.permit().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "waits while the permit is held");
        drop(held);
        let second = tokio::time::timeout(Duration::from_secs(5), waiter).await.expect("freed").expect("task");
        assert_eq!(l.available(), 0);
        drop(second);
        assert_eq!(l.available(), 1);
        assert_eq!(ApplyLimiter::new(0, 0).available(), 1, "never zero permits");
    }

    #[tokio::test]
    async fn limiter_full_reads_beyond_the_bound_wait() {
        let l = ApplyLimiter::new(4, 10).with_reads(1);
        let held = l.read_permit().await;
        let waiter = tokio::spawn({
            let l = l.clone();
            async move { l.read_permit().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "a second full read waits");
        assert!(l.try_permit().is_some(), "apply permits are apart");
        drop(held);
        tokio::time::timeout(Duration::from_secs(5), waiter).await.expect("freed").expect("task");
    }

    #[test]
    fn error_policy_matches_on_the_error_variant() {
        let settings = Settings {
            full_pass: Duration::from_secs(300),
            jitter: 0.0,
            feed_poll: Duration::from_secs(1),
            pass_timeout: Duration::from_secs(30),
            desired_max_age: Duration::ZERO,
            guard: GuardConfig::default(),
            max_concurrent_applies: 1,
            heavy_apply_changes: 1,
            max_concurrent_reads: 1,
        };
        let ctx = Ctx::new(settings, Arc::new(Metrics::default()));
        let after = |e: ReconcileError| error_policy(&e, &ctx).requeue_after.as_secs();
        assert_eq!(after(ReconcileError::Timeout), 30);
        assert_eq!(after(ReconcileError::Verify { count: 1 }), 15);
        assert_eq!(after(ReconcileError::Traps { count: 1, first: "x".into() }), 15);
        assert_eq!(after(ReconcileError::NoDesiredState(EdgeError::Unauthorized)), 10);
        let mut short = ctx.settings.clone();
        short.full_pass = Duration::from_secs(5);
        let ctx = Ctx::new(short, Arc::new(Metrics::default()));
        assert_eq!(error_policy(&ReconcileError::Timeout, &ctx).requeue_after.as_secs(), 5, "never past a full pass");
    }

    #[test]
    fn rfc3339_known_instants_format() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}

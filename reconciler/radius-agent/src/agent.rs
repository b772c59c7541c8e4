//! One tenant's agent: full passes, the feed fast path, live CoA/Disconnect and the usage push.
//!
//! Fail static: every step that needs the edge asks it *before* touching RADIUS, so an unreachable
//! edge changes nothing (nobody is rejected because billing could not be reached).

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use konnekted_radius::accounting::{self, AcctSession};
use konnekted_radius::coa::{CoaClient, CoaOutcome, DynamicAuthRequest, SessionSelector};
use konnekted_radius::db::{DbError, RadiusDb, Secret};
use konnekted_radius::foreign_acct::{ForeignAcct, ForeignAcctReader};
use konnekted_radius::sync::{self, DesiredState, PlanSpec, SubscriberSpec, SubscriberStatus, SyncError, SyncReport};
use serde::Serialize;

use crate::config::{Intervals, TenantConfig};
use crate::edge::{
    DailyUsage, DesiredState as Desired, EdgeClient, EdgeError, OnlineSession, Outcome, Report, SessionStart,
    SubscriberStatus as EdgeStatus, UsageReport,
};
use crate::metrics::Metrics;

/// Nairobi (EAT, UTC+3, no DST): the offset of usage days.
pub const NAIROBI_UTC_OFFSET: i64 = 10_800;
/// The `router` name under which passes are reported.
pub const REPORT_ROUTER: &str = "radius";
const FEED_LIMIT: u32 = 500;

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Edge(#[from] EdgeError),
    #[error("radius database: {0}")]
    Db(#[from] DbError),
    #[error("radius sync: {0}")]
    Sync(#[from] SyncError),
    #[error("desired state refused: {0}")]
    Invalid(String),
    #[error("radius post-auth log: {0}")]
    PostAuth(#[from] konnekted_radius::postauth::LoadError),
}

impl AgentError {
    /// The edge could not be asked: nothing was changed.
    pub fn is_edge(&self) -> bool {
        matches!(self, AgentError::Edge(_))
    }
}

/// A live action sent to a NAS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CoaAction {
    pub username: String,
    /// `disconnect` or `rate_limit`.
    pub kind: &'static str,
    pub nas: String,
    pub session_id: String,
    /// `ack`, `nak <cause>`, `error: ...` or `no nas configured`.
    pub result: String,
    /// The source address the NAS answered (one of the cluster's nodes); empty without an answer.
    pub via: String,
}

/// What one pass did.
#[derive(Debug, Clone)]
pub struct PassOutcome {
    pub sync: SyncReport,
    pub coa: Vec<CoaAction>,
    pub cursor: i64,
    /// Accounting this tenant's NASes sent for other realms since the last delivered report.
    pub foreign: Vec<ForeignAcct>,
}

/// What one usage push sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsagePushed {
    pub days: usize,
    pub online: usize,
}

/// What the agent last applied for a subscriber (to decide live actions on the next change).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Applied {
    status: SubscriberStatus,
    rate_limit: String,
}

/// Map the edge's desired state to the sync input. `pending` counts as expired; an unknown status
/// or an unknown plan refuses the whole state (fail static rather than guess).
pub fn map_desired(d: &Desired, policy: &konnekted_radius::sync::TenantPolicy) -> Result<DesiredState, AgentError> {
    let plans = d
        .plans
        .iter()
        .map(|p| PlanSpec {
            name: p.code.clone(),
            rate_limit: p.rate_limit.clone(),
            session_timeout: None,
            address_list: None,
            idle_timeout: p.idle_timeout_seconds,
        })
        .collect();
    let mut subscribers = Vec::with_capacity(d.subscribers.len());
    for s in &d.subscribers {
        let status = match s.status {
            EdgeStatus::Active => SubscriberStatus::Active,
            EdgeStatus::Suspended => SubscriberStatus::Suspended,
            EdgeStatus::Expired | EdgeStatus::Pending => SubscriberStatus::Expired,
            EdgeStatus::Unknown => return Err(AgentError::Invalid(format!("subscriber {}: unknown status", s.id))),
        };
        let static_ip = match s.static_ip.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(ip) => Some(
                ip.parse::<Ipv4Addr>()
                    .map_err(|_| AgentError::Invalid(format!("subscriber {}: bad static_ip {ip:?}", s.id)))?,
            ),
        };
        subscribers.push(SubscriberSpec {
            username: s.username.clone(),
            password: Secret::new(s.password.as_str()),
            plan: s.plan.clone(),
            status,
            static_ip,
            expires: None,
            devices: vec![],
            data_left: None,
        });
    }
    // Redeemed hotspot codes: RADIUS answers them from its own rows (fail static), until they
    // expire (`Expiration`), from the devices they are bound to only, with the bytes left as the
    // session's limit. One that cannot be written (a subscriber already has the name, its plan
    // is gone, a bad time, devices that do not fit a radcheck value, nothing left) is left to the
    // edge's lookup, never a reason to refuse the state.
    let known_plans: std::collections::BTreeSet<&str> = d.plans.iter().map(|p| p.code.as_str()).collect();
    let mut names: std::collections::BTreeSet<String> = subscribers.iter().map(|s| s.username.clone()).collect();
    for v in &d.vouchers {
        let expires = chrono::DateTime::parse_from_rfc3339(&v.expires_at).map(|t| t.timestamp());
        let devices_fit = v.macs.is_empty() || sync::calling_station_pattern(&v.macs).is_some();
        match expires {
            Ok(t)
                if known_plans.contains(v.plan.as_str())
                    && devices_fit
                    && v.bytes_left != Some(0)
                    && names.insert(v.code.clone()) =>
            {
                subscribers.push(SubscriberSpec {
                    username: v.code.clone(),
                    password: Secret::new(v.code.as_str()),
                    plan: v.plan.clone(),
                    status: SubscriberStatus::Active,
                    static_ip: None,
                    expires: Some(t),
                    devices: v.macs.clone(),
                    data_left: v.bytes_left,
                });
            }
            _ => {
                tracing::warn!(plan = %v.plan, devices = v.macs.len(), "a redeemed code left to the edge's lookup (name taken, plan, time or devices bad, no data left)")
            }
        }
    }
    Ok(DesiredState { plans, subscribers, policy: policy.clone() })
}

fn applied_of(state: &DesiredState) -> BTreeMap<String, Applied> {
    let rates: BTreeMap<&str, &str> = state.plans.iter().map(|p| (p.name.as_str(), p.rate_limit.as_str())).collect();
    state
        .subscribers
        .iter()
        .map(|s| {
            let rate_limit = rates.get(s.plan.as_str()).map(|r| r.to_string()).unwrap_or_default();
            (s.username.clone(), Applied { status: s.status, rate_limit })
        })
        .collect()
}

/// Live actions between two applied states: active -> inactive (or removed) is a Disconnect;
/// active -> active with another rate limit is a CoA with the new `Mikrotik-Rate-Limit`.
fn live_actions(
    before: &BTreeMap<String, Applied>,
    after: &BTreeMap<String, Applied>,
) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    for (user, prev) in before {
        if prev.status != SubscriberStatus::Active {
            continue;
        }
        match after.get(user) {
            None => out.push((user.clone(), None)),
            Some(now) if now.status != SubscriberStatus::Active => out.push((user.clone(), None)),
            Some(now) if now.rate_limit != prev.rate_limit => out.push((user.clone(), Some(now.rate_limit.clone()))),
            Some(_) => {}
        }
    }
    out
}

/// The users named by `session_disconnect` changes (a subscriber asked to end a stuck session),
/// each once, in feed order.
fn disconnect_requests(changes: &[konnekted_sync_proto::FeedChange]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in changes.iter().filter(|c| c.kind == konnekted_sync_proto::FeedKind::SessionDisconnect) {
        if let Some(u) = c.payload.get("username").and_then(|v| v.as_str())
            && !out.iter().any(|x| x == u)
        {
            out.push(u.to_owned());
        }
    }
    out
}

fn now_unix() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

fn floor_div(a: i64, b: i64) -> i64 {
    a.div_euclid(b)
}

pub struct TenantAgent {
    cfg: TenantConfig,
    edge: EdgeClient,
    db: Option<RadiusDb>,
    /// The CoA client (tests shorten its timeout).
    pub coa: CoaClient,
    /// Source addresses of CoA/Disconnect in order: the cluster's nodes, which the NAS trusts.
    pub coa_sources: Vec<std::net::IpAddr>,
    cursor: Option<i64>,
    applied: Option<BTreeMap<String, Applied>>,
    /// FreeRADIUS's foreign-accounting logs, one per node on this host (none: not reported).
    foreign: Vec<ForeignAcctReader>,
    /// Log directories of the FreeRADIUS nodes on this host that write post-auth lines
    /// (`postauth = "log"`) for the agent to load into this tenant's radpostauth.
    postauth_log_dirs: Vec<std::path::PathBuf>,
    metrics: Arc<Metrics>,
}

impl TenantAgent {
    pub fn new(edge_url: &str, cfg: TenantConfig, intervals: &Intervals) -> Result<TenantAgent, AgentError> {
        let edge = EdgeClient::new(
            edge_url,
            &cfg.realm,
            cfg.sync_key.clone(),
            Duration::from_secs(intervals.http_timeout_secs.max(1)),
        )?;
        let coa = CoaClient { timeout: Duration::from_secs(2), retries: 1, ..CoaClient::default() };
        Ok(TenantAgent {
            cfg,
            edge,
            db: None,
            coa,
            coa_sources: Vec::new(),
            cursor: None,
            applied: None,
            foreign: Vec::new(),
            postauth_log_dirs: Vec::new(),
            metrics: Metrics::new(),
        })
    }

    /// Send CoA/Disconnect from these addresses, in order, until the NAS answers.
    pub fn with_coa_sources(mut self, sources: Vec<std::net::IpAddr>) -> TenantAgent {
        self.coa_sources = sources;
        self
    }

    /// Report accounting this tenant's NASes sent for other realms, read from FreeRADIUS's
    /// foreign-accounting log at `path` (`<log_dir>/foreign-acct.log`), in each pass's run report
    /// and in `metrics`. Call it once per log: each FreeRADIUS node writes its own.
    pub fn with_foreign_acct(mut self, path: std::path::PathBuf, metrics: Arc<Metrics>) -> TenantAgent {
        self.foreign.push(ForeignAcctReader::new(path));
        self.metrics = metrics;
        self
    }

    /// Load this tenant's post-auth lines that the FreeRADIUS node logging to `log_dir` writes
    /// (`postauth = "log"`) into its radpostauth ([`TenantAgent::load_postauth`]). Once per node.
    pub fn with_postauth_log(mut self, log_dir: std::path::PathBuf) -> TenantAgent {
        self.postauth_log_dirs.push(log_dir);
        self
    }

    /// Move every finished minute of post-auth lines of this tenant into its radpostauth (one
    /// transaction per minute file, the file removed after the commit). Returns the rows loaded.
    pub async fn load_postauth(&mut self) -> Result<u64, AgentError> {
        if self.postauth_log_dirs.is_empty() {
            return Ok(0);
        }
        let dirs = self.postauth_log_dirs.clone();
        let realm = self.cfg.realm.clone();
        let db = self.db().await?;
        let mut rows = 0;
        for dir in dirs {
            let r = konnekted_radius::postauth::load_realm(db, &dir, &realm, now_unix()).await?;
            if r.skipped > 0 {
                tracing::warn!(realm = %realm, skipped = r.skipped, dir = %dir.display(), "malformed post-auth lines skipped");
            }
            rows += r.rows;
        }
        Ok(rows)
    }

    /// New lines of the foreign-accounting logs sent by this tenant's NASes (not yet committed):
    /// per log its batch (by index into `self.foreign`), and this tenant's records of all of them.
    fn read_foreign(&self) -> (Vec<(usize, konnekted_radius::foreign_acct::ForeignAcctBatch)>, Vec<ForeignAcct>) {
        let mut batches = Vec::new();
        let mut own = Vec::new();
        for (i, reader) in self.foreign.iter().enumerate() {
            match reader.read() {
                Ok(batch) => {
                    own.extend(batch.records.iter().filter(|r| r.nas_tenant == self.cfg.realm).cloned());
                    batches.push((i, batch));
                }
                // the other logs are still read; this one is read again next time
                Err(e) => {
                    tracing::warn!(realm = %self.cfg.realm, path = %reader.path().display(), error = %e, "cannot read foreign-accounting log")
                }
            }
        }
        (batches, own)
    }

    pub fn realm(&self) -> &str {
        &self.cfg.realm
    }

    /// The feed cursor the fast path continues from (None before the first successful pass).
    pub fn cursor(&self) -> Option<i64> {
        self.cursor
    }

    async fn db(&mut self) -> Result<&RadiusDb, AgentError> {
        if self.db.is_none() {
            self.db = Some(RadiusDb::connect(&self.cfg.db).await?);
        }
        self.db.as_ref().ok_or_else(|| AgentError::Invalid("database not connected".into()))
    }

    /// A full pass: fetch desired state, sync, send live actions for what changed since the last
    /// pass, report. An unreachable edge returns an error before anything is written.
    pub async fn try_pass(&mut self) -> Result<PassOutcome, AgentError> {
        let desired = self.edge.desired().await?;
        let cursor = desired.cursor;
        self.apply(desired, cursor).await
    }

    /// The fast path: read the feed from the cursor; if anything changed, re-fetch the desired
    /// state and sync. Returns None when the feed was empty. Without a baseline it runs a full pass.
    pub async fn try_fast_path(&mut self) -> Result<Option<PassOutcome>, AgentError> {
        let Some(cursor) = self.cursor else { return self.try_pass().await.map(Some) };
        let feed = self.edge.feed(cursor, FEED_LIMIT).await?;
        if feed.changes.is_empty() {
            self.cursor = Some(cursor.max(feed.cursor));
            return Ok(None);
        }
        tracing::info!(realm = %self.cfg.realm, changes = feed.changes.len(), "feed changes; syncing");
        let disconnect = disconnect_requests(&feed.changes);
        let desired = self.edge.desired().await?;
        let new_cursor = feed.cursor.max(desired.cursor);
        self.apply_with(desired, new_cursor, &disconnect).await.map(Some)
    }

    async fn apply(&mut self, desired: Desired, cursor: i64) -> Result<PassOutcome, AgentError> {
        self.apply_with(desired, cursor, &[]).await
    }

    /// Syncs `desired`; `disconnect` names users who asked (through the feed) to have their
    /// online sessions ended, beside the live actions the state change itself calls for.
    async fn apply_with(
        &mut self,
        desired: Desired,
        cursor: i64,
        disconnect: &[String],
    ) -> Result<PassOutcome, AgentError> {
        let state = match map_desired(&desired, &self.cfg.policy.tenant_policy()) {
            Ok(s) => s,
            Err(e) => {
                self.report_error(&e).await;
                return Err(e);
            }
        };
        let synced = match self.db().await {
            Ok(db) => sync::sync_tenant(db, &state).await.map_err(AgentError::from),
            Err(e) => Err(e),
        };
        let report = match synced {
            Ok(r) => r,
            Err(e) => {
                self.report_error(&e).await;
                return Err(e);
            }
        };
        let after = applied_of(&state);
        let mut actions = match &self.applied {
            Some(before) => live_actions(before, &after),
            None => Vec::new(),
        };
        for user in disconnect {
            // Only a user the tenant still has; a state change's own action for them wins.
            if after.contains_key(user) && !actions.iter().any(|(u, _)| u == user) {
                actions.push((user.clone(), None));
            }
        }
        let coa = if actions.is_empty() { Vec::new() } else { self.send_live(&actions).await };
        self.applied = Some(after);
        self.cursor = Some(self.cursor.unwrap_or(0).max(cursor));
        let drift = (report.added + report.changed + report.removed) as u64;
        let (foreign_batches, foreign_records) = self.read_foreign();
        let body = Report {
            router: REPORT_ROUTER.into(),
            started_at: None,
            finished_at: None,
            outcome: Outcome::Ok,
            drift_found: drift,
            drift_fixed: drift,
            errors: coa.iter().filter(|a| a.result.starts_with("error")).map(|a| a.result.clone()).collect(),
            details: serde_json::json!({
                "added": report.added, "changed": report.changed, "removed": report.removed,
                "per_table": report.per_table.iter().map(|(t, c)| (t.name(), serde_json::json!({
                    "added": c.added, "changed": c.changed, "removed": c.removed}))).collect::<BTreeMap<_, _>>(),
                "coa": coa, "cursor": cursor,
                "foreign_accounting": foreign_summary(&foreign_records),
            }),
            held: None,
        };
        if drift > 0 || !coa.is_empty() {
            tracing::info!(realm = %self.cfg.realm, drift, coa = coa.len(), "radius synced");
        }
        if !foreign_records.is_empty() {
            tracing::warn!(realm = %self.cfg.realm, count = foreign_records.len(), "this tenant's NAS sent accounting for other realms (written to no radacct)");
        }
        match self.edge.report(&body).await {
            Ok(()) => {
                // Counted and moved past only once delivered: an undelivered report is repeated.
                for (i, batch) in &foreign_batches {
                    self.foreign[*i].commit(batch);
                }
                for r in &foreign_records {
                    self.metrics.add_foreign_accounting(&r.nas_tenant, &r.realm, 1);
                }
            }
            Err(e) => tracing::warn!(realm = %self.cfg.realm, error = %e, "report not delivered"),
        }
        Ok(PassOutcome { sync: report, coa, cursor: self.cursor.unwrap_or(cursor), foreign: foreign_records })
    }

    async fn report_error(&self, e: &AgentError) {
        tracing::warn!(realm = %self.cfg.realm, error = %e, "radius pass failed");
        let body = Report {
            router: REPORT_ROUTER.into(),
            started_at: None,
            finished_at: None,
            outcome: Outcome::Error,
            drift_found: 0,
            drift_fixed: 0,
            errors: vec![e.to_string()],
            details: serde_json::json!({}),
            held: None,
        };
        if let Err(e) = self.edge.report(&body).await {
            tracing::warn!(realm = %self.cfg.realm, error = %e, "error report not delivered");
        }
    }

    /// Send the live actions to the NAS each user is online at (per open radacct session).
    async fn send_live(&mut self, actions: &[(String, Option<String>)]) -> Vec<CoaAction> {
        let realm = self.cfg.realm.clone();
        let sessions = match self.db().await {
            Ok(db) => match accounting::online_sessions(db).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(realm = %realm, error = %e, "cannot read online sessions; no CoA sent");
                    return Vec::new();
                }
            },
            Err(e) => {
                tracing::warn!(realm = %realm, error = %e, "no database; no CoA sent");
                return Vec::new();
            }
        };
        // All NASes in parallel: one silent router must not hold up the others' actions.
        let mut jobs = tokio::task::JoinSet::new();
        for (i, (user, rate)) in actions.iter().enumerate() {
            for s in sessions.iter().filter(|s| session_user(s) == user.as_str()) {
                let fut = self.send_one(user, rate.as_deref(), s);
                jobs.spawn(async move { (i, fut.await) });
            }
        }
        let mut out = Vec::new();
        while let Some(r) = jobs.join_next().await {
            match r {
                Ok(a) => out.push(a),
                Err(e) => tracing::warn!(realm = %realm, error = %e, "CoA task failed"),
            }
        }
        out.sort_by(|a, b| (a.0, &a.1.session_id).cmp(&(b.0, &b.1.session_id)));
        out.into_iter().map(|(_, a)| a).collect()
    }

    /// Prepare one live action; the returned future owns everything it needs.
    fn send_one(
        &self,
        user: &str,
        rate: Option<&str>,
        s: &AcctSession,
    ) -> impl std::future::Future<Output = CoaAction> + Send + 'static {
        let kind = if rate.is_some() { "rate_limit" } else { "disconnect" };
        let mut action = CoaAction {
            username: user.to_owned(),
            kind,
            nas: s.nas_ip.clone(),
            session_id: s.session_id.clone(),
            result: String::new(),
            via: String::new(),
        };
        let realm = self.cfg.realm.clone();
        let client = self.coa.clone();
        let sources = self.coa_sources.clone();
        let nas_ip: Option<Ipv4Addr> = s.nas_ip.trim().split('/').next().and_then(|ip| ip.parse().ok());
        let target = nas_ip.and_then(|ip| self.cfg.nas.iter().find(|n| n.ip == ip)).map(|nas| {
            let session = SessionSelector {
                user_name: Some(format!("{user}@{realm}")),
                acct_session_id: (!s.session_id.is_empty()).then(|| s.session_id.clone()),
                framed_ip: s.framed_ip.as_deref().and_then(|ip| ip.trim().split('/').next()?.parse().ok()),
                nas_ip: Some(nas.ip),
            };
            let req = match rate {
                Some(r) => {
                    DynamicAuthRequest::Change { session, rate_limit: Some(r.to_owned()), session_timeout: None }
                }
                None => DynamicAuthRequest::Disconnect(session),
            };
            (SocketAddr::from((nas.ip, nas.coa_port)), nas.secret.clone(), req)
        });
        async move {
            let Some((addr, secret, req)) = target else {
                action.result = "no nas configured".into();
                tracing::warn!(realm = %realm, nas = %action.nas, user = %action.username, "session on a NAS not in the config; no CoA");
                return action;
            };
            let sent = client.send_from_any(&sources, addr, secret.expose().as_bytes(), &req).await;
            if let Ok((_, via)) = &sent
                && !sources.is_empty()
            {
                action.via = via.ip().to_string();
            }
            action.result = match sent {
                Ok((CoaOutcome::Ack, _)) => "ack".into(),
                Ok((CoaOutcome::Nak { error_cause: Some(c), .. }, _)) => format!("nak {c}"),
                Ok((CoaOutcome::Nak { error_cause: None, .. }, _)) => "nak".into(),
                Err(e) => format!("error: {e}"),
            };
            tracing::info!(realm = %realm, user = %action.username, kind, nas = %addr, via = %action.via, result = %action.result, "live action");
            action
        }
    }

    /// Usage push: sessions of the last two (Nairobi) days summarised per day, plus who is online.
    pub async fn try_usage_push(&mut self) -> Result<UsagePushed, AgentError> {
        let now = now_unix();
        let today = floor_div(now + NAIROBI_UTC_OFFSET, 86_400);
        let first = today - 1;
        let from = first * 86_400 - NAIROBI_UTC_OFFSET;
        let to = (today + 1) * 86_400 - NAIROBI_UTC_OFFSET;
        let db = self.db().await?;
        let sessions = accounting::read_sessions(db, from, to).await?;
        let online = accounting::online_sessions(db).await?;
        let days: Vec<DailyUsage> = accounting::summarise_daily(&sessions, NAIROBI_UTC_OFFSET, Some((first, today)));
        let online: Vec<OnlineSession> = online
            .into_iter()
            .map(|s| OnlineSession {
                nas_ip: s.nas_ip,
                session_id: s.session_id,
                username: s.username,
                framed_ip: s.framed_ip.filter(|f| !f.is_empty()),
                started_at: s.start.map(SessionStart::Unix),
                input_octets: s.input_octets,
                output_octets: s.output_octets,
            })
            .collect();
        let pushed = UsagePushed { days: days.len(), online: online.len() };
        self.edge.push_usage(&UsageReport { days, online: Some(online) }).await?;
        Ok(pushed)
    }
}

/// The run report's `foreign_accounting`: the count, and per NAS and claimed realm how many and
/// the last few sessions (a misconfigured router can send thousands; the report stays small).
fn foreign_summary(records: &[ForeignAcct]) -> serde_json::Value {
    #[derive(Default)]
    struct PerNas {
        count: u64,
        last_at: i64,
        sample: Vec<String>,
    }
    let mut by: BTreeMap<(&str, &str, &str), PerNas> = BTreeMap::new();
    for r in records {
        let e = by.entry((&r.nas_name, &r.nas_ip, &r.realm)).or_default();
        e.count += 1;
        e.last_at = e.last_at.max(r.at);
        if e.sample.len() < 5 {
            e.sample.push(format!("{} {} {}", r.status, r.username, r.session_id));
        }
    }
    serde_json::json!({
        "count": records.len(),
        "by_nas": by.into_iter().map(|((nas, nas_ip, realm), p)| serde_json::json!({
            "nas": nas, "nas_ip": nas_ip, "realm": realm, "count": p.count, "last_at": p.last_at, "sample": p.sample,
        })).collect::<Vec<_>>(),
    })
}

/// radacct usernames are stored without the realm; tolerate `user@realm` too.
fn session_user(s: &AcctSession) -> &str {
    s.username.split('@').next().unwrap_or(&s.username)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edge::{Plan as DesiredPlan, Subscriber as DesiredSubscriber};
    use konnekted_radius::sync::TenantPolicy;

    fn sub(user: &str, plan: &str, status: &str) -> DesiredSubscriber {
        DesiredSubscriber {
            id: format!("id-{user}"),
            username: user.into(),
            password: "pw".into(),
            plan: plan.into(),
            status: EdgeStatus::parse(status),
            static_ip: None,
            site: None,
            expires_at: None,
        }
    }

    fn desired(subs: Vec<DesiredSubscriber>) -> Desired {
        Desired {
            realm: "acme".into(),
            generated_at: String::new(),
            cursor: 7,
            plans: ["basic", "fast"]
                .iter()
                .map(|c| DesiredPlan {
                    code: (*c).into(),
                    name: String::new(),
                    kind: "pppoe".into(),
                    down_kbps: 0,
                    up_kbps: 0,
                    rate_limit: if *c == "fast" { "5M/20M".into() } else { "2M/10M".into() },
                    idle_timeout_seconds: None,
                })
                .collect(),
            subscribers: subs,
            vouchers: vec![],
            disable_confirmations: Vec::new(),
        }
    }

    #[test]
    fn map_desired_writes_redeemed_codes_with_their_end_and_leaves_a_clash_to_the_edge() {
        let voucher = |code: &str, plan: &str| konnekted_sync_proto::Voucher {
            code: code.into(),
            plan: plan.into(),
            expires_at: "2026-12-04T10:00:00Z".into(),
            macs: vec![],
            bytes_left: None,
        };
        let mut d = desired(vec![sub("ABCDEFGHJKLM", "basic", "active")]);
        d.vouchers =
            vec![voucher("NPQRSTUVWXYZ", "fast"), voucher("ABCDEFGHJKLM", "fast"), voucher("Z2345678ABCD", "gone")];
        let s = map_desired(&d, &TenantPolicy::default()).unwrap();
        assert_eq!(s.subscribers.len(), 2, "the clash and the unknown plan are left out: {:?}", s.subscribers);
        let v = &s.subscribers[1];
        assert_eq!(
            (v.username.as_str(), v.password.expose(), v.plan.as_str()),
            ("NPQRSTUVWXYZ", "NPQRSTUVWXYZ", "fast")
        );
        assert_eq!((v.status, v.expires), (SubscriberStatus::Active, Some(1_796_378_400)));
        assert_eq!(s.subscribers[0].expires, None);
    }

    #[test]
    fn map_desired_gives_a_hotspot_plan_its_idle_timeout() {
        let mut d = desired(vec![]);
        d.plans[1].kind = "hotspot".into();
        d.plans[1].idle_timeout_seconds = Some(300);
        let s = map_desired(&d, &TenantPolicy::default()).unwrap();
        assert_eq!((s.plans[0].idle_timeout, s.plans[1].idle_timeout), (None, Some(300)));
    }

    #[test]
    fn map_desired_gives_redeemed_codes_their_devices_and_data_left_and_leaves_unwritable_ones_to_the_edge() {
        let voucher = |code: &str, macs: Vec<String>, bytes_left: Option<u64>| konnekted_sync_proto::Voucher {
            code: code.into(),
            plan: "fast".into(),
            expires_at: "2026-12-04T10:00:00Z".into(),
            macs,
            bytes_left,
        };
        let mut d = desired(vec![]);
        d.vouchers = vec![
            voucher("NPQRSTUVWXYZ", vec!["02:00:00:00:00:01".into(), "02:00:00:00:00:02".into()], Some(5_000_000_000)),
            voucher("Z2345678ABCD", vec!["AA:BB:CC:DD:EE:FF".into(); 5], None),
            voucher("Z2345678ABCE", vec!["not a mac".into()], None),
            voucher("Z2345678ABCF", vec![], Some(0)),
            voucher("Z2345678ABCG", vec![], None),
        ];
        let s = map_desired(&d, &TenantPolicy::default()).unwrap();
        let names: Vec<&str> = s.subscribers.iter().map(|s| s.username.as_str()).collect();
        assert_eq!(names, ["NPQRSTUVWXYZ", "Z2345678ABCG"], "too many devices, a bad MAC, nothing left: to the edge");
        assert_eq!(s.subscribers[0].devices, ["02:00:00:00:00:01", "02:00:00:00:00:02"]);
        assert_eq!(s.subscribers[0].data_left, Some(5_000_000_000));
        assert!(s.subscribers[1].devices.is_empty() && s.subscribers[1].data_left.is_none());
        // What is kept, sync writes.
        konnekted_radius::sync::plan_changes(&s, &Default::default()).expect("a state sync accepts");
    }

    #[test]
    fn foreign_summary_groups_by_nas_and_realm_with_a_short_sample() {
        let rec = |realm: &str, sid: &str, at: i64| ForeignAcct {
            at,
            nas_tenant: "acme".into(),
            nas_name: "pop1".into(),
            realm: realm.into(),
            nas_ip: "10.0.0.1".into(),
            username: format!("u@{realm}"),
            status: "Start".into(),
            session_id: sid.into(),
        };
        let mut records: Vec<ForeignAcct> = (0..7).map(|i| rec("beta", &format!("s{i}"), 100 + i)).collect();
        records.push(rec("gamma", "g", 50));
        let v = foreign_summary(&records);
        assert_eq!(v["count"], 8);
        let by = v["by_nas"].as_array().unwrap();
        assert_eq!(by.len(), 2);
        assert_eq!(
            (&by[0]["realm"], &by[0]["count"], &by[0]["last_at"]),
            (&serde_json::json!("beta"), &serde_json::json!(7), &serde_json::json!(106))
        );
        assert_eq!(by[0]["sample"].as_array().unwrap().len(), 5);
        assert_eq!((&by[1]["realm"], &by[1]["count"]), (&serde_json::json!("gamma"), &serde_json::json!(1)));
        assert_eq!(foreign_summary(&[])["count"], 0);
    }

    #[test]
    fn map_desired_pending_becomes_expired() {
        let s = map_desired(&desired(vec![sub("a", "basic", "pending")]), &TenantPolicy::default()).unwrap();
        assert_eq!(s.subscribers[0].status, SubscriberStatus::Expired);
    }

    #[test]
    fn map_desired_unknown_status_is_refused() {
        let r = map_desired(&desired(vec![sub("a", "basic", "frozen")]), &TenantPolicy::default());
        assert!(matches!(r, Err(AgentError::Invalid(_))));
    }

    #[test]
    fn live_actions_suspension_and_plan_change_are_detected() {
        let p = TenantPolicy::default();
        let before = applied_of(
            &map_desired(
                &desired(vec![sub("a", "basic", "active"), sub("b", "basic", "active"), sub("c", "basic", "active")]),
                &p,
            )
            .unwrap(),
        );
        let after = applied_of(
            &map_desired(&desired(vec![sub("a", "basic", "suspended"), sub("b", "fast", "active")]), &p).unwrap(),
        );
        assert_eq!(
            live_actions(&before, &after),
            vec![("a".into(), None), ("b".into(), Some("5M/20M".into())), ("c".into(), None)]
        );
        assert!(live_actions(&after, &after).is_empty());
    }
}

//! konnekted-radius-agent: keeps each tenant's FreeRADIUS SQL database in line with billing.
//!
//! Per tenant, one task ([`agent::TenantAgent`]):
//! - **full pass** on start and every `full_pass_secs` (jittered): `GET /sync/{realm}/desired` ->
//!   [`konnekted_radius::sync::sync_tenant`] -> `POST /sync/{realm}/reports`;
//! - **fast path** every `feed_poll_secs`: `GET /sync/{realm}/feed?after=cursor`; on changes it
//!   re-fetches the desired state and syncs, then sends a Disconnect-Request for subscribers that
//!   went active -> suspended/expired/removed and a CoA-Request with the new `Mikrotik-Rate-Limit`
//!   for rate changes, to the NAS of each open radacct session;
//! - **foreign accounting**: each pass's run report carries `details.foreign_accounting`, the
//!   Accounting-Requests this tenant's NASes sent for other realms since the last delivered report
//!   (read from FreeRADIUS's `foreign-acct.log`, written to no radacct), also counted in
//!   `konnekted_radius_foreign_accounting_total` ([`metrics`], `GET /metrics` on `metrics_addr`);
//! - **usage push** every `usage_push_secs`: radacct of the last two Nairobi days summarised per
//!   day plus the online snapshot -> `POST /sync/{realm}/usage`.
//!
//! Fail static: when the edge cannot be reached nothing in RADIUS changes; the task retries with
//! backoff. Tenants run independently: one tenant's failure never blocks another.

pub mod agent;
pub mod config;
pub mod edge;
pub mod metrics;

use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

pub use agent::{AgentError, CoaAction, PassOutcome, TenantAgent, UsagePushed};
pub use config::{Config, ConfigError, TenantConfig};

/// Upper bound for any one step (a hung database or edge never stalls the loop forever).
const STEP_TIMEOUT: Duration = Duration::from_secs(120);

fn jittered(d: Duration) -> Duration {
    let f: f64 = 0.8 + rand::random::<f64>() * 0.4;
    d.mul_f64(f)
}

fn backoff(failures: u32, max: Duration) -> Duration {
    let secs = 1u64 << failures.min(10);
    Duration::from_secs(secs).min(max).max(Duration::from_secs(1))
}

async fn step<T>(
    realm: &str,
    what: &str,
    fut: impl std::future::Future<Output = Result<T, AgentError>>,
) -> Result<T, ()> {
    match tokio::time::timeout(STEP_TIMEOUT, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => {
            if e.is_edge() {
                tracing::warn!(realm, step = what, error = %e, "edge unreachable; RADIUS left unchanged");
            } else {
                tracing::warn!(realm, step = what, error = %e, "step failed");
            }
            Err(())
        }
        Err(_) => {
            tracing::warn!(realm, step = what, "step timed out");
            Err(())
        }
    }
}

/// One tenant's loop until `shutdown` turns true.
pub async fn run_tenant(mut agent: TenantAgent, intervals: config::Intervals, mut shutdown: watch::Receiver<bool>) {
    let realm = agent.realm().to_owned();
    let max_backoff = Duration::from_secs(intervals.max_backoff_secs.max(1));
    let now = Instant::now();
    let (mut next_full, mut next_feed, mut next_usage) =
        (now, now + intervals.feed_poll(), now + intervals.usage_push());
    let (mut full_fail, mut feed_fail, mut usage_fail) = (0u32, 0u32, 0u32);
    loop {
        if *shutdown.borrow() {
            break;
        }
        let now = Instant::now();
        if now >= next_full {
            match step(&realm, "full pass", agent.try_pass()).await {
                Ok(_) => {
                    full_fail = 0;
                    next_full = Instant::now() + jittered(intervals.full_pass());
                }
                Err(()) => {
                    full_fail += 1;
                    next_full = Instant::now() + backoff(full_fail, max_backoff);
                }
            }
            next_feed = Instant::now() + intervals.feed_poll();
        } else if now >= next_feed && agent.cursor().is_some() {
            match step(&realm, "fast path", agent.try_fast_path()).await {
                Ok(_) => {
                    feed_fail = 0;
                    next_feed = Instant::now() + intervals.feed_poll();
                }
                Err(()) => {
                    feed_fail += 1;
                    next_feed = Instant::now() + backoff(feed_fail, max_backoff);
                }
            }
        } else if now >= next_feed {
            next_feed = next_full;
        }
        if Instant::now() >= next_usage {
            // post-auth lines FreeRADIUS wrote (postauth = "log"): the finished minutes
            let _ = step(&realm, "post-auth load", agent.load_postauth()).await;
            match step(&realm, "usage push", agent.try_usage_push()).await {
                Ok(_) => {
                    usage_fail = 0;
                    next_usage = Instant::now() + intervals.usage_push();
                }
                Err(()) => {
                    usage_fail += 1;
                    next_usage = Instant::now() + backoff(usage_fail, max_backoff).max(intervals.usage_push());
                }
            }
        }
        let wake = next_full.min(next_feed).min(next_usage);
        tokio::select! {
            _ = tokio::time::sleep_until(wake) => {}
            _ = shutdown.changed() => {}
        }
    }
    tracing::info!(realm = %realm, "tenant loop stopped");
}

/// Run every tenant until `shutdown` turns true (or its sender is dropped).
pub async fn run(config: Config, shutdown: watch::Receiver<bool>) -> Result<(), ConfigError> {
    config.validate()?;
    let metrics = metrics::Metrics::new();
    if let Some(addr) = config.metrics_addr {
        match metrics::serve(addr, metrics.clone()).await {
            Ok(bound) => tracing::info!(addr = %bound, "metrics listening"),
            Err(e) => tracing::error!(addr = %addr, error = %e, "metrics listener not started"),
        }
    }
    let mut tasks = tokio::task::JoinSet::new();
    for t in config.tenants.iter().cloned() {
        let realm = t.realm.clone();
        match TenantAgent::new(&config.edge_url, t, &config.intervals) {
            Ok(agent) => {
                let agent = agent.with_coa_sources(config.coa_sources.clone());
                let agent = config
                    .foreign_acct_logs
                    .iter()
                    .fold(agent, |a, path| a.with_foreign_acct(path.clone(), metrics.clone()));
                let agent = config.postauth_log_dirs.iter().fold(agent, |a, dir| a.with_postauth_log(dir.clone()));
                tasks.spawn(run_tenant(agent, config.intervals.clone(), shutdown.clone()));
            }
            Err(e) => tracing::error!(realm = %realm, error = %e, "tenant not started"),
        }
    }
    while let Some(r) = tasks.join_next().await {
        if let Err(e) = r {
            tracing::error!(error = %e, "a tenant task ended abnormally");
        }
    }
    Ok(())
}

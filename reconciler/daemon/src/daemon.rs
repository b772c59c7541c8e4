//! Wiring: one feed task per tenant (and its redirector), one task per router, the metrics server.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::reconcile::{Ctx, RouterWorker, Settings, Tenant};
use crate::redirect::Redirector;

/// Starts everything and runs until SIGTERM or Ctrl-C.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let metrics = Arc::new(Metrics::default());
    let ctx = Arc::new(Ctx::new(Settings::from_config(&config), metrics.clone()));
    let addr = crate::http::serve_with(config.listen, metrics.clone(), ctx.ledger.clone()).await?;
    tracing::info!("metrics, health and held disables on http://{addr}");
    run_ctx(config, ctx).await
}

/// [`run`] without the HTTP server (which the caller serves from `metrics`).
pub async fn run_with(config: Config, metrics: Arc<Metrics>) -> anyhow::Result<()> {
    let ctx = Arc::new(Ctx::new(Settings::from_config(&config), metrics));
    run_ctx(config, ctx).await
}

/// [`run`] with a context the caller made (and may serve: `ctx.ledger`). Runs until SIGTERM or
/// Ctrl-C, with or without routers: a fresh install has none until the first `router onboard`,
/// and its `/health` must stay up meanwhile.
pub async fn run_ctx(config: Config, ctx: Arc<Ctx>) -> anyhow::Result<()> {
    let routers = start(config, ctx).await?;
    shutdown_signal().await;
    tracing::info!("shutting down: {routers} router tasks stopped");
    Ok(())
}

/// Spawns the feed and router tasks; answers how many routers are reconciled. Each router's
/// task is supervised: a panic in one router's pass is logged and the router is started
/// again after a pause, never taking the others or the daemon with it.
pub async fn start(config: Config, ctx: Arc<Ctx>) -> anyhow::Result<usize> {
    let metrics = ctx.metrics.clone();
    let mut tenants = BTreeMap::new();
    for t in &config.tenants {
        let tenant = Tenant::new(t.clone(), Duration::from_secs(config.edge_timeout_seconds))?;
        tokio::spawn(tenant.clone().run_feed(config.feed_poll(), metrics.clone()));
        if let Some(r) = t.walled_garden.as_ref().and_then(|g| g.redirector.as_ref()) {
            let redirector = Arc::new(Redirector::new(tenant.clone(), r, &config.routers, metrics.clone()));
            let addr = redirector
                .serve(r.listen)
                .await
                .map_err(|e| anyhow::anyhow!("tenant {}: redirector on {}: {e}", t.realm, r.listen))?;
            tracing::info!("tenant {}: suspended subscribers' redirector on http://{addr}", t.realm);
        }
        tenants.insert(t.realm.clone(), tenant);
    }
    let mut routers = 0;
    for r in &config.routers {
        let Some(tenant) = tenants.get(&r.tenant) else {
            tracing::error!("router {}: tenant {} is not in the config; not reconciled", r.name, r.tenant);
            continue;
        };
        let (r, tenant, ctx) = (r.clone(), tenant.clone(), ctx.clone());
        tokio::spawn(async move {
            loop {
                let worker = RouterWorker::new(r.clone(), tenant.clone(), ctx.clone());
                match tokio::spawn(worker.run()).await {
                    Ok(()) => return,
                    Err(e) if e.is_cancelled() => return,
                    Err(e) => {
                        tracing::error!(router = %r.name, "router task panicked, restarting in {RESTART_PAUSE:?}: {e}");
                        tokio::time::sleep(RESTART_PAUSE).await;
                    }
                }
            }
        });
        routers += 1;
    }
    if routers == 0 {
        tracing::warn!(
            "no routers to reconcile yet: add one with `konnekted-reconciler router onboard`; serving /health meanwhile"
        );
    } else {
        tracing::info!("reconciling {routers} routers of {} tenants", tenants.len());
    }
    Ok(routers)
}

/// How long a router whose task panicked waits before it is started again.
const RESTART_PAUSE: Duration = Duration::from_secs(5);

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM ({e}); Ctrl-C only");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

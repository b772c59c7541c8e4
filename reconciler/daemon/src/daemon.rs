//! Wiring: one feed task per tenant, one task per router, the metrics server.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::reconcile::{Ctx, RouterWorker, Settings, Tenant};

/// Starts everything and runs until the process ends.
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

/// [`run`] with a context the caller made (and may serve: `ctx.ledger`).
pub async fn run_ctx(config: Config, ctx: Arc<Ctx>) -> anyhow::Result<()> {
    let metrics = ctx.metrics.clone();
    let mut tenants = BTreeMap::new();
    for t in &config.tenants {
        let tenant = Tenant::new(t.clone(), Duration::from_secs(config.edge_timeout_seconds))?;
        tokio::spawn(tenant.clone().run_feed(config.feed_poll(), metrics.clone()));
        tenants.insert(t.realm.clone(), tenant);
    }
    let mut tasks = Vec::new();
    for r in &config.routers {
        let Some(tenant) = tenants.get(&r.tenant) else { continue };
        let worker = RouterWorker::new(r.clone(), tenant.clone(), ctx.clone());
        tasks.push(tokio::spawn(worker.run()));
    }
    tracing::info!("reconciling {} routers of {} tenants", tasks.len(), tenants.len());
    for t in tasks {
        if let Err(e) = t.await {
            tracing::error!("router task ended: {e}");
        }
    }
    Ok(())
}

//! The periodic work of every tenant: missed-callback sweep and expiry.
//! Runs from `serve`'s timer natively, from the cron trigger on Workers.

use serde::Serialize;

use crate::Ctx;
use crate::db::Db;
use crate::ids::IdGen;
use crate::platform::{Level, Platform};
use crate::store::tenants;
use crate::usecases::{credit, expiry, sweep};

#[derive(Debug, Default, Serialize)]
pub struct TenantRun {
    pub realm: String,
    pub sweep: Option<sweep::SweepReport>,
    pub expiry: Option<expiry::ExpiryReport>,
    /// Subscribers whose money was recorded but whose renewal lost its races, settled now.
    pub settled: usize,
    /// Expiry reminders queued.
    pub reminders: usize,
    /// What the SMS drain did (when the tenant has an SMS provider).
    pub sms: Option<crate::usecases::sms::DrainReport>,
    pub error: Option<String>,
}

/// One pass over every active tenant. A failing tenant is reported and skipped.
pub async fn run_scheduled<P: Platform>(p: &P, ctx: &Ctx) -> Vec<TenantRun> {
    let mut out = Vec::new();
    let list = match tenants::list(p.control()).await {
        Ok(l) => l,
        Err(e) => {
            p.log(Level::Error, &format!("scheduled: cannot list tenants: {e}"));
            return out;
        }
    };
    let mut ids = IdGen::new(ctx);
    for t in list.into_iter().filter(|t| t.status == tenants::TenantStatus::Active) {
        let mut run = TenantRun { realm: t.realm.to_string(), ..Default::default() };
        match p.tenant_db(&t.db_key).await {
            Err(e) => run.error = Some(e.to_string()),
            Ok(db) => {
                if t.daraja.is_configured() {
                    match sweep::run(p, &db, &t, &mut ids, ctx.now).await {
                        Ok(r) => run.sweep = Some(r),
                        Err(e) => run.error = Some(format!("sweep: {e}")),
                    }
                }
                match credit::settle_pending(&db, &t.settings, &mut ids, ctx.now).await {
                    Ok(n) => run.settled = n,
                    Err(e) => run.error = Some(format!("settle: {e}")),
                }
                // Subscribers' own choices first: pauses that have ended, then plan changes at
                // renewal (so an automatic renewal below buys the new plan).
                if let Err(e) = crate::usecases::self_service::resume_due(&db, ctx.now).await {
                    run.error = Some(format!("pauses: {e}"));
                }
                if let Err(e) = crate::usecases::self_service::apply_pending_changes(&db, ctx.now).await {
                    run.error = Some(format!("plan changes at renewal: {e}"));
                }
                match expiry::run(&db, &t.settings, &mut ids, ctx.now).await {
                    Ok(r) => run.expiry = Some(r),
                    Err(e) => run.error = Some(format!("expiry: {e}")),
                }
                // The dashboard's summaries: built here (not at a page view) when they were never
                // built or the tenant's grace changed; kept up to date by every crediting batch.
                if let Err(e) = crate::store::summaries::ensure_built(&db, t.settings.grace_seconds, ctx.now).await {
                    run.error = Some(format!("summaries: {e}"));
                }
                // Reminders after expiry (they see the pass's result); then the outbox drains,
                // receipts written by this pass's credits included.
                match crate::usecases::sms::reminders(&db, &t.settings, &mut ids, ctx.now).await {
                    Ok(n) => run.reminders = n,
                    Err(e) => run.error = Some(format!("reminders: {e}")),
                }
                // Captive buyers get their code by SMS too (once per sale).
                if let Ok(key) = crate::usecases::vouchers::key(p.settings(), &t.realm)
                    && let Err(e) =
                        crate::usecases::sms::voucher_codes(&db, &key, &t.realm, &t.settings, &mut ids, ctx.now).await
                {
                    run.error = Some(format!("voucher codes: {e}"));
                }
                match crate::usecases::sms::gateway(p, &db).await {
                    Ok(Some(g)) => match crate::usecases::sms::drain(&db, &g, ctx.now, 500).await {
                        Ok(r) => run.sms = Some(r),
                        Err(e) => run.error = Some(format!("sms: {e}")),
                    },
                    Ok(None) => {}
                    Err(e) => run.error = Some(format!("sms: {e}")),
                }
                // Throttle windows are at most a day long; older counts mean nothing.
                if let Err(e) = db.batch(&[crate::store::throttle::prune(ctx.now, 2 * 86_400)]).await {
                    run.error = Some(format!("throttle prune: {e}"));
                }
            }
        }
        if let Some(e) = &run.error {
            p.log(Level::Error, &format!("scheduled: {}: {e}", run.realm));
        }
        out.push(run);
    }
    out
}

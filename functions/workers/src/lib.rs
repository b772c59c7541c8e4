//! Cloudflare Workers adapter for `konnekted-core`: the `fetch` and `scheduled` entry points,
//! the D1 store, outbound `fetch`, settings from vars/secrets, the clock and the CSPRNG.
//!
//! No business logic lives here and nothing panics (a panic kills the isolate): every failure
//! becomes a JSON error response or a log line.
//!
//! Bindings (wrangler.toml): `CONTROL` (the tenant registry) and one `T_<DB_KEY>` D1 database per
//! tenant; vars/secrets `PUBLIC_BASE_URL`, `PLATFORM_TOKEN`; optional `EDGE_SELFTEST=1`, which
//! serves `/__selftest/batch` and `/__selftest/contract` (the core's storage contract suite on D1).

mod d1;
mod platform;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use konnekted_core::Ctx;
use konnekted_core::platform::Platform;
use worker::{
    Context, Env, Headers, Request, Response, ScheduleContext, ScheduledEvent, console_error, console_log, event,
};

pub use platform::{WorkerPlatform, tenant_binding};

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(worker::Date::now().as_millis() as i64).unwrap_or_default()
}

fn ctx() -> Result<Ctx, String> {
    let mut entropy = [0u8; 32];
    getrandom::getrandom(&mut entropy).map_err(|e| format!("no randomness: {e}"))?;
    Ok(Ctx { now: now(), entropy })
}

/// `scheduledTime` (milliseconds since the epoch) as a time; `None` when it is not one.
fn scheduled_at(ms: f64) -> Option<DateTime<Utc>> {
    if !ms.is_finite() || ms <= 0.0 {
        return None;
    }
    DateTime::from_timestamp_millis(ms as i64)
}

fn json_error(status: u16, message: &str) -> worker::Result<Response> {
    Ok(Response::from_json(&serde_json::json!({ "error": message }))?.with_status(status))
}

async fn to_http(mut req: Request) -> Result<http::Request<Bytes>, String> {
    let url = req.url().map_err(|e| e.to_string())?;
    let mut b = http::Request::builder().method(req.method().as_ref()).uri(url.as_str());
    for (name, value) in req.headers().entries() {
        b = b.header(name, value);
    }
    let body = req.bytes().await.map_err(|e| e.to_string())?;
    b.body(Bytes::from(body)).map_err(|e| e.to_string())
}

fn from_http(resp: http::Response<Bytes>) -> worker::Result<Response> {
    let (parts, body) = resp.into_parts();
    let headers = Headers::new();
    for (name, value) in &parts.headers {
        if let Ok(v) = value.to_str() {
            headers.append(name.as_str(), v)?;
        }
    }
    Ok(Response::from_bytes(body.to_vec())?.with_status(parts.status.as_u16()).with_headers(headers))
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    let selftest = env.var("EDGE_SELFTEST").map(|v| v.to_string() == "1").unwrap_or(false);
    let platform = match WorkerPlatform::new(env) {
        Ok(p) => p,
        Err(e) => return json_error(503, &e.to_string()),
    };
    if let Err(e) = platform.ensure_control().await {
        console_error!("control migrations: {e}");
        return json_error(503, &format!("control database: {e}"));
    }
    if selftest && req.path() == "/__selftest/batch" {
        return match konnekted_core::contract::batch_semantics(platform.control()).await {
            Ok(report) => Response::from_json(&report),
            Err(e) => json_error(500, &e.to_string()),
        };
    }
    if selftest && req.path() == "/__selftest/contract" {
        // The core's storage contract suite, run on the real D1 (the control database).
        let result = konnekted_core::contract::run_all(platform.control()).await;
        return Response::from_json(&serde_json::json!({ "pass": result.is_ok(), "error": result.err() }));
    }
    let ctx = match ctx() {
        Ok(c) => c,
        Err(e) => return json_error(503, &e),
    };
    let req = match to_http(req).await {
        Ok(r) => r,
        Err(e) => return json_error(400, &format!("unreadable request: {e}")),
    };
    from_http(konnekted_core::handle(&platform, req, &ctx).await)
}

#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let platform = match WorkerPlatform::new(env) {
        Ok(p) => p,
        Err(e) => return console_error!("scheduled: {e}"),
    };
    if let Err(e) = platform.ensure_control().await {
        return console_error!("scheduled: control migrations: {e}");
    }
    let mut ctx = match ctx() {
        Ok(c) => c,
        Err(e) => return console_error!("scheduled: {e}"),
    };
    // The pass runs at the event's scheduled time (Cloudflare's `scheduledTime`, the moment the
    // cron fired): on Cloudflare that is now, to the second; under `wrangler dev` the test harness
    // may set it (`/cdn-cgi/local/scheduled?time=`) to run the pass as if at another moment.
    if let Some(at) = scheduled_at(event.schedule()) {
        ctx.now = at;
    }
    let runs = konnekted_core::run_scheduled(&platform, &ctx).await;
    let summary = serde_json::to_string(&runs).unwrap_or_else(|e| e.to_string());
    console_log!("scheduled {}: {} tenant(s): {summary}", event.cron(), runs.len());
}

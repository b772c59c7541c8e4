//! Spin adapter for `konnekted-core` (spin-sdk 7, WASIp3 `wasi:http/handler`, target wasm32-wasip2).
//!
//! One component serves every function; spin.toml mounts it several times (portal, vouchers, payments, sync,
//! admin, health) with different routes and least-privilege outbound hosts and databases.
//!
//! Features: `spin` (default) stores in Spin SQLite (`control`, `t_<db_key>`) and reads Spin
//! variables; `local` has no `spin:*` imports and no database, so it runs under `wasmtime serve`
//! where only the stateless routes (`GET /health`, `GET /api/v/{realm}/vouchers/{code}`) answer.
//!
//! Adapter-only routes: `POST /internal/scheduled` (platform bearer token) runs the periodic work
//! that Workers runs from its cron trigger, for a Spin cron trigger or an external timer;
//! `GET /__selftest/batch` and `GET /__selftest/contract` (the core's storage contract suite) when
//! the variable `edge_selftest` is `1`.
//! Nothing here panics: every failure is a JSON error response.

#[cfg(not(feature = "spin"))]
mod nodb;
mod platform;
#[cfg(feature = "spin")]
mod store;

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http_body_util::Full;
use konnekted_core::Ctx;
use konnekted_core::platform::Platform;
use konnekted_core::secret::constant_time_eq;
use spin_sdk::http::body::IncomingBodyExt;
use spin_sdk::http::{Method, Request};

pub use platform::{SpinPlatform, tenant_label};

fn ctx() -> Result<Ctx, String> {
    let mut entropy = [0u8; 32];
    getrandom::fill(&mut entropy).map_err(|e| format!("no randomness: {e}"))?;
    let ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    Ok(Ctx { now: DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default(), entropy })
}

fn json(status: u16, body: &serde_json::Value) -> http::Response<Bytes> {
    let mut r = http::Response::new(Bytes::from(body.to_string()));
    *r.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    r
}

fn error(status: u16, message: &str) -> http::Response<Bytes> {
    json(status, &serde_json::json!({ "error": message }))
}

fn is_platform(p: &SpinPlatform, req: &http::Request<Bytes>) -> bool {
    let want = p.settings().platform_token.expose();
    let got = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    !want.is_empty() && got.is_some_and(|t| constant_time_eq(t.as_bytes(), want.as_bytes()))
}

async fn respond(req: Request) -> http::Response<Bytes> {
    let (parts, body) = req.into_parts();
    let body = match body.bytes().await {
        Ok(b) => b,
        Err(e) => return error(400, &format!("unreadable request body: {e:?}")),
    };
    let req = http::Request::from_parts(parts, body);
    let ctx = match ctx() {
        Ok(c) => c,
        Err(e) => return error(503, &e),
    };
    let path = req.uri().path();
    if path == "/health" || path.starts_with("/api/v/") {
        return konnekted_core::handle(&SpinPlatform::stateless().await, req, &ctx).await;
    }
    let platform = match SpinPlatform::new().await {
        Ok(p) => p,
        Err(e) => return error(503, &format!("control database: {e}")),
    };
    match (req.method(), req.uri().path()) {
        (&Method::POST, "/internal/scheduled") => {
            if !is_platform(&platform, &req) {
                return error(401, "missing or wrong credentials");
            }
            let runs = konnekted_core::run_scheduled(&platform, &ctx).await;
            json(200, &serde_json::to_value(&runs).unwrap_or_default())
        }
        (&Method::GET, "/__selftest/batch") if platform::flag("edge_selftest").await => {
            match konnekted_core::contract::batch_semantics(platform.control()).await {
                Ok(report) => json(200, &report),
                Err(e) => error(500, &e.to_string()),
            }
        }
        (&Method::GET, "/__selftest/contract") if platform::flag("edge_selftest").await => {
            let result = konnekted_core::contract::run_all(platform.control()).await;
            json(200, &serde_json::json!({ "pass": result.is_ok(), "error": result.err() }))
        }
        _ => konnekted_core::handle(&platform, req, &ctx).await,
    }
}

#[spin_sdk::http_service]
async fn handle(req: Request) -> anyhow::Result<http::Response<Full<Bytes>>> {
    Ok(respond(req).await.map(Full::new))
}

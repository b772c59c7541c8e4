//! The daemon's local HTTP listener (`listen`, default `127.0.0.1:9108`):
//!
//! * `GET /metrics`: Prometheus text.
//! * `GET /health`: liveness, each router's last success and held disables.
//! * `GET /routers`: every router and the disables held on it (`held`: `null`, or
//!   `{"hold_id": n, "disables": n, "reason": "...", "since": unix seconds}`).
//! * `POST /routers/{name}/confirm-disables`: an operator confirms the held disables;
//!   the router's next pass (run at once) applies them. `200 {"router", "released"}`,
//!   `404` for an unknown router, `409` when nothing is held (no standing permission is
//!   given). See [`crate::ledger`].
//!
//! No authentication: keep `listen` on loopback or a management network.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::ledger::{Confirmation, DisableLedger};
use crate::metrics::Metrics;

fn respond(metrics: &Metrics, ledger: &DisableLedger, method: &hyper::Method, path: &str) -> Response<Full<Bytes>> {
    let json = "application/json";
    let confirm = path.strip_prefix("/routers/").and_then(|r| r.strip_suffix("/confirm-disables"));
    let (status, ctype, body) = match (method, path, confirm) {
        (&hyper::Method::GET, "/metrics", _) => (StatusCode::OK, "text/plain; version=0.0.4", metrics.render()),
        (&hyper::Method::GET, "/health", _) => (StatusCode::OK, json, health(metrics, ledger)),
        (&hyper::Method::GET, "/routers", _) => (StatusCode::OK, json, routers(ledger)),
        (&hyper::Method::POST, _, Some(router)) => {
            let (status, body) = match ledger.confirm(router) {
                Confirmation::Released(n) => {
                    tracing::warn!(router, "operator confirmed {n} held disables");
                    (StatusCode::OK, serde_json::json!({ "router": router, "released": n }))
                }
                Confirmation::NothingHeld | Confirmation::OtherHold => {
                    (StatusCode::CONFLICT, serde_json::json!({ "router": router, "error": "nothing held" }))
                }
                Confirmation::UnknownRouter => {
                    (StatusCode::NOT_FOUND, serde_json::json!({ "router": router, "error": "unknown router" }))
                }
            };
            (status, json, body.to_string())
        }
        _ => (StatusCode::NOT_FOUND, "text/plain", "not found\n".to_owned()),
    };
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    if let Ok(v) = hyper::header::HeaderValue::from_str(ctype) {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

/// Liveness (always 200 while the process serves) with each router's last successful
/// pass and the disables held on it.
fn health(metrics: &Metrics, ledger: &DisableLedger) -> String {
    let mut routers: serde_json::Map<String, serde_json::Value> = metrics
        .by_router("konnekted_reconciler_last_success_timestamp_seconds")
        .into_iter()
        .map(|(r, ts)| (r, serde_json::json!({ "last_success": ts })))
        .collect();
    for (r, held) in ledger.held() {
        let entry = routers.entry(r).or_insert_with(|| serde_json::json!({}));
        entry["held_disables"] = serde_json::json!(held.map_or(0, |h| h.disables));
    }
    serde_json::json!({ "status": "ok", "routers": routers }).to_string()
}

fn routers(ledger: &DisableLedger) -> String {
    let routers: serde_json::Map<String, serde_json::Value> =
        ledger.held().into_iter().map(|(r, held)| (r, serde_json::json!({ "held": held }))).collect();
    serde_json::json!({ "routers": routers }).to_string()
}

/// Binds `addr` and serves metrics and health (no router confirmations) in the
/// background; returns the bound address.
pub async fn serve(addr: SocketAddr, metrics: Arc<Metrics>) -> std::io::Result<SocketAddr> {
    serve_with(addr, metrics, Arc::new(DisableLedger::new(std::time::Duration::ZERO))).await
}

/// Binds `addr` and serves every route in the background; returns the bound address.
pub async fn serve_with(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    ledger: Arc<DisableLedger>,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("metrics accept: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            };
            let metrics = metrics.clone();
            let ledger = ledger.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let r = respond(&metrics, &ledger, req.method(), req.uri().path());
                    async move { Ok::<_, Infallible>(r) }
                });
                if let Err(e) =
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await
                {
                    tracing::debug!("metrics connection: {e}");
                }
            });
        }
    });
    Ok(local)
}

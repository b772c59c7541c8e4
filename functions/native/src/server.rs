//! HTTP/1.1 server around the core's `handle`, and the scheduled-pass timer.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use konnekted_core::Ctx;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::platform::NativePlatform;

/// Request bodies above this are refused before they reach the core.
const MAX_BODY: usize = 1024 * 1024;

pub fn ctx() -> Ctx {
    Ctx { now: chrono::Utc::now(), entropy: rand::random() }
}

async fn serve_one(
    p: NativePlatform,
    peer: SocketAddr,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let too_large = || {
        let mut r =
            hyper::Response::new(Full::new(Bytes::from_static(b"{\"error\":\"body too large or unreadable\"}")));
        *r.status_mut() = http::StatusCode::PAYLOAD_TOO_LARGE;
        Ok(r)
    };
    let is_callback = parts.uri.path().starts_with("/hooks/");
    let (bytes, cut) = if is_callback {
        // A payment provider's callback is never dropped unseen: keep the first part of an
        // oversized one for the core to log (it answers 413), reading at most CALLBACK_DRAIN.
        match read_capped(body, MAX_BODY).await {
            Some(r) => r,
            None => return too_large(),
        }
    } else {
        match Limited::new(body, MAX_BODY).collect().await {
            Ok(b) => (b.to_bytes(), None),
            Err(_) => return too_large(),
        }
    };
    let mut req = http::Request::from_parts(parts, bytes);
    req.extensions_mut().insert(konnekted_core::ClientIp(peer.ip().to_string()));
    if let Some(total) = cut {
        req.extensions_mut().insert(konnekted_core::BodyTruncated { total });
    }
    let resp = konnekted_core::handle(&p, req, &ctx()).await;
    Ok(resp.map(Full::new))
}

/// The most of an oversized callback body read (and counted) before the connection is dropped.
const CALLBACK_DRAIN: usize = 64 * 1024 * 1024;

/// Reads a body keeping its first `keep` bytes; `Some((kept, Some(total)))` when it was longer.
/// `None` when unreadable or past [`CALLBACK_DRAIN`].
async fn read_capped(mut body: Incoming, keep: usize) -> Option<(Bytes, Option<usize>)> {
    let mut kept = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.ok()?;
        if let Some(data) = frame.data_ref() {
            total += data.len();
            if total > CALLBACK_DRAIN {
                return None;
            }
            let room = keep.saturating_sub(kept.len());
            kept.extend_from_slice(&data[..data.len().min(room)]);
        }
    }
    Some((Bytes::from(kept), (total > keep).then_some(total)))
}

/// Serves until `shutdown` flips to true. Returns the bound address through `bound`.
pub async fn serve(
    p: NativePlatform,
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(s) => s,
                    Err(e) => { tracing::warn!("accept failed: {e}"); continue; }
                };
                let _ = stream.set_nodelay(true);
                let p = p.clone();
                let mut stop = shutdown.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| serve_one(p.clone(), peer, req));
                    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    let conn = builder.serve_connection(TokioIo::new(stream), svc);
                    tokio::pin!(conn);
                    // A stopped host stops answering: an open (keep-alive) connection finishes the
                    // request it is in and closes, it does not keep serving after the listener went.
                    let ended = tokio::select! {
                        r = conn.as_mut() => r,
                        _ = async { drop(stop.wait_for(|stopped| *stopped).await) } => {
                            conn.as_mut().graceful_shutdown();
                            conn.await
                        }
                    };
                    if let Err(e) = ended {
                        tracing::debug!("connection ended: {e}");
                    }
                });
            }
            _ = shutdown.changed() => return Ok(()),
        }
    }
}

/// Runs the scheduled pass (sweep + expiry over every tenant) every `every`.
pub async fn ticker(p: NativePlatform, every: Duration, mut shutdown: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {
                for run in konnekted_core::run_scheduled(&p, &ctx()).await {
                    let paid = run.sweep.as_ref().map_or(0, |s| s.paid);
                    let expired = run.expiry.as_ref().map_or(0, |e| e.expired);
                    let renewed = run.expiry.as_ref().map_or(0, |e| e.renewed);
                    if paid + expired + renewed > 0 {
                        tracing::info!(realm = %run.realm, paid, expired, renewed, "scheduled pass");
                    }
                }
            }
            _ = shutdown.changed() => return,
        }
    }
}

/// A running host (for tests and benchmarks): drop or call `stop` to end it.
pub struct Running {
    pub addr: SocketAddr,
    pub platform: NativePlatform,
    stop: watch::Sender<bool>,
}

impl Running {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Binds `config.listen` (port 0 = any), opens the data folder with the public base URL
/// defaulting to the bound address, and serves (plus the ticker when `tick` is set) in the background.
pub async fn launch(config: &crate::Config, tick: Option<Duration>) -> anyhow::Result<Running> {
    let listener = TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let settings = konnekted_core::platform::Settings {
        public_base_url: config.public_base_url.clone().unwrap_or_else(|| format!("http://{addr}")),
        platform_token: config.platform_token.clone(),
        voucher_secret: config.voucher_secret.clone(),
    };
    let p = NativePlatform::open(&config.data_dir, settings).await?;
    let (tx, rx) = watch::channel(false);
    tokio::spawn(serve(p.clone(), listener, rx.clone()));
    if let Some(every) = tick {
        tokio::spawn(ticker(p.clone(), every, rx));
    }
    Ok(Running { addr, platform: p, stop: tx })
}

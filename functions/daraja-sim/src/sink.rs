//! A callback receiver for tests: records every request and answers with what you set.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// One request the sink received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub body: Bytes,
    pub at: DateTime<Utc>,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

#[derive(Clone)]
struct Reply {
    status: u16,
    body: Bytes,
    delay: Duration,
}

#[derive(Default)]
struct SinkState {
    received: Vec<Received>,
    replies: HashMap<String, Reply>,
}

/// Listens on `127.0.0.1:0`. Answers `200 {"ResultCode":0,"ResultDesc":"Accepted"}` unless told
/// otherwise per path with [`CallbackSink::reply`].
pub struct CallbackSink {
    addr: SocketAddr,
    state: Arc<Mutex<SinkState>>,
    changed: watch::Sender<usize>,
    server: JoinHandle<()>,
}

impl CallbackSink {
    pub async fn spawn() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(SinkState::default()));
        let (changed, _) = watch::channel(0usize);
        let (st, tx) = (state.clone(), changed.clone());
        let server = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let (st, tx) = (st.clone(), tx.clone());
                tokio::spawn(async move {
                    let svc = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let (st, tx) = (st.clone(), tx.clone());
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                            let path = parts.uri.path().to_owned();
                            let reply = {
                                let mut s = lock(&st);
                                s.received.push(Received {
                                    method: parts.method.to_string(),
                                    path: path.clone(),
                                    body,
                                    at: Utc::now(),
                                });
                                s.replies.get(&path).cloned()
                            };
                            tx.send_modify(|n| *n += 1);
                            let reply = reply.unwrap_or(Reply {
                                status: 200,
                                body: Bytes::from_static(br#"{"ResultCode":0,"ResultDesc":"Accepted"}"#),
                                delay: Duration::ZERO,
                            });
                            if !reply.delay.is_zero() {
                                tokio::time::sleep(reply.delay).await;
                            }
                            let resp = http::Response::builder()
                                .status(reply.status)
                                .header(http::header::CONTENT_TYPE, "application/json")
                                .body(Full::new(reply.body))
                                .unwrap_or_else(|_| http::Response::new(Full::new(Bytes::new())));
                            Ok::<_, Infallible>(resp)
                        }
                    });
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
                });
            }
        });
        Ok(CallbackSink { addr, state, changed, server })
    }

    /// `http://127.0.0.1:port{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Answer requests to `path` with this status and body.
    pub fn reply(&self, path: &str, status: u16, body: &str) {
        self.reply_after(path, status, body, Duration::ZERO);
    }

    /// Like [`CallbackSink::reply`], after a delay (e.g. longer than the validation timeout).
    pub fn reply_after(&self, path: &str, status: u16, body: &str, delay: Duration) {
        lock(&self.state).replies.insert(path.to_owned(), Reply { status, body: Bytes::from(body.to_owned()), delay });
    }

    /// Everything received so far, in order.
    pub fn received(&self) -> Vec<Received> {
        lock(&self.state).received.clone()
    }

    /// Everything received on `path`.
    pub fn received_on(&self, path: &str) -> Vec<Received> {
        lock(&self.state).received.iter().filter(|r| r.path == path).cloned().collect()
    }

    /// Waits until at least `n` requests arrived on `path`; returns them (possibly fewer on timeout).
    pub async fn wait_for(&self, path: &str, n: usize, timeout: Duration) -> Vec<Received> {
        let mut rx = self.changed.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let got = self.received_on(path);
            if got.len() >= n {
                return got;
            }
            if !matches!(tokio::time::timeout_at(deadline, rx.changed()).await, Ok(Ok(()))) {
                return self.received_on(path);
            }
        }
    }
}

impl Drop for CallbackSink {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn lock(m: &Mutex<SinkState>) -> MutexGuard<'_, SinkState> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

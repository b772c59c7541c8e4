//! The one client of the edge's signed sync API (`/sync/{realm}/...`), shared by the
//! RouterOS reconciler and the RADIUS agent.
//!
//! It signs every request exactly as the edge verifies it
//! ([`konnekted_sync_proto::sign`]: `X-Konnekted-Timestamp` in unix seconds and
//! `X-Konnekted-Signature` = hex HMAC-SHA256(sync key,
//! `METHOD\nPATH_AND_QUERY\nTIMESTAMP\nhex(SHA-256(body))`)), sends it, and maps every
//! failure to one [`EdgeError`]. The routes' bodies are the contract crate's wire types
//! ([`konnekted_sync_proto`]), the same the edge serialises; this crate adds only the
//! transport (reqwest, rustls) and the clock.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use konnekted_sync_proto::{self as proto, HEADER_SIGNATURE, HEADER_TIMESTAMP, sign};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use reqwest::Method;

/// How much of a failed answer's body an error keeps.
const ERROR_BODY_CHARS: usize = 300;

/// Why a sync request failed.
#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    /// No answer: bad URL, connect, TLS, timeout, or the connection dropped mid-answer.
    #[error("edge unreachable: {0}")]
    Unreachable(String),
    /// 401: the edge refused the signature (wrong sync key, or the clock is off by more
    /// than the edge's replay window).
    #[error("edge refused the signature")]
    Unauthorized,
    /// Another non-2xx status, with the start of the answer's body.
    #[error("edge answered {status}: {body}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The first 300 characters of the body (lossy UTF-8).
        body: String,
    },
    /// The answer was not the JSON the caller expected.
    #[error("edge sent an unreadable answer: {0}")]
    Decode(#[source] serde_json::Error),
    /// The request body did not serialize (the caller's type cannot be JSON).
    #[error("request body does not serialize: {0}")]
    Encode(#[source] serde_json::Error),
}

/// A client of one tenant's sync API. Cheap to clone (the connection pool is shared).
#[derive(Clone)]
pub struct EdgeClient {
    http: reqwest::Client,
    base: String,
    realm: String,
    /// The tenant's sync key: zeroed on drop, never printed (see the `Debug` impl).
    key: secrecy::SecretSlice<u8>,
}

impl fmt::Debug for EdgeClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EdgeClient").field("base", &self.base).field("realm", &self.realm).finish_non_exhaustive()
    }
}

impl EdgeClient {
    /// A client for `base` (`https://edge.example`, no trailing `/sync`) and `realm`,
    /// signing with `sync_key`; `timeout` bounds both connecting and each whole request.
    pub fn new(
        base: &str,
        realm: &str,
        sync_key: impl Into<Vec<u8>>,
        timeout: Duration,
    ) -> Result<EdgeClient, EdgeError> {
        let http = reqwest::Client::builder().timeout(timeout).connect_timeout(timeout).build().map_err(unreachable)?;
        Ok(EdgeClient {
            http,
            base: base.trim_end_matches('/').to_owned(),
            realm: realm.to_owned(),
            key: secrecy::SecretSlice::from(sync_key.into()),
        })
    }

    /// The tenant's realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// Sends one signed request to `base` + `path_and_query` and returns the 2xx answer's
    /// body. A non-empty `body` goes as `application/json`.
    pub async fn send(&self, method: Method, path_and_query: &str, body: Vec<u8>) -> Result<Vec<u8>, EdgeError> {
        let url = format!("{}{path_and_query}", self.base);
        let url = reqwest::Url::parse(&url).map_err(|e| EdgeError::Unreachable(format!("bad URL {url}: {e}")))?;
        // Sign what goes on the wire (after percent-encoding, with any path prefix of the
        // base): that is the path and query the edge reads back.
        let signed = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        let ts = unix_now();
        let signature = sign(secrecy::ExposeSecret::expose_secret(&self.key), method.as_str(), &signed, ts, &body);
        let mut req =
            self.http.request(method, url).header(HEADER_TIMESTAMP, ts.to_string()).header(HEADER_SIGNATURE, signature);
        if !body.is_empty() {
            req = req.header(reqwest::header::CONTENT_TYPE, "application/json").body(body);
        }
        let resp = req.send().await.map_err(unreachable)?;
        let status = resp.status();
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Err(EdgeError::Unauthorized);
        }
        let bytes = resp.bytes().await.map_err(unreachable)?;
        if !status.is_success() {
            let body = String::from_utf8_lossy(&bytes).chars().take(ERROR_BODY_CHARS).collect();
            return Err(EdgeError::Status { status: status.as_u16(), body });
        }
        Ok(bytes.to_vec())
    }

    /// `GET path_and_query`, the answer decoded as `T`.
    pub async fn get_json<T: DeserializeOwned>(&self, path_and_query: &str) -> Result<T, EdgeError> {
        let answer = self.send(Method::GET, path_and_query, Vec::new()).await?;
        serde_json::from_slice(&answer).map_err(EdgeError::Decode)
    }

    /// `POST path_and_query` with `body` as JSON; the answer's body is not read.
    pub async fn post_json<B: Serialize + ?Sized>(&self, path_and_query: &str, body: &B) -> Result<(), EdgeError> {
        let body = serde_json::to_vec(body).map_err(EdgeError::Encode)?;
        self.send(Method::POST, path_and_query, body).await.map(drop)
    }

    /// `GET /sync/{realm}/desired`: the tenant's whole desired state.
    pub async fn desired(&self) -> Result<proto::DesiredState, EdgeError> {
        self.get_json(&proto::path::desired(&self.realm)).await
    }

    /// `GET /sync/{realm}/feed`: change-feed rows after `after`, at most `limit`.
    pub async fn feed(&self, after: i64, limit: u32) -> Result<proto::FeedPage, EdgeError> {
        self.get_json(&proto::path::feed(&self.realm, after, limit)).await
    }

    /// `POST /sync/{realm}/reports`: one pass report.
    pub async fn report(&self, report: &proto::Report) -> Result<(), EdgeError> {
        self.post_json(&proto::path::reports(&self.realm), report).await
    }

    /// `POST /sync/{realm}/usage`: usage days and online sessions.
    pub async fn push_usage(&self, usage: &proto::UsageReport) -> Result<(), EdgeError> {
        self.post_json(&proto::path::usage(&self.realm), usage).await
    }
}

/// `Unreachable` with the whole cause chain (reqwest's own message omits the cause:
/// "error sending request" rather than "connection refused").
fn unreachable(e: reqwest::Error) -> EdgeError {
    let mut msg = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        msg.push_str(": ");
        msg.push_str(&c.to_string());
        cause = c.source();
    }
    EdgeError::Unreachable(msg)
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use bytes::Bytes;
    use http::{Request, Response};
    use http_body_util::{BodyExt, Full};
    use hyper::body::Incoming;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    use konnekted_sync_proto::REPLAY_WINDOW_SECS;
    use tokio::net::TcpListener;
    use tokio::sync::mpsc;

    use super::*;

    const KEY: &str = "sync-key-of-acme";

    /// The edge's own check (`functions/core/src/api/sync.rs`, private there), step by
    /// step over the request as hyper hands it to the edge.
    fn edge_verifies(req: &Request<Bytes>, key: &str) -> bool {
        let header = |n: &str| req.headers().get(n).and_then(|v| v.to_str().ok());
        let Some(ts) = header(HEADER_TIMESTAMP).and_then(|t| t.parse::<i64>().ok()) else { return false };
        if (unix_now() - ts).abs() > REPLAY_WINDOW_SECS {
            return false;
        }
        let pq = req.uri().path_and_query().map_or("/", |p| p.as_str());
        header(HEADER_SIGNATURE) == Some(sign(key.as_bytes(), req.method().as_str(), pq, ts, req.body()).as_str())
    }

    /// A scripted edge on a local port: answers every request with `status` and `answer`
    /// and hands over each request it received.
    async fn scripted_edge(status: u16, answer: &'static str) -> (SocketAddr, mpsc::UnboundedReceiver<Request<Bytes>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let tx = tx.clone();
                let service = service_fn(move |req: Request<Incoming>| {
                    let tx = tx.clone();
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body.collect().await?.to_bytes();
                        let _ = tx.send(Request::from_parts(parts, body));
                        let answer = Full::new(Bytes::from_static(answer.as_bytes()));
                        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(
                            Response::builder().status(status).body(answer)?,
                        )
                    }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service),
                );
            }
        });
        (addr, rx)
    }

    fn client(base: &str) -> EdgeClient {
        EdgeClient::new(base, "acme", KEY, Duration::from_secs(5)).expect("client")
    }

    #[test]
    fn sign_known_vector_matches_edge() {
        // The edge's own vector (computed independently with openssl): core's `sign` is
        // the one this client uses.
        let s = sign(b"k", "GET", "/sync/acme/desired", 1_700_000_000, b"");
        assert_eq!(s, "3b8c31e77f95ef1a35a3861c6b5098d303cb005598fe31ee08441e468f5ffc5b");
    }

    #[tokio::test]
    async fn feed_get_with_query_verifies_with_edge_key() {
        let (addr, mut seen) = scripted_edge(200, r#"{"cursor":7,"changes":[]}"#).await;
        let page = client(&format!("http://{addr}")).feed(3, 500).await.expect("feed");
        assert_eq!((page.cursor, page.changes.len()), (7, 0));
        let req = seen.recv().await.expect("request");
        assert_eq!((req.method(), req.uri().to_string().as_str()), (&Method::GET, "/sync/acme/feed?after=3&limit=500"));
        assert!(req.body().is_empty() && req.headers().get("content-type").is_none());
        assert!(edge_verifies(&req, KEY), "edge refuses {req:?}");
        assert!(!edge_verifies(&req, "another-key"), "verification is not vacuous");
    }

    #[tokio::test]
    async fn report_post_body_verifies_and_is_json() {
        let (addr, mut seen) = scripted_edge(201, r#"{"id":"r1"}"#).await;
        let report = proto::Report {
            router: "r1".into(),
            started_at: None,
            finished_at: None,
            outcome: proto::Outcome::Ok,
            drift_found: 0,
            drift_fixed: 0,
            errors: vec![],
            details: serde_json::Value::Null,
            held: None,
        };
        client(&format!("http://{addr}")).report(&report).await.expect("report");
        let req = seen.recv().await.expect("request");
        assert_eq!((req.method(), req.uri().path()), (&Method::POST, "/sync/acme/reports"));
        assert_eq!(req.headers().get("content-type").map(|v| v.as_bytes()), Some(&b"application/json"[..]));
        assert_eq!(serde_json::from_slice::<proto::Report>(req.body()).expect("json"), report);
        assert!(edge_verifies(&req, KEY), "edge refuses {req:?}");
    }

    #[tokio::test]
    async fn base_with_path_prefix_and_slash_signs_wire_path() {
        let (addr, mut seen) = scripted_edge(200, r#"{"realm":"acme"}"#).await;
        let d = client(&format!("http://{addr}/edge/")).desired().await.expect("desired");
        assert_eq!(d.realm, "acme");
        let req = seen.recv().await.expect("request");
        assert_eq!(req.uri().path(), "/edge/sync/acme/desired");
        assert!(edge_verifies(&req, KEY), "edge refuses {req:?}");
    }

    #[tokio::test]
    async fn answer_401_maps_to_unauthorized() {
        let (addr, _seen) = scripted_edge(401, r#"{"error":"unauthorized"}"#).await;
        let err = client(&format!("http://{addr}")).desired().await.expect_err("401");
        assert!(matches!(err, EdgeError::Unauthorized), "{err:?}");
    }

    #[tokio::test]
    async fn answer_4xx_maps_to_status_with_body() {
        let (addr, _seen) = scripted_edge(400, r#"{"error":"outcome is ok, refused or error"}"#).await;
        let err = client(&format!("http://{addr}")).push_usage(&proto::UsageReport::default()).await.expect_err("400");
        match err {
            EdgeError::Status { status: 400, body } => assert!(body.contains("outcome is ok"), "{body}"),
            other => panic!("expected Status 400, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn answer_5xx_maps_to_status_with_truncated_body() {
        let (addr, _seen) = scripted_edge(503, "x".repeat(1000).leak()).await;
        let err = client(&format!("http://{addr}")).feed(0, 1).await.expect_err("503");
        match err {
            EdgeError::Status { status: 503, body } => assert_eq!(body.len(), ERROR_BODY_CHARS),
            other => panic!("expected Status 503, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn answer_not_json_maps_to_decode() {
        let (addr, _seen) = scripted_edge(200, "<html>captive portal</html>").await;
        let err = client(&format!("http://{addr}")).desired().await.expect_err("html");
        assert!(matches!(err, EdgeError::Decode(_)), "{err:?}");
    }

    #[tokio::test]
    async fn closed_port_maps_to_unreachable() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        let err = client(&format!("http://{addr}")).desired().await.expect_err("closed");
        match &err {
            // The cause chain is kept: the message says why, not just "error sending request".
            EdgeError::Unreachable(msg) => assert!(msg.to_lowercase().contains("refused"), "{msg}"),
            other => panic!("expected Unreachable, got {other:?}"),
        }
    }

    #[test]
    fn client_debug_never_shows_sync_key() {
        let shown = format!("{:?}", client("https://edge.example"));
        assert!(shown.contains("acme") && !shown.contains(KEY), "{shown}");
    }
}

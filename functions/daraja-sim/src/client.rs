//! A small plain-HTTP client for `http::Request<Bytes>`: what the simulator uses for callbacks, and
//! what tests can use to send `daraja`-built requests to the simulator.

use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::Utc;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::state::CallRecord;

/// Why a request got no response.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("only http:// URLs are supported by the simulator's client: {0}")]
    UnsupportedScheme(String),
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("request failed: {0}")]
    Request(String),
    #[error("reading the response failed: {0}")]
    Body(String),
}

/// Plain HTTP/1.1 client (no TLS).
#[derive(Clone)]
pub struct HttpClient {
    inner: Client<HttpConnector, Full<Bytes>>,
}

impl Default for HttpClient {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpClient {
    pub fn new() -> Self {
        HttpClient { inner: Client::builder(TokioExecutor::new()).build_http() }
    }

    /// Sends `req` and reads the whole response, within `timeout`.
    pub async fn send(&self, req: http::Request<Bytes>, timeout: Duration) -> Result<http::Response<Bytes>, SendError> {
        if req.uri().scheme_str() != Some("http") {
            return Err(SendError::UnsupportedScheme(req.uri().to_string()));
        }
        let (parts, body) = req.into_parts();
        let req = http::Request::from_parts(parts, Full::new(body));
        let fut = async {
            let resp = self.inner.request(req).await.map_err(|e| SendError::Request(format!("{e:?}")))?;
            let (parts, body) = resp.into_parts();
            let bytes = body.collect().await.map_err(|e| SendError::Body(e.to_string()))?.to_bytes();
            Ok(http::Response::from_parts(parts, bytes))
        };
        tokio::time::timeout(timeout, fut).await.map_err(|_| SendError::Timeout(timeout))?
    }

    /// POSTs a JSON body and records what happened (never fails: errors are in the record).
    pub(crate) async fn post_json(&self, url: &str, body: Bytes, timeout: Duration) -> CallRecord {
        let at = Utc::now();
        let started = Instant::now();
        let request_body = String::from_utf8_lossy(&body).into_owned();
        let req = http::Request::post(url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::USER_AGENT, "daraja-sim")
            .body(body);
        let result = match req {
            Ok(req) => self.send(req, timeout).await,
            Err(e) => Err(SendError::Request(e.to_string())),
        };
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match result {
            Ok(resp) => CallRecord {
                url: url.to_owned(),
                at,
                request_body,
                status: Some(resp.status().as_u16()),
                response_body: Some(String::from_utf8_lossy(resp.body()).into_owned()),
                error: None,
                elapsed_ms,
            },
            Err(e) => CallRecord {
                url: url.to_owned(),
                at,
                request_body,
                status: None,
                response_body: None,
                error: Some(e.to_string()),
                elapsed_ms,
            },
        }
    }
}

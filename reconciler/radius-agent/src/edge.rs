//! Client of the edge's signed sync API (`/sync/{realm}/...`).

use std::time::Duration;

use konnekted_core::api::sync::{HEADER_SIGNATURE, HEADER_TIMESTAMP, sign};
use konnekted_radius::db::Secret;
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    #[error("edge unreachable: {0}")]
    Unreachable(#[from] reqwest::Error),
    #[error("edge answered {status}: {body}")]
    Status { status: u16, body: String },
    #[error("edge sent an unreadable answer: {0}")]
    Decode(#[from] serde_json::Error),
}

#[derive(Debug, Clone, Deserialize)]
pub struct DesiredPlan {
    pub code: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub down_kbps: Option<i64>,
    #[serde(default)]
    pub up_kbps: Option<i64>,
    pub rate_limit: String,
}

#[derive(Clone, Deserialize)]
pub struct DesiredSubscriber {
    pub id: String,
    pub username: String,
    pub password: Secret,
    pub plan: String,
    pub status: String,
    #[serde(default)]
    pub static_ip: Option<String>,
    #[serde(default)]
    pub site: Option<String>,
    #[serde(default)]
    pub expires_at: Option<String>,
}

impl std::fmt::Debug for DesiredSubscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DesiredSubscriber")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("plan", &self.plan)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Desired {
    #[serde(default)]
    pub realm: String,
    #[serde(default)]
    pub generated_at: Option<String>,
    #[serde(default)]
    pub cursor: i64,
    #[serde(default)]
    pub plans: Vec<DesiredPlan>,
    #[serde(default)]
    pub subscribers: Vec<DesiredSubscriber>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FeedChange {
    pub seq: i64,
    #[serde(default)]
    pub subscriber_id: Option<String>,
    pub kind: String,
    #[serde(default)]
    pub payload: serde_json::Value,
    #[serde(default)]
    pub created_at: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Feed {
    pub cursor: i64,
    #[serde(default)]
    pub changes: Vec<FeedChange>,
}

/// One subscriber's usage on one day, sent as `radius-sql` summarises it.
pub type UsageDay = konnekted_radius::accounting::DailyUsage;

#[derive(Debug, Clone, Serialize)]
pub struct OnlineSession {
    pub nas_ip: String,
    pub session_id: String,
    pub username: String,
    pub framed_ip: Option<String>,
    pub started_at: Option<i64>,
    pub input_octets: i64,
    pub output_octets: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct UsageReport {
    pub days: Vec<UsageDay>,
    pub online: Vec<OnlineSession>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SyncReportBody {
    pub router: String,
    pub outcome: String,
    pub drift_found: i64,
    pub drift_fixed: i64,
    pub errors: Vec<String>,
    pub details: serde_json::Value,
}

/// One tenant's view of the edge: base URL, realm and its sync key.
#[derive(Debug, Clone)]
pub struct EdgeClient {
    http: reqwest::Client,
    base: String,
    realm: String,
    key: Secret,
}

fn now_unix() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

impl EdgeClient {
    pub fn new(base: &str, realm: &str, key: Secret, timeout: Duration) -> Result<EdgeClient, EdgeError> {
        let http = reqwest::Client::builder().timeout(timeout).build()?;
        Ok(EdgeClient { http, base: base.trim_end_matches('/').to_owned(), realm: realm.to_owned(), key })
    }

    async fn call(&self, method: reqwest::Method, path_and_query: &str, body: Vec<u8>) -> Result<Vec<u8>, EdgeError> {
        let ts = now_unix();
        let sig = sign(self.key.expose().as_bytes(), method.as_str(), path_and_query, ts, &body);
        let mut req = self
            .http
            .request(method, format!("{}{}", self.base, path_and_query))
            .header(HEADER_TIMESTAMP, ts.to_string())
            .header(HEADER_SIGNATURE, sig);
        if !body.is_empty() {
            req = req.header("content-type", "application/json").body(body);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let bytes = resp.bytes().await?;
        if !status.is_success() {
            let body: String = String::from_utf8_lossy(&bytes).chars().take(300).collect();
            return Err(EdgeError::Status { status: status.as_u16(), body });
        }
        Ok(bytes.to_vec())
    }

    pub async fn desired(&self) -> Result<Desired, EdgeError> {
        let b = self.call(reqwest::Method::GET, &format!("/sync/{}/desired", self.realm), Vec::new()).await?;
        Ok(serde_json::from_slice(&b)?)
    }

    pub async fn feed(&self, after: i64, limit: u32) -> Result<Feed, EdgeError> {
        let path = format!("/sync/{}/feed?after={after}&limit={limit}", self.realm);
        let b = self.call(reqwest::Method::GET, &path, Vec::new()).await?;
        Ok(serde_json::from_slice(&b)?)
    }

    pub async fn push_usage(&self, report: &UsageReport) -> Result<(), EdgeError> {
        let body = serde_json::to_vec(report)?;
        self.call(reqwest::Method::POST, &format!("/sync/{}/usage", self.realm), body).await?;
        Ok(())
    }

    pub async fn report(&self, report: &SyncReportBody) -> Result<(), EdgeError> {
        let body = serde_json::to_vec(report)?;
        self.call(reqwest::Method::POST, &format!("/sync/{}/reports", self.realm), body).await?;
        Ok(())
    }
}

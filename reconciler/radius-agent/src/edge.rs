//! The edge's sync API (`/sync/{realm}/...`) as the agent reads it: wire types and typed calls
//! over the shared signed client ([`konnekted_edge_client`]).

use std::time::Duration;

pub use konnekted_edge_client::EdgeError;
use konnekted_radius::db::Secret;
use serde::{Deserialize, Serialize};

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

/// One tenant's view of the edge, typed with this crate's wire types.
#[derive(Debug, Clone)]
pub struct EdgeClient(konnekted_edge_client::EdgeClient);

impl EdgeClient {
    pub fn new(base: &str, realm: &str, key: Secret, timeout: Duration) -> Result<EdgeClient, EdgeError> {
        konnekted_edge_client::EdgeClient::new(base, realm, key.expose(), timeout).map(EdgeClient)
    }

    pub async fn desired(&self) -> Result<Desired, EdgeError> {
        self.0.desired().await
    }

    pub async fn feed(&self, after: i64, limit: u32) -> Result<Feed, EdgeError> {
        self.0.feed(after, limit).await
    }

    pub async fn push_usage(&self, report: &UsageReport) -> Result<(), EdgeError> {
        self.0.push_usage(report).await
    }

    pub async fn report(&self, report: &SyncReportBody) -> Result<(), EdgeError> {
        self.0.report(report).await
    }
}

//! The edge's sync API as the agent reads it: the contract crate's wire types
//! ([`konnekted_sync_proto`], the same the edge serialises) and typed calls over the
//! shared signed client ([`konnekted_edge_client`]).

use std::time::Duration;

pub use konnekted_edge_client::EdgeError;
use konnekted_radius::db::Secret;
pub use konnekted_sync_proto::{
    DailyUsage, DesiredState, FeedPage, OnlineSession, Outcome, Plan, Report, SessionStart, Subscriber,
    SubscriberStatus, UsageReport,
};

/// One tenant's view of the edge.
#[derive(Debug, Clone)]
pub struct EdgeClient(konnekted_edge_client::EdgeClient);

impl EdgeClient {
    pub fn new(base: &str, realm: &str, key: Secret, timeout: Duration) -> Result<EdgeClient, EdgeError> {
        konnekted_edge_client::EdgeClient::new(base, realm, key.expose(), timeout).map(EdgeClient)
    }

    pub async fn desired(&self) -> Result<DesiredState, EdgeError> {
        self.0.desired().await
    }

    pub async fn feed(&self, after: i64, limit: u32) -> Result<FeedPage, EdgeError> {
        self.0.feed(after, limit).await
    }

    pub async fn push_usage(&self, report: &UsageReport) -> Result<(), EdgeError> {
        self.0.push_usage(report).await
    }

    pub async fn report(&self, report: &Report) -> Result<(), EdgeError> {
        self.0.report(report).await
    }
}

//! The edge's sync API as the reconciler reads it: the contract crate's wire types
//! ([`konnekted_sync_proto`], the same the edge serialises) under the names the
//! reconciler uses, and typed calls over the shared signed client
//! ([`konnekted_edge_client`]).

use std::time::Duration;

pub use konnekted_edge_client::EdgeError;
pub use konnekted_sync_proto::{
    DesiredState, DisablesConfirmation, FeedChange, FeedKind, FeedPage, HeldDisables, Outcome as ReportOutcome, Plan,
    Report, Subscriber, SubscriberStatus as Status,
};

use crate::config::Secret;

/// A client of one tenant's sync API.
#[derive(Debug, Clone)]
pub struct EdgeClient(konnekted_edge_client::EdgeClient);

impl EdgeClient {
    /// A client for `base` (`https://edge.example`, no trailing `/sync`).
    pub fn new(base: &str, realm: &str, key: Secret, timeout: Duration) -> Result<EdgeClient, EdgeError> {
        konnekted_edge_client::EdgeClient::new(base, realm, key.expose(), timeout).map(EdgeClient)
    }

    /// The tenant's realm.
    pub fn realm(&self) -> &str {
        self.0.realm()
    }

    /// The tenant's whole desired state.
    pub async fn desired(&self) -> Result<DesiredState, EdgeError> {
        self.0.desired().await
    }

    /// Changes after `after`, at most `limit`.
    pub async fn feed(&self, after: i64, limit: u32) -> Result<FeedPage, EdgeError> {
        self.0.feed(after, limit).await
    }

    /// Posts a pass report.
    pub async fn report(&self, report: &Report) -> Result<(), EdgeError> {
        self.0.report(report).await
    }
}

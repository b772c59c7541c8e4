//! The edge's sync API as the reconciler reads it: wire types and typed calls over
//! the shared signed client ([`konnekted_edge_client`]).

use std::time::Duration;

pub use konnekted_edge_client::EdgeError;
use serde::{Deserialize, Serialize};

use crate::config::Secret;

/// One plan as the edge describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Short code (`home10`).
    pub code: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// `pppoe` or `hotspot`.
    #[serde(default = "pppoe")]
    pub kind: String,
    /// Download rate, kbit/s.
    pub down_kbps: u64,
    /// Upload rate, kbit/s.
    pub up_kbps: u64,
    /// `up/down` as RouterOS writes it (`2M/10M`).
    #[serde(default)]
    pub rate_limit: String,
}

fn pppoe() -> String {
    "pppoe".to_owned()
}

/// Billing status of a subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Paid: online.
    Active,
    /// Suspended by the ISP: walled garden.
    Suspended,
    /// Subscription ran out: walled garden.
    Expired,
    /// Never paid: treated like expired.
    Pending,
    /// A status this version does not know: treated like expired.
    #[serde(other)]
    Unknown,
}

impl Status {
    /// Whether the subscriber should be online.
    pub fn is_online(self) -> bool {
        self == Status::Active
    }
}

/// One subscriber as the edge describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscriber {
    /// Stable id.
    pub id: String,
    /// Login without the realm.
    pub username: String,
    /// PPPoE password.
    #[serde(default)]
    pub password: String,
    /// Plan code.
    pub plan: String,
    /// Billing status.
    pub status: Status,
    /// Fixed address, if any.
    #[serde(default)]
    pub static_ip: Option<String>,
    /// Site (tower), if any.
    #[serde(default)]
    pub site: Option<String>,
    /// When the paid period ends.
    #[serde(default)]
    pub expires_at: Option<String>,
}

/// `GET /sync/{realm}/desired`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredState {
    /// The tenant.
    pub realm: String,
    /// When the edge built it.
    #[serde(default)]
    pub generated_at: String,
    /// Latest change-feed sequence included.
    #[serde(default)]
    pub cursor: i64,
    /// Plans.
    #[serde(default)]
    pub plans: Vec<Plan>,
    /// Subscribers.
    #[serde(default)]
    pub subscribers: Vec<Subscriber>,
}

/// One change-feed row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedChange {
    /// Sequence number.
    pub seq: i64,
    /// Subscriber it concerns.
    #[serde(default)]
    pub subscriber_id: Option<String>,
    /// `subscription_activated`, `plan_updated`, ...
    pub kind: String,
    /// The subscriber's new fields (for subscriber kinds).
    #[serde(default)]
    pub payload: serde_json::Value,
    /// When it happened.
    #[serde(default)]
    pub created_at: Option<String>,
}

impl FeedChange {
    /// The subscriber after this change: the payload's fields over `current` (the
    /// cached subscriber, if any). The payload names the subscriber `id` or
    /// `subscriber_id` and may omit fields (the password, typically); `None` when the
    /// change is not about one subscriber or a new subscriber arrives incomplete (then
    /// the caller reloads the whole state).
    pub fn merge_subscriber(&self, current: Option<&Subscriber>) -> Option<Subscriber> {
        if self.kind == "plan_updated" {
            return None;
        }
        let p = self.payload.as_object()?;
        let text = |k: &str| p.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        let id = text("id").or_else(|| text("subscriber_id")).or_else(|| self.subscriber_id.clone())?;
        let mut s = match current {
            Some(c) if c.id == id => c.clone(),
            _ => Subscriber {
                id: id.clone(),
                username: text("username")?,
                password: text("password")?,
                plan: text("plan")?,
                status: Status::Pending,
                static_ip: None,
                site: None,
                expires_at: None,
            },
        };
        if let Some(v) = text("username") {
            s.username = v;
        }
        if let Some(v) = text("password") {
            s.password = v;
        }
        if let Some(v) = text("plan") {
            s.plan = v;
        }
        if let Some(v) = p.get("status") {
            s.status = serde_json::from_value(v.clone()).unwrap_or(Status::Unknown);
        }
        for (k, field) in [("static_ip", &mut s.static_ip), ("site", &mut s.site), ("expires_at", &mut s.expires_at)] {
            if let Some(v) = p.get(k) {
                *field = v.as_str().map(str::to_owned);
            }
        }
        Some(s)
    }
}

/// `GET /sync/{realm}/feed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedPage {
    /// Last sequence returned (or `after`).
    pub cursor: i64,
    /// Changes in order.
    #[serde(default)]
    pub changes: Vec<FeedChange>,
}

/// `POST /sync/{realm}/reports`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Router name.
    pub router: String,
    /// RFC 3339.
    pub started_at: String,
    /// RFC 3339.
    pub finished_at: String,
    /// `ok`, `refused` or `error`.
    pub outcome: String,
    /// Changes the plan contained.
    pub drift_found: u64,
    /// Changes applied and verified.
    pub drift_fixed: u64,
    /// Error texts.
    pub errors: Vec<String>,
    /// Anything else.
    pub details: serde_json::Value,
}

/// A client of one tenant's sync API, typed with this crate's wire types.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_payload_with_subscriber_id_merges_over_cached() {
        let cached = Subscriber {
            id: "s1".into(),
            username: "u".into(),
            password: "secret".into(),
            plan: "p".into(),
            status: Status::Pending,
            static_ip: Some("10.0.0.1".into()),
            site: None,
            expires_at: None,
        };
        let c: FeedChange = serde_json::from_str(
            r#"{"seq":4,"subscriber_id":"s1","kind":"subscription_activated","payload":{"subscriber_id":"s1","username":"u","plan":"q","status":"active","static_ip":null,"site":"t1","expires_at":"2026-12-01T00:00:00Z"}}"#,
        )
        .expect("parse");
        let s = c.merge_subscriber(Some(&cached)).expect("merged");
        assert_eq!((s.status, s.plan.as_str(), s.password.as_str()), (Status::Active, "q", "secret"));
        assert_eq!((s.static_ip, s.site.as_deref()), (None, Some("t1")));
        assert!(c.merge_subscriber(None).is_none(), "new subscriber without password: reload");
    }

    #[test]
    fn desired_unknown_status_parses_as_unknown() {
        let j = r#"{"realm":"a","cursor":3,"plans":[{"code":"p","name":"P","kind":"pppoe","down_kbps":10000,"up_kbps":2000,"rate_limit":"2M/10M"}],
            "subscribers":[{"id":"s1","username":"u","password":"x","plan":"p","status":"frozen","static_ip":null,"site":null,"expires_at":null}]}"#;
        let d: DesiredState = serde_json::from_str(j).expect("parse");
        assert_eq!(d.subscribers[0].status, Status::Unknown);
        assert!(!d.subscribers[0].status.is_online());
    }
}

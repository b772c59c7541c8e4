//! Subscribers and their status.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Created, never paid.
    Pending,
    Active,
    /// Period (and grace) ran out without payment.
    Expired,
    /// Switched off by the operator; payments still accrue to the balance.
    Suspended,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Active => "active",
            Status::Expired => "expired",
            Status::Suspended => "suspended",
        }
    }
    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "pending" => Some(Status::Pending),
            "active" => Some(Status::Active),
            "expired" => Some(Status::Expired),
            "suspended" => Some(Status::Suspended),
            _ => None,
        }
    }
}

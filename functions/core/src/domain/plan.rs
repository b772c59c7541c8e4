//! Service plans.

use serde::{Deserialize, Serialize};

use super::Money;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PlanKind {
    Pppoe,
    Hotspot,
}

impl PlanKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PlanKind::Pppoe => "pppoe",
            PlanKind::Hotspot => "hotspot",
        }
    }
    pub fn parse(s: &str) -> Option<PlanKind> {
        match s {
            "pppoe" => Some(PlanKind::Pppoe),
            "hotspot" => Some(PlanKind::Hotspot),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Plan {
    pub id: String,
    /// Short stable name used on the network (RADIUS group, router profile): `home-10m`.
    pub code: String,
    pub name: String,
    pub kind: PlanKind,
    /// Answered as `price_cents`, the name the API takes (one naming for input and output).
    #[serde(rename = "price_cents")]
    #[schemars(description = "integer KES cents for one period")]
    pub price: Money,
    pub period_seconds: i64,
    pub down_kbps: i64,
    pub up_kbps: i64,
    pub data_cap_bytes: Option<i64>,
    /// How many devices one voucher code of this plan may serve at once (1-16).
    pub max_devices: i64,
    pub active: bool,
}

impl Plan {
    /// MikroTik rate-limit string, upload first as the router sees it: `2M/10M`.
    pub fn rate_limit(&self) -> String {
        Plan::rate_limit_of(self.up_kbps, self.down_kbps)
    }

    /// The rate-limit string of these speeds.
    pub fn rate_limit_of(up_kbps: i64, down_kbps: i64) -> String {
        format!("{}/{}", fmt_rate(up_kbps), fmt_rate(down_kbps))
    }
}

fn fmt_rate(kbps: i64) -> String {
    if kbps % 1000 == 0 { format!("{}M", kbps / 1000) } else { format!("{kbps}k") }
}

/// Validates a plan code: 1-32 of a-z, 0-9, '-'.
pub fn valid_plan_code(s: &str) -> bool {
    (1..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_rate_limit_is_upload_then_download() {
        let p = Plan {
            id: "p".into(),
            code: "home-10m".into(),
            name: "Home 10M".into(),
            kind: PlanKind::Pppoe,
            price: Money::from_shillings(2000),
            period_seconds: 30 * 86400,
            down_kbps: 10_000,
            up_kbps: 2_500,
            data_cap_bytes: None,
            max_devices: 1,
            active: true,
        };
        assert_eq!(p.rate_limit(), "2500k/10M");
    }
}

//! `GET /sync/{realm}/desired`: the tenant's whole desired network state.

use serde::{Deserialize, Serialize};

/// One plan as the edge describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Short code (`home10`); subscribers name their plan by it.
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
    /// `up/down` as RouterOS and `Mikrotik-Rate-Limit` write it (`2M/10M`).
    #[serde(default)]
    pub rate_limit: String,
    /// Hotspot plans: the `Idle-Timeout` (seconds) their sessions get, the tenant's setting, the
    /// same the edge's voucher answer carries. Absent: none (PPPoE plans, or the setting is 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout_seconds: Option<u32>,
}

fn pppoe() -> String {
    "pppoe".to_owned()
}

/// Billing status of a subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriberStatus {
    /// Paid: online.
    Active,
    /// Suspended by the ISP: walled garden.
    Suspended,
    /// Subscription ran out: walled garden.
    Expired,
    /// Never paid: treated like expired.
    Pending,
    /// A status this version does not know (a newer edge): consumers treat it as not
    /// online, or refuse the state.
    #[serde(other)]
    Unknown,
}

impl SubscriberStatus {
    /// Every known status.
    pub const ALL: [SubscriberStatus; 4] =
        [SubscriberStatus::Active, SubscriberStatus::Suspended, SubscriberStatus::Expired, SubscriberStatus::Pending];

    /// The wire (and storage) name.
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriberStatus::Active => "active",
            SubscriberStatus::Suspended => "suspended",
            SubscriberStatus::Expired => "expired",
            SubscriberStatus::Pending => "pending",
            SubscriberStatus::Unknown => "unknown",
        }
    }

    /// The status named `s`; [`SubscriberStatus::Unknown`] for any other text.
    pub fn parse(s: &str) -> SubscriberStatus {
        SubscriberStatus::ALL.into_iter().find(|k| k.as_str() == s).unwrap_or(SubscriberStatus::Unknown)
    }

    /// Whether the subscriber should be online.
    pub fn is_online(self) -> bool {
        self == SubscriberStatus::Active
    }
}

/// One subscriber as the edge describes it.
///
/// `Debug` leaves the password out; the password is on the wire because routers (PPPoE
/// secrets) and FreeRADIUS (`Cleartext-Password`) need it in clear.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    pub status: SubscriberStatus,
    /// Fixed address, if any.
    #[serde(default)]
    pub static_ip: Option<String>,
    /// Site (tower), if any.
    #[serde(default)]
    pub site: Option<String>,
    /// When the paid period ends (RFC 3339).
    #[serde(default)]
    pub expires_at: Option<String>,
}

impl std::fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscriber")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("plan", &self.plan)
            .field("status", &self.status)
            .field("static_ip", &self.static_ip)
            .field("site", &self.site)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// `GET /sync/{realm}/desired`.
/// A hotspot code redeemed and not yet expired: RADIUS keeps accepting it from its own database
/// (fail static) when the edge's voucher lookup cannot be reached, until `expires_at`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Voucher {
    /// The code as RADIUS sees it (12 symbols, no dashes): username and password at once.
    pub code: String,
    /// The plan's code (its rate limit).
    pub plan: String,
    /// UTC, RFC 3339: first use plus the plan's period, never past the batch's validity.
    pub expires_at: String,
    /// The devices it is bound to (`AA:BB:CC:DD:EE:FF`), oldest binding first: RADIUS lets
    /// only these in from its own rows (another device goes to the edge, which binds, moves or
    /// refuses). Empty (or absent, an older edge): any device.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub macs: Vec<String>,
    /// Bytes it may still move (its plan's data cap less the accounting the edge has seen); absent:
    /// no cap. Always at least 1 (a used-up code is not in the state).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_left: Option<u64>,
}

impl std::fmt::Debug for Voucher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Voucher")
            .field("code", &"<redacted>")
            .field("plan", &self.plan)
            .field("expires_at", &self.expires_at)
            .field("macs", &self.macs)
            .field("bytes_left", &self.bytes_left)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredState {
    /// The tenant.
    pub realm: String,
    /// When the edge built it (RFC 3339).
    #[serde(default)]
    pub generated_at: String,
    /// Latest change-feed sequence included: read the feed after it.
    #[serde(default)]
    pub cursor: i64,
    /// Plans.
    #[serde(default)]
    pub plans: Vec<Plan>,
    /// Subscribers, ordered by username.
    #[serde(default)]
    pub subscribers: Vec<Subscriber>,
    /// Redeemed hotspot codes still running (only the RADIUS agent uses them; routers need none).
    #[serde(default)]
    pub vouchers: Vec<Voucher>,
    /// The operators' latest confirmation of held disables, per router (absent: none, or an
    /// older edge). The reconciler releases a router's held disables only when the hold it
    /// holds now is the one confirmed (same `hold_id`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disable_confirmations: Vec<DisablesConfirmation>,
}

/// An operator confirmed the disables held on a router (console or admin API): the
/// reconciler applies them, once, if that hold is still the one it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisablesConfirmation {
    /// Router name, as the reconciler reports it.
    pub router: String,
    /// The hold confirmed ([`crate::HeldDisables::hold_id`] as the operator saw it).
    pub hold_id: u64,
    /// When (RFC 3339).
    #[serde(default)]
    pub confirmed_at: String,
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn arb_status() -> impl Strategy<Value = SubscriberStatus> {
        prop::sample::select(SubscriberStatus::ALL.to_vec())
    }

    prop_compose! {
        fn arb_subscriber()(
            id in "[a-f0-9-]{1,36}", username in "[a-z0-9.]{1,12}", password in "\\PC{0,16}",
            plan in "[a-z0-9]{1,8}", status in arb_status(), static_ip in prop::option::of("10\\.[0-9]{1,3}\\.0\\.1"),
            site in prop::option::of("\\PC{0,8}"), expires_at in prop::option::of("2026-1[0-2]-0[1-9]T00:00:00Z"),
        ) -> Subscriber {
            Subscriber { id, username, password, plan, status, static_ip, site, expires_at }
        }
    }

    prop_compose! {
        fn arb_plan()(code in "[a-z0-9]{1,8}", name in "\\PC{0,12}", kind in "pppoe|hotspot",
            down_kbps in any::<u32>(), up_kbps in any::<u32>(), rate_limit in "[0-9]{1,3}[kM]/[0-9]{1,3}[kM]",
            idle_timeout_seconds in prop::option::of(1u32..86_400)) -> Plan {
            Plan { code, name, kind, down_kbps: down_kbps.into(), up_kbps: up_kbps.into(), rate_limit, idle_timeout_seconds }
        }
    }

    proptest! {
        #[test]
        fn desired_state_round_trips(realm in "[a-z]{1,10}", cursor in any::<i64>(),
            plans in prop::collection::vec(arb_plan(), 0..4),
            subscribers in prop::collection::vec(arb_subscriber(), 0..6)) {
            let d = DesiredState { realm, generated_at: "2026-12-03T17:00:00Z".into(), cursor, plans, subscribers, vouchers: vec![Voucher { code: "ABCDEFGHJKLM".into(), plan: "h1".into(), expires_at: "2026-12-04T10:00:00Z".into(), macs: vec!["02:00:00:00:00:01".into()], bytes_left: Some(5_000_000_000) }], disable_confirmations: vec![DisablesConfirmation { router: "tower-1".into(), hold_id: cursor.unsigned_abs(), confirmed_at: "2026-12-06T07:20:00Z".into() }] };
            let back: DesiredState = serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
            prop_assert_eq!(back, d);
        }
    }

    #[test]
    fn desired_of_an_older_edge_has_no_confirmations_and_none_are_sent_empty() {
        let d: DesiredState = serde_json::from_str(r#"{"realm":"a","cursor":1}"#).expect("parse");
        assert!(d.disable_confirmations.is_empty());
        assert!(!serde_json::to_string(&d).unwrap().contains("disable_confirmations"));
        let j = r#"{"realm":"a","disable_confirmations":[{"router":"r1","hold_id":1765005300000}]}"#;
        let d: DesiredState = serde_json::from_str(j).expect("parse");
        assert_eq!(
            (d.disable_confirmations[0].router.as_str(), d.disable_confirmations[0].hold_id),
            ("r1", 1_765_005_300_000)
        );
    }

    #[test]
    fn subscriber_status_as_str_parses_back() {
        for s in SubscriberStatus::ALL {
            assert_eq!(SubscriberStatus::parse(s.as_str()), s);
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!(SubscriberStatus::parse("frozen"), SubscriberStatus::Unknown);
    }

    #[test]
    fn desired_unknown_status_parses_as_unknown_and_offline() {
        let j = r#"{"realm":"a","cursor":3,"plans":[{"code":"p","name":"P","kind":"pppoe","down_kbps":10000,"up_kbps":2000,"rate_limit":"2M/10M"}],
            "subscribers":[{"id":"s1","username":"u","password":"x","plan":"p","status":"frozen","static_ip":null,"site":null,"expires_at":null}]}"#;
        let d: DesiredState = serde_json::from_str(j).expect("parse");
        assert_eq!(d.subscribers[0].status, SubscriberStatus::Unknown);
        assert!(!d.subscribers[0].status.is_online());
    }

    #[test]
    fn voucher_of_an_older_edge_has_no_devices_and_no_cap() {
        let v: Voucher =
            serde_json::from_str(r#"{"code":"ABCDEFGHJKLM","plan":"h1","expires_at":"2026-12-04T10:00:00Z"}"#)
                .expect("parse");
        assert!(v.macs.is_empty() && v.bytes_left.is_none());
        assert_eq!(
            serde_json::to_value(&v).expect("json"),
            serde_json::json!({"code":"ABCDEFGHJKLM","plan":"h1","expires_at":"2026-12-04T10:00:00Z"})
        );
    }

    #[test]
    fn plan_missing_optional_fields_take_defaults() {
        let p: Plan = serde_json::from_str(r#"{"code":"p","down_kbps":1,"up_kbps":2}"#).expect("parse");
        assert_eq!((p.name.as_str(), p.kind.as_str(), p.rate_limit.as_str()), ("", "pppoe", ""));
        assert_eq!(p.idle_timeout_seconds, None, "an older edge's plan: no Idle-Timeout");
    }

    #[test]
    fn subscriber_debug_hides_password() {
        let s = Subscriber {
            id: "s1".into(),
            username: "u".into(),
            password: "hunter2".into(),
            plan: "p".into(),
            status: SubscriberStatus::Active,
            static_ip: None,
            site: None,
            expires_at: None,
        };
        let shown = format!("{s:?}");
        assert!(shown.contains("s1") && !shown.contains("hunter2"), "{shown}");
    }
}

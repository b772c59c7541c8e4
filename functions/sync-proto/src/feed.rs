//! `GET /sync/{realm}/feed?after=&limit=`: the change feed (the edge's outbox), read by cursor.

use serde::{Deserialize, Serialize};

use crate::desired::{Subscriber, SubscriberStatus};

/// What a change-feed row is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedKind {
    /// A subscription started (first payment).
    SubscriptionActivated,
    /// A subscription was extended.
    SubscriptionRenewed,
    /// A subscription ran out.
    SubscriptionExpired,
    /// A subscriber moved to another plan.
    PlanChanged,
    /// The ISP suspended a subscriber.
    SubscriberSuspended,
    /// The ISP lifted a suspension.
    SubscriberResumed,
    /// A subscriber was added.
    SubscriberCreated,
    /// A subscriber's fields changed.
    SubscriberUpdated,
    /// A plan's rates changed (the payload is the plan, not a subscriber).
    PlanUpdated,
    /// The subscriber asked to end their online sessions: the RADIUS agent sends a
    /// Disconnect-Request for each (the payload names the subscriber; nothing else changes).
    SessionDisconnect,
    /// A hotspot code was used for the first time (the payload: `code`, `plan`, `expires_at`,
    /// as [`crate::Voucher`]): the RADIUS agent writes its rows at once, so the code logs in
    /// from RADIUS's own copy within seconds even if the edge then goes away. Not about a
    /// subscriber: routers have nothing to do (the reconciler skips it).
    VoucherRedeemed,
    /// An operator confirmed the disables held on a router (the payload: `router`, `hold_id`):
    /// not about a subscriber; the reconciler reloads the desired state, which carries the
    /// confirmation ([`crate::DesiredState::disable_confirmations`]), and runs a full pass.
    DisablesConfirmed,
    /// A kind this version does not know (a newer edge): consumers reload the whole state.
    #[serde(other)]
    Unknown,
}

impl FeedKind {
    /// Every known kind.
    pub const ALL: [FeedKind; 12] = [
        FeedKind::SubscriptionActivated,
        FeedKind::SubscriptionRenewed,
        FeedKind::SubscriptionExpired,
        FeedKind::PlanChanged,
        FeedKind::SubscriberSuspended,
        FeedKind::SubscriberResumed,
        FeedKind::SubscriberCreated,
        FeedKind::SubscriberUpdated,
        FeedKind::PlanUpdated,
        FeedKind::SessionDisconnect,
        FeedKind::VoucherRedeemed,
        FeedKind::DisablesConfirmed,
    ];

    /// The wire (and storage) name.
    pub fn as_str(self) -> &'static str {
        match self {
            FeedKind::SubscriptionActivated => "subscription_activated",
            FeedKind::SubscriptionRenewed => "subscription_renewed",
            FeedKind::SubscriptionExpired => "subscription_expired",
            FeedKind::PlanChanged => "plan_changed",
            FeedKind::SubscriberSuspended => "subscriber_suspended",
            FeedKind::SubscriberResumed => "subscriber_resumed",
            FeedKind::SubscriberCreated => "subscriber_created",
            FeedKind::SubscriberUpdated => "subscriber_updated",
            FeedKind::PlanUpdated => "plan_updated",
            FeedKind::SessionDisconnect => "session_disconnect",
            FeedKind::VoucherRedeemed => "voucher_redeemed",
            FeedKind::DisablesConfirmed => "disables_confirmed",
            FeedKind::Unknown => "unknown",
        }
    }

    /// The kind named `s`; [`FeedKind::Unknown`] for any other text.
    pub fn parse(s: &str) -> FeedKind {
        FeedKind::ALL.into_iter().find(|k| k.as_str() == s).unwrap_or(FeedKind::Unknown)
    }

    /// Whether the payload describes one subscriber (all kinds but `plan_updated`,
    /// `voucher_redeemed` and `disables_confirmed`).
    pub fn is_about_subscriber(self) -> bool {
        !matches!(
            self,
            FeedKind::PlanUpdated | FeedKind::VoucherRedeemed | FeedKind::DisablesConfirmed | FeedKind::Unknown
        )
    }

    /// Whether routers have anything to do about it (all kinds but `voucher_redeemed`, which
    /// only RADIUS cares about; an unknown kind may be, so it counts).
    pub fn concerns_routers(self) -> bool {
        self != FeedKind::VoucherRedeemed
    }
}

/// One change-feed row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedChange {
    /// Sequence number (strictly increasing).
    pub seq: i64,
    /// Subscriber it concerns.
    #[serde(default)]
    pub subscriber_id: Option<String>,
    /// What happened.
    pub kind: FeedKind,
    /// For subscriber kinds, the subscriber's new fields (any subset of [`Subscriber`]'s,
    /// the id as `id` or `subscriber_id`); for `plan_updated`, the plan.
    #[serde(default)]
    pub payload: serde_json::Value,
    /// When it happened (RFC 3339).
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
        if matches!(self.kind, FeedKind::PlanUpdated | FeedKind::VoucherRedeemed | FeedKind::DisablesConfirmed) {
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
                status: SubscriberStatus::Pending,
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
            s.status = serde_json::from_value(v.clone()).unwrap_or(SubscriberStatus::Unknown);
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
    /// Last sequence returned (or `after` when there is none).
    pub cursor: i64,
    /// Changes in order.
    #[serde(default)]
    pub changes: Vec<FeedChange>,
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn cached() -> Subscriber {
        Subscriber {
            id: "s1".into(),
            username: "u".into(),
            password: "secret".into(),
            plan: "p".into(),
            status: SubscriberStatus::Pending,
            static_ip: Some("10.0.0.1".into()),
            site: None,
            expires_at: None,
        }
    }

    proptest! {
        #[test]
        fn feed_page_round_trips(cursor in any::<i64>(), rows in prop::collection::vec(
            (any::<i64>(), prop::option::of("[a-f0-9]{1,8}"), prop::sample::select(FeedKind::ALL.to_vec()),
             "[a-z]{0,6}", prop::option::of("2026-12-0[1-9]T00:00:00Z")), 0..6)) {
            let page = FeedPage {
                cursor,
                changes: rows.into_iter().map(|(seq, subscriber_id, kind, plan, created_at)| FeedChange {
                    seq, subscriber_id, kind, payload: serde_json::json!({"plan": plan}), created_at,
                }).collect(),
            };
            let back: FeedPage = serde_json::from_str(&serde_json::to_string(&page).unwrap()).unwrap();
            prop_assert_eq!(back, page);
        }
    }

    #[test]
    fn feed_kind_as_str_parses_back() {
        for k in FeedKind::ALL {
            assert_eq!(FeedKind::parse(k.as_str()), k);
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        let c: FeedChange = serde_json::from_str(r#"{"seq":1,"kind":"tenant_moved"}"#).expect("parse");
        assert_eq!(c.kind, FeedKind::Unknown);
    }

    #[test]
    fn feed_payload_with_subscriber_id_merges_over_cached() {
        let c: FeedChange = serde_json::from_str(
            r#"{"seq":4,"subscriber_id":"s1","kind":"subscription_activated","payload":{"subscriber_id":"s1","username":"u","plan":"q","status":"active","static_ip":null,"site":"t1","expires_at":"2026-12-01T00:00:00Z"}}"#,
        )
        .expect("parse");
        let s = c.merge_subscriber(Some(&cached())).expect("merged");
        assert_eq!((s.status, s.plan.as_str(), s.password.as_str()), (SubscriberStatus::Active, "q", "secret"));
        assert_eq!((s.static_ip, s.site.as_deref()), (None, Some("t1")));
        assert!(c.merge_subscriber(None).is_none(), "new subscriber without password: reload");
    }

    #[test]
    fn feed_plan_updated_never_merges() {
        let c: FeedChange =
            serde_json::from_str(r#"{"seq":5,"kind":"plan_updated","payload":{"id":"s1","plan":"q"}}"#).expect("parse");
        assert!(c.merge_subscriber(Some(&cached())).is_none());
    }

    #[test]
    fn feed_disables_confirmed_reloads_and_an_older_reader_sees_unknown() {
        let j = r#"{"seq":7,"kind":"disables_confirmed","payload":{"router":"tower-1","hold_id":42}}"#;
        let c: FeedChange = serde_json::from_str(j).expect("parse");
        assert_eq!(c.kind, FeedKind::DisablesConfirmed);
        assert!(c.kind.concerns_routers() && !c.kind.is_about_subscriber());
        assert!(c.merge_subscriber(Some(&cached())).is_none(), "not a subscriber: the reader reloads");
        // An older reader's enum has no such kind: `#[serde(other)]` makes it Unknown (reload).
        #[derive(serde::Deserialize, PartialEq, Debug)]
        #[serde(rename_all = "snake_case")]
        enum OldKind {
            PlanUpdated,
            #[serde(other)]
            Unknown,
        }
        assert_eq!(serde_json::from_str::<OldKind>(r#""disables_confirmed""#).unwrap(), OldKind::Unknown);
        assert_eq!(serde_json::from_str::<OldKind>(r#""plan_updated""#).unwrap(), OldKind::PlanUpdated);
    }

    #[test]
    fn feed_voucher_redeemed_is_for_radius_only() {
        let c: FeedChange = serde_json::from_str(
            r#"{"seq":6,"kind":"voucher_redeemed","payload":{"code":"ABCDEFGHJKLM","plan":"hour","expires_at":"2026-12-04T11:00:00Z"}}"#,
        )
        .expect("parse");
        assert_eq!(c.kind, FeedKind::VoucherRedeemed);
        assert!(!c.kind.concerns_routers() && !c.kind.is_about_subscriber());
        assert!(c.merge_subscriber(Some(&cached())).is_none());
        assert!(FeedKind::ALL.iter().filter(|k| **k != FeedKind::VoucherRedeemed).all(|k| k.concerns_routers()));
    }
}

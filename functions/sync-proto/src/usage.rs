//! `POST /sync/{realm}/usage`: usage per subscriber and day, and who is online, from RADIUS
//! accounting.

use serde::{Deserialize, Serialize};

/// Usage of one subscriber on one day (Africa/Nairobi days).
///
/// One integer type throughout: `i64` is what SQLite, PostgreSQL and MariaDB all store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailyUsage {
    /// `user` or `user@realm` (the edge keeps the bare, lower-case user).
    pub username: String,
    /// `YYYY-MM-DD`.
    pub day: String,
    /// Octets from the subscriber.
    pub input_octets: i64,
    /// Octets to the subscriber.
    pub output_octets: i64,
    /// Seconds online that day.
    pub online_seconds: i64,
    /// Sessions that overlap the day.
    #[serde(default)]
    pub sessions: i64,
}

/// When a session started, as the reporter has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SessionStart {
    /// Unix seconds.
    Unix(i64),
    /// RFC 3339 (or the database's own) text.
    Text(String),
}

impl SessionStart {
    /// The text the edge stores: the text as sent, or the seconds in decimal.
    pub fn to_text(&self) -> String {
        match self {
            SessionStart::Unix(s) => s.to_string(),
            SessionStart::Text(t) => t.clone(),
        }
    }
}

/// One open RADIUS session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnlineSession {
    /// The NAS (router) address.
    pub nas_ip: String,
    /// `Acct-Session-Id`.
    pub session_id: String,
    /// `user` or `user@realm`.
    pub username: String,
    /// The subscriber's address.
    #[serde(default)]
    pub framed_ip: Option<String>,
    /// When the session started.
    #[serde(default)]
    pub started_at: Option<SessionStart>,
    /// Octets from the subscriber so far.
    #[serde(default)]
    pub input_octets: i64,
    /// Octets to the subscriber so far.
    #[serde(default)]
    pub output_octets: i64,
}

/// `POST /sync/{realm}/usage` body: at most [`crate::MAX_USAGE_DAYS`] days and
/// [`crate::MAX_ONLINE_SESSIONS`] sessions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageReport {
    /// Day totals; each replaces the stored total of its (user, day).
    #[serde(default)]
    pub days: Vec<DailyUsage>,
    /// When present, replaces the whole "who is online" snapshot (an empty list empties it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online: Option<Vec<OnlineSession>>,
}

/// The 202 answer to a usage report: how many rows were taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageAccepted {
    /// Day rows.
    pub days: usize,
    /// Online sessions, when the snapshot was replaced.
    pub online: Option<usize>,
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    prop_compose! {
        fn arb_day()(username in "[a-z0-9]{1,8}(@[a-z]{1,5})?", day in "2026-1[0-2]-[0-2][1-9]",
            input_octets in 0i64.., output_octets in 0i64.., online_seconds in 0i64..86_400, sessions in 0i64..1000)
            -> DailyUsage {
            DailyUsage { username, day, input_octets, output_octets, online_seconds, sessions }
        }
    }

    prop_compose! {
        fn arb_session()(nas_ip in "10\\.0\\.0\\.[0-9]{1,3}", session_id in "[0-9A-F]{8}", username in "[a-z]{1,8}",
            framed_ip in prop::option::of("10\\.20\\.0\\.[0-9]{1,3}"),
            started_at in prop::option::of(prop_oneof![
                any::<i64>().prop_map(SessionStart::Unix),
                "2026-12-0[1-9]T00:00:00Z".prop_map(SessionStart::Text),
            ]),
            input_octets in 0i64.., output_octets in 0i64..) -> OnlineSession {
            OnlineSession { nas_ip, session_id, username, framed_ip, started_at, input_octets, output_octets }
        }
    }

    proptest! {
        #[test]
        fn usage_report_round_trips(days in prop::collection::vec(arb_day(), 0..5),
            online in prop::option::of(prop::collection::vec(arb_session(), 0..5))) {
            let u = UsageReport { days, online };
            let back: UsageReport = serde_json::from_str(&serde_json::to_string(&u).unwrap()).unwrap();
            prop_assert_eq!(back, u);
        }
    }

    #[test]
    fn usage_without_online_keeps_snapshot_and_empty_list_clears_it() {
        let u: UsageReport = serde_json::from_str(r#"{"days":[]}"#).expect("parse");
        assert_eq!(u.online, None);
        assert_eq!(serde_json::to_string(&u).unwrap(), r#"{"days":[]}"#);
        let u: UsageReport = serde_json::from_str(r#"{"online":[]}"#).expect("parse");
        assert_eq!(u.online, Some(vec![]));
    }

    #[test]
    fn session_start_number_or_text_is_stored_as_text() {
        let s: OnlineSession =
            serde_json::from_str(r#"{"nas_ip":"n","session_id":"1","username":"u","started_at":1700000000}"#).unwrap();
        assert_eq!(s.started_at.map(|t| t.to_text()).as_deref(), Some("1700000000"));
        let s: OnlineSession = serde_json::from_str(
            r#"{"nas_ip":"n","session_id":"1","username":"u","started_at":"2026-12-01T00:00:00Z"}"#,
        )
        .unwrap();
        assert_eq!(s.started_at.map(|t| t.to_text()).as_deref(), Some("2026-12-01T00:00:00Z"));
    }

    #[test]
    fn usage_accepted_round_trips() {
        let a = UsageAccepted { days: 2, online: None };
        assert_eq!(serde_json::from_str::<UsageAccepted>(&serde_json::to_string(&a).unwrap()).unwrap(), a);
    }
}

//! `POST /sync/{realm}/reports`: what one reconciler or RADIUS pass found and did.

use serde::{Deserialize, Serialize};

/// How a pass ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Applied (or nothing to do).
    Ok,
    /// A safety check withheld the plan (e.g. it would disable too many subscribers).
    Refused,
    /// The pass failed.
    Error,
}

impl Outcome {
    /// The wire (and storage) name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Refused => "refused",
            Outcome::Error => "error",
        }
    }

    /// The outcome named `s`, if any.
    pub fn parse(s: &str) -> Option<Outcome> {
        [Outcome::Ok, Outcome::Refused, Outcome::Error].into_iter().find(|o| o.as_str() == s)
    }
}

/// `POST /sync/{realm}/reports` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Router name (the RADIUS agent reports as `radius`). Must not be blank.
    pub router: String,
    /// When the pass started (RFC 3339).
    #[serde(default)]
    pub started_at: Option<String>,
    /// When the pass ended (RFC 3339).
    #[serde(default)]
    pub finished_at: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// Changes the plan contained.
    #[serde(default)]
    pub drift_found: u64,
    /// Changes applied and verified.
    #[serde(default)]
    pub drift_fixed: u64,
    /// Error texts.
    #[serde(default)]
    pub errors: Vec<String>,
    /// Anything else the reporter wants in the drift log.
    #[serde(default)]
    pub details: serde_json::Value,
    /// Disables the mass-disable guard holds on this router until an operator confirms them
    /// (absent: nothing held, or a reconciler older than this field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<HeldDisables>,
}

/// Disables held on a router by the mass-disable guard, waiting for an operator
/// (`POST /sync/{realm}/reports`, [`Report::held`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldDisables {
    /// Names this hold: a confirmation carries it back ([`crate::DisablesConfirmation`]) and
    /// releases only this hold. A hold that grows (more subscribers held) gets a new id, so a
    /// confirmation never releases disables held after the operator saw them.
    pub hold_id: u64,
    /// Subscribers the held changes would take offline.
    pub disables: u64,
    /// When they were first held (RFC 3339).
    pub since: String,
    /// Why they are held (the guard's words).
    #[serde(default)]
    pub reason: String,
    /// The held subscribers' usernames (without the realm), sorted, at most
    /// [`MAX_HELD_USERNAMES`](crate::MAX_HELD_USERNAMES).
    #[serde(default)]
    pub usernames: Vec<String>,
}

/// The 202 answer to a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportAccepted {
    /// Always `true`.
    pub accepted: bool,
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn report_round_trips(router in "\\PC{1,12}", started in prop::option::of("2026-12-03T1[0-9]:00:00Z"),
            outcome in prop::sample::select(vec![Outcome::Ok, Outcome::Refused, Outcome::Error]),
            found in any::<u64>(), fixed in any::<u64>(), errors in prop::collection::vec("\\PC{0,20}", 0..3)) {
            let r = Report {
                router, started_at: started.clone(), finished_at: started, outcome, drift_found: found,
                drift_fixed: fixed, errors, details: serde_json::json!({"kind": "full"}), held: None,
            };
            let back: Report = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
            prop_assert_eq!(back, r);
        }
    }

    proptest! {
        #[test]
        fn report_with_held_disables_round_trips(hold_id in any::<u64>(), disables in any::<u64>(),
            usernames in prop::collection::vec("[a-z0-9.]{1,12}", 0..5), reason in "\\PC{0,30}") {
            let r = Report {
                router: "tower-1".into(), started_at: None, finished_at: None, outcome: Outcome::Refused,
                drift_found: 3, drift_fixed: 0, errors: vec![], details: serde_json::json!({}),
                held: Some(HeldDisables { hold_id, disables, since: "2026-12-06T07:15:00Z".into(), reason, usernames }),
            };
            let back: Report = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
            prop_assert_eq!(back, r);
        }
    }

    #[test]
    fn report_of_an_older_reconciler_holds_nothing_and_an_older_edge_ignores_held() {
        // An older reconciler sends no `held`.
        let r: Report = serde_json::from_str(r#"{"router":"r","outcome":"ok"}"#).expect("parse");
        assert_eq!(r.held, None);
        assert!(!serde_json::to_string(&r).unwrap().contains("held"), "nothing held: not on the wire");
        // An older edge reads a newer report with the fields it knows (serde ignores the rest).
        #[derive(serde::Deserialize)]
        struct OldReport {
            router: String,
            outcome: Outcome,
        }
        let new = Report {
            router: "r".into(),
            started_at: None,
            finished_at: None,
            outcome: Outcome::Refused,
            drift_found: 0,
            drift_fixed: 0,
            errors: vec![],
            details: serde_json::Value::Null,
            held: Some(HeldDisables {
                hold_id: 7,
                disables: 2,
                since: "2026-12-06T07:15:00Z".into(),
                reason: String::new(),
                usernames: vec!["a".into(), "b".into()],
            }),
        };
        let old: OldReport = serde_json::from_str(&serde_json::to_string(&new).unwrap()).expect("old parse");
        assert_eq!((old.router.as_str(), old.outcome), ("r", Outcome::Refused));
    }

    #[test]
    fn report_minimal_body_takes_defaults() {
        let r: Report = serde_json::from_str(r#"{"router":"tower-1","outcome":"ok","drift_found":2,"drift_fixed":2}"#)
            .expect("parse");
        assert_eq!((r.outcome, r.drift_found, r.errors.len(), r.started_at), (Outcome::Ok, 2, 0, None));
    }

    #[test]
    fn report_unknown_outcome_is_refused() {
        assert!(serde_json::from_str::<Report>(r#"{"router":"r","outcome":"meh"}"#).is_err());
        assert_eq!(Outcome::parse("refused"), Some(Outcome::Refused));
        assert_eq!(Outcome::parse("meh"), None);
    }

    #[test]
    fn report_accepted_round_trips() {
        let a = ReportAccepted { accepted: true };
        assert_eq!(serde_json::to_string(&a).unwrap(), r#"{"accepted":true}"#);
        assert_eq!(serde_json::from_str::<ReportAccepted>(r#"{"accepted":true}"#).unwrap(), a);
    }
}

//! Usage and online sessions reported from RADIUS accounting.

use crate::db::{Db, Statement, StoreError};
use crate::stmt;

/// Wire types of `POST /sync/{realm}/usage`, stored as they arrive (the contract crate's).
pub use konnekted_sync_proto::{DailyUsage, OnlineSession};

/// RADIUS may report `user@realm`; billing knows `user`.
pub fn bare(username: &str) -> String {
    username.split('@').next().unwrap_or(username).to_ascii_lowercase()
}

pub fn upsert_day(u: &DailyUsage, at: &str) -> Statement {
    stmt!(
        "INSERT INTO usage_daily (username, day, input_octets, output_octets, online_seconds, sessions, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (username, day) DO UPDATE SET \
         input_octets = excluded.input_octets, output_octets = excluded.output_octets, \
         online_seconds = excluded.online_seconds, sessions = excluded.sessions, updated_at = excluded.updated_at",
        bare(&u.username),
        &u.day,
        u.input_octets,
        u.output_octets,
        u.online_seconds,
        u.sessions,
        at,
    )
}

/// How long ended sessions stay in the history.
pub const SESSION_HISTORY_DAYS: i64 = 90;

/// Replaces the set of open sessions with a push's, and keeps the history: every session in
/// the push is open (first seen now, or seen again), every open one missing from it has ended.
pub fn replace_online(sessions: &[OnlineSession], at: &str) -> Vec<Statement> {
    let mut out = vec![Statement::new("DELETE FROM online_sessions")];
    out.push(stmt!("UPDATE session_history SET gone_at = ?1 WHERE gone_at IS NULL", at));
    if let Some(cut) = crate::domain::time::parse_ts(at)
        .map(|t| crate::domain::time::fmt_ts(t - chrono::Duration::days(SESSION_HISTORY_DAYS)))
    {
        out.push(stmt!("DELETE FROM session_history WHERE gone_at IS NOT NULL AND gone_at < ?1", cut));
    }
    for s in sessions {
        let started = s.started_at.as_ref().map(|t| t.to_text());
        out.push(stmt!(
            "INSERT INTO session_history (nas_ip, session_id, username, framed_ip, started_at, first_seen_at, \
             last_seen_at, gone_at, input_octets, output_octets) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, NULL, ?7, ?8) \
             ON CONFLICT (nas_ip, session_id) DO UPDATE SET last_seen_at = excluded.last_seen_at, gone_at = NULL, \
             framed_ip = excluded.framed_ip, input_octets = excluded.input_octets, \
             output_octets = excluded.output_octets",
            &s.nas_ip,
            &s.session_id,
            bare(&s.username),
            s.framed_ip.clone(),
            started.clone(),
            at,
            s.input_octets,
            s.output_octets,
        ));
        out.push(stmt!(
            "INSERT OR REPLACE INTO online_sessions (nas_ip, session_id, username, framed_ip, started_at, input_octets, \
             output_octets, reported_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            &s.nas_ip,
            &s.session_id,
            bare(&s.username),
            s.framed_ip.clone(),
            started,
            s.input_octets,
            s.output_octets,
            at,
        ));
    }
    out
}

pub async fn days(
    db: &impl Db,
    username: Option<&str>,
    from: &str,
    to: &str,
    limit: i64,
) -> Result<Vec<DailyUsage>, StoreError> {
    let rows = db
        .query(&stmt!(
            "SELECT username, day, input_octets, output_octets, online_seconds, sessions FROM usage_daily \
             WHERE (?1 IS NULL OR username = ?1) AND day >= ?2 AND day <= ?3 ORDER BY day DESC, username LIMIT ?4",
            username.map(bare),
            from,
            to,
            limit
        ))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(DailyUsage {
                username: r.text("username")?,
                day: r.text("day")?,
                input_octets: r.int("input_octets")?,
                output_octets: r.int("output_octets")?,
                online_seconds: r.int("online_seconds")?,
                sessions: r.int("sessions")?,
            })
        })
        .collect()
}

/// A session online now, with its subscriber when known.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
#[schemars(rename = "OnlineSession")]
pub struct OnlineNow {
    pub username: String,
    pub nas_ip: String,
    pub session_id: String,
    pub framed_ip: Option<String>,
    pub started_at: Option<String>,
    pub input_octets: i64,
    pub output_octets: i64,
    pub reported_at: String,
    pub subscriber_id: Option<String>,
    pub name: Option<String>,
    pub account_no: Option<String>,
}

/// Who is online, with the subscriber's name and account when known.
pub async fn online(db: &impl Db) -> Result<Vec<OnlineNow>, StoreError> {
    let rows = db
        .query(&stmt!(
            "SELECT o.username, o.nas_ip, o.session_id, o.framed_ip, o.started_at, o.input_octets, o.output_octets, \
             o.reported_at, s.id AS subscriber_id, s.name, s.account_no FROM online_sessions o \
             LEFT JOIN subscribers s ON s.username = o.username ORDER BY o.username"
        ))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(OnlineNow {
                username: r.text("username")?,
                nas_ip: r.text("nas_ip")?,
                session_id: r.text("session_id")?,
                framed_ip: r.opt_text("framed_ip")?,
                started_at: r.opt_text("started_at")?,
                input_octets: r.int("input_octets")?,
                output_octets: r.int("output_octets")?,
                reported_at: r.text("reported_at")?,
                subscriber_id: r.opt_text("subscriber_id")?,
                name: r.opt_text("name")?,
                account_no: r.opt_text("account_no")?,
            })
        })
        .collect()
}

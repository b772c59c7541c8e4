//! Accounting read: sessions from a tenant's `radacct`, daily usage per subscriber, who is online.
//!
//! The summariser ([`summarise_daily`]) is pure; [`read_sessions`] / [`online_sessions`] are the SQL.
//!
//! ## Attribution rule (sessions spanning days)
//! `radacct` keeps one row per session with the NAS's *running totals* (octets since the session
//! began), updated on every Interim-Update and on Stop; there is no per-interval history. So a
//! session's totals are spread over the calendar days its interval `[start, end]` overlaps,
//! **in proportion to the seconds of overlap** (uniform-rate assumption), where
//! `end = AcctStopTime`, else `AcctUpdateTime` (last interim), else `start`. Integer octets are split
//! with floor division and the remainder goes to the last day, so the per-day figures of a session
//! always add up exactly to its totals. A zero-length session counts entirely on its start day.
//! Days are calendar days at a caller-given UTC offset (Africa/Nairobi = +3 h = 10,800 s).
//! Re-running over the same rows gives the same figures (idempotent), and an open session's
//! figures only grow as interim updates arrive. Sessions without any start time are placed by
//! `end - AcctSessionTime`.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::Row;

use crate::db::{Backend, DbError, RadiusDb};

/// One `radacct` row, times as Unix seconds (UTC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AcctSession {
    pub radacct_id: i64,
    pub unique_id: String,
    pub session_id: String,
    pub username: String,
    pub realm: Option<String>,
    pub nas_ip: String,
    pub framed_ip: Option<String>,
    pub start: Option<i64>,
    pub last_update: Option<i64>,
    pub stop: Option<i64>,
    pub session_time: Option<i64>,
    /// From the subscriber (upload).
    pub input_octets: i64,
    /// To the subscriber (download).
    pub output_octets: i64,
    pub terminate_cause: Option<String>,
}

impl AcctSession {
    pub fn is_online(&self) -> bool {
        self.stop.is_none()
    }

    /// The session interval used for attribution (see the module doc).
    pub fn interval(&self) -> Option<(i64, i64)> {
        let end = self.stop.or(self.last_update).or(self.start)?;
        let start = self.start.unwrap_or(end - self.session_time.unwrap_or(0).max(0));
        Some((start.min(end), end))
    }
}

/// Usage of one subscriber on one day: the sync API's wire type, so the agent sends what
/// this module sums without a copy (`sessions` counts sessions that overlap the day).
pub use konnekted_sync_proto::DailyUsage;

fn floor_div(a: i64, b: i64) -> i64 {
    a.div_euclid(b)
}

/// Civil date of a day number (days since 1970-01-01), Howard Hinnant's algorithm.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = floor_div(z, 146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

pub fn day_string(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Split `total` over `parts` weights proportionally; floor each, remainder to the last part.
fn split_proportional(total: i64, weights: &[i64]) -> Vec<i64> {
    let sum: i64 = weights.iter().sum();
    if weights.is_empty() {
        return Vec::new();
    }
    if sum <= 0 {
        let mut v = vec![0; weights.len()];
        v[0] = total;
        return v;
    }
    let mut out: Vec<i64> = weights.iter().map(|w| ((total as i128 * *w as i128) / sum as i128) as i64).collect();
    let assigned: i64 = out.iter().sum();
    *out.last_mut().expect("non-empty") += total - assigned;
    out
}

/// Per-day parts of one session: (day number, seconds of overlap, input, output).
pub fn attribute_session(s: &AcctSession, utc_offset_secs: i64) -> Vec<(i64, i64, i64, i64)> {
    let Some((start, end)) = s.interval() else { return Vec::new() };
    let (ls, le) = (start + utc_offset_secs, end + utc_offset_secs);
    let first = floor_div(ls, 86_400);
    let last = floor_div(le, 86_400);
    let mut days = Vec::new();
    let mut weights = Vec::new();
    for day in first..=last {
        let lo = ls.max(day * 86_400);
        let hi = le.min((day + 1) * 86_400);
        days.push(day);
        weights.push((hi - lo).max(0));
    }
    let input = split_proportional(s.input_octets.max(0), &weights);
    let output = split_proportional(s.output_octets.max(0), &weights);
    days.into_iter().zip(weights).zip(input.into_iter().zip(output)).map(|((d, w), (i, o))| (d, w, i, o)).collect()
}

/// Daily usage per subscriber, sorted by (username, day). See the module doc for the rule.
/// `days`: optional inclusive range of day numbers to keep (at the same offset).
pub fn summarise_daily(sessions: &[AcctSession], utc_offset_secs: i64, days: Option<(i64, i64)>) -> Vec<DailyUsage> {
    let mut acc: BTreeMap<(String, i64), DailyUsage> = BTreeMap::new();
    for s in sessions {
        for (day, secs, i, o) in attribute_session(s, utc_offset_secs) {
            if let Some((a, b)) = days
                && (day < a || day > b)
            {
                continue;
            }
            let e = acc.entry((s.username.clone(), day)).or_insert_with(|| DailyUsage {
                username: s.username.clone(),
                day: day_string(day),
                input_octets: 0,
                output_octets: 0,
                online_seconds: 0,
                sessions: 0,
            });
            e.input_octets += i;
            e.output_octets += o;
            e.online_seconds += secs;
            e.sessions += 1;
        }
    }
    acc.into_values().collect()
}

/// Sessions still open (no Stop yet), most recent first.
pub fn online(sessions: &[AcctSession]) -> Vec<AcctSession> {
    let mut v: Vec<AcctSession> = sessions.iter().filter(|s| s.is_online()).cloned().collect();
    v.sort_by_key(|s| std::cmp::Reverse(s.last_update.or(s.start)));
    v
}

// ---------------------------------------------------------------------------------------------
// SQL side

fn epoch(b: Backend, col: &str) -> String {
    match b {
        Backend::Postgresql => format!("CAST(EXTRACT(EPOCH FROM {col}) AS BIGINT)"),
        Backend::Mysql => format!("CAST(UNIX_TIMESTAMP({col}) AS SIGNED)"),
        // The stock sqlite queries store epoch integers; accept text datetimes too.
        Backend::Sqlite => format!(
            "(CASE WHEN typeof({col}) IN ('integer', 'real') THEN CAST({col} AS INTEGER) \
             WHEN {col} IS NULL THEN NULL ELSE CAST(strftime('%s', {col}) AS INTEGER) END)"
        ),
    }
}

fn text(b: Backend, col: &str) -> String {
    match b {
        Backend::Postgresql => format!("CAST({col} AS TEXT)"),
        Backend::Mysql => format!("CAST({col} AS CHAR)"),
        Backend::Sqlite => format!("CAST({col} AS TEXT)"),
    }
}

fn int(b: Backend, col: &str) -> String {
    match b {
        Backend::Mysql => format!("CAST(COALESCE({col}, 0) AS SIGNED)"),
        _ => format!("CAST(COALESCE({col}, 0) AS BIGINT)"),
    }
}

fn select_list(b: Backend) -> String {
    format!(
        "{}, acctuniqueid, acctsessionid, COALESCE(username, ''), realm, {}, {}, {}, {}, {}, {}, {}, {}, acctterminatecause",
        int(b, "radacctid"),
        text(b, "nasipaddress"),
        text(b, "framedipaddress"),
        epoch(b, "acctstarttime"),
        epoch(b, "acctupdatetime"),
        epoch(b, "acctstoptime"),
        match b {
            Backend::Mysql => "CAST(acctsessiontime AS SIGNED)".to_string(),
            _ => "CAST(acctsessiontime AS BIGINT)".to_string(),
        },
        int(b, "acctinputoctets"),
        int(b, "acctoutputoctets"),
    )
}

fn decode(r: &sqlx::any::AnyRow) -> Result<AcctSession, sqlx::Error> {
    Ok(AcctSession {
        radacct_id: r.try_get(0)?,
        unique_id: r.try_get(1)?,
        session_id: r.try_get(2)?,
        username: r.try_get(3)?,
        realm: r.try_get(4)?,
        nas_ip: r.try_get::<Option<String>, _>(5)?.unwrap_or_default(),
        framed_ip: r.try_get::<Option<String>, _>(6)?.filter(|f| !f.is_empty()),
        start: r.try_get(7)?,
        last_update: r.try_get(8)?,
        stop: r.try_get(9)?,
        session_time: r.try_get(10)?,
        input_octets: r.try_get(11)?,
        output_octets: r.try_get(12)?,
        terminate_cause: r.try_get::<Option<String>, _>(13)?.filter(|c| !c.is_empty()),
    })
}

/// Sessions overlapping `[from, to)` (Unix seconds): started before `to` and not stopped before `from`.
pub async fn read_sessions(db: &RadiusDb, from: i64, to: i64) -> Result<Vec<AcctSession>, DbError> {
    let b = db.backend();
    let sql = format!(
        "SELECT {} FROM radacct WHERE ({stop} IS NULL OR {stop} >= {p1}) AND ({start} IS NULL OR {start} < {p2}) ORDER BY radacctid",
        select_list(b),
        stop = epoch(b, "acctstoptime"),
        start = epoch(b, "acctstarttime"),
        p1 = b.ph(1),
        p2 = b.ph(2),
    );
    let rows = sqlx::query(&sql).bind(from).bind(to).fetch_all(db.pool()).await?;
    Ok(rows.iter().map(decode).collect::<Result<_, _>>()?)
}

/// Who is online: sessions with `AcctStopTime IS NULL` (uses the partial/open-session index).
pub async fn online_sessions(db: &RadiusDb) -> Result<Vec<AcctSession>, DbError> {
    let b = db.backend();
    let sql = format!("SELECT {} FROM radacct WHERE acctstoptime IS NULL ORDER BY radacctid", select_list(b));
    let rows = sqlx::query(&sql).fetch_all(db.pool()).await?;
    Ok(online(&rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn s(user: &str, start: i64, update: Option<i64>, stop: Option<i64>, i: i64, o: i64) -> AcctSession {
        AcctSession {
            radacct_id: 1,
            unique_id: format!("{user}{start}"),
            session_id: "x".into(),
            username: user.into(),
            realm: Some("acme".into()),
            nas_ip: "10.0.0.1".into(),
            framed_ip: None,
            start: Some(start),
            last_update: update,
            stop,
            session_time: None,
            input_octets: i,
            output_octets: o,
            terminate_cause: None,
        }
    }

    const DAY: i64 = 86_400;
    // 2026-11-27 00:00:00 UTC
    const D0: i64 = 1_795_737_600;

    #[test]
    fn civil_dates_are_right() {
        assert_eq!(day_string(0), "1970-01-01");
        assert_eq!(day_string(D0 / DAY), "2026-11-27");
        assert_eq!(day_string(-1), "1969-12-31");
        assert_eq!(day_string(11_016), "2000-02-29");
    }

    #[test]
    fn session_within_a_day_counts_fully_on_that_day() {
        let v = summarise_daily(&[s("alice", D0 + 100, None, Some(D0 + 200), 5000, 9000)], 0, None);
        assert_eq!(v.len(), 1);
        assert_eq!(
            (v[0].day.as_str(), v[0].input_octets, v[0].output_octets, v[0].online_seconds),
            ("2026-11-27", 5000, 9000, 100)
        );
    }

    #[test]
    fn session_spanning_midnight_is_split_by_time() {
        // 1 h before midnight, 3 h after: 1/4 and 3/4
        let v = summarise_daily(&[s("bob", D0 + DAY - 3600, None, Some(D0 + DAY + 3 * 3600), 4000, 8001)], 0, None);
        assert_eq!(v.len(), 2);
        assert_eq!((v[0].input_octets, v[0].output_octets, v[0].online_seconds), (1000, 2000, 3600));
        assert_eq!((v[1].input_octets, v[1].output_octets, v[1].online_seconds), (3000, 6001, 3 * 3600));
        assert_eq!(v[1].day, "2026-11-28");
    }

    #[test]
    fn nairobi_offset_moves_the_day_boundary() {
        // 22:30 UTC = 01:30 EAT next day
        let v =
            summarise_daily(&[s("c", D0 + 22 * 3600 + 1800, None, Some(D0 + 22 * 3600 + 1900), 1, 1)], 3 * 3600, None);
        assert_eq!(v[0].day, "2026-11-28");
    }

    #[test]
    fn open_session_uses_last_interim_and_is_online() {
        let open = s("dave", D0, Some(D0 + 600), None, 10, 20);
        let v = summarise_daily(std::slice::from_ref(&open), 0, None);
        assert_eq!(v[0].online_seconds, 600);
        assert_eq!(online(&[open.clone(), s("e", D0, None, Some(D0 + 1), 0, 0)]), vec![open]);
    }

    #[test]
    fn day_filter_keeps_only_requested_days() {
        let v = summarise_daily(
            &[s("bob", D0 + DAY - 3600, None, Some(D0 + DAY + 3600), 2, 2)],
            0,
            Some((D0 / DAY + 1, D0 / DAY + 1)),
        );
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].day, "2026-11-28");
    }

    proptest! {
        #[test]
        fn per_day_parts_add_up_to_session_totals(start in 0i64..10_000_000, len in 0i64..1_000_000,
            i in 0i64..1_000_000_000_000, o in 0i64..1_000_000_000_000, off in -43_200i64..50_400) {
            let sess = s("p", start, None, Some(start + len), i, o);
            let parts = attribute_session(&sess, off);
            prop_assert_eq!(parts.iter().map(|p| p.2).sum::<i64>(), i);
            prop_assert_eq!(parts.iter().map(|p| p.3).sum::<i64>(), o);
            prop_assert_eq!(parts.iter().map(|p| p.1).sum::<i64>(), len);
            prop_assert!(parts.iter().all(|p| p.2 >= 0 && p.3 >= 0));
        }
    }
}

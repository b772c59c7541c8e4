//! Voucher redemptions and the devices each redeemed code serves (migration 0007).

use chrono::{DateTime, Utc};

use crate::db::{Db, Row, Statement, StoreError};
use crate::domain::redemption::{BoundDevice, Mac};
use crate::domain::time::{fmt_ts, parse_ts};
use crate::stmt;

/// An issued batch as redemption sees it, with its plan's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedBatch {
    pub id: u32,
    pub count: u32,
    pub valid_until: Option<DateTime<Utc>>,
    pub voided: bool,
    pub plan_id: String,
    pub plan_code: String,
    pub plan_name: String,
    pub period_seconds: i64,
    pub down_kbps: i64,
    pub up_kbps: i64,
    pub data_cap_bytes: Option<i64>,
    pub max_devices: i64,
}

/// A redeemed code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redemption {
    pub batch_id: u32,
    pub serial: u32,
    pub code: String,
    pub first_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub bytes_used: i64,
    pub version: i64,
}

fn ts(r: &Row<'_>, name: &str) -> Result<DateTime<Utc>, StoreError> {
    parse_ts(&r.text(name)?).ok_or_else(|| StoreError::Corrupt(format!("{name} is not a timestamp")))
}

fn small(r: &Row<'_>, name: &str) -> Result<u32, StoreError> {
    u32::try_from(r.int(name)?).map_err(|_| StoreError::Corrupt(format!("voucher {name}")))
}

/// The batch `id` with its plan, if issued.
pub async fn batch(db: &impl Db, id: u32) -> Result<Option<IssuedBatch>, StoreError> {
    let rows = db
        .query(&stmt!(
            "SELECT b.id, b.count, b.valid_until, b.voided_at, p.id AS plan_id, p.code, p.name, p.period_seconds, \
             p.down_kbps, p.up_kbps, p.data_cap_bytes, p.max_devices \
             FROM voucher_batches b JOIN plans p ON p.id = b.plan_id WHERE b.id = ?1",
            i64::from(id)
        ))
        .await?;
    let Some(r) = rows.first() else { return Ok(None) };
    Ok(Some(IssuedBatch {
        id: small(&r, "id")?,
        count: small(&r, "count")?,
        valid_until: r.opt_text("valid_until")?.as_deref().and_then(parse_ts),
        voided: r.opt_text("voided_at")?.is_some(),
        plan_id: r.text("plan_id")?,
        plan_code: r.text("code")?,
        plan_name: r.text("name")?,
        period_seconds: r.int("period_seconds")?,
        down_kbps: r.int("down_kbps")?,
        up_kbps: r.int("up_kbps")?,
        data_cap_bytes: r.opt_int("data_cap_bytes")?,
        max_devices: r.int("max_devices")?,
    }))
}

const COLS: &str = "batch_id, serial, code, first_used_at, expires_at, bytes_used, version";

fn from_row(r: &Row<'_>) -> Result<Redemption, StoreError> {
    Ok(Redemption {
        batch_id: small(r, "batch_id")?,
        serial: small(r, "serial")?,
        code: r.text("code")?,
        first_used_at: ts(r, "first_used_at")?,
        expires_at: ts(r, "expires_at")?,
        bytes_used: r.int("bytes_used")?,
        version: r.int("version")?,
    })
}

pub async fn get(db: &impl Db, batch_id: u32, serial: u32) -> Result<Option<Redemption>, StoreError> {
    let rows = db
        .query(&stmt!(
            format!("SELECT {COLS} FROM voucher_redemptions WHERE batch_id = ?1 AND serial = ?2"),
            i64::from(batch_id),
            i64::from(serial)
        ))
        .await?;
    rows.first().map(|r| from_row(&r)).transpose()
}

/// Redemptions still running at `now` (for the RADIUS agent), oldest expiry first.
pub async fn active(db: &impl Db, now: DateTime<Utc>, limit: i64) -> Result<Vec<Redemption>, StoreError> {
    let rows = db
        .query(&stmt!(
            format!("SELECT {COLS} FROM voucher_redemptions WHERE expires_at > ?1 ORDER BY expires_at LIMIT ?2"),
            fmt_ts(now),
            limit
        ))
        .await?;
    rows.iter().map(|r| from_row(&r)).collect()
}

pub async fn devices(db: &impl Db, batch_id: u32, serial: u32) -> Result<Vec<BoundDevice>, StoreError> {
    let rows = db
        .query(&stmt!(
            "SELECT mac, last_seen_at FROM voucher_devices WHERE batch_id = ?1 AND serial = ?2 ORDER BY bound_at",
            i64::from(batch_id),
            i64::from(serial)
        ))
        .await?;
    rows.iter()
        .map(|r| {
            let mac = Mac::parse(&r.text("mac")?).ok_or_else(|| StoreError::Corrupt("voucher device mac".into()))?;
            Ok(BoundDevice { mac, last_seen: ts(&r, "last_seen_at")? })
        })
        .collect()
}

/// Sessions of `code` the routers last reported online (bare or as `code@realm`).
pub async fn online(db: &impl Db, code: &str, realm: &str) -> Result<i64, StoreError> {
    let rows = db
        .query(&stmt!(
            "SELECT COUNT(*) AS n FROM online_sessions WHERE username = ?1 OR username = ?1 || '@' || ?2",
            code,
            realm
        ))
        .await?;
    rows.first().map(|r| r.int("n")).transpose().map(|n| n.unwrap_or(0))
}

/// Bytes `code` used since its first use, from the usage reports (accounting), in and out.
pub async fn bytes_from_usage(db: &impl Db, code: &str, realm: &str) -> Result<i64, StoreError> {
    let rows = db
        .query(&stmt!(
            "SELECT COALESCE(SUM(input_octets + output_octets), 0) AS n FROM usage_daily \
             WHERE username = ?1 OR username = ?1 || '@' || ?2",
            code,
            realm
        ))
        .await?;
    rows.first().map(|r| r.int("n")).transpose().map(|n| n.unwrap_or(0))
}

/// A redeemed code still running, with what RADIUS's own copy needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Running {
    pub code: String,
    pub plan: String,
    pub expires_at: String,
    /// Bound devices, oldest binding first.
    pub macs: Vec<String>,
    /// Its plan's data cap less the bytes used (the larger of the recorded figure and the
    /// accounting reports); `None` without a cap. Always positive.
    pub bytes_left: Option<i64>,
}

/// Redeemed codes still running at `now`, for RADIUS's own copy, ordered by code. Left out:
/// expired ones, those of voided batches, and those whose data cap is used up (by the recorded
/// bytes or the usage reports, as a login through the edge counts them).
pub async fn running(db: &impl Db, now: DateTime<Utc>, realm: &str) -> Result<Vec<Running>, StoreError> {
    let rows = db
        .query(&stmt!(
            "SELECT r.batch_id, r.serial, r.code, p.code AS plan, r.expires_at, p.data_cap_bytes AS cap, \
             CASE WHEN p.data_cap_bytes IS NULL THEN 0 ELSE MAX(r.bytes_used, \
               (SELECT COALESCE(SUM(u.input_octets + u.output_octets), 0) FROM usage_daily u \
                WHERE u.username = r.code OR u.username = r.code || '@' || ?2)) END AS used \
             FROM voucher_redemptions r \
             JOIN voucher_batches b ON b.id = r.batch_id JOIN plans p ON p.id = r.plan_id \
             WHERE r.expires_at > ?1 AND b.voided_at IS NULL ORDER BY r.code",
            fmt_ts(now),
            realm
        ))
        .await?;
    let devices = db
        .query(&stmt!(
            "SELECT d.batch_id, d.serial, d.mac FROM voucher_devices d \
             JOIN voucher_redemptions r ON r.batch_id = d.batch_id AND r.serial = d.serial \
             WHERE r.expires_at > ?1 ORDER BY d.bound_at, d.mac",
            fmt_ts(now)
        ))
        .await?;
    let mut macs: std::collections::HashMap<(i64, i64), Vec<String>> = std::collections::HashMap::new();
    for d in devices.iter() {
        macs.entry((d.int("batch_id")?, d.int("serial")?)).or_default().push(d.text("mac")?);
    }
    let mut out = Vec::with_capacity(rows.len());
    for r in rows.iter() {
        let bytes_left = match r.opt_int("cap")? {
            Some(cap) => match cap - r.int("used")? {
                left if left > 0 => Some(left),
                _ => continue,
            },
            None => None,
        };
        out.push(Running {
            code: r.text("code")?,
            plan: r.text("plan")?,
            expires_at: r.text("expires_at")?,
            macs: macs.remove(&(r.int("batch_id")?, r.int("serial")?)).unwrap_or_default(),
            bytes_left,
        });
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)] // one column each, named at the call
/// The first use. Fails with a conflict if the code was redeemed already: put it first in the
/// batch so a race's loser writes nothing at all.
pub fn insert(
    batch_id: u32,
    serial: u32,
    code: &str,
    plan_id: &str,
    first_used_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    mac: &Mac,
    ip: &str,
) -> Statement {
    stmt!(
        "INSERT INTO voucher_redemptions (batch_id, serial, code, plan_id, first_used_at, expires_at, first_mac, \
         first_ip) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        i64::from(batch_id),
        i64::from(serial),
        code,
        plan_id,
        fmt_ts(first_used_at),
        fmt_ts(expires_at),
        mac.as_str(),
        ip,
    )
}

/// Optimistic guard on the device set: bump `version` only if still `expected`, and make the
/// batch fail if it was not (the `occ_guard` pattern of the subscribers).
pub fn guard(batch_id: u32, serial: u32, expected: i64) -> [Statement; 3] {
    [
        stmt!(
            "UPDATE voucher_redemptions SET version = version + 1 WHERE batch_id = ?1 AND serial = ?2 AND version = ?3",
            i64::from(batch_id),
            i64::from(serial),
            expected
        ),
        Statement::new("INSERT INTO occ_guard (changed) VALUES (changes())"),
        Statement::new("DELETE FROM occ_guard"),
    ]
}

pub fn bind(batch_id: u32, serial: u32, mac: &Mac, now: DateTime<Utc>) -> Statement {
    stmt!(
        "INSERT INTO voucher_devices (batch_id, serial, mac, bound_at, last_seen_at) VALUES (?1, ?2, ?3, ?4, ?4) \
         ON CONFLICT (batch_id, serial, mac) DO UPDATE SET last_seen_at = excluded.last_seen_at",
        i64::from(batch_id),
        i64::from(serial),
        mac.as_str(),
        fmt_ts(now)
    )
}

pub fn unbind(batch_id: u32, serial: u32, mac: &Mac) -> Statement {
    stmt!(
        "DELETE FROM voucher_devices WHERE batch_id = ?1 AND serial = ?2 AND mac = ?3",
        i64::from(batch_id),
        i64::from(serial),
        mac.as_str()
    )
}

/// Raises the bytes a code has used (from accounting); never lowers it.
pub fn record_bytes(code: &str, bytes: i64) -> Statement {
    stmt!("UPDATE voucher_redemptions SET bytes_used = MAX(bytes_used, ?2) WHERE code = ?1", code, bytes)
}

/// Voids a batch: its codes are refused from now on, used or not.
pub fn void_batch(id: u32, at: DateTime<Utc>) -> Statement {
    stmt!("UPDATE voucher_batches SET voided_at = COALESCE(voided_at, ?2) WHERE id = ?1", i64::from(id), fmt_ts(at))
}

//! Subscribers.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::db::{Db, Row, Statement, StoreError};
use crate::domain::Money;
use crate::domain::msisdn::Msisdn;
use crate::domain::names::{AccountNo, Username, loose_account};
use crate::domain::subscriber::Status;
use crate::domain::time::{fmt_ts, parse_ts};
use crate::stmt;

#[derive(Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[schemars(rename = "SubscriberFields")]
pub struct Subscriber {
    pub id: String,
    pub account_no: AccountNo,
    pub name: String,
    pub phone: Option<Msisdn>,
    pub username: Username,
    #[serde(skip)]
    pub password: String,
    pub site: Option<String>,
    pub static_ip: Option<String>,
    pub plan_id: String,
    pub status: Status,
    pub expires_at: Option<DateTime<Utc>>,
    pub auto_renew: bool,
    pub version: i64,
    pub created_at: DateTime<Utc>,
}

/// Like a derived `Debug`, without the PPPoE password.
impl std::fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscriber")
            .field("id", &self.id)
            .field("account_no", &self.account_no)
            .field("name", &self.name)
            .field("phone", &self.phone)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("site", &self.site)
            .field("static_ip", &self.static_ip)
            .field("plan_id", &self.plan_id)
            .field("status", &self.status)
            .field("expires_at", &self.expires_at)
            .field("auto_renew", &self.auto_renew)
            .field("version", &self.version)
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// A subscriber with the derived balance.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[schemars(rename = "Subscriber")]
pub struct WithBalance {
    #[serde(flatten)]
    pub subscriber: Subscriber,
    pub balance_cents: i64,
}

impl WithBalance {
    pub fn balance(&self) -> Money {
        Money(self.balance_cents)
    }
}

const COLS: &str = "s.id, s.account_no, s.name, s.phone, s.username, s.password, s.site, s.static_ip, s.plan_id, \
                    s.status, s.expires_at, s.auto_renew, s.version, s.created_at, \
                    s.balance_cents";

fn from_row(r: &Row<'_>) -> Result<WithBalance, StoreError> {
    Ok(WithBalance {
        subscriber: Subscriber {
            id: r.text("id")?,
            account_no: AccountNo::from_stored(r.text("account_no")?),
            name: r.text("name")?,
            phone: r.opt_text("phone")?.map(Msisdn::from_stored),
            username: Username::from_stored(r.text("username")?),
            password: r.text("password")?,
            site: r.opt_text("site")?,
            static_ip: r.opt_text("static_ip")?,
            plan_id: r.text("plan_id")?,
            status: Status::parse(&r.text("status")?).ok_or_else(|| StoreError::Corrupt("status".into()))?,
            expires_at: r.opt_text("expires_at")?.and_then(|s| parse_ts(&s)),
            auto_renew: r.bool("auto_renew")?,
            version: r.int("version")?,
            created_at: parse_ts(&r.text("created_at")?).unwrap_or_default(),
        },
        balance_cents: r.int("balance_cents")?,
    })
}

async fn one(db: &impl Db, s: Statement) -> Result<Option<WithBalance>, StoreError> {
    let rows = db.query(&s).await?;
    rows.first().map(|r| from_row(&r)).transpose()
}

async fn many(db: &impl Db, s: Statement) -> Result<Vec<WithBalance>, StoreError> {
    let rows = db.query(&s).await?;
    rows.iter().map(|r| from_row(&r)).collect()
}

pub async fn get(db: &impl Db, id: &str) -> Result<Option<WithBalance>, StoreError> {
    one(db, stmt!(format!("SELECT {COLS} FROM subscribers s WHERE s.id = ?1"), id)).await
}

pub async fn by_account(db: &impl Db, canonical: &str) -> Result<Option<WithBalance>, StoreError> {
    one(db, stmt!(format!("SELECT {COLS} FROM subscribers s WHERE s.account_no = ?1"), canonical)).await
}

/// A subscriber named the way an operator names one: by id, account number (any case or
/// spacing that canonicalises to it) or PPPoE username, in that order. Every admin route that
/// takes a subscriber in its path or body resolves it with this.
pub async fn find(db: &impl Db, key: &str) -> Result<Option<WithBalance>, StoreError> {
    let key = key.trim();
    if key.is_empty() {
        return Ok(None);
    }
    if let Some(s) = get(db, key).await? {
        return Ok(Some(s));
    }
    let canonical = crate::domain::names::canonical_account(key);
    if !canonical.is_empty()
        && let Some(s) = by_account(db, &canonical).await?
    {
        return Ok(Some(s));
    }
    by_username(db, key).await
}

/// Second matching pass: several matches means no match (ambiguity goes to a human).
pub async fn by_account_loose(db: &impl Db, raw: &str) -> Result<Option<WithBalance>, StoreError> {
    let found = many(
        db,
        stmt!(format!("SELECT {COLS} FROM subscribers s WHERE s.account_loose = ?1 LIMIT 2"), loose_account(raw)),
    )
    .await?;
    Ok(if found.len() == 1 { found.into_iter().next() } else { None })
}

/// Also matches the username, which many customers type instead.
pub async fn by_username(db: &impl Db, username: &str) -> Result<Option<WithBalance>, StoreError> {
    one(db, stmt!(format!("SELECT {COLS} FROM subscribers s WHERE s.username = ?1"), username.to_ascii_lowercase()))
        .await
}

pub async fn by_phone_unique(db: &impl Db, phone: &str) -> Result<Option<WithBalance>, StoreError> {
    let found = many(db, stmt!(format!("SELECT {COLS} FROM subscribers s WHERE s.phone = ?1 LIMIT 2"), phone)).await?;
    Ok(if found.len() == 1 { found.into_iter().next() } else { None })
}

pub async fn list(db: &impl Db, status: Option<&str>, limit: i64, offset: i64) -> Result<Vec<WithBalance>, StoreError> {
    match status {
        Some(st) => {
            many(
                db,
                stmt!(
                    format!(
                        "SELECT {COLS} FROM subscribers s WHERE s.status = ?1 ORDER BY s.account_no LIMIT ?2 OFFSET ?3"
                    ),
                    st,
                    limit,
                    offset
                ),
            )
            .await
        }
        None => {
            many(
                db,
                stmt!(
                    format!("SELECT {COLS} FROM subscribers s ORDER BY s.account_no LIMIT ?1 OFFSET ?2"),
                    limit,
                    offset
                ),
            )
            .await
        }
    }
}

/// Active subscribers whose period ended before `now`: the expiry pass's work list.
pub async fn due_for_tick(db: &impl Db, now: DateTime<Utc>, limit: i64) -> Result<Vec<WithBalance>, StoreError> {
    many(
        db,
        stmt!(
            format!(
                "SELECT {COLS} FROM subscribers s WHERE s.status = 'active' AND s.expires_at <= ?1 \
                 ORDER BY s.expires_at LIMIT ?2"
            ),
            fmt_ts(now),
            limit
        ),
    )
    .await
}

pub fn insert(s: &Subscriber) -> Statement {
    stmt!(
        "INSERT INTO subscribers (id, account_no, account_loose, name, phone, username, password, site, static_ip, \
         plan_id, status, expires_at, auto_renew, version, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 0, ?14)",
        &s.id,
        s.account_no.as_str(),
        loose_account(s.account_no.as_str()),
        &s.name,
        s.phone.as_ref().map(|p| p.as_str().to_owned()),
        s.username.as_str(),
        &s.password,
        s.site.clone(),
        s.static_ip.clone(),
        &s.plan_id,
        s.status.as_str(),
        s.expires_at.map(fmt_ts),
        s.auto_renew,
        fmt_ts(s.created_at),
    )
}

/// Writes the billing state (status, expiry). Goes after `occ_bump` in a batch.
pub fn set_state(id: &str, status: Status, expires_at: Option<DateTime<Utc>>) -> Statement {
    stmt!(
        "UPDATE subscribers SET status = ?2, expires_at = ?3 WHERE id = ?1",
        id,
        status.as_str(),
        expires_at.map(fmt_ts)
    )
}

/// Writes the profile fields an operator edits.
pub fn set_profile(s: &Subscriber) -> Statement {
    stmt!(
        "UPDATE subscribers SET name = ?2, phone = ?3, password = ?4, site = ?5, static_ip = ?6, auto_renew = ?7, \
         plan_id = ?8 WHERE id = ?1",
        &s.id,
        &s.name,
        s.phone.as_ref().map(|p| p.as_str().to_owned()),
        &s.password,
        s.site.clone(),
        s.static_ip.clone(),
        s.auto_renew,
        &s.plan_id,
    )
}

/// Money arrived that the renewal logic has not looked at yet. No version guard: recording a
/// payment never waits for, or loses to, another change of the subscriber. The version still
/// moves, so any decision made on an older snapshot (renewal, expiry) is retried with it.
pub fn mark_unsettled(id: &str) -> Statement {
    stmt!("UPDATE subscribers SET version = version + 1, needs_settle = 1 WHERE id = ?1", id)
}

/// Cleared by the settlement that saw all the money (always after a version guard in its batch).
pub fn mark_settled(id: &str) -> Statement {
    stmt!("UPDATE subscribers SET needs_settle = 0 WHERE id = ?1", id)
}

/// Subscribers with money not yet settled (a settlement lost its races): the scheduled pass.
pub async fn unsettled_ids(db: &impl Db, limit: i64) -> Result<Vec<String>, StoreError> {
    let rows = db.query(&stmt!("SELECT id FROM subscribers WHERE needs_settle = 1 LIMIT ?1", limit)).await?;
    rows.iter().map(|r| r.text("id")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriber_debug_hides_the_pppoe_password() {
        let s = Subscriber {
            id: "s1".into(),
            account_no: AccountNo::parse("ACC1").unwrap(),
            name: "Jane".into(),
            phone: None,
            username: Username::parse("acc1").unwrap(),
            password: "hunter2-pppoe".into(),
            site: None,
            static_ip: None,
            plan_id: "p".into(),
            status: Status::Active,
            expires_at: None,
            auto_renew: true,
            version: 0,
            created_at: DateTime::<Utc>::default(),
        };
        let shown = format!("{s:?} {:?}", WithBalance { subscriber: s.clone(), balance_cents: 0 });
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("ACC1"));
    }
}

/// What the console's subscriber list asks for: free text over name, phone, account number and
/// username, and filters by status, plan and expiry.
#[derive(Debug, Clone, Default)]
pub struct Search<'a> {
    pub text: &'a str,
    pub status: Option<&'a str>,
    pub plan_id: Option<&'a str>,
    /// Only those whose period ends before this time (e.g. "expiring within 7 days").
    pub expires_before: Option<DateTime<Utc>>,
}

fn search_where(s: &Search<'_>) -> (String, Vec<crate::db::Value>) {
    let text = s.text.trim();
    let like = format!("%{}%", text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
    let phone = crate::domain::Msisdn::parse(text).map(|m| m.as_str().to_owned()).unwrap_or_default();
    let canonical = crate::domain::names::canonical_account(text);
    let sql = "(?1 = '' OR s.name LIKE ?2 ESCAPE '\\' OR s.username LIKE ?2 ESCAPE '\\' \
               OR s.account_no LIKE ?2 ESCAPE '\\' OR s.phone LIKE ?2 ESCAPE '\\' OR s.phone = ?3 \
               OR s.account_no = ?4) \
               AND (?5 IS NULL OR s.status = ?5) AND (?6 IS NULL OR s.plan_id = ?6) \
               AND (?7 IS NULL OR (s.expires_at IS NOT NULL AND s.expires_at < ?7))"
        .to_owned();
    let params = vec![
        text.into(),
        like.into(),
        phone.into(),
        canonical.into(),
        s.status.into(),
        s.plan_id.into(),
        s.expires_before.map(fmt_ts).into(),
    ];
    (sql, params)
}

/// One page of the search, and how many match in all.
pub async fn search(
    db: &impl Db,
    s: &Search<'_>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<WithBalance>, i64), StoreError> {
    let (w, params) = search_where(s);
    let mut page =
        Statement::new(format!("SELECT {COLS} FROM subscribers s WHERE {w} ORDER BY s.account_no LIMIT ?8 OFFSET ?9"));
    page.params = params.clone();
    page.params.push(limit.into());
    page.params.push(offset.into());
    let mut count = Statement::new(format!("SELECT COUNT(*) AS n FROM subscribers s WHERE {w}"));
    count.params = params;
    let total = db.query(&count).await?.first().map(|r| r.int("n")).transpose()?.unwrap_or(0);
    Ok((many(db, page).await?, total))
}

/// What the network needs of one subscriber (the sync API's desired state), with the plan's code.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkRow {
    pub id: String,
    pub username: String,
    pub password: crate::secret::Secret,
    pub plan_code: String,
    pub status: String,
    pub static_ip: Option<String>,
    pub site: Option<String>,
    pub expires_at: Option<String>,
}

/// Every subscriber as the network sees it, ordered by username. The hotspot sales account only
/// collects money; it is nobody's login, so it is left out.
pub async fn network_rows(db: &impl Db) -> Result<Vec<NetworkRow>, StoreError> {
    let rows = db
        .query(&stmt!(
            "SELECT s.id, s.username, s.password, p.code AS plan, s.status, s.static_ip, s.site, s.expires_at \
             FROM subscribers s JOIN plans p ON p.id = s.plan_id WHERE s.id <> ?1 ORDER BY s.username",
            crate::store::hotspot_sales::SALES_ACCOUNT_ID
        ))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(NetworkRow {
                id: r.text("id")?,
                username: r.text("username")?,
                password: crate::secret::Secret::new(r.text("password")?),
                plan_code: r.text("plan")?,
                status: r.text("status")?,
                static_ip: r.opt_text("static_ip")?,
                site: r.opt_text("site")?,
                expires_at: r.opt_text("expires_at")?,
            })
        })
        .collect()
}

//! The customer API's self-service rows (migration 0015): a plan change at renewal, a pause,
//! the subscriber's devices, support tickets and the operator's network notices.

use serde::Serialize;

use crate::db::{Db, Statement, StoreError};
use crate::openapi::field;
use crate::stmt;

/// The self-service state kept on the subscriber's row.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Extras {
    pub pending_plan_id: Option<String>,
    pub paused_at: Option<String>,
    pub paused_until: Option<String>,
    pub paused_seconds_left: Option<i64>,
}

pub async fn extras(db: &impl Db, subscriber_id: &str) -> Result<Extras, StoreError> {
    let rows = db
        .query(&stmt!(
            "SELECT pending_plan_id, paused_at, paused_until, paused_seconds_left FROM subscribers WHERE id = ?1",
            subscriber_id
        ))
        .await?;
    let r = rows.first().ok_or(StoreError::NotFound)?;
    Ok(Extras {
        pending_plan_id: r.opt_text("pending_plan_id")?,
        paused_at: r.opt_text("paused_at")?,
        paused_until: r.opt_text("paused_until")?,
        paused_seconds_left: r.opt_int("paused_seconds_left")?,
    })
}

pub fn set_pending_plan(subscriber_id: &str, plan_id: Option<&str>) -> Statement {
    stmt!("UPDATE subscribers SET pending_plan_id = ?2 WHERE id = ?1", subscriber_id, plan_id)
}

/// Makes the pending change: the plan becomes the pending one and nothing is pending.
pub fn take_pending_plan(subscriber_id: &str, plan_id: &str) -> Statement {
    stmt!("UPDATE subscribers SET plan_id = ?2, pending_plan_id = NULL WHERE id = ?1", subscriber_id, plan_id)
}

pub fn set_pause(subscriber_id: &str, at: &str, until: &str, seconds_left: i64) -> Statement {
    stmt!(
        "UPDATE subscribers SET paused_at = ?2, paused_until = ?3, paused_seconds_left = ?4 WHERE id = ?1",
        subscriber_id,
        at,
        until,
        seconds_left
    )
}

pub fn clear_pause(subscriber_id: &str) -> Statement {
    stmt!(
        "UPDATE subscribers SET paused_at = NULL, paused_until = NULL, paused_seconds_left = NULL WHERE id = ?1",
        subscriber_id
    )
}

/// Subscribers whose pending plan change is due (their paid time has run out, or they never had
/// any) and who are not suspended.
pub async fn pending_changes_due(db: &impl Db, now: &str, limit: i64) -> Result<Vec<String>, StoreError> {
    let rows = db
        .query(&stmt!(
            "SELECT id FROM subscribers WHERE pending_plan_id IS NOT NULL AND status != 'suspended' \
             AND (expires_at IS NULL OR expires_at <= ?1) ORDER BY id LIMIT ?2",
            now,
            limit
        ))
        .await?;
    rows.iter().map(|r| r.text("id")).collect()
}

/// Records a pause as it starts (for `pause_max_per_year`).
pub fn record_pause(subscriber_id: &str, started_at: &str, until: &str) -> Statement {
    stmt!(
        "INSERT INTO subscriber_pauses (subscriber_id, started_at, until) VALUES (?1, ?2, ?3)",
        subscriber_id,
        started_at,
        until
    )
}

/// When the subscriber's pauses started since `since`, oldest first.
pub async fn pauses_since(db: &impl Db, subscriber_id: &str, since: &str) -> Result<Vec<String>, StoreError> {
    let rows = db
        .query(&stmt!(
            "SELECT started_at FROM subscriber_pauses WHERE subscriber_id = ?1 AND started_at > ?2 ORDER BY started_at",
            subscriber_id,
            since
        ))
        .await?;
    rows.iter().map(|r| r.text("started_at")).collect()
}

/// Paused subscribers whose pause has reached its end.
pub async fn pauses_due(db: &impl Db, now: &str, limit: i64) -> Result<Vec<String>, StoreError> {
    let rows = db
        .query(&stmt!(
            "SELECT id FROM subscribers WHERE paused_until IS NOT NULL AND paused_until <= ?1 ORDER BY id LIMIT ?2",
            now,
            limit
        ))
        .await?;
    rows.iter().map(|r| r.text("id")).collect()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Device {
    #[schemars(pattern(r"^([0-9A-F]{2}:){5}[0-9A-F]{2}$"))]
    pub mac: String,
    pub name: String,
    #[schemars(schema_with = "field::ts")]
    pub created_at: String,
}

pub async fn devices(db: &impl Db, subscriber_id: &str) -> Result<Vec<Device>, StoreError> {
    let rows = db
        .query(&stmt!(
            "SELECT mac, name, created_at FROM subscriber_devices WHERE subscriber_id = ?1 ORDER BY created_at, mac",
            subscriber_id
        ))
        .await?;
    rows.iter()
        .map(|r| Ok(Device { mac: r.text("mac")?, name: r.text("name")?, created_at: r.text("created_at")? }))
        .collect()
}

/// Adds a device; the batch fails with a conflict when the subscriber already has that MAC.
pub fn insert_device(subscriber_id: &str, mac: &str, name: &str, at: &str) -> Statement {
    stmt!(
        "INSERT INTO subscriber_devices (subscriber_id, mac, name, created_at) VALUES (?1, ?2, ?3, ?4)",
        subscriber_id,
        mac,
        name,
        at
    )
}

pub fn delete_device(subscriber_id: &str, mac: &str) -> Statement {
    stmt!("DELETE FROM subscriber_devices WHERE subscriber_id = ?1 AND mac = ?2", subscriber_id, mac)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[schemars(rename = "TicketSummary")]
pub struct Ticket {
    pub id: String,
    pub subject: String,
    #[schemars(extend("enum" = ["open", "answered", "closed"]))]
    pub status: String,
    #[schemars(schema_with = "field::ts")]
    pub created_at: String,
    #[schemars(schema_with = "field::ts")]
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct TicketMessage {
    pub id: i64,
    #[schemars(extend("enum" = ["subscriber", "staff"]))]
    pub author: String,
    pub body: String,
    #[schemars(schema_with = "field::ts")]
    pub created_at: String,
}

fn ticket(r: &crate::db::Row<'_>) -> Result<Ticket, StoreError> {
    Ok(Ticket {
        id: r.text("id")?,
        subject: r.text("subject")?,
        status: r.text("status")?,
        created_at: r.text("created_at")?,
        updated_at: r.text("updated_at")?,
    })
}

/// A subscriber's tickets, most recently changed first.
pub async fn tickets(db: &impl Db, subscriber_id: &str, limit: i64) -> Result<Vec<Ticket>, StoreError> {
    let rows = db
        .query(&stmt!(
            "SELECT id, subject, status, created_at, updated_at FROM tickets WHERE subscriber_id = ?1 \
             ORDER BY updated_at DESC, id DESC LIMIT ?2",
            subscriber_id,
            limit
        ))
        .await?;
    rows.iter().map(|r| ticket(&r)).collect()
}

/// One ticket, only if it is the subscriber's.
pub async fn ticket_of(db: &impl Db, subscriber_id: &str, id: &str) -> Result<Option<Ticket>, StoreError> {
    let rows = db
        .query(&stmt!(
            "SELECT id, subject, status, created_at, updated_at FROM tickets WHERE id = ?1 AND subscriber_id = ?2",
            id,
            subscriber_id
        ))
        .await?;
    rows.first().map(|r| ticket(&r)).transpose()
}

pub async fn ticket_messages(db: &impl Db, ticket_id: &str) -> Result<Vec<TicketMessage>, StoreError> {
    let rows = db
        .query(&stmt!(
            "SELECT id, author, body, created_at FROM ticket_messages WHERE ticket_id = ?1 ORDER BY id",
            ticket_id
        ))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(TicketMessage {
                id: r.int("id")?,
                author: r.text("author")?,
                body: r.text("body")?,
                created_at: r.text("created_at")?,
            })
        })
        .collect()
}

pub fn insert_ticket(id: &str, subscriber_id: &str, subject: &str, at: &str) -> Statement {
    stmt!(
        "INSERT INTO tickets (id, subscriber_id, subject, status, created_at, updated_at) \
         VALUES (?1, ?2, ?3, 'open', ?4, ?4)",
        id,
        subscriber_id,
        subject,
        at
    )
}

pub fn insert_message(ticket_id: &str, author: &str, body: &str, at: &str) -> Statement {
    stmt!(
        "INSERT INTO ticket_messages (ticket_id, author, body, created_at) VALUES (?1, ?2, ?3, ?4)",
        ticket_id,
        author,
        body,
        at
    )
}

/// A subscriber's message reopens the ticket.
pub fn touch_ticket(ticket_id: &str, status: &str, at: &str) -> Statement {
    stmt!("UPDATE tickets SET status = ?2, updated_at = ?3 WHERE id = ?1", ticket_id, status, at)
}

/// A ticket as staff see it: whose it is, and how many messages it has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaffTicket {
    #[serde(flatten)]
    pub ticket: Ticket,
    pub subscriber_id: String,
    pub account_no: String,
    pub name: String,
    pub messages: i64,
}

const STAFF_TICKET: &str = "SELECT t.id, t.subject, t.status, t.created_at, t.updated_at, t.subscriber_id, \
                            s.account_no, s.name, \
                            (SELECT COUNT(*) FROM ticket_messages m WHERE m.ticket_id = t.id) AS messages \
                            FROM tickets t JOIN subscribers s ON s.id = t.subscriber_id";

fn staff_ticket(r: &crate::db::Row<'_>) -> Result<StaffTicket, StoreError> {
    Ok(StaffTicket {
        ticket: ticket(r)?,
        subscriber_id: r.text("subscriber_id")?,
        account_no: r.text("account_no")?,
        name: r.text("name")?,
        messages: r.int("messages")?,
    })
}

/// Every subscriber's tickets in one status (`open`, `answered`, `closed`), the longest waiting
/// first for open ones and the most recently changed first otherwise.
pub async fn tickets_by_status(
    db: &impl Db,
    status: &str,
    limit: i64,
    offset: i64,
) -> Result<Vec<StaffTicket>, StoreError> {
    let order = if status == "open" { "ASC" } else { "DESC" };
    let rows = db
        .query(&stmt!(
            format!(
                "{STAFF_TICKET} WHERE t.status = ?1 ORDER BY t.updated_at {order}, t.id {order} LIMIT ?2 OFFSET ?3"
            ),
            status,
            limit,
            offset
        ))
        .await?;
    rows.iter().map(|r| staff_ticket(&r)).collect()
}

/// How many tickets are in each status.
pub async fn ticket_counts(db: &impl Db) -> Result<Vec<(String, i64)>, StoreError> {
    let rows = db.query(&stmt!("SELECT status, COUNT(*) AS n FROM tickets GROUP BY status")).await?;
    rows.iter().map(|r| Ok((r.text("status")?, r.int("n")?))).collect()
}

/// Any subscriber's ticket (staff).
pub async fn ticket_for_staff(db: &impl Db, id: &str) -> Result<Option<StaffTicket>, StoreError> {
    let rows = db.query(&stmt!(format!("{STAFF_TICKET} WHERE t.id = ?1"), id)).await?;
    rows.first().map(|r| staff_ticket(&r)).transpose()
}

/// Whether the subscriber wants staff replies to their tickets by SMS as well.
pub async fn ticket_reply_sms(db: &impl Db, subscriber_id: &str) -> Result<bool, StoreError> {
    let rows = db.query(&stmt!("SELECT ticket_reply_sms FROM subscribers WHERE id = ?1", subscriber_id)).await?;
    Ok(rows.first().map(|r| r.int("ticket_reply_sms")).transpose()?.unwrap_or(1) != 0)
}

pub fn set_ticket_reply_sms(subscriber_id: &str, on: bool) -> Statement {
    stmt!("UPDATE subscribers SET ticket_reply_sms = ?2 WHERE id = ?1", subscriber_id, i64::from(on))
}

/// Messages a subscriber wrote since `since` (the flood limit).
pub async fn messages_since(db: &impl Db, subscriber_id: &str, since: &str) -> Result<i64, StoreError> {
    let rows = db
        .query(&stmt!(
            "SELECT COUNT(*) AS n FROM ticket_messages m JOIN tickets t ON t.id = m.ticket_id \
             WHERE t.subscriber_id = ?1 AND m.author = 'subscriber' AND m.created_at >= ?2",
            subscriber_id,
            since
        ))
        .await?;
    rows.first().map(|r| r.int("n")).transpose().map(|n| n.unwrap_or(0))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Notice {
    pub id: String,
    #[schemars(extend("enum" = ["outage", "maintenance"]))]
    pub kind: String,
    pub site: Option<String>,
    pub title: String,
    pub body: String,
    #[schemars(schema_with = "field::ts")]
    pub starts_at: String,
    #[schemars(schema_with = "field::opt_ts")]
    pub ends_at: Option<String>,
    #[schemars(schema_with = "field::ts")]
    pub created_at: String,
}

pub fn insert_notice(n: &Notice) -> Statement {
    stmt!(
        "INSERT INTO network_notices (id, kind, site, title, body, starts_at, ends_at, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        &n.id,
        &n.kind,
        n.site.as_deref(),
        &n.title,
        &n.body,
        &n.starts_at,
        n.ends_at.as_deref(),
        &n.created_at
    )
}

/// Notices not over at `now` for `site` (and for every site), soonest first. `site` None: every
/// notice (the operator's list).
pub async fn notices(db: &impl Db, site: Option<Option<&str>>, now: &str) -> Result<Vec<Notice>, StoreError> {
    let (all, site) = match site {
        None => (1, None),
        Some(s) => (0, s),
    };
    let rows = db
        .query(&stmt!(
            "SELECT id, kind, site, title, body, starts_at, ends_at, created_at FROM network_notices \
             WHERE (ends_at IS NULL OR ends_at > ?1) AND (?3 = 1 OR site IS NULL OR site = ?2) \
             ORDER BY starts_at, id LIMIT 100",
            now,
            site,
            all
        ))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Notice {
                id: r.text("id")?,
                kind: r.text("kind")?,
                site: r.opt_text("site")?,
                title: r.text("title")?,
                body: r.text("body")?,
                starts_at: r.text("starts_at")?,
                ends_at: r.opt_text("ends_at")?,
                created_at: r.text("created_at")?,
            })
        })
        .collect()
}

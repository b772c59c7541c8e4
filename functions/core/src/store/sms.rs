//! The SMS outbox: every message the tenant sends is a row here first.
//!
//! `enqueue` returns a [`Statement`] so that it goes in the same atomic batch as its cause (an OTP
//! challenge, a receipt...): the message exists if and only if its cause was written. Sending is
//! somebody else's job: a provider adapter drains `queued` rows and moves them on with
//! [`set_status`]. Until one is configured the rows stay `queued` and the tenant admin API
//! `GET /api/t/{realm}/sms-outbox` is the development sink (tests and the demo read OTPs there).

use serde::Serialize;

use crate::db::{Db, Row, Statement, StoreError};
use crate::stmt;

/// Why a message is sent: transactional (OTPs, receipts; always sent) or promotional (may be
/// opted out of, quiet hours).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(rename = "SmsKind")]
pub enum Kind {
    Transactional,
    Promotional,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Transactional => "transactional",
            Kind::Promotional => "promotional",
        }
    }
}

/// `queued` when written; a drain holds it as `sending`, then `sent`, then `delivered` or `failed`.
pub const STATUS_QUEUED: &str = "queued";
pub const STATUS_SENDING: &str = "sending";
pub const STATUS_SENT: &str = "sent";
pub const STATUS_DELIVERED: &str = "delivered";
pub const STATUS_FAILED: &str = "failed";

/// One message of the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Sms {
    pub id: String,
    /// The recipient, `2547XXXXXXXX`.
    pub to: String,
    pub body: String,
    pub kind: Kind,
    /// `sw` or `en`.
    #[schemars(extend("enum" = ["sw", "en"]))]
    pub language: String,
    pub status: String,
    pub created_at: String,
    pub subscriber_id: Option<String>,
    pub attempts: i64,
    pub provider_message_id: Option<String>,
    /// The provider's last word about it (`Success`, `InvalidPhoneNumber`, `DeliveryFailure`...).
    pub provider_status: Option<String>,
    /// What the provider charged, in ten-thousandths of a shilling.
    pub cost_e4: Option<i64>,
    pub last_error: Option<String>,
    pub sent_at: Option<String>,
    /// Not sent at or after this time (sign-in codes); null: no limit.
    pub send_before: Option<String>,
}

/// [`enqueue`] for a message worthless after `send_before` (a sign-in code): a drain that finds it
/// later marks it failed instead of sending it.
pub fn enqueue_until(id: &str, to: &str, body: &str, language: &str, at: &str, send_before: &str) -> Statement {
    stmt!(
        format!("INSERT INTO sms_outbox ({COLS}, send_before) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
        id,
        to,
        body,
        Kind::Transactional.as_str(),
        language,
        STATUS_QUEUED,
        at,
        send_before,
    )
}

const COLS: &str = "id, to_msisdn, body, kind, language, status, created_at";
const READ: &str = "id, to_msisdn, body, kind, language, status, created_at, subscriber_id, attempts, \
                    provider_message_id, provider_status, cost_e4, last_error, sent_at, send_before";

fn from_row(r: &Row<'_>) -> Result<Sms, StoreError> {
    let kind = match r.text("kind")?.as_str() {
        "promotional" => Kind::Promotional,
        _ => Kind::Transactional,
    };
    Ok(Sms {
        id: r.text("id")?,
        to: r.text("to_msisdn")?,
        body: r.text("body")?,
        kind,
        language: r.text("language")?,
        status: r.text("status")?,
        created_at: r.text("created_at")?,
        subscriber_id: r.opt_text("subscriber_id")?,
        attempts: r.int("attempts")?,
        provider_message_id: r.opt_text("provider_message_id")?,
        provider_status: r.opt_text("provider_status")?,
        cost_e4: r.opt_int("cost_e4")?,
        last_error: r.opt_text("last_error")?,
        sent_at: r.opt_text("sent_at")?,
        send_before: r.opt_text("send_before")?,
    })
}

/// The statement that queues `body` to `to`; put it in the batch that writes its cause.
pub fn enqueue(id: &str, to: &str, body: &str, kind: Kind, language: &str, at: &str) -> Statement {
    stmt!(
        format!("INSERT INTO sms_outbox ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
        id,
        to,
        body,
        kind.as_str(),
        language,
        STATUS_QUEUED,
        at,
    )
}

/// Moves a message on (`sent`, `delivered`, `failed`...).
pub fn set_status(id: &str, status: &str) -> Statement {
    stmt!("UPDATE sms_outbox SET status = ?2 WHERE id = ?1", id, status)
}

/// Newest first; optionally only those to `to` and/or in `status`.
pub async fn list(db: &impl Db, to: Option<&str>, status: Option<&str>, limit: i64) -> Result<Vec<Sms>, StoreError> {
    let rows = db
        .query(&stmt!(
            format!(
                "SELECT {READ} FROM sms_outbox WHERE (?1 IS NULL OR to_msisdn = ?1) AND (?2 IS NULL OR status = ?2) \
                 ORDER BY created_at DESC, id DESC LIMIT ?3"
            ),
            to,
            status,
            limit
        ))
        .await?;
    rows.iter().map(|r| from_row(&r)).collect()
}

/// The oldest `queued` messages, for a sender to drain.
pub async fn queued(db: &impl Db, limit: i64) -> Result<Vec<Sms>, StoreError> {
    let rows = db
        .query(&stmt!(
            format!("SELECT {READ} FROM sms_outbox WHERE status = ?1 ORDER BY created_at, id LIMIT ?2"),
            STATUS_QUEUED,
            limit
        ))
        .await?;
    rows.iter().map(|r| from_row(&r)).collect()
}

/// A message to a subscriber, in their language: queued only if they have a phone (and, for a
/// promotional one, have not opted out), at most once per `dedupe_key`. The phone and language
/// are read inside the statement, so it needs no read before the batch that writes its cause.
pub struct ToSubscriber<'a> {
    pub id: &'a str,
    pub subscriber_id: &'a str,
    /// One message per cause: `receipt:<payment id>`, `reminder:<subscriber>:<expiry>:<stage>`...
    pub dedupe_key: &'a str,
    pub body_en: &'a str,
    pub body_sw: &'a str,
    pub kind: Kind,
    /// The tenant's language for subscribers who did not choose one.
    pub default_language: &'a str,
    pub at: &'a str,
    /// Not sent before this (promotional hours); `None`: at once.
    pub not_before: Option<&'a str>,
}

pub fn enqueue_for(m: &ToSubscriber<'_>) -> Statement {
    stmt!(
        "INSERT OR IGNORE INTO sms_outbox (id, to_msisdn, body, kind, language, status, created_at, subscriber_id, \
         dedupe_key, next_attempt_at) \
         SELECT ?1, s.phone, CASE COALESCE(s.language, ?6) WHEN 'en' THEN ?4 ELSE ?5 END, ?7, \
                COALESCE(s.language, ?6), 'queued', ?8, s.id, ?3, ?9 \
         FROM subscribers s WHERE s.id = ?2 AND s.phone IS NOT NULL AND s.phone != '' \
           AND (?7 = 'transactional' OR NOT EXISTS (SELECT 1 FROM sms_optouts o WHERE o.msisdn = s.phone))",
        m.id,
        m.subscriber_id,
        m.dedupe_key,
        m.body_en,
        m.body_sw,
        m.default_language,
        m.kind.as_str(),
        m.at,
        m.not_before,
    )
}

/// Messages a drain should try now: queued and due, or held by a drain that never finished
/// (crashed) past its hold. Oldest first.
pub async fn due(db: &impl Db, now: &str, limit: i64) -> Result<Vec<Sms>, StoreError> {
    let rows = db
        .query(&stmt!(
            format!(
                "SELECT {READ} FROM sms_outbox WHERE (status = 'queued' AND (next_attempt_at IS NULL OR next_attempt_at <= ?1)) \
                 OR (status = 'sending' AND claimed_until < ?1) ORDER BY created_at, id LIMIT ?2"
            ),
            now,
            limit
        ))
        .await?;
    rows.iter().map(|r| from_row(&r)).collect()
}

/// Takes a message for one send attempt until `until`; the batch fails (`Conflict`) when another
/// drain took it first (its `attempts` moved on).
pub fn claim(id: &str, attempts: i64, until: &str) -> [Statement; 3] {
    [
        stmt!(
            "UPDATE sms_outbox SET status = 'sending', attempts = attempts + 1, claimed_until = ?3 \
             WHERE id = ?1 AND attempts = ?2 AND status IN ('queued', 'sending')",
            id,
            attempts,
            until
        ),
        Statement::new("INSERT INTO occ_guard (changed) VALUES (changes())"),
        Statement::new("DELETE FROM occ_guard"),
    ]
}

/// Gives back the attempt a claim counted (nothing was sent: the message goes back as it was).
pub fn undo_attempt(id: &str) -> Statement {
    stmt!("UPDATE sms_outbox SET attempts = attempts - 1 WHERE id = ?1 AND attempts > 0", id)
}

/// The provider accepted it.
pub fn mark_sent(
    id: &str,
    message_id: Option<&str>,
    provider_status: &str,
    cost_e4: Option<i64>,
    at: &str,
) -> Statement {
    stmt!(
        "UPDATE sms_outbox SET status = 'sent', provider_message_id = ?2, provider_status = ?3, cost_e4 = ?4, \
         sent_at = ?5, claimed_until = NULL, last_error = NULL WHERE id = ?1",
        id,
        message_id,
        provider_status,
        cost_e4,
        at
    )
}

/// It will not go (refused, opted out, or out of attempts).
pub fn mark_failed(id: &str, provider_status: Option<&str>, error: &str) -> Statement {
    stmt!(
        "UPDATE sms_outbox SET status = 'failed', provider_status = COALESCE(?2, provider_status), last_error = ?3, \
         claimed_until = NULL WHERE id = ?1",
        id,
        provider_status,
        error
    )
}

/// Back to the queue, not before `next_at` (a retry after backoff, or promotional hours).
pub fn requeue(id: &str, next_at: &str, error: Option<&str>) -> Statement {
    stmt!(
        "UPDATE sms_outbox SET status = 'queued', next_attempt_at = ?2, last_error = COALESCE(?3, last_error), \
         claimed_until = NULL WHERE id = ?1",
        id,
        next_at,
        error
    )
}

/// A delivery report. A final one (delivered or failed) replaces whatever was there, so the latest
/// final report wins; one that is not final only notes the provider's word while none final came.
pub fn apply_report(message_id: &str, delivered: Option<bool>, provider_status: &str, at: &str) -> Statement {
    let status = match delivered {
        Some(true) => Some(STATUS_DELIVERED),
        Some(false) => Some(STATUS_FAILED),
        None => None,
    };
    stmt!(
        "UPDATE sms_outbox SET status = COALESCE(?2, status), provider_status = ?3, \
         reported_at = CASE WHEN ?2 IS NULL THEN reported_at ELSE ?4 END \
         WHERE provider_message_id = ?1 AND (?2 IS NOT NULL OR status NOT IN ('delivered', 'failed'))",
        message_id,
        status,
        provider_status,
        at
    )
}

pub async fn by_provider_id(db: &impl Db, message_id: &str) -> Result<Option<Sms>, StoreError> {
    let rows =
        db.query(&stmt!(format!("SELECT {READ} FROM sms_outbox WHERE provider_message_id = ?1"), message_id)).await?;
    rows.iter().next().map(|r| from_row(&r)).transpose()
}

pub fn opt_out(msisdn: &str, source: &str, at: &str) -> Statement {
    stmt!("INSERT OR IGNORE INTO sms_optouts (msisdn, source, created_at) VALUES (?1, ?2, ?3)", msisdn, source, at)
}

pub fn opt_in(msisdn: &str) -> Statement {
    stmt!("DELETE FROM sms_optouts WHERE msisdn = ?1", msisdn)
}

pub async fn opted_out(db: &impl Db, msisdn: &str) -> Result<bool, StoreError> {
    Ok(!db.query(&stmt!("SELECT 1 AS x FROM sms_optouts WHERE msisdn = ?1", msisdn)).await?.is_empty())
}

pub async fn optouts(db: &impl Db) -> Result<Vec<(String, String, String)>, StoreError> {
    let rows = db.query(&stmt!("SELECT msisdn, source, created_at FROM sms_optouts ORDER BY created_at DESC")).await?;
    rows.iter().map(|r| Ok((r.text("msisdn")?, r.text("source")?, r.text("created_at")?))).collect()
}

/// What SMS cost the tenant per day (UTC date of sending) since `since`: (day, messages, cost_e4).
pub async fn costs(db: &impl Db, since: &str) -> Result<Vec<(String, i64, i64)>, StoreError> {
    let rows = db
        .query(&stmt!(
            "SELECT substr(sent_at, 1, 10) AS day, COUNT(*) AS n, COALESCE(SUM(cost_e4), 0) AS cost \
             FROM sms_outbox WHERE sent_at IS NOT NULL AND sent_at >= ?1 GROUP BY day ORDER BY day",
            since
        ))
        .await?;
    rows.iter().map(|r| Ok((r.text("day")?, r.int("n")?, r.int("cost")?))).collect()
}

/// A subscriber an expiry reminder may be due for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReminderCandidate {
    pub subscriber_id: String,
    pub account_no: String,
    pub expires_at: String,
    pub auto_renew: bool,
    pub balance_cents: i64,
    pub price_cents: i64,
    pub period_seconds: i64,
}

/// Subscribers with a phone, active or expired, whose expiry is within `[from, to]`.
pub async fn reminder_candidates(
    db: &impl Db,
    from: &str,
    to: &str,
    limit: i64,
) -> Result<Vec<ReminderCandidate>, StoreError> {
    let rows = db
        .query(&stmt!(
            "SELECT s.id, s.account_no, s.expires_at, s.auto_renew, s.balance_cents, p.price_cents, p.period_seconds \
             FROM subscribers s JOIN plans p ON p.id = s.plan_id \
             WHERE s.phone IS NOT NULL AND s.phone != '' AND s.status IN ('active', 'expired') \
               AND s.expires_at >= ?1 AND s.expires_at <= ?2 ORDER BY s.expires_at LIMIT ?3",
            from,
            to,
            limit
        ))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(ReminderCandidate {
                subscriber_id: r.text("id")?,
                account_no: r.text("account_no")?,
                expires_at: r.text("expires_at")?,
                auto_renew: r.int("auto_renew")? != 0,
                balance_cents: r.int("balance_cents")?,
                price_cents: r.int("price_cents")?,
                period_seconds: r.int("period_seconds")?,
            })
        })
        .collect()
}

/// A message to a number (not a subscriber), once per `dedupe_key`.
pub fn enqueue_once(
    id: &str,
    to: &str,
    body: &str,
    kind: Kind,
    language: &str,
    dedupe_key: &str,
    at: &str,
) -> Statement {
    stmt!(
        "INSERT OR IGNORE INTO sms_outbox (id, to_msisdn, body, kind, language, status, created_at, dedupe_key) \
         VALUES (?1, ?2, ?3, ?4, ?5, 'queued', ?6, ?7)",
        id,
        to,
        body,
        kind.as_str(),
        language,
        at,
        dedupe_key
    )
}

/// Captive-portal sales paid since `since` whose code has not been sent by SMS yet:
/// (checkout request id, buyer's number, package name).
pub async fn paid_sales_without_code_sms(
    db: &impl Db,
    since: &str,
) -> Result<Vec<(String, String, String)>, StoreError> {
    let rows = db
        .query(&stmt!(
            "SELECT h.checkout_request_id, h.msisdn, p.name FROM hotspot_sales h \
             JOIN stk_requests s ON s.checkout_request_id = h.checkout_request_id \
             JOIN plans p ON p.id = h.plan_id \
             WHERE s.status = 'paid' AND h.created_at >= ?1 \
               AND NOT EXISTS (SELECT 1 FROM sms_outbox o WHERE o.dedupe_key = 'voucher:' || h.checkout_request_id) \
             ORDER BY h.created_at LIMIT 500",
            since
        ))
        .await?;
    rows.iter().map(|r| Ok((r.text("checkout_request_id")?, r.text("msisdn")?, r.text("name")?))).collect()
}

/// One page of the outbox, newest first, optionally only to `to` and/or in `status`; the bool
/// says whether another page follows.
pub async fn page(
    db: &impl Db,
    to: Option<&str>,
    status: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Sms>, bool), StoreError> {
    let rows = db
        .query(&stmt!(
            format!(
                "SELECT {READ} FROM sms_outbox WHERE (?1 IS NULL OR to_msisdn = ?1) AND (?2 IS NULL OR status = ?2) \
                 ORDER BY created_at DESC, id DESC LIMIT ?3 OFFSET ?4"
            ),
            to,
            status,
            limit + 1,
            offset
        ))
        .await?;
    let mut list = rows.iter().map(|r| from_row(&r)).collect::<Result<Vec<_>, _>>()?;
    let more = list.len() as i64 > limit;
    list.truncate(usize::try_from(limit).unwrap_or(0));
    Ok((list, more))
}

pub async fn get(db: &impl Db, id: &str) -> Result<Option<Sms>, StoreError> {
    let rows = db.query(&stmt!(format!("SELECT {READ} FROM sms_outbox WHERE id = ?1"), id)).await?;
    rows.iter().next().map(|r| from_row(&r)).transpose()
}

/// Queues a failed transactional message again as a new message (`new_id`), at most once per
/// failed message (`resend:<id>`); the failed one stays as it was, with its reason. Changes no
/// row when `id` is not a failed transactional message or was resent already.
pub fn resend(new_id: &str, id: &str, at: &str) -> Statement {
    stmt!(
        "INSERT OR IGNORE INTO sms_outbox (id, to_msisdn, body, kind, language, status, created_at, subscriber_id, \
         dedupe_key) SELECT ?1, to_msisdn, body, kind, language, 'queued', ?3, subscriber_id, 'resend:' || id \
         FROM sms_outbox WHERE id = ?2 AND status = 'failed' AND kind = 'transactional'",
        new_id,
        id,
        at
    )
}

/// Whether a message was resent already (and as which message).
pub async fn resent_as(db: &impl Db, id: &str) -> Result<Option<String>, StoreError> {
    let rows = db.query(&stmt!("SELECT id FROM sms_outbox WHERE dedupe_key = 'resend:' || ?1", id)).await?;
    rows.iter().next().map(|r| r.text("id")).transpose()
}

/// Messages sent in one period (an East Africa Time day `YYYY-MM-DD` or month `YYYY-MM`), what
/// became of them and what the provider charged for them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeriodCost {
    pub period: String,
    pub sent: i64,
    pub delivered: i64,
    pub failed: i64,
    /// Ten-thousandths of a shilling.
    pub cost_e4: i64,
}

/// Per EAT day (`month = false`) or month, newest first, of messages sent since `since`.
pub async fn costs_eat(db: &impl Db, since: &str, month: bool) -> Result<Vec<PeriodCost>, StoreError> {
    let len = if month { 7 } else { 10 };
    let rows = db
        .query(&stmt!(
            "SELECT substr(datetime(sent_at, '+3 hours'), 1, ?2) AS period, COUNT(*) AS n, \
                    SUM(CASE WHEN status = 'delivered' THEN 1 ELSE 0 END) AS delivered, \
                    SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS failed, \
                    COALESCE(SUM(cost_e4), 0) AS cost \
             FROM sms_outbox WHERE sent_at IS NOT NULL AND sent_at >= ?1 GROUP BY period ORDER BY period DESC",
            since,
            len
        ))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(PeriodCost {
                period: r.text("period")?,
                sent: r.int("n")?,
                delivered: r.int("delivered")?,
                failed: r.int("failed")?,
                cost_e4: r.int("cost")?,
            })
        })
        .collect()
}

/// Bodies and charges of the latest `limit` messages the provider charged for (to price a
/// broadcast by what this tenant actually pays).
pub async fn recent_charges(db: &impl Db, limit: i64) -> Result<Vec<(String, i64)>, StoreError> {
    let rows = db
        .query(&stmt!(
            "SELECT body, cost_e4 FROM sms_outbox WHERE cost_e4 IS NOT NULL AND cost_e4 > 0 \
             ORDER BY sent_at DESC LIMIT ?1",
            limit
        ))
        .await?;
    rows.iter().map(|r| Ok((r.text("body")?, r.int("cost_e4")?))).collect()
}

/// Who a broadcast goes to: subscribers in one of `statuses`, optionally only on one plan and/or
/// only those whose paid time ends within `[now, expires_by]`.
pub struct Audience<'a> {
    pub statuses: &'a [&'a str],
    pub plan_id: Option<&'a str>,
    pub expires_by: Option<&'a str>,
    pub now: &'a str,
}

/// The subscribers of `a` a promotional message can reach (a phone, not opted out), each with the
/// language their message is written in: (id, `en`/`sw`).
pub async fn audience(
    db: &impl Db,
    a: &Audience<'_>,
    default_language: &str,
) -> Result<Vec<(String, String)>, StoreError> {
    let list = serde_json::to_string(a.statuses).unwrap_or_else(|_| "[]".into());
    let rows = db
        .query(&stmt!(
            "SELECT s.id, CASE COALESCE(s.language, ?5) WHEN 'en' THEN 'en' ELSE 'sw' END AS lang FROM subscribers s \
             WHERE s.phone IS NOT NULL AND s.phone != '' AND s.status IN (SELECT value FROM json_each(?1)) \
               AND (?2 IS NULL OR s.plan_id = ?2) \
               AND (?3 IS NULL OR (s.expires_at IS NOT NULL AND s.expires_at >= ?4 AND s.expires_at <= ?3)) \
               AND NOT EXISTS (SELECT 1 FROM sms_optouts o WHERE o.msisdn = s.phone) \
             ORDER BY s.id",
            list,
            a.plan_id,
            a.expires_by,
            a.now,
            default_language
        ))
        .await?;
    rows.iter().map(|r| Ok((r.text("id")?, r.text("lang")?))).collect()
}

/// A tenant's Africa's Talking account (provider key `africastalking` in `provider_keys`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct SmsKeys {
    /// `sandbox`, `live`, or a base URL (the simulator).
    pub environment: String,
    /// The app's username (`sandbox` in the sandbox).
    pub username: String,
    #[schemars(with = "Option<String>")]
    pub api_key: crate::secret::Secret,
    /// The approved alphanumeric sender ID or short code; empty: the provider's default.
    pub sender_id: String,
}

pub const PROVIDER: &str = "africastalking";

impl SmsKeys {
    pub fn is_configured(&self) -> bool {
        !self.username.is_empty() && !self.api_key.is_empty()
    }
    pub fn base_url(&self) -> String {
        match self.environment.as_str() {
            "" | "sandbox" => "https://api.sandbox.africastalking.com".into(),
            "live" => "https://api.africastalking.com".into(),
            custom => custom.trim_end_matches('/').to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestDb, run};

    #[test]
    fn sms_enqueue_lists_newest_first_filters_and_drains_oldest_first() {
        let db = TestDb::tenant();
        run(db.batch(&[
            enqueue("m1", "254700000001", "Code 123456", Kind::Transactional, "sw", "2026-12-04T09:00:00Z"),
            enqueue("m2", "254700000002", "Offer", Kind::Promotional, "en", "2026-12-04T09:01:00Z"),
            enqueue("m3", "254700000001", "Code 654321", Kind::Transactional, "en", "2026-12-04T09:02:00Z"),
        ]))
        .expect("enqueue");
        let all = run(list(&db, None, None, 10)).expect("list");
        assert_eq!(all.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), ["m3", "m2", "m1"]);
        assert_eq!(all[1].kind, Kind::Promotional);
        assert_eq!(all[0].status, STATUS_QUEUED);
        let to1 = run(list(&db, Some("254700000001"), None, 10)).expect("list");
        assert_eq!(to1.len(), 2);
        assert!(to1.iter().all(|m| m.to == "254700000001"));
        run(db.batch(&[set_status("m1", "sent")])).expect("status");
        let q = run(queued(&db, 10)).expect("queued");
        assert_eq!(q.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), ["m2", "m3"]);
        assert_eq!(run(list(&db, None, Some("sent"), 10)).expect("list").len(), 1);
    }

    #[test]
    fn sms_enqueue_refuses_an_unknown_kind_through_the_check() {
        let db = TestDb::tenant();
        let bad = stmt!(
            "INSERT INTO sms_outbox (id, to_msisdn, body, kind, language, status, created_at) \
             VALUES ('x', '2547', 'b', 'spam', 'sw', 'queued', 't')"
        );
        assert!(run(db.batch(&[bad])).is_err());
    }

    #[test]
    fn sms_enqueue_is_written_only_with_its_cause() {
        let db = TestDb::tenant();
        let msg = enqueue("m1", "254700000001", "Code 123456", Kind::Transactional, "sw", "2026-12-04T09:00:00Z");
        // The cause fails (a table that does not exist): the whole batch, message included, is dropped.
        let failing_cause = Statement::new("INSERT INTO no_such_table (x) VALUES (1)");
        assert!(run(db.batch(&[msg.clone(), failing_cause])).is_err());
        assert!(run(list(&db, None, None, 10)).expect("list").is_empty(), "no message without its cause");
        run(db.batch(&[msg])).expect("enqueue");
        assert_eq!(run(list(&db, None, None, 10)).expect("list").len(), 1);
    }
}

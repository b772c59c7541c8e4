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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
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

/// `queued` when written; a sender moves it to `sent`, then `delivered` or `failed`.
pub const STATUS_QUEUED: &str = "queued";

/// One message of the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sms {
    pub id: String,
    /// The recipient, `2547XXXXXXXX`.
    pub to: String,
    pub body: String,
    pub kind: Kind,
    /// `sw` or `en`.
    pub language: String,
    pub status: String,
    pub created_at: String,
}

const COLS: &str = "id, to_msisdn, body, kind, language, status, created_at";

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
                "SELECT {COLS} FROM sms_outbox WHERE (?1 IS NULL OR to_msisdn = ?1) AND (?2 IS NULL OR status = ?2) \
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
            format!("SELECT {COLS} FROM sms_outbox WHERE status = ?1 ORDER BY created_at, id LIMIT ?2"),
            STATUS_QUEUED,
            limit
        ))
        .await?;
    rows.iter().map(|r| from_row(&r)).collect()
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

//! The customer API's sign-in state: OTP challenges (hashed codes), refresh tokens (hashed,
//! rotated, revocable by family), the portal password and the profile a subscriber edits.

use crate::db::{Db, Statement, StoreError};
use crate::openapi::field;
use crate::stmt;

/// One OTP challenge as stored (the code only as its hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub id: String,
    pub subscriber_id: String,
    pub msisdn: String,
    pub code_hash: String,
    pub attempts: i64,
    pub expires_at: String,
    pub used_at: Option<String>,
}

pub fn insert_challenge(c: &Challenge, created_at: &str) -> Statement {
    stmt!(
        "INSERT INTO otp_challenges (id, subscriber_id, msisdn, code_hash, attempts, created_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6)",
        &c.id,
        &c.subscriber_id,
        &c.msisdn,
        &c.code_hash,
        created_at,
        &c.expires_at
    )
}

pub async fn challenge(db: &impl Db, id: &str) -> Result<Option<Challenge>, StoreError> {
    let rows = db
        .query(&stmt!(
            "SELECT id, subscriber_id, msisdn, code_hash, attempts, expires_at, used_at FROM otp_challenges \
             WHERE id = ?1",
            id
        ))
        .await?;
    rows.first()
        .map(|r| {
            Ok(Challenge {
                id: r.text("id")?,
                subscriber_id: r.text("subscriber_id")?,
                msisdn: r.text("msisdn")?,
                code_hash: r.text("code_hash")?,
                attempts: r.int("attempts")?,
                expires_at: r.text("expires_at")?,
                used_at: r.opt_text("used_at")?,
            })
        })
        .transpose()
}

/// Counts one wrong code against the challenge.
pub fn bump_attempts(id: &str) -> Statement {
    stmt!("UPDATE otp_challenges SET attempts = attempts + 1 WHERE id = ?1", id)
}

/// Uses the challenge up; the batch fails (through `occ_guard`) if it was used meanwhile, so a
/// code signs in once however many requests race with it.
pub fn use_challenge(id: &str, at: &str) -> [Statement; 3] {
    [
        stmt!("UPDATE otp_challenges SET used_at = ?2 WHERE id = ?1 AND used_at IS NULL", id, at),
        Statement::new("INSERT INTO occ_guard (changed) VALUES (changes())"),
        Statement::new("DELETE FROM occ_guard"),
    ]
}

/// One refresh token as stored (by its hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refresh {
    pub token_hash: String,
    pub subscriber_id: String,
    pub family: String,
    pub expires_at: String,
    pub revoked_at: Option<String>,
}

pub fn insert_refresh(r: &Refresh, created_at: &str) -> Statement {
    stmt!(
        "INSERT INTO customer_refresh_tokens (token_hash, subscriber_id, family, created_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        &r.token_hash,
        &r.subscriber_id,
        &r.family,
        created_at,
        &r.expires_at
    )
}

pub async fn refresh(db: &impl Db, token_hash: &str) -> Result<Option<Refresh>, StoreError> {
    let rows = db
        .query(&stmt!(
            "SELECT token_hash, subscriber_id, family, expires_at, revoked_at FROM customer_refresh_tokens \
             WHERE token_hash = ?1",
            token_hash
        ))
        .await?;
    rows.first()
        .map(|r| {
            Ok(Refresh {
                token_hash: r.text("token_hash")?,
                subscriber_id: r.text("subscriber_id")?,
                family: r.text("family")?,
                expires_at: r.text("expires_at")?,
                revoked_at: r.opt_text("revoked_at")?,
            })
        })
        .transpose()
}

/// Revokes one token; the batch fails if it was revoked meanwhile (a rotation happens once).
pub fn revoke_one(token_hash: &str, at: &str) -> [Statement; 3] {
    [
        stmt!(
            "UPDATE customer_refresh_tokens SET revoked_at = ?2 WHERE token_hash = ?1 AND revoked_at IS NULL",
            token_hash,
            at
        ),
        Statement::new("INSERT INTO occ_guard (changed) VALUES (changes())"),
        Statement::new("DELETE FROM occ_guard"),
    ]
}

/// Revokes every token of a sign-in (logout; a reused old token).
pub fn revoke_family(family: &str, at: &str) -> Statement {
    stmt!("UPDATE customer_refresh_tokens SET revoked_at = ?2 WHERE family = ?1 AND revoked_at IS NULL", family, at)
}

/// Revokes every sign-in of a subscriber (a new password).
pub fn revoke_subscriber(subscriber_id: &str, at: &str) -> Statement {
    stmt!(
        "UPDATE customer_refresh_tokens SET revoked_at = ?2 WHERE subscriber_id = ?1 AND revoked_at IS NULL",
        subscriber_id,
        at
    )
}

/// Revokes every sign-in of a subscriber but `keep_family` (a new password set from that sign-in).
pub fn revoke_subscriber_except(subscriber_id: &str, keep_family: &str, at: &str) -> Statement {
    stmt!(
        "UPDATE customer_refresh_tokens SET revoked_at = ?3 WHERE subscriber_id = ?1 AND family <> ?2 \
         AND revoked_at IS NULL",
        subscriber_id,
        keep_family,
        at
    )
}

/// True when the family still has a live token (the sign-in was not ended).
pub async fn family_live(db: &impl Db, family: &str, now: &str) -> Result<bool, StoreError> {
    let rows = db
        .query(&stmt!(
            "SELECT 1 AS x FROM customer_refresh_tokens WHERE family = ?1 AND revoked_at IS NULL AND expires_at > ?2 \
             LIMIT 1",
            family,
            now
        ))
        .await?;
    Ok(!rows.is_empty())
}

/// What a subscriber edits about themselves, beside the operator's fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    pub portal_password_hash: Option<String>,
    pub email: Option<String>,
    pub language: Option<String>,
}

pub async fn profile(db: &impl Db, subscriber_id: &str) -> Result<Profile, StoreError> {
    let rows = db
        .query(&stmt!("SELECT portal_password_hash, email, language FROM subscribers WHERE id = ?1", subscriber_id))
        .await?;
    let r = rows.first().ok_or(StoreError::NotFound)?;
    Ok(Profile {
        portal_password_hash: r.opt_text("portal_password_hash")?,
        email: r.opt_text("email")?,
        language: r.opt_text("language")?,
    })
}

pub fn set_password_hash(subscriber_id: &str, hash: &str) -> Statement {
    stmt!("UPDATE subscribers SET portal_password_hash = ?2 WHERE id = ?1", subscriber_id, hash)
}

pub fn set_contact(subscriber_id: &str, name: &str, email: Option<&str>, language: Option<&str>) -> Statement {
    stmt!(
        "UPDATE subscribers SET name = ?2, email = ?3, language = ?4 WHERE id = ?1",
        subscriber_id,
        name,
        email,
        language
    )
}

/// One ledger entry as the subscriber sees it, with the balance after it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct WalletEntry {
    pub id: i64,
    /// payment, renewal, adjustment, reversal...
    pub kind: String,
    #[schemars(schema_with = "field::cents")]
    pub amount_cents: i64,
    #[schemars(schema_with = "field::cents")]
    pub balance_after_cents: i64,
    #[schemars(schema_with = "field::currency")]
    pub currency: &'static str,
    pub payment_id: Option<String>,
    pub memo: String,
    #[schemars(schema_with = "field::ts")]
    pub created_at: String,
}

/// Newest first, entries older than `before_id` (the cursor), `limit` of them; `balance_now` is
/// the subscriber's balance, from which each entry's balance-after is worked back.
pub async fn wallet_page(
    db: &impl Db,
    subscriber_id: &str,
    before_id: Option<i64>,
    limit: i64,
    balance_now: i64,
) -> Result<Vec<WalletEntry>, StoreError> {
    let before = before_id.unwrap_or(i64::MAX);
    let later = db
        .query(&stmt!(
            "SELECT COALESCE(SUM(amount_cents), 0) AS s FROM ledger WHERE subscriber_id = ?1 AND id >= ?2",
            subscriber_id,
            before
        ))
        .await?;
    let mut balance = balance_now - later.first().map(|r| r.int("s")).transpose()?.unwrap_or(0);
    let rows = db
        .query(&stmt!(
            "SELECT id, kind, amount_cents, payment_id, memo, created_at FROM ledger \
             WHERE subscriber_id = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3",
            subscriber_id,
            before,
            limit
        ))
        .await?;
    rows.iter()
        .map(|r| {
            let amount = r.int("amount_cents")?;
            let e = WalletEntry {
                id: r.int("id")?,
                kind: r.text("kind")?,
                amount_cents: amount,
                balance_after_cents: balance,
                currency: crate::domain::money::CURRENCY,
                payment_id: r.opt_text("payment_id")?,
                memo: r.text("memo")?,
                created_at: r.text("created_at")?,
            };
            balance -= amount;
            Ok(e)
        })
        .collect()
}

/// A subscriber's payments, newest first, older than the payment `before` (the cursor).
pub async fn payments_page(
    db: &impl Db,
    subscriber_id: &str,
    before: Option<&str>,
    limit: i64,
) -> Result<Vec<crate::store::payments::Payment>, StoreError> {
    let rows = db
        .query(&stmt!(
            "SELECT id FROM payments p WHERE p.subscriber_id = ?1 AND (?2 IS NULL OR (p.received_at, p.id) < \
             (SELECT received_at, id FROM payments WHERE id = ?2 AND subscriber_id = ?1)) \
             ORDER BY p.received_at DESC, p.id DESC LIMIT ?3",
            subscriber_id,
            before,
            limit
        ))
        .await?;
    let mut out = Vec::new();
    for r in rows.iter() {
        if let Some(p) = crate::store::payments::get(db, &r.text("id")?).await? {
            out.push(p);
        }
    }
    Ok(out)
}

/// A subscriber's M-Pesa prompts, newest first.
pub async fn topups(db: &impl Db, subscriber_id: &str, limit: i64) -> Result<Vec<String>, StoreError> {
    let rows = db
        .query(&stmt!(
            "SELECT checkout_request_id FROM stk_requests WHERE subscriber_id = ?1 \
             ORDER BY created_at DESC, checkout_request_id DESC LIMIT ?2",
            subscriber_id,
            limit
        ))
        .await?;
    rows.iter().map(|r| r.text("checkout_request_id")).collect()
}

/// The paid period covering `at` (or the latest one), for the subscription view.
pub async fn current_period(
    db: &impl Db,
    subscriber_id: &str,
) -> Result<Option<(String, String, String, i64)>, StoreError> {
    let rows = db
        .query(&stmt!(
            "SELECT plan_id, starts_at, ends_at, price_cents FROM subscriptions WHERE subscriber_id = ?1 \
             ORDER BY ends_at DESC LIMIT 1",
            subscriber_id
        ))
        .await?;
    rows.first()
        .map(|r| Ok((r.text("plan_id")?, r.text("starts_at")?, r.text("ends_at")?, r.int("price_cents")?)))
        .transpose()
}

/// Bytes up and down and seconds online between two Nairobi days (inclusive).
pub async fn usage_between(db: &impl Db, username: &str, from: &str, to: &str) -> Result<(i64, i64, i64), StoreError> {
    let rows = db
        .query(&stmt!(
            "SELECT COALESCE(SUM(input_octets), 0) AS up, COALESCE(SUM(output_octets), 0) AS down, \
             COALESCE(SUM(online_seconds), 0) AS secs FROM usage_daily WHERE username = ?1 AND day >= ?2 AND day <= ?3",
            crate::store::usage::bare(username),
            from,
            to
        ))
        .await?;
    let r = rows.first().ok_or(StoreError::NotFound)?;
    Ok((r.int("up")?, r.int("down")?, r.int("secs")?))
}

/// A session online now, as the NAS last reported it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct OnlineSession {
    pub session_id: String,
    pub nas_ip: String,
    pub framed_ip: Option<String>,
    #[schemars(schema_with = "field::opt_ts")]
    pub started_at: Option<String>,
    pub input_octets: i64,
    pub output_octets: i64,
    #[schemars(schema_with = "field::ts")]
    pub reported_at: String,
}

/// The subscriber's sessions online now, as last reported.
pub async fn online_of(db: &impl Db, username: &str) -> Result<Vec<OnlineSession>, StoreError> {
    let rows = db
        .query(&stmt!(
            "SELECT nas_ip, session_id, framed_ip, started_at, input_octets, output_octets, reported_at \
             FROM online_sessions WHERE username = ?1 ORDER BY started_at DESC",
            crate::store::usage::bare(username)
        ))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(OnlineSession {
                session_id: r.text("session_id")?,
                nas_ip: r.text("nas_ip")?,
                framed_ip: r.opt_text("framed_ip")?,
                started_at: r.opt_text("started_at")?,
                input_octets: r.int("input_octets")?,
                output_octets: r.int("output_octets")?,
                reported_at: r.text("reported_at")?,
            })
        })
        .collect()
}

/// An unmatched payment by its M-Pesa receipt (the provider's reference for Paybill).
pub async fn unmatched_by_receipt(
    db: &impl Db,
    receipt: &str,
) -> Result<Option<crate::store::payments::Payment>, StoreError> {
    let rows = db
        .query(&stmt!(
            "SELECT id FROM payments WHERE status = 'unmatched' AND (receipt = ?1 OR (provider = 'mpesa' AND \
             provider_ref = ?1)) LIMIT 1",
            receipt
        ))
        .await?;
    match rows.first() {
        Some(r) => crate::store::payments::get(db, &r.text("id")?).await,
        None => Ok(None),
    }
}

pub fn insert_claim(payment_id: &str, subscriber_id: &str, at: &str) -> Statement {
    stmt!(
        "INSERT INTO payment_claims (payment_id, subscriber_id, claimed_at) VALUES (?1, ?2, ?3)",
        payment_id,
        subscriber_id,
        at
    )
}

/// One paid period (a renewal bought it): what the customer API calls an invoice.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct Invoice {
    pub id: String,
    pub plan_id: String,
    pub plan_name: String,
    #[schemars(schema_with = "field::ts")]
    pub period_start: String,
    #[schemars(schema_with = "field::ts")]
    pub period_end: String,
    #[schemars(schema_with = "field::cents")]
    pub amount_cents: i64,
    #[schemars(schema_with = "field::currency")]
    pub currency: &'static str,
    #[schemars(schema_with = "field::ts")]
    pub issued_at: String,
}

const INVOICE_SQL: &str = "SELECT s.id, s.plan_id, COALESCE(p.name, '') AS plan_name, s.starts_at, s.ends_at, \
                           s.price_cents, s.created_at FROM subscriptions s LEFT JOIN plans p ON p.id = s.plan_id";

fn invoice(r: &crate::db::Row<'_>) -> Result<Invoice, StoreError> {
    Ok(Invoice {
        id: r.text("id")?,
        plan_id: r.text("plan_id")?,
        plan_name: r.text("plan_name")?,
        period_start: r.text("starts_at")?,
        period_end: r.text("ends_at")?,
        amount_cents: r.int("price_cents")?,
        currency: crate::domain::money::CURRENCY,
        issued_at: r.text("created_at")?,
    })
}

/// A subscriber's paid periods, newest first, before the period `before` (the cursor).
pub async fn invoices(
    db: &impl Db,
    subscriber_id: &str,
    before: Option<&str>,
    limit: i64,
) -> Result<Vec<Invoice>, StoreError> {
    let rows = db
        .query(&stmt!(
            format!(
                "{INVOICE_SQL} WHERE s.subscriber_id = ?1 AND (?2 IS NULL OR (s.starts_at, s.id) < \
                 (SELECT starts_at, id FROM subscriptions WHERE id = ?2 AND subscriber_id = ?1)) \
                 ORDER BY s.starts_at DESC, s.id DESC LIMIT ?3"
            ),
            subscriber_id,
            before,
            limit
        ))
        .await?;
    rows.iter().map(|r| invoice(&r)).collect()
}

/// One paid period, only if it is the subscriber's.
pub async fn invoice_of(db: &impl Db, subscriber_id: &str, id: &str) -> Result<Option<Invoice>, StoreError> {
    let rows =
        db.query(&stmt!(format!("{INVOICE_SQL} WHERE s.id = ?1 AND s.subscriber_id = ?2"), id, subscriber_id)).await?;
    rows.first().map(|r| invoice(&r)).transpose()
}

/// A message sent to the subscriber (an SMS of the outbox).
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct Notification {
    pub id: String,
    #[schemars(extend("enum" = ["sms"]))]
    pub channel: &'static str,
    #[schemars(extend("enum" = ["transactional", "promotional"]))]
    pub kind: String,
    pub body: String,
    pub language: String,
    pub status: String,
    #[schemars(schema_with = "field::ts")]
    pub created_at: String,
    #[schemars(schema_with = "field::opt_ts")]
    pub sent_at: Option<String>,
}

/// Messages sent to the subscriber about their account (receipts, reminders, broadcasts), newest
/// first. Sign-in codes are written without a subscriber and are never listed.
pub async fn notifications(db: &impl Db, subscriber_id: &str, limit: i64) -> Result<Vec<Notification>, StoreError> {
    let rows = db
        .query(&stmt!(
            "SELECT id, kind, body, language, status, created_at, sent_at FROM sms_outbox WHERE subscriber_id = ?1 \
             ORDER BY created_at DESC, id DESC LIMIT ?2",
            subscriber_id,
            limit
        ))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Notification {
                id: r.text("id")?,
                channel: "sms",
                kind: r.text("kind")?,
                body: r.text("body")?,
                language: r.text("language")?,
                status: r.text("status")?,
                created_at: r.text("created_at")?,
                sent_at: r.opt_text("sent_at")?,
            })
        })
        .collect()
}

/// The subscriber takes back their own opt-out (an operator's or the provider's stays).
pub fn opt_in_own(msisdn: &str) -> Statement {
    stmt!("DELETE FROM sms_optouts WHERE msisdn = ?1 AND source = 'subscriber'", msisdn)
}

/// One session of the subscriber's history, newest first; `cursor` is the row to page past.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct PastSession {
    pub cursor: i64,
    pub session_id: String,
    pub nas_ip: String,
    pub framed_ip: Option<String>,
    /// As the NAS reported it (RFC 3339, or unix seconds).
    #[schemars(schema_with = "field::opt_ts")]
    pub started_at: Option<String>,
    #[schemars(schema_with = "field::ts")]
    pub first_seen_at: String,
    #[schemars(schema_with = "field::ts")]
    pub last_seen_at: String,
    /// null while the session is open; else it ended between `last_seen_at` and this.
    pub ended_by: Option<String>,
    pub open: bool,
    /// At the last report that saw it.
    pub download_bytes: i64,
    pub upload_bytes: i64,
}

pub async fn session_history(
    db: &impl Db,
    username: &str,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<PastSession>, StoreError> {
    let rows = db
        .query(&stmt!(
            "SELECT rowid AS r, session_id, nas_ip, framed_ip, started_at, first_seen_at, last_seen_at, gone_at, \
             input_octets, output_octets FROM session_history WHERE username = ?1 AND rowid < ?2 \
             ORDER BY rowid DESC LIMIT ?3",
            crate::store::usage::bare(username),
            before.unwrap_or(i64::MAX),
            limit
        ))
        .await?;
    rows.iter()
        .map(|r| {
            let gone = r.opt_text("gone_at")?;
            Ok(PastSession {
                cursor: r.int("r")?,
                session_id: r.text("session_id")?,
                nas_ip: r.text("nas_ip")?,
                framed_ip: r.opt_text("framed_ip")?,
                started_at: r.opt_text("started_at")?,
                first_seen_at: r.text("first_seen_at")?,
                last_seen_at: r.text("last_seen_at")?,
                open: gone.is_none(),
                ended_by: gone,
                download_bytes: r.int("output_octets")?,
                upload_bytes: r.int("input_octets")?,
            })
        })
        .collect()
}

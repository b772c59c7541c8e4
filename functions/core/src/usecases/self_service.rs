//! What a signed-in subscriber does for themselves beside money: a plan change at renewal (and
//! taking it back), a pause and its end, disconnecting a stuck session, their devices, support
//! tickets, and the network notices for their site. The subscriber's id always comes from the
//! verified access token; an id in a request that is not theirs is "not found".

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::db::{Db, Statement, StoreError};
use crate::domain::plan_change::{self, Quote, When};
use crate::domain::redemption::Mac;
use crate::domain::subscriber::Status;
use crate::domain::time::{fmt_ts, parse_ts};
use crate::ids::IdGen;
use crate::openapi::field;
use crate::store::self_service as ss;
use crate::store::tenants::TenantSettings;
use crate::store::throttle::{self, Limit, Verdict};
use crate::store::{customer, feed, occ_bump, plans, subscribers};
use crate::usecases::credit::feed_payload;
use crate::usecases::customer::{PlanChangeInput, load, target};
use crate::usecases::{UseCaseError, retry_races};

/// Records a plan change for the end of the paid time; nothing is charged now. A second request
/// replaces the first.
pub async fn schedule_plan_change(
    db: &impl Db,
    subscriber_id: &str,
    input: &PlanChangeInput,
    now: DateTime<Utc>,
) -> Result<Quote, UseCaseError> {
    let done = retry_races!(UseCaseError, {
        let (s, plan) = load(db, subscriber_id).await?;
        if s.subscriber.status == Status::Suspended {
            return Err(UseCaseError::Invalid("the account is suspended or paused; resume it first".into()));
        }
        let to = target(db, &input.plan, &plan).await?;
        let until = s.subscriber.expires_at.filter(|e| *e > now && s.subscriber.status == Status::Active);
        let q = plan_change::quote(&plan, &to, until, s.balance(), When::AtRenewal, now);
        let mut batch: Vec<Statement> = occ_bump(subscriber_id, s.subscriber.version).into();
        batch.push(ss::set_pending_plan(subscriber_id, Some(&to.id)));
        db.batch(&batch).await?;
        Ok(q)
    })
    .await?;
    done.ok_or_else(|| UseCaseError::Conflict("the account is being changed; try again".into()))
}

/// `DELETE subscription/plan-change`: takes back a change at renewal that has not happened yet.
pub async fn cancel_plan_change(db: &impl Db, subscriber_id: &str) -> Result<String, UseCaseError> {
    let done = retry_races!(UseCaseError, {
        let (s, _) = load(db, subscriber_id).await?;
        let pending = ss::extras(db, subscriber_id)
            .await?
            .pending_plan_id
            .ok_or(UseCaseError::NotFound("pending plan change"))?;
        let mut batch: Vec<Statement> = occ_bump(subscriber_id, s.subscriber.version).into();
        batch.push(ss::set_pending_plan(subscriber_id, None));
        db.batch(&batch).await?;
        Ok(pending)
    })
    .await?;
    done.ok_or_else(|| UseCaseError::Conflict("the account is being changed; try again".into()))
}

/// The scheduled pass's share: makes the changes at renewal whose paid time has run out (before
/// the expiry pass, so an automatic renewal buys the new plan). Returns how many it made.
pub async fn apply_pending_changes(db: &impl Db, now: DateTime<Utc>) -> Result<usize, StoreError> {
    let at = fmt_ts(now);
    let mut made = 0;
    for id in ss::pending_changes_due(db, &at, 500).await? {
        let Some(s) = subscribers::get(db, &id).await? else { continue };
        let Some(pending) = ss::extras(db, &id).await?.pending_plan_id else { continue };
        let mut batch: Vec<Statement> = occ_bump(&id, s.subscriber.version).into();
        match plans::get(db, &pending).await?.filter(|p| p.active) {
            Some(to) => {
                batch.push(ss::take_pending_plan(&id, &to.id));
                let payload = feed_payload(&s, &to.code, s.subscriber.status.as_str(), s.subscriber.expires_at);
                batch.push(feed::append(Some(&id), feed::kind::PLAN_CHANGED, &payload, &at));
            }
            // The operator withdrew the plan meanwhile: the subscriber stays where they are.
            None => batch.push(ss::set_pending_plan(&id, None)),
        }
        match db.batch(&batch).await {
            Ok(_) => made += 1,
            Err(StoreError::Conflict(_)) => {} // changed meanwhile: the next pass
            Err(e) => return Err(e),
        }
    }
    Ok(made)
}

/// `POST subscription/pause`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PauseInput {
    /// How long, in whole days (1 up to the tenant's `pause_max_days`).
    #[schemars(range(min = 1))]
    pub days: i64,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Paused {
    #[schemars(extend("enum" = ["paused"]))]
    pub status: &'static str,
    #[schemars(schema_with = "field::ts")]
    pub paused_until: String,
    /// Paid time banked, given back at resume.
    pub seconds_left: i64,
}

/// Pauses an active account: it goes offline (suspended), the paid time left is banked and comes
/// back at resume, by the subscriber or when the pause ends.
pub async fn pause(
    db: &impl Db,
    settings: &TenantSettings,
    subscriber_id: &str,
    input: &PauseInput,
    now: DateTime<Utc>,
) -> Result<Paused, UseCaseError> {
    if settings.pause_max_days <= 0 {
        return Err(UseCaseError::Invalid("your ISP does not offer pauses".into()));
    }
    if !(1..=settings.pause_max_days).contains(&input.days) {
        return Err(UseCaseError::Invalid(format!("days must be between 1 and {}", settings.pause_max_days)));
    }
    let done = retry_races!(UseCaseError, {
        let (s, plan) = load(db, subscriber_id).await?;
        if ss::extras(db, subscriber_id).await?.paused_at.is_some() {
            return Err(UseCaseError::Conflict("the account is paused already".into()));
        }
        // In grace (expired but still online) there is no paid time to bank.
        let left = match (s.subscriber.status, s.subscriber.expires_at) {
            (Status::Active, Some(e)) if e > now => (e - now).num_seconds(),
            _ => return Err(UseCaseError::Invalid("only an account with paid time left can be paused".into())),
        };
        let year = ss::pauses_since(db, subscriber_id, &fmt_ts(now - Duration::days(365))).await?;
        if year.len() as i64 >= settings.pause_max_per_year.max(1) {
            let next = year
                .first()
                .and_then(|t| parse_ts(t))
                .map(|t| crate::domain::time::fmt_ts(t + Duration::days(365)))
                .unwrap_or_default();
            return Err(UseCaseError::Invalid(format!(
                "at most {} pauses in 12 months; the next is possible from {next}",
                settings.pause_max_per_year.max(1)
            )));
        }
        let until = now + Duration::days(input.days);
        let at = fmt_ts(now);
        let mut batch: Vec<Statement> = occ_bump(subscriber_id, s.subscriber.version).into();
        batch.push(subscribers::set_state(subscriber_id, Status::Suspended, s.subscriber.expires_at));
        batch.push(ss::set_pause(subscriber_id, &at, &fmt_ts(until), left));
        batch.push(ss::record_pause(subscriber_id, &at, &fmt_ts(until)));
        let payload = feed_payload(&s, &plan.code, Status::Suspended.as_str(), s.subscriber.expires_at);
        batch.push(feed::append(Some(subscriber_id), feed::kind::SUSPENDED, &payload, &at));
        db.batch(&batch).await?;
        Ok(Paused { status: "paused", paused_until: fmt_ts(until), seconds_left: left })
    })
    .await?;
    done.ok_or_else(|| UseCaseError::Conflict("the account is being changed; try again".into()))
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Resumed {
    #[schemars(extend("enum" = ["active"]))]
    pub status: &'static str,
    #[schemars(schema_with = "field::ts")]
    pub expires_at: String,
}

/// Ends a pause: the account is back online with the banked paid time from now.
pub async fn resume(db: &impl Db, subscriber_id: &str, now: DateTime<Utc>) -> Result<Resumed, UseCaseError> {
    let done = retry_races!(UseCaseError, {
        let (s, plan) = load(db, subscriber_id).await?;
        let x = ss::extras(db, subscriber_id).await?;
        let (Some(_), Some(left)) = (x.paused_at, x.paused_seconds_left) else {
            return Err(UseCaseError::Conflict("the account is not paused".into()));
        };
        let expires = now + Duration::seconds(left.max(0));
        let at = fmt_ts(now);
        let mut batch: Vec<Statement> = occ_bump(subscriber_id, s.subscriber.version).into();
        // An operator's suspension during the pause outlives it: only the banked time comes back.
        let status = if s.subscriber.status == Status::Suspended { Status::Active } else { s.subscriber.status };
        batch.push(subscribers::set_state(subscriber_id, status, Some(expires)));
        batch.push(ss::clear_pause(subscriber_id));
        let payload = feed_payload(&s, &plan.code, status.as_str(), Some(expires));
        batch.push(feed::append(Some(subscriber_id), feed::kind::RESUMED, &payload, &at));
        db.batch(&batch).await?;
        Ok(Resumed { status: "active", expires_at: fmt_ts(expires) })
    })
    .await?;
    done.ok_or_else(|| UseCaseError::Conflict("the account is being changed; try again".into()))
}

/// The scheduled pass's share: ends the pauses that have reached their end.
pub async fn resume_due(db: &impl Db, now: DateTime<Utc>) -> Result<usize, StoreError> {
    let mut n = 0;
    for id in ss::pauses_due(db, &fmt_ts(now), 500).await? {
        match resume(db, &id, now).await {
            Ok(_) => n += 1,
            Err(UseCaseError::Store(e @ StoreError::Unavailable(_))) => return Err(e),
            Err(_) => {} // changed meanwhile: the next pass
        }
    }
    Ok(n)
}

/// Disconnect requests per subscriber in ten minutes.
pub const DISCONNECT_LIMIT: Limit = Limit { limit: 3, window_seconds: 600 };

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct DisconnectRequested {
    pub sessions: usize,
    pub applies: &'static str,
}

/// `DELETE sessions/current`: asks the RADIUS agent, through the change feed, to disconnect the
/// subscriber's online sessions (a RADIUS Disconnect-Request to their NAS). The edge speaks no
/// RADIUS itself.
pub async fn request_disconnect(
    db: &impl Db,
    subscriber_id: &str,
    now: DateTime<Utc>,
) -> Result<DisconnectRequested, UseCaseError> {
    let key = format!("disconnect:{subscriber_id}");
    if let Verdict::Limited { retry_after_seconds } = throttle::check(db, &key, DISCONNECT_LIMIT, now).await? {
        return Err(UseCaseError::Throttled(retry_after_seconds));
    }
    let (s, _) = load(db, subscriber_id).await?;
    let online = customer::online_of(db, &s.subscriber.username).await?;
    if online.is_empty() {
        return Err(UseCaseError::NotFound("online session"));
    }
    let sessions: Vec<&str> = online.iter().map(|o| o.session_id.as_str()).collect();
    let payload = serde_json::json!({
        "subscriber_id": s.subscriber.id, "username": s.subscriber.username, "sessions": sessions,
    });
    let at = fmt_ts(now);
    db.batch(&[
        throttle::bump(&key, DISCONNECT_LIMIT, now),
        feed::append(Some(subscriber_id), feed::kind::SESSION_DISCONNECT, &payload, &at),
    ])
    .await?;
    Ok(DisconnectRequested {
        sessions: online.len(),
        applies: "within a minute, when the RADIUS agent reads the change; then reconnect",
    })
}

/// The most devices one subscriber keeps.
pub const MAX_DEVICES: usize = 10;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceInput {
    /// AA:BB:CC:DD:EE:FF (or with - or . or none)
    #[schemars(pattern(r"^[0-9A-Fa-f]{2}([:.-]?[0-9A-Fa-f]{2}){5}$"))]
    pub mac: String,
    /// default: the MAC address
    #[serde(default)]
    #[schemars(length(max = 40), pattern(r"^[^\x00-\x1f\x7f-\x9f]*$"))]
    pub name: Option<String>,
}

pub async fn add_device(
    db: &impl Db,
    subscriber_id: &str,
    input: &DeviceInput,
    now: DateTime<Utc>,
) -> Result<ss::Device, UseCaseError> {
    let mac = Mac::parse(input.mac.trim())
        .ok_or_else(|| UseCaseError::Invalid("mac must be a MAC address like AA:BB:CC:DD:EE:FF".into()))?;
    let name = input.name.as_deref().map(str::trim).unwrap_or("");
    if name.chars().count() > 40 || name.chars().any(char::is_control) {
        return Err(UseCaseError::Invalid("name must be at most 40 printable characters".into()));
    }
    let name = if name.is_empty() { mac.as_str().to_owned() } else { name.to_owned() };
    let have = ss::devices(db, subscriber_id).await?;
    if have.iter().any(|d| d.mac == mac.as_str()) {
        return Err(UseCaseError::Conflict("that device is on your list already".into()));
    }
    if have.len() >= MAX_DEVICES {
        return Err(UseCaseError::Invalid(format!("at most {MAX_DEVICES} devices: remove one first")));
    }
    let at = fmt_ts(now);
    match db.batch(&[ss::insert_device(subscriber_id, mac.as_str(), &name, &at)]).await {
        Ok(_) => Ok(ss::Device { mac: mac.as_str().to_owned(), name, created_at: at }),
        Err(StoreError::Conflict(_)) => Err(UseCaseError::Conflict("that device is on your list already".into())),
        Err(e) => Err(e.into()),
    }
}

/// Removes one of the subscriber's devices; another's MAC (or an unknown one) is "not found".
pub async fn remove_device(db: &impl Db, subscriber_id: &str, mac: &str) -> Result<(), UseCaseError> {
    let mac = Mac::parse(mac.trim()).ok_or(UseCaseError::NotFound("device"))?;
    if !ss::devices(db, subscriber_id).await?.iter().any(|d| d.mac == mac.as_str()) {
        return Err(UseCaseError::NotFound("device"));
    }
    db.batch(&[ss::delete_device(subscriber_id, mac.as_str())]).await?;
    Ok(())
}

/// Messages a subscriber may write in a day, over all their tickets.
pub const MESSAGES_PER_DAY: i64 = 20;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketInput {
    #[schemars(length(min = 1, max = 120), pattern(r"\S"))]
    pub subject: String,
    #[schemars(length(min = 1, max = 2000), pattern(r"\S"))]
    pub message: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageInput {
    #[schemars(length(min = 1, max = 2000), pattern(r"\S"))]
    pub message: String,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "Ticket")]
pub struct TicketView {
    #[serde(flatten)]
    pub ticket: ss::Ticket,
    pub messages: Vec<ss::TicketMessage>,
}

fn text(what: &str, s: &str, max: usize) -> Result<String, UseCaseError> {
    let t = s.trim();
    if t.is_empty() || t.chars().count() > max || t.chars().any(|c| c.is_control() && c != '\n' && c != '\r') {
        return Err(UseCaseError::Invalid(format!("{what} must be 1-{max} characters")));
    }
    Ok(t.to_owned())
}

async fn flood_check(db: &impl Db, subscriber_id: &str, now: DateTime<Utc>) -> Result<(), UseCaseError> {
    if ss::messages_since(db, subscriber_id, &fmt_ts(now - Duration::days(1))).await? >= MESSAGES_PER_DAY {
        return Err(UseCaseError::Throttled(3600));
    }
    Ok(())
}

pub async fn open_ticket(
    db: &impl Db,
    subscriber_id: &str,
    input: &TicketInput,
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Result<TicketView, UseCaseError> {
    let subject = text("subject", &input.subject, 120)?;
    let message = text("message", &input.message, 2000)?;
    flood_check(db, subscriber_id, now).await?;
    let id = ids.uuid();
    let at = fmt_ts(now);
    db.batch(&[
        ss::insert_ticket(&id, subscriber_id, &subject, &at),
        ss::insert_message(&id, "subscriber", &message, &at),
    ])
    .await?;
    ticket(db, subscriber_id, &id).await
}

pub async fn ticket(db: &impl Db, subscriber_id: &str, id: &str) -> Result<TicketView, UseCaseError> {
    let t = ss::ticket_of(db, subscriber_id, id).await?.ok_or(UseCaseError::NotFound("ticket"))?;
    let messages = ss::ticket_messages(db, &t.id).await?;
    Ok(TicketView { ticket: t, messages })
}

/// Adds the subscriber's message; a closed or answered ticket opens again.
pub async fn add_message(
    db: &impl Db,
    subscriber_id: &str,
    id: &str,
    input: &MessageInput,
    now: DateTime<Utc>,
) -> Result<TicketView, UseCaseError> {
    let t = ss::ticket_of(db, subscriber_id, id).await?.ok_or(UseCaseError::NotFound("ticket"))?;
    let message = text("message", &input.message, 2000)?;
    flood_check(db, subscriber_id, now).await?;
    let at = fmt_ts(now);
    db.batch(&[ss::insert_message(&t.id, "subscriber", &message, &at), ss::touch_ticket(&t.id, "open", &at)]).await?;
    ticket(db, subscriber_id, &t.id).await
}

/// What a staff reply did, for the audit log.
#[derive(Debug, Serialize)]
pub struct StaffReply {
    pub ticket: ss::StaffTicket,
    /// The status before the reply.
    pub was: String,
    /// Whether an SMS about it was queued (the subscriber has a phone and wants replies by SMS).
    pub sms_queued: bool,
}

/// The SMS that tells a subscriber staff replied: the subject and the start of the reply.
fn reply_sms(lang_en: bool, subject: &str, message: &str) -> String {
    let cut = |s: &str, n: usize| {
        let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
        if s.chars().count() > n { format!("{}...", s.chars().take(n).collect::<String>()) } else { s }
    };
    let (subject, message) = (cut(subject, 40), cut(message, 100));
    if lang_en {
        format!("Reply to \"{subject}\": {message} Read and answer it under Help in your account.")
    } else {
        format!("Jibu la \"{subject}\": {message} Soma na ujibu chini ya Msaada kwenye akaunti yako.")
    }
}

/// A staff member answers a ticket (from the console): the message goes in the thread, the ticket
/// becomes `answered` (or `closed` with `close`), and the subscriber gets an SMS about it if they
/// have a phone and have not turned reply messages off (`PUT .../v1/me/notification-preferences`).
pub async fn staff_reply(
    db: &impl Db,
    settings: &TenantSettings,
    ticket_id: &str,
    message: &str,
    close: bool,
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Result<StaffReply, UseCaseError> {
    let t = ss::ticket_for_staff(db, ticket_id).await?.ok_or(UseCaseError::NotFound("ticket"))?;
    let message = text("message", message, 2000)?;
    let at = fmt_ts(now);
    let status = if close { "closed" } else { "answered" };
    let mut batch =
        vec![ss::insert_message(&t.ticket.id, "staff", &message, &at), ss::touch_ticket(&t.ticket.id, status, &at)];
    let sms = ss::ticket_reply_sms(db, &t.subscriber_id).await?;
    let sms_id = ids.uuid();
    if sms {
        let (en, sw) = (reply_sms(true, &t.ticket.subject, &message), reply_sms(false, &t.ticket.subject, &message));
        batch.push(crate::store::sms::enqueue_for(&crate::store::sms::ToSubscriber {
            id: &sms_id,
            subscriber_id: &t.subscriber_id,
            dedupe_key: &format!("ticket-reply:{sms_id}"),
            body_en: &en,
            body_sw: &sw,
            kind: crate::store::sms::Kind::Transactional,
            default_language: crate::usecases::sms::lang_tag(settings),
            at: &at,
            not_before: None,
        }));
    }
    db.batch(&batch).await?;
    let was = t.ticket.status.clone();
    let ticket = ss::ticket_for_staff(db, ticket_id).await?.ok_or(UseCaseError::NotFound("ticket"))?;
    let queued = sms && sms_queued(db, &sms_id).await?;
    Ok(StaffReply { ticket, was, sms_queued: queued })
}

async fn sms_queued(db: &impl Db, id: &str) -> Result<bool, StoreError> {
    Ok(crate::store::sms::get(db, id).await?.is_some())
}

/// Staff close a ticket without a reply (a subscriber's next message opens it again).
pub async fn close_ticket(db: &impl Db, ticket_id: &str, now: DateTime<Utc>) -> Result<ss::StaffTicket, UseCaseError> {
    let t = ss::ticket_for_staff(db, ticket_id).await?.ok_or(UseCaseError::NotFound("ticket"))?;
    if t.ticket.status == "closed" {
        return Err(UseCaseError::Conflict("the ticket is already closed".into()));
    }
    db.batch(&[ss::touch_ticket(&t.ticket.id, "closed", &fmt_ts(now))]).await?;
    Ok(t)
}

/// `POST /api/t/{realm}/network-notices` (operator).
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoticeInput {
    /// `outage` or `maintenance`.
    #[schemars(extend("enum" = ["outage", "maintenance"]))]
    pub kind: String,
    /// A site (router) name; none: every subscriber.
    #[serde(default)]
    pub site: Option<String>,
    #[schemars(length(min = 1))]
    pub title: String,
    #[serde(default)]
    pub body: String,
    /// RFC 3339; none: now.
    #[serde(default)]
    pub starts_at: Option<String>,
    #[serde(default)]
    pub ends_at: Option<String>,
}

pub async fn announce(
    db: &impl Db,
    input: &NoticeInput,
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Result<ss::Notice, UseCaseError> {
    if !matches!(input.kind.as_str(), "outage" | "maintenance") {
        return Err(UseCaseError::Invalid("kind must be outage or maintenance".into()));
    }
    let title = text("title", &input.title, 120)?;
    if input.body.chars().count() > 2000 {
        return Err(UseCaseError::Invalid("body must be at most 2000 characters".into()));
    }
    let ts = |what: &str, v: &Option<String>| -> Result<Option<DateTime<Utc>>, UseCaseError> {
        v.as_deref()
            .map(|s| parse_ts(s).ok_or_else(|| UseCaseError::Invalid(format!("{what} must be an RFC 3339 time"))))
            .transpose()
    };
    let starts = ts("starts_at", &input.starts_at)?.unwrap_or(now);
    let ends = ts("ends_at", &input.ends_at)?;
    if ends.is_some_and(|e| e <= starts) {
        return Err(UseCaseError::Invalid("ends_at must be after starts_at".into()));
    }
    let n = ss::Notice {
        id: ids.uuid(),
        kind: input.kind.clone(),
        site: input.site.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned),
        title,
        body: input.body.trim().to_owned(),
        starts_at: fmt_ts(starts),
        ends_at: ends.map(fmt_ts),
        created_at: fmt_ts(now),
    };
    db.batch(&[ss::insert_notice(&n)]).await?;
    Ok(n)
}

/// `GET network/status`: the notices for the subscriber's site (and for everyone) not yet over.
pub async fn network_status(
    db: &impl Db,
    subscriber_id: &str,
    now: DateTime<Utc>,
) -> Result<NetworkStatus, UseCaseError> {
    let (s, _) = load(db, subscriber_id).await?;
    let site = s.subscriber.site.clone();
    let list = ss::notices(db, Some(site.as_deref()), &fmt_ts(now)).await?;
    let at = fmt_ts(now);
    let now_on: Vec<&ss::Notice> = list.iter().filter(|n| n.starts_at <= at).collect();
    let status = if now_on.iter().any(|n| n.kind == "outage") {
        "outage"
    } else if now_on.iter().any(|n| n.kind == "maintenance") {
        "maintenance"
    } else {
        "ok"
    };
    Ok(NetworkStatus { site, status, notices: list })
}

/// `GET network/status`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct NetworkStatus {
    pub site: Option<String>,
    #[schemars(extend("enum" = ["ok", "outage", "maintenance"]))]
    pub status: &'static str,
    pub notices: Vec<ss::Notice>,
}

#[cfg(test)]
mod pause_tests {
    use super::*;
    use crate::domain::plan::PlanKind;
    use crate::testing::{TestDb, run};
    use crate::usecases::plans::{PlanInput, create_plan};
    use crate::usecases::subscribers::{SubscriberInput, SubscriberPatch, create_subscriber, update_subscriber};

    fn t(s: &str) -> DateTime<Utc> {
        parse_ts(s).expect("time")
    }

    fn settings() -> TenantSettings {
        TenantSettings { pause_max_days: 14, pause_max_per_year: 2, grace_seconds: 86_400, ..TenantSettings::default() }
    }

    /// A subscriber who paid one 30-day period at `now`.
    fn paid_up(now: DateTime<Utc>) -> (TestDb, String) {
        let db = TestDb::tenant();
        let mut ids = IdGen::new(&crate::Ctx { now, entropy: [3; 32] });
        let plan = PlanInput {
            code: "home".into(),
            name: "Home".into(),
            kind: PlanKind::Pppoe,
            price_cents: 100_000,
            period_seconds: 30 * 86_400,
            down_kbps: 5000,
            up_kbps: 1000,
            data_cap_bytes: None,
            max_devices: 1,
        };
        run(create_plan(&db, plan, &mut ids, now)).expect("plan");
        let input = SubscriberInput {
            name: "Achieng".into(),
            plan: "home".into(),
            phone: Some("0711000001".into()),
            account_no: Some("PAU1".into()),
            username: None,
            password: None,
            site: None,
            static_ip: None,
            auto_renew: Some(false),
        };
        let s = run(create_subscriber(&db, input, &mut ids, now)).expect("subscriber");
        let id = s.subscriber.id.clone();
        run(crate::usecases::operator_money::adjust(&db, &settings(), &id, 100_000, "cash", &mut ids, now))
            .expect("cash");
        (db, id)
    }

    fn state(db: &TestDb, id: &str) -> (Status, Option<DateTime<Utc>>, Option<String>) {
        let s = run(subscribers::get(db, id)).expect("get").expect("subscriber");
        (s.subscriber.status, s.subscriber.expires_at, run(ss::extras(db, id)).expect("extras").paused_at)
    }

    fn days(n: i64) -> PauseInput {
        PauseInput { days: n }
    }

    #[test]
    fn pausing_twice_or_resuming_when_not_paused_is_refused_and_writes_nothing() {
        let now = t("2026-12-01T09:00:00Z");
        let (db, id) = paid_up(now);
        let before = state(&db, &id);
        let e = run(resume(&db, &id, now)).expect_err("not paused");
        assert!(matches!(e, UseCaseError::Conflict(_)), "{e:?}");
        assert_eq!(state(&db, &id), before);
        run(pause(&db, &settings(), &id, &days(7), now)).expect("pause");
        let paused = state(&db, &id);
        assert_eq!(paused.0, Status::Suspended);
        let e = run(pause(&db, &settings(), &id, &days(3), now + Duration::hours(1))).expect_err("twice");
        assert!(matches!(e, UseCaseError::Conflict(_)), "{e:?}");
        assert_eq!(state(&db, &id), paused, "the second pause changed nothing");
        let r = run(resume(&db, &id, now + Duration::days(2))).expect("resume");
        assert_eq!(r.expires_at, fmt_ts(now + Duration::days(2) + Duration::days(30)), "the banked 30 days from now");
        let e = run(resume(&db, &id, now + Duration::days(2))).expect_err("resumed already");
        assert!(matches!(e, UseCaseError::Conflict(_)), "{e:?}");
    }

    #[test]
    fn pause_limits_days_and_pauses_per_year() {
        let now = t("2026-12-01T09:00:00Z");
        let (db, id) = paid_up(now);
        let off = TenantSettings { pause_max_days: 0, ..settings() };
        assert!(matches!(run(pause(&db, &off, &id, &days(3), now)), Err(UseCaseError::Invalid(_))), "not offered");
        for bad in [0, -1, 15] {
            assert!(
                matches!(run(pause(&db, &settings(), &id, &days(bad), now)), Err(UseCaseError::Invalid(_))),
                "{bad}"
            );
        }
        assert_eq!(state(&db, &id).2, None, "refusals wrote nothing");
        // pause, resume, pause, resume: the third pause in 12 months is refused, with the date it is possible
        let mut at = now;
        for _ in 0..2 {
            run(pause(&db, &settings(), &id, &days(14), at)).expect("pause");
            at += Duration::days(1);
            run(resume(&db, &id, at)).expect("resume");
            at += Duration::days(1);
        }
        match run(pause(&db, &settings(), &id, &days(14), at)) {
            Err(UseCaseError::Invalid(m)) => {
                assert!(m.contains("at most 2 pauses") && m.contains("2027-12-01T09:00:00Z"), "{m}")
            }
            other => panic!("a third pause: {other:?}"),
        }
        assert_eq!(state(&db, &id).0, Status::Active);
        // a year after the first, one is possible again (the account still has paid time: top it up)
        let later = now + Duration::days(365) + Duration::hours(1);
        let mut ids = IdGen::new(&crate::Ctx { now: later, entropy: [4; 32] });
        run(crate::usecases::operator_money::adjust(&db, &settings(), &id, 100_000, "cash", &mut ids, later))
            .expect("cash");
        run(pause(&db, &settings(), &id, &days(3), later)).expect("one pause in the last 12 months");
    }

    #[test]
    fn no_pause_in_grace_or_without_paid_time() {
        let now = t("2026-12-01T09:00:00Z");
        let (db, id) = paid_up(now);
        // 30 days later plus an hour: expired but still online for the day of grace
        let in_grace = now + Duration::days(30) + Duration::hours(1);
        assert_eq!(state(&db, &id).0, Status::Active, "the expiry pass has not run: still active in grace");
        match run(pause(&db, &settings(), &id, &days(3), in_grace)) {
            Err(UseCaseError::Invalid(m)) => assert!(m.contains("paid time left"), "{m}"),
            other => panic!("a pause in grace: {other:?}"),
        }
        assert_eq!(state(&db, &id).2, None);
        assert!(run(ss::pauses_since(&db, &id, "2000-01-01T00:00:00Z")).expect("pauses").is_empty(), "not counted");
        // suspended by the operator: no pause either
        let patch = SubscriberPatch { status: Some("suspended".into()), ..Default::default() };
        run(update_subscriber(&db, &id, patch, now)).expect("suspend");
        assert!(matches!(run(pause(&db, &settings(), &id, &days(3), now)), Err(UseCaseError::Invalid(_))));
    }

    /// Defect: the operator resuming a paused account put it online with its old expiry and left
    /// the pause, whose end then gave the banked time again (paid time twice); an operator's
    /// suspension of a paused account was undone by the subscriber's resume.
    #[test]
    fn the_operators_word_on_a_paused_account_ends_the_pause_once() {
        let now = t("2026-12-01T09:00:00Z");
        let (db, id) = paid_up(now);
        run(pause(&db, &settings(), &id, &days(10), now)).expect("pause");
        let at = now + Duration::days(4);
        let patch = SubscriberPatch { status: Some("active".into()), ..Default::default() };
        run(update_subscriber(&db, &id, patch, at)).expect("operator resumes");
        assert_eq!(state(&db, &id), (Status::Active, Some(at + Duration::days(30)), None), "banked time from now");
        assert!(matches!(run(resume(&db, &id, at)), Err(UseCaseError::Conflict(_))), "the pause is over");
        assert_eq!(run(resume_due(&db, now + Duration::days(11))).expect("pass"), 0, "its end gives nothing again");
        assert_eq!(state(&db, &id).1, Some(at + Duration::days(30)));

        // the second pause of the year; the operator suspends during it: the subscriber cannot undo that
        let at2 = at + Duration::days(1);
        run(pause(&db, &settings(), &id, &days(10), at2)).expect("pause");
        let at3 = at2 + Duration::days(2);
        let patch = SubscriberPatch { status: Some("suspended".into()), ..Default::default() };
        run(update_subscriber(&db, &id, patch, at3)).expect("operator suspends");
        let left = at + Duration::days(30) - at2;
        assert_eq!(state(&db, &id), (Status::Suspended, Some(at3 + left), None));
        assert!(matches!(run(resume(&db, &id, at3)), Err(UseCaseError::Conflict(_))));
        assert_eq!(run(resume_due(&db, at2 + Duration::days(11))).expect("pass"), 0);
        assert_eq!(state(&db, &id).0, Status::Suspended, "still suspended after the pause's end");
    }

    #[test]
    fn a_pause_ends_by_itself_at_its_end_with_the_banked_time() {
        let now = t("2026-12-01T09:00:00Z");
        let (db, id) = paid_up(now);
        run(pause(&db, &settings(), &id, &days(5), now)).expect("pause");
        assert_eq!(run(resume_due(&db, now + Duration::days(5) - Duration::seconds(1))).expect("pass"), 0);
        let end = now + Duration::days(5);
        assert_eq!(run(resume_due(&db, end)).expect("pass"), 1);
        assert_eq!(state(&db, &id), (Status::Active, Some(end + Duration::days(30)), None));
    }
}

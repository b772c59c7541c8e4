//! Text messages: the Africa's Talking adapter of the SMS port, the scheduled drain of the outbox
//! (retries with backoff, promotional hours, opt-outs, costs), expiry reminders, operator
//! broadcasts and delivery reports.
//!
//! Every message is an outbox row first, written in the same batch as its cause (a receipt with
//! its payment: [`receipt_statement`]), so a crash never loses one. The drain claims a row before
//! sending it; a drain that dies after the provider accepted a message but before recording the
//! answer leaves the row `sending`, and it is sent again once its hold ends: a crash in that
//! window may send a message twice, never zero times.

use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::db::{Db, Statement, StoreError};
use crate::domain::sms::{self as rules, Stage, Verdict};
use crate::domain::time::{fmt_ts, parse_ts};
use crate::ids::IdGen;
use crate::platform::{OutgoingSms, Platform, SmsAccepted, SmsError, SmsGateway};
use crate::store::callbacks::{self as log, Entry, Outcome};
use crate::store::sms::{self as store, Kind, SmsKeys, ToSubscriber};
use crate::store::tenants::TenantSettings;
use crate::usecases::UseCaseError;
use crate::web::i18n::Lang;

/// How long a drain holds a message it is sending; after that another drain may take it.
const CLAIM: Duration = Duration::minutes(5);

/// Africa's Talking over the platform's outbound HTTP.
pub struct AfricasTalking<'a, P: Platform> {
    pub platform: &'a P,
    pub keys: SmsKeys,
}

/// `application/x-www-form-urlencoded` escaping.
pub fn form_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Decodes a form body into its pairs (`+` is a space).
pub fn form_decode(body: &[u8]) -> Vec<(String, String)> {
    fn unescape(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'+' => {
                    out.push(b' ');
                    i += 1;
                }
                b'%' => {
                    let hex = b
                        .get(i + 1..i + 3)
                        .and_then(|h| std::str::from_utf8(h).ok())
                        .and_then(|h| u8::from_str_radix(h, 16).ok());
                    match hex {
                        Some(v) => {
                            out.push(v);
                            i += 3;
                        }
                        None => {
                            out.push(b'%');
                            i += 1;
                        }
                    }
                }
                c => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (unescape(k), unescape(v))
        })
        .collect()
}

impl<P: Platform> SmsGateway for AfricasTalking<'_, P> {
    async fn send(&self, sms: &OutgoingSms) -> Result<SmsAccepted, SmsError> {
        if !self.keys.is_configured() {
            return Err(SmsError::NotConfigured);
        }
        let mut fields = vec![
            ("username", self.keys.username.clone()),
            ("to", sms.to.clone()),
            ("message", sms.body.clone()),
            ("bulkSMSMode", if sms.bulk { "1" } else { "0" }.to_owned()),
        ];
        if !self.keys.sender_id.is_empty() {
            fields.push(("from", self.keys.sender_id.clone()));
        }
        let body = fields.iter().map(|(k, v)| format!("{k}={}", form_escape(v))).collect::<Vec<_>>().join("&");
        let req = http::Request::post(format!("{}/version1/messaging", self.keys.base_url()))
            .header("apikey", self.keys.api_key.expose())
            .header("accept", "application/json")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Bytes::from(body))
            .map_err(|e| SmsError::Refused(e.to_string()))?;
        let resp = self.platform.fetch(req).await.map_err(|e| SmsError::Unavailable(e.to_string()))?;
        let status = resp.status();
        let text = String::from_utf8_lossy(resp.body());
        if status.is_server_error() {
            return Err(SmsError::Unavailable(format!("{status}: {}", text.chars().take(200).collect::<String>())));
        }
        if !status.is_success() {
            return Err(SmsError::Refused(format!("{status}: {}", text.chars().take(200).collect::<String>())));
        }
        parse_response(resp.body(), &sms.to)
    }
}

/// Reads `{"SMSMessageData":{"Recipients":[...]}}` for the one recipient sent to.
pub fn parse_response(body: &[u8], to: &str) -> Result<SmsAccepted, SmsError> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| SmsError::Unavailable(format!("unreadable answer: {e}")))?;
    let recipients = v["SMSMessageData"]["Recipients"].as_array().cloned().unwrap_or_default();
    let r = recipients.iter().find(|r| r["number"].as_str() == Some(to)).or_else(|| recipients.first()).ok_or_else(
        || {
            SmsError::Refused(format!(
                "no recipient in the answer: {}",
                v["SMSMessageData"]["Message"].as_str().unwrap_or("no message")
            ))
        },
    )?;
    let status_code = r["statusCode"].as_i64().unwrap_or(0);
    let message_id = r["messageId"].as_str().filter(|m| !m.is_empty() && *m != "None").map(str::to_owned);
    Ok(SmsAccepted {
        message_id,
        status_code,
        status: r["status"].as_str().unwrap_or("").to_owned(),
        cost_e4: r["cost"].as_str().and_then(rules::cost_e4),
    })
}

#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct DrainReport {
    pub sent: usize,
    pub failed: usize,
    pub retried: usize,
    /// Promotional messages kept for the 08:00-18:00 EAT window.
    pub deferred: usize,
}

/// Sends what is due in the outbox. Without a configured gateway nothing moves (the rows wait,
/// and `GET /api/t/{realm}/sms-outbox` is the development sink).
pub async fn drain<G: SmsGateway>(
    db: &impl Db,
    gateway: &G,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<DrainReport, StoreError> {
    let mut report = DrainReport::default();
    let at = fmt_ts(now);
    for m in store::due(db, &at, limit).await? {
        if m.send_before.as_deref().is_some_and(|b| b <= at.as_str()) {
            db.batch(&[store::mark_failed(&m.id, Some("Expired"), "not sent: it expired before it could go out")])
                .await?;
            report.failed += 1;
            continue;
        }
        if m.kind == Kind::Promotional {
            if !rules::promo_allowed(now) {
                db.batch(&[store::requeue(&m.id, &fmt_ts(rules::next_promo_window(now)), None)]).await?;
                report.deferred += 1;
                continue;
            }
            if store::opted_out(db, &m.to).await? {
                db.batch(&[store::mark_failed(&m.id, Some("OptedOut"), "the recipient opted out")]).await?;
                report.failed += 1;
                continue;
            }
        }
        match db.batch(&store::claim(&m.id, m.attempts, &fmt_ts(now + CLAIM))).await {
            Ok(_) => {}
            Err(StoreError::Conflict(_)) => continue, // another drain has it
            Err(e) => return Err(e),
        }
        let attempts = m.attempts + 1;
        let out =
            OutgoingSms { to: rules::international(&m.to), body: m.body.clone(), bulk: m.kind == Kind::Promotional };
        let retry = |why: &str| {
            if attempts >= rules::MAX_ATTEMPTS {
                store::mark_failed(&m.id, None, &format!("gave up after {attempts} attempts: {why}"))
            } else {
                store::requeue(&m.id, &fmt_ts(now + rules::backoff(attempts)), Some(why))
            }
        };
        let stmts: Vec<Statement> = match gateway.send(&out).await {
            Ok(a) => match rules::verdict(a.status_code) {
                Verdict::Accepted => {
                    report.sent += 1;
                    vec![store::mark_sent(&m.id, a.message_id.as_deref(), &a.status, a.cost_e4, &at)]
                }
                Verdict::OptedOut => {
                    report.failed += 1;
                    vec![
                        store::mark_failed(&m.id, Some(&a.status), "the number is blacklisted (opted out)"),
                        store::opt_out(&m.to, "provider", &at),
                    ]
                }
                Verdict::Refused => {
                    report.failed += 1;
                    vec![store::mark_failed(
                        &m.id,
                        Some(&a.status),
                        &format!("refused: {} {}", a.status_code, a.status),
                    )]
                }
                Verdict::Retry => {
                    report.retried += 1;
                    vec![retry(&format!("{} {}", a.status_code, a.status))]
                }
            },
            Err(SmsError::NotConfigured) => {
                // Put it back as it was: nothing was attempted.
                vec![store::requeue(&m.id, &at, None), store::undo_attempt(&m.id)]
            }
            Err(e) => {
                report.retried += 1;
                vec![retry(&e.to_string())]
            }
        };
        db.batch(&stmts).await?;
    }
    Ok(report)
}

/// The tenant's gateway, if it has one configured.
pub async fn gateway<'a, P: Platform>(p: &'a P, db: &P::Db) -> Result<Option<AfricasTalking<'a, P>>, StoreError> {
    let keys: SmsKeys = crate::store::cards::keys(db, store::PROVIDER).await?;
    Ok(keys.is_configured().then_some(AfricasTalking { platform: p, keys }))
}

pub(crate) fn lang_tag(settings: &TenantSettings) -> &'static str {
    Lang::from_tag(&settings.default_language).unwrap_or(Lang::Sw).tag()
}

/// A payment receipt to queue.
pub struct Receipt<'a> {
    pub message_id: &'a str,
    pub subscriber_id: &'a str,
    pub account: &'a str,
    pub payment_id: &'a str,
    /// What the payer knows the payment by (M-Pesa receipt, card payment id).
    pub reference: &'a str,
    pub cents: i64,
    /// The expiry the payment leads to, when known.
    pub until: Option<DateTime<Utc>>,
}

/// The receipt for a payment credited to a subscriber: put it in the crediting batch.
pub fn receipt_statement(settings: &TenantSettings, r: &Receipt<'_>, now: DateTime<Utc>) -> Statement {
    let en = rules::receipt(Lang::En, r.cents, r.reference, r.account, r.until);
    let sw = rules::receipt(Lang::Sw, r.cents, r.reference, r.account, r.until);
    store::enqueue_for(&ToSubscriber {
        id: r.message_id,
        subscriber_id: r.subscriber_id,
        dedupe_key: &format!("receipt:{}", r.payment_id),
        body_en: &en,
        body_sw: &sw,
        kind: Kind::Transactional,
        default_language: lang_tag(settings),
        at: &fmt_ts(now),
        not_before: None,
    })
}

/// Queues the expiry reminders due now (each at most once per subscriber, expiry and stage).
pub async fn reminders(
    db: &impl Db,
    settings: &TenantSettings,
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let grace = Duration::seconds(settings.grace_seconds.max(0));
    let from = fmt_ts(now - grace - rules::REMINDER_STALE);
    let to = fmt_ts(now + Duration::days(4));
    let mut queued = 0;
    for c in store::reminder_candidates(db, &from, &to, 2000).await? {
        let Some(expires_at) = parse_ts(&c.expires_at) else { continue };
        let plan = rules::schedule(expires_at, Duration::seconds(c.period_seconds), grace);
        let Some(stage) = rules::due(&plan, now) else { continue };
        let due = c.price_cents - c.balance_cents;
        // Auto-renew with enough on the balance: the renewal happens; no reminder needed.
        if stage <= Stage::OneDay && c.auto_renew && due <= 0 {
            continue;
        }
        let en = rules::reminder(Lang::En, stage, &c.account_no, due, expires_at);
        let sw = rules::reminder(Lang::Sw, stage, &c.account_no, due, expires_at);
        let key = format!("reminder:{}:{}:{}", c.subscriber_id, c.expires_at, stage.as_str());
        let n = db
            .batch(&[store::enqueue_for(&ToSubscriber {
                id: &ids.uuid(),
                subscriber_id: &c.subscriber_id,
                dedupe_key: &key,
                body_en: &en,
                body_sw: &sw,
                kind: Kind::Transactional,
                default_language: lang_tag(settings),
                at: &fmt_ts(now),
                not_before: None,
            })])
            .await?;
        queued += usize::from(n.first().copied().unwrap_or(0) > 0);
    }
    Ok(queued)
}

/// The catch-up for captive-portal code SMS: the crediting of a sale queues its code SMS in the
/// same batch ([`crate::usecases::hotspot_sales::paid_statements`]); a paid sale without one (paid
/// before that was so, or while the deployment had no voucher secret) gets it here, once, with
/// the code the page shows (minted now if it has none). Sales older than a day are left alone.
pub async fn voucher_codes(
    db: &impl Db,
    key: &crate::domain::voucher::VoucherKey,
    realm: &crate::domain::Realm,
    settings: &TenantSettings,
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Result<usize, UseCaseError> {
    let mut queued = 0;
    for (checkout, msisdn, package) in store::paid_sales_without_code_sms(db, &fmt_ts(now - Duration::days(1))).await? {
        let (batch, serial) = crate::usecases::hotspot_sales::mint(db, &checkout, now).await?;
        let Some(id) = crate::domain::voucher::VoucherId::new(batch, serial) else { continue };
        let code = key.code(realm, id).to_string();
        let sale = CodeSms { message_id: &ids.uuid(), checkout_request_id: &checkout, to: &msisdn, package: &package };
        let n = db.batch(&[code_sms_statement(settings, &sale, &code, now)]).await?;
        queued += usize::from(n.first().copied().unwrap_or(0) > 0);
    }
    Ok(queued)
}

/// The SMS that gives a captive-portal buyer their code.
pub struct CodeSms<'a> {
    pub message_id: &'a str,
    pub checkout_request_id: &'a str,
    /// The buyer's number, `2547XXXXXXXX`.
    pub to: &'a str,
    /// The package's name.
    pub package: &'a str,
}

/// The statement that queues a sale's code SMS, at most once per sale (`voucher:<checkout id>`),
/// in the tenant's language; put it in the batch that credits the sale.
pub fn code_sms_statement(settings: &TenantSettings, m: &CodeSms<'_>, code: &str, now: DateTime<Utc>) -> Statement {
    let lang = Lang::from_tag(&settings.default_language).unwrap_or(Lang::Sw);
    let body = lang.tf("sms.voucher", &[("package", m.package), ("code", code)]);
    store::enqueue_once(
        m.message_id,
        m.to,
        &body,
        Kind::Transactional,
        lang.tag(),
        &format!("voucher:{}", m.checkout_request_id),
        &fmt_ts(now),
    )
}

#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BroadcastInput {
    #[schemars(length(min = 1))]
    pub message_en: String,
    #[schemars(length(min = 1))]
    pub message_sw: String,
    /// `all`, `active` or `expired` (default `active`).
    #[serde(default)]
    #[schemars(extend("enum" = ["all", "active", "expired", null]))]
    pub to: Option<String>,
    /// Only subscribers on this plan (its code or id).
    #[serde(default)]
    pub plan: Option<String>,
    /// Only subscribers whose paid time ends within this many days (1 to 60).
    #[serde(default)]
    #[schemars(range(min = 1, max = 60))]
    pub expiring_days: Option<i64>,
    /// The broadcast's own key (the console's check page): sent twice under one key, it is queued
    /// once. Not part of the API's body: there each call is a new broadcast.
    #[serde(skip)]
    pub batch: Option<String>,
}

/// The longest broadcast text, per language, before the opt-out line is added.
pub const BROADCAST_MAX_CHARS: usize = 300;

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Broadcast {
    pub queued: usize,
    /// When they go: now, or 08:00 EAT when sent outside promotional hours.
    pub not_before: String,
}

/// What a broadcast would do, shown before it is sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BroadcastPreview {
    /// Subscribers it reaches (with a phone, not opted out), and how many of them read Swahili.
    pub recipients: usize,
    pub recipients_sw: usize,
    /// The texts as sent, opt-out line included, and the segments each goes out as.
    pub body_en: String,
    pub body_sw: String,
    pub segments_en: usize,
    pub segments_sw: usize,
    /// Segments over all recipients.
    pub segments: usize,
    /// What one segment costs: the tenant's average over its latest charged messages, or
    /// [`rules::ASSUMED_SEGMENT_COST_E4`] when it has none (`cost_measured = false`).
    pub segment_cost_e4: i64,
    pub cost_measured: bool,
    pub estimated_cost_e4: i64,
    /// When the messages may first go (now inside 08:00-18:00 EAT, else the next 08:00 EAT).
    pub not_before: String,
}

struct Resolved {
    en: String,
    sw: String,
    statuses: &'static [&'static str],
    plan_id: Option<String>,
    expires_by: Option<String>,
}

async fn resolve(db: &impl Db, input: &BroadcastInput, now: DateTime<Utc>) -> Result<Resolved, UseCaseError> {
    let (en, sw) = (input.message_en.trim(), input.message_sw.trim());
    if en.is_empty() || sw.is_empty() {
        return Err(UseCaseError::Invalid("message_en and message_sw are both needed".into()));
    }
    if en.chars().count() > BROADCAST_MAX_CHARS || sw.chars().count() > BROADCAST_MAX_CHARS {
        return Err(UseCaseError::Invalid(format!("a message may be at most {BROADCAST_MAX_CHARS} characters")));
    }
    let statuses: &'static [&'static str] = match input.to.as_deref().unwrap_or("active") {
        "all" => &["active", "expired", "pending", "suspended"],
        "active" => &["active"],
        "expired" => &["expired"],
        other => return Err(UseCaseError::Invalid(format!("to must be all, active or expired, not {other:?}"))),
    };
    let plan_id = match input.plan.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        None => None,
        Some(p) => {
            let all = crate::store::plans::list(db).await?;
            Some(all.into_iter().find(|x| x.code == p || x.id == p).ok_or(UseCaseError::NotFound("plan"))?.id)
        }
    };
    let expires_by = match input.expiring_days {
        None => None,
        Some(d) if (1..=60).contains(&d) => Some(fmt_ts(now + Duration::days(d))),
        Some(_) => return Err(UseCaseError::Invalid("expiring_days must be 1 to 60".into())),
    };
    Ok(Resolved {
        en: rules::promotional(Lang::En, en),
        sw: rules::promotional(Lang::Sw, sw),
        statuses,
        plan_id,
        expires_by,
    })
}

async fn recipients(
    db: &impl Db,
    settings: &TenantSettings,
    r: &Resolved,
    now: DateTime<Utc>,
) -> Result<Vec<(String, String)>, StoreError> {
    let at = fmt_ts(now);
    let a = store::Audience {
        statuses: r.statuses,
        plan_id: r.plan_id.as_deref(),
        expires_by: r.expires_by.as_deref(),
        now: &at,
    };
    store::audience(db, &a, lang_tag(settings)).await
}

/// What sending `input` now would do: recipients, segments, estimated cost, when it goes.
pub async fn preview(
    db: &impl Db,
    settings: &TenantSettings,
    input: &BroadcastInput,
    now: DateTime<Utc>,
) -> Result<BroadcastPreview, UseCaseError> {
    let r = resolve(db, input, now).await?;
    let who = recipients(db, settings, &r, now).await?;
    let recipients_sw = who.iter().filter(|(_, l)| l == "sw").count();
    let recipients_en = who.len() - recipients_sw;
    let segments_en = rules::segments(&r.en).1;
    let segments_sw = rules::segments(&r.sw).1;
    let segments = recipients_en * segments_en + recipients_sw * segments_sw;
    let charges = store::recent_charges(db, 200).await?;
    let charged_segments: usize = charges.iter().map(|(b, _)| rules::segments(b).1).sum();
    let charged: i64 = charges.iter().map(|(_, c)| c).sum();
    let (segment_cost_e4, cost_measured) = match i64::try_from(charged_segments) {
        Ok(n) if n > 0 => ((charged + n / 2) / n, true),
        _ => (rules::ASSUMED_SEGMENT_COST_E4, false),
    };
    Ok(BroadcastPreview {
        recipients: who.len(),
        recipients_sw,
        body_en: r.en,
        body_sw: r.sw,
        segments_en,
        segments_sw,
        segments,
        segment_cost_e4,
        cost_measured,
        estimated_cost_e4: segment_cost_e4.saturating_mul(i64::try_from(segments).unwrap_or(i64::MAX)),
        not_before: fmt_ts(rules::next_promo_window(now)),
    })
}

/// An operator's promotional message to many subscribers: opted-out numbers are left out,
/// and outside 08:00-18:00 EAT the messages wait for the next window.
pub async fn broadcast(
    db: &impl Db,
    settings: &TenantSettings,
    input: BroadcastInput,
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Result<Broadcast, UseCaseError> {
    let r = resolve(db, &input, now).await?;
    let not_before = fmt_ts(rules::next_promo_window(now));
    let batch_id = input.batch.clone().unwrap_or_else(|| ids.token(12));
    let at = fmt_ts(now);
    let mut queued = 0;
    for chunk in recipients(db, settings, &r, now).await?.chunks(200) {
        let mut stmts = Vec::new();
        for (sid, _) in chunk {
            stmts.push(store::enqueue_for(&ToSubscriber {
                id: &ids.uuid(),
                subscriber_id: sid,
                dedupe_key: &format!("broadcast:{batch_id}:{sid}"),
                body_en: &r.en,
                body_sw: &r.sw,
                kind: Kind::Promotional,
                default_language: lang_tag(settings),
                at: &at,
                not_before: Some(&not_before),
            }));
        }
        queued += db.batch(&stmts).await?.iter().filter(|n| **n > 0).count();
    }
    Ok(Broadcast { queued, not_before })
}

/// Queues a failed transactional message (a receipt, a reminder, a code) again as a new message;
/// answers the new message's id. Refused for a message that has not failed, a promotional one
/// (a broadcast is sent again as a new broadcast), a sign-in code (the subscriber asks for a new
/// one), and one resent
/// already (once per failed message, so a double submit queues one).
pub async fn resend(db: &impl Db, id: &str, ids: &mut IdGen, now: DateTime<Utc>) -> Result<String, UseCaseError> {
    let m = store::get(db, id).await?.ok_or(UseCaseError::NotFound("message"))?;
    if m.status != store::STATUS_FAILED {
        return Err(UseCaseError::Invalid("only a failed message can be sent again".into()));
    }
    if m.kind != Kind::Transactional {
        return Err(UseCaseError::Invalid("a promotional message is sent again as a new broadcast".into()));
    }
    if m.send_before.is_some() {
        return Err(UseCaseError::Invalid(
            "a sign-in code is not sent again: the subscriber asks for a new one".into(),
        ));
    }
    if let Some(other) = store::resent_as(db, id).await? {
        return Err(UseCaseError::Conflict(format!("sent again already as {other}")));
    }
    let new_id = ids.uuid();
    let n = db.batch(&[store::resend(&new_id, id, &fmt_ts(now))]).await?;
    if n.first().copied().unwrap_or(0) == 0 {
        return Err(UseCaseError::Conflict("sent again already".into()));
    }
    Ok(new_id)
}

/// `POST /hooks/{realm}/{token}/sms/delivery`: a delivery report (form body), kept raw in the
/// callback log; the latest final status per message id is stored.
pub async fn delivery_report(db: &impl Db, body: &[u8], now: DateTime<Utc>) -> Result<Outcome, StoreError> {
    let f = form_decode(body);
    let get = |k: &str| f.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let at = fmt_ts(now);
    let entry = |outcome: Outcome, detail: &str, reference: Option<&str>| {
        log::insert(&Entry {
            provider: store::PROVIDER,
            kind: "delivery_report",
            received_at: &at,
            body,
            body_size: body.len(),
            http_status: 200,
            outcome,
            detail: Some(detail),
            provider_ref: reference,
        })
    };
    let (Some(id), Some(status)) = (get("id"), get("status")) else {
        db.batch(&[entry(Outcome::Malformed, "a report without id or status", None)]).await?;
        return Ok(Outcome::Malformed);
    };
    let detail = match get("failureReason") {
        Some(r) if !r.is_empty() => format!("{status}: {r}"),
        _ => status.to_owned(),
    };
    if store::by_provider_id(db, id).await?.is_none() {
        db.batch(&[entry(Outcome::UnknownRequest, &detail, Some(id))]).await?;
        return Ok(Outcome::UnknownRequest);
    }
    let provider_status = get("failureReason").filter(|r| !r.is_empty()).unwrap_or(status);
    db.batch(&[
        store::apply_report(id, rules::report_final(status), provider_status, &at),
        entry(Outcome::Applied, &detail, Some(id)),
    ])
    .await?;
    Ok(Outcome::Applied)
}

/// The `sms` part of a settings update (Africa's Talking), laid over the stored keys.
pub async fn merge_keys(
    db: &impl Db,
    patch: &serde_json::Value,
    now: DateTime<Utc>,
) -> Result<Option<Statement>, UseCaseError> {
    let Some(p) = patch.get("sms") else { return Ok(None) };
    let cur: SmsKeys = crate::store::cards::keys(db, store::PROVIDER).await?;
    let merged: SmsKeys = crate::usecases::tenants::overlay("sms", &cur, p, &["api_key"])?;
    match merged.environment.as_str() {
        "" | "sandbox" | "live" => {}
        u if u.starts_with("http://") || u.starts_with("https://") => {}
        other => {
            return Err(UseCaseError::Invalid(format!(
                "sms.environment must be sandbox, live or a URL, not {other:?}"
            )));
        }
    }
    Ok(Some(crate::store::cards::put_keys(store::PROVIDER, &merged, &fmt_ts(now))))
}

/// Africa's Talking keys as the settings show them (the API key: set or not).
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(inline)]
pub struct SmsKeysView {
    pub environment: String,
    pub username: String,
    pub sender_id: String,
    pub api_key_set: bool,
    pub configured: bool,
}

pub fn keys_view(k: &SmsKeys) -> SmsKeysView {
    SmsKeysView {
        environment: if k.environment.is_empty() { "sandbox".into() } else { k.environment.clone() },
        username: k.username.clone(),
        sender_id: k.sender_id.clone(),
        api_key_set: !k.api_key.is_empty(),
        configured: k.is_configured(),
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use crate::domain::plan::PlanKind;
    use crate::store::sms::{STATUS_DELIVERED, STATUS_FAILED, STATUS_QUEUED, STATUS_SENT};
    use crate::testing::{TestDb, run};
    use crate::usecases::plans::{PlanInput, create_plan};
    use crate::usecases::subscribers::{SubscriberInput, create_subscriber};

    fn t(s: &str) -> DateTime<Utc> {
        parse_ts(s).expect("time")
    }

    fn ids_at(now: DateTime<Utc>) -> IdGen {
        IdGen::new(&crate::Ctx { now, entropy: [7; 32] })
    }

    /// A gateway that records what it is asked to send and answers from a script.
    type Answer = Box<dyn Fn(&OutgoingSms) -> Result<SmsAccepted, SmsError>>;

    struct Fake {
        sent: RefCell<Vec<OutgoingSms>>,
        answer: RefCell<Answer>,
    }

    impl Fake {
        fn accepting() -> Fake {
            Fake { sent: RefCell::default(), answer: RefCell::new(Box::new(|m| Ok(accepted(m)))) }
        }
        fn answering(f: impl Fn(&OutgoingSms) -> Result<SmsAccepted, SmsError> + 'static) -> Fake {
            Fake { sent: RefCell::default(), answer: RefCell::new(Box::new(f)) }
        }
    }

    fn accepted(m: &OutgoingSms) -> SmsAccepted {
        SmsAccepted {
            message_id: Some(format!("ATXid_{}", m.to)),
            status_code: 101,
            status: "Success".into(),
            cost_e4: Some(8000),
        }
    }

    impl SmsGateway for Fake {
        async fn send(&self, sms: &OutgoingSms) -> Result<SmsAccepted, SmsError> {
            self.sent.borrow_mut().push(sms.clone());
            (self.answer.borrow())(sms)
        }
    }

    /// A tenant with a monthly plan and two subscribers: `en` (chose English) and `sw` (default).
    fn setup(now: DateTime<Utc>) -> (TestDb, TenantSettings, String, String) {
        let db = TestDb::tenant();
        let mut ids = ids_at(now);
        let plan = PlanInput {
            code: "home".into(),
            name: "Home".into(),
            kind: PlanKind::Pppoe,
            price_cents: 150_000,
            period_seconds: 30 * 86_400,
            down_kbps: 5000,
            up_kbps: 1000,
            data_cap_bytes: None,
            max_devices: 1,
        };
        run(create_plan(&db, plan, &mut ids, now)).expect("plan");
        let sub = |account: &str, phone: &str| SubscriberInput {
            name: account.into(),
            plan: "home".into(),
            phone: Some(phone.into()),
            account_no: Some(account.into()),
            username: None,
            password: None,
            site: None,
            static_ip: None,
            auto_renew: Some(false),
        };
        let en = run(create_subscriber(&db, sub("ACC1", "0711000001"), &mut ids, now)).expect("sub");
        let sw = run(create_subscriber(&db, sub("ACC2", "0711000002"), &mut ids, now)).expect("sub");
        let en_id = en.subscriber.id.clone();
        run(db.batch(&[crate::stmt!("UPDATE subscribers SET language = 'en' WHERE id = ?1", &en_id)])).expect("lang");
        let settings = TenantSettings { default_language: "sw".into(), ..TenantSettings::default() };
        (db, settings, en_id, sw.subscriber.id.clone())
    }

    fn outbox(db: &TestDb) -> Vec<store::Sms> {
        let mut v = run(store::list(db, None, None, 100)).expect("list");
        v.reverse();
        v
    }

    #[test]
    fn sms_receipt_is_written_with_the_credit_in_the_subscribers_language() {
        let now = t("2026-12-04T09:00:00Z");
        let (db, settings, en, sw) = setup(now);
        let mut ids = ids_at(now);
        run(crate::usecases::operator_money::adjust(&db, &settings, &en, 150_000, "cash", &mut ids, now))
            .expect("cash");
        run(crate::usecases::operator_money::adjust(&db, &settings, &sw, 50_000, "cash", &mut ids, now)).expect("cash");
        let m = outbox(&db);
        assert_eq!(m.len(), 2, "{m:?}");
        assert_eq!((m[0].to.as_str(), m[0].language.as_str()), ("254711000001", "en"));
        assert!(m[0].body.starts_with("We received KES 1,500 for account ACC1"), "{}", m[0].body);
        assert!(m[0].body.contains("Internet active until 03/01/2027 12:00"), "a period was bought: {}", m[0].body);
        assert_eq!((m[1].language.as_str(), m[1].kind), ("sw", Kind::Transactional));
        assert!(m[1].body.starts_with("Tumepokea KES 500 kwa akaunti ACC2"), "{}", m[1].body);
        assert!(!m[1].body.contains("hadi"), "not enough for a period: no expiry said: {}", m[1].body);
    }

    #[test]
    fn sms_drain_sends_once_records_cost_and_the_latest_final_report_wins() {
        let now = t("2026-12-04T09:00:00Z");
        let (db, settings, en, _) = setup(now);
        let mut ids = ids_at(now);
        run(crate::usecases::operator_money::adjust(&db, &settings, &en, 150_000, "cash", &mut ids, now))
            .expect("cash");
        let g = Fake::accepting();
        let r = run(drain(&db, &g, now, 10)).expect("drain");
        assert_eq!(r.sent, 1);
        assert_eq!(g.sent.borrow()[0].to, "+254711000001");
        assert!(!g.sent.borrow()[0].bulk, "a receipt is transactional");
        // a second pass sends nothing more
        assert_eq!(run(drain(&db, &g, now + Duration::minutes(10), 10)).expect("drain").sent, 0);
        assert_eq!(g.sent.borrow().len(), 1);
        let m = &outbox(&db)[0];
        assert_eq!((m.status.as_str(), m.cost_e4), (STATUS_SENT, Some(8000)));
        let costs = run(store::costs(&db, "2026-12-01T00:00:00Z")).expect("costs");
        assert_eq!(costs, vec![("2026-12-04".to_owned(), 1, 8000)]);

        let report = |body: &str| run(delivery_report(&db, body.as_bytes(), now)).expect("report");
        assert_eq!(report("id=ATXid_%2B254711000001&status=Success&phoneNumber=%2B254711000001"), Outcome::Applied);
        assert_eq!(outbox(&db)[0].status, STATUS_DELIVERED);
        // a late, not final report changes nothing; an unknown id is logged only
        report("id=ATXid_%2B254711000001&status=Buffered");
        assert_eq!(outbox(&db)[0].status, STATUS_DELIVERED);
        assert_eq!(report("id=ATXid_nope&status=Success"), Outcome::UnknownRequest);
        assert_eq!(report("status=Success"), Outcome::Malformed);
        // a later final report replaces the earlier one
        report("id=ATXid_%2B254711000001&status=Failed&failureReason=DeliveryFailure");
        let m = &outbox(&db)[0];
        assert_eq!((m.status.as_str(), m.provider_status.as_deref()), (STATUS_FAILED, Some("DeliveryFailure")));
        let logged = run(crate::store::callbacks::list(&db, None, 50)).expect("log");
        assert_eq!(logged.len(), 5, "every report kept raw");
    }

    #[test]
    fn sms_a_sign_in_code_found_after_it_expired_is_not_sent() {
        let now = t("2026-12-04T09:00:00Z");
        let (db, _, _, _) = setup(now);
        let until = fmt_ts(now + Duration::minutes(5));
        let at = fmt_ts(now);
        run(db.batch(&[
            store::enqueue_until("late", "254711000001", "Code 111111", "en", &at, &until),
            store::enqueue_until(
                "fresh",
                "254711000002",
                "Code 222222",
                "en",
                &fmt_ts(now + Duration::minutes(8)),
                &fmt_ts(now + Duration::minutes(13)),
            ),
        ]))
        .expect("queue");
        // SMS comes on (or the provider answers again) ten minutes later: the first code is dead.
        let g = Fake::accepting();
        let r = run(drain(&db, &g, now + Duration::minutes(10), 10)).expect("drain");
        assert_eq!((r.sent, r.failed), (1, 1));
        assert_eq!(g.sent.borrow().len(), 1);
        assert_eq!(g.sent.borrow()[0].body, "Code 222222");
        let late = outbox(&db).into_iter().find(|m| m.id == "late").expect("late");
        assert_eq!((late.status.as_str(), late.provider_status.as_deref()), (STATUS_FAILED, Some("Expired")));
    }

    #[test]
    fn sms_drain_retries_with_backoff_then_gives_up_and_refusals_are_final() {
        let now = t("2026-12-04T09:00:00Z");
        let (db, settings, en, sw) = setup(now);
        let mut ids = ids_at(now);
        run(crate::usecases::operator_money::adjust(&db, &settings, &en, 150_000, "cash", &mut ids, now))
            .expect("cash");
        let down = Fake::answering(|_| Err(SmsError::Unavailable("503".into())));
        assert_eq!(run(drain(&db, &down, now, 10)).expect("drain").retried, 1);
        assert_eq!(outbox(&db)[0].status, STATUS_QUEUED);
        // not due again before its backoff (1 minute), then 2, 4... minutes
        assert_eq!(run(drain(&db, &down, now + Duration::seconds(59), 10)).expect("drain").retried, 0);
        let mut at = now;
        for attempt in 1..rules::MAX_ATTEMPTS {
            at += rules::backoff(attempt);
            assert_eq!(run(drain(&db, &down, at, 10)).expect("drain").retried, 1, "attempt {}", attempt + 1);
        }
        let m = &outbox(&db)[0];
        assert_eq!((m.status.as_str(), m.attempts), (STATUS_FAILED, rules::MAX_ATTEMPTS));
        assert!(m.last_error.as_deref().unwrap_or("").contains("gave up"), "{m:?}");
        assert_eq!(down.sent.borrow().len() as i64, rules::MAX_ATTEMPTS);

        // a refused number fails at once; a blacklisted one is also opted out
        run(crate::usecases::operator_money::adjust(&db, &settings, &sw, 1000, "cash", &mut ids, now)).expect("cash");
        let g = Fake::answering(|_| {
            Ok(SmsAccepted { message_id: None, status_code: 406, status: "UserInBlacklist".into(), cost_e4: None })
        });
        assert_eq!(run(drain(&db, &g, at, 10)).expect("drain").failed, 1);
        assert!(run(store::opted_out(&db, "254711000002")).expect("optout"));
    }

    #[test]
    fn sms_a_message_held_by_a_crashed_drain_is_sent_after_its_hold_and_two_drains_never_share_one() {
        let now = t("2026-12-04T09:00:00Z");
        let (db, settings, en, _) = setup(now);
        let mut ids = ids_at(now);
        run(crate::usecases::operator_money::adjust(&db, &settings, &en, 150_000, "cash", &mut ids, now))
            .expect("cash");
        let m = outbox(&db)[0].clone();
        // drain A claims, then "crashes" before sending; drain B cannot claim the same attempt
        run(db.batch(&store::claim(&m.id, 0, &fmt_ts(now + CLAIM)))).expect("claim");
        assert!(matches!(run(db.batch(&store::claim(&m.id, 0, &fmt_ts(now + CLAIM)))), Err(StoreError::Conflict(_))));
        let g = Fake::accepting();
        assert_eq!(run(drain(&db, &g, now + Duration::minutes(1), 10)).expect("drain").sent, 0, "held");
        assert_eq!(run(drain(&db, &g, now + Duration::minutes(6), 10)).expect("drain").sent, 1, "hold over");
        assert_eq!(g.sent.borrow().len(), 1);
    }

    #[test]
    fn sms_broadcast_waits_for_eight_eat_and_honours_opt_outs() {
        let evening = t("2026-12-04T17:30:00Z"); // 20:30 EAT
        let (db, settings, _, _) = setup(evening);
        let mut ids = ids_at(evening);
        run(db.batch(&[store::opt_out("254711000002", "operator", "2026-12-01T00:00:00Z")])).expect("optout");
        let input = BroadcastInput {
            message_en: "Double speed this weekend!".into(),
            message_sw: "Kasi mara mbili!".into(),
            to: Some("all".into()),
            ..Default::default()
        };
        let b = run(broadcast(&db, &settings, input, &mut ids, evening)).expect("broadcast");
        assert_eq!((b.queued, b.not_before.as_str()), (1, "2026-12-05T05:00:00Z"), "opted-out number left out");
        let m = outbox(&db);
        assert_eq!(m[0].kind, Kind::Promotional);
        assert!(m[0].body.ends_with(Lang::En.t("sms.opt_out")), "{}", m[0].body);
        let g = Fake::accepting();
        assert_eq!(run(drain(&db, &g, evening, 10)).expect("drain").sent, 0);
        assert_eq!(run(drain(&db, &g, t("2026-12-05T04:59:00Z"), 10)).expect("drain").sent, 0, "07:59 EAT");
        // the subscriber opts out overnight: not sent in the morning either
        run(db.batch(&[store::opt_out("254711000001", "subscriber", "2026-12-05T01:00:00Z")])).expect("optout");
        let r = run(drain(&db, &g, t("2026-12-05T05:00:00Z"), 10)).expect("drain");
        assert_eq!((r.sent, r.failed), (0, 1));
        assert!(g.sent.borrow().is_empty());
        assert_eq!(outbox(&db)[0].status, STATUS_FAILED);
    }

    #[test]
    fn sms_promotional_queued_in_hours_goes_at_once_but_not_after_six() {
        let noon = t("2026-12-04T09:00:00Z"); // 12:00 EAT
        let (db, settings, _, _) = setup(noon);
        let mut ids = ids_at(noon);
        let input =
            BroadcastInput { message_en: "Offer".into(), message_sw: "Ofa".into(), to: None, ..Default::default() };
        // pending subscribers are not "active": nobody
        assert_eq!(run(broadcast(&db, &settings, input, &mut ids, noon)).expect("b").queued, 0);
        let input = BroadcastInput {
            message_en: "Offer".into(),
            message_sw: "Ofa".into(),
            to: Some("all".into()),
            ..Default::default()
        };
        assert_eq!(run(broadcast(&db, &settings, input, &mut ids, noon)).expect("b").queued, 2);
        let g = Fake::accepting();
        // the drain runs only at 18:05 EAT: too late today, kept for tomorrow
        let r = run(drain(&db, &g, t("2026-12-04T15:05:00Z"), 10)).expect("drain");
        assert_eq!((r.sent, r.deferred), (0, 2));
        assert_eq!(run(drain(&db, &g, t("2026-12-05T05:00:00Z"), 10)).expect("drain").sent, 2);
        assert!(g.sent.borrow().iter().all(|m| m.bulk));
        let bad = BroadcastInput { message_en: String::new(), message_sw: "x".into(), to: None, ..Default::default() };
        assert!(run(broadcast(&db, &settings, bad, &mut ids, noon)).is_err());
    }

    #[test]
    fn sms_captive_buyer_gets_the_code_the_page_shows_once_even_without_looking() {
        use crate::domain::voucher::VoucherKey;
        let now = t("2026-12-04T09:00:00Z");
        let (db, settings, _, _) = setup(now);
        let mut ids = ids_at(now + Duration::seconds(1));
        let plan = PlanInput {
            code: "wifi-1h".into(),
            name: "1 hour".into(),
            kind: PlanKind::Hotspot,
            price_cents: 1000,
            period_seconds: 3600,
            down_kbps: 2000,
            up_kbps: 1000,
            data_cap_bytes: None,
            max_devices: 1,
        };
        let p = run(create_plan(&db, plan, &mut ids, now)).expect("plan");
        let at = fmt_ts(now);
        let sale = |id: &str, status: &str| {
            let s = crate::store::hotspot_sales::Sale {
                checkout_request_id: id.into(),
                plan_id: p.id.clone(),
                msisdn: "254708374149".into(),
                amount_cents: 1000,
                visitor: "v1".into(),
                mac: None,
                minted: None,
                created_at: at.clone(),
            };
            run(db.batch(&[
                crate::store::hotspot_sales::ensure_sales_account(&p.id, "pw", &at),
                crate::store::hotspot_sales::insert(&s),
                crate::stmt!(
                    "INSERT INTO stk_requests (checkout_request_id, merchant_request_id, subscriber_id, msisdn, \
                     amount_cents, account_ref, status, created_at) VALUES (?1, 'm', 'hotspot-sales', '254708374149', \
                     1000, 'HOTSPOT', ?2, ?3)",
                    id,
                    status,
                    &at
                ),
            ]))
            .expect("sale");
        };
        sale("ws_CO_paid", "paid");
        sale("ws_CO_pending", "pending");
        let realm = crate::domain::Realm::parse("test").expect("realm");
        let key = VoucherKey::derive(b"secret", &realm).expect("key");
        assert_eq!(run(voucher_codes(&db, &key, &realm, &settings, &mut ids, now)).expect("codes"), 1);
        assert_eq!(run(voucher_codes(&db, &key, &realm, &settings, &mut ids, now)).expect("codes"), 0, "once");
        let m = outbox(&db);
        let sms = m.iter().find(|x| x.to == "254708374149").expect("code SMS");
        // the code the waiting page shows (it reads the same mint)
        let (minted, _) = run(crate::usecases::hotspot_sales::state(&db, &key, &realm, "ws_CO_paid", "v1", now))
            .expect("state")
            .expect("sale");
        let (b, s) = minted.minted.expect("minted");
        let code = key.code(&realm, crate::domain::voucher::VoucherId::new(b, s).expect("id")).to_string();
        assert_eq!(sms.body, format!("Nambari yako ya Wi-Fi (1 hour): {code}. Iandike kwenye ukurasa wa kuingia."));
    }

    #[test]
    fn sms_reminders_once_per_stage_in_the_subscribers_language() {
        let now = t("2026-12-04T09:00:00Z");
        let (db, settings, en, sw) = setup(now);
        // en expires 7 Dec 18:00 EAT; sw 4 Dec 10:00 EAT... set directly
        run(db.batch(&[
            crate::stmt!(
                "UPDATE subscribers SET status = 'active', expires_at = '2026-12-07T15:00:00Z' WHERE id = ?1",
                &en
            ),
            crate::stmt!(
                "UPDATE subscribers SET status = 'active', expires_at = '2026-12-04T07:00:00Z' WHERE id = ?1",
                &sw
            ),
        ]))
        .expect("state");
        let mut ids = ids_at(now);
        // 4 Dec 12:00 EAT: en's "3 days before" (4 Dec 09:00 EAT) is due; sw expired 2 h ago
        assert_eq!(run(reminders(&db, &settings, &mut ids, now)).expect("r"), 2);
        assert_eq!(run(reminders(&db, &settings, &mut ids, now + Duration::hours(1))).expect("r"), 0, "once");
        let m = outbox(&db);
        assert!(
            m[0].body.starts_with("Internet for account ACC1 ends 07/12/2026 18:00. Pay KES 1,500"),
            "{}",
            m[0].body
        );
        assert!(m[1].body.starts_with("Intaneti ya akaunti ACC2 imeisha 04/12/2026 10:00"), "{}", m[1].body);
        // 6 Dec 09:00 EAT: the "1 day before"
        assert_eq!(run(reminders(&db, &settings, &mut ids, t("2026-12-06T06:00:00Z"))).expect("r"), 1);
        // with auto-renew and enough on the balance, no reminder before expiry
        run(db.batch(&[crate::stmt!(
            "UPDATE subscribers SET auto_renew = 1, balance_cents = 150000, expires_at = '2026-12-10T15:00:00Z' WHERE id = ?1",
            &en
        )]))
        .expect("state");
        assert_eq!(run(reminders(&db, &settings, &mut ids, t("2026-12-07T06:00:00Z"))).expect("r"), 0);
    }

    #[test]
    fn sms_broadcast_preview_counts_the_audience_segments_and_cost_the_send_queues_the_same() {
        let noon = t("2026-12-04T09:00:00Z"); // 12:00 EAT
        let (db, settings, en, sw) = setup(noon);
        // en: active until 6 Dec; sw: active until 20 Dec; a third, on another plan, opted out
        run(db.batch(&[
            crate::stmt!(
                "UPDATE subscribers SET status = 'active', expires_at = '2026-12-06T09:00:00Z' WHERE id = ?1",
                &en
            ),
            crate::stmt!(
                "UPDATE subscribers SET status = 'active', expires_at = '2026-12-20T09:00:00Z' WHERE id = ?1",
                &sw
            ),
        ]))
        .expect("state");
        let input = |plan: Option<&str>, days: Option<i64>| BroadcastInput {
            message_en: "Offer".into(),
            message_sw: "Ofa".into(),
            plan: plan.map(str::to_owned),
            expiring_days: days,
            ..Default::default()
        };
        let p = run(preview(&db, &settings, &input(None, None), noon)).expect("preview");
        assert_eq!((p.recipients, p.recipients_sw, p.segments), (2, 1, 2));
        assert!(!p.cost_measured, "nothing charged yet: the assumed price");
        assert_eq!((p.segment_cost_e4, p.estimated_cost_e4), (8000, 16_000));
        assert_eq!(p.not_before, "2026-12-04T09:00:00Z", "inside the window: now");
        assert!(p.body_sw.starts_with("Ofa Kusitisha"), "{}", p.body_sw);
        // expiring within 3 days: only en; on plan "home": both; an unknown plan is refused
        let p = run(preview(&db, &settings, &input(None, Some(3)), noon)).expect("preview");
        assert_eq!((p.recipients, p.recipients_sw), (1, 0));
        assert_eq!(run(preview(&db, &settings, &input(Some("home"), None), noon)).expect("p").recipients, 2);
        assert!(matches!(
            run(preview(&db, &settings, &input(Some("nope"), None), noon)),
            Err(UseCaseError::NotFound("plan"))
        ));
        assert!(run(preview(&db, &settings, &input(None, Some(0)), noon)).is_err());
        // an opted-out number is not counted, nor sent to
        run(db.batch(&[store::opt_out("254711000002", "operator", "2026-12-01T00:00:00Z")])).expect("optout");
        let p = run(preview(&db, &settings, &input(None, None), noon)).expect("preview");
        assert_eq!((p.recipients, p.recipients_sw), (1, 0));
        // a long Swahili text in UCS-2 is three segments per recipient
        let long = BroadcastInput { message_en: "Offer".into(), message_sw: "’".repeat(150), ..Default::default() };
        run(db.batch(&[store::opt_in("254711000002")])).expect("optin");
        let p = run(preview(&db, &settings, &long, noon)).expect("preview");
        assert_eq!((p.segments_en, p.segments_sw, p.segments), (1, 3, 4));
        let mut ids = ids_at(noon);
        let b = run(broadcast(&db, &settings, input(None, Some(3)), &mut ids, noon)).expect("broadcast");
        assert_eq!(b.queued, 1, "the send reaches whom the preview counted");
        // under one key (the console's check page) a second send queues nothing
        let keyed = || BroadcastInput { batch: Some("checkpagekey0001".into()), ..input(None, Some(3)) };
        assert_eq!(run(broadcast(&db, &settings, keyed(), &mut ids, noon)).expect("b").queued, 1);
        assert_eq!(run(broadcast(&db, &settings, keyed(), &mut ids, noon)).expect("b").queued, 0, "once");
        // once charged, the estimate uses what this tenant pays per segment
        let m = outbox(&db);
        run(db.batch(&[store::mark_sent(&m[0].id, Some("ATXid_1"), "Success", Some(6000), "2026-12-04T09:01:00Z")]))
            .expect("sent");
        let p = run(preview(&db, &settings, &input(None, None), noon)).expect("preview");
        assert!(p.cost_measured);
        assert_eq!((p.segment_cost_e4, p.estimated_cost_e4), (6000, 12_000));
        // in the evening the preview says 08:00 EAT tomorrow
        let p = run(preview(&db, &settings, &input(None, None), t("2026-12-04T16:00:00Z"))).expect("preview");
        assert_eq!(p.not_before, "2026-12-05T05:00:00Z");
    }

    #[test]
    fn sms_resend_queues_a_failed_transactional_message_once_and_refuses_the_rest() {
        let now = t("2026-12-04T09:00:00Z");
        let (db, _, _, _) = setup(now);
        let at = fmt_ts(now);
        run(db.batch(&[
            store::enqueue("rcpt", "254711000001", "We received KES 1,500", Kind::Transactional, "en", &at),
            store::enqueue("promo", "254711000001", "Offer", Kind::Promotional, "en", &at),
            store::enqueue_until("code", "254711000001", "Code 123456", "en", &at, "2026-12-04T09:05:00Z"),
            store::enqueue("fresh", "254711000001", "Receipt", Kind::Transactional, "en", &at),
            store::mark_failed("rcpt", Some("InvalidPhoneNumber"), "refused: 403 InvalidPhoneNumber"),
            store::mark_failed("promo", Some("DeliveryFailure"), "failed"),
            store::mark_failed("code", Some("Expired"), "expired"),
        ]))
        .expect("queue");
        let mut ids = ids_at(now + Duration::minutes(1));
        let later = now + Duration::minutes(1);
        let new_id = run(resend(&db, "rcpt", &mut ids, later)).expect("resend");
        let again = run(store::get(&db, &new_id)).expect("get").expect("the new message");
        assert_eq!(
            (again.status.as_str(), again.body.as_str(), again.kind),
            (STATUS_QUEUED, "We received KES 1,500", Kind::Transactional)
        );
        let old = run(store::get(&db, "rcpt")).expect("get").expect("old");
        assert_eq!((old.status.as_str(), old.provider_status.as_deref()), (STATUS_FAILED, Some("InvalidPhoneNumber")));
        assert!(matches!(run(resend(&db, "rcpt", &mut ids, later)), Err(UseCaseError::Conflict(_))), "once");
        for id in ["promo", "code", "fresh"] {
            assert!(matches!(run(resend(&db, id, &mut ids, later)), Err(UseCaseError::Invalid(_))), "{id}");
        }
        assert!(matches!(run(resend(&db, "nope", &mut ids, later)), Err(UseCaseError::NotFound(_))));
        // the drain sends the new one
        let g = Fake::accepting();
        assert_eq!(run(drain(&db, &g, later, 10)).expect("drain").sent, 2, "the new one and 'fresh'");
    }
}

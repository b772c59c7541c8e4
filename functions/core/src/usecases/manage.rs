//! Operator actions: tenants, plans, subscribers, the unmatched inbox.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::db::{Db, Statement, StoreError};
use crate::domain::names::{AccountNo, Realm, Username};
use crate::domain::payment::bounded_amount;
use crate::domain::plan::{Plan, PlanKind, valid_plan_code};
use crate::domain::subscriber::Status;
use crate::domain::time::fmt_ts;
use crate::domain::{Money, Msisdn};
use crate::ids::IdGen;
use crate::migrations;
use crate::platform::Platform;
use crate::secret::Secret;
use crate::store::tenants::{DarajaSettings, Tenant, TenantSettings};
use crate::store::{feed, occ_bump, payments, plans, subscribers, tenants};
use crate::usecases::credit::{Applied, Credit, credit_once, credit_snapshot, feed_payload};
use crate::usecases::{MAX_ATTEMPTS, UseCaseError};

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new tenant and the secrets shown once to the operator.
#[derive(Debug, serde::Serialize)]
pub struct NewTenant {
    pub realm: String,
    pub admin_token: String,
    pub callback_token: String,
    pub sync_key: String,
}

#[derive(Debug, Deserialize)]
pub struct TenantInput {
    pub realm: String,
    pub name: String,
    #[serde(default)]
    pub settings: Option<TenantSettings>,
    #[serde(default)]
    pub daraja: Option<DarajaSettings>,
    /// Lets the CLI and demo fix tokens; random when absent.
    #[serde(default)]
    pub admin_token: Option<String>,
    #[serde(default)]
    pub callback_token: Option<String>,
    #[serde(default)]
    pub sync_key: Option<String>,
}

/// Registers a tenant and creates + migrates its billing database.
pub async fn create_tenant<P: Platform>(
    p: &P,
    input: TenantInput,
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Result<NewTenant, UseCaseError> {
    let realm = Realm::parse(&input.realm).map_err(|e| UseCaseError::Invalid(e.to_string()))?;
    if input.name.trim().is_empty() {
        return Err(UseCaseError::Invalid("name is required".into()));
    }
    if tenants::get(p.control(), &realm).await?.is_some() {
        return Err(UseCaseError::Conflict(format!("tenant {realm} exists")));
    }
    let admin_token = input.admin_token.unwrap_or_else(|| ids.token(40));
    let callback_token = input.callback_token.unwrap_or_else(|| ids.token(32));
    let sync_key = input.sync_key.unwrap_or_else(|| ids.token(64));
    let db_key = realm.as_str().replace('.', "_");
    let db = p.create_tenant_db(&db_key).await?;
    migrations::migrate(&db, migrations::TENANT).await?;
    let t = Tenant {
        realm: realm.clone(),
        name: input.name.trim().to_owned(),
        status: "active".into(),
        db_key,
        admin_token_hash: token_hash(&admin_token),
        callback_token: Secret::new(&callback_token),
        sync_key: Secret::new(&sync_key),
        settings: input.settings.unwrap_or_default(),
        daraja: input.daraja.unwrap_or_default(),
        created_at: now,
    };
    tenants::insert(p.control(), &t).await.map_err(|e| match e {
        StoreError::Conflict(_) => UseCaseError::Conflict(format!("tenant {realm} exists")),
        e => e.into(),
    })?;
    Ok(NewTenant { realm: realm.to_string(), admin_token, callback_token, sync_key })
}

#[derive(Debug, Deserialize)]
pub struct PlanInput {
    pub code: String,
    pub name: String,
    #[serde(default = "default_kind")]
    pub kind: PlanKind,
    pub price_cents: i64,
    pub period_seconds: i64,
    pub down_kbps: i64,
    pub up_kbps: i64,
    #[serde(default)]
    pub data_cap_bytes: Option<i64>,
}

fn default_kind() -> PlanKind {
    PlanKind::Pppoe
}

fn validate_plan(p: &PlanInput) -> Result<(), UseCaseError> {
    let bad = |m: &str| Err(UseCaseError::Invalid(m.into()));
    if !valid_plan_code(&p.code) {
        return bad("code must be 1-32 of a-z, 0-9, '-'");
    }
    if p.name.trim().is_empty() {
        return bad("name is required");
    }
    if p.price_cents <= 0 || p.price_cents % 100 != 0 {
        return bad("price_cents must be a positive whole number of shillings (M-Pesa takes whole shillings)");
    }
    if p.period_seconds < 60 {
        return bad("period_seconds must be at least 60");
    }
    if p.down_kbps <= 0 || p.up_kbps <= 0 {
        return bad("down_kbps and up_kbps must be positive");
    }
    if p.data_cap_bytes.is_some_and(|c| c <= 0) {
        return bad("data_cap_bytes must be positive when set");
    }
    Ok(())
}

pub async fn create_plan(
    db: &impl Db,
    input: PlanInput,
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Result<Plan, UseCaseError> {
    validate_plan(&input)?;
    let plan = Plan {
        id: ids.uuid(),
        code: input.code,
        name: input.name.trim().to_owned(),
        kind: input.kind,
        price: Money(input.price_cents),
        period_seconds: input.period_seconds,
        down_kbps: input.down_kbps,
        up_kbps: input.up_kbps,
        data_cap_bytes: input.data_cap_bytes,
        active: true,
    };
    db.batch(&[plans::insert(&plan, &fmt_ts(now))]).await.map_err(|e| match e {
        StoreError::Conflict(_) => UseCaseError::Conflict(format!("plan code {} exists", plan.code)),
        e => e.into(),
    })?;
    Ok(plan)
}

#[derive(Debug, Deserialize)]
pub struct PlanPatch {
    pub name: Option<String>,
    pub price_cents: Option<i64>,
    pub period_seconds: Option<i64>,
    pub down_kbps: Option<i64>,
    pub up_kbps: Option<i64>,
    pub data_cap_bytes: Option<Option<i64>>,
    pub active: Option<bool>,
}

pub async fn update_plan(db: &impl Db, id: &str, patch: PlanPatch, now: DateTime<Utc>) -> Result<Plan, UseCaseError> {
    let mut p = plans::get(db, id).await?.ok_or(UseCaseError::NotFound("plan"))?;
    let speed_changed =
        patch.down_kbps.is_some_and(|v| v != p.down_kbps) || patch.up_kbps.is_some_and(|v| v != p.up_kbps);
    let input = PlanInput {
        code: p.code.clone(),
        name: patch.name.unwrap_or(p.name.clone()),
        kind: p.kind,
        price_cents: patch.price_cents.unwrap_or(p.price.cents()),
        period_seconds: patch.period_seconds.unwrap_or(p.period_seconds),
        down_kbps: patch.down_kbps.unwrap_or(p.down_kbps),
        up_kbps: patch.up_kbps.unwrap_or(p.up_kbps),
        data_cap_bytes: patch.data_cap_bytes.unwrap_or(p.data_cap_bytes),
    };
    validate_plan(&input)?;
    p.name = input.name;
    p.price = Money(input.price_cents);
    p.period_seconds = input.period_seconds;
    p.down_kbps = input.down_kbps;
    p.up_kbps = input.up_kbps;
    p.data_cap_bytes = input.data_cap_bytes;
    p.active = patch.active.unwrap_or(p.active);
    let mut batch = vec![plans::update(&p)];
    if speed_changed {
        let payload = serde_json::json!({"plan": p.code, "rate_limit": p.rate_limit()});
        batch.push(feed::append(None, feed::kind::PLAN_UPDATED, &payload, &fmt_ts(now)));
    }
    db.batch(&batch).await?;
    Ok(p)
}

#[derive(Debug, Deserialize)]
pub struct SubscriberInput {
    pub name: String,
    pub plan: String,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub account_no: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub site: Option<String>,
    #[serde(default)]
    pub static_ip: Option<String>,
    #[serde(default)]
    pub auto_renew: Option<bool>,
}

fn parse_phone(p: Option<&str>) -> Result<Option<String>, UseCaseError> {
    match p.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => Msisdn::parse(s).map(|m| Some(m.to_string())).map_err(|e| UseCaseError::Invalid(e.to_string())),
    }
}

fn parse_ip(ip: Option<&str>) -> Result<Option<String>, UseCaseError> {
    match ip.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s
            .parse::<std::net::Ipv4Addr>()
            .map(|a| Some(a.to_string()))
            .map_err(|_| UseCaseError::Invalid("static_ip must be an IPv4 address".into())),
    }
}

pub async fn create_subscriber(
    db: &impl Db,
    input: SubscriberInput,
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Result<subscribers::WithBalance, UseCaseError> {
    if input.name.trim().is_empty() {
        return Err(UseCaseError::Invalid("name is required".into()));
    }
    let plan = plans::get(db, &input.plan).await?.ok_or(UseCaseError::Invalid("unknown plan".into()))?;
    let account_no = match input.account_no.as_deref() {
        Some(a) => AccountNo::parse(a).map_err(|e| UseCaseError::Invalid(e.to_string()))?.as_str().to_owned(),
        None => format!("K{}", ids.digits(6)),
    };
    let username = match input.username.as_deref() {
        Some(u) => Username::parse(u).map_err(|e| UseCaseError::Invalid(e.to_string()))?.as_str().to_owned(),
        None => account_no.to_ascii_lowercase(),
    };
    let password = match input.password {
        Some(p) if (6..=64).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_graphic()) => p,
        Some(_) => {
            return Err(UseCaseError::Invalid("password must be 6-64 printable ASCII characters".into()));
        }
        None => ids.token(10),
    };
    let s = subscribers::Subscriber {
        id: ids.uuid(),
        account_no,
        name: input.name.trim().to_owned(),
        phone: parse_phone(input.phone.as_deref())?,
        username,
        password,
        site: input.site.filter(|s| !s.trim().is_empty()),
        static_ip: parse_ip(input.static_ip.as_deref())?,
        plan_id: plan.id.clone(),
        status: Status::Pending,
        expires_at: None,
        auto_renew: input.auto_renew.unwrap_or(true),
        version: 0,
        created_at: now,
    };
    let wb = subscribers::WithBalance { subscriber: s.clone(), balance_cents: 0 };
    let payload = feed_payload(&wb, &plan.code, "pending", None);
    db.batch(&[subscribers::insert(&s), feed::append(Some(&s.id), feed::kind::CREATED, &payload, &fmt_ts(now))])
        .await
        .map_err(|e| match e {
            StoreError::Conflict(m) => {
                UseCaseError::Conflict(format!("account number or username already taken ({m})"))
            }
            e => e.into(),
        })?;
    Ok(wb)
}

#[derive(Debug, Deserialize, Default)]
pub struct SubscriberPatch {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub password: Option<String>,
    pub site: Option<String>,
    pub static_ip: Option<String>,
    pub auto_renew: Option<bool>,
    /// Plan change: takes effect on the network at once; the new price applies from the next renewal.
    pub plan: Option<String>,
    /// `suspended` or `active` (resume).
    pub status: Option<String>,
}

pub async fn update_subscriber(
    db: &impl Db,
    id: &str,
    patch: SubscriberPatch,
    now: DateTime<Utc>,
) -> Result<subscribers::WithBalance, UseCaseError> {
    for _ in 0..MAX_ATTEMPTS {
        let cur = subscribers::get(db, id).await?.ok_or(UseCaseError::NotFound("subscriber"))?;
        let mut s = cur.subscriber.clone();
        if let Some(n) = &patch.name {
            if n.trim().is_empty() {
                return Err(UseCaseError::Invalid("name is required".into()));
            }
            s.name = n.trim().to_owned();
        }
        if patch.phone.is_some() {
            s.phone = parse_phone(patch.phone.as_deref())?;
        }
        if let Some(p) = &patch.password {
            if !(6..=64).contains(&p.len()) || !p.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(UseCaseError::Invalid("password must be 6-64 printable ASCII characters".into()));
            }
            s.password = p.clone();
        }
        if let Some(site) = &patch.site {
            s.site = Some(site.clone()).filter(|x| !x.trim().is_empty());
        }
        if patch.static_ip.is_some() {
            s.static_ip = parse_ip(patch.static_ip.as_deref())?;
        }
        if let Some(a) = patch.auto_renew {
            s.auto_renew = a;
        }
        let mut plan = plans::get(db, &s.plan_id).await?.ok_or(UseCaseError::NotFound("plan"))?;
        let mut kinds = Vec::new();
        if let Some(code) = &patch.plan {
            let new_plan = plans::get(db, code).await?.ok_or(UseCaseError::Invalid("unknown plan".into()))?;
            if new_plan.id != s.plan_id {
                s.plan_id = new_plan.id.clone();
                plan = new_plan;
                kinds.push(feed::kind::PLAN_CHANGED);
            }
        }
        let mut status = s.status;
        let mut expires = s.expires_at;
        match patch.status.as_deref() {
            None => {}
            Some("suspended") if s.status != Status::Suspended => {
                status = Status::Suspended;
                kinds.push(feed::kind::SUSPENDED);
            }
            Some("active") if s.status == Status::Suspended => {
                // Resume: back to what the paid period says.
                status = match s.expires_at {
                    Some(e) if e > now => Status::Active,
                    Some(_) => Status::Expired,
                    None => Status::Pending,
                };
                kinds.push(feed::kind::RESUMED);
            }
            Some("suspended") | Some("active") => {}
            Some(other) => {
                return Err(UseCaseError::Invalid(format!("status can be set to suspended or active, not {other}")));
            }
        }
        if status == Status::Expired {
            expires = s.expires_at;
        }
        let profile_changed = s != cur.subscriber;
        if profile_changed && kinds.is_empty() {
            kinds.push(feed::kind::UPDATED);
        }
        let mut batch: Vec<Statement> = occ_bump(id, cur.subscriber.version).into();
        batch.push(subscribers::set_profile(&s));
        batch.push(subscribers::set_state(id, status, expires));
        let after = subscribers::WithBalance { subscriber: s.clone(), balance_cents: cur.balance_cents };
        let payload = feed_payload(&after, &plan.code, status.as_str(), expires);
        for k in &kinds {
            batch.push(feed::append(Some(id), k, &payload, &fmt_ts(now)));
        }
        match db.batch(&batch).await {
            Ok(_) => {
                return subscribers::get(db, id).await?.ok_or(UseCaseError::NotFound("subscriber"));
            }
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(UseCaseError::Conflict("subscriber is being changed by someone else; try again".into()))
}

#[derive(Debug, Deserialize)]
pub struct AssignInput {
    /// Subscriber id or account number.
    pub subscriber: String,
    #[serde(default)]
    pub note: Option<String>,
}

/// Moves an unmatched payment onto a subscriber and credits it (same path as any payment).
pub async fn assign_unmatched(
    db: &impl Db,
    settings: &TenantSettings,
    payment_id: &str,
    input: AssignInput,
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Result<Applied, UseCaseError> {
    for _ in 0..MAX_ATTEMPTS {
        let p = payments::get(db, payment_id).await?.ok_or(UseCaseError::NotFound("payment"))?;
        if p.status != "unmatched" {
            return Err(UseCaseError::Conflict("payment is already applied".into()));
        }
        let s = match subscribers::get(db, &input.subscriber).await? {
            Some(s) => s,
            None => subscribers::by_account(db, &crate::domain::names::canonical_account(&input.subscriber))
                .await?
                .ok_or(UseCaseError::Invalid("no such subscriber".into()))?,
        };
        let note = input.note.clone().unwrap_or_else(|| "assigned from the unmatched inbox".into());
        let prelude: Vec<Statement> = payments::assign(&p.id, &s.subscriber.id, &note, &fmt_ts(now)).into();
        let memo = format!("{} {} (assigned)", p.method, p.receipt.as_deref().unwrap_or(&p.provider_ref));
        let credit = Credit { amount: Money(p.amount_cents), payment_id: &p.id, memo: &memo, prelude };
        // `s` was read just above: credit that snapshot rather than reading it again
        match credit_snapshot(db, settings, &s, credit, ids, now).await {
            Ok(a) => return Ok(a),
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(UseCaseError::Conflict("payment is being changed by someone else; try again".into()))
}

/// A manual credit or debit by the operator (cash at the office, a goodwill credit).
pub async fn adjust(
    db: &impl Db,
    settings: &TenantSettings,
    subscriber_id: &str,
    amount_cents: i64,
    memo: &str,
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Result<Applied, UseCaseError> {
    if amount_cents <= 0 {
        return Err(UseCaseError::Invalid("amount_cents must be positive (record cash received)".into()));
    }
    let amount = bounded_amount(amount_cents.unsigned_abs(), settings.max_payment())
        .map_err(|e| UseCaseError::Invalid(format!("{e} (settings.max_payment_cents)")))?;
    if memo.trim().is_empty() {
        return Err(UseCaseError::Invalid("memo is required".into()));
    }
    for _ in 0..MAX_ATTEMPTS {
        let payment = payments::Payment {
            id: ids.uuid(),
            provider: "manual".into(),
            method: "cash".into(),
            provider_ref: ids.uuid(),
            receipt: None,
            amount_cents,
            subscriber_id: Some(subscriber_id.to_owned()),
            status: "applied".into(),
            msisdn: None,
            payer_name: None,
            bill_ref: None,
            note: Some(memo.to_owned()),
            paid_at: Some(fmt_ts(now)),
            received_at: fmt_ts(now),
            applied_at: Some(fmt_ts(now)),
        };
        let prelude = vec![payments::insert(&payment)];
        let credit = Credit { amount, payment_id: &payment.id, memo, prelude };
        match credit_once(db, settings, subscriber_id, credit, ids, now).await {
            Ok(a) => return Ok(a),
            Err(StoreError::Conflict(_)) => continue,
            Err(StoreError::NotFound) => return Err(UseCaseError::NotFound("subscriber")),
            Err(e) => return Err(e.into()),
        }
    }
    Err(UseCaseError::Conflict("subscriber is being changed by someone else; try again".into()))
}

/// A partial update of a tenant's settings (`PUT .../settings`): what is left out keeps its value.
///
/// `{"settings": {...}, "daraja": {...}}`; an unknown field anywhere is refused by name. A secret
/// (`consumer_secret`, `passkey`) is kept unless a new one is given; `null` or `""` clears it.
pub fn merge_settings(
    settings: &TenantSettings,
    daraja: &DarajaSettings,
    patch: &serde_json::Value,
) -> Result<(TenantSettings, DarajaSettings), UseCaseError> {
    let invalid = |m: String| UseCaseError::Invalid(m);
    let obj = patch.as_object().ok_or_else(|| invalid("the body must be a JSON object".into()))?;
    for key in obj.keys() {
        if key != "settings" && key != "daraja" {
            return Err(invalid(format!(
                "unknown field `{key}`: billing settings go under \"settings\", M-Pesa credentials under \"daraja\""
            )));
        }
    }
    let merged_settings: TenantSettings = match obj.get("settings") {
        None => settings.clone(),
        Some(p) => overlay("settings", settings, p, &[])?,
    };
    let merged_daraja: DarajaSettings = match obj.get("daraja") {
        None => daraja.clone(),
        Some(p) => overlay("daraja", daraja, p, &["consumer_key", "consumer_secret", "passkey"])?,
    };
    validate_settings(&merged_settings)?;
    Ok((merged_settings, merged_daraja))
}

/// Lays the fields of `patch` over `current`; `clearable` fields accept `null` as "".
fn overlay<T: serde::Serialize + serde::de::DeserializeOwned>(
    section: &str,
    current: &T,
    patch: &serde_json::Value,
    clearable: &[&str],
) -> Result<T, UseCaseError> {
    let invalid = |m: String| UseCaseError::Invalid(m);
    let mut base = serde_json::to_value(current).map_err(|e| invalid(e.to_string()))?;
    let (Some(base_obj), Some(patch_obj)) = (base.as_object_mut(), patch.as_object()) else {
        return Err(invalid(format!("`{section}` must be a JSON object")));
    };
    for (k, v) in patch_obj {
        if !base_obj.contains_key(k) {
            let known: Vec<&str> = base_obj.keys().map(String::as_str).collect();
            return Err(invalid(format!("unknown field `{section}.{k}` (known: {})", known.join(", "))));
        }
        let v = match v {
            serde_json::Value::Null if clearable.contains(&k.as_str()) => serde_json::Value::String(String::new()),
            serde_json::Value::Null => return Err(invalid(format!("`{section}.{k}` cannot be null"))),
            v => v.clone(),
        };
        base_obj.insert(k.clone(), v);
    }
    serde_json::from_value(base).map_err(|e| invalid(format!("`{section}`: {e}")))
}

/// The bounds every tenant's settings must keep.
pub fn validate_settings(s: &TenantSettings) -> Result<(), UseCaseError> {
    let bad = |m: &str| Err(UseCaseError::Invalid(m.into()));
    if s.grace_seconds < 0 || s.stk_sweep_after_seconds < 0 || s.stk_requery_seconds < 0 {
        return bad("grace_seconds, stk_sweep_after_seconds and stk_requery_seconds must be >= 0");
    }
    if s.stk_give_up_seconds < 60 {
        return bad("stk_give_up_seconds must be >= 60");
    }
    if !(100..=10_000_000_000).contains(&s.max_payment_cents) {
        return bad("max_payment_cents must be between 100 (KES 1) and 10000000000 (KES 100,000,000)");
    }
    Ok(())
}

#[cfg(test)]
mod settings_tests {
    use super::*;
    use serde_json::json;

    fn configured() -> (TenantSettings, DarajaSettings) {
        let d = DarajaSettings {
            environment: "production".into(),
            consumer_key: "ck".into(),
            consumer_secret: Secret::new("cs"),
            passkey: Secret::new("pk"),
            shortcode: "600000".into(),
            till: String::new(),
            c2b_api_version: "v2".into(),
        };
        let s = TenantSettings { stk_sweep_after_seconds: 300, ..TenantSettings::default() };
        (s, d)
    }

    #[test]
    fn settings_partial_daraja_update_keeps_credentials() {
        let (s, d) = configured();
        let (s2, d2) = merge_settings(&s, &d, &json!({"daraja": {"till": "5551234"}})).unwrap();
        assert_eq!(d2.till, "5551234");
        assert_eq!(d2.consumer_key, "ck");
        assert_eq!(d2.consumer_secret.expose(), "cs");
        assert_eq!(d2.passkey.expose(), "pk");
        assert_eq!(d2.shortcode, "600000");
        assert_eq!(d2.environment, "production");
        assert_eq!(s2, s);
    }

    #[test]
    fn settings_partial_update_keeps_other_fields() {
        let (s, d) = configured();
        let (s2, _) = merge_settings(&s, &d, &json!({"settings": {"grace_seconds": 86400}})).unwrap();
        assert_eq!(s2.grace_seconds, 86400);
        assert_eq!(s2.stk_sweep_after_seconds, 300);
    }

    #[test]
    fn settings_unknown_field_is_refused_by_name() {
        let (s, d) = configured();
        let e = merge_settings(&s, &d, &json!({"grace_seconds": 3600})).unwrap_err().to_string();
        assert!(e.contains("grace_seconds"), "{e}");
        let e = merge_settings(&s, &d, &json!({"settings": {"grace": 1}})).unwrap_err().to_string();
        assert!(e.contains("settings.grace"), "{e}");
    }

    #[test]
    fn settings_secret_cleared_only_when_asked() {
        let (s, d) = configured();
        let (_, d2) = merge_settings(&s, &d, &json!({"daraja": {"passkey": null}})).unwrap();
        assert!(d2.passkey.is_empty());
        assert_eq!(d2.consumer_secret.expose(), "cs");
        let (_, d3) = merge_settings(&s, &d, &json!({"daraja": {"passkey": "new"}})).unwrap();
        assert_eq!(d3.passkey.expose(), "new");
    }

    #[test]
    fn settings_out_of_bounds_are_refused() {
        let (s, d) = configured();
        assert!(merge_settings(&s, &d, &json!({"settings": {"stk_give_up_seconds": 5}})).is_err());
        assert!(merge_settings(&s, &d, &json!({"settings": {"max_payment_cents": 0}})).is_err());
        assert!(merge_settings(&s, &d, &json!({"settings": {"grace_seconds": "x"}})).is_err());
    }
}

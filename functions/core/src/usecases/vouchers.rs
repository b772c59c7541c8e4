//! Hotspot vouchers: create a batch, print its codes, check a typed code, redeem one ([`redeem`]).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{RaceLost, UseCaseError, retry_races};
use crate::db::{Db, StoreError};
use crate::domain::Realm;
use crate::domain::plan::{Plan, PlanKind};
use crate::domain::redemption::{self, Binding, Mac, Refusal};
use crate::domain::time::fmt_ts;
use crate::domain::voucher::{MAX_BATCH, VoucherCode, VoucherError, VoucherId, VoucherKey};
use crate::ids::IdGen;
use crate::platform::Settings;
use crate::store::tenants::Tenant;
use crate::store::{feed, plans, redemptions, throttle, vouchers};

/// The most codes one batch request may create (serials allow more; a printed sheet does not).
pub const MAX_COUNT: u32 = 20_000;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct BatchInput {
    /// Plan id or code; must be a hotspot plan.
    pub plan: String,
    #[schemars(range(min = 1, max = 20_000))]
    pub count: u32,
    #[serde(default)]
    pub note: String,
    /// Unused codes become void this many days after the batch is made; none: never.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub valid_days: Option<u32>,
    /// The agent or reseller the batch is printed for (shown in the voucher report).
    #[serde(default)]
    pub agent: String,
    /// What one code sells for, in cents; none: the plan's price.
    #[serde(default)]
    pub price_cents: Option<i64>,
}

/// The tenant's voucher key, or why there is none.
pub fn key(settings: &Settings, realm: &Realm) -> Result<VoucherKey, UseCaseError> {
    VoucherKey::derive(settings.voucher_secret.expose().as_bytes(), realm).ok_or_else(|| {
        UseCaseError::Unavailable("vouchers are not configured on this deployment (no voucher secret)".into())
    })
}

pub async fn create_batch(
    db: &impl Db,
    input: BatchInput,
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Result<vouchers::Batch, UseCaseError> {
    if input.count == 0 || input.count > MAX_COUNT {
        return Err(UseCaseError::Invalid(format!("count must be between 1 and {MAX_COUNT}")));
    }
    if input.note.chars().count() > 200 {
        return Err(UseCaseError::Invalid("note is longer than 200 characters".into()));
    }
    if input.valid_days == Some(0) || input.valid_days.is_some_and(|d| d > 3660) {
        return Err(UseCaseError::Invalid("valid_days must be between 1 and 3660".into()));
    }
    if input.agent.chars().count() > 80 {
        return Err(UseCaseError::Invalid("agent is longer than 80 characters".into()));
    }
    if input.price_cents.is_some_and(|c| !(100..=10_000_000).contains(&c) || c % 100 != 0) {
        return Err(UseCaseError::Invalid("price_cents must be whole shillings between KES 1 and KES 100,000".into()));
    }
    let plan = plans::get(db, input.plan.trim()).await?.ok_or(UseCaseError::NotFound("plan"))?;
    if plan.kind != PlanKind::Hotspot {
        return Err(UseCaseError::Invalid(format!(
            "plan {} is not a hotspot plan; vouchers sell hotspot time",
            plan.code
        )));
    }
    if !plan.active {
        return Err(UseCaseError::Invalid(format!("plan {} is retired", plan.code)));
    }
    if vouchers::last_id(db).await? >= MAX_BATCH {
        return Err(UseCaseError::Conflict(format!("all {MAX_BATCH} voucher batch numbers are used")));
    }
    let request_id = ids.uuid();
    let valid_until = input.valid_days.map(|d| fmt_ts(now + Duration::days(i64::from(d))));
    let new = vouchers::NewBatch {
        note: input.note.trim(),
        valid_until: valid_until.as_deref(),
        agent: input.agent.trim(),
        price_cents: input.price_cents,
        kind: vouchers::KIND_PRINTED,
    };
    let insert = vouchers::insert(&request_id, &plan.id, input.count, new, &fmt_ts(now));
    db.batch(&[insert]).await.map_err(|e| match e {
        // Two batches raced for the last number: the loser retries as a fresh request.
        StoreError::Conflict(m) => UseCaseError::Conflict(format!("voucher batch not created, try again: {m}")),
        e => e.into(),
    })?;
    vouchers::by_request(db, &request_id).await?.ok_or(UseCaseError::NotFound("voucher batch"))
}

/// Codes `offset .. offset+limit` of a batch, as printed (`XXXX-XXXX-XXXX`), with their serials.
pub fn codes(key: &VoucherKey, realm: &Realm, batch: &vouchers::Batch, offset: u32, limit: u32) -> Vec<(u32, String)> {
    let end = batch.count.min(offset.saturating_add(limit));
    (offset..end)
        .filter_map(|serial| VoucherId::new(batch.id, serial))
        .map(|id| (id.serial, key.code(realm, id).to_string()))
        .collect()
}

/// Checks a typed code without touching any database.
pub fn check(settings: &Settings, realm: &Realm, typed: &str) -> Result<(String, VoucherId), UseCaseError> {
    let key = key(settings, realm)?;
    match key.verify(realm, typed) {
        Ok((code, id)) => Ok((code.to_string(), id)),
        Err(VoucherError::NotGenuine) => Err(UseCaseError::NotFound("voucher")),
        Err(e) => Err(UseCaseError::Invalid(e.to_string())),
    }
}

// ---------------------------------------------------------------------------------------------
// Redemption: "issued and unused" (the stateless check above only says "well-formed and signed").
// ---------------------------------------------------------------------------------------------

/// Failed attempts allowed per device (MAC) in [`FAIL_WINDOW_SECONDS`].
pub const FAIL_LIMIT_MAC: i64 = 5;
/// Failed attempts allowed per client IP (several phones behind one address) in the window.
pub const FAIL_LIMIT_IP: i64 = 20;
/// Failed attempts allowed for the whole tenant in the window: the ceiling on guessing however
/// many devices an attacker fakes. Reaching it refuses everyone's codes until the window ends, so
/// it sits far above what honest typing errors produce.
pub const FAIL_LIMIT_TENANT: i64 = 300;
/// The throttle window (fixed windows, see `store::throttle`).
pub const FAIL_WINDOW_SECONDS: i64 = 600;

/// The counters a failed attempt bumps: the device (when known), the client address (when known)
/// and the tenant.
fn fail_limits(mac: Option<&Mac>, ip: &str) -> Vec<(String, throttle::Limit)> {
    let w = FAIL_WINDOW_SECONDS;
    let mut v = Vec::with_capacity(3);
    if let Some(mac) = mac {
        v.push((
            format!("voucher-fail:mac:{}", mac.as_str()),
            throttle::Limit { limit: FAIL_LIMIT_MAC, window_seconds: w },
        ));
    }
    if !ip.is_empty() {
        v.push((format!("voucher-fail:ip:{ip}"), throttle::Limit { limit: FAIL_LIMIT_IP, window_seconds: w }));
    }
    v.push(("voucher-fail:tenant".to_owned(), throttle::Limit { limit: FAIL_LIMIT_TENANT, window_seconds: w }));
    v
}

fn client_ip(ip: &str) -> Result<&str, RedeemError> {
    let ip = ip.trim();
    if ip.len() > 64 || ip.chars().any(|c| !(c.is_ascii_hexdigit() || c == '.' || c == ':')) {
        return Err(UseCaseError::Invalid("ip must be an IP address".into()).into());
    }
    Ok(ip)
}

/// Refuses while any of `limits` is exhausted.
async fn throttled(db: &impl Db, limits: &[(String, throttle::Limit)], now: DateTime<Utc>) -> Result<(), RedeemError> {
    let mut wait = 0;
    for (k, lim) in limits {
        if let throttle::Verdict::Limited { retry_after_seconds } = throttle::check(db, k, *lim, now).await? {
            wait = wait.max(retry_after_seconds);
        }
    }
    if wait > 0 {
        return Err(Refusal::Throttled { retry_after_seconds: wait }.into());
    }
    Ok(())
}

/// Counts a refusal that looks like guessing against every limit, then passes the result on.
async fn count_guess<T>(
    db: &impl Db,
    limits: &[(String, throttle::Limit)],
    now: DateTime<Utc>,
    r: Result<T, RedeemError>,
) -> Result<T, RedeemError> {
    match r {
        Err(RedeemError::Refused(r)) if r.counts_as_guess() => {
            let bumps: Vec<_> = limits.iter().map(|(k, lim)| throttle::bump(k, *lim, now)).collect();
            db.batch(&bumps).await?;
            Err(r.into())
        }
        other => other,
    }
}

/// A code that may be used now, and on what terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Redeemed {
    /// As printed: `XXXX-XXXX-XXXX`.
    pub code: String,
    /// The 12 symbols without dashes: the RADIUS username (and password) of the code.
    pub username: String,
    pub batch: u32,
    pub serial: u32,
    /// This call was the code's first use (it recorded the redemption).
    pub first_use: bool,
    /// What happened to the device binding.
    #[serde(flatten)]
    pub binding: Binding,
    pub expires_at: String,
    /// Seconds left (RADIUS `Session-Timeout`).
    pub remaining_seconds: i64,
    /// Bytes left when the plan has a data cap (`Mikrotik-Total-Limit`/`-Gigawords`).
    pub remaining_bytes: Option<i64>,
    /// MikroTik rate limit, upload/download: `1M/2M`.
    pub rate_limit: String,
    /// The tenant's hotspot idle timeout (RADIUS `Idle-Timeout`); 0: none.
    pub idle_timeout_seconds: i64,
    pub plan_code: String,
    pub plan_name: String,
}

/// Why [`redeem`] did not let a device on.
#[derive(Debug, thiserror::Error)]
pub enum RedeemError {
    /// A reason the buyer can read ([`Refusal::key`] for pages, `Display` in English).
    #[error("{0}")]
    Refused(Refusal),
    /// The request itself is wrong (no MAC) or the deployment/store failed.
    #[error(transparent)]
    Failed(#[from] UseCaseError),
}

impl From<StoreError> for RedeemError {
    fn from(e: StoreError) -> Self {
        RedeemError::Failed(e.into())
    }
}

impl From<Refusal> for RedeemError {
    fn from(r: Refusal) -> Self {
        RedeemError::Refused(r)
    }
}

impl RaceLost for RedeemError {
    fn lost_race(&self) -> bool {
        matches!(self, RedeemError::Failed(e) if e.lost_race())
    }
}

/// Uses a typed voucher code on the device (call it as `redeem(p.settings(), &db, &tenant, ...)`)
/// on the device `mac` (client address `ip`) at `now`.
///
/// Exactly once: the first use inserts the redemption row keyed by (batch, serial) in the same
/// batch as the device binding, so of any number of racing first uses one commits and the others
/// re-read and are treated as later logins (same device: `Same`; another: bound, moved or refused
/// by the plan's `max_devices` and the tenant's `voucher_binding`). Later logins get the time
/// left from the first use and the bytes left after accounting. Unknown and malformed codes count
/// against the MAC, the IP and the tenant ([`FAIL_LIMIT_MAC`] ...); over any limit, every attempt
/// from there is refused as `Throttled` until the window ends.
pub async fn redeem(
    settings: &Settings,
    db: &impl Db,
    tenant: &Tenant,
    typed: &str,
    mac: &str,
    ip: &str,
    now: DateTime<Utc>,
) -> Result<Redeemed, RedeemError> {
    let key = key(settings, &tenant.realm)?;
    let mac = Mac::parse(mac)
        .ok_or_else(|| UseCaseError::Invalid("mac must be a MAC address such as AA:BB:CC:DD:EE:FF".into()))?;
    let ip = client_ip(ip)?;
    let limits = fail_limits(Some(&mac), ip);
    throttled(db, &limits, now).await?;
    let r = attempt(db, tenant, &key, typed, &mac, ip, now).await;
    count_guess(db, &limits, now, r).await
}

/// What a code would give, without a device to bind it to (the portal opened outside a hotspot):
/// the same checks and throttling as [`redeem`], and nothing recorded but failed guesses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Inspected {
    /// As printed: `XXXX-XXXX-XXXX`.
    pub code: String,
    /// The canonical form ([`crate::domain::voucher::VoucherCode::compact`]).
    pub username: String,
    /// Already used once (time is running).
    pub redeemed: bool,
    /// Seconds left: the plan's period (capped by the batch's end) while unused.
    pub remaining_seconds: i64,
    pub plan_code: String,
    pub plan_name: String,
}

pub async fn inspect(
    settings: &Settings,
    db: &impl Db,
    tenant: &Tenant,
    typed: &str,
    ip: &str,
    now: DateTime<Utc>,
) -> Result<Inspected, RedeemError> {
    let key = key(settings, &tenant.realm)?;
    let ip = client_ip(ip)?;
    let limits = fail_limits(None, ip);
    throttled(db, &limits, now).await?;
    let r = async {
        let (code, id, batch) = issued(db, tenant, &key, typed).await?;
        let username = code.compact();
        let (redeemed, remaining_seconds) = match redemptions::get(db, id.batch, id.serial).await? {
            None => {
                let first = redemption::first_use(now, batch.period_seconds, batch.valid_until, batch.voided)?;
                (false, (first.expires_at - now).num_seconds())
            }
            Some(r) => {
                let used = r.bytes_used.max(redemptions::bytes_from_usage(db, &username, tenant.realm.as_str()).await?);
                let stored = redemption::Redeemed {
                    expires_at: r.expires_at,
                    data_cap_bytes: batch.data_cap_bytes,
                    bytes_used: used,
                    batch_voided: batch.voided,
                };
                (true, redemption::remaining(&stored, now)?.0)
            }
        };
        Ok(Inspected {
            code: code.to_string(),
            username,
            redeemed,
            remaining_seconds,
            plan_code: batch.plan_code,
            plan_name: batch.plan_name,
        })
    }
    .await;
    count_guess(db, &limits, now, r).await
}

/// A genuine code of an issued batch (the batch exists, the serial is one it printed).
async fn issued(
    db: &impl Db,
    tenant: &Tenant,
    key: &VoucherKey,
    typed: &str,
) -> Result<(VoucherCode, VoucherId, redemptions::IssuedBatch), RedeemError> {
    let (code, id) = key.verify(&tenant.realm, typed).map_err(|e| match e {
        VoucherError::NotGenuine => Refusal::Unknown,
        e => Refusal::Malformed { detail: e.to_string() },
    })?;
    match redemptions::batch(db, id.batch).await? {
        Some(b) if id.serial < b.count => Ok((code, id, b)),
        _ => Err(Refusal::Unknown.into()),
    }
}

async fn attempt(
    db: &impl Db,
    tenant: &Tenant,
    key: &VoucherKey,
    typed: &str,
    mac: &Mac,
    ip: &str,
    now: DateTime<Utc>,
) -> Result<Redeemed, RedeemError> {
    let realm = &tenant.realm;
    let (code, id, batch) = issued(db, tenant, key, typed).await?;
    let username = code.compact();
    let rate_limit = Plan::rate_limit_of(batch.up_kbps, batch.down_kbps);
    let answer = |first_use: bool, binding: Binding, expires_at: DateTime<Utc>, bytes: Option<i64>| Redeemed {
        code: code.to_string(),
        username: username.clone(),
        batch: id.batch,
        serial: id.serial,
        first_use,
        binding,
        expires_at: fmt_ts(expires_at),
        remaining_seconds: (expires_at - now).num_seconds(),
        remaining_bytes: bytes,
        rate_limit: rate_limit.clone(),
        idle_timeout_seconds: tenant.settings.hotspot_idle_timeout_seconds,
        plan_code: batch.plan_code.clone(),
        plan_name: batch.plan_name.clone(),
    };
    let done = retry_races!(RedeemError, {
        let Some(r) = redemptions::get(db, id.batch, id.serial).await? else {
            let first = redemption::first_use(now, batch.period_seconds, batch.valid_until, batch.voided)?;
            // The feed row goes in the same batch: the RADIUS agent copies the code into
            // RADIUS's own rows within seconds (fail static), not at its next full pass.
            let payload = serde_json::json!({
                "code": username,
                "plan": batch.plan_code,
                "expires_at": fmt_ts(first.expires_at),
            });
            db.batch(&[
                redemptions::insert(id.batch, id.serial, &username, &batch.plan_id, now, first.expires_at, mac, ip),
                redemptions::bind(id.batch, id.serial, mac, now),
                feed::append(None, feed::kind::VOUCHER_REDEEMED, &payload, &fmt_ts(now)),
            ])
            .await?;
            return Ok(answer(true, Binding::New, first.expires_at, batch.data_cap_bytes));
        };
        let used = r.bytes_used.max(redemptions::bytes_from_usage(db, &username, realm.as_str()).await?);
        let stored = redemption::Redeemed {
            expires_at: r.expires_at,
            data_cap_bytes: batch.data_cap_bytes,
            bytes_used: used,
            batch_voided: batch.voided,
        };
        let (_, bytes) = redemption::remaining(&stored, now)?;
        let bound = redemptions::devices(db, id.batch, id.serial).await?;
        let online = redemptions::online(db, &username, realm.as_str()).await?;
        let binding = redemption::bind(&bound, mac, batch.max_devices, online, tenant.settings.voucher_binding)?;
        let mut stmts = Vec::new();
        if binding != Binding::Same {
            stmts.extend(redemptions::guard(id.batch, id.serial, r.version));
            // RADIUS's own rows let only the bound devices in: the agent rewrites them within
            // a feed poll, so the new device logs in from them too while the edge is away.
            let payload = serde_json::json!({
                "code": username,
                "plan": batch.plan_code,
                "expires_at": fmt_ts(r.expires_at),
            });
            stmts.push(feed::append(None, feed::kind::VOUCHER_REDEEMED, &payload, &fmt_ts(now)));
        }
        if let Binding::Moved { replaced } = &binding {
            stmts.push(redemptions::unbind(id.batch, id.serial, replaced));
        }
        stmts.push(redemptions::bind(id.batch, id.serial, mac, now));
        db.batch(&stmts).await?;
        Ok(answer(false, binding, r.expires_at, bytes))
    })
    .await?;
    done.ok_or_else(|| UseCaseError::Conflict("voucher busy, try again".into()).into())
}

/// Voids batch `id`: its codes are refused from now on, used or not.
pub async fn void_batch(db: &impl Db, id: u32, now: DateTime<Utc>) -> Result<(), UseCaseError> {
    vouchers::get(db, id).await?.ok_or(UseCaseError::NotFound("voucher batch"))?;
    db.batch(&[redemptions::void_batch(id, now)]).await?;
    Ok(())
}

#[cfg(test)]
mod redeem_tests {
    use super::*;
    use crate::domain::Money;
    use crate::domain::redemption::BindingPolicy;
    use crate::secret::Secret;
    use crate::store::tenants::TenantSettings;
    use crate::testing::{TestDb, run, tenant};
    use chrono::TimeZone;

    const A: &str = "00:11:22:33:44:0A";
    const B: &str = "02:11:22:33:44:0B";

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 4, 10, 0, 0).single().expect("valid")
    }

    fn settings() -> Settings {
        Settings {
            public_base_url: "http://edge".into(),
            platform_token: Secret::new("pt"),
            voucher_secret: Secret::new("voucher secret"),
        }
    }

    /// A tenant DB with a 1-hour plan (optionally capped) and a batch of 10 codes.
    fn setup(cap: Option<i64>, max_devices: i64, valid_days: Option<u32>) -> TestDb {
        let db = TestDb::tenant();
        let plan = Plan {
            id: "p1".into(),
            code: "hour".into(),
            name: "One hour".into(),
            kind: PlanKind::Hotspot,
            price: Money::from_shillings(10),
            period_seconds: 3600,
            down_kbps: 2000,
            up_kbps: 1000,
            data_cap_bytes: cap,
            max_devices,
            active: true,
        };
        run(db.batch(&[plans::insert(&plan, &fmt_ts(t0()))])).expect("plan");
        let input = BatchInput {
            plan: "hour".into(),
            count: 10,
            note: String::new(),
            valid_days,
            agent: String::new(),
            price_cents: None,
        };
        let ctx = crate::Ctx { now: t0(), entropy: [7; 32] };
        run(create_batch(&db, input, &mut IdGen::new(&ctx), t0())).expect("batch");
        db
    }

    fn code(serial: u32) -> String {
        let realm = Realm::parse("test").expect("realm");
        key(&settings(), &realm).expect("key").code(&realm, VoucherId::new(1, serial).expect("id")).to_string()
    }

    fn go(db: &TestDb, policy: BindingPolicy, c: &str, mac: &str, at: DateTime<Utc>) -> Result<Redeemed, RedeemError> {
        let t = tenant(TenantSettings { voucher_binding: policy, ..TenantSettings::default() });
        run(redeem(&settings(), db, &t, c, mac, "10.5.50.7", at))
    }

    fn refusal(r: Result<Redeemed, RedeemError>) -> Refusal {
        match r {
            Err(RedeemError::Refused(r)) => r,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn voucher_first_use_binds_and_later_login_gets_the_remaining_time() {
        let db = setup(None, 1, None);
        let first = go(&db, BindingPolicy::Refuse, &code(3), A, t0()).expect("first use");
        assert!(first.first_use);
        assert_eq!((first.binding.clone(), first.remaining_seconds), (Binding::New, 3600));
        assert_eq!(first.rate_limit, "1M/2M");
        let later = go(&db, BindingPolicy::Refuse, &code(3), A, t0() + Duration::minutes(20)).expect("later");
        assert!(!later.first_use);
        assert_eq!((later.binding, later.remaining_seconds), (Binding::Same, 2400));
        let gone = go(&db, BindingPolicy::Refuse, &code(3), A, t0() + Duration::minutes(60));
        assert_eq!(refusal(gone), Refusal::Expired);
    }

    #[test]
    fn voucher_first_use_appends_one_voucher_redeemed_change_for_radius() {
        let db = setup(None, 1, None);
        let first = go(&db, BindingPolicy::Refuse, &code(3), A, t0()).expect("first use");
        go(&db, BindingPolicy::Refuse, &code(3), A, t0() + Duration::minutes(5)).expect("again");
        let changes = run(feed::after(&db, 0, 100)).expect("feed");
        let ours: Vec<&feed::Change> = changes.iter().filter(|c| c.kind == feed::kind::VOUCHER_REDEEMED).collect();
        assert_eq!(ours.len(), 1, "{changes:?}");
        assert_eq!(ours[0].subscriber_id, None);
        assert_eq!(
            ours[0].payload,
            serde_json::json!({"code": first.username, "plan": "hour", "expires_at": first.expires_at})
        );
    }

    #[test]
    fn voucher_new_device_or_moved_binding_appends_a_change_for_radius() {
        let count = |db: &TestDb| {
            let changes = run(feed::after(db, 0, 100)).expect("feed");
            changes.iter().filter(|c| c.kind == feed::kind::VOUCHER_REDEEMED).count()
        };
        let db = setup(None, 2, None);
        go(&db, BindingPolicy::Refuse, &code(2), A, t0()).expect("A");
        go(&db, BindingPolicy::Refuse, &code(2), A, t0() + Duration::minutes(1)).expect("A again");
        assert_eq!(count(&db), 1, "the same device again changes nothing");
        go(&db, BindingPolicy::Refuse, &code(2), B, t0() + Duration::minutes(2)).expect("B joins");
        assert_eq!(count(&db), 2, "a second device");
        let db = setup(None, 1, None);
        go(&db, BindingPolicy::Move, &code(2), A, t0()).expect("A");
        go(&db, BindingPolicy::Move, &code(2), B, t0() + Duration::minutes(2)).expect("moved to B");
        assert_eq!(count(&db), 2, "a moved binding");
        refusal(go(&db, BindingPolicy::Refuse, &code(2), A, t0() + Duration::minutes(3)));
        assert_eq!(count(&db), 2, "a refusal changes nothing");
    }

    #[test]
    fn voucher_running_codes_carry_their_devices_and_bytes_left_for_radius() {
        let db = setup(Some(1_000_000), 2, None);
        go(&db, BindingPolicy::Refuse, &code(2), A, t0()).expect("A");
        go(&db, BindingPolicy::Refuse, &code(2), B, t0() + Duration::minutes(1)).expect("B");
        go(&db, BindingPolicy::Refuse, &code(3), B, t0()).expect("another code");
        let two = code(2).replace('-', "");
        let three = code(3).replace('-', "");
        // Accounting for code 2, reported with its realm.
        run(db.batch(&[crate::stmt!(
            "INSERT INTO usage_daily (username, day, input_octets, output_octets, online_seconds, sessions, \
             updated_at) VALUES (?1, '2026-12-04', 100000, 300000, 60, 1, '2026-12-04T10:05:00Z')",
            format!("{two}@test")
        )]))
        .expect("usage");
        let now = t0() + Duration::minutes(10);
        let running = run(redemptions::running(&db, now, "test")).expect("running");
        let of = |c: &str| running.iter().find(|r| r.code == c).cloned().expect("listed");
        assert_eq!(of(&two).macs, vec![A.to_string(), B.to_string()]);
        assert_eq!(of(&two).bytes_left, Some(600_000));
        assert_eq!((of(&three).macs, of(&three).bytes_left), (vec![B.to_string()], Some(1_000_000)));
        assert_eq!(of(&two).expires_at, "2026-12-04T11:00:00Z");
        // Used up by the recorded bytes: left to the edge (which refuses it).
        run(db.batch(&[redemptions::record_bytes(&two, 1_000_000)])).expect("used");
        let running = run(redemptions::running(&db, now, "test")).expect("running");
        assert_eq!(running.iter().map(|r| r.code.as_str()).collect::<Vec<_>>(), vec![three.as_str()]);
        assert!(run(redemptions::running(&db, t0() + Duration::hours(1), "test")).expect("later").is_empty());
    }

    #[test]
    fn voucher_reused_on_other_mac_is_refused_or_moved_by_policy() {
        let db = setup(None, 1, None);
        go(&db, BindingPolicy::Refuse, &code(1), A, t0()).expect("first use");
        let r = go(&db, BindingPolicy::Refuse, &code(1), B, t0() + Duration::minutes(1));
        assert_eq!(refusal(r), Refusal::InUseElsewhere);
        let moved = go(&db, BindingPolicy::Move, &code(1), B, t0() + Duration::minutes(2)).expect("moved");
        assert_eq!(moved.binding, Binding::Moved { replaced: Mac::parse(A).expect("mac") });
        assert_eq!(moved.remaining_seconds, 3480);
        // Now A is the stranger: refused under `refuse`.
        let back = go(&db, BindingPolicy::Refuse, &code(1), A, t0() + Duration::minutes(3));
        assert_eq!(refusal(back), Refusal::InUseElsewhere);
        // While the bound device is online, even `move` refuses.
        run(db.batch(&[crate::stmt!(
            "INSERT INTO online_sessions (nas_ip, session_id, username, input_octets, output_octets, reported_at) \
             VALUES ('10.0.0.1', 's1', ?1, 0, 0, '2026-12-04T10:03:00Z')",
            code(1).replace('-', "") + "@test"
        )]))
        .expect("online");
        let r = go(&db, BindingPolicy::Move, &code(1), A, t0() + Duration::minutes(4));
        assert_eq!(refusal(r), Refusal::InUseElsewhere);
    }

    #[test]
    fn voucher_plan_with_two_devices_serves_two() {
        let db = setup(None, 2, None);
        go(&db, BindingPolicy::Refuse, &code(2), A, t0()).expect("A");
        assert_eq!(go(&db, BindingPolicy::Refuse, &code(2), B, t0()).expect("B").binding, Binding::New);
        let c = "00:11:22:33:44:0C";
        assert_eq!(refusal(go(&db, BindingPolicy::Refuse, &code(2), c, t0())), Refusal::InUseElsewhere);
    }

    #[test]
    fn voucher_signed_but_not_issued_is_unknown() {
        let db = setup(None, 1, None);
        // Serial 10 of a 10-code batch, and batch 2 which does not exist, both carry valid tags.
        assert_eq!(refusal(go(&db, BindingPolicy::Move, &code(10), A, t0())), Refusal::Unknown);
        let realm = Realm::parse("test").expect("realm");
        let other = key(&settings(), &realm).expect("key").code(&realm, VoucherId::new(2, 0).expect("id"));
        assert_eq!(refusal(go(&db, BindingPolicy::Move, &other.to_string(), A, t0())), Refusal::Unknown);
        assert!(matches!(refusal(go(&db, BindingPolicy::Move, "ABC", B, t0())), Refusal::Malformed { .. }));
    }

    #[test]
    fn voucher_of_expired_or_voided_batch_is_refused() {
        let db = setup(None, 1, Some(1));
        let later = t0() + Duration::days(2);
        assert_eq!(refusal(go(&db, BindingPolicy::Move, &code(0), A, later)), Refusal::Expired);
        // Time is capped at the batch's end: first use 30 minutes before it gives 30 minutes.
        let near = t0() + Duration::days(1) - Duration::minutes(30);
        assert_eq!(go(&db, BindingPolicy::Move, &code(4), A, near).expect("near").remaining_seconds, 1800);
        run(void_batch(&db, 1, t0())).expect("void");
        assert_eq!(refusal(go(&db, BindingPolicy::Move, &code(5), A, t0())), Refusal::Voided);
        assert_eq!(refusal(go(&db, BindingPolicy::Move, &code(4), A, near)), Refusal::Voided);
    }

    #[test]
    fn voucher_data_cap_counts_accounting_across_sessions() {
        let db = setup(Some(1_000_000), 1, None);
        let first = go(&db, BindingPolicy::Move, &code(6), A, t0()).expect("first");
        assert_eq!(first.remaining_bytes, Some(1_000_000));
        let u = code(6).replace('-', "");
        run(db.batch(&[crate::stmt!(
            "INSERT INTO usage_daily (username, day, input_octets, output_octets, online_seconds, sessions, \
             updated_at) VALUES (?1, '2026-12-04', 100000, 300000, 60, 1, '2026-12-04T10:05:00Z')",
            u.clone()
        )]))
        .expect("usage");
        let again = go(&db, BindingPolicy::Move, &code(6), A, t0() + Duration::minutes(6)).expect("again");
        assert_eq!(again.remaining_bytes, Some(600_000));
        run(db.batch(&[redemptions::record_bytes(&u, 1_000_000)])).expect("used");
        assert_eq!(refusal(go(&db, BindingPolicy::Move, &code(6), A, t0())), Refusal::DataUsedUp);
    }

    #[test]
    fn voucher_guessing_is_throttled_per_mac_and_recovers() {
        let db = setup(None, 1, None);
        let wrong = |serial: u32| {
            let mut c = code(serial).into_bytes();
            c[0] = if c[0] == b'A' { b'B' } else { b'A' };
            String::from_utf8(c).expect("utf8")
        };
        for i in 0..FAIL_LIMIT_MAC {
            assert_eq!(refusal(go(&db, BindingPolicy::Move, &wrong(1), A, t0())), Refusal::Unknown, "attempt {i}");
        }
        // Tripped: even a good code from this MAC waits for the window's end.
        let r = refusal(go(&db, BindingPolicy::Move, &code(1), A, t0() + Duration::seconds(60)));
        assert_eq!(r, Refusal::Throttled { retry_after_seconds: 540 });
        // Another device on another address is not affected.
        let t = tenant(TenantSettings::default());
        run(redeem(&settings(), &db, &t, &code(2), B, "10.5.50.8", t0())).expect("other device");
        // The next window lets the first device in again.
        go(&db, BindingPolicy::Move, &code(1), A, t0() + Duration::seconds(FAIL_WINDOW_SECONDS)).expect("recovered");
    }

    #[test]
    fn voucher_inspect_without_a_device_records_nothing_and_still_counts_guesses() {
        let db = setup(None, 1, None);
        let t = tenant(TenantSettings::default());
        let seen = run(inspect(&settings(), &db, &t, &code(2).to_lowercase(), "", t0())).expect("genuine");
        assert_eq!((seen.redeemed, seen.remaining_seconds, seen.username.len()), (false, 3600, 12));
        assert!(run(redemptions::get(&db, 1, 2)).expect("read").is_none(), "no first use without a device");
        go(&db, BindingPolicy::Move, &code(2), A, t0()).expect("used on a device");
        let later = run(inspect(&settings(), &db, &t, &code(2), "", t0() + Duration::minutes(10))).expect("used");
        assert_eq!((later.redeemed, later.remaining_seconds), (true, 3000));
        // No MAC and no address: the tenant ceiling still holds guessing.
        for _ in 0..FAIL_LIMIT_TENANT {
            let r = run(inspect(&settings(), &db, &t, "AAAA-AAAA-AAAA", "", t0()));
            assert!(matches!(r, Err(RedeemError::Refused(Refusal::Unknown))), "{r:?}");
        }
        let r = run(inspect(&settings(), &db, &t, &code(3), "", t0()));
        assert!(matches!(r, Err(RedeemError::Refused(Refusal::Throttled { .. }))), "{r:?}");
    }

    #[test]
    fn voucher_race_on_the_same_row_has_one_first_use() {
        // The guarded insert: a second insert of the same (batch, serial) fails as a conflict.
        let db = setup(None, 1, None);
        let mac = Mac::parse(A).expect("mac");
        let ins = || redemptions::insert(1, 7, "X", "p1", t0(), t0(), &mac, "");
        run(db.batch(&[ins()])).expect("first");
        assert!(matches!(run(db.batch(&[ins()])), Err(StoreError::Conflict(_))));
    }
}

#[cfg(test)]
mod property_tests {
    use super::*;
    use proptest::prelude::*;

    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

    proptest! {
        #[test]
        fn any_changed_character_is_rejected(batch in 1..=MAX_BATCH, serial in 0..(1u32 << 18), pos in 0usize..12, sym in 0usize..32) {
            let realm = Realm::parse("acme").expect("realm");
            let k = VoucherKey::derive(b"secret", &realm).expect("key");
            let code = k.code(&realm, VoucherId::new(batch, serial).expect("id")).compact();
            let mut typo = code.clone().into_bytes();
            prop_assume!(typo[pos] != ALPHABET[sym]);
            typo[pos] = ALPHABET[sym];
            let typo = String::from_utf8(typo).expect("utf8");
            prop_assert_eq!(k.verify(&realm, &typo), Err(VoucherError::NotGenuine));
        }

        #[test]
        fn another_tenants_key_rejects_the_code(batch in 1..=MAX_BATCH, serial in 0..(1u32 << 18), other in "[a-z]{1,12}") {
            let acme = Realm::parse("acme.co.ke").expect("realm");
            let other = format!("{other}.co.ke");
            prop_assume!(other != "acme.co.ke");
            let them = Realm::parse(&other).expect("realm");
            let code = VoucherKey::derive(b"secret", &acme).expect("key").code(&acme, VoucherId::new(batch, serial).expect("id"));
            let k = VoucherKey::derive(b"secret", &them).expect("key");
            prop_assert_eq!(k.verify(&them, &code.to_string()), Err(VoucherError::NotGenuine));
        }
    }
}

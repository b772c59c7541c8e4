//! The tenant registry in the control database.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::db::{Db, Row, StoreError};
use crate::domain::Realm;
use crate::domain::time::{fmt_ts, parse_ts};
use crate::secret::Secret;
use crate::stmt;
use crate::store::platform_audit;

/// What an unmatched-account Paybill payment meets at C2B validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum C2bValidation {
    /// Take every payment; unknown accounts go to the unmatched inbox.
    #[default]
    AcceptAll,
    /// Refuse payments whose account number matches nobody (customer gets an SMS).
    RejectUnknownAccount,
}

/// Per-tenant billing settings; every field falls back to the platform default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct TenantSettings {
    /// How long after expiry a subscriber stays online before being cut off.
    pub grace_seconds: i64,
    pub c2b_validation: C2bValidation,
    /// An STK push with no callback after this long is queried by the sweep.
    pub stk_sweep_after_seconds: i64,
    /// The sweep asks about the same push at most this often.
    pub stk_requery_seconds: i64,
    /// After this long with no final answer an STK push is marked failed.
    pub stk_give_up_seconds: i64,
    /// Display name customers see in the STK prompt's TransactionDesc.
    pub stk_description: String,
    /// The most one payment, top-up or adjustment may carry (cents). Anything above is refused
    /// with a reason (400; C2B validation answers C2B00013) and kept in the callback log.
    pub max_payment_cents: i64,
    /// Branding on every page a person sees: one accent colour (`#rrggbb`).
    pub brand_accent: String,
    /// The support phone number shown on every page (free text, e.g. `0712 345 678`).
    pub support_phone: String,
    /// An optional small logo as a `data:image/png;base64,...` or `data:image/svg+xml;base64,...` URI.
    pub logo_data_uri: String,
    /// The language of pages when neither the user nor the browser says: `en` or `sw`.
    #[schemars(extend("enum" = ["sw", "en"]))]
    pub default_language: String,
    /// A voucher typed on a new device when its places are taken: `move` (the new device takes the
    /// place of one that is offline) or `refuse`.
    pub voucher_binding: crate::domain::redemption::BindingPolicy,
    /// Hotspot sessions idle this long are ended (RADIUS `Idle-Timeout`); 0: never.
    pub hotspot_idle_timeout_seconds: i64,
    /// M-Pesa prompts anyone may start for one account in an hour without signing in (the public
    /// top-up, the captive "suspended" page); they ring only the phone on file.
    pub stk_prompts_per_account_hour: i64,
    /// The same per client address, across accounts.
    pub stk_prompts_per_ip_hour: i64,
    /// The longest pause a subscriber may choose in the portal, in days; 0: pauses are not offered.
    pub pause_max_days: i64,
    /// Pauses one subscriber may start in any 365 days.
    pub pause_max_per_year: i64,
}

impl TenantSettings {
    pub fn max_payment(&self) -> crate::domain::Money {
        crate::domain::Money(self.max_payment_cents)
    }
}

impl Default for TenantSettings {
    fn default() -> Self {
        TenantSettings {
            grace_seconds: 86_400,
            c2b_validation: C2bValidation::AcceptAll,
            stk_sweep_after_seconds: 90,
            stk_requery_seconds: 30,
            stk_give_up_seconds: 3_600,
            stk_description: "Internet".into(),
            max_payment_cents: crate::domain::payment::DEFAULT_MAX_PAYMENT.cents(),
            brand_accent: "#0b6e4f".into(),
            support_phone: String::new(),
            logo_data_uri: String::new(),
            default_language: "en".into(),
            voucher_binding: crate::domain::redemption::BindingPolicy::Move,
            hotspot_idle_timeout_seconds: 300,
            stk_prompts_per_account_hour: 3,
            stk_prompts_per_ip_hour: 10,
            pause_max_days: 0,
            pause_max_per_year: 2,
        }
    }
}

/// Daraja credentials and shortcode of one tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct DarajaSettings {
    /// `sandbox`, `production`, or a base URL (the simulator).
    pub environment: String,
    pub consumer_key: String,
    #[schemars(with = "Option<String>")]
    pub consumer_secret: Secret,
    #[schemars(with = "Option<String>")]
    pub passkey: Secret,
    /// BusinessShortCode (Paybill number, or the till's head-office number).
    pub shortcode: String,
    /// PartyB for Buy Goods; empty for Paybill.
    pub till: String,
    /// `v2` (documented) or `v1` for C2B register URL.
    pub c2b_api_version: String,
}

impl Default for DarajaSettings {
    fn default() -> Self {
        DarajaSettings {
            environment: "sandbox".into(),
            consumer_key: String::new(),
            consumer_secret: Secret::default(),
            passkey: Secret::default(),
            shortcode: String::new(),
            till: String::new(),
            c2b_api_version: "v2".into(),
        }
    }
}

impl DarajaSettings {
    pub fn is_configured(&self) -> bool {
        !self.consumer_key.is_empty()
            && !self.consumer_secret.is_empty()
            && !self.passkey.is_empty()
            && !self.shortcode.is_empty()
    }
    pub fn base_url(&self) -> String {
        match self.environment.as_str() {
            "sandbox" => "https://sandbox.safaricom.co.ke".into(),
            "production" => "https://api.safaricom.co.ke".into(),
            custom => custom.trim_end_matches('/').to_owned(),
        }
    }
}

/// Whether a tenant is served at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TenantStatus {
    Active,
    /// Switched off by the platform: every route answers as if the tenant did not exist.
    Disabled,
}

impl TenantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TenantStatus::Active => "active",
            TenantStatus::Disabled => "disabled",
        }
    }
    pub fn parse(s: &str) -> Option<TenantStatus> {
        match s {
            "active" => Some(TenantStatus::Active),
            "disabled" => Some(TenantStatus::Disabled),
            _ => None,
        }
    }
}

impl std::fmt::Display for TenantStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone)]
pub struct Tenant {
    pub realm: Realm,
    pub name: String,
    pub status: TenantStatus,
    pub db_key: String,
    pub admin_token_hash: String,
    pub callback_token: Secret,
    pub sync_key: Secret,
    pub settings: TenantSettings,
    pub daraja: DarajaSettings,
    pub created_at: DateTime<Utc>,
}

fn from_row(r: &Row<'_>) -> Result<Tenant, StoreError> {
    let realm = Realm::parse(&r.text("realm")?).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(Tenant {
        realm,
        name: r.text("name")?,
        status: TenantStatus::parse(&r.text("status")?).ok_or_else(|| StoreError::Corrupt("tenant status".into()))?,
        db_key: r.text("db_key")?,
        admin_token_hash: r.text("admin_token_hash")?,
        callback_token: Secret::new(r.text("callback_token")?),
        sync_key: Secret::new(r.text("sync_key")?),
        settings: serde_json::from_str(&r.text("settings")?).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        daraja: serde_json::from_str(&r.text("daraja")?).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        created_at: parse_ts(&r.text("created_at")?).unwrap_or_default(),
    })
}

const COLS: &str =
    "realm, name, status, db_key, admin_token_hash, callback_token, sync_key, settings, daraja, created_at";

pub async fn get(db: &impl Db, realm: &Realm) -> Result<Option<Tenant>, StoreError> {
    let rows = db.query(&stmt!(format!("SELECT {COLS} FROM tenants WHERE realm = ?1"), realm.as_str())).await?;
    rows.first().map(|r| from_row(&r)).transpose()
}

pub async fn list(db: &impl Db) -> Result<Vec<Tenant>, StoreError> {
    let rows = db.query(&stmt!(format!("SELECT {COLS} FROM tenants ORDER BY realm"))).await?;
    rows.iter().map(|r| from_row(&r)).collect()
}

/// Registers `t` and records in the platform audit log, in the same atomic batch, that `actor`
/// created it (at `t.created_at`): both are written or neither.
pub async fn insert(db: &impl Db, t: &Tenant, actor: &str) -> Result<(), StoreError> {
    db.batch(&[
        stmt!(
            format!("INSERT INTO tenants ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
            t.realm.as_str(),
            &t.name,
            t.status.as_str(),
            &t.db_key,
            &t.admin_token_hash,
            t.callback_token.expose(),
            t.sync_key.expose(),
            serde_json::to_string(&t.settings).unwrap_or_default(),
            serde_json::to_string(&t.daraja).unwrap_or_default(),
            fmt_ts(t.created_at),
        ),
        platform_audit::entry(t.created_at, actor, "tenant.create", t.realm.as_str()),
    ])
    .await?;
    Ok(())
}

pub async fn update_settings(
    db: &impl Db,
    realm: &Realm,
    settings: &TenantSettings,
    daraja: &DarajaSettings,
) -> Result<(), StoreError> {
    let n = db
        .batch(&[stmt!(
            "UPDATE tenants SET settings = ?2, daraja = ?3 WHERE realm = ?1",
            realm.as_str(),
            serde_json::to_string(settings).unwrap_or_default(),
            serde_json::to_string(daraja).unwrap_or_default(),
        )])
        .await?;
    if n.first().copied().unwrap_or(0) == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

/// Switches a tenant on (`Active`) or off (`Disabled`: every route answers as if it did not exist)
/// and records in the platform audit log, in the same atomic batch, that `actor` did so at `now`
/// (`tenant.active` / `tenant.disabled`). No such tenant: `NotFound`, and nothing is logged.
pub async fn set_status(
    db: &impl Db,
    realm: &Realm,
    status: TenantStatus,
    now: DateTime<Utc>,
    actor: &str,
) -> Result<(), StoreError> {
    let n = db
        .batch(&[
            stmt!("UPDATE tenants SET status = ?2 WHERE realm = ?1", realm.as_str(), status.as_str()),
            platform_audit::entry_if_tenant(now, actor, &format!("tenant.{status}"), realm.as_str()),
        ])
        .await?;
    if n.first().copied().unwrap_or(0) == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

#[cfg(test)]
mod audit_tests {
    use super::*;
    use crate::db::Statement;
    use crate::store::platform_audit;
    use crate::testing::{TestDb, run, tenant};

    fn now() -> DateTime<Utc> {
        parse_ts("2026-03-01T09:00:00Z").expect("time")
    }

    fn status_of(db: &TestDb, realm: &Realm) -> TenantStatus {
        run(get(db, realm)).expect("get").expect("registered").status
    }

    fn log(db: &TestDb) -> Vec<(String, String, String)> {
        run(platform_audit::recent(db, 100)).expect("log").into_iter().map(|e| (e.actor, e.action, e.realm)).collect()
    }

    /// Makes every later write to `table` fail, as a full disk or a broken constraint would.
    fn break_writes(db: &TestDb, table: &str, event: &str) {
        run(db.batch(&[Statement::new(format!(
            "CREATE TRIGGER broken_{table} BEFORE {event} ON {table} BEGIN SELECT RAISE(ABORT, '{table} is broken'); END"
        ))]))
        .expect("trigger");
    }

    #[test]
    fn a_status_change_and_its_audit_entry_are_written_together() {
        let db = TestDb::control();
        let t = tenant(TenantSettings::default());
        run(insert(&db, &t, "token aaaa from 10.0.0.1")).expect("insert");
        run(set_status(&db, &t.realm, TenantStatus::Disabled, now(), "token bbbb from 10.0.0.2")).expect("suspend");
        assert_eq!(status_of(&db, &t.realm), TenantStatus::Disabled);
        let want = |a: &str, action: &str| (a.to_owned(), action.to_owned(), "test".to_owned());
        assert_eq!(
            log(&db),
            [want("token bbbb from 10.0.0.2", "tenant.disabled"), want("token aaaa from 10.0.0.1", "tenant.create")]
        );
    }

    #[test]
    fn a_failing_audit_insert_leaves_the_status_unchanged() {
        let db = TestDb::control();
        let t = tenant(TenantSettings::default());
        run(insert(&db, &t, "someone")).expect("insert");
        break_writes(&db, "platform_audit", "INSERT");
        let r = run(set_status(&db, &t.realm, TenantStatus::Disabled, now(), "someone"));
        assert!(r.is_err(), "{r:?}");
        assert_eq!(status_of(&db, &t.realm), TenantStatus::Active, "the change went with its entry");
        assert_eq!(log(&db).len(), 1, "only the creation");
    }

    #[test]
    fn a_failing_status_change_leaves_no_audit_entry() {
        let db = TestDb::control();
        let t = tenant(TenantSettings::default());
        run(insert(&db, &t, "someone")).expect("insert");
        break_writes(&db, "tenants", "UPDATE");
        let r = run(set_status(&db, &t.realm, TenantStatus::Disabled, now(), "someone"));
        assert!(r.is_err(), "{r:?}");
        assert_eq!(log(&db).len(), 1, "no entry for a change that did not happen");
    }

    #[test]
    fn a_status_change_of_no_tenant_is_not_found_and_not_logged() {
        let db = TestDb::control();
        let nobody = Realm::parse("no-such-isp").expect("realm");
        let r = run(set_status(&db, &nobody, TenantStatus::Disabled, now(), "someone"));
        assert_eq!(r, Err(StoreError::NotFound));
        assert!(log(&db).is_empty());
    }

    #[test]
    fn a_failing_audit_insert_leaves_no_tenant_and_a_failing_registration_no_entry() {
        let db = TestDb::control();
        let t = tenant(TenantSettings::default());
        break_writes(&db, "platform_audit", "INSERT");
        assert!(run(insert(&db, &t, "someone")).is_err());
        assert!(run(get(&db, &t.realm)).expect("get").is_none(), "no tenant without its entry");
        run(db.batch(&[Statement::new("DROP TRIGGER broken_platform_audit")])).expect("mend");

        run(insert(&db, &t, "first")).expect("insert");
        // the same realm again (a race past the use case's check): the registry refuses, nothing is logged
        let r = run(insert(&db, &Tenant { db_key: "other".into(), ..t.clone() }, "second"));
        assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
        assert_eq!(log(&db), [("first".to_owned(), "tenant.create".to_owned(), "test".to_owned())]);
    }
}

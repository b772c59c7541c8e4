//! Tenants: creating one (and its billing database), and changing its settings.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::db::StoreError;
use crate::domain::names::Realm;
use crate::ids::IdGen;
use crate::migrations;
use crate::platform::Platform;
use crate::secret::Secret;
use crate::store::tenants;
use crate::store::tenants::{DarajaSettings, Tenant, TenantSettings};
use crate::usecases::UseCaseError;

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new tenant and the secrets shown once to the operator.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct NewTenant {
    pub realm: String,
    pub admin_token: String,
    pub callback_token: String,
    pub sync_key: String,
    /// What FreeRADIUS presents on `POST /radius/voucher` (the tenant's `voucher_key` in the
    /// RADIUS generator's `tenants.toml`), derived from the sync key.
    pub radius_voucher_key: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct TenantInput {
    #[schemars(pattern(r"^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$"))]
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

/// Registers a tenant and creates + migrates its billing database. The platform audit log records
/// that `actor` created it, in the same atomic batch as the registration.
pub async fn create_tenant<P: Platform>(
    p: &P,
    input: TenantInput,
    actor: &str,
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
        status: tenants::TenantStatus::Active,
        db_key,
        admin_token_hash: token_hash(&admin_token),
        callback_token: Secret::new(&callback_token),
        sync_key: Secret::new(&sync_key),
        settings: input.settings.unwrap_or_default(),
        daraja: input.daraja.unwrap_or_default(),
        created_at: now,
    };
    tenants::insert(p.control(), &t, actor).await.map_err(|e| match e {
        StoreError::Conflict(_) => UseCaseError::Conflict(format!("tenant {realm} exists")),
        e => e.into(),
    })?;
    let radius_voucher_key = konnekted_sync_proto::radius_voucher_key(sync_key.as_bytes());
    Ok(NewTenant { realm: realm.to_string(), admin_token, callback_token, sync_key, radius_voucher_key })
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
        if key != "settings" && key != "daraja" && key != "stripe" && key != "paystack" && key != "sms" {
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
pub(crate) fn overlay<T: serde::Serialize + serde::de::DeserializeOwned>(
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
    let a = s.brand_accent.as_bytes();
    if a.len() != 7 || a[0] != b'#' || !a[1..].iter().all(u8::is_ascii_hexdigit) {
        return bad("brand_accent must be a colour as #rrggbb");
    }
    if s.support_phone.len() > 40 || s.support_phone.chars().any(|c| c.is_control()) {
        return bad("support_phone must be at most 40 printable characters");
    }
    if !s.logo_data_uri.is_empty()
        && (s.logo_data_uri.len() > crate::web::MAX_LOGO_BYTES
            || !(s.logo_data_uri.starts_with("data:image/png;base64,")
                || s.logo_data_uri.starts_with("data:image/svg+xml;base64,")))
    {
        return bad("logo_data_uri must be a data:image/png;base64 or data:image/svg+xml;base64 URI of at most 8 KiB");
    }
    if crate::web::i18n::Lang::from_tag(&s.default_language).is_none() {
        return bad("default_language must be en or sw");
    }
    if !(0..=86_400).contains(&s.hotspot_idle_timeout_seconds) {
        return bad("hotspot_idle_timeout_seconds must be between 0 and 86400");
    }
    if !(0..=1_000_000).contains(&s.stk_prompts_per_account_hour)
        || !(0..=1_000_000).contains(&s.stk_prompts_per_ip_hour)
    {
        return bad("stk_prompts_per_account_hour and stk_prompts_per_ip_hour must be between 0 and 1000000");
    }
    if !(0..=90).contains(&s.pause_max_days) {
        return bad("pause_max_days must be between 0 (no pauses) and 90");
    }
    if !(1..=12).contains(&s.pause_max_per_year) {
        return bad("pause_max_per_year must be between 1 and 12");
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

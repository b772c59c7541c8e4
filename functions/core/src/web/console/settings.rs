//! The tenant's settings in the console (owner only): Daraja credentials, billing (grace, the STK
//! sweep's ages, limits), hotspot and branding.
//!
//! Daraja's consumer key, consumer secret and passkey are write-only: the page says whether each
//! is set, never its value, and an empty field keeps the current one. The form is merged and
//! validated exactly as the admin API's `PUT settings` is ([`uc_tenants::merge_settings`]); each
//! saved change is one audit row with the changed fields before and after, secrets redacted.

use chrono::{DateTime, Utc};
use http::StatusCode;
use maud::{Markup, html};
use serde_json::{Map, Value, json};

use super::Staff;
use super::pages::{PageResult, audit, done, need, notice, uc_message};
use crate::api::Query;
use crate::domain::redemption::BindingPolicy;
use crate::platform::Platform;
use crate::store::tenants::{self, C2bValidation, DarajaSettings, TenantSettings};
use crate::usecases::UseCaseError;
use crate::usecases::staff::Action;
use crate::usecases::tenants as uc_tenants;
use crate::web::PageCtx;
use crate::web::form::{self, FieldError};

/// Daraja fields shown back and editable as they are.
const DARAJA_PLAIN: &[(&str, &str)] = &[
    ("environment", "console.settings.environment"),
    ("shortcode", "console.settings.shortcode"),
    ("till", "console.settings.till"),
];
/// Daraja fields never shown back: empty keeps the current value.
const DARAJA_SECRET: &[(&str, &str)] = &[
    ("consumer_key", "console.settings.consumer_key"),
    ("consumer_secret", "console.settings.consumer_secret"),
    ("passkey", "console.settings.passkey"),
];
/// Durations (seconds in the settings), entered as a number and a unit.
const DURATIONS: &[(&str, &str)] = &[
    ("grace_seconds", "console.settings.grace"),
    ("stk_sweep_after_seconds", "console.settings.sweep_after"),
    ("stk_requery_seconds", "console.settings.requery"),
    ("stk_give_up_seconds", "console.settings.give_up"),
    ("hotspot_idle_timeout_seconds", "console.settings.idle_timeout"),
];
const UNITS: &[(i64, &str)] = &[
    (86_400, "console.unit.days"),
    (3_600, "console.unit.hours"),
    (60, "console.unit.minutes"),
    (1, "console.unit.seconds"),
];

fn enum_str<T: serde::Serialize>(v: T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// The largest unit that divides `seconds` (0 shows as minutes).
fn split_duration(seconds: i64) -> (i64, i64) {
    if seconds == 0 {
        return (0, 60);
    }
    let unit = UNITS.iter().map(|u| u.0).find(|u| seconds % u == 0).unwrap_or(1);
    (seconds / unit, unit)
}

fn duration_field(cx: &PageCtx, f: &Query, name: &'static str, label: &'static str, seconds: i64) -> Markup {
    let (n, unit) = split_duration(seconds);
    let n = f.get(name).map_or_else(|| n.to_string(), str::to_owned);
    let unit_key = format!("{name}_unit");
    let unit = f.get(&unit_key).and_then(|u| u.parse().ok()).unwrap_or(unit);
    html! {
        label for=(name) { (cx.t(label)) }
        div.row {
            input id=(name) type="number" name=(name) min="0" step="1" inputmode="numeric" value=(n) style="width:8em";
            select name=(unit_key) aria-label=(cx.t(label)) style="width:auto" {
                @for (u, key) in UNITS { option value=(u) selected[*u == unit] { (cx.t(key)) } }
            }
        }
    }
}

/// `GET /settings` (and the form again with its errors after a refused `POST`).
pub(super) fn page<P: Platform>(
    p: &P,
    cx: &PageCtx,
    st: &Staff,
    q: &Query,
    f: &Query,
    errors: &[FieldError],
) -> PageResult {
    need(st, Action::Settings)?;
    let t = &st.tenant;
    let s = &t.settings;
    let d = &t.daraja;
    let base_url = &p.settings().public_base_url;
    let v = |k: &str, current: &str| f.get(k).map_or_else(|| current.to_owned(), str::to_owned);
    let daraja_plain = |k: &str| match k {
        "environment" => d.environment.clone(),
        "shortcode" => d.shortcode.clone(),
        _ => d.till.clone(),
    };
    let secret_set = |k: &str| match k {
        "consumer_key" => !d.consumer_key.is_empty(),
        "consumer_secret" => !d.consumer_secret.is_empty(),
        _ => !d.passkey.is_empty(),
    };
    let seconds = |k: &str| match k {
        "grace_seconds" => s.grace_seconds,
        "stk_sweep_after_seconds" => s.stk_sweep_after_seconds,
        "stk_requery_seconds" => s.stk_requery_seconds,
        "stk_give_up_seconds" => s.stk_give_up_seconds,
        _ => s.hotspot_idle_timeout_seconds,
    };
    let binding = v("voucher_binding", &enum_str(s.voucher_binding));
    let c2b = v("c2b_validation", &enum_str(s.c2b_validation));
    let lang = v("default_language", &s.default_language);
    let body = html! {
        (notice(cx, q))
        h1 { (cx.t("console.nav.settings")) }
        (form::error_summary(cx, errors))
        form method="post" action={ (st.base()) "/settings" } {
            (st.csrf_field())
            div.card {
                h2 { "M-Pesa (Daraja)" }
                p { (cx.t("console.settings.configured")) ": " strong { (if d.is_configured() { cx.t("console.yes") } else { cx.t("console.no") }) } }
                @for (k, label) in DARAJA_PLAIN {
                    label for=(k) { (cx.t(label)) }
                    input id=(k) type="text" name=(k) value=(v(k, &daraja_plain(k))) autocomplete="off";
                }
                @for (k, label) in DARAJA_SECRET {
                    label for=(k) {
                        (cx.t(label)) " "
                        @if secret_set(k) { span.badge.ok { (cx.t("console.settings.set")) } } @else { span.badge { (cx.t("console.settings.not_set")) } }
                        span.hint { (cx.t("console.settings.secret_hint")) }
                    }
                    input id=(k) type="password" name=(k) value="" autocomplete="new-password";
                }
                dl.kv.small {
                    dt { "STK callback" } dd { (crate::mpesa::hook_url(base_url, t, "stk")) }
                    dt { "C2B validation" } dd { (crate::mpesa::hook_url(base_url, t, "c2b/validate")) }
                    dt { "C2B confirmation" } dd { (crate::mpesa::hook_url(base_url, t, "c2b/confirm")) }
                }
            }
            div.card {
                h2 { (cx.t("console.settings.billing")) }
                @for (k, label) in DURATIONS.iter().take(4) { (duration_field(cx, f, k, label, seconds(k))) }
                label for="max_payment_kes" { (cx.t("console.settings.max_payment")) }
                input #max_payment_kes type="number" name="max_payment_kes" min="1" step="1" inputmode="numeric"
                    value=(v("max_payment_kes", &(s.max_payment_cents / 100).to_string()));
                label for="stk_description" { (cx.t("console.settings.stk_description")) }
                input #stk_description type="text" name="stk_description" value=(v("stk_description", &s.stk_description));
                label for="c2b_validation" { (cx.t("console.settings.c2b_validation")) }
                select #c2b_validation name="c2b_validation" {
                    @for (val, key) in [(enum_str(C2bValidation::AcceptAll), "console.settings.c2b_accept_all"), (enum_str(C2bValidation::RejectUnknownAccount), "console.settings.c2b_reject_unknown")] {
                        option value=(val) selected[c2b == val] { (cx.t(key)) }
                    }
                }
            }
            div.card {
                h2 { (cx.t("console.settings.hotspot")) }
                (duration_field(cx, f, DURATIONS[4].0, DURATIONS[4].1, seconds(DURATIONS[4].0)))
                label for="voucher_binding" { (cx.t("console.settings.voucher_binding")) }
                select #voucher_binding name="voucher_binding" {
                    @for (val, key) in [(enum_str(BindingPolicy::Move), "console.settings.binding_move"), (enum_str(BindingPolicy::Refuse), "console.settings.binding_refuse")] {
                        option value=(val) selected[binding == val] { (cx.t(key)) }
                    }
                }
            }
            div.card {
                h2 { (cx.t("console.settings.branding")) }
                label for="brand_accent" { (cx.t("console.settings.accent")) span.hint { "#rrggbb" } }
                input #brand_accent type="color" name="brand_accent" value=(v("brand_accent", &s.brand_accent));
                label for="support_phone" { (cx.t("console.settings.support_phone")) }
                input #support_phone type="tel" name="support_phone" maxlength="40" value=(v("support_phone", &s.support_phone));
                label for="default_language" { (cx.t("console.settings.language")) }
                select #default_language name="default_language" {
                    option value="en" selected[lang == "en"] { "English" }
                    option value="sw" selected[lang == "sw"] { "Kiswahili" }
                }
                label for="logo_data_uri" { (cx.t("console.settings.logo")) span.hint { (cx.t("console.settings.logo_hint")) } }
                textarea #logo_data_uri name="logo_data_uri" rows="3" spellcheck="false" { (v("logo_data_uri", &s.logo_data_uri)) }
            }
            p { button type="submit" { (cx.t("console.save")) } }
        }
        p.muted { (cx.t("console.settings.api_hint")) }
    };
    let mut r = super::page(cx, st, "settings", cx.t("console.nav.settings"), body);
    if !errors.is_empty() {
        *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(r)
}

/// The form as a patch for [`uc_tenants::merge_settings`], or the first field that is not a number.
fn patch_of(f: &Query) -> Result<Value, &'static str> {
    let mut settings = Map::new();
    let mut daraja = Map::new();
    let text = |k: &str| f.get(k).map(str::trim);
    for (k, _) in DARAJA_PLAIN {
        if let Some(v) = text(k) {
            daraja.insert((*k).into(), json!(v));
        }
    }
    for (k, _) in DARAJA_SECRET {
        if let Some(v) = text(k).filter(|v| !v.is_empty()) {
            daraja.insert((*k).into(), json!(v));
        }
    }
    for (k, _) in DURATIONS {
        let Some(n) = text(k) else { continue };
        let n: i64 = n.parse().map_err(|_| *k)?;
        let unit: i64 = f.get(&format!("{k}_unit")).and_then(|u| u.parse().ok()).unwrap_or(1);
        if !UNITS.iter().any(|u| u.0 == unit) {
            return Err(k);
        }
        settings.insert((*k).into(), json!(n.checked_mul(unit).ok_or(*k)?));
    }
    if let Some(kes) = text("max_payment_kes") {
        let kes: i64 = kes.parse().map_err(|_| "max_payment_kes")?;
        settings.insert("max_payment_cents".into(), json!(kes.checked_mul(100).ok_or("max_payment_kes")?));
    }
    for k in
        ["stk_description", "c2b_validation", "voucher_binding", "brand_accent", "support_phone", "default_language"]
    {
        if let Some(v) = text(k) {
            settings.insert(k.into(), json!(v));
        }
    }
    if let Some(v) = text("logo_data_uri") {
        settings.insert("logo_data_uri".into(), json!(v.split_whitespace().collect::<String>()));
    }
    Ok(json!({"settings": settings, "daraja": daraja}))
}

/// The changed fields, before and after; Daraja's secrets as `set` / `empty` / `changed`.
fn diff(
    (s0, d0): (&TenantSettings, &DarajaSettings),
    (s1, d1): (&TenantSettings, &DarajaSettings),
) -> (Map<String, Value>, Map<String, Value>) {
    let (mut before, mut after) = (Map::new(), Map::new());
    let (a, b) = (serde_json::to_value(s0).unwrap_or_default(), serde_json::to_value(s1).unwrap_or_default());
    if let (Some(a), Some(b)) = (a.as_object(), b.as_object()) {
        for (k, v1) in b {
            let v0 = a.get(k).cloned().unwrap_or(Value::Null);
            if &v0 != v1 {
                before.insert(format!("settings.{k}"), v0);
                after.insert(format!("settings.{k}"), v1.clone());
            }
        }
    }
    let plain = [
        ("environment", &d0.environment, &d1.environment),
        ("shortcode", &d0.shortcode, &d1.shortcode),
        ("till", &d0.till, &d1.till),
    ];
    for (k, x, y) in plain {
        if x != y {
            before.insert(format!("daraja.{k}"), json!(x));
            after.insert(format!("daraja.{k}"), json!(y));
        }
    }
    let secrets = [
        ("consumer_key", d0.consumer_key.as_str(), d1.consumer_key.as_str()),
        ("consumer_secret", d0.consumer_secret.expose(), d1.consumer_secret.expose()),
        ("passkey", d0.passkey.expose(), d1.passkey.expose()),
    ];
    for (k, x, y) in secrets {
        if x != y {
            before.insert(format!("daraja.{k}"), json!(if x.is_empty() { "empty" } else { "set" }));
            after.insert(format!("daraja.{k}"), json!("changed"));
        }
    }
    (before, after)
}

/// `POST /settings`: merge, validate, save, audit; `303` back, or the form with its error.
pub(super) async fn save<P: Platform>(
    p: &P,
    db: &P::Db,
    cx: &PageCtx,
    st: &Staff,
    f: &Query,
    now: DateTime<Utc>,
) -> PageResult {
    need(st, Action::Settings)?;
    let again = |field: &'static str, message: String| {
        let field = if field == "max_payment_cents" { "max_payment_kes" } else { field };
        page(p, cx, st, &Query::parse(None), f, &[FieldError { field, message }])
    };
    let patch = match patch_of(f) {
        Ok(p) => p,
        Err(field) => return again(field, cx.t("console.settings.whole_number").into()),
    };
    let t = &st.tenant;
    let (settings, daraja) = match uc_tenants::merge_settings(&t.settings, &t.daraja, &patch) {
        Ok(x) => x,
        Err(UseCaseError::Store(e)) => return Err(e.into()),
        Err(e) => {
            let m = uc_message(&e);
            let field = DURATIONS
                .iter()
                .map(|d| d.0)
                .chain(["max_payment_cents", "brand_accent", "support_phone", "logo_data_uri", "default_language"])
                .find(|k| m.contains(k))
                .unwrap_or("environment");
            return again(field, m);
        }
    };
    let (before, after) = diff((&t.settings, &t.daraja), (&settings, &daraja));
    if after.is_empty() {
        return Ok(done(st, "settings", "saved"));
    }
    tenants::update_settings(p.control(), &t.realm, &settings, &daraja).await?;
    audit(db, st, now, "settings.update", t.realm.as_str(), Some(Value::Object(before)), Some(Value::Object(after)))
        .await?;
    Ok(done(st, "settings", "saved"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Query {
        let s: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        Query::parse(Some(&s.join("&")))
    }

    #[test]
    fn durations_show_in_the_largest_unit_that_divides_them() {
        assert_eq!(split_duration(0), (0, 60));
        assert_eq!(split_duration(86_400 * 3), (3, 86_400));
        assert_eq!(split_duration(5_400), (90, 60));
        assert_eq!(split_duration(45), (45, 1));
    }

    #[test]
    fn an_empty_secret_field_keeps_the_secret_and_durations_multiply_their_unit() {
        let p = patch_of(&form(&[
            ("consumer_secret", ""),
            ("passkey", "new-pass"),
            ("shortcode", " 174379 "),
            ("grace_seconds", "2"),
            ("grace_seconds_unit", "3600"),
            ("max_payment_kes", "150000"),
        ]))
        .expect("patch");
        assert_eq!(p["daraja"].get("consumer_secret"), None, "empty: keep");
        assert_eq!(p["daraja"]["passkey"], "new-pass");
        assert_eq!(p["daraja"]["shortcode"], "174379");
        assert_eq!(p["settings"]["grace_seconds"], 7200);
        assert_eq!(p["settings"]["max_payment_cents"], 15_000_000);
        assert_eq!(patch_of(&form(&[("grace_seconds", "two")])), Err("grace_seconds"));
        assert_eq!(patch_of(&form(&[("grace_seconds", "2"), ("grace_seconds_unit", "7")])), Err("grace_seconds"));
    }

    #[test]
    fn the_audit_diff_names_changed_fields_and_never_a_secret() {
        let s0 = TenantSettings::default();
        let d0 = DarajaSettings { passkey: crate::secret::Secret::new("old-passkey"), ..DarajaSettings::default() };
        let s1 = TenantSettings { grace_seconds: s0.grace_seconds + 60, ..s0.clone() };
        let d1 = DarajaSettings {
            passkey: crate::secret::Secret::new("new-passkey"),
            consumer_key: "new-key".into(),
            shortcode: "600000".into(),
            ..d0.clone()
        };
        let (before, after) = diff((&s0, &d0), (&s1, &d1));
        let all = format!("{before:?}{after:?}");
        assert!(!all.contains("old-passkey") && !all.contains("new-passkey") && !all.contains("new-key"), "{all}");
        assert_eq!(after["daraja.passkey"], "changed");
        assert_eq!(before["daraja.passkey"], "set");
        assert_eq!(before["daraja.consumer_key"], "empty");
        assert_eq!(after["daraja.shortcode"], "600000");
        assert_eq!(after["settings.grace_seconds"], json!(s0.grace_seconds + 60));
        assert_eq!(after.len(), 4, "{after:?}");
    }
}

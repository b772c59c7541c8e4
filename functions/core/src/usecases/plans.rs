//! Plans: what an ISP sells (price, period, speeds, data cap).

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::db::{Db, StoreError};
use crate::domain::Money;
use crate::domain::plan::{Plan, PlanKind, valid_plan_code};
use crate::domain::time::fmt_ts;
use crate::ids::IdGen;
use crate::store::{feed, plans};
use crate::usecases::UseCaseError;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct PlanInput {
    #[schemars(pattern(r"^[a-z0-9-]{1,32}$"))]
    pub code: String,
    #[schemars(length(min = 1))]
    pub name: String,
    #[serde(default = "default_kind")]
    pub kind: PlanKind,
    #[schemars(range(min = 100), extend("multipleOf" = 100))]
    pub price_cents: i64,
    #[schemars(range(min = 60))]
    pub period_seconds: i64,
    #[schemars(range(min = 1))]
    pub down_kbps: i64,
    #[schemars(range(min = 1))]
    pub up_kbps: i64,
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub data_cap_bytes: Option<i64>,
    /// Devices one voucher code may serve at once (hotspot plans); 1 unless said.
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 16))]
    pub max_devices: i64,
}

fn one() -> i64 {
    1
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
    if !(1..=16).contains(&p.max_devices) {
        return bad("max_devices must be between 1 and 16");
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
        max_devices: input.max_devices,
        active: true,
    };
    db.batch(&[plans::insert(&plan, &fmt_ts(now))]).await.map_err(|e| match e {
        StoreError::Conflict(_) => UseCaseError::Conflict(format!("plan code {} exists", plan.code)),
        e => e.into(),
    })?;
    Ok(plan)
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct PlanPatch {
    #[schemars(length(min = 1))]
    pub name: Option<String>,
    #[schemars(range(min = 100), extend("multipleOf" = 100))]
    pub price_cents: Option<i64>,
    #[schemars(range(min = 60))]
    pub period_seconds: Option<i64>,
    #[schemars(range(min = 1))]
    pub down_kbps: Option<i64>,
    #[schemars(range(min = 1))]
    pub up_kbps: Option<i64>,
    /// null: no cap
    #[schemars(range(min = 1))]
    pub data_cap_bytes: Option<Option<i64>>,
    #[schemars(range(min = 1, max = 16))]
    pub max_devices: Option<i64>,
    pub active: Option<bool>,
}

pub async fn update_plan(db: &impl Db, id: &str, patch: PlanPatch, now: DateTime<Utc>) -> Result<Plan, UseCaseError> {
    let mut p = plans::get(db, id).await?.ok_or(UseCaseError::NotFound("plan"))?;
    let period_changed = patch.period_seconds.is_some_and(|v| v != p.period_seconds);
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
        max_devices: patch.max_devices.unwrap_or(p.max_devices),
    };
    validate_plan(&input)?;
    p.name = input.name;
    p.price = Money(input.price_cents);
    p.period_seconds = input.period_seconds;
    p.down_kbps = input.down_kbps;
    p.up_kbps = input.up_kbps;
    p.data_cap_bytes = input.data_cap_bytes;
    p.max_devices = input.max_devices;
    p.active = patch.active.unwrap_or(p.active);
    let mut batch = vec![plans::update(&p)];
    if period_changed {
        // every normalised price of the plan moves: the dashboard's summaries are rebuilt
        batch.push(crate::store::summaries::invalidate());
    }
    if speed_changed {
        let payload = serde_json::json!({"plan": p.code, "rate_limit": p.rate_limit()});
        batch.push(feed::append(None, feed::kind::PLAN_UPDATED, &payload, &fmt_ts(now)));
    }
    db.batch(&batch).await?;
    Ok(p)
}

//! Hotspot voucher batches: create one, print its codes, check a typed code.

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use super::UseCaseError;
use crate::db::{Db, StoreError};
use crate::domain::Realm;
use crate::domain::plan::PlanKind;
use crate::domain::time::fmt_ts;
use crate::domain::voucher::{MAX_BATCH, VoucherError, VoucherId, VoucherKey};
use crate::ids::IdGen;
use crate::platform::Settings;
use crate::store::{plans, vouchers};

/// The most codes one batch request may create (serials allow more; a printed sheet does not).
pub const MAX_COUNT: u32 = 20_000;

#[derive(Debug, Deserialize)]
pub struct BatchInput {
    /// Plan id or code; must be a hotspot plan.
    pub plan: String,
    pub count: u32,
    #[serde(default)]
    pub note: String,
    /// Unused codes become void this many days after the batch is made; none: never.
    #[serde(default)]
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

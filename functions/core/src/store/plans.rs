//! Plans.

use crate::db::{Db, Row, Statement, StoreError};
use crate::domain::Money;
use crate::domain::plan::{Plan, PlanKind};
use crate::stmt;

const COLS: &str =
    "id, code, name, kind, price_cents, period_seconds, down_kbps, up_kbps, data_cap_bytes, max_devices, active";

fn from_row(r: &Row<'_>) -> Result<Plan, StoreError> {
    Ok(Plan {
        id: r.text("id")?,
        code: r.text("code")?,
        name: r.text("name")?,
        kind: PlanKind::parse(&r.text("kind")?).ok_or_else(|| StoreError::Corrupt("plan kind".into()))?,
        price: Money(r.int("price_cents")?),
        period_seconds: r.int("period_seconds")?,
        down_kbps: r.int("down_kbps")?,
        up_kbps: r.int("up_kbps")?,
        data_cap_bytes: r.opt_int("data_cap_bytes")?,
        max_devices: r.int("max_devices")?,
        active: r.bool("active")?,
    })
}

pub async fn list(db: &impl Db) -> Result<Vec<Plan>, StoreError> {
    let rows = db.query(&stmt!(format!("SELECT {COLS} FROM plans ORDER BY price_cents, code"))).await?;
    rows.iter().map(|r| from_row(&r)).collect()
}

pub async fn get(db: &impl Db, id_or_code: &str) -> Result<Option<Plan>, StoreError> {
    let rows = db.query(&stmt!(format!("SELECT {COLS} FROM plans WHERE id = ?1 OR code = ?1"), id_or_code)).await?;
    rows.first().map(|r| from_row(&r)).transpose()
}

pub fn insert(p: &Plan, created_at: &str) -> Statement {
    stmt!(
        format!("INSERT INTO plans ({COLS}, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"),
        &p.id,
        &p.code,
        &p.name,
        p.kind.as_str(),
        p.price.cents(),
        p.period_seconds,
        p.down_kbps,
        p.up_kbps,
        p.data_cap_bytes,
        p.max_devices,
        p.active,
        created_at,
    )
}

pub fn update(p: &Plan) -> Statement {
    stmt!(
        "UPDATE plans SET name = ?2, price_cents = ?3, period_seconds = ?4, down_kbps = ?5, up_kbps = ?6, \
         data_cap_bytes = ?7, active = ?8, max_devices = ?9 WHERE id = ?1",
        &p.id,
        &p.name,
        p.price.cents(),
        p.period_seconds,
        p.down_kbps,
        p.up_kbps,
        p.data_cap_bytes,
        p.active,
        p.max_devices,
    )
}

//! Selling a hotspot package by M-Pesa from the captive portal: start the STK push (the billing
//! core's path, credited to the tenant's hotspot sales account), then, once the push is paid,
//! mint exactly one voucher code for the sale.

use chrono::{DateTime, Utc};

use super::{UseCaseError, retry_races};
use crate::db::{Db, StoreError};
use crate::domain::Msisdn;
use crate::domain::Realm;
use crate::domain::payment::StkStatus;
use crate::domain::plan::{Plan, PlanKind};
use crate::domain::time::fmt_ts;
use crate::domain::voucher::{VoucherCode, VoucherId, VoucherKey};
use crate::ids::IdGen;
use crate::mpesa::{self, GatewayError};
use crate::platform::Platform;
use crate::store::hotspot_sales::{self, SALES_ACCOUNT_ID, SALES_ACCOUNT_NO, Sale};
use crate::store::plans;
use crate::store::stk::{self, StkRequest};
use crate::store::tenants::Tenant;

/// The packages a buyer can choose: active hotspot plans, cheapest first.
pub async fn packages(db: &impl Db) -> Result<Vec<Plan>, StoreError> {
    Ok(plans::list(db).await?.into_iter().filter(|p| p.kind == PlanKind::Hotspot && p.active).collect())
}

/// An active hotspot plan by code or id.
pub async fn package(db: &impl Db, code: &str) -> Result<Option<Plan>, StoreError> {
    Ok(plans::get(db, code.trim()).await?.filter(|p| p.kind == PlanKind::Hotspot && p.active))
}

/// What one sale costs in whole shillings (STK pushes carry no cents).
pub fn price_kes(plan: &Plan) -> u64 {
    plan.price.whole_shillings_ceil().max(1) as u64
}

/// A started purchase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    pub checkout_request_id: String,
    pub amount_kes: u64,
    pub phone_masked: String,
}

/// Why a purchase could not start, in words the page can show.
#[derive(Debug, thiserror::Error)]
pub enum BuyError {
    #[error("phone")]
    Phone,
    #[error("package")]
    Package,
    #[error(transparent)]
    Other(#[from] UseCaseError),
}

impl From<StoreError> for BuyError {
    fn from(e: StoreError) -> Self {
        BuyError::Other(e.into())
    }
}

/// Sends the STK prompt for `plan_code` to `phone` and records the sale for `visitor` (the
/// browser that will be shown the code) and the device's `mac`.
#[allow(clippy::too_many_arguments)]
pub async fn start<P: Platform>(
    p: &P,
    db: &P::Db,
    tenant: &Tenant,
    plan_code: &str,
    phone: &str,
    visitor: &str,
    mac: Option<&str>,
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Result<Started, BuyError> {
    let plan = package(db, plan_code).await?.ok_or(BuyError::Package)?;
    let phone = Msisdn::parse(phone).map_err(|_| BuyError::Phone)?;
    let amount_kes = price_kes(&plan);
    let at = fmt_ts(now);
    db.batch(&[hotspot_sales::ensure_sales_account(&plan.id, &ids.token(24), &at)]).await?;
    let ack =
        mpesa::stk_push(p, db, tenant, amount_kes, phone.as_str(), SALES_ACCOUNT_NO, now).await.map_err(
            |e| match e {
                GatewayError::NotConfigured => UseCaseError::Unavailable(e.to_string()),
                GatewayError::Store(s) => UseCaseError::Store(s),
                other => UseCaseError::Provider(other.to_string()),
            },
        )?;
    let amount_cents = amount_kes as i64 * 100;
    let req = StkRequest {
        checkout_request_id: ack.checkout_request_id.clone(),
        merchant_request_id: ack.merchant_request_id.clone(),
        subscriber_id: SALES_ACCOUNT_ID.to_owned(),
        msisdn: phone.to_string(),
        amount_cents,
        account_ref: SALES_ACCOUNT_NO.to_owned(),
        status: StkStatus::Pending,
        result_code: None,
        result_desc: None,
        resolved_by: None,
        query_attempts: 0,
        last_query_at: None,
        created_at: at.clone(),
        resolved_at: None,
    };
    let sale = Sale {
        checkout_request_id: ack.checkout_request_id.clone(),
        plan_id: plan.id.clone(),
        msisdn: phone.to_string(),
        amount_cents,
        visitor: visitor.to_owned(),
        mac: mac.map(str::to_owned).filter(|m| !m.is_empty()),
        minted: None,
        created_at: at,
    };
    db.batch(&[stk::insert(&req), hotspot_sales::insert(&sale)]).await?;
    Ok(Started { checkout_request_id: ack.checkout_request_id, amount_kes, phone_masked: phone.masked() })
}

/// Where a sale stands, as the waiting page shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum SaleState {
    /// Waiting for the buyer's PIN (or for Daraja's answer).
    Pending,
    /// Refused or cancelled; Daraja's words.
    Failed(String),
    /// Paid: the code minted for it.
    Paid { code: VoucherCode, plan: Plan },
}

/// The state of `checkout_request_id` for `visitor`; mints its code on the first look after it
/// was paid. `None` when there is no such sale or it belongs to another browser.
pub async fn state(
    db: &impl Db,
    key: &VoucherKey,
    realm: &Realm,
    checkout_request_id: &str,
    visitor: &str,
    now: DateTime<Utc>,
) -> Result<Option<(Sale, SaleState)>, UseCaseError> {
    let Some(sale) = hotspot_sales::get(db, checkout_request_id).await? else { return Ok(None) };
    if sale.visitor != visitor {
        return Ok(None);
    }
    let plan = plans::get(db, &sale.plan_id).await?.ok_or(UseCaseError::NotFound("plan"))?;
    if let Some(minted) = sale.minted {
        let code = code_of(key, realm, minted)?;
        return Ok(Some((sale, SaleState::Paid { code, plan })));
    }
    let req = stk::get(db, checkout_request_id).await?.ok_or(UseCaseError::NotFound("STK request"))?;
    match req.status {
        StkStatus::Pending => Ok(Some((sale, SaleState::Pending))),
        StkStatus::Failed => Ok(Some((sale, SaleState::Failed(req.result_desc.unwrap_or_default())))),
        StkStatus::Paid => {
            let minted = mint(db, checkout_request_id, now).await?;
            let code = code_of(key, realm, minted)?;
            let sale = Sale { minted: Some(minted), ..sale };
            Ok(Some((sale, SaleState::Paid { code, plan })))
        }
    }
}

fn code_of(key: &VoucherKey, realm: &Realm, (batch, serial): (u32, u32)) -> Result<VoucherCode, UseCaseError> {
    let id = VoucherId::new(batch, serial).ok_or_else(|| UseCaseError::Invalid("minted serial out of range".into()))?;
    Ok(key.code(realm, id))
}

/// Gives a paid sale its code exactly once, however many pages ask at once.
pub async fn mint(db: &impl Db, checkout_request_id: &str, now: DateTime<Utc>) -> Result<(u32, u32), UseCaseError> {
    let at = fmt_ts(now);
    let minted = retry_races!(UseCaseError, {
        let sale = hotspot_sales::get(db, checkout_request_id).await?.ok_or(UseCaseError::NotFound("sale"))?;
        if let Some(m) = sale.minted {
            return Ok(m);
        }
        let stmts = match hotspot_sales::open_online_batch(db, &sale.plan_id).await? {
            Some(b) => hotspot_sales::mint_into(checkout_request_id, &b, &at),
            None => hotspot_sales::mint_new_batch(checkout_request_id, &sale.plan_id, &at),
        };
        db.batch(&stmts).await?;
        let sale = hotspot_sales::get(db, checkout_request_id).await?.ok_or(UseCaseError::NotFound("sale"))?;
        sale.minted.ok_or_else(|| UseCaseError::Store(StoreError::Conflict("not minted yet".into())))
    })
    .await?;
    minted.ok_or_else(|| UseCaseError::Unavailable("too much contention minting a code; try again".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Money;
    use crate::store::vouchers;
    use crate::testing::{TestDb, run};
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 4, 9, 0, 0).single().expect("time")
    }

    fn plan(id: &str, kind: PlanKind) -> Plan {
        Plan {
            id: id.into(),
            code: id.into(),
            name: format!("{id} pass"),
            kind,
            price: Money(1000),
            period_seconds: 3600,
            down_kbps: 2000,
            up_kbps: 1000,
            data_cap_bytes: None,
            max_devices: 1,
            active: true,
        }
    }

    fn sale(db: &TestDb, id: &str, plan_id: &str) {
        let at = fmt_ts(now());
        let s = Sale {
            checkout_request_id: id.into(),
            plan_id: plan_id.into(),
            msisdn: "254708374149".into(),
            amount_cents: 1000,
            visitor: "v1".into(),
            mac: None,
            minted: None,
            created_at: at.clone(),
        };
        run(db.batch(&[hotspot_sales::ensure_sales_account(plan_id, "pw", &at), hotspot_sales::insert(&s)]))
            .expect("sale");
    }

    #[test]
    fn mint_gives_each_sale_one_serial_and_the_online_batch_counts_them() {
        let db = TestDb::tenant();
        run(db.batch(&[plans::insert(&plan("h1", PlanKind::Hotspot), "2026-12-01T00:00:00Z")])).expect("plan");
        for i in 0..3 {
            sale(&db, &format!("ws_CO_{i}"), "h1");
        }
        let a = run(mint(&db, "ws_CO_0", now())).expect("mint");
        let again = run(mint(&db, "ws_CO_0", now())).expect("mint again");
        assert_eq!(a, again, "a sale is minted once");
        let b = run(mint(&db, "ws_CO_1", now())).expect("mint");
        let c = run(mint(&db, "ws_CO_2", now())).expect("mint");
        assert_eq!((a.0, b.0, c.0), (a.0, a.0, a.0), "one online batch per plan");
        assert_eq!((a.1, b.1, c.1), (0, 1, 2));
        let batch = run(vouchers::get(&db, a.0)).expect("read").expect("batch");
        assert_eq!((batch.count, batch.kind.as_str()), (3, vouchers::KIND_ONLINE));
    }

    #[test]
    fn sales_account_is_created_once_suspended_without_renewal() {
        let db = TestDb::tenant();
        run(db.batch(&[plans::insert(&plan("h1", PlanKind::Hotspot), "2026-12-01T00:00:00Z")])).expect("plan");
        sale(&db, "ws_CO_a", "h1");
        sale(&db, "ws_CO_b", "h1");
        let s = run(crate::store::subscribers::get(&db, SALES_ACCOUNT_ID)).expect("read").expect("account");
        assert_eq!(s.subscriber.status, crate::domain::subscriber::Status::Suspended);
        assert!(!s.subscriber.auto_renew);
    }

    #[test]
    fn packages_are_active_hotspot_plans_only() {
        let db = TestDb::tenant();
        let mut retired = plan("h2", PlanKind::Hotspot);
        retired.active = false;
        let at = "2026-12-01T00:00:00Z";
        run(db.batch(&[
            plans::insert(&plan("h1", PlanKind::Hotspot), at),
            plans::insert(&retired, at),
            plans::insert(&plan("home", PlanKind::Pppoe), at),
        ]))
        .expect("plans");
        let p: Vec<String> = run(packages(&db)).expect("list").into_iter().map(|p| p.code).collect();
        assert_eq!(p, vec!["h1".to_owned()]);
        assert!(run(package(&db, "home")).expect("read").is_none());
    }
}

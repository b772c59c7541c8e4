//! Selling a hotspot package by M-Pesa from the captive portal: start the STK push (the billing
//! core's path, credited to the tenant's hotspot sales account), then, once the push is paid,
//! mint exactly one voucher code for the sale.

use chrono::{DateTime, Utc};

use super::{UseCaseError, retry_races};
use crate::db::{Db, Statement, StoreError};
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
use crate::store::tenants::{Tenant, TenantSettings};
use crate::usecases::sms::{CodeSms, code_sms_statement};

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

/// What crediting a paid sale writes in the crediting batch, with the money: the sale's code
/// (minted now: the one the waiting page then shows) and the SMS that sends it to the buyer,
/// queued at most once per sale. The code is known before the batch commits (the next serial of
/// the plan's open online batch, or serial 0 of a new batch whose number is read first); when
/// another sale takes that serial or number meanwhile, the batch fails with `Conflict` and the
/// caller re-reads, as after any lost race. Empty when `checkout_request_id` is no captive sale.
pub async fn paid_statements(
    db: &impl Db,
    key: &VoucherKey,
    realm: &Realm,
    settings: &TenantSettings,
    checkout_request_id: &str,
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Result<Vec<Statement>, StoreError> {
    let Some(sale) = hotspot_sales::get(db, checkout_request_id).await? else { return Ok(Vec::new()) };
    let Some(plan) = plans::get(db, &sale.plan_id).await? else { return Ok(Vec::new()) };
    let at = fmt_ts(now);
    let (mut out, minted) = match sale.minted {
        Some(m) => (Vec::new(), m),
        None => match hotspot_sales::open_online_batch(db, &plan.id).await? {
            Some(b) => (hotspot_sales::mint_into(checkout_request_id, &b, &at), (b.id, b.count)),
            None => {
                let id = hotspot_sales::next_batch_id(db).await?;
                (hotspot_sales::mint_new_batch_as(checkout_request_id, &plan.id, id, &at), (id, 0))
            }
        },
    };
    let Some(id) = VoucherId::new(minted.0, minted.1) else {
        return Err(StoreError::Corrupt(format!("voucher serial {minted:?} out of range")));
    };
    let code = key.code(realm, id).to_string();
    let sms = CodeSms { message_id: &ids.uuid(), checkout_request_id, to: &sale.msisdn, package: &plan.name };
    out.push(code_sms_statement(settings, &sms, &code, now));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Money;
    use crate::store::vouchers;
    use crate::testing::{TestDb, run};
    use chrono::TimeZone;

    fn sale_of(db: &TestDb, id: &str) -> Sale {
        run(hotspot_sales::get(db, id)).expect("read").expect("sale")
    }

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

    fn paid_body(checkout: &str, receipt: &str) -> String {
        format!(
            r#"{{"Body":{{"stkCallback":{{"MerchantRequestID":"m","CheckoutRequestID":"{checkout}","ResultCode":0,"ResultDesc":"ok","CallbackMetadata":{{"Item":[{{"Name":"Amount","Value":10.00}},{{"Name":"MpesaReceiptNumber","Value":"{receipt}"}},{{"Name":"TransactionDate","Value":20261204120000}},{{"Name":"PhoneNumber","Value":254708374149}}]}}}}}}}}"#
        )
    }

    /// A pending STK push for sale `id` (KES 10).
    fn pushed(db: &TestDb, id: &str) {
        sale(db, id, "h1");
        let req = StkRequest {
            checkout_request_id: id.into(),
            merchant_request_id: "m".into(),
            subscriber_id: SALES_ACCOUNT_ID.into(),
            msisdn: "254708374149".into(),
            amount_cents: 1000,
            account_ref: SALES_ACCOUNT_NO.into(),
            status: StkStatus::Pending,
            result_code: None,
            result_desc: None,
            resolved_by: None,
            query_attempts: 0,
            last_query_at: None,
            created_at: fmt_ts(now()),
            resolved_at: None,
        };
        run(db.batch(&[stk::insert(&req)])).expect("push");
    }

    fn code_sms(db: &TestDb) -> Vec<crate::store::sms::Sms> {
        run(crate::store::sms::list(db, Some("254708374149"), None, 100)).expect("outbox")
    }

    #[test]
    fn hotspot_sale_callback_queues_the_code_sms_with_the_money_once() {
        use crate::usecases::callbacks::stk_callback;
        let db = TestDb::tenant();
        run(db.batch(&[plans::insert(&plan("h1", PlanKind::Hotspot), "2026-12-01T00:00:00Z")])).expect("plan");
        let t = crate::testing::tenant(crate::store::tenants::TenantSettings::default());
        let key = VoucherKey::derive(b"secret", &t.realm).expect("key");
        let mut ids = IdGen::new(&crate::Ctx { now: now(), entropy: [3; 32] });
        pushed(&db, "ws_CO_1");
        pushed(&db, "ws_CO_2");
        let body = paid_body("ws_CO_1", "RCPT1");
        let r = run(stk_callback(&db, &t, Some(&key), body.as_bytes(), &mut ids, now())).expect("callback");
        assert_eq!(r.answer.http_status(), 200);
        // Right after the callback, before any scheduled pass: the code is minted and its SMS queued.
        let sms = code_sms(&db);
        assert_eq!(sms.len(), 1, "{sms:?}");
        let sale = sale_of(&db, "ws_CO_1");
        let (b, s) = sale.minted.expect("minted with the money");
        let code = key.code(&t.realm, VoucherId::new(b, s).expect("id")).to_string();
        assert_eq!(sms[0].body, format!("Your h1 pass Wi-Fi code: {code}. Type it on the login page."));
        // Duplicates change nothing; the page shows the same code.
        for _ in 0..3 {
            run(stk_callback(&db, &t, Some(&key), body.as_bytes(), &mut ids, now())).expect("duplicate");
        }
        assert_eq!(code_sms(&db).len(), 1);
        let shown = run(state(&db, &key, &t.realm, "ws_CO_1", "v1", now())).expect("state").expect("sale");
        assert_eq!(
            shown.1,
            SaleState::Paid {
                code: key.code(&t.realm, VoucherId::new(b, s).expect("id")),
                plan: plan("h1", PlanKind::Hotspot)
            }
        );
        // The next sale takes the next serial of the same batch; the catch-up pass adds nothing.
        let body = paid_body("ws_CO_2", "RCPT2");
        run(stk_callback(&db, &t, Some(&key), body.as_bytes(), &mut ids, now())).expect("callback");
        let second = sale_of(&db, "ws_CO_2").minted.expect("minted");
        assert_eq!(second, (b, s + 1));
        assert_eq!(code_sms(&db).len(), 2);
        let settings = crate::store::tenants::TenantSettings::default();
        let late = run(crate::usecases::sms::voucher_codes(&db, &key, &t.realm, &settings, &mut ids, now()));
        assert_eq!(late.expect("catch-up"), 0);
    }

    #[test]
    fn hotspot_sale_recovered_by_the_sweep_queues_its_code_sms_too() {
        let db = TestDb::tenant();
        run(db.batch(&[plans::insert(&plan("h1", PlanKind::Hotspot), "2026-12-01T00:00:00Z")])).expect("plan");
        let t = crate::testing::tenant(crate::store::tenants::TenantSettings::default());
        let key = VoucherKey::derive(b"secret", &t.realm).expect("key");
        let mut ids = IdGen::new(&crate::Ctx { now: now(), entropy: [4; 32] });
        pushed(&db, "ws_CO_9");
        let paid = crate::domain::payment::StkEvidence::QueryPaid { desc: "ok".into() };
        let sweep = crate::usecases::sweep::apply_evidence;
        run(sweep(&db, &t, Some(&key), "ws_CO_9", &paid, false, &mut ids, now())).expect("sweep");
        assert_eq!(code_sms(&db).len(), 1);
        assert!(sale_of(&db, "ws_CO_9").minted.is_some());
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

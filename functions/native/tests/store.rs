//! The storage contract and time-driven use cases against the native SQLite store.

use chrono::{Duration, TimeZone, Utc};
use konnekted::sqlite::SqliteDb;
use konnekted_core::Ctx;
use konnekted_core::ids::IdGen;
use konnekted_core::migrations;
use konnekted_core::store::tenants::TenantSettings;
use konnekted_core::store::{feed, subscribers};
use konnekted_core::usecases as uc;
use konnekted_core::usecases::expiry;

#[tokio::test]
async fn sqlite_file_store_meets_the_storage_contract() {
    let dir = std::env::temp_dir().join(format!("konnekted-contract-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = SqliteDb::open(&dir.join("c.sqlite")).await.unwrap();
    konnekted_core::contract::run_all(&db).await.unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn sqlite_memory_store_meets_the_storage_contract() {
    konnekted_core::contract::run_all(&SqliteDb::memory().await.unwrap()).await.unwrap();
}

#[tokio::test]
async fn sqlite_store_passes_the_edge_batch_selftest() {
    // The same check the Workers and Spin adapters serve at /__selftest/batch.
    let seen = konnekted_core::contract::batch_semantics(&SqliteDb::memory().await.unwrap()).await.unwrap();
    assert_eq!(seen["pass"], true, "{seen}");
    assert_eq!(seen["failed_batch_rolled_back"], true, "{seen}");
}

async fn tenant_db() -> SqliteDb {
    let db = SqliteDb::memory().await.unwrap();
    migrations::migrate(&db, migrations::TENANT).await.unwrap();
    db
}

#[tokio::test]
async fn expiry_pass_auto_renews_then_expires_after_grace() {
    let db = tenant_db().await;
    let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let ctx = Ctx { now: t0, entropy: [3; 32] };
    let mut ids = IdGen::new(&ctx);
    let settings = TenantSettings { grace_seconds: 86_400, ..TenantSettings::default() };
    let plan = uc::plans::PlanInput {
        code: "home".into(),
        name: "Home".into(),
        kind: konnekted_core::domain::plan::PlanKind::Pppoe,
        price_cents: 100_000,
        period_seconds: 10 * 86_400,
        down_kbps: 5000,
        up_kbps: 1000,
        data_cap_bytes: None,
        max_devices: 1,
    };
    uc::plans::create_plan(&db, plan, &mut ids, t0).await.unwrap();
    let input = uc::subscribers::SubscriberInput {
        name: "A".into(),
        plan: "home".into(),
        phone: None,
        account_no: Some("A1".into()),
        username: None,
        password: None,
        site: None,
        static_ip: None,
        auto_renew: Some(true),
    };
    let s = uc::subscribers::create_subscriber(&db, input, &mut ids, t0).await.unwrap();
    let id = s.subscriber.id.clone();
    // KES 1,500: one period now, KES 500 left on the balance.
    uc::operator_money::adjust(&db, &settings, &id, 150_000, "cash", &mut ids, t0).await.unwrap();
    let s = subscribers::get(&db, &id).await.unwrap().unwrap();
    assert_eq!(s.subscriber.expires_at, Some(t0 + Duration::days(10)));

    // Before expiry nothing happens.
    let r = expiry::run(&db, &settings, &mut ids, t0 + Duration::days(9)).await.unwrap();
    assert_eq!(r.examined, 0);

    // KES 500 more while suspended stays on the balance (a covered price renews at once otherwise);
    // after resuming, the KES 1,000 balance pays the auto-renewal at expiry.
    let patch = |status: &str| uc::subscribers::SubscriberPatch { status: Some(status.into()), ..Default::default() };
    uc::subscribers::update_subscriber(&db, &id, patch("suspended"), t0).await.unwrap();
    uc::operator_money::adjust(&db, &settings, &id, 50_000, "cash", &mut ids, t0).await.unwrap();
    let s = uc::subscribers::update_subscriber(&db, &id, patch("active"), t0).await.unwrap();
    assert_eq!(s.balance_cents, 100_000, "money paid while suspended waits on the balance");
    assert_eq!(s.subscriber.status.as_str(), "active");
    let r = expiry::run(&db, &settings, &mut ids, t0 + Duration::days(10)).await.unwrap();
    assert_eq!(r.renewed, 1);
    let s = subscribers::get(&db, &id).await.unwrap().unwrap();
    assert_eq!(s.subscriber.expires_at, Some(t0 + Duration::days(20)));
    assert_eq!(s.balance_cents, 0);

    // Expiry, then within grace still active, then expired.
    let r = expiry::run(&db, &settings, &mut ids, t0 + Duration::days(20) + Duration::hours(12)).await.unwrap();
    assert_eq!((r.renewed, r.expired), (0, 0));
    let r = expiry::run(&db, &settings, &mut ids, t0 + Duration::days(21)).await.unwrap();
    assert_eq!(r.expired, 1);
    let s = subscribers::get(&db, &id).await.unwrap().unwrap();
    assert_eq!(s.subscriber.status.as_str(), "expired");
    let kinds: Vec<String> = feed::after(&db, 0, 100).await.unwrap().into_iter().map(|c| c.kind).collect();
    assert_eq!(
        kinds,
        vec![
            "subscriber_created",
            "subscription_activated",
            "subscriber_suspended",
            "subscriber_resumed",
            "subscription_renewed",
            "subscription_expired"
        ]
    );

    // Running the pass again changes nothing.
    let r = expiry::run(&db, &settings, &mut ids, t0 + Duration::days(22)).await.unwrap();
    assert_eq!(r.examined, 0);
}

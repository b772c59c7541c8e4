//! `[server] postauth = "log"` with a real FreeRADIUS: Accepts and Rejects are answered without a
//! radpostauth INSERT, land as lines in `<log_dir>/postauth/<realm>/<minute>.log`, and
//! `postauth::load_realm` moves each finished minute into that tenant's radpostauth (PostgreSQL
//! and SQLite), once. Needs tests/setup.sh and PostgreSQL on 127.0.0.1:5432.

mod support;

use std::net::Ipv4Addr;
use std::time::Duration;

use konnekted_radius::config::{PostAuth, TenantConfig};
use konnekted_radius::db::{DbSettings, RadiusDb, Secret, migrate};
use konnekted_radius::postauth::{POSTAUTH_DIR, load_realm};
use konnekted_radius::sync::{DesiredState, PlanSpec, SubscriberSpec, SubscriberStatus, TenantPolicy, sync_tenant};
use support::*;

fn state() -> DesiredState {
    DesiredState {
        plans: vec![PlanSpec {
            name: "p".into(),
            rate_limit: "2M/4M".into(),
            session_timeout: None,
            address_list: None,
            idle_timeout: None,
        }],
        subscribers: vec![SubscriberSpec {
            username: "ann".into(),
            password: Secret::new("pw-ann"),
            plan: "p".into(),
            status: SubscriberStatus::Active,
            static_ip: None,
            expires: None,
            devices: vec![],
            data_left: None,
        }],
        policy: TenantPolicy::default(),
    }
}

async fn rows(db: &RadiusDb) -> Vec<(String, String, String)> {
    let q = "SELECT username, pass, reply FROM radpostauth ORDER BY id";
    sqlx::query_as::<_, (String, String, String)>(q).fetch_all(db.pool()).await.unwrap()
}

fn now_unix() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postauth_log_answers_without_insert_and_loads_each_minute_once() {
    if !freeradius_or_skip("postauth_log_answers_without_insert_and_loads_each_minute_once") {
        return;
    }
    let sfx = unique_suffix();
    let dir = scratch_dir("postauth");
    let mut cleanup = Cleanup { dbs: vec![], dir: Some(dir.clone()) };
    let mut tenants = Vec::new();
    let mut dbs = Vec::new();
    for (realm, db) in
        [("pa-pg", pg(&format!("krpa_{sfx}"))), ("pa-lite", DbSettings::Sqlite { path: dir.join("lite.db") })]
    {
        let h = migrate(&db).await.unwrap();
        sync_tenant(&h, &state()).await.unwrap();
        cleanup.dbs.push(db.clone());
        dbs.push((realm, h));
        tenants.push(TenantConfig {
            realm: realm.into(),
            db,
            nas: vec![],
            vouchers: false,
            voucher_key: None,
            statement_timeout_ms: None,
        });
    }
    let mut server = server_config(&dir, None);
    server.postauth = PostAuth::Log;
    let rad = start_radiusd(&server, &tenants, &dir).await;
    let c = Client::new(Ipv4Addr::LOCALHOST, SHARED_SECRET, rad.auth_addr(), Duration::from_secs(3), 1);

    for (realm, db) in &dbs {
        let ok = c.pap(&format!("ann@{realm}"), "pw-ann").await.unwrap();
        assert!(ok.accepted(), "{realm}: ann accepted");
        assert_eq!(ok.rate_limit().as_deref(), Some("2M/4M"));
        let bad = c.pap(&format!("ann@{realm}"), "wrong").await.unwrap();
        assert!(!bad.accepted(), "{realm}: wrong password rejected");
        // a name with a tab and a newline stays one line and comes back as sent
        let odd = c.pap(&format!("o\td\nd@{realm}"), "x").await.unwrap();
        assert!(!odd.accepted(), "{realm}: unknown user rejected");
        // answered without touching radpostauth
        assert_eq!(rows(db).await, [], "{realm}: no INSERT while answering");
    }
    // an unknown realm has no tenant to log to
    assert!(!c.pap("ann@nowhere", "pw-ann").await.unwrap().accepted());

    for (realm, db) in &dbs {
        let realm_dir = server.log_dir.join(POSTAUTH_DIR).join(realm);
        let files: Vec<_> = std::fs::read_dir(&realm_dir).unwrap().map(|e| e.unwrap().path()).collect();
        assert!(!files.is_empty(), "{realm}: a minute file in {}", realm_dir.display());
        // the current minute is not finished: nothing loaded yet
        let early = load_realm(db, &server.log_dir, realm, now_unix()).await.unwrap();
        assert_eq!((early.files, early.rows), (0, 0), "{realm}");
        // two minutes later it is
        let later = now_unix() + 180;
        let r = load_realm(db, &server.log_dir, realm, later).await.unwrap();
        assert_eq!((r.rows, r.skipped), (3, 0), "{realm}: {r:?}");
        let want = [
            ("ann".to_owned(), String::new(), "Access-Accept".to_owned()),
            ("ann".to_owned(), String::new(), "Access-Reject".to_owned()),
            ("o\td\nd".to_owned(), String::new(), "Access-Reject".to_owned()),
        ];
        assert_eq!(rows(db).await, want, "{realm}: rows in order, no password");
        for f in &files {
            assert!(!f.exists(), "{realm}: {} removed once loaded", f.display());
        }
        // loading again adds nothing
        let again = load_realm(db, &server.log_dir, realm, later).await.unwrap();
        assert_eq!(again.rows, 0);
        assert_eq!(rows(db).await.len(), 3, "{realm}: loaded once");
        // the date is the request's (within the test's minutes), not the load's
        let age: f64 = match db.backend() {
            konnekted_radius::db::Backend::Postgresql => {
                sqlx::query_scalar("SELECT EXTRACT(EPOCH FROM (now() - MIN(authdate)))::float8 FROM radpostauth")
                    .fetch_one(db.pool())
                    .await
                    .unwrap()
            }
            _ => sqlx::query_scalar(
                "SELECT CAST((julianday('now') - julianday(MIN(authdate))) * 86400.0 AS REAL) FROM radpostauth",
            )
            .fetch_one(db.pool())
            .await
            .unwrap(),
        };
        assert!((-5.0..600.0).contains(&age), "{realm}: authdate {age} s ago");
    }
    assert!(!server.log_dir.join(POSTAUTH_DIR).join("nowhere").exists());
    for (_, db) in &dbs {
        db.close().await;
    }
    drop(rad);
    drop(cleanup);
}

//! `[server] postauth = "log"` with a real FreeRADIUS: Accepts and Rejects are answered without a
//! radpostauth INSERT, land as lines in `<log_dir>/postauth/<realm>/<minute>.log`, and
//! `postauth::load_realm` moves each finished minute into that tenant's radpostauth (PostgreSQL
//! and SQLite), once; and the defaults (PostgreSQL INSERTs, SQLite logs). Needs tests/setup.sh and
//! PostgreSQL on 127.0.0.1:5432.

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

/// The defaults: a PostgreSQL tenant's Accept and Reject are INSERTed while answering (the INSERT
/// runs as `SET LOCAL synchronous_commit = off; INSERT ...`, one query string: the rows must be
/// there at once), a SQLite tenant's become lines for the agent and its radpostauth stays empty
/// until they are loaded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postauth_defaults_insert_on_postgresql_and_log_on_sqlite() {
    if !freeradius_or_skip("postauth_defaults_insert_on_postgresql_and_log_on_sqlite") {
        return;
    }
    let sfx = unique_suffix();
    let dir = scratch_dir("postauth-defaults");
    let mut cleanup = Cleanup { dbs: vec![], dir: Some(dir.clone()) };
    let mut tenants = Vec::new();
    let mut dbs = Vec::new();
    for (realm, db) in
        [("pd-pg", pg(&format!("krpd_{sfx}"))), ("pd-lite", DbSettings::Sqlite { path: dir.join("lite.db") })]
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
    let server = server_config(&dir, None);
    assert_eq!((server.postauth, server.sqlite_postauth), (PostAuth::Sql, PostAuth::Log));
    assert!(!server.postauth_synchronous_commit);
    let rad = start_radiusd(&server, &tenants, &dir).await;
    let c = Client::new(Ipv4Addr::LOCALHOST, SHARED_SECRET, rad.auth_addr(), Duration::from_secs(3), 1);
    for (realm, _) in &dbs {
        assert!(c.pap(&format!("ann@{realm}"), "pw-ann").await.unwrap().accepted(), "{realm}: ann accepted");
        assert!(!c.pap(&format!("ann@{realm}"), "wrong").await.unwrap().accepted(), "{realm}: wrong password");
    }
    let accept_reject = [
        ("ann".to_owned(), String::new(), "Access-Accept".to_owned()),
        ("ann".to_owned(), String::new(), "Access-Reject".to_owned()),
    ];
    let (_, pg_db) = &dbs[0];
    assert_eq!(rows(pg_db).await, accept_reject, "PostgreSQL: both rows written while answering");
    assert!(!server.log_dir.join(POSTAUTH_DIR).join("pd-pg").exists(), "PostgreSQL: no lines");
    let (_, lite_db) = &dbs[1];
    assert_eq!(rows(lite_db).await, [], "SQLite: no INSERT while answering");
    let r = load_realm(lite_db, &server.log_dir, "pd-lite", now_unix() + 180).await.unwrap();
    assert_eq!((r.rows, r.skipped), (2, 0), "SQLite: {r:?}");
    assert_eq!(rows(lite_db).await, accept_reject, "SQLite: rows once loaded");
    for (_, db) in &dbs {
        db.close().await;
    }
    drop(rad);
    drop(cleanup);
}

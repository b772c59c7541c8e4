//! Storage contract suite: the same migrate / sync / accounting checks on PostgreSQL, MariaDB and
//! SQLite (uniquely named databases, dropped afterwards). Also CoA/Disconnect against a UDP peer.

mod support;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use konnekted_radius::accounting::{online_sessions, read_sessions, summarise_daily};
use konnekted_radius::coa::{CoaClient, CoaError, CoaOutcome, DynamicAuthRequest, SessionSelector};
use konnekted_radius::db::{Backend, DbSettings, RadiusDb, Secret, migrate};
use konnekted_radius::packet::{self, Attribute, Packet, attr, code};
use konnekted_radius::sync::{
    DesiredState, InactivePolicy, PlanSpec, SubscriberSpec, SubscriberStatus, Table, TenantPolicy, sync_tenant,
};
use support::*;

fn desired() -> DesiredState {
    DesiredState {
        plans: vec![
            PlanSpec {
                name: "home10".into(),
                rate_limit: "2M/10M".into(),
                session_timeout: Some(86_400),
                address_list: Some("active_10M".into()),
                idle_timeout: None,
            },
            PlanSpec {
                name: "biz50".into(),
                rate_limit: "10M/50M".into(),
                session_timeout: None,
                address_list: None,
                idle_timeout: None,
            },
        ],
        subscribers: (0..150)
            .map(|i| SubscriberSpec {
                username: format!("user{i:03}"),
                password: Secret::new(format!("pw-{i}")),
                plan: if i % 2 == 0 { "home10".into() } else { "biz50".into() },
                status: match i % 10 {
                    8 => SubscriberStatus::Suspended,
                    9 => SubscriberStatus::Expired,
                    _ => SubscriberStatus::Active,
                },
                static_ip: (i % 7 == 0).then(|| Ipv4Addr::new(10, 20, 0, i as u8)),
                expires: None,
                devices: vec![],
                data_left: None,
            })
            .collect(),
        policy: TenantPolicy { suspended: InactivePolicy::WalledGarden, ..TenantPolicy::default() },
    }
}

async fn count(db: &RadiusDb, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql).fetch_one(db.pool()).await.unwrap()
}

async fn contract(settings: DbSettings) {
    let backend = settings.backend();
    let db = migrate(&settings).await.unwrap_or_else(|e| panic!("{backend:?} migrate: {e}"));
    migrate(&settings).await.expect("migrate is idempotent").close().await;

    // an operator's own rows, which sync must never touch
    sqlx::query(
        "INSERT INTO radcheck (username, attribute, op, value) VALUES ('ops', 'Cleartext-Password', ':=', 'x')",
    )
    .execute(db.pool())
    .await
    .unwrap();
    sqlx::query("INSERT INTO radgroupreply (groupname, attribute, op, value) VALUES ('staff', 'Mikrotik-Rate-Limit', ':=', '1G')")
        .execute(db.pool())
        .await
        .unwrap();

    let d = desired();
    let first = sync_tenant(&db, &d).await.unwrap();
    // 150 passwords + 15 Auth-Type (expired, reject) + 22 static IPs + 150 memberships + group rows
    assert_eq!(first.per_table[&Table::RadCheck].added, 165, "{backend:?} {first:?}");
    assert_eq!(first.per_table[&Table::RadUserGroup].added, 150, "{backend:?}");
    assert_eq!(first.per_table[&Table::RadReply].added, 22, "{backend:?}");
    assert_eq!(first.removed + first.changed, 0);
    let second = sync_tenant(&db, &d).await.unwrap();
    assert!(second.is_noop(), "{backend:?}: second sync wrote {second:?}");

    // change: one plan's rate, one subscriber removed, one suspended -> active
    let mut d2 = d.clone();
    d2.plans[1].rate_limit = "20M/100M".into();
    d2.subscribers.retain(|s| s.username != "user001");
    d2.subscribers.iter_mut().find(|s| s.username == "user008").unwrap().status = SubscriberStatus::Active;
    let third = sync_tenant(&db, &d2).await.unwrap();
    assert_eq!((third.added, third.changed, third.removed), (0, 2, 2), "{backend:?} {third:?}");
    assert!(sync_tenant(&db, &d2).await.unwrap().is_noop());
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM radgroupreply WHERE groupname = 'kn_plan_biz50' AND attribute = 'Mikrotik-Rate-Limit' AND value = '20M/100M'").await,
        1
    );
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM radusergroup WHERE username = 'user008' AND groupname = 'kn_plan_home10'")
            .await,
        1
    );
    assert_eq!(count(&db, "SELECT COUNT(*) FROM radcheck WHERE username = 'user001'").await, 0);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM radcheck WHERE username = 'ops'").await, 1);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM radgroupreply WHERE groupname = 'staff'").await, 1);

    // invalid desired state writes nothing
    let mut bad = d2.clone();
    bad.subscribers[0].plan = "missing".into();
    assert!(sync_tenant(&db, &bad).await.is_err());
    assert!(sync_tenant(&db, &d2).await.unwrap().is_noop());

    // accounting rows as FreeRADIUS writes them (time format per dialect)
    let d0: i64 = 1_795_737_600; // 2026-11-27 00:00 UTC
    let ts = |t: i64| match backend {
        Backend::Postgresql => format!("to_timestamp({t})"),
        Backend::Mysql => format!("FROM_UNIXTIME({t})"),
        Backend::Sqlite => t.to_string(),
    };
    let nas = "'10.0.0.1'";
    for (uid, user, start, update, stop, i, o) in [
        ("u1", "user000", d0 + 100, Some(d0 + 200), Some(d0 + 200), 5000i64, 9000i64),
        // spans midnight: 1 h before, 3 h after
        ("u2", "user002", d0 + 86_400 - 3600, Some(d0 + 86_400 + 3 * 3600), Some(d0 + 86_400 + 3 * 3600), 4000, 8000),
        // still online
        ("u3", "user004", d0 + 1000, Some(d0 + 1600), None, 10, 20),
    ] {
        let stop_sql = stop.map(ts).unwrap_or_else(|| "NULL".into());
        let nas_expr = if backend == Backend::Postgresql { format!("{nas}::inet") } else { nas.to_string() };
        let sql = format!(
            "INSERT INTO radacct (acctsessionid, acctuniqueid, username, realm, nasipaddress, acctstarttime, acctupdatetime, acctstoptime, acctsessiontime, acctinputoctets, acctoutputoctets, calledstationid, callingstationid, acctterminatecause, framedipaddress) \
             VALUES ('{uid}', '{uid}', '{user}', 'acme', {nas_expr}, {}, {}, {stop_sql}, {}, {i}, {o}, '', '', '', {})",
            ts(start),
            ts(update.unwrap()),
            update.unwrap() - start,
            if backend == Backend::Postgresql { "NULL" } else { "''" },
        );
        sqlx::query(&sql).execute(db.pool()).await.unwrap_or_else(|e| panic!("{backend:?}: {e}"));
    }
    let sessions = read_sessions(&db, d0, d0 + 2 * 86_400).await.unwrap();
    assert_eq!(sessions.len(), 3, "{backend:?}");
    assert_eq!(sessions[0].start, Some(d0 + 100), "{backend:?} epoch conversion");
    let days = summarise_daily(&sessions, 0, None);
    let get = |u: &str, day: &str| days.iter().find(|d| d.username == u && d.day == day).cloned();
    assert_eq!(get("user000", "2026-11-27").map(|d| (d.input_octets, d.output_octets)), Some((5000, 9000)));
    assert_eq!(get("user002", "2026-11-27").map(|d| d.input_octets), Some(1000));
    assert_eq!(get("user002", "2026-11-28").map(|d| d.input_octets), Some(3000));
    let online = online_sessions(&db).await.unwrap();
    assert_eq!(online.iter().map(|s| s.username.as_str()).collect::<Vec<_>>(), ["user004"], "{backend:?}");
    let none = read_sessions(&db, d0 + 5 * 86_400, d0 + 6 * 86_400).await.unwrap();
    assert_eq!(
        none.iter().map(|s| s.username.as_str()).collect::<Vec<_>>(),
        ["user004"],
        "open sessions overlap any later window"
    );
    db.close().await;
}

fn databases_or_skip(test: &str) -> bool {
    let pg = std::net::TcpStream::connect_timeout(&"127.0.0.1:5432".parse().unwrap(), Duration::from_secs(1)).is_ok();
    let my = std::net::TcpStream::connect_timeout(&"127.0.0.1:3306".parse().unwrap(), Duration::from_secs(1)).is_ok();
    if pg && my {
        return true;
    }
    if std::env::var_os("KONNEKTED_REQUIRE_FREERADIUS").is_some()
        || std::env::var_os("KONNEKTED_REQUIRE_DATABASES").is_some()
    {
        panic!("{test}: PostgreSQL (127.0.0.1:5432) and MariaDB (127.0.0.1:3306) must be running");
    }
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: PostgreSQL/MariaDB not reachable on 127.0.0.1");
    false
}

#[tokio::test]
async fn storage_contract_postgresql() {
    if !databases_or_skip("storage_contract_postgresql") {
        return;
    }
    let s = pg(&format!("krt_{}_contract", unique_suffix()));
    let _c = Cleanup { dbs: vec![s.clone()], dir: None };
    contract(s).await;
}

#[tokio::test]
async fn storage_contract_mariadb() {
    if !databases_or_skip("storage_contract_mariadb") {
        return;
    }
    let s = mysql(&format!("krt_{}_contract", unique_suffix()));
    let _c = Cleanup { dbs: vec![s.clone()], dir: None };
    contract(s).await;
}

#[tokio::test]
async fn storage_contract_sqlite() {
    let dir = scratch_dir("contract");
    let s = DbSettings::Sqlite { path: dir.join("tenant.db") };
    let _c = Cleanup { dbs: vec![s.clone()], dir: Some(dir) };
    contract(s).await;
}

/// A NAS stand-in: answers each request with `answer(request)`, checking the request authenticator.
async fn fake_nas(
    secret: &'static [u8],
    answer: fn(&Packet) -> Option<Packet>,
) -> (SocketAddr, tokio::task::JoinHandle<Vec<Packet>>) {
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    let h = tokio::spawn(async move {
        let mut seen = Vec::new();
        let mut buf = vec![0u8; 4096];
        while let Ok(Ok((n, from))) = tokio::time::timeout(Duration::from_secs(3), sock.recv_from(&mut buf)).await {
            assert!(packet::verify_signed_request(&buf[..n], secret), "request authenticator must verify");
            let req = Packet::decode(&buf[..n]).unwrap();
            seen.push(req.clone());
            if let Some(resp) = answer(&req) {
                let bytes = packet::encode_response(&resp, &req.authenticator, secret, true).unwrap();
                sock.send_to(&bytes, from).await.unwrap();
            }
            if seen.len() >= 3 {
                break;
            }
        }
        seen
    });
    (addr, h)
}

fn selector() -> SessionSelector {
    SessionSelector {
        user_name: Some("alice@acme".into()),
        acct_session_id: Some("81f00001".into()),
        framed_ip: Some(Ipv4Addr::new(10, 20, 0, 15)),
        nas_ip: None,
    }
}

#[tokio::test]
async fn coa_rate_change_is_acked_by_nas() {
    let (addr, peer) = fake_nas(b"nassecret", |req| {
        assert_eq!(req.code, code::COA_REQUEST);
        assert_eq!(req.get_vendor_string(14988, 8).as_deref(), Some("5M/10M"));
        Some(Packet::new(code::COA_ACK, req.identifier))
    })
    .await;
    let client = CoaClient { timeout: Duration::from_millis(500), retries: 1, ..CoaClient::default() };
    let req =
        DynamicAuthRequest::Change { session: selector(), rate_limit: Some("5M/10M".into()), session_timeout: None };
    assert_eq!(client.send(addr, b"nassecret", &req).await.unwrap(), CoaOutcome::Ack);
    peer.abort();
}

#[tokio::test]
async fn disconnect_unknown_session_is_nak_with_error_cause() {
    let (addr, peer) = fake_nas(b"nassecret", |req| {
        assert_eq!(req.code, code::DISCONNECT_REQUEST);
        let mut nak = Packet::new(code::DISCONNECT_NAK, req.identifier);
        nak.attributes.push(Attribute::integer(attr::ERROR_CAUSE, 503));
        Some(nak)
    })
    .await;
    let client = CoaClient { timeout: Duration::from_millis(500), retries: 1, ..CoaClient::default() };
    let out = client.send(addr, b"nassecret", &DynamicAuthRequest::Disconnect(selector())).await.unwrap();
    assert_eq!(out, CoaOutcome::Nak { error_cause: Some(503), reply_message: None });
    peer.abort();
}

#[tokio::test]
async fn coa_silent_nas_times_out_after_retries() {
    let (addr, peer) = fake_nas(b"nassecret", |_| None).await;
    let client = CoaClient { timeout: Duration::from_millis(200), retries: 2, ..CoaClient::default() };
    let err = client.send(addr, b"nassecret", &DynamicAuthRequest::Disconnect(selector())).await.unwrap_err();
    assert!(matches!(err, CoaError::Timeout { attempts: 3 }), "{err:?}");
    assert!(err.is_transient());
    let seen = peer.await.unwrap();
    assert_eq!(seen.len(), 3, "one send + two retransmissions");
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "retransmissions are identical");
}

#[tokio::test]
async fn coa_wrong_secret_is_reported() {
    let (addr, peer) = fake_nas(b"nassecret", |req| Some(Packet::new(code::COA_ACK, req.identifier))).await;
    // the peer asserts the request authenticator with its own secret, so sign with the right one and
    // then verify the answer with a wrong one by decoding manually
    let req = DynamicAuthRequest::Change { session: selector(), rate_limit: None, session_timeout: Some(60) };
    let client = CoaClient { timeout: Duration::from_millis(300), retries: 0, ..CoaClient::default() };
    assert_eq!(client.send(addr, b"nassecret", &req).await.unwrap(), CoaOutcome::Ack);
    let bytes = konnekted_radius::coa::encode_request(&req, 7, b"nassecret", false).unwrap();
    let mut ack = Packet::new(code::COA_ACK, 7);
    ack.attributes.clear();
    let auth: [u8; 16] = bytes[4..20].try_into().unwrap();
    let resp = packet::encode_response(&ack, &auth, b"other", false).unwrap();
    assert!(matches!(
        konnekted_radius::coa::parse_response(&resp, &bytes, b"nassecret"),
        Err(CoaError::BadAuthenticator)
    ));
    peer.abort();
}

//! The agent against the real native host (in-process) and a SQLite RADIUS database.

mod common;

use std::net::SocketAddr;
use std::ops::Deref;
use std::time::Duration;

use common::{Host, Tenant, now};
use konnekted_radius::db::{DbSettings, RadiusDb, Secret, migrate};
use konnekted_radius::packet::{self, Packet, attr, code};
use konnekted_radius::sync::InactivePolicy;
use konnekted_radius_agent::config::{Intervals, NasConfig};
use konnekted_radius_agent::{AgentError, TenantAgent};
use serde_json::{Value, json};

struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "konnekted-radius-agent-{tag}-{}-{}",
            std::process::id(),
            common::rand_hex(8)
        ));
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The host with one tenant on it (which the edge derefs to), and a scratch dir for its RADIUS database.
struct Edge {
    tenant: Tenant,
    _host: Host,
    dir: TempDir,
}

impl Edge {
    async fn start(realm: &str) -> Edge {
        let dir = TempDir::new(realm);
        let host = Host::start(&dir.0).await;
        let tenant = host.tenant(realm).await;
        Edge { tenant, _host: host, dir }
    }

    /// Plans basic (10/2 Mbps) and fast (20/5 Mbps); one subscriber on basic with credit (active).
    async fn seed(&self) -> (String, String) {
        self.tenant.seed((10_000, 2_000), (20_000, 5_000), "s3cret-pw").await
    }
}

impl Deref for Edge {
    type Target = Tenant;

    fn deref(&self) -> &Tenant {
        &self.tenant
    }
}

async fn radius(dir: &TempDir) -> (DbSettings, RadiusDb) {
    let s = DbSettings::Sqlite { path: dir.0.join("radius.db") };
    let db = migrate(&s).await.expect("migrate");
    (s, db)
}

async fn rows(db: &RadiusDb, sql: &str) -> Vec<String> {
    use sqlx::Row;
    sqlx::query(sql)
        .fetch_all(db.pool())
        .await
        .expect("query")
        .iter()
        .map(|r| r.try_get::<String, _>(0).expect("text"))
        .collect()
}

async fn dump(db: &RadiusDb) -> Vec<String> {
    let mut out = Vec::new();
    for t in ["radcheck", "radreply", "radgroupreply"] {
        let q = format!(
            "SELECT '{t}|' || {n} || '|' || attribute || '|' || op || '|' || value FROM {t} ORDER BY id",
            n = if t == "radgroupreply" { "groupname" } else { "username" }
        );
        out.extend(rows(db, &q).await);
    }
    out.extend(rows(db, "SELECT 'radusergroup|' || username || '|' || groupname FROM radusergroup ORDER BY id").await);
    out
}

/// An open (or closed) accounting session as FreeRADIUS writes it to SQLite (times in unix seconds).
async fn acct(db: &RadiusDb, uid: &str, user: &str, nas: &str, times: (i64, i64, Option<i64>), io: (i64, i64)) {
    let (start, update, stop) = times;
    let stop_sql = stop.map(|s| s.to_string()).unwrap_or_else(|| "NULL".into());
    let sql = format!(
        "INSERT INTO radacct (acctsessionid, acctuniqueid, username, realm, nasipaddress, acctstarttime, acctupdatetime, \
         acctstoptime, acctsessiontime, acctinputoctets, acctoutputoctets, calledstationid, callingstationid, \
         acctterminatecause, framedipaddress) \
         VALUES ('{uid}', '{uid}', '{user}', 'acme', '{nas}', {start}, {update}, {stop_sql}, {}, {}, {}, '', '', '', '10.20.0.15')",
        update - start,
        io.0,
        io.1
    );
    sqlx::query(&sql).execute(db.pool()).await.expect("insert radacct");
}

/// A NAS stand-in on 127.0.0.1 answering every request with an ACK; returns what it received.
async fn fake_nas(secret: &'static [u8]) -> (SocketAddr, tokio::task::JoinHandle<Vec<Packet>>) {
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let addr = sock.local_addr().expect("addr");
    let h = tokio::spawn(async move {
        let mut seen = Vec::new();
        let mut buf = vec![0u8; 4096];
        while let Ok(Ok((n, from))) = tokio::time::timeout(Duration::from_secs(3), sock.recv_from(&mut buf)).await {
            assert!(packet::verify_signed_request(&buf[..n], secret), "request authenticator must verify");
            let req = Packet::decode(&buf[..n]).expect("decode");
            let ack = if req.code == code::DISCONNECT_REQUEST { code::DISCONNECT_ACK } else { code::COA_ACK };
            let bytes = packet::encode_response(&Packet::new(ack, req.identifier), &req.authenticator, secret, true)
                .expect("enc");
            sock.send_to(&bytes, from).await.expect("send");
            seen.push(req);
        }
        seen
    });
    (addr, h)
}

/// A MikroTik's `/radius incoming` as seen from the agent: it answers only requests from the
/// addresses in its `/radius` list (`trusted`) and drops the rest without a word. Records the
/// source of every request it received.
async fn fake_nas_trusting(
    trusted: std::net::IpAddr,
    secret: &'static [u8],
) -> (SocketAddr, tokio::task::JoinHandle<Vec<(std::net::IpAddr, Packet)>>) {
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let addr = sock.local_addr().expect("addr");
    let h = tokio::spawn(async move {
        let mut seen = Vec::new();
        let mut buf = vec![0u8; 4096];
        while let Ok(Ok((n, from))) = tokio::time::timeout(Duration::from_secs(3), sock.recv_from(&mut buf)).await {
            let req = Packet::decode(&buf[..n]).expect("decode");
            seen.push((from.ip(), req.clone()));
            if from.ip() != trusted {
                continue;
            }
            assert!(packet::verify_signed_request(&buf[..n], secret), "request authenticator must verify");
            let ack = if req.code == code::DISCONNECT_REQUEST { code::DISCONNECT_ACK } else { code::COA_ACK };
            let bytes = packet::encode_response(&Packet::new(ack, req.identifier), &req.authenticator, secret, true)
                .expect("enc");
            sock.send_to(&bytes, from).await.expect("send");
        }
        seen
    });
    (addr, h)
}

#[tokio::test]
async fn coa_fails_over_to_the_node_the_nas_trusts() {
    let edge = Edge::start("acme").await;
    let (id, user) = edge.seed().await;
    let (settings, db) = radius(&edge.dir).await;
    // node a = 127.0.0.11 (the NAS does not answer it: its entry is gone, or its path is down),
    // node b = 127.0.0.12 (listed in the NAS's /radius)
    let (a, b): (std::net::IpAddr, std::net::IpAddr) = ([127, 0, 0, 11].into(), [127, 0, 0, 12].into());
    let (nas_addr, nas) = fake_nas_trusting(b, b"nassecret").await;
    let nas_cfg = NasConfig { ip: [127, 0, 0, 1].into(), coa_port: nas_addr.port(), secret: Secret::new("nassecret") };
    let mut agent = edge.agent(&settings, vec![nas_cfg], InactivePolicy::Reject).with_coa_sources(vec![a, b]);
    agent.try_pass().await.expect("pass");
    let t = now();
    acct(&db, "sess-f", &user, "127.0.0.1", (t - 600, t - 60, None), (1000, 2000)).await;

    edge.patch_subscriber(&id, json!({"status": "suspended"})).await;
    let started = std::time::Instant::now();
    let out = agent.try_fast_path().await.expect("fast path").expect("changes seen");
    let took = started.elapsed();
    assert_eq!(out.coa.len(), 1, "{:?}", out.coa);
    assert_eq!(
        (out.coa[0].kind, out.coa[0].result.as_str(), out.coa[0].via.as_str()),
        ("disconnect", "ack", "127.0.0.12")
    );
    // node a was tried first, with its retransmission (500 ms each), then b
    let seen = nas.await.expect("nas");
    let sources: Vec<std::net::IpAddr> = seen.iter().map(|(ip, _)| *ip).collect();
    assert_eq!(sources, [a, a, b], "{seen:?}");
    assert!(seen.iter().all(|(_, p)| p.code == code::DISCONNECT_REQUEST));
    assert!(took >= Duration::from_millis(1000), "a's two timeouts before b: {took:?}");
}

#[tokio::test]
async fn coa_from_the_trusted_primary_does_not_touch_the_backup() {
    let edge = Edge::start("acme").await;
    let (id, user) = edge.seed().await;
    let (settings, db) = radius(&edge.dir).await;
    let (a, b): (std::net::IpAddr, std::net::IpAddr) = ([127, 0, 0, 11].into(), [127, 0, 0, 12].into());
    let (nas_addr, nas) = fake_nas_trusting(a, b"nassecret").await;
    let nas_cfg = NasConfig { ip: [127, 0, 0, 1].into(), coa_port: nas_addr.port(), secret: Secret::new("nassecret") };
    let mut agent = edge.agent(&settings, vec![nas_cfg], InactivePolicy::Reject).with_coa_sources(vec![a, b]);
    agent.try_pass().await.expect("pass");
    let t = now();
    acct(&db, "sess-p", &user, "127.0.0.1", (t - 600, t - 60, None), (1000, 2000)).await;
    edge.patch_subscriber(&id, json!({"plan": "fast"})).await;
    let out = agent.try_fast_path().await.expect("fast path").expect("changes seen");
    assert_eq!(
        (out.coa[0].kind, out.coa[0].result.as_str(), out.coa[0].via.as_str()),
        ("rate_limit", "ack", "127.0.0.11")
    );
    let seen = nas.await.expect("nas");
    assert_eq!(seen.iter().map(|(ip, _)| *ip).collect::<Vec<_>>(), [a]);
}

#[tokio::test]
async fn coa_no_node_trusted_is_an_error_after_every_source() {
    let edge = Edge::start("acme").await;
    let (id, user) = edge.seed().await;
    let (settings, db) = radius(&edge.dir).await;
    let (a, b): (std::net::IpAddr, std::net::IpAddr) = ([127, 0, 0, 11].into(), [127, 0, 0, 12].into());
    let (nas_addr, nas) = fake_nas_trusting([127, 0, 0, 99].into(), b"nassecret").await;
    let nas_cfg = NasConfig { ip: [127, 0, 0, 1].into(), coa_port: nas_addr.port(), secret: Secret::new("nassecret") };
    let mut agent = edge.agent(&settings, vec![nas_cfg], InactivePolicy::Reject).with_coa_sources(vec![a, b]);
    agent.try_pass().await.expect("pass");
    let t = now();
    acct(&db, "sess-n", &user, "127.0.0.1", (t - 600, t - 60, None), (1000, 2000)).await;
    edge.patch_subscriber(&id, json!({"status": "suspended"})).await;
    let out = agent.try_fast_path().await.expect("fast path").expect("changes seen");
    assert!(out.coa[0].result.starts_with("error: no answer"), "{:?}", out.coa);
    assert_eq!(out.coa[0].via, "");
    let seen = nas.await.expect("nas");
    assert_eq!(seen.iter().map(|(ip, _)| *ip).collect::<Vec<_>>(), [a, a, b, b]);
}

#[tokio::test]
async fn foreign_accounting_of_two_nodes_logs_is_reported_once_each() {
    let edge = Edge::start("acme").await;
    edge.seed().await;
    let (settings, _db) = radius(&edge.dir).await;
    // each FreeRADIUS node writes its own foreign-accounting log
    let (log_a, log_b) = (edge.dir.0.join("log-a-foreign.log"), edge.dir.0.join("log-b-foreign.log"));
    std::fs::write(&log_a, "1795737600\tacme:pop1\tbeta\t127.0.0.2\tbob@beta\tStart\tsess-1\n").unwrap();
    std::fs::write(
        &log_b,
        "1795737660\tacme:pop1\tbeta\t127.0.0.2\tbob@beta\tStop\tsess-1\n\
         1795737660\tbeta:pop1\tacme\t127.0.0.3\talice@acme\tStart\tsess-2\n",
    )
    .unwrap();
    let metrics = konnekted_radius_agent::metrics::Metrics::new();
    let mut agent = edge
        .agent(&settings, vec![], InactivePolicy::Reject)
        .with_foreign_acct(log_a.clone(), metrics.clone())
        .with_foreign_acct(log_b.clone(), metrics.clone());
    let out = agent.try_pass().await.expect("pass");
    let seen: Vec<(&str, &str)> = out.foreign.iter().map(|r| (r.status.as_str(), r.session_id.as_str())).collect();
    assert_eq!(seen, [("Start", "sess-1"), ("Stop", "sess-1")], "acme's NAS only, from both logs");
    assert_eq!(metrics.foreign_accounting("acme", "beta"), 2);
    assert!(agent.try_pass().await.expect("pass").foreign.is_empty(), "reported once");
    // a new line in one log is picked up alone
    use std::io::Write as _;
    let mut f = std::fs::OpenOptions::new().append(true).open(&log_a).unwrap();
    f.write_all(b"1795737720\tacme:pop1\tbeta\t127.0.0.2\tbob@beta\tStart\tsess-3\n").unwrap();
    let out = agent.try_pass().await.expect("pass");
    assert_eq!(out.foreign.iter().map(|r| r.session_id.as_str()).collect::<Vec<_>>(), ["sess-3"]);
}

#[tokio::test]
async fn postauth_lines_of_two_nodes_are_loaded_into_radpostauth_once() {
    let edge = Edge::start("acme").await;
    let (settings, db) = radius(&edge.dir).await;
    // each FreeRADIUS node writes <log_dir>/postauth/<realm>/<unix minute>.log (postauth = "log")
    let (node_a, node_b) = (edge.dir.0.join("log-a"), edge.dir.0.join("log-b"));
    let minute = now() / 60;
    for (node, m, text) in [
        (&node_a, minute - 3, "1795737600\t12\tAccess-Accept\tann\n1795737601\t0\tAccess-Reject\tb%09ob\n"),
        (&node_b, minute - 2, "1795737660\t500000\tAccess-Accept\tcy\nnot a line\n"),
        // the current minute: FreeRADIUS may still write to it
        (&node_b, minute, "1795737720\t0\tAccess-Accept\tdee\n"),
    ] {
        let dir = node.join("postauth").join("acme");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{m}.log")), text).unwrap();
    }
    let mut agent = edge
        .agent(&settings, vec![], InactivePolicy::Reject)
        .with_postauth_log(node_a.clone())
        .with_postauth_log(node_b.clone());
    assert_eq!(agent.load_postauth().await.expect("load"), 3);
    let q = "SELECT username || '|' || reply || '|' || pass || '|' || authdate FROM radpostauth ORDER BY id";
    assert_eq!(
        rows(&db, q).await,
        [
            "ann|Access-Accept||2026-11-27 00:00:00.000012",
            "b\tob|Access-Reject||2026-11-27 00:00:01.000000",
            "cy|Access-Accept||2026-11-27 00:01:00.500000",
        ]
    );
    assert_eq!(agent.load_postauth().await.expect("load"), 0, "loaded once");
    assert!(node_b.join(format!("postauth/acme/{minute}.log")).exists(), "the current minute waits");
    assert!(!node_a.join(format!("postauth/acme/{}.log", minute - 3)).exists());
}

#[tokio::test]
async fn pass_with_active_subscriber_writes_radcheck_and_group() {
    let edge = Edge::start("acme").await;
    let (_, user) = edge.seed().await;
    let (settings, db) = radius(&edge.dir).await;
    let mut agent = edge.agent(&settings, vec![], InactivePolicy::Reject);
    let out = agent.try_pass().await.expect("pass");
    assert!(out.sync.added > 0);
    let check = rows(&db, &format!("SELECT attribute || '=' || value FROM radcheck WHERE username = '{user}'")).await;
    assert_eq!(check, vec!["Cleartext-Password=s3cret-pw".to_owned()]);
    let groups = rows(&db, &format!("SELECT groupname FROM radusergroup WHERE username = '{user}'")).await;
    assert_eq!(groups, vec!["kn_plan_basic".to_owned()]);
    let rate = rows(
        &db,
        "SELECT value FROM radgroupreply WHERE groupname = 'kn_plan_basic' AND attribute = 'Mikrotik-Rate-Limit'",
    )
    .await;
    assert_eq!(rate, vec!["2M/10M".to_owned()]);
    // a second pass writes nothing
    assert!(agent.try_pass().await.expect("pass").sync.is_noop());
}

#[tokio::test]
async fn suspension_via_fast_path_rejects_and_disconnects_online_user() {
    let edge = Edge::start("acme").await;
    let (id, user) = edge.seed().await;
    let (settings, db) = radius(&edge.dir).await;
    let (nas_addr, nas) = fake_nas(b"nassecret").await;
    let nas_cfg = NasConfig { ip: [127, 0, 0, 1].into(), coa_port: nas_addr.port(), secret: Secret::new("nassecret") };
    let mut agent = edge.agent(&settings, vec![nas_cfg], InactivePolicy::Reject);
    agent.try_pass().await.expect("pass");
    assert_eq!(agent.try_fast_path().await.expect("idle feed").map(|o| o.sync.is_noop()), None);
    let t = now();
    acct(&db, "sess-1", &user, "127.0.0.1", (t - 600, t - 60, None), (1000, 2000)).await;

    edge.patch_subscriber(&id, json!({"status": "suspended"})).await;
    let out = agent.try_fast_path().await.expect("fast path").expect("changes seen");
    assert!(!out.sync.is_noop());
    let check = rows(
        &db,
        &format!("SELECT attribute || '=' || value FROM radcheck WHERE username = '{user}' ORDER BY attribute"),
    )
    .await;
    assert!(check.contains(&"Auth-Type=Reject".to_owned()), "{check:?}");
    assert_eq!(out.coa.len(), 1, "{:?}", out.coa);
    assert_eq!((out.coa[0].kind, out.coa[0].result.as_str()), ("disconnect", "ack"));

    let seen = nas.await.expect("nas");
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].code, code::DISCONNECT_REQUEST);
    assert_eq!(seen[0].get_string(attr::USER_NAME), Some(format!("{user}@acme")));
    assert_eq!(seen[0].get_string(attr::ACCT_SESSION_ID).as_deref(), Some("sess-1"));
}

/// Signs the seeded subscriber (phone 254700000001) in to the customer API by OTP, reading the
/// code from the tenant's SMS outbox; returns the access token.
async fn customer_token(edge: &Edge) -> String {
    let http = reqwest::Client::new();
    let v1 = |p: &str| format!("{}/api/p/{}/v1/{p}", edge.base, edge.realm);
    let r = http.post(v1("auth/otp")).json(&json!({"phone": "0700000001"})).send().await.expect("otp");
    assert_eq!(r.status().as_u16(), 202);
    let challenge = r.json::<Value>().await.expect("json")["challenge_id"].as_str().expect("challenge").to_owned();
    let sms = edge.get("/sms-outbox?to=254700000001&limit=1").await;
    let code: String = sms[0]["body"]
        .as_str()
        .expect("the code by SMS")
        .split_whitespace()
        .map(|w| w.trim_end_matches('.'))
        .find(|w| w.len() == 6 && w.chars().all(|c| c.is_ascii_digit()))
        .expect("6 digits")
        .to_owned();
    let r = http
        .post(v1("auth/otp/verify"))
        .json(&json!({"challenge_id": challenge, "code": code}))
        .send()
        .await
        .expect("verify");
    assert_eq!(r.status().as_u16(), 200);
    r.json::<Value>().await.expect("json")["access_token"].as_str().expect("token").to_owned()
}

/// The customer API's `DELETE sessions/current` reaches the NAS: the edge writes a
/// `session_disconnect` change, the agent's fast path sends a Disconnect-Request for the open
/// session, and RADIUS rows stay as they were (the subscriber may connect again at once).
#[tokio::test]
async fn disconnect_asked_by_the_subscriber_via_fast_path_sends_disconnect_and_changes_nothing() {
    let edge = Edge::start("acme").await;
    let (_, user) = edge.seed().await;
    let (settings, db) = radius(&edge.dir).await;
    let (nas_addr, nas) = fake_nas(b"nassecret").await;
    let nas_cfg = NasConfig { ip: [127, 0, 0, 1].into(), coa_port: nas_addr.port(), secret: Secret::new("nassecret") };
    let mut agent = edge.agent(&settings, vec![nas_cfg], InactivePolicy::Reject);
    agent.try_pass().await.expect("pass");
    let t = now();
    acct(&db, "sess-3", &user, "127.0.0.1", (t - 600, t - 60, None), (1000, 2000)).await;
    agent.try_usage_push().await.expect("the edge learns who is online");
    let before = dump(&db).await;

    let token = customer_token(&edge).await;
    let r = reqwest::Client::new()
        .delete(format!("{}/api/p/{}/v1/sessions/current", edge.base, edge.realm))
        .bearer_auth(&token)
        .send()
        .await
        .expect("DELETE");
    assert_eq!(r.status().as_u16(), 202, "{:?}", r.text().await);
    let out = agent.try_fast_path().await.expect("fast path").expect("the change is seen");
    assert!(out.sync.is_noop(), "no RADIUS row changes: {:?}", out.sync);
    assert_eq!(dump(&db).await, before);
    assert_eq!(out.coa.len(), 1, "{:?}", out.coa);
    assert_eq!((out.coa[0].kind, out.coa[0].result.as_str()), ("disconnect", "ack"));
    let seen = nas.await.expect("nas");
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].code, code::DISCONNECT_REQUEST);
    assert_eq!(seen[0].get_string(attr::USER_NAME), Some(format!("{user}@acme")));
    assert_eq!(seen[0].get_string(attr::ACCT_SESSION_ID).as_deref(), Some("sess-3"));
}

#[tokio::test]
async fn plan_change_via_fast_path_sends_coa_with_new_rate() {
    let edge = Edge::start("acme").await;
    let (id, user) = edge.seed().await;
    let (settings, db) = radius(&edge.dir).await;
    let (nas_addr, nas) = fake_nas(b"nassecret").await;
    let nas_cfg = NasConfig { ip: [127, 0, 0, 1].into(), coa_port: nas_addr.port(), secret: Secret::new("nassecret") };
    let mut agent = edge.agent(&settings, vec![nas_cfg], InactivePolicy::Reject);
    agent.try_pass().await.expect("pass");
    let t = now();
    acct(&db, "sess-2", &user, "127.0.0.1", (t - 600, t - 60, None), (1000, 2000)).await;

    edge.patch_subscriber(&id, json!({"plan": "fast"})).await;
    let out = agent.try_fast_path().await.expect("fast path").expect("changes seen");
    let groups = rows(&db, &format!("SELECT groupname FROM radusergroup WHERE username = '{user}'")).await;
    assert_eq!(groups, vec!["kn_plan_fast".to_owned()]);
    assert_eq!(out.coa.len(), 1, "{:?}", out.coa);
    assert_eq!((out.coa[0].kind, out.coa[0].result.as_str()), ("rate_limit", "ack"));
    let seen = nas.await.expect("nas");
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].code, code::COA_REQUEST);
    assert_eq!(seen[0].get_vendor_string(14988, 8).as_deref(), Some("5M/20M"));
}

#[tokio::test]
async fn pass_with_edge_down_leaves_radius_unchanged() {
    let edge = Edge::start("acme").await;
    let (id, _) = edge.seed().await;
    let (settings, db) = radius(&edge.dir).await;
    edge.agent(&settings, vec![], InactivePolicy::Reject).try_pass().await.expect("pass");
    let before = dump(&db).await;
    assert!(!before.is_empty());

    // billing changes, then the edge goes away before the agent can see it
    edge.patch_subscriber(&id, json!({"status": "suspended"})).await;
    // an address nobody listens on: the edge as unreachable as it gets
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let mut agent = edge.agent_at(&format!("http://127.0.0.1:{port}"), &settings, vec![], InactivePolicy::Reject);
    let full = agent.try_pass().await;
    assert!(matches!(full, Err(AgentError::Edge(_))), "{:?}", full.map(|o| o.sync));
    let fast = agent.try_fast_path().await;
    assert!(matches!(fast, Err(AgentError::Edge(_))), "{:?}", fast.map(|o| o.map(|o| o.sync)));
    assert_eq!(dump(&db).await, before);
}

#[tokio::test]
async fn usage_push_with_radacct_rows_shows_in_admin_usage() {
    let edge = Edge::start("acme").await;
    let (_, user) = edge.seed().await;
    let (settings, db) = radius(&edge.dir).await;
    let mut agent = edge.agent(&settings, vec![], InactivePolicy::Reject);
    let t = now();
    acct(&db, "u-closed", &user, "10.0.0.1", (t - 7200, t - 3600, Some(t - 3600)), (5000, 9000)).await;
    acct(&db, "u-open", &user, "10.0.0.1", (t - 600, t - 60, None), (100, 200)).await;
    let pushed = agent.try_usage_push().await.expect("push");
    assert!(pushed.days >= 1);
    assert_eq!(pushed.online, 1);

    let v = edge.get("/usage").await;
    let list = v.as_array().cloned().or_else(|| v["days"].as_array().cloned()).unwrap_or_default();
    let mine: Vec<&Value> = list.iter().filter(|d| d["username"] == user.as_str()).collect();
    assert!(!mine.is_empty(), "{v}");
    let input: i64 = mine.iter().filter_map(|d| d["input_octets"].as_i64()).sum();
    let output: i64 = mine.iter().filter_map(|d| d["output_octets"].as_i64()).sum();
    assert_eq!((input, output), (5100, 9200), "{v}");

    let v = edge.get("/online").await;
    assert!(v.to_string().contains("u-open"), "{v}");
}

#[tokio::test]
async fn run_with_one_tenant_failing_still_syncs_the_other_and_stops_on_shutdown() {
    let edge = Edge::start("acme").await;
    let (_, user) = edge.seed().await;
    let (settings, db) = radius(&edge.dir).await;
    let mut ghost =
        edge.config(&DbSettings::Sqlite { path: edge.dir.0.join("ghost.db") }, vec![], InactivePolicy::Reject);
    ghost.realm = "ghost".into(); // unknown to the edge: every call fails
    let config = konnekted_radius_agent::Config {
        edge_url: edge.base.clone(),
        intervals: Intervals::default(),
        tenants: vec![ghost, edge.config(&settings, vec![], InactivePolicy::Reject)],
        foreign_acct_logs: vec![],
        postauth_log_dirs: vec![],
        metrics_addr: None,
        coa_sources: vec![],
    };
    let (tx, rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(konnekted_radius_agent::run(config, rx));
    let q = format!("SELECT groupname FROM radusergroup WHERE username = '{user}'");
    let mut synced = false;
    for _ in 0..50 {
        if !rows(&db, &q).await.is_empty() {
            synced = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(synced, "acme was not synced while ghost fails");
    tx.send(true).expect("shutdown");
    let r = tokio::time::timeout(Duration::from_secs(10), task).await.expect("run stops").expect("join");
    assert!(r.is_ok());
}

#[tokio::test]
async fn suspension_with_walled_garden_policy_moves_user_to_garden_group() {
    let edge = Edge::start("acme").await;
    let (id, user) = edge.seed().await;
    let (settings, db) = radius(&edge.dir).await;
    let tenant = edge.config(&settings, vec![], InactivePolicy::WalledGarden);
    let mut agent = TenantAgent::new(&edge.base, tenant, &Intervals::default()).expect("agent");
    agent.try_pass().await.expect("pass");
    edge.patch_subscriber(&id, json!({"status": "suspended"})).await;
    agent.try_fast_path().await.expect("fast path").expect("changes seen");
    let groups = rows(&db, &format!("SELECT groupname FROM radusergroup WHERE username = '{user}'")).await;
    assert_eq!(groups, vec!["kn_walled_garden".to_owned()]);
    let check = rows(&db, &format!("SELECT attribute FROM radcheck WHERE username = '{user}'")).await;
    assert_eq!(check, vec!["Cleartext-Password".to_owned()]);
}

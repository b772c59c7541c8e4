//! The whole billing -> RADIUS -> billing chain with real parts, end to end:
//!
//! one native host (in-process) with two tenants, acme and beta, each with its own SQLite RADIUS
//! database; one real FreeRADIUS serving both with the generated multi-tenant config (one NAS per
//! tenant, own secret and source address); one agent per tenant; a NAS stand-in per tenant that
//! answers CoA/Disconnect.
//!
//! 1. billing (admin API) -> agent full pass -> FreeRADIUS Access-Accept with the plan's
//!    `Mikrotik-Rate-Limit`, per tenant (and the tenants' users, passwords and NASes kept apart);
//! 2. radclient accounting Start / Interim-Update from acme's NAS -> rows only in acme's radacct
//!    (beta's NAS reporting acme's user lands nowhere) -> agent usage push -> acme's admin `/online`
//!    and `/usage`; beta's show nothing;
//! 3. plan change in billing -> agent fast path (change feed, no full pass) -> CoA with the new rate
//!    to the NAS of the open session, and the next Access-Accept carries the new rate;
//! 4. accounting Stop -> usage push -> exact octets/seconds in acme's `/usage`; none in beta's
//!    (although beta has a subscriber with the same username);
//! 5. suspension in billing -> fast path -> Access-Reject (acme, reject policy) or the walled garden
//!    (beta, walled-garden policy).
//!
//! Skips (with a message) only if `freeradius` is missing and KONNEKTED_REQUIRE_FREERADIUS is unset.

mod common;
// The support module carries its own `#![allow(dead_code)]`: this test uses only part of it.
#[path = "../../../radius-sql/tests/support/mod.rs"]
mod support;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use common::{Host, now};
use konnekted_radius::accounting::{self, AcctSession, day_string};
use konnekted_radius::config::{NasClient, TenantConfig as RadiusTenant};
use konnekted_radius::db::{DbSettings, RadiusDb, Secret, migrate};
use konnekted_radius::packet::{self, Packet, attr, code, vendor};
use konnekted_radius::sync::InactivePolicy;
use konnekted_radius_agent::CoaAction;
use konnekted_radius_agent::config::NasConfig;
use serde_json::json;
use support::{Cleanup, Client, Radiusd, Reply, freeradius_or_skip, scratch_dir, server_config, start_radiusd};

const NAIROBI: i64 = 10_800;

/// A NAS stand-in answering CoA/Disconnect with an ACK on `ip`; what it received comes out of `seen`.
struct FakeNas {
    addr: SocketAddr,
    seen: tokio::sync::mpsc::UnboundedReceiver<Packet>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeNas {
    async fn start(ip: Ipv4Addr, secret: &'static str) -> FakeNas {
        let sock = tokio::net::UdpSocket::bind((ip, 0)).await.expect("bind fake NAS");
        let addr = sock.local_addr().expect("addr");
        let (tx, seen) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            while let Ok((n, from)) = sock.recv_from(&mut buf).await {
                let req = Packet::decode(&buf[..n]).expect("decode CoA");
                // A request that does not verify with this NAS's secret is not answered (the agent
                // then reports a timeout, which the test sees).
                if !packet::verify_signed_request(&buf[..n], secret.as_bytes()) {
                    continue;
                }
                let ack = if req.code == code::DISCONNECT_REQUEST { code::DISCONNECT_ACK } else { code::COA_ACK };
                let bytes = packet::encode_response(
                    &Packet::new(ack, req.identifier),
                    &req.authenticator,
                    secret.as_bytes(),
                    true,
                )
                .expect("encode ack");
                let _ = tx.send(req);
                let _ = sock.send_to(&bytes, from).await;
            }
        });
        FakeNas { addr, seen, task }
    }

    fn received(&mut self) -> Vec<Packet> {
        let mut out = Vec::new();
        while let Ok(p) = self.seen.try_recv() {
            out.push(p);
        }
        out
    }
}

impl Drop for FakeNas {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn log_tail(rad: &Radiusd) -> String {
    let log = rad.log();
    let lines: Vec<&str> = log.lines().collect();
    format!("--- radius.log tail ---\n{}", lines[lines.len().saturating_sub(60)..].join("\n"))
}

async fn accepted(nas: &Client, user: &str, pw: &str, rad: &Radiusd) -> Reply {
    let r = nas.pap(user, pw).await;
    match r {
        Ok(r) if r.accepted() => r,
        other => panic!("PAP {user} from {}: expected Access-Accept, got {other:?}\n{}", nas.src, log_tail(rad)),
    }
}

async fn rejected(nas: &Client, user: &str, pw: &str, rad: &Radiusd) -> Reply {
    let r = nas.pap(user, pw).await;
    match r {
        Ok(r) if r.code == code::ACCESS_REJECT => r,
        other => panic!("PAP {user} from {}: expected Access-Reject, got {other:?}\n{}", nas.src, log_tail(rad)),
    }
}

/// A NAS sending accounting with `radclient`: from `src` (radclient binds the source address given
/// as `Packet-Src-IP-Address`), signed with `secret`.
struct AcctNas {
    src: Ipv4Addr,
    secret: &'static str,
    server: SocketAddr,
}

impl AcctNas {
    /// Send one Accounting-Request; panics unless an Accounting-Response came back.
    async fn send(&self, rad: &Radiusd, attrs: &str) {
        use tokio::io::AsyncWriteExt as _;
        let input = format!("{attrs}Packet-Src-IP-Address = {}\n", self.src);
        let mut child = tokio::process::Command::new("radclient")
            .args(["-x", "-r", "2", "-t", "3", &self.server.to_string(), "acct", self.secret])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("radclient");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(input.as_bytes()).await.expect("write radclient input");
        drop(stdin);
        let out = child.wait_with_output().await.expect("radclient output");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("Received Accounting-Response"),
            "radclient from {} got no Accounting-Response for\n{input}\nstdout:\n{stdout}\nstderr:\n{}\n{}",
            self.src,
            String::from_utf8_lossy(&out.stderr),
            log_tail(rad)
        );
        assert!(
            stdout.contains("Sent Accounting-Request Id ") && stdout.contains(&format!(" from {}:", self.src)),
            "radclient did not send from {}:\n{stdout}",
            self.src
        );
    }
}

async fn radacct_count(db: &RadiusDb) -> i64 {
    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM radacct").fetch_one(db.pool()).await.expect("count radacct")
}

async fn sessions(db: &RadiusDb) -> Vec<AcctSession> {
    accounting::read_sessions(db, 0, i64::MAX / 4).await.expect("read radacct")
}

fn coa_view(a: &[CoaAction]) -> Vec<(String, &'static str, String, String, String)> {
    a.iter().map(|a| (a.username.clone(), a.kind, a.nas.clone(), a.session_id.clone(), a.result.clone())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn billing_to_freeradius_and_accounting_back_to_billing_two_tenants() {
    if !freeradius_or_skip("billing_to_freeradius_and_accounting_back_to_billing_two_tenants") {
        return;
    }
    let started = Instant::now();
    let dir = scratch_dir("chain");
    let _cleanup = Cleanup { dbs: Vec::new(), dir: Some(dir.clone()) };

    // --- one host, two tenants. Same account number (and so the same username "a100") in both, with
    //     different passwords and different plan speeds, so every answer tells which tenant it came from.
    let host = Host::start(&dir).await;
    let acme = host.tenant("acme").await;
    let beta = host.tenant("beta").await;
    let (acme_id, user) = acme.seed((10_000, 2_000), (20_000, 5_000), "acme-pw-1").await;
    let (beta_id, beta_user) = beta.seed((4_000, 1_500), (8_000, 2_000), "beta-pw-2").await;
    assert_eq!((user.as_str(), beta_user.as_str()), ("a100", "a100"));
    let (acme_user, beta_realm_user) = (format!("{user}@acme"), format!("{user}@beta"));

    // --- one SQLite RADIUS database per tenant, one FreeRADIUS for both
    let acme_settings = DbSettings::Sqlite { path: dir.join("acme-radius.db") };
    let beta_settings = DbSettings::Sqlite { path: dir.join("beta-radius.db") };
    let acme_db = migrate(&acme_settings).await.expect("migrate acme");
    let beta_db = migrate(&beta_settings).await.expect("migrate beta");
    let (acme_ip, beta_ip) = (Ipv4Addr::new(127, 0, 0, 2), Ipv4Addr::new(127, 0, 0, 3));
    let server = server_config(&dir, None);
    let radius_tenants = vec![
        RadiusTenant {
            realm: "acme".into(),
            db: acme_settings.clone(),
            nas: vec![NasClient {
                ip: acme_ip.to_string(),
                secret: Secret::new("acmesecret"),
                shortname: "pop1".into(),
            }],
            vouchers: false,
            voucher_key: None,
            statement_timeout_ms: None,
        },
        RadiusTenant {
            realm: "beta".into(),
            db: beta_settings.clone(),
            nas: vec![NasClient {
                ip: beta_ip.to_string(),
                secret: Secret::new("betasecret"),
                shortname: "pop1".into(),
            }],
            vouchers: false,
            voucher_key: None,
            statement_timeout_ms: None,
        },
    ];
    let rad = start_radiusd(&server, &radius_tenants, &dir).await;
    let acme_nas = Client::new(acme_ip, "acmesecret", rad.auth_addr(), Duration::from_secs(3), 1);
    let beta_nas = Client::new(beta_ip, "betasecret", rad.auth_addr(), Duration::from_secs(3), 1);
    let acme_acct = AcctNas { src: acme_ip, secret: "acmesecret", server: rad.acct_addr() };
    let beta_acct = AcctNas { src: beta_ip, secret: "betasecret", server: rad.acct_addr() };

    // Nothing synced yet: FreeRADIUS does not know the user.
    let r = rejected(&acme_nas, &acme_user, "acme-pw-1", &rad).await;
    assert_eq!(r.reply_message().as_deref(), Some("Unknown user"));

    // --- agents (acme: suspended -> reject; beta: suspended -> walled garden), each with its NAS
    //     stand-in for CoA on the NAS's address
    let mut acme_coa = FakeNas::start(acme_ip, "acmesecret").await;
    let mut beta_coa = FakeNas::start(beta_ip, "betasecret").await;
    let nas_cfg = |ip: Ipv4Addr, port: u16, secret: &str| NasConfig { ip, coa_port: port, secret: Secret::new(secret) };
    let mut acme_agent =
        acme.agent(&acme_settings, vec![nas_cfg(acme_ip, acme_coa.addr.port(), "acmesecret")], InactivePolicy::Reject);
    let mut beta_agent = beta.agent(
        &beta_settings,
        vec![nas_cfg(beta_ip, beta_coa.addr.port(), "betasecret")],
        InactivePolicy::WalledGarden,
    );
    // both agents read FreeRADIUS's foreign-accounting log and share one metrics registry, as `run` does
    let metrics = konnekted_radius_agent::metrics::Metrics::new();
    let foreign_log = server.log_dir.join(konnekted_radius::foreign_acct::FOREIGN_ACCT_LOG);
    acme_agent = acme_agent.with_foreign_acct(foreign_log.clone(), metrics.clone());
    beta_agent = beta_agent.with_foreign_acct(foreign_log, metrics.clone());

    // ===== 1. billing -> full pass -> Access-Accept with the plan's rate (upload/download)
    let out = acme_agent.try_pass().await.expect("acme pass");
    assert!(out.sync.added > 0 && out.coa.is_empty(), "{:?}", out.sync);
    let out = beta_agent.try_pass().await.expect("beta pass");
    assert!(out.sync.added > 0 && out.coa.is_empty(), "{:?}", out.sync);

    let r = accepted(&acme_nas, &acme_user, "acme-pw-1", &rad).await;
    assert_eq!(r.rate_limit().as_deref(), Some("2M/10M"), "acme basic = 10/2 Mbps: {r:?}");
    let r = accepted(&beta_nas, &beta_realm_user, "beta-pw-2", &rad).await;
    assert_eq!(r.rate_limit().as_deref(), Some("1500k/4M"), "beta basic = 4 Mbps/1500 kbps: {r:?}");
    // tenants stay apart: the other tenant's password, the other tenant's NAS
    rejected(&beta_nas, &beta_realm_user, "acme-pw-1", &rad).await;
    let r = rejected(&acme_nas, &beta_realm_user, "beta-pw-2", &rad).await;
    assert_eq!(r.reply_message().as_deref(), Some("NAS not allowed for this realm"));

    // The feed is idle: the fast path reads it and does nothing.
    assert!(acme_agent.try_fast_path().await.expect("acme idle feed").is_none());
    assert!(beta_agent.try_fast_path().await.expect("beta idle feed").is_none());

    // ===== 2. accounting from acme's NAS with radclient (times inside today's Nairobi day)
    let now = now();
    let today = (now + NAIROBI).div_euclid(86_400);
    let t0 = (now - 600).max(today * 86_400 - NAIROBI);
    let session = |status: &str, extra: &str, ts: i64| {
        format!(
            "User-Name = \"{acme_user}\"\nAcct-Session-Id = \"acme-sess-1\"\nNAS-IP-Address = {acme_ip}\nNAS-Port = 7\n\
             Framed-IP-Address = 100.64.0.10\nCalling-Station-Id = \"AA:BB:CC:DD:EE:01\"\n\
             Acct-Status-Type = {status}\n{extra}Event-Timestamp = {ts}\n"
        )
    };
    acme_acct.send(&rad, &session("Start", "", t0)).await;
    let s = sessions(&acme_db).await;
    assert_eq!(s.len(), 1, "{s:?}");
    assert_eq!(
        (s[0].username.as_str(), s[0].realm.as_deref(), s[0].nas_ip.as_str(), s[0].session_id.as_str()),
        ("a100", Some("acme"), "127.0.0.2", "acme-sess-1"),
        "{s:?}"
    );
    assert_eq!((s[0].start, s[0].stop, s[0].framed_ip.as_deref()), (Some(t0), None, Some("100.64.0.10")));
    assert_eq!(radacct_count(&beta_db).await, 0, "acme's Start must not reach beta's radacct");

    acme_acct
        .send(
            &rad,
            &session(
                "Interim-Update",
                "Acct-Session-Time = 60\nAcct-Input-Octets = 1000\nAcct-Output-Octets = 2000\n",
                t0 + 60,
            ),
        )
        .await;
    // beta's NAS reporting a session of acme's user: acknowledged, but written to no tenant's radacct
    beta_acct
        .send(
            &rad,
            &format!(
                "User-Name = \"{acme_user}\"\nAcct-Session-Id = \"stray-1\"\nNAS-IP-Address = {beta_ip}\n\
                 Acct-Status-Type = Start\nEvent-Timestamp = {t0}\n"
            ),
        )
        .await;
    let s = sessions(&acme_db).await;
    assert_eq!(s.len(), 1, "{s:?}");
    assert_eq!((s[0].input_octets, s[0].output_octets, s[0].last_update), (1000, 2000, Some(t0 + 60)), "{s:?}");
    assert_eq!(radacct_count(&acme_db).await, 1);
    assert_eq!(radacct_count(&beta_db).await, 0, "beta's NAS may not write acme's session anywhere");

    // ... but it is reported to beta's operator (beta's NAS sent it) in beta's next run report and
    // metric, once; acme's report does not carry it
    let out = beta_agent.try_pass().await.expect("beta pass with foreign accounting");
    assert_eq!(
        out.foreign
            .iter()
            .map(|r| (
                r.nas_tenant.as_str(),
                r.realm.as_str(),
                r.nas_ip.as_str(),
                r.session_id.as_str(),
                r.status.as_str()
            ))
            .collect::<Vec<_>>(),
        vec![("beta", "acme", "127.0.0.3", "stray-1", "Start")],
        "{:?}",
        out.foreign
    );
    assert_eq!(metrics.foreign_accounting("beta", "acme"), 1);
    assert!(
        metrics.render().contains("konnekted_radius_foreign_accounting_total{nas_tenant=\"beta\",realm=\"acme\"} 1\n"),
        "{}",
        metrics.render()
    );
    assert!(beta_agent.try_pass().await.expect("beta pass again").foreign.is_empty(), "reported once");
    assert!(acme_agent.try_pass().await.expect("acme pass").foreign.is_empty(), "acme's NAS sent none");

    // usage push while online: acme's edge shows the session and the day so far; beta's shows nothing
    let pushed = acme_agent.try_usage_push().await.expect("acme usage push");
    assert_eq!((pushed.days, pushed.online), (1, 1));
    let pushed = beta_agent.try_usage_push().await.expect("beta usage push");
    assert_eq!((pushed.days, pushed.online), (0, 0));
    let online = acme.get("/online").await;
    let o = online.as_array().expect("online list");
    assert_eq!(o.len(), 1, "{online}");
    assert_eq!(
        (&o[0]["username"], &o[0]["session_id"], &o[0]["nas_ip"], &o[0]["framed_ip"]),
        (&json!("a100"), &json!("acme-sess-1"), &json!("127.0.0.2"), &json!("100.64.0.10")),
        "{online}"
    );
    assert_eq!(
        (&o[0]["input_octets"], &o[0]["output_octets"], &o[0]["subscriber_id"]),
        (&json!(1000), &json!(2000), &json!(acme_id))
    );
    let day = day_string(today);
    let so_far = json!([{"username": "a100", "day": day, "input_octets": 1000, "output_octets": 2000,
                         "online_seconds": 60, "sessions": 1}]);
    assert_eq!(acme.get("/usage").await, so_far);
    assert_eq!(beta.get("/online").await, json!([]));
    assert_eq!(beta.get("/usage").await, json!([]));

    // ===== 3. plan change in billing -> fast path -> CoA to the NAS of the open session + next Accept
    acme.patch_subscriber(&acme_id, json!({"plan": "fast"})).await;
    let out = acme_agent.try_fast_path().await.expect("acme fast path").expect("feed has the plan change");
    // one row: the user's radusergroup row moves from kn_plan_basic to kn_plan_fast
    assert_eq!((out.sync.added, out.sync.changed, out.sync.removed), (0, 1, 0), "{:?}", out.sync);
    assert_eq!(
        coa_view(&out.coa),
        vec![("a100".to_owned(), "rate_limit", "127.0.0.2".to_owned(), "acme-sess-1".to_owned(), "ack".to_owned())]
    );
    let seen = acme_coa.received();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].code, code::COA_REQUEST);
    assert_eq!(seen[0].get_string(attr::USER_NAME).as_deref(), Some(acme_user.as_str()));
    assert_eq!(seen[0].get_string(attr::ACCT_SESSION_ID).as_deref(), Some("acme-sess-1"));
    assert_eq!(seen[0].get(attr::FRAMED_IP_ADDRESS), Some(&[100u8, 64, 0, 10][..]));
    assert_eq!(seen[0].get_vendor_string(vendor::MIKROTIK, vendor::MIKROTIK_RATE_LIMIT).as_deref(), Some("5M/20M"));
    // beta's feed is its own: nothing to do there
    assert!(beta_agent.try_fast_path().await.expect("beta feed").is_none());
    assert!(beta_coa.received().is_empty());

    let r = accepted(&acme_nas, &acme_user, "acme-pw-1", &rad).await;
    assert_eq!(r.rate_limit().as_deref(), Some("5M/20M"), "acme fast = 20/5 Mbps: {r:?}");
    let r = accepted(&beta_nas, &beta_realm_user, "beta-pw-2", &rad).await;
    assert_eq!(r.rate_limit().as_deref(), Some("1500k/4M"), "beta untouched: {r:?}");

    // ===== 4. Stop -> usage push -> exact octets on acme's edge, none on beta's
    acme_acct
        .send(
            &rad,
            &session(
                "Stop",
                "Acct-Session-Time = 120\nAcct-Input-Octets = 5000\nAcct-Output-Octets = 9000\n\
                 Acct-Terminate-Cause = User-Request\n",
                t0 + 120,
            ),
        )
        .await;
    let s = sessions(&acme_db).await;
    assert_eq!(s.len(), 1, "{s:?}");
    assert_eq!(
        (s[0].stop, s[0].session_time, s[0].input_octets, s[0].output_octets, s[0].terminate_cause.as_deref()),
        (Some(t0 + 120), Some(120), 5000, 9000, Some("User-Request")),
        "{s:?}"
    );
    assert_eq!(radacct_count(&beta_db).await, 0);

    let pushed = acme_agent.try_usage_push().await.expect("acme usage push");
    assert_eq!((pushed.days, pushed.online), (1, 0));
    let pushed = beta_agent.try_usage_push().await.expect("beta usage push");
    assert_eq!((pushed.days, pushed.online), (0, 0));
    let total = json!([{"username": "a100", "day": day, "input_octets": 5000, "output_octets": 9000,
                        "online_seconds": 120, "sessions": 1}]);
    assert_eq!(acme.get("/usage").await, total);
    assert_eq!(acme.get(&format!("/usage?subscriber={acme_id}")).await, total);
    assert_eq!(acme.get("/online").await, json!([]));
    assert_eq!(beta.get("/usage").await, json!([]));
    assert_eq!(beta.get(&format!("/usage?subscriber={beta_id}")).await, json!([]), "same username, other tenant");
    assert_eq!(beta.get("/online").await, json!([]));

    // ===== 5. suspension in billing -> fast path -> reject (acme) / walled garden (beta)
    acme.patch_subscriber(&acme_id, json!({"status": "suspended"})).await;
    beta.patch_subscriber(&beta_id, json!({"status": "suspended"})).await;
    let out = acme_agent.try_fast_path().await.expect("acme fast path").expect("feed has the suspension");
    assert!(out.coa.is_empty(), "nobody online, no Disconnect: {:?}", out.coa);
    // one row: radcheck Auth-Type := Reject
    assert_eq!((out.sync.added, out.sync.changed, out.sync.removed), (1, 0, 0), "{:?}", out.sync);
    let out = beta_agent.try_fast_path().await.expect("beta fast path").expect("feed has the suspension");
    assert!(out.coa.is_empty(), "{:?}", out.coa);
    // one row: the user's radusergroup row moves to kn_walled_garden
    assert_eq!((out.sync.added, out.sync.changed, out.sync.removed), (0, 1, 0), "{:?}", out.sync);
    assert!(acme_coa.received().is_empty() && beta_coa.received().is_empty());

    rejected(&acme_nas, &acme_user, "acme-pw-1", &rad).await;
    let r = accepted(&beta_nas, &beta_realm_user, "beta-pw-2", &rad).await;
    assert_eq!(
        (r.address_list().as_deref(), r.rate_limit().as_deref()),
        (Some("konnekted-suspended"), Some("256k/256k")),
        "beta suspends into the walled garden: {r:?}"
    );

    acme_db.close().await;
    beta_db.close().await;
    println!("chain test took {:.1}s", started.elapsed().as_secs_f64());
}

//! A hotspot code through a real FreeRADIUS: the configuration `radius-sql` generates (rest module
//! and per-tenant voucher key), `radclient` as the router, the native host's `POST /radius/voucher`
//! as the edge. Realms e2e-h28 and e2e-h41 (fail static: redeemed codes from the RADIUS agent's rows). Without the `freeradius` binary the test prints `SKIPPED` and
//! passes, unless `KONNEKTED_REQUIRE_FREERADIUS` is set (the test command installs FreeRADIUS).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use konnekted_e2e::env;
use konnekted_radius::config::{NasClient, ServerConfig, TenantConfig, write_raddb};
use konnekted_radius::db::{DbSettings, Secret, migrate};
use serde_json::json;

const NAS_SECRET: &str = "testing123";

fn freeradius_present() -> bool {
    let ok = Command::new("freeradius").arg("-v").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
        && Command::new("radclient").arg("-h").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok();
    if !ok {
        assert!(
            std::env::var_os("KONNEKTED_REQUIRE_FREERADIUS").is_none(),
            "freeradius/radclient missing but KONNEKTED_REQUIRE_FREERADIUS is set"
        );
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), "SKIPPED hotspot_radius: freeradius or radclient not installed");
    }
    ok
}

fn free_udp_pair() -> (u16, u16) {
    for _ in 0..200 {
        let p = 20_000 + (rand::random::<u16>() % 30_000);
        if std::net::UdpSocket::bind(("127.0.0.1", p)).is_ok()
            && std::net::UdpSocket::bind(("127.0.0.1", p + 1)).is_ok()
        {
            return (p, p + 1);
        }
    }
    panic!("no free UDP port pair");
}

struct Radiusd(Child);

impl Drop for Radiusd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One Access-Request through `radclient`: (the reply's code line, the whole output).
fn radclient(port: u16, attrs: &str) -> (String, String) {
    let mut child = Command::new("radclient")
        .args(["-x", "-r", "1", "-t", "5", &format!("127.0.0.1:{port}"), "auth", NAS_SECRET])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("radclient");
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(attrs.as_bytes()).expect("write attributes");
    }
    let out = child.wait_with_output().expect("radclient output");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let code = text.lines().find(|l| l.contains("Received Access-")).unwrap_or("").to_owned();
    (code, text)
}

fn hotspot_login(port: u16, user: &str, password_attr: &str, mac: &str) -> (String, String) {
    radclient(
        port,
        &format!(
            "User-Name = \"{user}@e2e-h28\"\n{password_attr}\nCalling-Station-Id = \"{mac}\"\nNAS-IP-Address = 127.0.0.1\n"
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freeradius_accepts_a_fresh_code_through_the_edge_with_its_terms_and_rejects_a_forged_one() {
    if !freeradius_present() {
        return;
    }
    let e = env("e2e-h28").await;
    let (s, v) = e
        .post(
            "/plans",
            json!({"code": "h1", "name": "1 hour", "kind": "hotspot", "price_cents": 1000, "period_seconds": 3600,
                   "down_kbps": 2000, "up_kbps": 1000}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = e.post("/voucher-batches", json!({"plan": "h1", "count": 3})).await;
    assert_eq!(s, 201, "{v}");
    let id = v["batch"]["id"].as_u64().expect("id");
    let codes = e.get(&format!("/voucher-batches/{id}/codes")).await;
    let code = |i: usize| codes["codes"][i]["code"].as_str().expect("code").replace('-', "");

    let dir = std::env::temp_dir().join(format!("konnekted-hotspot-radius-{}", rand::random::<u32>()));
    std::fs::create_dir_all(&dir).expect("dir");
    let (auth, acct) = free_udp_pair();
    let server = ServerConfig {
        listen_addr: "127.0.0.1".into(),
        auth_port: auth,
        acct_port: acct,
        log_dir: dir.join("log"),
        run_dir: dir.join("run"),
        voucher_edge_url: Some(e.base.clone()),
        shared_clients: vec![NasClient {
            ip: "127.0.0.1".into(),
            secret: Secret::new(NAS_SECRET),
            shortname: "harness".into(),
        }],
        ..ServerConfig::default()
    };
    let key = konnekted_sync_proto::radius_voucher_key(e.sync_key.as_bytes());
    let tenant = TenantConfig {
        realm: "e2e-h28".into(),
        db: DbSettings::Sqlite { path: dir.join("e2e-h28.db") },
        nas: vec![],
        vouchers: true,
        voucher_key: Some(Secret::new(key)),
        statement_timeout_ms: None,
    };
    migrate(&tenant.db).await.expect("tenant RADIUS database");
    let raddb = dir.join("raddb");
    write_raddb(&server, std::slice::from_ref(&tenant), &raddb).expect("generated configuration");
    let check = Command::new("freeradius").arg("-C").arg("-d").arg(&raddb).output().expect("freeradius -C");
    assert!(check.status.success(), "freeradius -C: {}", String::from_utf8_lossy(&check.stdout));
    let _radiusd = Radiusd(
        Command::new("freeradius")
            .arg("-f")
            .arg("-d")
            .arg(&raddb)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("freeradius"),
    );
    let log = || std::fs::read_to_string(dir.join("log/radius.log")).unwrap_or_default();
    let mut up = false;
    for _ in 0..50 {
        if !radclient(auth, "User-Name = \"ping\"\nUser-Password = \"x\"\n").0.is_empty() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(up, "freeradius did not answer: {}", log());

    // A fresh code by PAP: accepted with the time left, the plan's rate and the idle timeout.
    let mac = "02-00-00-00-00-01";
    let (reply, out) = hotspot_login(auth, &code(0), &format!("User-Password = \"{}\"", code(0)), mac);
    assert!(reply.contains("Access-Accept"), "{out}\n{}", log());
    assert!(out.contains("Session-Timeout = 3600") || out.contains("Session-Timeout = 3599"), "{out}");
    assert!(out.contains("Mikrotik-Rate-Limit = \"1M/2M\""), "{out}");
    assert!(out.contains("Idle-Timeout = 300"), "{out}");
    // The same code again on the same device, by CHAP (what a hotspot sends by default).
    let (reply, out) = hotspot_login(auth, &code(0), &format!("CHAP-Password = \"{}\"", code(0)), mac);
    assert!(reply.contains("Access-Accept"), "{out}");
    // A wrong password for a real code, a forged code: rejected, the forged one with the edge's words.
    let (reply, out) = hotspot_login(auth, &code(1), "User-Password = \"guess\"", mac);
    assert!(reply.contains("Access-Reject"), "{out}");
    let mut forged = code(2).into_bytes();
    forged[0] = if forged[0] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).expect("ascii");
    let (reply, out) = hotspot_login(auth, &forged, &format!("User-Password = \"{forged}\""), mac);
    assert!(reply.contains("Access-Reject"), "{out}");
    assert!(out.contains("no such voucher"), "the edge's reason reaches the router: {out}");

    let report = e.get("/voucher-report").await;
    let b = report["batches"].as_array().expect("batches").iter().find(|b| b["batch"] == id).cloned().expect("batch");
    // code(0) by its first login; code(1) too: the edge redeems before FreeRADIUS checks the password.
    assert_eq!(b["redeemed"], 2, "{report}");
    let _ = std::fs::remove_dir_all(Path::new(&dir));
}

/// A TCP forwarder standing in for the edge as FreeRADIUS sees it: aborting its task stops the
/// edge for FreeRADIUS (connections refused) while the test and the agent still reach the host.
async fn forwarder(to: String) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let task = tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        while let Ok((mut inbound, _)) = listener.accept().await {
            let to = to.clone();
            conns.spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(&to).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    (url, task)
}

fn login_at(port: u16, realm: &str, code: &str, mac: &str) -> (String, String) {
    radclient(
        port,
        &format!(
            "User-Name = \"{code}@{realm}\"\nUser-Password = \"{code}\"\nCalling-Station-Id = \"{mac}\"\nNAS-IP-Address = 127.0.0.1\n"
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freeradius_keeps_accepting_a_redeemed_code_with_the_edge_stopped_until_it_expires() {
    if !freeradius_present() {
        return;
    }
    const REALM: &str = "e2e-h41";
    let e = env(REALM).await;
    let mut batches = Vec::new();
    for (plan, seconds) in [("h1", 3600), ("m1", 60)] {
        let (s, v) = e
            .post(
                "/plans",
                json!({"code": plan, "name": plan, "kind": "hotspot", "price_cents": 1000, "period_seconds": seconds,
                       "down_kbps": 2000, "up_kbps": 1000}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        let (s, v) = e.post("/voucher-batches", json!({"plan": plan, "count": 2})).await;
        assert_eq!(s, 201, "{v}");
        let id = v["batch"]["id"].as_u64().expect("id");
        let codes = e.get(&format!("/voucher-batches/{id}/codes")).await;
        let codes: Vec<String> =
            (0..2).map(|i| codes["codes"][i]["code"].as_str().expect("code").replace('-', "")).collect();
        batches.push(codes);
    }
    let (hour, minute) = (&batches[0], &batches[1]);

    let host = e.base.trim_start_matches("http://").to_owned();
    let (edge_url, edge) = forwarder(host).await;
    let dir = std::env::temp_dir().join(format!("konnekted-fail-static-{}", rand::random::<u32>()));
    std::fs::create_dir_all(&dir).expect("dir");
    let (auth, acct) = free_udp_pair();
    let server = ServerConfig {
        listen_addr: "127.0.0.1".into(),
        auth_port: auth,
        acct_port: acct,
        log_dir: dir.join("log"),
        run_dir: dir.join("run"),
        voucher_edge_url: Some(edge_url),
        shared_clients: vec![NasClient {
            ip: "127.0.0.1".into(),
            secret: Secret::new(NAS_SECRET),
            shortname: "harness".into(),
        }],
        ..ServerConfig::default()
    };
    let db = DbSettings::Sqlite { path: dir.join(format!("{REALM}.db")) };
    let tenant = TenantConfig {
        realm: REALM.into(),
        db: db.clone(),
        nas: vec![],
        vouchers: true,
        voucher_key: Some(Secret::new(konnekted_sync_proto::radius_voucher_key(e.sync_key.as_bytes()))),
        statement_timeout_ms: None,
    };
    migrate(&tenant.db).await.expect("tenant RADIUS database");
    let raddb = dir.join("raddb");
    write_raddb(&server, std::slice::from_ref(&tenant), &raddb).expect("generated configuration");
    let _radiusd = Radiusd(
        Command::new("freeradius")
            .arg("-f")
            .arg("-d")
            .arg(&raddb)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("freeradius"),
    );
    let log = || std::fs::read_to_string(dir.join("log/radius.log")).unwrap_or_default();
    let mut up = false;
    for _ in 0..50 {
        if !radclient(auth, "User-Name = \"ping\"\nUser-Password = \"x\"\n").0.is_empty() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(up, "freeradius did not answer: {}", log());

    // First use through the edge: the hour code and the minute code.
    let mac = "02-00-00-00-00-41";
    let (reply, out) = login_at(auth, REALM, &hour[0], mac);
    assert!(reply.contains("Access-Accept"), "{out}\n{}", log());
    let (reply, out) = login_at(auth, REALM, &minute[0], mac);
    assert!(reply.contains("Access-Accept"), "{out}\n{}", log());
    let minute_ends = std::time::Instant::now() + Duration::from_secs(60);

    // The RADIUS agent's pass writes the redeemed codes into the tenant's RADIUS database.
    let agent_cfg = konnekted_radius_agent::TenantConfig {
        realm: REALM.into(),
        sync_key: Secret::new(e.sync_key.clone()),
        db,
        policy: Default::default(),
        nas: vec![],
    };
    let intervals = konnekted_radius_agent::config::Intervals::default();
    let mut agent = konnekted_radius_agent::TenantAgent::new(&e.base, agent_cfg, &intervals).expect("agent");
    agent.try_pass().await.expect("agent pass");

    // The edge stops for FreeRADIUS.
    edge.abort();
    let _ = edge.await;
    let (reply, out) = login_at(auth, REALM, &hour[1], mac);
    assert!(reply.contains("Access-Reject"), "an unredeemed code needs the edge: {out}");
    assert!(out.contains("Voucher service unavailable"), "the edge is really unreachable: {out}");

    // The redeemed codes still log in, from RADIUS's own rows, with the time left and the plan's rate.
    let (reply, out) = login_at(auth, REALM, &hour[0], mac);
    assert!(reply.contains("Access-Accept"), "{out}\n{}", log());
    let timeout: i64 = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("Session-Timeout = "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("Session-Timeout in {out}"));
    assert!((3500..=3600).contains(&timeout), "the time left, not the plan's period from now: {timeout}");
    assert!(out.contains("Mikrotik-Rate-Limit = \"1M/2M\""), "{out}");
    let (reply, out) = hotspot_login_realm(auth, REALM, &hour[0], mac);
    assert!(reply.contains("Access-Accept"), "CHAP too: {out}");
    let (reply, out) = login_at(auth, REALM, &minute[0], mac);
    assert!(reply.contains("Access-Accept"), "{out}");
    let (reply, out) = radclient(
        auth,
        &format!("User-Name = \"{}@{REALM}\"\nUser-Password = \"guess\"\nNAS-IP-Address = 127.0.0.1\n", hour[0]),
    );
    assert!(reply.contains("Access-Reject"), "a wrong password for a stored code: {out}");

    // Past its end the minute code is refused, though its row is still there (no pass since).
    tokio::time::sleep_until((minute_ends + Duration::from_secs(2)).into()).await;
    let (reply, out) = login_at(auth, REALM, &minute[0], mac);
    assert!(reply.contains("Access-Reject"), "expired: {out}");
    let (reply, _) = login_at(auth, REALM, &hour[0], mac);
    assert!(reply.contains("Access-Accept"));
    let _ = std::fs::remove_dir_all(Path::new(&dir));
}

fn hotspot_login_realm(port: u16, realm: &str, code: &str, mac: &str) -> (String, String) {
    radclient(
        port,
        &format!(
            "User-Name = \"{code}@{realm}\"\nCHAP-Password = \"{code}\"\nCalling-Station-Id = \"{mac}\"\nNAS-IP-Address = 127.0.0.1\n"
        ),
    )
}

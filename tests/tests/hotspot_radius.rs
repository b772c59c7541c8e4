//! A hotspot code through a real FreeRADIUS: the configuration `radius-sql` generates (rest module
//! and per-tenant voucher key), `radclient` as the router, the native host's `POST /radius/voucher`
//! as the edge. Realms e2e-h28 (the edge's answers) and e2e-h41 (fail static: with the edge
//! stopped, redeemed codes answered from the rows the RADIUS agent wrote). Without the
//! `freeradius` binary the tests print `SKIPPED` and pass, unless `KONNEKTED_REQUIRE_FREERADIUS`
//! is set (the test command installs FreeRADIUS).

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
    let (_radiusd, auth) = start_freeradius(&dir, &e.base, &tenant).await;
    let log = || std::fs::read_to_string(dir.join("log/radius.log")).unwrap_or_default();

    // A fresh code by PAP: accepted with the time left, the plan's rate and the idle timeout.
    let mac = "02-00-00-00-00-01";
    let (reply, out) = code_login(auth, "e2e-h28", &code(0), &code(0), false, Some(mac));
    assert!(reply.contains("Access-Accept"), "{out}\n{}", log());
    assert!(out.contains("Session-Timeout = 3600") || out.contains("Session-Timeout = 3599"), "{out}");
    assert!(out.contains("Mikrotik-Rate-Limit = \"1M/2M\""), "{out}");
    assert!(out.contains("Idle-Timeout = 300"), "{out}");
    // The same code again on the same device, by CHAP (what a hotspot sends by default).
    let (reply, out) = code_login(auth, "e2e-h28", &code(0), &code(0), true, Some(mac));
    assert!(reply.contains("Access-Accept"), "{out}");
    // A wrong password for a real code, a forged code: rejected, the forged one with the edge's words.
    let (reply, out) = code_login(auth, "e2e-h28", &code(1), "guess", false, Some(mac));
    assert!(reply.contains("Access-Reject"), "{out}");
    let mut forged = code(2).into_bytes();
    forged[0] = if forged[0] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).expect("ascii");
    let (reply, out) = code_login(auth, "e2e-h28", &forged, &forged, false, Some(mac));
    assert!(reply.contains("Access-Reject"), "{out}");
    assert!(out.contains("no such voucher"), "the edge's reason reaches the router: {out}");

    let report = e.get("/voucher-report").await;
    let b = report["batches"].as_array().expect("batches").iter().find(|b| b["batch"] == id).cloned().expect("batch");
    // code(0) by its first login; code(1) too: the edge redeems before FreeRADIUS checks the password.
    assert_eq!(b["redeemed"], 2, "{report}");
    let _ = std::fs::remove_dir_all(Path::new(&dir));
}

/// Generates the configuration for one tenant into `dir/raddb`, checks it and starts FreeRADIUS
/// on a free port pair; returns when it answers.
async fn start_freeradius(dir: &Path, edge_url: &str, tenant: &TenantConfig) -> (Radiusd, u16) {
    let (auth, acct) = free_udp_pair();
    let server = ServerConfig {
        listen_addr: "127.0.0.1".into(),
        auth_port: auth,
        acct_port: acct,
        log_dir: dir.join("log"),
        run_dir: dir.join("run"),
        voucher_edge_url: Some(edge_url.to_owned()),
        shared_clients: vec![NasClient {
            ip: "127.0.0.1".into(),
            secret: Secret::new(NAS_SECRET),
            shortname: "harness".into(),
        }],
        ..ServerConfig::default()
    };
    let raddb = dir.join("raddb");
    write_raddb(&server, std::slice::from_ref(tenant), &raddb).expect("generated configuration");
    let check = Command::new("freeradius").arg("-C").arg("-d").arg(&raddb).output().expect("freeradius -C");
    assert!(check.status.success(), "freeradius -C: {}", String::from_utf8_lossy(&check.stdout));
    let radiusd = Radiusd(
        Command::new("freeradius")
            .arg("-f")
            .arg("-d")
            .arg(&raddb)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("freeradius"),
    );
    for _ in 0..50 {
        if !radclient(auth, "User-Name = \"ping\"\nUser-Password = \"x\"\n").0.is_empty() {
            return (radiusd, auth);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("freeradius did not answer: {}", std::fs::read_to_string(dir.join("log/radius.log")).unwrap_or_default());
}

/// A PAP (or CHAP) login of `code` from the device `mac` (none: no Calling-Station-Id).
fn code_login(port: u16, realm: &str, code: &str, password: &str, chap: bool, mac: Option<&str>) -> (String, String) {
    let pw = if chap { "CHAP-Password" } else { "User-Password" };
    let station = mac.map(|m| format!("Calling-Station-Id = \"{m}\"\n")).unwrap_or_default();
    radclient(
        port,
        &format!("User-Name = \"{code}@{realm}\"\n{pw} = \"{password}\"\n{station}NAS-IP-Address = 127.0.0.1\n"),
    )
}

/// The value of `attr` in radclient's output of a reply (`None`: not in it).
fn reply_attr(out: &str, attr: &str) -> Option<String> {
    out.lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{attr} = ")).map(|v| v.trim().trim_matches('"').to_owned()))
}

/// Session-Timeout of an accepted reply, in seconds.
fn session_timeout(out: &str) -> i64 {
    reply_attr(out, "Session-Timeout")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no Session-Timeout in {out}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freeradius_with_the_edge_stopped_accepts_redeemed_codes_on_their_devices_only_until_they_end() {
    if !freeradius_present() {
        return;
    }
    const REALM: &str = "e2e-h41";
    let e = env(REALM).await;
    if e.host_addr().is_none() {
        // The edge must be stopped and its clock moved: a native host's only.
        eprintln!("SKIPPED fail static: needs the in-process native host");
        return;
    }
    // A day's pass for two devices with 5,000,000,000 bytes (more than 2^32: Gigawords), and
    // a minute's code.
    let mut codes = Vec::new();
    for (plan, seconds, cap, devices) in [("d2", 86_400, Some(5_000_000_000i64), 2), ("m1", 60, None, 1)] {
        let (s, v) = e
            .post(
                "/plans",
                json!({"code": plan, "name": plan, "kind": "hotspot", "price_cents": 1000, "period_seconds": seconds,
                       "down_kbps": 2000, "up_kbps": 1000, "data_cap_bytes": cap, "max_devices": devices}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        let (s, v) = e.post("/voucher-batches", json!({"plan": plan, "count": 2})).await;
        assert_eq!(s, 201, "{v}");
        let id = v["batch"]["id"].as_u64().expect("id");
        let listed = e.get(&format!("/voucher-batches/{id}/codes")).await;
        codes.push((0..2).map(|i| listed["codes"][i]["code"].as_str().expect("code").replace('-', "")).collect());
    }
    let (day, minute): (&Vec<String>, &Vec<String>) = (&codes[0], &codes[1]);

    let dir = std::env::temp_dir().join(format!("konnekted-fail-static-{}", rand::random::<u32>()));
    std::fs::create_dir_all(&dir).expect("dir");
    let db = DbSettings::Sqlite { path: dir.join(format!("{REALM}.db")) };
    let tenant = TenantConfig {
        realm: REALM.into(),
        db: db.clone(),
        nas: vec![],
        vouchers: true,
        voucher_key: Some(Secret::new(konnekted_sync_proto::radius_voucher_key(e.sync_key.as_bytes()))),
        statement_timeout_ms: None,
    };
    let radius_db = migrate(&tenant.db).await.expect("tenant RADIUS database");
    let (_radiusd, auth) = start_freeradius(&dir, &e.base, &tenant).await;
    let log = || std::fs::read_to_string(dir.join("log/radius.log")).unwrap_or_default();

    // The day code's first use through FreeRADIUS and the edge, then a second device joins it.
    let (phone, laptop, stranger) = ("02-00-00-00-00-41", "02:00:00:00:00:4b", "02-00-00-00-00-99");
    let (reply, out) = code_login(auth, REALM, &day[0], &day[0], false, Some(phone));
    assert!(reply.contains("Access-Accept"), "{out}\n{}", log());
    let (reply, out) = code_login(auth, REALM, &day[0], &day[0], true, Some(laptop));
    assert!(reply.contains("Access-Accept"), "the second device of two: {out}\n{}", log());
    // The minute code redeemed through POST /radius/voucher 50 s ago (the host's clock moved
    // back): it ends 10 s from now.
    let redeemed_at = chrono::Utc::now() - chrono::Duration::seconds(50);
    let req = http::Request::post("/radius/voucher")
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            konnekted_sync_proto::HEADER_VOUCHER_KEY,
            konnekted_sync_proto::radius_voucher_key(e.sync_key.as_bytes()),
        )
        .body(bytes::Bytes::from(format!("realm={REALM}&code={}&mac={phone}&ip=10.5.50.2&nas=127.0.0.1", minute[0])))
        .expect("request");
    let r = e.request_at(redeemed_at, req).await.expect("native host");
    assert_eq!(r.status(), 200, "{}", String::from_utf8_lossy(r.body()));
    let minute_ends = redeemed_at + chrono::Duration::seconds(60);

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
    let mut conn = radius_db.pool().acquire().await.expect("RADIUS database");
    let rows = konnekted_radius::sync::read_observed(&mut conn, radius_db.backend()).await.expect("rows");
    drop(conn);
    let value = |rows: &[konnekted_radius::sync::AvpRow], user: &str, attr: &str| {
        rows.iter().find(|r| r.name == user && r.attribute == attr).map(|r| (r.op.clone(), r.value.clone()))
    };
    let end: i64 = value(&rows.radcheck, &day[0], "Expiration").expect("the day code's end").1.parse().expect("unix");
    let now = chrono::Utc::now().timestamp();
    assert!((now + 86_300..=now + 86_400).contains(&end), "a day from its first use: {end} (now {now})");
    let (op, minute_end) = value(&rows.radcheck, &minute[0], "Expiration").expect("the minute code's end");
    assert_eq!((op.as_str(), minute_end), (":=", minute_ends.timestamp().to_string()));
    let (op, pattern) = value(&rows.radcheck, &day[0], "Calling-Station-Id").expect("the day code's devices");
    assert_eq!(op, "=~");
    assert_eq!(pattern.matches('|').count(), 1, "two devices: {pattern}");
    assert!(value(&rows.radcheck, &minute[0], "Calling-Station-Id").is_some(), "the minute code's device");
    assert_eq!(value(&rows.radreply, &day[0], "Mikrotik-Total-Limit"), Some((":=".into(), "705032704".into())));
    assert_eq!(value(&rows.radreply, &day[0], "Mikrotik-Total-Limit-Gigawords"), Some((":=".into(), "1".into())));
    assert!(value(&rows.radreply, &minute[0], "Mikrotik-Total-Limit").is_none(), "no cap, no limit");
    assert!(value(&rows.radcheck, &day[1], "Cleartext-Password").is_none(), "an unused code is not copied");

    // The edge stops: its port refuses connections, and so the rest module's calls fail.
    assert!(e.stop_host());
    let addr = e.host_addr().expect("host");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "the edge still accepts connections");
    let (reply, out) = code_login(auth, REALM, &day[1], &day[1], false, Some(phone));
    assert!(reply.contains("Access-Reject"), "an unused code needs the edge: {out}");
    assert!(out.contains("Voucher service unavailable"), "the edge is really unreachable: {out}");

    // The day code still logs in from RADIUS's own rows, from both its devices (any MAC form),
    // PAP and CHAP, with the time left, the plan's rate and the data left.
    for (mac, chap) in [(phone, false), (laptop, true), ("02:00:00:00:00:41", true), ("02-00-00-00-00-4B", false)] {
        let (reply, out) = code_login(auth, REALM, &day[0], &day[0], chap, Some(mac));
        assert!(reply.contains("Access-Accept"), "{mac}: {out}\n{}", log());
        let left = end - chrono::Utc::now().timestamp();
        assert!((left - 2..=left + 1).contains(&session_timeout(&out)), "the time left ({left} s): {out}");
        assert_eq!(reply_attr(&out, "Mikrotik-Rate-Limit").as_deref(), Some("1M/2M"), "{out}");
        assert_eq!(reply_attr(&out, "Mikrotik-Total-Limit").as_deref(), Some("705032704"), "{out}");
        assert_eq!(reply_attr(&out, "Mikrotik-Total-Limit-Gigawords").as_deref(), Some("1"), "{out}");
        assert_eq!(
            reply_attr(&out, "Idle-Timeout").as_deref(),
            Some("300"),
            "the tenant's, as the edge answers: {out}"
        );
    }
    // Another device, or none named: refused (SQL cannot bind a new device; the edge would).
    let (reply, out) = code_login(auth, REALM, &day[0], &day[0], false, Some(stranger));
    assert!(reply.contains("Access-Reject"), "another device: {out}");
    let (reply, out) = code_login(auth, REALM, &day[0], &day[0], false, None);
    assert!(reply.contains("Access-Reject"), "no device: {out}");
    let (reply, out) = code_login(auth, REALM, &minute[0], &minute[0], false, Some(laptop));
    assert!(reply.contains("Access-Reject"), "the minute code is the phone's alone: {out}");
    // A wrong password for a stored code, a forged code: refused.
    let (reply, out) = code_login(auth, REALM, &day[0], "guess", false, Some(phone));
    assert!(reply.contains("Access-Reject"), "a wrong password: {out}");
    let mut forged = day[0].clone().into_bytes();
    forged[11] = if forged[11] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).expect("ascii");
    let (reply, out) = code_login(auth, REALM, &forged, &forged, false, Some(phone));
    assert!(reply.contains("Access-Reject"), "a forged code: {out}");

    // The minute code: accepted for the seconds it has left, refused from its end on, though
    // its rows are still there (no pass since).
    let (reply, out) = code_login(auth, REALM, &minute[0], &minute[0], false, Some(phone));
    assert!(reply.contains("Access-Accept"), "{out}\n{}", log());
    let left = minute_ends.timestamp() - chrono::Utc::now().timestamp();
    assert!(left > 0, "the test was too slow to see the minute code running");
    assert!((1..=left + 1).contains(&session_timeout(&out)), "the seconds left ({left}), not the plan's 60: {out}");
    let wait = (minute_ends - chrono::Utc::now()).to_std().unwrap_or_default() + Duration::from_millis(1500);
    tokio::time::sleep(wait).await;
    let (reply, out) = code_login(auth, REALM, &minute[0], &minute[0], false, Some(phone));
    assert!(reply.contains("Access-Reject"), "ended: {out}");
    let (reply, out) = code_login(auth, REALM, &day[0], &day[0], false, Some(phone));
    assert!(reply.contains("Access-Accept"), "the day code goes on: {out}");
    let _ = std::fs::remove_dir_all(Path::new(&dir));
}

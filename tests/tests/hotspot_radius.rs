//! A hotspot code through a real FreeRADIUS: the configuration `radius-sql` generates (rest module
//! and per-tenant voucher key), `radclient` as the router, the native host's `POST /radius/voucher`
//! as the edge. Realm e2e-h28. Without the `freeradius` binary the test prints `SKIPPED` and
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

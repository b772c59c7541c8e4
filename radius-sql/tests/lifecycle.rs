//! Operating a real FreeRADIUS with the generated config: adding a tenant (HUP vs restart, measured)
//! and the voucher REST branch against a small local HTTP endpoint. SQLite tenants only, so this
//! needs no database server.

mod support;

use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use konnekted_radius::config::{TenantConfig, write_raddb};
use konnekted_radius::db::{DbSettings, Secret, migrate};
use konnekted_radius::sync::{DesiredState, PlanSpec, SubscriberSpec, SubscriberStatus, TenantPolicy, sync_tenant};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn state(user: &str, pw: &str, rate: &str) -> DesiredState {
    DesiredState {
        plans: vec![PlanSpec {
            name: "p".into(),
            rate_limit: rate.into(),
            session_timeout: None,
            address_list: None,
            idle_timeout: None,
        }],
        subscribers: vec![SubscriberSpec {
            username: user.into(),
            password: Secret::new(pw),
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

fn tenant(realm: &str, path: std::path::PathBuf, vouchers: bool) -> TenantConfig {
    TenantConfig {
        realm: realm.into(),
        db: DbSettings::Sqlite { path },
        nas: vec![],
        vouchers,
        voucher_key: vouchers.then(|| Secret::new(VOUCHER_KEY)),
        statement_timeout_ms: None,
    }
}

/// The tenant's voucher key the stub endpoint expects.
const VOUCHER_KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// Minimal edge voucher endpoint: POST /api/radius/voucher, form body with code=...
async fn voucher_endpoint(hits: Arc<AtomicUsize>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else { return };
            let hits = hits.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // read headers + body (small); stop when Content-Length bytes arrived
                loop {
                    let Ok(n) = s.read(&mut chunk).await else { return };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(h_end) = text.find("\r\n\r\n") {
                        let cl = text[..h_end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if buf.len() >= h_end + 4 + cl {
                            break;
                        }
                    }
                }
                hits.fetch_add(1, Ordering::SeqCst);
                let text = String::from_utf8_lossy(&buf).to_string();
                let (status, body) = if text.starts_with("POST /api/radius/voucher")
                    && text.contains("code=v123")
                    && text.contains("realm=one")
                    && text.to_ascii_lowercase().contains(&format!("x-konnekted-voucher-key: {VOUCHER_KEY}"))
                {
                    (
                        "200 OK",
                        r#"{"control:Cleartext-Password":"v-secret","reply:Mikrotik-Rate-Limit":"2M/2M","reply:Session-Timeout":3600}"#,
                    )
                } else {
                    ("404 Not Found", "{}")
                };
                let resp = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
                let _ = s.shutdown().await;
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adding_a_tenant_needs_restart_not_hup_and_vouchers_use_the_edge() {
    if !freeradius_or_skip("adding_a_tenant_needs_restart_not_hup_and_vouchers_use_the_edge") {
        return;
    }
    let dir = scratch_dir("lifecycle");
    let _cleanup = Cleanup { dbs: vec![], dir: Some(dir.clone()) };
    let hits = Arc::new(AtomicUsize::new(0));
    let port = voucher_endpoint(hits.clone()).await;
    let server = server_config(&dir, Some(format!("http://127.0.0.1:{port}/api")));

    let one = tenant("one", dir.join("one.db"), true);
    let two = tenant("two", dir.join("two.db"), false);
    let db1 = migrate(&one.db).await.unwrap();
    sync_tenant(&db1, &state("ann", "annpw", "3M/3M")).await.unwrap();
    let db2 = migrate(&two.db).await.unwrap();
    sync_tenant(&db2, &state("ben", "benpw", "4M/4M")).await.unwrap();

    let mut rad = start_radiusd(&server, std::slice::from_ref(&one), &dir).await;
    let c = Client::new(Ipv4Addr::LOCALHOST, SHARED_SECRET, rad.auth_addr(), Duration::from_secs(3), 1);

    // vouchers: first use goes to the edge; its answer authenticates (PAP and CHAP) and sets limits
    let r = c.pap("v123@one", "v-secret").await.unwrap();
    assert!(r.accepted() && r.rate_limit().as_deref() == Some("2M/2M"), "voucher accept: {r:?}\n{}", rad.log());
    let r = c.chap("v123@one", "v-secret").await.unwrap();
    assert!(r.accepted(), "voucher chap: {r:?}");
    let r = c.pap("v123@one", "wrong").await.unwrap();
    assert_eq!(r.code, 3, "voucher with wrong password");
    let r = c.pap("zzz@one", "x").await.unwrap();
    assert!(r.code == 3 && r.reply_message().as_deref() == Some("Unknown user"), "{r:?}");
    let before = hits.load(Ordering::SeqCst);
    assert!(before >= 4, "edge was called for unknown users ({before})");
    let r = c.pap("ann@one", "annpw").await.unwrap();
    assert!(r.accepted() && r.rate_limit().as_deref() == Some("3M/3M"));
    assert_eq!(hits.load(Ordering::SeqCst), before, "known users never hit the edge");

    // add tenant "two": regenerate, then HUP
    write_raddb(&server, &[one.clone(), two.clone()], &rad.raddb).unwrap();
    let st = Command::new("kill").arg("-HUP").arg(rad.child.id().to_string()).stdout(Stdio::null()).status().unwrap();
    assert!(st.success());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after_hup = c.pap("ben@two", "benpw").await;
    let hup_worked = matches!(&after_hup, Ok(r) if r.accepted());
    println!("after HUP: ben@two -> {:?}", after_hup.as_ref().map(|r| (r.code, r.reply_message())));
    // Documented in the README: a HUP does not load new sql instances/realms. If this starts
    // failing, FreeRADIUS changed and the README must be updated.
    assert!(!hup_worked, "HUP unexpectedly loaded the new tenant; update README");
    let r = c.pap("ann@one", "annpw").await.unwrap();
    assert!(r.accepted(), "existing tenant still served after HUP");

    // restart: stop, start, poll until the new tenant's first Accept
    let t_stop = Instant::now();
    rad.stop();
    let stop_ms = t_stop.elapsed().as_millis();
    let t_start = Instant::now();
    let rad2 = start_radiusd(&server, &[one.clone(), two.clone()], &dir).await;
    let c2 = Client::new(Ipv4Addr::LOCALHOST, SHARED_SECRET, rad2.auth_addr(), Duration::from_secs(3), 1);
    let r = c2.pap("ben@two", "benpw").await.unwrap();
    let start_ms = t_start.elapsed().as_millis();
    assert!(r.accepted() && r.rate_limit().as_deref() == Some("4M/4M"), "after restart: {r:?}");
    let r = c2.pap("v123@two", "v-secret").await.unwrap();
    assert_eq!(r.code, 3, "tenant without vouchers never asks the edge");
    println!(
        "restart figures: stop {stop_ms} ms, start to first accept of the new tenant {start_ms} ms (incl. freeradius -C)"
    );
    db1.close().await;
    db2.close().await;
}

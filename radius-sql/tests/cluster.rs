//! A FreeRADIUS cluster: two nodes started from the same generated directory (`freeradius -n a|b`),
//! two tenants (acme on PostgreSQL, beta on MariaDB) shared by both.
//!
//! - Auth load on both nodes from NASes that fail over as a MikroTik does (its `/radius` entries
//!   in order: the next one after `timeout` without an answer). Node a is stopped in the middle:
//!   every request is still answered (by b) and accepted; a is started again and answers again.
//!   a is stopped with SIGKILL: a SIGTERM under load makes FreeRADIUS 3.2.1 answer the requests
//!   still blocked in rlm_sql with an Access-Reject ("Rejected in post-auth") as it exits, while a
//!   killed node answers nothing and the NAS asks the other node (README). The test then stops b
//!   with SIGTERM under the same load and prints how many valid users got a reject (a figure, not
//!   a check: it is FreeRADIUS's behaviour) and checks no request is lost.
//! - Accounting: Start received by node a, Interim and Stop by node b, the Stop retransmitted to a
//!   and the Start retransmitted to b afterwards: one `radacct` row per session, closed once, with
//!   the Stop's figures.
//!
//! Skips (with a message) only if `freeradius` is missing and KONNEKTED_REQUIRE_FREERADIUS is unset.

mod support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::{Duration, Instant};

use konnekted_radius::accounting::read_sessions;
use konnekted_radius::config::{NasClient, RadiusNode, TenantConfig, write_raddb};
use konnekted_radius::db::{RadiusDb, Secret, migrate};
use konnekted_radius::packet::{self, Attribute, Packet, attr, code};
use konnekted_radius::sync::{DesiredState, PlanSpec, SubscriberSpec, SubscriberStatus, TenantPolicy, sync_tenant};
use support::*;

const ACCT_INPUT_OCTETS: u8 = 42;
const ACCT_OUTPUT_OCTETS: u8 = 43;
const ACCT_SESSION_TIME: u8 = 46;
const ACCT_TERMINATE_CAUSE: u8 = 49;
const EVENT_TIMESTAMP: u8 = 55;
const START: u32 = 1;
const STOP: u32 = 2;
const INTERIM: u32 = 3;

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

/// A NAS configured with several RADIUS servers, tried in order as RouterOS tries its `/radius`
/// entries: send to one, wait `timeout`, then the next; `rounds` passes over the list. The socket
/// is not connected, so (as for a router across a network) a stopped node costs the timeout rather
/// than an ICMP error.
#[derive(Clone)]
struct FailoverNas {
    src: Ipv4Addr,
    secret: String,
    servers: Vec<SocketAddr>,
    timeout: Duration,
    rounds: usize,
}

#[derive(Debug)]
struct Answer {
    /// Index in `servers` of the node that answered.
    by: usize,
    /// How many servers timed out before it.
    failovers: usize,
    code: u8,
    rate: Option<String>,
}

impl FailoverNas {
    async fn pap(&self, user: &str, password: &str) -> Option<Answer> {
        let sock = tokio::net::UdpSocket::bind(SocketAddr::new(IpAddr::V4(self.src), 0)).await.ok()?;
        let mut buf = vec![0u8; 4096];
        let mut failovers = 0;
        for _ in 0..self.rounds {
            for (by, server) in self.servers.iter().enumerate() {
                // A new identifier and authenticator per server, as a NAS builds its request per entry.
                let auth: [u8; 16] = rand::random();
                let hidden = packet::hide_user_password(password.as_bytes(), self.secret.as_bytes(), &auth);
                let mut p = Packet::new(code::ACCESS_REQUEST, rand::random());
                p.authenticator = auth;
                p.attributes = vec![
                    Attribute::string(attr::USER_NAME, user),
                    Attribute::Standard { typ: attr::USER_PASSWORD, value: hidden },
                    Attribute::ipv4(attr::NAS_IP_ADDRESS, self.src),
                    Attribute::integer(attr::NAS_PORT, 1),
                ];
                let bytes = packet::encode_access_request(&p, self.secret.as_bytes(), true).ok()?;
                sock.send_to(&bytes, server).await.ok()?;
                let deadline = tokio::time::Instant::now() + self.timeout;
                loop {
                    match tokio::time::timeout_at(deadline, sock.recv_from(&mut buf)).await {
                        Ok(Ok((n, from))) => {
                            // a late answer of the server tried before, or another identifier: ignore
                            if from != *server
                                || buf[1] != p.identifier
                                || !packet::verify_response(&buf[..n], &auth, self.secret.as_bytes())
                            {
                                continue;
                            }
                            let reply = Packet::decode(&buf[..n]).ok()?;
                            let rate = reply.get_vendor_string(
                                konnekted_radius::packet::vendor::MIKROTIK,
                                konnekted_radius::packet::vendor::MIKROTIK_RATE_LIMIT,
                            );
                            return Some(Answer { by, failovers, code: reply.code, rate });
                        }
                        Ok(Err(_)) => continue,
                        Err(_) => break,
                    }
                }
                failovers += 1;
            }
        }
        None
    }
}

#[derive(Debug)]
struct Sample {
    phase: u8,
    primary: usize,
    answer: Option<Answer>,
    latency: Duration,
}

const BOTH_UP: u8 = 0;
const A_STOPPED: u8 = 1;
const A_RESTARTING: u8 = 2;
const A_BACK: u8 = 3;
const B_SIGTERM: u8 = 4;

fn percentile(mut v: Vec<Duration>, p: f64) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    v.sort();
    v[((v.len() - 1) as f64 * p).round() as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freeradius_cluster_fails_over_and_closes_each_session_once() {
    let test = "freeradius_cluster_fails_over_and_closes_each_session_once";
    if !freeradius_or_skip(test) {
        return;
    }
    let began = Instant::now();
    let sfx = unique_suffix();
    let dir = scratch_dir("cluster");
    let acme_db = pg(&format!("krt_{sfx}_cacme"));
    let beta_db = mysql(&format!("krt_{sfx}_cbeta"));
    let _cleanup = Cleanup { dbs: vec![acme_db.clone(), beta_db.clone()], dir: Some(dir.clone()) };
    let acme = migrate(&acme_db).await.expect("migrate acme");
    let beta = migrate(&beta_db).await.expect("migrate beta");
    sync_tenant(&acme, &state("alice", "alicepw", "10M/10M")).await.unwrap();
    sync_tenant(&beta, &state("bob", "bobpw", "20M/20M")).await.unwrap();

    // One generated directory, two nodes: a on the server's ports, b on its own; own log/run dirs.
    let mut server = server_config(&dir, None);
    let (b_auth, b_acct) = loop {
        let other = server_config(&dir, None);
        if other.auth_port.abs_diff(server.auth_port) > 1 {
            break (other.auth_port, other.acct_port);
        }
    };
    server.nodes = vec![
        RadiusNode {
            name: "a".into(),
            listen_addr: None,
            auth_port: None,
            acct_port: None,
            log_dir: Some(dir.join("log-a")),
            run_dir: Some(dir.join("run-a")),
        },
        RadiusNode {
            name: "b".into(),
            listen_addr: None,
            auth_port: Some(b_auth),
            acct_port: Some(b_acct),
            log_dir: Some(dir.join("log-b")),
            run_dir: Some(dir.join("run-b")),
        },
    ];
    let tenants = vec![
        TenantConfig {
            realm: "acme".into(),
            db: acme_db.clone(),
            nas: vec![NasClient {
                ip: "127.0.0.2".into(),
                secret: Secret::new("acmesecret"),
                shortname: "pop1".into(),
            }],
            vouchers: false,
            voucher_key: None,
            statement_timeout_ms: None,
        },
        TenantConfig {
            realm: "beta".into(),
            db: beta_db.clone(),
            nas: vec![NasClient {
                ip: "127.0.0.3".into(),
                secret: Secret::new("betasecret"),
                shortname: "pop1".into(),
            }],
            vouchers: false,
            voucher_key: None,
            statement_timeout_ms: None,
        },
    ];
    let raddb = dir.join("raddb");
    write_raddb(&server, &tenants, &raddb).expect("render raddb");
    let mut node_a = start_node(&server, "a", &raddb).await;
    let mut node_b = start_node(&server, "b", &raddb).await;
    let addrs = [node_a.auth_addr(), node_b.auth_addr()];
    let acct_addrs = [node_a.acct_addr(), node_b.acct_addr()];
    assert_ne!(addrs[0], addrs[1]);
    println!("cluster up after {:?}: a {} / b {}", began.elapsed(), addrs[0], addrs[1]);

    let mut failures: Vec<String> = Vec::new();
    let mut check = |name: &str, ok: bool, detail: String| {
        if ok {
            println!("PASS {name}");
        } else {
            println!("FAIL {name}: {detail}");
            failures.push(format!("{name}: {detail}"));
        }
    };

    // 1. each node answers for each tenant, with the tenant's rate
    for (i, addr) in addrs.iter().enumerate() {
        for (src, secret, user, pw, rate) in [
            (Ipv4Addr::new(127, 0, 0, 2), "acmesecret", "alice@acme", "alicepw", "10M/10M"),
            (Ipv4Addr::new(127, 0, 0, 3), "betasecret", "bob@beta", "bobpw", "20M/20M"),
        ] {
            let r = Client::new(src, secret, *addr, Duration::from_secs(3), 1).pap(user, pw).await;
            check(
                &format!("node {} accepts {user}", ["a", "b"][i]),
                matches!(&r, Ok(r) if r.accepted() && r.rate_limit().as_deref() == Some(rate)),
                format!("{r:?}"),
            );
        }
    }

    // 2. auth load on both nodes: half the NASes have a as primary, half b. Stop a, start it again.
    let phase = Arc::new(AtomicU8::new(BOTH_UP));
    let done = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..8usize {
        let primary = w % 2;
        let (src, secret, user, pw) = if w % 4 < 2 {
            (Ipv4Addr::new(127, 0, 0, 2), "acmesecret", "alice@acme", "alicepw")
        } else {
            (Ipv4Addr::new(127, 0, 0, 3), "betasecret", "bob@beta", "bobpw")
        };
        let servers = if primary == 0 { vec![addrs[0], addrs[1]] } else { vec![addrs[1], addrs[0]] };
        let nas = FailoverNas { src, secret: secret.into(), servers, timeout: Duration::from_millis(500), rounds: 2 };
        let (phase, done) = (phase.clone(), done.clone());
        workers.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            while !done.load(Ordering::Relaxed) {
                let p = phase.load(Ordering::Relaxed);
                let t = Instant::now();
                let answer = nas.pap(user, pw).await.map(|mut a| {
                    // report the node, not the position in this NAS's list
                    a.by = if primary == 0 { a.by } else { 1 - a.by };
                    a
                });
                samples.push(Sample { phase: p, primary, answer, latency: t.elapsed() });
            }
            samples
        }));
    }
    let phase_started = Instant::now();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let both_up_secs = phase_started.elapsed().as_secs_f64();
    let t_stop = Instant::now();
    node_a.kill();
    assert!(matches!(node_a.child.try_wait(), Ok(Some(_))), "node a did not exit");
    let stop_ms = t_stop.elapsed().as_millis();
    phase.store(A_STOPPED, Ordering::Relaxed);
    let stopped_at = Instant::now();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let stopped_secs = stopped_at.elapsed().as_secs_f64();
    phase.store(A_RESTARTING, Ordering::Relaxed);
    let t_restart = Instant::now();
    drop(node_a);
    let node_a = start_node(&server, "a", &raddb).await;
    let restart_ms = t_restart.elapsed().as_millis();
    phase.store(A_BACK, Ordering::Relaxed);
    let back_at = Instant::now();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let back_secs = back_at.elapsed().as_secs_f64();
    // Measured, not required: node b stopped with SIGTERM (systemd's default) under the same load.
    // The requests sent from here on are the ones in flight when it gets the signal.
    phase.store(B_SIGTERM, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let term_at = Instant::now();
    node_b.stop();
    let term_ms = term_at.elapsed().as_millis();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let term_secs = term_at.elapsed().as_secs_f64() + 0.1;
    done.store(true, Ordering::Relaxed);
    let mut samples = Vec::new();
    for w in workers {
        samples.extend(w.await.unwrap());
    }
    drop(node_b);
    let node_b = start_node(&server, "b", &raddb).await;

    let of = |p: u8| samples.iter().filter(move |s| s.phase == p);
    let lost: Vec<&Sample> = samples.iter().filter(|s| s.answer.is_none()).collect();
    check("no request lost in any phase", lost.is_empty(), format!("{} of {}: {:?}", lost.len(), samples.len(), lost));
    let wrong: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.phase != B_SIGTERM)
        .filter(|s| {
            s.answer.as_ref().is_some_and(|a| {
                a.code != code::ACCESS_ACCEPT || !matches!(a.rate.as_deref(), Some("10M/10M" | "20M/20M"))
            })
        })
        .collect();
    check("every answer is an Accept with the tenant's rate", wrong.is_empty(), format!("{wrong:?}"));
    let answered_by = |p: u8, node: usize| of(p).filter(|s| s.answer.as_ref().is_some_and(|a| a.by == node)).count();
    check(
        "both nodes answer while both are up",
        answered_by(BOTH_UP, 0) > 10 && answered_by(BOTH_UP, 1) > 10,
        format!("a {} b {}", answered_by(BOTH_UP, 0), answered_by(BOTH_UP, 1)),
    );
    let a_primary_while_stopped = of(A_STOPPED)
        .filter(|s| s.primary == 0 && s.answer.as_ref().is_some_and(|a| a.by == 1 && a.failovers >= 1))
        .count();
    check(
        "while a is stopped, nothing comes from a and a's NASes fail over to b",
        answered_by(A_STOPPED, 0) == 0 && a_primary_while_stopped > 4,
        format!("from a {}, failed over to b {}", answered_by(A_STOPPED, 0), a_primary_while_stopped),
    );
    let a_back = of(A_BACK)
        .filter(|s| s.primary == 0 && s.answer.as_ref().is_some_and(|a| a.by == 0 && a.failovers == 0))
        .count();
    check("node a serves again after its restart", a_back > 10, format!("answered by a first try: {a_back}"));

    // figures
    for (p, name, secs) in [
        (BOTH_UP, "both up", both_up_secs),
        (A_STOPPED, "a stopped", stopped_secs),
        (A_RESTARTING, "a restarting", restart_ms as f64 / 1000.0),
        (A_BACK, "a back", back_secs),
        (B_SIGTERM, "b stopped with SIGTERM", term_secs),
    ] {
        let lat: Vec<Duration> = of(p).map(|s| s.latency).collect();
        let n = lat.len();
        let failed_over = of(p).filter(|s| s.answer.as_ref().is_some_and(|a| a.failovers > 0)).count();
        println!(
            "FIGURE cluster {name}: {n} auths in {secs:.1} s ({:.0}/s), by a {} by b {}, failed over {failed_over}, p50 {:?} p99 {:?}",
            n as f64 / secs.max(0.001),
            answered_by(p, 0),
            answered_by(p, 1),
            percentile(lat.clone(), 0.5),
            percentile(lat, 0.99),
        );
    }
    println!(
        "FIGURE cluster node a: SIGKILL {stop_ms} ms, -C + start to first answer {restart_ms} ms (NAS timeout 500 ms)"
    );
    let term_rejects =
        of(B_SIGTERM).filter(|s| s.answer.as_ref().is_some_and(|a| a.code != code::ACCESS_ACCEPT)).count();
    println!(
        "FIGURE cluster node b SIGTERM: exit {term_ms} ms, valid users answered Access-Reject while it stopped: {term_rejects} of {} (after SIGKILL: none, checked above)",
        of(B_SIGTERM).count()
    );

    // 3. accounting across the nodes: Start at a, Interim and Stop at b, then the Stop retransmitted
    //    to a and the Start to b (a NAS that failed over after an answer was lost).
    let t0: i64 = 1_795_737_600 + 7200; // 2026-11-27 02:00 UTC
    let acct_a = acct_addrs[0];
    let acct_b = node_b.acct_addr();
    assert_eq!(acct_b, acct_addrs[1]);
    assert_eq!(node_a.acct_addr(), acct_a);
    for (db, src, secret, user, sid) in [
        (&acme, Ipv4Addr::new(127, 0, 0, 2), "acmesecret", "alice@acme", format!("clu-acme-{sfx}")),
        (&beta, Ipv4Addr::new(127, 0, 0, 3), "betasecret", "bob@beta", format!("clu-beta-{sfx}")),
    ] {
        let nas = Client::new(src, secret, acct_a, Duration::from_secs(3), 1);
        let at = |t: i64| Attribute::integer(EVENT_TIMESTAMP, t as u32);
        let counters = |time: u32, i: u32, o: u32| {
            vec![
                Attribute::integer(ACCT_SESSION_TIME, time),
                Attribute::integer(ACCT_INPUT_OCTETS, i),
                Attribute::integer(ACCT_OUTPUT_OCTETS, o),
            ]
        };
        let start = vec![at(t0)];
        let interim = [counters(60, 1000, 2000), vec![at(t0 + 60)]].concat();
        let stop =
            [counters(120, 5000, 9000), vec![at(t0 + 120), Attribute::integer(ACCT_TERMINATE_CAUSE, 1)]].concat();
        let steps = [
            ("Start at a", acct_a, START, start.clone()),
            ("Interim at b", acct_b, INTERIM, interim),
            ("Stop at b", acct_b, STOP, stop.clone()),
            ("Stop again at a", acct_a, STOP, stop),
            ("Start again at b", acct_b, START, start),
        ];
        for (what, to, status, attrs) in steps {
            let r = nas.acct_with(to, user, status, &sid, attrs).await;
            check(
                &format!("{user}: {what} acknowledged"),
                matches!(&r, Ok(r) if r.code == code::ACCOUNTING_RESPONSE),
                format!("{r:?}"),
            );
        }
        let rows = session_rows(db, &sid, t0).await;
        check(
            &format!("{user}: one radacct row, closed once with the Stop's figures"),
            rows.len() == 1
                && rows[0].start == Some(t0)
                && rows[0].stop == Some(t0 + 120)
                && rows[0].session_time == Some(120)
                && rows[0].input_octets == 5000
                && rows[0].output_octets == 9000,
            format!("{rows:?}"),
        );
    }
    drop(node_a);
    drop(node_b);
    println!("cluster test wall time {:?}", began.elapsed());
    assert!(failures.is_empty(), "{} checks failed:\n{}", failures.len(), failures.join("\n"));
}

async fn session_rows(db: &RadiusDb, sid: &str, t0: i64) -> Vec<konnekted_radius::accounting::AcctSession> {
    read_sessions(db, t0 - 86_400, t0 + 86_400)
        .await
        .expect("read radacct")
        .into_iter()
        .filter(|s| s.session_id == sid)
        .collect()
}

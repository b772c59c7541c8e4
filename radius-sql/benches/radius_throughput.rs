//! Throughput and isolation figures for the generated multi-tenant FreeRADIUS config.
//!
//! `cargo bench -p konnekted-radius --bench radius_throughput` (needs tests/setup.sh, PostgreSQL on
//! 127.0.0.1:5432 and the freeradius binary). One server holds 50 PostgreSQL and 50 SQLite tenants;
//! the PostgreSQL tenants are reached through PgBouncer; PAP load with `radclient -p 32`:
//!   1 tenant vs 50 tenants (round-robin), PostgreSQL vs SQLite;
//!   other tenants' p50/p99 with and without one tenant's DB hung (ACCESS EXCLUSIVE lock).
//! Environment: KONNEKTED_BENCH_REQUESTS (default 2000), KONNEKTED_BENCH_TENANTS (default 50),
//! KONNEKTED_BENCH_PGBOUNCER=0 to connect straight to PostgreSQL (then only as many PostgreSQL
//! tenants as max_connections allows), KONNEKTED_BENCH_SQLITE_SYNC=full for SQLite tenants that
//! fsync every commit (the setting before `sqlite_synchronous = normal`), KONNEKTED_BENCH_LOG_AUTH=1
//! for a radius.log line per auth (the setting before `log_auth = false`), KONNEKTED_BENCH_ROUNDS
//! (default 3) interleaved rounds of the generated config against the probe's hand-written one
//! (`benches/reference`), the defaults before (every post-auth an INSERT waiting for its flush)
//! and `postauth = "log"`, for one PostgreSQL and one SQLite tenant, with a summary (ranges, and
//! the generated config's rate over each other's in the same round);
//! KONNEKTED_BENCH_ONLY=compare to stop after them; KONNEKTED_BENCH_POSTAUTH=log|sql and
//! KONNEKTED_BENCH_SQLITE_POSTAUTH=log|sql for the main config's `postauth` and `sqlite_postauth`
//! (default: the generator's), KONNEKTED_BENCH_SYNC_COMMIT=1 for
//! `postauth_synchronous_commit = true`, KONNEKTED_BENCH_ALT_THREADS=n to add the generated
//! config with `max_threads = n` to the side-by-side, KONNEKTED_BENCH_BURST
//! for PgBouncer's `burst_connections` (default the generator's, 0: a tenant holds only its
//! share of the budget). The side-by-side runs each config alone and prints the CPU time per
//! auth of FreeRADIUS, the tenant's PostgreSQL backends and PgBouncer.

#[path = "../tests/support/mod.rs"]
mod support;

mod reference;

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use konnekted_radius::config::{PostAuth, TenantConfig, write_raddb};
use konnekted_radius::db::{DbSettings, Secret, migrate};
use konnekted_radius::sync::{DesiredState, PlanSpec, SubscriberSpec, SubscriberStatus, TenantPolicy, sync_tenant};
use sqlx::Connection;
use support::*;

fn state(i: usize) -> DesiredState {
    DesiredState {
        plans: vec![PlanSpec {
            name: "p".into(),
            rate_limit: format!("{i}M/{i}M"),
            session_timeout: None,
            address_list: None,
            idle_timeout: None,
        }],
        subscribers: vec![SubscriberSpec {
            username: "u1".into(),
            password: Secret::new("pw1"),
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

struct RunResult {
    accepted: u64,
    lost: u64,
    secs: f64,
}

fn radclient_run(server: std::net::SocketAddr, realms: &[String], n: usize) -> RunResult {
    let dir = std::env::temp_dir().join(format!("konnekted-bench-{}", unique_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("requests");
    let mut f = std::fs::File::create(&file).unwrap();
    for i in 0..n {
        writeln!(f, "User-Name = \"u1@{}\"\nUser-Password = \"pw1\"\n", realms[i % realms.len()]).unwrap();
    }
    drop(f);
    let t = Instant::now();
    let out = Command::new("radclient")
        .args(["-q", "-s", "-p", "32", "-t", "5", "-r", "1", "-f"])
        .arg(&file)
        .args([&server.to_string(), "auth", SHARED_SECRET])
        .stderr(Stdio::null())
        .output()
        .expect("radclient");
    let secs = t.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&dir);
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |name: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(name))
            .and_then(|l| l.split(':').nth(1))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    RunResult { accepted: field("Accepted"), lost: field("Lost"), secs }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split(' ').next().map(str::to_owned))
        .unwrap_or_default()
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

/// CPU seconds (user + system) process `pid` has used so far, from /proc; 0 once it is gone.
fn cpu_secs(pid: u32) -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    let ticks = *TICKS.get_or_init(|| {
        let out = Command::new("getconf").arg("CLK_TCK").output().ok();
        out.and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok()).unwrap_or(100.0)
    });
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    // fields after the parenthesised name: state is the 1st, utime the 12th, stime the 13th
    let f: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, r)| r).split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / ticks
}

/// Where the CPU of one measured run goes: FreeRADIUS, the PostgreSQL backends serving `database`
/// (the tenant's own database, also behind PgBouncer), PgBouncer. CPU time per accepted auth is
/// what the load of other processes on the machine changes least.
struct CpuUse {
    radiusd: f64,
    postgres: f64,
    pgbouncer: f64,
}

async fn cpu_snapshot(radiusd: u32, pgbouncer: Option<u32>, database: Option<&str>) -> Vec<(u8, u32, f64)> {
    let mut v = vec![(0, radiusd, cpu_secs(radiusd))];
    if let Some(p) = pgbouncer {
        v.push((2, p, cpu_secs(p)));
    }
    if let Some(db) = database
        && let Ok(mut c) = sqlx::PgConnection::connect(&pg("postgres").connection_url()).await
    {
        let pids: Vec<i32> = sqlx::query_scalar("SELECT pid FROM pg_stat_activity WHERE datname = $1")
            .bind(db)
            .fetch_all(&mut c)
            .await
            .unwrap_or_default();
        c.close().await.ok();
        v.extend(pids.into_iter().map(|p| (1, p as u32, cpu_secs(p as u32))));
    }
    v
}

fn cpu_used(before: &[(u8, u32, f64)], after: &[(u8, u32, f64)]) -> CpuUse {
    let mut u = [0.0f64; 3];
    for (kind, pid, secs) in after {
        // a backend opened during the run started from zero
        let was = before.iter().find(|b| b.0 == *kind && b.1 == *pid).map_or(0.0, |b| b.2);
        u[*kind as usize] += secs - was;
    }
    CpuUse { radiusd: u[0], postgres: u[1], pgbouncer: u[2] }
}

/// The error lines of a radius.log excerpt, most frequent first: the text after the timestamp and
/// request number, with digits blanked so one cause counts once.
fn log_errors(log: &str) -> Vec<(String, usize)> {
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for l in log.lines().filter(|l| l.contains("Error") || l.contains("ERROR")) {
        let msg = l.split_once(" : ").map_or(l, |(_, m)| m);
        let msg: String = msg.chars().map(|c| if c.is_ascii_digit() { '#' } else { c }).collect();
        *counts.entry(msg).or_default() += 1;
    }
    let mut v: Vec<_> = counts.into_iter().collect();
    v.sort_by_key(|e| std::cmp::Reverse(e.1));
    v
}

/// Healthy-tenant latencies with 32 in flight; `hung` tenant hammered by 8 more senders meanwhile.
async fn latency_run(rad: &Radiusd, healthy: &[String], hung: Option<&str>, n: usize) -> (Vec<Duration>, usize) {
    let addr = rad.auth_addr();
    let mut hammer = Vec::new();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    if let Some(h) = hung {
        for _ in 0..8 {
            let user = format!("u1@{h}");
            let stop = stop.clone();
            hammer.push(tokio::spawn(async move {
                let c = Client::new(Ipv4Addr::LOCALHOST, SHARED_SECRET, addr, Duration::from_secs(2), 0);
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let _ = c.pap(&user, "pw1").await;
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let per_worker = n / 32;
    let mut workers = Vec::new();
    for w in 0..32 {
        let realms = healthy.to_vec();
        workers.push(tokio::spawn(async move {
            let c = Client::new(Ipv4Addr::LOCALHOST, SHARED_SECRET, addr, Duration::from_secs(3), 2);
            let mut lat = Vec::new();
            let mut failed = 0;
            for i in 0..per_worker {
                let user = format!("u1@{}", realms[(w * per_worker + i) % realms.len()]);
                let t = Instant::now();
                match c.pap(&user, "pw1").await {
                    Ok(r) if r.accepted() => lat.push(t.elapsed()),
                    _ => failed += 1,
                }
            }
            (lat, failed)
        }));
    }
    let mut all = Vec::new();
    let mut failed = 0;
    for w in workers {
        let (l, f) = w.await.unwrap();
        all.extend(l);
        failed += f;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for h in hammer {
        let _ = h.await;
    }
    all.sort();
    (all, failed)
}

const REFERENCE: &str = "reference (probe, direct)";

/// min-max of `v`, as "a-b" (or "a" when equal), with `digits` decimals.
fn range(v: impl Iterator<Item = f64>, digits: usize) -> String {
    let v: Vec<f64> = v.collect();
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if v.is_empty() {
        return "-".into();
    }
    if format!("{lo:.digits$}") == format!("{hi:.digits$}") {
        format!("{lo:.digits$}")
    } else {
        format!("{lo:.digits$}-{hi:.digits$}")
    }
}

/// (mix, config) -> per round (auth/s, p99 ms, load average).
type Seen = std::collections::BTreeMap<(String, String), Vec<(f64, f64, f64)>>;

/// Both (all) configs of each mix over the rounds, and the ratios of the generated config's rate
/// to the others' in the same round (runs of one round are back to back, so they share the load).
fn print_side_by_side_summary(seen: &Seen) {
    println!("\nsummary over the rounds (ranges):");
    println!("{:<12} {:<28} {:>12} {:>12} {:>10}", "tenant", "config", "auth/s", "p99 ms", "load");
    for ((kind, name), runs) in seen {
        println!(
            "{:<12} {:<28} {:>12} {:>12} {:>10}",
            kind,
            name,
            range(runs.iter().map(|r| r.0), 0),
            range(runs.iter().map(|r| r.1), 1),
            range(runs.iter().map(|r| r.2), 1)
        );
    }
    for ((kind, name), runs) in seen.iter().filter(|((_, n), _)| n != "generated") {
        if let Some(ours) = seen.get(&(kind.clone(), "generated".to_owned())) {
            let ratios = ours.iter().zip(runs).map(|(a, b)| a.0 / b.0.max(1e-9));
            println!("{kind}: generated / {name} auth/s per round: {}", range(ratios, 2));
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` does not: do not run minutes of load there.
    if !std::env::args().any(|a| a == "--bench") {
        println!("radius_throughput: skipped (run with `cargo bench -p konnekted-radius --bench radius_throughput`)");
        return;
    }
    if !freeradius_or_skip("radius_throughput") {
        return;
    }
    let requests: usize = std::env::var("KONNEKTED_BENCH_REQUESTS").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let n_tenants: usize = std::env::var("KONNEKTED_BENCH_TENANTS").ok().and_then(|v| v.parse().ok()).unwrap_or(50);
    let pooled = std::env::var("KONNEKTED_BENCH_PGBOUNCER").map(|v| v != "0").unwrap_or(true);
    // Straight to PostgreSQL each tenant holds its own connections (pool spare=1, plus bursts), so
    // the number of PostgreSQL tenants this server can take is bounded by max_connections. Through
    // PgBouncer all tenants share a budget of server connections instead.
    let (pg_tenants, budget) = {
        let admin = pg("postgres");
        let mut c = sqlx::PgConnection::connect(&admin.connection_url()).await.expect("PostgreSQL on 127.0.0.1:5432");
        let max: String = sqlx::query_scalar("SHOW max_connections").fetch_one(&mut c).await.unwrap();
        let used: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_stat_activity").fetch_one(&mut c).await.unwrap();
        c.close().await.ok();
        let max: i64 = max.parse().unwrap_or(100);
        // A busy tenant's pool grows up to max_threads connections and keeps them for idle_timeout
        // (60 s), so leave generous headroom (measured: 31 tenants on max_connections=100 failed).
        if pooled {
            let budget = ((max - used) * 6 / 10).max(1) as u32;
            println!(
                "PostgreSQL max_connections={max}, in use {used}: {n_tenants} PostgreSQL tenants through PgBouncer, \
                 server connection budget {budget}"
            );
            (n_tenants, budget)
        } else {
            let fit = ((max - used) / 5).max(2) as usize;
            println!(
                "PostgreSQL max_connections={max}, in use {used}: {} PostgreSQL tenants, direct",
                fit.min(n_tenants)
            );
            (fit.min(n_tenants), 0)
        }
    };
    let sfx = unique_suffix();
    let dir = scratch_dir("bench");
    let mut tenants = Vec::new();
    let mut cleanup = Cleanup { dbs: vec![], dir: Some(dir.clone()) };
    let t_setup = Instant::now();
    for i in 0..n_tenants {
        let mut dbs = vec![("lite", DbSettings::Sqlite { path: dir.join(format!("lite{i:02}.db")) })];
        if i < pg_tenants {
            dbs.push(("pg", pg(&format!("krb_{sfx}_pg{i:02}"))));
        }
        for (kind, db) in dbs {
            let realm = format!("{kind}{i:02}");
            let h = migrate(&db).await.unwrap_or_else(|e| panic!("migrate {realm}: {e}"));
            sync_tenant(&h, &state(i + 1)).await.unwrap();
            h.close().await;
            cleanup.dbs.push(db.clone());
            tenants.push(TenantConfig {
                realm,
                db,
                nas: vec![],
                vouchers: false,
                voucher_key: None,
                statement_timeout_ms: None,
            });
        }
    }
    let mut server = server_config(&dir, None);
    if std::env::var("KONNEKTED_BENCH_SQLITE_SYNC").as_deref() == Ok("full") {
        server.sqlite_synchronous = konnekted_radius::config::SqliteSynchronous::Full;
    }
    server.log_auth = std::env::var("KONNEKTED_BENCH_LOG_AUTH").as_deref() == Ok("1");
    let postauth_env = |name: &str| match std::env::var(name).as_deref() {
        Ok("log") => Some(PostAuth::Log),
        Ok("sql") => Some(PostAuth::Sql),
        _ => None,
    };
    if let Some(p) = postauth_env("KONNEKTED_BENCH_POSTAUTH") {
        server.postauth = p;
    }
    if let Some(p) = postauth_env("KONNEKTED_BENCH_SQLITE_POSTAUTH") {
        server.sqlite_postauth = p;
    }
    server.postauth_synchronous_commit = std::env::var("KONNEKTED_BENCH_SYNC_COMMIT").as_deref() == Ok("1");
    println!(
        "SQLite tenants: synchronous = {:?}; log_auth = {}; postauth = {:?} (SQLite tenants {:?}), PostgreSQL post-auth synchronous_commit = {}",
        server.sqlite_synchronous,
        server.log_auth,
        server.postauth,
        server.sqlite_postauth,
        server.postauth_synchronous_commit
    );
    if pooled {
        let mut b = pgbouncer_config(&dir, budget);
        if let Some(n) = std::env::var("KONNEKTED_BENCH_BURST").ok().and_then(|v| v.parse().ok()) {
            b.burst_connections = n;
        }
        println!(
            "PgBouncer: a busy tenant may hold up to burst_connections = {} server connections",
            b.burst_connections
        );
        server.pgbouncer = Some(b);
    }
    let t_start = Instant::now();
    let mut rad = start_radiusd(&server, &tenants, &dir).await;
    let bouncer = match &server.pgbouncer {
        Some(b) => Some(start_pgbouncer(b).await),
        None => None,
    };
    let bouncer_pid = bouncer.as_ref().map(|b| b.child.id());
    println!(
        "setup: {} tenants ({} PostgreSQL + {} SQLite) created in {:.1} s; freeradius -C + start to first answer {:.2} s",
        tenants.len(),
        pg_tenants,
        n_tenants,
        t_start.duration_since(t_setup).as_secs_f64(),
        t_start.elapsed().as_secs_f64()
    );
    let pg_all: Vec<String> = (0..pg_tenants).map(|i| format!("pg{i:02}")).collect();
    let lite_all: Vec<String> = (0..n_tenants).map(|i| format!("lite{i:02}")).collect();

    // warm up pools
    let _ = radclient_run(rad.auth_addr(), &pg_all, 200);
    let _ = radclient_run(rad.auth_addr(), &lite_all, 200);

    // Side by side, one tenant, runs interleaved so load from elsewhere hits every config alike:
    // the generated config as configured above, the generated config with the defaults before
    // this build (post-auth INSERT waiting for its flush, SQLite too), with `postauth = "log"`,
    // and for PostgreSQL the probe's hand-written config (freeradius-multitenant.md,
    // `benches/reference`) on pg00's own database, straight to PostgreSQL as the probe ran it.
    // Same client, same tenant rows. Each config runs alone: started, warmed up, measured,
    // stopped. (Run side by side, each FreeRADIUS kept the up to 32 connections its pool had
    // opened to pg00 for idle_timeout: three of them with 32 each do not fit in
    // max_connections = 100, and whichever config came third lost most of its requests to
    // "too many clients", its breaker and then do_not_respond: the probe's 863-872 lost of 1,000.)
    let rounds: usize = std::env::var("KONNEKTED_BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    if rounds > 0 {
        // A variant of the main config in its own directory (own ports, logs), same tenants.
        let variant = |tag: &str, change: &dyn Fn(&mut konnekted_radius::config::ServerConfig)| {
            let vdir = dir.join(tag);
            std::fs::create_dir_all(&vdir).unwrap();
            let mut v = server_config(&vdir, None);
            v.sqlite_synchronous = server.sqlite_synchronous;
            v.log_auth = server.log_auth;
            v.postauth = server.postauth;
            v.sqlite_postauth = server.sqlite_postauth;
            v.postauth_synchronous_commit = server.postauth_synchronous_commit;
            v.pgbouncer = server.pgbouncer.clone();
            v.max_threads = server.max_threads;
            change(&mut v);
            write_raddb(&v, &tenants, &vdir.join("raddb")).expect("render a variant raddb");
            (v, vdir.join("raddb"))
        };
        // (name, server, its directory, runs for PostgreSQL, runs for SQLite)
        let mut configs: Vec<(String, konnekted_radius::config::ServerConfig, std::path::PathBuf, bool, bool)> =
            vec![("generated".to_owned(), rad.server.clone(), rad.raddb.clone(), true, true)];
        // the defaults before the SQLite log and the PostgreSQL commit without flush wait
        let (before, before_dir) = variant("before", &|v| {
            v.postauth = PostAuth::Sql;
            v.sqlite_postauth = PostAuth::Sql;
            v.postauth_synchronous_commit = true;
        });
        configs.push(("generated, before".to_owned(), before, before_dir, true, true));
        if server.postauth == PostAuth::Sql {
            let (log, log_dir) = variant("log", &|v| v.postauth = PostAuth::Log);
            configs.push(("generated, postauth=log".to_owned(), log, log_dir, true, false));
        }
        // thread pool (and every tenant pool) of another size, e.g. the cores' count
        if let Some(n) = std::env::var("KONNEKTED_BENCH_ALT_THREADS").ok().and_then(|v| v.parse::<u32>().ok()) {
            let (t, t_dir) = variant("threads", &|v| v.max_threads = n);
            configs.push((format!("generated, {n} threads"), t, t_dir, true, true));
        }
        if pg_tenants > 0 {
            let ref_dir = dir.join("reference");
            let ref_server = server_config(&ref_dir, None);
            let raddb = reference::write_reference_raddb(
                &server.base_raddb,
                &ref_dir,
                "pg00",
                &pg(&format!("krb_{sfx}_pg00")),
                ref_server.auth_port,
                SHARED_SECRET,
            );
            configs.push((REFERENCE.to_owned(), ref_server, raddb, true, false));
        }
        rad.stop();
        let hop = if pooled { "PgBouncer" } else { "direct" };
        println!(
            "\nOne tenant side by side ({hop} for the generated configs, the probe's straight to PostgreSQL): \
             {rounds} interleaved rounds, each config alone, radclient -p 32, {requests} PAP each; p50/p99 from 32 in flight"
        );
        println!(
            "generated: this build's defaults (PostgreSQL: post-auth INSERT without flush wait; SQLite: post-auth line); \
             before: INSERT with flush wait for both; {REFERENCE}: freeradius-multitenant.md's hand-written config"
        );
        println!(
            "{:<12} {:<28} {:>8} {:>6} {:>8} {:>8} {:>7} {:>6} {:>8} {:>8} {:>8}",
            "tenant", "config", "auth/s", "lost", "p50 ms", "p99 ms", "failed", "load", "rad us", "pg us", "pgb us"
        );
        println!(
            "(CPU microseconds per accepted auth of the radclient run: FreeRADIUS, PostgreSQL backends, PgBouncer)"
        );
        let mut mixes = Vec::new();
        if pg_tenants > 0 {
            mixes.push(("PostgreSQL", vec![pg_all[0].clone()]));
        }
        mixes.push(("SQLite", vec![lite_all[0].clone()]));
        // (mix, config) -> per round (auth/s, p99 ms, load)
        let mut seen = Seen::new();
        for round in 0..rounds {
            for (kind, realms) in &mixes {
                let mut order: Vec<_> =
                    configs.iter().filter(|c| if *kind == "PostgreSQL" { c.3 } else { c.4 }).collect();
                let n = order.len();
                order.rotate_left(round % n);
                for (name, cfg, raddb, _, _) in order {
                    let s = start_raddb(cfg.clone(), raddb.clone()).await;
                    let _ = radclient_run(s.auth_addr(), realms, 200);
                    let log_from = s.log().len();
                    let db = (*kind == "PostgreSQL").then(|| format!("krb_{sfx}_pg00"));
                    let bouncer = bouncer_pid.filter(|_| name != REFERENCE);
                    let before = cpu_snapshot(s.child.id(), bouncer, db.as_deref()).await;
                    let r = radclient_run(s.auth_addr(), realms, requests);
                    let cpu = cpu_used(&before, &cpu_snapshot(s.child.id(), bouncer, db.as_deref()).await);
                    let (lat, failed) = latency_run(&s, realms, None, (requests / 2).max(320)).await;
                    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
                    let us = |secs: f64| secs * 1e6 / r.accepted.max(1) as f64;
                    let rate = r.accepted as f64 / r.secs;
                    let load = load_average();
                    println!(
                        "{:<12} {:<28} {:>8.0} {:>6} {:>8.1} {:>8.1} {:>7} {:>6} {:>8.0} {:>8.0} {:>8.0}",
                        kind,
                        name,
                        rate,
                        r.lost,
                        ms(pct(&lat, 0.5)),
                        ms(pct(&lat, 0.99)),
                        failed,
                        load,
                        us(cpu.radiusd),
                        us(cpu.postgres),
                        us(cpu.pgbouncer)
                    );
                    seen.entry((kind.to_string(), name.clone())).or_default().push((
                        rate,
                        ms(pct(&lat, 0.99)),
                        load.parse().unwrap_or(0.0),
                    ));
                    if r.lost > 0 || failed > 0 {
                        // say why, from the server's own log of this run
                        for (msg, count) in log_errors(&s.log()[log_from..]).into_iter().take(3) {
                            println!("{:<12} {count:>6} x {msg}", "");
                        }
                    }
                }
            }
        }
        print_side_by_side_summary(&seen);
        rad = start_raddb(rad.server.clone(), rad.raddb.clone()).await;
        let _ = radclient_run(rad.auth_addr(), &pg_all, 200);
        let _ = radclient_run(rad.auth_addr(), &lite_all, 200);
    }
    if std::env::var("KONNEKTED_BENCH_ONLY").as_deref() == Ok("compare") {
        return;
    }

    println!("\nPAP Access-Requests, radclient -p 32, {requests} per run (each auth = SELECTs + radpostauth INSERT)");
    println!(
        "{:<34} {:>10} {:>9} {:>6} {:>8} {:>8} {:>7}",
        "mix", "auth/s", "accepted", "lost", "p50 ms", "p99 ms", "failed"
    );
    let mut rates = std::collections::BTreeMap::new();
    for (label, realms) in [
        ("PostgreSQL, 1 tenant", vec![pg_all[0].clone()]),
        ("PostgreSQL, N tenants round-robin", pg_all.clone()),
        ("SQLite, 1 tenant", vec![lite_all[0].clone()]),
        ("SQLite, N tenants round-robin", lite_all.clone()),
    ] {
        let r = radclient_run(rad.auth_addr(), &realms, requests);
        let rate = r.accepted as f64 / r.secs;
        // radclient reports no latencies: the same mix again through our own client, 32 in flight
        let (lat, failed) = latency_run(&rad, &realms, None, (requests / 2).max(320)).await;
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "{:<34} {:>10.0} {:>9} {:>6} {:>8.1} {:>8.1} {:>7}",
            label.replace('N', &realms.len().to_string()),
            rate,
            r.accepted,
            r.lost,
            ms(pct(&lat, 0.5)),
            ms(pct(&lat, 0.99)),
            failed
        );
        rates.insert(label, rate);
    }
    let ratio = |a: &str, b: &str| rates[a] / rates[b].max(1e-9);
    println!(
        "ratios: PG many/1 tenants {:.2}; SQLite many/1 tenants {:.2}; SQLite/PG (1 tenant) {:.2}; SQLite/PG (many tenants) {:.2}",
        ratio("PostgreSQL, N tenants round-robin", "PostgreSQL, 1 tenant"),
        ratio("SQLite, N tenants round-robin", "SQLite, 1 tenant"),
        ratio("SQLite, 1 tenant", "PostgreSQL, 1 tenant"),
        ratio("SQLite, N tenants round-robin", "PostgreSQL, N tenants round-robin"),
    );

    // noisy neighbour: pg00's DB hangs; latency of the other tenants
    let healthy: Vec<String> = pg_all[1..].iter().cloned().chain(lite_all.iter().take(5).cloned()).collect();
    let n_healthy = healthy.len();
    let lat_n = (requests / 2).max(320);
    let (base, base_failed) = latency_run(&rad, &healthy, None, lat_n).await;
    let hung_db = pg(&format!("krb_{sfx}_pg00"));
    let mut locker = sqlx::PgConnection::connect(&hung_db.connection_url()).await.unwrap();
    sqlx::query("BEGIN").execute(&mut locker).await.unwrap();
    sqlx::query("LOCK TABLE radcheck IN ACCESS EXCLUSIVE MODE").execute(&mut locker).await.unwrap();
    let (during, during_failed) = latency_run(&rad, &healthy, Some("pg00"), lat_n).await;
    sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();
    locker.close().await.ok();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "\nother tenants while pg00's DB is hung (32 in flight on {n_healthy} healthy tenants, 8 senders hammering pg00)"
    );
    println!("{:<22} {:>9} {:>7} {:>9} {:>9}", "", "accepted", "failed", "p50 ms", "p99 ms");
    println!(
        "{:<22} {:>9} {:>7} {:>9.1} {:>9.1}",
        "baseline",
        base.len(),
        base_failed,
        ms(pct(&base, 0.5)),
        ms(pct(&base, 0.99))
    );
    println!(
        "{:<22} {:>9} {:>7} {:>9.1} {:>9.1}",
        "pg00 DB hung",
        during.len(),
        during_failed,
        ms(pct(&during, 0.5)),
        ms(pct(&during, 0.99))
    );
    println!("p99 ratio hung/baseline: {:.2}", ms(pct(&during, 0.99)) / ms(pct(&base, 0.99)).max(1e-9));
    drop(rad);
    drop(cleanup);
}

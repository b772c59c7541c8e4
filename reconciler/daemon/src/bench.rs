//! `konnekted-reconciler bench`: figures for the README, never a test.
//!
//! * One router with 10,000 subscribers at simulated RTT 0, 20 and 80 ms: cold sync,
//!   no-op pass, fixing 1 % drift; pipelined (window 64) against one command at a time
//!   (the sequential baseline is run on fewer subscribers and extrapolated per change).
//! * Peak RSS (`VmHWM`) of this process reconciling 100 routers x 1,000 subscribers at
//!   once; the 100 simulated routers run in a child process so they are not counted.

use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

use routeros_client::{Client, Config as ClientConfig};
use routeros_sim::{SimConfig, SimHandle, Simulator};

use crate::config::{QueueTypes, RouterConfig, Secret, SecretNaming, SuspendPolicy, TenantConfig};
use crate::edge::{DesiredState, Plan, Status, Subscriber};
use crate::model::{DesiredRouter, build_desired};
use crate::plan::plan_changes;
use crate::router::{self, Scope};

/// Hidden subcommand that runs simulators for the RSS figure.
pub const SIM_FARM: &str = "__sim-farm";

/// A tenant config for benches and tests (no RADIUS, no garden).
pub fn bench_tenant(realm: &str) -> TenantConfig {
    TenantConfig {
        realm: realm.to_owned(),
        edge_url: "http://127.0.0.1:1".to_owned(),
        sync_key: Secret::new("k"),
        suspend_policy: SuspendPolicy::Disable,
        secret_naming: SecretNaming::Qualified,
        radius: None,
        walled_garden: None,
    }
}

/// A router config pointing at `addr`, built-in PCQ types (the simulator has no `/queue/type`).
pub fn bench_router(name: &str, realm: &str, addr: std::net::SocketAddr, window: usize) -> RouterConfig {
    RouterConfig {
        name: name.to_owned(),
        tenant: realm.to_owned(),
        address: addr.ip().to_string(),
        port: addr.port(),
        tls: None,
        username: "admin".to_owned(),
        password: Secret::new("x"),
        sites: Default::default(),
        queue_types: QueueTypes::Builtin,
        queue_parent: "global".to_owned(),
        window,
    }
}

/// `n` subscribers over 10 plans; every 20th suspended with a static address.
pub fn synthetic_state(realm: &str, n: usize) -> DesiredState {
    let plans: Vec<Plan> = (0..10)
        .map(|i| Plan {
            code: format!("p{i}"),
            name: format!("Plan {i}"),
            kind: "pppoe".into(),
            down_kbps: 5_000 * (i + 1),
            up_kbps: 1_000 * (i + 1),
            rate_limit: format!("{}M/{}M", i + 1, 5 * (i + 1)),
        })
        .collect();
    let subscribers = (0..n)
        .map(|i| {
            let suspended = i % 20 == 7;
            Subscriber {
                id: format!("s{i:06}"),
                username: format!("user{i}"),
                password: format!("pw{i:x}"),
                plan: format!("p{}", i % 10),
                status: if suspended { Status::Suspended } else { Status::Active },
                static_ip: suspended.then(|| format!("10.{}.{}.{}", 64 + i / 65536, (i / 256) % 256, i % 256)),
                site: None,
                expires_at: None,
            }
        })
        .collect();
    DesiredState { realm: realm.to_owned(), generated_at: String::new(), cursor: 0, plans, subscribers }
}

async fn client(addr: std::net::SocketAddr, window: usize) -> anyhow::Result<Client> {
    let cfg = ClientConfig::new("admin", "x").window(window).command_timeout(Duration::from_secs(120));
    let (c, conn) = routeros_client::connect_tcp(addr, &cfg).await?;
    tokio::spawn(conn);
    Ok(c)
}

/// One pass without the edge: read, plan, apply, read back. Returns (changes, elapsed).
pub async fn sync_pass(client: &Client, desired: &DesiredRouter, window: usize) -> anyhow::Result<(usize, Duration)> {
    let t0 = Instant::now();
    let observed = router::read_observed(client, desired, &Scope::Full).await?;
    let changes = plan_changes(desired, &observed);
    let n = changes.len();
    if n > 0 {
        let applied = router::apply(client, changes, window).await;
        if let Some(e) = applied.lost {
            anyhow::bail!("connection lost: {e}");
        }
        let after = router::read_observed(client, desired, &Scope::Full).await?;
        let left = plan_changes(desired, &after).len();
        if left > 0 {
            anyhow::bail!("{left} changes left after the pass");
        }
    }
    Ok((n, t0.elapsed()))
}

fn drift(h: &SimHandle, n: usize) -> usize {
    // 1 %: disable some secrets, change passwords of others, remove a queue.
    let rows = h.rows("/ppp/secret");
    let mut done = 0;
    for (i, r) in rows.iter().enumerate().filter(|(_, r)| r.get("disabled") == Some("false")).step_by(100).take(n / 100)
    {
        let Some(id) = r.id() else { continue };
        let res = if i % 2 == 0 {
            h.set("/ppp/secret", id, &[("disabled", "true")])
        } else {
            h.set("/ppp/secret", id, &[("password", "changed")])
        };
        if res.is_ok() {
            done += 1;
        }
    }
    if let Some(id) = h.rows("/queue/tree").first().and_then(|r| r.id().map(str::to_owned)) {
        if h.remove("/queue/tree", &id).is_ok() {
            done += 1;
        }
    }
    done
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

/// `VmHWM` of this process, in KiB.
pub fn peak_rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs the figures. `quick`: smaller sizes (a smoke run).
pub async fn run(quick: bool) -> anyhow::Result<()> {
    let n = if quick { 1_000 } else { 10_000 };
    let seq_n = if quick { 50 } else { 200 };
    let window = 64;
    let tenant = bench_tenant("bench");
    let state = synthetic_state("bench", n);
    let seq_state = synthetic_state("bench", seq_n);
    println!("# konnekted-reconciler bench: {n} subscribers, window {window}");
    println!(
        "| RTT | objects | cold sync | no-op pass | 1% drift (changes) | sequential cold sync, {seq_n} subs | per change: pipelined / sequential | ratio |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for rtt_ms in [0u64, 20, 80] {
        let sim =
            Simulator::start("127.0.0.1:0", SimConfig::new("admin", "x").rtt(Duration::from_millis(rtt_ms))).await?;
        let rcfg = bench_router("r", "bench", sim.local_addr(), window);
        let desired = build_desired(&state, &tenant, &rcfg);
        let c = client(sim.local_addr(), window).await?;
        let (cold_changes, cold) = sync_pass(&c, &desired, window).await?;
        let (noop_changes, noop) = sync_pass(&c, &desired, window).await?;
        anyhow::ensure!(noop_changes == 0, "no-op pass planned {noop_changes} changes");
        let drifted = drift(&sim.handle(), n);
        let (drift_changes, drift_t) = sync_pass(&c, &desired, window).await?;
        anyhow::ensure!(drift_changes >= drifted, "drift pass fixed {drift_changes} of {drifted}");
        // Sequential baseline on a fresh router, window 1, fewer subscribers.
        let seq_sim =
            Simulator::start("127.0.0.1:0", SimConfig::new("admin", "x").rtt(Duration::from_millis(rtt_ms))).await?;
        let seq_desired = build_desired(&seq_state, &tenant, &bench_router("s", "bench", seq_sim.local_addr(), 1));
        let sc = client(seq_sim.local_addr(), 1).await?;
        let (seq_changes, seq) = sync_pass(&sc, &seq_desired, 1).await?;
        let per_pipe = cold.as_secs_f64() / cold_changes.max(1) as f64;
        let per_seq = seq.as_secs_f64() / seq_changes.max(1) as f64;
        println!(
            "| {rtt_ms} ms | {cold_changes} | {} | {} | {} ({drift_changes}) | {} ({seq_changes} changes; extrapolated to {cold_changes}: {:.1} s) | {:.3} ms / {:.3} ms | {:.1}x |",
            secs(cold),
            secs(noop),
            secs(drift_t),
            secs(seq),
            per_seq * cold_changes as f64,
            per_pipe * 1000.0,
            per_seq * 1000.0,
            per_seq / per_pipe.max(1e-9),
        );
        let _ = std::io::stdout().flush();
    }
    rss(if quick { 10 } else { 100 }, if quick { 200 } else { 1_000 }).await
}

async fn rss(routers: usize, subs: usize) -> anyhow::Result<()> {
    let exe = std::env::current_exe()?;
    let mut child = std::process::Command::new(exe)
        .arg(SIM_FARM)
        .arg(routers.to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().ok_or_else(|| anyhow::anyhow!("no child stdout"))?;
    let mut addrs = Vec::new();
    for line in std::io::BufReader::new(stdout).lines().take(routers) {
        addrs.push(line?.trim().parse::<std::net::SocketAddr>()?);
    }
    let before = peak_rss_kib().unwrap_or(0);
    let tenant = bench_tenant("bench");
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for (i, addr) in addrs.into_iter().enumerate() {
        let tenant = tenant.clone();
        tasks.push(tokio::spawn(async move {
            let state = synthetic_state("bench", subs);
            let desired = build_desired(&state, &tenant, &bench_router(&format!("r{i}"), "bench", addr, 64));
            let c = client(addr, 64).await?;
            let cold = sync_pass(&c, &desired, 64).await?;
            let noop = sync_pass(&c, &desired, 64).await?;
            anyhow::Ok((cold.0, noop.0))
        }));
    }
    let mut changes = 0;
    for t in tasks {
        changes += t.await??.0;
    }
    let elapsed = t0.elapsed();
    let after = peak_rss_kib().unwrap_or(0);
    drop(child.stdin.take());
    let _ = child.wait();
    println!();
    println!(
        "peak RSS (VmHWM) reconciling {routers} routers x {subs} subscribers at once (cold sync + no-op pass, {changes} changes, {}): {:.1} MiB (before the routers: {:.1} MiB)",
        secs(elapsed),
        after as f64 / 1024.0,
        before as f64 / 1024.0
    );
    Ok(())
}

/// The child process of the RSS figure: `n` simulators; prints their addresses; exits
/// when stdin closes.
pub async fn sim_farm(args: &[String]) -> anyhow::Result<()> {
    let n: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(1);
    let mut sims = Vec::new();
    for _ in 0..n {
        let s = Simulator::start("127.0.0.1:0", SimConfig::new("admin", "x")).await?;
        println!("{}", s.local_addr());
        sims.push(s);
    }
    std::io::stdout().flush()?;
    tokio::task::spawn_blocking(|| {
        let mut sink = String::new();
        while std::io::stdin().read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {}
    })
    .await?;
    drop(sims);
    Ok(())
}

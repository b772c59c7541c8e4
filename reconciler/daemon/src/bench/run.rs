//! The simulator-driven benches (feature `bench`): they link the RouterOS simulator.

use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

use routeros_client::{Client, Config as ClientConfig};
use routeros_sim::{SimConfig, Simulator};

use super::{bench_router, bench_tenant, synthetic_state};
use crate::config::{DEFAULT_HEAVY_APPLY_CHANGES, DEFAULT_MAX_CONCURRENT_APPLIES};
use crate::model::{DesiredRouter, build_desired};
use crate::plan::plan_changes;
use crate::reconcile::ApplyLimiter;
use crate::router::{self, Scope};

/// Hidden subcommand that runs simulators for the RSS figure.
pub const SIM_FARM: &str = "__sim-farm";

async fn client(addr: std::net::SocketAddr, window: usize) -> anyhow::Result<Client> {
    let cfg = ClientConfig::new("admin", "x").window(window).command_timeout(Duration::from_secs(120));
    let (c, conn) = routeros_client::connect_tcp(addr, &cfg).await?;
    tokio::spawn(conn);
    Ok(c)
}

/// One pass without the edge: read, plan, apply, read back, with the daemon's apply
/// permits (a heavy plan with no permit free is dropped, and read and planned again once
/// a permit is held). Returns (changes, elapsed).
pub async fn sync_pass(
    client: &Client,
    desired: &DesiredRouter,
    window: usize,
    limiter: &ApplyLimiter,
) -> anyhow::Result<(usize, Duration)> {
    let t0 = Instant::now();
    let mut permit = None;
    let changes = loop {
        let reading = limiter.read_permit().await;
        let changes = plan_changes(desired, &router::read_observed(client, desired, &Scope::Full).await?);
        drop(reading);
        if permit.is_some() || !limiter.is_heavy(changes.len()) {
            break changes;
        }
        permit = limiter.try_permit();
        if permit.is_some() {
            break changes;
        }
        drop(changes);
        permit = Some(limiter.permit().await);
    };
    let n = changes.len();
    if n > 0 {
        let applied = router::apply(client, changes, window).await;
        if let Some(e) = applied.lost {
            anyhow::bail!("connection lost: {e}");
        }
        let reading = limiter.read_permit().await;
        let after = router::read_observed(client, desired, &Scope::Full).await?;
        let left = plan_changes(desired, &after);
        drop((after, reading));
        if !left.is_empty() {
            // Say which and why: a pass that leaves work is a finding, not a figure.
            let trapped: Vec<String> =
                applied.trapped.iter().take(3).map(|(c, m)| format!("{c:?} refused: {m}")).collect();
            let conflicts: Vec<String> = applied.conflicts.iter().take(3).map(|c| format!("{c:?}")).collect();
            anyhow::bail!(
                "{} changes left after the pass (first: {:?}); the pass had {} refused {:?}, {} name conflicts {:?}, {} unsent",
                left.len(),
                left.first(),
                applied.trapped.len(),
                trapped,
                applied.conflicts.len(),
                conflicts,
                applied.unsent,
            );
        }
    }
    Ok((n, t0.elapsed()))
}

/// 1 % drift made over the API as an operator would: disable some secrets, change the
/// password of others, remove one queue. Returns the number of edits.
async fn drift(c: &Client, n: usize) -> anyhow::Result<usize> {
    let rows = c.print("/ppp/secret", &[".id", "disabled"], &["?disabled=false"]).await?;
    let mut done = 0;
    let edits = rows.iter().step_by(100).take(n / 100).enumerate().filter_map(|(i, r)| Some((i, r.id()?.to_owned())));
    for (i, id) in edits {
        let attrs: &[(&str, &str)] = if i % 2 == 0 { &[("disabled", "true")] } else { &[("password", "changed")] };
        c.set("/ppp/secret", &id, attrs).await?;
        done += 1;
    }
    if let Some(id) = c.print("/queue/tree", &[".id"], &[]).await?.first().and_then(|r| r.id().map(str::to_owned)) {
        c.remove("/queue/tree", &id).await?;
        done += 1;
    }
    Ok(done)
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// `VmHWM` of this process, in KiB.
pub fn peak_rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU time (user + system) of this process so far.
pub fn cpu_time() -> Duration {
    // Fields 14 and 15 of /proc/self/stat, in clock ticks (100 per second on Linux).
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return Duration::ZERO };
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<u64> = after.split_whitespace().skip(11).take(2).filter_map(|v| v.parse().ok()).collect();
    Duration::from_millis(f.iter().sum::<u64>() * 10)
}

/// Simulators in a child process (so their memory and CPU are not ours).
struct Farm {
    child: std::process::Child,
    addrs: Vec<std::net::SocketAddr>,
}

impl Farm {
    /// Sets every simulator's RTT (the child reads `rtt <ms>` lines on stdin).
    fn set_rtt(&mut self, rtt_ms: u64) -> anyhow::Result<()> {
        let stdin = self.child.stdin.as_mut().ok_or_else(|| anyhow::anyhow!("no child stdin"))?;
        writeln!(stdin, "rtt {rtt_ms}")?;
        stdin.flush()?;
        // The child applies it before reading the next line; give it a moment.
        std::thread::sleep(Duration::from_millis(200));
        Ok(())
    }

    fn start(n: usize, rtt_ms: u64) -> anyhow::Result<Farm> {
        let exe = std::env::current_exe()?;
        let mut child = std::process::Command::new(exe)
            .args([SIM_FARM, &n.to_string(), &rtt_ms.to_string()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow::anyhow!("no child stdout"))?;
        let mut addrs = Vec::new();
        for line in std::io::BufReader::new(stdout).lines().take(n) {
            addrs.push(line?.trim().parse::<std::net::SocketAddr>()?);
        }
        Ok(Farm { child, addrs })
    }
}

impl Drop for Farm {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// A timed pass: (changes, wall time, our CPU time).
async fn timed(c: &Client, d: &DesiredRouter, window: usize) -> anyhow::Result<(usize, Duration, Duration)> {
    let cpu0 = cpu_time();
    let (n, wall) = sync_pass(c, d, window, &default_limiter()).await?;
    Ok((n, wall, cpu_time().saturating_sub(cpu0)))
}

/// The daemon's default apply permits.
fn default_limiter() -> ApplyLimiter {
    ApplyLimiter::new(DEFAULT_MAX_CONCURRENT_APPLIES, DEFAULT_HEAVY_APPLY_CHANGES)
}

/// Only the memory figure (`bench memory`), with `max_applies` apply permits (the
/// daemon's default: [`DEFAULT_MAX_CONCURRENT_APPLIES`]). `quick`: smaller sizes.
pub async fn memory(quick: bool, max_applies: usize) -> anyhow::Result<()> {
    rss(if quick { 10 } else { 100 }, if quick { 200 } else { 1_000 }, max_applies, 0).await
}

/// `bench memory --routers N --subs M [--noop-rtt-ms R]`: the memory figure at any size;
/// the cold sync runs at RTT 0 (it measures memory, not time), then the no-op pass of
/// every router at once runs at `noop_rtt_ms` and is timed.
pub async fn memory_sized(routers: usize, subs: usize, max_applies: usize, noop_rtt_ms: u64) -> anyhow::Result<()> {
    rss(routers, subs, max_applies, noop_rtt_ms).await
}

/// Runs the figures. `quick`: smaller sizes (a smoke run).
pub async fn run(quick: bool) -> anyhow::Result<()> {
    // Memory first, in a fresh process state, so nothing else has raised the peak.
    memory(quick, DEFAULT_MAX_CONCURRENT_APPLIES).await?;
    let n = if quick { 1_000 } else { 10_000 };
    let seq_n = if quick { 50 } else { 200 };
    let window = 64;
    let tenant = bench_tenant("bench");
    let state = std::sync::Arc::new(synthetic_state("bench", n));
    let seq_state = std::sync::Arc::new(synthetic_state("bench", seq_n));
    println!();
    println!("one router, {n} subscribers, window {window}; wall time (reconciler CPU); simulators in a child process");
    println!();
    println!(
        "| RTT | cold sync | no-op pass | 1% drift | {seq_n} subs: pipelined / sequential cold sync | ratio | sequential x{n}, extrapolated |"
    );
    println!("|---|---|---|---|---|---|---|");
    for rtt_ms in [0u64, 20, 80] {
        let farm = Farm::start(3, rtt_ms)?;
        let (addr, small_addr, seq_addr) = (farm.addrs[0], farm.addrs[1], farm.addrs[2]);
        let desired = build_desired(state.clone(), &tenant, &bench_router("r", "bench", addr, window));
        let c = client(addr, window).await?;
        let (cold_n, cold, cold_cpu) = timed(&c, &desired, window).await?;
        let (noop_n, noop, noop_cpu) = timed(&c, &desired, window).await?;
        anyhow::ensure!(noop_n == 0, "no-op pass planned {noop_n} changes");
        let drifted = drift(&c, n).await?;
        let (drift_n, drift_t, drift_cpu) = timed(&c, &desired, window).await?;
        anyhow::ensure!(drift_n == drifted, "drift pass planned {drift_n} changes for {drifted} edits");
        // Same small router, pipelined and one command at a time.
        let small = build_desired(seq_state.clone(), &tenant, &bench_router("p", "bench", small_addr, window));
        let (small_n, small_t, _) = timed(&client(small_addr, window).await?, &small, window).await?;
        let (seq_changes, seq, _) = timed(&client(seq_addr, 1).await?, &small, 1).await?;
        anyhow::ensure!(small_n == seq_changes, "same plan both ways");
        let per_seq = seq.as_secs_f64() / seq_changes.max(1) as f64;
        println!(
            "| {rtt_ms} ms | {} ({}), {cold_n} changes | {} ({}) | {} ({}), {drift_n} changes | {} / {} ({seq_changes} changes) | {:.1}x | {:.0} s |",
            secs(cold),
            secs(cold_cpu),
            secs(noop),
            secs(noop_cpu),
            secs(drift_t),
            secs(drift_cpu),
            secs(small_t),
            secs(seq),
            seq.as_secs_f64() / small_t.as_secs_f64().max(1e-9),
            per_seq * cold_n as f64,
        );
        let _ = std::io::stdout().flush();
    }
    Ok(())
}

async fn rss(routers: usize, subs: usize, max_applies: usize, noop_rtt_ms: u64) -> anyhow::Result<()> {
    let mut farm = Farm::start(routers, 0)?;
    let before = peak_rss_kib().unwrap_or(0);
    let tenant = bench_tenant("bench");
    // One tenant's desired state, shared by its routers as in the daemon.
    let state = std::sync::Arc::new(synthetic_state("bench", subs));
    // The daemon's apply permits, shared by the routers as in the daemon.
    let limiter = ApplyLimiter::new(max_applies, DEFAULT_HEAVY_APPLY_CHANGES);
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for (i, addr) in farm.addrs.iter().copied().enumerate() {
        let (tenant, state, limiter) = (tenant.clone(), state.clone(), limiter.clone());
        tasks.push(tokio::spawn(async move {
            let desired = build_desired(state, &tenant, &bench_router(&format!("r{i}"), "bench", addr, 64));
            let c = client(addr, 64).await?;
            let cold = sync_pass(&c, &desired, 64, &limiter).await?;
            let noop = sync_pass(&c, &desired, 64, &limiter).await?;
            anyhow::ensure!(noop.0 == 0, "no-op pass planned {} changes", noop.0);
            anyhow::Ok((cold.0, c, desired))
        }));
    }
    let mut changes = 0;
    let mut synced = Vec::new();
    for t in tasks {
        let (n, c, desired) = t.await??;
        changes += n;
        synced.push((c, desired));
    }
    let elapsed = t0.elapsed();
    let after = peak_rss_kib().unwrap_or(0);
    println!(
        "peak RSS (VmHWM) reconciling {routers} routers x {subs} subscribers at once (cold sync + no-op pass each, {changes} changes, {}, at most {max_applies} heavy applies at once): {:.1} MiB (at start: {:.1} MiB)",
        secs(elapsed),
        after as f64 / 1024.0,
        before as f64 / 1024.0
    );
    // A restart of a synced fleet: every router reads everything at once (reads never
    // wait for a permit). `5` in clear_refs resets VmHWM to the current RSS.
    if noop_rtt_ms > 0 {
        farm.set_rtt(noop_rtt_ms)?;
    }
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let base = peak_rss_kib().unwrap_or(0);
    let t0 = Instant::now();
    let passes = synced.iter().map(|(c, d)| sync_pass(c, d, 64, &limiter));
    for r in futures::future::join_all(passes).await {
        anyhow::ensure!(r?.0 == 0, "no-op pass planned changes");
    }
    let peak = peak_rss_kib().unwrap_or(0);
    drop(synced);
    drop(farm);
    if reset {
        println!(
            "then a no-op pass of all {routers} routers at once at RTT {noop_rtt_ms} ms ({}): peak RSS {:.1} MiB (RSS before it: {:.1} MiB)",
            secs(t0.elapsed()),
            peak as f64 / 1024.0,
            base as f64 / 1024.0
        );
    }
    Ok(())
}

/// The child process of the RSS figure: `n` simulators; prints their addresses; exits
/// when stdin closes.
pub async fn sim_farm(args: &[String]) -> anyhow::Result<()> {
    let n: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(1);
    let rtt = Duration::from_millis(args.get(1).and_then(|a| a.parse().ok()).unwrap_or(0));
    let mut sims = Vec::new();
    for _ in 0..n {
        let s = Simulator::start("127.0.0.1:0", SimConfig::new("admin", "x").rtt(rtt)).await?;
        println!("{}", s.local_addr());
        sims.push(s);
    }
    std::io::stdout().flush()?;
    let handles: Vec<_> = sims.iter().map(Simulator::handle).collect();
    tokio::task::spawn_blocking(move || {
        // `rtt <ms>` lines set every simulator's RTT; end of input ends the farm.
        let mut line = String::new();
        while std::io::stdin().read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
            if let Some(ms) = line.trim().strip_prefix("rtt ").and_then(|v| v.parse().ok()) {
                handles.iter().for_each(|h| h.set_rtt(Duration::from_millis(ms)));
            }
            line.clear();
        }
    })
    .await?;
    drop(sims);
    Ok(())
}

//! Pipelined vs one-at-a-time commands against the simulator at several RTTs.
//!
//! `cargo bench -p routeros-client --bench pipeline` (add `-- --full` to run the same
//! number of one-at-a-time commands as pipelined ones at every RTT; by default the
//! one-at-a-time run is shortened at high RTT and reported as a rate).
//! Environment: `BENCH_N` (pipelined commands per RTT, default 2000), `BENCH_WINDOW` (default 64).
//!
//! Pipelined throughput is bounded by `window / RTT` (64 / 20 ms = 3,200 cmd/s); one at a
//! time it is `1 / RTT`. Measured on a shared 2-core machine (other builds running, so
//! the 0 ms row is noisy):
//!
//! ```text
//! window 64    rtt 0 ms:  8,822 vs 11,349 cmd/s (0.8x)   20 ms: 2,767 vs 46.7 (59x)   80 ms: 754 vs 12.2 (62x)
//! window 256   rtt 0 ms: 16,789 vs  4,413 cmd/s (3.8x)   20 ms: 4,443 vs 46.5 (96x)   80 ms: 2,615 vs 12.3 (213x)
//! ```

use std::time::{Duration, Instant};

use routeros_client::{Client, Command, Config, connect_tcp};
use routeros_sim::{SimConfig, Simulator};
use tokio::task::JoinSet;

fn command(i: usize) -> Command {
    if i.is_multiple_of(2) {
        Command::on("/ppp/secret", "add").attr("name", format!("u{i}")).attr("profile", "default-encryption")
    } else {
        Command::on("/ppp/secret", "print").proplist([".id", "name"]).query_eq("name", &format!("u{}", i - 1))
    }
}

async fn session(rtt: Duration, window: usize) -> (Simulator, Client) {
    let sim = Simulator::start("127.0.0.1:0", SimConfig::new("admin", "x").rtt(rtt)).await.expect("simulator");
    let cfg = Config::new("admin", "x").window(window).command_timeout(Duration::from_secs(600));
    let (client, conn) = connect_tcp(sim.local_addr(), &cfg).await.expect("connect");
    tokio::spawn(conn);
    (sim, client)
}

async fn pipelined(rtt: Duration, n: usize, window: usize) -> Duration {
    let (_sim, client) = session(rtt, window).await;
    let start = Instant::now();
    let mut set = JoinSet::new();
    for i in 0..n {
        let c = client.clone();
        set.spawn(async move { c.call(command(i)).await });
    }
    while let Some(r) = set.join_next().await {
        r.expect("join").expect("command");
    }
    start.elapsed()
}

async fn one_at_a_time(rtt: Duration, n: usize) -> Duration {
    let (_sim, client) = session(rtt, 1).await;
    let start = Instant::now();
    for i in 0..n {
        client.call(command(i)).await.expect("command");
    }
    start.elapsed()
}

#[tokio::main]
async fn main() {
    let full = std::env::args().any(|a| a == "--full");
    let n: usize = std::env::var("BENCH_N").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let window: usize = std::env::var("BENCH_WINDOW").ok().and_then(|v| v.parse().ok()).unwrap_or(64);
    println!("routeros-client pipeline benchmark: {n} commands (add/print alternating), window {window}");
    println!("{:>7} | {:>22} | {:>28} | {:>7}", "rtt", "pipelined (cmd/s)", "one at a time (cmd/s)", "ratio");
    for rtt_ms in [0u64, 20, 80] {
        let rtt = Duration::from_millis(rtt_ms);
        let p = pipelined(rtt, n, window).await;
        let seq_n = if full || rtt_ms == 0 { n } else { (4000 / rtt_ms as usize).clamp(20, n) };
        let s = one_at_a_time(rtt, seq_n).await;
        let p_rate = n as f64 / p.as_secs_f64();
        let s_rate = seq_n as f64 / s.as_secs_f64();
        println!(
            "{:>5}ms | {:>10.0} ({:>6.2} s) | {:>10.1} ({:>4} in {:>6.2} s) | {:>6.1}x",
            rtt_ms,
            p_rate,
            p.as_secs_f64(),
            s_rate,
            seq_n,
            s.as_secs_f64(),
            p_rate / s_rate
        );
    }
}

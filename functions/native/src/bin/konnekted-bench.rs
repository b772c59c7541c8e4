//! `konnekted-bench`: benchmarks of the native host, apart from the `konnekted` binary so a
//! release build of that one carries no simulator (feature `bench`).

use clap::{Parser, Subcommand};

#[path = "../bench.rs"]
mod bench;

/// Benchmarks of the native host (figures in BENCHMARKS.md).
#[derive(Debug, Parser)]
#[command(name = "konnekted-bench", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// M-Pesa callbacks through the native host over loopback HTTP, beside raw SQLite
    /// transactions writing the same rows.
    Callbacks(bench::CallbackOpts),
    /// Customer API reads (`GET subscription`, `GET usage`, `GET wallet/entries`) with many
    /// subscribers and a year of payments each.
    Customer {
        /// Subscribers seeded.
        #[arg(long, default_value_t = 10_000)]
        subscribers: usize,
        /// Requests per endpoint.
        #[arg(long, default_value_t = 20_000)]
        requests: usize,
        /// Requests in flight.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
    },
    /// Voucher codes generated and verified per second, then first uses through the host's
    /// `POST /radius/voucher` with every code raced by two devices (exactly one may win).
    Vouchers {
        /// Codes to redeem.
        #[arg(long, default_value_t = 4000)]
        n: usize,
        /// Lookups in flight.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
    },
    /// Hotspot sales through the captive pages: STK callback to the code accepted by
    /// `POST /radius/voucher`, with the waiting page's 3 s refresh (p50/p95).
    SaleLatency {
        /// Sales to make.
        #[arg(long, default_value_t = 200)]
        sales: usize,
    },
    /// The operator console's dashboard and subscriber search, signed in as the owner, on a
    /// tenant with 24 months of history.
    Console {
        /// Subscribers seeded.
        #[arg(long, default_value_t = 10_000)]
        subscribers: usize,
        /// Searches (the dashboard gets a tenth as many).
        #[arg(long, default_value_t = 2_000)]
        requests: usize,
        /// Requests in flight.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Run against this deployment (a Worker under `wrangler dev --local`) instead of a
        /// native host of its own; needs --platform-token and --d1-state.
        #[arg(long, requires_all = ["platform_token", "d1_state"])]
        url: Option<String>,
        /// The deployment's platform token.
        #[arg(long)]
        platform_token: Option<String>,
        /// The folder `wrangler dev --persist-to` names (the tenant's local D1 file is seeded there).
        #[arg(long)]
        d1_state: Option<std::path::PathBuf>,
        /// The process serving the deployment (workerd), for its CPU per request.
        #[arg(long)]
        host_pid: Option<u32>,
    },
    /// The host under test: the bench starts itself with this (the same server as `konnekted serve`).
    #[command(hide = true)]
    Serve {
        #[arg(long)]
        data: std::path::PathBuf,
        #[arg(long)]
        listen: std::net::SocketAddr,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,hyper=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Callbacks(opts) => bench::callbacks(opts).await,
        Command::Customer { subscribers, requests, concurrency } => {
            bench::customer(subscribers, requests, concurrency).await
        }
        Command::Vouchers { n, concurrency } => bench::vouchers(n, concurrency).await,
        Command::SaleLatency { sales } => bench::sale_latency(sales).await,
        Command::Console { subscribers, requests, concurrency, url, platform_token, d1_state, host_pid } => {
            let remote = match (url, platform_token, d1_state) {
                (Some(url), Some(platform_token), Some(d1_state)) => {
                    Some(bench::Remote { url, platform_token, d1_state, host_pid })
                }
                _ => None,
            };
            bench::console(subscribers, requests, concurrency, remote).await
        }
        Command::Serve { data, listen } => {
            let mut c = konnekted::Config::load(None)?;
            c.data_dir = data;
            c.listen = listen;
            let tick = std::time::Duration::from_secs(c.tick_seconds.max(1));
            let running = konnekted::server::launch(&c, Some(tick)).await?;
            tokio::signal::ctrl_c().await?;
            running.stop();
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn callbacks(args: &[&str]) -> Result<bench::CallbackOpts, clap::Error> {
        let argv = ["konnekted-bench", "callbacks"].iter().chain(args);
        match Cli::try_parse_from(argv)?.command {
            Command::Callbacks(o) => Ok(o),
            other => panic!("not the callbacks command: {other:?}"),
        }
    }

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn callbacks_without_options_takes_the_documented_defaults() {
        let o = callbacks(&[]).expect("parses");
        assert_eq!((o.n, o.tenants, o.concurrency, o.subscribers), (6000, 4, 32, 200));
        assert!((o.dup_share - 0.3).abs() < f64::EPSILON);
        assert!(!o.hot && !o.renewing && !o.without_summaries);
    }

    #[test]
    fn callbacks_options_reach_the_bench() {
        let o = callbacks(&[
            "--n",
            "10",
            "--tenants",
            "2",
            "--concurrency",
            "3",
            "--dup",
            "0.5",
            "--subscribers",
            "7",
            "--same-subscriber",
            "--renewing",
            "--without-summaries",
        ])
        .expect("parses");
        assert_eq!((o.n, o.tenants, o.concurrency, o.subscribers), (10, 2, 3, 7));
        assert!((o.dup_share - 0.5).abs() < f64::EPSILON);
        assert!(o.hot && o.renewing && o.without_summaries);
    }

    #[test]
    fn callbacks_unknown_or_malformed_option_is_refused() {
        assert!(callbacks(&["--tennants", "2"]).is_err());
        assert!(callbacks(&["--n", "many"]).is_err());
    }
}

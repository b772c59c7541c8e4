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
    Callbacks {
        /// Callbacks to send.
        #[arg(long)]
        n: Option<usize>,
        /// Tenants they are spread over.
        #[arg(long)]
        tenants: Option<usize>,
        /// Callbacks in flight.
        #[arg(long)]
        concurrency: Option<usize>,
        /// Share of callbacks delivered twice (0..1).
        #[arg(long)]
        dup: Option<f64>,
        /// Subscribers per tenant.
        #[arg(long)]
        subscribers: Option<usize>,
        /// Every callback for one subscriber (the contention shape).
        #[arg(long)]
        same_subscriber: bool,
        /// The plan costs what one callback pays (KES 50), so every callback buys a paid
        /// period (and, with the summaries built, writes the dashboard's summaries too).
        #[arg(long)]
        renewing: bool,
        /// Leave the tenants' dashboard summaries unbuilt: the crediting batch's summary
        /// statements then find no built summaries and write nothing (the cost without them).
        #[arg(long)]
        without_summaries: bool,
        /// Drop the collections_daily triggers (tenant migration 0022) after setup: the cost
        /// without the collections summary.
        #[arg(long)]
        without_collections: bool,
    },
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
        Command::Callbacks {
            n,
            tenants,
            concurrency,
            dup,
            subscribers,
            same_subscriber,
            renewing,
            without_summaries,
            without_collections,
        } => {
            // The bench reads its own option list; hand it exactly what clap accepted.
            let mut args = Vec::new();
            let mut push = |name: &str, v: Option<String>| {
                if let Some(v) = v {
                    args.extend([name.to_owned(), v]);
                }
            };
            push("--n", n.map(|v| v.to_string()));
            push("--tenants", tenants.map(|v| v.to_string()));
            push("--concurrency", concurrency.map(|v| v.to_string()));
            push("--dup", dup.map(|v| v.to_string()));
            push("--subscribers", subscribers.map(|v| v.to_string()));
            if same_subscriber {
                args.push("--same-subscriber".to_owned());
            }
            if renewing {
                args.push("--renewing".to_owned());
            }
            if without_summaries {
                args.push("--without-summaries".to_owned());
            }
            if without_collections {
                args.push("--without-collections".to_owned());
            }
            bench::callbacks(&args).await
        }
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

//! `providers-sim --listen 127.0.0.1:7080`: Stripe, Paystack and Africa's Talking simulators on one
//! address until Ctrl-C. Prints the base URL alone on stdout; accounts are added over `/__sim/`.

use std::net::SocketAddr;

use anyhow::Context;
use clap::Parser;
use providers_sim::{ProvidersSim, SimConfig};

/// Stripe, Paystack and Africa's Talking simulators on their wire formats.
#[derive(Debug, Parser)]
#[command(name = "providers-sim", version)]
struct Cli {
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:7080")]
    listen: SocketAddr,
    /// A JSON `SimConfig` (accounts, delivery knobs; every field optional).
    #[arg(long, value_name = "FILE.json")]
    config: Option<std::path::PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "providers_sim=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let config: SimConfig = match &cli.config {
        Some(p) => {
            serde_json::from_str(&std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?)
                .with_context(|| format!("parsing {}", p.display()))?
        }
        None => SimConfig::default(),
    };
    let sim = ProvidersSim::bind(cli.listen, config).await.with_context(|| format!("binding {}", cli.listen))?;
    println!("{}", sim.base_url());
    tokio::signal::ctrl_c().await?;
    Ok(())
}

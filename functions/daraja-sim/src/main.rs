//! `daraja-sim --listen 127.0.0.1:7070 [--config sim.json]`: runs the simulator until Ctrl-C.
//!
//! The config file is a JSON `SimConfig` (every field optional); without it the simulator knows the
//! public sandbox shortcode and one app (`sim-consumer-key` / `sim-consumer-secret`);
//! `--print-config` shows the full default to start from. Durations are in milliseconds.
//! The base URL is printed alone on stdout; logs go to stderr (`RUST_LOG` filters them).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use daraja_sim::{DarajaSim, SimConfig};

/// A Safaricom Daraja simulator on the real wire format.
#[derive(Debug, Parser)]
#[command(name = "daraja-sim", version)]
struct Cli {
    /// Address to listen on.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:7070")]
    listen: SocketAddr,
    /// A JSON `SimConfig` (every field optional; durations in milliseconds).
    #[arg(long, value_name = "FILE.json")]
    config: Option<PathBuf>,
    /// Print the configuration (the default, or --config's) and exit.
    #[arg(long)]
    print_config: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "daraja_sim=info".into()),
        )
        .init();
    let config = match &cli.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?
        }
        None => SimConfig::default(),
    };
    if cli.print_config {
        println!("{}", serde_json::to_string_pretty(&config)?);
        return Ok(());
    }
    let listen = cli.listen;
    let sim = DarajaSim::bind(listen, config).await.with_context(|| format!("binding {listen}"))?;
    tracing::info!(base_url = %sim.base_url(), "daraja-sim listening");
    println!("{}", sim.base_url());
    tokio::signal::ctrl_c().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::Cli;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn cli_unknown_argument_is_an_error() {
        assert!(Cli::try_parse_from(["daraja-sim", "--lisen", "127.0.0.1:1"]).is_err());
        assert!(Cli::try_parse_from(["daraja-sim", "--listen", "127.0.0.1:1", "--print-config"]).is_ok());
    }
}

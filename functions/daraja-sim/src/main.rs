//! `daraja-sim --listen 127.0.0.1:7070 [--config sim.json]`: runs the simulator until Ctrl-C.
//!
//! The config file is a JSON `SimConfig` (every field optional); without it the simulator knows the
//! public sandbox shortcode and one app (`sim-consumer-key` / `sim-consumer-secret`);
//! `--print-config` shows the full default to start from. Durations are in milliseconds.
//! The base URL is printed alone on stdout; logs go to stderr (`RUST_LOG` filters them).

use std::net::SocketAddr;

use anyhow::{Context, bail};
use daraja_sim::{DarajaSim, SimConfig};

fn usage() -> &'static str {
    "usage: daraja-sim [--listen ADDR:PORT] [--config FILE.json] [--print-config]"
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "daraja_sim=info".into()),
        )
        .init();

    let mut listen: SocketAddr = "127.0.0.1:7070".parse()?;
    let mut config = SimConfig::default();
    let mut print_config = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => {
                let v = args.next().context(usage())?;
                listen = v.parse().with_context(|| format!("--listen {v}"))?;
            }
            "--config" => {
                let path = args.next().context(usage())?;
                let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
                config = serde_json::from_str(&text).with_context(|| format!("parsing {path}"))?;
            }
            "--print-config" => print_config = true,
            "-h" | "--help" => {
                println!("{}", usage());
                return Ok(());
            }
            other => bail!("unknown argument {other}\n{}", usage()),
        }
    }
    if print_config {
        println!("{}", serde_json::to_string_pretty(&config)?);
        return Ok(());
    }
    let sim = DarajaSim::bind(listen, config).await.with_context(|| format!("binding {listen}"))?;
    tracing::info!(base_url = %sim.base_url(), "daraja-sim listening");
    println!("{}", sim.base_url());
    tokio::signal::ctrl_c().await?;
    Ok(())
}

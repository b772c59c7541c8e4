//! `routeros-sim --listen 127.0.0.1:8728 --user admin --password x [--flavour v6|v7] [--rtt-ms N] [--legacy-login]`

use std::time::Duration;

use routeros_sim::{Flavour, SimConfig, Simulator};

const USAGE: &str = "usage: routeros-sim --listen ADDR:PORT --user USER --password PASS \
[--flavour v6|v7] [--rtt-ms N] [--legacy-login]";

fn parse_args() -> Result<(String, SimConfig), String> {
    let mut listen = "127.0.0.1:8728".to_owned();
    let mut cfg = SimConfig::new("admin", "");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or_else(|| format!("{a} needs a value\n{USAGE}"));
        match a.as_str() {
            "--listen" => listen = val()?,
            "--user" => cfg.user = val()?,
            "--password" => cfg.password = val()?,
            "--flavour" | "--flavor" => cfg.flavour = val()?.parse::<Flavour>()?,
            "--rtt-ms" => {
                let ms: u64 = val()?.parse().map_err(|e| format!("--rtt-ms: {e}"))?;
                cfg.rtt = Duration::from_millis(ms);
            }
            "--legacy-login" => cfg = cfg.legacy_login_only(),
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    Ok((listen, cfg))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let (listen, cfg) = match parse_args() {
        Ok(v) => v,
        Err(msg) => {
            eprintln!("{msg}");
            std::process::exit(2);
        }
    };
    let flavour = cfg.flavour;
    let sim = Simulator::start(&listen, cfg).await?;
    println!("routeros-sim ({flavour:?}) listening on {}", sim.local_addr());
    tokio::signal::ctrl_c().await?;
    drop(sim);
    Ok(())
}

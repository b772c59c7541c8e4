//! `routeros-sim --listen 127.0.0.1:8728 --user admin --password x [--flavour v6|v7] [--rtt-ms N] [--legacy-login]`

use std::time::Duration;

use clap::Parser;
use routeros_sim::{Flavour, SimConfig, Simulator};

/// A simulated MikroTik router speaking the RouterOS API (plain `api` service) for tests and demos.
#[derive(Debug, Parser)]
#[command(name = "routeros-sim", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8728")]
    listen: String,
    /// API user name.
    #[arg(long, default_value = "admin")]
    user: String,
    /// API password.
    #[arg(long, default_value = "")]
    password: String,
    /// RouterOS major version to behave like.
    #[arg(long, alias = "flavor", value_name = "v6|v7", default_value = "v7", value_parser = parse_flavour)]
    flavour: Flavour,
    /// Delay added to every reply, as over a VPN link.
    #[arg(long, value_name = "N", default_value_t = 0)]
    rtt_ms: u64,
    /// v6 only: answer every `/login` without `=response=` with an MD5 challenge (pre-6.43).
    #[arg(long)]
    legacy_login: bool,
}

fn parse_flavour(s: &str) -> Result<Flavour, String> {
    s.parse::<Flavour>()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let a = Args::parse();
    let mut cfg = SimConfig::new(&a.user, &a.password);
    cfg.flavour = a.flavour;
    cfg.rtt = Duration::from_millis(a.rtt_ms);
    if a.legacy_login {
        cfg = cfg.legacy_login_only();
    }
    let flavour = cfg.flavour;
    let sim = Simulator::start(&a.listen, cfg).await?;
    println!("routeros-sim ({flavour:?}) listening on {}", sim.local_addr());
    tokio::signal::ctrl_c().await?;
    drop(sim);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent_and_refuses_unknown_flags() {
        Args::command().debug_assert();
        assert!(Args::try_parse_from(["routeros-sim", "--lisen", "x"]).is_err());
        let a = Args::try_parse_from(["routeros-sim", "--flavor", "v6", "--rtt-ms", "40"]).expect("valid");
        assert_eq!((a.flavour, a.rtt_ms), (Flavour::V6, 40));
        assert!(Args::try_parse_from(["routeros-sim", "--flavour", "v8"]).is_err());
    }
}

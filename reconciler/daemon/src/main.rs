//! `konnekted-reconciler`: keeps MikroTik routers in line with the billing edge.
//!
//! `run`, `check-config`, `router show`; with the `bench` feature `bench [memory]`; with the `radius`
//! feature the FreeRADIUS tools (`radius gen-config`, `radius migrate`, also the
//! `konnekted-radius` binary). A release build without features links neither the RouterOS
//! simulator nor sqlx's PostgreSQL and MySQL drivers.
//!
//! The config file may also be named by `KONNEKTED_RECONCILER_CONFIG`; secrets may come
//! from the environment (see the `config` module). Each subcommand's handler is its own
//! function.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use konnekted_reconciler::{Config, daemon};

/// Keeps MikroTik routers in line with the billing edge's desired state.
#[derive(Debug, Parser)]
#[command(name = "konnekted-reconciler", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// `konnekted-reconciler --config FILE` is `run --config FILE`.
    #[command(flatten)]
    run: ConfigArg,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon: full passes, the change-feed fast path, metrics (the default command).
    Run(ConfigArg),
    /// Load and validate the config, then exit.
    CheckConfig(ConfigArg),
    /// Look at one router.
    #[command(subcommand)]
    Router(RouterCommand),
    /// Benchmarks against simulated routers (figures in BENCHMARKS.md).
    #[cfg(feature = "bench")]
    Bench {
        #[command(subcommand)]
        what: Option<BenchCommand>,
        /// Fewer subscribers and routers (a quick look, not the published figures).
        #[arg(long, global = true)]
        quick: bool,
    },
    /// Simulated routers for the memory bench (started by the bench itself).
    #[cfg(feature = "bench")]
    #[command(name = "__sim-farm", hide = true)]
    SimFarm {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// The FreeRADIUS tools (the same as the `konnekted-radius` binary).
    #[cfg(feature = "radius")]
    #[command(subcommand)]
    Radius(konnekted_radius::cli::RadiusCommand),
}

#[derive(Debug, Subcommand)]
enum RouterCommand {
    /// The router's managed objects, their desired values and drift (missing, conflicts, to
    /// remove, sessions to kick), secrets redacted. Changes nothing.
    Show {
        /// The router's name in the config.
        name: String,
        /// Only this menu (`/ppp/secret`, `/queue/tree`, ...).
        #[arg(long, value_name = "PATH")]
        menu: Option<String>,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Bring a new router under management: print the RouterOS script to paste once, print
    /// the reconciler side's WireGuard peer, add the router to the config file.
    Onboard {
        /// The tenant's realm (already in the config).
        #[arg(long)]
        tenant: String,
        /// The router's name (new).
        #[arg(long)]
        name: String,
        /// A hotspot router: also its hotspot profile's RADIUS and the walled garden.
        #[arg(long)]
        hotspot: bool,
        /// The hotspot profile to configure (with --hotspot).
        #[arg(long, default_value = "default")]
        hotspot_profile: String,
        /// The router's PPPoE / hotspot address pool (a.b.c.d/n; repeat for several): put in
        /// the WireGuard peer's AllowedIPs so the redirector's answers reach subscribers
        /// (required when the tenant has a redirector).
        #[arg(long = "pool")]
        pools: Vec<String>,
        /// Print only; leave the config file as it is.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// A fresh WireGuard key pair for the reconciler's own end (private, then public).
    WgKeygen,
}

#[cfg(feature = "bench")]
#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Peak memory reconciling 100 routers x 1,000 subscribers at once (or --routers x --subs).
    Memory {
        /// Concurrent heavy applies allowed (the daemon's `max_concurrent_applies`).
        #[arg(long, default_value_t = konnekted_reconciler::config::DEFAULT_MAX_CONCURRENT_APPLIES)]
        max_applies: usize,
        /// Routers (default 100 when --subs is given).
        #[arg(long)]
        routers: Option<usize>,
        /// Subscribers per router (default 1,000 when --routers is given).
        #[arg(long)]
        subs: Option<usize>,
        /// Simulated RTT of the no-op passes, ms (with --routers/--subs).
        #[arg(long, default_value_t = 0)]
        noop_rtt_ms: u64,
    },
}

#[derive(Debug, Args)]
struct ConfigArg {
    /// The reconciler's config file (TOML).
    #[arg(long, value_name = "FILE", env = "KONNEKTED_RECONCILER_CONFIG")]
    config: Option<PathBuf>,
}

impl ConfigArg {
    fn load(&self) -> anyhow::Result<Config> {
        let Some(path) = &self.config else {
            anyhow::bail!("no config: pass --config FILE or set KONNEKTED_RECONCILER_CONFIG")
        };
        let path = path.to_str().ok_or_else(|| anyhow::anyhow!("config path is not UTF-8: {}", path.display()))?;
        Ok(Config::load(path, |k| std::env::var(k).ok())?)
    }
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = real_main(cli) {
        eprintln!("konnekted-reconciler: {e:#}");
        std::process::exit(1);
    }
}

/// Logs: human-readable lines on stderr, or with `KONNEKTED_LOG_FORMAT=json` one JSON object
/// per line on stdout (the container image sets it; log collectors read stdout). `RUST_LOG`
/// filters either way (default `info`). Printed output of the subcommands stays on stdout
/// only in the text format, so scripts that read it should not set the JSON format.
fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    if std::env::var("KONNEKTED_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        tracing_subscriber::fmt().json().with_env_filter(filter).with_writer(std::io::stdout).init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    }
}

fn real_main(cli: Cli) -> anyhow::Result<()> {
    init_logs();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        None => run(&cli.run, &rt),
        Some(Command::Run(c)) => run(&c, &rt),
        Some(Command::CheckConfig(c)) => check_config(&c),
        Some(Command::Router(RouterCommand::Show { name, menu, config })) => {
            router_show(&name, menu.as_deref(), &config, &rt)
        }
        Some(Command::Router(RouterCommand::Onboard {
            tenant,
            name,
            hotspot,
            hotspot_profile,
            pools,
            dry_run,
            config,
        })) => {
            let req = konnekted_reconciler::onboard::OnboardRequest { tenant, name, hotspot, hotspot_profile, pools };
            router_onboard(&req, dry_run, &config)
        }
        Some(Command::Router(RouterCommand::WgKeygen)) => {
            let (private, public) = konnekted_reconciler::onboard::wg_keypair();
            println!("PrivateKey = {}\nPublicKey = {public}", private.expose());
            Ok(())
        }
        #[cfg(feature = "bench")]
        Some(Command::Bench { what, quick }) => bench(what, quick, &rt),
        #[cfg(feature = "bench")]
        Some(Command::SimFarm { args }) => rt.block_on(konnekted_reconciler::bench::sim_farm(&args)),
        #[cfg(feature = "radius")]
        Some(Command::Radius(cmd)) => rt.block_on(konnekted_radius::cli::run(cmd)),
    }
}

/// `run`: the daemon, until killed.
fn run(c: &ConfigArg, rt: &tokio::runtime::Runtime) -> anyhow::Result<()> {
    let c = c.load()?;
    rt.block_on(daemon::run(c))
}

/// `check-config`: load, validate, summarise.
fn check_config(c: &ConfigArg) -> anyhow::Result<()> {
    let c = c.load()?;
    println!("ok: {} tenants, {} routers", c.tenants.len(), c.routers.len());
    Ok(())
}

/// `router show NAME [--menu PATH]`: the router's managed objects, their desired values
/// and drift (changes nothing).
fn router_show(name: &str, menu: Option<&str>, c: &ConfigArg, rt: &tokio::runtime::Runtime) -> anyhow::Result<()> {
    let menu = menu.map(konnekted_reconciler::show::menu_of).transpose()?;
    let c = c.load()?;
    let router = c.routers.iter().find(|r| r.name == name).ok_or_else(|| anyhow::anyhow!("no router {name:?}"))?;
    let tenant = c.tenant(&router.tenant).ok_or_else(|| anyhow::anyhow!("router {name}: no tenant"))?;
    print!("{}", rt.block_on(konnekted_reconciler::show::show(tenant, router, menu))?);
    Ok(())
}

/// `router onboard --tenant T --name N [--hotspot]`: the script, the server peer, the
/// config block (appended to the config file unless `--dry-run`).
fn router_onboard(
    req: &konnekted_reconciler::onboard::OnboardRequest,
    dry_run: bool,
    c: &ConfigArg,
) -> anyhow::Result<()> {
    use std::io::Write as _;
    let c_loaded = c.load()?;
    let o = konnekted_reconciler::onboard::onboard(&c_loaded, req)?;
    if !dry_run {
        let path = c.config.as_ref().ok_or_else(|| anyhow::anyhow!("no config file"))?;
        let mut f = std::fs::OpenOptions::new().append(true).open(path)?;
        f.write_all(o.router_toml.as_bytes())?;
        // The appended file must still load.
        c.load()?;
    }
    println!("# ---- 1. RouterOS script: paste into the router's terminal once ----");
    print!("{}", o.script(req));
    println!("\n# ---- 2. Reconciler side: add to the reconciler's WireGuard interface ----");
    print!("{}", o.server_peer(req));
    println!(
        "\n# ---- 3. {} the reconciler's config ----",
        if dry_run { "To add to (not written: --dry-run)" } else { "Added to" }
    );
    print!("{}", o.router_toml);
    Ok(())
}

/// `bench [--quick]` and `bench memory [--max-applies N] [--routers N --subs N --noop-rtt-ms MS] [--quick]`.
#[cfg(feature = "bench")]
fn bench(what: Option<BenchCommand>, quick: bool, rt: &tokio::runtime::Runtime) -> anyhow::Result<()> {
    use konnekted_reconciler::bench;
    match what {
        None => rt.block_on(bench::run(quick)),
        Some(BenchCommand::Memory { max_applies, routers: None, subs: None, .. }) => {
            rt.block_on(bench::memory(quick, max_applies))
        }
        Some(BenchCommand::Memory { max_applies, routers, subs, noop_rtt_ms }) => {
            rt.block_on(bench::memory_sized(routers.unwrap_or(100), subs.unwrap_or(1_000), max_applies, noop_rtt_ms))
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn cli_bare_config_is_run_and_misspellings_are_errors() {
        let cli = Cli::try_parse_from(["konnekted-reconciler", "--config", "r.toml"]).expect("parse");
        assert!(cli.command.is_none() && cli.run.config.is_some());
        assert!(matches!(
            Cli::try_parse_from(["konnekted-reconciler", "run", "--config", "r.toml"]).expect("parse").command,
            Some(Command::Run(_))
        ));
        assert!(Cli::try_parse_from(["konnekted-reconciler", "check-config", "--config", "r.toml"]).is_ok());
        assert!(Cli::try_parse_from(["konnekted-reconciler", "run", "--confg", "r.toml"]).is_err());
        assert!(Cli::try_parse_from(["konnekted-reconciler", "chek-config"]).is_err());
        assert!(
            Cli::try_parse_from(["konnekted-reconciler", "router", "show", "tower-1", "--menu", "/ppp/secret"]).is_ok()
        );
        assert!(Cli::try_parse_from(["konnekted-reconciler", "router", "shw", "tower-1"]).is_err());
    }

    #[cfg(feature = "bench")]
    #[test]
    fn cli_bench_commands_parse() {
        for args in [
            &["konnekted-reconciler", "bench"][..],
            &["konnekted-reconciler", "bench", "--quick"],
            &["konnekted-reconciler", "bench", "memory", "--max-applies", "4", "--quick"],
            &["konnekted-reconciler", "bench", "memory", "--routers", "10", "--subs", "50", "--noop-rtt-ms", "20"],
        ] {
            Cli::try_parse_from(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        }
    }
}

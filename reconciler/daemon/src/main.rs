//! `konnekted-reconciler [run] --config FILE` | `check-config --config FILE` | `bench [--quick]` | `bench memory [--max-applies N] [--quick] [--routers N --subs M [--noop-rtt-ms R]]`
//! | `radius gen-config --input tenants.toml --out DIR [--check]` | `radius migrate --input tenants.toml [--realm R]`
//! | `router show NAME [--menu /ppp/secret] --config FILE`
//!
//! The config file may also be named by `KONNEKTED_RECONCILER_CONFIG`; secrets may come
//! from the environment (see the `config` module).

use konnekted_reconciler::{Config, bench, daemon};

const USAGE: &str = "usage: konnekted-reconciler [run] --config FILE | check-config --config FILE | bench [--quick] | bench memory [--max-applies N] [--quick] [--routers N --subs M [--noop-rtt-ms R]]\n       konnekted-reconciler radius gen-config --input tenants.toml --out DIR [--check] | radius migrate --input tenants.toml [--realm R]\n       konnekted-reconciler router show NAME [--menu /ppp/secret] --config FILE";

fn config_path(args: &[String]) -> anyhow::Result<String> {
    if let Some(i) = args.iter().position(|a| a == "--config") {
        return args.get(i + 1).cloned().ok_or_else(|| anyhow::anyhow!("--config needs a value\n{USAGE}"));
    }
    std::env::var("KONNEKTED_RECONCILER_CONFIG").map_err(|_| anyhow::anyhow!("no --config FILE\n{USAGE}"))
}

fn main() {
    if let Err(e) = real_main() {
        eprintln!("konnekted-reconciler: {e:#}");
        std::process::exit(1);
    }
}

fn real_main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cmd = args.first().map(String::as_str).unwrap_or("run");
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cmd {
        "bench" => {
            let quick = args.iter().any(|a| a == "--quick");
            if args.iter().any(|a| a == "memory") {
                let max_applies = match args.iter().position(|a| a == "--max-applies") {
                    Some(i) => args
                        .get(i + 1)
                        .and_then(|v| v.parse().ok())
                        .ok_or_else(|| anyhow::anyhow!("--max-applies needs a number\n{USAGE}"))?,
                    None => konnekted_reconciler::config::DEFAULT_MAX_CONCURRENT_APPLIES,
                };
                let number = |flag: &str| -> anyhow::Result<Option<usize>> {
                    match args.iter().position(|a| a == flag) {
                        Some(i) => Ok(Some(
                            args.get(i + 1)
                                .and_then(|v| v.parse().ok())
                                .ok_or_else(|| anyhow::anyhow!("{flag} needs a number\n{USAGE}"))?,
                        )),
                        None => Ok(None),
                    }
                };
                match (number("--routers")?, number("--subs")?) {
                    (None, None) => rt.block_on(bench::memory(quick, max_applies)),
                    (routers, subs) => {
                        let rtt = number("--noop-rtt-ms")?.unwrap_or(0) as u64;
                        rt.block_on(bench::memory_sized(
                            routers.unwrap_or(100),
                            subs.unwrap_or(1_000),
                            max_applies,
                            rtt,
                        ))
                    }
                }
            } else {
                rt.block_on(bench::run(quick))
            }
        }
        // The FreeRADIUS configuration generator and RADIUS schema migrations.
        "radius" => rt.block_on(konnekted_radius::cli::run(args[1..].to_vec())),
        bench::SIM_FARM => rt.block_on(bench::sim_farm(&args[1..])),
        "check-config" => {
            let c = Config::load(&config_path(&args)?, |k| std::env::var(k).ok())?;
            println!("ok: {} tenants, {} routers", c.tenants.len(), c.routers.len());
            Ok(())
        }
        "run" | "--config" => {
            let c = Config::load(&config_path(&args)?, |k| std::env::var(k).ok())?;
            rt.block_on(daemon::run(c))
        }
        "router" => router_command(&args, &rt),
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => anyhow::bail!("unknown command {other}\n{USAGE}"),
    }
}

/// `router show NAME [--menu PATH]`: the router's managed objects, their desired values
/// and drift (changes nothing).
fn router_command(args: &[String], rt: &tokio::runtime::Runtime) -> anyhow::Result<()> {
    let (Some("show"), Some(name)) = (args.get(1).map(String::as_str), args.get(2)) else {
        anyhow::bail!("usage: konnekted-reconciler router show NAME [--menu /ppp/secret] --config FILE\n{USAGE}");
    };
    let menu = match args.iter().position(|a| a == "--menu") {
        Some(i) => {
            let path = args.get(i + 1).ok_or_else(|| anyhow::anyhow!("--menu needs a path\n{USAGE}"))?;
            Some(konnekted_reconciler::show::menu_of(path)?)
        }
        None => None,
    };
    let c = Config::load(&config_path(args)?, |k| std::env::var(k).ok())?;
    let router = c.routers.iter().find(|r| &r.name == name).ok_or_else(|| anyhow::anyhow!("no router {name:?}"))?;
    let tenant = c.tenant(&router.tenant).ok_or_else(|| anyhow::anyhow!("router {name}: no tenant"))?;
    print!("{}", rt.block_on(konnekted_reconciler::show::show(tenant, router, menu))?);
    Ok(())
}

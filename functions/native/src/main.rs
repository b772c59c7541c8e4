//! `konnekted`: serve the billing API, manage tenants, run the sweep, print voucher codes.
//!
//! The callback benchmark is its own binary (`konnekted-bench`, feature `bench`) and the
//! demo ISP with its in-process Daraja simulator needs the `demo` feature, so a release
//! build of this binary carries neither.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use konnekted::server::{self, ctx};
use konnekted::{Config, NativePlatform};
use konnekted_core::platform::Settings;

/// Subscriber billing for wireless ISPs (native host).
#[derive(Debug, Parser)]
#[command(name = "konnekted", version, after_help = ENVIRONMENT)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

const ENVIRONMENT: &str = "Environment: KONNEKTED_LISTEN, KONNEKTED_DATA_DIR, KONNEKTED_PUBLIC_BASE_URL, \
KONNEKTED_PLATFORM_TOKEN, KONNEKTED_VOUCHER_SECRET, KONNEKTED_TICK_SECONDS, RUST_LOG.";

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the billing API (and run the scheduled sweep every tick).
    Serve {
        /// Start with a demo ISP and an in-process Daraja simulator (needs the `demo` feature).
        #[arg(long)]
        demo: bool,
        #[command(flatten)]
        common: Common,
    },
    /// The demo ISP for an edge host that serves --data's SQLite files (`scripts/run.sh --spin`;
    /// needs the `demo` feature): seeds it with the same code as `serve --demo`, runs its Daraja
    /// and Stripe / Paystack / SMS simulators here with their callbacks at the edge's URL
    /// (KONNEKTED_PUBLIC_BASE_URL, else http://<--listen>), prints what to try there, and runs
    /// until Ctrl-C. Serves no API itself: start the edge host once --ready exists.
    DemoEdge {
        /// Created once the seed is done and the simulators listen.
        #[arg(long, value_name = "FILE")]
        ready: Option<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// Manage tenants (ISPs).
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Run the scheduled pass (sweep, expiry, reminders, SMS outbox) once, then exit.
    Sweep {
        /// Instead of running it here, ask the edge deployment at this URL to run it (Spin has no
        /// cron): POST <URL>/internal/scheduled with the platform token (KONNEKTED_PLATFORM_TOKEN).
        #[arg(long, value_name = "URL")]
        edge: Option<String>,
        /// With --edge: keep asking every SECS seconds (a timer for Spin) instead of once.
        #[arg(long, value_name = "SECS", requires = "edge")]
        every: Option<u64>,
        #[command(flatten)]
        common: Common,
    },
    /// Serve SQLite databases by label over HTTP (one file per label in --data) for the `local`
    /// build of the Spin component under `wasmtime serve` (its STORE_URL). Local runs only.
    SpinSqlite {
        /// Address to listen on (loopback).
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8099")]
        listen: SocketAddr,
        /// Folder of the SQLite files.
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
    },
    /// Voucher codes.
    #[command(subcommand)]
    Voucher(VoucherCommand),
}

#[derive(Debug, Subcommand)]
enum TenantCommand {
    /// Create a tenant and migrate its database; prints its tokens once.
    Add {
        /// The tenant's realm (`fastnet`, `fast.net`).
        realm: String,
        /// Display name (default: the realm).
        #[arg(long)]
        name: Option<String>,
        /// Instead of creating it here, declare the tenant's database for the edge deployments
        /// (wrangler.toml D1 binding, spin.toml SQLite label) in the checkout at --repo.
        #[arg(long)]
        workers: bool,
        /// With --workers: the D1 database id (default: a placeholder that `wrangler dev` accepts).
        #[arg(long, requires = "workers")]
        d1_id: Option<String>,
        /// With --workers: the repository checkout to edit (default: the one this binary was built from).
        #[arg(long, requires = "workers")]
        repo: Option<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// List tenants: realm, status, name.
    List {
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Debug, Subcommand)]
enum VoucherCommand {
    /// Print voucher codes from the voucher secret alone (no database), e.g. to reprint a sheet.
    Code {
        /// The tenant's realm.
        realm: String,
        /// Batch number (1..16383).
        batch: u32,
        /// First serial (0..262143).
        serial: u32,
        /// How many consecutive codes.
        #[arg(long, default_value_t = 1)]
        count: u32,
        #[command(flatten)]
        common: Common,
    },
}

/// Options every command takes; each overrides the config file and the environment.
#[derive(Debug, Args)]
struct Common {
    /// Config file (TOML).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on (`127.0.0.1:8080`).
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Folder of the SQLite files.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
}

impl Common {
    fn load(&self) -> anyhow::Result<Config> {
        let mut c = Config::load(self.config.as_deref())?;
        if let Some(l) = self.listen {
            c.listen = l;
        }
        if let Some(d) = &self.data {
            c.data_dir = d.clone();
        }
        Ok(c)
    }
}

async fn open(c: &Config) -> anyhow::Result<NativePlatform> {
    NativePlatform::open(
        &c.data_dir,
        Settings {
            public_base_url: c.base_url(),
            platform_token: c.platform_token.clone(),
            voucher_secret: c.voucher_secret.clone(),
        },
    )
    .await
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,hyper=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Serve { demo, common } => serve(demo, &common).await,
        Command::DemoEdge { ready, common } => demo_edge(ready.as_deref(), &common).await,
        Command::Tenant(TenantCommand::Add { realm, workers: true, d1_id, repo, .. }) => {
            tenant_add_edge(&realm, d1_id.as_deref(), repo)
        }
        Command::Tenant(TenantCommand::Add { realm, name, common, .. }) => tenant_add(realm, name, &common).await,
        Command::Tenant(TenantCommand::List { common }) => tenant_list(&common).await,
        Command::Sweep { edge: None, common, .. } => sweep(&common).await,
        Command::Sweep { edge: Some(url), every, common } => sweep_edge(&url, every, &common).await,
        Command::SpinSqlite { listen, data } => {
            std::fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
            let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("binding {listen}"))?;
            eprintln!("spin-sqlite: serving {} on http://{}", data.display(), listener.local_addr()?);
            konnekted::spin_sqlite::serve(konnekted::spin_sqlite::Labels::new(data), listener).await
        }
        Command::Voucher(VoucherCommand::Code { realm, batch, serial, count, common }) => {
            voucher_code(&realm, batch, serial, count, &common)
        }
    }
}

async fn serve(demo: bool, common: &Common) -> anyhow::Result<()> {
    let mut c = common.load()?;
    if demo {
        demo_defaults(&mut c)?;
    }
    let running = server::launch(&c, Some(Duration::from_secs(c.tick_seconds.max(1)))).await?;
    tracing::info!("listening on {}", running.base_url());
    let _sim = if demo { Some(demo_setup(&running, &c).await?) } else { None };
    tokio::signal::ctrl_c().await?;
    running.stop();
    Ok(())
}

#[cfg(feature = "demo")]
fn demo_defaults(c: &mut Config) -> anyhow::Result<()> {
    if c.platform_token.is_empty() {
        c.platform_token = konnekted_core::secret::Secret::new(konnekted::demo::PLATFORM_TOKEN);
    }
    if c.voucher_secret.is_empty() {
        c.voucher_secret = konnekted_core::secret::Secret::new(konnekted::demo::VOUCHER_SECRET);
    }
    Ok(())
}

#[cfg(not(feature = "demo"))]
fn demo_defaults(_: &mut Config) -> anyhow::Result<()> {
    bail!("this konnekted was built without the demo: build with `--features demo` (scripts/run.sh does)")
}

#[cfg(feature = "demo")]
async fn demo_setup(
    running: &server::Running,
    c: &Config,
) -> anyhow::Result<(daraja_sim::SimHandle, providers_sim::SimHandle)> {
    let sim = konnekted::demo::setup(&running.platform).await?;
    let providers = konnekted::demo::setup_providers(&running.platform, &running.base_url()).await?;
    konnekted::demo::print_tryout(
        &running.base_url(),
        &sim.base_url(),
        &providers.base_url(),
        c,
        konnekted::demo::Host::Native,
    );
    Ok((sim, providers))
}

#[cfg(feature = "demo")]
async fn demo_edge(ready: Option<&Path>, common: &Common) -> anyhow::Result<()> {
    let mut c = common.load()?;
    demo_defaults(&mut c)?;
    let base = c.base_url();
    let p = open(&c).await?;
    let sim = konnekted::demo::setup(&p).await?;
    let providers = konnekted::demo::setup_providers(&p, &base).await?;
    // The edge host is the only one to use the files from here on.
    drop(p);
    konnekted::demo::print_tryout(&base, &sim.base_url(), &providers.base_url(), &c, konnekted::demo::Host::Spin);
    if let Some(f) = ready {
        std::fs::write(f, format!("{base}\n")).with_context(|| format!("writing {}", f.display()))?;
    }
    tokio::signal::ctrl_c().await?;
    Ok(())
}

#[cfg(not(feature = "demo"))]
async fn demo_edge(_: Option<&Path>, _: &Common) -> anyhow::Result<()> {
    bail!("this konnekted was built without the demo: build with `--features demo` (scripts/run.sh does)")
}

#[cfg(not(feature = "demo"))]
async fn demo_setup(_: &server::Running, _: &Config) -> anyhow::Result<()> {
    bail!("this konnekted was built without the demo")
}

async fn tenant_add(realm: String, name: Option<String>, common: &Common) -> anyhow::Result<()> {
    let c = common.load()?;
    let p = open(&c).await?;
    let input = konnekted_core::usecases::tenants::TenantInput {
        name: name.unwrap_or_else(|| realm.clone()),
        realm,
        settings: None,
        daraja: None,
        admin_token: None,
        callback_token: None,
        sync_key: None,
    };
    let cx = ctx();
    let mut ids = konnekted_core::ids::IdGen::new(&cx);
    let t = konnekted_core::usecases::tenants::create_tenant(&p, input, "cli: konnekted tenant add", &mut ids, cx.now)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("{}", serde_json::to_string_pretty(&t)?);
    eprintln!("Keep these: they are shown once. Admin API: {}/api/t/{}/...", c.base_url(), t.realm);
    Ok(())
}

/// Declares the tenant's database for the edge deployments with the checkout's own script
/// (`scripts/edge-tenant-add.sh`), found under `repo`, never under the working directory.
fn tenant_add_edge(realm: &str, d1_id: Option<&str>, repo: Option<PathBuf>) -> anyhow::Result<()> {
    let repo = repo.unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."));
    let script = repo.join("scripts/edge-tenant-add.sh");
    if !script.is_file() {
        bail!("{} not found: pass --repo with the Konnekted checkout to edit", script.display());
    }
    let mut cmd = std::process::Command::new("bash");
    cmd.arg(&script).arg(realm);
    if let Some(id) = d1_id {
        cmd.arg(id);
    }
    if !cmd.status().with_context(|| format!("running {}", script.display()))?.success() {
        bail!("{} failed", script.display());
    }
    eprintln!(
        "Restart wrangler dev (or deploy), then create the tenant on the Worker:\n  curl -X POST $BASE/api/tenants -H 'Authorization: Bearer $PLATFORM_TOKEN' -d '{{\"realm\":\"{realm}\",\"name\":\"...\"}}'"
    );
    Ok(())
}

async fn tenant_list(common: &Common) -> anyhow::Result<()> {
    let c = common.load()?;
    let p = open(&c).await?;
    for t in konnekted_core::store::tenants::list(konnekted_core::platform::Platform::control(&p)).await? {
        println!("{}\t{}\t{}", t.realm, t.status, t.name);
    }
    Ok(())
}

async fn sweep(common: &Common) -> anyhow::Result<()> {
    let c = common.load()?;
    let p = open(&c).await?;
    let runs = konnekted_core::run_scheduled(&p, &ctx()).await;
    println!("{}", serde_json::to_string_pretty(&runs)?);
    Ok(())
}

/// Asks an edge deployment to run its scheduled pass: once, or every `every` seconds (a failed
/// call is reported and the timer goes on).
async fn sweep_edge(url: &str, every: Option<u64>, common: &Common) -> anyhow::Result<()> {
    let c = common.load()?;
    let token = c.platform_token.expose();
    if token.is_empty() {
        bail!("no platform token: set KONNEKTED_PLATFORM_TOKEN or platform_token in the config");
    }
    let target = format!("{}/internal/scheduled", url.trim_end_matches('/'));
    let http = reqwest::Client::builder().timeout(Duration::from_secs(300)).build()?;
    loop {
        let result = async {
            let r = http.post(&target).bearer_auth(token).send().await.with_context(|| format!("POST {target}"))?;
            let status = r.status();
            let text = r.text().await.unwrap_or_default();
            if !status.is_success() {
                bail!("POST {target}: {status}: {text}");
            }
            Ok(text)
        }
        .await;
        match (result, every) {
            (Ok(text), None) => {
                println!("{text}");
                return Ok(());
            }
            (Err(e), None) => return Err(e),
            (Ok(text), Some(_)) => tracing::info!("scheduled pass: {text}"),
            (Err(e), Some(_)) => tracing::warn!("{e:#}"),
        }
        tokio::time::sleep(Duration::from_secs(every.unwrap_or(300).max(1))).await;
    }
}

fn voucher_code(realm: &str, batch: u32, first: u32, count: u32, common: &Common) -> anyhow::Result<()> {
    use konnekted_core::domain::Realm;
    use konnekted_core::domain::voucher::{VoucherId, VoucherKey};
    let c = common.load()?;
    let realm = Realm::parse(realm).map_err(|e| anyhow::anyhow!("realm: {e}"))?;
    let key = VoucherKey::derive(c.voucher_secret.expose().as_bytes(), &realm)
        .context("no voucher secret: set KONNEKTED_VOUCHER_SECRET or voucher_secret in the config")?;
    for serial in first..first.saturating_add(count) {
        let id = VoucherId::new(batch, serial).context("batch 1..16383, serial 0..262143")?;
        println!("{}", key.code(&realm, id));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn cli_misspelled_flag_or_command_is_an_error() {
        assert!(Cli::try_parse_from(["konnekted", "serve", "--dmeo"]).is_err());
        assert!(Cli::try_parse_from(["konnekted", "serv"]).is_err());
        assert!(Cli::try_parse_from(["konnekted", "tenant", "add", "acme", "--nmae", "x"]).is_err());
        assert!(
            Cli::try_parse_from(["konnekted", "tenant", "add", "acme", "--d1-id", "x"]).is_err(),
            "needs --workers"
        );
        assert!(Cli::try_parse_from(["konnekted", "voucher", "code", "acme", "1", "x"]).is_err());
    }

    #[test]
    fn cli_every_command_parses() {
        for args in [
            &["konnekted", "serve", "--demo", "--listen", "127.0.0.1:9", "--data", "d"][..],
            &["konnekted", "demo-edge", "--listen", "127.0.0.1:9", "--data", "d", "--ready", "d/ready"],
            &["konnekted", "tenant", "add", "acme", "--name", "Acme"],
            &["konnekted", "tenant", "add", "acme", "--workers", "--d1-id", "x", "--repo", "."],
            &["konnekted", "tenant", "list", "--config", "k.toml"],
            &["konnekted", "sweep"],
            &["konnekted", "voucher", "code", "acme", "1", "0", "--count", "3"],
        ] {
            Cli::try_parse_from(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        }
    }
}

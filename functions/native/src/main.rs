//! `konnekted`: serve the billing API, manage tenants, run the sweep, benchmark.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use konnekted::server::{self, ctx};
use konnekted::{Config, NativePlatform, demo};
use konnekted_core::platform::Settings;

mod bench;

const USAGE: &str = "\
konnekted: subscriber billing for wireless ISPs (native host)

USAGE:
  konnekted serve [--demo] [--config FILE] [--listen ADDR] [--data DIR]
  konnekted tenant add <realm> --name NAME [--data DIR]
  konnekted tenant add <realm> --workers [--d1-id ID]   declare the tenant's D1 database for the Worker
  konnekted tenant list [--data DIR]
  konnekted sweep [--data DIR]              run the missed-callback sweep and expiry once
  konnekted voucher code <realm> <batch> <serial> [--count N]   print voucher codes (needs the voucher secret)
  konnekted bench callbacks [--n N] [--tenants T] [--concurrency C]

Environment: KONNEKTED_LISTEN, KONNEKTED_DATA_DIR, KONNEKTED_PUBLIC_BASE_URL,
KONNEKTED_PLATFORM_TOKEN, KONNEKTED_VOUCHER_SECRET, KONNEKTED_TICK_SECONDS, RUST_LOG.
";

struct Args(Vec<String>);

impl Args {
    fn flag(&mut self, name: &str) -> bool {
        let before = self.0.len();
        self.0.retain(|a| a != name);
        before != self.0.len()
    }
    fn value(&mut self, name: &str) -> anyhow::Result<Option<String>> {
        match self.0.iter().position(|a| a == name) {
            None => Ok(None),
            Some(i) if i + 1 < self.0.len() => {
                let v = self.0.remove(i + 1);
                self.0.remove(i);
                Ok(Some(v))
            }
            Some(_) => bail!("{name} needs a value"),
        }
    }
    fn positional(&mut self) -> Option<String> {
        if self.0.is_empty() { None } else { Some(self.0.remove(0)) }
    }
}

fn config(args: &mut Args) -> anyhow::Result<Config> {
    let file = args.value("--config")?.map(PathBuf::from);
    let mut c = Config::load(file.as_deref())?;
    if let Some(l) = args.value("--listen")? {
        c.listen = l.parse().context("--listen")?;
    }
    if let Some(d) = args.value("--data")? {
        c.data_dir = d.into();
    }
    Ok(c)
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
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,hyper=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let mut args = Args(std::env::args().skip(1).collect());
    let cmd = args.positional().unwrap_or_default();
    match cmd.as_str() {
        "serve" => {
            let demo = args.flag("--demo");
            let mut c = config(&mut args)?;
            if demo && c.platform_token.is_empty() {
                c.platform_token = konnekted_core::secret::Secret::new("demo-platform-token");
            }
            if demo && c.voucher_secret.is_empty() {
                c.voucher_secret = konnekted_core::secret::Secret::new("demo-voucher-secret");
            }
            let running = server::launch(&c, Some(Duration::from_secs(c.tick_seconds.max(1)))).await?;
            tracing::info!("listening on {}", running.base_url());
            let _sim = if demo {
                let sim = demo::setup(&running.platform).await?;
                demo::print_tryout(&running.base_url(), &sim.base_url());
                Some(sim)
            } else {
                None
            };
            tokio::signal::ctrl_c().await?;
            running.stop();
            Ok(())
        }
        "tenant" => {
            let sub = args.positional().unwrap_or_default();
            let mut c = config(&mut args)?;
            let p = open(&c).await?;
            match sub.as_str() {
                "add" => {
                    let name = args.value("--name")?;
                    let workers = args.flag("--workers");
                    let d1_id = args.value("--d1-id")?;
                    let realm = args.positional().context("tenant add <realm> --name NAME")?;
                    if workers {
                        // Edge deployment: declare the tenant's D1 database (and Spin label); the Worker
                        // migrates it when the platform operator creates the tenant (POST /api/tenants).
                        let script = std::path::Path::new("scripts/edge-tenant-add.sh");
                        if !script.exists() {
                            bail!("run this from the repository root (scripts/edge-tenant-add.sh not found)");
                        }
                        let mut cmd = std::process::Command::new("bash");
                        cmd.arg(script).arg(&realm);
                        if let Some(id) = &d1_id {
                            cmd.arg(id);
                        }
                        if !cmd.status()?.success() {
                            bail!("edge-tenant-add.sh failed");
                        }
                        eprintln!(
                            "Restart wrangler dev (or deploy), then create the tenant on the Worker:\n  curl -X POST $BASE/api/tenants -H 'Authorization: Bearer $PLATFORM_TOKEN' -d '{{\"realm\":\"{realm}\",\"name\":\"...\"}}'"
                        );
                        return Ok(());
                    }
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
                    let t = konnekted_core::usecases::tenants::create_tenant(&p, input, &mut ids, cx.now)
                        .await
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                    println!("{}", serde_json::to_string_pretty(&t)?);
                    eprintln!("Keep these: they are shown once. Admin API: {}/api/t/{}/...", c.base_url(), t.realm);
                }
                "list" => {
                    for t in
                        konnekted_core::store::tenants::list(konnekted_core::platform::Platform::control(&p)).await?
                    {
                        println!("{}\t{}\t{}", t.realm, t.status, t.name);
                    }
                }
                _ => bail!("{USAGE}"),
            }
            c.platform_token = Default::default();
            Ok(())
        }
        "voucher" => {
            // Prints codes from the secret alone (no database), e.g. to reprint a sheet offline.
            use konnekted_core::domain::Realm;
            use konnekted_core::domain::voucher::{VoucherId, VoucherKey};
            let sub = args.positional().unwrap_or_default();
            let count: u32 = args.value("--count")?.map(|v| v.parse()).transpose().context("--count")?.unwrap_or(1);
            let c = config(&mut args)?;
            if sub != "code" {
                bail!("{USAGE}");
            }
            let realm = args.positional().context("voucher code <realm> <batch> <serial>")?;
            let realm = Realm::parse(&realm).map_err(|e| anyhow::anyhow!("realm: {e}"))?;
            let batch: u32 = args.positional().context("batch")?.parse().context("batch")?;
            let first: u32 = args.positional().context("serial")?.parse().context("serial")?;
            let key = VoucherKey::derive(c.voucher_secret.expose().as_bytes(), &realm)
                .context("no voucher secret: set KONNEKTED_VOUCHER_SECRET or voucher_secret in the config")?;
            for serial in first..first.saturating_add(count) {
                let id = VoucherId::new(batch, serial).context("batch 1..16383, serial 0..262143")?;
                println!("{}", key.code(&realm, id));
            }
            Ok(())
        }
        "sweep" => {
            let c = config(&mut args)?;
            let p = open(&c).await?;
            let runs = konnekted_core::run_scheduled(&p, &ctx()).await;
            println!("{}", serde_json::to_string_pretty(&runs)?);
            Ok(())
        }
        "bench" => {
            let what = args.positional().unwrap_or_default();
            match what.as_str() {
                "callbacks" => bench::callbacks(&args.0).await,
                _ => bail!("{USAGE}"),
            }
        }
        "" | "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown command {other:?}\n\n{USAGE}"),
    }
}

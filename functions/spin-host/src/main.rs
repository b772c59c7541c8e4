//! `konnekted-spin-host up --from spin.toml --runtime-config-file runtime-config.toml`
//! (the flags `spin up` takes), variables from `SPIN_VARIABLE_<NAME>`.

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use konnekted_spin_host::host::{App, Options};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser)]
#[command(name = "konnekted-spin-host", about = "Runs a Spin application (spin.toml) on wasmtime")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve the application's HTTP triggers.
    Up {
        /// The manifest.
        #[arg(short = 'f', long = "from", default_value = "spin.toml")]
        from: PathBuf,
        /// Spin runtime config: where each SQLite label lives.
        #[arg(long = "runtime-config-file")]
        runtime_config_file: Option<PathBuf>,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:3000")]
        listen: String,
        /// `COMPONENT=scheme://host[:port]`: an extra allowed outbound host for one component
        /// (simulators on loopback in tests). Repeatable.
        #[arg(long = "allow-outbound", value_name = "COMPONENT=HOST")]
        allow_outbound: Vec<String>,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "konnekted_spin_host=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let Cmd::Up { from, runtime_config_file, listen, allow_outbound } = Cli::parse().cmd;
    let mut extra = Vec::new();
    for a in allow_outbound {
        let (c, h) = a.split_once('=').context("--allow-outbound wants COMPONENT=HOST")?;
        extra.push((c.to_string(), h.to_string()));
    }
    let opts = Options { manifest: from, runtime_config: runtime_config_file, extra_outbound: extra };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let t = std::time::Instant::now();
        let app = Arc::new(App::load(&opts, |k| std::env::var(k).ok())?);
        let listener = tokio::net::TcpListener::bind(&listen).await.with_context(|| format!("binding {listen}"))?;
        let addr = listener.local_addr()?;
        println!("Serving http://{addr} ({} ms to load)", t.elapsed().as_millis());
        println!("Available Routes:");
        for t in &app.manifest().triggers {
            println!("  {}: http://{addr}{}", t.component, t.route.as_str());
        }
        use std::io::Write as _;
        std::io::stdout().flush()?;
        konnekted_spin_host::host::serve(app, listener).await
    })
}

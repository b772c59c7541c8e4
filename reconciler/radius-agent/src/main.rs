//! `konnekted-radius-agent --config agent.toml`

use std::path::PathBuf;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let mut args = std::env::args().skip(1);
    let mut path: Option<PathBuf> = std::env::var_os("KONNEKTED_RADIUS_AGENT_CONFIG").map(PathBuf::from);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--config" | "-c" => path = args.next().map(PathBuf::from),
            "--help" | "-h" => {
                println!("usage: konnekted-radius-agent --config <agent.toml>  (or KONNEKTED_RADIUS_AGENT_CONFIG)");
                return Ok(());
            }
            other => anyhow::bail!("unknown argument {other:?} (try --help)"),
        }
    }
    let Some(path) = path else { anyhow::bail!("--config <agent.toml> is required") };
    let config = konnekted_radius_agent::Config::load(&path)?;
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
        let _ = tx.send(true);
    });
    konnekted_radius_agent::run(config, rx).await?;
    Ok(())
}

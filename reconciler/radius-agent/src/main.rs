//! `konnekted-radius-agent --config agent.toml`

use std::path::PathBuf;

use clap::Parser;

/// Keeps each tenant's FreeRADIUS SQL database in line with billing.
#[derive(Debug, Parser)]
#[command(name = "konnekted-radius-agent", version)]
struct Cli {
    /// The agent's config file (TOML).
    #[arg(short, long, value_name = "FILE", env = "KONNEKTED_RADIUS_AGENT_CONFIG")]
    config: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // As the reconciler: JSON lines on stdout with KONNEKTED_LOG_FORMAT=json (the container), text otherwise.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    if std::env::var("KONNEKTED_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        tracing_subscriber::fmt().json().with_env_filter(filter).with_writer(std::io::stdout).init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
    let config = konnekted_radius_agent::Config::load(&cli.config)?;
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        // SIGTERM is how a container or systemd asks to stop; Ctrl-C by hand.
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        tracing::info!("shutting down");
        let _ = tx.send(true);
    });
    konnekted_radius_agent::run(config, rx).await?;
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
        assert!(Cli::try_parse_from(["konnekted-radius-agent", "--config", "a.toml", "--verbose"]).is_err());
        assert!(Cli::try_parse_from(["konnekted-radius-agent", "-c", "a.toml"]).is_ok());
    }
}

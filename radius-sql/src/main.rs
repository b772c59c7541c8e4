//! `konnekted-radius`: the FreeRADIUS tools on their own (the same commands as
//! `konnekted-reconciler radius …` in a reconciler built with its `radius` feature; see
//! [`konnekted_radius::cli`]).

use std::process::ExitCode;

use clap::Parser;
use konnekted_radius::cli::RadiusCommand;

/// FreeRADIUS configuration generator and per-tenant RADIUS database migrations.
#[derive(Debug, Parser)]
#[command(name = "konnekted-radius", version)]
struct Cli {
    #[command(subcommand)]
    command: RadiusCommand,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match konnekted_radius::cli::run(cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
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
    fn cli_unknown_or_misspelled_is_an_error() {
        assert!(Cli::try_parse_from(["konnekted-radius", "gen-config", "--input", "t.toml", "--otu", "d"]).is_err());
        assert!(Cli::try_parse_from(["konnekted-radius", "gen-conf"]).is_err());
        assert!(Cli::try_parse_from(["konnekted-radius", "migrate", "--input", "t.toml", "--realm", "a"]).is_ok());
        let local = ["konnekted-radius", "local", "--realm", "demo", "--dir", "d", "--edge-url", "http://e"];
        let secrets = ["--sync-key", "k", "--nas-secret", "s", "--auth-port", "18120"];
        assert!(Cli::try_parse_from(local.iter().chain(&secrets)).is_ok());
        assert!(Cli::try_parse_from(local.iter().chain(&secrets[..4])).is_err(), "the port has no default");
    }
}

//! `konnekted-radius`: the FreeRADIUS tools on their own (the same commands as
//! `konnekted-radius` … and `konnekted-reconciler radius` …; see [`konnekted_radius::cli`]).

use std::process::ExitCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match konnekted_radius::cli::run(std::env::args().skip(1).collect()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

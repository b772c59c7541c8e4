//! The FreeRADIUS commands, run as `konnekted-radius <command>` or as the reconciler's
//! subcommand `konnekted-reconciler radius <command>`.
//!
//! ```text
//! gen-config --input tenants.toml --out <raddb dir> [--check]
//! migrate --input tenants.toml [--realm <realm>]
//! ```
//! `gen-config` renders the FreeRADIUS directory (see `konnekted_radius::config`), and PgBouncer's
//! files if `[server.pgbouncer]` is set; with `--check` it then runs `freeradius -C -d <dir>` (and
//! `-C -n <node>` for each of `[[server.nodes]]`). Adding or removing a tenant needs a restart of FreeRADIUS
//! afterwards (not a HUP). `migrate` creates/migrates each tenant's RADIUS database.

use std::path::{Path, PathBuf};

use crate::config::{GenConfigInput, write_raddb};
use crate::db::migrate;
use anyhow::{Context, bail};

/// One FreeRADIUS command.
#[derive(Debug, clap::Subcommand)]
pub enum RadiusCommand {
    /// Render the FreeRADIUS directory (and PgBouncer's files if `[server.pgbouncer]` is set).
    GenConfig {
        /// The tenants file (TOML: `[server]`, `[[tenant]]`).
        #[arg(long, value_name = "FILE")]
        input: PathBuf,
        /// The raddb directory to write.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Then run `freeradius -C -d DIR` on it.
        #[arg(long)]
        check: bool,
    },
    /// Create or migrate each tenant's RADIUS database.
    Migrate {
        /// The tenants file (TOML).
        #[arg(long, value_name = "FILE")]
        input: PathBuf,
        /// Only this tenant.
        #[arg(long)]
        realm: Option<String>,
    },
}

fn load(path: &Path) -> anyhow::Result<GenConfigInput> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// Runs one command.
pub async fn run(cmd: RadiusCommand) -> anyhow::Result<()> {
    match cmd {
        RadiusCommand::GenConfig { input, out, check } => {
            let input = load(&input)?;
            write_raddb(&input.server, &input.tenants, &out)?;
            println!("wrote {} ({} tenants)", out.display(), input.tenants.len());
            if let Some(b) = &input.server.pgbouncer {
                println!(
                    "wrote {}/pgbouncer.ini and userlist.txt: RELOAD PgBouncer before restarting FreeRADIUS",
                    b.config_dir.display()
                );
            }
            if check {
                // The single server's radiusd.conf, then each node's <name>.conf.
                let names: Vec<Option<&str>> =
                    std::iter::once(None).chain(input.server.nodes.iter().map(|n| Some(n.name.as_str()))).collect();
                for name in names {
                    let mut cmd = std::process::Command::new("freeradius");
                    cmd.arg("-C");
                    if let Some(n) = name {
                        cmd.arg("-n").arg(n);
                    }
                    let st = cmd.arg("-d").arg(&out).status().context("running freeradius -C")?;
                    let which = name.map(|n| format!("node {n}")).unwrap_or_else(|| "radiusd.conf".into());
                    if !st.success() {
                        bail!("freeradius -C rejected the generated config ({which})");
                    }
                    println!("freeradius -C ({which}): ok");
                }
            }
            for n in &input.server.nodes {
                println!("node {}: freeradius -n {} -d {}", n.name, n.name, out.display());
            }
            println!(
                "note: restart FreeRADIUS to apply tenant changes (HUP does not reload sql instances); with several nodes, one at a time"
            );
            Ok(())
        }
        RadiusCommand::Migrate { input, realm } => {
            let input = load(&input)?;
            for t in input.tenants.iter().filter(|t| realm.as_ref().is_none_or(|r| r == &t.realm)) {
                let db = migrate(&t.db).await.with_context(|| format!("migrating realm {}", t.realm))?;
                db.close().await;
                println!("migrated {}", t.realm);
            }
            Ok(())
        }
    }
}

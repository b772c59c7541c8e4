//! The FreeRADIUS commands, run as `konnekted-radius <command>` or as the reconciler's
//! subcommand `konnekted-reconciler radius <command>`.
//!
//! ```text
//! gen-config --input tenants.toml --out <raddb dir> [--check]
//! migrate --input tenants.toml [--realm <realm>]
//! local --realm <realm> --dir <dir> --edge-url <url> --auth-port <port> [--check]
//! ```
//! `gen-config` renders the FreeRADIUS directory (see `konnekted_radius::config`), and PgBouncer's
//! files if `[server.pgbouncer]` is set; with `--check` it then runs `freeradius -C -d <dir>` (and
//! `-C -n <node>` for each of `[[server.nodes]]`). Adding or removing a tenant needs a restart of FreeRADIUS
//! afterwards (not a HUP). `migrate` creates/migrates each tenant's RADIUS database. `local` is both
//! for one tenant on an SQLite file, for a local run or a test (`scripts/run.sh`, the browser suite):
//! it writes the tenants file itself from its arguments.

use std::path::{Path, PathBuf};

use crate::config::{GenConfigInput, NasClient, ServerConfig, TenantConfig, write_raddb};
use crate::db::{DbSettings, Secret, migrate};
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
    /// One tenant whose RADIUS database is an SQLite file, for a local run or a test: writes
    /// DIR/tenants.toml (the input of gen-config and migrate), migrates DIR/<realm>.db, renders
    /// DIR/raddb with its logs in DIR/log, for a FreeRADIUS started by the user running this:
    /// `freeradius -f -d DIR/raddb`. Codes not in the database are asked of the edge at
    /// --edge-url with the voucher key derived from the tenant's sync key.
    Local {
        /// The tenant's realm.
        #[arg(long)]
        realm: String,
        /// Where everything goes (created if missing).
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// The edge's base URL: the rest module POSTs to <URL>/radius/voucher.
        #[arg(long, value_name = "URL")]
        edge_url: String,
        /// The tenant's sync key (`konnekted tenant add` printed it); only the voucher key derived
        /// from it is written.
        #[arg(long, env = "KONNEKTED_SYNC_KEY", hide_env_values = true)]
        sync_key: String,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        listen: String,
        /// Authentication port.
        #[arg(long)]
        auth_port: u16,
        /// Accounting port (default: the authentication port + 1).
        #[arg(long)]
        acct_port: Option<u16>,
        /// The address of the tenant's one NAS (the router; radclient on this host).
        #[arg(long, default_value = "127.0.0.1")]
        nas_ip: String,
        /// That NAS's shared secret.
        #[arg(long, env = "KONNEKTED_RADIUS_NAS_SECRET", hide_env_values = true)]
        nas_secret: String,
        /// Then run `freeradius -C -d DIR/raddb` on it.
        #[arg(long)]
        check: bool,
    },
}

fn load(path: &Path) -> anyhow::Result<GenConfigInput> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// Runs one command.
pub async fn run(cmd: RadiusCommand) -> anyhow::Result<()> {
    match cmd {
        RadiusCommand::GenConfig { input, out, check } => gen_config(&load(&input)?, &out, check),
        RadiusCommand::Migrate { input, realm } => {
            let input = load(&input)?;
            for t in input.tenants.iter().filter(|t| realm.as_ref().is_none_or(|r| r == &t.realm)) {
                let db = migrate(&t.db).await.with_context(|| format!("migrating realm {}", t.realm))?;
                db.close().await;
                println!("migrated {}", t.realm);
            }
            Ok(())
        }
        RadiusCommand::Local {
            realm,
            dir,
            edge_url,
            sync_key,
            listen,
            auth_port,
            acct_port,
            nas_ip,
            nas_secret,
            check,
        } => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            // FreeRADIUS opens the SQLite file and writes its logs from wherever it is started.
            let dir = std::path::absolute(&dir).with_context(|| format!("resolving {}", dir.display()))?;
            let input = GenConfigInput {
                server: ServerConfig {
                    listen_addr: listen,
                    auth_port,
                    acct_port: acct_port.unwrap_or(auth_port.saturating_add(1)),
                    log_dir: dir.join("log"),
                    run_dir: dir.join("run"),
                    voucher_edge_url: Some(edge_url),
                    ..ServerConfig::default()
                },
                tenants: vec![TenantConfig {
                    db: DbSettings::Sqlite { path: dir.join(format!("{realm}.db")) },
                    nas: vec![NasClient { ip: nas_ip, secret: Secret::new(nas_secret), shortname: "local".into() }],
                    vouchers: true,
                    voucher_key: Some(Secret::new(konnekted_sync_proto::radius_voucher_key(sync_key.as_bytes()))),
                    statement_timeout_ms: None,
                    realm,
                }],
            };
            let file = dir.join("tenants.toml");
            write_private(&file, &toml::to_string(&input).context("rendering the tenants file")?)?;
            println!("wrote {}", file.display());
            for t in &input.tenants {
                migrate(&t.db).await.with_context(|| format!("migrating realm {}", t.realm))?.close().await;
                println!("migrated {}", t.realm);
            }
            gen_config(&input, &dir.join("raddb"), check)?;
            println!("start it: freeradius -f -d {}", dir.join("raddb").display());
            Ok(())
        }
    }
}

/// Renders `input` into `out` (and PgBouncer's files), then `freeradius -C` on it if `check`.
fn gen_config(input: &GenConfigInput, out: &Path, check: bool) -> anyhow::Result<()> {
    write_raddb(&input.server, &input.tenants, out)?;
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
            let st = cmd.arg("-d").arg(out).status().context("running freeradius -C")?;
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

/// Writes a file only its owner can read (it holds the voucher key and the NAS secret).
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(text.as_bytes()).with_context(|| format!("writing {}", path.display()))
}

//! The FreeRADIUS commands, run as `konnekted-radius <command>` or as the reconciler's
//! subcommand `konnekted-reconciler radius <command>`.
//!
//! ```text
//! gen-config --input tenants.toml --out <raddb dir> [--check]
//! migrate --input tenants.toml [--realm <realm>]
//! ```
//! `gen-config` renders the FreeRADIUS directory (see `konnekted_radius::config`), and PgBouncer's
//! files if `[server.pgbouncer]` is set; with `--check` it then runs `freeradius -C -d <dir>`. Adding or removing a tenant needs a restart of FreeRADIUS
//! afterwards (not a HUP). `migrate` creates/migrates each tenant's RADIUS database.

use std::path::PathBuf;

use crate::config::{GenConfigInput, write_raddb};
use crate::db::migrate;
use anyhow::{Context, bail};

pub fn usage() -> &'static str {
    "usage (konnekted-radius … or konnekted-reconciler radius …):\n  gen-config --input <tenants.toml> --out <raddb dir> [--check]\n  migrate --input <tenants.toml> [--realm <realm>]"
}

struct Args {
    cmd: String,
    input: Option<PathBuf>,
    out: Option<PathBuf>,
    realm: Option<String>,
    check: bool,
}

fn parse_args(args: Vec<String>) -> anyhow::Result<Args> {
    let mut it = args.into_iter();
    let cmd = it.next().context(usage())?;
    let mut a = Args { cmd, input: None, out: None, realm: None, check: false };
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--input" => a.input = Some(it.next().context("--input needs a file")?.into()),
            "--out" => a.out = Some(it.next().context("--out needs a directory")?.into()),
            "--realm" => a.realm = Some(it.next().context("--realm needs a value")?),
            "--check" => a.check = true,
            "-h" | "--help" => bail!("{}", usage()),
            other => bail!("unknown argument {other:?}\n{}", usage()),
        }
    }
    Ok(a)
}

fn load(input: &Option<PathBuf>) -> anyhow::Result<GenConfigInput> {
    let path = input.as_ref().context("--input is required")?;
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// Runs one command; `args` are what follows the program (or parent command) name.
pub async fn run(args: Vec<String>) -> anyhow::Result<()> {
    let args = parse_args(args)?;
    match args.cmd.as_str() {
        "gen-config" => {
            let input = load(&args.input)?;
            let out = args.out.context("--out is required")?;
            write_raddb(&input.server, &input.tenants, &out)?;
            println!("wrote {} ({} tenants)", out.display(), input.tenants.len());
            if let Some(b) = &input.server.pgbouncer {
                println!(
                    "wrote {}/pgbouncer.ini and userlist.txt: RELOAD PgBouncer before restarting FreeRADIUS",
                    b.config_dir.display()
                );
            }
            if args.check {
                let st = std::process::Command::new("freeradius")
                    .arg("-C")
                    .arg("-d")
                    .arg(&out)
                    .status()
                    .context("running freeradius -C")?;
                if !st.success() {
                    bail!("freeradius -C rejected the generated config");
                }
                println!("freeradius -C: ok");
            }
            println!("note: restart FreeRADIUS to apply tenant changes (HUP does not reload sql instances)");
            Ok(())
        }
        "migrate" => {
            let input = load(&args.input)?;
            for t in input.tenants.iter().filter(|t| args.realm.as_ref().is_none_or(|r| r == &t.realm)) {
                let db = migrate(&t.db).await.with_context(|| format!("migrating realm {}", t.realm))?;
                db.close().await;
                println!("migrated {}", t.realm);
            }
            Ok(())
        }
        "-h" | "--help" | "help" => {
            println!("{}", usage());
            Ok(())
        }
        other => bail!("unknown subcommand {other:?}\n{}", usage()),
    }
}

//! Agent configuration: a TOML file, with secrets and the edge URL overridable from the environment.
//!
//! ```toml
//! edge_url = "https://edge.example"
//! metrics_addr = "127.0.0.1:9465"   # optional: GET /metrics
//! foreign_acct_log = "/var/log/konnekted-radius/foreign-acct.log"   # optional, see below
//! # or, several FreeRADIUS nodes on this host: foreign_acct_logs = ["…/a/foreign-acct.log", "…/b/…"]
//!
//! [intervals]            # all optional
//! full_pass_secs = 300   # jittered ±20 %
//! feed_poll_secs = 1
//! usage_push_secs = 60
//!
//! [[tenants]]
//! realm = "acme"
//! sync_key = "…"          # or KONNEKTED_SYNC_KEY_ACME in the environment
//! db = { kind = "sqlite", path = "radius/acme.db" }
//! policy = { suspended = "reject", expired = "walled_garden" }
//! nas = [ { ip = "10.1.0.1", secret = "…" } ]   # coa_port defaults to 3799
//! ```
//!
//! Environment: `KONNEKTED_EDGE_URL` overrides `edge_url`; `KONNEKTED_SYNC_KEY_<REALM>` (realm upper-cased,
//! `-` and `.` as `_`) overrides or supplies a tenant's `sync_key`.
//!
//! `radius_config = "tenants.toml"` (relative to this file) names the FreeRADIUS generator's input,
//! which already lists each realm's database and NASes. A tenant may then leave out `db` and `nas`:
//! they are taken from there, so FreeRADIUS and the agent cannot disagree about them. Where both
//! files give them, they must agree (checked at start).
//!
//! `coa_sources = ["10.0.0.2", "10.0.0.3"]` (optional) are the addresses of the FreeRADIUS
//! cluster's nodes, the ones every router lists in `/radius` and so the only ones it accepts
//! CoA/Disconnect from: the agent sends from the first and, if the NAS does not answer, from the
//! next (see `CoaClient::send_from_any`). They must be addresses of the agent's host (it binds
//! them; one that is not fails over at once). Empty: the system picks the source address.
//!
//! `foreign_acct_log` is FreeRADIUS's log of accounting a tenant's NAS sent for another realm; it
//! defaults to `<log_dir>/foreign-acct.log` of `radius_config`'s server, or with `[[server.nodes]]`
//! there, of every node (each node writes its own; `foreign_acct_logs` lists several by hand).
//! Without any it is not read. A node on another host writes its log there: run an agent there too
//! (with no tenants' CoA of its own to send) or ship the file; this agent reads local files only.
//!
//! `postauth_log_dirs` (optional) are the log directories of the FreeRADIUS nodes on this host
//! whose post-auth lines (`[server] postauth = "log"`) the agent loads into each tenant's
//! radpostauth, every `usage_push_secs` (`konnekted_radius::postauth`); by default every node's
//! `log_dir` when some tenant of `radius_config` is on the log (`postauth = "log"`, or a SQLite
//! tenant with the default `sqlite_postauth = "log"`), else none. The same rule as above for
//! nodes on other hosts: their lines are loaded by an agent running there.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use konnekted_radius::coa::DEFAULT_COA_PORT;
use konnekted_radius::config::GenConfigInput;
use konnekted_radius::db::{DbSettings, Secret};
use konnekted_radius::sync::{InactivePolicy, TenantPolicy};
use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config: {0}")]
    Io(#[from] std::io::Error),
    #[error("invalid config: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("{0}")]
    Invalid(String),
}

/// The agent's settings, with every tenant's `db` and `nas` resolved.
#[derive(Debug, Clone)]
pub struct Config {
    /// Base URL of the edge (the `/sync/...` routes hang off it).
    pub edge_url: String,
    pub intervals: Intervals,
    pub tenants: Vec<TenantConfig>,
    /// FreeRADIUS's foreign-accounting logs (accounting a tenant's NAS sent for another realm), one
    /// per node on this host; default `<log_dir>/foreign-acct.log` of each of `radius_config`'s
    /// nodes (or its server). Empty: not reported.
    pub foreign_acct_logs: Vec<PathBuf>,
    /// Log directories of the FreeRADIUS nodes on this host whose post-auth lines the agent loads
    /// into the tenants' radpostauth; default: every node's `log_dir` when some tenant of
    /// `radius_config` is on the log (`postauth`, `sqlite_postauth`). Empty: nothing to load.
    pub postauth_log_dirs: Vec<PathBuf>,
    /// Serve `GET /metrics` here (None: no listener).
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Source addresses of CoA/Disconnect, in order (the cluster's node addresses).
    pub coa_sources: Vec<std::net::IpAddr>,
}

/// The file as written: `db` and `nas` may come from `radius_config` instead.
#[derive(Deserialize)]
struct ConfigFile {
    edge_url: String,
    #[serde(default)]
    intervals: Intervals,
    radius_config: Option<PathBuf>,
    #[serde(default)]
    tenants: Vec<TenantFile>,
    foreign_acct_log: Option<PathBuf>,
    #[serde(default)]
    foreign_acct_logs: Vec<PathBuf>,
    #[serde(default)]
    postauth_log_dirs: Vec<PathBuf>,
    metrics_addr: Option<std::net::SocketAddr>,
    #[serde(default)]
    coa_sources: Vec<std::net::IpAddr>,
}

#[derive(Deserialize)]
struct TenantFile {
    realm: String,
    #[serde(default)]
    sync_key: Secret,
    db: Option<DbSettings>,
    #[serde(default)]
    policy: PolicyConfig,
    nas: Option<Vec<NasConfig>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Intervals {
    pub full_pass_secs: u64,
    pub feed_poll_secs: u64,
    pub usage_push_secs: u64,
    /// HTTP timeout towards the edge.
    pub http_timeout_secs: u64,
    /// Upper bound of the retry backoff after failures.
    pub max_backoff_secs: u64,
}

impl Default for Intervals {
    fn default() -> Self {
        Intervals {
            full_pass_secs: 300,
            feed_poll_secs: 1,
            usage_push_secs: 60,
            http_timeout_secs: 10,
            max_backoff_secs: 60,
        }
    }
}

impl Intervals {
    pub fn full_pass(&self) -> Duration {
        Duration::from_secs(self.full_pass_secs.max(1))
    }
    pub fn feed_poll(&self) -> Duration {
        Duration::from_secs(self.feed_poll_secs.max(1))
    }
    pub fn usage_push(&self) -> Duration {
        Duration::from_secs(self.usage_push_secs.max(1))
    }
}

/// One tenant, resolved: its RADIUS database and the NASes that receive its CoA/Disconnect.
#[derive(Debug, Clone)]
pub struct TenantConfig {
    pub realm: String,
    pub sync_key: Secret,
    pub db: DbSettings,
    pub policy: PolicyConfig,
    pub nas: Vec<NasConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct PolicyConfig {
    pub suspended: InactivePolicy,
    pub expired: InactivePolicy,
    pub walled_garden_rate_limit: String,
    pub interim_interval: u32,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        let d = TenantPolicy::default();
        PolicyConfig {
            suspended: d.suspended,
            expired: d.expired,
            walled_garden_rate_limit: d.walled_garden_rate_limit,
            interim_interval: d.interim_interval,
        }
    }
}

impl PolicyConfig {
    pub fn tenant_policy(&self) -> TenantPolicy {
        TenantPolicy {
            suspended: self.suspended,
            expired: self.expired,
            walled_garden_rate_limit: self.walled_garden_rate_limit.clone(),
            interim_interval: self.interim_interval,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct NasConfig {
    pub ip: Ipv4Addr,
    #[serde(default = "default_coa_port")]
    pub coa_port: u16,
    pub secret: Secret,
}

fn default_coa_port() -> u16 {
    DEFAULT_COA_PORT
}

/// The environment variable that can hold a tenant's sync key.
pub fn sync_key_env(realm: &str) -> String {
    let r: String =
        realm.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
    format!("KONNEKTED_SYNC_KEY_{r}")
}

/// A tenant's `db` and `nas`, from the agent file, the FreeRADIUS input, or both (then equal).
fn resolve(t: TenantFile, radius: Option<&GenConfigInput>) -> Result<TenantConfig, ConfigError> {
    let invalid = |what: String| ConfigError::Invalid(format!("tenant {}: {what}", t.realm));
    let theirs = match radius {
        None => None,
        Some(r) => Some(
            r.tenants
                .iter()
                .find(|rt| rt.realm == t.realm)
                .ok_or_else(|| invalid("not in radius_config (FreeRADIUS would not serve it)".into()))?,
        ),
    };
    let db = match (t.db, theirs.map(|r| &r.db)) {
        (Some(ours), Some(theirs)) if &ours != theirs => {
            return Err(invalid("db differs from radius_config's (leave it out here)".into()));
        }
        (Some(db), _) => db,
        (None, Some(theirs)) => theirs.clone(),
        (None, None) => {
            return Err(invalid("db missing (give it, or name the FreeRADIUS input in radius_config)".into()));
        }
    };
    // CoA goes to single IPv4 NASes; a subnet or IPv6 entry of FreeRADIUS's list gets none.
    let derived: Vec<NasConfig> = theirs
        .map(|r| {
            r.nas
                .iter()
                .filter_map(|n| {
                    n.ip.parse().ok().map(|ip| NasConfig { ip, coa_port: DEFAULT_COA_PORT, secret: n.secret.clone() })
                })
                .collect()
        })
        .unwrap_or_default();
    let nas = match t.nas {
        None => derived,
        Some(ours) => {
            if theirs.is_some() {
                for n in &ours {
                    if !derived.iter().any(|d| d.ip == n.ip && d.secret == n.secret) {
                        return Err(invalid(format!("NAS {} is not in radius_config with the same secret", n.ip)));
                    }
                }
            }
            ours
        }
    };
    Ok(TenantConfig { realm: t.realm, sync_key: t.sync_key, db, policy: t.policy, nas })
}

impl Config {
    /// Parse TOML text, then apply the environment (`env` is a lookup so tests need not touch the process).
    /// A `radius_config` needs [`Config::load`], which can read it.
    pub fn from_toml(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        Config::parse(text, env, |_| Err(ConfigError::Invalid("radius_config is read by Config::load only".into())))
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        Config::parse(
            &text,
            |k| std::env::var(k).ok(),
            |radius| {
                let radius = dir.join(radius);
                let text = std::fs::read_to_string(&radius)
                    .map_err(|e| ConfigError::Invalid(format!("radius_config {}: {e}", radius.display())))?;
                toml::from_str(&text)
                    .map_err(|e| ConfigError::Invalid(format!("radius_config {}: {e}", radius.display())))
            },
        )
    }

    fn parse(
        text: &str,
        env: impl Fn(&str) -> Option<String>,
        read_radius: impl Fn(&Path) -> Result<GenConfigInput, ConfigError>,
    ) -> Result<Config, ConfigError> {
        let file: ConfigFile = toml::from_str(text)?;
        let radius = file.radius_config.as_deref().map(read_radius).transpose()?;
        let mut foreign_acct_logs: Vec<PathBuf> =
            file.foreign_acct_log.into_iter().chain(file.foreign_acct_logs).collect();
        if foreign_acct_logs.is_empty()
            && let Some(r) = &radius
        {
            for p in r.server.processes() {
                let log = p.log_dir.join(konnekted_radius::foreign_acct::FOREIGN_ACCT_LOG);
                if !foreign_acct_logs.contains(&log) {
                    foreign_acct_logs.push(log);
                }
            }
        }
        let mut postauth_log_dirs = file.postauth_log_dirs;
        if postauth_log_dirs.is_empty()
            && let Some(r) = &radius
            && r.server.postauth_log_used(&r.tenants)
        {
            for p in r.server.processes() {
                if !postauth_log_dirs.contains(&p.log_dir) {
                    postauth_log_dirs.push(p.log_dir);
                }
            }
        }
        let mut c = Config {
            edge_url: env("KONNEKTED_EDGE_URL").unwrap_or(file.edge_url),
            intervals: file.intervals,
            foreign_acct_logs,
            postauth_log_dirs,
            metrics_addr: file.metrics_addr,
            coa_sources: file.coa_sources,
            tenants: file.tenants.into_iter().map(|t| resolve(t, radius.as_ref())).collect::<Result<_, _>>()?,
        };
        for t in &mut c.tenants {
            if let Some(k) = env(&sync_key_env(&t.realm)) {
                t.sync_key = Secret::new(k);
            }
        }
        c.validate()?;
        Ok(c)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(self.edge_url.starts_with("http://") || self.edge_url.starts_with("https://")) {
            return Err(ConfigError::Invalid("edge_url must start with http:// or https://".into()));
        }
        let mut seen = std::collections::BTreeSet::new();
        for t in &self.tenants {
            if t.realm.is_empty() || !t.realm.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b)) {
                return Err(ConfigError::Invalid(format!("invalid realm {:?}", t.realm)));
            }
            if !seen.insert(t.realm.as_str()) {
                return Err(ConfigError::Invalid(format!("realm {} listed twice", t.realm)));
            }
            if t.sync_key.expose().is_empty() {
                return Err(ConfigError::Invalid(format!(
                    "tenant {}: sync_key missing (set it in the file or {})",
                    t.realm,
                    sync_key_env(&t.realm)
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"
edge_url = "http://edge.invalid"
[intervals]
full_pass_secs = 120

[[tenants]]
realm = "acme-net"
db = { kind = "sqlite", path = "acme.db" }
policy = { suspended = "walled_garden" }
nas = [ { ip = "10.1.0.1", secret = "s3" } ]
"#;

    #[test]
    fn config_coa_sources_parse_in_order_and_default_to_none() {
        let env = |k: &str| (k == "KONNEKTED_SYNC_KEY_ACME_NET").then(|| "k".to_owned());
        let c = Config::from_toml(&format!("coa_sources = [\"10.0.0.3\", \"10.0.0.2\"]\n{TEXT}"), env).unwrap();
        assert_eq!(c.coa_sources, ["10.0.0.3".parse::<std::net::IpAddr>().unwrap(), "10.0.0.2".parse().unwrap()]);
        assert!(Config::from_toml(TEXT, env).unwrap().coa_sources.is_empty());
        assert!(Config::from_toml(&format!("coa_sources = [\"node-a\"]\n{TEXT}"), env).is_err());
    }

    #[test]
    fn config_with_env_key_parses_with_defaults() {
        let c = Config::from_toml(TEXT, |k| (k == "KONNEKTED_SYNC_KEY_ACME_NET").then(|| "k".to_owned())).unwrap();
        assert_eq!(c.intervals.full_pass_secs, 120);
        assert_eq!(c.intervals.feed_poll_secs, 1);
        assert_eq!(c.intervals.usage_push_secs, 60);
        let t = &c.tenants[0];
        assert_eq!(t.sync_key.expose(), "k");
        assert_eq!(t.nas[0].coa_port, 3799);
        assert_eq!(t.policy.suspended, InactivePolicy::WalledGarden);
        assert_eq!(t.policy.expired, InactivePolicy::Reject);
    }

    #[test]
    fn config_without_sync_key_is_refused() {
        assert!(matches!(Config::from_toml(TEXT, |_| None), Err(ConfigError::Invalid(_))));
    }

    const RADIUS: &str = r#"
[[tenants]]
realm = "acme-net"
db = { kind = "sqlite", path = "acme.db" }
nas = [ { ip = "10.1.0.1", secret = "s3", shortname = "pop1" }, { ip = "10.9.0.0/24", secret = "s9", shortname = "towers" } ]

[[tenants]]
realm = "beta"
db = { kind = "sqlite", path = "beta.db" }
"#;

    fn with_radius(agent: &str) -> Result<Config, ConfigError> {
        Config::parse(
            agent,
            |k| k.starts_with("KONNEKTED_SYNC_KEY_").then(|| "k".into()),
            |p| {
                assert_eq!(p, Path::new("tenants.toml"));
                Ok(toml::from_str(RADIUS).unwrap())
            },
        )
    }

    #[test]
    fn db_and_nas_come_from_the_freeradius_input() {
        let c = with_radius(
            "edge_url = \"http://e.invalid\"\nradius_config = \"tenants.toml\"\n[[tenants]]\nrealm = \"acme-net\"\n",
        )
        .unwrap();
        let t = &c.tenants[0];
        assert_eq!(t.db, DbSettings::Sqlite { path: "acme.db".into() });
        // the subnet entry cannot receive CoA: only the single NAS is a CoA target
        assert_eq!(t.nas.len(), 1);
        assert_eq!(
            (t.nas[0].ip, t.nas[0].coa_port, t.nas[0].secret.expose()),
            (Ipv4Addr::new(10, 1, 0, 1), 3799, "s3")
        );
    }

    #[test]
    fn foreign_acct_logs_default_to_every_nodes_log_dir() {
        let agent =
            "edge_url = \"http://e.invalid\"\nradius_config = \"tenants.toml\"\n[[tenants]]\nrealm = \"acme-net\"\n";
        let parse = |agent: &str, radius: String| {
            Config::parse(
                agent,
                |k| k.starts_with("KONNEKTED_SYNC_KEY_").then(|| "k".into()),
                move |_| Ok(toml::from_str(&radius).unwrap()),
            )
            .unwrap()
        };
        let single = format!("[server]\nlog_dir = \"/var/log/kr\"\n{RADIUS}");
        assert_eq!(parse(agent, single).foreign_acct_logs, [PathBuf::from("/var/log/kr/foreign-acct.log")]);
        // two nodes on this host with their own log dirs, a third on the server's: each log once
        let nodes = format!(
            "[server]\nlog_dir = \"/var/log/kr\"\n[[server.nodes]]\nname = \"a\"\nlog_dir = \"/var/log/kr-a\"\n\
             [[server.nodes]]\nname = \"b\"\nlog_dir = \"/var/log/kr-b\"\n[[server.nodes]]\nname = \"c\"\n{RADIUS}"
        );
        assert_eq!(
            parse(agent, nodes.clone()).foreign_acct_logs,
            [
                PathBuf::from("/var/log/kr-a/foreign-acct.log"),
                PathBuf::from("/var/log/kr-b/foreign-acct.log"),
                PathBuf::from("/var/log/kr/foreign-acct.log"),
            ]
        );
        // given by hand: those alone
        let own = format!("foreign_acct_log = \"/x/f.log\"\nforeign_acct_logs = [\"/y/f.log\"]\n{agent}");
        assert_eq!(parse(&own, nodes).foreign_acct_logs, [PathBuf::from("/x/f.log"), PathBuf::from("/y/f.log")]);
    }

    #[test]
    fn postauth_log_dirs_default_to_every_nodes_log_dir_when_a_tenant_is_on_the_log() {
        let agent =
            "edge_url = \"http://e.invalid\"\nradius_config = \"tenants.toml\"\n[[tenants]]\nrealm = \"acme-net\"\n";
        let parse = |agent: &str, radius: String| {
            Config::parse(
                agent,
                |k| k.starts_with("KONNEKTED_SYNC_KEY_").then(|| "k".into()),
                move |_| Ok(toml::from_str(&radius).unwrap()),
            )
            .unwrap()
        };
        let nodes = "[[server.nodes]]\nname = \"a\"\nlog_dir = \"/var/log/kr-a\"\n[[server.nodes]]\nname = \"b\"\n";
        let both = [PathBuf::from("/var/log/kr-a"), PathBuf::from("/var/log/kr")];
        // every tenant on the SQL post-auth: nothing to load
        let sql = format!("[server]\nlog_dir = \"/var/log/kr\"\nsqlite_postauth = \"sql\"\n{nodes}{RADIUS}");
        assert!(parse(agent, sql).postauth_log_dirs.is_empty());
        // the defaults: RADIUS's tenants are SQLite ones, on the log
        let default = format!("[server]\nlog_dir = \"/var/log/kr\"\n{nodes}{RADIUS}");
        assert_eq!(parse(agent, default).postauth_log_dirs, both);
        // postauth = "log" alone does not cover SQLite tenants told otherwise
        let pg_only = format!(
            "[server]\nlog_dir = \"/var/log/kr\"\npostauth = \"log\"\nsqlite_postauth = \"sql\"\n{nodes}{RADIUS}"
        );
        assert!(parse(agent, pg_only).postauth_log_dirs.is_empty());
        let log = format!("[server]\nlog_dir = \"/var/log/kr\"\npostauth = \"log\"\n{nodes}{RADIUS}");
        assert_eq!(parse(agent, log.clone()).postauth_log_dirs, both);
        let own = format!("postauth_log_dirs = [\"/x\"]\n{agent}");
        assert_eq!(parse(&own, log).postauth_log_dirs, [PathBuf::from("/x")]);
    }

    #[test]
    fn the_two_files_must_agree() {
        let head = "edge_url = \"http://e.invalid\"\nradius_config = \"tenants.toml\"\n[[tenants]]\n";
        // the same facts in both places: fine, and the agent's own coa_port is kept
        let c = with_radius(&format!(
            "{head}realm = \"acme-net\"\ndb = {{ kind = \"sqlite\", path = \"acme.db\" }}\nnas = [ {{ ip = \"10.1.0.1\", secret = \"s3\", coa_port = 1700 }} ]\n"
        ))
        .unwrap();
        assert_eq!(c.tenants[0].nas[0].coa_port, 1700);
        for (bad, why) in [
            ("realm = \"gamma\"\n", "not in radius_config"),
            ("realm = \"acme-net\"\ndb = { kind = \"sqlite\", path = \"other.db\" }\n", "db differs"),
            ("realm = \"acme-net\"\nnas = [ { ip = \"10.1.0.1\", secret = \"WRONG\" } ]\n", "same secret"),
            ("realm = \"acme-net\"\nnas = [ { ip = \"10.1.0.2\", secret = \"s3\" } ]\n", "same secret"),
        ] {
            match with_radius(&format!("{head}{bad}")) {
                Err(ConfigError::Invalid(m)) => assert!(m.contains(why), "{bad}: {m}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn load_reads_the_freeradius_input_next_to_the_agent_config() {
        let dir = std::env::temp_dir().join(format!("konnekted-agent-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("tenants.toml"), RADIUS).unwrap();
        let agent = "edge_url = \"http://e.invalid\"\nradius_config = \"tenants.toml\"\n[[tenants]]\nrealm = \"beta\"\nsync_key = \"k\"\n";
        std::fs::write(dir.join("agent.toml"), agent).unwrap();
        let c = Config::load(&dir.join("agent.toml"));
        let _ = std::fs::remove_dir_all(&dir);
        let c = c.unwrap();
        assert_eq!(c.tenants[0].db, DbSettings::Sqlite { path: "beta.db".into() });
        assert!(c.tenants[0].nas.is_empty());
    }

    #[test]
    fn without_a_freeradius_input_db_is_required() {
        let text = "edge_url = \"http://e.invalid\"\n[[tenants]]\nrealm = \"acme\"\n";
        match Config::from_toml(text, |k| k.starts_with("KONNEKTED_SYNC_KEY_").then(|| "k".into())) {
            Err(ConfigError::Invalid(m)) => assert!(m.contains("db missing"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn config_env_edge_url_overrides_file() {
        let c = Config::from_toml(TEXT, |k| match k {
            "KONNEKTED_EDGE_URL" => Some("https://other.invalid".into()),
            "KONNEKTED_SYNC_KEY_ACME_NET" => Some("k".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.edge_url, "https://other.invalid");
    }
}

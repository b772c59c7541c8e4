//! Agent configuration: a TOML file, with secrets and the edge URL overridable from the environment.
//!
//! ```toml
//! edge_url = "https://edge.example"
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

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use konnekted_radius::coa::DEFAULT_COA_PORT;
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

#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    /// Base URL of the edge (the `/sync/...` routes hang off it).
    pub edge_url: String,
    #[serde(default)]
    pub intervals: Intervals,
    #[serde(default)]
    pub tenants: Vec<TenantConfig>,
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

#[derive(Debug, Clone, Deserialize)]
pub struct TenantConfig {
    pub realm: String,
    #[serde(default)]
    pub sync_key: Secret,
    pub db: DbSettings,
    #[serde(default)]
    pub policy: PolicyConfig,
    #[serde(default)]
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

impl Config {
    /// Parse TOML text, then apply the environment (`env` is a lookup so tests need not touch the process).
    pub fn from_toml(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let mut c: Config = toml::from_str(text)?;
        if let Some(u) = env("KONNEKTED_EDGE_URL") {
            c.edge_url = u;
        }
        for t in &mut c.tenants {
            if let Some(k) = env(&sync_key_env(&t.realm)) {
                t.sync_key = Secret::new(k);
            }
        }
        c.validate()?;
        Ok(c)
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)?;
        Config::from_toml(&text, |k| std::env::var(k).ok())
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

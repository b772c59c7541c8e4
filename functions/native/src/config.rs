//! The host's typed configuration: defaults, then a TOML file, then `KONNEKTED_*` environment.

use std::net::SocketAddr;
use std::path::PathBuf;

use konnekted_core::secret::Secret;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Where the HTTP API listens.
    pub listen: SocketAddr,
    /// Folder holding control.sqlite and tenants/<realm>.sqlite.
    pub data_dir: PathBuf,
    /// Public base URL given to Daraja for callbacks. Defaults to http://<listen>.
    pub public_base_url: Option<String>,
    /// Bearer token of the platform operator.
    pub platform_token: Secret,
    /// Platform secret from which each tenant's hotspot voucher key is derived. Empty: no vouchers.
    pub voucher_secret: Secret,
    /// Seconds between scheduled passes (sweep + expiry).
    pub tick_seconds: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: ([127, 0, 0, 1], 8080).into(),
            data_dir: PathBuf::from("data"),
            public_base_url: None,
            platform_token: Secret::default(),
            voucher_secret: Secret::default(),
            tick_seconds: 30,
        }
    }
}

impl Config {
    /// Loads the file (if given) and applies the environment on top.
    pub fn load(file: Option<&std::path::Path>) -> anyhow::Result<Config> {
        let mut c: Config = match file {
            Some(f) => toml::from_str(&std::fs::read_to_string(f)?)?,
            None => Config::default(),
        };
        if let Ok(v) = std::env::var("KONNEKTED_LISTEN") {
            c.listen = v.parse()?;
        }
        if let Ok(v) = std::env::var("KONNEKTED_DATA_DIR") {
            c.data_dir = v.into();
        }
        if let Ok(v) = std::env::var("KONNEKTED_PUBLIC_BASE_URL") {
            c.public_base_url = Some(v);
        }
        if let Ok(v) = std::env::var("KONNEKTED_PLATFORM_TOKEN") {
            c.platform_token = Secret::new(v);
        }
        if let Ok(v) = std::env::var("KONNEKTED_VOUCHER_SECRET") {
            c.voucher_secret = Secret::new(v);
        }
        if let Ok(v) = std::env::var("KONNEKTED_TICK_SECONDS") {
            c.tick_seconds = v.parse()?;
        }
        Ok(c)
    }

    pub fn base_url(&self) -> String {
        self.public_base_url.clone().unwrap_or_else(|| format!("http://{}", self.listen))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_debug_holds_no_secret() {
        let c = Config {
            platform_token: Secret::new("platform-SECRET-1"),
            voucher_secret: Secret::new("voucher-SECRET-2"),
            ..Config::default()
        };
        let shown = format!("{c:?}");
        assert!(shown.contains("listen") && !shown.contains("SECRET"), "{shown}");
    }
}

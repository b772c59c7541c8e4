//! The daemon's one typed [`Config`]: a TOML file, then environment overrides.
//!
//! Secrets ([`Secret`]) redact themselves in `Debug`. Environment variables:
//!
//! * `KONNEKTED_RECONCILER_LISTEN`: overrides `listen`.
//! * `KONNEKTED_SYNC_KEY_<REALM>`: a tenant's sync key (realm upper-cased, `-` and `.` as `_`).
//! * `KONNEKTED_RADIUS_SECRET_<REALM>`: a tenant's RADIUS shared secret.
//! * `KONNEKTED_ROUTER_PASSWORD_<ROUTER>`: a router's API password (name upper-cased likewise).
//!
//! A value given in the environment wins over the file, so the file can be kept free of secrets.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

pub use konnekted_sync_proto::secret::Secret;

/// Why a configuration was rejected.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML did not parse into a `Config`.
    #[error("parsing config: {0}")]
    Parse(#[from] toml::de::Error),
    /// The values do not make sense together.
    #[error("invalid config: {0}")]
    Invalid(String),
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9108))
}
fn default_full_pass() -> u64 {
    300
}
fn default_jitter() -> f64 {
    0.1
}
fn default_feed_poll_ms() -> u64 {
    1000
}
fn default_pass_timeout() -> u64 {
    120
}
fn default_edge_timeout() -> u64 {
    10
}
fn default_port() -> u16 {
    8728
}
fn default_window() -> usize {
    64
}
/// Default of [`Config::max_concurrent_applies`].
pub const DEFAULT_MAX_CONCURRENT_APPLIES: usize = 16;
/// Default of [`Config::heavy_apply_changes`].
pub const DEFAULT_HEAVY_APPLY_CHANGES: usize = 256;
/// Default of [`Config::max_concurrent_reads`].
pub const DEFAULT_MAX_CONCURRENT_READS: usize = 64;
fn default_max_reads() -> usize {
    DEFAULT_MAX_CONCURRENT_READS
}
fn default_max_applies() -> usize {
    DEFAULT_MAX_CONCURRENT_APPLIES
}
fn default_heavy_apply() -> usize {
    DEFAULT_HEAVY_APPLY_CHANGES
}
fn default_share() -> f64 {
    0.2
}
fn default_min_count() -> usize {
    5
}

/// The whole daemon configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where `/metrics` and `/health` are served.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Seconds between full passes of one router.
    #[serde(default = "default_full_pass")]
    pub full_pass_seconds: u64,
    /// Jitter of the full-pass interval, as a share of it (0.1 = ±10 %).
    #[serde(default = "default_jitter")]
    pub jitter: f64,
    /// Milliseconds between change-feed polls of one tenant.
    #[serde(default = "default_feed_poll_ms")]
    pub feed_poll_ms: u64,
    /// Most seconds one pass of one router may take.
    #[serde(default = "default_pass_timeout")]
    pub pass_timeout_seconds: u64,
    /// Most seconds one edge request may take.
    #[serde(default = "default_edge_timeout")]
    pub edge_timeout_seconds: u64,
    /// Most routers applying a heavy plan at once (memory bound: a cold sync holds its
    /// plan and read-back). Reads, small plans and fast passes never wait.
    #[serde(default = "default_max_applies")]
    pub max_concurrent_applies: usize,
    /// A full pass's plan with more changes than this is heavy (needs an apply permit).
    #[serde(default = "default_heavy_apply")]
    pub heavy_apply_changes: usize,
    /// Most routers reading everything (a full pass's read, or its read-back) at once:
    /// bounds the observed state held when a whole fleet passes at the same moment.
    #[serde(default = "default_max_reads")]
    pub max_concurrent_reads: usize,
    /// The mass-disable guard.
    #[serde(default)]
    pub guard: GuardConfig,
    /// ISPs.
    #[serde(default, rename = "tenant")]
    pub tenants: Vec<TenantConfig>,
    /// Routers, each belonging to one tenant.
    #[serde(default, rename = "router")]
    pub routers: Vec<RouterConfig>,
    /// The reconciler's end of the tenants' WireGuard tunnels (for `router onboard`).
    #[serde(default)]
    pub wireguard: Option<WireguardConfig>,
}

/// The reconciler's WireGuard end: routers dial it and reach their API through it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireguardConfig {
    /// The reconciler's WireGuard public key (base64).
    pub public_key: String,
    /// Where routers reach it (`vpn.example.net:51820`).
    pub endpoint: String,
    /// The reconciler's tunnel address (`10.255.0.1`).
    pub address: String,
    /// The tunnel network routers get addresses from (`10.255.0.0/16`).
    pub network: String,
}

/// Refuses plans that would disable an unusual share of a router's subscribers.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GuardConfig {
    /// Largest share (0..1) of a router's managed subscribers one pass may disable.
    #[serde(default = "default_share")]
    pub max_disable_share: f64,
    /// Disabling this many or fewer is always allowed (small routers).
    #[serde(default = "default_min_count")]
    pub min_count: usize,
    /// Disables are also counted over this many seconds, per router and per tenant
    /// (a suspension at a time through the fast path adds up); past the limit they are
    /// held until an operator confirms ([`crate::ledger`]).
    #[serde(default = "default_window_seconds")]
    pub window_seconds: u64,
}

fn default_window_seconds() -> u64 {
    600
}

impl Default for GuardConfig {
    fn default() -> GuardConfig {
        GuardConfig {
            max_disable_share: default_share(),
            min_count: default_min_count(),
            window_seconds: default_window_seconds(),
        }
    }
}

/// What happens to the PPPoE secret of a subscriber who should be offline.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum SuspendPolicy {
    /// Keep the secret, `disabled=yes`.
    #[default]
    Disable,
    /// Remove the secret.
    Remove,
}

/// How PPPoE secret names are formed.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum SecretNaming {
    /// `<username>@<realm>`: the same name the subscriber uses with RADIUS (default).
    #[default]
    Qualified,
    /// `<username>` alone.
    Bare,
}

/// One ISP.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// The tenant's realm (`acme`).
    pub realm: String,
    /// Base URL of the edge (`https://edge.example`), without `/sync`.
    pub edge_url: String,
    /// Key of the signed sync API (or `KONNEKTED_SYNC_KEY_<REALM>`).
    #[serde(default)]
    pub sync_key: Secret,
    /// Secret handling for suspended/expired subscribers.
    #[serde(default)]
    pub suspend_policy: SuspendPolicy,
    /// Secret names.
    #[serde(default)]
    pub secret_naming: SecretNaming,
    /// The `/radius` entry to enforce (none: leave `/radius` alone).
    #[serde(default)]
    pub radius: Option<RadiusConfig>,
    /// The walled garden for suspended subscribers (none: no garden rules).
    #[serde(default)]
    pub walled_garden: Option<GardenConfig>,
}

/// The `/radius` entries: one per node of the FreeRADIUS cluster, same realm, secret and
/// services. RouterOS asks them in list order, the next one when one does not answer within its
/// `timeout`, so `address` is the primary and `backup_addresses` follow in order.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RadiusConfig {
    /// Address of the primary RADIUS node.
    pub address: String,
    /// Addresses of the other nodes, in the order routers should try them (at most
    /// [`MAX_RADIUS_BACKUPS`]).
    #[serde(default)]
    pub backup_addresses: Vec<String>,
    /// Shared secret (or `KONNEKTED_RADIUS_SECRET_<REALM>`).
    #[serde(default)]
    pub secret: Secret,
    /// Services (`ppp,hotspot`).
    #[serde(default = "default_services")]
    pub service: String,
}

fn default_services() -> String {
    "ppp,hotspot".to_owned()
}

/// At most this many backup nodes (RouterOS tries them one timeout after another: with the
/// default 300 ms, nine entries already cost 2.7 s before the last one is asked).
pub const MAX_RADIUS_BACKUPS: usize = 8;

impl RadiusConfig {
    /// Every node address, primary first.
    pub fn addresses(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.address.as_str()).chain(self.backup_addresses.iter().map(String::as_str))
    }
}

/// Where suspended subscribers may still go.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GardenConfig {
    /// Host name of the payment portal (allowed through).
    pub portal_host: String,
    /// IP address HTTP from suspended subscribers is redirected to.
    pub portal_address: String,
    /// Port of that redirect.
    #[serde(default = "default_portal_port")]
    pub portal_port: u16,
    /// The reconciler's own redirector: suspended subscribers' HTTP goes to it instead of
    /// `portal_address:portal_port`, and it answers with the portal's page for their account
    /// ([`crate::redirect`]).
    #[serde(default)]
    pub redirector: Option<RedirectorConfig>,
    /// Whom the tenant's FreeRADIUS accepts into the garden (the RADIUS agent's `policy`,
    /// said again here): they dial in and RADIUS puts their address on the suspended list,
    /// so their sessions are walled in, not kicked. Default: nobody (`reject`).
    #[serde(default)]
    pub radius_policy: GardenRadiusPolicy,
}

/// What the tenant's FreeRADIUS does with suspended and expired (or never paid)
/// subscribers, as the RADIUS agent's `policy = { suspended = ..., expired = ... }` says.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields)]
pub struct GardenRadiusPolicy {
    /// Suspended by the ISP.
    #[serde(default)]
    pub suspended: InactivePolicy,
    /// Expired, and pending (never paid), which RADIUS treats alike.
    #[serde(default)]
    pub expired: InactivePolicy,
}

/// One entry of [`GardenRadiusPolicy`].
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum InactivePolicy {
    /// RADIUS refuses them (`Auth-Type := Reject`).
    #[default]
    Reject,
    /// RADIUS accepts them into the garden (`Mikrotik-Address-List = konnekted-suspended`).
    WalledGarden,
}

impl GardenConfig {
    /// Whether the garden takes care of a subscriber who should be offline, so their live
    /// session must stay (walled in: DNS, the portal and the redirector only, where the
    /// suspended page asks them to pay) rather than be kicked: their static address is on
    /// the suspended list, or RADIUS accepts them into the garden. Anyone else who should
    /// be offline (no static address, RADIUS refuses them) is kicked, or they would keep
    /// their access.
    pub fn walls_in(&self, s: &konnekted_sync_proto::Subscriber) -> bool {
        use konnekted_sync_proto::SubscriberStatus as S;
        let radius = match s.status {
            S::Suspended => self.radius_policy.suspended,
            S::Expired | S::Pending => self.radius_policy.expired,
            S::Active | S::Unknown => InactivePolicy::Reject,
        };
        !s.status.is_online() && (s.static_ip.is_some() || radius == InactivePolicy::WalledGarden)
    }
}

/// The redirector of one tenant: an HTTP listener on the reconciler's tunnel address that
/// the routers' `dst-nat` sends suspended subscribers' port-80 traffic to. It finds who is
/// asking from the source address (the router's `/ppp/active`) and answers `302` to
/// `{portal_url}/h/{realm}/suspended?account=<id>` (or without `account` when it cannot
/// tell). The source address must reach it unchanged: the router must not masquerade
/// towards the tunnel, and the reconciler's WireGuard peer of each router must allow the
/// router's PPPoE pools.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedirectorConfig {
    /// Where the reconciler listens (`10.255.0.1:8081`; one port per tenant).
    pub listen: SocketAddr,
    /// The address routers send the traffic to (default: the address of `listen`, which
    /// must then not be a wildcard).
    #[serde(default)]
    pub address: Option<String>,
    /// Base URL of the portal the answer points to (default: the tenant's `edge_url`).
    #[serde(default)]
    pub portal_url: Option<String>,
}

impl RedirectorConfig {
    /// The address routers `dst-nat` to.
    pub fn target_address(&self) -> String {
        self.address.clone().unwrap_or_else(|| self.listen.ip().to_string())
    }
}

fn default_portal_port() -> u16 {
    80
}

/// How queue types for the per-plan PCQ are found.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum QueueTypes {
    /// The reconciler manages `/queue/type` entries `konnekted-<plan>-down/up` (kind pcq, pcq-rate = plan rate).
    #[default]
    Managed,
    /// Use the router's built-in `pcq-download-default` / `pcq-upload-default` (no per-user rate;
    /// for routers or simulators without a writable `/queue/type`).
    Builtin,
}

/// Verification of the router's `api-ssl` certificate.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsOptions {
    /// Name checked against the certificate (and sent as SNI).
    pub server_name: String,
    /// SHA-256 of the router's certificate (hex, `:` allowed); the only supported mode.
    pub fingerprint_sha256: String,
}

/// One MikroTik router.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouterConfig {
    /// Unique name (used in metrics and reports).
    pub name: String,
    /// Realm of the tenant it belongs to.
    pub tenant: String,
    /// Host or IP of the API.
    pub address: String,
    /// API port (8728; 8729 with TLS).
    #[serde(default = "default_port")]
    pub port: u16,
    /// `api-ssl` with certificate pinning.
    #[serde(default)]
    pub tls: Option<TlsOptions>,
    /// API user.
    pub username: String,
    /// API password (or `KONNEKTED_ROUTER_PASSWORD_<NAME>`).
    #[serde(default)]
    pub password: Secret,
    /// Only subscribers of these sites (empty: every subscriber of the tenant).
    #[serde(default)]
    pub sites: BTreeSet<String>,
    /// PCQ queue types.
    #[serde(default)]
    pub queue_types: QueueTypes,
    /// Parent of the per-plan queue-tree leaves.
    #[serde(default = "default_parent")]
    pub queue_parent: String,
    /// Most commands in flight on the API connection.
    #[serde(default = "default_window")]
    pub window: usize,
}

fn default_parent() -> String {
    "global".to_owned()
}

/// Environment variable suffix for a realm or router name.
pub fn env_suffix(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect()
}

impl Config {
    /// Parses TOML text (no environment).
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let c: Config = toml::from_str(text)?;
        Ok(c)
    }

    /// Reads the file, applies the environment (`lookup`) and validates.
    pub fn load(path: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        let mut c = Config::from_toml(&text)?;
        c.apply_env(lookup)?;
        c.validate()?;
        Ok(c)
    }

    /// Overlays environment values.
    pub fn apply_env(&mut self, lookup: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(l) = lookup("KONNEKTED_RECONCILER_LISTEN") {
            self.listen = l.parse().map_err(|e| ConfigError::Invalid(format!("KONNEKTED_RECONCILER_LISTEN: {e}")))?;
        }
        for t in &mut self.tenants {
            let sfx = env_suffix(&t.realm);
            if let Some(k) = lookup(&format!("KONNEKTED_SYNC_KEY_{sfx}")) {
                t.sync_key = Secret::new(k);
            }
            if let (Some(r), Some(s)) = (&mut t.radius, lookup(&format!("KONNEKTED_RADIUS_SECRET_{sfx}"))) {
                r.secret = Secret::new(s);
            }
        }
        for r in &mut self.routers {
            if let Some(p) = lookup(&format!("KONNEKTED_ROUTER_PASSWORD_{}", env_suffix(&r.name))) {
                r.password = Secret::new(p);
            }
        }
        Ok(())
    }

    /// Checks the values fit together.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if !(0.0..=1.0).contains(&self.guard.max_disable_share) {
            return bad("guard.max_disable_share must be within 0..1".into());
        }
        if !(0.0..1.0).contains(&self.jitter) {
            return bad("jitter must be within 0..1".into());
        }
        if self.full_pass_seconds == 0 || self.feed_poll_ms == 0 {
            return bad("full_pass_seconds and feed_poll_ms must be positive".into());
        }
        if self.max_concurrent_applies == 0 || self.max_concurrent_reads == 0 {
            return bad("max_concurrent_applies and max_concurrent_reads must be at least 1".into());
        }
        let mut realms = BTreeSet::new();
        let mut listens = BTreeSet::new();
        for t in &self.tenants {
            if t.realm.is_empty() || !realms.insert(t.realm.as_str()) {
                return bad(format!("tenant realm {:?} is empty or repeated", t.realm));
            }
            if t.sync_key.expose().is_empty() {
                return bad(format!(
                    "tenant {}: no sync_key (file or KONNEKTED_SYNC_KEY_{})",
                    t.realm,
                    env_suffix(&t.realm)
                ));
            }
            if !(t.edge_url.starts_with("http://") || t.edge_url.starts_with("https://")) {
                return bad(format!("tenant {}: edge_url must be http(s)", t.realm));
            }
            if let Some(r) = t.walled_garden.as_ref().and_then(|g| g.redirector.as_ref()) {
                match &r.address {
                    None if r.listen.ip().is_unspecified() => {
                        return bad(format!(
                            "tenant {}: redirector listens on {}: say which address routers send to (address)",
                            t.realm, r.listen
                        ));
                    }
                    // A `to-addresses` value: an address, no port.
                    Some(a) if a.parse::<std::net::IpAddr>().is_err() => {
                        return bad(format!("tenant {}: redirector address {a:?} is not an IP address", t.realm));
                    }
                    _ => {}
                }
                if r.listen.port() == 0 {
                    return bad(format!("tenant {}: redirector listen needs a port", t.realm));
                }
                if !listens.insert(r.listen) {
                    return bad(format!("tenant {}: redirector listen {} is another tenant's", t.realm, r.listen));
                }
                let url = r.portal_url.as_deref().unwrap_or(&t.edge_url);
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return bad(format!("tenant {}: redirector portal_url must be http(s)", t.realm));
                }
            }
            if let Some(r) = &t.radius {
                if r.backup_addresses.len() > MAX_RADIUS_BACKUPS {
                    return bad(format!("tenant {}: at most {MAX_RADIUS_BACKUPS} radius backup_addresses", t.realm));
                }
                let mut seen = BTreeSet::new();
                for a in r.addresses() {
                    // RouterOS's /radius takes an address, not a host name.
                    if a.parse::<std::net::IpAddr>().is_err() {
                        return bad(format!("tenant {}: radius address {a:?} is not an IP address", t.realm));
                    }
                    if !seen.insert(a) {
                        return bad(format!("tenant {}: radius address {a} listed twice", t.realm));
                    }
                }
            }
        }
        let mut names = BTreeSet::new();
        for r in &self.routers {
            if r.name.is_empty() || !names.insert(r.name.as_str()) {
                return bad(format!("router name {:?} is empty or repeated", r.name));
            }
            if !realms.contains(r.tenant.as_str()) {
                return bad(format!("router {}: unknown tenant {:?}", r.name, r.tenant));
            }
        }
        Ok(())
    }

    /// The full-pass interval.
    pub fn full_pass(&self) -> Duration {
        Duration::from_secs(self.full_pass_seconds)
    }

    /// The feed poll interval.
    pub fn feed_poll(&self) -> Duration {
        Duration::from_millis(self.feed_poll_ms)
    }

    /// The tenant of a realm.
    pub fn tenant(&self, realm: &str) -> Option<&TenantConfig> {
        self.tenants.iter().find(|t| t.realm == realm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
listen = "127.0.0.1:9108"
full_pass_seconds = 300
feed_poll_ms = 1000

[guard]
max_disable_share = 0.2

[[tenant]]
realm = "acme"
edge_url = "https://edge.example"
suspend_policy = "disable"
[tenant.radius]
address = "10.0.0.2"
[tenant.walled_garden]
portal_host = "pay.acme.example"
portal_address = "192.0.2.10"

[[router]]
name = "tower-1"
tenant = "acme"
address = "10.10.0.1"
username = "konnekted"
sites = ["tower-1"]
[router.tls]
server_name = "tower-1"
fingerprint_sha256 = "00"
"#;

    #[test]
    fn config_env_overrides_secrets_and_validates() {
        let mut c = Config::from_toml(SAMPLE).expect("parse");
        assert!(c.validate().is_err(), "no sync key yet");
        c.apply_env(|k| match k {
            "KONNEKTED_SYNC_KEY_ACME" => Some("k1".into()),
            "KONNEKTED_RADIUS_SECRET_ACME" => Some("rs".into()),
            "KONNEKTED_ROUTER_PASSWORD_TOWER_1" => Some("pw".into()),
            _ => None,
        })
        .expect("env");
        c.validate().expect("valid");
        assert_eq!(c.tenants[0].sync_key.expose(), "k1");
        assert_eq!(c.routers[0].password.expose(), "pw");
        assert_eq!(c.routers[0].port, 8728);
        assert!(!format!("{c:?}").contains("pw"));
    }

    #[test]
    fn config_radius_backups_are_addresses_listed_once_and_few() {
        let with = |backups: &str| {
            let text = SAMPLE
                .replace("address = \"10.0.0.2\"", &format!("address = \"10.0.0.2\"\nbackup_addresses = {backups}"));
            let mut c = Config::from_toml(&text).expect("parse");
            c.apply_env(|k| (k == "KONNEKTED_SYNC_KEY_ACME").then(|| "k".to_owned())).expect("env");
            c
        };
        let c = with("[\"10.0.0.3\", \"2001:db8::3\"]");
        c.validate().expect("valid");
        let r = c.tenants[0].radius.as_ref().expect("radius");
        assert_eq!(r.addresses().collect::<Vec<_>>(), ["10.0.0.2", "10.0.0.3", "2001:db8::3"]);
        for bad in ["[\"10.0.0.2\"]", "[\"radius-b.example\"]", "[\"10.0.0.3\", \"10.0.0.3\"]"] {
            assert!(with(bad).validate().is_err(), "{bad} accepted");
        }
        let nine: Vec<String> = (3..12).map(|i| format!("10.0.0.{i}")).collect();
        assert!(with(&format!("{nine:?}")).validate().is_err(), "nine backups accepted");
        let eight: Vec<String> = (3..11).map(|i| format!("10.0.0.{i}")).collect();
        with(&format!("{eight:?}")).validate().expect("eight backups");
    }

    #[test]
    fn config_debug_holds_no_secret() {
        let mut c = Config::from_toml(SAMPLE).expect("parse");
        c.apply_env(|k| match k {
            "KONNEKTED_SYNC_KEY_ACME" => Some("sync-SECRET-1".into()),
            "KONNEKTED_RADIUS_SECRET_ACME" => Some("radius-SECRET-2".into()),
            "KONNEKTED_ROUTER_PASSWORD_TOWER_1" => Some("router-SECRET-3".into()),
            _ => None,
        })
        .expect("env");
        assert_eq!(c.tenants[0].sync_key.expose(), "sync-SECRET-1");
        let shown = format!("{c:?} {:#?}", c.tenants);
        assert!(!shown.contains("SECRET"), "{shown}");
    }

    #[test]
    fn config_example_file_parses() {
        let text = include_str!("../examples/reconciler.toml");
        let mut c = Config::from_toml(text).expect("example parses");
        c.apply_env(|k| (k == "KONNEKTED_SYNC_KEY_ACME").then(|| "k".to_owned())).expect("env");
        c.validate().expect("example is valid");
        assert_eq!(c.routers[0].tls.as_ref().map(|t| t.server_name.as_str()), Some("tower-1"));
    }

    #[test]
    fn config_apply_limits_default_parse_and_validate() {
        let mut c = Config::from_toml(SAMPLE).expect("parse");
        c.tenants[0].sync_key = Secret::new("k");
        assert_eq!((c.max_concurrent_applies, c.heavy_apply_changes), (16, 256));
        let c2 = Config::from_toml(&format!("max_concurrent_applies = 4\nheavy_apply_changes = 10\n{SAMPLE}"))
            .expect("parse limits");
        assert_eq!((c2.max_concurrent_applies, c2.heavy_apply_changes), (4, 10));
        c.max_concurrent_applies = 0;
        assert!(c.validate().is_err(), "zero permits would block every cold sync");
    }

    #[test]
    fn config_redirector_needs_a_router_facing_address_and_its_own_port() {
        let with = |redirector: &str| {
            let text = SAMPLE.replace(
                "portal_address = \"192.0.2.10\"",
                &format!("portal_address = \"192.0.2.10\"\n[tenant.walled_garden.redirector]\n{redirector}"),
            );
            let mut c = Config::from_toml(&text).expect("parse");
            c.tenants[0].sync_key = Secret::new("k");
            c
        };
        let c = with("listen = \"10.255.0.1:8081\"");
        c.validate().expect("valid");
        let r = c.tenants[0].walled_garden.as_ref().and_then(|g| g.redirector.as_ref()).expect("redirector");
        assert_eq!(r.target_address(), "10.255.0.1");
        with("listen = \"0.0.0.0:8081\"\naddress = \"10.255.0.1\"").validate().expect("wildcard with address");
        for bad in [
            "listen = \"0.0.0.0:8081\"",
            "listen = \"10.255.0.1:0\"",
            "listen = \"10.255.0.1:8081\"\naddress = \"10.255.0.1:8081\"",
            "listen = \"10.255.0.1:8081\"\nportal_url = \"edge.example\"",
        ] {
            assert!(with(bad).validate().is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn config_garden_radius_policy_parses_and_defaults_to_reject() {
        let c = Config::from_toml(SAMPLE).expect("parse");
        let g = c.tenants[0].walled_garden.as_ref().expect("garden");
        assert_eq!(g.radius_policy, GardenRadiusPolicy::default());
        let text = SAMPLE.replace(
            "portal_address = \"192.0.2.10\"",
            "portal_address = \"192.0.2.10\"\nradius_policy = { expired = \"walled_garden\" }",
        );
        let c = Config::from_toml(&text).expect("parse policy");
        let g = c.tenants[0].walled_garden.as_ref().expect("garden");
        assert_eq!(g.radius_policy.expired, InactivePolicy::WalledGarden);
        assert_eq!(g.radius_policy.suspended, InactivePolicy::Reject);
        assert!(Config::from_toml(&text.replace("walled_garden\" }", "garden\" }")).is_err());
    }

    #[test]
    fn config_router_with_unknown_tenant_is_rejected() {
        let mut c = Config::from_toml(SAMPLE).expect("parse");
        c.tenants[0].sync_key = Secret::new("k");
        c.routers[0].tenant = "other".into();
        assert!(c.validate().is_err());
    }
}

//! Input types of the generator: the server, its tenants and their NASes, PgBouncer, errors.

use super::*;

/// Debian's stock FreeRADIUS 3.x config directory.
pub const DEBIAN_RADDB: &str = "/etc/freeradius/3.0";

/// A RADIUS client (NAS), e.g. a tenant's MikroTik router.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NasClient {
    /// IP address or CIDR the requests come from.
    pub ip: String,
    pub secret: Secret,
    /// Short name, `[A-Za-z0-9._-]`; rendered as `<realm>:<shortname>` for tenant NASes.
    pub shortname: String,
}

/// One tenant as FreeRADIUS sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantConfig {
    /// Realm of `user@realm`, lowercase `[a-z0-9][a-z0-9.-]*` (dots optional).
    pub realm: String,
    pub db: DbSettings,
    #[serde(default)]
    pub nas: Vec<NasClient>,
    /// Ask the edge voucher endpoint about users not found in this tenant's database.
    #[serde(default)]
    pub vouchers: bool,
    /// The tenant's RADIUS voucher key (64 hex digits; `konnekted tenant add` prints it, it is
    /// `konnekted_sync_proto::radius_voucher_key` of the tenant's sync key), sent to the edge in
    /// `X-Konnekted-Voucher-Key` with every lookup. Required when `vouchers` is on and the server
    /// has a `voucher_edge_url`: the edge answers a lookup without it with 403.
    #[serde(default)]
    pub voucher_key: Option<Secret>,
    /// Per-tenant statement timeout; default [`ServerConfig::statement_timeout_ms`].
    #[serde(default)]
    pub statement_timeout_ms: Option<u32>,
}

/// Server-wide settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerConfig {
    /// Stock tree to copy (dictionaries, mods-available, mods-config, policy.d).
    pub base_raddb: PathBuf,
    /// Address to listen on (`*` = all).
    pub listen_addr: String,
    pub auth_port: u16,
    pub acct_port: u16,
    /// Log directory (radius.log, detail files of unknown realms).
    pub log_dir: PathBuf,
    /// Run directory (pid file).
    pub run_dir: PathBuf,
    /// Drop privileges to this user/group after binding (e.g. Debian's `freerad`). None (default):
    /// keep the identity it was started with, which a non-system instance needs.
    pub user: Option<String>,
    pub group: Option<String>,
    /// Worker threads (`thread pool max_servers`); every tenant pool's `max` equals it.
    pub max_threads: u32,
    pub statement_timeout_ms: u32,
    pub breaker_ttl_secs: u32,
    /// Edge base URL for first use of a hotspot voucher, e.g. `https://edge.example` (the module
    /// POSTs to `<url>/radius/voucher`).
    pub voucher_edge_url: Option<String>,
    pub voucher_timeout_ms: u32,
    /// Trusted clients not bound to any tenant (e.g. a monitoring probe or the test harness).
    pub shared_clients: Vec<NasClient>,
    pub require_message_authenticator: bool,
    /// Reach the PostgreSQL tenants through PgBouncer (transaction pooling) instead of directly.
    pub pgbouncer: Option<PgBouncerConfig>,
    /// SQLite tenants' `PRAGMA synchronous` on every FreeRADIUS connection (`open_query`).
    pub sqlite_synchronous: SqliteSynchronous,
    /// A "Login OK"/"Login incorrect" line in radius.log per Access-Request (`log { auth }`). Off by
    /// default: every auth is already a radpostauth row in its tenant's database.
    pub log_auth: bool,
    /// How each Access-Accept/Reject reaches the `radpostauth` of a PostgreSQL or MariaDB tenant
    /// ([`PostAuth`]; default `sql`).
    pub postauth: PostAuth,
    /// The same for SQLite tenants (default `log`): an INSERT per auth takes the file's single
    /// write lock, and under load the 32 threads queue for it in SQLite's sleeping busy handler
    /// (1, 2, 5, 10 ... 100 ms naps: the long p99 of one busy SQLite tenant). The agent that loads
    /// the lines already runs next to every SQLite file (it syncs the users into it).
    pub sqlite_postauth: PostAuth,
    /// PostgreSQL tenants' post-auth INSERT (`postauth = "sql"`) waits for its WAL flush like any
    /// commit. Default false: it runs as `SET LOCAL synchronous_commit = off; INSERT ...` (one
    /// implicit transaction, also through PgBouncer), so it returns before the flush. A crash of
    /// PostgreSQL or of its host may then lose the post-auth rows of the last moments before it
    /// (at most three `wal_writer_delay`s, 600 ms by default); the database stays consistent and
    /// nothing else is affected: accounting and every other write still wait for their flush.
    /// Through PgBouncer a tenant's few server connections otherwise commit one flush at a time.
    pub postauth_synchronous_commit: bool,
    /// The FreeRADIUS nodes of the cluster, all run from the one generated directory (see
    /// [`RadiusNode`]). Empty: a single server started without `-n`, on the values above.
    pub nodes: Vec<RadiusNode>,
}

/// One FreeRADIUS process of the cluster.
///
/// Every node runs from the same generated directory: `freeradius -n <name> -d <dir>` reads
/// `<dir>/<name>.conf`, which the generator writes per node. It differs from `radiusd.conf` only
/// in the node's own listen address, ports, log and run directories; modules, policies, tenants
/// and clients are shared, so the nodes answer alike. On separate hosts the nodes usually keep the
/// server's values (leave the fields out); on one host they need their own ports and directories.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RadiusNode {
    /// `[a-z0-9][a-z0-9_-]*`, at most 32: the `-n` argument and the `<name>.conf` file.
    pub name: String,
    #[serde(default)]
    pub listen_addr: Option<String>,
    #[serde(default)]
    pub auth_port: Option<u16>,
    #[serde(default)]
    pub acct_port: Option<u16>,
    #[serde(default)]
    pub log_dir: Option<PathBuf>,
    #[serde(default)]
    pub run_dir: Option<PathBuf>,
}

/// Where one node listens and keeps its files: the node's own values, else the server's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSettings {
    /// `None` for the single server (`radiusd.conf`, started without `-n`).
    pub name: Option<String>,
    pub listen_addr: String,
    pub auth_port: u16,
    pub acct_port: u16,
    pub log_dir: PathBuf,
    pub run_dir: PathBuf,
}

impl ServerConfig {
    /// The settings of the single server (`radiusd.conf`).
    pub fn single(&self) -> NodeSettings {
        NodeSettings {
            name: None,
            listen_addr: self.listen_addr.clone(),
            auth_port: self.auth_port,
            acct_port: self.acct_port,
            log_dir: self.log_dir.clone(),
            run_dir: self.run_dir.clone(),
        }
    }

    /// The settings of one node: its own values, the server's for the rest.
    pub fn node(&self, n: &RadiusNode) -> NodeSettings {
        NodeSettings {
            name: Some(n.name.clone()),
            listen_addr: n.listen_addr.clone().unwrap_or_else(|| self.listen_addr.clone()),
            auth_port: n.auth_port.unwrap_or(self.auth_port),
            acct_port: n.acct_port.unwrap_or(self.acct_port),
            log_dir: n.log_dir.clone().unwrap_or_else(|| self.log_dir.clone()),
            run_dir: n.run_dir.clone().unwrap_or_else(|| self.run_dir.clone()),
        }
    }

    /// How the post-auth rows of a tenant on `backend` reach its radpostauth.
    pub fn postauth_for(&self, backend: Backend) -> PostAuth {
        match backend {
            Backend::Sqlite => self.sqlite_postauth,
            Backend::Postgresql | Backend::Mysql => self.postauth,
        }
    }

    /// Whether any of `tenants` has its post-auth rows written as lines for the agent to load.
    pub fn postauth_log_used(&self, tenants: &[TenantConfig]) -> bool {
        tenants.iter().any(|t| self.postauth_for(t.db.backend()) == PostAuth::Log)
    }

    /// Every process this config describes: the nodes, or the single server if there are none.
    pub fn processes(&self) -> Vec<NodeSettings> {
        if self.nodes.is_empty() { vec![self.single()] } else { self.nodes.iter().map(|n| self.node(n)).collect() }
    }
}

/// How SQLite tenant databases (in WAL mode) commit FreeRADIUS's writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSynchronous {
    /// fsync on every commit: each auth's radpostauth INSERT holds the file's single write lock
    /// for an fsync, and 32 threads queue behind it in SQLite's sleeping busy handler (p99 130-186 ms).
    Full,
    /// WAL's usual setting: commits do not fsync (the WAL is synced at checkpoints). Survives a
    /// FreeRADIUS crash; a power cut may lose the last commits (radpostauth/radacct rows).
    #[default]
    Normal,
}

/// How the post-auth row of every Access-Request (user, Accept/Reject, time; never the password)
/// gets into the tenant's `radpostauth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PostAuth {
    /// FreeRADIUS INSERTs it while answering: on PostgreSQL a sixth round trip and a WAL commit
    /// per auth, on SQLite the file's single write lock (32 threads queue in SQLite's sleeping
    /// busy handler: the long p99 of one busy SQLite tenant).
    #[default]
    Sql,
    /// FreeRADIUS appends a line to `<log_dir>/postauth/<realm>/<minute>.log` (linelog) and the
    /// RADIUS agent loads each finished minute in one transaction ([`crate::postauth`]): the answer
    /// costs only the SELECTs; rows appear in `radpostauth` 1-2 minutes later. Needs the agent.
    Log,
}

/// PgBouncer between FreeRADIUS and the tenants' PostgreSQL servers.
///
/// rlm_sql does not queue for a free connection, so each tenant's pool may grow to `max_threads`
/// connections, and a hung tenant database holds every one it opens until the statement timeout.
/// Directly on PostgreSQL that spends the server's `max_connections` on one tenant (the others get
/// "too many clients"), and 50 tenants x 32 threads cannot fit at all. Through PgBouncer those
/// connections are cheap client connections; PgBouncer gives each tenant database a share of
/// `server_connection_budget` (`pool_size`, so all tenants of one server fit in it), lets a busy
/// tenant borrow up to `burst_connections` in all while its queries wait (`reserve_pool`), and
/// queues the rest for at most `query_wait_timeout`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PgBouncerConfig {
    /// Where `pgbouncer.ini` and `userlist.txt` are written (Debian: /etc/pgbouncer).
    pub config_dir: PathBuf,
    pub listen_addr: String,
    pub listen_port: u16,
    /// Server connections PgBouncer may hold to one PostgreSQL server (host:port), all tenants
    /// together. Leave room below `max_connections` for the reconciler and other clients.
    pub server_connection_budget: u32,
    /// Server connections one busy tenant database may hold in all: beyond its share of the budget
    /// it borrows connections (PgBouncer's per-database `reserve_pool`, opened once one of its
    /// queries has waited `reserve_pool_timeout`, closed after `server_idle_timeout` idle), so a
    /// lone busy tenant is not held to `budget / tenants` (1 of 57 for 50 tenants). Capped by the
    /// budget and `max_threads`; never below the share. Default 0: no borrowing, the budget is a
    /// hard bound. PgBouncer cannot bound the borrowed connections of all tenants together: with
    /// borrowing, PostgreSQL's `max_connections` needs room for `burst_connections` more per tenant
    /// that may be busy at once (measured: 50 tenants with 16 each, all busy, ran a
    /// `max_connections = 100` server out of connections). A hung tenant database holds at most
    /// this many until its breaker opens; every other tenant keeps its share.
    pub burst_connections: u32,
    /// Unix user PgBouncer switches to when started as root (it refuses to run as root).
    pub user: Option<String>,
    /// How FreeRADIUS logs in to PgBouncer: `scram-sha-256` (default), `md5`, or `trust` (a
    /// loopback-only test setup whose PostgreSQL trusts local connections too).
    pub auth_type: String,
}

impl Default for PgBouncerConfig {
    fn default() -> Self {
        PgBouncerConfig {
            config_dir: PathBuf::from("/etc/pgbouncer"),
            listen_addr: "127.0.0.1".into(),
            listen_port: 6432,
            server_connection_budget: 60,
            burst_connections: 0,
            user: None,
            auth_type: "scram-sha-256".into(),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            base_raddb: PathBuf::from(DEBIAN_RADDB),
            listen_addr: "*".into(),
            auth_port: 1812,
            acct_port: 1813,
            log_dir: PathBuf::from("/var/log/freeradius"),
            run_dir: PathBuf::from("/var/run/freeradius"),
            user: None,
            group: None,
            max_threads: 32,
            statement_timeout_ms: 1000,
            breaker_ttl_secs: 10,
            voucher_edge_url: None,
            voucher_timeout_ms: 2000,
            shared_clients: Vec::new(),
            require_message_authenticator: false,
            pgbouncer: None,
            sqlite_synchronous: SqliteSynchronous::default(),
            log_auth: false,
            postauth: PostAuth::default(),
            sqlite_postauth: PostAuth::Log,
            postauth_synchronous_commit: false,
            nodes: Vec::new(),
        }
    }
}

/// Input file of `konnekted-radius gen-config` (TOML): `[server]` and `[[tenants]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenConfigInput {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub tenants: Vec<TenantConfig>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid realm {0:?} (lowercase letters, digits, '.' and '-', at most 63)")]
    InvalidRealm(String),
    #[error("duplicate realm or module name for {0:?}")]
    DuplicateRealm(String),
    #[error("NAS {0:?} is listed more than once")]
    DuplicateNas(String),
    #[error("invalid value for {field}: {value:?}")]
    InvalidValue { field: &'static str, value: String },
    #[error("stock file missing: {0}")]
    MissingStock(PathBuf),
    #[error("could not rewrite post-auth query in stock queries.conf for {0}")]
    QueriesFormat(&'static str),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

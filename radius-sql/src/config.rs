//! FreeRADIUS 3.2 config generator: one server, many tenants, tenant chosen by realm.
//!
//! [`render_files`] is pure (tenant list + server settings + the stock `queries.conf` texts in,
//! file contents out); [`write_raddb`] copies the stock tree (Debian's `/etc/freeradius/3.0`) to a
//! fresh directory, removes what we replace (stock sites, EAP) and writes our files, then swaps the
//! directory in atomically. Run the result with `freeradius -f -d <dir>` (or `-X`).
//!
//! What the rendered config does (lessons of the multi-tenant probe, all required):
//! - `user@realm`; each tenant realm is a LOCAL realm (dotless realms work: we replace the stock
//!   `filter_username`, which rejects them). Usernames are stored without the realm (`strip`).
//! - One `sql` instance per tenant with its own pool (`start=0, min=0, spare=1, max=threads`), a
//!   per-tenant statement timeout (PostgreSQL `SET statement_timeout`, MariaDB `max_statement_time` +
//!   lock wait timeouts, SQLite `busy_timeout`), and `sql_user_name` set before the `$INCLUDE`.
//! - Tenant picked by `switch &Realm` in authorize, accounting and post-auth. Unknown realm or bare
//!   username: Access-Reject with a Reply-Message.
//! - NASes come from the tenant list and are written to clients.conf with shortname `<realm>:<name>`;
//!   `konnekted_nas_binding` rejects a NAS asking for another tenant's realm.
//! - A per-tenant circuit breaker (rlm_cache keyed by realm): after a DB failure the tenant is dropped
//!   (no response, so the NAS retries/fails over) for `breaker_ttl_secs` without touching the DB;
//!   other tenants keep their worker threads. A DB failure never becomes an Access-Reject.
//! - Post-auth query that records user/result/time but never a password.
//! - Optional `rest` call to the edge voucher endpoint when the user is not found and the tenant
//!   enables vouchers.
//! - Optionally PostgreSQL tenants go through PgBouncer ([`PgBouncerConfig`]): one server-side
//!   connection budget per PostgreSQL server shared by its tenants, so a hung tenant database cannot
//!   take the server's connection slots from the others, and 50+ tenants fit in `max_connections`.
//! - Adding/removing a tenant needs a restart (rlm_sql instances, realms and clients are not
//!   reloaded on HUP; measured, see README).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::db::{Backend, DbSettings, Secret};

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
    /// Edge base URL for first use of a hotspot voucher, e.g. `https://edge.example/api`.
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

/// PgBouncer between FreeRADIUS and the tenants' PostgreSQL servers.
///
/// rlm_sql does not queue for a free connection, so each tenant's pool may grow to `max_threads`
/// connections, and a hung tenant database holds every one it opens until the statement timeout.
/// Directly on PostgreSQL that spends the server's `max_connections` on one tenant (the others get
/// "too many clients"), and 50 tenants x 32 threads cannot fit at all. Through PgBouncer those
/// connections are cheap client connections; PgBouncer holds at most `pool_size` server connections
/// per tenant database, sized so all tenants of one server fit in `server_connection_budget`,
/// and queues the rest for at most `query_wait_timeout`.
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

fn valid_realm(r: &str) -> bool {
    let b = r.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'.' || *c == b'-')
        && !r.ends_with('.')
        && !r.contains("..")
}

/// Name of the sql module instance for a realm.
pub fn sql_instance_name(realm: &str) -> String {
    format!("konnekted_sql_{}", realm.replace(['.', '-'], "_"))
}

/// Value for a single-quoted FreeRADIUS config string (no expansion). Refuses what cannot be quoted.
fn squote(field: &'static str, v: &str) -> Result<String, ConfigError> {
    if v.contains(['\'', '\\', '\n', '\r', '\0']) {
        return Err(ConfigError::InvalidValue { field, value: "<contains ' \\ or control characters>".into() });
    }
    Ok(format!("'{v}'"))
}

/// Value for a double-quoted config string that must not contain expansions.
fn dquote_plain(field: &'static str, v: &str) -> Result<String, ConfigError> {
    if v.contains(['"', '\\', '\n', '\r', '\0', '$', '%', '`']) {
        return Err(ConfigError::InvalidValue { field, value: v.to_string() });
    }
    Ok(format!("\"{v}\""))
}

fn valid_shortname(s: &str) -> bool {
    !s.is_empty() && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

fn valid_ip_or_cidr(s: &str) -> bool {
    let (ip, prefix) = match s.split_once('/') {
        Some((ip, p)) => (ip, Some(p)),
        None => (s, None),
    };
    let Ok(addr) = ip.parse::<IpAddr>() else { return false };
    match prefix {
        None => true,
        Some(p) => p.parse::<u8>().map(|p| p <= if addr.is_ipv4() { 32 } else { 128 }).unwrap_or(false),
    }
}

/// Check the inputs before rendering anything.
pub fn validate(server: &ServerConfig, tenants: &[TenantConfig]) -> Result<(), ConfigError> {
    let mut names = BTreeSet::new();
    let mut nas_ips = BTreeSet::new();
    for t in tenants {
        if !valid_realm(&t.realm) {
            return Err(ConfigError::InvalidRealm(t.realm.clone()));
        }
        if !names.insert(sql_instance_name(&t.realm)) {
            return Err(ConfigError::DuplicateRealm(t.realm.clone()));
        }
        for n in &t.nas {
            if !valid_ip_or_cidr(&n.ip) {
                return Err(ConfigError::InvalidValue { field: "nas.ip", value: n.ip.clone() });
            }
            if !valid_shortname(&n.shortname) {
                return Err(ConfigError::InvalidValue { field: "nas.shortname", value: n.shortname.clone() });
            }
            squote("nas.secret", n.secret.expose())?;
            // A NAS address belongs to one tenant only (FreeRADIUS would keep the first and skip
            // the rest, silently binding it to whichever tenant loaded first).
            if !nas_ips.insert(n.ip.clone()) {
                return Err(ConfigError::DuplicateNas(n.ip.clone()));
            }
        }
        match &t.db {
            DbSettings::Postgresql { host, user, password, database, .. }
            | DbSettings::Mysql { host, user, password, database, .. } => {
                dquote_plain("db.host", host)?;
                dquote_plain("db.user", user)?;
                dquote_plain("db.database", database)?;
                squote("db.password", password.expose())?;
            }
            DbSettings::Sqlite { path } => {
                dquote_plain("db.path", &path.to_string_lossy())?;
            }
        }
    }
    for n in &server.shared_clients {
        if !valid_ip_or_cidr(&n.ip) {
            return Err(ConfigError::InvalidValue { field: "shared_clients.ip", value: n.ip.clone() });
        }
        if !valid_shortname(&n.shortname) {
            return Err(ConfigError::InvalidValue { field: "shared_clients.shortname", value: n.shortname.clone() });
        }
        squote("shared_clients.secret", n.secret.expose())?;
        if !nas_ips.insert(n.ip.clone()) {
            return Err(ConfigError::DuplicateNas(n.ip.clone()));
        }
    }
    if let Some(u) = &server.voucher_edge_url {
        dquote_plain("voucher_edge_url", u)?;
        if !(u.starts_with("http://") || u.starts_with("https://")) {
            return Err(ConfigError::InvalidValue { field: "voucher_edge_url", value: u.clone() });
        }
    }
    if server.max_threads == 0 {
        return Err(ConfigError::InvalidValue { field: "max_threads", value: "0".into() });
    }
    if let Some(b) = &server.pgbouncer {
        validate_pgbouncer(b, tenants)?;
    }
    dquote_plain("listen_addr", &server.listen_addr)?;
    for (field, p) in [("log_dir", &server.log_dir), ("run_dir", &server.run_dir)] {
        dquote_plain(field, &p.to_string_lossy())?;
    }
    Ok(())
}

/// Replace the top-level `post-auth { ... }` section of a stock queries.conf with one that
/// never stores the submitted password (`pass` is written as '').
pub fn rewrite_post_auth_query(stock: &str, backend: Backend) -> Result<String, ConfigError> {
    let dialect = backend.dialect();
    let start = stock
        .lines()
        .scan(0usize, |off, l| {
            let here = *off;
            *off += l.len() + 1;
            Some((here, l))
        })
        .find(|(_, l)| l.starts_with("post-auth {"))
        .map(|(o, _)| o)
        .ok_or(ConfigError::QueriesFormat(dialect))?;
    let bytes = stock.as_bytes();
    let mut depth = 0i32;
    let mut end = None;
    let mut in_quote = false;
    let mut prev = 0u8;
    for (i, &c) in bytes.iter().enumerate().skip(start) {
        if c == b'"' && prev != b'\\' {
            in_quote = !in_quote;
        }
        if !in_quote {
            if c == b'{' {
                depth += 1;
            } else if c == b'}' {
                depth -= 1;
                if depth == 0 {
                    end = Some(i + 1);
                    break;
                }
            }
        }
        prev = c;
    }
    let end = end.ok_or(ConfigError::QueriesFormat(dialect))?;
    // %{SQL-User-Name} is the stripped, escaped name (the DB is already the tenant's).
    let now = match backend {
        Backend::Postgresql | Backend::Mysql => "'%S.%M'",
        // stock sqlite writes the same literal
        Backend::Sqlite => "'%S.%M'",
    };
    let section = format!(
        "post-auth {{\n\
         \t# konnekted: stock query minus the password (stock wrote the submitted PAP/CHAP password into pass).\n\
         \tquery = \"\\\n\
         \t\tINSERT INTO ${{..postauth_table}} \\\n\
         \t\t\t(username, pass, reply, authdate ${{..class.column_name}}) \\\n\
         \t\tVALUES ( \\\n\
         \t\t\t'%{{SQL-User-Name}}', \\\n\
         \t\t\t'', \\\n\
         \t\t\t'%{{reply:Packet-Type}}', \\\n\
         \t\t\t{now} \\\n\
         \t\t\t${{..class.reply_xlat}})\"\n\
         }}"
    );
    Ok(format!("{}{}{}", &stock[..start], section, &stock[end..]))
}

/// The connection lines of an rlm_sql instance for a database server.
fn write_connection(
    s: &mut String,
    host: &str,
    port: u16,
    user: &str,
    password: &Secret,
    database: &str,
) -> Result<(), ConfigError> {
    let _ = writeln!(s, "\tserver = \"{host}\"\n\tport = {port}\n\tlogin = \"{user}\"");
    let _ = writeln!(s, "\tpassword = {}", squote("db.password", password.expose())?);
    let _ = writeln!(s, "\tradius_db = \"{database}\"");
    Ok(())
}

fn sql_module(server: &ServerConfig, t: &TenantConfig) -> Result<String, ConfigError> {
    let name = sql_instance_name(&t.realm);
    let b = t.db.backend();
    let timeout_ms = t.statement_timeout_ms.unwrap_or(server.statement_timeout_ms).max(1);
    let timeout_s = timeout_ms.div_ceil(1000);
    let mut s = String::new();
    let _ = writeln!(s, "# GENERATED by konnekted-radius for realm {} - do not edit", t.realm);
    let _ = writeln!(s, "# One rlm_sql instance == one tenant database, with its own connection pool.");
    let _ = writeln!(s, "sql {name} {{");
    let _ = writeln!(s, "\tdialect = \"{}\"", b.dialect());
    let _ = writeln!(s, "\tdriver = \"rlm_sql_{}\"", b.dialect());
    match &t.db {
        DbSettings::Postgresql { host, port, user, password, database } => {
            // Through PgBouncer the instance talks to PgBouncer, where its database is named after it.
            let (at_host, at_port, at_db) = match &server.pgbouncer {
                Some(b) => (b.listen_addr.as_str(), b.listen_port, name.as_str()),
                None => (host.as_str(), *port, database.as_str()),
            };
            write_connection(&mut s, at_host, at_port, user, password, at_db)?;
            let _ = writeln!(s, "\tpostgresql {{\n\t\tsend_application_name = yes\n\t}}");
            if server.pgbouncer.is_some() {
                let _ = writeln!(s, "\t# PgBouncer's {name} is {database} on {host}:{port}; it sets statement_timeout");
                let _ = writeln!(s, "\t# ({timeout_ms} ms) with connect_query on every server connection");
            } else {
                let _ = writeln!(s, "\t# bound every query: a hung tenant DB must not pin the shared worker threads");
                let _ = writeln!(s, "\topen_query = \"SET statement_timeout = {timeout_ms}\"");
            }
        }
        DbSettings::Mysql { host, port, user, password, database } => {
            write_connection(&mut s, host, *port, user, password, database)?;
            let _ = writeln!(s, "\tmysql {{\n\t\twarnings = auto\n\t}}");
            let _ = writeln!(s, "\t# client-side read/connect timeout (seconds) and server-side statement/lock limits");
            let _ = writeln!(s, "\tquery_timeout = {timeout_s}");
            let _ = writeln!(
                s,
                "\topen_query = \"SET SESSION max_statement_time = {:.3}, lock_wait_timeout = {timeout_s}, innodb_lock_wait_timeout = {timeout_s}\"",
                timeout_ms as f64 / 1000.0
            );
        }
        DbSettings::Sqlite { path } => {
            let _ = writeln!(s, "\tsqlite {{\n\t\tfilename = \"{}\"", path.display());
            let _ = writeln!(s, "\t\t# WAL is set by konnekted-radius migrate; wait for writers instead of failing");
            let _ = writeln!(s, "\t\tbusy_timeout = {}\n\t}}", timeout_ms.max(5000));
            let _ = writeln!(s, "\tradius_db = \"radius\"");
            let sync = match server.sqlite_synchronous {
                SqliteSynchronous::Full => "FULL",
                SqliteSynchronous::Normal => "NORMAL",
            };
            let _ = writeln!(s, "\t# commit without fsync in WAL mode (shorter write lock; see SqliteSynchronous)");
            let _ = writeln!(s, "\topen_query = \"PRAGMA synchronous = {sync}\"");
        }
    }
    let _ = writeln!(
        s,
        "\n\t# Usernames are stored WITHOUT the realm. Must come BEFORE the $INCLUDE: first definition wins."
    );
    let _ = writeln!(s, "\tsql_user_name = \"%{{%{{Stripped-User-Name}}:-%{{User-Name}}}}\"");
    for (k, v) in [
        ("acct_table1", "radacct"),
        ("acct_table2", "radacct"),
        ("postauth_table", "radpostauth"),
        ("authcheck_table", "radcheck"),
        ("groupcheck_table", "radgroupcheck"),
        ("authreply_table", "radreply"),
        ("groupreply_table", "radgroupreply"),
        ("usergroup_table", "radusergroup"),
    ] {
        let _ = writeln!(s, "\t{k} = \"{v}\"");
    }
    let _ = writeln!(s, "\tdelete_stale_sessions = yes");
    let _ = writeln!(s, "\tread_groups = yes\n\tread_profiles = no");
    let _ = writeln!(
        s,
        "\n\t# Lazy, small pool: start=0 so an unreachable tenant DB cannot stop the server from starting;\n\
         \t# max = worker threads because rlm_sql does not queue for a free connection."
    );
    let _ = writeln!(
        s,
        "\tpool {{\n\t\tstart = 0\n\t\tmin = 0\n\t\tmax = {}\n\t\tspare = 1\n\t\tuses = 0\n\t\tretry_delay = 5\n\t\tlifetime = 0\n\t\tidle_timeout = 60\n\t}}",
        server.max_threads
    );
    let _ =
        writeln!(s, "\n\t# NASes come from the tenant list (clients.conf), never from the tenant-writable nas table.");
    let _ = writeln!(s, "\tread_clients = no\n\tclient_table = \"nas\"");
    let _ = writeln!(s, "\tgroup_attribute = \"{name}-SQL-Group\"");
    let _ = writeln!(s, "\n\t$INCLUDE ${{modconfdir}}/sql/konnekted/${{dialect}}/queries.conf");
    let _ = writeln!(s, "}}");
    Ok(s)
}

fn clients_conf(server: &ServerConfig, tenants: &[TenantConfig]) -> Result<String, ConfigError> {
    let mut s = String::from(
        "# GENERATED by konnekted-radius - do not edit\n\
         # Tenant NASes are named \"<realm>:<shortname>\"; konnekted_nas_binding only lets them ask for\n\
         # their own realm. Shared clients (no prefix) are trusted for every realm.\n",
    );
    let ma = if server.require_message_authenticator { "yes" } else { "no" };
    let mut i = 0;
    for c in &server.shared_clients {
        i += 1;
        let _ = writeln!(
            s,
            "client kn_shared_{i} {{\n\tipaddr = {}\n\tsecret = {}\n\tshortname = \"{}\"\n\tnas_type = other\n\trequire_message_authenticator = {ma}\n}}",
            c.ip,
            squote("secret", c.secret.expose())?,
            c.shortname
        );
    }
    for t in tenants {
        for n in &t.nas {
            i += 1;
            let _ = writeln!(
                s,
                "client kn_nas_{i} {{\n\tipaddr = {}\n\tsecret = {}\n\tshortname = \"{}:{}\"\n\tnas_type = other\n\trequire_message_authenticator = {ma}\n}}",
                n.ip,
                squote("secret", n.secret.expose())?,
                t.realm,
                n.shortname
            );
        }
    }
    Ok(s)
}

fn proxy_conf(tenants: &[TenantConfig]) -> String {
    let mut s = String::from(
        "# GENERATED by konnekted-radius - do not edit\n\
         # No proxying: every tenant realm is LOCAL (no pools). The suffix module sets Realm and\n\
         # Stripped-User-Name only for realms listed here, so unknown realms end up without Realm.\n\
         proxy server {\n\tdefault_fallback = no\n}\n",
    );
    for t in tenants {
        let _ = writeln!(s, "realm {} {{\n}}", t.realm);
    }
    s
}

fn policy(server: &ServerConfig, tenants: &[TenantConfig]) -> String {
    let mut s = String::from("# GENERATED by konnekted-radius - do not edit\n\n");
    // Dispatch to the tenant's sql instance.
    s.push_str(
        "# Realm -> that tenant's sql instance (one database per tenant).\nkonnekted_tenant_sql {\n\tswitch &Realm {\n",
    );
    for t in tenants {
        let _ = writeln!(s, "\t\tcase \"{}\" {{\n\t\t\t{}\n\t\t}}", t.realm, sql_instance_name(&t.realm));
    }
    s.push_str("\t\tcase {\n\t\t\tnoop\n\t\t}\n\t}\n}\n\n");

    // Voucher lookup for tenants that enable it.
    s.push_str(
        "# First use of a hotspot voucher: ask the edge (only tenants with vouchers enabled).\n\
         # \"-\" prefix: skipped if the rest module is not configured.\n\
         konnekted_voucher_lookup {\n\tswitch &Realm {\n",
    );
    if server.voucher_edge_url.is_some() {
        for t in tenants.iter().filter(|t| t.vouchers) {
            let _ = writeln!(
                s,
                "\t\tcase \"{}\" {{\n\t\t\t-konnekted_voucher {{\n\t\t\t\tfail = 1\n\t\t\t\tnotfound = 1\n\t\t\t\treject = 1\n\t\t\t\tinvalid = 1\n\t\t\t\tuserlock = 1\n\t\t\t}}\n\t\t}}",
                t.realm
            );
        }
    }
    s.push_str("\t\tcase {\n\t\t\tnotfound\n\t\t}\n\t}\n}\n\n");

    s.push_str(STATIC_POLICY);
    s
}

const STATIC_POLICY: &str = r#"# Reject names the tenant databases can never match. Stock filter_username minus its
# "realm must contain a dot" rule (tenant realms may be dotless, e.g. "acme").
konnekted_filter_username {
	if (&User-Name) {
		if (&User-Name =~ / /) {
			update reply {
				&Reply-Message := "User-Name contains whitespace"
			}
			reject
		}
		if (&User-Name =~ /@[^@]*@/ ) {
			update reply {
				&Reply-Message := "User-Name contains more than one @"
			}
			reject
		}
		if (&User-Name =~ /\.\./ ) {
			update reply {
				&Reply-Message := "User-Name contains .."
			}
			reject
		}
		if (&User-Name =~ /\.$/ || &User-Name =~ /@\./) {
			update reply {
				&Reply-Message := "Realm begins or ends with a dot"
			}
			reject
		}
	}
}

# Every request must name a known tenant realm.
konnekted_require_realm {
	if (!&Realm) {
		if (&User-Name =~ /@/) {
			update reply {
				&Reply-Message := "Unknown realm"
			}
		}
		else {
			update reply {
				&Reply-Message := "Missing realm: use user@realm"
			}
		}
		reject
	}
}

# A tenant NAS ("<realm>:<name>") may only send requests for its own realm.
konnekted_nas_binding {
	if ("%{client:shortname}" =~ /^([^:]+):/) {
		if (&Realm != "%{1}") {
			update reply {
				&Reply-Message := "NAS not allowed for this realm"
			}
			reject
		}
	}
}

# Is this tenant's breaker open? (status-only lookup, never creates an entry)
konnekted_breaker_check {
	update control {
		&Cache-Status-Only := yes
	}
	konnekted_breaker {
		notfound = 1
	}
	update control {
		&Cache-Status-Only !* ANY
	}
}

# Open the breaker for this tenant for ttl seconds.
konnekted_breaker_trip {
	update control {
		&Cache-Status-Only !* ANY
		&Cache-Read-Only !* ANY
	}
	konnekted_breaker
}
"#;

fn breaker_module(server: &ServerConfig) -> String {
    format!(
        "# GENERATED by konnekted-radius - do not edit\n\
         # Per-tenant circuit breaker: one in-memory entry per tenant (key = realm) whose DB just failed;\n\
         # while present that tenant's requests are dropped at once, so a dead or hung tenant DB cannot\n\
         # pin the shared worker threads. No half-open probing: the entry expires after ttl.\n\
         cache konnekted_breaker {{\n\
         \tdriver = \"rlm_cache_rbtree\"\n\
         \tkey = \"%{{Realm}}\"\n\
         \tttl = {}\n\
         \tupdate {{\n\
         \t\t&control:Tmp-String-9 := \"tenant-db-down\"\n\
         \t}}\n\
         }}\n",
        server.breaker_ttl_secs.max(1)
    )
}

fn foreign_acct_module() -> String {
    format!(
        "# GENERATED by konnekted-radius - do not edit\n\
         # One line per Accounting-Request a tenant's NAS sent for another tenant's realm (never written\n\
         # to any radacct); read by the agent (konnekted_radius::foreign_acct) and reported to the NAS's\n\
         # operator.\n\
         linelog konnekted_foreign_acct {{\n\
         \tfilename = ${{logdir}}/{file}\n\
         \tpermissions = 0640\n\
         \tformat = \"{fmt}\"\n\
         }}\n",
        file = crate::foreign_acct::FOREIGN_ACCT_LOG,
        fmt = crate::foreign_acct::LINE_FORMAT,
    )
}

fn rest_module(server: &ServerConfig, url: &str) -> String {
    let t = server.voucher_timeout_ms.max(100) as f64 / 1000.0;
    format!(
        "# GENERATED by konnekted-radius - do not edit\n\
         # First use of a hotspot voucher: POST realm, code and MAC to the edge. The edge answers\n\
         # 200 with JSON attributes (e.g. {{\"control:Cleartext-Password\": \"...\",\n\
         # \"reply:Mikrotik-Rate-Limit\": \"2M/2M\", \"reply:Session-Timeout\": 3600}}), 404 if unknown.\n\
         # The password is never sent; pap/chap check it against the returned Cleartext-Password.\n\
         rest konnekted_voucher {{\n\
         \ttls {{\n\t\tcheck_cert = yes\n\t\tcheck_cert_cn = yes\n\t}}\n\
         \tconnect_uri = \"{url}\"\n\
         \tconnect_timeout = {t:.1}\n\
         \tauthorize {{\n\
         \t\turi = \"${{..connect_uri}}/radius/voucher\"\n\
         \t\tmethod = 'post'\n\
         \t\tbody = 'post'\n\
         \t\tdata = \"realm=%{{urlquote:%{{Realm}}}}&code=%{{urlquote:%{{Stripped-User-Name}}}}&mac=%{{urlquote:%{{Calling-Station-Id}}}}&nas=%{{urlquote:%{{NAS-IP-Address}}}}\"\n\
         \t\ttls = ${{..tls}}\n\
         \t\ttimeout = {t:.1}\n\
         \t}}\n\
         \tpool {{\n\t\tstart = 0\n\t\tmin = 0\n\t\tmax = {}\n\t\tspare = 1\n\t\tuses = 0\n\t\tretry_delay = 5\n\t\tlifetime = 0\n\t\tidle_timeout = 60\n\t}}\n\
         }}\n",
        server.max_threads
    )
}

fn radiusd_conf(server: &ServerConfig) -> String {
    let mut s = format!(
        "# GENERATED by konnekted-radius - do not edit\n\
         # A complete radiusd.conf for a multi-tenant, non-system FreeRADIUS 3.2 instance.\n\
         prefix = /usr\n\
         exec_prefix = /usr\n\
         sysconfdir = /etc\n\
         localstatedir = /var\n\
         sbindir = ${{exec_prefix}}/sbin\n\
         logdir = \"{log}\"\n\
         raddbdir = ${{confdir}}\n\
         radacctdir = ${{logdir}}/radacct\n\
         name = freeradius\n\
         modconfdir = ${{confdir}}/mods-config\n\
         certdir = ${{confdir}}/certs\n\
         cadir = ${{confdir}}/certs\n\
         run_dir = \"{run}\"\n\
         db_dir = ${{raddbdir}}\n\
         libdir = /usr/lib/freeradius\n\
         pidfile = ${{run_dir}}/${{name}}.pid\n\
         correct_escapes = true\n\
         max_request_time = 30\n\
         cleanup_delay = 5\n\
         max_requests = {maxreq}\n\
         hostname_lookups = no\n\
         checkrad = ${{sbindir}}/checkrad\n\
         \n\
         log {{\n\
         \tdestination = files\n\
         \tcolourise = no\n\
         \tfile = ${{logdir}}/radius.log\n\
         \tsyslog_facility = daemon\n\
         \tstripped_names = no\n\
         \tauth = {log_auth}\n\
         \tauth_badpass = no\n\
         \tauth_goodpass = no\n\
         \tmsg_denied = \"You are already logged in - access denied\"\n\
         }}\n\
         \n\
         security {{\n",
        log = server.log_dir.display(),
        run = server.run_dir.display(),
        maxreq = (server.max_threads as usize * 256).max(16384),
        log_auth = if server.log_auth { "yes" } else { "no" },
    );
    if let Some(u) = &server.user {
        let _ = writeln!(s, "\tuser = {u}");
    }
    if let Some(g) = &server.group {
        let _ = writeln!(s, "\tgroup = {g}");
    }
    let _ = write!(
        s,
        "\tallow_core_dumps = no\n\
         \tmax_attributes = 200\n\
         \treject_delay = 0\n\
         \tstatus_server = yes\n\
         }}\n\
         \n\
         proxy_requests = no\n\
         $INCLUDE proxy.conf\n\
         $INCLUDE clients.conf\n\
         \n\
         thread pool {{\n\
         \tstart_servers = {start}\n\
         \tmax_servers = {max}\n\
         \tmin_spare_servers = {minsp}\n\
         \tmax_spare_servers = {max}\n\
         \tmax_requests_per_server = 0\n\
         \tauto_limit_acct = no\n\
         }}\n\
         \n\
         modules {{\n\
         \t$INCLUDE mods-enabled/\n\
         }}\n\
         \n\
         instantiate {{\n\
         }}\n\
         \n\
         policy {{\n\
         \t$INCLUDE policy.d/\n\
         }}\n\
         \n\
         $INCLUDE sites-enabled/\n",
        start = server.max_threads.min(5),
        max = server.max_threads,
        minsp = server.max_threads.min(3),
    );
    s
}

fn site(server: &ServerConfig, tenants: &[TenantConfig]) -> String {
    let any_vouchers = server.voucher_edge_url.is_some() && tenants.iter().any(|t| t.vouchers);
    let voucher_branch = if any_vouchers {
        "\t\tif (notfound) {\n\
         \t\t\t# not in the tenant DB: maybe a hotspot voucher used for the first time\n\
         \t\t\tkonnekted_voucher_lookup\n\
         \t\t\tif (fail) {\n\
         \t\t\t\tupdate reply {\n\t\t\t\t\t&Reply-Message := \"Voucher service unavailable\"\n\t\t\t\t}\n\
         \t\t\t\treject\n\
         \t\t\t}\n\
         \t\t\telsif (!ok && !updated) {\n\
         \t\t\t\tupdate reply {\n\t\t\t\t\t&Reply-Message := \"Unknown user\"\n\t\t\t\t}\n\
         \t\t\t\treject\n\
         \t\t\t}\n\
         \t\t}\n"
    } else {
        "\t\tif (notfound) {\n\
         \t\t\tupdate reply {\n\t\t\t\t&Reply-Message := \"Unknown user\"\n\t\t\t}\n\
         \t\t\treject\n\
         \t\t}\n"
    };
    format!(
        r#"# GENERATED by konnekted-radius - do not edit
# Realm-routed, database-per-tenant virtual server.
server konnekted {{
	listen {{
		type = auth
		ipaddr = {addr}
		port = {auth}
	}}
	listen {{
		type = acct
		ipaddr = {addr}
		port = {acct}
	}}

	authorize {{
		konnekted_filter_username
		preprocess
		chap
		mschap
		suffix			# user@realm -> Realm + Stripped-User-Name (only for tenant realms)
		konnekted_require_realm	# unknown or missing realm -> Access-Reject with Reply-Message
		konnekted_nas_binding	# a tenant's NAS may only ask for its own realm
		konnekted_breaker_check
		if (ok) {{
			# this tenant's DB failed less than ttl seconds ago: drop without touching it
			do_not_respond
		}}
		konnekted_tenant_sql {{
			fail = 1	# go on so we can decide below
		}}
		if (fail) {{
			# tenant DB unreachable or hung: open the breaker and stay silent (NAS retries/fails over);
			# never turn a DB outage into an Access-Reject
			konnekted_breaker_trip
			do_not_respond
		}}
{voucher_branch}		expiration
		logintime
		pap
	}}

	authenticate {{
		Auth-Type PAP {{
			pap
		}}
		Auth-Type CHAP {{
			chap
		}}
		Auth-Type MS-CHAP {{
			mschap
		}}
	}}

	preacct {{
		preprocess
		acct_unique
		suffix
	}}

	accounting {{
		if (!&Realm) {{
			# unknown tenant: flat-file copy only, still ACK so the NAS stops retrying
			detail
			ok
		}}
		else {{
			konnekted_nas_binding {{
				reject = 1
			}}
			if (reject) {{
				# a tenant's NAS reporting another tenant's session: flat-file copy only, plus one
				# line in foreign-acct.log that the agent reports to the NAS's operator
				detail
				konnekted_foreign_acct
				ok
			}}
			else {{
				konnekted_breaker_check
				if (ok) {{
					do_not_respond
				}}
				konnekted_tenant_sql {{
					fail = 1
				}}
				if (fail) {{
					# tenant DB down: no Accounting-Response, the NAS keeps the record and retries
					konnekted_breaker_trip
					do_not_respond
				}}
			}}
		}}
		attr_filter.accounting_response
	}}

	session {{
	}}

	post-auth {{
		if (&control:Response-Packet-Type == Do-Not-Respond) {{
			noop	# being dropped (tenant DB down): do not touch the DB again
		}}
		else {{
			konnekted_tenant_sql {{	# radpostauth row in the tenant DB (no password stored)
				fail = 1
			}}
			if (fail) {{
				ok	# losing a log row must not turn an Accept into a Reject
			}}
		}}
		Post-Auth-Type REJECT {{
			if (&control:Response-Packet-Type != Do-Not-Respond) {{
				konnekted_tenant_sql {{
					fail = 1
				}}
			}}
			attr_filter.access_reject
		}}
	}}
}}
"#,
        addr = server.listen_addr,
        auth = server.auth_port,
        acct = server.acct_port,
    )
}

/// Stock `queries.conf` of each dialect, read from the base raddb.
pub fn read_stock_queries(base: &Path) -> Result<BTreeMap<Backend, String>, ConfigError> {
    let mut m = BTreeMap::new();
    for b in [Backend::Postgresql, Backend::Mysql, Backend::Sqlite] {
        let p = base.join("mods-config/sql/main").join(b.dialect()).join("queries.conf");
        let text = std::fs::read_to_string(&p).map_err(|_| ConfigError::MissingStock(p.clone()))?;
        m.insert(b, text);
    }
    Ok(m)
}

/// Every file we write, relative to the raddb directory (pure).
pub fn render_files(
    server: &ServerConfig,
    tenants: &[TenantConfig],
    stock_queries: &BTreeMap<Backend, String>,
) -> Result<BTreeMap<PathBuf, String>, ConfigError> {
    validate(server, tenants)?;
    let mut files = BTreeMap::new();
    files.insert(PathBuf::from("radiusd.conf"), radiusd_conf(server));
    files.insert(PathBuf::from("clients.conf"), clients_conf(server, tenants)?);
    files.insert(PathBuf::from("proxy.conf"), proxy_conf(tenants));
    files.insert(PathBuf::from("policy.d/konnekted"), policy(server, tenants));
    files.insert(PathBuf::from("mods-enabled/konnekted_breaker"), breaker_module(server));
    files.insert(PathBuf::from("mods-enabled/konnekted_foreign_acct"), foreign_acct_module());
    if let Some(url) = &server.voucher_edge_url
        && tenants.iter().any(|t| t.vouchers)
    {
        files.insert(PathBuf::from("mods-enabled/konnekted_voucher"), rest_module(server, url.trim_end_matches('/')));
    }
    for t in tenants {
        files.insert(PathBuf::from(format!("mods-enabled/{}", sql_instance_name(&t.realm))), sql_module(server, t)?);
    }
    for (b, stock) in stock_queries {
        files.insert(
            PathBuf::from(format!("mods-config/sql/konnekted/{}/queries.conf", b.dialect())),
            rewrite_post_auth_query(stock, *b)?,
        );
    }
    files.insert(PathBuf::from("sites-enabled/konnekted"), site(server, tenants));
    Ok(files)
}

fn validate_pgbouncer(b: &PgBouncerConfig, tenants: &[TenantConfig]) -> Result<(), ConfigError> {
    dquote_plain("pgbouncer.listen_addr", &b.listen_addr)?;
    dquote_plain("pgbouncer.config_dir", &b.config_dir.to_string_lossy())?;
    if b.listen_port == 0 {
        return Err(ConfigError::InvalidValue { field: "pgbouncer.listen_port", value: "0".into() });
    }
    if b.server_connection_budget == 0 {
        return Err(ConfigError::InvalidValue { field: "pgbouncer.server_connection_budget", value: "0".into() });
    }
    if !["scram-sha-256", "md5", "trust"].contains(&b.auth_type.as_str()) {
        return Err(ConfigError::InvalidValue { field: "pgbouncer.auth_type", value: b.auth_type.clone() });
    }
    if let Some(u) = &b.user
        && !valid_shortname(u)
    {
        return Err(ConfigError::InvalidValue { field: "pgbouncer.user", value: u.clone() });
    }
    // userlist.txt holds one password per login: two tenants sharing a role must agree on it.
    let mut logins: BTreeMap<&str, &str> = BTreeMap::new();
    for t in tenants {
        if let DbSettings::Postgresql { user, password, .. } = &t.db {
            if b.auth_type != "trust" && password.expose().is_empty() {
                return Err(ConfigError::InvalidValue {
                    field: "db.password",
                    value: format!("empty for {} (PgBouncer {} needs one)", t.realm, b.auth_type),
                });
            }
            if logins.insert(user, password.expose()).is_some_and(|p| p != password.expose()) {
                return Err(ConfigError::InvalidValue {
                    field: "db.password",
                    value: format!("role {user} is given two different passwords"),
                });
            }
        }
    }
    Ok(())
}

/// Server connections PgBouncer may hold per tenant database: the server's budget shared by the
/// tenants on it (at least one each), keyed by sql instance name.
pub fn pgbouncer_pool_sizes(b: &PgBouncerConfig, tenants: &[TenantConfig]) -> BTreeMap<String, u32> {
    let mut per_server: BTreeMap<(&str, u16), u32> = BTreeMap::new();
    for t in tenants {
        if let DbSettings::Postgresql { host, port, .. } = &t.db {
            *per_server.entry((host, *port)).or_default() += 1;
        }
    }
    tenants
        .iter()
        .filter_map(|t| match &t.db {
            DbSettings::Postgresql { host, port, .. } => {
                let n = per_server[&(host.as_str(), *port)];
                Some((sql_instance_name(&t.realm), (b.server_connection_budget / n).max(1)))
            }
            _ => None,
        })
        .collect()
}

/// `pgbouncer.ini` and `userlist.txt` for the PostgreSQL tenants (pure). Nothing if PgBouncer is
/// not configured.
pub fn render_pgbouncer(
    server: &ServerConfig,
    tenants: &[TenantConfig],
) -> Result<Option<BTreeMap<PathBuf, String>>, ConfigError> {
    let Some(b) = &server.pgbouncer else { return Ok(None) };
    validate(server, tenants)?;
    let pools = pgbouncer_pool_sizes(b, tenants);
    let mut dbs = String::new();
    let mut users = BTreeMap::new();
    for t in tenants {
        let DbSettings::Postgresql { host, port, user, password, database } = &t.db else { continue };
        let name = sql_instance_name(&t.realm);
        let pool = pools[&name];
        let timeout_ms = t.statement_timeout_ms.unwrap_or(server.statement_timeout_ms).max(1);
        // (PgBouncer cannot parse an empty quoted value: no password given means none)
        let pw = match password.expose() {
            "" => String::new(),
            p => format!(" password={}", squote("db.password", p)?),
        };
        let _ = writeln!(
            dbs,
            "{name} = host={host} port={port} dbname={database} user={user}{pw} pool_size={pool} \
             max_db_connections={pool} connect_query='SET statement_timeout = {timeout_ms}'"
        );
        users.insert(user.clone(), password.expose().to_owned());
    }
    let n_pg = pools.len() as u32;
    // A queued query gives up soon after the statement timeout: the FreeRADIUS thread waiting
    // for it is freed, the tenant's breaker opens, and other tenants keep their threads.
    let wait_s = (server.statement_timeout_ms.max(1) * 2).div_ceil(1000);
    let mut ini = format!(
        ";; GENERATED by konnekted-radius - do not edit\n\
         ;; FreeRADIUS reaches each tenant's PostgreSQL database through here (database name = sql\n\
         ;; instance name). Pool sizes share server_connection_budget = {budget} per PostgreSQL server.\n\
         ;; Adding a tenant: RELOAD (or SIGHUP) PgBouncer, then restart FreeRADIUS.\n\
         [databases]\n\
         {dbs}\n\
         [pgbouncer]\n\
         listen_addr = {addr}\n\
         listen_port = {port}\n\
         unix_socket_dir =\n\
         auth_type = {auth}\n\
         auth_file = {dir}/userlist.txt\n\
         ;; FreeRADIUS sends one statement per transaction (autocommit), so transaction pooling\n\
         ;; hands a server connection to whichever tenant thread needs it next.\n\
         pool_mode = transaction\n\
         max_client_conn = {max_client}\n\
         default_pool_size = 1\n\
         reserve_pool_size = 0\n\
         query_wait_timeout = {wait_s}\n\
         server_connect_timeout = 2\n\
         server_login_retry = 1\n\
         server_idle_timeout = 30\n\
         server_lifetime = 3600\n\
         ignore_startup_parameters = extra_float_digits\n\
         log_connections = 0\n\
         log_disconnections = 0\n",
        budget = b.server_connection_budget,
        addr = b.listen_addr,
        port = b.listen_port,
        auth = b.auth_type,
        dir = b.config_dir.display(),
        // every tenant pool of FreeRADIUS may grow to max_threads client connections
        max_client = n_pg * server.max_threads + 64,
    );
    if let Some(u) = &b.user {
        let _ = writeln!(ini, "user = {u}");
    }
    let userlist: String =
        users.iter().map(|(u, p)| format!("\"{}\" \"{}\"\n", u.replace('"', "\"\""), p.replace('"', "\"\""))).collect();
    Ok(Some(BTreeMap::from([(PathBuf::from("pgbouncer.ini"), ini), (PathBuf::from("userlist.txt"), userlist)])))
}

/// Write PgBouncer's files into `config_dir` (each swapped in whole). Returns the directory, or
/// None if PgBouncer is not configured.
pub fn write_pgbouncer(server: &ServerConfig, tenants: &[TenantConfig]) -> Result<Option<PathBuf>, ConfigError> {
    use std::os::unix::fs::PermissionsExt;
    let (Some(b), Some(files)) = (&server.pgbouncer, render_pgbouncer(server, tenants)?) else { return Ok(None) };
    std::fs::create_dir_all(&b.config_dir)?;
    for (rel, content) in files {
        let path = b.config_dir.join(&rel);
        let tmp = b.config_dir.join(format!(".{}.new-{}", rel.display(), std::process::id()));
        std::fs::write(&tmp, content)?;
        // holds database passwords
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o640))?;
        std::fs::rename(&tmp, &path)?;
    }
    Ok(Some(b.config_dir.clone()))
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let ft = entry.file_type()?;
        let dest = to.join(entry.file_name());
        if ft.is_symlink() {
            let target = std::fs::read_link(entry.path())?;
            std::os::unix::fs::symlink(target, &dest)?;
        } else if ft.is_dir() {
            copy_tree(&entry.path(), &dest)?;
        } else {
            std::fs::copy(entry.path(), &dest)?;
        }
    }
    Ok(())
}

/// Stock pieces removed from the copy: its sites (we have our own), EAP (needs certificates and an
/// inner-tunnel; not used by PPPoE/hotspot here), and modules that would need extra setup.
const REMOVE_FROM_STOCK: &[&str] = &["sites-enabled", "mods-enabled/eap", "mods-enabled/ntlm_auth"];

/// Render a complete raddb directory at `target`: copy of `server.base_raddb` + our files.
/// Written next to `target` and swapped in, so a running server never sees a half-written tree.
/// Also creates `log_dir` and `run_dir`, and writes PgBouncer's files if it is configured.
pub fn write_raddb(server: &ServerConfig, tenants: &[TenantConfig], target: &Path) -> Result<(), ConfigError> {
    let stock = read_stock_queries(&server.base_raddb)?;
    let files = render_files(server, tenants, &stock)?;
    let parent = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "raddb".into());
    let tmp = parent.join(format!(".{name}.new-{}", std::process::id()));
    let old = parent.join(format!(".{name}.old-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    copy_tree(&server.base_raddb, &tmp)?;
    for r in REMOVE_FROM_STOCK {
        let p = tmp.join(r);
        if p.is_dir() && !p.is_symlink() {
            std::fs::remove_dir_all(&p)?;
        } else if p.exists() || p.is_symlink() {
            std::fs::remove_file(&p)?;
        }
    }
    std::fs::create_dir_all(tmp.join("sites-enabled"))?;
    for (rel, content) in &files {
        let p = tmp.join(rel);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d)?;
        }
        if p.is_symlink() {
            std::fs::remove_file(&p)?;
        }
        std::fs::write(&p, content)?;
    }
    // Files hold DB passwords and NAS secrets.
    set_private(&tmp)?;
    std::fs::create_dir_all(&server.log_dir)?;
    std::fs::create_dir_all(server.log_dir.join("radacct"))?;
    std::fs::create_dir_all(&server.run_dir)?;
    if target.exists() {
        std::fs::rename(target, &old)?;
        std::fs::rename(&tmp, target)?;
        std::fs::remove_dir_all(&old)?;
    } else {
        std::fs::rename(&tmp, target)?;
    }
    write_pgbouncer(server, tenants)?;
    Ok(())
}

fn set_private(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o750))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenants() -> Vec<TenantConfig> {
        vec![
            TenantConfig {
                realm: "acme".into(),
                db: DbSettings::Postgresql {
                    host: "127.0.0.1".into(),
                    port: 5432,
                    user: "radius_acme".into(),
                    password: Secret::new("pw"),
                    database: "tenant_acme".into(),
                },
                nas: vec![NasClient {
                    ip: "10.1.0.1".into(),
                    secret: Secret::new("acmesecret"),
                    shortname: "pop1".into(),
                }],
                vouchers: true,
                statement_timeout_ms: None,
            },
            TenantConfig {
                realm: "beta.net".into(),
                db: DbSettings::Mysql {
                    host: "127.0.0.1".into(),
                    port: 3306,
                    user: "radius_beta".into(),
                    password: Secret::new("pw2"),
                    database: "tenant_beta".into(),
                },
                nas: vec![],
                vouchers: false,
                statement_timeout_ms: Some(2500),
            },
        ]
    }

    fn stock() -> BTreeMap<Backend, String> {
        let q = "# header\nsql_user_name = \"%{User-Name}\"\npost-auth {\n\tquery = \"\\\n\t\tINSERT INTO x VALUES ('%{User-Password}', \\\"{}\\\")\"\n}\n# tail\n";
        [Backend::Postgresql, Backend::Mysql, Backend::Sqlite].into_iter().map(|b| (b, q.to_string())).collect()
    }

    #[test]
    fn post_auth_rewrite_drops_the_password_and_keeps_the_rest() {
        let out = rewrite_post_auth_query(&stock()[&Backend::Postgresql], Backend::Postgresql).unwrap();
        assert!(!out.contains("User-Password"));
        assert!(out.contains("# header") && out.contains("# tail"));
        assert!(out.contains("'%{SQL-User-Name}'"));
        assert!(rewrite_post_auth_query("nothing here", Backend::Mysql).is_err());
    }

    #[test]
    fn render_has_one_sql_instance_per_tenant_with_lazy_pool_and_timeouts() {
        let server = ServerConfig { voucher_edge_url: Some("https://edge.example/api".into()), ..Default::default() };
        let files = render_files(&server, &tenants(), &stock()).unwrap();
        let acme = &files[Path::new("mods-enabled/konnekted_sql_acme")];
        assert!(acme.contains("open_query = \"SET statement_timeout = 1000\""));
        assert!(
            acme.contains("start = 0")
                && acme.contains("min = 0")
                && acme.contains("spare = 1")
                && acme.contains("max = 32")
        );
        // sql_user_name before the include
        assert!(acme.find("sql_user_name").unwrap() < acme.find("\n\t$INCLUDE").unwrap());
        let beta = &files[Path::new("mods-enabled/konnekted_sql_beta_net")];
        assert!(beta.contains("max_statement_time = 2.500") && beta.contains("query_timeout = 3"));
        let policy = &files[Path::new("policy.d/konnekted")];
        assert!(policy.contains("case \"acme\" {\n\t\t\tkonnekted_sql_acme"));
        assert!(policy.contains("case \"beta.net\" {\n\t\t\tkonnekted_sql_beta_net"));
        // vouchers only for acme
        let voucher =
            policy.split("konnekted_voucher_lookup").nth(1).unwrap().split("konnekted_filter_username").next().unwrap();
        assert!(voucher.contains("\"acme\"") && !voucher.contains("beta.net"));
        assert!(files.contains_key(Path::new("mods-enabled/konnekted_voucher")));
        let clients = &files[Path::new("clients.conf")];
        assert!(clients.contains("shortname = \"acme:pop1\""));
        assert!(files[Path::new("proxy.conf")].contains("realm beta.net {"));
    }

    fn pg_tenant(realm: &str, host: &str, user: &str, pw: &str) -> TenantConfig {
        TenantConfig {
            realm: realm.into(),
            db: DbSettings::Postgresql {
                host: host.into(),
                port: 5432,
                user: user.into(),
                password: Secret::new(pw),
                database: format!("radius_{realm}"),
            },
            nas: vec![],
            vouchers: false,
            statement_timeout_ms: None,
        }
    }

    #[test]
    fn pgbouncer_shares_each_servers_budget_and_fronts_every_postgresql_tenant() {
        let bouncer = PgBouncerConfig {
            config_dir: PathBuf::from("/etc/pgbouncer"),
            listen_port: 6433,
            server_connection_budget: 10,
            ..Default::default()
        };
        let server = ServerConfig { pgbouncer: Some(bouncer.clone()), ..Default::default() };
        let mut ts = tenants(); // acme (PostgreSQL on 127.0.0.1) + beta.net (MariaDB)
        ts.push(pg_tenant("b1", "10.0.0.5", "r_b1", "p1"));
        ts.push(pg_tenant("b2", "10.0.0.5", "r_b2", "p2"));
        ts.push(pg_tenant("b3", "10.0.0.5", "r_b3", "p3"));
        ts[4].statement_timeout_ms = Some(2500);
        let pools = pgbouncer_pool_sizes(&bouncer, &ts);
        // acme is alone on its server; b1..b3 split 10 three ways; MariaDB is not pooled
        assert_eq!(pools.len(), 4);
        assert_eq!(pools["konnekted_sql_acme"], 10);
        assert_eq!(pools["konnekted_sql_b1"], 3);
        let many: Vec<TenantConfig> = (0..50).map(|i| pg_tenant(&format!("t{i}"), "db", "r", "p")).collect();
        assert!(pgbouncer_pool_sizes(&bouncer, &many).values().all(|&n| n == 1), "never below one");

        let files = render_pgbouncer(&server, &ts).unwrap().unwrap();
        let ini = &files[Path::new("pgbouncer.ini")];
        assert!(ini.contains(
            "konnekted_sql_b3 = host=10.0.0.5 port=5432 dbname=radius_b3 user=r_b3 password='p3' pool_size=3 max_db_connections=3 connect_query='SET statement_timeout = 2500'"
        ));
        assert!(ini.contains("pool_mode = transaction") && ini.contains("listen_port = 6433"));
        assert!(ini.contains("auth_file = /etc/pgbouncer/userlist.txt") && ini.contains("auth_type = scram-sha-256"));
        assert!(ini.contains(&format!("max_client_conn = {}", 4 * 32 + 64)));
        assert!(!ini.contains("radius_beta") && !ini.contains("\nuser ="));
        assert_eq!(
            files[Path::new("userlist.txt")],
            "\"r_b1\" \"p1\"\n\"r_b2\" \"p2\"\n\"r_b3\" \"p3\"\n\"radius_acme\" \"pw\"\n"
        );

        // FreeRADIUS talks to PgBouncer under the instance name; MariaDB tenants are untouched
        let raddb = render_files(&server, &ts, &stock()).unwrap();
        let acme = &raddb[Path::new("mods-enabled/konnekted_sql_acme")];
        assert!(
            acme.contains("server = \"127.0.0.1\"\n\tport = 6433")
                && acme.contains("radius_db = \"konnekted_sql_acme\"")
        );
        assert!(!acme.contains("open_query"), "the timeout is PgBouncer's connect_query");
        assert!(raddb[Path::new("mods-enabled/konnekted_sql_beta_net")].contains("port = 3306"));
        assert!(render_pgbouncer(&ServerConfig::default(), &ts).unwrap().is_none());
    }

    #[test]
    fn pgbouncer_refuses_what_it_could_not_serve() {
        let server = |auth: &str| ServerConfig {
            pgbouncer: Some(PgBouncerConfig { auth_type: auth.into(), ..Default::default() }),
            ..Default::default()
        };
        let two_passwords = vec![pg_tenant("a", "h", "shared", "x"), pg_tenant("b", "h", "shared", "y")];
        assert!(render_pgbouncer(&server("md5"), &two_passwords).is_err());
        let no_password = vec![pg_tenant("a", "h", "r", "")];
        assert!(render_pgbouncer(&server("scram-sha-256"), &no_password).is_err());
        assert!(render_pgbouncer(&server("trust"), &no_password).unwrap().is_some());
        assert!(render_pgbouncer(&server("password"), &no_password).is_err());
    }

    #[test]
    fn no_voucher_module_without_edge_url() {
        let files = render_files(&ServerConfig::default(), &tenants(), &stock()).unwrap();
        assert!(!files.contains_key(Path::new("mods-enabled/konnekted_voucher")));
        assert!(!files[Path::new("policy.d/konnekted")].contains("-konnekted_voucher"));
    }

    #[test]
    fn bad_inputs_are_refused() {
        let mut t = tenants();
        t[0].realm = "Acme".into();
        assert!(matches!(render_files(&ServerConfig::default(), &t, &stock()), Err(ConfigError::InvalidRealm(_))));
        let mut t = tenants();
        let dup = t[0].nas[0].clone();
        t[1].nas.push(dup);
        assert!(matches!(render_files(&ServerConfig::default(), &t, &stock()), Err(ConfigError::DuplicateNas(_))));
        let mut t = tenants();
        t[0].nas[0].secret = Secret::new("a'b");
        assert!(render_files(&ServerConfig::default(), &t, &stock()).is_err());
        let mut t = tenants();
        t.push(TenantConfig { realm: "beta-net".into(), ..t[1].clone() });
        assert!(matches!(render_files(&ServerConfig::default(), &t, &stock()), Err(ConfigError::DuplicateRealm(_))));
    }

    #[test]
    fn dotless_and_dotted_realms_are_valid() {
        assert!(valid_realm("acme"));
        assert!(valid_realm("wisp-1.co.ke"));
        assert!(!valid_realm("a..b"));
        assert!(!valid_realm(".a"));
        assert!(!valid_realm("a b"));
    }

    #[test]
    fn gen_config_input_parses_from_toml() {
        let input: GenConfigInput = toml::from_str(
            r#"
            [server]
            auth_port = 18120
            acct_port = 18130
            listen_addr = "127.0.0.1"
            log_dir = "/var/log/konnekted-radius"
            run_dir = "/run/konnekted-radius"

            [[tenants]]
            realm = "acme"
            vouchers = true
            db = { kind = "postgresql", host = "127.0.0.1", port = 5432, user = "radius_acme", password = "pw", database = "tenant_acme" }
            nas = [ { ip = "10.1.0.1", secret = "s", shortname = "pop1" } ]

            [[tenants]]
            realm = "gamma"
            db = { kind = "sqlite", path = "/var/lib/konnekted/radius/gamma.db" }
            "#,
        )
        .unwrap();
        assert_eq!(input.server.auth_port, 18120);
        assert_eq!(input.server.max_threads, 32);
        assert_eq!(input.tenants.len(), 2);
        assert_eq!(input.tenants[1].db.backend(), Backend::Sqlite);
    }
}

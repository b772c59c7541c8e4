//! PgBouncer in front of PostgreSQL tenants: pool sizes, `pgbouncer.ini` and `userlist.txt`.

use super::*;

pub(crate) fn validate_pgbouncer(b: &PgBouncerConfig, tenants: &[TenantConfig]) -> Result<(), ConfigError> {
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

/// Server connections of one tenant database in PgBouncer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantPool {
    /// Its share of the server's budget (`pool_size`): what it always gets, however busy the
    /// other tenants are.
    pub share: u32,
    /// The most it may hold (`max_db_connections`): the share plus what it may borrow
    /// (`reserve_pool` = `max - share`) while its queries wait.
    pub max: u32,
}

/// Server connections PgBouncer may hold per tenant database, keyed by sql instance name: the
/// server's budget shared by the tenants on it (at least one each), and what a busy tenant may
/// borrow on top ([`PgBouncerConfig::burst_connections`], within the budget and `max_threads`).
pub fn pgbouncer_pool_sizes(
    b: &PgBouncerConfig,
    max_threads: u32,
    tenants: &[TenantConfig],
) -> BTreeMap<String, TenantPool> {
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
                let share = (b.server_connection_budget / n).max(1);
                // more than max_threads connections could never be busy at once
                let max = b.burst_connections.min(b.server_connection_budget).min(max_threads.max(1)).max(share);
                Some((sql_instance_name(&t.realm), TenantPool { share, max }))
            }
            _ => None,
        })
        .collect()
}

/// Seconds a tenant's query waits for its share before PgBouncer opens a borrowed connection: long
/// enough that a tenant whose share keeps up never borrows, short next to an auth's deadline.
pub const RESERVE_POOL_TIMEOUT: &str = "0.01";

/// `pgbouncer.ini` and `userlist.txt` for the PostgreSQL tenants (pure). Nothing if PgBouncer is
/// not configured.
pub fn render_pgbouncer(
    server: &ServerConfig,
    tenants: &[TenantConfig],
) -> Result<Option<BTreeMap<PathBuf, String>>, ConfigError> {
    let Some(b) = &server.pgbouncer else { return Ok(None) };
    validate(server, tenants)?;
    let pools = pgbouncer_pool_sizes(b, server.max_threads, tenants);
    let mut dbs = String::new();
    let mut users = BTreeMap::new();
    for t in tenants {
        let DbSettings::Postgresql { host, port, user, password, database } = &t.db else { continue };
        let name = sql_instance_name(&t.realm);
        let TenantPool { share, max } = pools[&name];
        let timeout_ms = t.statement_timeout_ms.unwrap_or(server.statement_timeout_ms).max(1);
        // (PgBouncer cannot parse an empty quoted value: no password given means none)
        let pw = match password.expose() {
            "" => String::new(),
            p => format!(" password={}", squote("db.password", p)?),
        };
        let _ = writeln!(
            dbs,
            "{name} = host={host} port={port} dbname={database} user={user}{pw} pool_size={share} \
             reserve_pool={reserve} max_db_connections={max} connect_query='SET statement_timeout = {timeout_ms}'",
            reserve = max - share
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
         ;; instance name). Pool sizes share server_connection_budget = {budget} per PostgreSQL server;\n\
         ;; a busy tenant borrows up to max_db_connections (reserve_pool) while its queries wait.\n\
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
         ;; a tenant whose query waited this long may open one of its reserve_pool connections\n\
         reserve_pool_timeout = {reserve_wait}\n\
         query_wait_timeout = {wait_s}\n\
         server_connect_timeout = 2\n\
         server_login_retry = 1\n\
         server_idle_timeout = 30\n\
         server_lifetime = 3600\n\
         ignore_startup_parameters = extra_float_digits\n\
         log_connections = 0\n\
         log_disconnections = 0\n",
        budget = b.server_connection_budget,
        reserve_wait = RESERVE_POOL_TIMEOUT,
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

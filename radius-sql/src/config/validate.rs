//! Checks of every value that reaches a FreeRADIUS file (realms, names, quoting), before anything is rendered.

use super::*;

pub(crate) fn valid_realm(r: &str) -> bool {
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
pub(crate) fn squote(field: &'static str, v: &str) -> Result<String, ConfigError> {
    if v.contains(['\'', '\\', '\n', '\r', '\0']) {
        return Err(ConfigError::InvalidValue { field, value: "<contains ' \\ or control characters>".into() });
    }
    Ok(format!("'{v}'"))
}

/// Value for a double-quoted config string that must not contain expansions.
pub(crate) fn dquote_plain(field: &'static str, v: &str) -> Result<String, ConfigError> {
    if v.contains(['"', '\\', '\n', '\r', '\0', '$', '%', '`']) {
        return Err(ConfigError::InvalidValue { field, value: v.to_string() });
    }
    Ok(format!("\"{v}\""))
}

pub(crate) fn valid_shortname(s: &str) -> bool {
    !s.is_empty() && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

pub(crate) fn valid_ip_or_cidr(s: &str) -> bool {
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

/// `.conf` files of the stock tree (and ours) that a node's `<name>.conf` must not replace.
pub(crate) const RESERVED_NODE_NAMES: &[&str] =
    &["radiusd", "freeradius", "clients", "proxy", "templates", "trigger", "experimental", "debug", "panic"];

pub(crate) fn valid_node_name(n: &str) -> bool {
    let b = n.as_bytes();
    !b.is_empty()
        && b.len() <= 32
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-' || *c == b'_')
        && !RESERVED_NODE_NAMES.contains(&n)
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
        if t.vouchers && server.voucher_edge_url.is_some() {
            let key = t.voucher_key.as_ref().map(|k| k.expose()).unwrap_or("");
            if key.len() != 64 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ConfigError::InvalidValue {
                    field: "voucher_key (64 hex digits, from `konnekted tenant add`)",
                    value: format!("{} characters", key.len()),
                });
            }
        }
        match &t.db {
            DbSettings::Postgresql { host, user, password, database, .. }
            | DbSettings::Mysql { host, user, password, database, .. } => {
                dquote_plain("db.host", host)?;
                dquote_plain("db.user", user)?;
                dquote_plain("db.database", database)?;
                squote("db.password", password.expose())?;
                // a PostgreSQL name may be written as a libpq option (dbname='...', render.rs)
                if matches!(t.db, DbSettings::Postgresql { .. }) && database.contains('\'') {
                    return Err(ConfigError::InvalidValue { field: "db.database", value: database.clone() });
                }
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
    let mut node_names = BTreeSet::new();
    for n in &server.nodes {
        if !valid_node_name(&n.name) {
            return Err(ConfigError::InvalidValue { field: "nodes.name", value: n.name.clone() });
        }
        if !node_names.insert(n.name.as_str()) {
            return Err(ConfigError::InvalidValue { field: "nodes.name (duplicate)", value: n.name.clone() });
        }
    }
    for p in server.processes().iter().chain([&server.single()]) {
        dquote_plain("listen_addr", &p.listen_addr)?;
        for (field, d) in [("log_dir", &p.log_dir), ("run_dir", &p.run_dir)] {
            dquote_plain(field, &d.to_string_lossy())?;
        }
    }
    Ok(())
}

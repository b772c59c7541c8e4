//! Per-tenant RADIUS database: connection settings, create-if-missing, schema migration, and a
//! connected handle ([`RadiusDb`]) used by [`crate::sync`] and [`crate::accounting`].
//!
//! One pool per tenant database. All three backends go through sqlx's `Any` driver with dialect
//! SQL chosen per backend (placeholders, time conversion); values read are only text and integers.

use std::path::PathBuf;
use std::sync::Once;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

pub const SCHEMA_POSTGRESQL: &str = include_str!("../schema/postgresql.sql");
pub const SCHEMA_MYSQL: &str = include_str!("../schema/mysql.sql");
pub const SCHEMA_SQLITE: &str = include_str!("../schema/sqlite.sql");

/// The SQL backend of one tenant's RADIUS database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Postgresql,
    /// MySQL or MariaDB.
    Mysql,
    Sqlite,
}

impl Backend {
    /// FreeRADIUS `dialect` name (also the folder under mods-config/sql/main).
    pub fn dialect(self) -> &'static str {
        match self {
            Backend::Postgresql => "postgresql",
            Backend::Mysql => "mysql",
            Backend::Sqlite => "sqlite",
        }
    }

    pub fn schema(self) -> &'static str {
        match self {
            Backend::Postgresql => SCHEMA_POSTGRESQL,
            Backend::Mysql => SCHEMA_MYSQL,
            Backend::Sqlite => SCHEMA_SQLITE,
        }
    }

    /// Bind placeholder number `i` (1-based).
    pub fn ph(self, i: usize) -> String {
        match self {
            Backend::Postgresql => format!("${i}"),
            _ => "?".to_string(),
        }
    }
}

pub use konnekted_sync_proto::secret::Secret;

/// Where a tenant's RADIUS database lives. The same settings feed the FreeRADIUS `sql` instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum DbSettings {
    Postgresql { host: String, port: u16, user: String, password: Secret, database: String },
    Mysql { host: String, port: u16, user: String, password: Secret, database: String },
    Sqlite { path: PathBuf },
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("invalid database name {0:?} (use [A-Za-z0-9_], at most 63 characters)")]
    InvalidName(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

impl DbError {
    /// True when retrying later may succeed (connection refused, pool timeout, I/O).
    pub fn is_transient(&self) -> bool {
        match self {
            DbError::Database(e) => matches!(
                e,
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed
            ),
            DbError::Io(_) => true,
            DbError::InvalidName(_) => false,
        }
    }
}

fn pct(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

fn valid_db_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 63 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl DbSettings {
    pub fn backend(&self) -> Backend {
        match self {
            DbSettings::Postgresql { .. } => Backend::Postgresql,
            DbSettings::Mysql { .. } => Backend::Mysql,
            DbSettings::Sqlite { .. } => Backend::Sqlite,
        }
    }

    /// The sqlx connection string for this database, e.g.
    /// `postgres://radius_acme:pw@127.0.0.1:5432/tenant_acme`,
    /// `mysql://radius_delta:pw@127.0.0.1:3306/tenant_delta`, `sqlite:///var/lib/konnekted/gamma.db?mode=rwc`.
    /// (Contains the password: never log it.)
    pub fn connection_url(&self) -> String {
        match self {
            DbSettings::Postgresql { host, port, user, password, database } => {
                format!("postgres://{}:{}@{}:{}/{}", pct(user), pct(password.expose()), host, port, pct(database))
            }
            DbSettings::Mysql { host, port, user, password, database } => {
                format!("mysql://{}:{}@{}:{}/{}", pct(user), pct(password.expose()), host, port, pct(database))
            }
            DbSettings::Sqlite { path } => format!("sqlite://{}?mode=rwc", path.display()),
        }
    }

    /// Same server and credentials, without selecting the tenant database (PG: `postgres`).
    fn server_url(&self) -> Option<String> {
        match self {
            DbSettings::Postgresql { host, port, user, password, .. } => {
                Some(format!("postgres://{}:{}@{}:{}/postgres", pct(user), pct(password.expose()), host, port))
            }
            DbSettings::Mysql { host, port, user, password, .. } => {
                Some(format!("mysql://{}:{}@{}:{}", pct(user), pct(password.expose()), host, port))
            }
            DbSettings::Sqlite { .. } => None,
        }
    }

    fn database_name(&self) -> Option<&str> {
        match self {
            DbSettings::Postgresql { database, .. } | DbSettings::Mysql { database, .. } => Some(database),
            DbSettings::Sqlite { .. } => None,
        }
    }
}

static DRIVERS: Once = Once::new();

fn install_drivers() {
    DRIVERS.call_once(sqlx::any::install_default_drivers);
}

/// Create the tenant database if it does not exist (PostgreSQL, MariaDB: `CREATE DATABASE`;
/// SQLite: the parent directory and file). The configured user needs the right to create databases.
pub async fn create_database_if_missing(settings: &DbSettings) -> Result<(), DbError> {
    install_drivers();
    match settings {
        DbSettings::Sqlite { path } => {
            if let Some(dir) = path.parent()
                && !dir.as_os_str().is_empty()
            {
                std::fs::create_dir_all(dir)?;
            }
            Ok(())
        }
        _ => {
            let name = settings.database_name().unwrap_or_default();
            if !valid_db_name(name) {
                return Err(DbError::InvalidName(name.to_string()));
            }
            let url = settings.server_url().expect("network backend");
            let pool = AnyPoolOptions::new().max_connections(1).connect(&url).await?;
            let r = match settings.backend() {
                Backend::Postgresql => {
                    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
                        .bind(name)
                        .fetch_optional(&pool)
                        .await?;
                    if exists.is_none() {
                        // Concurrent creators may race: "already exists" is success.
                        match sqlx::raw_sql(&format!("CREATE DATABASE \"{name}\"")).execute(&pool).await {
                            Ok(_) => Ok(()),
                            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => Ok(()),
                            Err(e) => Err(e.into()),
                        }
                    } else {
                        Ok(())
                    }
                }
                _ => sqlx::raw_sql(&format!("CREATE DATABASE IF NOT EXISTS `{name}`"))
                    .execute(&pool)
                    .await
                    .map(|_| ())
                    .map_err(DbError::from),
            };
            pool.close().await;
            r
        }
    }
}

/// Drop a tenant database (tests, tenant removal). PostgreSQL terminates other sessions first.
pub async fn drop_database(settings: &DbSettings) -> Result<(), DbError> {
    install_drivers();
    match settings {
        DbSettings::Sqlite { path } => {
            for suffix in ["", "-wal", "-shm", "-journal"] {
                let p = PathBuf::from(format!("{}{}", path.display(), suffix));
                let _ = std::fs::remove_file(p);
            }
            Ok(())
        }
        _ => {
            let name = settings.database_name().unwrap_or_default();
            if !valid_db_name(name) {
                return Err(DbError::InvalidName(name.to_string()));
            }
            let url = settings.server_url().expect("network backend");
            let pool = AnyPoolOptions::new().max_connections(1).connect(&url).await?;
            let sql = match settings.backend() {
                Backend::Postgresql => format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
                _ => format!("DROP DATABASE IF EXISTS `{name}`"),
            };
            let r = sqlx::raw_sql(&sql).execute(&pool).await;
            pool.close().await;
            r.map(|_| ()).map_err(Into::into)
        }
    }
}

/// Split a schema file into statements (a `;` ending a line ends a statement; `--` lines are comments).
pub fn split_statements(schema: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in schema.lines() {
        let t = line.trim();
        if t.starts_with("--") || t.is_empty() {
            continue;
        }
        cur.push_str(line);
        cur.push('\n');
        if t.ends_with(';') {
            let stmt = cur.trim().trim_end_matches(';').trim().to_string();
            if !stmt.is_empty() {
                out.push(stmt);
            }
            cur.clear();
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

/// A connected tenant RADIUS database.
#[derive(Debug, Clone)]
pub struct RadiusDb {
    backend: Backend,
    pool: AnyPool,
}

impl RadiusDb {
    /// Connect to an existing tenant database (no schema changes).
    pub async fn connect(settings: &DbSettings) -> Result<RadiusDb, DbError> {
        install_drivers();
        let backend = settings.backend();
        // (sqlx's SQLite driver already waits 5 s on a busy database, like FreeRADIUS's busy_timeout.)
        let url = settings.connection_url();
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 1 } else { 4 })
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(10))
            .idle_timeout(Some(Duration::from_secs(60)))
            .connect(&url)
            .await?;
        Ok(RadiusDb { backend, pool })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Create the tenant database if missing and bring its schema up to date (idempotent), then
/// return a connected handle.
pub async fn migrate(settings: &DbSettings) -> Result<RadiusDb, DbError> {
    create_database_if_missing(settings).await?;
    let db = RadiusDb::connect(settings).await?;
    if db.backend == Backend::Sqlite {
        // Persistent; FreeRADIUS's radpostauth/radacct writers need WAL under concurrency.
        sqlx::raw_sql("PRAGMA journal_mode=WAL").execute(&db.pool).await?;
    }
    for stmt in split_statements(db.backend.schema()) {
        sqlx::raw_sql(&stmt).execute(&db.pool).await?;
    }
    Ok(db)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_split_into_the_nine_freeradius_tables() {
        for b in [Backend::Postgresql, Backend::Mysql, Backend::Sqlite] {
            let stmts = split_statements(b.schema());
            let tables: Vec<_> = stmts
                .iter()
                .filter_map(|s| s.strip_prefix("CREATE TABLE IF NOT EXISTS "))
                .map(|s| s.split_whitespace().next().unwrap().to_string())
                .collect();
            assert_eq!(
                tables,
                [
                    "radacct",
                    "radcheck",
                    "radgroupcheck",
                    "radgroupreply",
                    "radreply",
                    "radusergroup",
                    "radpostauth",
                    "nas",
                    "nasreload"
                ],
                "{b:?}"
            );
            assert!(stmts.iter().all(|s| !s.contains(";\n")), "{b:?}");
        }
    }

    #[test]
    fn connection_url_escapes_credentials_and_debug_hides_them() {
        let s = DbSettings::Postgresql {
            host: "127.0.0.1".into(),
            port: 5432,
            user: "radius_acme".into(),
            password: Secret::new("p@ss/word"),
            database: "tenant_acme".into(),
        };
        assert_eq!(s.connection_url(), "postgres://radius_acme:p%40ss%2Fword@127.0.0.1:5432/tenant_acme");
        assert!(!format!("{s:?}").contains("p@ss"));
        let l = DbSettings::Sqlite { path: "/var/lib/konnekted/gamma.db".into() };
        assert_eq!(l.connection_url(), "sqlite:///var/lib/konnekted/gamma.db?mode=rwc");
    }

    #[test]
    fn database_names_are_whitelisted() {
        assert!(valid_db_name("tenant_acme_01"));
        assert!(!valid_db_name("x\"; DROP"));
        assert!(!valid_db_name(""));
    }
}

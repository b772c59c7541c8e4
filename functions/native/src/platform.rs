//! The native `Platform`: SQLite files in a data folder, reqwest for outbound HTTP.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use konnekted_core::db::StoreError;
use konnekted_core::domain::Realm;
use konnekted_core::migrations;
use konnekted_core::platform::{FetchError, Level, Platform, Settings};
use konnekted_core::store::tenants::{self, Tenant};
use tokio::sync::Mutex;

use crate::sqlite::SqliteDb;

#[derive(Clone)]
pub struct NativePlatform {
    inner: Arc<Inner>,
}

struct Inner {
    settings: Settings,
    data_dir: PathBuf,
    control: SqliteDb,
    tenants: Mutex<HashMap<String, SqliteDb>>,
    /// Tenants as last read from the control database, each with the control database's
    /// [`SqliteDb::data_version`] taken before the read: good while it has not moved.
    registry: std::sync::Mutex<HashMap<Realm, (u64, Tenant)>>,
    http: reqwest::Client,
}

impl NativePlatform {
    /// Opens (creating if needed) the data folder and migrates the control database.
    pub async fn open(data_dir: &Path, settings: Settings) -> anyhow::Result<NativePlatform> {
        std::fs::create_dir_all(data_dir.join("tenants"))?;
        let control = SqliteDb::open(&data_dir.join("control.sqlite")).await?;
        migrations::migrate(&control, migrations::CONTROL).await?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .connect_timeout(Duration::from_secs(5))
            .build()?;
        Ok(NativePlatform {
            inner: Arc::new(Inner {
                settings,
                data_dir: data_dir.to_owned(),
                control,
                tenants: Mutex::new(HashMap::new()),
                registry: std::sync::Mutex::new(HashMap::new()),
                http,
            }),
        })
    }

    fn tenant_path(&self, db_key: &str) -> Result<PathBuf, StoreError> {
        // db_key comes from a validated realm; refuse anything path-like all the same.
        if db_key.is_empty() || !db_key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(StoreError::NotFound);
        }
        Ok(self.inner.data_dir.join("tenants").join(format!("{db_key}.sqlite")))
    }
}

impl Platform for NativePlatform {
    type Db = SqliteDb;

    fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    fn control(&self) -> &SqliteDb {
        &self.inner.control
    }

    /// From the cache while the control database has had no commit since the row was read
    /// (by this process or any other): every request names its tenant, and reading it means
    /// a control-database query and decoding two JSON documents.
    async fn tenant(&self, realm: &Realm) -> Result<Option<Tenant>, StoreError> {
        let registry = || self.inner.registry.lock().unwrap_or_else(|p| p.into_inner());
        let version = self.inner.control.data_version()?;
        if let Some((seen, t)) = registry().get(realm)
            && *seen == version
        {
            return Ok(Some(t.clone()));
        }
        let found = tenants::get(&self.inner.control, realm).await?;
        let mut cache = registry();
        match &found {
            Some(t) => {
                cache.insert(realm.clone(), (version, t.clone()));
            }
            None => {
                cache.remove(realm);
            }
        }
        Ok(found)
    }

    async fn tenant_db(&self, db_key: &str) -> Result<SqliteDb, StoreError> {
        let mut cache = self.inner.tenants.lock().await;
        if let Some(db) = cache.get(db_key) {
            return Ok(db.clone());
        }
        let path = self.tenant_path(db_key)?;
        if !path.exists() {
            return Err(StoreError::NotFound);
        }
        let db = SqliteDb::open(&path).await?;
        // Bring databases made by an older release up to date on first open.
        migrations::migrate(&db, migrations::TENANT).await?;
        cache.insert(db_key.to_owned(), db.clone());
        Ok(db)
    }

    async fn create_tenant_db(&self, db_key: &str) -> Result<SqliteDb, StoreError> {
        let path = self.tenant_path(db_key)?;
        let db = SqliteDb::open(&path).await?;
        self.inner.tenants.lock().await.insert(db_key.to_owned(), db.clone());
        Ok(db)
    }

    async fn fetch(&self, req: http::Request<Bytes>) -> Result<http::Response<Bytes>, FetchError> {
        let (parts, body) = req.into_parts();
        let url = parts.uri.to_string();
        let mut rb = self.inner.http.request(parts.method, &url).body(body);
        for (k, v) in &parts.headers {
            rb = rb.header(k, v);
        }
        let resp = rb.send().await.map_err(|e| FetchError(e.without_url().to_string()))?;
        let mut out = http::Response::builder().status(resp.status());
        for (k, v) in resp.headers() {
            out = out.header(k, v);
        }
        let bytes = resp.bytes().await.map_err(|e| FetchError(e.without_url().to_string()))?;
        out.body(bytes).map_err(|e| FetchError(e.to_string()))
    }

    fn log(&self, level: Level, message: &str) {
        match level {
            Level::Info => tracing::info!("{message}"),
            Level::Warn => tracing::warn!("{message}"),
            Level::Error => tracing::error!("{message}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use konnekted_core::Ctx;
    use konnekted_core::db::Db;
    use konnekted_core::ids::IdGen;
    use konnekted_core::secret::Secret;
    use konnekted_core::store::tenants::TenantStatus;
    use konnekted_core::usecases::tenants::{TenantInput, create_tenant};

    use super::*;

    async fn platform(name: &str) -> (NativePlatform, PathBuf) {
        let dir = std::env::temp_dir().join(format!("konnekted-registry-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let settings = Settings {
            public_base_url: "http://127.0.0.1:1".into(),
            platform_token: Secret::new("p"),
            voucher_secret: Secret::default(),
        };
        (NativePlatform::open(&dir, settings).await.unwrap(), dir)
    }

    async fn add(p: &NativePlatform, realm: &str) -> Realm {
        let ctx = Ctx { now: chrono::Utc::now(), entropy: rand::random() };
        let input = TenantInput {
            realm: realm.into(),
            name: realm.into(),
            settings: None,
            daraja: None,
            admin_token: None,
            callback_token: None,
            sync_key: None,
        };
        create_tenant(p, input, "test", &mut IdGen::new(&ctx), ctx.now).await.unwrap();
        Realm::parse(realm).unwrap()
    }

    #[tokio::test]
    async fn tenant_cache_sees_a_settings_change_on_the_next_lookup() {
        let (p, dir) = platform("settings").await;
        let realm = add(&p, "cache-a").await;
        let other = add(&p, "cache-b").await;
        let before = p.tenant(&realm).await.unwrap().unwrap();
        assert_eq!(before.settings.grace_seconds, 86_400);
        assert_eq!(p.tenant(&other).await.unwrap().unwrap().realm, other);
        let mut settings = before.settings.clone();
        settings.grace_seconds = 60;
        tenants::update_settings(p.control(), &realm, &settings, &before.daraja).await.unwrap();
        assert_eq!(p.tenant(&realm).await.unwrap().unwrap().settings.grace_seconds, 60);
        tenants::set_status(p.control(), &realm, TenantStatus::Disabled, chrono::Utc::now(), "test").await.unwrap();
        assert_eq!(p.tenant(&realm).await.unwrap().unwrap().status, TenantStatus::Disabled);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn tenant_cache_sees_a_change_made_by_another_process() {
        let (p, dir) = platform("process").await;
        let realm = add(&p, "cache-c").await;
        assert_eq!(p.tenant(&realm).await.unwrap().unwrap().status, TenantStatus::Active);
        assert_eq!(p.tenant(&realm).await.unwrap().unwrap().status, TenantStatus::Active);
        // Another process (a CLI, an operator's sqlite3) writes the file through its own connection.
        let other = rusqlite::Connection::open(dir.join("control.sqlite")).unwrap();
        other.execute("UPDATE tenants SET status = 'disabled', name = 'Renamed' WHERE realm = 'cache-c'", []).unwrap();
        drop(other);
        let t = p.tenant(&realm).await.unwrap().unwrap();
        assert_eq!((t.status, t.name.as_str()), (TenantStatus::Disabled, "Renamed"));
        let gone = rusqlite::Connection::open(dir.join("control.sqlite")).unwrap();
        gone.execute("DELETE FROM tenants WHERE realm = 'cache-c'", []).unwrap();
        drop(gone);
        assert!(p.tenant(&realm).await.unwrap().is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn data_version_moves_only_when_something_was_committed() {
        let (p, dir) = platform("version").await;
        let control = p.control();
        let v0 = control.data_version().unwrap();
        assert_eq!(control.data_version().unwrap(), v0, "nothing was written");
        add(&p, "cache-d").await;
        let v1 = control.data_version().unwrap();
        assert!(v1 > v0, "the writer committed: {v0} -> {v1}");
        assert_eq!(control.data_version().unwrap(), v1);
        let _ = p.tenant(&Realm::parse("cache-d").unwrap()).await.unwrap();
        assert_eq!(control.data_version().unwrap(), v1, "a read is no change");
        let memory = SqliteDb::memory().await.unwrap();
        let m0 = memory.data_version().unwrap();
        memory.batch(&[konnekted_core::db::Statement::new("CREATE TABLE t (x INTEGER)")]).await.unwrap();
        assert!(memory.data_version().unwrap() > m0);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

//! The native `Platform`: SQLite files in a data folder, reqwest for outbound HTTP.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use konnekted_core::db::StoreError;
use konnekted_core::migrations;
use konnekted_core::platform::{FetchError, Level, Platform, Settings};
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

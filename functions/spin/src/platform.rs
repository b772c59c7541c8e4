//! [`Platform`] on Spin: SQLite databases by label, outbound `wasi:http`, variables, stderr.

use bytes::Bytes;
use http_body_util::Full;
use konnekted_core::db::StoreError;
use konnekted_core::platform::{FetchError, Level, Platform, Settings};
use konnekted_core::secret::Secret;
use spin_sdk::http::body::IncomingBodyExt;

#[cfg(feature = "spin")]
pub type StoreDb = crate::store::SqliteDb;
#[cfg(not(feature = "spin"))]
pub type StoreDb = crate::nodb::NoDb;

/// The SQLite label of a tenant's billing database: `t_` + db_key with `-` and `.` as `_`.
pub fn tenant_label(db_key: &str) -> String {
    let key: String = db_key.chars().map(|c| if c == '-' || c == '.' { '_' } else { c.to_ascii_lowercase() }).collect();
    format!("t_{key}")
}

pub struct SpinPlatform {
    settings: Settings,
    control: StoreDb,
}

/// A setting: a Spin variable (feature `spin`) or an environment variable (`local`, which
/// `wasmtime serve --env NAME=value` sets).
async fn setting(name: &str) -> Option<String> {
    #[cfg(feature = "spin")]
    {
        spin_sdk::variables::get(name).await.ok()
    }
    #[cfg(not(feature = "spin"))]
    {
        std::env::var(name.to_ascii_uppercase()).ok()
    }
}

pub async fn flag(name: &str) -> bool {
    setting(name).await.is_some_and(|v| v == "1")
}

impl SpinPlatform {
    async fn settings_from_variables() -> Settings {
        Settings {
            public_base_url: setting("public_base_url").await.unwrap_or_default().trim_end_matches('/').to_owned(),
            platform_token: Secret::new(setting("platform_token").await.unwrap_or_default()),
            voucher_secret: Secret::new(setting("voucher_secret").await.unwrap_or_default()),
        }
    }

    /// For the stateless routes (voucher check, health): opens no database, so the component
    /// serving them needs none.
    pub async fn stateless() -> Self {
        #[cfg(feature = "spin")]
        let control = crate::store::SqliteDb::none();
        #[cfg(not(feature = "spin"))]
        let control = crate::nodb::NoDb::none();
        SpinPlatform { settings: Self::settings_from_variables().await, control }
    }

    pub async fn new() -> Result<Self, StoreError> {
        let settings = Self::settings_from_variables().await;
        #[cfg(feature = "spin")]
        let control = {
            let db = crate::store::open("control").await?;
            // Spin instantiates per request, so this runs every time: two statements when up to date.
            konnekted_core::migrations::migrate(&db, konnekted_core::migrations::CONTROL).await?;
            db
        };
        #[cfg(not(feature = "spin"))]
        let control = {
            let db = crate::nodb::NoDb::open("control");
            // Without STORE_URL there is no database: the routes that need one answer 503.
            if std::env::var("STORE_URL").is_ok() {
                konnekted_core::migrations::migrate(&db, konnekted_core::migrations::CONTROL).await?;
            }
            db
        };
        Ok(SpinPlatform { settings, control })
    }
}

impl Platform for SpinPlatform {
    type Db = StoreDb;

    fn settings(&self) -> &Settings {
        &self.settings
    }

    fn control(&self) -> &StoreDb {
        &self.control
    }

    async fn tenant_db(&self, db_key: &str) -> Result<StoreDb, StoreError> {
        #[cfg(feature = "spin")]
        {
            let db = crate::store::open(&tenant_label(db_key)).await?;
            konnekted_core::migrations::migrate(&db, konnekted_core::migrations::TENANT).await?;
            Ok(db)
        }
        #[cfg(not(feature = "spin"))]
        {
            let db = crate::nodb::NoDb::open(&tenant_label(db_key));
            konnekted_core::migrations::migrate(&db, konnekted_core::migrations::TENANT).await?;
            Ok(db)
        }
    }

    async fn create_tenant_db(&self, db_key: &str) -> Result<StoreDb, StoreError> {
        // Spin creates the SQLite file on first open of a label the runtime config maps.
        #[cfg(feature = "spin")]
        {
            crate::store::open(&tenant_label(db_key)).await
        }
        #[cfg(not(feature = "spin"))]
        {
            Ok(crate::nodb::NoDb::open(&tenant_label(db_key)))
        }
    }

    async fn fetch(&self, mut req: http::Request<Bytes>) -> Result<http::Response<Bytes>, FetchError> {
        // The body is whole, so say its length: without the header `wasi:http` sends it chunked,
        // which not every provider endpoint accepts.
        let len = req.body().len();
        if len > 0 && !req.headers().contains_key(http::header::CONTENT_LENGTH) {
            req.headers_mut().insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(len));
        }
        let resp = spin_sdk::http::send(req.map(Full::new)).await.map_err(|e| FetchError(format!("{e:?}")))?;
        let (parts, body) = resp.into_parts();
        let body = body.bytes().await.map_err(|e| FetchError(format!("{e:?}")))?;
        Ok(http::Response::from_parts(parts, body))
    }

    fn log(&self, level: Level, message: &str) {
        let tag = match level {
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        };
        eprintln!("{tag} {message}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_label_is_lower_case_with_underscores() {
        assert_eq!(tenant_label("e2e-t01"), "t_e2e_t01");
        assert_eq!(tenant_label("isp_co_ke"), "t_isp_co_ke");
    }
}

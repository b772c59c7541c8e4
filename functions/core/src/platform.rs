//! What a host platform gives the core: databases, outbound HTTP, settings.
//!
//! Implemented by the native host (`functions/native`), the Workers adapter
//! (`functions/workers`) and the Spin adapter (`functions/spin`).

use bytes::Bytes;

use crate::db::{Db, StoreError};
use crate::secret::Secret;

/// Platform-wide settings every adapter supplies.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Public base URL of this deployment, used to build callback URLs given
    /// to Daraja (e.g. `https://pay.example.net`). No trailing slash.
    pub public_base_url: String,
    /// Bearer token of the platform operator (creates tenants, sees all).
    pub platform_token: Secret,
    /// Platform secret from which each tenant's hotspot voucher key is derived
    /// ([`crate::domain::voucher`]). Empty: vouchers are switched off.
    pub voucher_secret: Secret,
}

/// Outbound HTTP failed before any response arrived.
#[derive(Debug, Clone, thiserror::Error)]
#[error("outbound request failed: {0}")]
pub struct FetchError(pub String);

/// A log line the core wants written; adapters route it to their logger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

#[allow(async_fn_in_trait)]
pub trait Platform {
    type Db: Db;

    fn settings(&self) -> &Settings;

    /// The control database: the tenant registry.
    fn control(&self) -> &Self::Db;

    /// Opens one tenant's billing database, located by the tenant's `db_key`.
    /// The core only calls this after it has resolved the tenant.
    async fn tenant_db(&self, db_key: &str) -> Result<Self::Db, StoreError>;

    /// Creates (if needed) the database for a new tenant. Platforms where
    /// databases are provisioned out of band (D1) return `Unavailable`.
    async fn create_tenant_db(&self, db_key: &str) -> Result<Self::Db, StoreError>;

    /// Sends an HTTP request (Daraja, Stripe, Paystack).
    async fn fetch(&self, req: http::Request<Bytes>) -> Result<http::Response<Bytes>, FetchError>;

    /// Writes a log line (never with secrets in it).
    fn log(&self, level: Level, message: &str);
}

//! What a host platform gives the core: databases, outbound HTTP, settings.
//!
//! Implemented by the native host (`functions/native`), the Workers adapter
//! (`functions/workers`) and the Spin adapter (`functions/spin`).

use bytes::Bytes;

use crate::db::{Db, StoreError};
use crate::domain::Realm;
use crate::secret::Secret;
use crate::store::tenants::{self, Tenant};

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

    /// The tenant registered under `realm`, as the control database has it now. Every request
    /// that names a tenant asks this first. A host that lives across requests may answer from
    /// a cache, but only while nothing has been written to the control database since the
    /// cached row was read (a settings change, a tenant switched off must apply to the very next
    /// request).
    async fn tenant(&self, realm: &Realm) -> Result<Option<Tenant>, StoreError> {
        tenants::get(self.control(), realm).await
    }

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

/// One text message for an SMS provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingSms {
    /// International form, `+2547XXXXXXXX`.
    pub to: String,
    pub body: String,
    /// Promotional (bulk) rather than transactional.
    pub bulk: bool,
}

/// What the provider said about one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsAccepted {
    /// The provider's id for the message (delivery reports name it); `None` when refused.
    pub message_id: Option<String>,
    /// The provider's per-recipient status code (Africa's Talking: 101 Sent, 403 InvalidPhoneNumber...).
    pub status_code: i64,
    /// Its name (`Success`, `InvalidPhoneNumber`...).
    pub status: String,
    /// What it cost, in ten-thousandths of a shilling.
    pub cost_e4: Option<i64>,
}

/// Why a send got no per-recipient answer (nothing is known to have been sent).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmsError {
    /// No provider is configured for this tenant: the message waits.
    #[error("no SMS provider is configured")]
    NotConfigured,
    /// The provider refused the request as a whole (credentials, a malformed request): retried later.
    #[error("the SMS provider refused the request: {0}")]
    Refused(String),
    /// The provider could not be reached or failed: retried later.
    #[error("the SMS provider is unavailable: {0}")]
    Unavailable(String),
}

/// The SMS port: sends one message. Africa's Talking is the real adapter
/// (`usecases::sms::AfricasTalking`, over [`Platform::fetch`]); tests plug in their own.
#[allow(async_fn_in_trait)]
pub trait SmsGateway {
    async fn send(&self, sms: &OutgoingSms) -> Result<SmsAccepted, SmsError>;
}

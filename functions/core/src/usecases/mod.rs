//! Use cases: read state, decide with the pure domain, write one atomic batch.

pub mod callbacks;
pub mod credit;
pub mod expiry;
pub mod manage;
pub mod sweep;
pub mod topup;
pub mod vouchers;

use crate::db::StoreError;

/// How many times a use case re-reads and retries after losing an optimistic race.
pub const MAX_ATTEMPTS: usize = 8;

/// Errors a caller can act on, and the rest.
#[derive(Debug, thiserror::Error)]
pub enum UseCaseError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    /// A provider (Daraja) refused or failed.
    #[error("payment provider: {0}")]
    Provider(String),
    /// The deployment lacks something this needs (a secret, a binding).
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

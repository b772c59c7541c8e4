//! Use cases: read state, decide with the pure domain, write one atomic batch.

pub mod callbacks;
pub mod cards;
pub mod credit;
pub mod customer;
pub mod customer_auth;
pub mod expiry;
pub mod held;
pub mod hotspot_sales;
pub mod operator_money;
pub mod plans;
pub mod self_service;
pub mod sms;
pub mod staff;
pub mod subscribers;
pub mod sweep;
pub mod tenants;
pub mod topup;
pub mod vouchers;

use crate::db::StoreError;

/// How many times a use case re-reads and retries after losing an optimistic race.
pub const MAX_ATTEMPTS: usize = 8;

/// An error that may mean "lost an optimistic race: re-read and try again".
pub trait RaceLost {
    fn lost_race(&self) -> bool;
}

impl RaceLost for StoreError {
    fn lost_race(&self) -> bool {
        matches!(self, StoreError::Conflict(_))
    }
}

impl RaceLost for UseCaseError {
    fn lost_race(&self) -> bool {
        matches!(self, UseCaseError::Store(StoreError::Conflict(_)))
    }
}

/// The one optimistic retry loop: runs the block (which re-reads, decides and writes one guarded
/// batch; `?` and `return` leave the block, not the caller) until it does not lose a race, at
/// most [`MAX_ATTEMPTS`] times. A future of `Result<Option<T>, E>`: `Ok(None)` when every attempt
/// lost; any other error at once. A macro rather than a function taking an async closure, whose
/// future the native host could not prove `Send`.
macro_rules! retry_races {
    ($err:ty, $body:block) => {
        async {
            for _ in 0..$crate::usecases::MAX_ATTEMPTS {
                let attempt: Result<_, $err> = async $body.await;
                match attempt {
                    Ok(v) => return Ok(Some(v)),
                    Err(e) if $crate::usecases::RaceLost::lost_race(&e) => continue,
                    Err(e) => return Err(e),
                }
            }
            Ok(None)
        }
    };
}
pub(crate) use retry_races;

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
    /// Too many of these for now; try again in this many seconds.
    #[error("too many requests; try again in {0} seconds")]
    Throttled(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

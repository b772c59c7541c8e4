//! The storage port of the `local` build: no database at all. Every call is `Unavailable`, so only
//! the stateless routes (`GET /health`) answer; the rest return 503 with this message.

use konnekted_core::db::{Db, Rows, Statement, StoreError};

pub struct NoDb;

const WHY: &str = "this build of the Spin component has no database (feature `local`, for wasmtime serve)";

impl Db for NoDb {
    async fn query(&self, _stmt: &Statement) -> Result<Rows, StoreError> {
        Err(StoreError::Unavailable(WHY.into()))
    }
    async fn batch(&self, _stmts: &[Statement]) -> Result<Vec<u64>, StoreError> {
        Err(StoreError::Unavailable(WHY.into()))
    }
}

//! The storage port of the `local` build (no `spin:sqlite`, for `wasmtime serve`).
//!
//! With the environment variable `STORE_URL` set, every statement goes over outbound HTTP to that
//! URL (`konnekted spin-sqlite`, which keeps one SQLite file per label as Spin's runtime config
//! does; format in `konnekted_core::dbwire`). Without it there is no database at all: every call is
//! `Unavailable`, so only the stateless routes (`GET /health`, the voucher check) answer.

use bytes::Bytes;
use http_body_util::Full;
use konnekted_core::db::{Db, Rows, Statement, StoreError};
use konnekted_core::dbwire::{self, Op};
use spin_sdk::http::body::IncomingBodyExt;

pub struct NoDb {
    /// `(store URL, label)`; `None`: no database.
    to: Option<(String, String)>,
}

const WHY: &str = "this build of the Spin component has no database (feature `local`, for wasmtime serve, \
without STORE_URL)";

impl NoDb {
    pub fn none() -> NoDb {
        NoDb { to: None }
    }

    /// The database `label` behind `STORE_URL`, or none without it.
    pub fn open(label: &str) -> NoDb {
        NoDb { to: std::env::var("STORE_URL").ok().filter(|u| !u.is_empty()).map(|u| (u, label.to_owned())) }
    }

    /// Sends `op` and returns its answer, fetching a long one part by part (`dbwire::PART`).
    async fn call(&self, op: &Op) -> Result<Bytes, StoreError> {
        let first = self.send(op).await?;
        let Some((id, len)) = dbwire::parts_of(&first) else {
            return Ok(first);
        };
        let mut joined = Vec::with_capacity(len);
        while joined.len() < len {
            let part = self.send(&Op::Part { id: id.clone(), offset: joined.len() }).await?;
            joined.extend_from_slice(&part);
        }
        Ok(Bytes::from(joined))
    }

    async fn send(&self, op: &Op) -> Result<Bytes, StoreError> {
        let (url, label) = self.to.as_ref().ok_or_else(|| StoreError::Unavailable(WHY.into()))?;
        let req = http::Request::post(url.as_str())
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(dbwire::encode_request(label, op))))
            .map_err(|e| StoreError::Unavailable(format!("store request: {e}")))?;
        let resp = spin_sdk::http::send(req).await.map_err(|e| StoreError::Unavailable(format!("store: {e:?}")))?;
        let status = resp.status();
        let want = resp
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let body = resp.into_body().bytes().await.map_err(|e| StoreError::Unavailable(format!("store body: {e:?}")))?;
        if body.is_empty() || want.is_some_and(|n| n != body.len()) {
            return Err(StoreError::Unavailable(format!(
                "store answered {status} with {} of {want:?} bytes (the body was cut short)",
                body.len()
            )));
        }
        Ok(body)
    }
}

impl Db for NoDb {
    async fn query(&self, stmt: &Statement) -> Result<Rows, StoreError> {
        dbwire::decode_rows(&self.call(&Op::Query(stmt.clone())).await?)
    }
    async fn batch(&self, stmts: &[Statement]) -> Result<Vec<u64>, StoreError> {
        dbwire::decode_changes(&self.call(&Op::Batch(stmts.to_vec())).await?)
    }
}

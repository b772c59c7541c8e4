//! `konnekted spin-sqlite`: SQLite databases by label over HTTP, for the `local` build of the
//! Spin component.
//!
//! `wasmtime serve` runs the Spin component but has no `spin:sqlite`; the component's `local`
//! build (with `STORE_URL`) sends each `query`/`batch` here instead (`konnekted_core::dbwire`).
//! A label maps to `<dir>/<label>.db`, as `functions/spin/runtime-config.toml` maps labels to
//! `.spin/sqlite/<label>.db`; each batch runs as one transaction on the native store, as Spin's
//! host runs the adapter's `BEGIN IMMEDIATE` ... `COMMIT`.
//!
//! Not Spin: every label is served (Spin gives a component only the labels spin.toml lists; the
//! manifest test checks those lists instead), and it listens on loopback for local runs only.

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use konnekted_core::db::{Db, StoreError};
use konnekted_core::dbwire::{self, Op};
use tokio::net::TcpListener;

use crate::sqlite::SqliteDb;

const MAX_BODY: usize = 8 * 1024 * 1024;

/// The databases, one per label, opened on first use.
#[derive(Clone)]
pub struct Labels {
    dir: PathBuf,
    open: Arc<Mutex<HashMap<String, SqliteDb>>>,
    /// Long answers being fetched in parts (`dbwire::PART`), by id, with when they were kept.
    kept: Arc<Mutex<HashMap<String, Kept>>>,
}

/// A long answer and when it was kept.
type Kept = (std::time::Instant, Arc<Vec<u8>>);

/// A kept answer not fetched to its end within this time is dropped.
const KEEP: std::time::Duration = std::time::Duration::from_secs(60);

/// A label as Spin's runtime config has them: lower case letters, digits and `_`.
fn valid(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 64
        && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl Labels {
    pub fn new(dir: PathBuf) -> Labels {
        Labels { dir, open: Arc::new(Mutex::new(HashMap::new())), kept: Arc::new(Mutex::new(HashMap::new())) }
    }

    async fn db(&self, label: &str) -> Result<SqliteDb, StoreError> {
        if !valid(label) {
            return Err(StoreError::Unavailable(format!("no such database label {label:?}")));
        }
        if let Some(db) = self.open.lock().unwrap_or_else(|p| p.into_inner()).get(label) {
            return Ok(db.clone());
        }
        let db = SqliteDb::open(&self.dir.join(format!("{label}.db"))).await?;
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        // Two first uses at once: keep the first one opened.
        Ok(open.entry(label.to_owned()).or_insert(db).clone())
    }

    /// Runs one request body; answers the response body (an error: the request was unreadable).
    pub async fn run(&self, body: &[u8]) -> Result<Vec<u8>, String> {
        let (label, op) = dbwire::decode_request(body)?;
        if let Op::Part { id, offset } = &op {
            return self.part(id, *offset);
        }
        let answer = self.answer(&label, op).await;
        if answer.len() <= dbwire::PART {
            return Ok(answer);
        }
        let id = format!("{:016x}", rand::random::<u64>());
        let len = answer.len();
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        kept.retain(|_, (at, _)| at.elapsed() < KEEP);
        kept.insert(id.clone(), (std::time::Instant::now(), Arc::new(answer)));
        Ok(dbwire::encode_parts(&id, len))
    }

    fn part(&self, id: &str, offset: usize) -> Result<Vec<u8>, String> {
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        let answer = kept.get(id).map(|(_, a)| a.clone()).ok_or_else(|| format!("no kept answer {id}"))?;
        let end = offset.saturating_add(dbwire::PART).min(answer.len());
        let slice = answer.get(offset..end).ok_or_else(|| format!("offset {offset} past {}", answer.len()))?.to_vec();
        if end == answer.len() {
            kept.remove(id);
        }
        Ok(slice)
    }

    async fn answer(&self, label: &str, op: Op) -> Vec<u8> {
        match op {
            Op::Query(s) => {
                let r = match self.db(label).await {
                    Ok(db) => db.query(&s).await,
                    Err(e) => Err(e),
                };
                dbwire::encode_rows(&r)
            }
            Op::Batch(b) => {
                let r = match self.db(label).await {
                    Ok(db) => db.batch(&b).await,
                    Err(e) => Err(e),
                };
                dbwire::encode_changes(&r)
            }
            Op::Part { .. } => dbwire::encode_rows(&Err(StoreError::Unavailable("a part is not a query".into()))),
        }
    }
}

async fn one(labels: Labels, req: hyper::Request<Incoming>) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let reply = |status: u16, body: Vec<u8>| {
        let mut r = hyper::Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        r.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
        Ok(r)
    };
    if req.method() != http::Method::POST {
        return reply(405, b"{\"error\":{\"kind\":\"unavailable\",\"message\":\"POST a query or a batch\"}}".to_vec());
    }
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return reply(413, b"{\"error\":{\"kind\":\"unavailable\",\"message\":\"body too large\"}}".to_vec()),
    };
    match labels.run(&body).await {
        Ok(answer) => reply(200, answer),
        Err(e) => reply(400, dbwire::encode_rows(&Err(StoreError::Unavailable(format!("bad request: {e}"))))),
    }
}

/// Serves until the process ends.
pub async fn serve(labels: Labels, listener: TcpListener) -> anyhow::Result<()> {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let labels = labels.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| one(labels.clone(), req));
            let conn = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            if let Err(e) = conn.serve_connection(TokioIo::new(stream), svc).await {
                tracing::debug!("connection ended: {e}");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use konnekted_core::db::Statement;

    use super::*;

    #[tokio::test]
    async fn a_batch_is_atomic_and_labels_are_separate_files() {
        let dir = std::env::temp_dir().join(format!("konnekted-spin-sqlite-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).expect("dir");
        let l = Labels::new(dir.clone());
        let run = |label: &str, op: Op| {
            let l = l.clone();
            let body = dbwire::encode_request(label, &op);
            async move { l.run(&body).await.expect("readable") }
        };
        let create = Statement::new("CREATE TABLE t (v INTEGER CHECK (v < 10))");
        assert_eq!(dbwire::decode_changes(&run("t_a", Op::Batch(vec![create.clone()])).await), Ok(vec![0]));
        let ok = Statement::new("INSERT INTO t VALUES (1)");
        let bad = Statement::new("INSERT INTO t VALUES (11)");
        let r = dbwire::decode_changes(&run("t_a", Op::Batch(vec![ok.clone(), bad])).await);
        assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
        let count = Statement::new("SELECT count(*) AS n FROM t");
        let rows = dbwire::decode_rows(&run("t_a", Op::Query(count.clone())).await).expect("rows");
        assert_eq!(
            rows.first().and_then(|r| r.int("n").ok()),
            Some(0),
            "the CHECK failure rolled back the first insert"
        );
        // another label is another database: no table t there
        assert!(dbwire::decode_rows(&run("t_b", Op::Query(count)).await).is_err());
        assert!(dir.join("t_a.db").exists() && dir.join("t_b.db").exists());
        // a label that is not one is refused, and a body that is not a request is an error
        assert!(dbwire::decode_rows(&run("../x", Op::Query(ok)).await).is_err());
        assert!(l.run(b"{}").await.is_err());

        // a long answer comes in parts that join to the whole; the kept copy goes after the last
        let text = "x".repeat(3 * dbwire::PART);
        let long = Statement::new("SELECT ?1 AS a, ?1 AS b").bind(text.as_str());
        let first = run("t_a", Op::Query(long)).await;
        let (id, len) = dbwire::parts_of(&first).expect("in parts");
        let mut joined = Vec::new();
        while joined.len() < len {
            let part = run("t_a", Op::Part { id: id.clone(), offset: joined.len() }).await;
            assert!(!part.is_empty() && part.len() <= dbwire::PART);
            joined.extend_from_slice(&part);
        }
        let rows = dbwire::decode_rows(&joined).expect("joined rows");
        assert_eq!(rows.first().and_then(|r| r.text("b").ok()), Some(text));
        assert!(l.run(&dbwire::encode_request("t_a", &Op::Part { id, offset: 0 })).await.is_err(), "dropped");
        let _ = std::fs::remove_dir_all(dir);
    }
}

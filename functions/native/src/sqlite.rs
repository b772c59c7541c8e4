//! The storage port over SQLite files (rusqlite): one writer connection and a small pool of
//! read-only connections per database, WAL mode.
//!
//! Every call runs on tokio's blocking pool as one unit: a whole batch is one hop to a thread,
//! not one hop per statement (what an async driver with a connection thread costs), and it runs
//! to completion even if the caller's future is dropped, so a transaction is never left
//! half-open on the connection. Statements are prepared once per connection and cached.
//!
//! WAL checkpoints run on one background thread for all databases, on their own connections,
//! so no request's COMMIT pays for copying the log back and syncing the file. The writer only
//! checkpoints itself if the log outgrows `WRITER_CHECKPOINT_PAGES` (the background fell behind).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::Duration;

use konnekted_core::db::{Db, Rows, Statement, StoreError, Value};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, ToSql};

/// Idle read connections kept per database.
const READERS: usize = 4;
/// Prepared statements cached per connection.
const STATEMENT_CACHE: usize = 128;
/// How often the background thread checkpoints every open database.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);
/// WAL pages (4 KiB) after which a committing writer checkpoints by itself (SQLite's default is 1000).
const WRITER_CHECKPOINT_PAGES: u32 = 16_000;

/// One SQLite database. Cheap to clone.
#[derive(Clone)]
pub struct SqliteDb {
    inner: Arc<Inner>,
}

struct Inner {
    /// `None`: in memory, reads go through the writer.
    path: Option<PathBuf>,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    /// The background checkpointer's own connection, opened on first use.
    checkpointer: Mutex<Option<Connection>>,
}

/// Databases the background checkpointer visits; dropped databases fall out.
fn checkpoint_registry() -> &'static Mutex<Vec<Weak<Inner>>> {
    static REGISTRY: OnceLock<Mutex<Vec<Weak<Inner>>>> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        // If the thread cannot start, writers still checkpoint at WRITER_CHECKPOINT_PAGES.
        let _ = std::thread::Builder::new().name("sqlite-checkpoint".into()).spawn(|| {
            loop {
                std::thread::sleep(CHECKPOINT_EVERY);
                let live: Vec<Arc<Inner>> = {
                    let mut all = lock(checkpoint_registry());
                    all.retain(|w| w.strong_count() > 0);
                    all.iter().filter_map(Weak::upgrade).collect()
                };
                for db in live {
                    db.checkpoint();
                }
            }
        });
        Mutex::new(Vec::new())
    })
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn map_err(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, msg) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
            StoreError::Conflict(msg.clone().unwrap_or_else(|| e.to_string()))
        }
        _ => unavailable(e),
    }
}

/// A poisoned lock only means another thread panicked while holding it; SQLite's own state is
/// consistent (an open transaction is rolled back before the next `BEGIN`, see `run_batch`).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn configure(conn: &Connection, writer: bool) -> Result<(), StoreError> {
    conn.busy_timeout(Duration::from_secs(5)).map_err(map_err)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    if writer {
        conn.pragma_update(None, "journal_mode", "WAL").map_err(map_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(map_err)?;
        conn.pragma_update(None, "wal_autocheckpoint", WRITER_CHECKPOINT_PAGES).map_err(map_err)?;
    }
    conn.pragma_update(None, "foreign_keys", "ON").map_err(map_err)?;
    Ok(())
}

impl SqliteDb {
    pub async fn open(path: &Path) -> Result<SqliteDb, StoreError> {
        let path = path.to_owned();
        blocking(move || {
            let writer = Connection::open(&path).map_err(map_err)?;
            configure(&writer, true)?;
            let inner = Arc::new(Inner {
                path: Some(path),
                writer: Mutex::new(writer),
                readers: Mutex::new(Vec::new()),
                checkpointer: Mutex::new(None),
            });
            lock(checkpoint_registry()).push(Arc::downgrade(&inner));
            Ok(SqliteDb { inner })
        })
        .await
    }

    /// An in-memory database (tests). Reads go through the writer connection.
    pub async fn memory() -> Result<SqliteDb, StoreError> {
        let writer = Connection::open_in_memory().map_err(map_err)?;
        configure(&writer, false)?;
        let inner = Inner {
            path: None,
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
            checkpointer: Mutex::new(None),
        };
        Ok(SqliteDb { inner: Arc::new(inner) })
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| StoreError::Unavailable(format!("storage task failed: {e}")))?
}

struct Param<'a>(&'a Value);

impl ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self.0 {
            Value::Null => ValueRef::Null,
            Value::Integer(i) => ValueRef::Integer(*i),
            Value::Real(r) => ValueRef::Real(*r),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

fn params(s: &Statement) -> Vec<Param<'_>> {
    s.params.iter().map(Param).collect()
}

fn value(v: ValueRef<'_>) -> Result<Value, StoreError> {
    Ok(match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(r) => Value::Real(r),
        ValueRef::Text(t) => Value::Text(
            String::from_utf8(t.to_vec()).map_err(|_| StoreError::Corrupt("text column is not UTF-8".into()))?,
        ),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    })
}

fn run_query(conn: &Connection, s: &Statement) -> Result<Rows, StoreError> {
    let mut stmt = conn.prepare_cached(&s.sql).map_err(map_err)?;
    let columns: Vec<String> = stmt.column_names().into_iter().map(str::to_owned).collect();
    let n = columns.len();
    let mut rows = stmt.query(rusqlite::params_from_iter(params(s))).map_err(map_err)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(map_err)? {
        let mut values = Vec::with_capacity(n);
        for i in 0..n {
            values.push(value(row.get_ref(i).map_err(map_err)?)?);
        }
        out.push(values);
    }
    Ok(Rows { columns, rows: out })
}

fn run_batch(conn: &Connection, stmts: &[Statement]) -> Result<Vec<u64>, StoreError> {
    if !conn.is_autocommit() {
        // Only after a panic mid-batch: finish that transaction off before starting ours.
        let _ = conn.execute_batch("ROLLBACK");
    }
    conn.execute_batch("BEGIN IMMEDIATE").map_err(map_err)?;
    let mut changed = Vec::with_capacity(stmts.len());
    for s in stmts {
        let r = conn.prepare_cached(&s.sql).and_then(|mut st| {
            if st.column_count() == 0 {
                return st.execute(rusqlite::params_from_iter(params(s))).map(|_| conn.changes());
            }
            // A statement with results (a SELECT, `... RETURNING`): step it to the end.
            let readonly = st.readonly();
            let mut rows = st.query(rusqlite::params_from_iter(params(s)))?;
            while rows.next()?.is_some() {}
            Ok(if readonly { 0 } else { conn.changes() })
        });
        match r {
            Ok(n) => changed.push(n),
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(map_err(e));
            }
        }
    }
    if let Err(e) = conn.execute_batch("COMMIT") {
        let _ = conn.execute_batch("ROLLBACK");
        return Err(map_err(e));
    }
    Ok(changed)
}

impl Inner {
    fn reader(&self, path: &Path) -> Result<Connection, StoreError> {
        if let Some(c) = lock(&self.readers).pop() {
            return Ok(c);
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(path, flags).map_err(map_err)?;
        configure(&conn, false)?;
        Ok(conn)
    }

    /// A PASSIVE checkpoint: copies what it can without waiting for readers or the writer.
    fn checkpoint(&self) {
        let Some(path) = &self.path else { return };
        let mut slot = lock(&self.checkpointer);
        if slot.is_none() {
            match Connection::open(path) {
                Ok(c) if c.busy_timeout(Duration::from_secs(1)).is_ok() => *slot = Some(c),
                _ => return,
            }
        }
        if let Some(conn) = slot.as_ref() {
            // Failure (busy, or the file went away) is retried on the next round.
            let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        }
    }

    fn give_back(&self, conn: Connection) {
        let mut idle = lock(&self.readers);
        if idle.len() < READERS {
            idle.push(conn);
        }
    }
}

impl Db for SqliteDb {
    async fn query(&self, stmt: &Statement) -> Result<Rows, StoreError> {
        match &self.inner.path {
            // Reads on a WAL file never wait for the writer and take tens of microseconds: run
            // them in place rather than paying a thread hop for each.
            Some(path) => {
                let conn = self.inner.reader(path)?;
                let r = run_query(&conn, stmt);
                self.inner.give_back(conn);
                r
            }
            None => {
                let inner = self.inner.clone();
                let stmt = stmt.clone();
                blocking(move || run_query(&lock(&inner.writer), &stmt)).await
            }
        }
    }

    async fn batch(&self, stmts: &[Statement]) -> Result<Vec<u64>, StoreError> {
        let inner = self.inner.clone();
        let stmts = stmts.to_vec();
        blocking(move || run_batch(&lock(&inner.writer), &stmts)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use konnekted_core::stmt;

    #[tokio::test]
    async fn batch_check_failure_rolls_back_everything() {
        let db = SqliteDb::memory().await.unwrap();
        db.batch(&[
            Statement::new("CREATE TABLE t (x INTEGER)"),
            Statement::new("CREATE TABLE occ_guard (changed INTEGER NOT NULL CHECK (changed = 1))"),
        ])
        .await
        .unwrap();
        let r = db
            .batch(&[
                stmt!("INSERT INTO t (x) VALUES (?1)", 1),
                Statement::new("UPDATE t SET x = 2 WHERE x = 99"),
                Statement::new("INSERT INTO occ_guard (changed) VALUES (changes())"),
            ])
            .await;
        assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
        let rows = db.query(&Statement::new("SELECT COUNT(*) AS n FROM t")).await.unwrap();
        assert_eq!(rows.first().unwrap().int("n").unwrap(), 0);
    }

    #[tokio::test]
    async fn batch_reports_rows_changed_per_statement() {
        let db = SqliteDb::memory().await.unwrap();
        let n = db
            .batch(&[
                Statement::new("CREATE TABLE t (x INTEGER)"),
                Statement::new("INSERT INTO t (x) VALUES (1), (2), (3)"),
                Statement::new("UPDATE t SET x = x + 1 WHERE x >= 2"),
                Statement::new("SELECT 1"),
            ])
            .await
            .unwrap();
        assert_eq!(n[1..], [3, 2, 0]);
    }

    #[tokio::test]
    async fn query_decodes_every_storage_class() {
        let db = SqliteDb::memory().await.unwrap();
        let rows = db
            .query(&stmt!("SELECT 1 AS i, 1.5 AS r, 'x' AS t, x'00ff' AS b, NULL AS n, ?1 AS p", "bound"))
            .await
            .unwrap();
        assert_eq!(rows.columns, ["i", "r", "t", "b", "n", "p"]);
        assert_eq!(
            rows.rows[0],
            vec![
                Value::Integer(1),
                Value::Real(1.5),
                Value::Text("x".into()),
                Value::Blob(vec![0, 255]),
                Value::Null,
                Value::Text("bound".into())
            ]
        );
    }

    #[tokio::test]
    async fn readers_see_committed_writes_on_a_file() {
        let dir = std::env::temp_dir().join(format!("konnekted-sqlite-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("readers.sqlite");
        let _ = std::fs::remove_file(&path);
        let db = SqliteDb::open(&path).await.unwrap();
        db.batch(&[Statement::new("CREATE TABLE t (x INTEGER UNIQUE)"), stmt!("INSERT INTO t VALUES (?1)", 7)])
            .await
            .unwrap();
        let select = Statement::new("SELECT x FROM t");
        let reads = futures::future::join_all((0..16).map(|_| db.query(&select))).await;
        for r in reads {
            assert_eq!(r.unwrap().first().unwrap().int("x").unwrap(), 7);
        }
        let dup = db.batch(&[stmt!("INSERT INTO t VALUES (?1)", 7)]).await;
        assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
        let r = db.query(&Statement::new("INSERT INTO t VALUES (8)")).await;
        assert!(r.is_err(), "read connections are read-only");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn the_background_thread_checkpoints_the_log_into_the_file() {
        let dir = std::env::temp_dir().join(format!("konnekted-ckpt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ckpt.sqlite");
        let _ = std::fs::remove_file(&path);
        let db = SqliteDb::open(&path).await.unwrap();
        db.batch(&[Statement::new("CREATE TABLE t (b BLOB)")]).await.unwrap();
        for _ in 0..50 {
            let rows: Vec<Statement> = (0..10).map(|_| stmt!("INSERT INTO t VALUES (?1)", vec![7u8; 1000])).collect();
            db.batch(&rows).await.unwrap();
        }
        // 500 KB sit in the WAL, far below the writer's own threshold; only the background
        // thread can have moved them into the database file.
        let mut size = 0;
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            size = std::fs::metadata(&path).unwrap().len();
            if size > 400_000 {
                break;
            }
        }
        assert!(size > 400_000, "database file is {size} bytes: the log was not checkpointed");
        drop(db);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

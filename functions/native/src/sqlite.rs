//! The storage port over SQLite files (sqlx): one writer connection and a small read
//! pool per database, WAL mode.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use konnekted_core::db::{Db, Rows, Statement, StoreError, Value};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Column, Row, TypeInfo, ValueRef};
use sqlx::{Connection, Executor, SqliteConnection};
use tokio::sync::Mutex;

/// One SQLite database. Cheap to clone.
#[derive(Clone)]
pub struct SqliteDb {
    reader: SqlitePool,
    writer: Arc<Mutex<SqliteConnection>>,
}

fn options(path: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true)
}

impl SqliteDb {
    pub async fn open(path: &Path) -> Result<SqliteDb, StoreError> {
        let writer = SqliteConnection::connect_with(&options(path)).await.map_err(unavailable)?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .min_connections(0)
            .connect_with(options(path).read_only(true))
            .await
            .map_err(unavailable)?;
        Ok(SqliteDb { reader, writer: Arc::new(Mutex::new(writer)) })
    }

    /// An in-memory database (tests). Reads go through the writer connection.
    pub async fn memory() -> Result<SqliteDb, StoreError> {
        let opts = SqliteConnectOptions::from_str("sqlite::memory:").map_err(unavailable)?.foreign_keys(true);
        let writer = SqliteConnection::connect_with(&opts).await.map_err(unavailable)?;
        // A pool that is never used for memory DBs: reads use the writer (see `query`).
        let reader = SqlitePoolOptions::new().max_connections(1).connect_lazy_with(opts);
        Ok(SqliteDb { reader, writer: Arc::new(Mutex::new(writer)) })
    }

    fn is_memory(&self) -> bool {
        self.reader.connect_options().get_filename() == Path::new(":memory:")
    }
}

fn unavailable(e: sqlx::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn map_err(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(d) = &e {
        let msg = d.message().to_owned();
        if msg.contains("constraint failed") {
            return StoreError::Conflict(msg);
        }
    }
    unavailable(e)
}

fn bind<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    params: &'q [Value],
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
    for p in params {
        q = match p {
            Value::Null => q.bind(None::<i64>),
            Value::Integer(i) => q.bind(*i),
            Value::Real(r) => q.bind(*r),
            Value::Text(s) => q.bind(s.as_str()),
            Value::Blob(b) => q.bind(b.as_slice()),
        };
    }
    q
}

fn decode(rows: Vec<sqlx::sqlite::SqliteRow>) -> Result<Rows, StoreError> {
    let Some(first) = rows.first() else { return Ok(Rows::default()) };
    let columns: Vec<String> = first.columns().iter().map(|c| c.name().to_owned()).collect();
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut values = Vec::with_capacity(columns.len());
        for i in 0..columns.len() {
            let raw = row.try_get_raw(i).map_err(map_err)?;
            let v = if raw.is_null() {
                Value::Null
            } else {
                match raw.type_info().name() {
                    "INTEGER" | "BOOLEAN" => Value::Integer(row.try_get(i).map_err(map_err)?),
                    "REAL" => Value::Real(row.try_get(i).map_err(map_err)?),
                    "BLOB" => Value::Blob(row.try_get(i).map_err(map_err)?),
                    _ => Value::Text(row.try_get(i).map_err(map_err)?),
                }
            };
            values.push(v);
        }
        out.push(values);
    }
    Ok(Rows { columns, rows: out })
}

async fn run_batch(conn: &mut SqliteConnection, stmts: &[Statement]) -> Result<Vec<u64>, StoreError> {
    conn.execute("BEGIN IMMEDIATE").await.map_err(map_err)?;
    let mut changed = Vec::with_capacity(stmts.len());
    for s in stmts {
        match bind(sqlx::query(&s.sql), &s.params).execute(&mut *conn).await {
            Ok(r) => changed.push(r.rows_affected()),
            Err(e) => {
                let _ = conn.execute("ROLLBACK").await;
                return Err(map_err(e));
            }
        }
    }
    if let Err(e) = conn.execute("COMMIT").await {
        let _ = conn.execute("ROLLBACK").await;
        return Err(map_err(e));
    }
    Ok(changed)
}

impl Db for SqliteDb {
    async fn query(&self, stmt: &Statement) -> Result<Rows, StoreError> {
        if self.is_memory() {
            let mut w = self.writer.lock().await;
            let rows = bind(sqlx::query(&stmt.sql), &stmt.params).fetch_all(&mut *w).await.map_err(map_err)?;
            return decode(rows);
        }
        let rows = bind(sqlx::query(&stmt.sql), &stmt.params).fetch_all(&self.reader).await.map_err(map_err)?;
        decode(rows)
    }

    async fn batch(&self, stmts: &[Statement]) -> Result<Vec<u64>, StoreError> {
        // Run to completion on the runtime even if the caller's future is dropped
        // (client hung up): a transaction is never left half-open on the connection.
        let writer = self.writer.clone();
        let stmts = stmts.to_vec();
        tokio::spawn(async move {
            let mut conn = writer.lock().await;
            run_batch(&mut conn, &stmts).await
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("batch task failed: {e}")))?
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
    async fn query_decodes_every_storage_class() {
        let db = SqliteDb::memory().await.unwrap();
        let rows = db
            .query(&stmt!("SELECT 1 AS i, 1.5 AS r, 'x' AS t, x'00ff' AS b, NULL AS n, ?1 AS p", "bound"))
            .await
            .unwrap();
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
}

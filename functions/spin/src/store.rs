//! The storage port on Spin SQLite (`spin:sqlite@3.1.0`), feature `spin`.
//!
//! `batch` wraps its statements in `BEGIN IMMEDIATE` / `COMMIT` on one connection and issues
//! `ROLLBACK` on the first error, so `changes()` in one statement sees the previous statement of the
//! same batch and a failing CHECK undoes the whole batch (what the core's optimistic concurrency
//! needs). `/__selftest/batch` checks both on a live Spin.

use konnekted_core::db::{Db, Rows, Statement, StoreError, Value};
use spin_sdk::sqlite::{Connection, Error, Value as SqlValue};

pub struct SqliteDb {
    /// `None` for a component given no database (the stateless voucher check): every call is
    /// `Unavailable`.
    conn: Option<Connection>,
}

impl SqliteDb {
    pub fn none() -> SqliteDb {
        SqliteDb { conn: None }
    }

    fn conn(&self) -> Result<&Connection, StoreError> {
        self.conn.as_ref().ok_or_else(|| StoreError::Unavailable("this component has no database".into()))
    }
}

/// Opens a database by label (`control`, `t_<db_key>`); the label must be listed in the
/// component's `sqlite_databases` and mapped in the runtime config.
pub async fn open(label: &str) -> Result<SqliteDb, StoreError> {
    Connection::open(label).await.map(|conn| SqliteDb { conn: Some(conn) }).map_err(|e| match e {
        Error::NoSuchDatabase | Error::AccessDenied => StoreError::Unavailable(format!(
            "SQLite database {label} is not available to this component: add it first \
             (scripts/edge-tenant-add.sh adds the label to spin.toml and the runtime config)"
        )),
        other => classify(&other),
    })
}

fn classify(e: &Error) -> StoreError {
    let text = match e {
        Error::Io(m) => m.clone(),
        other => format!("{other:?}"),
    };
    if text.contains("constraint failed") { StoreError::Conflict(text) } else { StoreError::Unavailable(text) }
}

fn to_sql(v: &Value) -> SqlValue {
    match v {
        Value::Null => SqlValue::Null,
        Value::Integer(i) => SqlValue::Integer(*i),
        Value::Real(f) => SqlValue::Real(*f),
        Value::Text(s) => SqlValue::Text(s.clone()),
        Value::Blob(b) => SqlValue::Blob(b.clone()),
    }
}

fn from_sql(v: &SqlValue) -> Value {
    match v {
        SqlValue::Null => Value::Null,
        SqlValue::Integer(i) => Value::Integer(*i),
        SqlValue::Real(f) => Value::Real(*f),
        SqlValue::Text(s) => Value::Text(s.clone()),
        SqlValue::Blob(b) => Value::Blob(b.clone()),
    }
}

impl SqliteDb {
    async fn run(&self, stmt: &Statement) -> Result<Rows, StoreError> {
        let params: Vec<SqlValue> = stmt.params.iter().map(to_sql).collect();
        let result = self.conn()?.execute(stmt.sql.as_str(), params).await.map_err(|e| classify(&e))?;
        let columns = result.columns().to_vec();
        let rows = result.collect().await.map_err(|e| classify(&e))?;
        Ok(Rows { columns, rows: rows.iter().map(|r| r.values.iter().map(from_sql).collect()).collect() })
    }

    async fn exec(&self, sql: &str) -> Result<(), StoreError> {
        self.run(&Statement::new(sql)).await.map(|_| ())
    }
}

impl Db for SqliteDb {
    async fn query(&self, stmt: &Statement) -> Result<Rows, StoreError> {
        self.run(stmt).await
    }

    async fn batch(&self, stmts: &[Statement]) -> Result<Vec<u64>, StoreError> {
        self.exec("BEGIN IMMEDIATE").await?;
        let mut changed = Vec::with_capacity(stmts.len());
        for s in stmts {
            if let Err(e) = self.run(s).await {
                // Best effort: if ROLLBACK fails too, the connection is dropped with the request.
                let _ = self.exec("ROLLBACK").await;
                return Err(e);
            }
            changed.push(self.conn()?.changes().await);
        }
        if let Err(e) = self.exec("COMMIT").await {
            let _ = self.exec("ROLLBACK").await;
            return Err(e);
        }
        Ok(changed)
    }
}

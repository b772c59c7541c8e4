//! `spin:sqlite@3.1.0` and `spin:variables@3.0.0`, bound with `wasmtime::component::bindgen!` from
//! the WIT files of spin-sdk 7.0.0 (`wit/`).
//!
//! SQLite: each `open` of a label opens its own connection to the label's file (Spin's in-process
//! SQLite does the same: connections are not shared between instances), so a component's
//! `BEGIN IMMEDIATE` … `COMMIT` holds across its statements and concurrent requests queue on
//! SQLite's lock (busy timeout 5 s, rusqlite's default). Statements run on the blocking pool, never
//! on the thread that drives the component. A label the component was not granted is
//! `access-denied`; a granted label missing from the runtime config cannot happen (checked at
//! start).

use crate::config::ComponentVariables;
use crate::manifest::valid_variable_name;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use wasmtime::component::{Accessor, FutureReader, HasData, Resource, ResourceTable, StreamReader};

wasmtime::component::bindgen!({
    path: "wit",
    world: "konnekted:spin-host/spin-imports",
    imports: { default: trappable },
    with: {
        "spin:sqlite/sqlite.connection": Connection,
    },
});

use spin::sqlite::sqlite::{self as sq, Error as SqlError, RowResult, Value};
use spin::variables::variables::{self as vars, Error as VarError};

/// An open SQLite connection (the `connection` resource).
pub struct Connection {
    conn: Arc<Mutex<rusqlite::Connection>>,
}

/// What one component may reach: its granted SQLite labels (with their files) and its resolved
/// variables. Shared by every instance of the component.
#[derive(Debug, Default)]
pub struct Grants {
    pub sqlite: HashMap<String, PathBuf>,
    pub variables: ComponentVariables,
}

/// The per-store state these interfaces need.
pub struct SpinCtx {
    pub grants: Arc<Grants>,
}

pub struct SpinView<'a> {
    pub table: &'a mut ResourceTable,
    pub ctx: &'a mut SpinCtx,
}

/// [`HasData`] marker for the Spin interfaces.
pub struct SpinHost;

impl HasData for SpinHost {
    type Data<'a> = SpinView<'a>;
}

pub fn add_to_linker<T: Send + 'static>(
    linker: &mut wasmtime::component::Linker<T>,
    get: fn(&mut T) -> SpinView<'_>,
) -> wasmtime::Result<()> {
    sq::add_to_linker::<T, SpinHost>(linker, get)?;
    vars::add_to_linker::<T, SpinHost>(linker, get)?;
    Ok(())
}

fn io_error(e: impl std::fmt::Display) -> SqlError {
    SqlError::Io(e.to_string())
}

fn open_file(path: PathBuf) -> Result<rusqlite::Connection, SqlError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io_error)?;
    }
    rusqlite::Connection::open(&path).map_err(io_error)
}

fn open_label(grants: &Grants, database: &str) -> Result<PathBuf, SqlError> {
    match grants.sqlite.get(database) {
        Some(p) => Ok(p.clone()),
        None => Err(SqlError::AccessDenied),
    }
}

fn to_sql(v: Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match v {
        Value::Integer(i) => V::Integer(i),
        Value::Real(f) => V::Real(f),
        Value::Text(s) => V::Text(s),
        Value::Blob(b) => V::Blob(b),
        Value::Null => V::Null,
    }
}

fn from_sql(v: rusqlite::types::ValueRef<'_>) -> Value {
    use rusqlite::types::ValueRef as V;
    match v {
        V::Null => Value::Null,
        V::Integer(i) => Value::Integer(i),
        V::Real(f) => Value::Real(f),
        V::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        V::Blob(b) => Value::Blob(b.to_vec()),
    }
}

type Query = (Vec<String>, Vec<RowResult>);

/// Runs one statement to completion on `conn`: its column names and every row.
fn run(conn: &Mutex<rusqlite::Connection>, sql: &str, params: Vec<Value>) -> Result<Query, SqlError> {
    let conn = conn.lock().map_err(|_| SqlError::InvalidConnection)?;
    let mut stmt = conn.prepare(sql).map_err(io_error)?;
    let columns: Vec<String> = stmt.column_names().iter().map(|c| c.to_string()).collect();
    let n = columns.len();
    let params: Vec<rusqlite::types::Value> = params.into_iter().map(to_sql).collect();
    let mut rows = stmt.query(rusqlite::params_from_iter(params)).map_err(io_error)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(io_error)? {
        let mut values = Vec::with_capacity(n);
        for i in 0..n {
            values.push(from_sql(row.get_ref(i).map_err(io_error)?));
        }
        out.push(RowResult { values });
    }
    Ok((columns, out))
}

async fn blocking<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> wasmtime::Result<R> {
    tokio::task::spawn_blocking(f).await.map_err(|e| wasmtime::format_err!("sqlite worker: {e}"))
}

impl SpinView<'_> {
    fn conn(&self, r: &Resource<Connection>) -> wasmtime::Result<Arc<Mutex<rusqlite::Connection>>> {
        Ok(self.table.get(r)?.conn.clone())
    }
}

impl sq::Host for SpinView<'_> {}

impl sq::HostConnection for SpinView<'_> {
    fn open(&mut self, database: String) -> wasmtime::Result<Result<Resource<Connection>, SqlError>> {
        let path = match open_label(&self.ctx.grants, &database) {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        };
        match open_file(path) {
            Ok(c) => Ok(Ok(self.table.push(Connection { conn: Arc::new(Mutex::new(c)) })?)),
            Err(e) => Ok(Err(e)),
        }
    }

    fn execute(
        &mut self,
        this: Resource<Connection>,
        statement: String,
        parameters: Vec<Value>,
    ) -> wasmtime::Result<Result<sq::QueryResult, SqlError>> {
        let conn = self.conn(&this)?;
        Ok(run(&conn, &statement, parameters).map(|(columns, rows)| sq::QueryResult { columns, rows }))
    }

    fn last_insert_rowid(&mut self, this: Resource<Connection>) -> wasmtime::Result<i64> {
        let conn = self.conn(&this)?;
        let c = conn.lock().map_err(|_| wasmtime::format_err!("sqlite connection poisoned"))?;
        Ok(c.last_insert_rowid())
    }

    fn changes(&mut self, this: Resource<Connection>) -> wasmtime::Result<u64> {
        let conn = self.conn(&this)?;
        let c = conn.lock().map_err(|_| wasmtime::format_err!("sqlite connection poisoned"))?;
        Ok(c.changes())
    }

    fn drop(&mut self, this: Resource<Connection>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

impl<T> sq::HostConnectionWithStore<T> for SpinHost {
    async fn open_async(
        accessor: &Accessor<T, Self>,
        database: String,
    ) -> wasmtime::Result<Result<Resource<Connection>, SqlError>> {
        let path = accessor.with(|mut a| open_label(&a.get().ctx.grants, &database));
        let path = match path {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        };
        match blocking(move || open_file(path)).await? {
            Ok(c) => {
                let r = accessor.with(|mut a| a.get().table.push(Connection { conn: Arc::new(Mutex::new(c)) }))?;
                Ok(Ok(r))
            }
            Err(e) => Ok(Err(e)),
        }
    }

    async fn execute_async(
        accessor: &Accessor<T, Self>,
        this: Resource<Connection>,
        statement: String,
        parameters: Vec<Value>,
    ) -> wasmtime::Result<Result<(Vec<String>, StreamReader<RowResult>, FutureReader<Result<(), SqlError>>), SqlError>>
    {
        let conn = accessor.with(|mut a| a.get().conn(&this))?;
        let (columns, rows) = match blocking(move || run(&conn, &statement, parameters)).await? {
            Ok(q) => q,
            Err(e) => return Ok(Err(e)),
        };
        accessor.with(|mut a| {
            let stream = StreamReader::new(&mut a, rows)?;
            let done = FutureReader::new(&mut a, async { Ok::<_, wasmtime::Error>(Ok::<(), SqlError>(())) })?;
            Ok(Ok((columns, stream, done)))
        })
    }

    async fn last_insert_rowid_async(
        accessor: &Accessor<T, Self>,
        this: Resource<Connection>,
    ) -> wasmtime::Result<i64> {
        let conn = accessor.with(|mut a| a.get().conn(&this))?;
        blocking(move || conn.lock().map(|c| c.last_insert_rowid()).unwrap_or(0)).await
    }

    async fn changes_async(accessor: &Accessor<T, Self>, this: Resource<Connection>) -> wasmtime::Result<u64> {
        let conn = accessor.with(|mut a| a.get().conn(&this))?;
        blocking(move || conn.lock().map(|c| c.changes()).unwrap_or(0)).await
    }
}

impl vars::Host for SpinView<'_> {}

impl<T> vars::HostWithStore<T> for SpinHost {
    async fn get(accessor: &Accessor<T, Self>, name: String) -> wasmtime::Result<Result<String, VarError>> {
        if !valid_variable_name(&name) {
            return Ok(Err(VarError::InvalidName(format!("invalid variable name {name:?}"))));
        }
        let grants = accessor.with(|mut a| a.get().ctx.grants.clone());
        Ok(match grants.variables.get(&name) {
            Some(Some(v)) => Ok(v.clone()),
            Some(None) => Err(VarError::Undefined(format!("no value for variable {name:?}"))),
            None => Err(VarError::Undefined(format!("no variable for {name:?}"))),
        })
    }
}

//! The storage port: a tiny SQL capability every platform implements.
//!
//! The core owns all SQL text (SQLite dialect, the same on D1, Spin SQLite and
//! native SQLite), so an adapter only has to run statements. This keeps three
//! platforms honest: one set of queries, one set of migrations, one behaviour.

use std::fmt;

/// A SQLite value as it crosses the port.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Integer(v)
    }
}
impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Integer(v.into())
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Integer(v.into())
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Blob(v)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// One SQL statement with positional parameters (`?1`, `?2`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sql: String,
    pub params: Vec<Value>,
}

impl Statement {
    pub fn new(sql: impl Into<String>) -> Self {
        Statement { sql: sql.into(), params: Vec::new() }
    }
    pub fn bind(mut self, v: impl Into<Value>) -> Self {
        self.params.push(v.into());
        self
    }
}

/// Builds a [`Statement`]: `stmt!("SELECT ... WHERE a = ?1", a)`.
#[macro_export]
macro_rules! stmt {
    ($sql:expr $(, $p:expr)* $(,)?) => {
        $crate::db::Statement { sql: ($sql).into(), params: vec![$($crate::db::Value::from($p)),*] }
    };
}

/// Rows returned by a query, with their column names.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

/// A borrowed row with typed, named access.
pub struct Row<'a> {
    columns: &'a [String],
    values: &'a [Value],
}

impl Rows {
    pub fn iter(&self) -> impl Iterator<Item = Row<'_>> {
        self.rows.iter().map(|values| Row { columns: &self.columns, values })
    }
    pub fn first(&self) -> Option<Row<'_>> {
        self.iter().next()
    }
    pub fn len(&self) -> usize {
        self.rows.len()
    }
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

impl Row<'_> {
    fn get(&self, name: &str) -> Result<&Value, StoreError> {
        self.columns
            .iter()
            .position(|c| c == name)
            .map(|i| &self.values[i])
            .ok_or_else(|| StoreError::Corrupt(format!("missing column {name}")))
    }
    pub fn text(&self, name: &str) -> Result<String, StoreError> {
        match self.get(name)? {
            Value::Text(s) => Ok(s.clone()),
            Value::Integer(i) => Ok(i.to_string()),
            Value::Blob(b) => {
                String::from_utf8(b.clone()).map_err(|_| StoreError::Corrupt(format!("column {name} is not UTF-8")))
            }
            other => Err(StoreError::Corrupt(format!("column {name}: expected text, got {other:?}"))),
        }
    }
    pub fn opt_text(&self, name: &str) -> Result<Option<String>, StoreError> {
        match self.get(name)? {
            Value::Null => Ok(None),
            _ => self.text(name).map(Some),
        }
    }
    pub fn int(&self, name: &str) -> Result<i64, StoreError> {
        match self.get(name)? {
            Value::Integer(i) => Ok(*i),
            // D1 hands numbers to JavaScript as doubles.
            Value::Real(f) if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 => Ok(*f as i64),
            Value::Text(s) => s.parse().map_err(|_| StoreError::Corrupt(format!("column {name}: not an integer"))),
            other => Err(StoreError::Corrupt(format!("column {name}: expected integer, got {other:?}"))),
        }
    }
    pub fn opt_int(&self, name: &str) -> Result<Option<i64>, StoreError> {
        match self.get(name)? {
            Value::Null => Ok(None),
            _ => self.int(name).map(Some),
        }
    }
    pub fn bool(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self.int(name)? != 0)
    }
    pub fn blob(&self, name: &str) -> Result<Vec<u8>, StoreError> {
        match self.get(name)? {
            Value::Blob(b) => Ok(b.clone()),
            Value::Text(s) => Ok(s.clone().into_bytes()),
            Value::Null => Ok(Vec::new()),
            other => Err(StoreError::Corrupt(format!("column {name}: expected blob, got {other:?}"))),
        }
    }
}

/// The port's own error: never a driver's error type.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A constraint said no (UNIQUE, CHECK): the batch was rolled back whole.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database could not be reached or answered with an error.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A row did not have the shape the core expects.
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

/// Runs SQL against one database (a tenant's billing database, or the control database).
///
/// No `Send` bound: D1 futures are `!Send`. Native hosts wrap a `Send` store.
#[allow(async_fn_in_trait)]
pub trait Db {
    /// Runs one read (or a single write whose result rows are wanted).
    async fn query(&self, stmt: &Statement) -> Result<Rows, StoreError>;
    /// Runs every statement in order as ONE atomic unit: all apply or none.
    /// Returns the number of rows each statement changed.
    async fn batch(&self, stmts: &[Statement]) -> Result<Vec<u64>, StoreError>;
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Integer(i) => write!(f, "{i}"),
            Value::Real(r) => write!(f, "{r}"),
            Value::Text(s) => write!(f, "{s:?}"),
            Value::Blob(b) => write!(f, "<{} bytes>", b.len()),
        }
    }
}

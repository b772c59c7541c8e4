//! A SQLite [`Db`] for the core's own tests: use cases run against the real schema and SQL,
//! without HTTP or a host. One in-memory connection; futures complete at once.

use std::cell::RefCell;

use chrono::{DateTime, Utc};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ToSql};

use crate::db::{Db, Rows, Statement, StoreError, Value};
use crate::domain::Realm;
use crate::secret::Secret;
use crate::store::tenants::{DarajaSettings, Tenant, TenantSettings};

pub struct TestDb(RefCell<Connection>);

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

fn map_err(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) => StoreError::Conflict(e.to_string()),
        _ => StoreError::Unavailable(e.to_string()),
    }
}

impl TestDb {
    /// Stores a reconciler run report of `router` (outcome `refused`, `drift` found) received at
    /// `received_at`, holding `held` (the guard's held disables) when given.
    pub fn report(&self, router: &str, held: Option<serde_json::Value>, drift: i64, received_at: &str) {
        use crate::store::reports;
        let mut json = serde_json::json!({"router": router, "outcome": "refused"});
        if let Some(h) = held {
            json["held"] = h;
        }
        let json = json.to_string();
        let r = reports::NewReport {
            router,
            started_at: None,
            finished_at: None,
            outcome: "refused",
            drift_found: drift,
            drift_fixed: 0,
            report_json: &json,
            received_at,
        };
        run(self.batch(&[reports::insert(&r)])).unwrap();
    }

    /// A fresh in-memory tenant database with every migration applied.
    pub fn tenant() -> TestDb {
        let db = TestDb(RefCell::new(Connection::open_in_memory().expect("in-memory SQLite")));
        futures::executor::block_on(crate::migrations::migrate(&db, crate::migrations::TENANT)).expect("migrate");
        db
    }

    /// A fresh in-memory control database (the tenant registry) with every migration applied.
    pub fn control() -> TestDb {
        let db = TestDb(RefCell::new(Connection::open_in_memory().expect("in-memory SQLite")));
        futures::executor::block_on(crate::migrations::migrate(&db, crate::migrations::CONTROL)).expect("migrate");
        db
    }
}

impl Db for TestDb {
    async fn query(&self, s: &Statement) -> Result<Rows, StoreError> {
        let conn = self.0.borrow();
        let mut st = conn.prepare(&s.sql).map_err(map_err)?;
        let columns: Vec<String> = st.column_names().into_iter().map(str::to_owned).collect();
        let mut rows = st.query(rusqlite::params_from_iter(s.params.iter().map(Param))).map_err(map_err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(map_err)? {
            let mut values = Vec::new();
            for i in 0..columns.len() {
                values.push(match row.get_ref(i).map_err(map_err)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(i) => Value::Integer(i),
                    ValueRef::Real(r) => Value::Real(r),
                    ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                });
            }
            out.push(values);
        }
        Ok(Rows { columns, rows: out })
    }

    async fn batch(&self, stmts: &[Statement]) -> Result<Vec<u64>, StoreError> {
        let mut conn = self.0.borrow_mut();
        let tx = conn.transaction().map_err(map_err)?;
        let mut changed = Vec::new();
        for s in stmts {
            tx.execute(&s.sql, rusqlite::params_from_iter(s.params.iter().map(Param))).map_err(map_err)?;
            changed.push(tx.changes());
        }
        tx.commit().map_err(map_err)?;
        Ok(changed)
    }
}

/// A tenant as the use cases see it (settings at their defaults unless changed).
pub fn tenant(settings: TenantSettings) -> Tenant {
    Tenant {
        realm: Realm::parse("test").expect("realm"),
        name: "Test ISP".into(),
        status: crate::store::tenants::TenantStatus::Active,
        db_key: "test".into(),
        admin_token_hash: String::new(),
        callback_token: Secret::new("cb"),
        sync_key: Secret::new("sk"),
        settings,
        daraja: DarajaSettings::default(),
        created_at: DateTime::<Utc>::default(),
    }
}

/// Runs a future that completes without waiting (every TestDb future does).
pub fn run<T>(f: impl std::future::Future<Output = T>) -> T {
    futures::executor::block_on(f)
}

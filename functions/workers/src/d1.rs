//! The storage port on D1: one [`D1Db`] per binding (the control database, or one tenant's).
//!
//! D1 gotchas handled here:
//! * JavaScript has no 64-bit integers on the D1 path (`BigInt` is refused with
//!   `D1_TYPE_ERROR`), so integers are bound as `f64` (exact up to 2^53; larger ones as text,
//!   which SQLite's INTEGER affinity turns back into integers).
//! * Numbers come back as JavaScript doubles: integral ones within 2^53 become
//!   [`Value::Integer`], the rest [`Value::Real`].
//! * `db.batch()` runs its statements in one implicit transaction: `changes()` in one statement
//!   sees the previous statement of the same batch, and a failing CHECK rolls back the whole batch
//!   (checked by `/__selftest/batch`, see `selftest.rs`).

use js_sys::{Array, ArrayBuffer, Object, Reflect, Uint8Array};
use konnekted_core::db::{Db, Rows, Statement, StoreError, Value};
use wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{D1Database, D1PreparedStatement};

/// 2^53: the largest magnitude a JavaScript number holds exactly.
const MAX_SAFE: f64 = 9_007_199_254_740_992.0;

pub struct D1Db {
    db: D1Database,
}

impl D1Db {
    pub fn new(db: D1Database) -> Self {
        D1Db { db }
    }

    fn prepare(&self, stmt: &Statement) -> Result<D1PreparedStatement, StoreError> {
        let params: Vec<JsValue> = stmt.params.iter().map(to_js).collect();
        self.db.prepare(stmt.sql.as_str()).bind(&params).map_err(|e| classify(&e.to_string()))
    }
}

fn to_js(v: &Value) -> JsValue {
    match v {
        Value::Null => JsValue::NULL,
        Value::Integer(i) if (*i as f64).abs() < MAX_SAFE => JsValue::from_f64(*i as f64),
        Value::Integer(i) => JsValue::from_str(&i.to_string()),
        Value::Real(f) => JsValue::from_f64(*f),
        Value::Text(s) => JsValue::from_str(s),
        Value::Blob(b) => {
            // A fresh buffer (never a view into wasm memory, which D1 would read whole).
            let arr = Uint8Array::new_with_length(b.len() as u32);
            arr.copy_from(b);
            arr.buffer().into()
        }
    }
}

fn from_js(v: &JsValue) -> Value {
    if v.is_null() || v.is_undefined() {
        return Value::Null;
    }
    if let Some(f) = v.as_f64() {
        return if f.fract() == 0.0 && f.abs() < MAX_SAFE { Value::Integer(f as i64) } else { Value::Real(f) };
    }
    if let Some(s) = v.as_string() {
        return Value::Text(s);
    }
    if let Some(b) = v.as_bool() {
        return Value::Integer(i64::from(b));
    }
    if let Some(buf) = v.dyn_ref::<ArrayBuffer>() {
        return Value::Blob(Uint8Array::new(buf).to_vec());
    }
    if let Some(arr) = v.dyn_ref::<Uint8Array>() {
        return Value::Blob(arr.to_vec());
    }
    if Array::is_array(v) {
        // Older D1 builds return blobs as arrays of byte numbers.
        let bytes = Array::from(v).iter().map(|b| b.as_f64().unwrap_or(0.0) as u8).collect();
        return Value::Blob(bytes);
    }
    Value::Text(String::from(Object::from(v.clone()).to_string()))
}

/// Text of a JavaScript error, with its `cause` (D1 puts the SQLite message there).
pub fn js_error_text(e: &JsValue) -> String {
    let mut out = String::new();
    if let Some(err) = e.dyn_ref::<js_sys::Error>() {
        out.push_str(&String::from(err.message()));
        if let Some(cause) = err.cause().dyn_ref::<js_sys::Error>() {
            out.push_str(": ");
            out.push_str(&String::from(cause.message()));
        }
    } else if let Some(s) = e.as_string() {
        out.push_str(&s);
    } else {
        out.push_str("unknown JavaScript error");
    }
    out
}

/// UNIQUE / CHECK / NOT NULL / FOREIGN KEY failures are conflicts; everything else is unavailability.
pub fn classify(message: &str) -> StoreError {
    if message.contains("constraint failed") {
        StoreError::Conflict(message.to_owned())
    } else {
        StoreError::Unavailable(message.to_owned())
    }
}

impl Db for D1Db {
    async fn query(&self, stmt: &Statement) -> Result<Rows, StoreError> {
        let prepared = self.prepare(stmt)?;
        let inner: &JsValue = prepared.inner().as_ref();
        // `raw({ columnNames: true })` returns the column names as the first row, so rows keep
        // their column order and names even when a row has duplicate or computed columns.
        let raw = Reflect::get(inner, &JsValue::from_str("raw"))
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
            .ok_or_else(|| StoreError::Unavailable("D1 statement has no raw()".into()))?;
        let opts = Object::new();
        Reflect::set(&opts, &JsValue::from_str("columnNames"), &JsValue::TRUE)
            .map_err(|e| StoreError::Unavailable(js_error_text(&e)))?;
        let promise = raw.call1(inner, &opts).map_err(|e| classify(&js_error_text(&e)))?;
        let promise = promise
            .dyn_into::<js_sys::Promise>()
            .map_err(|_| StoreError::Unavailable("D1 raw() did not return a promise".into()))?;
        let result = JsFuture::from(promise).await.map_err(|e| classify(&js_error_text(&e)))?;
        let all = result
            .dyn_into::<Array>()
            .map_err(|_| StoreError::Unavailable("D1 raw() did not return an array".into()))?;
        let mut rows = Rows::default();
        for (i, row) in all.iter().enumerate() {
            let row = Array::from(&row);
            if i == 0 {
                rows.columns = row.iter().map(|c| c.as_string().unwrap_or_default()).collect();
            } else {
                rows.rows.push(row.iter().map(|v| from_js(&v)).collect());
            }
        }
        Ok(rows)
    }

    async fn batch(&self, stmts: &[Statement]) -> Result<Vec<u64>, StoreError> {
        if stmts.is_empty() {
            return Ok(Vec::new());
        }
        let prepared = stmts.iter().map(|s| self.prepare(s)).collect::<Result<Vec<_>, _>>()?;
        let results = self.db.batch(prepared).await.map_err(|e| match e {
            // Never `Display` a D1Error: worker 0.8.7 unwraps its `cause` as a string and throws
            // when it is an Error object (seen on constraint failures), which hangs the request.
            worker::Error::D1(d1) => {
                let err: &js_sys::Error = d1.as_ref();
                classify(&format!("{}: {}", String::from(err.message()), d1.cause()))
            }
            worker::Error::JsError(s) => classify(&s),
            other => classify(&other.to_string()),
        })?;
        Ok(results.iter().map(|r| r.meta().ok().flatten().and_then(|m| m.changes).unwrap_or(0) as u64).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_constraint_failures_are_conflicts() {
        assert!(matches!(classify("D1_ERROR: UNIQUE constraint failed: plans.code"), StoreError::Conflict(_)));
        assert!(matches!(classify("D1_ERROR: CHECK constraint failed: changed = 1"), StoreError::Conflict(_)));
        assert!(matches!(classify("D1_ERROR: no such table: nope"), StoreError::Unavailable(_)));
    }
}

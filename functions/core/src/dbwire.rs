//! The storage port on the wire: JSON for one `query` or `batch` against a database named by a
//! label, and for its answer. Pure codec, no I/O.
//!
//! It exists for one job: the `local` build of the Spin component runs under `wasmtime serve`,
//! which has no `spin:sqlite`, so that build sends its statements over outbound HTTP to
//! `konnekted spin-sqlite` (native, SQLite files named by label, like Spin's runtime config). Both
//! ends use this module, so the format has one copy.
//!
//! Request: `{"db": "t_acme", "query": S}` or `{"db": "t_acme", "batch": [S, ...]}` with
//! `S = {"sql": "...", "params": [V, ...]}`. Values: `null`, an integer as a JSON integer, text as
//! a JSON string, `{"real": 1.5}`, `{"blob": "<hex>"}`.
//! Answer: `{"rows": {"columns": [...], "rows": [[V, ...], ...]}}`, `{"changes": [n, ...]}` or
//! `{"error": {"kind": "conflict"|"unavailable"|"not_found"|"corrupt", "message": "..."}}`.
//!
//! Answers longer than [`PART`] bytes come in parts: the server keeps the answer and says
//! `{"parts": {"id": "...", "len": N}}`; the client then asks `{"part": "<id>", "offset": n}` for
//! each slice of at most [`PART`] bytes and decodes the joined bytes. Why: wasmtime 49's outbound
//! HTTP hands the component only the first frame of a response body (about 8 KB with the
//! headers), so a longer answer would arrive cut short.

use serde_json::{Value as Json, json};

use crate::db::{Rows, Statement, StoreError, Value};

/// What a request asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Query(Statement),
    Batch(Vec<Statement>),
    /// A slice of a kept answer: its id and the byte offset.
    Part {
        id: String,
        offset: usize,
    },
}

/// The longest answer (and answer slice) sent in one response.
pub const PART: usize = 6000;

/// The answer that stands for a long one kept under `id`.
pub fn encode_parts(id: &str, len: usize) -> Vec<u8> {
    json!({ "parts": { "id": id, "len": len } }).to_string().into_bytes()
}

/// `Some((id, len))` when `body` says the answer comes in parts.
pub fn parts_of(body: &[u8]) -> Option<(String, usize)> {
    if !body.starts_with(b"{\"parts\"") {
        return None;
    }
    let j: Json = serde_json::from_slice(body).ok()?;
    let p = j.get("parts")?;
    Some((p.get("id")?.as_str()?.to_owned(), usize::try_from(p.get("len")?.as_u64()?).ok()?))
}

fn value(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Integer(i) => json!(i),
        Value::Real(r) => json!({ "real": r }),
        Value::Text(s) => json!(s),
        Value::Blob(b) => json!({ "blob": hex::encode(b) }),
    }
}

fn parse_value(j: &Json) -> Result<Value, String> {
    match j {
        Json::Null => Ok(Value::Null),
        Json::Number(n) => n.as_i64().map(Value::Integer).ok_or_else(|| format!("not an i64: {n}")),
        Json::String(s) => Ok(Value::Text(s.clone())),
        Json::Object(o) => {
            if let Some(r) = o.get("real") {
                r.as_f64().map(Value::Real).ok_or_else(|| format!("bad real: {r}"))
            } else if let Some(b) = o.get("blob").and_then(Json::as_str) {
                hex::decode(b).map(Value::Blob).map_err(|e| format!("bad blob: {e}"))
            } else {
                Err(format!("unknown value: {j}"))
            }
        }
        other => Err(format!("unknown value: {other}")),
    }
}

fn statement(s: &Statement) -> Json {
    json!({ "sql": s.sql, "params": s.params.iter().map(value).collect::<Vec<_>>() })
}

fn parse_statement(j: &Json) -> Result<Statement, String> {
    let sql = j.get("sql").and_then(Json::as_str).ok_or("statement without sql")?;
    let params = match j.get("params") {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::Array(a)) => a.iter().map(parse_value).collect::<Result<_, _>>()?,
        Some(other) => return Err(format!("params must be a list, not {other}")),
    };
    Ok(Statement { sql: sql.to_owned(), params })
}

/// The request body for `op` on the database `label`.
pub fn encode_request(label: &str, op: &Op) -> Vec<u8> {
    let body = match op {
        Op::Query(s) => json!({ "db": label, "query": statement(s) }),
        Op::Batch(b) => json!({ "db": label, "batch": b.iter().map(statement).collect::<Vec<_>>() }),
        Op::Part { id, offset } => json!({ "db": label, "part": id, "offset": offset }),
    };
    body.to_string().into_bytes()
}

/// Reads a request body: the label and what to run. The error is a message for a 400.
pub fn decode_request(body: &[u8]) -> Result<(String, Op), String> {
    let j: Json = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let label = j.get("db").and_then(Json::as_str).ok_or("no db label")?.to_owned();
    let op = if let Some(id) = j.get("part").and_then(Json::as_str) {
        let offset = j.get("offset").and_then(Json::as_u64).ok_or("part without offset")?;
        Op::Part { id: id.to_owned(), offset: usize::try_from(offset).map_err(|e| e.to_string())? }
    } else if let Some(q) = j.get("query") {
        Op::Query(parse_statement(q)?)
    } else if let Some(Json::Array(b)) = j.get("batch") {
        Op::Batch(b.iter().map(parse_statement).collect::<Result<_, _>>()?)
    } else {
        return Err("neither query nor batch".into());
    };
    Ok((label, op))
}

fn error(e: &StoreError) -> Json {
    let (kind, message) = match e {
        StoreError::NotFound => ("not_found", String::new()),
        StoreError::Conflict(m) => ("conflict", m.clone()),
        StoreError::Unavailable(m) => ("unavailable", m.clone()),
        StoreError::Corrupt(m) => ("corrupt", m.clone()),
    };
    json!({ "error": { "kind": kind, "message": message } })
}

/// The answer to a query.
pub fn encode_rows(r: &Result<Rows, StoreError>) -> Vec<u8> {
    let j = match r {
        Ok(rows) => json!({ "rows": {
            "columns": rows.columns,
            "rows": rows.rows.iter().map(|r| r.iter().map(value).collect::<Vec<_>>()).collect::<Vec<_>>(),
        }}),
        Err(e) => error(e),
    };
    j.to_string().into_bytes()
}

/// The answer to a batch.
pub fn encode_changes(r: &Result<Vec<u64>, StoreError>) -> Vec<u8> {
    let j = match r {
        Ok(c) => json!({ "changes": c }),
        Err(e) => error(e),
    };
    j.to_string().into_bytes()
}

fn answer(body: &[u8], key: &str) -> Result<Json, StoreError> {
    let bad = |m: String| StoreError::Unavailable(format!("storage answer: {m}"));
    let mut j: Json = serde_json::from_slice(body).map_err(|e| bad(format!("not JSON: {e}")))?;
    if let Some(e) = j.get("error") {
        let message = e.get("message").and_then(Json::as_str).unwrap_or_default().to_owned();
        return Err(match e.get("kind").and_then(Json::as_str) {
            Some("not_found") => StoreError::NotFound,
            Some("conflict") => StoreError::Conflict(message),
            Some("corrupt") => StoreError::Corrupt(message),
            _ => StoreError::Unavailable(message),
        });
    }
    j.get_mut(key).map(Json::take).ok_or_else(|| bad(format!("no {key}")))
}

/// Reads the answer to a query.
pub fn decode_rows(body: &[u8]) -> Result<Rows, StoreError> {
    let j = answer(body, "rows")?;
    let bad = |m: String| StoreError::Unavailable(format!("storage answer: {m}"));
    let columns = j
        .get("columns")
        .and_then(Json::as_array)
        .ok_or_else(|| bad("no columns".into()))?
        .iter()
        .map(|c| c.as_str().map(str::to_owned).ok_or_else(|| bad(format!("column name {c}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let rows = j
        .get("rows")
        .and_then(Json::as_array)
        .ok_or_else(|| bad("no rows".into()))?
        .iter()
        .map(|r| {
            r.as_array()
                .ok_or_else(|| bad(format!("row {r}")))?
                .iter()
                .map(|v| parse_value(v).map_err(bad))
                .collect::<Result<Vec<_>, _>>()
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Rows { columns, rows })
}

/// Reads the answer to a batch.
pub fn decode_changes(body: &[u8]) -> Result<Vec<u64>, StoreError> {
    let j = answer(body, "changes")?;
    serde_json::from_value(j).map_err(|e| StoreError::Unavailable(format!("storage answer: changes: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_value() -> Vec<Value> {
        vec![
            Value::Null,
            Value::Integer(i64::MIN),
            Value::Integer(i64::MAX),
            Value::Integer(0),
            Value::Real(1.0),
            Value::Real(-2.5e-300),
            Value::Text(String::new()),
            Value::Text("{\"real\": 1} ünï \u{0}".into()),
            Value::Blob(vec![]),
            Value::Blob(vec![0, 255, 7]),
        ]
    }

    #[test]
    fn request_round_trips_every_value_and_both_ops() {
        let s = Statement { sql: "SELECT ?1, ?2".into(), params: every_value() };
        for op in [
            Op::Query(s.clone()),
            Op::Batch(vec![s.clone(), Statement::new("DELETE FROM t")]),
            Op::Batch(vec![]),
            Op::Part { id: "a1".into(), offset: 6000 },
        ] {
            let (label, back) = decode_request(&encode_request("t_e2e_t01", &op)).expect("decodes");
            assert_eq!((label.as_str(), &back), ("t_e2e_t01", &op));
        }
    }

    #[test]
    fn answers_round_trip_rows_changes_and_each_error_kind() {
        let rows = Rows { columns: vec!["a".into(), "b".into()], rows: vec![every_value()[..2].to_vec(); 3] };
        assert_eq!(decode_rows(&encode_rows(&Ok(rows.clone()))), Ok(rows));
        assert_eq!(decode_changes(&encode_changes(&Ok(vec![0, 1, u64::from(u32::MAX)]))), Ok(vec![0, 1, 4294967295]));
        for e in [
            StoreError::NotFound,
            StoreError::Conflict("CHECK constraint failed: guard".into()),
            StoreError::Unavailable("disk".into()),
            StoreError::Corrupt("x".into()),
        ] {
            assert_eq!(decode_rows(&encode_rows(&Err(e.clone()))), Err(e.clone()));
            assert_eq!(decode_changes(&encode_changes(&Err(e.clone()))), Err(e));
        }
    }

    #[test]
    fn parts_are_recognised_and_nothing_else_is() {
        assert_eq!(parts_of(&encode_parts("x7", 12_345)), Some(("x7".into(), 12_345)));
        let rows = Rows { columns: vec!["parts".into()], rows: vec![] };
        assert_eq!(parts_of(&encode_rows(&Ok(rows))), None);
        assert_eq!(parts_of(&encode_changes(&Ok(vec![1]))), None);
    }

    #[test]
    fn bad_requests_and_answers_are_errors_not_panics() {
        for body in [
            &b"nope"[..],
            b"{}",
            b"{\"db\":\"x\"}",
            b"{\"db\":\"x\",\"query\":{}}",
            b"{\"db\":\"x\",\"query\":{\"sql\":\"s\",\"params\":[[1]]}}",
        ] {
            assert!(decode_request(body).is_err(), "{}", String::from_utf8_lossy(body));
        }
        assert!(matches!(decode_rows(b"<html>"), Err(StoreError::Unavailable(_))));
        assert!(matches!(decode_rows(b"{\"changes\":[]}"), Err(StoreError::Unavailable(_))));
        assert!(matches!(decode_changes(b""), Err(StoreError::Unavailable(_))));
    }
}

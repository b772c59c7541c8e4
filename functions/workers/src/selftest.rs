//! `/__selftest/batch`: proves on the real D1 the two batch properties the core relies on.
//! Served only when the var `EDGE_SELFTEST` is `1` (scripts/edge-dev.sh sets it; production does not).
//!
//! 1. `INSERT INTO guard (changed) VALUES (changes())` sees the rows changed by the previous
//!    statement of the same batch.
//! 2. A CHECK failure in a batch surfaces as `StoreError::Conflict` and rolls back every
//!    statement of the batch, including the ones before it.

use konnekted_core::db::{Db, Statement, StoreError};
use konnekted_core::stmt;
use serde_json::{Value as Json, json};

pub async fn batch_semantics(db: &impl Db) -> Result<Json, StoreError> {
    db.batch(&[
        Statement::new("DROP TABLE IF EXISTS selftest_rows"),
        Statement::new("DROP TABLE IF EXISTS selftest_guard"),
        Statement::new("CREATE TABLE selftest_rows (id TEXT PRIMARY KEY, version INTEGER NOT NULL)"),
        Statement::new("CREATE TABLE selftest_guard (changed INTEGER NOT NULL CHECK (changed = 1))"),
        stmt!("INSERT INTO selftest_rows (id, version) VALUES (?1, ?2)", "a", 0i64),
    ])
    .await?;
    let guard = |expected: i64, marker: &str| {
        vec![
            stmt!("INSERT INTO selftest_rows (id, version) VALUES (?1, 0)", marker),
            stmt!("UPDATE selftest_rows SET version = version + 1 WHERE id = 'a' AND version = ?1", expected),
            Statement::new("INSERT INTO selftest_guard (changed) VALUES (changes())"),
            Statement::new("DELETE FROM selftest_guard"),
        ]
    };
    // Expected version matches: the bump changes one row, the guard accepts.
    let ok = db.batch(&guard(0, "m1")).await;
    // Stale version: the bump changes nothing, the guard's CHECK fails, the batch must roll back.
    let stale = db.batch(&guard(0, "m2")).await;
    let rows = db.query(&Statement::new("SELECT id, version FROM selftest_rows ORDER BY id")).await?;
    let seen: Vec<Json> =
        rows.iter().map(|r| json!({"id": r.text("id").ok(), "version": r.int("version").ok()})).collect();
    db.batch(&[Statement::new("DROP TABLE selftest_rows"), Statement::new("DROP TABLE selftest_guard")]).await?;

    let changes_seen = matches!(&ok, Ok(c) if c.get(1) == Some(&1) && c.get(2) == Some(&1));
    let conflict = matches!(stale, Err(StoreError::Conflict(_)));
    let rolled_back = seen == vec![json!({"id": "a", "version": 1}), json!({"id": "m1", "version": 0})];
    Ok(json!({
        "pass": changes_seen && conflict && rolled_back,
        "changes_visible_in_batch": changes_seen,
        "check_failure_is_conflict": conflict,
        "failed_batch_rolled_back": rolled_back,
        "fresh_batch_changes": ok.map_err(|e| e.to_string()),
        "stale_batch": stale.map_err(|e| e.to_string()),
        "rows": seen,
    }))
}

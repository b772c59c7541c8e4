//! The storage contract: what every `Db` implementation must do for the core to be correct.
//! Run it against each platform's store (native SQLite in its tests; D1 and Spin SQLite through
//! their adapters). Each check returns a description of the first thing that went wrong.

use crate::db::{Db, Statement, StoreError, Value};
use crate::stmt;

async fn setup(db: &impl Db) -> Result<(), String> {
    db.batch(&[
        Statement::new("DROP TABLE IF EXISTS contract_t"),
        Statement::new("DROP TABLE IF EXISTS contract_guard"),
        Statement::new(
            "CREATE TABLE contract_t (k TEXT PRIMARY KEY, n INTEGER, r REAL, b BLOB, v INTEGER NOT NULL DEFAULT 0)",
        ),
        Statement::new("CREATE TABLE contract_guard (changed INTEGER NOT NULL CHECK (changed = 1))"),
    ])
    .await
    .map(|_| ())
    .map_err(|e| format!("setup: {e}"))
}

fn count_sql() -> Statement {
    Statement::new("SELECT COUNT(*) AS n FROM contract_t")
}

async fn count(db: &impl Db) -> Result<i64, String> {
    let rows = db.query(&count_sql()).await.map_err(|e| e.to_string())?;
    rows.first().ok_or("no row")?.int("n").map_err(|e| e.to_string())
}

/// Runs every check in order.
pub async fn run_all(db: &impl Db) -> Result<(), String> {
    setup(db).await?;

    // Values round-trip, including large integers and NULL.
    db.batch(&[stmt!(
        "INSERT INTO contract_t (k, n, r, b) VALUES (?1, ?2, ?3, ?4)",
        "a",
        9_007_199_254_740_991i64,
        Value::Real(1.5),
        vec![0u8, 255, 7]
    )])
    .await
    .map_err(|e| format!("insert: {e}"))?;
    let rows = db
        .query(&stmt!("SELECT k, n, r, b, NULL AS z FROM contract_t WHERE k = ?1", "a"))
        .await
        .map_err(|e| e.to_string())?;
    let r = rows.first().ok_or("inserted row not found")?;
    if r.int("n").map_err(|e| e.to_string())? != 9_007_199_254_740_991 {
        return Err("integers up to 2^53-1 must round-trip".into());
    }
    if r.blob("b").map_err(|e| e.to_string())? != vec![0u8, 255, 7] {
        return Err("blobs must round-trip".into());
    }
    if r.opt_text("z").map_err(|e| e.to_string())?.is_some() {
        return Err("NULL must read back as None".into());
    }

    // A unique violation is a Conflict, and the whole batch rolls back.
    let res = db
        .batch(&[
            stmt!("INSERT INTO contract_t (k) VALUES (?1)", "b"),
            stmt!("INSERT INTO contract_t (k) VALUES (?1)", "a"),
        ])
        .await;
    if !matches!(res, Err(StoreError::Conflict(_))) {
        return Err(format!("duplicate key must be Conflict, got {res:?}"));
    }
    if count(db).await? != 1 {
        return Err("a failed batch must not leave earlier statements applied".into());
    }

    // Rows changed are reported per statement.
    let changed = db
        .batch(&[
            stmt!("UPDATE contract_t SET v = v + 1 WHERE k = ?1", "a"),
            stmt!("UPDATE contract_t SET v = v + 1 WHERE k = ?1", "zz"),
        ])
        .await
        .map_err(|e| e.to_string())?;
    if changed != vec![1, 0] {
        return Err(format!("rows changed must be [1, 0], got {changed:?}"));
    }

    // The optimistic-concurrency guard: changes() sees the previous statement of the batch,
    // and a CHECK failure rolls the batch back.
    let ok = db
        .batch(&[
            stmt!("UPDATE contract_t SET v = v + 1 WHERE k = ?1 AND v = ?2", "a", 1),
            Statement::new("INSERT INTO contract_guard (changed) VALUES (changes())"),
            Statement::new("DELETE FROM contract_guard"),
            stmt!("INSERT INTO contract_t (k) VALUES (?1)", "c"),
        ])
        .await;
    if ok.is_err() {
        return Err(format!("guarded batch with a matching version must apply: {ok:?}"));
    }
    let stale = db
        .batch(&[
            stmt!("UPDATE contract_t SET v = v + 1 WHERE k = ?1 AND v = ?2", "a", 1),
            Statement::new("INSERT INTO contract_guard (changed) VALUES (changes())"),
            Statement::new("DELETE FROM contract_guard"),
            stmt!("INSERT INTO contract_t (k) VALUES (?1)", "d"),
        ])
        .await;
    if !matches!(stale, Err(StoreError::Conflict(_))) {
        return Err(format!("guarded batch with a stale version must be Conflict, got {stale:?}"));
    }
    if count(db).await? != 2 {
        return Err("a stale guarded batch must write nothing".into());
    }
    db.batch(&[Statement::new("DROP TABLE contract_t"), Statement::new("DROP TABLE contract_guard")])
        .await
        .map_err(|e| format!("teardown: {e}"))?;
    Ok(())
}

/// `/__selftest/batch` on the Workers and Spin adapters (served only when their self-test switch
/// is on): proves on the real D1 / Spin SQLite the two batch properties the core relies on, and
/// answers what it saw.
///
/// 1. `INSERT INTO guard (changed) VALUES (changes())` sees the rows changed by the previous
///    statement of the same batch.
/// 2. A CHECK failure in a batch surfaces as `StoreError::Conflict` and rolls back every
///    statement of the batch, including the ones before it.
pub async fn batch_semantics(db: &impl Db) -> Result<serde_json::Value, StoreError> {
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
    let seen: Vec<serde_json::Value> =
        rows.iter().map(|r| serde_json::json!({"id": r.text("id").ok(), "version": r.int("version").ok()})).collect();
    db.batch(&[Statement::new("DROP TABLE selftest_rows"), Statement::new("DROP TABLE selftest_guard")]).await?;

    let changes_seen = matches!(&ok, Ok(c) if c.get(1) == Some(&1) && c.get(2) == Some(&1));
    let conflict = matches!(stale, Err(StoreError::Conflict(_)));
    let rolled_back =
        seen == vec![serde_json::json!({"id": "a", "version": 1}), serde_json::json!({"id": "m1", "version": 0})];
    Ok(serde_json::json!({
        "pass": changes_seen && conflict && rolled_back,
        "changes_visible_in_batch": changes_seen,
        "check_failure_is_conflict": conflict,
        "failed_batch_rolled_back": rolled_back,
        "fresh_batch_changes": ok.map_err(|e| e.to_string()),
        "stale_batch": stale.map_err(|e| e.to_string()),
        "rows": seen,
    }))
}

//! Schema migrations, applied through the storage port on every platform.

use crate::db::{Db, Statement, StoreError};
use crate::stmt;

pub struct Migration {
    pub name: &'static str,
    pub sql: &'static str,
}

pub const CONTROL: &[Migration] = &[
    Migration { name: "0001_tenants", sql: include_str!("../migrations/control/0001_tenants.sql") },
    Migration { name: "0002_throttle", sql: include_str!("../migrations/control/0002_throttle.sql") },
    Migration { name: "0003_platform_audit", sql: include_str!("../migrations/control/0003_platform_audit.sql") },
];

pub const TENANT: &[Migration] = &[
    Migration { name: "0001_billing", sql: include_str!("../migrations/tenant/0001_billing.sql") },
    Migration { name: "0002_sync_reports", sql: include_str!("../migrations/tenant/0002_sync_reports.sql") },
    Migration { name: "0003_usage", sql: include_str!("../migrations/tenant/0003_usage.sql") },
    Migration { name: "0004_vouchers", sql: include_str!("../migrations/tenant/0004_vouchers.sql") },
    Migration { name: "0005_money_guards", sql: include_str!("../migrations/tenant/0005_money_guards.sql") },
    Migration { name: "0006_throttle", sql: include_str!("../migrations/tenant/0006_throttle.sql") },
    Migration {
        name: "0007_voucher_redemptions",
        sql: include_str!("../migrations/tenant/0007_voucher_redemptions.sql"),
    },
    Migration { name: "0008_portal", sql: include_str!("../migrations/tenant/0008_portal.sql") },
    Migration { name: "0009_console", sql: include_str!("../migrations/tenant/0009_console.sql") },
    Migration { name: "0010_cards", sql: include_str!("../migrations/tenant/0010_cards.sql") },
    Migration { name: "0011_hotspot_sales", sql: include_str!("../migrations/tenant/0011_hotspot_sales.sql") },
    Migration { name: "0012_customer", sql: include_str!("../migrations/tenant/0012_customer.sql") },
    Migration { name: "0013_sms", sql: include_str!("../migrations/tenant/0013_sms.sql") },
    Migration { name: "0014_sms_send_before", sql: include_str!("../migrations/tenant/0014_sms_send_before.sql") },
    Migration { name: "0015_self_service", sql: include_str!("../migrations/tenant/0015_self_service.sql") },
    Migration { name: "0016_session_history", sql: include_str!("../migrations/tenant/0016_session_history.sql") },
    Migration { name: "0017_callback_indexes", sql: include_str!("../migrations/tenant/0017_callback_indexes.sql") },
    Migration { name: "0018_ticket_replies", sql: include_str!("../migrations/tenant/0018_ticket_replies.sql") },
    Migration { name: "0019_summaries", sql: include_str!("../migrations/tenant/0019_summaries.sql") },
    Migration { name: "0020_pause_history", sql: include_str!("../migrations/tenant/0020_pause_history.sql") },
    Migration { name: "0021_backtest_months", sql: include_str!("../migrations/tenant/0021_backtest_months.sql") },
    Migration { name: "0022_collections_daily", sql: include_str!("../migrations/tenant/0022_collections_daily.sql") },
    Migration {
        name: "0023_disable_confirmations",
        sql: include_str!("../migrations/tenant/0023_disable_confirmations.sql"),
    },
];

/// Splits a migration file into statements (on `;` at line ends; our SQL has no
/// semicolons inside literals or triggers).
pub fn statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in sql.lines() {
        let code = line.split("--").next().unwrap_or("");
        if code.trim().is_empty() {
            continue;
        }
        cur.push_str(code);
        cur.push('\n');
        if code.trim_end().ends_with(';') {
            out.push(cur.trim().trim_end_matches(';').to_owned());
            cur.clear();
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_owned());
    }
    out
}

/// Applies the migrations not yet recorded in `schema_migrations`. Idempotent.
pub async fn migrate(db: &impl Db, set: &[Migration]) -> Result<usize, StoreError> {
    db.batch(&[Statement::new(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)",
    )])
    .await?;
    let done = db.query(&Statement::new("SELECT name FROM schema_migrations")).await?;
    let done: Vec<String> = done.iter().filter_map(|r| r.text("name").ok()).collect();
    let mut applied = 0;
    for m in set.iter().filter(|m| !done.iter().any(|d| d == m.name)) {
        // The claim comes first: when two requests migrate a fresh database at once (Spin and
        // Workers run many instances), the later batch fails on it before running a statement
        // and rolls back; the earlier one applied the whole migration atomically.
        let mut stmts = vec![stmt!("INSERT INTO schema_migrations (name) VALUES (?1)", m.name)];
        stmts.extend(statements(m.sql).into_iter().map(Statement::new));
        match db.batch(&stmts).await {
            Ok(_) => applied += 1,
            Err(StoreError::Conflict(e)) => {
                let now = db.query(&stmt!("SELECT name FROM schema_migrations WHERE name = ?1", m.name)).await?;
                if now.is_empty() {
                    return Err(StoreError::Conflict(e));
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_split_on_semicolons_and_drop_comments() {
        let s = statements("-- hi\nCREATE TABLE a (x INT); -- c\n\nCREATE INDEX i ON a (x);\n");
        assert_eq!(s, vec!["CREATE TABLE a (x INT)", "CREATE INDEX i ON a (x)"]);
    }

    #[test]
    fn statements_tenant_schema_has_every_table() {
        let all = statements(TENANT[0].sql).join("\n");
        for t in
            ["plans", "subscribers", "ledger", "payments", "stk_requests", "callback_log", "change_feed", "occ_guard"]
        {
            assert!(all.contains(&format!("CREATE TABLE IF NOT EXISTS {t} ")), "{t}");
        }
    }
}

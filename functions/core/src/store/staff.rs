//! Staff users, API keys and the audit log of a tenant (tables of migration 0009).

use serde::Serialize;

use crate::db::{Db, Row, Statement, StoreError};
use crate::stmt;
use crate::usecases::staff::Role;

#[derive(Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct StaffUser {
    pub id: String,
    pub login: String,
    pub name: String,
    pub role: Role,
    #[serde(skip)]
    pub password_hash: String,
    pub active: bool,
    pub session_gen: i64,
    pub created_at: String,
    pub last_login_at: Option<String>,
}

impl std::fmt::Debug for StaffUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaffUser").field("id", &self.id).field("login", &self.login).field("role", &self.role).finish()
    }
}

fn role(r: &Row<'_>) -> Result<Role, StoreError> {
    Role::parse(&r.text("role")?).ok_or_else(|| StoreError::Corrupt("role".into()))
}

fn user_row(r: &Row<'_>) -> Result<StaffUser, StoreError> {
    Ok(StaffUser {
        id: r.text("id")?,
        login: r.text("login")?,
        name: r.text("name")?,
        role: role(r)?,
        password_hash: r.text("password_hash")?,
        active: r.bool("active")?,
        session_gen: r.int("session_gen")?,
        created_at: r.text("created_at")?,
        last_login_at: r.opt_text("last_login_at")?,
    })
}

const USER_COLS: &str = "id, login, name, role, password_hash, active, session_gen, created_at, last_login_at";

pub async fn user_by_login(db: &impl Db, login: &str) -> Result<Option<StaffUser>, StoreError> {
    let rows = db.query(&stmt!(format!("SELECT {USER_COLS} FROM staff_users WHERE login = ?1"), login)).await?;
    rows.first().map(|r| user_row(&r)).transpose()
}

pub async fn user(db: &impl Db, id: &str) -> Result<Option<StaffUser>, StoreError> {
    let rows = db.query(&stmt!(format!("SELECT {USER_COLS} FROM staff_users WHERE id = ?1"), id)).await?;
    rows.first().map(|r| user_row(&r)).transpose()
}

pub async fn users(db: &impl Db) -> Result<Vec<StaffUser>, StoreError> {
    let rows = db.query(&stmt!(format!("SELECT {USER_COLS} FROM staff_users ORDER BY login"))).await?;
    rows.iter().map(|r| user_row(&r)).collect()
}

pub fn insert_user(u: &StaffUser) -> Statement {
    stmt!(
        "INSERT INTO staff_users (id, login, name, role, password_hash, active, session_gen, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        &u.id,
        &u.login,
        &u.name,
        u.role.as_str(),
        &u.password_hash,
        u.active,
        u.session_gen,
        &u.created_at
    )
}

/// Sets role and active flag and ends the user's sessions.
pub fn set_user(id: &str, role: Role, active: bool) -> Statement {
    stmt!(
        "UPDATE staff_users SET role = ?2, active = ?3, session_gen = session_gen + 1 WHERE id = ?1",
        id,
        role.as_str(),
        active
    )
}

pub fn touch_login(id: &str, at: &str) -> Statement {
    stmt!("UPDATE staff_users SET last_login_at = ?2 WHERE id = ?1", id, at)
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    /// The first characters of the secret, to tell keys apart.
    pub prefix: String,
    pub role: Role,
    pub created_by: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

fn key_row(r: &Row<'_>) -> Result<ApiKey, StoreError> {
    Ok(ApiKey {
        id: r.text("id")?,
        name: r.text("name")?,
        prefix: r.text("prefix")?,
        role: role(r)?,
        created_by: r.text("created_by")?,
        created_at: r.text("created_at")?,
        revoked_at: r.opt_text("revoked_at")?,
    })
}

const KEY_COLS: &str = "id, name, prefix, role, created_by, created_at, revoked_at";

pub fn insert_key(k: &ApiKey, hash: &str) -> Statement {
    stmt!(
        "INSERT INTO api_keys (id, name, key_hash, prefix, role, created_by, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        &k.id,
        &k.name,
        hash,
        &k.prefix,
        k.role.as_str(),
        &k.created_by,
        &k.created_at
    )
}

pub fn revoke_key(id: &str, at: &str) -> Statement {
    stmt!("UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL", id, at)
}

pub async fn key(db: &impl Db, id: &str) -> Result<Option<ApiKey>, StoreError> {
    let rows = db.query(&stmt!(format!("SELECT {KEY_COLS} FROM api_keys WHERE id = ?1"), id)).await?;
    rows.first().map(|r| key_row(&r)).transpose()
}

pub async fn keys(db: &impl Db) -> Result<Vec<ApiKey>, StoreError> {
    let rows = db.query(&stmt!(format!("SELECT {KEY_COLS} FROM api_keys ORDER BY created_at DESC"))).await?;
    rows.iter().map(|r| key_row(&r)).collect()
}

/// The active (not revoked) key whose secret is `secret`: looked up by the secret's SHA-256.
pub async fn key_by_secret(db: &impl Db, secret: &str) -> Result<Option<ApiKey>, StoreError> {
    let hash = crate::usecases::tenants::token_hash(secret);
    let rows = db
        .query(&stmt!(format!("SELECT {KEY_COLS} FROM api_keys WHERE key_hash = ?1 AND revoked_at IS NULL"), hash))
        .await?;
    rows.first().map(|r| key_row(&r)).transpose()
}

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// An audit row; put it in the same batch as the change it records.
pub fn audit(
    at: &str,
    actor: &str,
    action: &str,
    target: &str,
    before: Option<&serde_json::Value>,
    after: Option<&serde_json::Value>,
) -> Statement {
    stmt!(
        "INSERT INTO audit_log (at, actor, action, target, before, after) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        at,
        actor,
        action,
        target,
        before.map(|v| v.to_string()),
        after.map(|v| v.to_string())
    )
}

pub async fn audit_list(db: &impl Db, limit: i64, offset: i64) -> Result<Vec<AuditEntry>, StoreError> {
    let rows = db
        .query(&stmt!(
            "SELECT id, at, actor, action, target, before, after FROM audit_log ORDER BY id DESC LIMIT ?1 OFFSET ?2",
            limit,
            offset
        ))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(AuditEntry {
                id: r.int("id")?,
                at: r.text("at")?,
                actor: r.text("actor")?,
                action: r.text("action")?,
                target: r.text("target")?,
                before: r.opt_text("before")?,
                after: r.opt_text("after")?,
            })
        })
        .collect()
}

//! Staff of one tenant: roles and what each may do, sign-in, users, named API keys, the audit log.
//!
//! [`ROLE_TABLE`] is the one statement of who may do what: the console pages and the admin API
//! both ask [`allowed`], and the e2e suite walks the same table against every route.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::db::Db;
use crate::domain::password;
use crate::domain::time::fmt_ts;
use crate::ids::IdGen;
use crate::store::staff::{self, ApiKey, StaffUser};
use crate::store::throttle::{self, Limit};
use crate::usecases::UseCaseError;

/// A staff member's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, including settings, users and API keys.
    Owner,
    /// Subscribers, payments, vouchers.
    Staff,
    /// A reseller: sells and prints vouchers of their own batches, sees their own sales.
    Agent,
    /// Sees what staff see; changes nothing.
    ReadOnly,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Owner, Role::Staff, Role::Agent, Role::ReadOnly];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Staff => "staff",
            Role::Agent => "agent",
            Role::ReadOnly => "readonly",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// Everything a role may or may not do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Dashboard: MRR, forecast, collections.
    ViewDashboard,
    /// Subscribers, their ledgers, plans, payments, unmatched inbox.
    ViewBilling,
    /// Create and edit subscribers, suspend/resume, change plan.
    EditSubscribers,
    /// Record cash, assign an unmatched payment, send an STK prompt.
    TakeMoney,
    /// Create or change plans.
    EditPlans,
    /// Callbacks log, routers' reports, who is online, usage.
    ViewNetwork,
    /// Confirm the disables the reconciler's mass-disable guard holds on a router.
    ConfirmDisables,
    /// Voucher batches: list and print.
    ViewVouchers,
    /// Create voucher batches.
    SellVouchers,
    /// The SMS outbox, its delivery reports and costs.
    ViewSms,
    /// Broadcasts, and sending a failed transactional message again.
    SendSms,
    /// CSV export of subscribers and payments.
    Export,
    /// Tenant settings (Daraja credentials, grace, sweep ages, branding) and operations (sweep,
    /// C2B registration, feed).
    Settings,
    /// Users and API keys.
    ManageUsers,
    /// The audit log.
    ViewAudit,
    /// Subscribers' support tickets: list and read the threads.
    ViewTickets,
    /// Reply to and close support tickets.
    AnswerTickets,
}

use Action as A;
use Role as Ro;

/// Who may do what. The pages and the admin API consult only this.
pub const ROLE_TABLE: &[(Action, &[Role])] = &[
    (A::ViewDashboard, &[Ro::Owner, Ro::Staff, Ro::ReadOnly]),
    (A::ViewBilling, &[Ro::Owner, Ro::Staff, Ro::ReadOnly]),
    (A::EditSubscribers, &[Ro::Owner, Ro::Staff]),
    (A::TakeMoney, &[Ro::Owner, Ro::Staff]),
    (A::EditPlans, &[Ro::Owner]),
    (A::ViewNetwork, &[Ro::Owner, Ro::Staff, Ro::ReadOnly]),
    (A::ConfirmDisables, &[Ro::Owner, Ro::Staff]),
    (A::ViewVouchers, &[Ro::Owner, Ro::Staff, Ro::Agent, Ro::ReadOnly]),
    (A::SellVouchers, &[Ro::Owner, Ro::Staff, Ro::Agent]),
    (A::ViewSms, &[Ro::Owner, Ro::Staff, Ro::ReadOnly]),
    (A::SendSms, &[Ro::Owner, Ro::Staff]),
    (A::Export, &[Ro::Owner, Ro::Staff, Ro::ReadOnly]),
    (A::Settings, &[Ro::Owner]),
    (A::ManageUsers, &[Ro::Owner]),
    (A::ViewAudit, &[Ro::Owner]),
    (A::ViewTickets, &[Ro::Owner, Ro::Staff, Ro::ReadOnly]),
    (A::AnswerTickets, &[Ro::Owner, Ro::Staff]),
];

/// Whether `role` may do `action` (an action missing from the table is refused to everyone).
pub fn allowed(role: Role, action: Action) -> bool {
    ROLE_TABLE.iter().any(|(a, roles)| *a == action && roles.contains(&role))
}

/// Failed sign-ins allowed per login name in 15 minutes before sign-in is refused for the rest of
/// the window (counted in the tenant's database, so it holds on every platform).
pub const LOGIN_LIMIT: Limit = Limit { limit: 5, window_seconds: 900 };

/// How a sign-in ended.
#[derive(Debug)]
pub enum SignIn {
    Ok(StaffUser),
    Wrong,
    Throttled { retry_after_seconds: i64 },
}

/// Checks a login and password; counts failures per login ([`LOGIN_LIMIT`]).
pub async fn sign_in(db: &impl Db, login: &str, pass: &str, now: DateTime<Utc>) -> Result<SignIn, UseCaseError> {
    let login = login.trim().to_ascii_lowercase();
    let key = format!("console-login-fail:{login}");
    if let throttle::Verdict::Limited { retry_after_seconds } = throttle::check(db, &key, LOGIN_LIMIT, now).await? {
        return Ok(SignIn::Throttled { retry_after_seconds });
    }
    let user = staff::user_by_login(db, &login).await?.filter(|u| u.active);
    let hash = user.as_ref().map_or(password::dummy_hash(), |u| u.password_hash.as_str());
    let ok = password::verify(pass, hash) && user.is_some();
    match (ok, user) {
        (true, Some(u)) => {
            db.batch(&[throttle::reset(&key, LOGIN_LIMIT, now), staff::touch_login(&u.id, &fmt_ts(now))]).await?;
            Ok(SignIn::Ok(u))
        }
        _ => {
            db.batch(&[throttle::bump(&key, LOGIN_LIMIT, now)]).await?;
            Ok(SignIn::Wrong)
        }
    }
}

fn salt(ids: &mut IdGen) -> [u8; 16] {
    let t = ids.token(32);
    let mut s = [0u8; 16];
    if let Ok(b) = hex::decode(t) {
        s.copy_from_slice(&b[..16]);
    }
    s
}

/// Creates a staff user (audited as `actor`).
#[allow(clippy::too_many_arguments)]
pub async fn create_user(
    db: &impl Db,
    actor: &str,
    login: &str,
    name: &str,
    role: Role,
    pass: &str,
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Result<StaffUser, UseCaseError> {
    let login = login.trim().to_ascii_lowercase();
    if login.len() < 3 || login.len() > 100 || login.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(UseCaseError::Invalid("login must be 3-100 characters without spaces".into()));
    }
    let name = name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(UseCaseError::Invalid("name must be 1-100 characters".into()));
    }
    let hash = password::hash(pass, &salt(ids)).map_err(|e| UseCaseError::Invalid(e.to_string()))?;
    let u = StaffUser {
        id: ids.uuid(),
        login,
        name: name.to_owned(),
        role,
        password_hash: hash,
        active: true,
        session_gen: 0,
        created_at: fmt_ts(now),
        last_login_at: None,
    };
    let after = serde_json::json!({"login": u.login, "name": u.name, "role": role.as_str()});
    db.batch(&[staff::insert_user(&u), staff::audit(&fmt_ts(now), actor, "user.create", &u.login, None, Some(&after))])
        .await
        .map_err(|e| match e {
            crate::db::StoreError::Conflict(_) => UseCaseError::Conflict("a user with that login exists".into()),
            e => e.into(),
        })?;
    Ok(u)
}

/// Changes a user's role or switches them off; either ends their sessions.
pub async fn set_user(
    db: &impl Db,
    actor: &str,
    id: &str,
    role: Role,
    active: bool,
    now: DateTime<Utc>,
) -> Result<(), UseCaseError> {
    let u = staff::user(db, id).await?.ok_or(UseCaseError::NotFound("user"))?;
    let before = serde_json::json!({"role": u.role.as_str(), "active": u.active});
    let after = serde_json::json!({"role": role.as_str(), "active": active});
    db.batch(&[
        staff::set_user(id, role, active),
        staff::audit(&fmt_ts(now), actor, "user.update", &u.login, Some(&before), Some(&after)),
    ])
    .await?;
    Ok(())
}

/// A new API key and its secret, shown once.
#[derive(Debug, Serialize)]
pub struct NewKey {
    pub key: ApiKey,
    pub secret: String,
}

/// Creates a named API key with `role`; only its hash is stored.
pub async fn create_key(
    db: &impl Db,
    actor: &str,
    name: &str,
    role: Role,
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Result<NewKey, UseCaseError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(UseCaseError::Invalid("name must be 1-100 characters".into()));
    }
    let secret = format!("kk_{}", ids.token(48));
    let key = ApiKey {
        id: ids.uuid(),
        name: name.to_owned(),
        prefix: secret[..9].to_owned(),
        role,
        created_by: actor.to_owned(),
        created_at: fmt_ts(now),
        revoked_at: None,
    };
    let after = serde_json::json!({"name": key.name, "role": role.as_str(), "prefix": key.prefix});
    db.batch(&[
        staff::insert_key(&key, &crate::usecases::tenants::token_hash(&secret)),
        staff::audit(&fmt_ts(now), actor, "api_key.create", &key.name, None, Some(&after)),
    ])
    .await?;
    Ok(NewKey { key, secret })
}

/// Revokes an API key (it stops working at once).
pub async fn revoke_key(db: &impl Db, actor: &str, id: &str, now: DateTime<Utc>) -> Result<(), UseCaseError> {
    let k = staff::key(db, id).await?.ok_or(UseCaseError::NotFound("api key"))?;
    if k.revoked_at.is_some() {
        return Ok(());
    }
    db.batch(&[
        staff::revoke_key(id, &fmt_ts(now)),
        staff::audit(
            &fmt_ts(now),
            actor,
            "api_key.revoke",
            &k.name,
            Some(&serde_json::json!({"revoked": false})),
            Some(&serde_json::json!({"revoked": true})),
        ),
    ])
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestDb, run};
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 4, 9, 0, 0).single().expect("valid")
    }

    fn ids() -> IdGen {
        IdGen::new(&crate::Ctx { now: now(), entropy: [9; 32] })
    }

    #[test]
    fn role_table_owner_does_all_readonly_changes_nothing_agent_only_vouchers() {
        for (a, _) in ROLE_TABLE {
            assert!(allowed(Role::Owner, *a), "{a:?}");
        }
        for a in
            [A::EditSubscribers, A::TakeMoney, A::EditPlans, A::SellVouchers, A::SendSms, A::Settings, A::ManageUsers]
        {
            assert!(!allowed(Role::ReadOnly, a), "{a:?}");
        }
        let agent: Vec<_> = ROLE_TABLE.iter().filter(|(a, _)| allowed(Role::Agent, *a)).map(|(a, _)| *a).collect();
        assert_eq!(agent, vec![A::ViewVouchers, A::SellVouchers]);
        assert!(!allowed(Role::Staff, A::ManageUsers) && !allowed(Role::Staff, A::Settings));
        assert!(allowed(Role::Staff, A::SendSms) && allowed(Role::ReadOnly, A::ViewSms));
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
    }

    #[test]
    fn sign_in_accepts_the_password_refuses_others_and_throttles_after_five_failures() {
        let db = TestDb::tenant();
        let mut ids = ids();
        run(async {
            create_user(&db, "test", "Owner@Demo", "Owner", Role::Owner, "demo-owner-pass", &mut ids, now())
                .await
                .expect("create");
            assert!(matches!(sign_in(&db, "owner@demo", "demo-owner-pass", now()).await, Ok(SignIn::Ok(_))));
            assert!(matches!(sign_in(&db, "nobody@demo", "demo-owner-pass", now()).await, Ok(SignIn::Wrong)));
            for _ in 0..5 {
                assert!(matches!(sign_in(&db, "owner@demo", "wrong-pass", now()).await, Ok(SignIn::Wrong)));
            }
            let r = sign_in(&db, "owner@demo", "demo-owner-pass", now()).await;
            assert!(matches!(r, Ok(SignIn::Throttled { .. })), "{r:?}");
            let later = now() + chrono::Duration::seconds(900);
            assert!(matches!(sign_in(&db, "owner@demo", "demo-owner-pass", later).await, Ok(SignIn::Ok(_))));
            let dup = create_user(&db, "test", "owner@demo", "X", Role::Staff, "another-pass", &mut ids, now()).await;
            assert!(matches!(dup, Err(UseCaseError::Conflict(_))));
            let log = staff::audit_list(&db, 10, 0).await.expect("audit");
            assert_eq!(log.len(), 1);
            assert_eq!(log[0].action, "user.create");
        });
    }

    #[test]
    fn api_key_is_stored_hashed_found_by_secret_and_revocable() {
        let db = TestDb::tenant();
        let mut ids = ids();
        run(async {
            let k = create_key(&db, "owner@demo", "billing script", Role::Staff, &mut ids, now()).await.expect("key");
            let rows = db.query(&crate::stmt!("SELECT key_hash FROM api_keys")).await.expect("q");
            let stored = rows.first().expect("row").text("key_hash").expect("text");
            assert_ne!(stored, k.secret);
            let found = staff::key_by_secret(&db, &k.secret).await.expect("find").expect("active");
            assert_eq!(found.role, Role::Staff);
            revoke_key(&db, "owner@demo", &k.key.id, now()).await.expect("revoke");
            assert!(staff::key_by_secret(&db, &k.secret).await.expect("find").is_none());
            assert_eq!(staff::audit_list(&db, 10, 0).await.expect("audit").len(), 2);
        });
    }
}

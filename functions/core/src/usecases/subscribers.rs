//! Subscribers: creating them, and every change an operator makes (profile, plan, suspend).

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::db::{Db, Statement, StoreError};
use crate::domain::Msisdn;
use crate::domain::names::{AccountNo, Username};
use crate::domain::subscriber::Status;
use crate::domain::time::fmt_ts;
use crate::ids::IdGen;
use crate::store::{feed, occ_bump, plans, subscribers};
use crate::usecases::credit::feed_payload;
use crate::usecases::{UseCaseError, retry_races};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SubscriberInput {
    #[schemars(length(min = 1))]
    pub name: String,
    /// plan id or code
    pub plan: String,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub account_no: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    /// the PPPoE secret: 6-64 printable ASCII characters (made up when absent)
    #[serde(default)]
    #[schemars(length(min = 6, max = 64), pattern(r"^[\x21-\x7e]*$"))]
    pub password: Option<String>,
    #[serde(default)]
    pub site: Option<String>,
    #[serde(default)]
    pub static_ip: Option<String>,
    #[serde(default)]
    pub auto_renew: Option<bool>,
}

fn parse_phone(p: Option<&str>) -> Result<Option<Msisdn>, UseCaseError> {
    match p.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => Msisdn::parse(s).map(Some).map_err(|e| UseCaseError::Invalid(e.to_string())),
    }
}

fn parse_ip(ip: Option<&str>) -> Result<Option<String>, UseCaseError> {
    match ip.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s
            .parse::<std::net::Ipv4Addr>()
            .map(|a| Some(a.to_string()))
            .map_err(|_| UseCaseError::Invalid("static_ip must be an IPv4 address".into())),
    }
}

pub async fn create_subscriber(
    db: &impl Db,
    input: SubscriberInput,
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Result<subscribers::WithBalance, UseCaseError> {
    if input.name.trim().is_empty() {
        return Err(UseCaseError::Invalid("name is required".into()));
    }
    let plan = plans::get(db, &input.plan).await?.ok_or(UseCaseError::Invalid("unknown plan".into()))?;
    let account_no = match input.account_no.as_deref() {
        Some(a) => AccountNo::parse(a).map_err(|e| UseCaseError::Invalid(e.to_string()))?,
        None => AccountNo::from_stored(format!("K{}", ids.digits(6))),
    };
    let username = match input.username.as_deref() {
        Some(u) => Username::parse(u).map_err(|e| UseCaseError::Invalid(e.to_string()))?,
        // An account number (letters and digits) is always a valid username in lower case.
        None => Username::from_stored(account_no.to_ascii_lowercase()),
    };
    let password = match input.password {
        Some(p) if (6..=64).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_graphic()) => p,
        Some(_) => {
            return Err(UseCaseError::Invalid("password must be 6-64 printable ASCII characters".into()));
        }
        None => ids.token(10),
    };
    let s = subscribers::Subscriber {
        id: ids.uuid(),
        account_no,
        name: input.name.trim().to_owned(),
        phone: parse_phone(input.phone.as_deref())?,
        username,
        password,
        site: input.site.filter(|s| !s.trim().is_empty()),
        static_ip: parse_ip(input.static_ip.as_deref())?,
        plan_id: plan.id.clone(),
        status: Status::Pending,
        expires_at: None,
        auto_renew: input.auto_renew.unwrap_or(true),
        version: 0,
        created_at: now,
    };
    let wb = subscribers::WithBalance { subscriber: s.clone(), balance_cents: 0 };
    let payload = feed_payload(&wb, &plan.code, "pending", None);
    db.batch(&[subscribers::insert(&s), feed::append(Some(&s.id), feed::kind::CREATED, &payload, &fmt_ts(now))])
        .await
        .map_err(|e| match e {
            StoreError::Conflict(m) => {
                UseCaseError::Conflict(format!("account number or username already taken ({m})"))
            }
            e => e.into(),
        })?;
    Ok(wb)
}

#[derive(Debug, Deserialize, Default, schemars::JsonSchema)]
pub struct SubscriberPatch {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub password: Option<String>,
    pub site: Option<String>,
    pub static_ip: Option<String>,
    pub auto_renew: Option<bool>,
    /// Plan change: takes effect on the network at once; the new price applies from the next renewal.
    pub plan: Option<String>,
    /// `suspended` or `active` (resume).
    #[schemars(extend("enum" = ["suspended", "active", null]))]
    pub status: Option<String>,
}

pub async fn update_subscriber(
    db: &impl Db,
    id: &str,
    patch: SubscriberPatch,
    now: DateTime<Utc>,
) -> Result<subscribers::WithBalance, UseCaseError> {
    let updated = retry_races!(UseCaseError, {
        let cur = subscribers::get(db, id).await?.ok_or(UseCaseError::NotFound("subscriber"))?;
        let mut s = cur.subscriber.clone();
        if let Some(n) = &patch.name {
            if n.trim().is_empty() {
                return Err(UseCaseError::Invalid("name is required".into()));
            }
            s.name = n.trim().to_owned();
        }
        if patch.phone.is_some() {
            s.phone = parse_phone(patch.phone.as_deref())?;
        }
        if let Some(p) = &patch.password {
            if !(6..=64).contains(&p.len()) || !p.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(UseCaseError::Invalid("password must be 6-64 printable ASCII characters".into()));
            }
            s.password = p.clone();
        }
        if let Some(site) = &patch.site {
            s.site = Some(site.clone()).filter(|x| !x.trim().is_empty());
        }
        if patch.static_ip.is_some() {
            s.static_ip = parse_ip(patch.static_ip.as_deref())?;
        }
        if let Some(a) = patch.auto_renew {
            s.auto_renew = a;
        }
        let mut plan = plans::get(db, &s.plan_id).await?.ok_or(UseCaseError::NotFound("plan"))?;
        let mut kinds = Vec::new();
        if let Some(code) = &patch.plan {
            let new_plan = plans::get(db, code).await?.ok_or(UseCaseError::Invalid("unknown plan".into()))?;
            if new_plan.id != s.plan_id {
                s.plan_id = new_plan.id.clone();
                plan = new_plan;
                kinds.push(feed::kind::PLAN_CHANGED);
            }
        }
        let mut status = s.status;
        let mut expires = s.expires_at;
        // A paused account is suspended by its pause, its paid time banked. The operator's word on
        // its status ends the pause: the banked time runs again from now, online ("active") or
        // not ("suspended", which the subscriber can then not undo by resuming).
        let x = crate::store::self_service::extras(db, id).await?;
        let banked = x.paused_at.as_ref().map(|_| x.paused_seconds_left.unwrap_or(0).max(0));
        let mut end_pause = false;
        if let (Some(st @ ("active" | "suspended")), Some(left)) = (patch.status.as_deref(), banked) {
            end_pause = true;
            expires = Some(now + chrono::Duration::seconds(left));
            if st == "active" {
                status = Status::Active;
                kinds.push(feed::kind::RESUMED);
            } else {
                status = Status::Suspended;
                kinds.push(feed::kind::SUSPENDED);
            }
        }
        match patch.status.as_deref() {
            _ if end_pause => {}
            None => {}
            Some("suspended") if s.status != Status::Suspended => {
                status = Status::Suspended;
                kinds.push(feed::kind::SUSPENDED);
            }
            Some("active") if s.status == Status::Suspended => {
                // Resume: back to what the paid period says.
                status = match s.expires_at {
                    Some(e) if e > now => Status::Active,
                    Some(_) => Status::Expired,
                    None => Status::Pending,
                };
                kinds.push(feed::kind::RESUMED);
            }
            Some("suspended") | Some("active") => {}
            Some(other) => {
                return Err(UseCaseError::Invalid(format!("status can be set to suspended or active, not {other}")));
            }
        }
        if status == Status::Expired {
            expires = s.expires_at;
        }
        let profile_changed = s != cur.subscriber;
        if profile_changed && kinds.is_empty() {
            kinds.push(feed::kind::UPDATED);
        }
        let mut batch: Vec<Statement> = occ_bump(id, cur.subscriber.version).into();
        batch.push(subscribers::set_profile(&s));
        batch.push(subscribers::set_state(id, status, expires));
        if end_pause {
            batch.push(crate::store::self_service::clear_pause(id));
        }
        let after = subscribers::WithBalance { subscriber: s.clone(), balance_cents: cur.balance_cents };
        let payload = feed_payload(&after, &plan.code, status.as_str(), expires);
        for k in &kinds {
            batch.push(feed::append(Some(id), k, &payload, &fmt_ts(now)));
        }
        db.batch(&batch).await?;
        subscribers::get(db, id).await?.ok_or(UseCaseError::NotFound("subscriber"))
    })
    .await?;
    updated.ok_or_else(|| UseCaseError::Conflict("subscriber is being changed by someone else; try again".into()))
}

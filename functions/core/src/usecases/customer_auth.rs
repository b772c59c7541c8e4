//! Subscriber sign-in for the customer API and the portal: a one-time code by SMS, or an account
//! number (or PPPoE username) and portal password; short signed access tokens checked without a
//! database read; refresh tokens stored hashed, rotated on use and revocable.
//!
//! - An OTP is 6 digits, stored only as `HMAC(otp key, challenge id || code)`, valid 5 minutes,
//!   [`OTP_MAX_ATTEMPTS`] wrong tries per challenge. The SMS is queued in the same batch as the
//!   challenge (no challenge without its message, no message without its challenge).
//! - An unknown phone or account gets the same answer as a known one (a challenge id that
//!   never verifies), so the endpoint does not tell who is a customer.
//! - Sends, wrong codes and wrong passwords are throttled per phone or login, per client IP and
//!   per tenant, in the tenant's database ([`crate::store::throttle`]), so it holds on every platform.
//! - An access token lives [`ACCESS_SECONDS`]; ending a sign-in (logout, a reused refresh token, a
//!   new password) revokes its refresh tokens at once, and its access tokens run out within that time.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::db::{Db, StoreError};
use crate::domain::time::{fmt_ts, parse_ts};
use crate::domain::{Msisdn, password};
use crate::ids::IdGen;
use crate::platform::Settings;
use crate::secret::constant_time_eq;
use crate::store::customer::{self, Challenge, Refresh};
use crate::store::sms;
use crate::store::subscribers::{self, WithBalance};
use crate::store::throttle::{self, Limit, Verdict};
use crate::usecases::tenants::token_hash;
use crate::web::session::{self, Expiring};

/// How long an access token is good for.
pub const ACCESS_SECONDS: i64 = 15 * 60;
/// How long a refresh token is good for (each use gives a new one).
pub const REFRESH_SECONDS: i64 = 30 * 86_400;
/// How long a one-time code is good for.
pub const OTP_SECONDS: i64 = 5 * 60;
/// Wrong codes allowed per challenge; then it is dead.
pub const OTP_MAX_ATTEMPTS: i64 = 5;

/// Codes sent to one phone: 3 per 15 minutes.
pub const OTP_SEND_PHONE: Limit = Limit { limit: 3, window_seconds: 900 };
/// Codes asked for from one client address: 10 an hour.
pub const OTP_SEND_IP: Limit = Limit { limit: 10, window_seconds: 3600 };
/// Codes sent by one tenant: 500 an hour (an SMS costs money).
pub const OTP_SEND_TENANT: Limit = Limit { limit: 500, window_seconds: 3600 };
/// Wrong codes or passwords from one client address: 20 per 15 minutes.
pub const FAIL_IP: Limit = Limit { limit: 20, window_seconds: 900 };
/// Wrong passwords for one login: 5 per 15 minutes.
pub const FAIL_LOGIN: Limit = Limit { limit: 5, window_seconds: 900 };
/// Wrong codes or passwords in one tenant: 300 per 15 minutes.
pub const FAIL_TENANT: Limit = Limit { limit: 300, window_seconds: 900 };

/// The keys of one tenant's sign-in, derived from the platform secret.
pub struct Keys {
    pub access: [u8; 32],
    otp: [u8; 32],
}

impl Keys {
    /// `None` when the deployment has no platform secret (sign-in is then off).
    pub fn of(settings: &Settings, realm: &str) -> Option<Keys> {
        let secret = settings.voucher_secret.expose();
        if secret.is_empty() {
            return None;
        }
        Some(Keys {
            access: session::derive_key(secret, "customer-access", realm),
            otp: session::derive_key(secret, "customer-otp", realm),
        })
    }

    fn code_hash(&self, challenge_id: &str, code: &str) -> String {
        let mut data = challenge_id.as_bytes().to_vec();
        data.push(0);
        data.extend_from_slice(code.as_bytes());
        session::sign(&self.otp, &hex::encode(data))
    }
}

/// What an access token says: the subscriber, the sign-in (refresh family) and the expiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Access {
    pub sub: String,
    pub sid: String,
    pub exp: i64,
}

impl Expiring for Access {
    fn expires_at(&self) -> i64 {
        self.exp
    }
}

/// Checks an access token: signature and expiry only, no database.
pub fn verify_access(keys: &Keys, token: &str, now: DateTime<Utc>) -> Option<Access> {
    session::verify::<Access>(&keys.access, token, now.timestamp())
}

/// Why a sign-in step did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Wrong, expired or used code; wrong login or password; unknown or revoked refresh token.
    #[error("{0}")]
    Refused(&'static str),
    #[error("too many attempts; try again in {0} seconds")]
    Throttled(i64),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Tokens handed out by a successful sign-in or refresh.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Tokens {
    pub access_token: String,
    #[schemars(extend("enum" = ["Bearer"]))]
    pub token_type: &'static str,
    pub expires_in: i64,
    pub refresh_token: String,
    pub refresh_expires_in: i64,
    pub subscriber_id: String,
}

/// phone or account: the code goes to the phone on file
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("minProperties" = 1))]
pub struct OtpInput {
    #[serde(default)]
    #[schemars(schema_with = "crate::openapi::field::phone")]
    pub phone: Option<String>,
    #[serde(default)]
    #[schemars(length(min = 1, max = 64))]
    pub account: Option<String>,
}

/// The same shape whether or not anyone was found.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct OtpSent {
    pub challenge_id: String,
    pub expires_in: i64,
}

async fn limited(db: &impl Db, checks: &[(String, Limit)], now: DateTime<Utc>) -> Result<Option<i64>, StoreError> {
    for (key, lim) in checks {
        if let Verdict::Limited { retry_after_seconds } = throttle::check(db, key, *lim, now).await? {
            return Ok(Some(retry_after_seconds));
        }
    }
    Ok(None)
}

/// Finds a subscriber by account number or PPPoE username (never by internal id).
pub async fn by_login(db: &impl Db, login: &str) -> Result<Option<WithBalance>, StoreError> {
    let login = login.trim();
    if login.is_empty() || login.len() > 100 {
        return Ok(None);
    }
    let canonical = crate::domain::names::canonical_account(login);
    if !canonical.is_empty()
        && let Some(s) = subscribers::by_account(db, &canonical).await?
    {
        return Ok(Some(s));
    }
    subscribers::by_username(db, login).await
}

fn otp_message(lang: &str, tenant_name: &str, code: &str) -> String {
    if lang == "sw" {
        format!("{tenant_name}: nambari yako ya kuingia ni {code}. Itaisha baada ya dakika 5. Usimpe mtu yeyote.")
    } else {
        format!("{tenant_name}: your sign-in code is {code}. It expires in 5 minutes. Do not share it.")
    }
}

/// `POST auth/otp`: queues a code by SMS to the subscriber's phone on file.
#[allow(clippy::too_many_arguments)]
pub async fn send_otp(
    db: &impl Db,
    keys: &Keys,
    tenant: &crate::store::tenants::Tenant,
    input: &OtpInput,
    ip: &str,
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Result<OtpSent, AuthError> {
    let (sub, phone_key) = match (&input.phone, &input.account) {
        (Some(p), None) => {
            let m = Msisdn::parse(p).map_err(|e| AuthError::Invalid(e.to_string()))?;
            (subscribers::by_phone_unique(db, m.as_str()).await?, m.as_str().to_owned())
        }
        (None, Some(a)) => {
            let s = by_login(db, a).await?;
            let key = s
                .as_ref()
                .and_then(|s| s.subscriber.phone.as_ref().map(|m| m.to_string()))
                .unwrap_or_else(|| a.trim().to_lowercase());
            (s, key)
        }
        _ => return Err(AuthError::Invalid("give exactly one of `phone` or `account`".into())),
    };
    let limits = [
        (format!("otp-send:phone:{phone_key}"), OTP_SEND_PHONE),
        (format!("otp-send:ip:{ip}"), OTP_SEND_IP),
        ("otp-send:tenant".to_owned(), OTP_SEND_TENANT),
    ];
    if let Some(retry) = limited(db, &limits, now).await? {
        return Err(AuthError::Throttled(retry));
    }
    let mut batch: Vec<_> = limits.iter().map(|(k, l)| throttle::bump(k, *l, now)).collect();
    let challenge_id = ids.uuid();
    let at = fmt_ts(now);
    let usable = sub.filter(|s| s.subscriber.id != crate::store::hotspot_sales::SALES_ACCOUNT_ID);
    if let Some((s, phone)) = usable.and_then(|s| s.subscriber.phone.clone().map(|p| (s, p))) {
        let code = ids.digits(6);
        let lang = customer::profile(db, &s.subscriber.id)
            .await?
            .language
            .unwrap_or_else(|| tenant.settings.default_language.clone());
        let c = Challenge {
            id: challenge_id.clone(),
            subscriber_id: s.subscriber.id.clone(),
            msisdn: phone.to_string(),
            code_hash: keys.code_hash(&challenge_id, &code),
            attempts: 0,
            expires_at: fmt_ts(now + Duration::seconds(OTP_SECONDS)),
            used_at: None,
        };
        batch.push(customer::insert_challenge(&c, &at));
        // A code is worthless once it expires: never sent after that (SMS turned on late, provider down).
        batch.push(sms::enqueue_until(
            &ids.uuid(),
            phone.as_str(),
            &otp_message(&lang, &tenant.name, &code),
            &lang,
            &at,
            &c.expires_at,
        ));
    }
    db.batch(&batch).await?;
    Ok(OtpSent { challenge_id, expires_in: OTP_SECONDS })
}

/// Counts one failure (wrong code or password) per IP, per tenant and per `extra` key.
fn fail_statements(ip: &str, extra: Option<&str>, now: DateTime<Utc>) -> Vec<crate::db::Statement> {
    let mut v = vec![
        throttle::bump(&format!("auth-fail:ip:{ip}"), FAIL_IP, now),
        throttle::bump("auth-fail:tenant", FAIL_TENANT, now),
    ];
    if let Some(k) = extra {
        v.push(throttle::bump(k, FAIL_LOGIN, now));
    }
    v
}

fn fail_checks(ip: &str, extra: Option<&str>) -> Vec<(String, Limit)> {
    let mut v = vec![(format!("auth-fail:ip:{ip}"), FAIL_IP), ("auth-fail:tenant".to_owned(), FAIL_TENANT)];
    if let Some(k) = extra {
        v.push((k.to_owned(), FAIL_LOGIN));
    }
    v
}

fn new_refresh(subscriber_id: &str, family: &str, ids: &mut IdGen, now: DateTime<Utc>) -> (String, Refresh) {
    let token = format!("kr_{}", ids.token(64));
    let r = Refresh {
        token_hash: token_hash(&token),
        subscriber_id: subscriber_id.to_owned(),
        family: family.to_owned(),
        expires_at: fmt_ts(now + Duration::seconds(REFRESH_SECONDS)),
        revoked_at: None,
    };
    (token, r)
}

fn tokens(keys: &Keys, subscriber_id: &str, family: &str, refresh_token: String, now: DateTime<Utc>) -> Tokens {
    let access =
        Access { sub: subscriber_id.to_owned(), sid: family.to_owned(), exp: now.timestamp() + ACCESS_SECONDS };
    Tokens {
        access_token: session::sign(&keys.access, &access),
        token_type: "Bearer",
        expires_in: ACCESS_SECONDS,
        refresh_token,
        refresh_expires_in: REFRESH_SECONDS,
        subscriber_id: subscriber_id.to_owned(),
    }
}

/// `POST auth/otp/verify`: a right code signs in, once.
pub async fn verify_otp(
    db: &impl Db,
    keys: &Keys,
    challenge_id: &str,
    code: &str,
    ip: &str,
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Result<Tokens, AuthError> {
    if let Some(retry) = limited(db, &fail_checks(ip, None), now).await? {
        return Err(AuthError::Throttled(retry));
    }
    let refused = AuthError::Refused("wrong or expired code");
    let code = code.trim();
    let c = match customer::challenge(db, challenge_id.trim()).await? {
        Some(c) => c,
        None => {
            db.batch(&fail_statements(ip, None, now)).await?;
            return Err(refused);
        }
    };
    let live = c.used_at.is_none() && c.attempts < OTP_MAX_ATTEMPTS && parse_ts(&c.expires_at).is_some_and(|e| e > now);
    let right = constant_time_eq(keys.code_hash(&c.id, code).as_bytes(), c.code_hash.as_bytes());
    if !live || !right {
        let mut batch = fail_statements(ip, None, now);
        if !right {
            batch.push(customer::bump_attempts(&c.id));
        }
        db.batch(&batch).await?;
        return Err(refused);
    }
    let family = ids.uuid();
    let (token, r) = new_refresh(&c.subscriber_id, &family, ids, now);
    let at = fmt_ts(now);
    let mut batch = customer::use_challenge(&c.id, &at).to_vec();
    batch.push(customer::insert_refresh(&r, &at));
    match db.batch(&batch).await {
        Ok(_) => Ok(tokens(keys, &c.subscriber_id, &family, token, now)),
        Err(StoreError::Conflict(_)) => Err(refused),
        Err(e) => Err(e.into()),
    }
}

/// `POST auth/login`: account number or PPPoE username, and the portal password.
pub async fn login(
    db: &impl Db,
    keys: &Keys,
    login: &str,
    pass: &str,
    ip: &str,
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Result<Tokens, AuthError> {
    let login_key = format!("auth-fail:login:{}", login.trim().to_lowercase());
    if let Some(retry) = limited(db, &fail_checks(ip, Some(&login_key)), now).await? {
        return Err(AuthError::Throttled(retry));
    }
    let sub = by_login(db, login).await?;
    let hash = match &sub {
        Some(s) => customer::profile(db, &s.subscriber.id).await?.portal_password_hash,
        None => None,
    };
    let ok = password::verify(pass, hash.as_deref().unwrap_or(password::dummy_hash())) && hash.is_some();
    let Some(s) = sub.filter(|_| ok) else {
        db.batch(&fail_statements(ip, Some(&login_key), now)).await?;
        return Err(AuthError::Refused("wrong account or password (no password yet? sign in with a code by SMS)"));
    };
    let family = ids.uuid();
    let (token, r) = new_refresh(&s.subscriber.id, &family, ids, now);
    db.batch(&[throttle::reset(&login_key, FAIL_LOGIN, now), customer::insert_refresh(&r, &fmt_ts(now))]).await?;
    Ok(tokens(keys, &s.subscriber.id, &family, token, now))
}

/// `POST auth/refresh`: swaps a refresh token for new tokens. The old one stops working; using
/// an old one again ends the whole sign-in (someone else has it).
pub async fn refresh(
    db: &impl Db,
    keys: &Keys,
    token: &str,
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Result<Tokens, AuthError> {
    let refused = AuthError::Refused("unknown, expired or revoked refresh token");
    let Some(r) = customer::refresh(db, &token_hash(token.trim())).await? else {
        return Err(refused);
    };
    let at = fmt_ts(now);
    if r.revoked_at.is_some() {
        db.batch(&[customer::revoke_family(&r.family, &at)]).await?;
        return Err(refused);
    }
    if parse_ts(&r.expires_at).is_none_or(|e| e <= now) {
        return Err(refused);
    }
    let (new_token, new) = new_refresh(&r.subscriber_id, &r.family, ids, now);
    let mut batch = customer::revoke_one(&r.token_hash, &at).to_vec();
    batch.push(customer::insert_refresh(&new, &at));
    match db.batch(&batch).await {
        Ok(_) => Ok(tokens(keys, &r.subscriber_id, &r.family, new_token, now)),
        Err(StoreError::Conflict(_)) => Err(refused),
        Err(e) => Err(e.into()),
    }
}

/// `POST auth/logout`: ends the sign-in the access token (or refresh token) belongs to.
pub async fn logout(db: &impl Db, family: &str, now: DateTime<Utc>) -> Result<(), AuthError> {
    db.batch(&[customer::revoke_family(family, &fmt_ts(now))]).await?;
    Ok(())
}

/// The refresh family a refresh token belongs to (for a logout that names the refresh token).
pub async fn family_of(db: &impl Db, token: &str) -> Result<Option<(String, String)>, AuthError> {
    Ok(customer::refresh(db, &token_hash(token.trim())).await?.map(|r| (r.family, r.subscriber_id)))
}

/// `PUT me/password`: sets the portal password; every other sign-in of the subscriber ends.
pub async fn set_password(
    db: &impl Db,
    subscriber_id: &str,
    keep_family: &str,
    new_password: &str,
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> Result<(), AuthError> {
    let mut salt = [0u8; 16];
    if let Ok(b) = hex::decode(ids.token(32)) {
        salt.copy_from_slice(&b[..16]);
    }
    let hash = password::hash(new_password, &salt).map_err(|e| AuthError::Invalid(e.to_string()))?;
    let at = fmt_ts(now);
    db.batch(&[
        customer::set_password_hash(subscriber_id, &hash),
        customer::revoke_subscriber_except(subscriber_id, keep_family, &at),
    ])
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests;

//! Talking to Daraja through the platform's outbound HTTP: one cached OAuth token per
//! tenant (kept in the tenant's database, since every new token revokes the last).

use bytes::Bytes;
use chrono::{DateTime, Utc};

use crate::db::Db;
use crate::platform::Platform;
use crate::store::tenants::{DarajaSettings, Tenant};
use crate::store::tokens;

/// Refresh this long before the token runs out.
const TOKEN_MARGIN_SECS: u64 = 300;

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("M-Pesa is not configured for this ISP")]
    NotConfigured,
    #[error("cannot build the Daraja request: {0}")]
    Build(#[from] daraja::BuildError),
    #[error("Daraja unreachable: {0}")]
    Unreachable(String),
    #[error(transparent)]
    Api(#[from] daraja::ApiError),
    #[error(transparent)]
    Store(#[from] crate::db::StoreError),
}

pub fn environment(d: &DarajaSettings) -> daraja::Environment {
    match d.environment.as_str() {
        "sandbox" => daraja::Environment::Sandbox,
        "production" => daraja::Environment::Production,
        _ => daraja::Environment::Custom(d.base_url()),
    }
}

/// The callback URLs of a tenant. No "mpesa", "safaricom", "query", "sql", "exe" or "cmd" in
/// them: Daraja refuses C2B URLs containing those words.
pub fn hook_url(base: &str, tenant: &Tenant, leaf: &str) -> String {
    format!("{}/hooks/{}/{}/{}", base.trim_end_matches('/'), tenant.realm, tenant.callback_token.expose(), leaf)
}

async fn send<P: Platform>(p: &P, req: http::Request<Bytes>) -> Result<http::Response<Bytes>, GatewayError> {
    p.fetch(req).await.map_err(|e| GatewayError::Unreachable(e.0))
}

/// A valid access token: the cached one, or a fresh one (`force` skips the cache).
pub async fn access_token<P: Platform>(
    p: &P,
    db: &P::Db,
    tenant: &Tenant,
    now: DateTime<Utc>,
    force: bool,
) -> Result<String, GatewayError> {
    let d = &tenant.daraja;
    if !d.is_configured() {
        return Err(GatewayError::NotConfigured);
    }
    if !force && let Some(token) = tokens::fresh(db, "daraja", now).await? {
        return Ok(token);
    }
    let resp = send(p, daraja::oauth_request(&environment(d), &d.consumer_key, d.consumer_secret.expose())?).await?;
    let token = daraja::parse_oauth_response(&resp)?;
    let refresh_at = token.refresh_at(now, TOKEN_MARGIN_SECS);
    db.batch(&[tokens::put("daraja", token.token.expose(), refresh_at)]).await?;
    Ok(token.token.expose().to_owned())
}

/// Runs a Daraja call with the cached token, refreshing it once if Daraja says it is invalid.
async fn with_token<P, T>(
    p: &P,
    db: &P::Db,
    tenant: &Tenant,
    now: DateTime<Utc>,
    build: impl Fn(&str) -> Result<http::Request<Bytes>, daraja::BuildError>,
    parse: impl Fn(&http::Response<Bytes>) -> Result<T, daraja::ApiError>,
) -> Result<T, GatewayError>
where
    P: Platform,
{
    let token = access_token(p, db, tenant, now, false).await?;
    let resp = send(p, build(&token)?).await?;
    match parse(&resp) {
        Err(e) if e.is_invalid_token() => {
            let token = access_token(p, db, tenant, now, true).await?;
            let resp = send(p, build(&token)?).await?;
            Ok(parse(&resp)?)
        }
        other => Ok(other?),
    }
}

pub async fn stk_push<P: Platform>(
    p: &P,
    db: &P::Db,
    tenant: &Tenant,
    amount_kes: u64,
    msisdn: &str,
    account_ref: &str,
    now: DateTime<Utc>,
) -> Result<daraja::StkPushAck, GatewayError> {
    let d = &tenant.daraja;
    let mut push = daraja::StkPush::paybill(
        &d.shortcode,
        d.passkey.expose(),
        amount_kes,
        msisdn,
        &hook_url(&p.settings().public_base_url, tenant, "stk"),
        account_ref,
    );
    if !d.till.is_empty() {
        push.transaction_type = daraja::StkTransactionType::BuyGoods;
        push.party_b = d.till.clone();
    }
    let desc: String = tenant.settings.stk_description.chars().take(13).collect();
    push.transaction_desc = Some(desc).filter(|s| !s.is_empty());
    let env = environment(d);
    with_token(p, db, tenant, now, |t| daraja::stk_push_request(&env, t, &push, now), daraja::parse_stk_push_response)
        .await
}

pub async fn stk_query<P: Platform>(
    p: &P,
    db: &P::Db,
    tenant: &Tenant,
    checkout_request_id: &str,
    now: DateTime<Utc>,
) -> Result<daraja::StkQueryOutcome, GatewayError> {
    let d = &tenant.daraja;
    let env = environment(d);
    with_token(
        p,
        db,
        tenant,
        now,
        |t| daraja::stk_query_request(&env, t, &d.shortcode, d.passkey.expose(), checkout_request_id, now),
        daraja::parse_stk_query_response,
    )
    .await
}

pub async fn register_c2b<P: Platform>(
    p: &P,
    db: &P::Db,
    tenant: &Tenant,
    now: DateTime<Utc>,
) -> Result<daraja::C2bRegisterAck, GatewayError> {
    let d = &tenant.daraja;
    let env = environment(d);
    let base = &p.settings().public_base_url;
    let register = daraja::C2bRegister {
        shortcode: if d.till.is_empty() { d.shortcode.clone() } else { d.till.clone() },
        response_type: daraja::C2bResponseType::Completed,
        confirmation_url: hook_url(base, tenant, "c2b/confirm"),
        validation_url: Some(hook_url(base, tenant, "c2b/validate")),
    };
    let version =
        if d.c2b_api_version == "v1" { daraja::C2bRegisterVersion::V1 } else { daraja::C2bRegisterVersion::V2 };
    with_token(
        p,
        db,
        tenant,
        now,
        |t| daraja::c2b_register_request(&env, t, version, &register),
        daraja::parse_c2b_register_response,
    )
    .await
}

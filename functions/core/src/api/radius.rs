//! `POST /radius/voucher`: FreeRADIUS asks about a hotspot username that is not in the tenant's
//! RADIUS database (the `rest` module `konnekted_voucher` that `radius-sql` renders).
//!
//! Request: form-encoded `realm`, `code` (the username without its realm), `mac`
//! (`Calling-Station-Id`), optionally `ip` (`Framed-IP-Address`) and `nas`, with the tenant's key
//! in [`proto::HEADER_VOUCHER_KEY`] ([`proto::radius_voucher_key`] of its sync key). The password
//! is never sent: the answer carries the one the code has, and FreeRADIUS's `pap`/`chap` check it.
//!
//! Answers, in `rlm_rest`'s JSON (attribute names with their list):
//! - `200` the code is redeemed (its first use recorded now, or a later login on a bound device):
//!   `control:Cleartext-Password` (the code as the router sent it: username and password are the
//!   code), `reply:Session-Timeout` (seconds left), `reply:Mikrotik-Rate-Limit`,
//!   `reply:Idle-Timeout` (the tenant's, when set) and, for a data-capped plan, the bytes left as
//!   `reply:Mikrotik-Total-Limit` + `reply:Mikrotik-Total-Limit-Gigawords`.
//! - `401` refused (`rlm_rest`: reject, body processed): `reply:Reply-Message` says why in English
//!   (expired, cancelled, used up, in use on another device, too many wrong codes, not a code).
//! - `403` a missing or wrong key (`userlock`), `404` an unknown realm (`notfound`): the generated
//!   policy rejects both; `503` storage failed (`fail`: "Voucher service unavailable").
//!
//! No answer but a `200` lets anyone on.

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use konnekted_sync_proto as proto;
use serde_json::{Map, Value, json};

use super::{ApiError, ApiResult, Query, json as json_response};
use crate::Ctx;
use crate::domain::Realm;
use crate::platform::{Level, Platform};
use crate::secret::constant_time_eq;
use crate::store::tenants::TenantStatus;
use crate::usecases::UseCaseError;
use crate::usecases::vouchers::{self, RedeemError, Redeemed};

/// The largest request body read (a few short fields).
const MAX_BODY: usize = 4096;

/// The `rlm_rest` attributes of an accepted code.
pub fn accept_attributes(r: &Redeemed, password: &str) -> Value {
    let mut m = Map::new();
    m.insert("control:Cleartext-Password".into(), json!(password));
    m.insert("reply:Session-Timeout".into(), json!(r.remaining_seconds.max(1)));
    m.insert("reply:Mikrotik-Rate-Limit".into(), json!(r.rate_limit));
    if r.idle_timeout_seconds > 0 {
        m.insert("reply:Idle-Timeout".into(), json!(r.idle_timeout_seconds));
    }
    if let Some(bytes) = r.remaining_bytes {
        let bytes = bytes.max(1);
        m.insert("reply:Mikrotik-Total-Limit".into(), json!(bytes & 0xFFFF_FFFF));
        m.insert("reply:Mikrotik-Total-Limit-Gigawords".into(), json!(bytes >> 32));
    }
    Value::Object(m)
}

fn refuse(message: &str) -> ApiResult {
    Ok(json_response(StatusCode::UNAUTHORIZED, &json!({"reply:Reply-Message": message})))
}

pub(crate) async fn voucher<P: Platform>(p: &P, req: Request<Bytes>, ctx: &Ctx) -> ApiResult {
    if req.method() != Method::POST {
        return Err(ApiError::MethodNotAllowed);
    }
    if req.body().len() > MAX_BODY {
        return Err(ApiError::TooLarge);
    }
    let body = std::str::from_utf8(req.body()).map_err(|_| ApiError::BadRequest("body is not UTF-8".into()))?;
    let f = Query::parse(Some(body));
    let realm = f.get("realm").and_then(|r| Realm::parse(r.trim()).ok()).ok_or(ApiError::NotFound("realm".into()))?;
    let tenant = p
        .tenant(&realm)
        .await?
        .filter(|t| t.status == TenantStatus::Active)
        .ok_or_else(|| ApiError::NotFound("realm".into()))?;
    let want = proto::radius_voucher_key(tenant.sync_key.expose().as_bytes());
    let given = req.headers().get(proto::HEADER_VOUCHER_KEY).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !constant_time_eq(given.trim().as_bytes(), want.as_bytes()) {
        p.log(Level::Warn, &format!("radius voucher {}: missing or wrong voucher key", realm.as_str()));
        return Err(ApiError::Forbidden);
    }
    let db = p.tenant_db(&tenant.db_key).await?;
    let code = f.get("code").unwrap_or("").trim();
    let mac = f.get("mac").unwrap_or("").trim();
    // Only a real address is counted against (`Framed-IP-Address` may be absent).
    let ip = f.get("ip").and_then(|a| a.trim().parse::<std::net::IpAddr>().ok()).map(|a| a.to_string());
    match vouchers::redeem(p.settings(), &db, &tenant, code, mac, ip.as_deref().unwrap_or(""), ctx.now).await {
        Ok(r) => Ok(json_response(StatusCode::OK, &accept_attributes(&r, code))),
        Err(RedeemError::Refused(r)) => refuse(&r.to_string()),
        // No usable MAC: a hotspot always sends one, so this is not a device we can bind.
        Err(RedeemError::Failed(UseCaseError::Invalid(m))) => refuse(&m),
        Err(RedeemError::Failed(e)) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::redemption::Binding;

    fn redeemed(bytes: Option<i64>, idle: i64) -> Redeemed {
        Redeemed {
            code: "ABCD-EFGH-JKMN".into(),
            username: "ABCDEFGHJKMN".into(),
            batch: 1,
            serial: 0,
            first_use: true,
            binding: Binding::New,
            expires_at: "2026-12-04T11:00:00Z".into(),
            remaining_seconds: 3600,
            remaining_bytes: bytes,
            rate_limit: "1M/2M".into(),
            idle_timeout_seconds: idle,
            plan_code: "h1".into(),
            plan_name: "1 hour".into(),
        }
    }

    #[test]
    fn accept_carries_password_time_rate_idle_and_the_data_left_in_gigawords() {
        let five_gigawords = 5 * (1i64 << 32) + 7;
        let a = accept_attributes(&redeemed(Some(five_gigawords), 300), "abcd-efgh-jkmn");
        assert_eq!(a["control:Cleartext-Password"], "abcd-efgh-jkmn");
        assert_eq!(a["reply:Session-Timeout"], 3600);
        assert_eq!(a["reply:Mikrotik-Rate-Limit"], "1M/2M");
        assert_eq!(a["reply:Idle-Timeout"], 300);
        assert_eq!(a["reply:Mikrotik-Total-Limit-Gigawords"], 5);
        assert_eq!(a["reply:Mikrotik-Total-Limit"], 7);
        let plain = accept_attributes(&redeemed(None, 0), "X");
        assert!(plain.get("reply:Idle-Timeout").is_none() && plain.get("reply:Mikrotik-Total-Limit").is_none());
    }
}

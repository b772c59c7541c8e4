//! The reconciler's signed sync API: desired network state, the change feed, reports.
//!
//! Every request carries `X-Konnekted-Timestamp` (unix seconds) and
//! `X-Konnekted-Signature` = hex HMAC-SHA256(tenant sync key,
//! `METHOD\nPATH_AND_QUERY\nTIMESTAMP\nhex(SHA-256(body))`). Stale (±300 s) or wrong: 401.

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::{Method, Request, StatusCode};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{ApiError, ApiResult, Params, Query, R, body_json, json, ok, tenant_of};
use crate::Ctx;
use crate::db::Db;
use crate::domain::time::fmt_ts;
use crate::platform::Platform;
use crate::secret::constant_time_eq;
use crate::stmt;
use crate::store::{feed, plans, usage};

pub const REPLAY_WINDOW_SECS: i64 = 300;
pub const HEADER_TIMESTAMP: &str = "x-konnekted-timestamp";
pub const HEADER_SIGNATURE: &str = "x-konnekted-signature";

/// The signature a client sends (and the server expects).
pub fn sign(key: &[u8], method: &str, path_and_query: &str, timestamp: i64, body: &[u8]) -> String {
    let body_hash = hex::encode(Sha256::digest(body));
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(format!("{method}\n{path_and_query}\n{timestamp}\n{body_hash}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn verify(req: &Request<Bytes>, key: &str, now: i64) -> Result<(), ApiError> {
    let header = |n: &str| req.headers().get(n).and_then(|v| v.to_str().ok());
    let ts: i64 = header(HEADER_TIMESTAMP).and_then(|t| t.parse().ok()).ok_or(ApiError::Unauthorized)?;
    if (now - ts).abs() > REPLAY_WINDOW_SECS {
        return Err(ApiError::Unauthorized);
    }
    let got = header(HEADER_SIGNATURE).ok_or(ApiError::Unauthorized)?;
    let pq = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let want = sign(key.as_bytes(), req.method().as_str(), pq, ts, req.body());
    if constant_time_eq(got.as_bytes(), want.as_bytes()) { Ok(()) } else { Err(ApiError::Unauthorized) }
}

#[derive(Debug, Deserialize, serde::Serialize)]
struct Report {
    router: String,
    #[serde(default)]
    started_at: Option<String>,
    #[serde(default)]
    finished_at: Option<String>,
    outcome: String,
    #[serde(default)]
    drift_found: i64,
    #[serde(default)]
    drift_fixed: i64,
    #[serde(default)]
    errors: Vec<serde_json::Value>,
    #[serde(default)]
    details: serde_json::Value,
}

pub(crate) async fn handle<P: Platform>(p: &P, route: R, params: &Params, req: Request<Bytes>, ctx: &Ctx) -> ApiResult {
    let (tenant, db) = tenant_of(p, params).await?;
    verify(&req, tenant.sync_key.expose(), ctx.now.timestamp())?;
    match (route, req.method().clone()) {
        (R::SyncDesired, Method::GET) => ok(&desired(&db, tenant.realm.as_str(), ctx).await?),
        (R::SyncFeed, Method::GET) => {
            let q = Query::parse(req.uri().query());
            let after = q.int("after", 0, i64::MAX)?;
            let limit = q.int("limit", 500, 5000)?;
            let changes = feed::after(&db, after, limit).await?;
            let cursor = changes.last().map_or(after, |c| c.seq);
            ok(&serde_json::json!({"cursor": cursor, "changes": changes}))
        }
        (R::SyncReports, Method::POST) => {
            let r: Report = body_json(&req)?;
            if r.router.trim().is_empty() || !matches!(r.outcome.as_str(), "ok" | "refused" | "error") {
                return Err(ApiError::BadRequest("router is required; outcome is ok, refused or error".into()));
            }
            db.batch(&[stmt!(
                "INSERT INTO sync_reports (router, started_at, finished_at, outcome, drift_found, drift_fixed, report, received_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                &r.router,
                r.started_at.clone(),
                r.finished_at.clone(),
                &r.outcome,
                r.drift_found,
                r.drift_fixed,
                serde_json::to_string(&r).unwrap_or_default(),
                fmt_ts(ctx.now),
            )])
            .await?;
            Ok(json(StatusCode::ACCEPTED, &serde_json::json!({"accepted": true})))
        }
        (R::SyncUsage, Method::POST) => {
            #[derive(Deserialize)]
            struct Usage {
                #[serde(default)]
                days: Vec<usage::DailyUsage>,
                /// When present, replaces the whole "who is online" snapshot.
                #[serde(default)]
                online: Option<Vec<usage::OnlineSession>>,
            }
            let u: Usage = body_json(&req)?;
            if u.days.len() > 10_000 || u.online.as_ref().is_some_and(|o| o.len() > 20_000) {
                return Err(ApiError::BadRequest("at most 10,000 day rows and 20,000 sessions per report".into()));
            }
            if u.days.iter().any(|d| d.day.len() != 10 || d.input_octets < 0 || d.output_octets < 0) {
                return Err(ApiError::BadRequest("day must be YYYY-MM-DD and octets non-negative".into()));
            }
            let at = fmt_ts(ctx.now);
            let mut batch: Vec<crate::db::Statement> = u.days.iter().map(|d| usage::upsert_day(d, &at)).collect();
            if let Some(online) = &u.online {
                batch.extend(usage::replace_online(online, &at));
            }
            if !batch.is_empty() {
                db.batch(&batch).await?;
            }
            Ok(json(
                StatusCode::ACCEPTED,
                &serde_json::json!({"days": u.days.len(), "online": u.online.map(|o| o.len())}),
            ))
        }
        _ => Err(ApiError::MethodNotAllowed),
    }
}

async fn desired(db: &impl Db, realm: &str, ctx: &Ctx) -> Result<serde_json::Value, ApiError> {
    let cursor = db
        .query(&stmt!("SELECT COALESCE(MAX(seq), 0) AS c FROM change_feed"))
        .await?
        .first()
        .map(|r| r.int("c"))
        .transpose()?
        .unwrap_or(0);
    let plans: Vec<serde_json::Value> = plans::list(db)
        .await?
        .iter()
        .map(|p| {
            serde_json::json!({
                "code": p.code, "name": p.name, "kind": p.kind, "down_kbps": p.down_kbps,
                "up_kbps": p.up_kbps, "rate_limit": p.rate_limit(),
            })
        })
        .collect();
    let rows = db
        .query(&stmt!(
            "SELECT s.id, s.username, s.password, p.code AS plan, s.status, s.static_ip, s.site, s.expires_at \
             FROM subscribers s JOIN plans p ON p.id = s.plan_id ORDER BY s.username"
        ))
        .await?;
    let subscribers = rows
        .iter()
        .map(|r| {
            Ok(serde_json::json!({
                "id": r.text("id")?, "username": r.text("username")?, "password": r.text("password")?,
                "plan": r.text("plan")?, "status": r.text("status")?, "static_ip": r.opt_text("static_ip")?,
                "site": r.opt_text("site")?, "expires_at": r.opt_text("expires_at")?,
            }))
        })
        .collect::<Result<Vec<_>, crate::db::StoreError>>()?;
    Ok(serde_json::json!({
        "realm": realm, "generated_at": fmt_ts(ctx.now), "cursor": cursor,
        "plans": plans, "subscribers": subscribers,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_is_hmac_over_method_path_time_and_body_hash() {
        // Computed independently with openssl dgst -sha256 -hmac k over 'GET\n/sync/acme/desired\n1700000000\n' + sha256('').
        let s = sign(b"k", "GET", "/sync/acme/desired", 1_700_000_000, b"");
        assert_eq!(s, "3b8c31e77f95ef1a35a3861c6b5098d303cb005598fe31ee08441e468f5ffc5b");
        assert_ne!(s, sign(b"k", "GET", "/sync/acme/desired", 1_700_000_001, b""));
        assert_ne!(s, sign(b"k2", "GET", "/sync/acme/desired", 1_700_000_000, b""));
        assert_ne!(s, sign(b"k", "GET", "/sync/beta/desired", 1_700_000_000, b""));
    }
}

//! Payment provider callbacks: `/hooks/{realm}/{token}/...`.
//!
//! A wrong or unknown token is a 404 and nothing is written to any tenant's database.

use bytes::Bytes;
use http::{Method, Request, StatusCode};

use super::{ApiError, ApiResult, Params, Route, json, method_is, tenant_of};
use crate::Ctx;
use crate::ids::IdGen;
use crate::platform::{Level, Platform};
use crate::secret::constant_time_eq;
use crate::store::tenants::Tenant;
use crate::usecases::callbacks;

/// The tenant a provider's POST to `/hooks/{realm}/{token}/...` belongs to. Anything but a POST is refused; a
/// wrong token (compared in constant time) is answered exactly like an unknown route, so the URL reveals nothing,
/// and the attempt is logged.
pub(crate) async fn hook_tenant<P: Platform>(
    p: &P,
    params: &Params,
    req: &Request<Bytes>,
) -> Result<(Tenant, P::Db), ApiError> {
    if !method_is(req, &Method::POST) {
        return Err(ApiError::MethodNotAllowed);
    }
    let (tenant, db) = tenant_of(p, params).await?;
    let token = params.token.as_deref().unwrap_or("");
    if !constant_time_eq(token.as_bytes(), tenant.callback_token.expose().as_bytes()) {
        p.log(Level::Warn, &format!("{}: callback with a wrong token refused", tenant.realm));
        return Err(ApiError::NotFound("route".into()));
    }
    Ok((tenant, db))
}

pub(crate) async fn handle<P: Platform>(
    p: &P,
    route: Route,
    params: &Params,
    req: Request<Bytes>,
    ctx: &Ctx,
) -> ApiResult {
    let (tenant, db) = hook_tenant(p, params, &req).await?;
    let mut ids = IdGen::new(ctx);
    let body = req.body();
    if let Some(cut) = req.extensions().get::<crate::BodyTruncated>() {
        let kind = match route {
            Route::HookStk => "stk_callback",
            Route::HookValidate => "c2b_validation",
            _ => "c2b_confirmation",
        };
        let reply = callbacks::oversized(&db, kind, body, cut.total, ctx.now).await?;
        p.log(
            Level::Warn,
            &format!("{}: oversized {route:?} callback ({} bytes) kept in part", tenant.realm, cut.total),
        );
        return Ok(json(StatusCode::PAYLOAD_TOO_LARGE, &reply.body));
    }
    let reply = match route {
        Route::HookStk => {
            let key = crate::usecases::vouchers::key(p.settings(), &tenant.realm).ok();
            callbacks::stk_callback(&db, &tenant, key.as_ref(), body, &mut ids, ctx.now).await?
        }
        Route::HookValidate => callbacks::c2b_validation(&db, &tenant, body, ctx.now).await?,
        _ => callbacks::c2b_confirmation(&db, &tenant, body, &mut ids, ctx.now).await?,
    };
    if reply.outcome == crate::store::callbacks::Outcome::Malformed {
        p.log(Level::Warn, &format!("{}: malformed {route:?} callback kept in the callback log", tenant.realm));
    }
    let status = StatusCode::from_u16(reply.answer.http_status()).unwrap_or(StatusCode::OK);
    Ok(json(status, &reply.body))
}

/// `POST /hooks/{realm}/{token}/sms/delivery`: Africa's Talking's delivery report (form body).
/// Always 200 once the token is right: the report is kept raw whatever it says.
pub(crate) async fn sms_delivery<P: Platform>(
    p: &P,
    params: &Params,
    req: Request<Bytes>,
    ctx: &Ctx,
) -> super::ApiResult {
    let (_tenant, db) = hook_tenant(p, params, &req).await?;
    let outcome = crate::usecases::sms::delivery_report(&db, req.body(), ctx.now).await?;
    Ok(json(StatusCode::OK, &serde_json::json!({"received": true, "outcome": outcome.as_str()})))
}

//! Subscriber-facing endpoints (no login needed to pay for an account, as with Paybill).

use bytes::Bytes;
use http::{Method, Request, StatusCode};

use super::{ApiError, ApiResult, Params, Route, body_json, json, method_is, ok, tenant_of};
use crate::Ctx;
use crate::platform::Platform;
use crate::store::stk;
use crate::usecases::topup;

pub(crate) async fn handle<P: Platform>(
    p: &P,
    route: Route,
    params: &Params,
    req: Request<Bytes>,
    ctx: &Ctx,
) -> ApiResult {
    let (tenant, db) = tenant_of(p, params).await?;
    match route {
        Route::Topup if method_is(&req, &Method::POST) => {
            let input: topup::TopupInput = body_json(&req)?;
            let ip = super::client_ip(&req);
            let started = topup::start(p, &db, &tenant, input, topup::Caller::Anonymous { ip: &ip }, ctx.now).await?;
            Ok(json(StatusCode::ACCEPTED, &started))
        }
        Route::TopupStatus if method_is(&req, &Method::GET) => {
            let id = params.id.as_deref().unwrap_or("");
            let s = stk::get(&db, id).await?.ok_or_else(|| ApiError::NotFound("top-up".into()))?;
            ok(&serde_json::json!({
                "checkout_request_id": s.checkout_request_id,
                "status": s.status,
                "result_desc": s.result_desc,
                "amount_kes": s.amount_cents / 100,
            }))
        }
        _ => Err(ApiError::MethodNotAllowed),
    }
}

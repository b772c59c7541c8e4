//! Card and aggregator payments over HTTP: the public checkout endpoints
//! (`/api/p/{realm}/checkout`, `/api/p/{realm}/checkout/{id}`) and the webhooks
//! (`/hooks/{realm}/{token}/stripe`, `/hooks/{realm}/{token}/paystack`).

use bytes::Bytes;
use http::{Method, Request, StatusCode};

use super::{ApiError, ApiResult, Params, Route, body_json, json, method_is, ok, tenant_of};
use crate::Ctx;
use crate::db::Db;
use crate::ids::IdGen;
use crate::platform::{Level, Platform};
use crate::store::callbacks::{self as log, Entry, Outcome};
use crate::usecases::cards;

pub(crate) async fn checkout<P: Platform>(
    p: &P,
    route: Route,
    params: &Params,
    req: Request<Bytes>,
    ctx: &Ctx,
) -> ApiResult {
    let (tenant, db) = tenant_of(p, params).await?;
    match route {
        Route::Checkout if method_is(&req, &Method::POST) => {
            let input: cards::CheckoutInput = body_json(&req)?;
            let mut ids = IdGen::new(ctx);
            let started = cards::start_checkout(p, &db, &tenant, input, &mut ids, ctx.now).await?;
            Ok(json(StatusCode::CREATED, &started))
        }
        Route::CheckoutStatus if method_is(&req, &Method::GET) => {
            ok(&cards::checkout_status(&db, params.id.as_deref().unwrap_or("")).await?)
        }
        _ => Err(ApiError::MethodNotAllowed),
    }
}

pub(crate) async fn hook<P: Platform>(
    p: &P,
    route: Route,
    params: &Params,
    req: Request<Bytes>,
    ctx: &Ctx,
) -> ApiResult {
    let (tenant, db) = super::hooks::hook_tenant(p, params, &req).await?;
    let provider = if route == Route::HookStripe { cards::STRIPE } else { cards::PAYSTACK };
    let body = req.body();
    if let Some(cut) = req.extensions().get::<crate::BodyTruncated>() {
        let reply = cards::oversized(&db, provider, body, cut.total, ctx.now).await?;
        return Ok(json(StatusCode::PAYLOAD_TOO_LARGE, &reply.body));
    }
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let mut ids = IdGen::new(ctx);
    let result = if route == Route::HookStripe {
        cards::stripe_webhook(&db, &tenant, header("stripe-signature"), body, &mut ids, ctx.now).await
    } else {
        cards::paystack_webhook(p, &db, &tenant, header("x-paystack-signature"), body, &mut ids, ctx.now).await
    };
    let reply = match result {
        Ok(r) => r,
        Err(e) => {
            // Keep the raw body whenever the log can be written at all; the provider retries.
            let detail = e.to_string();
            let _ = db
                .batch(&[log::insert(&Entry {
                    provider,
                    kind: "webhook",
                    received_at: &crate::domain::time::fmt_ts(ctx.now),
                    body,
                    body_size: body.len(),
                    http_status: 503,
                    outcome: Outcome::Error,
                    detail: Some(&detail),
                    provider_ref: None,
                })])
                .await;
            return Err(e.into());
        }
    };
    if reply.outcome == Outcome::Malformed {
        p.log(Level::Warn, &format!("{}: refused {provider} webhook kept in the callback log", tenant.realm));
    }
    let status = StatusCode::from_u16(reply.answer.http_status()).unwrap_or(StatusCode::OK);
    Ok(json(status, &reply.body))
}

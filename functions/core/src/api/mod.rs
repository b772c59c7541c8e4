//! The HTTP API, on `http` types, for every platform: `handle(request) -> response`.

mod admin;
pub mod admin_doc;
mod cards;
mod customer;
/// The admin API's OpenAPI 3.1 document, served at `GET /api/t/{realm}/openapi.json`.
pub use admin::OPENAPI as ADMIN_OPENAPI;
/// The admin API's OpenAPI document as the code makes it (what `/api/t/{realm}/openapi.json` serves).
pub use admin_doc::openapi as admin_openapi;
/// The customer API's routes (method, path under `v1/`): the OpenAPI tour test walks them.
pub use customer::ROUTES as CUSTOMER_ROUTES;
/// The customer API's OpenAPI document as the code makes it (what `v1/openapi.json` serves).
pub use customer::doc::openapi as customer_openapi;
mod hooks;
mod portal;
mod radius;
pub mod sync;
pub(crate) mod vouchers;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use serde::Serialize;
use std::sync::OnceLock;

use crate::Ctx;
use crate::db::StoreError;
use crate::domain::Realm;
use crate::platform::{Level, Platform};
use crate::secret::constant_time_eq;
use crate::store::tenants::Tenant;
use crate::usecases::UseCaseError;

/// Every way a request can fail, mapped to a status in one place.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("missing or wrong credentials")]
    Unauthorized,
    #[error("your role may not do this")]
    Forbidden,
    #[error("{0} not found")]
    NotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{0}")]
    Conflict(String),
    #[error("body too large")]
    TooLarge,
    #[error("{0}")]
    Provider(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("too many requests; try again in {0} seconds")]
    TooMany(i64),
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Provider(_) => StatusCode::BAD_GATEWAY,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    pub fn into_response(self) -> Response<Bytes> {
        let status = self.status();
        let mut r = json(status, &admin::AdminError { error: self.to_string() });
        if let ApiError::TooMany(secs) = self {
            r.headers_mut().insert(header::RETRY_AFTER, http::HeaderValue::from(secs.max(1)));
        }
        r
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound("record".into()),
            StoreError::Conflict(m) => ApiError::Conflict(m),
            StoreError::Unavailable(m) => ApiError::Unavailable(format!("storage unavailable: {m}")),
            StoreError::Corrupt(m) => ApiError::Unavailable(format!("storage returned an unexpected row: {m}")),
        }
    }
}

impl From<UseCaseError> for ApiError {
    fn from(e: UseCaseError) -> Self {
        match e {
            UseCaseError::Invalid(m) => ApiError::BadRequest(m),
            UseCaseError::NotFound(what) => ApiError::NotFound(what.into()),
            UseCaseError::Conflict(m) => ApiError::Conflict(m),
            UseCaseError::Provider(m) => ApiError::Provider(m),
            UseCaseError::Unavailable(m) => ApiError::Unavailable(m),
            UseCaseError::Throttled(s) => ApiError::TooMany(s),
            UseCaseError::Store(s) => s.into(),
        }
    }
}

pub type ApiResult = Result<Response<Bytes>, ApiError>;

pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Response<Bytes> {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{\"error\":\"serialisation failed\"}".to_vec());
    let mut r = Response::new(Bytes::from(bytes));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    r.headers_mut().insert(header::CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
    r
}

pub fn ok<T: Serialize>(body: &T) -> ApiResult {
    Ok(json(StatusCode::OK, body))
}

pub fn created<T: Serialize>(body: &T) -> ApiResult {
    Ok(json(StatusCode::CREATED, body))
}

/// Parses a JSON request body with a clear error.
pub fn body_json<T: serde::de::DeserializeOwned>(req: &Request<Bytes>) -> Result<T, ApiError> {
    if req.body().len() > 256 * 1024 {
        return Err(ApiError::TooLarge);
    }
    serde_json::from_slice(req.body()).map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))
}

/// Decoded query-string parameters.
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(q: Option<&str>) -> Query {
        Query(
            q.unwrap_or("")
                .split('&')
                .filter(|s| !s.is_empty())
                .map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                    (percent_decode(k), percent_decode(v))
                })
                .collect(),
        )
    }
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
    pub fn int(&self, key: &str, default: i64, max: i64) -> Result<i64, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(default),
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .map(|n| n.min(max))
                .ok_or_else(|| ApiError::BadRequest(format!("{key} must be a non-negative integer"))),
        }
    }
}

pub(crate) fn percent_decode(s: &str) -> String {
    fn hex(c: u8) -> Option<u8> {
        (c as char).to_digit(16).map(|d| d as u8)
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Route names; the router maps a path to one of these plus its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    Health,
    Tenants,
    Plans,
    Plan,
    Subscribers,
    Subscriber,
    Ledger,
    Adjust,
    StkPush,
    Payments,
    Unmatched,
    Assign,
    Callbacks,
    Settings,
    RegisterC2b,
    Sweep,
    Feed,
    /// The SMS outbox (development sink; `store::sms`).
    SmsOutbox,
    /// SMS: operator broadcasts, opt-outs, costs (`api::admin`), delivery reports (`api::hooks`).
    SmsBroadcast,
    SmsOptouts,
    SmsCosts,
    HookSmsDelivery,
    Topup,
    TopupStatus,
    HookStk,
    HookValidate,
    HookConfirm,
    SyncDesired,
    SyncFeed,
    SyncReports,
    SyncUsage,
    Usage,
    Online,
    Reports,
    /// An operator confirms the disables held on a router (`usecases::held`).
    ConfirmDisables,
    VoucherBatches,
    VoucherCodes,
    VoucherSheet,
    VoucherReport,
    VoucherCheck,
    RadiusVoucher,
    /// Card and aggregator payments (`api::cards`).
    HookStripe,
    HookPaystack,
    Checkout,
    CheckoutStatus,
    Reversals,
    /// Console staff users of a tenant (owner only).
    StaffUsers,
    /// Outages and maintenance announced to subscribers (`GET .../v1/network/status`).
    NetworkNotices,
    /// Captive-portal pages (`web::captive`).
    Captive,
    /// Subscriber-portal pages (`web::portal`).
    Portal,
    /// The versioned customer API (`api::customer`).
    CustomerApi,
    /// The operator console of one tenant (`web::console`).
    Console,
    /// The platform operator's console (`web::console::platform`).
    PlatformConsole,
    /// `/`: where each kind of user goes (`web::home`).
    Home,
    /// The admin API's OpenAPI document (`api::admin::OPENAPI`).
    AdminOpenApi,
}

/// Every route: path pattern and the handler's name. `build_router` refuses a bad entry (a
/// conflict or an invalid pattern) and the tests check every entry resolves to its own name.
const ROUTES: &[(&str, Route)] = &[
    ("/health", Route::Health),
    ("/api/tenants", Route::Tenants),
    ("/api/t/{realm}/plans", Route::Plans),
    ("/api/t/{realm}/plans/{id}", Route::Plan),
    ("/api/t/{realm}/subscribers", Route::Subscribers),
    ("/api/t/{realm}/subscribers/{id}", Route::Subscriber),
    ("/api/t/{realm}/subscribers/{id}/ledger", Route::Ledger),
    ("/api/t/{realm}/subscribers/{id}/adjust", Route::Adjust),
    ("/api/t/{realm}/subscribers/{id}/stk-push", Route::StkPush),
    ("/api/t/{realm}/payments", Route::Payments),
    ("/api/t/{realm}/unmatched", Route::Unmatched),
    ("/api/t/{realm}/unmatched/{id}/assign", Route::Assign),
    ("/api/t/{realm}/callbacks", Route::Callbacks),
    ("/api/t/{realm}/settings", Route::Settings),
    ("/api/t/{realm}/daraja/register-c2b", Route::RegisterC2b),
    ("/api/t/{realm}/sweep", Route::Sweep),
    ("/api/t/{realm}/feed", Route::Feed),
    ("/api/t/{realm}/sms-outbox", Route::SmsOutbox),
    ("/api/t/{realm}/sms/broadcast", Route::SmsBroadcast),
    ("/api/t/{realm}/sms/optouts", Route::SmsOptouts),
    ("/api/t/{realm}/sms/costs", Route::SmsCosts),
    ("/hooks/{realm}/{token}/sms/delivery", Route::HookSmsDelivery),
    ("/api/p/{realm}/topup", Route::Topup),
    ("/api/p/{realm}/topup/{id}", Route::TopupStatus),
    ("/hooks/{realm}/{token}/stk", Route::HookStk),
    ("/hooks/{realm}/{token}/c2b/validate", Route::HookValidate),
    ("/hooks/{realm}/{token}/c2b/confirm", Route::HookConfirm),
    ("/hooks/{realm}/{token}/stripe", Route::HookStripe),
    ("/hooks/{realm}/{token}/paystack", Route::HookPaystack),
    ("/api/p/{realm}/checkout", Route::Checkout),
    ("/api/p/{realm}/checkout/{id}", Route::CheckoutStatus),
    ("/api/t/{realm}/reversals", Route::Reversals),
    ("/sync/{realm}/desired", Route::SyncDesired),
    ("/sync/{realm}/feed", Route::SyncFeed),
    ("/sync/{realm}/reports", Route::SyncReports),
    ("/sync/{realm}/usage", Route::SyncUsage),
    ("/api/t/{realm}/usage", Route::Usage),
    ("/api/t/{realm}/online", Route::Online),
    ("/api/t/{realm}/reports", Route::Reports),
    ("/api/t/{realm}/routers/{id}/confirm-disables", Route::ConfirmDisables),
    ("/api/t/{realm}/voucher-batches", Route::VoucherBatches),
    ("/api/t/{realm}/voucher-batches/{id}/codes", Route::VoucherCodes),
    ("/api/t/{realm}/voucher-batches/{id}/sheet", Route::VoucherSheet),
    ("/api/t/{realm}/voucher-report", Route::VoucherReport),
    ("/api/v/{realm}/vouchers/{id}", Route::VoucherCheck),
    ("/radius/voucher", Route::RadiusVoucher),
    ("/api/t/{realm}/users", Route::StaffUsers),
    ("/api/t/{realm}/network-notices", Route::NetworkNotices),
    ("/api/t/{realm}/openapi.json", Route::AdminOpenApi),
    // Each area below routes its own sub-paths (`rest`) in its own module.
    ("/h/{realm}", Route::Captive),
    ("/h/{realm}/{*rest}", Route::Captive),
    ("/p/{realm}", Route::Portal),
    ("/p/{realm}/{*rest}", Route::Portal),
    ("/api/p/{realm}/v1/{*rest}", Route::CustomerApi),
    ("/c/{realm}", Route::Console),
    ("/c/{realm}/{*rest}", Route::Console),
    ("/platform", Route::PlatformConsole),
    ("/platform/{*rest}", Route::PlatformConsole),
    ("/", Route::Home),
];

/// The paths of the admin API as its OpenAPI document names them (under the server
/// `/api/t/{realm}`; `/tenants` is the platform's `/api/tenants`): every route of the table under
/// `/api/t/{realm}/` and `/api/tenants`, the document itself aside. Tests hold the document to it.
pub fn admin_api_paths() -> Vec<&'static str> {
    ROUTES
        .iter()
        .filter(|(_, r)| *r != Route::AdminOpenApi)
        .filter_map(|(path, _)| match *path {
            "/api/tenants" => Some("/tenants"),
            p => p.strip_prefix("/api/t/{realm}"),
        })
        .collect()
}

fn build_router() -> Result<matchit::Router<Route>, String> {
    let mut r = matchit::Router::new();
    for &(path, name) in ROUTES {
        r.insert(path, name).map_err(|e| format!("route {path}: {e}"))?;
    }
    Ok(r)
}

/// The route table, built once; an error (a bad entry) is answered as 503 and logged.
fn router() -> Result<&'static matchit::Router<Route>, &'static str> {
    static ROUTER: OnceLock<Result<matchit::Router<Route>, String>> = OnceLock::new();
    ROUTER.get_or_init(build_router).as_ref().map_err(String::as_str)
}

/// Path parameters of the matched route.
pub(crate) struct Params {
    pub realm: Option<String>,
    pub id: Option<String>,
    pub token: Option<String>,
    /// The rest of the path after an area's prefix (`""` at the area's root).
    pub rest: Option<String>,
}

/// Handles one request. Never panics on input; every failure is a JSON error response.
pub async fn handle<P: Platform>(p: &P, req: Request<Bytes>, ctx: &Ctx) -> Response<Bytes> {
    let router = match router() {
        Ok(r) => r,
        Err(e) => {
            p.log(Level::Error, &format!("route table: {e}"));
            return ApiError::Unavailable("route table".into()).into_response();
        }
    };
    let (route, params) = {
        let Ok(m) = router.at(req.uri().path()) else {
            return ApiError::NotFound(format!("route {}", req.uri().path())).into_response();
        };
        let get = |k: &str| m.params.get(k).map(str::to_owned);
        (*m.value, Params { realm: get("realm"), id: get("id"), token: get("token"), rest: get("rest") })
    };
    let result = match route {
        Route::Health => ok(&serde_json::json!({"status": "ok"})),
        Route::VoucherCheck if method_is(&req, &Method::GET) => vouchers::check(p, &params),
        Route::VoucherCheck => Err(ApiError::MethodNotAllowed),
        Route::RadiusVoucher => radius::voucher(p, req, ctx).await,
        Route::HookStk | Route::HookValidate | Route::HookConfirm => hooks::handle(p, route, &params, req, ctx).await,
        Route::HookSmsDelivery => hooks::sms_delivery(p, &params, req, ctx).await,
        Route::HookStripe | Route::HookPaystack => cards::hook(p, route, &params, req, ctx).await,
        Route::Checkout | Route::CheckoutStatus => cards::checkout(p, route, &params, req, ctx).await,
        Route::Topup | Route::TopupStatus => portal::handle(p, route, &params, req, ctx).await,
        Route::SyncDesired | Route::SyncFeed | Route::SyncReports | Route::SyncUsage => {
            sync::handle(p, route, &params, req, ctx).await
        }
        // Pages answer every outcome (errors included) as HTML themselves.
        Route::Captive => return crate::web::captive::handle(p, &params, req, ctx).await,
        Route::Portal => return crate::web::portal::handle(p, &params, req, ctx).await,
        Route::Console => return crate::web::console::handle(p, &params, req, ctx).await,
        Route::PlatformConsole => return crate::web::console::platform::handle(p, &params, req, ctx).await,
        Route::Home => return crate::web::home::handle(&req),
        Route::CustomerApi => customer::handle(p, &params, req, ctx).await,
        Route::AdminOpenApi => admin::openapi(p, &params, &req).await,
        _ => admin::handle(p, route, &params, req, ctx).await,
    };
    match result {
        Ok(r) => r,
        Err(e) => {
            if e.status().is_server_error() {
                p.log(Level::Error, &format!("{route:?}: {e}"));
            }
            e.into_response()
        }
    }
}

/// Resolves the tenant named in the path. Unknown or disabled tenants are "not found".
pub(crate) async fn tenant_of<P: Platform>(p: &P, params: &Params) -> Result<(Tenant, P::Db), ApiError> {
    let realm = params
        .realm
        .as_deref()
        .and_then(|r| Realm::parse(r).ok())
        .ok_or_else(|| ApiError::NotFound("tenant".into()))?;
    let t = p
        .tenant(&realm)
        .await?
        .filter(|t| t.status == crate::store::tenants::TenantStatus::Active)
        .ok_or_else(|| ApiError::NotFound("tenant".into()))?;
    let db = p.tenant_db(&t.db_key).await?;
    Ok((t, db))
}

pub(crate) fn bearer(req: &Request<Bytes>) -> Option<&str> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

pub(crate) fn is_platform<P: Platform>(p: &P, req: &Request<Bytes>) -> bool {
    let want = p.settings().platform_token.expose();
    !want.is_empty() && bearer(req).is_some_and(|t| constant_time_eq(t.as_bytes(), want.as_bytes()))
}

/// The client's address for throttling: the host's [`crate::ClientIp`], else `CF-Connecting-IP`,
/// else `unknown` (then every anonymous client shares one count).
pub(crate) fn client_ip(req: &Request<Bytes>) -> String {
    if let Some(ip) = req.extensions().get::<crate::ClientIp>() {
        return ip.0.clone();
    }
    req.headers()
        .get("cf-connecting-ip")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 64 && v.chars().all(|c| c.is_ascii_hexdigit() || c == '.' || c == ':'))
        .map_or_else(|| "unknown".to_owned(), str::to_owned)
}

pub(crate) fn method_is(req: &Request<Bytes>, m: &Method) -> bool {
    req.method() == m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn router_every_route_in_the_table_resolves_to_itself() {
        let table = build_router().expect("every entry of ROUTES inserts");
        for &(path, name) in ROUTES {
            let concrete = path
                .replace("{realm}", "acme")
                .replace("{id}", "x1")
                .replace("{token}", "tok")
                .replace("{*rest}", "a/b");
            let m = table.at(&concrete).unwrap_or_else(|e| panic!("{concrete}: {e}"));
            assert_eq!(*m.value, name, "{concrete}");
            for (k, v) in m.params.iter() {
                assert!(["realm", "id", "token", "rest"].contains(&k), "{path}: parameter {k}={v} has no Params field");
            }
        }
        assert!(table.at("/nope").is_err());
        assert!(router().is_ok());
    }

    #[test]
    fn router_conflicting_entry_is_an_error_not_ignored() {
        let mut r = matchit::Router::new();
        r.insert("/api/t/{realm}/plans", Route::Plans).expect("first");
        assert!(r.insert("/api/t/{tenant}/plans", Route::Plan).is_err());
    }

    #[test]
    fn query_decodes_percent_and_plus() {
        let q = Query::parse(Some("a=1&b=x%20y+z&c&d=%zz"));
        assert_eq!(q.get("a"), Some("1"));
        assert_eq!(q.get("b"), Some("x y z"));
        assert_eq!(q.get("c"), Some(""));
        assert_eq!(q.get("d"), Some("%zz"));
    }
}

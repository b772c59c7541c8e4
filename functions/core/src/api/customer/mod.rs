//! The versioned customer API (`/api/p/{realm}/v1/...`): what a signed-in subscriber can see and do.
//! Routes its own sub-paths (`params.rest`).

use bytes::Bytes;
use http::Request;

use super::{ApiError, ApiResult, Params};
use crate::Ctx;
use crate::platform::Platform;

pub(crate) async fn handle<P: Platform>(_p: &P, params: &Params, _req: Request<Bytes>, _ctx: &Ctx) -> ApiResult {
    Err(ApiError::NotFound(format!("route v1/{}", params.rest.as_deref().unwrap_or(""))))
}

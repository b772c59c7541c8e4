//! The platform operator's console (`/platform/...`): tenants and their health.

use bytes::Bytes;
use http::{Request, Response};

use crate::Ctx;
use crate::api::Params;
use crate::platform::Platform;

pub(crate) async fn handle<P: Platform>(p: &P, params: &Params, req: Request<Bytes>, _ctx: &Ctx) -> Response<Bytes> {
    crate::web::not_found(p, params, &req).await
}

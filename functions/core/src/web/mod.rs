//! Pages a person sees: the captive portal (`/h/{realm}`), the subscriber portal (`/p/{realm}`) and
//! the operator console (`/c/{realm}`, `/platform`), server-rendered from the same core as the API.
//!
//! This module holds what the three share (see `shared/design/pages.md`): the HTML response with its
//! security headers, the layout and its one CSS block, the Swahili/English message catalogue, money
//! and time formatting, form parsing and signed cookies with CSRF tokens. No templates are read at
//! run time: pages are `maud` macros compiled into the binary, escaping on by default.
//!
//! Conventions every page follows:
//! - every action is a link or a form POST answered `303 See Other` (works with JavaScript off);
//! - every form carries the CSRF field from [`session::csrf_field`], checked before anything is written;
//! - text comes from the catalogue by key ([`PageCtx::t`]), never a sentence in a template;
//! - money through [`fmt::kes`], times through [`fmt::eat`] (East Africa Time).

pub mod captive;
pub mod console;
pub mod fmt;
pub mod form;
pub(crate) mod home;
pub mod i18n;
pub mod layout;
pub mod portal;
pub mod session;
pub mod sheets;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use maud::Markup;
use sha2::{Digest, Sha256};

pub use i18n::Lang;
pub use layout::{Brand, PageCtx};

/// The largest logo a tenant may set (its data URI, in bytes): it is inlined in every page.
pub const MAX_LOGO_BYTES: usize = 8 * 1024;

/// Budgets from `pages.md`, asserted by the page tests.
pub const CAPTIVE_BUDGET: usize = 30 * 1024;
pub const PORTAL_BUDGET: usize = 50 * 1024;
pub const CONSOLE_BUDGET: usize = 100 * 1024;

/// How a page may be embedded and where its forms may post.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Extra origins forms may post to (the hotspot's `link-login-only`, e.g. `http://10.5.50.1`).
    pub form_action: Vec<String>,
    /// Inline scripts the page carries; each is allowed by its hash, nothing else runs.
    pub scripts: Vec<&'static str>,
}

/// `sha256-...` of an inline script, for `Content-Security-Policy`.
pub fn script_hash(script: &str) -> String {
    use base64::Engine as _;
    format!("'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(Sha256::digest(script.as_bytes())))
}

/// An HTML response with the headers every page carries: CSP without `unsafe-inline` scripts,
/// no framing, no referrer, no caching of personal pages.
pub fn html(status: StatusCode, body: Markup, policy: &Policy) -> Response<Bytes> {
    let mut r = Response::new(Bytes::from(body.into_string()));
    *r.status_mut() = status;
    let mut form_action = String::from("'self'");
    for o in &policy.form_action {
        if o.chars().all(|c| c.is_ascii_alphanumeric() || ":/.-[]".contains(c)) {
            form_action.push(' ');
            form_action.push_str(o);
        }
    }
    let scripts: Vec<String> = policy.scripts.iter().map(|s| script_hash(s)).collect();
    let script_src = if scripts.is_empty() { "'none'".to_owned() } else { scripts.join(" ") };
    let csp = format!(
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; script-src {script_src}; \
         form-action {form_action}; base-uri 'none'; frame-ancestors 'none'"
    );
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    r
}

/// `303 See Other` to `location` (a path on this host): the answer to every successful form POST.
pub fn see_other(location: &str) -> Response<Bytes> {
    let mut r = Response::new(Bytes::new());
    *r.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Adds a `Set-Cookie` header (several may be added).
pub fn add_cookie(r: &mut Response<Bytes>, cookie: &str) {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// True when the request is a form POST (`application/x-www-form-urlencoded`).
pub fn is_form_post(req: &Request<Bytes>) -> bool {
    req.method() == http::Method::POST
        && req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

/// The tenant named in the path with its page context, or `None` when there is no such active
/// tenant (answer [`not_found`]).
pub(crate) async fn tenant_page<P: crate::platform::Platform>(
    p: &P,
    params: &crate::api::Params,
    req: &Request<Bytes>,
) -> Option<(crate::store::tenants::Tenant, P::Db, PageCtx)> {
    let (t, db) = crate::api::tenant_of(p, params).await.ok()?;
    let cx = PageCtx::from_request(req, Brand::of(&t), &t.settings.default_language);
    Some((t, db, cx))
}

/// The "page not found" page, in the tenant's branding when the tenant exists.
pub(crate) async fn not_found<P: crate::platform::Platform>(
    p: &P,
    params: &crate::api::Params,
    req: &Request<Bytes>,
) -> Response<Bytes> {
    let cx = match tenant_page(p, params, req).await {
        Some((_, _, cx)) => cx,
        None => PageCtx::from_request(req, Brand::platform(), "en"),
    };
    not_found_page(&cx)
}

/// The "page not found" page for a context.
pub fn not_found_page(cx: &PageCtx) -> Response<Bytes> {
    let body = maud::html! {
        h1 { (cx.t("common.not_found_title")) }
        p { (cx.t("common.not_found")) }
    };
    let mut r =
        html(StatusCode::NOT_FOUND, layout::page(cx, cx.t("common.not_found_title"), None, body), &Policy::default());
    cx.remember(&mut r);
    r
}

/// The "something went wrong" page (storage unavailable and the like); the cause goes to the log.
pub fn error_page(cx: &PageCtx) -> Response<Bytes> {
    let body = maud::html! { h1 { (cx.t("common.try_again")) } };
    html(StatusCode::SERVICE_UNAVAILABLE, layout::page(cx, cx.t("common.try_again"), None, body), &Policy::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use maud::html as m;

    #[test]
    fn html_headers_forbid_inline_scripts_and_framing() {
        let r = html(StatusCode::OK, m! { p { "hi" } }, &Policy::default());
        let csp = r.headers()[header::CONTENT_SECURITY_POLICY].to_str().expect("ascii");
        assert!(csp.contains("script-src 'none'"), "{csp}");
        assert!(!csp.contains("script-src 'unsafe-inline'"));
        assert_eq!(r.headers()[header::X_FRAME_OPTIONS], "DENY");
        assert!(r.headers()[header::CONTENT_TYPE].to_str().expect("ascii").starts_with("text/html"));
    }

    #[test]
    fn html_allows_each_inline_script_by_hash_only() {
        let policy = Policy { scripts: vec!["console.log(1)"], form_action: vec!["http://10.5.50.1".into()] };
        let r = html(StatusCode::OK, m! { p { "x" } }, &policy);
        let csp = r.headers()[header::CONTENT_SECURITY_POLICY].to_str().expect("ascii");
        assert!(csp.contains(&script_hash("console.log(1)")), "{csp}");
        assert!(csp.contains("form-action 'self' http://10.5.50.1"), "{csp}");
    }

    #[test]
    fn html_drops_a_form_action_origin_that_could_inject_a_directive() {
        let policy = Policy { scripts: vec![], form_action: vec!["http://x; script-src *".into()] };
        let r = html(StatusCode::OK, m! { p { "x" } }, &policy);
        let csp = r.headers()[header::CONTENT_SECURITY_POLICY].to_str().expect("ascii");
        assert!(!csp.contains("script-src *"), "{csp}");
    }

    #[test]
    fn see_other_is_303_with_location() {
        let r = see_other("/p/acme");
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(r.headers()[header::LOCATION], "/p/acme");
    }
}

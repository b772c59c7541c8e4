//! The operator console of one tenant (`/c/{realm}/...`). Routes its own sub-paths (`params.rest`).
//!
//! Staff sign in with a login and password ([`crate::usecases::staff::sign_in`]); the session is a
//! signed cookie (`HttpOnly; Secure; SameSite=Strict`, path `/c/{realm}`) naming the user, the
//! user's session generation and a session id that every form's CSRF token is bound to. Each
//! request re-reads the user: a role change or deactivation takes effect at once. What a page
//! shows and accepts is decided by the role table ([`crate::usecases::staff::ROLE_TABLE`]).

pub mod charts;
pub(crate) mod dash;
mod pages;
pub mod platform;
mod settings;
mod sms;
mod tickets;
mod vouchers;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};

use super::session::{self, Expiring};
use super::{PageCtx, Policy};
use crate::Ctx;
use crate::api::Params;
use crate::platform::{Level, Platform};
use crate::store::staff::{self, StaffUser};
use crate::store::tenants::Tenant;
use crate::usecases::staff::{Action, Role, allowed};

/// Session cookie and the pre-sign-in cookie the sign-in form's CSRF token is bound to.
pub const SESSION_COOKIE: &str = "kc_session";
pub const PRE_COOKIE: &str = "kc_pre";
/// A session lasts 12 hours (a working day), then the user signs in again.
pub const SESSION_SECONDS: i64 = 12 * 3600;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    uid: String,
    sgen: i64,
    sid: String,
    exp: i64,
}

impl Expiring for Claims {
    fn expires_at(&self) -> i64 {
        self.exp
    }
}

/// A signed-in staff member on one of their tenant's pages.
pub(crate) struct Staff {
    pub user: StaffUser,
    pub csrf: String,
    pub realm: String,
    pub tenant: Tenant,
}

impl Staff {
    pub fn may(&self, a: Action) -> bool {
        allowed(self.user.role, a)
    }
    pub fn base(&self) -> String {
        format!("/c/{}", self.realm)
    }
    pub fn csrf_field(&self) -> Markup {
        session::csrf_field(&self.csrf)
    }
}

fn keys<P: Platform>(p: &P, realm: &str) -> Option<([u8; 32], [u8; 32])> {
    let secret = p.settings().voucher_secret.expose();
    if secret.is_empty() {
        return None;
    }
    Some((session::derive_key(secret, "console-session", realm), session::derive_key(secret, "console-csrf", realm)))
}

/// The sections of the console, each behind one action of the role table.
pub(crate) const SECTIONS: &[(&str, &str, Action)] = &[
    ("dashboard", "console.nav.dashboard", Action::ViewDashboard),
    ("subscribers", "console.nav.subscribers", Action::ViewBilling),
    ("payments", "console.nav.payments", Action::ViewBilling),
    ("unmatched", "console.nav.unmatched", Action::ViewBilling),
    ("plans", "console.nav.plans", Action::ViewBilling),
    ("tickets", "console.nav.tickets", Action::ViewTickets),
    ("vouchers", "console.nav.vouchers", Action::ViewVouchers),
    ("sms", "console.sms.nav", Action::ViewSms),
    ("callbacks", "console.nav.callbacks", Action::ViewNetwork),
    ("routers", "console.nav.routers", Action::ViewNetwork),
    ("online", "console.nav.online", Action::ViewNetwork),
    ("settings", "console.nav.settings", Action::Settings),
    ("users", "console.nav.users", Action::ManageUsers),
    ("audit", "console.nav.audit", Action::ViewAudit),
];

/// The console's tab bar: only the sections the user's role may open.
pub(crate) fn nav(cx: &PageCtx, st: &Staff, current: &str) -> Markup {
    let base = st.base();
    html! {
        nav.tabs aria-label="Console" {
            @for (slug, key, action) in SECTIONS {
                @if st.may(*action) {
                    @if *slug == current {
                        a href={ (base) "/" (slug) } aria-current="page" { (cx.t(key)) }
                    } @else {
                        a href={ (base) "/" (slug) } { (cx.t(key)) }
                    }
                }
            }
            form.inline method="post" action={ (base) "/logout" } {
                (st.csrf_field())
                button.secondary type="submit" { (cx.t("common.sign_out")) " (" (st.user.login) ")" }
            }
        }
    }
}

/// A console page: frame, tabs, body.
pub(crate) fn page(cx: &PageCtx, st: &Staff, current: &str, title: &str, body: Markup) -> Response<Bytes> {
    let mut r = super::html(
        StatusCode::OK,
        super::layout::page(cx, title, Some(nav(cx, st, current)), body),
        &Policy::default(),
    );
    cx.remember(&mut r);
    r
}

/// 403 in the console's frame: the user is signed in but their role may not open this.
pub(crate) fn forbidden(cx: &PageCtx, st: &Staff) -> Response<Bytes> {
    let body = html! { h1 { (cx.t("console.forbidden_title")) } p { (cx.t("console.forbidden")) } };
    let mut r = super::html(
        StatusCode::FORBIDDEN,
        super::layout::page(cx, cx.t("console.forbidden_title"), Some(nav(cx, st, "")), body),
        &Policy::default(),
    );
    cx.remember(&mut r);
    r
}

fn csrf_refused(cx: &PageCtx) -> Response<Bytes> {
    let body = html! { h1 { (cx.t("form.csrf_failed")) } p { a href=(cx.path) { (cx.t("common.back")) } } };
    super::html(
        StatusCode::FORBIDDEN,
        super::layout::page(cx, cx.t("form.csrf_failed"), None, body),
        &Policy::default(),
    )
}

pub(crate) async fn handle<P: Platform>(p: &P, params: &Params, req: Request<Bytes>, ctx: &Ctx) -> Response<Bytes> {
    let Some((tenant, db, cx)) = super::tenant_page(p, params, &req).await else {
        return super::not_found(p, params, &req).await;
    };
    let realm = tenant.realm.as_str().to_owned();
    let Some((skey, ckey)) = keys(p, &realm) else {
        p.log(Level::Error, "console: no voucher secret configured, so no session key; console is off");
        return super::error_page(&cx);
    };
    let rest = params.rest.as_deref().unwrap_or("").trim_matches('/').to_owned();
    let base = format!("/c/{realm}");
    let now = ctx.now;
    let m = req.method().clone();

    if rest == "login" {
        return pages::login(&db, &cx, &req, &base, &skey, &ckey, ctx).await;
    }

    // Everything else needs a session.
    let claims =
        session::cookie(&req, SESSION_COOKIE).and_then(|t| session::verify::<Claims>(&skey, t, now.timestamp()));
    let user = match &claims {
        Some(c) => match staff::user(&db, &c.uid).await {
            Ok(u) => u.filter(|u| u.active && u.session_gen == c.sgen),
            Err(e) => {
                p.log(Level::Error, &format!("console: {e}"));
                return super::error_page(&cx);
            }
        },
        None => None,
    };
    let (Some(user), Some(claims)) = (user, claims) else {
        if m == Method::GET {
            return super::see_other(&format!("{base}/login"));
        }
        let body = html! { h1 { (cx.t("common.session_expired")) } p { a href={ (base) "/login" } { (cx.t("console.sign_in")) } } };
        return super::html(
            StatusCode::UNAUTHORIZED,
            super::layout::page(&cx, cx.t("common.session_expired"), None, body),
            &Policy::default(),
        );
    };
    let st = Staff { csrf: session::csrf_token(&ckey, &claims.sid), user, realm, tenant };

    if m == Method::POST {
        let form = super::form::parse(&req);
        if !session::csrf_ok(&ckey, &claims.sid, form.as_ref().and_then(|f| f.get("csrf"))) {
            return csrf_refused(&cx);
        }
    }
    if rest == "logout" && m == Method::POST {
        let mut r = super::see_other(&format!("{base}/login"));
        super::add_cookie(&mut r, &session::clear_cookie(SESSION_COOKIE, &base));
        return r;
    }
    if rest.is_empty() {
        let first = SECTIONS.iter().find(|(_, _, a)| st.may(*a)).map_or("dashboard", |s| s.0);
        return super::see_other(&format!("{base}/{first}"));
    }
    match pages::route(p, &db, &cx, &st, &rest, &req, ctx).await {
        Ok(r) => r,
        Err(pages::PageError::NotFound) => super::not_found_page(&cx),
        Err(pages::PageError::Forbidden) => forbidden(&cx, &st),
        Err(pages::PageError::Store(e)) => {
            p.log(Level::Error, &format!("console {rest}: {e}"));
            super::error_page(&cx)
        }
    }
}

/// Issues a session cookie for `user`.
pub(crate) fn session_cookie(skey: &[u8; 32], user: &StaffUser, base: &str, ctx: &Ctx) -> String {
    let sid = session::random_id(&ctx.entropy, b"console-sid");
    let claims =
        Claims { uid: user.id.clone(), sgen: user.session_gen, sid, exp: ctx.now.timestamp() + SESSION_SECONDS };
    session::set_cookie(SESSION_COOKIE, &session::sign(skey, &claims), base, SESSION_SECONDS, false)
}

/// The role's name in the catalogue.
pub(crate) fn role_key(r: Role) -> &'static str {
    match r {
        Role::Owner => "console.role.owner",
        Role::Staff => "console.role.staff",
        Role::Agent => "console.role.agent",
        Role::ReadOnly => "console.role.readonly",
    }
}

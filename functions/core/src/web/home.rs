//! `/`: what a person who opens the edge's address sees: where each kind of user goes.

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use maud::html;

use super::{Brand, PageCtx, Policy, html, layout};

pub(crate) fn handle(req: &Request<Bytes>) -> Response<Bytes> {
    let cx = PageCtx::from_request(req, Brand::platform(), "en");
    let body = html! {
        h1 { (cx.t("home.title")) }
        p { (cx.t("home.lead")) }
        div.card {
            h2 { (cx.t("home.isp_staff")) }
            p { (cx.t("home.isp_staff_how")) }
            p.muted.small { code { "/c/{realm}" } }
        }
        div.card {
            h2 { (cx.t("home.subscribers")) }
            p { (cx.t("home.subscribers_how")) }
            p.muted.small { code { "/p/{realm}" } " · " code { "/h/{realm}" } }
        }
        div.card {
            h2 { (cx.t("home.platform")) }
            p { a.btn href="/platform" { (cx.t("home.platform_sign_in")) } }
        }
    };
    let mut r = html(StatusCode::OK, layout::page(&cx, cx.t("home.title"), None, body), &Policy::default());
    cx.remember(&mut r);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_links_the_platform_console_in_both_languages() {
        let req = |q: &str| Request::builder().uri(format!("/{q}")).body(Bytes::new()).expect("request");
        let en = String::from_utf8(handle(&req("")).body().to_vec()).expect("utf-8");
        assert!(en.contains(r#"href="/platform""#) && en.contains("Konnekted"), "{en}");
        let sw = String::from_utf8(handle(&req("?lang=sw")).body().to_vec()).expect("utf-8");
        assert!(sw.contains(r#"<html lang="sw">"#));
    }
}

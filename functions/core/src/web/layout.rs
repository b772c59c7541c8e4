//! The frame every page shares: head with the one CSS block, the tenant's branding, the language
//! switch, the support line. Mobile first (readable at 360 px), large tap targets, no web fonts,
//! nothing fetched from elsewhere.

use bytes::Bytes;
use http::{Request, Response, header};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::i18n::Lang;
use super::session;
use crate::api::Query;
use crate::store::tenants::Tenant;

/// A tenant's branding, from its settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Brand {
    pub name: String,
    /// `#rrggbb`, validated when settings are saved; anything else falls back to the default.
    pub accent: String,
    pub support_phone: String,
    pub logo_data_uri: String,
}

impl Brand {
    pub fn of(t: &Tenant) -> Brand {
        let s = &t.settings;
        let a = s.brand_accent.as_bytes();
        let accent_ok = a.len() == 7 && a[0] == b'#' && a[1..].iter().all(u8::is_ascii_hexdigit);
        Brand {
            name: t.name.clone(),
            accent: if accent_ok { s.brand_accent.clone() } else { "#0b6e4f".into() },
            support_phone: s.support_phone.clone(),
            logo_data_uri: if s.logo_data_uri.starts_with("data:image/") {
                s.logo_data_uri.clone()
            } else {
                String::new()
            },
        }
    }

    /// The platform's own branding (platform console, pages with no tenant).
    pub fn platform() -> Brand {
        Brand {
            name: "Konnekted".into(),
            accent: "#0b6e4f".into(),
            support_phone: String::new(),
            logo_data_uri: String::new(),
        }
    }
}

/// What every page needs to render: language, branding, where it is (for the language switch).
#[derive(Debug, Clone)]
pub struct PageCtx {
    pub lang: Lang,
    pub brand: Brand,
    /// The request's path, without the query (the language switch links back to it).
    pub path: String,
    /// Set when the visitor chose a language with `?lang=`: the answer remembers it in a cookie.
    pub chose_lang: bool,
}

impl PageCtx {
    /// Language from `?lang=`, the `lang` cookie, `Accept-Language`, else the tenant's default.
    pub fn from_request(req: &Request<Bytes>, brand: Brand, default_lang: &str) -> PageCtx {
        let q = Query::parse(req.uri().query());
        let explicit = q.get("lang").filter(|l| Lang::from_tag(l).is_some());
        let accept = req.headers().get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
        let default = Lang::from_tag(default_lang).unwrap_or_default();
        let lang = Lang::negotiate(explicit, session::cookie(req, "lang"), accept, default);
        PageCtx { lang, brand, path: req.uri().path().to_owned(), chose_lang: explicit.is_some() }
    }

    pub fn t(&self, key: &'static str) -> &'static str {
        self.lang.t(key)
    }

    pub fn tf(&self, key: &'static str, args: &[(&str, &str)]) -> String {
        self.lang.tf(key, args)
    }

    pub fn kes(&self, cents: i64) -> String {
        super::fmt::kes(cents)
    }

    pub fn eat(&self, t: chrono::DateTime<chrono::Utc>) -> String {
        super::fmt::eat(t, self.lang)
    }

    /// Adds the language cookie when the visitor chose one (a year; not `HttpOnly`-sensitive but
    /// set like every other cookie).
    pub fn remember(&self, r: &mut Response<Bytes>) {
        if self.chose_lang {
            super::add_cookie(r, &format!("lang={}; Path=/; Max-Age=31536000; Secure; SameSite=Lax", self.lang.tag()));
        }
    }
}

/// The one CSS block. Colours pass a greyscale print (text is always near-black on white or
/// white on the accent); tap targets are at least 44 px high.
pub const CSS: &str = r#"*{box-sizing:border-box}html{-webkit-text-size-adjust:100%}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1b1b;background:#f4f5f4}
a{color:var(--a)}a:focus,button:focus,input:focus,select:focus,textarea:focus{outline:3px solid #fd0;outline-offset:0}
.skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:#fff;padding:8px;z-index:9}
header.top{background:var(--a);color:#fff;padding:10px 16px;display:flex;align-items:center;gap:10px;flex-wrap:wrap}
header.top a{color:#fff}header.top .brand{font-weight:700;font-size:1.15em;text-decoration:none;flex:1}
header.top img{height:32px;width:auto;vertical-align:middle}
nav.tabs{background:#fff;border-bottom:1px solid #ccc;display:flex;flex-wrap:wrap;align-items:center;padding:0 8px}
nav.tabs a{display:inline-block;padding:12px 10px;text-decoration:none;color:#1b1b1b;white-space:nowrap}
nav.tabs a[aria-current]{border-bottom:4px solid var(--a);font-weight:700}
nav.tabs form{margin:4px 0 4px auto}form.inline{display:inline}
main{max-width:960px;margin:0 auto;padding:16px}
main.narrow{max-width:520px}
h1{font-size:1.6em;line-height:1.2;margin:.2em 0 .6em}h2{font-size:1.25em;margin:1.2em 0 .5em}
.card{background:#fff;border:1px solid #d5d8d5;border-radius:6px;padding:16px;margin:0 0 16px}
.big{font-size:2em;font-weight:700;line-height:1.1}
.muted{color:#505a5f}.small{font-size:.875em}
.btn,button{display:inline-block;min-height:44px;padding:10px 18px;border:0;border-radius:4px;background:var(--a);color:#fff;
font:inherit;font-weight:700;text-decoration:none;cursor:pointer;text-align:center}
.btn.secondary,button.secondary{background:#e8ebe8;color:#1b1b1b;box-shadow:inset 0 -2px #b1b4b6}
.btn.warn,button.warn{background:#b3261e}
.btn.block,button.block{display:block;width:100%}
label{display:block;font-weight:700;margin:12px 0 4px}.hint{display:block;color:#505a5f;font-weight:400}
input[type=text],input[type=tel],input[type=password],input[type=email],input[type=number],input[type=search],input[type=date],select,textarea{
width:100%;min-height:44px;padding:8px;font:inherit;border:2px solid #0b0c0c;border-radius:0;background:#fff}
.field-error{color:#b3261e;font-weight:700;margin:4px 0}.has-error input,.has-error select{border-color:#b3261e}
.error-summary{border:4px solid #b3261e;padding:12px 16px;margin:0 0 16px;background:#fff}
.error-summary h2{margin:0 0 8px}.error-summary a{color:#b3261e;font-weight:700}
.notice{border-left:6px solid var(--a);background:#fff;padding:12px 16px;margin:0 0 16px}
.notice.ok{border-color:#00703c}.notice.bad{border-color:#b3261e}
table{width:100%;border-collapse:collapse;background:#fff}th,td{text-align:left;padding:8px;border-bottom:1px solid #d5d8d5;vertical-align:top}
th{font-size:.875em;color:#505a5f}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.table-wrap{overflow-x:auto;max-width:100%}
.grid>*,.row>*{min-width:0}dl.kv dd,pre{overflow-wrap:anywhere}
@media(max-width:600px){nav.tabs{padding:0 4px}nav.tabs a{padding:10px 7px}
table.stack thead{position:absolute;left:-9999px}table.stack tr{display:block;border-bottom:2px solid #b1b4b6;padding:4px 0}
table.stack td{display:flex;justify-content:space-between;gap:12px;border:0;padding:4px 8px;text-align:right}
table.stack td::before{content:attr(data-label);font-weight:700;color:#505a5f;text-align:left}
table.stack td:empty,table.stack td[data-label=""]::before{display:none}}
.badge{display:inline-block;padding:0 8px;border-radius:10px;font-size:.8em;font-weight:700;background:#e8ebe8}
.badge.ok{background:#cce2d8;color:#005a30}.badge.bad{background:#f4cdc9;color:#8a1a14}.badge.warn{background:#fff7bf;color:#594d00}
.grid{display:grid;gap:16px;grid-template-columns:repeat(auto-fit,minmax(200px,1fr))}
.row{display:flex;gap:8px;flex-wrap:wrap;align-items:center}
dl.kv{display:grid;grid-template-columns:auto minmax(0,1fr);gap:4px 16px;margin:0}dl.kv dt{color:#505a5f}dl.kv dd{margin:0;font-weight:700}
footer.foot{max-width:960px;margin:0 auto;padding:16px;color:#505a5f;font-size:.875em}
.lang a{color:#fff}
svg.chart{width:100%;height:auto;background:#fff}
@media print{header.top,nav.tabs,footer.foot,.noprint{display:none}body{background:#fff}.card{border:0}}
"#;

/// The page frame. `nav` is the area's navigation (console tabs, portal menu), `body` the content.
pub fn page(cx: &PageCtx, title: &str, nav: Option<Markup>, body: Markup) -> Markup {
    page_with(cx, title, nav, body, None)
}

/// As [`page`], with extra head content (a `<meta http-equiv="refresh">`, a hashed script).
pub fn page_with(cx: &PageCtx, title: &str, nav: Option<Markup>, body: Markup, head: Option<Markup>) -> Markup {
    let other = cx.lang.other();
    html! {
        (DOCTYPE)
        html lang=(cx.lang.tag()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (cx.brand.name) }
                style { (PreEscaped(":root{--a:")) (cx.brand.accent) (PreEscaped("}")) (PreEscaped(CSS)) }
                @if let Some(h) = head { (h) }
            }
            body {
                a.skip href="#main" { (cx.t("common.skip_to_content")) }
                header.top {
                    @if !cx.brand.logo_data_uri.is_empty() { img src=(cx.brand.logo_data_uri) alt=""; }
                    span.brand { (cx.brand.name) }
                    span.lang { a href={ (cx.path) "?lang=" (other.tag()) } hreflang=(other.tag()) lang=(other.tag()) { (other.name()) } }
                }
                @if let Some(n) = nav { (n) }
                main #main { (body) }
                footer.foot {
                    @if !cx.brand.support_phone.is_empty() {
                        p { (cx.tf("common.support_call", &[("phone", &cx.brand.support_phone)])) }
                    }
                    p { (cx.t("common.powered_by")) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx(lang: Lang) -> PageCtx {
        PageCtx {
            lang,
            brand: Brand {
                name: "Acme <Net>".into(),
                accent: "#123456".into(),
                support_phone: "0712 000 000".into(),
                logo_data_uri: String::new(),
            },
            path: "/p/acme".into(),
            chose_lang: false,
        }
    }

    #[test]
    fn page_escapes_the_tenant_name_and_links_the_other_language() {
        let h = page(&cx(Lang::En), "Home", None, html! { p { "x" } }).into_string();
        assert!(h.contains("Acme &lt;Net&gt;"), "tenant name is escaped");
        assert!(h.contains(r#"href="/p/acme?lang=sw""#));
        assert!(h.contains("Call 0712 000 000"));
        assert!(h.contains("--a:#123456"));
        assert!(h.contains(r#"<html lang="en">"#));
        let sw = page(&cx(Lang::Sw), "Nyumbani", None, html! {}).into_string();
        assert!(sw.contains("Piga simu 0712 000 000") && sw.contains(r#"href="/p/acme?lang=en""#));
    }

    #[test]
    fn empty_page_is_far_under_the_smallest_budget() {
        let h = page(&cx(Lang::En), "Home", None, html! {}).into_string();
        assert!(h.len() < super::super::CAPTIVE_BUDGET / 3, "frame alone is {} bytes", h.len());
    }

    #[test]
    fn from_request_reads_query_then_cookie_then_header() {
        let req = |uri: &str, cookie: Option<&str>, al: Option<&str>| {
            let mut b = Request::builder().uri(uri);
            if let Some(c) = cookie {
                b = b.header(header::COOKIE, c);
            }
            if let Some(a) = al {
                b = b.header(header::ACCEPT_LANGUAGE, a);
            }
            b.body(Bytes::new()).expect("request")
        };
        let b = Brand::platform();
        let c = PageCtx::from_request(&req("/p/x?lang=sw", Some("lang=en"), None), b.clone(), "en");
        assert_eq!((c.lang, c.chose_lang, c.path.as_str()), (Lang::Sw, true, "/p/x"));
        let c = PageCtx::from_request(&req("/p/x", Some("lang=sw"), Some("en")), b.clone(), "en");
        assert_eq!((c.lang, c.chose_lang), (Lang::Sw, false));
        let c = PageCtx::from_request(&req("/p/x", None, Some("sw-KE,sw;q=0.9")), b.clone(), "en");
        assert_eq!(c.lang, Lang::Sw);
        let c = PageCtx::from_request(&req("/p/x", None, None), b, "sw");
        assert_eq!(c.lang, Lang::Sw);
    }
}

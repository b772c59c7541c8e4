//! The captive pages' HTML, from plain data (so the tests read them without a database).

use maud::{Markup, html};

use super::login::LoginForm;
use crate::domain::plan::Plan;
use crate::web::form::{FieldError, error_summary, field_error};
use crate::web::session::csrf_field;
use crate::web::{PageCtx, fmt};

/// Seconds between the waiting page's refreshes.
pub const REFRESH_SECONDS: u32 = 3;

/// The script that submits the login form once the code has been seen (JavaScript on); with
/// JavaScript off the visitor taps the button. Allowed by its hash in the page's CSP.
pub const AUTO_LOGIN_JS: &str = "setTimeout(function(){var f=document.getElementById('login');if(f)f.submit()},2500)";

/// "1 h · 2 Mbps · 1 GB" for a package.
pub fn package_facts(cx: &PageCtx, p: &Plan) -> String {
    let mut s = format!("{} · {} Mbps", fmt::duration(p.period_seconds, cx.lang), mbps(p.down_kbps));
    if let Some(cap) = p.data_cap_bytes {
        s.push_str(" · ");
        s.push_str(&fmt::bytes(cap));
    }
    s
}

fn mbps(kbps: i64) -> String {
    if kbps % 1000 == 0 { (kbps / 1000).to_string() } else { format!("{:.1}", kbps as f64 / 1000.0) }
}

/// The home page: the packages and the voucher form.
pub fn home(
    cx: &PageCtx,
    base: &str,
    packages: &[Plan],
    csrf: &str,
    code: &str,
    errors: &[FieldError],
    notice: Option<&str>,
) -> Markup {
    html! {
        (error_summary(cx, errors))
        @if let Some(n) = notice { div.notice.ok role="status" { (n) } }
        h1 { (cx.t("captive.title")) }
        @if !code.is_empty() {
            (voucher_form(cx, base, csrf, code, errors))
        }
        h2 { (cx.t("captive.packages")) }
        @if packages.is_empty() {
            p { (cx.t("captive.no_packages")) }
        }
        @for p in packages {
            div.card.pkg {
                div.row {
                    div style="flex:1" {
                        strong { (p.name) } br;
                        span.muted.small { (package_facts(cx, p)) }
                    }
                    span.big { (cx.kes(p.price.cents())) }
                }
                a.btn.block href={ (base) "/buy?plan=" (p.code) } style="margin-top:8px" {
                    (cx.tf("captive.buy_for", &[("price", &cx.kes(p.price.cents()))]))
                }
            }
        }
        @if code.is_empty() {
            (voucher_form(cx, base, csrf, code, errors))
        }
    }
}

fn voucher_form(cx: &PageCtx, base: &str, csrf: &str, code: &str, errors: &[FieldError]) -> Markup {
    let err = field_error(errors, "code");
    html! {
        h2 { (cx.t("captive.have_voucher")) }
        form.card method="post" action={ (base) "/voucher" } {
            (csrf_field(csrf))
            div class=[err.map(|_| "has-error")] {
                label for="code" { (cx.t("captive.voucher_code")) span.hint { (cx.t("captive.voucher_hint")) } }
                @if let Some(e) = err { p.field-error { (e) } }
                input #code type="text" name="code" value=(code) autocomplete="off" autocapitalize="characters"
                    spellcheck="false" maxlength="20" required;
            }
            p { button.block type="submit" { (cx.t("captive.use_voucher")) } }
        }
    }
}

/// Choosing the phone that pays for one package.
pub fn buy(cx: &PageCtx, base: &str, plan: &Plan, csrf: &str, phone: &str, errors: &[FieldError]) -> Markup {
    let err = field_error(errors, "phone");
    html! {
        (error_summary(cx, errors))
        p { a href=(base) { "‹ " (cx.t("common.back")) } }
        h1 { (cx.tf("captive.buy_title", &[("package", &plan.name)])) }
        div.card {
            dl.kv {
                dt { (cx.t("captive.package")) } dd { (plan.name) }
                dt { (cx.t("captive.gives")) } dd { (package_facts(cx, plan)) }
                dt { (cx.t("captive.price")) } dd { (cx.kes(plan.price.cents())) }
            }
        }
        form method="post" action={ (base) "/buy" } {
            (csrf_field(csrf))
            input type="hidden" name="plan" value=(plan.code);
            div class=[err.map(|_| "has-error")] {
                label for="phone" { (cx.t("captive.phone")) span.hint { (cx.t("captive.phone_hint")) } }
                @if let Some(e) = err { p.field-error { (e) } }
                input #phone type="tel" name="phone" value=(phone) autocomplete="tel" inputmode="tel" maxlength="16" required;
            }
            p { button.block type="submit" { (cx.tf("captive.pay_with_mpesa", &[("price", &cx.kes(plan.price.cents()))])) } }
        }
    }
}

/// Waiting for the buyer's PIN; the page refreshes itself.
pub fn waiting(cx: &PageCtx, here: &str, amount_cents: i64, phone_masked: &str) -> Markup {
    html! {
        h1 { (cx.t("captive.waiting_title")) }
        div.notice role="status" {
            p { (cx.tf("captive.waiting_prompt", &[("phone", phone_masked), ("price", &cx.kes(amount_cents))])) }
            p.muted.small { (cx.t("captive.waiting_refresh")) }
        }
        p { a.btn.secondary.block href=(here) { (cx.t("captive.check_again")) } }
    }
}

/// The `<meta refresh>` of a waiting page.
pub fn refresh_head(here: &str) -> Markup {
    html! { meta http-equiv="refresh" content={ (REFRESH_SECONDS) ";url=" (here) }; }
}

/// The payment did not go through.
pub fn failed(cx: &PageCtx, retry: &str, reason: &str) -> Markup {
    html! {
        h1 { (cx.t("captive.failed_title")) }
        div.notice.bad role="alert" {
            p { (cx.t("captive.failed_body")) }
            @if !reason.is_empty() { p.muted.small { (reason) } }
        }
        p { a.btn.block href=(retry) { (cx.t("captive.try_again")) } }
    }
}

/// The code, big and copyable, and the form that logs the device in with it.
pub fn code_page(
    cx: &PageCtx,
    base: &str,
    code: &str,
    plan: Option<&Plan>,
    login: Option<&LoginForm>,
    paid: bool,
    note: Option<&'static str>,
) -> Markup {
    html! {
        h1 { (cx.t(if paid { "captive.paid_title" } else { "captive.code_title" })) }
        @if let Some(n) = note { div.notice { p { (cx.t(n)) } } }
        div.card {
            p.muted { (cx.t("captive.your_code")) }
            p.big #the-code style="font-family:monospace;font-size:1.7em;letter-spacing:.04em;user-select:all;white-space:nowrap" { (code) }
            @if let Some(p) = plan {
                p.muted.small { (p.name) " · " (package_facts(cx, p)) }
            }
            p.small { (cx.t("captive.keep_code")) }
        }
        @match login {
            Some(f) => {
                form #login method="post" action=(f.action) {
                    input type="hidden" name="username" value=(f.username);
                    input type="hidden" name="password" value=(f.password);
                    @if !f.dst.is_empty() { input type="hidden" name="dst" value=(f.dst); }
                    input type="hidden" name="popup" value="true";
                    button.block type="submit" { (cx.t("captive.connect_now")) }
                }
                // What happens next: with JavaScript the form goes by itself; without, the tap
                // on "Connect now" does it, and the page says so.
                p.muted.small.js-hint { (cx.t("captive.connecting_hint")) }
                noscript {
                    style { ".js-hint{display:none}" }
                    p.small #tap-to-connect { (cx.t("captive.tap_to_connect")) }
                }
            }
            None => {
                div.notice { p { (cx.t("captive.no_router")) } }
            }
        }
        p { a href=(base) { (cx.t("captive.back_to_packages")) } }
    }
}

/// What a suspended or expired subscriber sees, and the button that pays.
pub struct Suspension<'a> {
    pub name: &'a str,
    pub account_no: &'a str,
    pub status: &'a str,
    pub plan: &'a str,
    pub expired_at: Option<String>,
    pub due_cents: i64,
    /// The phone on file, masked (`0708****149`).
    pub phone_on_file: Option<&'a str>,
    /// What the visitor typed (empty on the first visit).
    pub phone: &'a str,
}

pub fn suspended(cx: &PageCtx, base: &str, s: &Suspension<'_>, csrf: &str, errors: &[FieldError]) -> Markup {
    let err = field_error(errors, "phone");
    let why = match s.status {
        "suspended" => cx.t("captive.why_suspended"),
        "expired" => cx.t("captive.why_expired"),
        "pending" => cx.t("captive.why_pending"),
        _ => cx.t("captive.why_active"),
    };
    html! {
        (error_summary(cx, errors))
        h1 { (cx.t("captive.suspended_title")) }
        div.notice.bad { p { (why) } }
        div.card {
            dl.kv {
                dt { (cx.t("captive.account")) } dd { (s.account_no) " · " (s.name) }
                dt { (cx.t("captive.package")) } dd { (s.plan) }
                @if let Some(e) = &s.expired_at { dt { (cx.t("captive.expired_on")) } dd { (e) } }
                dt { (cx.t("captive.to_pay")) } dd { (cx.kes(s.due_cents)) }
            }
        }
        @if s.status != "suspended" {
            form method="post" action={ (base) "/suspended" } {
                (csrf_field(csrf))
                input type="hidden" name="account" value=(s.account_no);
                div class=[err.map(|_| "has-error")] {
                    label for="phone" {
                        (cx.t("captive.phone"))
                        span.hint {
                            @if let Some(on_file) = s.phone_on_file {
                                (cx.tf("captive.phone_on_file_hint", &[("phone", on_file)]))
                            } @else {
                                (cx.t("captive.phone_hint"))
                            }
                        }
                    }
                    @if let Some(e) = err { p.field-error { (e) } }
                    input #phone type="tel" name="phone" value=(s.phone) autocomplete="tel" inputmode="tel" maxlength="16" required[s.phone_on_file.is_none()];
                }
                p { button.block type="submit" { (cx.tf("captive.pay_with_mpesa", &[("price", &cx.kes(s.due_cents))])) } }
            }
        } @else {
            p { (cx.t("captive.call_isp")) }
        }
    }
}

/// A subscriber's top-up went through.
pub fn topup_paid(cx: &PageCtx, amount_cents: i64) -> Markup {
    html! {
        h1 { (cx.t("captive.topup_paid_title")) }
        div.notice.ok role="status" { p { (cx.tf("captive.topup_paid_body", &[("price", &cx.kes(amount_cents))])) } }
    }
}

/// No account by that number (`typed` is not empty), or none given yet: the form that asks
/// for one (where the walled garden sends a subscriber it could not tell apart).
pub fn no_account(cx: &PageCtx, base: &str, typed: &str) -> Markup {
    html! {
        h1 { (cx.t("captive.suspended_title")) }
        @if typed.is_empty() {
            p { (cx.t("captive.find_account_intro")) }
        } @else {
            div.notice.bad { p { (cx.t("captive.no_account")) } }
        }
        form method="get" action={ (base) "/suspended" } {
            label for="account" { (cx.t("captive.account")) }
            input #account type="text" name="account" value=(typed) autocomplete="off" maxlength="40" required;
            p { button.block type="submit" { (cx.t("captive.find_account")) } }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Money;
    use crate::domain::plan::PlanKind;
    use crate::web::layout::page_with;
    use crate::web::{Brand, CAPTIVE_BUDGET, Lang, i18n};

    fn cx(lang: Lang) -> PageCtx {
        PageCtx {
            lang,
            brand: Brand {
                name: "Acme Wi-Fi".into(),
                accent: "#aa3300".into(),
                support_phone: "0712 000 000".into(),
                logo_data_uri: format!("data:image/png;base64,{}", "A".repeat(crate::web::MAX_LOGO_BYTES - 40)),
            },
            path: "/h/acme".into(),
            chose_lang: false,
        }
    }

    fn plan(code: &str, cents: i64, secs: i64) -> Plan {
        Plan {
            id: code.into(),
            code: code.into(),
            name: format!("{code} pass"),
            kind: PlanKind::Hotspot,
            price: Money(cents),
            period_seconds: secs,
            down_kbps: 2000,
            up_kbps: 1000,
            data_cap_bytes: Some(1_000_000_000),
            max_devices: 1,
            active: true,
        }
    }

    fn full(cx: &PageCtx, body: Markup) -> String {
        page_with(cx, "t", None, body, Some(refresh_head("/h/acme/wait/x"))).into_string()
    }

    fn keys_used() -> Vec<&'static str> {
        let src = include_str!("pages.rs").to_owned() + include_str!("mod.rs");
        let mut keys: Vec<&'static str> = Vec::new();
        for part in src.split("\"captive.").skip(1) {
            let k = part.split('"').next().unwrap_or("");
            if k.is_empty() || !k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
                continue;
            }
            keys.push(Box::leak(format!("captive.{k}").into_boxed_str()));
        }
        keys
    }

    #[test]
    fn every_captive_key_used_is_in_the_catalogue() {
        for k in keys_used() {
            assert!(i18n::has_key(k), "{k} is not in the catalogue");
        }
    }

    #[test]
    fn home_lists_packages_with_prices_buy_links_and_a_csrf_voucher_form() {
        let packages = vec![plan("m15", 100, 900), plan("h1", 1000, 3600), plan("day", 5000, 86_400)];
        let c = cx(Lang::En);
        let h = full(&c, home(&c, "/h/acme", &packages, "tok", "", &[], None));
        assert!(h.contains("KES 1") && h.contains("KES 10") && h.contains("KES 50"), "{h}");
        assert!(h.contains(r#"href="/h/acme/buy?plan=h1""#));
        assert!(h.contains("15 min") && h.contains("1 day"), "durations");
        assert!(h.contains(r#"action="/h/acme/voucher""#));
        assert!(h.contains(r#"name="csrf" value="tok""#));
        assert!(h.contains("Call 0712 000 000") && h.contains("--a:#aa3300"), "branding");
        assert!(h.len() < CAPTIVE_BUDGET, "home is {} bytes with the largest logo", h.len());
        let sw = cx(Lang::Sw);
        let h = full(&sw, home(&sw, "/h/acme", &packages, "tok", "", &[], None));
        assert!(h.contains("Vifurushi") && h.contains("Nunua kwa KES 10"), "{h}");
    }

    #[test]
    fn home_with_a_code_from_a_qr_puts_the_voucher_form_first_filled_in() {
        let c = cx(Lang::En);
        let h = home(&c, "/h/acme", &[plan("h1", 1000, 3600)], "tok", "ABCD-EFGH-JKMN", &[], None).into_string();
        let form = h.find(r#"action="/h/acme/voucher""#).expect("voucher form");
        let pkgs = h.find("/buy?plan=h1").expect("package");
        assert!(form < pkgs, "voucher form comes first");
        assert!(h.contains(r#"value="ABCD-EFGH-JKMN""#));
    }

    #[test]
    fn buy_page_shows_the_error_summary_linked_to_the_phone_field() {
        let c = cx(Lang::En);
        let e = vec![FieldError { field: "phone", message: c.t("captive.phone_invalid").into() }];
        let h = buy(&c, "/h/acme", &plan("h1", 1000, 3600), "tok", "12", &e).into_string();
        assert!(h.contains(r##"href="#phone""##) && h.contains("error-summary"), "{h}");
        assert!(h.contains("Pay KES 10 with M-Pesa"));
        assert!(h.contains(r#"name="plan" value="h1""#) && h.contains(r#"value="12""#));
    }

    #[test]
    fn waiting_page_refreshes_itself_without_javascript() {
        let c = cx(Lang::En);
        let h = full(&c, waiting(&c, "/h/acme/wait/x", 1000, "0712 *** 678"));
        assert!(h.contains(r#"http-equiv="refresh""#) && h.contains("3;url=/h/acme/wait/x"), "{h}");
        assert!(h.contains("0712 *** 678") && h.contains("KES 10"));
        assert!(!h.contains("<script"));
    }

    #[test]
    fn code_page_posts_username_and_chap_password_to_the_router() {
        let c = cx(Lang::En);
        let f = LoginForm {
            action: "http://10.5.50.1/login".into(),
            username: "ABCD-EFGH-JKMN".into(),
            password: "e5627b636f982d6233d0cf5931d404c2".into(),
            dst: "http://example.com/".into(),
            chap: true,
        };
        let h =
            full(&c, code_page(&c, "/h/acme", "ABCD-EFGH-JKMN", Some(&plan("h1", 1000, 3600)), Some(&f), true, None));
        assert!(h.contains(r#"<form id="login" method="post" action="http://10.5.50.1/login">"#), "{h}");
        assert!(h.contains(r#"name="username" value="ABCD-EFGH-JKMN""#));
        assert!(h.contains(r#"name="password" value="e5627b636f982d6233d0cf5931d404c2""#));
        assert!(h.contains(r#"name="dst" value="http://example.com/""#));
        assert!(h.contains("Connect now") && h.contains("the-code"));
        // Without JavaScript nothing submits by itself: the page says to tap, and hides the other hint.
        let ns = &h[h.find("<noscript>").expect("noscript")..h.find("</noscript>").expect("end")];
        assert!(ns.contains("Tap Connect now") && ns.contains(".js-hint{display:none}"), "{ns}");
        assert!(h.contains(r#"class="muted small js-hint""#) && h.contains("in a moment"), "{h}");
        let sw = cx(Lang::Sw);
        let h = full(&sw, code_page(&sw, "/h/acme", "ABCD-EFGH-JKMN", None, Some(&f), false, None));
        assert!(h.contains("Gusa") && h.contains("Unganisha sasa"), "{h}");
        let none = code_page(&c, "/h/acme", "ABCD-EFGH-JKMN", None, None, false, None).into_string();
        assert!(!none.contains("<form") && none.contains("Wi-Fi"), "{none}");
    }

    #[test]
    fn suspended_page_says_why_and_what_to_pay_with_a_pay_button() {
        let c = cx(Lang::En);
        let s = Suspension {
            name: "Wanjiru",
            account_no: "ACC1",
            status: "expired",
            plan: "Home 10",
            expired_at: Some("3 Dec 2026, 23:58".into()),
            due_cents: 150_000,
            phone_on_file: Some("071****678"),
            phone: "",
        };
        let h = full(&c, suspended(&c, "/h/acme", &s, "tok", &[]));
        // Empty field, masked number in the hint; the field is optional because the number on file is used.
        assert!(h.contains("071****678") && h.contains(r#"name="phone" value="""#) && !h.contains("required"), "{h}");
        assert!(h.contains("balance does not cover") && h.contains("KES 1,500"), "{h}");
        assert!(h.contains(r#"action="/h/acme/suspended""#) && h.contains(r#"name="account" value="ACC1""#));
        assert!(h.contains("Pay KES 1,500 with M-Pesa"));
        let ask = full(&c, no_account(&c, "/h/acme", ""));
        assert!(ask.contains(r#"action="/h/acme/suspended""#) && ask.contains(r#"name="account" value="""#), "{ask}");
        assert!(ask.contains("account number on your bill") && !ask.contains("could not find"), "{ask}");
        let typo = no_account(&c, "/h/acme", "ACC9<").into_string();
        assert!(typo.contains("could not find") && typo.contains(r#"value="ACC9&lt;""#), "{typo}");
        let op = Suspension { status: "suspended", ..s };
        let h = suspended(&c, "/h/acme", &op, "tok", &[]).into_string();
        assert!(!h.contains("<form") && h.contains("call them"), "{h}");
        assert!(h.len() < CAPTIVE_BUDGET);
    }
}

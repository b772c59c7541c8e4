//! The captive portal pages (`/h/{realm}`) end to end over HTTP: packages, buying one with M-Pesa
//! through the Daraja simulator, the code and the router login form, vouchers, the suspended page.
//! Realms e2e-h20 .. e2e-h29 (the captive pages' share of the hotspot realms) and e2e-h40.

use std::time::Duration;

use konnekted_e2e::browser::{Browser, input_value};
use konnekted_e2e::daraja_sim::{Outcome, Script};
use konnekted_e2e::{Env, env};
use serde_json::json;

const BUDGET: usize = 30 * 1024;

const ROUTER_QUERY: &str = "mac=02%3A11%3A22%3A33%3A44%3A55&ip=10.5.50.9&link-login-only=http%3A%2F%2F10.5.50.1%2Flogin\
    &chap-id=%5C371&chap-challenge=%5C357%5C015%5C330%5C013%5C021%5C234%5C145%5C245%5C303%5C253%5C142%5C246%5C133%5C175%5C375%5C316\
    &dst=http%3A%2F%2Fexample.com%2F";

fn chap(code: &str) -> String {
    use md5::{Digest, Md5};
    let mut h = Md5::new();
    h.update([0o371u8]);
    h.update(code.as_bytes());
    h.update(hex::decode("ef0dd80b119c65a5c3ab62a65b7dfdce").expect("hex"));
    hex::encode(h.finalize())
}

#[tokio::test]
async fn buying_a_package_with_mpesa_shows_the_code_and_logs_the_device_in_by_chap() {
    let e = env("e2e-h20").await;
    e.hotspot_plan("m15", "15 minutes", 1, 900).await;
    e.hotspot_plan("h1", "1 hour", 10, 3600).await;
    e.plan("home", 1500).await;
    let mut b = Browser::new();
    let base = e.url("/h/e2e-h20");

    let home = b.get(&format!("{base}?{ROUTER_QUERY}")).await;
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(home.body.contains("15 minutes") && home.body.contains("KES 10"), "{}", home.body);
    assert!(!home.body.contains("home"), "PPPoE plans are not sold here");
    assert!(home.body.len() < BUDGET, "home is {} bytes", home.body.len());
    assert!(home.csp.contains("form-action 'self' http://10.5.50.1"), "{}", home.csp);
    assert!(b.cookies.contains_key("kh_visit"), "the visit is remembered");

    let buy = b.get(&format!("{base}/buy?plan=h1")).await;
    assert_eq!(buy.status, 200);
    assert!(buy.body.contains("Pay KES 10 with M-Pesa"), "{}", buy.body);
    let csrf = input_value(&buy.body, "csrf").expect("csrf field");

    // Without the CSRF token nothing is started.
    let refused = b.post(&format!("{base}/buy"), &[("plan", "h1"), ("phone", "0708374149")]).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    let bad_phone = b.post(&format!("{base}/buy"), &[("csrf", &csrf), ("plan", "h1"), ("phone", "12")]).await;
    assert_eq!(bad_phone.status, 400);
    assert!(bad_phone.body.contains("error-summary") && bad_phone.body.contains(r##"href="#phone""##));

    let started = b.post(&format!("{base}/buy"), &[("csrf", &csrf), ("plan", "h1"), ("phone", "0708374149")]).await;
    assert_eq!(started.status, 303, "{}", started.body);
    assert!(started.location.starts_with("/h/e2e-h20/wait/"), "{}", started.location);
    let wait_url = e.url(&started.location);

    let mut code_page = None;
    for _ in 0..200 {
        let w = b.get(&wait_url).await;
        assert_eq!(w.status, 200, "{}", w.body);
        assert!(w.body.len() < BUDGET);
        if w.body.contains("the-code") {
            code_page = Some(w);
            break;
        }
        assert!(w.body.contains(r#"http-equiv="refresh""#), "a waiting page refreshes itself: {}", w.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let page = code_page.expect("the sale was paid and its code shown");
    let code = input_value(&page.body, "username").expect("login form username");
    assert_eq!(code.len(), 12, "the canonical form, no dashes: {code}");
    assert!(page.body.contains(r#"action="http://10.5.50.1/login""#), "{}", page.body);
    assert_eq!(input_value(&page.body, "password").as_deref(), Some(chap(&code).as_str()), "CHAP response");
    assert_eq!(input_value(&page.body, "dst").as_deref(), Some("http://example.com/"));
    assert!(page.csp.contains("script-src 'sha256-"), "the auto-login script is allowed by hash: {}", page.csp);

    // The code is genuine, and the money went the billing core's way, exactly once.
    let (s, _) = {
        let r = e.http.get(e.url(&format!("/api/v/e2e-h20/vouchers/{code}"))).send().await.expect("check");
        (r.status().as_u16(), ())
    };
    assert_eq!(s, 200);
    let again = b.get(&wait_url).await;
    assert_eq!(input_value(&again.body, "username").as_deref(), Some(code.as_str()), "the same code every time");
    let payments = e.get("/payments").await;
    let paid: Vec<_> = payments.as_array().expect("list").iter().filter(|p| p["amount_cents"] == 1000).collect();
    assert_eq!(paid.len(), 1, "{payments}");
    let batches = e.get("/voucher-batches").await;
    let online: Vec<_> = batches.as_array().expect("list").iter().filter(|b| b["kind"] == "online").collect();
    assert_eq!(online.len(), 1, "{batches}");
    assert_eq!(online[0]["count"], 1);

    // Another browser cannot see this sale's code.
    let mut other = Browser::new();
    let peek = other.get(&wait_url).await;
    assert_eq!(peek.status, 404);
    assert!(!peek.body.contains(&code));
}

#[tokio::test]
async fn a_paid_sales_code_sms_is_queued_by_the_callback_itself_once_however_often_it_comes() {
    let e = env("e2e-h40").await;
    e.hotspot_plan("h1", "1 hour", 10, 3600).await;
    // The simulator takes the payment but leaves the callback to the test.
    e.sim.set_script_for("254711000040", Script::new(Outcome::NoCallback));
    let mut b = Browser::new();
    let base = e.url("/h/e2e-h40");
    assert_eq!(b.get(&format!("{base}?{ROUTER_QUERY}")).await.status, 200);
    let buy = b.get(&format!("{base}/buy?plan=h1")).await;
    let csrf = input_value(&buy.body, "csrf").expect("csrf");
    let started = b.post(&format!("{base}/buy"), &[("csrf", &csrf), ("plan", "h1"), ("phone", "0711000040")]).await;
    assert_eq!(started.status, 303, "{}", started.body);
    let checkout = started.location.rsplit('/').next().expect("checkout id").to_owned();
    let outbox = || async { e.get("/sms-outbox?to=254711000040").await.as_array().expect("list").clone() };
    assert!(outbox().await.is_empty(), "nothing before the payment");

    let body = konnekted_e2e::stk_success_body(&checkout, "10.00", "SHK4000001", "254711000040");
    let (status, v) = e.callback("stk", body.clone()).await;
    assert_eq!(status, 200, "{v}");
    // No page was looked at and no scheduled pass ran: the callback wrote the SMS with the money.
    let sms = outbox().await;
    assert_eq!(sms.len(), 1, "{sms:?}");
    let text = sms[0]["body"].as_str().expect("body").to_owned();

    // Daraja's retries, at once and after: still one message.
    let replies = futures::future::join_all((0..8).map(|_| e.callback("stk", body.clone()))).await;
    assert!(replies.iter().all(|(s, _)| *s == 200), "{replies:?}");
    e.fire_scheduled().await;
    assert_eq!(outbox().await.len(), 1, "exactly one code SMS");

    // It carries the code the waiting page shows.
    let page = b.get(&e.url(&started.location)).await;
    let code = input_value(&page.body, "username").expect("the code page");
    let dashed = format!("{}-{}-{}", &code[..4], &code[4..8], &code[8..]);
    assert!(text.contains(&dashed), "{text} should carry {dashed}");
    let paid = e.get("/payments").await;
    assert_eq!(paid.as_array().expect("list").iter().filter(|p| p["amount_cents"] == 1000).count(), 1, "{paid}");
}

#[tokio::test]
async fn a_cancelled_payment_says_so_and_offers_to_try_again() {
    let e = env("e2e-h21").await;
    e.hotspot_plan("h1", "1 hour", 10, 3600).await;
    e.sim.set_script_for("254711000021", Script::new(Outcome::Cancelled));
    let mut b = Browser::new();
    let base = e.url("/h/e2e-h21");
    let buy = b.get(&format!("{base}/buy?plan=h1")).await;
    let csrf = input_value(&buy.body, "csrf").expect("csrf");
    let started = b.post(&format!("{base}/buy"), &[("csrf", &csrf), ("plan", "h1"), ("phone", "0711000021")]).await;
    assert_eq!(started.status, 303, "{}", started.body);
    let url = e.url(&started.location);
    let mut last = String::new();
    for _ in 0..200 {
        last = b.get(&url).await.body;
        if !last.contains(r#"http-equiv="refresh""#) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(last.contains("Payment not completed"), "{last}");
    assert!(last.contains("/h/e2e-h21/buy?plan=h1"));
    assert!(!last.contains("the-code"));
}

#[tokio::test]
async fn a_printed_voucher_is_checked_and_logged_in_by_pap_and_a_forged_one_refused() {
    let e = env("e2e-h22").await;
    e.hotspot_plan("h1", "1 hour", 10, 3600).await;
    let (s, v) =
        e.post("/voucher-batches", json!({"plan": "h1", "count": 3, "agent": "Mama Mboga", "price_cents": 2000})).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["batch"]["agent"], "Mama Mboga");
    let id = v["batch"]["id"].as_u64().expect("id");
    let codes = e.get(&format!("/voucher-batches/{id}/codes")).await;
    let code = codes["codes"][0]["code"].as_str().expect("code").to_owned();

    let mut b = Browser::new();
    let base = e.url("/h/e2e-h22");
    // A QR code opens the portal with the code filled in; this router allows PAP only.
    let home = b
        .get(&format!(
            "{base}?code={code}&mac=02%3A00%3A00%3A00%3A00%3A01&link-login-only=http%3A%2F%2F10.5.50.1%2Flogin"
        ))
        .await;
    assert_eq!(input_value(&home.body, "code").as_deref(), Some(code.as_str()));
    let csrf = input_value(&home.body, "csrf").expect("csrf");

    let mut forged = code.clone().into_bytes();
    forged[0] = if forged[0] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).expect("ascii");
    let refused = b.post(&format!("{base}/voucher"), &[("csrf", &csrf), ("code", &forged)]).await;
    assert_eq!(refused.status, 400);
    assert!(refused.body.contains("do not recognise"), "{}", refused.body);
    let short = b.post(&format!("{base}/voucher"), &[("csrf", &csrf), ("code", "ABC")]).await;
    assert!(short.body.contains("12 letters and digits"), "{}", short.body);

    let ok = b.post(&format!("{base}/voucher"), &[("csrf", &csrf), ("code", &code.to_lowercase())]).await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    assert_eq!(ok.location, "/h/e2e-h22/connect");
    let connect = b.get(&e.url(&ok.location)).await;
    assert_eq!(connect.status, 200);
    // The router gets the canonical form (no dashes): what the redemption stored and RADIUS knows.
    let canonical = code.replace('-', "");
    assert_eq!(input_value(&connect.body, "username").as_deref(), Some(canonical.as_str()));
    assert_eq!(input_value(&connect.body, "password").as_deref(), Some(canonical.as_str()), "PAP: the code itself");
    assert!(connect.body.contains(&code), "the page shows the code as printed");
    assert!(connect.body.len() < BUDGET);
}

async fn redeemed_in_report(e: &Env, batch: u64) -> i64 {
    let r = e.get("/voucher-report").await;
    let b = r["batches"].as_array().expect("batches").iter().find(|x| x["batch"] == batch).cloned();
    b.and_then(|b| b["redeemed"].as_i64()).unwrap_or_else(|| panic!("batch {batch} in {r}"))
}

fn hotspot_query(mac: &str, ip: &str) -> String {
    format!("mac={}&ip={ip}&link-login-only=http%3A%2F%2F10.5.50.1%2Flogin", mac.replace(':', "%3A"))
}

#[tokio::test]
async fn a_typed_voucher_is_redeemed_on_the_device_and_refusals_are_said_in_plain_words() {
    let e = env("e2e-h27").await;
    e.hotspot_plan("h1", "1 hour", 10, 3600).await;
    e.put_settings(json!({"voucher_binding": "refuse"})).await;
    let (s, v) = e.post("/voucher-batches", json!({"plan": "h1", "count": 2})).await;
    assert_eq!(s, 201, "{v}");
    let id = v["batch"]["id"].as_u64().expect("id");
    let codes = e.get(&format!("/voucher-batches/{id}/codes")).await;
    let code = codes["codes"][0]["code"].as_str().expect("code").to_owned();
    let other_code = codes["codes"][1]["code"].as_str().expect("code").to_owned();
    assert_eq!(redeemed_in_report(&e, id).await, 0);

    // Device A, behind the hotspot, types the code sloppily: its first use is recorded.
    let mut a = Browser::new();
    let base = e.url("/h/e2e-h27");
    let home = a.get(&format!("{base}?{}", hotspot_query("00:11:22:33:44:0A", "10.5.50.11"))).await;
    let csrf = input_value(&home.body, "csrf").expect("csrf");
    let typed = code.to_lowercase().replace('-', " ");
    let ok = a.post(&format!("{base}/voucher"), &[("csrf", &csrf), ("code", &typed)]).await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    let connect = a.get(&e.url("/h/e2e-h27/connect")).await;
    let canonical = code.replace('-', "");
    assert_eq!(input_value(&connect.body, "username").as_deref(), Some(canonical.as_str()));
    assert_eq!(redeemed_in_report(&e, id).await, 1, "the first use is recorded by the page");

    // Device B with the same code: the tenant refuses a second device, in words, in both languages.
    let mut b = Browser::new();
    let home = b.get(&format!("{base}?{}", hotspot_query("00:11:22:33:44:0B", "10.5.50.12"))).await;
    let csrf_b = input_value(&home.body, "csrf").expect("csrf");
    let refused = b.post(&format!("{base}/voucher"), &[("csrf", &csrf_b), ("code", &code)]).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.body.contains("in use on another device"), "{}", refused.body);
    let sw = b.post(&format!("{base}/voucher?lang=sw"), &[("csrf", &csrf_b), ("code", &code)]).await;
    assert!(sw.body.contains("inatumika kwenye kifaa kingine"), "{}", sw.body);
    // Device A again: the same code still serves it.
    let again = a.post(&format!("{base}/voucher"), &[("csrf", &csrf), ("code", &code)]).await;
    assert_eq!(again.status, 303, "{}", again.body);
    assert_eq!(redeemed_in_report(&e, id).await, 1, "one redemption however often it is used");

    // Device C guesses: after five wrong codes even a good one waits, and the page says so.
    let mut c = Browser::new();
    let home = c.get(&format!("{base}?{}", hotspot_query("00:11:22:33:44:0C", "10.5.50.13"))).await;
    let csrf_c = input_value(&home.body, "csrf").expect("csrf");
    let mut wrong = other_code.clone().into_bytes();
    wrong[0] = if wrong[0] == b'A' { b'B' } else { b'A' };
    let wrong = String::from_utf8(wrong).expect("ascii");
    for i in 0..5 {
        let r = c.post(&format!("{base}/voucher"), &[("csrf", &csrf_c), ("code", &wrong)]).await;
        assert!(r.body.contains("do not recognise"), "attempt {i}: {}", r.body);
    }
    let held = c.post(&format!("{base}/voucher"), &[("csrf", &csrf_c), ("code", &other_code)]).await;
    assert_eq!(held.status, 400);
    assert!(held.body.contains("Too many wrong codes") && held.body.contains("minutes"), "{}", held.body);
    assert_eq!(redeemed_in_report(&e, id).await, 1, "refusals record nothing");

    // Opened outside a hotspot (no MAC): the code is checked but its time does not start.
    let mut d = Browser::new();
    let home = d.get(&base).await;
    let csrf_d = input_value(&home.body, "csrf").expect("csrf");
    let seen = d.post(&format!("{base}/voucher"), &[("csrf", &csrf_d), ("code", &other_code)]).await;
    assert_eq!(seen.status, 303, "{}", seen.body);
    let page = d.get(&e.url("/h/e2e-h27/connect")).await;
    assert!(page.body.contains(&other_code) && page.body.contains("Wi-Fi"), "{}", page.body);
    assert_eq!(redeemed_in_report(&e, id).await, 1);
}

#[tokio::test]
async fn the_suspended_page_says_what_to_pay_and_the_pay_button_restores_the_account() {
    let e = env("e2e-h23").await;
    e.plan("home", 1500).await;
    let s = e.subscriber("home", "ACC7", "0708374149").await;
    let sid = s["id"].as_str().expect("id").to_owned();
    let mut b = Browser::new();
    let base = e.url("/h/e2e-h23");
    let page = b.get(&format!("{base}/suspended?account=ACC7")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("KES 1,500") && page.body.contains("first payment"), "{}", page.body);
    // Whoever knows the account number sees the phone on file only masked, and never in the field.
    assert!(!page.body.contains("374149") && page.body.contains("070****149"), "{}", page.body);
    assert!(page.body.len() < BUDGET);
    let csrf = input_value(&page.body, "csrf").expect("csrf");
    let nobody = b.get(&format!("{base}/suspended?account=NOPE")).await;
    assert_eq!(nobody.status, 404);
    assert!(nobody.body.contains("could not find") && nobody.body.contains(r#"name="account""#), "{}", nobody.body);
    // Where the walled garden sends a subscriber it cannot tell apart: a form that asks, not an error.
    let ask = b.get(&format!("{base}/suspended")).await;
    assert_eq!(ask.status, 200, "{}", ask.body);
    assert!(ask.body.contains("account number on your bill") && !ask.body.contains("could not find"), "{}", ask.body);
    assert!(ask.body.len() < BUDGET);

    // Without signing in, only the phone on file may be prompted: another number is refused, said plainly.
    let other =
        b.post(&format!("{base}/suspended"), &[("csrf", &csrf), ("account", "ACC7"), ("phone", "0722000123")]).await;
    assert_eq!(other.status, 400, "{}", other.body);
    assert!(other.body.contains("goes only to the phone number on this account"), "{}", other.body);
    let paid = b.post(&format!("{base}/suspended"), &[("csrf", &csrf), ("account", "ACC7"), ("phone", "")]).await;
    assert_eq!(paid.status, 303, "{}", paid.body);
    assert!(paid.location.starts_with("/h/e2e-h23/topup/"));
    let url = e.url(&paid.location);
    let mut last = String::new();
    for _ in 0..200 {
        last = b.get(&url).await.body;
        if last.contains("Payment received") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(last.contains("Payment received"), "{last}");
    let st = e.subscriber_state(&sid).await;
    assert_eq!(st["status"], "active", "{st}");
}

#[tokio::test]
async fn pages_speak_swahili_when_asked_and_refuse_a_catching_login_url() {
    let e = env("e2e-h24").await;
    e.hotspot_plan("h1", "Saa 1", 10, 3600).await;
    let mut b = Browser::new();
    let base = e.url("/h/e2e-h24");
    let r = b
        .http
        .get(format!("{base}?link-login-only=http%3A%2F%2Fevil.example.com%2Flogin&mac=x"))
        .header("accept-language", "sw-KE,sw;q=0.9")
        .send()
        .await
        .expect("GET");
    let got = b.take(r).await;
    assert!(got.body.contains(r#"<html lang="sw">"#) && got.body.contains("Vifurushi"), "{}", got.body);
    assert!(!got.csp.contains("evil.example.com"), "{}", got.csp);
    let missing = b.get(&e.url("/h/no-such-isp")).await;
    assert_eq!(missing.status, 404);
}

/// What the router does with `$(name)` in a page: fills in its value (`$(if x)`..`$(endif)` kept).
fn router_fill(page: &str, vars: &[(&str, &str)]) -> String {
    let mut s = page.to_owned();
    for (k, v) in vars {
        s = s.replace(&format!("$({k})"), v);
    }
    s.replace("$(if chap-id)", "").replace("$(if error)", "").replace("$(endif)", "")
}

#[tokio::test]
async fn the_routers_login_page_hands_its_variables_to_the_portal() {
    let e = env("e2e-h25").await;
    e.hotspot_plan("h1", "1 hour", 10, 3600).await;
    let login = include_str!("../../functions/hotspot-html/login.html");
    for page in ["login.html", "alogin.html", "status.html", "logout.html", "error.html"] {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../functions/hotspot-html").join(page);
        assert!(p.exists(), "{page} is in the hotspot directory");
    }
    let filled = router_fill(
        login,
        &[
            ("mac", "02:11:22:33:44:55"),
            ("ip", "10.5.50.9"),
            ("link-login-only", "http://10.5.50.1/login"),
            ("link-orig", "http://example.com/"),
            ("chap-id", r"\371"),
            ("chap-challenge", r"\357\015\330\013\021\234\145\245\303\253\142\246\133\175\375\316"),
            ("error", ""),
            ("identity", "router"),
        ],
    );
    assert!(filled.contains(r#"action="https://EDGE-HOST/h/REALM""#), "the placeholder the README says to replace");
    // The browser submits the form: every hidden input becomes a query parameter.
    let mut query: Vec<(String, String)> = Vec::new();
    for part in filled.split("<input type=\"hidden\" ").skip(1) {
        let name = part.split("name=\"").nth(1).and_then(|r| r.split('"').next()).expect("name");
        let value = part.split("value=\"").nth(1).and_then(|r| r.split('"').next()).expect("value");
        query.push((name.to_owned(), value.to_owned()));
    }
    let names: Vec<&str> = query.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["mac", "ip", "link-login-only", "dst", "chap-id", "chap-challenge"]);
    let mut b = Browser::new();
    let r = b.http.get(e.url("/h/e2e-h25")).query(&query).send().await.expect("GET");
    let home = b.take(r).await;
    assert_eq!(home.status, 200);
    assert!(home.csp.contains("form-action 'self' http://10.5.50.1"), "{}", home.csp);

    // A printed code typed on that visit is logged in by CHAP with the router's challenge.
    let (s, v) = e.post("/voucher-batches", json!({"plan": "h1", "count": 1})).await;
    assert_eq!(s, 201, "{v}");
    let id = v["batch"]["id"].as_u64().expect("id");
    let codes = e.get(&format!("/voucher-batches/{id}/codes")).await;
    let code = codes["codes"][0]["code"].as_str().expect("code").to_owned();
    let csrf = input_value(&home.body, "csrf").expect("csrf");
    let ok = b.post(&e.url("/h/e2e-h25/voucher"), &[("csrf", &csrf), ("code", &code)]).await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    let connect = b.get(&e.url("/h/e2e-h25/connect")).await;
    assert_eq!(input_value(&connect.body, "password").as_deref(), Some(chap(&code.replace('-', "")).as_str()));
}

#[tokio::test]
async fn a_batch_prints_on_a4_and_thermal_with_qr_codes_and_the_report_counts_sales() {
    let e = env("e2e-h26").await;
    e.hotspot_plan("h1", "1 hour", 10, 3600).await;
    let (s, v) = e
        .post(
            "/voucher-batches",
            json!({"plan": "h1", "count": 60, "agent": "Mama Mboga", "price_cents": 2000, "valid_days": 30}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let id = v["batch"]["id"].as_u64().expect("id");
    let codes = e.get(&format!("/voucher-batches/{id}/codes")).await;
    let first = codes["codes"][0]["code"].as_str().expect("code").to_owned();
    let sheet = |layout: &'static str| {
        let url = e.admin(&format!("/voucher-batches/{id}/sheet?layout={layout}"));
        let req = e.http.get(url).bearer_auth(&e.admin_token);
        async move {
            let r = req.send().await.expect("sheet");
            (r.status().as_u16(), r.text().await.unwrap_or_default())
        }
    };
    let (s, a4) = sheet("a4").await;
    assert_eq!(s, 200, "{a4}");
    assert_eq!(a4.matches(r#"<div class="page">"#).count(), 2, "60 codes: 50 + 10");
    assert_eq!(a4.matches("<svg").count(), 60);
    assert!(a4.contains(&first) && a4.contains("KES 20") && a4.contains("Use by") && a4.contains("ISP e2e-h26"));
    let (s, roll) = sheet("58").await;
    assert_eq!(s, 200);
    assert!(roll.contains("size:58mm auto") && roll.contains(&first));
    let (s, _) = sheet("letter").await;
    assert_eq!(s, 400);
    let unauth = e.http.get(e.admin(&format!("/voucher-batches/{id}/sheet"))).send().await.expect("sheet");
    assert_eq!(unauth.status().as_u16(), 401);

    // One sale through the portal, then the report.
    let mut b = Browser::new();
    let base = e.url("/h/e2e-h26");
    let buy = b.get(&format!("{base}/buy?plan=h1")).await;
    let csrf = input_value(&buy.body, "csrf").expect("csrf");
    let started = b.post(&format!("{base}/buy"), &[("csrf", &csrf), ("plan", "h1"), ("phone", "0708374149")]).await;
    assert_eq!(started.status, 303);
    let url = e.url(&started.location);
    for _ in 0..200 {
        if b.get(&url).await.body.contains("the-code") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = e.get("/voucher-report").await;
    let printed = r["batches"].as_array().expect("batches").iter().find(|x| x["batch"] == id).expect("printed").clone();
    assert_eq!(
        (printed["sold"].as_i64(), printed["unused"].as_i64(), printed["agent"].as_str()),
        (Some(60), Some(60), Some("Mama Mboga")),
        "{r}"
    );
    let agents = r["per_agent"].as_array().expect("agents");
    let online = agents.iter().find(|a| a["agent"] == "M-Pesa (portal)").expect("online line");
    assert_eq!((online["sold"].as_i64(), online["revenue_cents"].as_i64()), (Some(1), Some(1000)), "{r}");
    let revenue: i64 = r["per_day"].as_array().expect("days").iter().filter_map(|d| d["revenue_cents"].as_i64()).sum();
    assert_eq!(revenue, 1000, "{r}");
}

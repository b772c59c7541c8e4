//! The subscriber portal's pages (`/p/{realm}`) over HTTP, as a browser without JavaScript uses
//! them: sign in with the code from the SMS sink, home, pay through the Daraja simulator until the
//! balance moves, change plan after its quote, payments and a receipt, sign out. Realms
//! e2e-p10..e2e-p11.

use std::time::Duration;

use konnekted_e2e::browser::{Browser, Got, input_value};
use konnekted_e2e::{Env, env};

const BUDGET: usize = 50 * 1024;

fn check_page(g: &Got, what: &str) {
    assert!(g.body.len() < BUDGET, "{what}: {} bytes", g.body.len());
    assert!(g.csp.contains("script-src 'none'"), "{what}: {}", g.csp);
    assert!(g.body.contains(r#"name="viewport""#), "{what}");
    eprintln!("page weight {what}: {} bytes", g.body.len());
}

async fn sign_in(b: &mut Browser, e: &Env, base: &str, who: &str, msisdn: &str) {
    let first = b.get(base).await;
    assert_eq!(
        (first.status, first.location.as_str()),
        (303, format!("{}/login", base.trim_start_matches(&e.base)).as_str())
    );
    let login = b.get(&format!("{base}/login")).await;
    assert_eq!(login.status, 200, "{}", login.body);
    check_page(&login, "sign in");
    let csrf = input_value(&login.body, "csrf").expect("csrf");
    let sent = b.post(&format!("{base}/login"), &[("csrf", &csrf), ("who", who)]).await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    assert!(sent.location.contains("/verify?c="), "{}", sent.location);
    let verify = b.get(&e.url(&sent.location)).await;
    check_page(&verify, "code");
    let c = input_value(&verify.body, "c").expect("challenge");
    let csrf = input_value(&verify.body, "csrf").expect("csrf");
    let wrong = b.post(&format!("{base}/verify"), &[("csrf", &csrf), ("c", &c), ("code", "12345x")]).await;
    assert_eq!(wrong.status, 400, "a wrong code is said on the page");
    let code = e.code_from_sink(msisdn).await;
    let done = b.post(&format!("{base}/verify"), &[("csrf", &csrf), ("c", &c), ("code", &code)]).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert!(done.location.ends_with("/home"));
    assert!(b.cookies.contains_key("kp_session"));
}

#[tokio::test]
async fn portal_sign_in_pay_change_plan_receipt_and_sign_out_without_javascript() {
    let e = env("e2e-p10").await;
    e.plan("home", 1500).await;
    let fast = e.plan("fast", 2000).await;
    let s = e.subscriber("home", "PORT1", "0711001001").await;
    let other = e.subscriber("home", "PORT2", "0711001002").await;
    let (st, _) =
        e.callback("c2b/confirm", konnekted_e2e::c2b_body("PORT2PAY01", "100.00", "PORT2", "254711001002")).await;
    assert_eq!(st, 200);
    let other_payment = e.get(&format!("/payments?subscriber={}", other["id"].as_str().expect("id"))).await[0]["id"]
        .as_str()
        .expect("payment")
        .to_owned();
    let base = e.url("/p/e2e-p10");
    let mut b = Browser::new();
    // Signed out: a portal page asks for sign-in, a page that does not exist is a 404.
    let home = b.get(&format!("{base}/home")).await;
    assert_eq!((home.status, home.location.as_str()), (303, "/p/e2e-p10/login"));
    assert_eq!(b.get(&format!("{base}/no-such-page")).await.status, 404);
    sign_in(&mut b, &e, &base, "0711 001 001", "254711001001").await;

    let home = b.get(&format!("{base}/home")).await;
    assert_eq!(home.status, 200, "{}", home.body);
    check_page(&home, "home");
    assert!(home.body.contains("Customer PORT1") && home.body.contains("KES 1,500"), "{}", home.body);
    let sw = b.get(&format!("{base}/home?lang=sw")).await;
    assert!(sw.body.contains("Salio"), "Swahili");
    b.get(&format!("{base}/home?lang=en")).await;

    // pay KES 2,100 from the phone on file; the simulator completes it
    let pay = b.get(&format!("{base}/topup")).await;
    check_page(&pay, "pay");
    assert_eq!(input_value(&pay.body, "amount").as_deref(), Some("1500"), "the amount due is offered");
    let csrf = input_value(&pay.body, "csrf").expect("csrf");
    let r = b.post(&format!("{base}/topup"), &[("csrf", &csrf), ("amount", "2100"), ("phone", "0711001001")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let wait_url = e.url(&r.location);
    let mut last = String::new();
    for _ in 0..200 {
        let g = b.get(&wait_url).await;
        if g.body.contains("http-equiv=\"refresh\"") {
            check_page(&g, "waiting");
        }
        last = g.body;
        if last.contains("Payment received") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(last.contains("Payment received") && last.contains("KES 600"), "{last}");
    let st = e.subscriber_state(s["id"].as_str().expect("id")).await;
    assert_eq!((st["status"].as_str(), st["balance_cents"].as_i64()), (Some("active"), Some(60_000)), "{st}");

    // change plan after the quote
    let plans = b.get(&format!("{base}/plans")).await;
    check_page(&plans, "plans");
    let fast_id = fast["id"].as_str().expect("id");
    let quote = b.get(&format!("{base}/plans/{fast_id}")).await;
    assert_eq!(quote.status, 200, "{}", quote.body);
    check_page(&quote, "plan quote");
    let csrf = input_value(&quote.body, "csrf").expect("a confirm form: the balance covers it");
    let no_csrf = b.post(&format!("{base}/plans/{fast_id}"), &[("csrf", "forged")]).await;
    assert_eq!(no_csrf.status, 403);
    let done = b.post(&format!("{base}/plans/{fast_id}"), &[("csrf", &csrf)]).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let home = b.get(&e.url(&done.location)).await;
    assert!(home.body.contains("fast") && home.body.contains("changed"), "{}", home.body);

    // payments and a receipt; another subscriber's payment is not found
    let list = b.get(&format!("{base}/payments")).await;
    check_page(&list, "payments");
    let at = list.body.find("/payments/").expect("a receipt link");
    let id: String = list.body[at + 10..].chars().take_while(|c| *c != '"').collect();
    let receipt = b.get(&format!("{base}/payments/{id}")).await;
    assert_eq!(receipt.status, 200);
    check_page(&receipt, "receipt");
    assert!(receipt.body.contains("KES 2,100"), "{}", receipt.body);
    let theirs = b.get(&format!("{base}/payments/{other_payment}")).await;
    assert_eq!(theirs.status, 404);

    // sign out: the session is gone
    let home = b.get(&format!("{base}/home")).await;
    let csrf = input_value(&home.body, "csrf").expect("csrf");
    let kept = b.cookies.get("kp_session").cloned().expect("a session cookie");
    let out = b.post(&format!("{base}/logout"), &[("csrf", &csrf)]).await;
    assert_eq!(out.status, 303);
    let again = b.get(&format!("{base}/home")).await;
    assert_eq!(again.status, 303, "signed out");
    b.cookies.insert("kp_session".into(), kept);
    let copy = b.get(&format!("{base}/home")).await;
    assert_eq!(copy.status, 303, "a kept copy of the cookie is refused after sign-out");
}

/// The devices page without JavaScript: add with a bad MAC (said on the page, nothing written),
/// add, remove; another subscriber's device cannot be removed from here. Then pause and resume
/// from the home page. Realm e2e-p30.
#[tokio::test]
async fn portal_devices_and_pause_work_without_javascript() {
    let e = env("e2e-p30").await;
    e.plan("home", 1000).await;
    e.subscriber("home", "DEVP1", "0711003001").await;
    let base = e.url("/p/e2e-p30");
    let mut b = Browser::new();
    sign_in(&mut b, &e, &base, "0711003001", "254711003001").await;
    let home = b.get(&format!("{base}/home")).await;
    assert!(home.body.contains("/p/e2e-p30/devices"), "home links to the devices page");
    let page = b.get(&format!("{base}/devices")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    check_page(&page, "devices");
    assert!(page.body.contains("No devices yet."), "{}", page.body);
    let csrf = input_value(&page.body, "csrf").expect("csrf");
    let bad = b.post(&format!("{base}/devices"), &[("csrf", &csrf), ("mac", "12:34"), ("name", "Simu")]).await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("MAC address like"), "the reason is on the page: {}", bad.body);
    assert_eq!(input_value(&bad.body, "name").as_deref(), Some("Simu"), "what was typed is kept");
    let ok = b
        .post(&format!("{base}/devices"), &[("csrf", &csrf), ("mac", "aa:bb:cc:dd:ee:01"), ("name", "Simu ya Amina")])
        .await;
    assert_eq!((ok.status, ok.location.as_str()), (303, "/p/e2e-p30/devices"), "{}", ok.body);
    let page = b.get(&format!("{base}/devices")).await;
    assert!(page.body.contains("Simu ya Amina") && page.body.contains("AA:BB:CC:DD:EE:01"), "{}", page.body);
    let sw = b.get(&format!("{base}/devices?lang=sw")).await;
    assert!(sw.body.contains("Vifaa vyangu"), "Swahili");
    b.get(&format!("{base}/devices?lang=en")).await;
    let gone = b.post(&format!("{base}/devices/AA:BB:CC:DD:EE:99/remove"), &[("csrf", &csrf)]).await;
    assert_eq!(gone.status, 404, "not one of theirs");
    let forged = b.post(&format!("{base}/devices/AA:BB:CC:DD:EE:01/remove"), &[("csrf", "forged")]).await;
    assert_eq!(forged.status, 403, "no CSRF token, nothing removed");
    let rm = b.post(&format!("{base}/devices/AA:BB:CC:DD:EE:01/remove"), &[("csrf", &csrf)]).await;
    assert_eq!(rm.status, 303, "{}", rm.body);
    let page = b.get(&format!("{base}/devices")).await;
    assert!(page.body.contains("No devices yet."), "{}", page.body);

    // pause and resume from home, once the ISP allows pauses and the account has paid time
    let home = b.get(&format!("{base}/home")).await;
    assert!(!home.body.contains("/pause\""), "no pause offered by default: {}", home.body);
    let (s, _) =
        e.callback("c2b/confirm", konnekted_e2e::c2b_body("DEVP1PAY01", "1000.00", "DEVP1", "254711003001")).await;
    assert_eq!(s, 200);
    e.put_settings(serde_json::json!({"pause_max_days": 10})).await;
    let home = b.get(&format!("{base}/home")).await;
    check_page(&home, "home with pause");
    assert!(home.body.contains("Pause my account") && home.body.contains("max=\"10\""), "{}", home.body);
    let too_long = b.post(&format!("{base}/pause"), &[("csrf", &csrf), ("days", "30")]).await;
    assert_eq!(too_long.status, 400);
    assert!(too_long.body.contains("between 1 and 10"), "{}", too_long.body);
    let paused = b.post(&format!("{base}/pause"), &[("csrf", &csrf), ("days", "7")]).await;
    assert_eq!((paused.status, paused.location.as_str()), (303, "/p/e2e-p30/home?done=paused"), "{}", paused.body);
    let home = b.get(&format!("{base}/home?done=paused")).await;
    assert!(home.body.contains("Paused until") && home.body.contains("Resume now"), "{}", home.body);
    let sw = b.get(&format!("{base}/home?lang=sw")).await;
    assert!(sw.body.contains("Endelea sasa"), "Swahili");
    b.get(&format!("{base}/home?lang=en")).await;
    let resumed = b.post(&format!("{base}/resume"), &[("csrf", &csrf)]).await;
    assert_eq!(resumed.status, 303, "{}", resumed.body);
    let home = b.get(&format!("{base}/home?done=resumed")).await;
    assert!(home.body.contains("your account is on again") && !home.body.contains("Paused until"), "{}", home.body);
    let again = b.post(&format!("{base}/resume"), &[("csrf", &csrf)]).await;
    assert_eq!(again.status, 400, "not paused: said on the page");
    // one pause a year: used up, so no longer offered
    e.put_settings(serde_json::json!({"pause_max_days": 10, "pause_max_per_year": 1})).await;
    let home = b.get(&format!("{base}/home")).await;
    assert!(!home.body.contains("Pause my account"), "the year's pause is used: {}", home.body);

    // the printable statement, from the payments page: the payment and the period it bought
    let pays = b.get(&format!("{base}/payments")).await;
    assert!(pays.body.contains("/p/e2e-p30/statement"), "{}", pays.body);
    let st = b.get(&format!("{base}/statement")).await;
    assert_eq!(st.status, 200, "{}", st.body);
    check_page(&st, "statement");
    assert!(st.body.contains("DEVP1") && st.body.contains("DEVP1PAY01"), "{}", st.body);
    assert!(st.body.contains("KES 1,000") && st.body.contains("-KES 1,000"), "payment and renewal: {}", st.body);
    assert!(st.body.contains("@media print"), "print style");

    // help: ask (an empty subject is said on the page), read, reply; another id is a 404
    let home = b.get(&format!("{base}/home")).await;
    assert!(home.body.contains("/p/e2e-p30/tickets"), "home links to help");
    let list = b.get(&format!("{base}/tickets")).await;
    check_page(&list, "tickets");
    assert!(list.body.contains("No questions yet."), "{}", list.body);
    let bad =
        b.post(&format!("{base}/tickets"), &[("csrf", &csrf), ("subject", " "), ("message", "Hakuna mtandao")]).await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("subject must be") && bad.body.contains("Hakuna mtandao"), "kept: {}", bad.body);
    let made = b
        .post(&format!("{base}/tickets"), &[("csrf", &csrf), ("subject", "No internet"), ("message", "Since 8 am.")])
        .await;
    assert_eq!(made.status, 303, "{}", made.body);
    assert!(made.location.starts_with("/p/e2e-p30/tickets/"), "{}", made.location);
    let one = b.get(&e.url(&made.location)).await;
    check_page(&one, "ticket");
    assert!(one.body.contains("No internet") && one.body.contains("Since 8 am."), "{}", one.body);
    let reply = b.post(&e.url(&made.location), &[("csrf", &csrf), ("message", "Still off & <b>down</b>")]).await;
    assert_eq!(reply.status, 303, "{}", reply.body);
    let one = b.get(&e.url(&made.location)).await;
    assert!(one.body.contains("Still off &amp; &lt;b&gt;down&lt;/b&gt;"), "escaped: {}", one.body);
    assert_eq!(b.get(&format!("{base}/tickets/not-a-ticket")).await.status, 404);
    let nobody = b.post(&format!("{base}/tickets/not-a-ticket"), &[("csrf", &csrf), ("message", "hi")]).await;
    assert_eq!(nobody.status, 404);
    let list = b.get(&format!("{base}/tickets?lang=sw")).await;
    assert!(list.body.contains("Msaada") && list.body.contains("No internet"), "{}", list.body);
    b.get(&format!("{base}/tickets?lang=en")).await;
}

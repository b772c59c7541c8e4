//! The operator console end to end over HTTP: staff sign in, every role against every page and
//! the admin API as the role table says, CSRF refused without its token, another tenant's pages
//! never visible, named API keys that stop working when revoked, staff answering subscribers'
//! tickets. Realms e2e-c01..e2e-c07, e2e-c21 (declared in the edge manifests: this suite runs on the
//! Worker too).

use konnekted_e2e::{Env, env, pages_client};
use serde_json::{Value, json};

use konnekted::console_client::{self as cc, OPERATOR, PLATFORM};

fn client() -> reqwest::Client {
    pages_client()
}

/// Signs in through the form; answers the session cookie.
async fn sign_in(e: &Env, login: &str) -> String {
    sign_in_at(e, &e.realm, login).await
}

/// Signs in to the console of `realm` (of `e`'s deployment).
async fn sign_in_at(e: &Env, realm: &str, login: &str) -> String {
    let url = e.url(&format!("/c/{realm}/login"));
    let r = cc::sign_in(&client(), &url, OPERATOR, &[("login", login), ("password", "pass-for-tests")])
        .await
        .expect("sign in");
    assert_eq!(r.status, 303, "sign-in of {login}");
    let c = r.session.expect("session cookie");
    assert!(c.contains("HttpOnly") && c.contains("Secure") && c.contains("SameSite=Strict"), "{c}");
    cc::cookie_pair(&c)
}

fn csrf_of(html: &str) -> String {
    cc::csrf_field(html).expect("a csrf field")
}

/// Sends `r` with the session `cookie`; answers status, `Location` and body.
async fn send_page(r: reqwest::RequestBuilder, cookie: &str) -> (u16, String, String) {
    let r = r.header("cookie", cookie).send().await.expect("request");
    let s = r.status().as_u16();
    let loc = r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    (s, loc, r.text().await.unwrap_or_default())
}

async fn get(e: &Env, cookie: &str, path: &str) -> (u16, String) {
    let (s, _, body) = send_page(client().get(e.url(&format!("/c/{}{path}", e.realm))), cookie).await;
    (s, body)
}

async fn post(e: &Env, cookie: &str, path: &str, form: &[(&str, &str)]) -> (u16, String, String) {
    send_page(client().post(e.url(&format!("/c/{}{path}", e.realm))).form(form), cookie).await
}

/// The pages and who may open them (the role table, restated here by hand).
const PAGES: &[(&str, &[&str])] = &[
    ("/dashboard", &["owner", "staff", "readonly"]),
    ("/subscribers", &["owner", "staff", "readonly"]),
    ("/subscribers.csv", &["owner", "staff", "readonly"]),
    ("/subscribers/new", &["owner", "staff"]),
    ("/payments", &["owner", "staff", "readonly"]),
    ("/payments.csv", &["owner", "staff", "readonly"]),
    ("/unmatched", &["owner", "staff", "readonly"]),
    ("/plans", &["owner", "staff", "readonly"]),
    ("/tickets", &["owner", "staff", "readonly"]),
    ("/vouchers", &["owner", "staff", "agent", "readonly"]),
    ("/sms", &["owner", "staff", "readonly"]),
    ("/sms/broadcast", &["owner", "staff"]),
    ("/callbacks", &["owner", "staff", "readonly"]),
    ("/routers", &["owner", "staff", "readonly"]),
    ("/online", &["owner", "staff", "readonly"]),
    ("/settings", &["owner"]),
    ("/users", &["owner"]),
    ("/audit", &["owner"]),
];

#[tokio::test]
async fn every_role_sees_only_its_pages_and_forms_need_their_csrf_token() {
    let e = env("e2e-c01").await;
    e.plan("home", 1500).await;
    let sub = e.subscriber("home", "C100", "0712000100").await;
    let sid = sub["id"].as_str().expect("id").to_owned();
    let roles = ["owner", "staff", "agent", "readonly"];
    let mut cookies = Vec::new();
    for r in roles {
        e.add_user(&format!("{r}@c01"), r).await;
        cookies.push((r, sign_in(&e, &format!("{r}@c01")).await));
    }
    for (role, cookie) in &cookies {
        for (path, who) in PAGES {
            let (s, body) = get(&e, cookie, path).await;
            let want = if who.contains(role) { 200 } else { 403 };
            assert_eq!(s, want, "{role} GET {path}");
            if s == 200 && !path.ends_with(".csv") {
                assert!(body.len() <= konnekted_core::web::CONSOLE_BUDGET, "{path} is {} bytes", body.len());
            }
        }
        let (s, _) = get(&e, cookie, &format!("/subscribers/{sid}")).await;
        assert_eq!(s, if ["owner", "staff", "readonly"].contains(role) { 200 } else { 403 }, "{role} subscriber page");
    }
    // record cash: refused without the CSRF token, refused to read-only, done by staff
    let staff = &cookies[1].1;
    let (s, _, _) =
        post(&e, staff, &format!("/subscribers/{sid}/cash"), &[("amount_kes", "500"), ("memo", "cash")]).await;
    assert_eq!(s, 403, "no CSRF token");
    let (_, page) = get(&e, staff, &format!("/subscribers/{sid}")).await;
    let csrf = csrf_of(&page);
    let (s, loc, _) = post(
        &e,
        staff,
        &format!("/subscribers/{sid}/cash"),
        &[("csrf", csrf.as_str()), ("amount_kes", "500"), ("memo", "cash")],
    )
    .await;
    assert_eq!(s, 303);
    assert!(loc.contains("done=cash"), "{loc}");
    assert_eq!(e.subscriber_state(&sid).await["balance_cents"], 50_000);
    let ro = &cookies[3].1;
    let (_, page) = get(&e, ro, "/subscribers").await;
    let ro_csrf = csrf_of(&page);
    let (s, _, _) =
        post(&e, ro, &format!("/subscribers/{sid}/cash"), &[("csrf", &ro_csrf), ("amount_kes", "1"), ("memo", "x")])
            .await;
    assert_eq!(s, 403, "read-only may not take money");
    // a staff member's CSRF token does not work in another's session
    let (s, _, _) =
        post(&e, ro, &format!("/subscribers/{sid}/cash"), &[("csrf", &csrf), ("amount_kes", "1"), ("memo", "x")]).await;
    assert_eq!(s, 403);
    // the audit log shows who did it, before and after
    let (_, audit) = get(&e, &cookies[0].1, "/audit").await;
    assert!(audit.contains("subscriber.cash") && audit.contains("staff@c01"), "audit");
    // signing out ends the page access
    let (s, _, _) = post(&e, staff, "/logout", &[("csrf", &csrf)]).await;
    assert_eq!(s, 303);
}

#[tokio::test]
async fn another_tenants_session_never_opens_pages_and_api_keys_follow_their_role() {
    let a = env("e2e-c02").await;
    let b = env("e2e-c03").await;
    a.add_user("owner@a", "owner").await;
    let cookie = sign_in(&a, "owner@a").await;
    let (s, _) = get(&a, &cookie, "/dashboard").await;
    assert_eq!(s, 200);
    // the same cookie on tenant b: not signed in there
    let (s, _) = get(&b, &cookie, "/dashboard").await;
    assert_eq!(s, 303, "another tenant's session is no session here");
    // wrong password: 401 with the form again
    let url = a.url(&format!("/c/{}/login", a.realm));
    let r = cc::sign_in(&client(), &url, OPERATOR, &[("login", "owner@a"), ("password", "wrong-password")])
        .await
        .expect("post");
    assert_eq!(r.status, 401);
    assert_eq!(r.session, None);
    // a read-only API key: reads, may not write; revoked, it stops working
    let (_, page) = get(&a, &cookie, "/users").await;
    let csrf = csrf_of(&page);
    let (s, _, body) =
        post(&a, &cookie, "/keys", &[("csrf", &csrf), ("name", "reporting"), ("role", "readonly")]).await;
    assert_eq!(s, 200);
    let i = body.find("kk_").expect("the new key is shown once");
    let key: String = body[i..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    let r = a.http.get(a.admin("/subscribers")).bearer_auth(&key).send().await.expect("GET");
    assert_eq!(r.status(), 200);
    let r = a
        .http
        .post(a.admin("/plans"))
        .bearer_auth(&key)
        .json(&json!({"code": "x", "name": "x", "price_cents": 100, "period_seconds": 86400, "down_kbps": 1, "up_kbps": 1}))
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 403);
    let r = b.http.get(b.admin("/subscribers")).bearer_auth(&key).send().await.expect("GET");
    assert_eq!(r.status(), 401, "a key of tenant a is nothing on tenant b");
    let id_start = body.find("/keys/").expect("revoke form") + "/keys/".len();
    let kid: String = body[id_start..].chars().take_while(|c| *c != '/').collect();
    let (s, _, _) = post(&a, &cookie, &format!("/keys/{kid}/revoke"), &[("csrf", &csrf)]).await;
    assert_eq!(s, 303);
    let r = a.http.get(a.admin("/subscribers")).bearer_auth(&key).send().await.expect("GET");
    assert_eq!(r.status(), 401, "revoked");
}

/// Voucher batches made in the console by `cookie`; answers the `Location` of the POST.
async fn make_batch(e: &Env, cookie: &str, form: &[(&str, &str)]) -> (u16, String, String) {
    let (_, page) = get(e, cookie, "/vouchers").await;
    let csrf = csrf_of(&page);
    let mut f = vec![("csrf", csrf.as_str())];
    f.extend_from_slice(form);
    post(e, cookie, "/vouchers", &f).await
}

/// The batch numbers a voucher page lists (`/vouchers/{id}/sheet` links).
fn sheet_ids(html: &str) -> Vec<u32> {
    let mut out: Vec<u32> = html
        .split("/vouchers/")
        .skip(1)
        .filter_map(|s| s.split_once("/sheet").and_then(|(id, _)| id.parse().ok()))
        .collect();
    out.dedup();
    out
}

#[tokio::test]
async fn voucher_batches_are_made_printed_and_sold_and_agents_see_only_their_own() {
    let e = env("e2e-c04").await;
    let (s, v) = e
        .post(
            "/plans",
            json!({"code": "wifi-1h", "name": "1 hour", "kind": "hotspot", "price_cents": 1000, "period_seconds": 3600,
                   "down_kbps": 2000, "up_kbps": 1000}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let roles = ["owner", "staff", "agent", "readonly"];
    let mut cookies = Vec::new();
    for r in roles {
        e.add_user(&format!("{r}@c04"), r).await;
        cookies.push((r, sign_in(&e, &format!("{r}@c04")).await));
    }
    e.add_user("other-agent@c04", "agent").await;
    let other = sign_in(&e, "other-agent@c04").await;
    let (owner, staff, agent, ro) = (&cookies[0].1, &cookies[1].1, &cookies[2].1, &cookies[3].1);

    // owner: a batch for the agent at KES 20; staff: one for nobody at the plan's price
    let (s, loc, _b) = make_batch(
        &e,
        owner,
        &[("plan", "wifi-1h"), ("count", "30"), ("price_kes", "20"), ("agent", "agent@c04"), ("note", "market")],
    )
    .await;
    assert_eq!((s, loc.contains("/vouchers?done=created")), (303, true), "{loc} {_b}");
    let (s, _, _) = make_batch(&e, staff, &[("plan", "wifi-1h"), ("count", "5"), ("agent", "")]).await;
    assert_eq!(s, 303);
    // the agent's own batch: the price and agent fields are not theirs to set
    let (s, _, _) =
        make_batch(&e, agent, &[("plan", "wifi-1h"), ("count", "7"), ("price_kes", "1"), ("agent", "other-agent@c04")])
            .await;
    assert_eq!(s, 303);
    // read-only may look, not make
    let (s, _, _) = make_batch(&e, ro, &[("plan", "wifi-1h"), ("count", "5")]).await;
    assert_eq!(s, 403, "read-only may not make vouchers");
    // bad input: the form again with its error, nothing made
    for bad in [("count", "0"), ("count", "5001"), ("count", "ten")] {
        let (s, _, body) = make_batch(&e, owner, &[("plan", "wifi-1h"), bad]).await;
        assert_eq!(s, 422, "{bad:?}");
        assert!(body.contains("error-summary") && body.contains("1 to 5000"), "{bad:?}");
    }
    let (s, _, body) = make_batch(&e, owner, &[("plan", "nope"), ("count", "3")]).await;
    assert_eq!(s, 422, "unknown plan");
    assert!(body.contains("error-summary"));

    let batches = e.get("/voucher-batches").await;
    let list = batches.as_array().expect("list");
    assert_eq!(list.len(), 3, "{batches}");
    let by_count = |n: u64| list.iter().find(|b| b["count"] == n).expect("batch").clone();
    let (b_owner, b_staff, b_agent) = (by_count(30), by_count(5), by_count(7));
    assert_eq!((b_owner["agent"].as_str(), b_owner["price_cents"].as_i64()), (Some("agent@c04"), Some(2000)));
    assert_eq!((b_staff["agent"].as_str(), b_staff["price_cents"].as_i64()), (Some(""), None));
    assert_eq!(
        (b_agent["agent"].as_str(), b_agent["price_cents"].as_i64()),
        (Some("agent@c04"), None),
        "the agent's own, at the plan's price"
    );
    let id = |b: &serde_json::Value| b["id"].as_u64().expect("id") as u32;

    // who sees which batch, and who may print it
    let (_, page) = get(&e, agent, "/vouchers").await;
    assert_eq!(sheet_ids(&page), vec![id(&b_agent), id(&b_owner)], "the agent sees their two batches");
    let (_, page) = get(&e, &other, "/vouchers").await;
    assert!(sheet_ids(&page).is_empty(), "another agent sees none of them");
    for (role, cookie) in [("owner", owner), ("staff", staff), ("readonly", ro)] {
        let (_, page) = get(&e, cookie, "/vouchers").await;
        assert_eq!(sheet_ids(&page), vec![id(&b_agent), id(&b_staff), id(&b_owner)], "{role} sees every batch");
    }
    let sheet = |b: &serde_json::Value| format!("/vouchers/{}/sheet?layout=a4", id(b));
    for (who, cookie, b, want) in [
        ("agent own", agent, &b_owner, 200),
        ("agent own", agent, &b_agent, 200),
        ("agent other", agent, &b_staff, 404),
        ("other agent", &other, &b_owner, 404),
        ("owner", owner, &b_staff, 200),
        ("staff", staff, &b_agent, 200),
        ("readonly", ro, &b_owner, 200),
    ] {
        let (s, body) = get(&e, cookie, &sheet(b)).await;
        assert_eq!(s, want, "{who} prints batch {}", id(b));
        if s == 200 {
            let n = b["count"].as_u64().expect("count") as usize;
            assert_eq!(body.matches("<svg").count(), n, "a QR code per voucher");
        }
    }
    // the sheet prints the same codes as the admin API's
    let (_, body) = get(&e, agent, &sheet(&b_owner)).await;
    let codes = e.get(&format!("/voucher-batches/{}/codes?limit=30", id(&b_owner))).await;
    for c in codes["codes"].as_array().expect("codes") {
        assert!(body.contains(c["code"].as_str().expect("code")), "{c}");
    }
    assert!(body.contains("KES 20"), "the batch's price is printed");
    let (s, _) = get(&e, agent, "/vouchers/999/sheet").await;
    assert_eq!(s, 404);

    // sales: the agent's line only; the owner sees all three agents' lines
    let (_, page) = get(&e, agent, "/vouchers").await;
    assert!(page.contains("agent@c04") && !page.contains("other-agent@c04"));
    let (_, page) = get(&e, owner, "/vouchers").await;
    assert!(page.contains("Sales") && page.contains(r#"<option value="agent@c04">"#), "agents offered in the form");
    // the audit log has each batch with who made it
    let (_, audit) = get(&e, owner, "/audit").await;
    assert_eq!(audit.matches("voucher.create").count(), 3, "three batches made, three audit rows");
    assert!(audit.contains("agent@c04"));

    // an agent's API key (named after the agent) sees and prints only that agent's batches
    let (_, users) = get(&e, owner, "/users").await;
    let csrf = csrf_of(&users);
    let (s, _, body) = post(&e, owner, "/keys", &[("csrf", &csrf), ("name", "agent@c04"), ("role", "agent")]).await;
    assert_eq!(s, 200);
    let i = body.find("kk_").expect("the new key is shown once");
    let key: String = body[i..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    let api = |path: String| e.http.get(e.admin(&path)).bearer_auth(&key).send();
    let r = api("/voucher-batches".into()).await.expect("GET");
    assert_eq!(r.status(), 200);
    let mine: serde_json::Value = r.json().await.expect("json");
    let mut ids: Vec<u64> = mine.as_array().expect("list").iter().map(|b| b["id"].as_u64().expect("id")).collect();
    ids.sort_unstable();
    let mut want = vec![u64::from(id(&b_owner)), u64::from(id(&b_agent))];
    want.sort_unstable();
    assert_eq!(ids, want, "the agent key lists the agent's batches only");
    for (b, status) in [(&b_owner, 200), (&b_agent, 200), (&b_staff, 404)] {
        for leaf in ["codes", "sheet"] {
            let r = api(format!("/voucher-batches/{}/{leaf}", id(b))).await.expect("GET");
            assert_eq!(r.status().as_u16(), status, "agent key {leaf} of batch {}", id(b));
        }
    }
    let r = e
        .http
        .post(e.admin("/voucher-batches"))
        .bearer_auth(&key)
        .json(&json!({"plan": "wifi-1h", "count": 3, "agent": "someone-else", "price_cents": 100}))
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 201);
    let made: serde_json::Value = r.json().await.expect("json");
    assert_eq!((made["batch"]["agent"].as_str(), made["batch"]["price_cents"].as_i64()), (Some("agent@c04"), None));
    let r = api("/voucher-report".into()).await.expect("GET");
    let rep: serde_json::Value = r.json().await.expect("json");
    assert!(rep["batches"].as_array().expect("batches").iter().all(|b| b["agent"] == "agent@c04"), "{rep}");
    assert_eq!(rep["per_agent"].as_array().expect("per agent").len(), 1, "{rep}");
    let r = api("/subscribers".into()).await.expect("GET");
    assert_eq!(r.status(), 403, "an agent key reads vouchers only");
}

#[tokio::test]
async fn the_owner_edits_settings_secrets_stay_write_only_and_each_change_is_audited() {
    use konnekted_e2e::daraja_sim;
    let e = env("e2e-c05").await;
    e.add_user("owner@c05", "owner").await;
    e.add_user("staff@c05", "staff").await;
    let owner = sign_in(&e, "owner@c05").await;
    let staff = sign_in(&e, "staff@c05").await;
    let (s, page) = get(&e, &owner, "/settings").await;
    assert_eq!(s, 200);
    for secret in [daraja_sim::SANDBOX_PASSKEY, daraja_sim::DEFAULT_CONSUMER_SECRET, daraja_sim::DEFAULT_CONSUMER_KEY] {
        assert!(!page.contains(secret), "a Daraja secret is never shown back");
    }
    assert!(page.contains(daraja_sim::SANDBOX_SHORTCODE), "the shortcode is");
    let csrf = csrf_of(&page);
    // staff may not, even with a valid token of their own
    let (_, sp) = get(&e, &staff, "/subscribers").await;
    let (s, _, _) = post(&e, &staff, "/settings", &[("csrf", &csrf_of(&sp)), ("grace_seconds", "1")]).await;
    assert_eq!(s, 403);
    // no CSRF token: refused
    let (s, _, _) = post(&e, &owner, "/settings", &[("grace_seconds", "1")]).await;
    assert_eq!(s, 403);

    // grace 2 hours, sweep after 3 minutes, branding; every secret field left empty: kept
    let form = [
        ("csrf", csrf.as_str()),
        ("grace_seconds", "2"),
        ("grace_seconds_unit", "3600"),
        ("stk_sweep_after_seconds", "3"),
        ("stk_sweep_after_seconds_unit", "60"),
        ("consumer_key", ""),
        ("consumer_secret", ""),
        ("passkey", ""),
        ("brand_accent", "#123456"),
        ("support_phone", "0700 111 222"),
        ("default_language", "sw"),
    ];
    let (s, loc, _) = post(&e, &owner, "/settings", &form).await;
    assert_eq!((s, loc.ends_with("/settings?done=saved")), (303, true), "{loc}");
    let v = e.get("/settings").await;
    assert_eq!(v["settings"]["grace_seconds"], 7200);
    assert_eq!(v["settings"]["stk_sweep_after_seconds"], 180);
    assert_eq!(v["settings"]["brand_accent"], "#123456");
    assert_eq!(v["settings"]["default_language"], "sw");
    assert_eq!(v["daraja"]["passkey_set"], true, "an empty field keeps the passkey");
    assert_eq!(v["daraja"]["consumer_secret_set"], true);
    assert_eq!(v["daraja"]["configured"], true);
    // the kept credentials still work: an STK prompt reaches the simulator, which checks them
    e.plan("home", 1500).await;
    e.subscriber("home", "C500", "0708374149").await;
    let (code, v) = e.topup("C500", None).await;
    assert_eq!(code, 202, "STK with the kept Daraja credentials: {v}");
    let (_, page) = get(&e, &owner, "/settings").await;
    assert!(page.contains("0700 111 222") && page.contains("--a:#123456"), "the new branding shows");

    // a new passkey: saved, never shown, audited as "changed"
    let (s, _, _) =
        post(&e, &owner, "/settings", &[("csrf", csrf.as_str()), ("passkey", "a-new-passkey-9f8e7d")]).await;
    assert_eq!(s, 303);
    let (_, page) = get(&e, &owner, "/settings").await;
    assert!(!page.contains("a-new-passkey-9f8e7d"));
    let (_, audit) = get(&e, &owner, "/audit").await;
    assert_eq!(audit.matches("settings.update").count(), 2, "one row per saved change");
    assert!(audit.contains("settings.grace_seconds") && audit.contains("7200"), "before/after of the grace");
    assert!(audit.contains("daraja.passkey") && audit.contains("changed"));
    assert!(
        !audit.contains("a-new-passkey-9f8e7d") && !audit.contains(daraja_sim::SANDBOX_PASSKEY),
        "secrets redacted"
    );
    // saving the form unchanged writes no audit row
    let (s, _, _) = post(&e, &owner, "/settings", &[("csrf", csrf.as_str()), ("grace_seconds", "7200")]).await;
    assert_eq!(s, 303);
    let (_, audit) = get(&e, &owner, "/audit").await;
    assert_eq!(audit.matches("settings.update").count(), 2);

    // bad input: the form again with the error at its field, nothing saved
    for (bad, field) in [
        (("brand_accent", "red"), "brand_accent"),
        (("grace_seconds", "two"), "grace_seconds"),
        (("grace_seconds", "-5"), "grace_seconds"),
        (("max_payment_kes", "0"), "max_payment_kes"),
    ] {
        let (s, _, body) = post(&e, &owner, "/settings", &[("csrf", csrf.as_str()), bad]).await;
        assert_eq!(s, 422, "{bad:?}");
        assert!(body.contains(&format!(r##"href="#{field}""##)), "{bad:?}: the summary links to the field");
    }
    let v = e.get("/settings").await;
    assert_eq!(
        (v["settings"]["grace_seconds"].as_i64(), v["settings"]["brand_accent"].as_str()),
        (Some(7200), Some("#123456"))
    );
}

/// The platform console: `GET`/`POST` under `/platform` with a cookie.
async fn pget(e: &Env, cookie: &str, path: &str) -> (u16, String, String) {
    send_page(client().get(e.url(&format!("/platform{path}"))), cookie).await
}

async fn ppost(e: &Env, cookie: &str, path: &str, form: &[(&str, &str)]) -> (u16, String, String) {
    send_page(client().post(e.url(&format!("/platform{path}"))).form(form), cookie).await
}

/// Tries the platform sign-in with `token`; answers the status and the session cookie, if any.
async fn platform_sign_in(e: &Env, token: &str) -> (u16, Option<String>) {
    let r = cc::sign_in(&client(), &e.url("/platform/login"), PLATFORM, &[("token", token)]).await.expect("sign in");
    if let Some(c) = &r.session {
        assert!(
            c.contains("HttpOnly")
                && c.contains("Secure")
                && c.contains("SameSite=Strict")
                && c.contains("Path=/platform"),
            "{c}"
        );
    }
    (r.status, r.cookie())
}

#[tokio::test]
async fn the_platform_console_lists_tenants_with_their_health_creates_and_suspends_them() {
    let e = env("e2e-c06").await;
    e.plan("home", 1500).await;
    e.subscriber("home", "C600", "0712000600").await;
    let (s, loc, _) = pget(&e, "", "/tenants").await;
    assert_eq!((s, loc.as_str()), (303, "/platform/login"), "not signed in");
    assert_eq!(platform_sign_in(&e, "not-the-token").await, (401, None));
    let (s, cookie) = platform_sign_in(&e, &e.platform_token).await;
    assert_eq!(s, 303);
    let cookie = cookie.expect("a platform session");
    // a tenant admin token is not the platform's
    assert_eq!(platform_sign_in(&e, &e.admin_token).await.0, 401);

    let (s, _, page) = pget(&e, &cookie, "/tenants").await;
    assert_eq!(s, 200);
    assert!(page.contains("e2e-c06") && page.contains("ISP e2e-c06"), "the tenant is listed");
    assert!(page.contains("1 / 1") || page.contains("0 / 1"), "its subscribers are counted");
    assert!(page.len() <= konnekted_core::web::CONSOLE_BUDGET);
    let csrf = csrf_of(&page);

    // a new tenant with its first owner; no CSRF token: refused
    // a realm of its own: on a Worker its D1 database is declared in the manifests beforehand
    let realm = "e2e-c07".to_owned();
    let form = [
        ("realm", realm.as_str()),
        ("name", "Kilimani Net"),
        ("owner_login", "boss@kilimani"),
        ("owner_password", "pass-for-tests"),
    ];
    let (s, _, _) = ppost(&e, &cookie, "/tenants", &form).await;
    assert_eq!(s, 403, "no CSRF token");
    let mut with = vec![("csrf", csrf.as_str())];
    with.extend_from_slice(&form);
    let (s, _, page) = ppost(&e, &cookie, "/tenants", &with).await;
    assert_eq!(s, 201, "{}", &page[page.len().saturating_sub(3000)..]);
    assert!(page.contains(&format!("Tenant {realm} created")));
    // the admin token is shown once and works
    let i = page.find("Admin API token").expect("admin token shown");
    let rest = &page[i..];
    let start = rest.find("<code>").expect("code") + "<code>".len();
    let token: String = rest[start..].chars().take_while(|c| *c != '<').collect();
    let r = e.http.get(e.url(&format!("/api/t/{realm}/subscribers"))).bearer_auth(&token).send().await.expect("GET");
    assert_eq!(r.status(), 200, "the new tenant's admin token works");
    // its owner signs in to its console
    let owner = sign_in_at(&e, &realm, "boss@kilimani").await;
    let r = client().get(e.url(&format!("/c/{realm}/dashboard"))).header("cookie", &owner).send().await.expect("GET");
    assert_eq!(r.status(), 200);
    // bad input: the form again with its error; nothing made
    for (bad_realm, why) in [("Bad Realm!", "not a realm"), (realm.as_str(), "exists")] {
        let f = [("csrf", csrf.as_str()), ("realm", bad_realm), ("name", "x")];
        let (s, _, body) = ppost(&e, &cookie, "/tenants", &f).await;
        assert_eq!(s, 422, "{why}");
        assert!(body.contains("error-summary") && body.contains(r##"href="#realm""##), "{why}");
    }
    let (s, _, body) = ppost(
        &e,
        &cookie,
        "/tenants",
        &[
            ("csrf", csrf.as_str()),
            ("realm", "e2e-c08"),
            ("name", "y"),
            ("owner_login", "o"),
            ("owner_password", "short"),
        ],
    )
    .await;
    assert_eq!(s, 422, "a short owner password is refused before anything is made");
    assert!(body.contains(r##"href="#owner_password""##));
    let r = e.http.get(e.url("/api/tenants")).bearer_auth(&e.platform_token).send().await.expect("GET");
    let all: serde_json::Value = r.json().await.expect("json");
    assert!(!all.to_string().contains("e2e-c08"));

    // suspend: its API, pages and console answer as if it did not exist; resume: back
    let (s, loc, _) =
        ppost(&e, &cookie, "/tenants/e2e-c06/status", &[("csrf", csrf.as_str()), ("status", "disabled")]).await;
    assert_eq!((s, loc.as_str()), (303, "/platform/tenants?done=disabled"));
    let r = e.http.get(e.admin("/subscribers")).bearer_auth(&e.admin_token).send().await.expect("GET");
    assert_eq!(r.status(), 404, "a suspended tenant's API is gone");
    let r = client().get(e.url("/c/e2e-c06/login")).send().await.expect("GET");
    assert_eq!(r.status(), 404, "and its console");
    let (_, _, page) = pget(&e, &cookie, "/tenants?done=disabled").await;
    assert!(page.contains("Tenant suspended") && page.contains(r#"value="active""#));
    let (s, _, _) =
        ppost(&e, &cookie, "/tenants/e2e-c06/status", &[("csrf", csrf.as_str()), ("status", "active")]).await;
    assert_eq!(s, 303);
    let r = e.http.get(e.admin("/subscribers")).bearer_auth(&e.admin_token).send().await.expect("GET");
    assert_eq!(r.status(), 200, "resumed");
    let (s, _, _) =
        ppost(&e, &cookie, "/tenants/no-such-isp/status", &[("csrf", csrf.as_str()), ("status", "disabled")]).await;
    assert_eq!(s, 404);
    let (s, _, _) = ppost(&e, &cookie, "/tenants/e2e-c06/status", &[("csrf", csrf.as_str()), ("status", "gone")]).await;
    assert_eq!(s, 404);

    // the audit log (issue 14): who did what to which tenant, when, newest first; refusals are not
    // in it. The control database may be shared with other tests (on a Worker): only this test's
    // realms are looked at.
    let audit = |page: &str| -> Vec<String> {
        let log = &page[page.find(r#"id="audit""#).expect("an audit log")..];
        let log = &log[..log.find("<form").unwrap_or(log.len())];
        log.split("<tr>").skip(2).map(str::to_owned).collect()
    };
    let what = |row: &str| {
        ["Created the tenant", "Suspended the tenant", "Resumed the tenant"].into_iter().find(|w| row.contains(w))
    };
    let realm_of = |row: &str| -> String {
        let i = row.find(r#"data-label="Realm">"#).expect("realm cell") + r#"data-label="Realm">"#.len();
        row[i..].chars().take_while(|c| *c != '<').collect()
    };
    let ours = |rows: &[String], realms: &[&str]| -> Vec<(Option<&'static str>, String)> {
        rows.iter().filter(|r| realms.contains(&realm_of(r).as_str())).map(|r| (what(r), realm_of(r))).collect()
    };
    let (_, _, page) = pget(&e, &cookie, "/tenants").await;
    let rows = audit(&page);
    let c06 = || "e2e-c06".to_owned();
    assert_eq!(
        ours(&rows, &["e2e-c06", &realm, "e2e-c08", "no-such-isp"]),
        [
            (Some("Resumed the tenant"), c06()),
            (Some("Suspended the tenant"), c06()),
            (Some("Created the tenant"), realm.clone()),
            // this test's own tenant, made through POST /api/tenants by the test's set-up
            (Some("Created the tenant"), c06()),
        ],
        "{rows:?}"
    );
    for r in &rows {
        assert!(r.contains("token ") && r.contains(" from "), "who: {r}");
        assert!(r.contains(" EAT") || r.contains(':'), "when: {r}");
    }

    // a tenant created through the platform API is logged, in the same batch as its
    // registration, with the same "who" (the token's tag and the client address) as the
    // console's; refused attempts (no platform token, a realm that exists, bad input) are not
    let api = |body: serde_json::Value, token: &str| {
        e.http.post(e.url("/api/tenants")).bearer_auth(token.to_owned()).json(&body).send()
    };
    let by_api = "e2e-c09";
    let r = api(serde_json::json!({"realm": by_api, "name": "Api Net"}), &e.admin_token).await.expect("POST");
    assert_eq!(r.status(), 401, "a tenant's admin token is not the platform's");
    let r = api(serde_json::json!({"realm": by_api, "name": "Api Net"}), &e.platform_token).await.expect("POST");
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
    let r = api(serde_json::json!({"realm": by_api, "name": "Again"}), &e.platform_token).await.expect("POST");
    assert_eq!(r.status(), 409, "exists");
    let r = api(serde_json::json!({"realm": "Bad Realm!", "name": "x"}), &e.platform_token).await.expect("POST");
    assert_eq!(r.status(), 400, "not a realm");
    let (_, _, page) = pget(&e, &cookie, "/tenants").await;
    let rows = audit(&page);
    assert_eq!(
        ours(&rows, &[by_api, "e2e-c06"])[..2],
        [(Some("Created the tenant"), by_api.to_owned()), (Some("Resumed the tenant"), c06())],
        "one entry, newest: {rows:?}"
    );
    let who = |row: &str| {
        let i = row.find(r#"data-label="Who">"#).expect("who cell") + r#"data-label="Who">"#.len();
        row[i..].chars().take_while(|c| *c != '<').collect::<String>()
    };
    let api_row = rows.iter().find(|r| realm_of(r) == by_api).expect("the API's entry");
    let console_row = rows.iter().find(|r| realm_of(r) == "e2e-c06").expect("the console's entry");
    assert!(who(api_row).starts_with("token ") && who(api_row).contains(" from "), "{api_row}");
    assert_eq!(
        who(api_row),
        who(console_row),
        "the API and the console name the same token from the same client alike"
    );
    assert!(!rows.iter().any(|r| r.contains("Bad Realm")), "refusals are not logged: {rows:?}");

    // sign out ends the session; then wrong tokens are throttled (per client address)
    let (s, _, _) = ppost(&e, &cookie, "/logout", &[("csrf", csrf.as_str())]).await;
    assert_eq!(s, 303);
    for _ in 0..4 {
        assert_eq!(platform_sign_in(&e, "guess").await.0, 401);
    }
    assert_eq!(platform_sign_in(&e, "guess").await.0, 429, "the sixth try in 15 minutes is refused");
    assert_eq!(
        platform_sign_in(&e, &e.platform_token).await.0,
        429,
        "even with the right token, until the window ends"
    );
}

/// The customer API as a subscriber signed in by OTP (code read from the SMS sink).
async fn subscriber_token(e: &Env, phone: &str) -> String {
    e.subscriber_sign_in(phone).await["access_token"].as_str().expect("token").to_owned()
}

async fn v1(e: &Env, method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    e.customer(method, path, Some(token), body).await
}

/// Ticket-reply SMS messages queued for `to` (the development sink, newest first).
async fn reply_sms(e: &Env, to: &str) -> Vec<String> {
    let v = e.get(&format!("/sms-outbox?to={to}&limit=50")).await;
    v.as_array()
        .expect("list")
        .iter()
        .filter_map(|m| m["body"].as_str())
        .filter(|b| b.contains("Soma na ujibu") || b.contains("Read and answer"))
        .map(str::to_owned)
        .collect()
}

/// Issue 13: subscribers could open tickets and write, but no staff page read or answered them.
#[tokio::test]
async fn staff_read_reply_to_and_close_tickets_as_the_role_table_says_and_the_subscriber_hears_of_it() {
    let e = env("e2e-c21").await;
    e.plan("home", 1000).await;
    e.subscriber("home", "TK21A", "0712002101").await;
    e.subscriber("home", "TK21B", "0712002102").await;
    let ta = subscriber_token(&e, "0712002101").await;
    let tb = subscriber_token(&e, "0712002102").await;
    let (s, tk) =
        v1(&e, "POST", "tickets", &ta, Some(json!({"subject": "Router <blinks> red", "message": "Since 9am."}))).await;
    assert_eq!(s, 201, "{tk}");
    let id = tk["id"].as_str().expect("id").to_owned();
    // B does not want replies by SMS
    let (s, p) = v1(&e, "PUT", "me/notification-preferences", &tb, Some(json!({"ticket_reply_sms": false}))).await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["ticket_reply_sms"], false);
    assert_eq!(p["promotional_sms"], true, "the other preference is left as it was");
    let (s, tkb) = v1(&e, "POST", "tickets", &tb, Some(json!({"subject": "Bill", "message": "Why KES 1000?"}))).await;
    assert_eq!(s, 201);
    let id_b = tkb["id"].as_str().expect("id").to_owned();

    let roles = ["owner", "staff", "agent", "readonly"];
    let mut cookies = Vec::new();
    for r in roles {
        e.add_user(&format!("{r}@c21"), r).await;
        cookies.push(sign_in(&e, &format!("{r}@c21")).await);
    }
    let (owner, staff, agent, ro) = (&cookies[0], &cookies[1], &cookies[2], &cookies[3]);

    // the open list, the thread: owner, staff and read-only read; the agent may not
    let (s, list) = get(&e, staff, "/tickets").await;
    assert_eq!(s, 200);
    assert!(list.contains("Router &lt;blinks&gt; red") && list.contains("TK21A") && list.contains("Bill"), "escaped");
    assert!(list.contains("Open (2)"), "counts by status");
    for c in [owner, staff, ro] {
        let (s, page) = get(&e, c, &format!("/tickets/{id}")).await;
        assert_eq!(s, 200);
        assert!(page.contains("Since 9am."));
    }
    let (s, _) = get(&e, agent, "/tickets").await;
    assert_eq!(s, 403);
    let (s, _) = get(&e, agent, &format!("/tickets/{id}")).await;
    assert_eq!(s, 403);
    let (_, ro_page) = get(&e, ro, &format!("/tickets/{id}")).await;
    assert!(!ro_page.contains("/reply"), "no reply form for read-only");
    let (s, _) = get(&e, staff, "/tickets/no-such-ticket").await;
    assert_eq!(s, 404);

    // replying: CSRF needed, read-only and agent refused, an empty reply said on the page
    let (_, page) = get(&e, staff, &format!("/tickets/{id}")).await;
    let csrf = csrf_of(&page);
    let reply = format!("/tickets/{id}/reply");
    let (s, _, _) = post(&e, staff, &reply, &[("message", "hello")]).await;
    assert_eq!(s, 403, "no CSRF token");
    let (_, rp) = get(&e, ro, "/tickets").await;
    let (s, _, _) = post(&e, ro, &reply, &[("csrf", &csrf_of(&rp)), ("message", "hello")]).await;
    assert_eq!(s, 403, "read-only may not reply");
    let (_, ap) = get(&e, agent, "/vouchers").await;
    let (s, _, _) = post(&e, agent, &reply, &[("csrf", &csrf_of(&ap)), ("message", "hello")]).await;
    assert_eq!(s, 403, "agent may not reply");
    let (s, _, body) = post(&e, staff, &reply, &[("csrf", &csrf), ("message", "   ")]).await;
    assert_eq!(s, 422, "empty reply");
    assert!(body.contains("error-summary"), "said on the page");
    let (_, t) = v1(&e, "GET", &format!("tickets/{id}"), &ta, None).await;
    assert_eq!(t["messages"].as_array().map(Vec::len), Some(1), "nothing written by refused replies: {t}");
    assert!(reply_sms(&e, "254712002101").await.is_empty());

    let (s, loc, _) =
        post(&e, staff, &reply, &[("csrf", &csrf), ("message", "A technician comes at 2pm.\nKeep the router on.")])
            .await;
    assert_eq!(s, 303);
    assert!(loc.ends_with(&format!("/tickets/{id}?done=replied")), "{loc}");
    let (_, t) = v1(&e, "GET", &format!("tickets/{id}"), &ta, None).await;
    assert_eq!(t["status"], "answered", "{t}");
    let last = &t["messages"][1];
    assert_eq!(last["author"], "staff");
    assert_eq!(last["body"], "A technician comes at 2pm.\nKeep the router on.");
    let sms = reply_sms(&e, "254712002101").await;
    assert_eq!(sms.len(), 1, "one SMS for one reply: {sms:?}");
    assert!(sms[0].contains("A technician comes at 2pm."), "{}", sms[0]);
    let (_, notes) = v1(&e, "GET", "me/notifications", &ta, None).await;
    assert!(notes["items"].as_array().expect("items").iter().any(|n| n["body"] == sms[0].as_str()), "{notes}");
    let (_, list) = get(&e, staff, "/tickets?status=answered").await;
    assert!(list.contains("Router &lt;blinks&gt; red") && !list.contains(">Bill<"), "{list}");

    // the subscriber answers: open again; staff reply and close in one go to B, who gets no SMS
    let (s, _) = v1(&e, "POST", &format!("tickets/{id}/messages"), &ta, Some(json!({"message": "Thanks!"}))).await;
    assert_eq!(s, 201);
    let (s, loc, _) = post(
        &e,
        owner,
        &format!("/tickets/{id_b}/reply"),
        &[
            ("csrf", &csrf_of(&get(&e, owner, "/tickets").await.1)),
            ("message", "It is the annual plan."),
            ("close", "1"),
        ],
    )
    .await;
    assert_eq!(s, 303);
    assert!(loc.ends_with("?done=closed"), "{loc}");
    let (_, t) = v1(&e, "GET", &format!("tickets/{id_b}"), &tb, None).await;
    assert_eq!(t["status"], "closed");
    assert_eq!(t["messages"][1]["body"], "It is the annual plan.");
    assert!(reply_sms(&e, "254712002102").await.is_empty(), "B turned reply SMS off");

    // close without a reply
    let (s, _, _) = post(&e, staff, &format!("/tickets/{id}/close"), &[("csrf", &csrf)]).await;
    assert_eq!(s, 303);
    let (_, t) = v1(&e, "GET", &format!("tickets/{id}"), &ta, None).await;
    assert_eq!(t["status"], "closed");
    assert_eq!(t["messages"].as_array().map(Vec::len), Some(3), "closing writes no message");
    let (_, list) = get(&e, staff, "/tickets?status=closed").await;
    assert!(list.contains("Closed (2)"), "both closed");

    // every reply and close is in the audit log, by whom
    let (_, audit) = get(&e, owner, "/audit").await;
    assert_eq!(audit.matches("ticket.reply").count(), 2, "two replies");
    assert_eq!(audit.matches("ticket.close").count(), 1);
    assert!(audit.contains("staff@c21") && audit.contains("owner@c21"));
}

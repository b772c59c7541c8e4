//! The operator console end to end over HTTP: staff sign in, every role against every page and
//! the admin API as the role table says, CSRF refused without its token, another tenant's pages
//! never visible, named API keys that stop working when revoked. Realms e2e-c01, e2e-c02.

use konnekted_e2e::{Env, env};
use serde_json::json;

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

/// `name=value` of a `Set-Cookie` header named `name`.
fn set_cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap_or("").to_owned())
}

fn csrf_of(html: &str) -> String {
    let i = html.find(r#"name="csrf" value=""#).expect("a csrf field");
    let rest = &html[i + r#"name="csrf" value=""#.len()..];
    rest[..rest.find('"').expect("end")].to_owned()
}

async fn add_user(e: &Env, login: &str, role: &str) {
    let (s, v) =
        e.post("/users", json!({"login": login, "name": login, "role": role, "password": "pass-for-tests"})).await;
    assert_eq!(s, 201, "{v}");
}

/// Signs in through the form; answers the session cookie.
async fn sign_in(e: &Env, login: &str) -> String {
    let http = client();
    let url = e.url(&format!("/c/{}/login", e.realm));
    let r = http.get(&url).send().await.expect("login page");
    assert_eq!(r.status(), 200);
    let pre = set_cookie(&r, "kc_pre").expect("pre-session cookie");
    let csrf = csrf_of(&r.text().await.expect("body"));
    let r = http
        .post(&url)
        .header("cookie", &pre)
        .form(&[("csrf", csrf.as_str()), ("login", login), ("password", "pass-for-tests")])
        .send()
        .await
        .expect("sign in");
    assert_eq!(r.status(), 303, "sign-in of {login}");
    let c = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("kc_session="))
        .expect("session cookie")
        .to_owned();
    assert!(c.contains("HttpOnly") && c.contains("Secure") && c.contains("SameSite=Strict"), "{c}");
    c.split(';').next().unwrap_or("").to_owned()
}

async fn get(e: &Env, cookie: &str, path: &str) -> (u16, String) {
    let r = client().get(e.url(&format!("/c/{}{path}", e.realm))).header("cookie", cookie).send().await.expect("GET");
    let s = r.status().as_u16();
    (s, r.text().await.unwrap_or_default())
}

async fn post(e: &Env, cookie: &str, path: &str, form: &[(&str, &str)]) -> (u16, String, String) {
    let r = client()
        .post(e.url(&format!("/c/{}{path}", e.realm)))
        .header("cookie", cookie)
        .form(form)
        .send()
        .await
        .expect("POST");
    let s = r.status().as_u16();
    let loc = r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    (s, loc, r.text().await.unwrap_or_default())
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
    ("/vouchers", &["owner", "staff", "agent", "readonly"]),
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
        add_user(&e, &format!("{r}@c01"), r).await;
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
    add_user(&a, "owner@a", "owner").await;
    let cookie = sign_in(&a, "owner@a").await;
    let (s, _) = get(&a, &cookie, "/dashboard").await;
    assert_eq!(s, 200);
    // the same cookie on tenant b: not signed in there
    let (s, _) = get(&b, &cookie, "/dashboard").await;
    assert_eq!(s, 303, "another tenant's session is no session here");
    // wrong password: 401 with the form again
    let http = client();
    let url = a.url(&format!("/c/{}/login", a.realm));
    let r = http.get(&url).send().await.expect("login page");
    let pre = set_cookie(&r, "kc_pre").expect("pre");
    let csrf = csrf_of(&r.text().await.expect("body"));
    let r = http
        .post(&url)
        .header("cookie", &pre)
        .form(&[("csrf", csrf.as_str()), ("login", "owner@a"), ("password", "wrong-password")])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 401);
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

//! The subscriber's side, end to end over HTTP: the SMS outbox development sink, OTP sign-in,
//! the customer API (`/api/p/{realm}/v1/...`) and the anonymous STK top-up's limits.
//! Realms e2e-p01..e2e-p09 (each test owns its realms; see billing.rs).

use konnekted_e2e::daraja_sim::SimConfig;
use konnekted_e2e::{Env, c2b_body, env, env_with};
use serde_json::{Value, json};

#[tokio::test]
async fn the_sms_outbox_sink_needs_the_tenant_admin_token_and_starts_empty() {
    let e = env("e2e-p01").await;
    let other = env("e2e-p02").await;
    let v = e.get("/sms-outbox").await;
    assert_eq!(v, Value::Array(vec![]), "a new tenant has sent nothing");
    let v = e.get("/sms-outbox?to=254700000001&status=queued&limit=5").await;
    assert_eq!(v, Value::Array(vec![]));

    let url = e.admin("/sms-outbox");
    let r = e.http.get(&url).send().await.expect("GET");
    assert_eq!(r.status().as_u16(), 401, "no token, no messages");
    let r = e.http.get(&url).bearer_auth(&other.admin_token).send().await.expect("GET");
    assert_eq!(r.status().as_u16(), 401, "another tenant's admin token is refused");
    let r = e.http.post(&url).bearer_auth(&e.admin_token).send().await.expect("POST");
    assert_eq!(r.status().as_u16(), 405, "the sink is read-only");
}

async fn call(e: &Env, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
    e.customer(method, path, token, body).await
}

/// Signs in by OTP, reading the code from the development sink; returns the token answer.
async fn sign_in(e: &Env, phone: &str) -> Value {
    e.subscriber_sign_in(phone).await
}

fn token(t: &Value) -> String {
    t["access_token"].as_str().expect("access token").to_owned()
}

/// Defect: anyone who knew an account number could make its phone ring with prompts sent to any
/// number, as often as they liked, and an `amount` they sent was ignored.
#[tokio::test]
async fn stk_topup_without_a_session_rings_only_the_phone_on_file_a_few_times_an_hour() {
    // The simulator lets one phone have several prompts in flight (the real one may refuse).
    let e = env_with("e2e-p03", SimConfig { lock_subscriber: false, ..SimConfig::default() }).await;
    e.plan("home", 1500).await;
    e.subscriber("home", "SPAM1", "0711000301").await;
    let url = format!("{}/api/p/{}/topup", e.base, e.realm);
    let post = |body: Value| {
        let r = e.http.post(&url).json(&body);
        async move {
            let r = r.send().await.expect("topup");
            let s = r.status().as_u16();
            let retry = r.headers().get("retry-after").is_some();
            (s, retry, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (s, _, v) = post(json!({"account": "SPAM1", "phone": "0722000999"})).await;
    assert_eq!(s, 400, "another phone without a session: {v}");
    assert!(v.to_string().contains("phone number on file"), "{v}");
    let (s, _, v) = post(json!({"account": "SPAM1", "amount": 50})).await;
    assert_eq!(s, 400, "an amount under a name the API does not take is refused, not ignored: {v}");
    assert!(v.to_string().contains("amount"), "{v}");
    let (s, _, v) = post(json!({"account": "SPAM1", "amount_cents": 5050})).await;
    assert_eq!(s, 400, "cents M-Pesa cannot take: {v}");
    let (s, _, v) = post(json!({"account": "SPAM1", "amount_kes": 70})).await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(v["amount_kes"], 70, "the amount asked for is the amount prompted");
    let (s, _, v) = post(json!({"account": "SPAM1", "amount_cents": 8000, "phone": "+254711000301"})).await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(v["amount_kes"], 80);
    let (s, _, v) = post(json!({"account": "SPAM1"})).await;
    assert_eq!(s, 202, "third prompt this hour: {v}");
    let (s, retry, v) = post(json!({"account": "SPAM1"})).await;
    assert_eq!(s, 429, "fourth prompt this hour: {v}");
    assert!(retry, "429 says when to come back");
}

#[tokio::test]
async fn otp_sign_in_opens_the_account_and_refresh_rotates_until_logout() {
    let e = env("e2e-p04").await;
    e.plan("home", 1500).await;
    let s = e.subscriber("home", "OTP1", "0711000401").await;
    let id = s["id"].as_str().expect("id").to_owned();
    let (code, v) = call(&e, "GET", "me", None, None).await;
    assert_eq!(code, 401, "{v}");
    assert_eq!(v["error"]["code"], "unauthorized", "error body: {v}");

    let tok = sign_in(&e, "0711000401").await;
    let at = token(&tok);
    let (code, me) = call(&e, "GET", "me", Some(&at), None).await;
    assert_eq!(code, 200, "{me}");
    assert_eq!(me["id"], id.as_str());
    assert_eq!(me["has_password"], false);
    let (code, sub) = call(&e, "GET", "subscription", Some(&at), None).await;
    assert_eq!(code, 200, "{sub}");
    assert_eq!(sub["plan"]["price_cents"], 150_000);
    assert_eq!(sub["currency"], "KES");
    assert_eq!(sub["due_for_next_period_cents"], 150_000);

    // ETag on reads
    let r = e.http.get(e.v1("wallet")).bearer_auth(&at).send().await.expect("GET");
    let etag = r.headers()["etag"].to_str().expect("etag").to_owned();
    let r = e.http.get(e.v1("wallet")).bearer_auth(&at).header("if-none-match", &etag).send().await.expect("GET");
    assert_eq!(r.status().as_u16(), 304);

    // password sign-in after setting one
    let (code, v) = call(&e, "PUT", "me/password", Some(&at), Some(json!({"password": "portal-pass-1"}))).await;
    assert_eq!(code, 200, "{v}");
    let (code, t2) =
        call(&e, "POST", "auth/login", None, Some(json!({"login": "otp1", "password": "portal-pass-1"}))).await;
    assert_eq!(code, 200, "{t2}");
    let (code, v) =
        call(&e, "POST", "auth/login", None, Some(json!({"login": "OTP1", "password": "wrong-pass"}))).await;
    assert_eq!((code, v["error"]["code"].as_str()), (401, Some("invalid_credentials")), "{v}");

    // refresh rotates; the old refresh token no longer works
    let r1 = tok["refresh_token"].as_str().expect("refresh").to_owned();
    let (code, t3) = call(&e, "POST", "auth/refresh", None, Some(json!({"refresh_token": r1}))).await;
    assert_eq!(code, 200, "{t3}");
    let (code, _) = call(&e, "POST", "auth/refresh", None, Some(json!({"refresh_token": r1}))).await;
    assert_eq!(code, 401, "an old refresh token is refused");
    let (code, _) = call(&e, "POST", "auth/refresh", None, Some(json!({"refresh_token": t3["refresh_token"]}))).await;
    assert_eq!(code, 401, "reusing an old token ended that sign-in");

    // logout ends the password sign-in's refresh token
    let at2 = token(&t2);
    let (code, _) = call(&e, "POST", "auth/logout", Some(&at2), None).await;
    assert_eq!(code, 200);
    let (code, _) = call(&e, "POST", "auth/refresh", None, Some(json!({"refresh_token": t2["refresh_token"]}))).await;
    assert_eq!(code, 401, "logged out");

    // a wrong code, five times, kills the challenge
    let (_, ch) = call(&e, "POST", "auth/otp", None, Some(json!({"account": "OTP1"}))).await;
    for _ in 0..5 {
        let (code, _) = call(
            &e,
            "POST",
            "auth/otp/verify",
            None,
            Some(json!({"challenge_id": ch["challenge_id"], "code": "000000"})),
        )
        .await;
        assert_eq!(code, 401);
    }
}

#[tokio::test]
async fn another_subscribers_and_another_tenants_ids_are_404_and_write_nothing() {
    let e = env("e2e-p05").await;
    let other = env("e2e-p06").await;
    e.plan("home", 1000).await;
    e.plan("fast", 2000).await;
    other.plan("home", 1000).await;
    e.subscriber("home", "AUTHA", "0711000501").await;
    let b = e.subscriber("home", "AUTHB", "0711000502").await;
    other.subscriber("home", "AUTHC", "0711000503").await;
    // B has a payment and a top-up
    let (s, _) = e.callback("c2b/confirm", c2b_body("AUTHB00001", "500.00", "AUTHB", "254711000502")).await;
    assert_eq!(s, 200);
    let pays = e.get(&format!("/payments?subscriber={}", b["id"].as_str().expect("id"))).await;
    let b_payment = pays[0]["id"].as_str().expect("payment").to_owned();
    let tb = token(&sign_in(&e, "0711000502").await);
    let (s, top) = call(&e, "POST", "topups", Some(&tb), Some(json!({"amount_kes": 10}))).await;
    assert_eq!(s, 202, "{top}");
    let b_topup = top["id"].as_str().expect("topup").to_owned();
    let (s, _) = call(&e, "GET", &format!("payments/{b_payment}/receipt"), Some(&tb), None).await;
    assert_eq!(s, 200, "B sees their own receipt");

    let ta = token(&sign_in(&e, "0711000501").await);
    let feed_before = e.get("/feed?after=0").await.as_array().map(Vec::len);
    for path in [format!("payments/{b_payment}"), format!("payments/{b_payment}/receipt"), format!("topups/{b_topup}")]
    {
        let (s, v) = call(&e, "GET", &path, Some(&ta), None).await;
        assert_eq!(s, 404, "A reading B's {path}: {v}");
        assert_eq!(v["error"]["code"], "not_found");
    }
    // another tenant's plan id, and a plan that is not offered, change nothing
    let other_plans = other.get("/plans").await;
    let other_plan = other_plans[0]["id"].as_str().expect("plan").to_owned();
    let (s, _) = call(&e, "POST", "subscription/plan-change", Some(&ta), Some(json!({"plan": other_plan}))).await;
    assert_eq!(s, 404);
    let (s, _) = call(&e, "GET", &format!("plans/{other_plan}"), Some(&ta), None).await;
    assert_eq!(s, 404);
    assert_eq!(e.get("/feed?after=0").await.as_array().map(Vec::len), feed_before, "nothing written");

    // a token of another tenant opens nothing here
    let tc = token(&sign_in(&other, "0711000503").await);
    let (s, _) = call(&e, "GET", "me", Some(&tc), None).await;
    assert_eq!(s, 401, "another tenant's token");
    let (s, _) = call(&e, "GET", "me", Some("garbage.token"), None).await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn signed_in_topup_from_another_phone_credits_and_lists_with_a_receipt() {
    let e = env("e2e-p07").await;
    e.plan("home", 1000).await;
    e.subscriber("home", "PAY1", "0711000701").await;
    let t = token(&sign_in(&e, "0711000701").await);
    let (s, top) = call(&e, "POST", "topups", Some(&t), Some(json!({"phone": "0722000702", "amount_kes": 1000}))).await;
    assert_eq!(s, 202, "a signed-in subscriber may pay from another phone: {top}");
    assert_eq!(top["amount_cents"], 100_000);
    let id = top["id"].as_str().expect("id").to_owned();
    let done = e
        .wait_for(15, || async {
            let (_, v) = call(&e, "GET", &format!("topups/{id}"), Some(&t), None).await;
            (v["status"] == "paid").then_some(v)
        })
        .await;
    assert!(done.is_some(), "the simulator completes the prompt");
    let (_, sub) = call(&e, "GET", "subscription", Some(&t), None).await;
    assert_eq!(sub["status"], "active", "{sub}");
    let (_, pays) = call(&e, "GET", "payments", Some(&t), None).await;
    let pid = pays["items"][0]["id"].as_str().expect("payment").to_owned();
    let (s, rc) = call(&e, "GET", &format!("payments/{pid}/receipt"), Some(&t), None).await;
    assert_eq!(s, 200, "{rc}");
    assert_eq!(rc["amount_cents"], 100_000);
    let (_, w) = call(&e, "GET", "wallet/entries?limit=1", Some(&t), None).await;
    assert_eq!(w["items"].as_array().map(Vec::len), Some(1), "{w}");
    let cursor = w["next_cursor"].as_str().expect("a next page").to_owned();
    let (_, w2) = call(&e, "GET", &format!("wallet/entries?limit=5&cursor={cursor}"), Some(&t), None).await;
    assert_eq!(w2["items"].as_array().map(Vec::len), Some(1), "payment then renewal: {w2}");
    assert_eq!(w2["items"][0]["kind"], "payment");
    assert_eq!(w["items"][0]["balance_after_cents"], 0);
    assert_eq!(w2["items"][0]["balance_after_cents"], 100_000);
}

#[tokio::test]
async fn plan_change_is_quoted_then_made_at_the_quoted_price() {
    let e = env("e2e-p08").await;
    e.plan("home", 1500).await;
    e.plan("fast", 2000).await;
    let s = e.subscriber("home", "CHG1", "0711000801").await;
    let id = s["id"].as_str().expect("id").to_owned();
    let (st, _) =
        e.post(&format!("/subscribers/{id}/adjust"), json!({"amount_cents": 150_000 + 100_000, "memo": "cash"})).await;
    assert_eq!(st, 200);
    let t = token(&sign_in(&e, "0711000801").await);
    let (s, q) = call(&e, "POST", "subscription/plan-change/quote", Some(&t), Some(json!({"plan": "fast"}))).await;
    assert_eq!(s, 200, "{q}");
    assert_eq!(q["balance_before_cents"], 100_000, "one period bought, the rest on the balance: {q}");
    assert!(q["charge_cents"].as_i64() > q["credit_cents"].as_i64(), "an upgrade costs: {q}");
    let (s, done) = call(&e, "POST", "subscription/plan-change", Some(&t), Some(json!({"plan": "fast"}))).await;
    assert_eq!(s, 200, "{done}");
    let (_, w) = call(&e, "GET", "wallet", Some(&t), None).await;
    // the quote was made a moment earlier: the same figures within a cent per second
    let quoted = q["balance_after_cents"].as_i64().expect("after");
    let now = w["balance_cents"].as_i64().expect("balance");
    assert!((now - quoted).abs() <= 10, "quoted {quoted}, now {now}");
    let (_, sub) = call(&e, "GET", "subscription", Some(&t), None).await;
    assert_eq!(sub["plan"]["code"], "fast");
    let feed = e.get("/feed?after=0").await;
    assert!(feed.as_array().expect("feed").iter().any(|c| c["kind"] == "plan_changed"), "{feed}");
    let (s, _) = call(&e, "POST", "subscription/plan-change", Some(&t), Some(json!({"plan": "fast"}))).await;
    assert_eq!(s, 400, "already on it");
}

#[tokio::test]
async fn a_paybill_payment_with_a_wrong_account_is_claimed_once_with_amount_and_phone() {
    let e = env("e2e-p09").await;
    e.plan("home", 1000).await;
    let s = e.subscriber("home", "CLM1", "0711000901").await;
    let id = s["id"].as_str().expect("id").to_owned();
    let (st, _) = e.callback("c2b/confirm", c2b_body("CLMRCPT001", "1000.00", "WRONG-ACC", "254799000901")).await;
    assert_eq!(st, 200);
    assert_eq!(e.get("/unmatched").await.as_array().map(Vec::len), Some(1));
    let t = token(&sign_in(&e, "0711000901").await);
    let claim = |amount: i64, phone: &str| json!({"receipt": "clmrcpt001", "amount_cents": amount, "phone": phone});
    let (s, v) = call(&e, "POST", "payments/claim", Some(&t), Some(claim(90_000, "0799000901"))).await;
    assert_eq!(s, 404, "wrong amount: {v}");
    let (s, _) = call(&e, "POST", "payments/claim", Some(&t), Some(claim(100_000, "0799000999"))).await;
    assert_eq!(s, 404, "wrong phone");
    let (s, v) = call(&e, "POST", "payments/claim", Some(&t), Some(claim(100_000, "0799000901"))).await;
    assert_eq!(s, 200, "{v}");
    let (s, _) = call(&e, "POST", "payments/claim", Some(&t), Some(claim(100_000, "0799000901"))).await;
    assert_eq!(s, 404, "claimed once");
    let st = e.subscriber_state(&id).await;
    assert_eq!(st["status"], "active", "{st}");
    assert_eq!(e.get("/unmatched").await.as_array().map(Vec::len), Some(0));
    let ledger = e.get(&format!("/subscribers/{id}/ledger")).await;
    let credits = ledger.as_array().expect("ledger").iter().filter(|l| l["kind"] == "payment").count();
    assert_eq!(credits, 1);
}

#[tokio::test]
async fn invoices_statement_and_pppoe_password_are_the_subscribers_own() {
    let e = env("e2e-p11").await;
    e.plan("home", 1000).await;
    e.subscriber("home", "INV1", "0711001101").await;
    let b = e.subscriber("home", "INV2", "0711001102").await;
    for (trans, acct, msisdn) in [("INV1PAY001", "INV1", "254711001101"), ("INV2PAY001", "INV2", "254711001102")] {
        let (s, _) = e.callback("c2b/confirm", c2b_body(trans, "1000.00", acct, msisdn)).await;
        assert_eq!(s, 200);
    }
    let t = token(&sign_in(&e, "0711001101").await);
    let (s, inv) = call(&e, "GET", "invoices", Some(&t), None).await;
    assert_eq!(s, 200, "{inv}");
    let items = inv["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "one paid period: {inv}");
    assert_eq!(items[0]["amount_cents"], 100_000);
    let id = items[0]["id"].as_str().expect("id").to_owned();
    let (s, one) = call(&e, "GET", &format!("invoices/{id}"), Some(&t), None).await;
    assert_eq!((s, one["id"].as_str()), (200, Some(id.as_str())));
    let tb = token(&sign_in(&e, "0711001102").await);
    let (_, theirs) = call(&e, "GET", "invoices", Some(&tb), None).await;
    let their_id = theirs["items"][0]["id"].as_str().expect("B's invoice").to_owned();
    let (s, _) = call(&e, "GET", &format!("invoices/{their_id}"), Some(&t), None).await;
    assert_eq!(s, 404, "another subscriber's invoice");

    let r = e.http.get(e.v1("wallet/statement")).bearer_auth(&t).send().await.expect("GET");
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers()["content-type"].to_str().expect("ascii").starts_with("text/csv"));
    let csv = r.text().await.expect("body");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "header, payment, renewal: {csv}");
    assert!(lines[1].contains(",payment,") && lines[1].ends_with(",1000.00,1000.00"), "{csv}");
    assert!(lines[2].contains(",renewal,") && lines[2].ends_with(",-1000.00,0.00"), "{csv}");

    let (s, v) = call(&e, "PUT", "me/pppoe-password", Some(&t), Some(json!({"password": "abc"}))).await;
    assert_eq!(s, 400, "too short: {v}");
    let feed_before = e.get("/feed?after=0").await.as_array().map_or(0, Vec::len);
    let (s, v) = call(&e, "PUT", "me/pppoe-password", Some(&t), Some(json!({"password": "new-pppoe-secret"}))).await;
    assert_eq!(s, 200, "{v}");
    let feed = e.get("/feed?after=0").await;
    let feed = feed.as_array().expect("feed");
    assert_eq!(feed.len(), feed_before + 1, "the change reaches the network through the feed");
    assert_eq!(feed.last().expect("change")["kind"], "subscriber_updated");
    assert_ne!(feed.last().expect("change")["subscriber_id"], b["id"]);

    let (s, v) = call(&e, "GET", "sessions/current", Some(&t), None).await;
    assert_eq!(s, 404, "not online: {v}");

    // notifications: the receipt of the payment, never the sign-in code
    let (s, n) = call(&e, "GET", "me/notifications", Some(&t), None).await;
    assert_eq!(s, 200, "{n}");
    let items = n["items"].as_array().expect("items");
    assert!(items.iter().any(|m| m["body"].as_str().unwrap_or("").contains("INV1PAY001")), "the receipt: {n}");
    assert!(items.iter().all(|m| !m["body"].as_str().unwrap_or("").contains("sign-in code")), "no codes: {n}");
    let (s, p) =
        call(&e, "PUT", "me/notification-preferences", Some(&t), Some(json!({"promotional_sms": false}))).await;
    assert_eq!((s, p["promotional_sms"].as_bool()), (200, Some(false)), "{p}");
    let (s, p) = call(&e, "PUT", "me/notification-preferences", Some(&t), Some(json!({"promotional_sms": true}))).await;
    assert_eq!((s, p["promotional_sms"].as_bool()), (200, Some(true)), "{p}");
}

#[tokio::test]
async fn a_hotspot_voucher_is_redeemed_onto_the_account_once() {
    let e = env("e2e-p12").await;
    e.plan("home", 1000).await;
    e.hotspot_plan("wifi-1h", "Wi-Fi 1 hour", 20, 3600).await;
    let sub = e.subscriber("home", "VCH1", "0711001201").await;
    let (s, batch) = e.post("/voucher-batches", json!({"plan": "wifi-1h", "count": 2, "price_cents": 5000})).await;
    assert_eq!(s, 201, "{batch}");
    let bid = batch["batch"]["id"].as_i64().expect("batch id");
    let codes = e.get(&format!("/voucher-batches/{bid}/codes")).await;
    let code = codes["codes"][0]["code"].as_str().expect("code").to_owned();
    let t = token(&sign_in(&e, "0711001201").await);

    let (s, v) = call(&e, "POST", "vouchers/redeem", Some(&t), Some(json!({"code": "ABCD-EFGH-JKMN"}))).await;
    assert!(s == 404 || s == 400, "a code nobody issued: {s} {v}");
    let (s, v) = call(&e, "POST", "vouchers/redeem", Some(&t), Some(json!({"code": code.to_lowercase()}))).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["value_cents"], 5000, "the batch's price per code");
    let replies = futures::future::join_all(
        (0..5).map(|_| call(&e, "POST", "vouchers/redeem", Some(&t), Some(json!({"code": code.clone()})))),
    )
    .await;
    assert!(replies.iter().all(|(s, _)| *s == 409), "used once: {replies:?}");
    let st = e.subscriber_state(sub["id"].as_str().expect("id")).await;
    assert_eq!(st["balance_cents"], 5000, "{st}");
    let ledger = e.get(&format!("/subscribers/{}/ledger", sub["id"].as_str().expect("id"))).await;
    assert_eq!(ledger.as_array().expect("ledger").iter().filter(|l| l["kind"] == "payment").count(), 1);
}

// ---- self-service: realms e2e-p31..e2e-p39 ----

async fn paid(e: &Env, account: &str, phone: &str, trans: &str, kes: &str) {
    let msisdn = format!("254{}", &phone[1..]);
    let (s, v) = e.callback("c2b/confirm", c2b_body(trans, kes, account, &msisdn)).await;
    assert_eq!(s, 200, "{v}");
}

async fn feed_kinds(e: &Env) -> Vec<String> {
    e.get("/feed?after=0")
        .await
        .as_array()
        .expect("feed")
        .iter()
        .map(|c| c["kind"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// Reports `username` online at a NAS through the reconciler's signed usage push.
async fn report_online(e: &Env, username: &str, days: Value) {
    let online = json!([{"nas_ip": "10.0.0.1", "session_id": "81000031", "username": username,
                         "framed_ip": "10.20.0.31", "input_octets": 5, "output_octets": 50}]);
    e.push_usage(json!({"days": days, "online": online})).await;
}

#[tokio::test]
async fn plan_change_at_renewal_waits_for_the_paid_time_to_end_and_can_be_taken_back() {
    let e = env("e2e-p31").await;
    let other = env("e2e-p39").await;
    e.plan("home", 1000).await;
    e.plan("fast", 2000).await;
    other.plan("other", 500).await;
    e.subscriber("home", "REN31", "0711003101").await;
    paid(&e, "REN31", "0711003101", "REN31PAY01", "1000.00").await;
    let t = token(&sign_in(&e, "0711003101").await);

    let (code, v) = call(&e, "DELETE", "subscription/plan-change", Some(&t), None).await;
    assert_eq!(code, 404, "nothing to take back: {v}");
    let (code, v) =
        call(&e, "POST", "subscription/plan-change", Some(&t), Some(json!({"plan": "fast", "when": "tomorrow"}))).await;
    assert_eq!(code, 400, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap_or("").contains("at_renewal"),
        "the reason says what is allowed: {v}"
    );
    let other_plan = other.get("/plans").await[0]["id"].as_str().expect("plan").to_owned();
    let feed_before = feed_kinds(&e).await.len();
    let (code, _) =
        call(&e, "POST", "subscription/plan-change", Some(&t), Some(json!({"plan": other_plan, "when": "at_renewal"})))
            .await;
    assert_eq!(code, 404, "another tenant's plan");
    let (_, sub) = call(&e, "GET", "subscription", Some(&t), None).await;
    assert_eq!(sub["pending_plan_change"], Value::Null, "nothing written: {sub}");

    let (code, v) =
        call(&e, "POST", "subscription/plan-change", Some(&t), Some(json!({"plan": "fast", "when": "at_renewal"})))
            .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!((v["changed"].as_bool(), v["scheduled"].as_bool()), (Some(false), Some(true)), "{v}");
    assert_eq!(v["quote"]["balance_change_cents"], 0, "nothing charged now");
    let (_, sub) = call(&e, "GET", "subscription", Some(&t), None).await;
    assert_eq!(sub["plan"]["code"], "home", "still on the old plan: {sub}");
    assert_eq!(sub["pending_plan_change"]["plan"]["code"], "fast", "{sub}");
    let (code, v) = call(&e, "DELETE", "subscription/plan-change", Some(&t), None).await;
    assert_eq!(code, 200, "{v}");
    let (_, sub) = call(&e, "GET", "subscription", Some(&t), None).await;
    assert_eq!(sub["pending_plan_change"], Value::Null, "{sub}");
    assert_eq!(feed_kinds(&e).await.len(), feed_before, "scheduling and taking back touch no network state");

    // scheduled again; the pass makes it once the paid time has run out, not before
    let (code, _) =
        call(&e, "POST", "subscription/plan-change", Some(&t), Some(json!({"plan": "fast", "when": "at_renewal"})))
            .await;
    assert_eq!(code, 200);
    let now = chrono::Utc::now();
    if e.fire_scheduled_at(now + chrono::Duration::days(1)).await {
        let (_, sub) = call(&e, "GET", "subscription", Some(&t), None).await;
        assert_eq!(sub["plan"]["code"], "home", "a day into the period: {sub}");
        assert!(e.fire_scheduled_at(now + chrono::Duration::days(30) + chrono::Duration::hours(2)).await);
        let (_, sub) = call(&e, "GET", "subscription", Some(&t), None).await;
        assert_eq!(sub["plan"]["code"], "fast", "after the paid time: {sub}");
        assert_eq!(sub["pending_plan_change"], Value::Null, "{sub}");
        let kinds = feed_kinds(&e).await;
        assert_eq!(kinds.iter().filter(|k| *k == "plan_changed").count(), 1, "the network hears of it: {kinds:?}");
    }
}

#[tokio::test]
async fn a_pause_banks_the_paid_time_and_resume_gives_it_back() {
    let e = env("e2e-p32").await;
    e.plan("home", 1000).await;
    e.subscriber("home", "PAU32", "0711003201").await;
    paid(&e, "PAU32", "0711003201", "PAU32PAY01", "1000.00").await;
    let t = token(&sign_in(&e, "0711003201").await);
    let (_, before) = call(&e, "GET", "subscription", Some(&t), None).await;
    let left_before = before["seconds_left"].as_i64().expect("paid time");

    let (code, v) = call(&e, "POST", "subscription/pause", Some(&t), Some(json!({"days": 7}))).await;
    assert_eq!(code, 400, "{v}");
    assert!(v["error"]["message"].as_str().unwrap_or("").contains("does not offer pauses"), "{v}");
    e.put_settings(json!({"pause_max_days": 14})).await;
    for bad in [json!({"days": 0}), json!({"days": 15}), json!({"days": "a week"})] {
        let (code, v) = call(&e, "POST", "subscription/pause", Some(&t), Some(bad.clone())).await;
        assert_eq!(code, 400, "{bad}: {v}");
    }
    let (code, v) = call(&e, "POST", "subscription/resume", Some(&t), None).await;
    assert_eq!(code, 409, "not paused: {v}");
    let feed_before = feed_kinds(&e).await.len();
    let (code, v) = call(&e, "POST", "subscription/pause", Some(&t), Some(json!({"days": 7}))).await;
    assert_eq!(code, 200, "{v}");
    let banked = v["seconds_left"].as_i64().expect("banked");
    assert!((left_before - banked).abs() < 120, "{left_before} vs {banked}");
    let (_, sub) = call(&e, "GET", "subscription", Some(&t), None).await;
    assert_eq!(sub["status"], "paused", "{sub}");
    let kinds = feed_kinds(&e).await;
    assert_eq!(kinds.len(), feed_before + 1);
    assert_eq!(kinds.last().map(String::as_str), Some("subscriber_suspended"), "the network cuts the line");
    let (code, _) = call(&e, "POST", "subscription/pause", Some(&t), Some(json!({"days": 3}))).await;
    assert_eq!(code, 409, "paused already");

    let (code, v) = call(&e, "POST", "subscription/resume", Some(&t), None).await;
    assert_eq!(code, 200, "{v}");
    let (_, sub) = call(&e, "GET", "subscription", Some(&t), None).await;
    assert_eq!(sub["status"], "active", "{sub}");
    assert!((sub["seconds_left"].as_i64().expect("left") - banked).abs() < 120, "the banked time is back: {sub}");
    assert_eq!(feed_kinds(&e).await.last().map(String::as_str), Some("subscriber_resumed"));

    // a pause that reaches its end is ended by the scheduled pass, with the banked time
    let (code, _) = call(&e, "POST", "subscription/pause", Some(&t), Some(json!({"days": 2}))).await;
    assert_eq!(code, 200);
    let now = chrono::Utc::now();
    if e.fire_scheduled_at(now + chrono::Duration::days(3)).await {
        let (_, sub) = call(&e, "GET", "subscription", Some(&t), None).await;
        assert_eq!(sub["status"], "active", "{sub}");
        let exp = chrono::DateTime::parse_from_rfc3339(sub["expires_at"].as_str().expect("expires"))
            .expect("time")
            .with_timezone(&chrono::Utc);
        let want = now + chrono::Duration::days(3) + chrono::Duration::seconds(banked);
        assert!((exp - want).num_seconds().abs() < 300, "{exp} vs {want}");
    }
}

#[tokio::test]
async fn disconnecting_the_current_session_asks_the_radius_agent_through_the_feed() {
    let e = env("e2e-p33").await;
    e.plan("home", 1000).await;
    let s = e.subscriber("home", "SES33", "0711003301").await;
    let username = s["username"].as_str().expect("username").to_owned();
    let t = token(&sign_in(&e, "0711003301").await);
    let feed_before = feed_kinds(&e).await.len();
    let (code, v) = call(&e, "DELETE", "sessions/current", Some(&t), None).await;
    assert_eq!(code, 404, "not online: {v}");
    assert_eq!(feed_kinds(&e).await.len(), feed_before, "nothing written");
    let (code, v) = call(&e, "GET", "sessions", Some(&t), None).await;
    assert_eq!((code, v["online"].as_bool()), (200, Some(false)), "{v}");

    let day = chrono::Utc::now().with_timezone(&chrono::FixedOffset::east_opt(3 * 3600).expect("EAT"));
    let day = day.format("%Y-%m-%d").to_string();
    report_online(
        &e,
        &username,
        json!([{"username": username, "day": day, "input_octets": 1000, "output_octets": 9000,
                "online_seconds": 600, "sessions": 1}]),
    )
    .await;
    let (code, v) = call(&e, "GET", "sessions/current", Some(&t), None).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["session_id"], "81000031");
    let (_, v) = call(&e, "GET", "sessions", Some(&t), None).await;
    assert_eq!(v["online"], true, "{v}");
    let (_, u) = call(&e, "GET", "usage", Some(&t), None).await;
    assert_eq!((u["download_bytes"].as_i64(), u["upload_bytes"].as_i64()), (Some(9000), Some(1000)), "{u}");
    assert_eq!(u["total_bytes"], 10_000);
    let (_, d) = call(&e, "GET", &format!("usage/daily?from={day}&to={day}"), Some(&t), None).await;
    assert_eq!(d["items"][0]["online_seconds"], 600, "{d}");
    let (code, _) = call(&e, "GET", "usage/daily?from=yesterday", Some(&t), None).await;
    assert_eq!(code, 400);

    let (code, v) = call(&e, "DELETE", "sessions/current", Some(&t), None).await;
    assert_eq!(code, 202, "{v}");
    assert_eq!(v["sessions"], 1);
    let feed = e.get("/feed?after=0").await;
    let last = feed.as_array().and_then(|f| f.last()).expect("a change").clone();
    assert_eq!(last["kind"], "session_disconnect", "{last}");
    assert_eq!(last["payload"]["username"], username.as_str());
    assert_eq!(last["payload"]["sessions"][0], "81000031");
    // the signed sync feed names the kind for the agent (not "unknown")
    let client = konnekted_edge_client::EdgeClient::new(
        &e.base,
        &e.realm,
        e.sync_key.as_bytes(),
        std::time::Duration::from_secs(10),
    )
    .expect("edge client");
    let page = client.feed(0, 100).await.expect("feed");
    assert_eq!(
        page.changes.last().map(|c| c.kind),
        Some(konnekted_sync_proto::FeedKind::SessionDisconnect),
        "{page:?}"
    );
    for _ in 0..2 {
        let (code, _) = call(&e, "DELETE", "sessions/current", Some(&t), None).await;
        assert_eq!(code, 202);
    }
    let (code, v) = call(&e, "DELETE", "sessions/current", Some(&t), None).await;
    assert_eq!(code, 429, "a few a quarter hour: {v}");

    // the history: the session stays listed once the agent no longer reports it, as ended
    let (_, h) = call(&e, "GET", "sessions", Some(&t), None).await;
    assert_eq!(h["items"].as_array().map(Vec::len), Some(1), "{h}");
    assert_eq!((h["items"][0]["open"].as_bool(), h["items"][0]["ended_by"].is_null()), (Some(true), true), "{h}");
    let online2 = json!([{"nas_ip": "10.0.0.1", "session_id": "81000032", "username": username,
                          "input_octets": 7, "output_octets": 70}]);
    e.push_usage(json!({"days": [], "online": online2})).await;
    e.push_usage(json!({"days": [], "online": []})).await;
    let (code, h) = call(&e, "GET", "sessions?limit=1", Some(&t), None).await;
    assert_eq!(code, 200, "{h}");
    assert_eq!(h["online"], false, "{h}");
    assert_eq!(h["items"][0]["session_id"], "81000032", "newest first: {h}");
    let cursor = h["next_cursor"].as_str().expect("a next page").to_owned();
    let (_, h2) = call(&e, "GET", &format!("sessions?limit=5&cursor={cursor}"), Some(&t), None).await;
    let first = &h2["items"][0];
    assert_eq!(first["session_id"], "81000031", "{h2}");
    assert_eq!(first["open"], false, "{h2}");
    assert!(first["ended_by"].is_string(), "ended between two pushes: {h2}");
    assert_eq!((first["download_bytes"].as_i64(), first["upload_bytes"].as_i64()), (Some(50), Some(5)));
    assert_eq!(h2["items"].as_array().map(Vec::len), Some(1), "{h2}");
    let (code, _) = call(&e, "GET", "sessions?cursor=abc", Some(&t), None).await;
    assert_eq!(code, 400);

    // the API's description is served without a token
    let (code, doc) = call(&e, "GET", "openapi.json", None, None).await;
    assert_eq!(code, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/sessions/current"]["delete"].is_object(), "{}", doc["paths"]);
}

#[tokio::test]
async fn devices_are_listed_added_and_removed_only_by_their_subscriber() {
    let e = env("e2e-p34").await;
    e.plan("home", 1000).await;
    e.subscriber("home", "DEV34A", "0711003401").await;
    e.subscriber("home", "DEV34B", "0711003402").await;
    let ta = token(&sign_in(&e, "0711003401").await);
    let tb = token(&sign_in(&e, "0711003402").await);
    let (code, v) = call(&e, "POST", "devices", Some(&ta), Some(json!({"mac": "not-a-mac"}))).await;
    assert_eq!(code, 400, "{v}");
    assert!(v["error"]["message"].as_str().unwrap_or("").contains("MAC"), "{v}");
    let (code, v) =
        call(&e, "POST", "devices", Some(&ta), Some(json!({"mac": "aa-bb-cc-00-11-22", "name": "Sebule TV"}))).await;
    assert_eq!(code, 201, "{v}");
    assert_eq!(v["mac"], "AA:BB:CC:00:11:22");
    let (code, _) = call(&e, "POST", "devices", Some(&ta), Some(json!({"mac": "AA:BB:CC:00:11:22"}))).await;
    assert_eq!(code, 409, "once per subscriber");
    let (code, v) = call(&e, "DELETE", "devices/AA:BB:CC:00:11:22", Some(&tb), None).await;
    assert_eq!(code, 404, "B removing A's device: {v}");
    let (_, list) = call(&e, "GET", "devices", Some(&ta), None).await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "still A's: {list}");
    assert_eq!(list["items"][0]["name"], "Sebule TV");
    let (_, list) = call(&e, "GET", "devices", Some(&tb), None).await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(0), "B sees none of A's: {list}");
    let (code, _) = call(&e, "DELETE", "devices/aabbcc001122", Some(&ta), None).await;
    assert_eq!(code, 200);
    let (_, list) = call(&e, "GET", "devices", Some(&ta), None).await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(0));
    for i in 0..10 {
        let (code, _) =
            call(&e, "POST", "devices", Some(&ta), Some(json!({"mac": format!("02:00:00:00:00:{i:02}")}))).await;
        assert_eq!(code, 201);
    }
    let (code, v) = call(&e, "POST", "devices", Some(&ta), Some(json!({"mac": "02:00:00:00:00:99"}))).await;
    assert_eq!(code, 400, "at most ten: {v}");
}

#[tokio::test]
async fn tickets_are_opened_and_answered_only_by_their_subscriber() {
    let e = env("e2e-p35").await;
    let other = env("e2e-p36").await;
    e.plan("home", 1000).await;
    other.plan("home", 1000).await;
    e.subscriber("home", "TIK35A", "0711003501").await;
    e.subscriber("home", "TIK35B", "0711003502").await;
    other.subscriber("home", "TIK36C", "0711003601").await;
    let ta = token(&sign_in(&e, "0711003501").await);
    let tb = token(&sign_in(&e, "0711003502").await);
    let tc = token(&sign_in(&other, "0711003601").await);
    let (code, v) = call(&e, "POST", "tickets", Some(&ta), Some(json!({"subject": "  ", "message": "slow"}))).await;
    assert_eq!(code, 400, "{v}");
    assert!(v["error"]["message"].as_str().unwrap_or("").contains("subject"), "{v}");
    let (code, tk) = call(
        &e,
        "POST",
        "tickets",
        Some(&ta),
        Some(json!({"subject": "Internet ni polepole", "message": "Since Monday evening."})),
    )
    .await;
    assert_eq!(code, 201, "{tk}");
    let id = tk["id"].as_str().expect("id").to_owned();
    assert_eq!(tk["status"], "open");
    assert_eq!(tk["messages"].as_array().map(Vec::len), Some(1));

    let (code, _) = call(&e, "GET", &format!("tickets/{id}"), Some(&tb), None).await;
    assert_eq!(code, 404, "B reading A's ticket");
    let (code, _) =
        call(&e, "POST", &format!("tickets/{id}/messages"), Some(&tb), Some(json!({"message": "me too"}))).await;
    assert_eq!(code, 404, "B writing to A's ticket");
    let (code, _) = call(&other, "GET", &format!("tickets/{id}"), Some(&tc), None).await;
    assert_eq!(code, 404, "another tenant's subscriber");
    let (code, _) = call(&e, "GET", &format!("tickets/{id}"), Some(&tc), None).await;
    assert_eq!(code, 401, "another tenant's token");
    let (code, _) = call(&e, "POST", &format!("tickets/{id}/messages"), Some(&ta), Some(json!({"message": ""}))).await;
    assert_eq!(code, 400);
    let (code, v) =
        call(&e, "POST", &format!("tickets/{id}/messages"), Some(&ta), Some(json!({"message": "Still slow."}))).await;
    assert_eq!(code, 201, "{v}");
    let msgs = v["messages"].as_array().expect("messages");
    assert_eq!(msgs.len(), 2, "B's attempts wrote nothing: {v}");
    assert!(msgs.iter().all(|m| m["author"] == "subscriber"));
    let (_, list) = call(&e, "GET", "tickets", Some(&ta), None).await;
    assert_eq!(list["items"][0]["id"], id.as_str());
    let (_, list) = call(&e, "GET", "tickets", Some(&tb), None).await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(0));
}

#[tokio::test]
async fn network_status_shows_the_notices_for_the_subscribers_site_and_everyone() {
    let e = env("e2e-p37").await;
    e.plan("home", 1000).await;
    let s = e.subscriber("home", "NET37", "0711003701").await;
    let id = s["id"].as_str().expect("id").to_owned();
    let (code, v) = e.patch(&format!("/subscribers/{id}"), json!({"site": "kilimani-1"})).await;
    assert_eq!(code, 200, "{v}");
    let t = token(&sign_in(&e, "0711003701").await);
    let (_, st) = call(&e, "GET", "network/status", Some(&t), None).await;
    assert_eq!(st["status"], "ok", "{st}");
    let (code, v) = e.post("/network-notices", json!({"kind": "flood", "title": "x"})).await;
    assert_eq!(code, 400, "{v}");
    let later = (chrono::Utc::now() + chrono::Duration::days(2)).to_rfc3339();
    let past_end = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let past_start = (chrono::Utc::now() - chrono::Duration::hours(5)).to_rfc3339();
    for n in [
        json!({"kind": "outage", "site": "kilimani-1", "title": "Fibre cut at Kilimani"}),
        json!({"kind": "maintenance", "title": "Upgrade for everyone", "starts_at": later}),
        json!({"kind": "outage", "site": "westlands-2", "title": "Not this site"}),
        json!({"kind": "outage", "title": "Over already", "starts_at": past_start, "ends_at": past_end}),
    ] {
        let (code, v) = e.post("/network-notices", n).await;
        assert_eq!(code, 201, "{v}");
    }
    let (code, st) = call(&e, "GET", "network/status", Some(&t), None).await;
    assert_eq!(code, 200, "{st}");
    assert_eq!(st["site"], "kilimani-1");
    assert_eq!(st["status"], "outage", "{st}");
    let titles: Vec<&str> =
        st["notices"].as_array().expect("notices").iter().filter_map(|n| n["title"].as_str()).collect();
    assert_eq!(titles, vec!["Fibre cut at Kilimani", "Upgrade for everyone"], "{st}");
}

#[tokio::test]
async fn profile_renew_auto_renew_and_payment_methods_answer_and_refuse_with_reasons() {
    let e = env("e2e-p38").await;
    e.plan("home", 1000).await;
    e.plan("fast", 3000).await;
    e.subscriber("fast", "PRO38", "0711003801").await;
    let t = token(&sign_in(&e, "0711003801").await);
    let (code, v) = call(&e, "PATCH", "me", Some(&t), Some(json!({"language": "fr"}))).await;
    assert_eq!(code, 400, "{v}");
    assert!(v["error"]["message"].as_str().unwrap_or("").contains("sw or en"), "{v}");
    let (code, v) = call(&e, "PATCH", "me", Some(&t), Some(json!({"email": "not an email"}))).await;
    assert_eq!(code, 400, "{v}");
    let (code, v) = call(&e, "PATCH", "me", Some(&t), Some(json!({"nickname": "x"}))).await;
    assert_eq!(code, 400, "an unknown field is refused: {v}");
    let (_, me) = call(&e, "GET", "me", Some(&t), None).await;
    assert_eq!((me["email"].clone(), me["language"].clone()), (Value::Null, Value::Null), "nothing written: {me}");
    let (code, me) = call(
        &e,
        "PATCH",
        "me",
        Some(&t),
        Some(json!({"name": "Wanjiku M.", "email": "wanjiku@example.com", "language": "sw"})),
    )
    .await;
    assert_eq!(code, 200, "{me}");
    assert_eq!((me["name"].as_str(), me["language"].as_str()), (Some("Wanjiku M."), Some("sw")));

    let (code, v) = call(&e, "POST", "subscription/renew", Some(&t), None).await;
    assert_eq!(code, 400, "no balance: {v}");
    assert!(v["error"]["message"].as_str().unwrap_or("").contains("top up KES 3000"), "{v}");
    // A payment buys what it covers at once; a balance above the price comes from a move to a
    // cheaper plan (the unused time is credited), and renew buys a period with it.
    paid(&e, "PRO38", "0711003801", "PRO38PAY01", "3000.00").await;
    let (code, v) = call(&e, "POST", "subscription/plan-change", Some(&t), Some(json!({"plan": "home"}))).await;
    assert_eq!(code, 200, "{v}");
    let (_, sub) = call(&e, "GET", "subscription", Some(&t), None).await;
    let balance = sub["balance_cents"].as_i64().expect("balance");
    assert!(balance >= 100_000, "about KES 2,000 credited: {sub}");
    let exp_before = chrono::DateTime::parse_from_rfc3339(sub["expires_at"].as_str().expect("expires")).expect("time");
    let (code, v) = call(&e, "POST", "subscription/renew", Some(&t), None).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["periods"], 1, "{v}");
    let (_, sub) = call(&e, "GET", "subscription", Some(&t), None).await;
    assert_eq!(sub["balance_cents"].as_i64(), Some(balance - 100_000), "{sub}");
    let exp_after = chrono::DateTime::parse_from_rfc3339(sub["expires_at"].as_str().expect("expires")).expect("time");
    assert_eq!((exp_after - exp_before).num_days(), 30, "one more period of home: {sub}");
    let (code, v) = call(&e, "POST", "subscription/renew", Some(&t), None).await;
    assert_eq!(code, 400, "what is left does not cover one: {v}");

    let (code, v) = call(&e, "PUT", "subscription/auto-renew", Some(&t), Some(json!({"auto_renew": "no"}))).await;
    assert_eq!(code, 400, "{v}");
    let (code, v) = call(&e, "PUT", "subscription/auto-renew", Some(&t), Some(json!({"auto_renew": false}))).await;
    assert_eq!(code, 200, "{v}");
    let (_, sub) = call(&e, "GET", "subscription", Some(&t), None).await;
    assert_eq!(sub["auto_renew"], false, "{sub}");

    let (code, pm) = call(&e, "GET", "payment-methods", Some(&t), None).await;
    assert_eq!(code, 200, "{pm}");
    let items = pm["items"].as_array().expect("items");
    assert!(items.iter().any(|m| m["type"] == "mpesa_stk"), "{pm}");
    let paybill = items.iter().find(|m| m["type"] == "mpesa_paybill").expect("paybill");
    assert_eq!(paybill["account_number"], "PRO38", "{pm}");
}

/// Every id-bearing route of the router's own list (`CUSTOMER_ROUTES`; a new one fails here until
/// it is given an id to try): another subscriber's id and the same id from another tenant's
/// subscriber are 404 with the error shape, and nothing of the owner's changes.
#[tokio::test]
async fn every_id_route_refuses_another_subscribers_and_another_tenants_ids() {
    let e = env("e2e-p51").await;
    let other = env("e2e-p52").await;
    let own_plan = e.plan("home", 1000).await["id"].as_str().expect("plan").to_owned();
    other.plan("home", 1000).await;
    e.subscriber("home", "IDA51", "0711005101").await;
    let b = e.subscriber("home", "IDB51", "0711005102").await;
    other.subscriber("home", "IDC52", "0711005201").await;
    let b_id = b["id"].as_str().expect("id").to_owned();
    paid(&e, "IDB51", "0711005102", "IDB51PAY01", "1000.00").await;
    let tb = token(&sign_in(&e, "0711005102").await);
    let ta = token(&sign_in(&e, "0711005101").await);
    let tc = token(&sign_in(&other, "0711005201").await);

    // B's records
    let (_, pays) = call(&e, "GET", "payments", Some(&tb), None).await;
    let payment = pays["items"][0]["id"].as_str().expect("payment").to_owned();
    let (_, inv) = call(&e, "GET", "invoices", Some(&tb), None).await;
    let invoice = inv["items"][0]["id"].as_str().expect("invoice").to_owned();
    let (s, top) = call(&e, "POST", "topups", Some(&tb), Some(json!({"amount_kes": 10}))).await;
    assert_eq!(s, 202, "{top}");
    let topup = top["id"].as_str().expect("topup").to_owned();
    // The simulator completes this prompt by callback a moment later; B's balance must be read
    // after that, or the credit lands between the two looks at B's state (on Spin it did: B's
    // balance went 0 -> 1000 cents there, the ledger holding just this top-up's payment).
    let paid_topup = e
        .wait_for(15, || async {
            let (_, v) = call(&e, "GET", &format!("topups/{topup}"), Some(&tb), None).await;
            (v["status"] == "paid").then_some(v)
        })
        .await;
    assert!(paid_topup.is_some(), "the simulator completes B's top-up");
    let (s, _) = call(&e, "POST", "devices", Some(&tb), Some(json!({"mac": "02:00:00:00:51:02"}))).await;
    assert_eq!(s, 201);
    let (s, tk) = call(&e, "POST", "tickets", Some(&tb), Some(json!({"subject": "B's", "message": "private"}))).await;
    assert_eq!(s, 201);
    let ticket = tk["id"].as_str().expect("ticket").to_owned();
    // plans are a catalogue: what must not be seen is a plan of the other tenant
    let other_plan = other.get("/plans").await[0]["id"].as_str().expect("plan").to_owned();

    let id_for = |route: &str, same_tenant: bool| -> Option<String> {
        let first = route.split('/').next().unwrap_or("");
        match first {
            "payments" => Some(payment.clone()),
            "invoices" => Some(invoice.clone()),
            "topups" => Some(topup.clone()),
            "devices" => Some("02:00:00:00:51:02".to_owned()),
            "tickets" => Some(ticket.clone()),
            "plans" if same_tenant => Some(other_plan.clone()),
            "plans" => Some(own_plan.clone()),
            _ => None,
        }
    };
    let body_for = |method: &str, route: &str| match (method, route) {
        ("POST", "tickets/{id}/messages") => Some(json!({"message": "let me in"})),
        _ => None,
    };
    let before = owner_state(&e, &tb, &ticket, &b_id).await;
    assert_eq!(before.3, 1000, "B's balance holds the 10 KES top-up before the foreign requests");
    let mut tried = 0;
    for (method, route) in konnekted_core::api::CUSTOMER_ROUTES.iter().filter(|(_, r)| r.contains("{id}")) {
        for (who, env, tok) in [("another subscriber", &e, &ta), ("another tenant's subscriber", &other, &tc)] {
            let id = id_for(route, std::ptr::eq(env, &e))
                .unwrap_or_else(|| panic!("{method} {route}: give this new id route an id to try"));
            let path = route.replace("{id}", &id);
            let (s, v) = call(env, method, &path, Some(tok), body_for(method, route)).await;
            assert_eq!(s, 404, "{who}: {method} {path}: {v}");
            assert_eq!(v["error"]["code"], "not_found", "{who}: {method} {path}: {v}");
        }
        tried += 1;
    }
    assert!(tried >= 8, "{tried} id routes");
    assert_eq!(owner_state(&e, &tb, &ticket, &b_id).await, before, "nothing of B's changed");
    // and B still reaches every one of them
    for path in [
        format!("payments/{payment}/receipt"),
        format!("invoices/{invoice}"),
        format!("topups/{topup}"),
        format!("tickets/{ticket}"),
    ] {
        let (s, _) = call(&e, "GET", &path, Some(&tb), None).await;
        assert_eq!(s, 200, "B: {path}");
    }
}

/// What another subscriber's attempts must leave alone: B's devices, B's ticket, the change feed
/// and B's balance.
async fn owner_state(e: &Env, tb: &str, ticket: &str, b_id: &str) -> (Value, Value, Option<usize>, Value) {
    let (_, d) = call(e, "GET", "devices", Some(tb), None).await;
    let (_, t) = call(e, "GET", &format!("tickets/{ticket}"), Some(tb), None).await;
    let feed = e.get("/feed?after=0").await.as_array().map(Vec::len);
    (d["items"].clone(), t["messages"].clone(), feed, e.subscriber_state(b_id).await["balance_cents"].clone())
}

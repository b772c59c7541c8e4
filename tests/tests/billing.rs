//! Billing core and M-Pesa collection, end to end over HTTP.
//! Each test owns one realm (e2e-tNN) so the suite can share one Worker deployment.

use konnekted_e2e::daraja_sim::{Outcome, Script, SimConfig};
use konnekted_e2e::{c2b_body, env, env_with, stk_success_body};
use serde_json::{Value, json};

fn balance(v: &Value) -> i64 {
    v["balance_cents"].as_i64().unwrap_or(i64::MIN)
}

async fn pending_topup(e: &konnekted_e2e::Env, account: &str, phone: &str, kes: u64) -> String {
    e.sim.set_script_for(phone, Script::new(Outcome::NoCallback));
    let (s, v) = e.topup(account, Some(kes)).await;
    assert_eq!(s, 202, "{v}");
    v["checkout_request_id"].as_str().expect("checkout id").to_owned()
}

#[tokio::test]
async fn stk_topup_with_simulator_activates_subscription() {
    let e = env("e2e-t01").await;
    e.plan("home", 1500).await;
    let s = e.subscriber("home", "ACC1", "0708374149").await;
    let id = s["id"].as_str().unwrap();
    let (code, v) = e.topup("ACC1", None).await;
    assert_eq!(code, 202, "{v}");
    assert_eq!(v["amount_kes"], 1500);
    let active = e
        .wait_for(10, || async {
            let st = e.subscriber_state(id).await;
            (st["status"] == "active").then_some(st)
        })
        .await
        .expect("subscription activated by the STK callback");
    assert_eq!(balance(&active), 0);
    assert!(active["expires_at"].as_str().is_some());
    let feed = e.get("/feed?after=0").await;
    assert!(feed.as_array().unwrap().iter().any(|c| c["kind"] == "subscription_activated"), "{feed}");
}

#[tokio::test]
async fn stk_callback_delivered_50_times_concurrently_credits_once() {
    let e = env("e2e-t02").await;
    e.plan("home", 1000).await;
    let s = e.subscriber("home", "ACC2", "0711000002").await;
    let id = s["id"].as_str().unwrap().to_owned();
    let checkout = pending_topup(&e, "ACC2", "254711000002", 1000).await;
    let body = stk_success_body(&checkout, "1000.00", "SIM0000001", "254711000002");
    let replies = futures::future::join_all((0..50).map(|_| e.callback("stk", body.clone()))).await;
    assert!(replies.iter().all(|(s, _)| *s == 200), "{replies:?}");
    let payments = e.get(&format!("/payments?subscriber={id}")).await;
    assert_eq!(payments.as_array().unwrap().len(), 1, "{payments}");
    let ledger = e.get(&format!("/subscribers/{id}/ledger")).await;
    let credits: Vec<_> = ledger.as_array().unwrap().iter().filter(|l| l["kind"] == "payment").collect();
    assert_eq!(credits.len(), 1, "{ledger}");
    let st = e.subscriber_state(&id).await;
    assert_eq!(st["status"], "active");
    assert_eq!(balance(&st), 0);
    let log = e.get("/callbacks?limit=100").await;
    let outcomes: Vec<&str> = log.as_array().unwrap().iter().filter_map(|c| c["outcome"].as_str()).collect();
    assert_eq!(outcomes.iter().filter(|o| **o == "applied").count(), 1);
    assert_eq!(outcomes.iter().filter(|o| **o == "duplicate").count(), 49);
}

#[tokio::test]
async fn c2b_confirmation_replayed_credits_once() {
    let e = env("e2e-t03").await;
    e.plan("home", 500).await;
    let s = e.subscriber("home", "ACC3", "0711000003").await;
    let id = s["id"].as_str().unwrap();
    let body = c2b_body("RKL51ZDR4F", "500.00", "ACC3", "254711000003");
    for _ in 0..3 {
        let (code, v) = e.callback("c2b/confirm", body.clone()).await;
        assert_eq!(code, 200, "{v}");
        assert_eq!(v["ResultCode"], 0);
    }
    let st = e.subscriber_state(id).await;
    assert_eq!(st["status"], "active");
    let payments = e.get(&format!("/payments?subscriber={id}")).await;
    assert_eq!(payments.as_array().unwrap().len(), 1);
    let ledger = e.get(&format!("/subscribers/{id}/ledger")).await;
    assert_eq!(ledger.as_array().unwrap().iter().filter(|l| l["kind"] == "payment").count(), 1);
}

#[tokio::test]
async fn callback_with_other_tenants_token_is_refused_and_writes_nothing() {
    let a = env("e2e-t04").await;
    let b = env("e2e-t05").await;
    a.plan("home", 500).await;
    a.subscriber("home", "ACC4", "0711000004").await;
    // Tenant A's realm with tenant B's token.
    let url = format!("{}/hooks/{}/{}/c2b/confirm", a.base, a.realm, b.callback_token);
    let r = a.http.post(url).body(c2b_body("RKL0000004", "500.00", "ACC4", "254711000004")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    // Unknown token too.
    let url = format!("{}/hooks/{}/not-the-token/stk", a.base, a.realm);
    assert_eq!(a.http.post(url).body("{}").send().await.unwrap().status().as_u16(), 404);
    // The card webhooks share the same gate: the other tenant's token is a 404, a GET is a 405.
    for provider in ["stripe", "paystack"] {
        let url = format!("{}/hooks/{}/{}/{provider}", a.base, a.realm, b.callback_token);
        assert_eq!(a.http.post(&url).body("{}").send().await.unwrap().status().as_u16(), 404, "{provider}");
        let url = format!("{}/hooks/{}/{}/{provider}", a.base, a.realm, a.callback_token);
        assert_eq!(a.http.get(&url).send().await.unwrap().status().as_u16(), 405, "{provider}");
    }
    assert_eq!(a.get("/payments").await.as_array().unwrap().len(), 0);
    assert_eq!(a.get("/callbacks").await.as_array().unwrap().len(), 0);
    assert_eq!(b.get("/callbacks").await.as_array().unwrap().len(), 0);
    // Tenant B's admin token cannot read tenant A.
    let r = a.http.get(a.admin("/subscribers")).bearer_auth(&b.admin_token).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
}

#[tokio::test]
async fn paybill_unmatched_lands_in_inbox_and_can_be_assigned() {
    let e = env("e2e-t06").await;
    e.plan("home", 1000).await;
    let s = e.subscriber("home", "ACC6", "0711000006").await;
    let id = s["id"].as_str().unwrap();
    let (code, _) = e.callback("c2b/confirm", c2b_body("RKL0000006", "1000.00", "WRONG-99", "2547 ***** 126")).await;
    assert_eq!(code, 200);
    let inbox = e.get("/unmatched").await;
    let inbox = inbox.as_array().unwrap();
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0]["bill_ref"], "WRONG-99");
    assert_eq!(inbox[0]["amount_cents"], 100000);
    // shown to the operator as Daraja sent it (it was stored as `Masked("...")` before)
    assert_eq!(inbox[0]["msisdn"], "2547 ***** 126");
    let pid = inbox[0]["id"].as_str().unwrap();
    let (code, v) = e.post(&format!("/unmatched/{pid}/assign"), json!({"subscriber": "acc-6"})).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["status"], "active");
    assert_eq!(e.get("/unmatched").await.as_array().unwrap().len(), 0);
    let (code, _) = e.post(&format!("/unmatched/{pid}/assign"), json!({"subscriber": id})).await;
    assert_eq!(code, 409, "assigning twice is refused");
    assert_eq!(e.get(&format!("/subscribers/{id}/ledger")).await.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn paybill_normalised_account_and_phone_are_matched() {
    let e = env("e2e-t07").await;
    e.plan("home", 300).await;
    let a = e.subscriber("home", "ACC0042", "0711000007").await;
    let b = e.subscriber("home", "ACC0043", "0711000008").await;
    e.callback("c2b/confirm", c2b_body("RKL0000071", "300", " acc-42 ", "254799999999")).await;
    e.callback("c2b/confirm", c2b_body("RKL0000072", "300", "", "254711000008")).await;
    assert_eq!(e.subscriber_state(a["id"].as_str().unwrap()).await["status"], "active");
    assert_eq!(e.subscriber_state(b["id"].as_str().unwrap()).await["status"], "active");
    assert_eq!(e.get("/unmatched").await.as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn partial_payments_accumulate_and_renew() {
    let e = env("e2e-t08").await;
    e.plan("home", 1500).await;
    let s = e.subscriber("home", "ACC8", "0711000009").await;
    let id = s["id"].as_str().unwrap();
    e.callback("c2b/confirm", c2b_body("RKL0000081", "500", "ACC8", "254711000009")).await;
    let st = e.subscriber_state(id).await;
    assert_eq!(st["status"], "pending");
    assert_eq!(balance(&st), 50000);
    e.callback("c2b/confirm", c2b_body("RKL0000082", "700", "ACC8", "254711000009")).await;
    assert_eq!(balance(&e.subscriber_state(id).await), 120000);
    e.callback("c2b/confirm", c2b_body("RKL0000083", "400", "ACC8", "254711000009")).await;
    let st = e.subscriber_state(id).await;
    assert_eq!(st["status"], "active");
    assert_eq!(balance(&st), 10000, "KES 100 left over after the KES 1500 renewal");
    let first_expiry = st["expires_at"].as_str().unwrap().to_owned();
    // Another full payment extends from the current expiry.
    e.callback("c2b/confirm", c2b_body("RKL0000084", "1400", "ACC8", "254711000009")).await;
    let st = e.subscriber_state(id).await;
    assert_eq!(balance(&st), 0);
    assert!(st["expires_at"].as_str().unwrap() > first_expiry.as_str());
}

#[tokio::test]
async fn sweep_recovers_payment_whose_callback_never_came() {
    let e = env("e2e-t09").await;
    e.plan("home", 800).await;
    let s = e.subscriber("home", "ACC9", "0711000010").await;
    let id = s["id"].as_str().unwrap();
    let checkout = pending_topup(&e, "ACC9", "254711000010", 800).await;
    // The simulator marks it paid but never calls back; the sweep asks and applies it.
    let recovered = e
        .wait_for(10, || async {
            let (code, v) = e.post("/sweep", json!({})).await;
            assert_eq!(code, 200, "{v}");
            (v["sweep"]["paid"] == 1).then_some(v)
        })
        .await;
    assert!(recovered.is_some(), "sweep never recovered {checkout}");
    let st = e.subscriber_state(id).await;
    assert_eq!(st["status"], "active");
    // The late callback, should it come after all, is a duplicate.
    let (code, _) = e.callback("stk", stk_success_body(&checkout, "800", "SIMLATE001", "254711000010")).await;
    assert_eq!(code, 200);
    assert_eq!(e.get(&format!("/payments?subscriber={id}")).await.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn stk_cancelled_by_user_marks_request_failed_and_credits_nothing() {
    let e = env_with("e2e-t10", SimConfig::default().default_script(Script::new(Outcome::Cancelled))).await;
    e.plan("home", 800).await;
    let s = e.subscriber("home", "ACC10", "0711000011").await;
    let (code, v) = e.topup("ACC10", None).await;
    assert_eq!(code, 202, "{v}");
    let checkout = v["checkout_request_id"].as_str().unwrap().to_owned();
    let status = e
        .wait_for(10, || async {
            let r = e.http.get(format!("{}/api/p/{}/topup/{checkout}", e.base, e.realm)).send().await.ok()?;
            let v: Value = r.json().await.ok()?;
            (v["status"] != "pending").then_some(v)
        })
        .await
        .expect("callback arrived");
    assert_eq!(status["status"], "failed");
    assert_eq!(e.subscriber_state(s["id"].as_str().unwrap()).await["status"], "pending");
    assert_eq!(e.get("/payments").await.as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn malformed_callbacks_answer_4xx_and_keep_raw_body() {
    let e = env("e2e-t11").await;
    e.plan("home", 800).await;
    e.subscriber("home", "ACC11", "0711000012").await;
    let cases: Vec<(&str, String)> = vec![
        ("stk", r#"{"Body":{"stkCallback":{"MerchantRequestID":"1","CheckoutRequestID":"ws_CO_1","ResultCode":0"#.into()),
        ("stk", r#"{"Body":{"stkCallback":{"MerchantRequestID":"1","CheckoutRequestID":"ws_CO_1","ResultCode":true,"ResultDesc":"x"}}}"#.into()),
        ("stk", r#"{"Body":{"stkCallback":{"MerchantRequestID":"1","CheckoutRequestID":"ws_CO_1","ResultCode":0,"ResultDesc":"ok"}}}"#.into()),
        ("stk", format!(r#"{{"pad":"{}"}}"#, "x".repeat(70 * 1024))),
        ("c2b/confirm", r#"{"TransID":"RKL1","TransAmount":5}"#.into()),
        ("c2b/confirm", "not json at all".into()),
        ("c2b/validate", r#"{"TransactionType":"Pay Bill","TransID":"RKL2","TransTime":"2026","TransAmount":"abc","BusinessShortCode":"174379"}"#.into()),
    ];
    for (leaf, body) in &cases {
        let (code, v) = e.callback(leaf, body.clone()).await;
        assert!((400..500).contains(&code), "{leaf} {body:.80}: {code} {v}");
        assert!(v["ResultDesc"].as_str().unwrap_or("").starts_with("Rejected:"), "a reason is given: {v}");
    }
    let log = e.get("/callbacks?outcome=malformed&limit=100").await;
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), cases.len());
    for (_, body) in &cases {
        let kept = body.get(..body.len().min(64 * 1024)).unwrap();
        assert!(log.iter().any(|l| l["raw_body"].as_str() == Some(kept)), "raw body kept: {body:.60}");
    }
    assert_eq!(e.get("/payments").await.as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn c2b_validation_rejects_unknown_account_when_tenant_says_so() {
    let e = env("e2e-t12").await;
    e.plan("home", 800).await;
    e.subscriber("home", "ACC12", "0711000013").await;
    let (code, v) = e.callback("c2b/validate", c2b_body("RKL0000121", "800", "NOBODY", "254711000013")).await;
    assert_eq!((code, v["ResultCode"].clone()), (200, json!("0")), "default: accept, inbox later");
    let r = e
        .http
        .put(e.admin("/settings"))
        .bearer_auth(&e.admin_token)
        .json(&json!({"settings": {"c2b_validation": "reject_unknown_account", "grace_seconds": 0}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let (_, v) = e.callback("c2b/validate", c2b_body("RKL0000122", "800", "NOBODY", "254711000013")).await;
    assert_eq!(v["ResultCode"], "C2B00012");
    let (_, v) = e.callback("c2b/validate", c2b_body("RKL0000123", "800", "acc12", "254711000013")).await;
    assert_eq!(v["ResultCode"], "0");
}

#[tokio::test]
async fn simulated_paybill_payment_reaches_the_subscriber() {
    let e = env("e2e-t13").await;
    e.plan("home", 1000).await;
    let s = e.subscriber("home", "ACC13", "0711000014").await;
    let (code, v) = e.post("/daraja/register-c2b", json!({})).await;
    assert_eq!(code, 200, "{v}");
    let r = e
        .http
        .post(format!("{}/__sim/c2b/pay", e.sim.base_url()))
        .json(&json!({"shortcode": "174379", "amount": "1000", "bill_ref": "ACC13", "msisdn": "254711000014", "first_name": "AMINA"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{:?}", r.text().await);
    assert_eq!(e.subscriber_state(s["id"].as_str().unwrap()).await["status"], "active");
}

#[tokio::test]
async fn admin_api_requires_the_tenant_token() {
    let e = env("e2e-t14").await;
    let r = e.http.get(e.admin("/plans")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = e.http.get(e.admin("/plans")).bearer_auth("wrong").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = e.http.get(e.url("/api/tenants")).bearer_auth(&e.admin_token).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401, "a tenant admin is not the platform operator");
    let r = e.http.get(e.url("/api/t/no-such-isp/plans")).bearer_auth(&e.platform_token).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
}

#[tokio::test]
async fn suspend_and_plan_change_reach_the_change_feed() {
    let e = env("e2e-t15").await;
    e.plan("home", 1000).await;
    e.plan("fast", 2000).await;
    let s = e.subscriber("home", "ACC15", "0711000015").await;
    let id = s["id"].as_str().unwrap();
    e.callback("c2b/confirm", c2b_body("RKL0000151", "1000", "ACC15", "254711000015")).await;
    let (code, v) = e.patch(&format!("/subscribers/{id}"), json!({"plan": "fast"})).await;
    assert_eq!(code, 200, "{v}");
    let (code, v) = e.patch(&format!("/subscribers/{id}"), json!({"status": "suspended"})).await;
    assert_eq!((code, v["status"].clone()), (200, json!("suspended")));
    // A payment while suspended is kept on the balance, not used.
    e.callback("c2b/confirm", c2b_body("RKL0000152", "2000", "ACC15", "254711000015")).await;
    assert_eq!(balance(&e.subscriber_state(id).await), 200000);
    let (_, v) = e.patch(&format!("/subscribers/{id}"), json!({"status": "active"})).await;
    assert_eq!(v["status"], "active");
    let feed = e.get("/feed?after=0").await;
    let kinds: Vec<&str> = feed.as_array().unwrap().iter().filter_map(|c| c["kind"].as_str()).collect();
    assert_eq!(
        kinds,
        vec![
            "subscriber_created",
            "subscription_activated",
            "plan_changed",
            "subscriber_suspended",
            "subscriber_resumed"
        ]
    );
    let seqs: Vec<i64> = feed.as_array().unwrap().iter().filter_map(|c| c["seq"].as_i64()).collect();
    let after = e.get(&format!("/feed?after={}", seqs[2])).await;
    assert_eq!(after.as_array().unwrap().len(), 2, "cursor reads only what came after");
}

#[tokio::test]
async fn scheduled_pass_recovers_payment_whose_callback_never_came() {
    let e = env("e2e-t19").await;
    e.plan("home", 700).await;
    let s = e.subscriber("home", "ACC19", "0711000019").await;
    let id = s["id"].as_str().unwrap();
    pending_topup(&e, "ACC19", "254711000019", 700).await;
    let active = e
        .wait_for(15, || async {
            e.fire_scheduled().await;
            let st = e.subscriber_state(id).await;
            (st["status"] == "active").then_some(st)
        })
        .await;
    assert!(active.is_some(), "the scheduled pass (cron on Workers) recovered the payment");
    let payments = e.get(&format!("/payments?subscriber={id}")).await;
    assert_eq!(payments.as_array().unwrap().len(), 1);
    assert!(payments[0]["note"].as_str().unwrap_or("").contains("recovered"), "{payments}");
}

#[tokio::test]
async fn subscriber_routes_take_id_account_number_or_username() {
    let e = env("e2e-t31").await;
    e.plan("home", 1000).await;
    let s = e.subscriber("home", "ACC-77", "0708374150").await;
    let id = s["id"].as_str().expect("id");
    let username = s["username"].as_str().expect("username").to_owned();
    for key in [id, "ACC-77", "acc77", username.as_str()] {
        let v = e.get(&format!("/subscribers/{key}")).await;
        assert_eq!(v["id"], id, "GET /subscribers/{key}");
    }
    let (code, v) = e.post("/subscribers/acc-77/adjust", json!({"amount_cents": 500, "memo": "goodwill"})).await;
    assert_eq!(code, 200, "{v}");
    let ledger = e.get(&format!("/subscribers/{username}/ledger")).await;
    assert!(ledger.as_array().expect("entries").iter().any(|l| l["memo"] == "goodwill"), "{ledger}");
    let r = e.http.get(e.admin("/subscribers/NOPE-1")).bearer_auth(&e.admin_token).send().await.expect("GET");
    assert_eq!(r.status().as_u16(), 404);
}

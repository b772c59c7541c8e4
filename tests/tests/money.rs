//! Money is never lost or stuck: late successes, contention, absurd amounts, settings that
//! keep what they were not asked to change. Each test owns one realm (e2e-tNN) so the suite
//! also runs against one shared Worker deployment.

use konnekted_e2e::daraja_sim::{Outcome, Script};
use konnekted_e2e::{Env, c2b_body, env, stk_success_body};
use serde_json::{Value, json};

fn balance(v: &Value) -> i64 {
    v["balance_cents"].as_i64().unwrap_or(i64::MIN)
}

async fn push(e: &Env, account: &str, phone: &str, kes: u64, script: Script) -> String {
    e.sim.set_script_for(phone, script);
    let (s, v) = e.topup(account, Some(kes)).await;
    assert_eq!(s, 202, "{v}");
    v["checkout_request_id"].as_str().expect("checkout id").to_owned()
}

async fn callbacks_with(e: &Env, outcome: &str) -> Vec<Value> {
    e.get(&format!("/callbacks?outcome={outcome}&limit=500")).await.as_array().cloned().unwrap_or_default()
}

/// Defect 1: the sweep learned "1037, no response from user" and marked the push failed; the
/// real success arrives afterwards. It used to be logged as a duplicate and credited nowhere.
#[tokio::test]
async fn stk_success_after_sweep_marked_failed_is_credited() {
    let e = env("e2e-t22").await;
    e.plan("home", 1000).await;
    let s = e.subscriber("home", "LATE1", "0711000022").await;
    let id = s["id"].as_str().unwrap().to_owned();
    // The phone never answers the prompt: no callback; the STK query says 1037.
    let checkout =
        push(&e, "LATE1", "254711000022", 1000, Script::new(Outcome::Timeout).deliveries(0).delay(Default::default()))
            .await;
    e.fire_scheduled().await;
    let pushed = e
        .wait_for(10, || async {
            let (_, v) = e.topup_status(&checkout).await;
            (v["status"] == "failed").then_some(v)
        })
        .await;
    assert!(pushed.is_some(), "the sweep marks the push failed first");
    assert_eq!(e.get(&format!("/payments?subscriber={id}")).await.as_array().unwrap().len(), 0);

    // The success arrives late, with a receipt: the money is real.
    let body = stk_success_body(&checkout, "1000.00", "LATE000001", "254711000022");
    let (code, v) = e.callback("stk", body.clone()).await;
    assert_eq!(code, 200, "{v}");
    let st = e.subscriber_state(&id).await;
    assert_eq!(st["status"], "active", "{st}");
    let payments = e.get(&format!("/payments?subscriber={id}")).await;
    let payments = payments.as_array().unwrap();
    assert_eq!(payments.len(), 1, "{payments:?}");
    assert_eq!(payments[0]["receipt"], "LATE000001");
    assert_eq!(payments[0]["amount_cents"], 100_000);
    assert!(payments[0]["note"].as_str().unwrap_or("").contains("marked failed"), "{payments:?}");
    let (_, v) = e.topup_status(&checkout).await;
    assert_eq!(v["status"], "paid", "{v}");

    // Delivered again: still one payment.
    let (code, _) = e.callback("stk", body).await;
    assert_eq!(code, 200);
    assert_eq!(e.get(&format!("/payments?subscriber={id}")).await.as_array().unwrap().len(), 1);
}

/// A push credited by the sweep's STK query has no receipt; the late callback brings it.
#[tokio::test]
async fn stk_receipt_arriving_after_sweep_credit_is_kept() {
    let e = env("e2e-t23").await;
    e.plan("home", 500).await;
    let s = e.subscriber("home", "RCPT1", "0711000023").await;
    let id = s["id"].as_str().unwrap().to_owned();
    let checkout = push(&e, "RCPT1", "254711000023", 500, Script::new(Outcome::NoCallback)).await;
    let paid = e
        .wait_for(10, || async {
            e.fire_scheduled().await;
            let p = e.get(&format!("/payments?subscriber={id}")).await;
            (p.as_array().unwrap().len() == 1).then_some(p)
        })
        .await
        .expect("the sweep recovers the payment");
    assert!(paid[0]["receipt"].is_null(), "{paid}");
    let (code, _) = e.callback("stk", stk_success_body(&checkout, "500.00", "RCPT000001", "254711000023")).await;
    assert_eq!(code, 200);
    let p = e.get(&format!("/payments?subscriber={id}")).await;
    assert_eq!(p.as_array().unwrap().len(), 1, "{p}");
    assert_eq!(p[0]["receipt"], "RCPT000001", "{p}");
    assert_eq!(balance(&e.subscriber_state(&id).await), 0);
}

/// Defect 2: 200 distinct Paybill payments to one account at 64 concurrent used to get 503s
/// ("too much contention") for most of them, and those bodies were not even logged.
#[tokio::test]
async fn c2b_200_distinct_payments_to_one_subscriber_all_land() {
    let e = env("e2e-t24").await;
    e.plan("home", 1000).await;
    let s = e.subscriber("home", "BUSY1", "0711000024").await;
    let id = s["id"].as_str().unwrap().to_owned();
    let bodies: Vec<String> =
        (0..200).map(|i| c2b_body(&format!("BUSY{i:06}"), "10.00", "BUSY1", "254711000024")).collect();
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(64));
    let replies = futures::future::join_all(bodies.iter().map(|b| {
        let sem = sem.clone();
        let e = &e;
        async move {
            let _permit = sem.acquire().await.unwrap();
            e.callback("c2b/confirm", b.clone()).await
        }
    }))
    .await;
    let refused: Vec<_> = replies.iter().filter(|(s, _)| *s != 200).collect();
    assert!(refused.is_empty(), "{} refused, e.g. {:?}", refused.len(), refused.first());
    let payments = e.get(&format!("/payments?subscriber={id}&limit=1000")).await;
    assert_eq!(payments.as_array().unwrap().len(), 200);
    // 200 x KES 10 = KES 2,000 = two periods of KES 1,000; settled now or by the next pass.
    e.fire_scheduled().await;
    let st = e.subscriber_state(&id).await;
    assert_eq!(st["status"], "active", "{st}");
    let ledger = e.get(&format!("/subscribers/{id}/ledger")).await;
    let ledger = ledger.as_array().unwrap();
    let paid: i64 = ledger.iter().filter(|l| l["kind"] == "payment").map(|l| l["amount_cents"].as_i64().unwrap()).sum();
    let renewals = ledger.iter().filter(|l| l["kind"] == "renewal").count();
    assert_eq!(paid, 200_000);
    assert_eq!(renewals, 2, "two periods bought");
    assert_eq!(balance(&st), 0, "{st}");
    assert_eq!(callbacks_with(&e, "applied").await.len(), 200);
}

/// Defect 3: an adjustment of i64::MAX cents made the subscriber unreadable ("integer overflow").
#[tokio::test]
async fn adjust_absurd_amount_is_refused_and_subscriber_stays_readable() {
    let e = env("e2e-t25").await;
    e.plan("home", 1000).await;
    let s = e.subscriber("home", "BIG1", "0711000025").await;
    let id = s["id"].as_str().unwrap().to_owned();
    for amount in [i64::MAX, 100_000_001, 10_000_000_000] {
        let (code, v) =
            e.post(&format!("/subscribers/{id}/adjust"), json!({"amount_cents": amount, "memo": "x"})).await;
        assert_eq!(code, 400, "{amount}: {v}");
        assert!(v.to_string().contains("limit"), "{v}");
    }
    let (code, v) =
        e.post(&format!("/subscribers/{id}/adjust"), json!({"amount_cents": 100_000, "memo": "cash"})).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(e.subscriber_state(&id).await["status"], "active");
    e.get("/subscribers").await;
    e.get(&format!("/subscribers/{id}/ledger")).await;
    let (code, _) = e.callback("c2b/confirm", c2b_body("BIG0000001", "1000.00", "BIG1", "254711000025")).await;
    assert_eq!(code, 200);
}

/// Defect 4: absurd amounts in callbacks got 503s, unlogged, or bought 12 periods.
#[tokio::test]
async fn callback_absurd_amounts_are_refused_logged_and_never_credited() {
    let e = env("e2e-t26").await;
    e.plan("home", 1000).await;
    let s = e.subscriber("home", "ABS1", "0711000026").await;
    let id = s["id"].as_str().unwrap().to_owned();
    let huge = "100000000000000000.00";
    let (code, v) = e.callback("c2b/confirm", c2b_body("ABS0000001", huge, "ABS1", "254711000026")).await;
    assert_eq!(code, 400, "{v}");
    assert!(v["ResultDesc"].as_str().unwrap_or("").contains("limit"), "{v}");
    let (code, v) =
        e.callback("c2b/confirm", c2b_body("ABS0000002", "90000000000000000.00", "ABS1", "254711000026")).await;
    assert_eq!(code, 400, "{v}");
    let (code, v) = e.callback("c2b/validate", c2b_body("ABS0000003", huge, "ABS1", "254711000026")).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["ResultCode"], "C2B00013", "{v}");
    // An STK callback for an unknown request with an absurd amount.
    let (code, v) = e.callback("stk", stk_success_body("ws_CO_UNKNOWN_ABS", huge, "ABS0000004", "254711000026")).await;
    assert_eq!(code, 400, "{v}");
    assert_eq!(e.get("/payments").await.as_array().unwrap().len(), 0);
    assert_eq!(e.get("/unmatched").await.as_array().unwrap().len(), 0);
    let st = e.subscriber_state(&id).await;
    assert_eq!(st["status"], "pending", "{st}");
    assert_eq!(callbacks_with(&e, "amount_refused").await.len(), 3);
    assert_eq!(callbacks_with(&e, "rejected").await.len(), 1);
}

/// Also: a partial settings update used to wipe the Daraja credentials.
#[tokio::test]
async fn settings_partial_update_keeps_everything_else() {
    let e = env("e2e-t27").await;
    let before = e.get("/settings").await;
    assert_eq!(before["daraja"]["passkey_set"], true, "{before}");
    let r = e.http.put(e.admin("/settings")).bearer_auth(&e.admin_token).json(&json!({"daraja": {"till": "5551234"}}));
    assert_eq!(r.send().await.unwrap().status().as_u16(), 200);
    let after = e.get("/settings").await;
    assert_eq!(after["daraja"]["till"], "5551234");
    assert_eq!(after["daraja"]["configured"], true, "{after}");
    assert_eq!(after["daraja"]["environment"], before["daraja"]["environment"]);
    assert_eq!(after["daraja"]["consumer_secret_set"], true);
    let r = e
        .http
        .put(e.admin("/settings"))
        .bearer_auth(&e.admin_token)
        .json(&json!({"settings": {"grace_seconds": 86400}}));
    assert_eq!(r.send().await.unwrap().status().as_u16(), 200);
    let after = e.get("/settings").await;
    assert_eq!(after["settings"]["grace_seconds"], 86400);
    assert_eq!(after["settings"]["stk_sweep_after_seconds"], before["settings"]["stk_sweep_after_seconds"]);
    let r = e.http.put(e.admin("/settings")).bearer_auth(&e.admin_token).json(&json!({"grace_seconds": 3600}));
    let r = r.send().await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().await.unwrap().contains("grace_seconds"));
    // A Paybill payment still reaches the tenant's Daraja configuration intact: push works.
    e.plan("home", 100).await;
    e.subscriber("home", "SET1", "0711000027").await;
    let (code, v) = e.topup("SET1", None).await;
    assert_eq!(code, 202, "{v}");
}

/// Also: an account number that normalisation would change beyond case, spaces and dashes.
#[tokio::test]
async fn subscriber_account_with_odd_characters_is_refused() {
    let e = env("e2e-t28").await;
    e.plan("home", 100).await;
    let (code, v) =
        e.post("/subscribers", json!({"name": "X", "plan": "home", "account_no": "'; DROP TABLE x;--"})).await;
    assert_eq!(code, 400, "{v}");
    let (code, v) = e.post("/subscribers", json!({"name": "X", "plan": "home", "account_no": "acc 10-42"})).await;
    assert_eq!(code, 201, "{v}");
    assert_eq!(v["account_no"], "ACC1042");
}

/// Also: an oversized callback body is answered 413 and its first part is kept in the log.
#[tokio::test]
async fn callback_oversized_body_is_logged() {
    let e = env("e2e-t29").await;
    let big = format!("{{\"Body\":\"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let (code, _) = e.callback("c2b/confirm", big.clone()).await;
    assert_eq!(code, 413);
    let log = callbacks_with(&e, "malformed").await;
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0]["body_size"].as_i64(), Some(big.len() as i64));
}

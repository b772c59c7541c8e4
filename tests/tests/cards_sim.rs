//! Card payments end to end through the Stripe and Paystack simulators (`providers-sim`): a
//! checkout is created at the simulator, the payer presses "Pay" on its hosted page, the simulator
//! sends the webhook signed as the provider signs it (with a duplicate, and retries while the
//! receiver does not answer 2xx), and the subscriber is credited exactly once. Realms e2e-s05..s07.

use std::time::Duration;

use konnekted_e2e::{Env, env};
use providers_sim::{PaystackAccount, ProvidersSim, SimHandle, StripeAccount};
use serde_json::{Value, json};

const WHSEC: &str = "whsec_e2e_sim_secret";

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

async fn put_settings(e: &Env, body: Value) {
    let r = e.http.put(e.admin("/settings")).bearer_auth(&e.admin_token).json(&body).send().await.expect("settings");
    assert!(r.status().is_success(), "{}", r.text().await.unwrap_or_default());
}

async fn checkout(e: &Env, account: &str, provider: &str, kes: u64) -> Value {
    let r = e
        .http
        .post(e.url(&format!("/api/p/{}/checkout", e.realm)))
        .json(&json!({"account": account, "provider": provider, "amount_kes": kes}))
        .send()
        .await
        .expect("checkout");
    let status = r.status().as_u16();
    let v: Value = r.json().await.expect("json");
    assert_eq!(status, 201, "{v}");
    v
}

/// Opens the hosted page like a browser and presses its "Pay" button (the first form).
async fn pay_on_page(url: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let c = no_redirects();
    let page = c.get(url).send().await.expect("hosted page");
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("<form method=post"), "{html}");
    c.post(url).form(fields).send().await.expect("pay")
}

async fn checkout_status(e: &Env, id: &str) -> Value {
    let r = e.http.get(e.url(&format!("/api/p/{}/checkout/{id}", e.realm))).send().await.expect("status");
    r.json().await.expect("json")
}

async fn stripe_ready(e: &Env, sim: &SimHandle, sk: &str, webhook_secret: Option<&str>) {
    sim.stripe_account(StripeAccount {
        secret_key: sk.into(),
        webhook_url: Some(e.hook("stripe")),
        webhook_secrets: vec![WHSEC.into()],
    });
    let mut keys = json!({"environment": sim.base_url(), "secret_key": sk});
    if let Some(w) = webhook_secret {
        keys["webhook_secret"] = json!(w);
    }
    put_settings(e, json!({"stripe": keys})).await;
}

#[tokio::test]
async fn stripe_sim_checkout_page_pays_webhook_credits_once() {
    let e = env("e2e-s05").await;
    let sim = ProvidersSim::spawn(Default::default()).await.expect("sim");
    stripe_ready(&e, &sim, "sk_test_e2e_s05", Some(WHSEC)).await;
    e.plan("home", 1000).await;
    let s = e.subscriber("home", "SIM5", "0711000305").await;
    let id = s["id"].as_str().unwrap().to_owned();

    let started = checkout(&e, "SIM5", "stripe", 1000).await;
    let url = started["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&sim.base_url()), "{started}");
    // the session the simulator holds is what the core asked for: KES cents, the account, our reference
    let sessions = sim.stripe_sessions();
    assert_eq!(sessions.len(), 1);
    assert_eq!((sessions[0].amount_total, sessions[0].currency.as_str()), (100_000, "kes"));
    assert_eq!(sessions[0].metadata["account"], "SIM5");
    assert_eq!(sessions[0].idempotency_key.as_deref(), started["checkout_id"].as_str());

    // a declined test card pays nothing and sends nothing
    let declined = pay_on_page(&url, &[("card", "4000 0000 0000 0002"), ("email", "a@b.co")]).await;
    assert_eq!(declined.status().as_u16(), 402);
    let paid = pay_on_page(&url, &[("card", "4242 4242 4242 4242"), ("email", "payer@example.com")]).await;
    assert_eq!(paid.status().as_u16(), 303);
    let back = paid.headers()["location"].to_str().unwrap().to_owned();
    assert!(back.contains(started["checkout_id"].as_str().unwrap()), "{back}");

    // the event and its duplicate: one applied, one duplicate
    let d = sim.wait_deliveries("/stripe", 2, Duration::from_secs(15)).await;
    assert_eq!(d.len(), 2, "{d:?}");
    assert!(d.iter().all(|x| x.ok()), "{d:?}");
    assert!(d[0].signature.as_deref().unwrap_or("").starts_with("t="), "{d:?}");
    let outcomes: Vec<Value> =
        d.iter().map(|x| serde_json::from_str::<Value>(&x.response).unwrap()["outcome"].clone()).collect();
    assert_eq!(outcomes, [json!("applied"), json!("duplicate")]);
    let payments = e.get(&format!("/payments?subscriber={id}")).await;
    assert_eq!(payments.as_array().unwrap().len(), 1, "{payments}");
    assert_eq!(payments[0]["provider"], "stripe");
    assert_eq!(Some(payments[0]["provider_ref"].as_str().unwrap()), sim.stripe_sessions()[0].payment_intent.as_deref());
    assert_eq!(e.subscriber_state(&id).await["status"], "active");
    assert_eq!(checkout_status(&e, started["checkout_id"].as_str().unwrap()).await["status"], "paid");
    // the page now says paid and cannot be paid again
    let again = no_redirects().post(&url).form(&[("card", "4242424242424242")]).send().await.expect("again");
    assert_eq!(again.status().as_u16(), 402);
}

#[tokio::test]
async fn stripe_sim_retries_until_the_receiver_can_verify_then_credits_once() {
    let e = env("e2e-s06").await;
    let sim = ProvidersSim::spawn(Default::default()).await.expect("sim");
    sim.configure(|c| c.retry_delays_ms = vec![300, 300, 300, 300, 300, 300, 300, 300, 300, 300]);
    // the ISP has not pasted its webhook secret yet: deliveries are answered 503 and retried
    stripe_ready(&e, &sim, "sk_test_e2e_s06", None).await;
    e.plan("home", 1000).await;
    let s = e.subscriber("home", "SIM6", "0711000306").await;
    let id = s["id"].as_str().unwrap().to_owned();
    let started = checkout(&e, "SIM6", "stripe", 1000).await;
    let session = sim.stripe_sessions()[0].id.clone();
    sim.pay_stripe(&session).await.expect("pay");
    let first = sim.wait_deliveries("/stripe", 2, Duration::from_secs(10)).await;
    assert!(first.iter().all(|x| x.status == Some(503)), "{first:?}");
    assert_eq!(e.get(&format!("/payments?subscriber={id}")).await.as_array().unwrap().len(), 0);

    put_settings(&e, json!({"stripe": {"webhook_secret": WHSEC}})).await;
    let ok = e
        .wait_for(15, || async {
            let d = sim.deliveries();
            (d.iter().filter(|x| x.ok()).count() >= 2).then_some(d)
        })
        .await
        .expect("a retry and the duplicate got through");
    let good: Vec<_> = ok.iter().filter(|x| x.ok()).collect();
    assert_eq!(good[0].copy, 1);
    assert!(good[0].attempt > 1, "it took a retry: {ok:?}");
    assert_eq!(e.get(&format!("/payments?subscriber={id}")).await.as_array().unwrap().len(), 1);
    assert_eq!(checkout_status(&e, started["checkout_id"].as_str().unwrap()).await["status"], "paid");
}

#[tokio::test]
async fn paystack_sim_mpesa_and_card_checkouts_credit_once_each() {
    let e = env("e2e-s07").await;
    let sim = ProvidersSim::spawn(Default::default()).await.expect("sim");
    let sk = "sk_test_e2e_s07";
    sim.paystack_account(PaystackAccount { secret_key: sk.into(), webhook_url: Some(e.hook("paystack")) });
    put_settings(&e, json!({"paystack": {"environment": sim.base_url(), "secret_key": sk, "mobile_money": true}}))
        .await;
    e.plan("home", 1000).await;
    let s = e.subscriber("home", "SIM7", "0711000307").await;
    let id = s["id"].as_str().unwrap().to_owned();

    // M-Pesa through Paystack's mobile money, on the hosted page
    let a = checkout(&e, "SIM7", "paystack", 1000).await;
    let page = no_redirects().get(a["url"].as_str().unwrap()).send().await.expect("page").text().await.unwrap();
    assert!(page.contains("M-Pesa"), "mobile money is offered when the ISP enables it");
    let r = no_redirects()
        .post(a["url"].as_str().unwrap())
        .form(&[("channel", "mobile_money"), ("phone", "0711000307")])
        .send()
        .await
        .expect("pay");
    assert_eq!(r.status().as_u16(), 303);
    assert!(r.headers()["location"].to_str().unwrap().contains("reference="));
    let d = sim.wait_deliveries("/paystack", 2, Duration::from_secs(15)).await;
    assert!(d.iter().all(|x| x.ok()), "{d:?}");
    let outcomes: Vec<Value> =
        d.iter().map(|x| serde_json::from_str::<Value>(&x.response).unwrap()["outcome"].clone()).collect();
    assert_eq!(outcomes, [json!("applied"), json!("duplicate")]);

    // the same subscriber pays again by card: a second top-up is a second credit
    let b = checkout(&e, "SIM7", "paystack", 500).await;
    let paid = pay_on_page(b["url"].as_str().unwrap(), &[("channel", "card")]).await;
    assert_eq!(paid.status().as_u16(), 303);
    sim.wait_deliveries("/paystack", 4, Duration::from_secs(15)).await;
    let payments = e.get(&format!("/payments?subscriber={id}")).await;
    let mut amounts: Vec<i64> =
        payments.as_array().unwrap().iter().map(|p| p["amount_cents"].as_i64().unwrap()).collect();
    amounts.sort();
    assert_eq!(amounts, [50_000, 100_000], "{payments}");
    let methods: Vec<&str> = payments.as_array().unwrap().iter().map(|p| p["method"].as_str().unwrap()).collect();
    assert!(methods.contains(&"mobile_money") && methods.contains(&"card"), "{payments}");
    assert_eq!(checkout_status(&e, a["checkout_id"].as_str().unwrap()).await["status"], "paid");
    assert_eq!(checkout_status(&e, b["checkout_id"].as_str().unwrap()).await["status"], "paid");
    assert_eq!(e.subscriber_state(&id).await["balance_cents"], 50_000);
}

/// The ISP refunds part of a card payment through Stripe's refunds API, the cardholder disputes
/// the rest, and a Paystack payment is refunded through Paystack's: each reaches the ledger as a
/// debit once (the simulator delivers every event twice), and the simulators refuse a refund past
/// what is left, as the providers do.
#[tokio::test]
async fn sim_refunds_and_disputes_are_debited_once_each() {
    let e = env("e2e-s09").await;
    let sim = ProvidersSim::spawn(Default::default()).await.expect("sim");
    let sk = "sk_test_e2e_s09";
    stripe_ready(&e, &sim, sk, Some(WHSEC)).await;
    let psk = "sk_test_e2e_s09_paystack";
    sim.paystack_account(PaystackAccount { secret_key: psk.into(), webhook_url: Some(e.hook("paystack")) });
    put_settings(&e, json!({"paystack": {"environment": sim.base_url(), "secret_key": psk}})).await;
    e.plan("home", 1000).await;
    let s = e.subscriber("home", "SIM9", "0711000309").await;
    let id = s["id"].as_str().unwrap().to_owned();
    let balance = |v: Value| v["balance_cents"].as_i64().unwrap();

    let started = checkout(&e, "SIM9", "stripe", 1000).await;
    let session = sim.stripe_sessions()[0].id.clone();
    sim.pay_stripe(&session).await.expect("paid");
    sim.wait_deliveries("/stripe", 2, Duration::from_secs(15)).await;
    assert_eq!(checkout_status(&e, started["checkout_id"].as_str().unwrap()).await["status"], "paid");
    let paid = balance(e.subscriber_state(&id).await);
    let pi = sim.stripe_sessions()[0].payment_intent.clone().expect("payment intent");

    let http = no_redirects();
    let refund = |form: Vec<(&'static str, String)>| {
        http.post(format!("{}/v1/refunds", sim.base_url())).bearer_auth(sk).form(&form).send()
    };
    let r = refund(vec![
        ("payment_intent", pi.clone()),
        ("amount", "30000".into()),
        ("reason", "requested_by_customer".into()),
    ])
    .await
    .expect("refund");
    assert_eq!(r.status().as_u16(), 200);
    let too_much = refund(vec![("payment_intent", pi.clone()), ("amount", "80000".into())]).await.expect("refund");
    assert_eq!(too_much.status().as_u16(), 400, "past what is left");
    let bad_reason = refund(vec![("payment_intent", pi.clone()), ("reason", "because".into())]).await.expect("refund");
    assert_eq!(bad_reason.status().as_u16(), 400);
    let d = sim.wait_deliveries("/stripe", 4, Duration::from_secs(15)).await;
    assert!(d.iter().all(|x| x.ok()), "{d:?}");
    assert_eq!(balance(e.subscriber_state(&id).await), paid - 30_000);

    let dispute = sim.dispute_stripe(&session, "fraudulent").await.expect("dispute");
    assert_eq!(dispute["amount"], 70_000, "what was not refunded: {dispute}");
    assert!(sim.dispute_stripe(&session, "fraudulent").await.is_err(), "a charge is disputed once");
    let d = sim.wait_deliveries("/stripe", 6, Duration::from_secs(15)).await;
    let outcomes: Vec<Value> =
        d.iter().map(|x| serde_json::from_str::<Value>(&x.response).unwrap()["outcome"].clone()).collect();
    assert_eq!(outcomes.iter().filter(|o| **o == json!("applied")).count(), 3, "{outcomes:?}");
    assert_eq!(balance(e.subscriber_state(&id).await), paid - 100_000);

    // Paystack: a refund of the whole transaction through POST /refund
    let b = checkout(&e, "SIM9", "paystack", 500).await;
    let reference = sim.paystack_transactions()[0].reference.clone();
    sim.pay_paystack(&reference, "card").await.expect("paid");
    sim.wait_deliveries("/paystack", 2, Duration::from_secs(15)).await;
    assert_eq!(checkout_status(&e, b["checkout_id"].as_str().unwrap()).await["status"], "paid");
    let before = balance(e.subscriber_state(&id).await);
    let pr = |body: Value| http.post(format!("{}/refund", sim.base_url())).bearer_auth(psk).json(&body).send();
    let r = pr(json!({"transaction": reference, "merchant_note": "double payment"})).await.expect("refund");
    assert_eq!(r.status().as_u16(), 200);
    let again = pr(json!({"transaction": reference})).await.expect("refund");
    assert_eq!(again.status().as_u16(), 400, "fully refunded already");
    let d = sim.wait_deliveries("/paystack", 4, Duration::from_secs(15)).await;
    assert!(d.iter().all(|x| x.ok()), "{d:?}");
    assert_eq!(balance(e.subscriber_state(&id).await), before - 50_000);
    let reversals = e.get("/reversals").await;
    assert_eq!(reversals.as_array().unwrap().len(), 3, "{reversals}");
}

//! The dashboard's summary tables end to end (issue 14 point 7): built by the scheduled pass,
//! kept by the crediting batch of a payment that buys periods, read by the dashboard. On the
//! Worker (workerd + D1) this is where their SQL (recursive CTE, window functions, upserts) runs
//! on D1. Realm e2e-c30.

use konnekted::console_client::operator_sign_in;
use konnekted_e2e::{c2b_body, env, pages_client};

#[tokio::test]
async fn payments_keep_the_dashboard_summaries_and_the_dashboard_reads_them() {
    let e = env("e2e-c30").await;
    e.plan("home", 50).await;
    let s = e.subscriber("home", "ACC1", "0711000001").await;
    e.subscriber("home", "ACC2", "0711000002").await;
    // the pass builds the (empty) summaries; from then on every crediting batch keeps them
    e.fire_scheduled().await;

    // KES 100 buys two 30-day periods: the batch writes them and the summaries together
    let (code, v) = e.callback("c2b/confirm", c2b_body("RKD3000001", "100.00", "ACC1", "254711000001")).await;
    assert_eq!(code, 200, "{v}");
    let id = s["id"].as_str().expect("id");
    let st = e.subscriber_state(id).await;
    assert_eq!(st["status"], "active", "{st}");
    assert_eq!(st["balance_cents"], 0, "both periods bought: {st}");
    let (code, v) = e.callback("c2b/confirm", c2b_body("RKD3000002", "50.00", "ACC2", "254711000002")).await;
    assert_eq!(code, 200, "{v}");

    e.add_user("owner@c30", "owner").await;
    let http = pages_client();
    let r = operator_sign_in(&http, &e.base, &e.realm, "owner@c30", "pass-for-tests").await.expect("sign in");
    let session = r.cookie().expect("signed in");

    // twice: the first view keeps the back-test months, the second reads them back
    for _ in 0..2 {
        let r = http
            .get(e.url(&format!("/c/{}/dashboard", e.realm)))
            .header("cookie", &session)
            .send()
            .await
            .expect("dashboard");
        assert_eq!(r.status(), 200);
        let html = r.text().await.expect("body");
        assert!(html.contains("2 paying subscribers"), "{}", &html[..html.len().min(3000)]);
        assert!(html.contains("KES 100"), "MRR of two KES 50 monthly plans");
    }
}

//! The subscriber's side: the SMS outbox development sink, end to end over HTTP.
//! Realms e2e-p01 and e2e-p02 (each test owns its realms; see billing.rs).

use konnekted_e2e::env;
use serde_json::Value;

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

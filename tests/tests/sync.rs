//! The reconciler's signed sync API.

use konnekted_e2e::{Env, c2b_body, env};
use konnekted_edge_client::EdgeClient;
use konnekted_sync_proto::{
    self as proto, FeedKind, HEADER_SIGNATURE, HEADER_TIMESTAMP, Outcome, SubscriberStatus, sign,
};
use serde_json::Value;

async fn signed(e: &Env, key: &str, method: &str, pq: &str, body: &[u8], ts: i64) -> (u16, Value) {
    let sig = sign(key.as_bytes(), method, pq, ts, body);
    let r = e
        .http
        .request(method.parse().unwrap(), e.url(pq))
        .header(HEADER_TIMESTAMP, ts.to_string())
        .header(HEADER_SIGNATURE, sig)
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

#[tokio::test]
async fn sync_desired_signed_request_returns_network_state() {
    let e = env("e2e-t16").await;
    let key = e.sync_key.clone();
    e.plan("home", 500).await;
    let s = e.subscriber("home", "ACC16", "0711000016").await;
    e.callback("c2b/confirm", c2b_body("RKL0000161", "500", "ACC16", "254711000016")).await;
    let pq = format!("/sync/{}/desired", e.realm);
    let (code, v) = signed(&e, &key, "GET", &pq, b"", now()).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["plans"][0]["rate_limit"], "2M/10M");
    let sub = &v["subscribers"][0];
    assert_eq!(sub["id"], s["id"]);
    assert_eq!(sub["status"], "active");
    assert_eq!(sub["plan"], "home");
    assert!(sub["password"].as_str().is_some_and(|p| !p.is_empty()));
    assert!(v["cursor"].as_i64().unwrap() >= 2);

    let pq = format!("/sync/{}/feed?after=0&limit=1", e.realm);
    let (code, v) = signed(&e, &key, "GET", &pq, b"", now()).await;
    assert_eq!(code, 200);
    assert_eq!(v["changes"].as_array().unwrap().len(), 1);
    assert_eq!(v["cursor"], v["changes"][0]["seq"]);

    let body = br#"{"router":"tower-1","outcome":"ok","drift_found":2,"drift_fixed":2}"#;
    let (code, _) = signed(&e, &key, "POST", &format!("/sync/{}/reports", e.realm), body, now()).await;
    assert_eq!(code, 202);
    let body = br#"{"router":"tower-2","outcome":"refused","drift_found":9,"drift_fixed":0,"details":{"refusal":"would disable 9 of 10"}}"#;
    let (code, _) = signed(&e, &key, "POST", &format!("/sync/{}/reports", e.realm), body, now()).await;
    assert_eq!(code, 202);

    // The operator reads them back: newest first, filtered by router or outcome.
    let all = e.get("/reports").await;
    assert_eq!(all.as_array().unwrap().len(), 2, "{all}");
    assert_eq!(all[0]["router"], "tower-2");
    let refused = e.get("/reports?outcome=refused").await;
    assert_eq!(refused.as_array().unwrap().len(), 1);
    assert_eq!(refused[0]["report"]["details"]["refusal"], "would disable 9 of 10", "{refused}");
    assert_eq!(e.get("/reports?router=tower-1").await[0]["drift_fixed"], 2);
}

#[tokio::test]
async fn sync_wrong_stale_or_foreign_signature_is_401() {
    let e = env("e2e-t17").await;
    let key = e.sync_key.clone();
    let pq = format!("/sync/{}/desired", e.realm);
    assert_eq!(signed(&e, "not-the-key", "GET", &pq, b"", now()).await.0, 401);
    assert_eq!(signed(&e, &key, "GET", &pq, b"", now() - 301).await.0, 401);
    assert_eq!(signed(&e, &key, "GET", &pq, b"", now() + 301).await.0, 401);
    // A signature for another path (or tenant) does not transfer.
    let sig = sign(key.as_bytes(), "GET", "/sync/other/desired", now(), b"");
    let r = e
        .http
        .get(e.url(&pq))
        .header(HEADER_TIMESTAMP, now().to_string())
        .header(HEADER_SIGNATURE, sig)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(e.http.get(e.url(&pq)).send().await.unwrap().status().as_u16(), 401);
    assert_eq!(signed(&e, &key, "GET", &pq, b"", now()).await.0, 200);
}

#[tokio::test]
async fn sync_usage_report_shows_in_admin_usage_and_online() {
    let e = env("e2e-t18").await;
    e.plan("home", 500).await;
    let s = e.subscriber("home", "ACC18", "0711000018").await;
    let username = s["username"].as_str().unwrap().to_owned();
    let body = serde_json::json!({
        "days": [
            {"username": format!("{username}@{}", e.realm), "day": "2026-11-26", "input_octets": 100, "output_octets": 2000, "online_seconds": 60, "sessions": 1},
            {"username": username, "day": "2026-11-27", "input_octets": 5, "output_octets": 50, "online_seconds": 30, "sessions": 2}
        ],
        "online": [{"nas_ip": "10.0.0.1", "session_id": "81000001", "username": username, "framed_ip": "10.20.0.5", "input_octets": 5, "output_octets": 50}]
    })
    .to_string();
    let pq = format!("/sync/{}/usage", e.realm);
    assert_eq!(signed(&e, &e.sync_key, "POST", &pq, body.as_bytes(), now()).await.0, 202);
    // Re-sending the same totals replaces them; it does not double them.
    assert_eq!(signed(&e, &e.sync_key, "POST", &pq, body.as_bytes(), now()).await.0, 202);
    let id = s["id"].as_str().unwrap();
    let usage = e.get(&format!("/usage?subscriber={id}")).await;
    let usage = usage.as_array().unwrap();
    assert_eq!(usage.len(), 2);
    assert_eq!(usage[1]["output_octets"], 2000);
    let online = e.get("/online").await;
    assert_eq!(online[0]["account_no"], "ACC18");
    assert_eq!(online[0]["framed_ip"], "10.20.0.5");
    let empty = serde_json::json!({"online": []}).to_string();
    assert_eq!(signed(&e, &e.sync_key, "POST", &pq, empty.as_bytes(), now()).await.0, 202);
    assert_eq!(e.get("/online").await.as_array().unwrap().len(), 0);
}

/// The producer's output for a seeded tenant reads into the consumers' types: the one client
/// the reconciler and the RADIUS agent use, typed with the contract crate.
#[tokio::test]
async fn sync_seeded_tenant_reads_into_contract_types() {
    let e = env("e2e-t30").await;
    e.plan("home", 500).await;
    let s = e.subscriber("home", "ACC19", "0711000019").await;
    e.callback("c2b/confirm", c2b_body("RKL0000191", "500", "ACC19", "254711000019")).await;
    let edge =
        EdgeClient::new(&e.base, &e.realm, e.sync_key.as_bytes(), std::time::Duration::from_secs(10)).expect("client");

    let d = edge.desired().await.expect("desired reads as DesiredState");
    assert_eq!(d.realm, e.realm);
    assert!(d.cursor >= 2, "{d:?}");
    let plan = d.plans.iter().find(|p| p.code == "home").expect("plan");
    assert_eq!((plan.kind.as_str(), plan.rate_limit.as_str()), ("pppoe", "2M/10M"));
    assert!(plan.down_kbps > 0 && plan.up_kbps > 0);
    let sub = d.subscribers.iter().find(|x| x.id == s["id"].as_str().unwrap()).expect("subscriber");
    assert_eq!((sub.status, sub.plan.as_str()), (SubscriberStatus::Active, "home"));
    assert!(!sub.password.is_empty());

    let page = edge.feed(0, 500).await.expect("feed reads as FeedPage");
    assert_eq!(page.cursor, d.cursor);
    assert!(page.changes.iter().all(|c| c.kind != FeedKind::Unknown), "{page:?}");
    assert!(page.changes.iter().any(|c| c.kind == FeedKind::SubscriptionActivated), "{page:?}");
    // The feed rows rebuild the subscriber the desired state shows (password kept from the cache).
    let mut rebuilt = sub.clone();
    for c in page.changes.iter().filter(|c| c.subscriber_id.as_deref() == Some(sub.id.as_str())) {
        rebuilt = c.merge_subscriber(Some(&rebuilt)).unwrap_or(rebuilt);
    }
    assert_eq!(rebuilt.status, SubscriberStatus::Active);

    let report = proto::Report {
        router: "tower-1".into(),
        started_at: Some("2026-12-03T17:00:00Z".into()),
        finished_at: Some("2026-12-03T17:00:01Z".into()),
        outcome: Outcome::Refused,
        drift_found: 3,
        drift_fixed: 0,
        errors: vec!["would disable 80%".into()],
        details: serde_json::json!({"kind": "full"}),
        held: None,
    };
    edge.report(&report).await.expect("report accepted");
    let usage = proto::UsageReport {
        days: vec![proto::DailyUsage {
            username: sub.username.clone(),
            day: "2026-12-02".into(),
            input_octets: 10,
            output_octets: 20,
            online_seconds: 30,
            sessions: 1,
        }],
        online: Some(vec![proto::OnlineSession {
            nas_ip: "10.0.0.1".into(),
            session_id: "81000019".into(),
            username: sub.username.clone(),
            framed_ip: Some("10.20.0.19".into()),
            started_at: Some(proto::SessionStart::Unix(1_764_720_000)),
            input_octets: 1,
            output_octets: 2,
        }]),
    };
    edge.push_usage(&usage).await.expect("usage accepted");
    let online = e.get("/online").await;
    assert_eq!(
        (online[0]["account_no"].as_str(), online[0]["started_at"].as_str()),
        (Some("ACC19"), Some("1764720000"))
    );
}

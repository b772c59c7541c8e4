//! Hotspot voucher batches and the public, stateless code check, end to end over HTTP.
//! Realms e2e-t20 and e2e-t21 (each test owns its realms; see billing.rs).

use konnekted_e2e::env;
use serde_json::{Value, json};

async fn hotspot_plan(e: &konnekted_e2e::Env, code: &str) {
    let (s, v) = e
        .post(
            "/plans",
            json!({"code": code, "name": code, "kind": "hotspot", "price_cents": 1000, "period_seconds": 3600,
                   "down_kbps": 2000, "up_kbps": 1000}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
}

/// `GET /api/v/{realm}/vouchers/{code}` without credentials: (status, body).
async fn check(e: &konnekted_e2e::Env, realm: &str, code: &str) -> (u16, Value) {
    let url = format!("{}/api/v/{realm}/vouchers/{code}", e.base);
    let r = e.http.get(url).send().await.expect("voucher check");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_batch_prints_codes_that_check_for_their_tenant_only() {
    let e = env("e2e-t20").await;
    let other = env("e2e-t21").await;
    hotspot_plan(&e, "1hour").await;
    e.plan("home", 1500).await;

    let (s, v) = e.post("/voucher-batches", json!({"plan": "home", "count": 10})).await;
    assert_eq!(s, 400, "a PPPoE plan cannot be sold by voucher: {v}");
    let (s, v) = e.post("/voucher-batches", json!({"plan": "1hour", "count": 0})).await;
    assert_eq!(s, 400, "{v}");
    let (s, v) = e.post("/voucher-batches", json!({"plan": "nope", "count": 5})).await;
    assert_eq!(s, 404, "{v}");

    let (s, v) =
        e.post("/voucher-batches", json!({"plan": "1hour", "count": 50, "note": "kiosk", "valid_days": 7})).await;
    assert_eq!(s, 201, "{v}");
    let batch = v["batch"]["id"].as_u64().expect("batch id");
    assert_eq!(v["batch"]["count"], 50);
    assert!(v["batch"]["valid_until"].as_str().is_some(), "{v}");
    let (s, v2) = e.post("/voucher-batches", json!({"plan": "1hour", "count": 5})).await;
    assert_eq!(s, 201, "{v2}");
    assert_eq!(v2["batch"]["id"].as_u64(), Some(batch + 1), "batch numbers are consecutive: {v2}");
    let listed = e.get("/voucher-batches").await;
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{listed}");

    let page = e.get(&format!("/voucher-batches/{batch}/codes?limit=20")).await;
    assert_eq!(page["next_offset"], 20, "{page}");
    let rest = e.get(&format!("/voucher-batches/{batch}/codes?offset=20&limit=100")).await;
    assert_eq!(rest["next_offset"], Value::Null, "{rest}");
    let codes: Vec<(u64, String)> = page["codes"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest["codes"].as_array().unwrap())
        .map(|c| (c["serial"].as_u64().unwrap(), c["code"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(codes.len(), 50);
    let distinct: std::collections::HashSet<_> = codes.iter().map(|(_, c)| c.clone()).collect();
    assert_eq!(distinct.len(), 50, "codes are distinct");
    assert_eq!(codes.iter().map(|(s, _)| *s).collect::<Vec<_>>(), (0..50).collect::<Vec<_>>());

    // The same codes again: they are derived, not stored.
    let again = e.get(&format!("/voucher-batches/{batch}/codes?limit=20")).await;
    assert_eq!(again["codes"], page["codes"]);

    let r = e
        .http
        .get(e.admin(&format!("/voucher-batches/{batch}/codes?format=csv&limit=100")))
        .bearer_auth(&e.admin_token)
        .send()
        .await
        .unwrap();
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv = r.text().await.unwrap();
    assert_eq!(csv.lines().count(), 51, "{csv}");
    assert_eq!(csv.lines().nth(1), Some(format!("{batch},0,{}", codes[0].1).as_str()));

    let r = e.http.get(e.admin(&format!("/voucher-batches/{batch}/codes"))).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401, "codes need the tenant's admin token");
    let r = e
        .http
        .get(e.admin(&format!("/voucher-batches/{batch}/codes")))
        .bearer_auth(&other.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401, "another tenant's admin token is refused");

    for (serial, code) in [&codes[0], &codes[17], &codes[49]] {
        let (s, v) = check(&e, &e.realm, code).await;
        assert_eq!(s, 200, "{code}: {v}");
        assert_eq!((v["batch"].as_u64(), v["serial"].as_u64()), (Some(batch), Some(*serial)), "{v}");
        assert_eq!(v["code"], code.as_str());
        // As typed on a phone: lower case, no dashes.
        let typed = code.replace('-', "").to_lowercase();
        let (s, v) = check(&e, &e.realm, &typed).await;
        assert_eq!(s, 200, "{typed}: {v}");
        // Another ISP's realm does not accept it.
        let (s, v) = check(&e, &other.realm, code).await;
        assert_eq!(s, 404, "{v}");
    }

    let mut wrong = codes[3].1.clone().into_bytes();
    wrong[0] = if wrong[0] == b'A' { b'B' } else { b'A' };
    let (s, v) = check(&e, &e.realm, &String::from_utf8(wrong).unwrap()).await;
    assert_eq!(s, 404, "a mistyped code is not a voucher: {v}");
    let (s, v) = check(&e, &e.realm, "ABC").await;
    assert_eq!(s, 400, "{v}");
    assert!(v["error"].as_str().unwrap().contains("12 letters"), "{v}");
}

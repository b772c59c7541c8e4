//! Hotspot voucher batches and the public, stateless code check, end to end over HTTP.
//! Realms e2e-t20, e2e-t21, e2e-t32 and e2e-t33 (each test owns its realms; see billing.rs).

use konnekted_e2e::env;
use serde_json::{Value, json};

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
    e.hotspot_plan("1hour", "1hour", 10, 3600).await;
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

/// `POST /radius/voucher` as FreeRADIUS's rest module sends it: (status, body).
async fn radius_lookup(e: &konnekted_e2e::Env, key: Option<&str>, form: &[(&str, &str)]) -> (u16, Value) {
    let mut req = e.http.post(e.url("/radius/voucher")).form(form);
    if let Some(k) = key {
        req = req.header(konnekted_sync_proto::HEADER_VOUCHER_KEY, k);
    }
    let r = req.send().await.expect("lookup");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn radius_voucher_lookup_redeems_with_the_tenants_key_and_answers_rest_attributes() {
    let e = env("e2e-t32").await;
    e.hotspot_plan("hour", "hour", 10, 3600).await;
    let (s, v) = e
        .post(
            "/plans",
            json!({"code": "gig", "name": "5 GB", "kind": "hotspot", "price_cents": 5000, "period_seconds": 86400,
                   "down_kbps": 4000, "up_kbps": 2000, "data_cap_bytes": 5_368_709_120i64}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let mut codes = Vec::new();
    for plan in ["hour", "gig"] {
        let (s, v) = e.post("/voucher-batches", json!({"plan": plan, "count": 2})).await;
        assert_eq!(s, 201, "{v}");
        let id = v["batch"]["id"].as_u64().expect("id");
        let list = e.get(&format!("/voucher-batches/{id}/codes")).await;
        codes.push(list["codes"][0]["code"].as_str().expect("code").to_owned());
    }
    let key = konnekted_sync_proto::radius_voucher_key(e.sync_key.as_bytes());
    let code = codes[0].replace('-', "");
    let form = |code: &str, mac: &str| -> Vec<(&'static str, String)> {
        vec![
            ("realm", "e2e-t32".into()),
            ("code", code.to_owned()),
            ("mac", mac.to_owned()),
            ("ip", "10.5.50.20".into()),
            ("nas", "10.0.0.1".into()),
        ]
    };
    let as_refs = |f: &[(&'static str, String)]| f.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>();
    let send = |key: Option<String>, f: Vec<(&'static str, String)>| {
        let e = &e;
        async move {
            let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            radius_lookup(e, key.as_deref(), &pairs).await
        }
    };

    // No key, a wrong key, another tenant's realm: never an accept, and nothing recorded.
    let mac = "00:11:22:33:44:01";
    assert_eq!(send(None, as_refs(&form(&code, mac))).await.0, 403);
    assert_eq!(send(Some("0".repeat(64)), as_refs(&form(&code, mac))).await.0, 403);
    let mut elsewhere = form(&code, mac);
    elsewhere[0].1 = "no-such-isp".into();
    assert_eq!(send(Some(key.clone()), elsewhere).await.0, 404);
    let report = e.get("/voucher-report").await;
    assert!(report["batches"].as_array().expect("batches").iter().all(|b| b["redeemed"] == 0), "{report}");

    // The right key: the first use is recorded and the answer carries the code's terms.
    let (s, a) = send(Some(key.clone()), as_refs(&form(&code, mac))).await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["control:Cleartext-Password"], code.as_str());
    assert_eq!(a["reply:Session-Timeout"], 3600);
    assert_eq!(a["reply:Mikrotik-Rate-Limit"], "1M/2M");
    assert_eq!(a["reply:Idle-Timeout"], 300, "the tenant's default hotspot idle timeout");
    assert!(a.get("reply:Mikrotik-Total-Limit").is_none(), "no cap on a time plan");
    // However the router spells the username, the password it must match is that spelling.
    let (s, a) = send(Some(key.clone()), as_refs(&form(&codes[0].to_lowercase(), mac))).await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["control:Cleartext-Password"], codes[0].to_lowercase().as_str());

    // A capped plan: the bytes left, split into gigawords.
    let (s, a) = send(Some(key.clone()), as_refs(&form(&codes[1], mac))).await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(
        (a["reply:Mikrotik-Total-Limit-Gigawords"].as_i64(), a["reply:Mikrotik-Total-Limit"].as_i64()),
        (Some(1), Some(1_073_741_824))
    );

    // Refusals are Access-Reject material with words: forged, no device.
    let mut forged = code.clone().into_bytes();
    forged[0] = if forged[0] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).expect("ascii");
    let (s, a) = send(Some(key.clone()), as_refs(&form(&forged, mac))).await;
    assert_eq!(s, 401, "{a}");
    assert!(a["reply:Reply-Message"].as_str().is_some_and(|m| m.contains("no such voucher")), "{a}");
    let (s, a) = send(Some(key.clone()), as_refs(&form(&code, ""))).await;
    assert_eq!(s, 401, "{a}");
    assert!(a["reply:Reply-Message"].as_str().is_some_and(|m| m.contains("mac")), "{a}");

    let report = e.get("/voucher-report").await;
    let redeemed: i64 =
        report["batches"].as_array().expect("batches").iter().filter_map(|b| b["redeemed"].as_i64()).sum();
    assert_eq!(redeemed, 2, "{report}");
}

/// One code, two devices, at the same moment, through what FreeRADIUS calls: exactly one wins
/// (the redemption is recorded once and binds one device; the other is refused), on every
/// platform this suite runs on (the native host, and the Worker on D1 under wrangler dev).
#[tokio::test]
async fn a_code_raced_by_two_devices_at_once_is_won_by_exactly_one() {
    let e = env("e2e-t33").await;
    e.hotspot_plan("hour", "hour", 10, 3600).await;
    // Refuse a second device (the default moves the binding of a device that is offline, and a
    // device that has only just been accepted has no session yet).
    e.put_settings(json!({"voucher_binding": "refuse"})).await;
    let n = 12;
    let (s, v) = e.post("/voucher-batches", json!({"plan": "hour", "count": n})).await;
    assert_eq!(s, 201, "{v}");
    let id = v["batch"]["id"].as_u64().expect("id");
    let list = e.get(&format!("/voucher-batches/{id}/codes")).await;
    let codes: Vec<String> = list["codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c["code"].as_str().expect("code").replace('-', ""))
        .collect();
    assert_eq!(codes.len(), n);
    let key = konnekted_sync_proto::radius_voucher_key(e.sync_key.as_bytes());
    let attempt = |code: String, mac: &'static str| {
        let (e, key) = (&e, key.clone());
        async move {
            let form =
                [("realm", "e2e-t33"), ("code", code.as_str()), ("mac", mac), ("ip", "10.5.50.9"), ("nas", "10.0.0.1")];
            radius_lookup(e, Some(&key), &form).await
        }
    };
    // Every code raced by two devices, all codes at once.
    let races = futures::future::join_all(codes.iter().map(|c| async {
        futures::future::join(attempt(c.clone(), "02:00:00:00:00:01"), attempt(c.clone(), "02:00:00:00:00:02")).await
    }))
    .await;
    for (code, ((s1, a1), (s2, a2))) in codes.iter().zip(&races) {
        let won = [*s1, *s2].iter().filter(|s| **s == 200).count();
        assert_eq!(won, 1, "{code}: {s1} {a1} / {s2} {a2}");
        let (winner, loser) = if *s1 == 200 { (a1, a2) } else { (a2, a1) };
        assert_eq!(winner["control:Cleartext-Password"], code.as_str(), "{winner}");
        assert!(loser.get("control:Cleartext-Password").is_none(), "the loser gets no password: {loser}");
    }
    // Each winner logs in again from its own device; the loser still cannot.
    for (code, ((s1, _), _)) in codes.iter().zip(&races) {
        let (winner, loser) = if *s1 == 200 {
            ("02:00:00:00:00:01", "02:00:00:00:00:02")
        } else {
            ("02:00:00:00:00:02", "02:00:00:00:00:01")
        };
        assert_eq!(attempt(code.clone(), winner).await.0, 200, "{code}");
        assert_ne!(attempt(code.clone(), loser).await.0, 200, "{code}");
    }
    let report = e.get("/voucher-report").await;
    let redeemed: i64 =
        report["batches"].as_array().expect("batches").iter().filter_map(|b| b["redeemed"].as_i64()).sum();
    assert_eq!(redeemed, n as i64, "{report}");
}

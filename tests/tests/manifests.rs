//! The Spin manifest routes every public path of the core to a component, and each component
//! gets only what it needs (least privilege). Spin itself cannot run here, so this is where a
//! route missing from spin.toml is caught.

use std::collections::BTreeSet;

fn spin() -> toml::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../spin.toml");
    toml::from_str(&std::fs::read_to_string(path).expect("spin.toml")).expect("spin.toml parses")
}

/// Spin's route syntax: exact, `:name` for one segment, a trailing `/...` for any rest.
fn route_matches(route: &str, path: &str) -> bool {
    let (route, rest) = match route.strip_suffix("/...") {
        Some(r) => (r, true),
        None => (route, false),
    };
    let want: Vec<&str> = route.split('/').collect();
    let got: Vec<&str> = path.split('/').collect();
    if got.len() < want.len() || (!rest && got.len() != want.len()) {
        return false;
    }
    want.iter().zip(&got).all(|(w, g)| w.starts_with(':') || w == g)
}

/// The component Spin picks: the most specific matching route (exact before wildcard, longer first).
fn component_for(m: &toml::Value, path: &str) -> Option<String> {
    let triggers = m["trigger"]["http"].as_array().expect("[[trigger.http]]");
    triggers
        .iter()
        .filter(|t| route_matches(t["route"].as_str().unwrap(), path))
        .max_by_key(|t| {
            let r = t["route"].as_str().unwrap();
            (!r.ends_with("/..."), r.len())
        })
        .map(|t| t["component"].as_str().unwrap().to_owned())
}

fn component<'a>(m: &'a toml::Value, name: &str) -> &'a toml::Value {
    m["component"].get(name).unwrap_or_else(|| panic!("component {name} is missing"))
}

fn list(v: Option<&toml::Value>) -> Vec<String> {
    v.and_then(|v| v.as_array()).map(|a| a.iter().map(|x| x.as_str().unwrap().to_owned()).collect()).unwrap_or_default()
}

#[test]
fn every_public_path_reaches_the_right_component() {
    let m = spin();
    for (path, want) in [
        ("/health", "portal"),
        ("/api/p/acme/topup", "portal"),
        ("/api/v/acme/vouchers/ABCD-EFGH-JKMN", "vouchers"),
        ("/hooks/acme/tok/stk", "payments"),
        ("/hooks/acme/tok/c2b/confirm", "payments"),
        ("/api/t/acme/subscribers/s1/stk-push", "payments"),
        ("/api/t/acme/daraja/register-c2b", "payments"),
        ("/api/t/acme/sweep", "payments"),
        ("/internal/scheduled", "payments"),
        ("/sync/acme/desired", "sync"),
        ("/sync/acme/feed", "sync"),
        ("/sync/acme/reports", "sync"),
        ("/sync/acme/usage", "sync"),
        ("/radius/voucher", "sync"),
        ("/api/tenants", "admin"),
        ("/api/t/acme/plans", "admin"),
        ("/api/t/acme/voucher-batches/1/codes", "admin"),
        // The pages people open (run.sh --spin prints them): home, captive portal, subscriber
        // portal on `portal`; the operator and platform consoles on `admin`.
        ("/", "portal"),
        ("/h/acme", "portal"),
        ("/h/acme/voucher", "portal"),
        ("/p/acme", "portal"),
        ("/p/acme/pay", "portal"),
        ("/c/acme/login", "admin"),
        ("/platform", "admin"),
        ("/platform/tenants", "admin"),
    ] {
        assert_eq!(component_for(&m, path).as_deref(), Some(want), "{path}");
    }
    let triggers = m["trigger"]["http"].as_array().unwrap();
    for t in triggers {
        component(&m, t["component"].as_str().unwrap());
    }
}

#[test]
fn components_get_least_privilege() {
    let m = spin();
    let vouchers = component(&m, "vouchers");
    assert!(list(vouchers.get("sqlite_databases")).is_empty(), "the voucher check needs no database");
    assert!(list(vouchers.get("allowed_outbound_hosts")).is_empty());
    // Card checkouts start at the portal's routes; Paystack webhooks verify from the payments component.
    let hosts = |name: &str| list(component(&m, name).get("allowed_outbound_hosts"));
    assert!(hosts("portal").contains(&"https://api.stripe.com".to_owned()), "{:?}", hosts("portal"));
    assert!(hosts("portal").contains(&"https://api.paystack.co".to_owned()));
    assert!(hosts("payments").contains(&"https://api.paystack.co".to_owned()));
    assert!(!hosts("payments").contains(&"https://api.stripe.com".to_owned()), "a Stripe webhook calls nobody");
    for name in ["admin", "sync", "vouchers"] {
        assert!(list(component(&m, name).get("allowed_outbound_hosts")).is_empty(), "{name} calls nobody");
    }
    // Every component with databases has the same labels, so adding a tenant reaches all of them.
    let labels: BTreeSet<Vec<String>> = m["component"]
        .as_table()
        .unwrap()
        .values()
        .map(|c| list(c.get("sqlite_databases")))
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(labels.len(), 1, "components disagree on database labels: {labels:?}");
    assert!(labels.iter().next().unwrap().contains(&"control".to_owned()));
}

/// Spin has no cron: the periodic pass is `POST /internal/scheduled`, and it calls Daraja (the STK
/// sweep) and Africa's Talking (draining the SMS outbox: receipts, reminders, codes). Spin refuses
/// an outbound host the component was not granted, so the component serving that route needs them.
#[test]
fn the_scheduled_component_may_reach_daraja_and_africas_talking() {
    let m = spin();
    let name = component_for(&m, "/internal/scheduled").expect("a component serves /internal/scheduled");
    let hosts = list(component(&m, &name).get("allowed_outbound_hosts"));
    for host in [
        "https://sandbox.safaricom.co.ke",
        "https://api.safaricom.co.ke",
        "https://api.sandbox.africastalking.com",
        "https://api.africastalking.com",
    ] {
        assert!(hosts.contains(&host.to_owned()), "{name} cannot reach {host}: {hosts:?}");
    }
}

#[test]
fn route_matching_follows_spin_syntax() {
    assert!(route_matches("/api/t/...", "/api/t/acme/plans"));
    assert!(route_matches("/api/t/:realm/sweep", "/api/t/acme/sweep"));
    assert!(!route_matches("/api/t/:realm/sweep", "/api/t/acme/sweep/x"));
    assert!(!route_matches("/health", "/healthz"));
    assert!(!route_matches("/sync/...", "/api/sync/x"));
}

/// The suites `scripts/edge-e2e.sh` runs against the Worker: its default list `suites=(...)`.
fn worker_suites() -> Vec<String> {
    let script =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/edge-e2e.sh")).expect("edge-e2e.sh");
    let i = script.find("suites=(billing").expect("the default suites=(...) of edge-e2e.sh") + "suites=(".len();
    let list = &script[i..i + script[i..].find(')').expect("closing parenthesis")];
    list.split_whitespace().map(str::to_owned).collect()
}

/// Every test's realm is its own (the shared Worker deployment keeps tenants between tests, so
/// two tests on one realm collide there), and each realm of the suites that run on the Worker
/// (`scripts/edge-e2e.sh`) has its database in all three manifests: the D1 binding in
/// wrangler.toml, the SQLite label on every database component of spin.toml, and where Spin keeps
/// that label in functions/spin/runtime-config.toml.
#[test]
fn each_e2e_test_has_its_own_realm_and_the_worker_suites_have_their_databases() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests");
    let wrangler = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../wrangler.toml")).expect("wrangler");
    let runtime =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../functions/spin/runtime-config.toml"))
            .expect("runtime-config.toml");
    let spin = spin();
    let spin_labels = list(component(&spin, "admin").get("sqlite_databases"));
    let suites = worker_suites();
    for s in ["billing", "money", "sync", "vouchers"] {
        assert!(suites.iter().any(|x| x == s), "edge-e2e.sh no longer runs {s}? found {suites:?}");
    }
    let mut seen = std::collections::BTreeMap::<String, String>::new();
    for entry in std::fs::read_dir(dir).expect("tests dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|x| x != "rs") {
            continue;
        }
        let suite = path.file_stem().expect("stem").to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).expect("read");
        for start in ["env(\"", "env_with(\""] {
            for (i, _) in text.match_indices(start) {
                let rest = &text[i + start.len()..];
                let realm = &rest[..rest.find('"').expect("closing quote")];
                if let Some(other) = seen.insert(realm.to_owned(), suite.clone()) {
                    panic!("realm {realm} is used by two tests ({other} and {suite})");
                }
                if suites.contains(&suite) {
                    let key = realm.replace(['-', '.'], "_");
                    let binding = format!("binding = \"T_{}\"", key.to_uppercase());
                    assert!(wrangler.contains(&binding), "{suite}: realm {realm} has no D1 database ({binding})");
                    let label = format!("t_{key}");
                    assert!(spin_labels.contains(&label), "{suite}: realm {realm} has no Spin SQLite label {label}");
                    let section = format!("[sqlite_database.{label}]");
                    assert!(runtime.contains(&section), "{suite}: runtime-config.toml has no {section}");
                }
            }
        }
    }
    assert!(seen.len() > 20, "found only {} realms", seen.len());
}

//! The repository's own spin.toml and runtime config, as this host reads them: every route
//! reaches the component the manifest names (by Spin's precedence), and each component has only
//! its grants (least privilege).

use konnekted_spin_host::config::RuntimeConfig;
use konnekted_spin_host::manifest::Manifest;
use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn manifest() -> Manifest {
    Manifest::load(&repo().join("spin.toml")).unwrap()
}

fn component_for(m: &Manifest, path: &str) -> String {
    m.route(path).map(|(t, _)| t.component.clone()).unwrap_or_else(|| "<404>".into())
}

#[test]
fn each_route_reaches_its_component() {
    let m = manifest();
    for (path, want) in [
        ("/health", "portal"),
        ("/api/p/acme/plans", "portal"),
        ("/api/v/check", "vouchers"),
        ("/hooks/daraja/acme/c2b", "payments"),
        ("/api/t/acme/subscribers/42/stk-push", "payments"),
        ("/api/t/acme/daraja/register-c2b", "payments"),
        ("/api/t/acme/sweep", "payments"),
        ("/internal/scheduled", "payments"),
        ("/sync/v1/acme/changes", "sync"),
        ("/radius/voucher", "sync"),
        ("/api/tenants", "admin"),
        ("/api/t/acme/subscribers", "admin"),
        ("/api/t/acme/subscribers/42", "admin"),
        ("/c/acme/sms", "admin"),
        ("/__selftest/batch", "admin"),
        ("/__selftest/contract", "admin"),
        ("/", "portal"),
        ("/h/acme", "portal"),
        ("/h/acme/voucher", "portal"),
        ("/p/acme", "portal"),
        ("/p/acme/pay", "portal"),
        ("/platform", "admin"),
        ("/platform/tenants", "admin"),
        ("/nowhere", "<404>"),
        ("/hx", "<404>"),
    ] {
        assert_eq!(component_for(&m, path), want, "{path}");
    }
    // Every route in the manifest is reachable: none is shadowed by a more specific one.
    for t in &m.triggers {
        let probe = t.route.as_str().replace("/...", "/x").replace(":realm", "acme").replace(":id", "1");
        assert_eq!(component_for(&m, &probe), t.component, "{}", t.route.as_str());
    }
}

#[test]
fn least_privilege() {
    let m = manifest();
    let daraja = [
        "https://api.safaricom.co.ke/oauth/v1/generate",
        "https://sandbox.safaricom.co.ke/mpesa/stkpush/v1/processrequest",
    ];
    for id in ["admin", "sync", "vouchers"] {
        let c = &m.components[id];
        for u in daraja {
            assert!(!c.allowed_outbound_hosts.allows_uri(&u.parse().unwrap()), "{id} must not reach {u}");
        }
        assert!(c.allowed_outbound_hosts.is_empty(), "{id} has no outbound host at all");
    }
    for id in ["portal", "payments"] {
        for u in daraja {
            assert!(m.components[id].allowed_outbound_hosts.allows_uri(&u.parse().unwrap()), "{id} reaches {u}");
        }
    }
    assert!(m.components["vouchers"].sqlite_databases.is_empty(), "vouchers opens no database");
    assert_eq!(m.components["vouchers"].variables.keys().collect::<Vec<_>>(), ["voucher_secret"]);
    for id in ["portal", "payments", "admin", "sync"] {
        assert!(m.components[id].sqlite_databases.iter().any(|l| l == "control"), "{id}");
    }
    // The voucher lookup (FreeRADIUS) checks proofs with the voucher secret; sync needs no other.
    assert_eq!(m.components["sync"].variables.keys().collect::<Vec<_>>(), ["voucher_secret"]);
    // Subscriber sign-in keys derive from the voucher secret, and sign-in is the portal's.
    assert!(m.components["portal"].variables.contains_key("voucher_secret"));
}

#[test]
fn runtime_config_defines_every_label() {
    let m = manifest();
    let rc = RuntimeConfig::load(&repo().join("functions/spin/runtime-config.toml")).unwrap();
    rc.check(&m).unwrap();
}

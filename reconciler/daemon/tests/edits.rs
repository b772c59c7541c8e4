//! Every property an operator can write on every kind of managed object, edited on the
//! (strict) simulator as someone at the router would, is put back by one pass: the
//! item reads back exactly as the reconciler left it. No edge needed: the desired state
//! is synthetic and the pass is `bench::sync_pass` (read, plan, apply, read back).

use std::time::Duration;

use konnekted_reconciler::bench::{bench_router, bench_tenant, sync_pass, synthetic_state};
use konnekted_reconciler::config::{GardenConfig, QueueTypes, RadiusConfig, Secret};
use konnekted_reconciler::model::{Menu, build_desired};
use konnekted_reconciler::reconcile::ApplyLimiter;
use routeros_client::{Config as ClientConfig, Row};
use routeros_sim::{MENUS, SimConfig, Simulator};

/// A value the simulator accepts for `prop` of `path` that differs from `current`.
fn edit_value(path: &str, prop: &str, current: &str) -> String {
    let pick = |a: &str, b: &str| if current == a { b.to_owned() } else { a.to_owned() };
    match prop {
        "disabled" | "passthrough" | "log" | "accounting-backup" | "require-message-auth" => pick("true", "false"),
        "only-one" | "change-tcp-mss" | "use-encryption" | "use-compression" | "use-ipv6" | "use-mpls" | "use-upnp" => {
            pick("yes", "no")
        }
        "profile" => pick("default-encryption", "default"),
        "service" => pick("pptp", "pppoe"),
        "remote-address" | "local-address" | "address" | "src-address" | "dst-address" | "to-addresses" => {
            pick("10.99.0.1", "10.99.0.2")
        }
        "parent" => pick("ether1", "global"),
        "queue" => pick("default", "default-small"),
        "kind" => pick("sfq", "pcq"),
        "chain" => pick("input", "forward"),
        "action" => match path {
            "/ip/firewall/nat" => pick("masquerade", "accept"),
            "/ip/firewall/mangle" => pick("mark-routing", "accept"),
            _ => pick("drop", "accept"),
        },
        "src-port" | "dst-port" | "to-ports" => pick("8080", "8081"),
        "limit-bytes-in" | "limit-bytes-out" => pick("1000", "2000"),
        "priority" => pick("3", "4"),
        "limit-at"
        | "max-limit"
        | "burst-limit"
        | "burst-threshold"
        | "pcq-rate"
        | "pcq-burst-rate"
        | "pcq-burst-threshold" => pick("7M", "9M"),
        "burst-time" | "pcq-burst-time" | "timeout" | "session-timeout" | "idle-timeout" | "radsec-timeout" => {
            pick("5s", "7s")
        }
        "pcq-src-address-mask" | "pcq-dst-address-mask" => pick("24", "16"),
        "authentication-port" | "accounting-port" => pick("1645", "1646"),
        "bucket-size" => pick("0.2", "0.3"),
        "name" => format!("{current}-op"),
        _ => pick("op-edit", "op-edit-2"),
    }
}

fn managed(rows: Vec<Row>) -> Vec<Row> {
    rows.into_iter().filter(|r| r.get("comment").is_some_and(|c| c.starts_with("konnekted:"))).collect()
}

#[tokio::test]
async fn edit_any_property_of_any_managed_object_is_corrected_in_one_pass() {
    let sim = Simulator::start("127.0.0.1:0", SimConfig::new("admin", "x")).await.expect("sim");
    let h = sim.handle();
    let mut tenant = bench_tenant("acme");
    tenant.radius = Some(RadiusConfig {
        address: "10.0.0.2".into(),
        backup_addresses: vec!["10.0.0.3".into()],
        secret: Secret::new("rs"),
        service: "ppp,hotspot".into(),
    });
    tenant.walled_garden = Some(GardenConfig {
        portal_host: "pay.example.net".into(),
        portal_address: "192.0.2.10".into(),
        portal_port: 80,
        redirector: None,
        radius_policy: Default::default(),
    });
    let mut router = bench_router("r1", "acme", sim.local_addr(), 64);
    router.queue_types = QueueTypes::Managed;
    let mut state = synthetic_state("acme", 30);
    state.plans.truncate(2);
    for s in &mut state.subscribers {
        s.plan = "p1".into();
    }
    let desired = build_desired(state, &tenant, &router);
    let cfg = ClientConfig::new("admin", "x").command_timeout(Duration::from_secs(30));
    let (client, conn) = routeros_client::connect_tcp(sim.local_addr(), &cfg).await.expect("connect");
    tokio::spawn(conn);
    let limiter = ApplyLimiter::new(4, 1_000_000);
    sync_pass(&client, &desired, 64, &limiter).await.expect("cold sync");

    let mut edits = 0;
    for menu in Menu::ALL {
        let path = menu.path();
        let spec = MENUS.iter().find(|m| m.path == path).expect("menu");
        let before = managed(h.rows(path));
        assert!(!before.is_empty(), "{path}: nothing managed");
        // One object of each kind: by comment with the subscriber or plan part dropped.
        let mut kinds = std::collections::BTreeSet::new();
        for row in &before {
            let comment = row.get("comment").unwrap_or_default();
            let kind: String = comment.split(':').filter(|p| !p.starts_with('s') || p.len() < 3).collect();
            if !kinds.insert(kind) {
                continue;
            }
            let id = row.id().expect("id").to_owned();
            for prop in spec.fields.iter().filter(|f| !matches!(**f, "comment" | "timeout")) {
                // The edit on the router (rows of other menus are unaffected).
                let value = edit_value(path, prop, row.get(prop).unwrap_or_default());
                h.set(path, &id, &[(prop, &value)]).unwrap_or_else(|e| panic!("{path} {prop}={value}: {e}"));
                edits += 1;
                // One pass puts it back (`sync_pass` fails if a plan is left after it).
                sync_pass(&client, &desired, 64, &limiter)
                    .await
                    .unwrap_or_else(|e| panic!("{path} {comment} {prop}={value}: {e:#}"));
                let after = managed(h.rows(path));
                let now = after.iter().find(|r| r.get("comment") == Some(comment)).expect("still there");
                assert_eq!(now, row, "{path} {comment} after editing {prop}={value}");
            }
        }
    }
    assert!(edits > 150, "only {edits} edits");
}

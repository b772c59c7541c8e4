//! `router onboard`: the printed script, applied to the simulator as an operator pasting it,
//! leaves the router in the state the reconciler manages: its first pass (logged in as the
//! onboarded API user) changes nothing.

mod common;

use common::{World, apply_script_command};
use konnekted_reconciler::Config;
use konnekted_reconciler::onboard::{self, OnboardRequest};
use konnekted_reconciler::{RouterWorker, Scope};

const BASE: &str = r#"
[wireguard]
public_key = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo="
endpoint = "vpn.example.net:51820"
address = "10.255.0.1"
network = "10.255.0.0/24"

[[tenant]]
realm = "placeholder"
edge_url = "http://placeholder"
"#;

fn config(w: &World) -> Config {
    let mut c = Config::from_toml(BASE).expect("base config");
    c.tenants = vec![w.tenant_cfg()];
    c
}

async fn onboard_then_first_pass(hotspot: bool) {
    let w = World::new(if hotspot { "onbh" } else { "onbp" }).await;
    let c = config(&w);
    let req = OnboardRequest {
        tenant: w.realm.clone(),
        name: "tower-9".into(),
        hotspot,
        hotspot_profile: "default".into(),
        pools: Vec::new(),
    };
    let o = onboard::onboard(&c, &req).expect("onboard");
    let script = o.script(&req);
    let commands = onboard::parse_script(&script).expect("script parses");
    assert_eq!(commands, o.commands, "the printed script is the commands");
    let h = w.h();
    for cmd in &commands {
        apply_script_command(&h, cmd).unwrap_or_else(|e| panic!("{}: {e}", onboard::render(cmd)));
    }

    // The router side: tunnel, least-privilege user, API only through the tunnel.
    let wg = h.find("/interface/wireguard", "name", onboard::WG_INTERFACE);
    assert_eq!(wg.len(), 1);
    let private = wg[0].get("private-key").expect("private key");
    assert_eq!(onboard::wg_public_key(private).expect("pub"), o.router_public_key);
    let peers = h.rows("/interface/wireguard/peers");
    assert_eq!(peers.len(), 1);
    assert_eq!(peers[0].get("public-key"), Some("hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo="));
    assert_eq!(peers[0].get("allowed-address"), Some("10.255.0.1/32"));
    assert_eq!(peers[0].get("preshared-key"), Some(o.preshared_key.expose()));
    assert_eq!(h.find("/ip/address", "interface", onboard::WG_INTERFACE)[0].get("address"), Some("10.255.0.2/24"));
    assert_eq!(h.find("/user/group", "name", onboard::API_GROUP)[0].get("policy"), Some(onboard::API_POLICIES));
    assert_eq!(h.find("/user", "name", "konnekted")[0].get("password"), Some(o.password.expose()));
    let api = &h.find("/ip/service", "name", "api")[0];
    assert_eq!((api.get("address"), api.get("disabled")), (Some("10.255.0.1/32"), Some("false")));
    assert_eq!(h.find("/ip/service", "name", "api-ssl")[0].get("disabled"), Some("true"));
    let incoming = &h.rows("/radius/incoming")[0];
    assert_eq!((incoming.get("accept"), incoming.get("port")), (Some("true"), Some("3799")));
    assert_eq!(h.rows("/ppp/aaa")[0].get("use-radius"), Some("true"));
    let profile = &h.find("/ip/hotspot/profile", "name", "default")[0];
    assert_eq!(profile.get("use-radius"), Some(if hotspot { "true" } else { "false" }));
    assert_eq!(h.rows("/ip/hotspot/walled-garden").len(), usize::from(hotspot));

    // The reconciler side: the appended block loads, and the first pass (as the new user,
    // reaching the simulator where the tunnel would lead) changes nothing.
    let text = format!("{BASE}{}", o.router_toml);
    let c2 = Config::from_toml(&text).expect("config with the new router");
    let mut router = c2.routers.last().cloned().expect("router block");
    assert_eq!((router.name.as_str(), router.address.as_str()), ("tower-9", "10.255.0.2"));
    assert_eq!(router.password.expose(), o.password.expose());
    router.address = w.sim.local_addr().ip().to_string();
    router.port = w.sim.local_addr().port();
    // The API answers only the reconciler's tunnel address, so from loopback the router closes
    // the connection; the loopback address stands in for the tunnel from here on (the WireGuard
    // test, tests/wireguard.rs, goes through a real tunnel).
    let mut worker = RouterWorker::new(router, w.tenant.clone(), w.ctx.clone());
    let refused = worker.try_step(Scope::Full).await;
    assert_ne!(refused.outcome, "ok", "the API must refuse a peer outside /ip/service api address: {refused:?}");
    h.set("/ip/service", "api", &[("address", "10.255.0.1/32,127.0.0.1/32")]).expect("widen api address");
    let r = worker.try_step(Scope::Full).await;
    assert_eq!(r.outcome, "ok", "{r:?}");
    assert_eq!(r.drift_found, 0, "first pass after onboarding must change nothing: {r:?}");
    // one entry per FreeRADIUS node, primary first, same realm and secret
    let rows = h.rows("/radius");
    let radius: Vec<_> = rows.iter().map(|e| (e.get("address"), e.get("realm"), e.get("secret"))).collect();
    let realm = w.realm.as_str();
    assert_eq!(
        radius,
        [
            (Some("10.0.0.2"), Some(realm), Some("radius-secret")),
            (Some("10.0.0.3"), Some(realm), Some("radius-secret"))
        ]
    );

    // A second router of the tenant gets the next address and other keys.
    let mut c3 = Config::from_toml(&text).expect("config with tower-9");
    c3.tenants = c.tenants.clone();
    let o2 = onboard::onboard(&c3, &OnboardRequest { name: "tower-10".into(), ..req.clone() }).expect("second");
    assert_eq!(o2.router_address.to_string(), "10.255.0.3");
    assert_ne!(o2.router_public_key, o.router_public_key);
    assert_ne!(o2.password.expose(), o.password.expose());
    assert!(onboard::onboard(&c3, &req).is_err(), "the same name twice is refused");
}

#[tokio::test]
async fn onboard_ppp_router_first_pass_changes_nothing() {
    onboard_then_first_pass(false).await;
}

#[tokio::test]
async fn onboard_hotspot_router_first_pass_changes_nothing() {
    onboard_then_first_pass(true).await;
}

#[tokio::test]
async fn onboard_simulator_refuses_what_a_router_refuses() {
    let w = World::new("onbr").await;
    let h = w.h();
    assert!(h.add("/interface/wireguard", &[("name", "wg0"), ("private-key", "not-a-key")]).is_err());
    assert!(h.add("/user", &[("name", "x"), ("group", "nosuchgroup")]).is_err());
    assert!(h.add("/user/group", &[("name", "g"), ("policy", "api,root")]).is_err());
    assert!(
        h.add(
            "/interface/wireguard/peers",
            &[
                ("interface", "nosuchwg"),
                ("public-key", "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo="),
                ("allowed-address", "10.0.0.1/32")
            ]
        )
        .is_err()
    );
    assert!(h.add("/ip/address", &[("address", "10.0.0.1/24"), ("interface", "nosuchif")]).is_err());
    assert!(h.set("/ip/service", "api", &[("address", "not-an-address")]).is_err());
}

#[tokio::test]
async fn onboard_pools_go_in_the_peers_allowed_ips_and_a_redirector_needs_them() {
    let w = World::new("onbpool").await;
    let mut c = config(&w);
    let req = OnboardRequest {
        tenant: w.realm.clone(),
        name: "tower-9".into(),
        hotspot: true,
        hotspot_profile: "default".into(),
        pools: vec!["10.20.0.0/16".into(), "10.30.4.0/22".into(), "10.20.0.0/16".into()],
    };
    let o = onboard::onboard(&c, &req).expect("onboard");
    let peer = o.server_peer(&req);
    let allowed: Vec<&str> =
        peer.lines().find_map(|l| l.strip_prefix("AllowedIPs = ")).expect("AllowedIPs").split(", ").collect();
    assert_eq!(allowed, [format!("{}/32", o.router_address).as_str(), "10.20.0.0/16", "10.30.4.0/22"], "{peer}");
    // Without pools only the tunnel address, as before.
    let bare = OnboardRequest { pools: Vec::new(), ..req.clone() };
    let o = onboard::onboard(&c, &bare).expect("onboard without pools");
    assert!(o.server_peer(&bare).contains(&format!("AllowedIPs = {}/32\n", o.router_address)));
    for bad in ["10.20.0.0", "10.20.0.0/33", "10.20.1.0/16", "pool/16"] {
        let r = onboard::onboard(&c, &OnboardRequest { pools: vec![bad.into()], ..req.clone() });
        assert!(r.is_err(), "{bad} accepted");
    }
    // With the redirector, the subscribers' addresses must be allowed: no pool, no onboarding.
    if let Some(g) = c.tenants[0].walled_garden.as_mut() {
        g.redirector = Some(konnekted_reconciler::config::RedirectorConfig {
            listen: ([10, 255, 0, 1], 8081).into(),
            address: None,
            portal_url: None,
        });
    }
    let err = match onboard::onboard(&c, &bare) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("onboarded without pools"),
    };
    assert!(err.contains("--pool"), "{err}");
    let o = onboard::onboard(&c, &req).expect("with pools");
    assert!(o.server_peer(&req).contains("10.30.4.0/22"));
}

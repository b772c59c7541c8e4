//! The suspended subscribers' redirector against the real native host (edge) and RouterOS
//! simulators: the walled garden's `dst-nat` points at it, and it answers each source address
//! with the portal's page for that address's account, or the page without one.
//!
//! Sources other than 127.0.0.1 are other loopback addresses (the whole of 127/8 is local on
//! Linux): the simulator's `/ppp/active` says which session holds each.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use common::World;
use konnekted_reconciler::Scope;
use konnekted_reconciler::config::{RedirectorConfig, RouterConfig, Secret};
use konnekted_reconciler::redirect::{Redirector, Who};
use routeros_sim::{SimConfig, Simulator};

fn redirector_cfg() -> RedirectorConfig {
    RedirectorConfig { listen: ([127, 0, 0, 1], 8081).into(), address: Some("10.255.0.1".into()), portal_url: None }
}

/// `GET /` from `from` to the redirector: status, `Location`, `Cache-Control`.
async fn ask(redirector: SocketAddr, from: [u8; 4]) -> (u16, String, String) {
    let http = reqwest::Client::builder()
        .local_address(IpAddr::from(from))
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");
    let r = http.get(format!("http://{redirector}/generate_204")).send().await.expect("redirector answers");
    let header = |h| r.headers().get(h).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    (r.status().as_u16(), header(reqwest::header::LOCATION), header(reqwest::header::CACHE_CONTROL))
}

#[tokio::test]
async fn redirector_sends_a_suspended_session_to_its_account_page_and_everyone_else_to_the_plain_page() {
    let mut w = World::new("redir").await;
    let mut tenant = w.tenant_cfg();
    let garden = tenant.walled_garden.as_mut().expect("garden");
    garden.redirector = Some(redirector_cfg());
    w.tenant = konnekted_reconciler::Tenant::new(tenant.clone(), Duration::from_secs(5)).expect("tenant");
    w.plan("home", 10_000, 2_000).await;
    let bob = w.active_subscriber("bob", "home", None).await;
    w.suspend(&bob).await;
    w.active_subscriber("alice", "home", None).await;
    let carol = w.subscriber("carol", "home", None).await; // never paid
    let mut worker = w.worker();
    let r = worker.try_step(Scope::Full).await;
    assert_eq!(r.outcome, "ok", "{r:?}");

    // The router took the garden's rules: HTTP of the suspended list goes to the redirector
    // through the tunnel, and the forward chain lets it through before the reject.
    let h = w.h();
    let nat = h.find("/ip/firewall/nat", "comment", "konnekted:garden:redirect");
    assert_eq!(nat.len(), 1);
    assert_eq!((nat[0].get("to-addresses"), nat[0].get("to-ports")), (Some("10.255.0.1"), Some("8081")));
    let filter: Vec<_> = h.rows("/ip/firewall/filter");
    let at = |c: &str| filter.iter().position(|f| f.get("comment") == Some(c)).expect(c);
    assert!(at("konnekted:garden:5-redirector") < at("konnekted:garden:9-block"));
    let accept = &filter[at("konnekted:garden:5-redirector")];
    assert_eq!(accept.get("dst-address"), Some("10.255.0.1"));
    assert_eq!(accept.get("src-address-list"), Some("konnekted-suspended"));
    // No port in an address-list address (a real router refuses it).
    assert!(h.rows("/ip/firewall/address-list").iter().all(|e| !e.get("address").unwrap_or_default().contains(':')));

    // Sessions as a walled-garden RADIUS accept leaves them (after the pass: its kicks are done).
    h.ppp_login("bob@redir", "127.0.0.2");
    h.ppp_login("alice@redir", "127.0.0.3");
    h.ppp_login("CAROL@redir", "127.0.0.5");
    h.ppp_login("mallory@elsewhere", "127.0.0.6");

    let mut routers = vec![w.router_cfg()];
    let redirector = Arc::new(Redirector::new(
        w.tenant.clone(),
        tenant.walled_garden.as_ref().and_then(|g| g.redirector.as_ref()).expect("cfg"),
        &routers,
        w.metrics.clone(),
    ));
    let addr = redirector.clone().serve(([127, 0, 0, 1], 0).into()).await.expect("serve");
    let portal = format!("http://{}/h/redir/suspended", w.proxy.addr);

    let (status, location, cache) = ask(addr, [127, 0, 0, 2]).await;
    assert_eq!(status, 302);
    assert_eq!(location, format!("{portal}?account={bob}"));
    assert_eq!(cache, "no-store");
    // The portal's page is bob's: his account number and the reason.
    let page = w.http.get(&location).send().await.expect("portal");
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("BOB"), "bob's account number on his page");
    // Carol (pending, her CPE sends the name in capitals) gets hers.
    assert_eq!(ask(addr, [127, 0, 0, 5]).await.1, format!("{portal}?account={carol}"));
    // Alice is paid up, 127.0.0.4 holds no session, mallory is no subscriber of this tenant:
    // the page without an account, never someone else's.
    for from in [[127, 0, 0, 3], [127, 0, 0, 4], [127, 0, 0, 6]] {
        assert_eq!(ask(addr, from).await, (302, portal.clone(), "no-store".to_owned()), "{from:?}");
    }
    assert_eq!(redirector.who([127, 0, 0, 3].into()).await, Who::Unknown("not_suspended"));
    assert_eq!(redirector.who([127, 0, 0, 4].into()).await, Who::Unknown("no_session"));
    assert_eq!(redirector.who([127, 0, 0, 6].into()).await, Who::Unknown("not_a_subscriber"));

    // A second router of the tenant holding the same address (overlapping pools): who is
    // asking can no longer be told, so no account.
    let sim2 = Simulator::start("127.0.0.1:0", SimConfig::new("admin", "pw")).await.expect("sim");
    sim2.handle().ppp_login("alice@redir", "127.0.0.2");
    let mut second = konnekted_reconciler::bench::bench_router("tower-2", "redir", sim2.local_addr(), 8);
    second.password = Secret::new("pw");
    routers.push(second);
    let both = Redirector::new(
        w.tenant.clone(),
        tenant.walled_garden.as_ref().and_then(|g| g.redirector.as_ref()).expect("cfg"),
        &routers,
        w.metrics.clone(),
    );
    assert_eq!(both.who([127, 0, 0, 2].into()).await, Who::Unknown("ambiguous"));
    // Carol's address is only on the first router: still hers.
    assert_eq!(both.who([127, 0, 0, 5].into()).await, Who::Suspended(carol.clone()));

    // A router that cannot be asked might hold the address too: no account either.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let dead_addr = dead.local_addr().expect("addr");
    drop(dead);
    let mut unreachable: RouterConfig = konnekted_reconciler::bench::bench_router("tower-3", "redir", dead_addr, 8);
    unreachable.password = Secret::new("pw");
    let with_dead = Redirector::new(
        w.tenant.clone(),
        tenant.walled_garden.as_ref().and_then(|g| g.redirector.as_ref()).expect("cfg"),
        &[w.router_cfg(), unreachable],
        w.metrics.clone(),
    );
    assert_eq!(with_dead.who([127, 0, 0, 2].into()).await, Who::Unknown("router_unreachable"));

    // Bob pays: the reconciler learns it and his address gets the plain page.
    w.pay(&bob).await;
    let r = worker.try_step(Scope::Full).await;
    assert_eq!(r.outcome, "ok", "{r:?}");
    assert_eq!(ask(addr, [127, 0, 0, 2]).await.1, portal);
    assert_eq!(
        w.metrics.get("konnekted_reconciler_redirects_total", &[("tenant", "redir"), ("outcome", "account")]),
        Some(2.0)
    );
    w.stop_edge();
}

#[tokio::test]
async fn redirector_without_routers_or_desired_state_never_names_an_account() {
    let w = World::new("redir0").await;
    let cfg = redirector_cfg();
    let r = Redirector::new(w.tenant.clone(), &cfg, &[], w.metrics.clone());
    assert_eq!(r.who([127, 0, 0, 2].into()).await, Who::Unknown("no_session"));
    // A session, but the tenant's desired state was never loaded.
    w.h().ppp_login("bob@redir0", "127.0.0.2");
    let r = Redirector::new(w.tenant.clone(), &cfg, &[w.router_cfg()], w.metrics.clone());
    assert_eq!(r.who([127, 0, 0, 2].into()).await, Who::Unknown("no_desired_state"));
}

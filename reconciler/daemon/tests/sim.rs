//! The reconciler against the real native host (edge) and the RouterOS simulator.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::World;
use konnekted_reconciler::config::GuardConfig;
use konnekted_reconciler::{Ctx, RouterWorker, Scope};
use routeros_sim::{Fault, SimConfig, Simulator};

#[tokio::test]
async fn reconcile_cold_start_creates_secrets_queues_garden_and_radius() {
    let w = World::new("cold").await;
    w.plan("home", 10_000, 2_000).await;
    w.plan("biz", 20_000, 5_000).await;
    w.active_subscriber("alice", "home", None).await;
    w.active_subscriber("bob", "biz", Some("10.20.0.5")).await;
    let carol = w.active_subscriber("carol", "home", Some("10.20.0.6")).await;
    w.suspend(&carol).await;
    w.subscriber("dave", "home", None).await; // never paid

    let mut worker = w.worker();
    let r = worker.try_step(Scope::Full).await;
    assert_eq!(r.outcome, "ok", "{r:?}");
    assert!(r.drift_found > 0 && r.drift_fixed == r.drift_found, "{r:?}");

    let h = w.h();
    assert_eq!(w.secret_disabled("alice"), Some(false));
    assert_eq!(w.secret_disabled("bob"), Some(false));
    assert_eq!(w.secret_disabled("carol"), Some(true));
    assert_eq!(w.secret_disabled("dave"), Some(true));
    let bob = &h.find("/ppp/secret", "name", "bob@cold")[0];
    assert_eq!(bob.get("profile"), Some("konnekted-biz"));
    assert_eq!(bob.get("remote-address"), Some("10.20.0.5"));
    assert_eq!(bob.get("password"), Some("secret-bob"));
    // Per plan: one profile, four mangle rules, two PCQ queue-tree leaves; not a queue per user.
    assert_eq!(h.find("/ppp/profile", "address-list", "konnekted-plan-home").len(), 1);
    assert_eq!(h.rows("/ip/firewall/mangle").len(), 8);
    let queues = h.rows("/queue/tree");
    assert_eq!(queues.len(), 4);
    assert!(
        queues
            .iter()
            .any(|q| q.get("name") == Some("konnekted-home-down") && q.get("queue") == Some("pcq-download-default"))
    );
    assert!(h.rows("/queue/simple").is_empty());
    // Walled garden: carol's static address is listed; DNS and the portal are allowed; HTTP redirected.
    let suspended = h.find("/ip/firewall/address-list", "list", "konnekted-suspended");
    assert_eq!(suspended.len(), 1);
    assert_eq!(suspended[0].get("address"), Some("10.20.0.6"));
    let filter = h.rows("/ip/firewall/filter");
    assert!(filter.iter().any(|f| f.get("dst-port") == Some("53") && f.get("action") == Some("accept")));
    assert_eq!(filter.last().and_then(|f| f.get("action")), Some("reject"), "reject rule after the accepts");
    assert!(h.rows("/ip/firewall/nat").iter().any(|n| n.get("to-addresses") == Some("192.0.2.10")));
    // One /radius entry per FreeRADIUS node, the primary first, one realm and secret.
    let rows = h.rows("/radius");
    let radius: Vec<_> = rows.iter().map(|e| (e.get("address"), e.get("realm"), e.get("secret"))).collect();
    assert_eq!(
        radius,
        [
            (Some("10.0.0.2"), Some("cold"), Some("radius-secret")),
            (Some("10.0.0.3"), Some("cold"), Some("radius-secret"))
        ]
    );

    let again = worker.try_step(Scope::Full).await;
    assert_eq!((again.outcome, again.drift_found), ("ok", 0), "{again:?}");
    // Both reports were accepted by the edge (a refused report counts as an edge error).
    assert!(!w.metrics.render().contains("konnekted_reconciler_edge_errors_total{"), "{}", w.metrics.render());
}

/// The addresses of the router's `/radius` entries in list order (the order RouterOS asks them).
fn radius_order(h: &routeros_sim::SimHandle) -> Vec<String> {
    h.rows("/radius").iter().map(|e| e.get("address").unwrap_or_default().to_owned()).collect()
}

#[tokio::test]
async fn reconcile_radius_cluster_entries_deleted_swapped_or_edited_come_back_in_order() {
    let w = World::new("radc").await;
    w.plan("home", 10_000, 2_000).await;
    w.active_subscriber("alice", "home", None).await;
    let mut worker = w.worker();
    assert_eq!(worker.try_step(Scope::Full).await.outcome, "ok");
    let h = w.h();
    assert_eq!(radius_order(&h), ["10.0.0.2", "10.0.0.3"]);
    let id_of = |address: &str| h.find("/radius", "address", address)[0].id().expect("id").to_owned();

    // The operator deletes the primary: adding it alone would put it behind the backup.
    h.remove("/radius", &id_of("10.0.0.2")).expect("operator removes primary");
    let r = worker.try_step(Scope::Full).await;
    assert_eq!(r.outcome, "ok", "{r:?}");
    assert_eq!(radius_order(&h), ["10.0.0.2", "10.0.0.3"]);
    assert_eq!(worker.try_step(Scope::Full).await.drift_found, 0);

    // Adds their own entry first, and re-creates ours in the wrong order by hand.
    h.add("/radius", &[("address", "192.0.2.50"), ("secret", "theirs"), ("service", "login")]).expect("own entry");
    let secret = "radius-secret";
    h.remove("/radius", &id_of("10.0.0.2")).expect("remove primary");
    h.add(
        "/radius",
        &[
            ("address", "10.0.0.2"),
            ("secret", secret),
            ("service", "ppp,hotspot"),
            ("realm", "radc"),
            ("comment", "konnekted:radius:radc"),
        ],
    )
    .expect("primary appended after the backup");
    assert_eq!(radius_order(&h), ["10.0.0.3", "192.0.2.50", "10.0.0.2"]);
    let r = worker.try_step(Scope::Full).await;
    assert_eq!(r.outcome, "ok", "{r:?}");
    assert_eq!(radius_order(&h), ["192.0.2.50", "10.0.0.2", "10.0.0.3"], "operator's entry left where it was");

    // The backup's secret edited: corrected in place (read back by the pass's verify).
    h.set("/radius", &id_of("10.0.0.3"), &[("secret", "wrong")]).expect("edit");
    let r = worker.try_step(Scope::Full).await;
    assert_eq!((r.outcome, r.drift_found), ("ok", 1), "{r:?}");
    assert_eq!(h.find("/radius", "address", "10.0.0.3")[0].get("secret"), Some(secret));
    assert_eq!(radius_order(&h), ["192.0.2.50", "10.0.0.2", "10.0.0.3"]);
    assert_eq!(worker.try_step(Scope::Full).await.drift_found, 0);
}

#[tokio::test]
async fn reconcile_operator_edits_are_reverted_and_unmanaged_objects_survive() {
    let w = World::new("drift").await;
    w.plan("home", 10_000, 2_000).await;
    w.active_subscriber("alice", "home", None).await;
    w.active_subscriber("bob", "home", None).await;
    let mut worker = w.worker();
    assert_eq!(worker.try_step(Scope::Full).await.outcome, "ok");

    let h = w.h();
    let alice = h.find("/ppp/secret", "name", "alice@drift")[0].id().expect("id").to_owned();
    h.set("/ppp/secret", &alice, &[("disabled", "true")]).expect("operator disables");
    let q = h.find("/queue/tree", "name", "konnekted-home-up")[0].id().expect("id").to_owned();
    h.remove("/queue/tree", &q).expect("operator deletes queue");
    let rule = h
        .add(
            "/ip/firewall/filter",
            &[
                ("chain", "forward"),
                ("action", "drop"),
                ("src-address", "10.9.9.9"),
                ("comment", "operator: block abuser"),
            ],
        )
        .expect("unmanaged rule");
    h.add("/ppp/secret", &[("name", "guest"), ("password", "x")]).expect("unmanaged secret");
    h.ppp_login("guest", "10.30.0.1");

    let r = worker.try_step(Scope::Full).await;
    assert_eq!(r.outcome, "ok", "{r:?}");
    assert_eq!(r.drift_found, 2, "{r:?}");
    assert_eq!(w.secret_disabled("alice"), Some(false));
    assert_eq!(h.find("/queue/tree", "name", "konnekted-home-up").len(), 1);
    let kept =
        h.rows("/ip/firewall/filter").into_iter().find(|f| f.id() == Some(rule.as_str())).expect("rule survives");
    assert_eq!(kept.get("comment"), Some("operator: block abuser"));
    assert_eq!(h.find("/ppp/secret", "name", "guest").len(), 1);
    assert_eq!(h.find("/ppp/active", "name", "guest").len(), 1, "unmanaged session not kicked");
    assert_eq!(worker.try_step(Scope::Full).await.drift_found, 0);
}

#[tokio::test]
async fn reconcile_garden_rules_moved_by_operator_are_put_back_in_order() {
    let w = World::new("order").await;
    w.plan("home", 10_000, 2_000).await;
    w.active_subscriber("alice", "home", None).await;
    let mut worker = w.worker();
    assert_eq!(worker.try_step(Scope::Full).await.outcome, "ok");
    let h = w.h();
    let filter = |h: &routeros_sim::SimHandle| -> Vec<String> {
        h.rows("/ip/firewall/filter").iter().map(|r| r.get("comment").unwrap_or_default().to_owned()).collect()
    };
    let ours = filter(&h);
    // The operator adds a rule on top and drags our reject above it, and the portal accept below the reject.
    let first = h.add("/ip/firewall/filter", &[("chain", "forward"), ("comment", "operator: top")]).expect("rule");
    let rules = h.rows("/ip/firewall/filter");
    let id_of =
        |c: &str| rules.iter().find(|r| r.get("comment") == Some(c)).and_then(|r| r.id()).expect("rule").to_owned();
    h.move_items("/ip/firewall/filter", &first, Some(&id_of("konnekted:garden:1-dns-udp"))).expect("top");
    h.move_items("/ip/firewall/filter", &id_of("konnekted:garden:9-block"), Some(&first)).expect("reject up");
    h.move_items("/ip/firewall/filter", &id_of("konnekted:garden:3-portal"), None).expect("portal down");
    assert_ne!(filter(&h).into_iter().filter(|c| c.starts_with("konnekted:")).collect::<Vec<_>>(), ours);

    let r = worker.try_step(Scope::Full).await;
    assert_eq!(r.outcome, "ok", "{r:?}");
    assert!(r.drift_found > 0 && r.drift_fixed == r.drift_found, "{r:?}");
    let now = filter(&h);
    assert_eq!(now.iter().filter(|c| c.starts_with("konnekted:")).cloned().collect::<Vec<_>>(), ours);
    assert_eq!(now.iter().filter(|c| *c == "operator: top").count(), 1, "operator rule kept");
    assert_eq!(worker.try_step(Scope::Full).await.drift_found, 0);
}

#[tokio::test]
async fn reconcile_suspension_walls_in_listed_session_and_kicks_the_rest() {
    let w = World::new("susp").await;
    w.plan("home", 10_000, 2_000).await;
    let alice = w.active_subscriber("alice", "home", Some("10.20.0.9")).await;
    let carol = w.active_subscriber("carol", "home", None).await;
    w.active_subscriber("bob", "home", None).await;
    let mut worker = w.worker();
    assert_eq!(worker.try_step(Scope::Full).await.outcome, "ok");
    let h = w.h();
    h.ppp_login("alice@susp", "10.20.0.9");
    h.ppp_login("bob@susp", "10.20.0.10");
    h.ppp_login("carol@susp", "10.20.0.11");

    w.suspend(&alice).await;
    w.suspend(&carol).await;
    for pass in 0..2 {
        let r = worker.try_step(Scope::Full).await;
        assert_eq!(r.outcome, "ok", "pass {pass}: {r:?}");
        assert_eq!(w.secret_disabled("alice"), Some(true));
        // Her address is on the suspended list: the garden walls her in and she stays
        // connected to see the suspended page, pass after pass.
        assert_eq!(h.find("/ip/firewall/address-list", "address", "10.20.0.9").len(), 1);
        assert_eq!(h.find("/ppp/active", "name", "alice@susp").len(), 1, "pass {pass}: walled in, not kicked");
        // Carol has no address the garden could list: cut off.
        assert!(h.find("/ppp/active", "name", "carol@susp").is_empty(), "session kicked");
        assert_eq!(h.find("/ppp/active", "name", "bob@susp").len(), 1);
    }
}

#[tokio::test]
async fn reconcile_suspension_without_garden_kicks_listed_session() {
    let w = World::new("suspnog").await;
    w.plan("home", 10_000, 2_000).await;
    let alice = w.active_subscriber("alice", "home", Some("10.20.0.9")).await;
    let mut cfg = w.tenant_cfg();
    cfg.walled_garden = None;
    let tenant = konnekted_reconciler::Tenant::new(cfg, Duration::from_secs(5)).expect("tenant");
    let mut worker = RouterWorker::new(w.router_cfg(), tenant, w.ctx.clone());
    assert_eq!(worker.try_step(Scope::Full).await.outcome, "ok");
    let h = w.h();
    h.ppp_login("alice@suspnog", "10.20.0.9");
    w.suspend(&alice).await;
    let r = worker.try_step(Scope::Full).await;
    assert_eq!(r.outcome, "ok", "{r:?}");
    assert_eq!(w.secret_disabled("alice"), Some(true));
    assert!(h.find("/ppp/active", "name", "alice@suspnog").is_empty(), "no garden: kicked");
}

#[tokio::test]
async fn reconcile_lying_router_is_caught_by_verify_and_reported() {
    let w = World::new("lying").await;
    w.plan("home", 10_000, 2_000).await;
    w.active_subscriber("alice", "home", None).await;
    let h = w.h();
    h.set_lying("/ppp/secret", true);
    let mut worker = w.worker();
    let r = worker.try_step(Scope::Full).await;
    assert_eq!(r.outcome, "error", "{r:?}");
    assert_eq!(r.error_label, Some("verify_mismatch"));
    assert!(r.errors.iter().any(|e| e.contains("acknowledged but not applied")), "{r:?}");
    assert_eq!(w.secret_disabled("alice"), None);
    let m = w.metrics.get("konnekted_reconciler_errors_total", &[("router", "tower-1"), ("label", "verify_mismatch")]);
    assert_eq!(m, Some(1.0));
    // Queues and the rest were applied and verified.
    assert_eq!(h.rows("/queue/tree").len(), 2);

    h.set_lying("/ppp/secret", false);
    let r = worker.try_step(Scope::Full).await;
    assert_eq!(r.outcome, "ok", "{r:?}");
    assert_eq!(w.secret_disabled("alice"), Some(false));
}

#[tokio::test]
async fn reconcile_connection_dropped_mid_apply_converges_next_pass() {
    let w = World::new("drop").await;
    w.plan("home", 10_000, 2_000).await;
    for i in 0..20 {
        w.active_subscriber(&format!("u{i}"), "home", None).await;
    }
    let h = w.h();
    // Reads are 9 prints; the connection drops in the middle of the writes.
    h.drop_after_sentences(20);
    let mut worker = w.worker();
    let r = worker.try_step(Scope::Full).await;
    assert_eq!(r.outcome, "error", "{r:?}");
    assert_eq!(r.error_label, Some("connection_lost"));
    let partial = h.rows("/ppp/secret").len();
    assert!(partial < 20, "only part applied: {partial}");

    let r = worker.try_step(Scope::Full).await;
    assert_eq!(r.outcome, "ok", "{r:?}");
    assert_eq!(h.rows("/ppp/secret").len(), 20);
    let r = worker.try_step(Scope::Full).await;
    assert_eq!(r.drift_found, 0, "{r:?}");
}

#[tokio::test]
async fn reconcile_traps_on_subset_apply_the_rest_and_report() {
    let w = World::new("traps").await;
    w.plan("home", 10_000, 2_000).await;
    for u in ["a1", "a2", "a3", "a4"] {
        w.active_subscriber(u, "home", None).await;
    }
    let h = w.h();
    h.inject(Fault::trap("/ppp/secret/add", "failure: out of memory").when("name", "a2@traps"));
    h.inject(Fault::trap("/ppp/secret/add", "failure: out of memory").when("name", "a3@traps"));
    let mut worker = w.worker();
    let r = worker.try_step(Scope::Full).await;
    assert_eq!(r.outcome, "error", "{r:?}");
    assert_eq!(r.error_label, Some("router_trap"));
    assert!(r.errors.iter().filter(|e| e.contains("out of memory")).count() >= 2, "{r:?}");
    assert_eq!(w.secret_disabled("a1"), Some(false));
    assert_eq!(w.secret_disabled("a2"), None);
    assert_eq!(w.secret_disabled("a4"), Some(false));

    h.clear_faults();
    let r = worker.try_step(Scope::Full).await;
    assert_eq!((r.outcome, r.drift_found), ("ok", 2), "{r:?}");
}

#[tokio::test]
async fn reconcile_edge_down_disables_nobody() {
    let mut w = World::new("down").await;
    w.plan("home", 10_000, 2_000).await;
    let alice = w.active_subscriber("alice", "home", None).await;
    w.active_subscriber("bob", "home", None).await;
    let carol = w.active_subscriber("carol", "home", None).await;
    w.suspend(&carol).await;
    let mut worker = w.worker();
    assert_eq!(worker.try_step(Scope::Full).await.outcome, "ok");
    assert_eq!(w.secret_disabled("carol"), Some(true));

    // alice stops paying and carol pays at the counter; the operator re-enables carol by hand;
    // then the edge becomes unreachable.
    w.suspend(&alice).await;
    let h = w.h();
    let carol_id = h.find("/ppp/secret", "name", "carol@down")[0].id().expect("id").to_owned();
    h.set("/ppp/secret", &carol_id, &[("disabled", "false")]).expect("operator");
    let bob_id = h.find("/ppp/secret", "name", "bob@down")[0].id().expect("id").to_owned();
    h.set("/ppp/secret", &bob_id, &[("disabled", "true")]).expect("operator mistake");
    w.stop_edge();
    tokio::time::sleep(Duration::from_millis(50)).await;

    let r = worker.try_step(Scope::Full).await;
    assert!(r.stale, "{r:?}");
    assert_eq!(r.outcome, "refused", "{r:?}");
    assert_eq!(w.secret_disabled("alice"), Some(false), "never disable on a stale state");
    assert_eq!(w.secret_disabled("carol"), Some(false), "never disable on a stale state");
    assert_eq!(w.secret_disabled("bob"), Some(false), "re-enabling still happens");

    // A fresh daemon that never reached the edge touches nothing at all.
    let tenant = konnekted_reconciler::Tenant::new(w.tenant_cfg(), Duration::from_secs(2)).expect("tenant");
    let mut fresh = konnekted_reconciler::RouterWorker::new(w.router_cfg(), tenant, w.ctx.clone());
    h.clear_command_log();
    let r = fresh.try_step(Scope::Full).await;
    assert_eq!(r.error_label, Some("edge_unavailable"), "{r:?}");
    assert!(h.command_log().is_empty(), "router not even read");
    assert_eq!(h.rows("/ppp/secret").len(), 3);
}

#[tokio::test]
async fn reconcile_mass_disable_is_refused_and_reported() {
    let w = World::with_guard("mass", GuardConfig { max_disable_share: 0.2, min_count: 5, ..Default::default() }).await;
    w.plan("home", 10_000, 2_000).await;
    let mut ids = Vec::new();
    for i in 0..30 {
        ids.push(w.active_subscriber(&format!("m{i}"), "home", None).await);
    }
    let mut worker = w.worker();
    assert_eq!(worker.try_step(Scope::Full).await.outcome, "ok");
    for id in &ids[..10] {
        w.suspend(id).await;
    }
    let late = w.subscriber("late", "home", None).await;
    w.pay(&late).await;
    let r = worker.try_step(Scope::Full).await;
    assert_eq!(r.outcome, "refused", "{r:?}");
    // Of the 31 the router serves (the late payer included).
    assert!(r.refusal.as_deref().is_some_and(|m| m.contains("10 of 31")), "{r:?}");
    assert_eq!(r.withheld, 10);
    for i in 0..30 {
        assert_eq!(w.secret_disabled(&format!("m{i}")), Some(false));
    }
    assert_eq!(w.secret_disabled("late"), Some(false), "new payers still get online");
    let refused = w
        .metrics
        .get("konnekted_reconciler_passes_total", &[("router", "tower-1"), ("kind", "full"), ("outcome", "refused")]);
    assert_eq!(refused, Some(1.0));

    // Within the limit it goes ahead.
    for id in &ids[10..] {
        w.pay(id).await; // (no effect on the guard)
    }
    let w2_ok = {
        let guard = GuardConfig { max_disable_share: 0.5, min_count: 5, ..Default::default() };
        let mut s = w.ctx.settings.clone();
        s.guard = guard;
        std::sync::Arc::new(konnekted_reconciler::Ctx::new(s, w.metrics.clone()))
    };
    let mut lenient = konnekted_reconciler::RouterWorker::new(w.router_cfg(), w.tenant.clone(), w2_ok);
    let r = lenient.try_step(Scope::Full).await;
    assert_eq!(r.outcome, "ok", "{r:?}");
    assert_eq!(w.secret_disabled("m0"), Some(true));
}

#[tokio::test]
async fn fast_path_payment_enables_secret_within_seconds() {
    let w = World::new("fast").await;
    w.plan("home", 10_000, 2_000).await;
    let alice = w.subscriber("alice", "home", None).await;
    w.active_subscriber("bob", "home", None).await;
    let metrics_addr =
        konnekted_reconciler::http::serve(([127, 0, 0, 1], 0).into(), w.metrics.clone()).await.expect("metrics");
    let feed = tokio::spawn(w.tenant.clone().run_feed(w.ctx.settings.feed_poll, w.metrics.clone()));
    let task = tokio::spawn(w.worker().run());

    let deadline = Instant::now() + Duration::from_secs(20);
    while w.secret_disabled("alice") != Some(true) {
        assert!(Instant::now() < deadline, "first full pass did not run");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let paid = Instant::now();
    w.pay(&alice).await;
    while w.secret_disabled("alice") != Some(false) {
        assert!(Instant::now() < deadline, "payment did not reach the router");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("payment reached the router in {:?}", paid.elapsed());
    // The full pass ran before the payment, so only the fast path can have enabled alice;
    // its pass is counted once its read-back is done.
    let fast = || {
        w.metrics
            .get("konnekted_reconciler_passes_total", &[("router", "tower-1"), ("kind", "fast"), ("outcome", "ok")])
    };
    while fast().is_none() {
        assert!(Instant::now() < deadline, "fast pass not recorded");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let text =
        w.http.get(format!("http://{metrics_addr}/metrics")).send().await.expect("metrics").text().await.expect("body");
    assert!(text.contains("konnekted_reconciler_last_success_timestamp_seconds{router=\"tower-1\"}"), "{text}");
    let health = w.http.get(format!("http://{metrics_addr}/health")).send().await.expect("health");
    assert_eq!(health.status().as_u16(), 200);
    let body: serde_json::Value = health.json().await.expect("health json");
    assert!(body["routers"]["tower-1"]["last_success"].as_f64().is_some(), "{body}");
    feed.abort();
    task.abort();
}

#[tokio::test]
async fn daemon_hanging_router_does_not_delay_the_others() {
    let w = World::new("slow").await;
    w.plan("home", 10_000, 2_000).await;
    w.active_subscriber("alice", "home", None).await;
    // Router A never answers its reads; router B is healthy. One task per router.
    w.h().inject(Fault::hang("/ppp/secret/print"));
    let b = Simulator::start("127.0.0.1:0", SimConfig::new("admin", "pw")).await.expect("sim b");
    let mut b_cfg = w.router_cfg();
    b_cfg.name = "tower-2".into();
    b_cfg.port = b.local_addr().port();
    let a_task = tokio::spawn(w.worker().run());
    let b_task = tokio::spawn(konnekted_reconciler::RouterWorker::new(b_cfg, w.tenant.clone(), w.ctx.clone()).run());
    let deadline = Instant::now() + Duration::from_secs(20);
    while b.handle().find("/ppp/secret", "name", "alice@slow").is_empty() {
        assert!(Instant::now() < deadline, "healthy router not reconciled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(w.h().rows("/ppp/secret").is_empty(), "hanging router got nothing yet");
    a_task.abort();
    b_task.abort();
}

/// A context with `permits` apply permits, every plan heavy, and this pass timeout.
fn limited_ctx(w: &World, permits: usize, pass_timeout: Duration) -> Arc<Ctx> {
    let mut s = w.ctx.settings.clone();
    s.max_concurrent_applies = permits;
    s.heavy_apply_changes = 0;
    s.pass_timeout = pass_timeout;
    Arc::new(Ctx::new(s, w.metrics.clone()))
}

fn second_router(w: &World, sim: &Simulator) -> konnekted_reconciler::config::RouterConfig {
    let mut cfg = w.router_cfg();
    cfg.name = "tower-2".into();
    cfg.port = sim.local_addr().port();
    cfg
}

fn waits(w: &World, router: &str) -> f64 {
    w.metrics.get("konnekted_reconciler_apply_waits_total", &[("router", router)]).unwrap_or(0.0)
}

#[tokio::test]
async fn limiter_one_permit_two_routers_queued_both_apply() {
    let w = World::new("permit").await;
    w.plan("home", 10_000, 2_000).await;
    w.active_subscriber("alice", "home", None).await;
    let b = Simulator::start("127.0.0.1:0", SimConfig::new("admin", "pw")).await.expect("sim b");
    let ctx = limited_ctx(&w, 1, Duration::from_secs(30));
    // The one permit is taken: both routers read, plan, and queue for it.
    let held = ctx.limiter.try_permit().expect("permit");
    let mut a = RouterWorker::new(w.router_cfg(), w.tenant.clone(), ctx.clone());
    let mut bw = RouterWorker::new(second_router(&w, &b), w.tenant.clone(), ctx.clone());
    let a = tokio::spawn(async move { a.try_step(Scope::Full).await });
    let bt = tokio::spawn(async move { bw.try_step(Scope::Full).await });
    let deadline = Instant::now() + Duration::from_secs(20);
    while waits(&w, "tower-1") + waits(&w, "tower-2") < 2.0 {
        assert!(Instant::now() < deadline, "routers did not queue");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(w.h().rows("/ppp/secret").is_empty() && b.handle().rows("/ppp/secret").is_empty(), "nothing applied yet");
    drop(held);
    for r in [a.await.expect("a"), bt.await.expect("b")] {
        assert_eq!(r.outcome, "ok", "{r:?}");
        assert!(r.drift_fixed > 0 && r.drift_fixed == r.drift_found, "{r:?}");
    }
    assert_eq!(w.h().find("/ppp/secret", "name", "alice@permit").len(), 1);
    assert_eq!(b.handle().find("/ppp/secret", "name", "alice@permit").len(), 1);
    assert_eq!(ctx.limiter.available(), 1);
}

#[tokio::test]
async fn limiter_dead_router_holding_permit_times_out_and_releases_it() {
    let w = World::new("deadpermit").await;
    w.plan("home", 10_000, 2_000).await;
    w.active_subscriber("alice", "home", None).await;
    // Router A reads and plans, takes the one permit, then never answers its writes.
    w.h().inject(Fault::hang("/ppp/secret/add"));
    let b = Simulator::start("127.0.0.1:0", SimConfig::new("admin", "pw")).await.expect("sim b");
    let ctx = limited_ctx(&w, 1, Duration::from_secs(2));
    let mut a = RouterWorker::new(w.router_cfg(), w.tenant.clone(), ctx.clone());
    let a = tokio::spawn(async move { a.try_step(Scope::Full).await });
    let deadline = Instant::now() + Duration::from_secs(20);
    while ctx.limiter.available() > 0 {
        assert!(Instant::now() < deadline, "router A never took the permit");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut bw = RouterWorker::new(second_router(&w, &b), w.tenant.clone(), ctx.clone());
    let rb = bw.try_step(Scope::Full).await;
    assert_eq!(rb.outcome, "ok", "{rb:?}");
    assert_eq!(waits(&w, "tower-2"), 1.0, "B waited for A's permit");
    assert_eq!(b.handle().find("/ppp/secret", "name", "alice@deadpermit").len(), 1);
    let ra = a.await.expect("a");
    assert_eq!(ra.error_label, Some("timeout"), "{ra:?}");
    assert_eq!(ctx.limiter.available(), 1, "the dead router's permit was released");
}

#[tokio::test]
async fn reconcile_step_returns_requeue_and_error_policy_backs_off() {
    let w = World::new("ctl").await;
    w.plan("home", 10_000, 2_000).await;
    let mut worker = w.worker();
    let action = konnekted_reconciler::reconcile::reconcile(&mut worker, &w.ctx).await.expect("reconcile");
    assert_eq!(action.requeue_after, Duration::from_secs(300));
    let mut dead = w.router_cfg();
    dead.port = 1;
    let mut dead = konnekted_reconciler::RouterWorker::new(dead, w.tenant.clone(), w.ctx.clone());
    let err = konnekted_reconciler::reconcile::reconcile(&mut dead, &w.ctx).await.expect_err("no router");
    assert_eq!(err.metric_label(), "router_connect");
    let action = konnekted_reconciler::reconcile::error_policy(&err, &w.ctx);
    assert!(action.requeue_after < Duration::from_secs(300));
}

#[tokio::test]
async fn daemon_from_config_file_reconciles_and_counts_passes() {
    let w = World::new("cfg").await;
    w.plan("home", 10_000, 2_000).await;
    w.active_subscriber("alice", "home", None).await;
    let dir = common::TempDir::new("cfg-file");
    let path = dir.0.join("reconciler.toml");
    let text = format!(
        r#"
listen = "127.0.0.1:0"
full_pass_seconds = 300
feed_poll_ms = 200

[[tenant]]
realm = "cfg"
edge_url = "http://{edge}"

[[router]]
name = "tower-1"
tenant = "cfg"
address = "127.0.0.1"
port = {port}
username = "admin"
queue_types = "builtin"
"#,
        edge = w.proxy.addr,
        port = w.sim.local_addr().port()
    );
    std::fs::write(&path, text).expect("write config");
    let (sync_key, password) = (w.sync_key.clone(), "pw".to_owned());
    let config = konnekted_reconciler::Config::load(path.to_str().expect("utf-8 path"), |k| match k {
        "KONNEKTED_SYNC_KEY_CFG" => Some(sync_key.clone()),
        "KONNEKTED_ROUTER_PASSWORD_TOWER_1" => Some(password.clone()),
        _ => None,
    })
    .expect("config");
    let metrics = std::sync::Arc::new(konnekted_reconciler::metrics::Metrics::default());
    let daemon = tokio::spawn(konnekted_reconciler::daemon::run_with(config, metrics.clone()));
    let deadline = Instant::now() + Duration::from_secs(20);
    while w.secret_disabled("alice") != Some(false) {
        assert!(Instant::now() < deadline, "daemon did not reconcile");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let bob = w.subscriber("bob", "home", None).await;
    w.pay(&bob).await;
    while w.secret_disabled("bob") != Some(false) {
        assert!(Instant::now() < deadline, "new paying subscriber did not arrive");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        metrics.render().contains("konnekted_reconciler_passes_total{router=\"tower-1\",kind=\"full\",outcome=\"ok\"}")
    );
    daemon.abort();
}

#[tokio::test]
async fn fast_path_suspension_walls_in_listed_session_and_kicks_the_rest_within_seconds() {
    let w = World::new("fastoff").await;
    w.plan("home", 10_000, 2_000).await;
    let alice = w.active_subscriber("alice", "home", Some("10.20.0.7")).await;
    let carol = w.active_subscriber("carol", "home", None).await;
    w.active_subscriber("bob", "home", None).await;
    let feed = tokio::spawn(w.tenant.clone().run_feed(w.ctx.settings.feed_poll, w.metrics.clone()));
    let task = tokio::spawn(w.worker().run());
    let deadline = Instant::now() + Duration::from_secs(20);
    while w.secret_disabled("alice") != Some(false) || w.secret_disabled("carol") != Some(false) {
        assert!(Instant::now() < deadline, "first full pass did not run");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let h = w.h();
    h.ppp_login("alice@fastoff", "10.20.0.7");
    h.ppp_login("carol@fastoff", "10.20.0.8");
    w.suspend(&alice).await;
    w.suspend(&carol).await;
    while w.secret_disabled("alice") != Some(true)
        || h.find("/ip/firewall/address-list", "address", "10.20.0.7").is_empty()
        || !h.find("/ppp/active", "name", "carol@fastoff").is_empty()
    {
        assert!(Instant::now() < deadline, "suspension did not reach the router");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The pass that walled her in is over (its kicks come last): her session is still there.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(h.find("/ppp/active", "name", "alice@fastoff").len(), 1, "walled in, not kicked");
    assert_eq!(w.secret_disabled("bob"), Some(false));
    feed.abort();
    task.abort();
}

#[tokio::test]
async fn edge_wrong_sync_key_is_unauthorized_and_router_untouched() {
    let w = World::new("badkey").await;
    w.plan("home", 10_000, 2_000).await;
    w.active_subscriber("alice", "home", None).await;
    let mut cfg = w.tenant_cfg();
    cfg.sync_key = konnekted_reconciler::config::Secret::new("not-the-key");
    let tenant = konnekted_reconciler::Tenant::new(cfg, Duration::from_secs(5)).expect("tenant");
    let mut worker = konnekted_reconciler::RouterWorker::new(w.router_cfg(), tenant, w.ctx.clone());
    let r = worker.try_step(Scope::Full).await;
    assert_eq!(r.error_label, Some("edge_unavailable"), "{r:?}");
    assert!(w.h().command_log().is_empty());
    let m = w.metrics.get("konnekted_reconciler_edge_errors_total", &[("tenant", "badkey"), ("label", "unauthorized")]);
    assert_eq!(m, Some(1.0));
}

#[tokio::test]
async fn reconcile_operator_secret_with_same_name_is_reported_once_and_left_alone() {
    let w = World::new("clash").await;
    w.plan("home", 10_000, 2_000).await;
    w.active_subscriber("alice", "home", None).await;
    w.active_subscriber("bob", "home", None).await;
    let h = w.h();
    let theirs = h
        .add("/ppp/secret", &[("name", "alice@clash"), ("password", "operator's"), ("service", "pppoe")])
        .expect("operator's secret");
    let mut worker = w.worker();
    for pass in 0..2 {
        let r = worker.try_step(Scope::Full).await;
        assert_eq!(r.outcome, "ok", "pass {pass}: {r:?}");
        assert_eq!(r.conflicts.len(), 1, "{r:?}");
        assert!(r.conflicts[0].contains("\"alice@clash\""), "{r:?}");
    }
    // The rest of the pass went ahead; the operator's secret is as they left it.
    assert_eq!(w.secret_disabled("bob"), Some(false));
    let alice = h.find("/ppp/secret", "name", "alice@clash");
    assert_eq!(alice.len(), 1);
    assert_eq!(alice[0].id(), Some(theirs.as_str()));
    assert_eq!(alice[0].get("password"), Some("operator's"));
    assert_eq!(alice[0].get("comment"), None);
    let m = |name| w.metrics.get(name, &[("router", "tower-1")]);
    assert_eq!(m("konnekted_reconciler_conflicts"), Some(1.0));
    assert_eq!(m("konnekted_reconciler_conflicts_found_total"), Some(1.0), "counted once over two passes");
    assert!(
        w.metrics
            .get("konnekted_reconciler_errors_total", &[("router", "tower-1"), ("label", "router_trap")])
            .is_none()
    );
    // The operator renames theirs: the next pass adds ours and the conflict is gone.
    h.set("/ppp/secret", &theirs, &[("name", "alice-old")]).expect("rename");
    let r = worker.try_step(Scope::Full).await;
    assert!(r.conflicts.is_empty(), "{r:?}");
    assert_eq!(w.secret_disabled("alice"), Some(false));
    assert_eq!(m("konnekted_reconciler_conflicts"), Some(0.0));
}

#[tokio::test]
async fn fast_path_operator_secret_with_same_name_is_a_conflict_not_a_trap() {
    let w = World::new("clashfast").await;
    // Unpaid subscribers have no secret at all, so a payment makes the fast path add one.
    let mut cfg = w.tenant_cfg();
    cfg.suspend_policy = konnekted_reconciler::config::SuspendPolicy::Remove;
    let tenant = konnekted_reconciler::Tenant::new(cfg, Duration::from_secs(5)).expect("tenant");
    w.plan("home", 10_000, 2_000).await;
    w.active_subscriber("bob", "home", None).await;
    let carol = w.subscriber("carol", "home", None).await;
    let mut worker = RouterWorker::new(w.router_cfg(), tenant.clone(), w.ctx.clone());
    assert_eq!(worker.try_step(Scope::Full).await.outcome, "ok");
    let h = w.h();
    h.add("/ppp/secret", &[("name", "carol@clashfast"), ("password", "x")]).expect("operator's secret");
    h.ppp_login("carol@clashfast", "10.30.0.9");
    w.pay(&carol).await;
    assert!(tenant.poll_feed(&w.metrics).await.expect("feed") > 0);
    let r = worker.try_step(Scope::Subscribers([carol].into())).await;
    assert_eq!(r.outcome, "ok", "{r:?}");
    assert_eq!(r.conflicts.len(), 1, "{r:?}");
    assert_eq!(h.find("/ppp/secret", "name", "carol@clashfast").len(), 1);
    assert_eq!(h.find("/ppp/active", "name", "carol@clashfast").len(), 1, "their session is not ours to kick");
}

/// A tenant whose guard counts over a 10-minute window (20 %, at least 5), with 30 active
/// subscribers on one plan: the setup of the rolling-window guard tests.
async fn guarded_world_of_30(tag: &str) -> (World, Vec<String>) {
    let w = World::with_guard(tag, GuardConfig { max_disable_share: 0.2, min_count: 5, window_seconds: 600 }).await;
    w.plan("home", 10_000, 2_000).await;
    let mut ids = Vec::new();
    for i in 0..30 {
        ids.push(w.active_subscriber(&format!("m{i}"), "home", None).await);
    }
    (w, ids)
}

#[tokio::test]
async fn guard_suspensions_one_at_a_time_are_counted_over_the_window_and_held_until_confirmed() {
    let (w, ids) = guarded_world_of_30("roll").await;
    let addr =
        konnekted_reconciler::http::serve_with(([127, 0, 0, 1], 0).into(), w.metrics.clone(), w.ctx.ledger.clone())
            .await
            .expect("http");
    let mut worker = w.worker();
    assert_eq!(worker.try_step(Scope::Full).await.outcome, "ok");
    // Ten suspensions, each reaching the router through its own fast pass (as they do
    // when they arrive 2.5 s apart): 20 % of 30 go through, the rest are held.
    let mut outcomes = Vec::new();
    for id in &ids[..10] {
        w.suspend(id).await;
        assert!(w.tenant.poll_feed(&w.metrics).await.expect("feed") > 0);
        let r = worker.try_step(Scope::Subscribers([id.clone()].into())).await;
        outcomes.push(r.outcome);
    }
    assert_eq!(outcomes, [["ok"; 6].as_slice(), ["refused"; 4].as_slice()].concat());
    let disabled =
        |range: std::ops::Range<usize>| range.map(|i| w.secret_disabled(&format!("m{i}"))).collect::<Vec<_>>();
    assert_eq!(disabled(0..6), vec![Some(true); 6]);
    assert_eq!(disabled(6..10), vec![Some(false); 4]);
    // A full pass holds all four; a re-enable still goes through.
    w.patch(&format!("/subscribers/{}", ids[0]), serde_json::json!({"status": "active"})).await;
    let r = worker.try_step(Scope::Full).await;
    assert_eq!(r.outcome, "refused", "{r:?}");
    assert!(r.refusal.as_deref().is_some_and(|m| m.contains("confirm-disables")), "{r:?}");
    assert_eq!(w.secret_disabled("m0"), Some(false), "re-enabled while disables are held");
    let routers: serde_json::Value =
        w.http.get(format!("http://{addr}/routers")).send().await.expect("get").json().await.expect("json");
    assert_eq!(routers["routers"]["tower-1"]["held"]["disables"], 4, "{routers}");
    let health: serde_json::Value =
        w.http.get(format!("http://{addr}/health")).send().await.expect("get").json().await.expect("json");
    assert_eq!(health["routers"]["tower-1"]["held_disables"], 4, "{health}");
    // The operator confirms: the next pass applies them.
    let post = |router: &str| w.http.post(format!("http://{addr}/routers/{router}/confirm-disables")).send();
    assert_eq!(post("nope").await.expect("post").status().as_u16(), 404);
    let ok = post("tower-1").await.expect("post");
    assert_eq!(ok.status().as_u16(), 200);
    let r = worker.try_step(Scope::Full).await;
    assert_eq!(r.outcome, "ok", "{r:?}");
    assert_eq!(disabled(6..10), vec![Some(true); 4]);
    assert_eq!(post("tower-1").await.expect("post").status().as_u16(), 409, "nothing held any more");
}

#[tokio::test]
async fn guard_ten_at_once_refused_then_released_by_confirmation() {
    let (w, ids) = guarded_world_of_30("once").await;
    let mut worker = w.worker();
    assert_eq!(worker.try_step(Scope::Full).await.outcome, "ok");
    for id in &ids[..10] {
        w.suspend(id).await;
    }
    let r = worker.try_step(Scope::Full).await;
    assert_eq!((r.outcome, r.withheld), ("refused", 10), "{r:?}");
    assert_eq!(w.ctx.ledger.held()["tower-1"].as_ref().map(|h| h.disables), Some(10));
    assert_eq!(w.ctx.ledger.confirm("tower-1"), konnekted_reconciler::ledger::Confirmation::Released(10));
    let r = worker.try_step(Scope::Full).await;
    assert_eq!(r.outcome, "ok", "{r:?}");
    assert!((0..10).all(|i| w.secret_disabled(&format!("m{i}")) == Some(true)));
    assert_eq!(w.ctx.ledger.held()["tower-1"], None);
}

/// The operator cannot reach the reconciler's port: the run report tells the edge what is held,
/// the console (here its admin API twin) records the confirmation, the change feed and the
/// desired state bring it back, and the next pass releases exactly the disables held when it was
/// given; subscribers held after it wait for another confirmation.
#[tokio::test]
async fn guard_confirmation_through_the_edge_releases_exactly_the_held_disables() {
    let (w, ids) = guarded_world_of_30("edgeconf").await;
    let mut worker = w.worker();
    assert_eq!(worker.try_step(Scope::Full).await.outcome, "ok");
    for id in &ids[..10] {
        w.suspend(id).await;
    }
    let r = worker.try_step(Scope::Full).await;
    assert_eq!((r.outcome, r.withheld), ("refused", 10), "{r:?}");
    // The run report carried what is held to the edge.
    let reports: serde_json::Value = w
        .http
        .get(format!("{}/api/t/{}/reports?router=tower-1&limit=1", w.base, w.realm))
        .bearer_auth(&w.admin_token)
        .send()
        .await
        .expect("reports")
        .json()
        .await
        .expect("json");
    let held = &reports[0]["report"]["held"];
    assert_eq!(held["disables"], 10, "{reports}");
    let names: Vec<&str> = held["usernames"].as_array().expect("usernames").iter().filter_map(|v| v.as_str()).collect();
    assert_eq!(names.len(), 10);
    assert!(names.contains(&"m0") && names.contains(&"m9"), "{names:?}");
    let hold_id = held["hold_id"].as_u64().expect("hold id");
    assert_eq!(w.ctx.ledger.held()["tower-1"].as_ref().map(|h| h.hold_id), Some(hold_id));
    // The operator confirms on the edge.
    let c = w.post("/routers/tower-1/confirm-disables", serde_json::json!({"hold_id": hold_id})).await;
    assert_eq!((c["disables"].as_u64(), c["recorded"].as_bool()), (Some(10), Some(true)), "{c}");
    // Seven more are suspended after the confirmation was given.
    for id in &ids[10..17] {
        w.suspend(id).await;
    }
    assert!(w.tenant.poll_feed(&w.metrics).await.expect("feed") > 0);
    let r = worker.try_step(Scope::Full).await;
    assert_eq!((r.outcome, r.withheld), ("refused", 7), "{r:?}");
    let disabled =
        |range: std::ops::Range<usize>| range.map(|i| w.secret_disabled(&format!("m{i}"))).collect::<Vec<_>>();
    assert_eq!(disabled(0..10), vec![Some(true); 10], "the confirmed ten are applied");
    assert_eq!(disabled(10..17), vec![Some(false); 7], "the seven held after the confirmation are not");
    // They are a new hold: the old confirmation (still in the desired state) releases nothing.
    let later = w.ctx.ledger.held()["tower-1"].clone().expect("held");
    assert!(later.hold_id > hold_id && later.disables == 7, "{later:?}");
    let r = worker.try_step(Scope::Full).await;
    assert_eq!((r.outcome, r.withheld), ("refused", 7), "{r:?}");
    assert_eq!(disabled(10..17), vec![Some(false); 7]);
    // The edge refuses a confirmation of the old hold now.
    let stale = w
        .http
        .post(format!("{}/api/t/{}/routers/tower-1/confirm-disables", w.base, w.realm))
        .bearer_auth(&w.admin_token)
        .json(&serde_json::json!({"hold_id": hold_id}))
        .send()
        .await
        .expect("post");
    assert_eq!(stale.status().as_u16(), 409);
}

#[tokio::test]
async fn router_show_lists_managed_objects_desired_values_and_drift() {
    let w = World::new("show").await;
    w.plan("home", 10_000, 2_000).await;
    w.active_subscriber("alice", "home", None).await;
    w.active_subscriber("bob", "home", None).await;
    let mut worker = w.worker();
    assert_eq!(worker.try_step(Scope::Full).await.outcome, "ok");
    let h = w.h();
    let alice = h.find("/ppp/secret", "name", "alice@show")[0].id().expect("id").to_owned();
    h.set("/ppp/secret", &alice, &[("disabled", "yes")]).expect("operator disables");
    let q = h.find("/queue/tree", "name", "konnekted-home-up")[0].id().expect("id").to_owned();
    h.set("/queue/tree", &q, &[("disabled", "yes")]).expect("operator disables a queue");

    // The library call.
    let text = konnekted_reconciler::show::show(&w.tenant_cfg(), &w.router_cfg(), None).await.expect("show");
    assert!(text.contains("2 not as desired"), "{text}");
    assert!(text.contains("konnekted:plan:home:queue-up  DRIFT"), "{text}");
    assert!(!text.contains("secret-alice"), "passwords never shown: {text}");

    // The command, as an operator types it, against the simulator.
    let dir = common::TempDir::new("show-cfg");
    let path = dir.0.join("reconciler.toml");
    let text = format!(
        "[[tenant]]\nrealm = \"show\"\nedge_url = \"http://{edge}\"\n\n[[router]]\nname = \"tower-1\"\ntenant = \"show\"\naddress = \"127.0.0.1\"\nport = {port}\nusername = \"admin\"\nqueue_types = \"builtin\"\n",
        edge = w.proxy.addr,
        port = w.sim.local_addr().port()
    );
    std::fs::write(&path, text).expect("config");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_konnekted-reconciler"))
        .args(["router", "show", "tower-1", "--menu", "/ppp/secret", "--config"])
        .arg(&path)
        .env("KONNEKTED_SYNC_KEY_SHOW", &w.sync_key)
        .env("KONNEKTED_ROUTER_PASSWORD_TOWER_1", "pw")
        .output()
        .await
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("2 managed objects in /ppp/secret, 1 not as desired"), "{stdout}");
    assert!(stdout.contains("DRIFT") && stdout.contains("disabled=\"true\" (wants \"false\")"), "{stdout}");
    assert!(!stdout.contains("/queue/tree"), "{stdout}");
    // Nothing was changed.
    assert_eq!(w.secret_disabled("alice"), Some(true));
}

#[tokio::test]
async fn guard_confirmation_not_needed_by_the_next_pass_does_not_carry_over() {
    let (w, ids) = guarded_world_of_30("carry").await;
    let mut worker = w.worker();
    assert_eq!(worker.try_step(Scope::Full).await.outcome, "ok");
    for id in &ids[..10] {
        w.suspend(id).await;
    }
    assert_eq!(worker.try_step(Scope::Full).await.outcome, "refused");
    assert!(matches!(w.ctx.ledger.confirm("tower-1"), konnekted_reconciler::ledger::Confirmation::Released(10)));
    // Before the pass runs, the billing side takes them back: nobody is left to disable.
    for id in &ids[..10] {
        w.patch(&format!("/subscribers/{id}"), serde_json::json!({"status": "active"})).await;
    }
    assert_eq!(worker.try_step(Scope::Full).await.outcome, "ok");
    // A later mass suspension is held again: the confirmation was used up.
    for id in &ids[10..20] {
        w.suspend(id).await;
    }
    let r = worker.try_step(Scope::Full).await;
    assert_eq!((r.outcome, r.withheld), ("refused", 10), "{r:?}");
}

#[tokio::test]
async fn feed_voucher_redeemed_is_skipped_without_reload_or_nudge() {
    let w = World::new("vfeed").await;
    w.plan("home", 10_000, 2_000).await;
    w.active_subscriber("bob", "home", None).await;
    w.post(
        "/plans",
        serde_json::json!({"code": "h1", "name": "1 hour", "kind": "hotspot", "price_cents": 1000,
                           "period_seconds": 3600, "down_kbps": 2000, "up_kbps": 1000}),
    )
    .await;
    let batch = w.post("/voucher-batches", serde_json::json!({"plan": "h1", "count": 1})).await;
    let id = batch["batch"]["id"].as_u64().expect("batch id");
    let codes: serde_json::Value = w
        .http
        .get(format!("{}/api/t/{}/voucher-batches/{id}/codes", w.base, w.realm))
        .bearer_auth(&w.admin_token)
        .send()
        .await
        .expect("codes")
        .json()
        .await
        .expect("codes json");
    let code = codes["codes"][0]["code"].as_str().expect("code").replace('-', "");

    // The reconciler's baseline, then a hotspot code's first use (as FreeRADIUS asks for it).
    let (before, _) = w.tenant.desired(Duration::ZERO, &w.metrics).await.expect("desired");
    let mut nudges = w.tenant.subscribe();
    let r = w
        .http
        .post(format!("{}/radius/voucher", w.base))
        .header(
            konnekted_sync_proto::HEADER_VOUCHER_KEY,
            konnekted_sync_proto::radius_voucher_key(w.sync_key.as_bytes()),
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("realm={}&code={code}&mac=02-00-00-00-00-07&ip=10.5.50.7", w.realm))
        .send()
        .await
        .expect("redeem");
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap_or_default());

    // The poll sees the change and moves past it: no nudge, no reload of the state.
    assert_eq!(w.tenant.poll_feed(&w.metrics).await.expect("feed"), 1);
    assert!(matches!(nudges.try_recv(), Err(tokio::sync::broadcast::error::TryRecvError::Empty)), "no nudge");
    let (known, stale) = w.tenant.last_known().expect("cached");
    assert!(!stale);
    assert_eq!(known.subscribers, before.subscribers, "bob untouched, nothing added");
    let (next, _) = w.tenant.desired(Duration::from_secs(3600), &w.metrics).await.expect("desired");
    assert!(Arc::ptr_eq(&known, &next), "the cached state serves the next pass (no reload)");
    assert!(next.cursor > before.cursor, "the cursor moved past the change");
    // And not again: the next poll is empty (no loop).
    assert_eq!(w.tenant.poll_feed(&w.metrics).await.expect("feed"), 0);
    assert!(matches!(nudges.try_recv(), Err(tokio::sync::broadcast::error::TryRecvError::Empty)));
}

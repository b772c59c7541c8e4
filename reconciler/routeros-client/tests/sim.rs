//! The client against the simulator over TCP: concurrency, trap typing, timeout, fatal, reconnect.

use std::collections::HashSet;
use std::time::Duration;

use routeros_client::{Backoff, Client, Command, Config, ErrorKind, Reconnecting, connect_tcp};
use routeros_sim::{Fault, SimConfig, Simulator};

async fn setup(sim_cfg: SimConfig) -> (Simulator, Client) {
    let sim = Simulator::start("127.0.0.1:0", sim_cfg).await.expect("sim");
    let cfg = Config::new("admin", "x").command_timeout(Duration::from_secs(5));
    let (client, conn) = connect_tcp(sim.local_addr(), &cfg).await.expect("connect");
    tokio::spawn(conn);
    (sim, client)
}

#[tokio::test]
async fn client_concurrent_adds_all_land_with_unique_ids() {
    let (sim, client) = setup(SimConfig::new("admin", "x").rtt(Duration::from_millis(5))).await;
    // A router refuses a secret naming a profile it does not have.
    client.add("/ppp/profile", &[("name", "10M")]).await.expect("profile");
    let mut tasks = Vec::new();
    for i in 0..300 {
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            c.add("/ppp/secret", &[("name", &format!("user{i}")), ("profile", "10M")]).await
        }));
    }
    let mut ids = HashSet::new();
    for t in tasks {
        ids.insert(t.await.expect("join").expect("add"));
    }
    assert_eq!(ids.len(), 300);
    assert_eq!(sim.handle().rows("/ppp/secret").len(), 300);
    assert_eq!(client.count("/ppp/secret", &["?profile=10M"]).await.expect("count"), 300);
    // All tags distinct: the simulator saw 300 distinct tags among the adds.
    let tags: HashSet<_> = sim.handle().command_log().into_iter().filter_map(|r| r.tag).collect();
    assert!(tags.len() >= 301);
}

#[tokio::test]
async fn client_pipelines_within_window() {
    // With a 300 ms RTT, 32 concurrent prints complete in a handful of RTTs only if
    // they are pipelined; we don't assert time, we assert the simulator saw them all
    // before any answer: in-flight count reached the window.
    let sim = Simulator::start("127.0.0.1:0", SimConfig::new("admin", "x").rtt(Duration::from_millis(300)))
        .await
        .expect("sim");
    let cfg = Config::new("admin", "x").window(8);
    let (client, conn) = connect_tcp(sim.local_addr(), &cfg).await.expect("connect");
    tokio::spawn(conn);
    let h = sim.handle();
    let before = h.stats().sentences;
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let c = client.clone();
        tasks.push(tokio::spawn(async move { c.print("/system/identity", &[], &[]).await }));
    }
    // Wait until the first batch reached the simulator; it must be exactly the window.
    let mut seen = 0;
    for _ in 0..200 {
        seen = h.stats().sentences - before;
        if seen >= 8 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(seen, 8, "first batch = window");
    for t in tasks {
        t.await.expect("join").expect("print");
    }
    assert_eq!(h.stats().sentences - before, 16);
}

#[tokio::test]
async fn client_duplicate_add_is_typed_device_error() {
    let (_sim, client) = setup(SimConfig::new("admin", "x")).await;
    client.add("/ppp/secret", &[("name", "alice")]).await.expect("first");
    let err = client.add("/ppp/secret", &[("name", "alice")]).await.expect_err("dup");
    assert_eq!(err.kind(), ErrorKind::Device);
    assert!(err.is_connection_usable());
    assert_eq!(err.trap().map(|t| t.message.as_str()), Some("failure: secret with the same name already exists"));
    let err = client.remove("/ppp/secret", "*99").await.expect_err("missing");
    assert_eq!(err.trap().map(|t| (t.category, t.message.as_str())), Some((Some(0), "no such item")));
    let err = client.call(Command::new("/nope/print")).await.expect_err("bad path");
    assert_eq!(err.trap().map(|t| t.message.as_str()), Some("no such command prefix"));
    // The connection still works after traps.
    assert_eq!(client.print("/ppp/secret", &["name"], &[]).await.expect("print").len(), 1);
}

#[tokio::test]
async fn client_hung_command_times_out_and_is_cancelled() {
    let (sim, client) = setup(SimConfig::new("admin", "x")).await;
    sim.handle().inject(Fault::hang("/ppp/active/print").times(1));
    let err = client
        .call_with_timeout(Command::new("/ppp/active/print"), Duration::from_millis(100))
        .await
        .expect_err("timeout");
    assert_eq!(err.kind(), ErrorKind::Timeout);
    // Next command works, and the simulator received the /cancel.
    client.print("/ppp/active", &[], &[]).await.expect("after timeout");
    assert!(sim.handle().command_log().iter().any(|r| r.command == "/cancel"));
}

#[tokio::test]
async fn client_quit_is_fatal_not_device() {
    let (_sim, client) = setup(SimConfig::new("admin", "x")).await;
    let err = client.call(Command::new("/quit")).await.expect_err("fatal");
    assert_eq!(err.kind(), ErrorKind::Fatal);
    assert_eq!(err.fatal_reason(), Some("session terminated on request"));
    assert!(!err.is_connection_usable());
    let err = client.print("/ppp/secret", &[], &[]).await.expect_err("closed");
    assert_eq!(err.kind(), ErrorKind::Closed);
}

#[tokio::test]
async fn client_dropped_connection_fails_in_flight() {
    let (sim, client) = setup(SimConfig::new("admin", "x").rtt(Duration::from_millis(200))).await;
    let c = client.clone();
    let call = tokio::spawn(async move { c.print("/ppp/secret", &[], &[]).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    sim.handle().drop_connections();
    let err = call.await.expect("join").expect_err("dropped");
    assert!(matches!(err.kind(), ErrorKind::Closed | ErrorKind::Io), "{err:?}");
}

#[tokio::test]
async fn client_legacy_router_logs_in_via_challenge_fallback() {
    let (_sim, client) = setup(SimConfig::new("admin", "x").legacy_login_only()).await;
    let rows = client.print("/system/resource", &["version"], &[]).await.expect("print");
    assert!(rows[0].get("version").is_some_and(|v| v.starts_with('6')));
}

#[tokio::test]
async fn client_wrong_password_is_login_error() {
    let sim = Simulator::start("127.0.0.1:0", SimConfig::new("admin", "x")).await.expect("sim");
    let err = connect_tcp(sim.local_addr(), &Config::new("admin", "wrong")).await.expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::Login);
}

#[tokio::test]
async fn client_queries_and_set_round_trip() {
    let (sim, client) = setup(SimConfig::new("admin", "x")).await;
    for p in ["5M", "10M"] {
        client.add("/ppp/profile", &[("name", p)]).await.expect("profile");
    }
    for (n, p) in [("a", "5M"), ("b", "10M"), ("c", "10M")] {
        client.add("/ppp/secret", &[("name", n), ("profile", p)]).await.expect("add");
    }
    let rows = client.print("/ppp/secret", &["name"], &["?profile=10M", "?name=a", "?#|"]).await.expect("print");
    let names: Vec<_> = rows.iter().filter_map(|r| r.get("name")).collect();
    assert_eq!(names, ["a", "b", "c"]);
    let b = client.print("/ppp/secret", &[".id"], &["?name=b"]).await.expect("b");
    let id = b[0].id().expect("id").to_owned();
    client.set("/ppp/secret", &id, &[("disabled", "yes")]).await.expect("set");
    assert_eq!(sim.handle().find("/ppp/secret", "name", "b")[0].get("disabled"), Some("true"));
    client.set("/system/identity", "", &[("name", "tower-03")]).await.expect("identity");
    assert_eq!(sim.handle().rows("/system/identity")[0].get("name"), Some("tower-03"));
    assert!(client.print("/queue/tree", &[], &[]).await.expect("empty").is_empty());
}

#[tokio::test]
async fn reconnecting_client_recovers_after_drop() {
    let sim = Simulator::start("127.0.0.1:0", SimConfig::new("admin", "x")).await.expect("sim");
    let addr = sim.local_addr();
    let cfg = Config::new("admin", "x");
    let rc = Reconnecting::spawn(
        move || {
            let cfg = cfg.clone();
            async move { connect_tcp(addr, &cfg).await }
        },
        Backoff { initial: Duration::from_millis(10), max: Duration::from_millis(50) },
        Duration::from_secs(3),
    );
    rc.call(Command::new("/system/identity/print")).await.expect("first");
    sim.handle().drop_connections();
    // Calls may fail while the drop is noticed; within a few tries it is back.
    let mut ok = false;
    for _ in 0..50 {
        if rc.call(Command::new("/system/identity/print")).await.is_ok() {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ok, "reconnected");
    assert!(sim.handle().stats().connections >= 2);
}

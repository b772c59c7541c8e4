//! The reconciler reaches a router through a real WireGuard tunnel (architecture §2).
//!
//! The router side is a network namespace made by the test: a veth pair joins it to this one,
//! userspace WireGuard (`wireguard-go`, the kernel module is not needed) runs on both ends, and
//! the RouterOS simulator listens inside it. The far end is configured from what `router onboard`
//! put on the simulator (the script's private key, peer, preshared key, endpoint and tunnel
//! address, exactly as the operator pasted them), the near end from the printed `[Peer]`. The
//! simulator refuses an API peer outside `/ip/service api address`, as a router does, so the
//! first pass succeeding (and changing nothing) means it came through the tunnel; the same router
//! reached over the veth, outside the tunnel, is refused.
//!
//! Needs root, `ip`, `wg` and `wireguard-go` (Debian: `wireguard-tools`, `wireguard-go`). Without
//! them it says so and passes, unless `KONNEKTED_REQUIRE_WIREGUARD=1` (the test command sets it).

mod common;

use std::os::fd::AsFd;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{TempDir, World, apply_script_command};
use konnekted_reconciler::Config;
use konnekted_reconciler::onboard::{self, OnboardRequest};
use konnekted_reconciler::{RouterWorker, Scope};
use routeros_sim::{SimConfig, SimHandle, Simulator};

const QUIET: &str = "WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD";

fn run(args: &[&str]) -> Result<String, String> {
    let out = Command::new(args[0]).args(&args[1..]).output().map_err(|e| format!("{}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!("{}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

fn must(args: &[&str]) -> String {
    run(args).unwrap_or_else(|e| panic!("{e}"))
}

/// Why the test cannot run here, if it cannot.
fn missing() -> Option<String> {
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(1) == Some("0")));
    if uid != Some(true) {
        return Some("not root (network namespaces need it)".into());
    }
    for tool in ["ip", "wg", "wireguard-go"] {
        if run(&["sh", "-c", &format!("command -v {tool}")]).is_err() {
            return Some(format!("{tool} is not installed"));
        }
    }
    None
}

/// The namespace, links and WireGuard processes of one run; all removed on drop.
struct Net {
    ns: String,
    veth: String,
    wg: String,
    children: Vec<Child>,
}

impl Net {
    fn wireguard_go(&mut self, netns: Option<&str>, iface: &str) {
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, "wireguard-go", "-f", iface]);
                c
            }
            None => {
                let mut c = Command::new("wireguard-go");
                c.args(["-f", iface]);
                c
            }
        };
        let child = cmd.env(QUIET, "1").stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("wireguard-go");
        self.children.push(child);
        let show: Vec<&str> = match netns {
            Some(ns) => vec!["ip", "netns", "exec", ns, "ip", "link", "show", iface],
            None => vec!["ip", "link", "show", iface],
        };
        for _ in 0..100 {
            if run(&show).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("wireguard-go did not make {iface}");
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = run(&["ip", "link", "del", &self.wg]);
        let _ = run(&["ip", "link", "del", &self.veth]);
        let _ = run(&["ip", "netns", "del", &self.ns]);
    }
}

/// Starts the simulator on a thread that lives in network namespace `ns`, listening on every
/// address there; the handle controls it from here. Dropping the sender stops it.
fn simulator_in(ns: &str, port: u16) -> (SimHandle, std::sync::mpsc::Sender<()>) {
    let path = format!("/run/netns/{ns}");
    let (tx, rx) = std::sync::mpsc::channel::<SimHandle>();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).expect("open the namespace");
        rustix::thread::move_into_link_name_space(file.as_fd(), Some(rustix::thread::LinkNameSpaceType::Network))
            .expect("setns");
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async move {
            let sim = Simulator::start(&format!("0.0.0.0:{port}"), SimConfig::new("admin", "pw")).await.expect("sim");
            tx.send(sim.handle()).expect("hand over");
            // Serve until the test drops the sender.
            let _ = tokio::task::spawn_blocking(move || stop_rx.recv()).await;
            drop(sim);
        });
    });
    (rx.recv_timeout(Duration::from_secs(10)).expect("simulator started"), stop_tx)
}

fn field<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.trim_start().strip_prefix('=')))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {key} in {text}"))
}

#[tokio::test]
async fn reconciler_reaches_an_onboarded_router_through_a_wireguard_tunnel() {
    if let Some(why) = missing() {
        assert!(std::env::var("KONNEKTED_REQUIRE_WIREGUARD").as_deref() != Ok("1"), "WireGuard test required: {why}");
        eprintln!("skipped: {why}");
        return;
    }
    let w = World::new("wgtun").await;
    let dir = TempDir::new("wg");
    let tag = std::process::id() % 10_000;
    let x = std::process::id() % 200 + 20;
    let mut net =
        Net { ns: format!("ktwg-r{tag}"), veth: format!("ktv{tag}a"), wg: format!("ktwg{tag}"), children: Vec::new() };
    let listen_port = std::net::UdpSocket::bind("0.0.0.0:0").expect("udp").local_addr().expect("addr").port();

    // The reconciler's tunnel end, and its router's onboarding.
    let (server_private, server_public) = onboard::wg_keypair();
    let base = format!(
        "[wireguard]\npublic_key = \"{server_public}\"\nendpoint = \"10.250.{x}.1:{listen_port}\"\naddress = \"10.251.{x}.1\"\nnetwork = \"10.251.{x}.0/24\"\n"
    );
    let mut config = Config::from_toml(&base).expect("config");
    config.tenants = vec![w.tenant_cfg()];
    let req = OnboardRequest {
        tenant: w.realm.clone(),
        name: "tower-wg".into(),
        hotspot: false,
        hotspot_profile: "default".into(),
        pools: Vec::new(),
    };
    let o = onboard::onboard(&config, &req).expect("onboard");

    // The router's namespace, joined to this one by a veth pair (the "internet" the tunnel runs over).
    must(&["ip", "netns", "add", &net.ns]);
    let peer_veth = format!("ktv{tag}b");
    must(&["ip", "link", "add", &net.veth, "type", "veth", "peer", "name", &peer_veth]);
    must(&["ip", "link", "set", &peer_veth, "netns", &net.ns]);
    must(&["ip", "addr", "add", &format!("10.250.{x}.1/30"), "dev", &net.veth]);
    must(&["ip", "link", "set", &net.veth, "up"]);
    let ns = net.ns.clone();
    let in_ns = |args: &[&str]| -> String {
        let mut all = vec!["ip", "netns", "exec", ns.as_str()];
        all.extend_from_slice(args);
        must(&all)
    };
    in_ns(&["ip", "addr", "add", &format!("10.250.{x}.2/30"), "dev", &peer_veth]);
    in_ns(&["ip", "link", "set", &peer_veth, "up"]);
    in_ns(&["ip", "link", "set", "lo", "up"]);

    // The router: a simulator in its namespace, configured by pasting the onboarding script.
    let (h, _stop) = simulator_in(&net.ns, 8728);
    for cmd in onboard::parse_script(&o.script(&req)).expect("script parses") {
        apply_script_command(&h, &cmd).unwrap_or_else(|e| panic!("{}: {e}", onboard::render(&cmd)));
    }

    // The router's WireGuard end, from what the script left on the router.
    let iface = &h.find("/interface/wireguard", "name", onboard::WG_INTERFACE)[0];
    let peer = &h.rows("/interface/wireguard/peers")[0];
    let address = h.find("/ip/address", "interface", onboard::WG_INTERFACE)[0].get("address").expect("addr").to_owned();
    let key_file = |name: &str, value: &str| {
        let p = dir.0.join(name);
        std::fs::write(&p, format!("{value}\n")).expect("key file");
        p.to_string_lossy().into_owned()
    };
    let router_key = key_file("router.key", iface.get("private-key").expect("private key"));
    let psk = key_file("psk", peer.get("preshared-key").expect("psk"));
    net.wireguard_go(Some(&net.ns.clone()), "wg0");
    let endpoint =
        format!("{}:{}", peer.get("endpoint-address").expect("endpoint"), peer.get("endpoint-port").expect("port"));
    in_ns(&["wg", "set", "wg0", "private-key", &router_key]);
    in_ns(&[
        "wg",
        "set",
        "wg0",
        "peer",
        peer.get("public-key").expect("public key"),
        "preshared-key",
        &psk,
        "endpoint",
        &endpoint,
        "allowed-ips",
        peer.get("allowed-address").expect("allowed"),
        "persistent-keepalive",
        "25",
    ]);
    in_ns(&["ip", "addr", "add", &address, "dev", "wg0"]);
    in_ns(&["ip", "link", "set", "wg0", "up"]);

    // The reconciler's end, from the printed [Peer].
    let printed = o.server_peer(&req);
    let server_key = key_file("server.key", server_private.expose());
    let psk2 = key_file("psk2", field(&printed, "PresharedKey"));
    net.wireguard_go(None, &net.wg.clone());
    must(&["wg", "set", &net.wg, "private-key", &server_key, "listen-port", &listen_port.to_string()]);
    must(&[
        "wg",
        "set",
        &net.wg,
        "peer",
        field(&printed, "PublicKey"),
        "preshared-key",
        &psk2,
        "allowed-ips",
        field(&printed, "AllowedIPs"),
    ]);
    must(&["ip", "addr", "add", &format!("10.251.{x}.1/24"), "dev", &net.wg]);
    must(&["ip", "link", "set", &net.wg, "up"]);

    // The reconciler, configured with the printed [[router]] block, reaches the router through the
    // tunnel as the onboarded user; its first pass changes nothing.
    let full = Config::from_toml(&format!("{base}{}", o.router_toml)).expect("config with the router");
    let router = full.routers.last().cloned().expect("router block");
    assert_eq!(router.address, format!("10.251.{x}.2"));
    let mut worker = RouterWorker::new(router.clone(), w.tenant.clone(), w.ctx.clone());
    let mut r = worker.try_step(Scope::Full).await;
    for _ in 0..20 {
        if r.outcome == "ok" {
            break;
        }
        // The first handshake can take a moment.
        tokio::time::sleep(Duration::from_millis(250)).await;
        r = worker.try_step(Scope::Full).await;
    }
    assert_eq!(r.outcome, "ok", "{r:?}");
    assert_eq!(r.drift_found, 0, "first pass after onboarding must change nothing: {r:?}");

    let transfer = must(&["wg", "show", &net.wg, "transfer"]);
    let received: u64 = transfer.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("transfer");
    assert!(received > 1_000, "the session's bytes came through the tunnel: {transfer}");

    // The same router over the veth, outside the tunnel, is refused by /ip/service api address.
    let mut outside = router.clone();
    outside.address = format!("10.250.{x}.2");
    let mut worker = RouterWorker::new(outside, w.tenant.clone(), w.ctx.clone());
    let r = worker.try_step(Scope::Full).await;
    assert_ne!(r.outcome, "ok", "a peer outside the tunnel must be refused: {r:?}");
    drop(net);
}

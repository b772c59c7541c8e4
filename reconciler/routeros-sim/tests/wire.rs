//! The simulator on the wire: exact reply sentences for raw requests.

use std::time::Duration;

use bytes::BytesMut;
use routeros_proto::login::challenge_response;
use routeros_proto::{Sentence, encode_sentence};
use routeros_sim::{Fault, Flavour, SimConfig, SimHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

struct Peer {
    io: DuplexStream,
    buf: BytesMut,
}

impl Peer {
    fn start(sim: &SimHandle) -> Peer {
        let (a, b) = tokio::io::duplex(1 << 16);
        sim.serve(b);
        Peer { io: a, buf: BytesMut::new() }
    }

    async fn send(&mut self, words: &[&str]) {
        let mut out = Vec::new();
        encode_sentence(words.iter().copied(), &mut out).expect("encode");
        self.io.write_all(&out).await.expect("write");
    }

    /// The next sentence, or None when the simulator closed the connection.
    async fn recv(&mut self) -> Option<Vec<String>> {
        loop {
            if let Some(s) = Sentence::parse(&mut self.buf).expect("framing") {
                return Some(s.words);
            }
            let n = tokio::time::timeout(Duration::from_secs(5), self.io.read_buf(&mut self.buf))
                .await
                .expect("reply within 5 s")
                .expect("read");
            if n == 0 {
                return None;
            }
        }
    }

    async fn expect(&mut self, words: &[&str]) {
        assert_eq!(self.recv().await.expect("a sentence"), words);
    }

    async fn login(sim: &SimHandle) -> Peer {
        let mut p = Peer::start(sim);
        p.send(&["/login", "=name=admin", "=password=x"]).await;
        p.expect(&["!done"]).await;
        p
    }
}

fn v7() -> SimHandle {
    SimHandle::new(SimConfig::new("admin", "x"))
}

fn v6() -> SimHandle {
    SimHandle::new(SimConfig::new("admin", "x").flavour(Flavour::V6))
}

#[tokio::test]
async fn login_wrong_password_is_trap_then_done() {
    let sim = v7();
    let mut p = Peer::start(&sim);
    p.send(&["/login", "=name=admin", "=password=nope", ".tag=1"]).await;
    p.expect(&["!trap", ".tag=1", "=message=invalid user name or password (6)"]).await;
    p.expect(&["!done", ".tag=1"]).await;
}

#[tokio::test]
async fn command_before_login_is_fatal_and_closes() {
    let sim = v7();
    let mut p = Peer::start(&sim);
    p.send(&["/ppp/secret/print"]).await;
    p.expect(&["!fatal", "not logged in"]).await;
    assert_eq!(p.recv().await, None);
}

#[tokio::test]
async fn login_v6_challenge_accepts_md5_response() {
    let sim = v6();
    let mut p = Peer::start(&sim);
    p.send(&["/login"]).await;
    let done = p.recv().await.expect("challenge");
    assert_eq!(done[0], "!done");
    let challenge = done[1].strip_prefix("=ret=").expect("ret");
    assert_eq!(challenge.len(), 32);
    let response = challenge_response(b"x", challenge).expect("response");
    p.send(&["/login", "=name=admin", &format!("=response={response}")]).await;
    p.expect(&["!done"]).await;
    p.send(&["/system/identity/print", ".tag=a"]).await;
    p.expect(&["!re", ".tag=a", "=name=MikroTik"]).await;
    p.expect(&["!done", ".tag=a"]).await;
}

#[tokio::test]
async fn login_v7_bare_login_is_refused() {
    let sim = v7();
    let mut p = Peer::start(&sim);
    p.send(&["/login"]).await;
    assert_eq!(p.recv().await.expect("trap")[0], "!trap");
    p.expect(&["!done"]).await;
}

#[tokio::test]
async fn print_empty_v7_sends_empty_before_done() {
    let sim = v7();
    let mut p = Peer::login(&sim).await;
    p.send(&["/ppp/secret/print", ".tag=9"]).await;
    p.expect(&["!empty", ".tag=9"]).await;
    p.expect(&["!done", ".tag=9"]).await;
}

#[tokio::test]
async fn print_empty_v6_sends_only_done() {
    let sim = v6();
    let mut p = Peer::login(&sim).await;
    p.send(&["/ppp/secret/print", ".tag=9"]).await;
    p.expect(&["!done", ".tag=9"]).await;
}

#[tokio::test]
async fn add_returns_hex_id_and_print_shows_it() {
    let sim = v7();
    let mut p = Peer::login(&sim).await;
    for (i, name) in ["a", "b"].iter().enumerate() {
        p.send(&["/ppp/secret/add", &format!("=name={name}"), "=profile=default-encryption"]).await;
        p.expect(&["!done", &format!("=ret=*{}", i + 1)]).await;
    }
    p.send(&["/ppp/secret/print", "=.proplist=.id,name,profile", "?name=b", ".tag=x"]).await;
    p.expect(&["!re", ".tag=x", "=.id=*2", "=name=b", "=profile=default-encryption"]).await;
    p.expect(&["!done", ".tag=x"]).await;
}

#[tokio::test]
async fn print_or_query_and_count_only() {
    let sim = v7();
    for n in ["a", "b", "c"] {
        sim.add("/ppp/secret", &[("name", n)]).expect("add");
    }
    let mut p = Peer::login(&sim).await;
    p.send(&["/ppp/secret/print", "=.proplist=name", "?name=a", "?name=c", "?#|"]).await;
    p.expect(&["!re", "=name=a"]).await;
    p.expect(&["!re", "=name=c"]).await;
    p.expect(&["!done"]).await;
    p.send(&["/ppp/secret/print", "=count-only=", "?name=a", "?#!"]).await;
    p.expect(&["!done", "=ret=2"]).await;
}

#[tokio::test]
async fn traps_have_router_messages() {
    let sim = v7();
    let mut p = Peer::login(&sim).await;
    p.send(&["/ppp/secret/add", "=name=a"]).await;
    p.expect(&["!done", "=ret=*1"]).await;
    p.send(&["/ppp/secret/add", "=name=a", ".tag=1"]).await;
    p.expect(&["!trap", ".tag=1", "=message=failure: secret with the same name already exists"]).await;
    p.expect(&["!done", ".tag=1"]).await;
    p.send(&["/ppp/secret/remove", "=.id=*7", ".tag=2"]).await;
    p.expect(&["!trap", ".tag=2", "=category=0", "=message=no such item"]).await;
    p.expect(&["!done", ".tag=2"]).await;
    p.send(&["/ppp/bogus/print", ".tag=3"]).await;
    p.expect(&["!trap", ".tag=3", "=category=0", "=message=no such command prefix"]).await;
    p.expect(&["!done", ".tag=3"]).await;
    p.send(&["/ppp/secret/set", "=.id=*1", "=colour=red", ".tag=4"]).await;
    p.expect(&["!trap", ".tag=4", "=category=1", "=message=unknown parameter colour"]).await;
    p.expect(&["!done", ".tag=4"]).await;
}

#[tokio::test]
async fn pipelined_commands_answer_in_order_with_tags() {
    let sim = v7();
    sim.set_rtt(Duration::from_millis(20));
    let mut p = Peer::login(&sim).await;
    for i in 0..20 {
        p.send(&["/ip/firewall/address-list/add", "=list=l", &format!("=address=10.0.0.{i}"), &format!(".tag={i}")])
            .await;
    }
    for i in 0..20 {
        p.expect(&["!done", &format!(".tag={i}"), &format!("=ret=*{:X}", i + 1)]).await;
    }
}

#[tokio::test]
async fn quit_is_fatal_and_closes() {
    let sim = v7();
    let mut p = Peer::login(&sim).await;
    p.send(&["/quit", ".tag=5"]).await;
    p.expect(&["!fatal", "session terminated on request"]).await;
    assert_eq!(p.recv().await, None);
}

#[tokio::test]
async fn cancel_hung_command_traps_interrupted() {
    let sim = v7();
    sim.inject(Fault::hang("/ppp/secret/print"));
    let mut p = Peer::login(&sim).await;
    p.send(&["/ppp/secret/print", ".tag=h"]).await;
    p.send(&["/cancel", "=tag=h", ".tag=c"]).await;
    // The cancel's own `!done` comes before the cancelled command's.
    p.expect(&["!trap", ".tag=h", "=category=2", "=message=interrupted"]).await;
    p.expect(&["!done", ".tag=c"]).await;
    p.expect(&["!done", ".tag=h"]).await;
}

#[tokio::test]
async fn injected_trap_applies_to_matching_attribute_only_n_times() {
    let sim = v7();
    sim.inject(Fault::trap("/ppp/secret/add", "boom").category(4).when("name", "bad").times(1));
    let mut p = Peer::login(&sim).await;
    p.send(&["/ppp/secret/add", "=name=good"]).await;
    p.expect(&["!done", "=ret=*1"]).await;
    p.send(&["/ppp/secret/add", "=name=bad"]).await;
    p.expect(&["!trap", "=category=4", "=message=boom"]).await;
    p.expect(&["!done"]).await;
    p.send(&["/ppp/secret/add", "=name=bad"]).await;
    p.expect(&["!done", "=ret=*2"]).await;
}

#[tokio::test]
async fn drop_after_sentences_closes_without_answer() {
    let sim = v7();
    let mut p = Peer::login(&sim).await;
    sim.drop_after_sentences(1);
    p.send(&["/system/identity/print"]).await;
    p.expect(&["!re", "=name=MikroTik"]).await;
    p.expect(&["!done"]).await;
    p.send(&["/system/identity/print"]).await;
    assert_eq!(p.recv().await, None);
}

#[tokio::test]
async fn lying_menu_acknowledges_without_applying() {
    let sim = v7();
    sim.set_lying("/queue/simple", true);
    let mut p = Peer::login(&sim).await;
    p.send(&["/queue/simple/add", "=name=q", "=target=10.0.0.1/32"]).await;
    p.expect(&["!done", "=ret=*1"]).await;
    assert!(sim.rows("/queue/simple").is_empty());
    sim.set_lying("/queue/simple", false);
    p.send(&["/queue/simple/add", "=name=q", "=target=10.0.0.1/32"]).await;
    p.expect(&["!done", "=ret=*2"]).await;
    assert_eq!(sim.find("/queue/simple", "name", "q").len(), 1);
}

#[tokio::test]
async fn ppp_active_from_handle_can_be_kicked_by_api() {
    let sim = v7();
    let id = sim.ppp_login("alice", "10.20.0.15");
    let mut p = Peer::login(&sim).await;
    p.send(&["/ppp/active/print", "=.proplist=.id,name,address"]).await;
    p.expect(&["!re", &format!("=.id={id}"), "=name=alice", "=address=10.20.0.15"]).await;
    p.expect(&["!done"]).await;
    p.send(&["/ppp/active/remove", &format!("=.id={id}")]).await;
    p.expect(&["!done"]).await;
    assert!(sim.rows("/ppp/active").is_empty());
}

#[tokio::test]
async fn operator_edit_is_visible_to_api() {
    let sim = v7();
    let id = sim.add("/ip/firewall/filter", &[("chain", "forward"), ("action", "drop")]).expect("add");
    sim.set("/ip/firewall/filter", &id, &[("comment", "manual")]).expect("set");
    let mut p = Peer::login(&sim).await;
    p.send(&["/ip/firewall/filter/print", "=.proplist=chain,action,comment", "?comment=manual"]).await;
    p.expect(&["!re", "=chain=forward", "=action=drop", "=comment=manual"]).await;
    p.expect(&["!done"]).await;
    sim.remove("/ip/firewall/filter", &id).expect("remove");
    assert!(sim.rows("/ip/firewall/filter").is_empty());
}

#[tokio::test]
async fn enable_disable_and_getall_over_the_wire() {
    let sim = v7();
    let a = sim.add("/ip/hotspot/user", &[("name", "v1"), ("limit-uptime", "1h")]).expect("a");
    let b = sim.add("/ip/hotspot/user", &[("name", "v2")]).expect("b");
    let mut p = Peer::login(&sim).await;
    p.send(&["/ip/hotspot/user/disable", &format!("=.id={a},{b}")]).await;
    p.expect(&["!done"]).await;
    p.send(&["/ip/hotspot/user/getall", "=.proplist=name,disabled", "?disabled=true"]).await;
    p.expect(&["!re", "=name=v1", "=disabled=true"]).await;
    p.expect(&["!re", "=name=v2", "=disabled=true"]).await;
    p.expect(&["!done"]).await;
    p.send(&["/ip/hotspot/user/enable", "=.id=v1"]).await;
    p.expect(&["!done"]).await;
    assert_eq!(sim.find("/ip/hotspot/user", "name", "v1")[0].get("disabled"), Some("false"));
}

#[tokio::test]
async fn radius_and_incoming_are_configurable() {
    let sim = v7();
    let mut p = Peer::login(&sim).await;
    p.send(&["/radius/add", "=address=192.0.2.10", "=secret=s", "=service=ppp,hotspot", "=realm=isp1"]).await;
    p.expect(&["!done", "=ret=*1"]).await;
    p.send(&["/radius/incoming/set", "=accept=yes"]).await;
    p.expect(&["!done"]).await;
    p.send(&["/radius/incoming/print"]).await;
    p.expect(&["!re", "=accept=true", "=port=3799", "=vrf=main"]).await;
    p.expect(&["!done"]).await;
    let r = &sim.rows("/radius")[0];
    assert_eq!((r.get("realm"), r.get("authentication-port")), (Some("isp1"), Some("1812")));
}

#[tokio::test]
async fn hotspot_active_from_handle_is_listed_and_kickable() {
    let sim = v6();
    let id = sim.hotspot_login("code123@isp1", "10.5.0.9", "AA:BB:CC:DD:EE:FF");
    let mut p = Peer::login(&sim).await;
    p.send(&["/ip/hotspot/active/print", "=.proplist=.id,user", "?user=code123@isp1"]).await;
    p.expect(&["!re", &format!("=.id={id}"), "=user=code123@isp1"]).await;
    p.expect(&["!done"]).await;
    p.send(&["/ip/hotspot/active/remove", &format!("=.id={id}")]).await;
    p.expect(&["!done"]).await;
    p.send(&["/ip/hotspot/active/add", "=user=x"]).await;
    p.expect(&["!trap", "=category=0", "=message=no such command"]).await;
    p.expect(&["!done"]).await;
}

//! A scripted fake router over `tokio::io::duplex` that asserts the exact sentences it receives.

use std::time::Duration;

use bytes::BytesMut;
use routeros_client::{Command, Config, ErrorKind, LoginMethod, connect};
use routeros_proto::{Sentence, encode_sentence};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

struct Router {
    io: DuplexStream,
    buf: BytesMut,
}

impl Router {
    async fn expect(&mut self, words: &[&str]) {
        loop {
            if let Some(s) = Sentence::parse(&mut self.buf).expect("framing") {
                assert_eq!(s.words, words);
                return;
            }
            let n = tokio::time::timeout(Duration::from_secs(5), self.io.read_buf(&mut self.buf))
                .await
                .expect("client sent something")
                .expect("read");
            assert!(n > 0, "client closed while router expected {words:?}");
        }
    }

    async fn reply(&mut self, words: &[&str]) {
        let mut out = Vec::new();
        encode_sentence(words.iter().copied(), &mut out).expect("encode");
        self.io.write_all(&out).await.expect("write");
    }
}

fn pair() -> (DuplexStream, Router) {
    let (a, b) = tokio::io::duplex(1 << 16);
    (a, Router { io: b, buf: BytesMut::new() })
}

fn cfg() -> Config {
    Config::new("admin", "test").command_timeout(Duration::from_secs(5))
}

#[tokio::test]
async fn login_plain_sends_exact_sentence() {
    let (io, mut router) = pair();
    let script = tokio::spawn(async move {
        router.expect(&["/login", "=name=admin", "=password=test"]).await;
        router.reply(&["!done"]).await;
        router
    });
    let (client, conn) = connect(io, &cfg()).await.expect("login");
    tokio::spawn(conn);
    let mut router = script.await.expect("script");
    let call = tokio::spawn(async move { client.print("/ppp/secret", &[".id", "name"], &["?name=alice"]).await });
    router.expect(&["/ppp/secret/print", "=.proplist=.id,name", "?name=alice", ".tag=1"]).await;
    router.reply(&["!re", "=.id=*1A", "=name=alice", ".tag=1"]).await;
    router.reply(&["!done", ".tag=1"]).await;
    let rows = call.await.expect("join").expect("print");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].id(), Some("*1A"));
}

#[tokio::test]
async fn login_auto_falls_back_to_md5_challenge() {
    let (io, mut router) = pair();
    let script = tokio::spawn(async move {
        router.expect(&["/login", "=name=admin", "=password=test"]).await;
        router.reply(&["!done", "=ret=259e0bc05acd6f46926dc2f809ed1bba"]).await;
        router.expect(&["/login", "=name=admin", "=response=00c7fd865183a43a772dde231f6d0bff13"]).await;
        router.reply(&["!done"]).await;
    });
    let (_client, _conn) = connect(io, &cfg()).await.expect("login");
    script.await.expect("script");
}

#[tokio::test]
async fn login_legacy_method_requests_challenge_first() {
    let (io, mut router) = pair();
    let script = tokio::spawn(async move {
        router.expect(&["/login"]).await;
        router.reply(&["!done", "=ret=259e0bc05acd6f46926dc2f809ed1bba"]).await;
        router.expect(&["/login", "=name=admin", "=response=00c7fd865183a43a772dde231f6d0bff13"]).await;
        router.reply(&["!done"]).await;
    });
    let (_client, _conn) = connect(io, &cfg().login(LoginMethod::Legacy)).await.expect("login");
    script.await.expect("script");
}

#[tokio::test]
async fn login_refused_is_login_error_with_trap() {
    let (io, mut router) = pair();
    tokio::spawn(async move {
        router.expect(&["/login", "=name=admin", "=password=test"]).await;
        router.reply(&["!trap", "=message=invalid user name or password (6)"]).await;
        router.reply(&["!done"]).await;
        router
    });
    let err = connect(io, &cfg()).await.expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::Login);
    assert_eq!(err.trap().map(|t| t.message.as_str()), Some("invalid user name or password (6)"));
}

#[tokio::test]
async fn login_plain_only_rejects_challenge() {
    let (io, mut router) = pair();
    tokio::spawn(async move {
        router.expect(&["/login", "=name=admin", "=password=test"]).await;
        router.reply(&["!done", "=ret=259e0bc05acd6f46926dc2f809ed1bba"]).await;
        router
    });
    let err = connect(io, &cfg().login(LoginMethod::Plain)).await.expect_err("no fallback");
    assert_eq!(err.kind(), ErrorKind::Login);
}

async fn logged_in() -> (routeros_client::Client, Router, tokio::task::JoinHandle<Result<(), routeros_client::Error>>) {
    let (io, mut router) = pair();
    let script = tokio::spawn(async move {
        router.expect(&["/login", "=name=admin", "=password=test"]).await;
        router.reply(&["!done"]).await;
        router
    });
    let (client, conn) = connect(io, &cfg()).await.expect("login");
    let conn = tokio::spawn(conn);
    (client, script.await.expect("script"), conn)
}

#[tokio::test]
async fn trap_then_done_is_device_error_and_stream_stays_aligned() {
    let (client, mut router, _conn) = logged_in().await;
    let c = client.clone();
    let first = tokio::spawn(async move { c.add("/ppp/secret", &[("name", "a")]).await });
    router.expect(&["/ppp/secret/add", "=name=a", ".tag=1"]).await;
    let c = client.clone();
    let second = tokio::spawn(async move { c.call(Command::new("/system/identity/print")).await });
    router.expect(&["/system/identity/print", ".tag=2"]).await;
    // Answer out of order: the second command first, then the trap and its !done.
    router.reply(&["!re", "=name=tower", ".tag=2"]).await;
    router.reply(&["!trap", "=category=1", "=message=bad value", ".tag=1"]).await;
    router.reply(&["!done", ".tag=2"]).await;
    router.reply(&["!done", ".tag=1"]).await;
    let err = first.await.expect("join").expect_err("trap");
    assert_eq!(err.kind(), ErrorKind::Device);
    let trap = err.trap().expect("trap");
    assert_eq!((trap.category, trap.message.as_str()), (Some(1), "bad value"));
    let ok = second.await.expect("join").expect("print");
    assert_eq!(ok.rows[0].get("name"), Some("tower"));
}

#[tokio::test]
async fn empty_reply_yields_no_rows() {
    let (client, mut router, _conn) = logged_in().await;
    let call = tokio::spawn(async move { client.print("/ppp/active", &[], &[]).await });
    router.expect(&["/ppp/active/print", ".tag=1"]).await;
    router.reply(&["!empty", ".tag=1"]).await;
    router.reply(&["!re", ".tag=1"]).await;
    router.reply(&["!done", ".tag=1"]).await;
    assert!(call.await.expect("join").expect("print").is_empty());
}

#[tokio::test]
async fn fatal_fails_in_flight_commands_and_connection() {
    let (client, mut router, conn) = logged_in().await;
    let c = client.clone();
    let call = tokio::spawn(async move { c.print("/ppp/secret", &[], &[]).await });
    router.expect(&["/ppp/secret/print", ".tag=1"]).await;
    router.reply(&["!fatal", "session terminated on request"]).await;
    let err = call.await.expect("join").expect_err("fatal");
    assert_eq!(err.kind(), ErrorKind::Fatal);
    assert_eq!(err.fatal_reason(), Some("session terminated on request"));
    let conn_err = conn.await.expect("join").expect_err("connection ends");
    assert_eq!(conn_err.kind(), ErrorKind::Fatal);
    let later = client.print("/ppp/secret", &[], &[]).await.expect_err("closed");
    assert_eq!(later.kind(), ErrorKind::Closed);
}

#[tokio::test]
async fn peer_close_fails_in_flight_as_closed() {
    let (client, mut router, _conn) = logged_in().await;
    let call = tokio::spawn(async move { client.print("/ppp/secret", &[], &[]).await });
    router.expect(&["/ppp/secret/print", ".tag=1"]).await;
    drop(router);
    let err = call.await.expect("join").expect_err("closed");
    assert_eq!(err.kind(), ErrorKind::Closed);
}

#[tokio::test]
async fn timeout_sends_cancel_for_the_tag() {
    let (client, mut router, _conn) = logged_in().await;
    let c = client.clone();
    let call = tokio::spawn(async move {
        c.call_with_timeout(Command::new("/ppp/secret/listen"), Duration::from_millis(50)).await
    });
    router.expect(&["/ppp/secret/listen", ".tag=1"]).await;
    let err = call.await.expect("join").expect_err("timeout");
    assert_eq!(err.kind(), ErrorKind::Timeout);
    router.expect(&["/cancel", "=tag=1"]).await;
    router.reply(&["!trap", "=category=2", "=message=interrupted", ".tag=1"]).await;
    router.reply(&["!done", ".tag=1"]).await;
    router.reply(&["!done"]).await;
    // The connection is still usable.
    let next = tokio::spawn(async move { client.call(Command::new("/system/identity/print")).await });
    router.expect(&["/system/identity/print", ".tag=2"]).await;
    router.reply(&["!done", ".tag=2"]).await;
    next.await.expect("join").expect("works");
}

#[tokio::test]
async fn unknown_reply_word_is_ignored() {
    let (client, mut router, _conn) = logged_in().await;
    let call = tokio::spawn(async move { client.print("/x", &[], &[]).await });
    router.expect(&["/x/print", ".tag=1"]).await;
    router.reply(&["!future", ".tag=1"]).await;
    router.reply(&["!done", ".tag=1"]).await;
    assert!(call.await.expect("join").expect("ok").is_empty());
}

#[tokio::test]
async fn reserved_control_byte_is_protocol_error() {
    let (client, mut router, conn) = logged_in().await;
    let call = tokio::spawn(async move { client.print("/x", &[], &[]).await });
    router.expect(&["/x/print", ".tag=1"]).await;
    router.io.write_all(&[0xF8, 0, 0, 0, 0]).await.expect("write");
    let err = call.await.expect("join").expect_err("protocol");
    assert_eq!(err.kind(), ErrorKind::Protocol);
    assert_eq!(conn.await.expect("join").expect_err("ends").kind(), ErrorKind::Protocol);
}

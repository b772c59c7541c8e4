//! The HTTP server's life: a stopped host answers nobody, not even on a connection opened before.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n";

/// Reads one response's head (up to the blank line), or what came before EOF / the deadline.
async fn read_head(conn: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        match tokio::time::timeout_at(deadline, conn.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test]
async fn server_stopped_closes_keep_alive_connections_and_refuses_new_ones() {
    let dir =
        std::env::temp_dir().join(format!("konnekted-server-stop-{}-{}", std::process::id(), rand::random::<u32>()));
    std::fs::create_dir_all(&dir).expect("dir");
    let config = konnekted::Config {
        listen: ([127, 0, 0, 1], 0).into(),
        data_dir: dir.clone(),
        public_base_url: None,
        platform_token: konnekted_core::secret::Secret::new("platform-token-for-the-stop-test"),
        voucher_secret: konnekted_core::secret::Secret::new("voucher-secret-for-the-stop-test"),
        tick_seconds: 3600,
    };
    let running = konnekted::server::launch(&config, None).await.expect("host");
    let mut conn = TcpStream::connect(running.addr).await.expect("connect");
    conn.write_all(HEALTH).await.expect("first request");
    let head = read_head(&mut conn).await;
    assert!(head.starts_with("HTTP/1.1 200"), "served while running: {head:?}");

    running.stop();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The connection opened before the stop is closed, not served on.
    let _ = conn.write_all(HEALTH).await;
    let head = read_head(&mut conn).await;
    assert!(head.is_empty(), "a stopped host answered on an open connection: {head:?}");
    // And nobody new gets in.
    assert!(TcpStream::connect(running.addr).await.is_err(), "a stopped host accepted a connection");
    drop(running);
    let _ = std::fs::remove_dir_all(&dir);
}

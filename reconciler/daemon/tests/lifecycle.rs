//! The daemon as a process: with no routers yet it stays up and serves `/health`, logs JSON
//! lines on stdout when asked, and stops cleanly on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn health(port: u16) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

#[test]
fn with_no_routers_the_daemon_stays_up_serves_health_and_stops_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("konnekted-lifecycle-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("reconciler.toml");
    let port = free_port();
    std::fs::write(&path, format!("listen = \"127.0.0.1:{port}\"\n")).expect("write config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_konnekted-reconciler"))
        .args(["run", "--config"])
        .arg(&path)
        .env("KONNEKTED_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the daemon");

    let deadline = Instant::now() + Duration::from_secs(20);
    let answer = loop {
        if let Some(a) = health(port) {
            break a;
        }
        assert!(child.try_wait().expect("wait").is_none(), "the daemon exited before serving /health");
        assert!(Instant::now() < deadline, "no /health within 20 s");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // Still up a while later: nothing to reconcile is not a reason to exit.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(child.try_wait().expect("wait").is_none(), "the daemon exited with no routers");
    assert!(health(port).is_some_and(|a| a.starts_with("HTTP/1.1 200")));

    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(Instant::now() < deadline, "the daemon did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "exit status {exit:?}");

    // Every line on stdout is one JSON object with a level and a message.
    let lines: Vec<String> =
        BufReader::new(child.stdout.take().expect("stdout")).lines().map(|l| l.expect("utf-8 line")).collect();
    assert!(!lines.is_empty(), "no log lines on stdout");
    for l in &lines {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
        assert!(v["level"].is_string() && v["fields"]["message"].is_string(), "{l}");
    }
    assert!(lines.iter().any(|l| l.contains("no routers to reconcile yet")), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("shutting down")), "{lines:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

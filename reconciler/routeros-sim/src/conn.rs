//! One API connection: reads sentences, executes them in order, and answers
//! each one `rtt` after it arrived (so pipelined commands overlap their delays).

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::BytesMut;
use routeros_proto::login::challenge_response;
use routeros_proto::{Reply, ReplyKind, Request, Sentence};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::state::{SimTrap, no_such_command};
use crate::{FaultAction, Flavour, Shared};

/// Largest word the simulator accepts (a real router limits words before login too).
const MAX_WORD: u64 = 1 << 20;

struct Outgoing {
    due: Instant,
    bytes: Vec<u8>,
    close_after: bool,
}

struct Session {
    logged_in: bool,
    challenge: Option<String>,
    /// Tags of commands that never finish until cancelled (`listen`-like, or a `Hang` fault).
    running: HashSet<Option<String>>,
    last_due: Instant,
}

pub(crate) async fn serve<S>(shared: Arc<Shared>, stream: S)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    shared.stats.connections.fetch_add(1, Ordering::Relaxed);
    shared.stats.open.fetch_add(1, Ordering::Relaxed);
    let mut kill = shared.kill.subscribe();
    let (mut rd, mut wr) = tokio::io::split(stream);
    let (tx, mut rx) = mpsc::unbounded_channel::<Outgoing>();
    let mut writer = tokio::spawn(async move {
        let mut buf = Vec::new();
        while let Some(first) = rx.recv().await {
            wait_until(first.due).await;
            // Send everything already due in one write.
            let mut close = first.close_after;
            buf.clear();
            buf.extend_from_slice(&first.bytes);
            while !close {
                match rx.try_recv() {
                    Ok(next) if next.due <= Instant::now() => {
                        buf.extend_from_slice(&next.bytes);
                        close = next.close_after;
                    }
                    Ok(next) => {
                        if wr.write_all(&buf).await.is_err() {
                            return;
                        }
                        buf.clear();
                        wait_until(next.due).await;
                        buf.extend_from_slice(&next.bytes);
                        close = next.close_after;
                    }
                    Err(_) => break,
                }
            }
            if wr.write_all(&buf).await.is_err() || wr.flush().await.is_err() {
                return;
            }
            if close {
                let _ = wr.shutdown().await;
                return;
            }
        }
        let _ = wr.shutdown().await;
    });

    let mut session = Session { logged_in: false, challenge: None, running: HashSet::new(), last_due: Instant::now() };
    let mut buf = BytesMut::with_capacity(8192);
    'conn: loop {
        // Drain every complete sentence already buffered.
        loop {
            let sentence = match Sentence::parse_with_limit(&mut buf, MAX_WORD) {
                Ok(Some(s)) => s,
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!("sim: bad framing: {e}");
                    writer.abort();
                    break 'conn;
                }
            };
            let arrived = Instant::now();
            shared.stats.sentences.fetch_add(1, Ordering::Relaxed);
            if shared.take_drop_countdown() {
                writer.abort();
                break 'conn;
            }
            let (replies, close) = handle(&shared, &mut session, &sentence);
            let rtt = shared.rtt();
            let due = (arrived + rtt).max(session.last_due);
            session.last_due = due;
            let mut bytes = Vec::new();
            for r in &replies {
                if r.to_sentence().encode(&mut bytes).is_err() {
                    tracing::warn!("sim: reply not encodable");
                }
            }
            if (!bytes.is_empty() || close) && tx.send(Outgoing { due, bytes, close_after: close }).is_err() {
                break 'conn;
            }
            if close {
                drop(tx);
                let _ = (&mut writer).await;
                break 'conn;
            }
        }
        tokio::select! {
            n = rd.read_buf(&mut buf) => match n {
                Ok(0) | Err(_) => {
                    drop(tx);
                    let _ = (&mut writer).await;
                    break 'conn;
                }
                Ok(_) => {}
            },
            _ = kill.changed() => {
                writer.abort();
                break 'conn;
            }
        }
    }
    shared.stats.open.fetch_sub(1, Ordering::Relaxed);
}

/// Sleeps until `due`, without touching the timer when it has already passed
/// (the timer's 1 ms granularity would otherwise cost a millisecond per batch).
async fn wait_until(due: Instant) {
    if due > Instant::now() {
        tokio::time::sleep_until(due.into()).await;
    }
}

fn tagged(mut replies: Vec<Reply>, tag: Option<&str>) -> Vec<Reply> {
    for r in &mut replies {
        if r.kind != ReplyKind::Fatal {
            r.tag = tag.map(str::to_owned);
        }
    }
    replies
}

fn trap_done(trap: &SimTrap) -> Vec<Reply> {
    vec![Reply::trap(trap.category, &trap.message), Reply::new(ReplyKind::Done)]
}

/// Executes one sentence; returns the replies and whether to close afterwards.
fn handle(shared: &Shared, session: &mut Session, sentence: &Sentence) -> (Vec<Reply>, bool) {
    let req = match Request::from_sentence(sentence) {
        Ok(r) => r,
        Err(_) => {
            let tag = sentence.tag().map(str::to_owned);
            return (tagged(trap_done(&no_such_command()), tag.as_deref()), false);
        }
    };
    let tag = req.tag.as_deref();
    if req.command == "/quit" {
        return (vec![Reply::fatal("session terminated on request")], true);
    }
    if req.command == "/login" {
        return (tagged(login(shared, session, &req), tag), false);
    }
    if !session.logged_in {
        return (vec![Reply::fatal("not logged in")], true);
    }
    shared.record(&req);
    if req.command == "/cancel" {
        let mut out = Vec::new();
        let victims: Vec<Option<String>> = match req.attributes.get("tag") {
            Some(t) => session.running.iter().filter(|r| r.as_deref() == Some(t)).cloned().collect(),
            None => session.running.iter().cloned().collect(),
        };
        // As a router answers: each cancelled command's `interrupted` trap, then the
        // cancel's own `!done`, then the cancelled commands' `!done`s.
        for v in &victims {
            session.running.remove(v);
            out.extend(tagged(vec![Reply::trap(Some(2), "interrupted")], v.as_deref()));
        }
        out.extend(tagged(vec![Reply::new(ReplyKind::Done)], tag));
        for v in &victims {
            out.extend(tagged(vec![Reply::new(ReplyKind::Done)], v.as_deref()));
        }
        return (out, false);
    }
    match shared.take_fault(&req) {
        Some(FaultAction::Trap { category, message }) => {
            return (tagged(trap_done(&SimTrap::new(category, message)), tag), false);
        }
        Some(FaultAction::Hang) => {
            session.running.insert(req.tag.clone());
            return (Vec::new(), false);
        }
        Some(FaultAction::Fatal(reason)) => return (vec![Reply::fatal(&reason)], true),
        None => {}
    }
    if req.command.ends_with("/listen") {
        // Accepted and never finishes (the simulator emits no change events); `/cancel` ends it.
        let menu = req.command.trim_end_matches("/listen");
        if crate::schema::menu(menu).is_some() {
            session.running.insert(req.tag.clone());
            return (Vec::new(), false);
        }
    }
    let lying = shared.is_lying(&req.command);
    let result = shared.with_state(|st| st.execute(&req, lying));
    let replies = match result {
        Ok(out) => {
            let mut v: Vec<Reply> =
                out.rows.into_iter().map(|row| Reply { attributes: row, ..Reply::new(ReplyKind::Re) }).collect();
            if out.empty_print && shared.config.flavour == Flavour::V7 {
                v.push(Reply::new(ReplyKind::Empty));
            }
            let mut done = Reply::new(ReplyKind::Done);
            if let Some(ret) = out.ret {
                done.attributes.insert("ret", &ret);
            }
            v.push(done);
            v
        }
        Err(trap) => trap_done(&trap),
    };
    (tagged(replies, tag), false)
}

fn login(shared: &Shared, session: &mut Session, req: &Request) -> Vec<Reply> {
    let cfg = &shared.config;
    let name = req.attributes.get("name");
    let failed = || {
        let msg = match cfg.flavour {
            Flavour::V6 => "cannot log in",
            Flavour::V7 => "invalid user name or password (6)",
        };
        trap_done(&SimTrap::new(None, msg))
    };
    if let (Some(name), Some(response)) = (name, req.attributes.get("response")) {
        let Some(challenge) = session.challenge.take() else {
            return failed();
        };
        let ok = name == cfg.user
            && challenge_response(cfg.password.as_bytes(), &challenge).is_ok_and(|want| want == response);
        if ok {
            session.logged_in = true;
            return vec![Reply::new(ReplyKind::Done)];
        }
        return failed();
    }
    let wants_challenge =
        cfg.flavour == Flavour::V6 && (cfg.legacy_login_only || req.attributes.get("password").is_none());
    if wants_challenge {
        let challenge = shared.new_challenge();
        session.challenge = Some(challenge.clone());
        return vec![Reply::new(ReplyKind::Done).with_attr("ret", &challenge)];
    }
    match (name, req.attributes.get("password")) {
        (Some(n), Some(p)) if (n == cfg.user && p == cfg.password) || shared.with_state(|s| s.api_user(n, p)) => {
            session.logged_in = true;
            vec![Reply::new(ReplyKind::Done)]
        }
        _ => failed(),
    }
}

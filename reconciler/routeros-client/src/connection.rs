//! [`Connection`]: the future that owns the socket, writes queued commands and
//! routes replies to their callers by `.tag`.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use routeros_proto::{Command, Reply, ReplyKind, Row, Sentence};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{mpsc, oneshot};

use crate::{Error, Response, Trap};

pub(crate) struct Call {
    pub tag: u64,
    pub bytes: Bytes,
    pub reply: oneshot::Sender<Result<Response, Error>>,
}

struct Pending {
    reply: oneshot::Sender<Result<Response, Error>>,
    rows: Vec<Row>,
    traps: Vec<Trap>,
    cancelled: bool,
}

/// Iterations of the poll loop before yielding to other tasks.
const BUDGET: usize = 64;
const READ_CHUNK: usize = 16 * 1024;

/// Drives one RouterOS API connection. Spawn it (`tokio::spawn(conn)`); it finishes
/// with `Ok(())` once every [`Client`](crate::Client) is dropped and all commands
/// are answered, or with an error when the connection breaks (every command in flight
/// then fails with the same kind of error).
#[must_use = "the Connection must be spawned or awaited for the Client to work"]
pub struct Connection<S> {
    stream: S,
    calls: mpsc::Receiver<Call>,
    cancels: mpsc::UnboundedReceiver<u64>,
    calls_closed: bool,
    rbuf: BytesMut,
    wbuf: BytesMut,
    scratch: Box<[u8]>,
    need_flush: bool,
    pending: HashMap<u64, Pending>,
    window: usize,
    max_word: u64,
    finished: bool,
}

impl<S> std::fmt::Debug for Connection<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").field("in_flight", &self.pending.len()).field("window", &self.window).finish()
    }
}

impl<S> Connection<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    pub(crate) fn new(
        stream: S,
        leftover: BytesMut,
        calls: mpsc::Receiver<Call>,
        cancels: mpsc::UnboundedReceiver<u64>,
        window: usize,
        max_word: u64,
    ) -> Connection<S> {
        Connection {
            stream,
            calls,
            cancels,
            calls_closed: false,
            rbuf: leftover,
            wbuf: BytesMut::with_capacity(8192),
            scratch: vec![0u8; READ_CHUNK].into_boxed_slice(),
            need_flush: false,
            pending: HashMap::new(),
            window: window.max(1),
            max_word,
            finished: false,
        }
    }

    /// Commands sent and not yet answered.
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }

    fn fail_all(&mut self, err: &Error) {
        for (_, p) in self.pending.drain() {
            let _ = p.reply.send(Err(err.clone()));
        }
        self.finished = true;
    }

    /// Takes queued cancels and calls (while the window has room) into the write buffer.
    fn accept(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progress = false;
        while let Poll::Ready(Some(tag)) = self.cancels.poll_recv(cx) {
            if let Some(p) = self.pending.get_mut(&tag)
                && !p.cancelled
            {
                p.cancelled = true;
                let cmd = Command::new("/cancel").attr("tag", tag.to_string());
                if let Err(e) = cmd.encode(&mut self.wbuf) {
                    tracing::warn!("routeros: cannot encode /cancel: {e}");
                }
            }
            progress = true;
        }
        while !self.calls_closed && self.pending.len() < self.window {
            match self.calls.poll_recv(cx) {
                Poll::Ready(Some(call)) => {
                    if call.reply.is_closed() {
                        // The caller gave up (timeout) before the command was sent.
                        continue;
                    }
                    self.wbuf.extend_from_slice(&call.bytes);
                    self.pending.insert(
                        call.tag,
                        Pending { reply: call.reply, rows: Vec::new(), traps: Vec::new(), cancelled: false },
                    );
                    progress = true;
                }
                Poll::Ready(None) => {
                    self.calls_closed = true;
                    progress = true;
                }
                Poll::Pending => break,
            }
        }
        progress
    }

    fn write(&mut self, cx: &mut Context<'_>) -> Result<bool, Error> {
        let mut progress = false;
        while !self.wbuf.is_empty() {
            match Pin::new(&mut self.stream).poll_write(cx, &self.wbuf) {
                Poll::Ready(Ok(0)) => return Err(Error::closed("socket closed while writing")),
                Poll::Ready(Ok(n)) => {
                    self.wbuf.advance(n);
                    self.need_flush = true;
                    progress = true;
                }
                Poll::Ready(Err(e)) => return Err(Error::io(e)),
                Poll::Pending => return Ok(progress),
            }
        }
        if self.need_flush {
            match Pin::new(&mut self.stream).poll_flush(cx) {
                Poll::Ready(Ok(())) => self.need_flush = false,
                Poll::Ready(Err(e)) => return Err(Error::io(e)),
                Poll::Pending => {}
            }
        }
        Ok(progress)
    }

    fn read(&mut self, cx: &mut Context<'_>) -> Result<bool, Error> {
        let mut rb = ReadBuf::new(&mut self.scratch);
        match Pin::new(&mut self.stream).poll_read(cx, &mut rb) {
            Poll::Ready(Ok(())) => {
                let filled = rb.filled();
                if filled.is_empty() {
                    return Err(Error::closed("router closed the connection"));
                }
                self.rbuf.extend_from_slice(filled);
                self.dispatch()?;
                Ok(true)
            }
            Poll::Ready(Err(e)) => Err(Error::io(e)),
            Poll::Pending => Ok(false),
        }
    }

    /// Routes every complete sentence in the read buffer.
    fn dispatch(&mut self) -> Result<(), Error> {
        while let Some(sentence) = Sentence::parse_with_limit(&mut self.rbuf, self.max_word).map_err(Error::protocol)? {
            let reply = match Reply::from_sentence(sentence) {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!("routeros: ignoring reply: {e}");
                    continue;
                }
            };
            if reply.kind == ReplyKind::Fatal {
                return Err(Error::fatal(reply.fatal_reason.as_deref().unwrap_or("")));
            }
            let Some(tag) = reply.tag.as_deref().and_then(|t| t.parse::<u64>().ok()) else {
                // Untagged: the answer to our own untagged `/cancel`.
                continue;
            };
            let Some(p) = self.pending.get_mut(&tag) else {
                tracing::debug!("routeros: reply for unknown tag {tag}");
                continue;
            };
            match reply.kind {
                ReplyKind::Re if !reply.attributes.is_empty() => p.rows.push(reply.attributes),
                ReplyKind::Re | ReplyKind::Empty | ReplyKind::Fatal => {}
                ReplyKind::Trap => p
                    .traps
                    .push(Trap { category: reply.category(), message: reply.message().unwrap_or_default().to_owned() }),
                ReplyKind::Done => {
                    if let Some(p) = self.pending.remove(&tag) {
                        if p.cancelled {
                            continue;
                        }
                        let result = if p.traps.is_empty() {
                            Ok(Response { rows: p.rows, done: reply.attributes })
                        } else {
                            Err(Error::device(p.traps))
                        };
                        let _ = p.reply.send(result);
                    }
                }
            }
        }
        Ok(())
    }

    fn poll_inner(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        for _ in 0..BUDGET {
            let mut progress = self.accept(cx);
            progress |= self.write(cx)?;
            progress |= self.read(cx)?;
            if self.calls_closed && self.pending.is_empty() && self.wbuf.is_empty() && !self.need_flush {
                return match Pin::new(&mut self.stream).poll_shutdown(cx) {
                    Poll::Ready(_) => Poll::Ready(Ok(())),
                    Poll::Pending => Poll::Pending,
                };
            }
            if !progress {
                return Poll::Pending;
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl<S> Future for Connection<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    type Output = Result<(), Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if this.finished {
            return Poll::Ready(Ok(()));
        }
        match this.poll_inner(cx) {
            Poll::Ready(Err(e)) => {
                this.fail_all(&e);
                // Commands still queued fail as closed when their senders see the channel drop.
                this.calls.close();
                Poll::Ready(Err(e))
            }
            Poll::Ready(Ok(())) => {
                this.finished = true;
                Poll::Ready(Ok(()))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

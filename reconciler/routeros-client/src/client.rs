//! [`Client`]: the cheap, cloneable handle that issues commands.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::BytesMut;
use routeros_proto::{Command, Row};
use tokio::sync::{mpsc, oneshot};

use crate::connection::Call;
use crate::{Error, ErrorKind};

/// The answer to one command: its `!re` rows and the attributes of its `!done`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    /// One row per `!re` that carried attributes (`!empty` and attribute-less rows are dropped).
    pub rows: Vec<Row>,
    /// Attributes of `!done` (e.g. `ret`).
    pub done: Row,
}

impl Response {
    /// `=ret=` of `!done` (the new `.id` after `add`, the count of `=count-only=`).
    pub fn ret(&self) -> Option<&str> {
        self.done.get("ret")
    }
}

struct Inner {
    calls: mpsc::Sender<Call>,
    cancels: mpsc::UnboundedSender<u64>,
    next_tag: AtomicU64,
    timeout: Duration,
}

/// Issues commands on one connection. Clone it freely: all clones share the
/// connection, and their commands are pipelined (each gets its own `.tag`).
///
/// Nothing here blocks or takes a lock: a call encodes its sentence, hands it to the
/// [`Connection`](crate::Connection) over a channel and awaits a oneshot reply.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("closed", &self.is_closed()).finish()
    }
}

impl Client {
    pub(crate) fn new(calls: mpsc::Sender<Call>, cancels: mpsc::UnboundedSender<u64>, timeout: Duration) -> Client {
        Client { inner: Arc::new(Inner { calls, cancels, next_tag: AtomicU64::new(1), timeout }) }
    }

    /// Whether the connection has ended (every call would fail with [`ErrorKind::Closed`]).
    pub fn is_closed(&self) -> bool {
        self.inner.calls.is_closed()
    }

    /// The default per-command timeout.
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// Runs any command with the default timeout. A `.tag` set on `cmd` is replaced
    /// by the client's own. `!trap` becomes an [`ErrorKind::Device`] error.
    pub async fn call(&self, cmd: Command) -> Result<Response, Error> {
        self.call_with_timeout(cmd, self.inner.timeout).await
    }

    /// Runs any command with its own timeout.
    pub async fn call_with_timeout(&self, cmd: Command, timeout: Duration) -> Result<Response, Error> {
        let tag = self.inner.next_tag.fetch_add(1, Ordering::Relaxed);
        let cmd = cmd.tag(tag.to_string());
        let mut bytes = BytesMut::with_capacity(64);
        cmd.encode(&mut bytes).map_err(Error::protocol)?;
        let (tx, rx) = oneshot::channel();
        let call = Call { tag, bytes: bytes.freeze(), reply: tx };
        let exchange = async {
            self.inner.calls.send(call).await.map_err(|_| Error::closed("connection is closed"))?;
            rx.await.map_err(|_| Error::closed("connection closed before the reply"))?
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(result) => result,
            Err(_) => {
                // Free the slot on the router and in the window; the reply, if any, is dropped.
                let _ = self.inner.cancels.send(tag);
                Err(Error::new(ErrorKind::Timeout, format!("{} timed out after {timeout:?}", cmd.path())))
            }
        }
    }

    /// `<path>/print` with an optional `.proplist` (empty = all) and query words
    /// (with or without the leading `?`). Returns the rows.
    ///
    /// `client.print("/ppp/secret", &[".id", "name"], &["?name=alice"])`
    pub async fn print(&self, path: &str, proplist: &[&str], queries: &[&str]) -> Result<Vec<Row>, Error> {
        let mut cmd = Command::on(path, "print");
        if !proplist.is_empty() {
            cmd = cmd.proplist(proplist.iter().copied());
        }
        for q in queries {
            cmd = cmd.query(*q);
        }
        Ok(self.call(cmd).await?.rows)
    }

    /// `<path>/print =count-only=` with query words; returns the count.
    pub async fn count(&self, path: &str, queries: &[&str]) -> Result<u64, Error> {
        let mut cmd = Command::on(path, "print").attr("count-only", "");
        for q in queries {
            cmd = cmd.query(*q);
        }
        let resp = self.call(cmd).await?;
        resp.ret()
            .and_then(|r| r.parse().ok())
            .ok_or_else(|| Error::new(ErrorKind::Protocol, "count-only without a numeric =ret="))
    }

    /// `<path>/add` with attributes; returns the new item's `.id` (`*1A`).
    pub async fn add(&self, path: &str, attrs: &[(&str, &str)]) -> Result<String, Error> {
        let cmd = Command::on(path, "add").attrs(attrs.iter().copied());
        let resp = self.call(cmd).await?;
        resp.ret().map(str::to_owned).ok_or_else(|| Error::new(ErrorKind::Protocol, "add without =ret="))
    }

    /// `<path>/set =.id=<id>` with attributes. `id` may be a comma list; for
    /// single-item menus (`/system/identity`) pass `""` to send no `.id`.
    pub async fn set(&self, path: &str, id: &str, attrs: &[(&str, &str)]) -> Result<(), Error> {
        let mut cmd = Command::on(path, "set");
        if !id.is_empty() {
            cmd = cmd.attr(".id", id);
        }
        self.call(cmd.attrs(attrs.iter().copied())).await.map(drop)
    }

    /// `<path>/remove =.id=<id>` (comma list allowed).
    pub async fn remove(&self, path: &str, id: &str) -> Result<(), Error> {
        self.call(Command::on(path, "remove").attr(".id", id)).await.map(drop)
    }

    /// `<path>/enable =.id=<id>`.
    pub async fn enable(&self, path: &str, id: &str) -> Result<(), Error> {
        self.call(Command::on(path, "enable").attr(".id", id)).await.map(drop)
    }

    /// `<path>/disable =.id=<id>`.
    pub async fn disable(&self, path: &str, id: &str) -> Result<(), Error> {
        self.call(Command::on(path, "disable").attr(".id", id)).await.map(drop)
    }
}

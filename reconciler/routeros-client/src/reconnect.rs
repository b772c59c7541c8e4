//! [`Reconnecting`]: keeps one connection up, reconnecting with exponential backoff.
//!
//! Commands are **not** retried: a command in flight when the connection breaks fails
//! with [`ErrorKind::Closed`](crate::ErrorKind::Closed) or `Io`, and the caller decides
//! (an `add` may or may not have happened: read back before retrying).

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use routeros_proto::Command;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::{Client, Connection, Error, ErrorKind, Response};

/// Exponential backoff between connection attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// First delay.
    pub initial: Duration,
    /// Largest delay.
    pub max: Duration,
}

impl Default for Backoff {
    /// 200 ms doubling up to 30 s.
    fn default() -> Backoff {
        Backoff { initial: Duration::from_millis(200), max: Duration::from_secs(30) }
    }
}

impl Backoff {
    /// The delay after `failures` consecutive failures (1-based), with ±25 % jitter.
    pub fn delay(&self, failures: u32) -> Duration {
        let exp = self.initial.saturating_mul(1u32 << failures.saturating_sub(1).min(20));
        let base = exp.min(self.max);
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(failures);
        let jitter = (h.finish() % 500) as u32; // 0..500 per mille -> -25%..+25%
        base.mul_f64(0.75 + f64::from(jitter) / 1000.0)
    }
}

struct Guard(JoinHandle<()>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A self-healing connection. Clone it freely; the background task stops when the
/// last clone is dropped.
#[derive(Clone)]
pub struct Reconnecting {
    current: watch::Receiver<Option<Client>>,
    _task: Arc<Guard>,
    wait: Duration,
}

impl std::fmt::Debug for Reconnecting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reconnecting").field("connected", &self.current.borrow().is_some()).finish()
    }
}

impl Reconnecting {
    /// Starts a task that calls `connect` until it succeeds, runs the connection,
    /// and starts over when it ends. `wait`: how long a call waits for a connection.
    ///
    /// ```no_run
    /// # async fn demo() {
    /// use routeros_client::{Backoff, Config, Reconnecting, connect_tcp};
    /// let cfg = Config::new("admin", "x");
    /// let conn = Reconnecting::spawn(
    ///     move || { let cfg = cfg.clone(); async move { connect_tcp("192.0.2.1:8728", &cfg).await } },
    ///     Backoff::default(),
    ///     std::time::Duration::from_secs(5),
    /// );
    /// let client = conn.client().await.unwrap();
    /// # }
    /// ```
    pub fn spawn<F, Fut, S>(mut connect: F, backoff: Backoff, wait: Duration) -> Reconnecting
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = Result<(Client, Connection<S>), Error>> + Send,
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (tx, rx) = watch::channel(None);
        let task = tokio::spawn(async move {
            let mut failures = 0u32;
            loop {
                match connect().await {
                    Ok((client, conn)) => {
                        let started = Instant::now();
                        tx.send_replace(Some(client));
                        let result = conn.await;
                        tx.send_replace(None);
                        if started.elapsed() > backoff.max {
                            failures = 0;
                        }
                        match result {
                            Ok(()) => tracing::info!("routeros: connection ended"),
                            Err(e) => tracing::warn!("routeros: connection lost: {e}"),
                        }
                    }
                    Err(e) => tracing::warn!("routeros: connect failed: {e}"),
                }
                failures = failures.saturating_add(1);
                tokio::time::sleep(backoff.delay(failures)).await;
            }
        });
        Reconnecting { current: rx, _task: Arc::new(Guard(task)), wait }
    }

    /// The current client, waiting up to `wait` for a connection.
    pub async fn client(&self) -> Result<Client, Error> {
        let mut rx = self.current.clone();
        let found = tokio::time::timeout(self.wait, async {
            loop {
                if let Some(c) = rx.borrow_and_update().as_ref().filter(|c| !c.is_closed()) {
                    return Some(c.clone());
                }
                if rx.changed().await.is_err() {
                    return None;
                }
            }
        })
        .await;
        match found {
            Ok(Some(c)) => Ok(c),
            Ok(None) => Err(Error::closed("reconnect task stopped")),
            Err(_) => Err(Error::new(ErrorKind::Closed, "not connected")),
        }
    }

    /// Whether a connection is up right now.
    pub fn is_connected(&self) -> bool {
        self.current.borrow().as_ref().is_some_and(|c| !c.is_closed())
    }

    /// [`Client::call`] on the current connection (no retry).
    pub async fn call(&self, cmd: Command) -> Result<Response, Error> {
        self.client().await?.call(cmd).await
    }
}

//! Async (tokio) client for the MikroTik RouterOS binary API.
//!
//! **What it is:** a driver in the shape of tokio-postgres. [`connect`] logs in on any
//! `AsyncRead + AsyncWrite` stream and returns a [`Client`] (cheap to clone) and a
//! [`Connection`] (a future the caller spawns). Every command gets a unique `.tag`, so
//! many commands are in flight on one connection at once (up to [`Config::window`]);
//! replies are routed back by tag. Each command has a timeout (on expiry it is
//! `/cancel`led on the router). `!trap` surfaces as an [`ErrorKind::Device`] error that
//! keeps the category and message; `!fatal`, I/O and protocol failures are other kinds.
//! [`connect_tcp`] (`api`, 8728) and [`connect_tls`] (`api-ssl`, 8729, with CA
//! verification or SHA-256 certificate pinning) open the socket for you.
//! [`Reconnecting`] keeps a connection up with backoff.
//!
//! **What it is not:** no retries of commands (RouterOS writes are not idempotent),
//! no streaming of `listen`/`follow` (a call collects rows until `!done`), no
//! knowledge of menus or of desired state. Bytes live in `routeros-proto`; a router
//! to test against is `routeros-sim`.
//!
//! # Example
//!
//! ```no_run
//! use routeros_client::{Command, Config, ErrorKind, connect_tcp};
//!
//! # async fn demo() -> Result<(), routeros_client::Error> {
//! let cfg = Config::new("admin", "secret");
//! let (client, connection) = connect_tcp("192.0.2.1:8728", &cfg).await?;
//! tokio::spawn(async move {
//!     if let Err(e) = connection.await {
//!         eprintln!("router connection ended: {e}");
//!     }
//! });
//!
//! // Pipelined: both commands are on the wire before either answer arrives.
//! let (secrets, active) = tokio::join!(
//!     client.print("/ppp/secret", &[".id", "name", "profile"], &["?disabled=false"]),
//!     client.print("/ppp/active", &[".id", "name"], &[]),
//! );
//! let (secrets, _active) = (secrets?, active?);
//!
//! match client.add("/ppp/secret", &[("name", "alice"), ("password", "s3cret")]).await {
//!     Ok(id) => println!("added {id}"),
//!     Err(e) if e.kind() == ErrorKind::Device => {
//!         println!("router said: {}", e.trap().map(|t| t.message.as_str()).unwrap_or(""))
//!     }
//!     Err(e) => return Err(e),
//! }
//! let resp = client.call(Command::new("/system/resource/print").proplist(["version"])).await?;
//! # let _ = (secrets, resp); Ok(()) }
//! ```

mod client;
mod config;
mod connection;
mod error;
mod login;
mod reconnect;
mod tls;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, ToSocketAddrs};
use tokio::sync::mpsc;

pub use client::{Client, Response};
pub use config::{Config, LoginMethod};
pub use connection::Connection;
pub use error::{Error, ErrorKind, Trap};
pub use reconnect::{Backoff, Reconnecting};
pub use routeros_proto::{self as proto, Command, Row};
pub use tls::TlsConfig;
/// Re-export of the rustls types needed to build a [`TlsConfig`] (e.g. `RootCertStore`).
pub use tokio_rustls::rustls;

/// Logs in on an open stream and returns the client and its connection future.
///
/// Spawn the [`Connection`]; the [`Client`] works as long as it runs. The whole login
/// is bounded by [`Config::connect_timeout`].
pub async fn connect<S>(mut stream: S, config: &Config) -> Result<(Client, Connection<S>), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut rbuf = BytesMut::with_capacity(4096);
    tokio::time::timeout(config.connect_timeout, login::login(&mut stream, &mut rbuf, config))
        .await
        .map_err(|_| Error::new(ErrorKind::Timeout, "login timed out"))??;
    let window = config.window.max(1);
    let (call_tx, call_rx) = mpsc::channel(window);
    let (cancel_tx, cancel_rx) = mpsc::unbounded_channel();
    let client = Client::new(call_tx, cancel_tx, config.command_timeout);
    let conn = Connection::new(stream, rbuf, call_rx, cancel_rx, window, config.max_word);
    Ok((client, conn))
}

async fn tcp(addr: impl ToSocketAddrs, config: &Config) -> Result<TcpStream, Error> {
    let stream = tokio::time::timeout(config.connect_timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| Error::new(ErrorKind::Timeout, "TCP connect timed out"))?
        .map_err(Error::io)?;
    stream.set_nodelay(true).map_err(Error::io)?;
    Ok(stream)
}

/// Connects to the plaintext `api` service (TCP 8728) and logs in.
pub async fn connect_tcp(addr: impl ToSocketAddrs, config: &Config) -> Result<(Client, Connection<TcpStream>), Error> {
    let stream = tcp(addr, config).await?;
    connect(stream, config).await
}

/// The stream type of [`connect_tls`].
pub type TlsStream = tokio_rustls::client::TlsStream<TcpStream>;

/// Connects to the `api-ssl` service (TCP 8729), verifies the router as `tls` says, and logs in.
pub async fn connect_tls(
    addr: impl ToSocketAddrs,
    tls: &TlsConfig,
    config: &Config,
) -> Result<(Client, Connection<TlsStream>), Error> {
    let server_name = tls.server_name()?;
    let connector = tokio_rustls::TlsConnector::from(tls.client_config()?);
    let stream = tcp(addr, config).await?;
    let stream = tokio::time::timeout(config.connect_timeout, connector.connect(server_name, stream))
        .await
        .map_err(|_| Error::new(ErrorKind::Timeout, "TLS handshake timed out"))?
        .map_err(|e| Error::new(ErrorKind::Tls, "TLS handshake failed").with_source(e))?;
    connect(stream, config).await
}

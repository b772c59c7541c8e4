//! The driver's error type: opaque, with a [`kind()`](Error::kind) to act on.

use std::fmt;
use std::sync::Arc;

/// What went wrong, at the level a caller acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The router answered the command with `!trap` (see [`Error::trap`]). The
    /// connection is fine; the command failed on the device.
    Device,
    /// The router sent `!fatal` (see [`Error::fatal_reason`]) and closed the connection.
    Fatal,
    /// Login was refused (bad credentials, or the method is not supported).
    Login,
    /// The command got no complete answer in time. It was cancelled on the router
    /// (`/cancel`) on a best-effort basis; whether it took effect is unknown.
    Timeout,
    /// The connection is gone (closed by the peer, by the `Connection` ending, or never
    /// established). Reconnect.
    Closed,
    /// Reading or writing the socket failed.
    Io,
    /// TLS setup or handshake failed (including a certificate pin mismatch).
    Tls,
    /// The peer broke the protocol (bad framing, a reply that makes no sense).
    Protocol,
    /// The arguments given to the client make no sense (e.g. an invalid pin).
    Config,
}

/// One `!trap` of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trap {
    /// `=category=` (0 missing item or command, 1 argument value, 2 interrupted,
    /// 3 scripting, 4 general failure, 5 API, 6 TTY, 7 `:return`), if sent.
    pub category: Option<u8>,
    /// `=message=`, e.g. `failure: already have such entry`.
    pub message: String,
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.category {
            Some(c) => write!(f, "{} (category {c})", self.message),
            None => f.write_str(&self.message),
        }
    }
}

#[derive(Clone)]
struct Inner {
    kind: ErrorKind,
    detail: String,
    traps: Vec<Trap>,
    fatal: Option<String>,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

/// A RouterOS client error. Match on [`Error::kind`]; device details via
/// [`Error::trap`] / [`Error::traps`], `!fatal` reason via [`Error::fatal_reason`].
#[derive(Clone)]
pub struct Error(Box<Inner>);

impl Error {
    pub(crate) fn new(kind: ErrorKind, detail: impl Into<String>) -> Error {
        Error(Box::new(Inner { kind, detail: detail.into(), traps: Vec::new(), fatal: None, source: None }))
    }

    pub(crate) fn with_source(mut self, e: impl std::error::Error + Send + Sync + 'static) -> Error {
        self.0.source = Some(Arc::new(e));
        self
    }

    pub(crate) fn device(traps: Vec<Trap>) -> Error {
        let mut e = Error::new(ErrorKind::Device, "command failed on the router");
        e.0.traps = traps;
        e
    }

    pub(crate) fn login(detail: impl Into<String>, traps: Vec<Trap>) -> Error {
        let mut e = Error::new(ErrorKind::Login, detail);
        e.0.traps = traps;
        e
    }

    pub(crate) fn fatal(reason: &str) -> Error {
        let mut e = Error::new(ErrorKind::Fatal, "router closed the session");
        e.0.fatal = Some(reason.to_owned());
        e
    }

    pub(crate) fn closed(detail: impl Into<String>) -> Error {
        Error::new(ErrorKind::Closed, detail)
    }

    pub(crate) fn io(e: std::io::Error) -> Error {
        Error::new(ErrorKind::Io, "socket error").with_source(e)
    }

    pub(crate) fn protocol(e: routeros_proto::ProtoError) -> Error {
        Error::new(ErrorKind::Protocol, "protocol error").with_source(e)
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The first `!trap` (for [`ErrorKind::Device`], and [`ErrorKind::Login`] when the router sent one).
    pub fn trap(&self) -> Option<&Trap> {
        self.0.traps.first()
    }

    /// All `!trap`s of the command (a command may send several before `!done`).
    pub fn traps(&self) -> &[Trap] {
        &self.0.traps
    }

    /// The reason word of `!fatal`.
    pub fn fatal_reason(&self) -> Option<&str> {
        self.0.fatal.as_deref()
    }

    /// Whether the connection can still be used after this error.
    pub fn is_connection_usable(&self) -> bool {
        matches!(self.0.kind, ErrorKind::Device | ErrorKind::Timeout)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.0.kind).field("detail", &self.0.detail);
        if !self.0.traps.is_empty() {
            d.field("traps", &self.0.traps);
        }
        if let Some(r) = &self.0.fatal {
            d.field("fatal", r);
        }
        if let Some(s) = &self.0.source {
            d.field("source", s);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.detail)?;
        if let Some(t) = self.trap() {
            write!(f, ": {t}")?;
        }
        if let Some(r) = &self.0.fatal {
            write!(f, ": {r}")?;
        }
        if let Some(s) = &self.0.source {
            write!(f, ": {s}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source.as_deref().map(|s| s as &(dyn std::error::Error + 'static))
    }
}

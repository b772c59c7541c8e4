//! The login exchange, done on the raw stream before the [`Connection`](crate::Connection) starts.

use bytes::BytesMut;
use routeros_proto::login::{self, LoginOutcome};
use routeros_proto::{Command, Reply, ReplyKind, Sentence};
use secrecy::ExposeSecret;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::{Config, Error, ErrorKind, LoginMethod, Trap};

/// Sends `cmd` and reads replies up to its `!done`; returns the `!done` and any traps.
async fn exchange<S>(
    stream: &mut S,
    rbuf: &mut BytesMut,
    cmd: Command,
    max_word: u64,
) -> Result<(Reply, Vec<Trap>), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut out = BytesMut::new();
    cmd.encode(&mut out).map_err(Error::protocol)?;
    stream.write_all(&out).await.map_err(Error::io)?;
    stream.flush().await.map_err(Error::io)?;
    let mut traps = Vec::new();
    loop {
        while let Some(s) = Sentence::parse_with_limit(rbuf, max_word).map_err(Error::protocol)? {
            let reply = Reply::from_sentence(s).map_err(Error::protocol)?;
            match reply.kind {
                ReplyKind::Done => return Ok((reply, traps)),
                ReplyKind::Trap => traps
                    .push(Trap { category: reply.category(), message: reply.message().unwrap_or_default().to_owned() }),
                ReplyKind::Fatal => {
                    return Err(Error::fatal(reply.fatal_reason.as_deref().unwrap_or("")));
                }
                ReplyKind::Re | ReplyKind::Empty => {}
            }
        }
        let n = stream.read_buf(rbuf).await.map_err(Error::io)?;
        if n == 0 {
            return Err(Error::closed("router closed the connection during login"));
        }
    }
}

fn refused(traps: Vec<Trap>) -> Error {
    Error::login("login refused", traps)
}

async fn answer_challenge<S>(stream: &mut S, rbuf: &mut BytesMut, cfg: &Config, challenge: &str) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let cmd = login::legacy(&cfg.user, cfg.password.expose_secret(), challenge).map_err(Error::protocol)?;
    let (_, traps) = exchange(stream, rbuf, cmd, cfg.max_word).await?;
    if traps.is_empty() { Ok(()) } else { Err(refused(traps)) }
}

/// Logs in with the configured method. Bytes read past the final `!done` stay in `rbuf`.
pub(crate) async fn login<S>(stream: &mut S, rbuf: &mut BytesMut, cfg: &Config) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match cfg.login {
        LoginMethod::Auto | LoginMethod::Plain => {
            let (done, traps) =
                exchange(stream, rbuf, login::plain(&cfg.user, cfg.password.expose_secret()), cfg.max_word).await?;
            if !traps.is_empty() {
                return Err(refused(traps));
            }
            match LoginOutcome::from_done(&done) {
                LoginOutcome::LoggedIn => Ok(()),
                LoginOutcome::Challenge(ch) if cfg.login == LoginMethod::Auto => {
                    answer_challenge(stream, rbuf, cfg, &ch).await
                }
                LoginOutcome::Challenge(_) => Err(Error::new(
                    ErrorKind::Login,
                    "router wants the legacy challenge login, but LoginMethod::Plain is configured",
                )),
            }
        }
        LoginMethod::Legacy => {
            let (done, traps) = exchange(stream, rbuf, login::challenge_request(), cfg.max_word).await?;
            if !traps.is_empty() {
                return Err(refused(traps));
            }
            match LoginOutcome::from_done(&done) {
                LoginOutcome::Challenge(ch) => answer_challenge(stream, rbuf, cfg, &ch).await,
                LoginOutcome::LoggedIn => Err(Error::new(ErrorKind::Login, "router sent no challenge")),
            }
        }
    }
}

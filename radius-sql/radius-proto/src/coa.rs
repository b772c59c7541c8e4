//! CoA-Request / Disconnect-Request (RFC 5176) to a NAS (MikroTik `/radius incoming`, UDP 3799).
//!
//! Encoding and response parsing are pure ([`encode_request`], [`parse_response`]); [`CoaClient`] adds
//! the UDP socket, timeout and retransmission (same Identifier and bytes on every retry, as RFC 5080 asks).

use std::net::Ipv4Addr;
#[cfg(feature = "client")]
use std::net::SocketAddr;
#[cfg(feature = "client")]
use std::time::Duration;

use crate::packet::{self, Attribute, CodecError, Packet, attr, code, vendor};

/// Default port of `/radius incoming` and radclient's coa/disconnect.
pub const DEFAULT_COA_PORT: u16 = 3799;

/// Which session the NAS should act on. At least one field must be set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionSelector {
    /// Full `user@realm` as the NAS knows it.
    pub user_name: Option<String>,
    pub acct_session_id: Option<String>,
    pub framed_ip: Option<Ipv4Addr>,
    pub nas_ip: Option<Ipv4Addr>,
}

/// What to ask of the NAS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DynamicAuthRequest {
    /// Disconnect-Request: end the session.
    Disconnect(SessionSelector),
    /// CoA-Request: change the session's attributes live.
    Change { session: SessionSelector, rate_limit: Option<String>, session_timeout: Option<u32> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoaOutcome {
    /// Disconnect-ACK or CoA-ACK.
    Ack,
    /// Disconnect-NAK or CoA-NAK, with Error-Cause (e.g. 503 Session-Context-Not-Found) if given.
    Nak { error_cause: Option<u32>, reply_message: Option<String> },
}

#[derive(Debug, thiserror::Error)]
pub enum CoaError {
    #[error("request has no session identification (User-Name, Acct-Session-Id or Framed-IP-Address)")]
    NoSelector,
    #[error("no answer from the NAS after {attempts} attempts")]
    Timeout { attempts: u32 },
    #[error("socket error: {0}")]
    Io(#[from] std::io::Error),
    #[error("malformed packet: {0}")]
    Codec(#[from] CodecError),
    #[error("response authenticator does not verify (wrong secret?)")]
    BadAuthenticator,
    #[error("unexpected response code {0}")]
    UnexpectedCode(u8),
}

impl CoaError {
    /// Whether trying again later could help (timeouts and socket errors), as opposed to a
    /// configuration problem (bad secret, bad request).
    pub fn is_transient(&self) -> bool {
        matches!(self, CoaError::Timeout { .. } | CoaError::Io(_))
    }
}

fn selector_attrs(s: &SessionSelector, out: &mut Vec<Attribute>) -> Result<(), CoaError> {
    if s.user_name.is_none() && s.acct_session_id.is_none() && s.framed_ip.is_none() {
        return Err(CoaError::NoSelector);
    }
    if let Some(u) = &s.user_name {
        out.push(Attribute::string(attr::USER_NAME, u));
    }
    if let Some(id) = &s.acct_session_id {
        out.push(Attribute::string(attr::ACCT_SESSION_ID, id));
    }
    if let Some(ip) = s.framed_ip {
        out.push(Attribute::ipv4(attr::FRAMED_IP_ADDRESS, ip));
    }
    if let Some(ip) = s.nas_ip {
        out.push(Attribute::ipv4(attr::NAS_IP_ADDRESS, ip));
    }
    Ok(())
}

/// Build the packet (authenticator not yet computed).
pub fn build_packet(req: &DynamicAuthRequest, identifier: u8) -> Result<Packet, CoaError> {
    let (c, s) = match req {
        DynamicAuthRequest::Disconnect(s) => (code::DISCONNECT_REQUEST, s),
        DynamicAuthRequest::Change { session, .. } => (code::COA_REQUEST, session),
    };
    let mut p = Packet::new(c, identifier);
    selector_attrs(s, &mut p.attributes)?;
    if let DynamicAuthRequest::Change { rate_limit, session_timeout, .. } = req {
        if let Some(r) = rate_limit {
            p.attributes.push(Attribute::vendor_string(vendor::MIKROTIK, vendor::MIKROTIK_RATE_LIMIT, r));
        }
        if let Some(t) = session_timeout {
            p.attributes.push(Attribute::integer(attr::SESSION_TIMEOUT, *t));
        }
    }
    Ok(p)
}

/// Encode a CoA/Disconnect request: Request Authenticator = MD5(Code+Identifier+Length+16 zero
/// octets+Attributes+Secret); optional Message-Authenticator.
pub fn encode_request(
    req: &DynamicAuthRequest,
    identifier: u8,
    secret: &[u8],
    message_authenticator: bool,
) -> Result<Vec<u8>, CoaError> {
    let p = build_packet(req, identifier)?;
    Ok(packet::encode_signed_request(&p, secret, message_authenticator)?)
}

/// Parse and authenticate the NAS's answer to `request` (the exact bytes we sent).
/// Returns `Ok(None)` if the datagram is not an answer to this request (other identifier).
pub fn parse_response(response: &[u8], request: &[u8], secret: &[u8]) -> Result<Option<CoaOutcome>, CoaError> {
    let p = Packet::decode(response)?;
    if request.len() < packet::HEADER_LEN || p.identifier != request[1] {
        return Ok(None);
    }
    let req_auth: [u8; 16] = request[4..20].try_into().expect("16 bytes");
    if !packet::verify_response(response, &req_auth, secret) {
        return Err(CoaError::BadAuthenticator);
    }
    let expected = match request[0] {
        code::DISCONNECT_REQUEST => (code::DISCONNECT_ACK, code::DISCONNECT_NAK),
        _ => (code::COA_ACK, code::COA_NAK),
    };
    if p.code == expected.0 {
        Ok(Some(CoaOutcome::Ack))
    } else if p.code == expected.1 {
        Ok(Some(CoaOutcome::Nak {
            error_cause: p.get_integer(attr::ERROR_CAUSE),
            reply_message: p.get_string(attr::REPLY_MESSAGE),
        }))
    } else {
        Err(CoaError::UnexpectedCode(p.code))
    }
}

/// Sends CoA/Disconnect requests with a per-attempt timeout and retransmissions.
#[cfg(feature = "client")]
#[derive(Debug, Clone)]
pub struct CoaClient {
    pub timeout: Duration,
    /// Retransmissions after the first attempt.
    pub retries: u32,
    pub message_authenticator: bool,
    /// Local address to bind (e.g. the address the router knows in `/radius`); port 0 = any.
    pub bind: SocketAddr,
}

#[cfg(feature = "client")]
impl Default for CoaClient {
    fn default() -> Self {
        CoaClient {
            timeout: Duration::from_secs(3),
            retries: 2,
            message_authenticator: true,
            bind: SocketAddr::from(([0, 0, 0, 0], 0)),
        }
    }
}

#[cfg(feature = "client")]
impl CoaClient {
    /// Send one request to `nas` (usually `router_ip:3799`) and wait for its ACK/NAK.
    pub async fn send(&self, nas: SocketAddr, secret: &[u8], req: &DynamicAuthRequest) -> Result<CoaOutcome, CoaError> {
        let identifier: u8 = rand::random();
        let bytes = encode_request(req, identifier, secret, self.message_authenticator)?;
        let sock = tokio::net::UdpSocket::bind(self.bind).await?;
        sock.connect(nas).await?;
        let attempts = self.retries + 1;
        let mut buf = vec![0u8; packet::MAX_PACKET_LEN];
        for _ in 0..attempts {
            sock.send(&bytes).await?;
            let deadline = tokio::time::Instant::now() + self.timeout;
            loop {
                match tokio::time::timeout_at(deadline, sock.recv(&mut buf)).await {
                    Err(_) => break, // this attempt timed out: retransmit
                    Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => break,
                    Ok(Err(e)) => return Err(e.into()),
                    Ok(Ok(n)) => match parse_response(&buf[..n], &bytes, secret) {
                        Ok(Some(outcome)) => return Ok(outcome),
                        Ok(None) | Err(CoaError::Codec(_)) => continue, // stray datagram
                        Err(e) => return Err(e),
                    },
                }
            }
        }
        Err(CoaError::Timeout { attempts })
    }

    /// [`send`](Self::send) from each of `sources` in turn until the NAS answers: the addresses of
    /// the RADIUS cluster's nodes, which a MikroTik lists in `/radius` and is the only place it
    /// accepts CoA/Disconnect from. A source that gets no answer (that node's address is not
    /// reachable from the NAS, not configured there, or not on this host) costs its timeout and
    /// retransmissions, then the next is tried. An ACK or NAK is the NAS's answer: no other source
    /// is tried (another would get the same), nor after an error a retry cannot fix (bad secret).
    /// Empty `sources`: from `bind` alone. Returns the answer and the source that got it.
    pub async fn send_from_any(
        &self,
        sources: &[std::net::IpAddr],
        nas: SocketAddr,
        secret: &[u8],
        req: &DynamicAuthRequest,
    ) -> Result<(CoaOutcome, SocketAddr), CoaError> {
        if sources.is_empty() {
            return self.send(nas, secret, req).await.map(|o| (o, self.bind));
        }
        let mut last = None;
        for src in sources {
            let from = CoaClient { bind: SocketAddr::new(*src, 0), ..self.clone() };
            match from.send(nas, secret, req).await {
                Ok(o) => return Ok((o, from.bind)),
                Err(e) if e.is_transient() => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or(CoaError::Timeout { attempts: 0 }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel() -> SessionSelector {
        SessionSelector {
            user_name: Some("alice@acme".into()),
            acct_session_id: Some("81f00001".into()),
            framed_ip: Some(Ipv4Addr::new(10, 20, 0, 15)),
            nas_ip: None,
        }
    }

    #[test]
    fn coa_request_carries_selector_and_rate_limit() {
        let req =
            DynamicAuthRequest::Change { session: sel(), rate_limit: Some("5M/10M".into()), session_timeout: None };
        let bytes = encode_request(&req, 42, b"s", false).unwrap();
        assert!(packet::verify_signed_request(&bytes, b"s"));
        let p = Packet::decode(&bytes).unwrap();
        assert_eq!(p.code, code::COA_REQUEST);
        assert_eq!(p.identifier, 42);
        assert_eq!(p.get_string(attr::USER_NAME).as_deref(), Some("alice@acme"));
        assert_eq!(p.get_string(attr::ACCT_SESSION_ID).as_deref(), Some("81f00001"));
        assert_eq!(p.get(attr::FRAMED_IP_ADDRESS), Some(&[10u8, 20, 0, 15][..]));
        assert_eq!(p.get_vendor_string(14988, 8).as_deref(), Some("5M/10M"));
    }

    #[test]
    fn disconnect_without_selector_is_refused() {
        let r = encode_request(&DynamicAuthRequest::Disconnect(SessionSelector::default()), 1, b"s", false);
        assert!(matches!(r, Err(CoaError::NoSelector)));
    }

    #[test]
    fn nak_with_error_cause_is_parsed() {
        let req = encode_request(&DynamicAuthRequest::Disconnect(sel()), 9, b"s", true).unwrap();
        let auth: [u8; 16] = req[4..20].try_into().unwrap();
        let mut nak = Packet::new(code::DISCONNECT_NAK, 9);
        nak.attributes.push(Attribute::integer(attr::ERROR_CAUSE, 503));
        let resp = packet::encode_response(&nak, &auth, b"s", false).unwrap();
        assert_eq!(
            parse_response(&resp, &req, b"s").unwrap(),
            Some(CoaOutcome::Nak { error_cause: Some(503), reply_message: None })
        );
        // wrong secret
        assert!(matches!(parse_response(&resp, &req, b"x"), Err(CoaError::BadAuthenticator)));
        // other identifier: not ours
        let other = packet::encode_response(&Packet::new(code::DISCONNECT_ACK, 10), &auth, b"s", false).unwrap();
        assert_eq!(parse_response(&other, &req, b"s").unwrap(), None);
        // CoA-ACK to a Disconnect is a protocol error
        let wrong = packet::encode_response(&Packet::new(code::COA_ACK, 9), &auth, b"s", false).unwrap();
        assert!(matches!(parse_response(&wrong, &req, b"s"), Err(CoaError::UnexpectedCode(44))));
    }
}

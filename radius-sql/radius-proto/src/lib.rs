//! radius-proto: RADIUS on the wire, apart from any database.
//!
//! - [`packet`]: a pure codec (RFC 2865/2866, Message-Authenticator per RFC 3579/5176, User-Password
//!   hiding, CHAP-Password): bytes in, bytes out, no sockets.
//! - [`coa`]: Dynamic Authorization (RFC 5176): the Disconnect/CoA-Request for a session and the
//!   parsing of the NAS's answer (pure), and [`coa::CoaClient`], the UDP client that sends it with
//!   retries (feature `client`, on by default; tokio).
//!
//! It is not FreeRADIUS configuration or SQL (that is `konnekted-radius`), and it knows no attribute
//! dictionary beyond the few constants Konnekted uses. Test: `cargo test -p radius-proto`
//! (protocol vectors and property tests beside the code).

pub mod coa;
pub mod packet;

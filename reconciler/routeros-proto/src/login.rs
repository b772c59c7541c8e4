//! Login sentences (§1.9): post-6.43 plaintext and the legacy MD5 challenge.
//!
//! ```text
//! plain:   -> /login =name=U =password=P          <- !done | !trap + !done
//! legacy:  -> /login                              <- !done =ret=<32 hex>
//!          -> /login =name=U =response=00<md5>    <- !done | !trap + !done
//! ```
//! A 6.43–6.45 router answers a plaintext `/login` with `!done =ret=<challenge>`
//! when it wants the legacy method; [`LoginOutcome::from_done`] tells the two apart.

use md5::{Digest, Md5};

use crate::{Command, ProtoError, Reply};

/// `/login =name=<user> =password=<password>` (post-6.43).
pub fn plain(user: &str, password: &str) -> Command {
    Command::new("/login").attr("name", user).attr("password", password)
}

/// Bare `/login`, which makes a pre-6.43 router send its challenge.
pub fn challenge_request() -> Command {
    Command::new("/login")
}

/// `"00" + hex(md5(0x00 || password || unhex(challenge)))`.
pub fn challenge_response(password: &[u8], challenge_hex: &str) -> Result<String, ProtoError> {
    let challenge = hex::decode(challenge_hex)
        .ok()
        .filter(|c| c.len() == 16)
        .ok_or_else(|| ProtoError::InvalidChallenge(challenge_hex.to_owned()))?;
    let mut h = Md5::new();
    h.update([0u8]);
    h.update(password);
    h.update(&challenge);
    Ok(format!("00{}", hex::encode(h.finalize())))
}

/// `/login =name=<user> =response=<challenge_response>`.
pub fn legacy(user: &str, password: &str, challenge_hex: &str) -> Result<Command, ProtoError> {
    let response = challenge_response(password.as_bytes(), challenge_hex)?;
    Ok(Command::new("/login").attr("name", user).attr("response", response))
}

/// What a `!done` reply to a login means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    /// Logged in.
    LoggedIn,
    /// The router sent a legacy challenge (`=ret=`); answer it with [`legacy`].
    Challenge(String),
}

impl LoginOutcome {
    /// Interprets the `!done` that ends a login exchange.
    pub fn from_done(done: &Reply) -> LoginOutcome {
        match done.ret() {
            Some(ch) if !ch.is_empty() => LoginOutcome::Challenge(ch.to_owned()),
            _ => LoginOutcome::LoggedIn,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ReplyKind;

    #[test]
    fn challenge_response_vectors_match_reference() {
        let cases = [
            ("259e0bc05acd6f46926dc2f809ed1bba", "test", "00c7fd865183a43a772dde231f6d0bff13"),
            ("93b438ec9b80057c06dd9fe67d56aa9a", "", "00e134102a9d330dd7b1849fedfea3cb57"),
            ("856780b7411eefd3abadee2058c149a3", "", "005062f7a5ef124d34675bf3e81f56c556"),
        ];
        for (challenge, password, want) in cases {
            assert_eq!(challenge_response(password.as_bytes(), challenge).as_deref(), Ok(want), "{challenge}");
        }
    }

    #[test]
    fn challenge_response_bad_hex_is_error() {
        assert!(challenge_response(b"x", "zz").is_err());
        assert!(challenge_response(b"x", "abcd").is_err());
    }

    #[test]
    fn login_plain_sentence_is_exact() {
        assert_eq!(plain("admin", "secret").to_sentence().words, ["/login", "=name=admin", "=password=secret"]);
        let legacy = legacy("admin", "", "93b438ec9b80057c06dd9fe67d56aa9a").expect("legacy");
        assert_eq!(
            legacy.to_sentence().words,
            ["/login", "=name=admin", "=response=00e134102a9d330dd7b1849fedfea3cb57"]
        );
    }

    #[test]
    fn login_done_with_ret_is_challenge() {
        let done = Reply::new(ReplyKind::Done).with_attr("ret", "abc");
        assert_eq!(LoginOutcome::from_done(&done), LoginOutcome::Challenge("abc".into()));
        assert_eq!(LoginOutcome::from_done(&Reply::new(ReplyKind::Done)), LoginOutcome::LoggedIn);
    }
}

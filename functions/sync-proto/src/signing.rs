//! Request signing of the sync API.
//!
//! Every request carries [`HEADER_TIMESTAMP`] (unix seconds) and [`HEADER_SIGNATURE`] =
//! hex HMAC-SHA256(tenant sync key, `METHOD\nPATH_AND_QUERY\nTIMESTAMP\nhex(SHA-256(body))`).
//! The edge refuses a request whose timestamp is more than [`REPLAY_WINDOW_SECS`] away
//! from its clock, or whose signature differs. `PATH_AND_QUERY` is what goes on the wire
//! (percent-encoded, with any path prefix in front of `/sync`).

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Header with the request's unix time in seconds.
pub const HEADER_TIMESTAMP: &str = "x-konnekted-timestamp";
/// Header with the hex HMAC-SHA256 signature.
pub const HEADER_SIGNATURE: &str = "x-konnekted-signature";
/// How far (seconds, either way) a request's timestamp may be from the edge's clock.
pub const REPLAY_WINDOW_SECS: i64 = 300;

/// Header with the tenant's RADIUS voucher key on `POST /radius/voucher` (FreeRADIUS `rlm_rest`
/// sends it; the value is [`radius_voucher_key`]).
pub const HEADER_VOUCHER_KEY: &str = "x-konnekted-voucher-key";

/// The key FreeRADIUS presents when it asks the edge about a voucher code: lower-case hex
/// HMAC-SHA256(tenant sync key, `"konnekted radius voucher key v1"`). Derived, so the edge stores
/// nothing new, and one-way, so the FreeRADIUS host (which holds it in its generated config)
/// cannot sign sync requests with it. A new sync key gives a new voucher key.
pub fn radius_voucher_key(sync_key: &[u8]) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(sync_key).unwrap_or_else(|_| unreachable!("HMAC takes any key"));
    mac.update(b"konnekted radius voucher key v1");
    hex::encode(mac.finalize().into_bytes())
}

/// Why a request's signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// A header is missing or the timestamp is not an integer.
    Missing,
    /// The timestamp is outside the replay window.
    Stale,
    /// The signature is not the one the key gives.
    Mismatch,
}

impl std::fmt::Display for SignatureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SignatureError::Missing => "signature or timestamp header missing",
            SignatureError::Stale => "timestamp outside the replay window",
            SignatureError::Mismatch => "signature does not match",
        })
    }
}

impl std::error::Error for SignatureError {}

fn mac(key: &[u8], method: &str, path_and_query: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let body_hash = hex::encode(Sha256::digest(body));
    // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key"));
    mac.update(format!("{method}\n{path_and_query}\n{timestamp}\n{body_hash}").as_bytes());
    mac
}

/// The signature a client sends (and the edge expects), as lower-case hex.
pub fn sign(key: &[u8], method: &str, path_and_query: &str, timestamp: i64, body: &[u8]) -> String {
    hex::encode(mac(key, method, path_and_query, timestamp, body).finalize().into_bytes())
}

/// Checks a request as the edge does: `timestamp` and `signature` are the header values
/// (if present), `now` the edge's unix time. The comparison takes the same time wherever
/// the signatures differ.
pub fn verify(
    key: &[u8],
    method: &str,
    path_and_query: &str,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let ts: i64 = timestamp.and_then(|t| t.parse().ok()).ok_or(SignatureError::Missing)?;
    if (now - ts).abs() > REPLAY_WINDOW_SECS {
        return Err(SignatureError::Stale);
    }
    let got = signature.ok_or(SignatureError::Missing)?;
    let got = hex::decode(got).map_err(|_| SignatureError::Mismatch)?;
    mac(key, method, path_and_query, ts, body).verify_slice(&got).map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radius_voucher_key_is_a_fixed_one_way_function_of_the_sync_key() {
        let k = radius_voucher_key(b"demo-sync-key-0123456789abcdef");
        assert_eq!(k.len(), 64);
        assert_eq!(k, radius_voucher_key(b"demo-sync-key-0123456789abcdef"));
        assert_ne!(k, radius_voucher_key(b"another sync key"));
        assert!(!k.contains("demo-sync-key"));
    }

    const T: i64 = 1_700_000_000;

    #[test]
    fn sign_known_vector_is_hmac_over_method_path_time_and_body_hash() {
        // Computed independently with openssl dgst -sha256 -hmac k over
        // 'GET\n/sync/acme/desired\n1700000000\n' + sha256('').
        let s = sign(b"k", "GET", "/sync/acme/desired", T, b"");
        assert_eq!(s, "3b8c31e77f95ef1a35a3861c6b5098d303cb005598fe31ee08441e468f5ffc5b");
        assert_ne!(s, sign(b"k", "GET", "/sync/acme/desired", T + 1, b""));
        assert_ne!(s, sign(b"k2", "GET", "/sync/acme/desired", T, b""));
        assert_ne!(s, sign(b"k", "GET", "/sync/beta/desired", T, b""));
        assert_ne!(s, sign(b"k", "POST", "/sync/acme/desired", T, b""));
        assert_ne!(s, sign(b"k", "GET", "/sync/acme/desired", T, b"{}"));
    }

    #[test]
    fn verify_own_signature_is_accepted_within_window() {
        let s = sign(b"k", "POST", "/sync/acme/usage", T, b"{}");
        let ts = T.to_string();
        assert_eq!(verify(b"k", "POST", "/sync/acme/usage", Some(&ts), Some(&s), b"{}", T + 300), Ok(()));
        assert_eq!(verify(b"k", "POST", "/sync/acme/usage", Some(&ts), Some(&s), b"{}", T - 300), Ok(()));
    }

    #[test]
    fn verify_wrong_stale_or_missing_is_refused() {
        let s = sign(b"k", "GET", "/sync/acme/desired", T, b"");
        let ts = T.to_string();
        let v = |key: &[u8], ts: Option<&str>, sig: Option<&str>, now| {
            verify(key, "GET", "/sync/acme/desired", ts, sig, b"", now)
        };
        assert_eq!(v(b"other", Some(&ts), Some(&s), T), Err(SignatureError::Mismatch));
        assert_eq!(v(b"k", Some(&ts), Some(&s), T + 301), Err(SignatureError::Stale));
        assert_eq!(v(b"k", Some(&ts), Some(&s), T - 301), Err(SignatureError::Stale));
        assert_eq!(v(b"k", None, Some(&s), T), Err(SignatureError::Missing));
        assert_eq!(v(b"k", Some("soon"), Some(&s), T), Err(SignatureError::Missing));
        assert_eq!(v(b"k", Some(&ts), None, T), Err(SignatureError::Missing));
        assert_eq!(v(b"k", Some(&ts), Some("zz"), T), Err(SignatureError::Mismatch));
        assert_eq!(v(b"k", Some(&ts), Some(&s[..10]), T), Err(SignatureError::Mismatch));
    }
}

//! Signed tokens, cookies and CSRF tokens.
//!
//! A token is `base64url(payload) "." base64url(HMAC-SHA256(key, payload))`; the payload is JSON
//! the caller chooses (it must carry its own expiry, checked by [`verify`]). A stateless function
//! checks a session without reading a database. Keys are derived per purpose and per tenant from a
//! platform secret ([`derive_key`]), so a portal cookie is never a console cookie and one tenant's
//! cookie is nothing in another tenant.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::{Request, header};
use maud::{Markup, html};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::Sha256;

use crate::secret::constant_time_eq;

type HmacSha256 = Hmac<Sha256>;

/// A 32-byte key for one purpose (`"portal-session"`, `"console-session"`, `"captive-csrf"`, ...)
/// in one tenant (`realm`, or `""` for the platform console).
pub fn derive_key(platform_secret: &str, purpose: &str, realm: &str) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(platform_secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(b"konnekted-web-v1\0");
    mac.update(purpose.as_bytes());
    mac.update(b"\0");
    mac.update(realm.as_bytes());
    mac.finalize().into_bytes().into()
}

fn mac(key: &[u8; 32], data: &[u8]) -> [u8; 32] {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    m.update(data);
    m.finalize().into_bytes().into()
}

/// Signs `claims` as a token.
pub fn sign<T: Serialize>(key: &[u8; 32], claims: &T) -> String {
    let payload = serde_json::to_vec(claims).unwrap_or_default();
    format!("{}.{}", B64.encode(&payload), B64.encode(mac(key, &payload)))
}

/// Claims every token carries: when it stops being valid (Unix seconds).
pub trait Expiring {
    fn expires_at(&self) -> i64;
}

/// Verifies a token's signature (constant time) and expiry; `None` for anything wrong.
pub fn verify<T: DeserializeOwned + Expiring>(key: &[u8; 32], token: &str, now_unix: i64) -> Option<T> {
    let (p, s) = token.split_once('.')?;
    let payload = B64.decode(p).ok()?;
    let sig = B64.decode(s).ok()?;
    if !constant_time_eq(&sig, &mac(key, &payload)) {
        return None;
    }
    let claims: T = serde_json::from_slice(&payload).ok()?;
    (claims.expires_at() > now_unix).then_some(claims)
}

/// The value of cookie `name` in the request, if present.
pub fn cookie<'a>(req: &'a Request<Bytes>, name: &str) -> Option<&'a str> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: `HttpOnly; Secure; SameSite=Strict` (Lax where a cross-site top-level
/// navigation must carry it, such as the captive portal opened by the router's redirect).
pub fn set_cookie(name: &str, value: &str, path: &str, max_age_seconds: i64, same_site_lax: bool) -> String {
    let same_site = if same_site_lax { "Lax" } else { "Strict" };
    format!("{name}={value}; Path={path}; Max-Age={max_age_seconds}; HttpOnly; Secure; SameSite={same_site}")
}

/// Clears cookie `name`.
pub fn clear_cookie(name: &str, path: &str) -> String {
    format!("{name}=; Path={path}; Max-Age=0; HttpOnly; Secure; SameSite=Strict")
}

/// The CSRF token bound to a session (or to an anonymous visitor's cookie): `HMAC(key, "csrf" ||
/// binding)`. A form carries it in a hidden field; [`csrf_ok`] checks it before anything is written.
pub fn csrf_token(key: &[u8; 32], binding: &str) -> String {
    let mut data = b"csrf\0".to_vec();
    data.extend_from_slice(binding.as_bytes());
    B64.encode(mac(key, &data))
}

/// The hidden field every form carries.
pub fn csrf_field(token: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(token); }
}

/// True when the submitted token matches the session's (constant time).
pub fn csrf_ok(key: &[u8; 32], binding: &str, submitted: Option<&str>) -> bool {
    submitted.is_some_and(|s| constant_time_eq(s.as_bytes(), csrf_token(key, binding).as_bytes()))
}

/// The pre-sign-in cookie a sign-in form's CSRF token is bound to (there is no session yet). A
/// visitor without one gets a fresh value with the form; a POST is accepted only with the cookie
/// it was given and the token bound to it.
#[derive(Debug, Clone)]
pub struct PreSession {
    value: String,
    fresh: bool,
}

impl PreSession {
    /// The visitor's pre-session from cookie `name`, else a fresh one from the request's entropy.
    pub fn of(req: &Request<Bytes>, name: &str, entropy: &[u8; 32], label: &[u8]) -> PreSession {
        match cookie(req, name).filter(|v| v.len() >= 16) {
            Some(v) => PreSession { value: v.to_owned(), fresh: false },
            None => PreSession { value: random_id(entropy, label), fresh: true },
        }
    }

    fn binding(&self) -> String {
        format!("pre:{}", self.value)
    }

    /// The hidden field of the sign-in form.
    pub fn csrf_field(&self, key: &[u8; 32]) -> Markup {
        csrf_field(&csrf_token(key, &self.binding()))
    }

    /// True when the visitor came with the cookie and the form with its token.
    pub fn csrf_ok(&self, key: &[u8; 32], submitted: Option<&str>) -> bool {
        !self.fresh && csrf_ok(key, &self.binding(), submitted)
    }

    /// The `Set-Cookie` value to send with the form (an hour), when the visitor had none.
    pub fn set_cookie(&self, name: &str, path: &str) -> Option<String> {
        self.fresh.then(|| set_cookie(name, &self.value, path, 3600, false))
    }
}

/// `n` random bytes' worth of URL-safe text from the request's entropy (for session ids, nonces).
pub fn random_id(entropy: &[u8; 32], label: &[u8]) -> String {
    let mut m = HmacSha256::new_from_slice(entropy).expect("HMAC takes any key length");
    m.update(label);
    B64.encode(&m.finalize().into_bytes()[..18])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pre_session_accepts_only_its_own_cookie_and_token() {
        let key = [7u8; 32];
        let bare = Request::builder().uri("/c/x/login").body(Bytes::new()).expect("request");
        let fresh = PreSession::of(&bare, "kc_pre", &[1u8; 32], b"t");
        let set = fresh.set_cookie("kc_pre", "/c/x").expect("a fresh pre-session sets its cookie");
        let token = csrf_token(&key, &fresh.binding());
        assert!(!fresh.csrf_ok(&key, Some(&token)), "no cookie yet: refused even with the token");
        let value = set.split(';').next().expect("pair").to_owned();
        let back = Request::builder().uri("/c/x/login").header(header::COOKIE, &value).body(Bytes::new()).expect("req");
        let again = PreSession::of(&back, "kc_pre", &[2u8; 32], b"t");
        assert!(again.set_cookie("kc_pre", "/c/x").is_none(), "an existing pre-session is kept");
        assert!(again.csrf_ok(&key, Some(&token)));
        assert!(!again.csrf_ok(&key, Some("forged")) && !again.csrf_ok(&key, None));
        assert!(!again.csrf_ok(&[8u8; 32], Some(&token)), "another key's token");
    }
    use serde::Deserialize;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Claims {
        sub: String,
        exp: i64,
    }
    impl Expiring for Claims {
        fn expires_at(&self) -> i64 {
            self.exp
        }
    }

    #[test]
    fn token_round_trips_and_refuses_tampering_expiry_and_other_keys() {
        let k = derive_key("s3cret", "portal-session", "acme");
        let t = sign(&k, &Claims { sub: "alice".into(), exp: 1_000 });
        assert_eq!(verify::<Claims>(&k, &t, 999), Some(Claims { sub: "alice".into(), exp: 1_000 }));
        assert_eq!(verify::<Claims>(&k, &t, 1_000), None, "expired at exp");
        let other_tenant = derive_key("s3cret", "portal-session", "beta");
        assert_eq!(verify::<Claims>(&other_tenant, &t, 0), None);
        let other_purpose = derive_key("s3cret", "console-session", "acme");
        assert_eq!(verify::<Claims>(&other_purpose, &t, 0), None);
        let (p, s) = t.split_once('.').expect("two parts");
        let forged =
            sign(&derive_key("guess", "portal-session", "acme"), &Claims { sub: "root".into(), exp: 9e9 as i64 });
        let forged_payload = forged.split_once('.').expect("two parts").0;
        assert_eq!(verify::<Claims>(&k, &format!("{forged_payload}.{s}"), 0), None);
        assert_eq!(verify::<Claims>(&k, &format!("{p}."), 0), None);
        assert_eq!(verify::<Claims>(&k, "garbage", 0), None);
    }

    #[test]
    fn csrf_token_is_bound_to_the_session() {
        let k = derive_key("s3cret", "portal-csrf", "acme");
        let t = csrf_token(&k, "session-1");
        assert!(csrf_ok(&k, "session-1", Some(&t)));
        assert!(!csrf_ok(&k, "session-2", Some(&t)));
        assert!(!csrf_ok(&k, "session-1", None));
        assert!(!csrf_ok(&k, "session-1", Some("")));
    }

    #[test]
    fn cookie_is_found_among_several() {
        let req = Request::builder()
            .header(header::COOKIE, "a=1; kp_session=tok.en; lang=sw")
            .body(Bytes::new())
            .expect("request");
        assert_eq!(cookie(&req, "kp_session"), Some("tok.en"));
        assert_eq!(cookie(&req, "lang"), Some("sw"));
        assert_eq!(cookie(&req, "missing"), None);
        let c = set_cookie("kp_session", "v", "/p/acme", 60, false);
        assert!(c.contains("HttpOnly") && c.contains("Secure") && c.contains("SameSite=Strict"), "{c}");
    }
}

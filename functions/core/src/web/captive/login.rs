//! Logging a device in through its MikroTik hotspot: what the router told the page (MAC, IP,
//! `link-login-only`, CHAP id and challenge) and the form that posts the code to the router.

use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

use crate::api::Query;
use crate::domain::voucher::VoucherCode;

/// What the router's `login.html` hands the portal (see `functions/hotspot-html`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Router {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mac: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ip: String,
    /// The router's login URL (`$(link-login-only)`), only when it passed [`login_url_ok`].
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub login: String,
    /// `$(chap-id)` / `$(chap-challenge)` as the router writes them (octal escapes, `\371`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub chap_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub chap_challenge: String,
    /// Where to go once online (`$(link-orig)`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub dst: String,
}

fn field(q: &Query, names: &[&str], max: usize) -> String {
    names
        .iter()
        .find_map(|n| q.get(n))
        .map(|v| v.trim().chars().filter(|c| !c.is_control()).take(max).collect())
        .unwrap_or_default()
}

impl Router {
    /// Reads the router's variables from a query string or form; `None` when there are none.
    pub fn from_query(q: &Query) -> Option<Router> {
        let login = field(q, &["link-login-only", "link_login_only", "login"], 300);
        let r = Router {
            mac: field(q, &["mac"], 40),
            ip: field(q, &["ip"], 45),
            login: if login_url_ok(&login) { login } else { String::new() },
            chap_id: field(q, &["chap-id", "chap_id"], 16),
            chap_challenge: field(q, &["chap-challenge", "chap_challenge"], 128),
            dst: {
                let d = field(q, &["dst", "link-orig"], 500);
                if d.starts_with("http://") || d.starts_with("https://") { d } else { String::new() }
            },
        };
        (r != Router::default()).then_some(r)
    }

    /// The origin (`http://10.5.50.1`) forms may post to, for the page's `form-action`.
    pub fn login_origin(&self) -> Option<String> {
        origin(&self.login)
    }
}

fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    (!host.is_empty()).then(|| format!("{scheme}://{host}"))
}

/// Whether `url` can be the router's login URL: `http(s)` to a private or loopback IPv4
/// address, or to a local name (no dot, or `.lan`, `.local`, `.home`, `.internal`, `.wifi`,
/// `.hotspot`), the way a MikroTik hotspot's `dns-name` is set. Anything else could be a page
/// made to catch the code, so it is ignored.
pub fn login_url_ok(url: &str) -> bool {
    let Some(o) = origin(url) else { return false };
    let (scheme, host) = o.split_once("://").unwrap_or(("", ""));
    if scheme != "http" && scheme != "https" {
        return false;
    }
    if host.contains(['@', '\\', '"', '\'', '<', '>', ' ', ';']) {
        return false;
    }
    let name =
        host.rsplit_once(':').map_or(host, |(h, port)| if port.bytes().all(|b| b.is_ascii_digit()) { h } else { host });
    if let Ok(ip) = name.parse::<std::net::Ipv4Addr>() {
        let [a, b, ..] = ip.octets();
        return ip.is_private() || ip.is_loopback() || (a == 100 && (64..128).contains(&b));
    }
    let name = name.to_ascii_lowercase();
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.') {
        return false;
    }
    !name.contains('.')
        || [".lan", ".local", ".home", ".internal", ".wifi", ".hotspot"].iter().any(|s| name.ends_with(s))
}

/// Decodes the router's octal-escaped bytes (`\371\357...`); other characters stand for
/// themselves. `None` for a malformed escape.
pub fn octal_bytes(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            let digits = b.get(i + 1..i + 4)?;
            if !digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                return None;
            }
            let v = digits.iter().fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
            out.push(u8::try_from(v).ok()?);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

/// HTTP-CHAP as the hotspot expects it: lowercase hex `MD5(chap-id ‖ password ‖ challenge)`.
pub fn chap_response(chap_id: &[u8], password: &str, challenge: &[u8]) -> String {
    let mut h = Md5::new();
    h.update(chap_id);
    h.update(password.as_bytes());
    h.update(challenge);
    hex::encode(h.finalize())
}

/// The form that logs the device in: posted to the router's `link-login-only`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginForm {
    pub action: String,
    pub username: String,
    /// The CHAP response when the router gave a challenge, else the code itself (PAP).
    pub password: String,
    pub dst: String,
    pub chap: bool,
}

/// The login form for `code` through `router`, or `None` when the page was not opened by a
/// hotspot (no usable `link-login-only`). The username and password are the code's canonical
/// form ([`VoucherCode::compact`]): the one the redemption stores, the RADIUS database holds and
/// the `/radius/voucher` answer's `Cleartext-Password` carries, so every path names the code alike.
pub fn login_form(router: &Router, code: &VoucherCode) -> Option<LoginForm> {
    if router.login.is_empty() {
        return None;
    }
    let secret = code.compact();
    let chap = match (octal_bytes(&router.chap_id), octal_bytes(&router.chap_challenge)) {
        (Some(id), Some(ch)) if id.len() == 1 && !ch.is_empty() => Some(chap_response(&id, &secret, &ch)),
        _ => None,
    };
    Some(LoginForm {
        action: router.login.clone(),
        username: secret.clone(),
        chap: chap.is_some(),
        password: chap.unwrap_or(secret),
        dst: router.dst.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chap_response_matches_the_reference_vector() {
        // interfaces.md §5.2: chap-id \371, challenge ef0d..ce, password "secret".
        let id = octal_bytes(r"\371").expect("id");
        let ch = octal_bytes(r"\357\015\330\013\021\234\145\245\303\253\142\246\133\175\375\316").expect("challenge");
        assert_eq!(hex::encode(&ch), "ef0dd80b119c65a5c3ab62a65b7dfdce");
        assert_eq!(chap_response(&id, "secret", &ch), "e5627b636f982d6233d0cf5931d404c2");
    }

    #[test]
    fn octal_bytes_refuses_a_broken_escape() {
        assert_eq!(octal_bytes(r"\38"), None);
        assert_eq!(octal_bytes(r"\37"), None);
        assert_eq!(octal_bytes(r"\777"), None, "over 255");
        assert_eq!(octal_bytes("ab"), Some(b"ab".to_vec()));
    }

    #[test]
    fn login_form_uses_chap_when_the_router_sent_a_challenge_and_pap_otherwise() {
        let q = Query::parse(Some(
            "mac=AA%3ABB%3ACC%3A00%3A11%3A22&ip=10.5.50.7&link-login-only=http%3A%2F%2F10.5.50.1%2Flogin\
             &chap-id=%5C371&chap-challenge=%5C357%5C015%5C330%5C013%5C021%5C234%5C145%5C245%5C303%5C253%5C142%5C246%5C133%5C175%5C375%5C316\
             &dst=http%3A%2F%2Fexample.com%2F",
        ));
        let r = Router::from_query(&q).expect("router fields");
        assert_eq!(r.mac, "AA:BB:CC:00:11:22");
        assert_eq!(r.login_origin().as_deref(), Some("http://10.5.50.1"));
        let code = VoucherCode::parse("ABCD-EFGH-JKMN").expect("code");
        let f = login_form(&r, &code).expect("form");
        assert!(f.chap);
        assert_eq!(f.username, "ABCDEFGHJKMN", "the canonical form, as redemption stores it");
        let (id, ch) = (octal_bytes(&r.chap_id).expect("id"), octal_bytes(&r.chap_challenge).expect("challenge"));
        assert_eq!(f.password, chap_response(&id, "ABCDEFGHJKMN", &ch));
        assert_eq!((f.action.as_str(), f.dst.as_str()), ("http://10.5.50.1/login", "http://example.com/"));
        let pap = Router { chap_id: String::new(), chap_challenge: String::new(), ..r };
        // However it was typed (case, dashes, L for 1), the router gets one form.
        let f = login_form(&pap, &VoucherCode::parse("abcd-efgh-jklm").expect("code")).expect("form");
        assert!(!f.chap);
        assert_eq!((f.username.as_str(), f.password.as_str()), ("ABCDEFGHJK1M", "ABCDEFGHJK1M"));
    }

    #[test]
    fn login_url_must_be_the_local_router_not_a_public_site() {
        for ok in [
            "http://10.5.50.1/login",
            "http://192.168.88.1:8080/login",
            "https://hotspot.lan/login",
            "http://login/login",
            "http://127.0.0.1:4000/login",
            "http://100.64.1.1/login",
            "http://wifi.hotspot/login",
        ] {
            assert!(login_url_ok(ok), "{ok}");
        }
        for bad in [
            "http://evil.example.com/login",
            "https://8.8.8.8/login",
            "javascript:alert(1)",
            "ftp://10.0.0.1/",
            "http://user@10.0.0.1.evil.com/",
            "http://10.0.0.1\"onmouseover=x/",
            "",
        ] {
            assert!(!login_url_ok(bad), "{bad}");
        }
        let q = Query::parse(Some("link-login-only=http%3A%2F%2Fevil.example.com%2Flogin&mac=x"));
        assert_eq!(Router::from_query(&q).expect("mac given").login, "");
        let code = VoucherCode::parse("ABCD-EFGH-JKMN").expect("code");
        assert!(login_form(&Router::from_query(&q).expect("mac"), &code).is_none());
    }
}

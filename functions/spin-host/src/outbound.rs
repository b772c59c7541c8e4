//! `allowed_outbound_hosts`: `scheme://host[:port]` entries, where the host may be `*` or
//! `*.domain` and the port `*`; without a port, the scheme's default (https 443, http 80) is the
//! only one allowed, as in Spin. A request to anything not listed is refused before a connection
//! is made, with `wasi:http`'s `HTTP-request-denied` (what Spin answers).

use anyhow::{Context as _, bail};

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    scheme: String,
    host: String,
    /// `None` = any port.
    port: Option<u16>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts(Vec<Entry>);

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "https" => Some(443),
        "http" => Some(80),
        _ => None,
    }
}

impl AllowedHosts {
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> anyhow::Result<AllowedHosts> {
        let mut out = Vec::new();
        for e in entries {
            let e = e.as_ref();
            if e.contains("{{") {
                bail!("{e:?}: templated hosts are not supported by this host");
            }
            let (scheme, rest) =
                e.split_once("://").with_context(|| format!("{e:?}: expected scheme://host[:port]"))?;
            if scheme != "http" && scheme != "https" && scheme != "*" {
                bail!("{e:?}: only http, https and * schemes are supported");
            }
            let rest = rest.trim_end_matches('/');
            if rest.contains('/') {
                bail!("{e:?}: a path is not allowed in an outbound host");
            }
            let (host, port) = match rest.rsplit_once(':') {
                Some((h, "*")) => (h, None),
                Some((h, p)) => (h, Some(p.parse::<u16>().with_context(|| format!("{e:?}: bad port"))?)),
                None if scheme == "*" => (rest, None),
                None => (rest, default_port(scheme)),
            };
            if host.is_empty() || (host.contains('*') && host != "*" && !host.starts_with("*.")) {
                bail!("{e:?}: bad host pattern");
            }
            out.push(Entry { scheme: scheme.to_string(), host: host.to_ascii_lowercase(), port });
        }
        Ok(AllowedHosts(out))
    }

    pub fn extend(&mut self, other: AllowedHosts) {
        self.0.extend(other.0);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether a request to `scheme://host:port` may leave the component.
    pub fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        let host = host.to_ascii_lowercase();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let Some(port) = port.or_else(|| default_port(scheme)) else { return false };
        self.0.iter().any(|e| {
            (e.scheme == "*" || e.scheme == scheme)
                && e.port.is_none_or(|p| p == port)
                && (e.host == "*"
                    || e.host == host
                    || e.host
                        .strip_prefix("*.")
                        .is_some_and(|d| host.len() > d.len() && host.ends_with(&format!(".{d}"))))
        })
    }

    pub fn allows_uri(&self, uri: &http::Uri) -> bool {
        match (uri.scheme_str(), uri.host()) {
            (Some(s), Some(h)) => self.allows(s, h, uri.port_u16()),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_ports_and_wildcards() {
        let a =
            AllowedHosts::parse(&["https://api.safaricom.co.ke", "http://127.0.0.1:*", "https://*.example.com:8443"])
                .unwrap();
        assert!(a.allows("https", "api.safaricom.co.ke", None));
        assert!(a.allows("https", "API.Safaricom.co.ke", Some(443)));
        assert!(!a.allows("https", "api.safaricom.co.ke", Some(8443)));
        assert!(!a.allows("http", "api.safaricom.co.ke", None));
        assert!(!a.allows("https", "sandbox.safaricom.co.ke", None));
        assert!(a.allows("http", "127.0.0.1", Some(18080)));
        assert!(!a.allows("https", "127.0.0.1", Some(18080)));
        assert!(a.allows("https", "x.example.com", Some(8443)));
        assert!(!a.allows("https", "example.com", Some(8443)));
        assert!(!a.allows("https", "x.example.com", None));
        assert!(!AllowedHosts::default().allows("https", "api.safaricom.co.ke", None));
        assert!(a.allows_uri(&"https://api.safaricom.co.ke/oauth".parse().unwrap()));
        assert!(!a.allows_uri(&"/relative".parse().unwrap()));
    }

    #[test]
    fn refuses_malformed_entries() {
        for bad in
            ["api.safaricom.co.ke", "ftp://x", "https://x/path", "https://x:port", "https://a*b", "https://{{ host }}"]
        {
            assert!(AllowedHosts::parse(&[bad]).is_err(), "{bad}");
        }
    }
}

//! The suspended subscribers' redirector: a tiny HTTP listener per tenant
//! (`[tenant.walled_garden.redirector]`) that the routers' walled-garden `dst-nat` sends
//! suspended subscribers' port-80 traffic to.
//!
//! The portal runs on the edge and sees only the router's public address, so it cannot tell
//! who is asking. The reconciler sits behind the tenant's tunnel and can: the source address
//! of the connection is the subscriber's PPPoE address, the router's `/ppp/active` says which
//! session holds it, the session's name is the subscriber's login, and the desired state says
//! whether that subscriber is cut off. The answer is `302` to
//! `{portal_url}/h/{realm}/suspended?account=<subscriber id>` for a subscriber who should be
//! offline, and to `{portal_url}/h/{realm}/suspended` (where they type their account number)
//! whenever that is not certain:
//!
//! * no session of any of the tenant's routers holds the address, or sessions on several
//!   routers do (overlapping pools);
//! * a router could not be asked within [`LOOKUP_TIMEOUT`] (it might hold the address too);
//! * the session's name is no subscriber's, or names several;
//! * the subscriber should be online (an address not on the suspended list);
//! * more than [`MAX_LOOKUPS`] lookups are in flight.
//!
//! So it never names another subscriber's account. Each request is looked up afresh (no
//! cache: an address can pass to another subscriber between two requests). Answers carry
//! `Cache-Control: no-store`, so a browser asks again once the subscriber has paid.
//!
//! The redirector opens an API connection of its own to each router of the tenant (the
//! routers' passes are not slowed by lookups), on first use and again after a failure.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use routeros_client::{Client, Command, Config as ClientConfig};
use tokio::net::TcpListener;

use crate::config::{RedirectorConfig, RouterConfig, SecretNaming};
use crate::metrics::Metrics;
use crate::reconcile::Tenant;

/// Most time one router may take to say who holds an address.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(3);
/// Most lookups in flight per tenant; past it requests get the page without an account.
pub const MAX_LOOKUPS: usize = 64;

/// Who an address is, as far as the redirector can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    /// The subscriber (id) whose session holds the address, who should be offline.
    Suspended(String),
    /// Not certain, or not suspended; why (for logs and metrics).
    Unknown(&'static str),
}

impl Who {
    /// The metric label.
    pub fn label(&self) -> &'static str {
        match self {
            Who::Suspended(_) => "account",
            Who::Unknown(why) => why,
        }
    }
}

struct RouterLink {
    cfg: RouterConfig,
    client: tokio::sync::Mutex<Option<Client>>,
}

/// One tenant's redirector.
pub struct Redirector {
    tenant: Arc<Tenant>,
    portal: String,
    routers: Vec<RouterLink>,
    metrics: Arc<Metrics>,
    lookups: Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for Redirector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redirector").field("realm", &self.tenant.cfg.realm).field("portal", &self.portal).finish()
    }
}

impl Redirector {
    /// The redirector of `tenant` over its `routers` (those of other tenants are ignored).
    pub fn new(tenant: Arc<Tenant>, cfg: &RedirectorConfig, routers: &[RouterConfig], metrics: Arc<Metrics>) -> Self {
        let portal = cfg.portal_url.as_deref().unwrap_or(&tenant.cfg.edge_url).trim_end_matches('/').to_owned();
        let routers = routers
            .iter()
            .filter(|r| r.tenant == tenant.cfg.realm)
            .map(|r| RouterLink { cfg: r.clone(), client: tokio::sync::Mutex::new(None) })
            .collect();
        Redirector { tenant, portal, routers, metrics, lookups: Arc::new(tokio::sync::Semaphore::new(MAX_LOOKUPS)) }
    }

    /// Where a browser at `ip` is sent.
    pub async fn location(&self, ip: IpAddr) -> (String, Who) {
        let who = match self.lookups.clone().try_acquire_owned() {
            Ok(_permit) => self.who(ip).await,
            Err(_) => Who::Unknown("busy"),
        };
        let realm = encode(&self.tenant.cfg.realm);
        let url = match &who {
            Who::Suspended(id) => format!("{}/h/{realm}/suspended?account={}", self.portal, encode(id)),
            Who::Unknown(_) => format!("{}/h/{realm}/suspended", self.portal),
        };
        (url, who)
    }

    /// Who holds `ip`: the session on the tenant's routers, its subscriber and status.
    pub async fn who(&self, ip: IpAddr) -> Who {
        let ip = ip.to_canonical();
        if self.routers.is_empty() {
            return Who::Unknown("no_session");
        }
        let asked = futures::future::join_all(self.routers.iter().map(|r| self.sessions_at(r, ip))).await;
        let mut names = Vec::new();
        for (router, result) in self.routers.iter().zip(asked) {
            match result {
                Ok(found) => names.extend(found),
                Err(e) => {
                    tracing::warn!(router = %router.cfg.name, "redirector: cannot ask who holds {ip}: {e}");
                    return Who::Unknown("router_unreachable");
                }
            }
        }
        let name = match names.as_slice() {
            [] => return Who::Unknown("no_session"),
            [one] => one.as_str(),
            _ => return Who::Unknown("ambiguous"),
        };
        let state = match self.tenant.last_known() {
            Some((s, _)) => s,
            None => return Who::Unknown("no_desired_state"),
        };
        let realm = &self.tenant.cfg.realm;
        let mut found: Option<&crate::edge::Subscriber> = None;
        for s in
            state.subscribers.iter().filter(|s| session_is(name, &s.username, realm, self.tenant.cfg.secret_naming))
        {
            match found {
                // The same subscriber listed twice: the last entry counts.
                Some(f) if f.id != s.id => return Who::Unknown("ambiguous"),
                _ => found = Some(s),
            }
        }
        match found {
            None => Who::Unknown("not_a_subscriber"),
            Some(s) if s.status.is_online() => Who::Unknown("not_suspended"),
            Some(s) => Who::Suspended(s.id.clone()),
        }
    }

    /// The names of the sessions of one router holding `ip`.
    async fn sessions_at(&self, r: &RouterLink, ip: IpAddr) -> Result<Vec<String>, String> {
        let ask = async {
            let client = {
                let mut held = r.client.lock().await;
                match held.as_ref().filter(|c| !c.is_closed()) {
                    Some(c) => c.clone(),
                    None => {
                        let cfg = ClientConfig::new(&r.cfg.username, r.cfg.password.expose())
                            .window(8)
                            .connect_timeout(LOOKUP_TIMEOUT)
                            .command_timeout(LOOKUP_TIMEOUT);
                        let c = crate::router::connect(&r.cfg, &cfg).await.map_err(|e| e.to_string())?;
                        *held = Some(c.clone());
                        c
                    }
                }
            };
            let cmd =
                Command::on("/ppp/active", "print").proplist(["name", "address"]).query_eq("address", &ip.to_string());
            match client.call(cmd).await {
                Ok(reply) => Ok(reply
                    .rows
                    .iter()
                    // The query already filtered; a router ignoring it must not widen the match.
                    .filter(|row| row.get("address").and_then(|a| a.parse::<IpAddr>().ok()) == Some(ip))
                    .filter_map(|row| row.get("name").map(str::to_owned))
                    .collect()),
                Err(e) => {
                    if !e.is_connection_usable() {
                        *r.client.lock().await = None;
                    }
                    Err(e.to_string())
                }
            }
        };
        match tokio::time::timeout(LOOKUP_TIMEOUT, ask).await {
            Ok(r) => r,
            Err(_) => {
                *r.client.lock().await = None;
                Err("timed out".to_owned())
            }
        }
    }

    fn respond(&self, location: &str) -> Response<Full<Bytes>> {
        let href = location.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;");
        let body =
            format!("<!doctype html><meta charset=utf-8><title>Account</title><p><a href=\"{href}\">{href}</a></p>\n");
        let mut r = Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = StatusCode::FOUND;
        let h = r.headers_mut();
        if let Ok(v) = hyper::header::HeaderValue::from_str(location) {
            h.insert(hyper::header::LOCATION, v);
        }
        h.insert(hyper::header::CACHE_CONTROL, hyper::header::HeaderValue::from_static("no-store"));
        h.insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("text/html; charset=utf-8"));
        r
    }

    /// Binds `addr` and answers every request in the background; returns the bound address.
    pub async fn serve(self: Arc<Self>, addr: SocketAddr) -> std::io::Result<SocketAddr> {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        tokio::spawn(async move {
            loop {
                let (stream, peer) = match listener.accept().await {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!("redirector accept: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let me = self.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |_req: Request<hyper::body::Incoming>| {
                        let me = me.clone();
                        async move {
                            let (location, who) = me.location(peer.ip()).await;
                            me.metrics.inc(
                                "konnekted_reconciler_redirects_total",
                                &[("tenant", &me.tenant.cfg.realm), ("outcome", who.label())],
                                1.0,
                            );
                            Ok::<_, Infallible>(me.respond(&location))
                        }
                    });
                    let conn = hyper::server::conn::http1::Builder::new()
                        .timer(hyper_util::rt::TokioTimer::new())
                        .header_read_timeout(Duration::from_secs(10))
                        .serve_connection(TokioIo::new(stream), svc);
                    if let Err(e) = conn.await {
                        tracing::debug!("redirector connection: {e}");
                    }
                });
            }
        });
        Ok(local)
    }
}

/// Whether a PPPoE session name is this subscriber's login: `<username>@<realm>` (the
/// qualified secret name and what RADIUS users send) or, with bare secret names, `<username>`.
/// Case does not matter (usernames are stored lower-case).
fn session_is(session: &str, username: &str, realm: &str, naming: SecretNaming) -> bool {
    if username.is_empty() {
        return false;
    }
    match session.rsplit_once('@') {
        Some((user, r)) => user.eq_ignore_ascii_case(username) && r.eq_ignore_ascii_case(realm),
        None => naming == SecretNaming::Bare && session.eq_ignore_ascii_case(username),
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_names_match_the_login_with_its_realm_or_bare_when_so_named() {
        assert!(session_is("alice@acme", "alice", "acme", SecretNaming::Qualified));
        assert!(session_is("Alice@ACME", "alice", "acme", SecretNaming::Qualified));
        assert!(session_is("alice@acme", "alice", "acme", SecretNaming::Bare));
        assert!(session_is("alice", "alice", "acme", SecretNaming::Bare));
        assert!(!session_is("alice", "alice", "acme", SecretNaming::Qualified));
        assert!(!session_is("alice@other", "alice", "acme", SecretNaming::Qualified));
        assert!(!session_is("alice2@acme", "alice", "acme", SecretNaming::Qualified));
        assert!(!session_is("@acme", "", "acme", SecretNaming::Qualified));
    }

    #[test]
    fn encode_keeps_unreserved_only() {
        assert_eq!(encode("sub_01H-x.y~"), "sub_01H-x.y~");
        assert_eq!(encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }
}

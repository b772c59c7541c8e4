//! `router onboard`: the one-paste RouterOS script that brings a router under management.
//!
//! The script (`.rsc`, RouterOS 7) creates a WireGuard interface and a peer towards the
//! reconciler (fresh x25519 key pair and preshared key), the router's tunnel address, a
//! group with only the policies the reconciler needs (`api,read,write,sensitive`: it reads
//! secrets' passwords and the RADIUS secret to find drift) and a user in it with a fresh
//! password, `api` reachable only from the reconciler's tunnel address (`api-ssl` off: the
//! tunnel already encrypts), the `/radius` entry the reconciler enforces, `/radius incoming`
//! for CoA on 3799, PPP AAA through RADIUS, and the garden objects the reconciler enforces.
//! For hotspot routers also the hotspot profile's RADIUS and a walled-garden entry for the
//! portal. The managed objects come from [`crate::model::build_desired`] with an empty
//! desired state, so the reconciler's first pass finds nothing to change in them.
//!
//! It also gives the reconciler side's WireGuard `[Peer]` and the `[[router]]` block that is
//! appended to the config file. Every secret in it is fresh and shown once.

use std::net::Ipv4Addr;

use base64::Engine;

use crate::config::{Config, RouterConfig, Secret, WireguardConfig};
use crate::edge::DesiredState;
use crate::model::{self, Menu};

/// What to onboard.
#[derive(Debug, Clone)]
pub struct OnboardRequest {
    /// The tenant's realm (must be in the config).
    pub tenant: String,
    /// The router's name (new in the config).
    pub name: String,
    /// A hotspot router: also the hotspot profile's RADIUS and the walled garden.
    pub hotspot: bool,
    /// The hotspot profile to point at RADIUS.
    pub hotspot_profile: String,
    /// The router's PPPoE and hotspot address pools (`10.20.0.0/16`): subscribers' source
    /// addresses, which reach the redirector through the tunnel unchanged, so the
    /// reconciler's peer of this router must allow them (required with a redirector).
    pub pools: Vec<String>,
}

/// One command of the script: `/menu verb [find k=v] k=v ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptCommand {
    /// API path (`/interface/wireguard`).
    pub menu: String,
    /// `add` or `set`.
    pub verb: String,
    /// `set [find k=v]`: the item to change (none for single-item menus).
    pub find: Option<(String, String)>,
    /// Properties.
    pub args: Vec<(String, String)>,
}

/// The result of onboarding one router.
#[derive(Debug)]
pub struct Onboarding {
    /// The commands of the script, in order.
    pub commands: Vec<ScriptCommand>,
    /// The router's tunnel address.
    pub router_address: Ipv4Addr,
    /// The router's WireGuard public key.
    pub router_public_key: String,
    /// The preshared key (both sides).
    pub preshared_key: Secret,
    /// The API user's password.
    pub password: Secret,
    /// The `[[router]]` block for the config file.
    pub router_toml: String,
    /// The router's pools, as given (the peer's AllowedIPs besides the tunnel address).
    pub pools: Vec<String>,
}

/// Why onboarding was refused.
#[derive(Debug, thiserror::Error)]
pub enum OnboardError {
    /// Something in the config or the request does not allow it.
    #[error("{0}")]
    Invalid(String),
}

fn bad(m: impl Into<String>) -> OnboardError {
    OnboardError::Invalid(m.into())
}

/// A fresh x25519 key pair as WireGuard (and RouterOS) writes it: base64 private, public.
pub fn wg_keypair() -> (Secret, String) {
    let mut bytes: [u8; 32] = rand::random();
    // Clamped as `wg genkey` does.
    bytes[0] &= 248;
    bytes[31] &= 127;
    bytes[31] |= 64;
    let secret = x25519_dalek::StaticSecret::from(bytes);
    let public = x25519_dalek::PublicKey::from(&secret);
    let b64 = base64::engine::general_purpose::STANDARD;
    (Secret::new(b64.encode(secret.to_bytes())), b64.encode(public.as_bytes()))
}

/// The public key of a base64 WireGuard private key.
pub fn wg_public_key(private_b64: &str) -> Result<String, OnboardError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let raw = b64.decode(private_b64.trim()).map_err(|_| bad("private key is not base64"))?;
    let bytes: [u8; 32] = raw.try_into().map_err(|_| bad("private key is not 32 bytes"))?;
    let secret = x25519_dalek::StaticSecret::from(bytes);
    Ok(b64.encode(x25519_dalek::PublicKey::from(&secret).as_bytes()))
}

/// `n` random bytes as a password of letters and digits (no quoting trouble anywhere).
fn password(n: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    (0..n).map(|_| ALPHABET[usize::from(rand::random::<u8>()) % ALPHABET.len()] as char).collect()
}

fn parse_prefix(s: &str) -> Result<(Ipv4Addr, u8), OnboardError> {
    let (a, n) = s.split_once('/').ok_or_else(|| bad(format!("{s:?} is not a.b.c.d/n")))?;
    let a: Ipv4Addr = a.parse().map_err(|_| bad(format!("{s:?} is not a.b.c.d/n")))?;
    let n: u8 = n.parse().ok().filter(|n| *n <= 30).ok_or_else(|| bad(format!("{s:?}: prefix length 0..30")))?;
    Ok((a, n))
}

/// `a.b.c.d/n` with any prefix length (0..=32).
fn parse_cidr(s: &str) -> Result<(Ipv4Addr, u8), OnboardError> {
    let bad_pool = || bad(format!("pool {s:?} is not a.b.c.d/n"));
    let (a, n) = s.split_once('/').ok_or_else(bad_pool)?;
    let a: Ipv4Addr = a.parse().map_err(|_| bad_pool())?;
    let n: u8 = n.parse().ok().filter(|n| *n <= 32).ok_or_else(bad_pool)?;
    Ok((a, n))
}

/// The first free host address of the tunnel network: not the reconciler's, not a router's.
fn allocate(wg: &WireguardConfig, routers: &[RouterConfig]) -> Result<Ipv4Addr, OnboardError> {
    let (net, len) = parse_prefix(&wg.network)?;
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    let base = u32::from(net) & mask;
    let last = base | !mask;
    let own: Ipv4Addr = wg.address.parse().map_err(|_| bad("wireguard.address is not an IPv4 address"))?;
    (base + 1..last)
        .map(Ipv4Addr::from)
        .find(|a| *a != own && !routers.iter().any(|r| r.address == a.to_string()))
        .ok_or_else(|| bad(format!("no free address left in {}", wg.network)))
}

fn cmd(menu: &str, verb: &str, find: Option<(&str, &str)>, args: &[(&str, &str)]) -> ScriptCommand {
    ScriptCommand {
        menu: menu.to_owned(),
        verb: verb.to_owned(),
        find: find.map(|(k, v)| (k.to_owned(), v.to_owned())),
        args: args.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
    }
}

/// Name of the WireGuard interface the script creates.
pub const WG_INTERFACE: &str = "konnekted-wg";
/// Name of the API group the script creates.
pub const API_GROUP: &str = "konnekted-api";
/// Policies of that group: exactly what the reconciler uses.
pub const API_POLICIES: &str = "api,read,write,sensitive";
/// Comment on the script's own (unmanaged) objects.
pub const ONBOARD_COMMENT: &str = "konnekted-onboard";

/// Builds the script and the config block for one new router.
pub fn onboard(config: &Config, req: &OnboardRequest) -> Result<Onboarding, OnboardError> {
    let wg = config
        .wireguard
        .as_ref()
        .ok_or_else(|| bad("the config has no [wireguard] section (the reconciler's tunnel end)"))?;
    let tenant = config
        .tenant(&req.tenant)
        .ok_or_else(|| bad(format!("no tenant {:?} in the config: add its [[tenant]] first", req.tenant)))?;
    let name_ok = !req.name.is_empty()
        && req.name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if !name_ok {
        return Err(bad("router name: letters, digits, '-', '_', '.' only"));
    }
    if config.routers.iter().any(|r| r.name == req.name) {
        return Err(bad(format!("a router named {:?} is already in the config", req.name)));
    }
    let (endpoint_host, endpoint_port) =
        wg.endpoint.rsplit_once(':').ok_or_else(|| bad("wireguard.endpoint must be host:port"))?;
    let mut pools = Vec::new();
    for p in &req.pools {
        // A pool as WireGuard and wg-quick take it: the network address, not a host in it.
        let (a, n) = parse_cidr(p)?;
        let mask = if n == 0 { 0 } else { u32::MAX << (32 - n) };
        let net = Ipv4Addr::from(u32::from(a) & mask);
        if net != a {
            return Err(bad(format!("pool {p:?}: not a network address (did you mean {net}/{n}?)")));
        }
        if !pools.contains(p) {
            pools.push(p.clone());
        }
    }
    if pools.is_empty() && tenant.walled_garden.as_ref().is_some_and(|g| g.redirector.is_some()) {
        return Err(bad(format!(
            "tenant {} has a redirector: give the router's PPPoE/hotspot address pools (--pool 10.20.0.0/16), \
             which the reconciler's WireGuard peer must allow for its answers to reach subscribers",
            req.tenant
        )));
    }
    let router_address = allocate(wg, &config.routers)?;
    let (_, len) = parse_prefix(&wg.network)?;
    let (private_key, router_public_key) = wg_keypair();
    let psk_bytes: [u8; 32] = rand::random();
    let preshared_key = Secret::new(base64::engine::general_purpose::STANDARD.encode(psk_bytes));
    let password = Secret::new(password(24));

    let mut c = Vec::new();
    c.push(cmd(
        "/interface/wireguard",
        "add",
        None,
        &[("name", WG_INTERFACE), ("private-key", private_key.expose()), ("comment", ONBOARD_COMMENT)],
    ));
    let allowed = format!("{}/32", wg.address);
    c.push(cmd(
        "/interface/wireguard/peers",
        "add",
        None,
        &[
            ("interface", WG_INTERFACE),
            ("public-key", &wg.public_key),
            ("preshared-key", preshared_key.expose()),
            ("endpoint-address", endpoint_host),
            ("endpoint-port", endpoint_port),
            ("allowed-address", &allowed),
            ("persistent-keepalive", "25s"),
            ("comment", ONBOARD_COMMENT),
        ],
    ));
    let addr = format!("{router_address}/{len}");
    c.push(cmd(
        "/ip/address",
        "add",
        None,
        &[("address", &addr), ("interface", WG_INTERFACE), ("comment", ONBOARD_COMMENT)],
    ));
    c.push(cmd(
        "/user/group",
        "add",
        None,
        &[("name", API_GROUP), ("policy", API_POLICIES), ("comment", ONBOARD_COMMENT)],
    ));
    c.push(cmd(
        "/user",
        "add",
        None,
        &[
            ("name", "konnekted"),
            ("group", API_GROUP),
            ("password", password.expose()),
            ("address", &allowed),
            ("comment", ONBOARD_COMMENT),
        ],
    ));
    c.push(cmd("/ip/service", "set", Some(("name", "api")), &[("address", &allowed), ("disabled", "no")]));
    c.push(cmd("/ip/service", "set", Some(("name", "api-ssl")), &[("disabled", "yes")]));
    c.push(cmd("/radius/incoming", "set", None, &[("accept", "yes"), ("port", "3799")]));
    c.push(cmd("/ppp/aaa", "set", None, &[("use-radius", "yes"), ("accounting", "yes"), ("interim-update", "5m")]));

    // The managed objects the reconciler enforces whatever the subscribers are (RADIUS,
    // garden), exactly as it would write them: its first pass then has nothing to change.
    let router_cfg = RouterConfig {
        name: req.name.clone(),
        tenant: req.tenant.clone(),
        address: router_address.to_string(),
        port: 8728,
        tls: None,
        username: "konnekted".into(),
        password: password.clone(),
        sites: Default::default(),
        queue_types: Default::default(),
        queue_parent: "global".into(),
        window: 64,
    };
    let desired = model::build_desired(
        DesiredState {
            realm: tenant.realm.clone(),
            generated_at: String::new(),
            cursor: 0,
            plans: Vec::new(),
            subscribers: Vec::new(),
            vouchers: Vec::new(),
            disable_confirmations: Vec::new(),
        },
        tenant,
        &router_cfg,
    );
    for o in desired.objects() {
        if o.menu == Menu::QueueType || o.menu == Menu::PppProfile {
            continue;
        }
        let mut args: Vec<(&str, &str)> =
            o.attrs.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| (k.as_str(), v.as_str())).collect();
        args.push(("comment", &o.comment));
        c.push(cmd(o.menu.path(), "add", None, &args));
    }

    if req.hotspot {
        c.push(cmd(
            "/ip/hotspot/profile",
            "set",
            Some(("name", &req.hotspot_profile)),
            &[("use-radius", "yes"), ("radius-accounting", "yes"), ("radius-interim-update", "5m")],
        ));
        if let Some(g) = &tenant.walled_garden {
            let host = model::portal_host_address(&g.portal_host);
            c.push(cmd(
                "/ip/hotspot/walled-garden",
                "add",
                None,
                &[("dst-host", host), ("action", "allow"), ("comment", ONBOARD_COMMENT)],
            ));
        }
    }

    let router_toml = format!(
        "\n[[router]]\nname = {name}\ntenant = {tenant}\naddress = \"{router_address}\"\nport = 8728\nusername = \"konnekted\"\npassword = {pw}\n",
        name = toml_str(&req.name),
        tenant = toml_str(&req.tenant),
        pw = toml_str(password.expose()),
    );
    Ok(Onboarding { commands: c, router_address, router_public_key, preshared_key, password, router_toml, pools })
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

impl Onboarding {
    /// The `.rsc` script to paste into the router's terminal.
    pub fn script(&self, req: &OnboardRequest) -> String {
        let mut out = format!(
            "# Konnekted onboarding of router {} (tenant {}): paste once into the terminal (RouterOS 7).\n# Holds fresh secrets: do not keep it.\n",
            req.name, req.tenant
        );
        for c in &self.commands {
            out.push_str(&render(c));
            out.push('\n');
        }
        out
    }

    /// The reconciler side's WireGuard peer (wg-quick / `wg set` format).
    pub fn server_peer(&self, req: &OnboardRequest) -> String {
        format!(
            "# router {} (tenant {}){}\n[Peer]\nPublicKey = {}\nPresharedKey = {}\nAllowedIPs = {}\n",
            req.name,
            req.tenant,
            if self.pools.is_empty() { "" } else { "; then its subscribers' pools, for the redirector" },
            self.router_public_key,
            self.preshared_key.expose(),
            std::iter::once(format!("{}/32", self.router_address))
                .chain(self.pools.iter().cloned())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

fn quote(v: &str) -> String {
    let mut out = String::from("\"");
    for ch in v.chars() {
        if matches!(ch, '"' | '\\' | '$' | '?') {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('"');
    out
}

/// One command as a RouterOS console line.
pub fn render(c: &ScriptCommand) -> String {
    let mut line = c.menu.replacen('/', "\u{0}", 1).replace('/', " ").replace('\u{0}', "/");
    line.push(' ');
    line.push_str(&c.verb);
    if let Some((k, v)) = &c.find {
        line.push_str(&format!(" [find {k}={}]", quote(v)));
    }
    for (k, v) in &c.args {
        line.push_str(&format!(" {k}={}", quote(v)));
    }
    line
}

/// Parses the script back into commands (the lines [`render`] writes; comments skipped).
pub fn parse_script(text: &str) -> Result<Vec<ScriptCommand>, OnboardError> {
    let mut out = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let tokens = tokenize(line)?;
        let verb_at = tokens
            .iter()
            .position(|t| t == "add" || t == "set")
            .ok_or_else(|| bad(format!("no add/set in {line:?}")))?;
        let menu = tokens[..verb_at].join("/");
        let mut find = None;
        let mut args = Vec::new();
        let mut rest = tokens[verb_at + 1..].iter();
        while let Some(t) = rest.next() {
            if t == "[find" {
                let cond = rest.next().ok_or_else(|| bad("[find without condition"))?;
                let cond = cond.strip_suffix(']').ok_or_else(|| bad("[find k=v] expected"))?;
                let (k, v) = cond.split_once('=').ok_or_else(|| bad("[find k=v] expected"))?;
                find = Some((k.to_owned(), v.to_owned()));
                continue;
            }
            let (k, v) = t.split_once('=').ok_or_else(|| bad(format!("{t:?} is not k=v")))?;
            args.push((k.to_owned(), v.to_owned()));
        }
        out.push(ScriptCommand { menu, verb: tokens[verb_at].clone(), find, args });
    }
    Ok(out)
}

/// Splits on spaces outside quotes; quotes are removed and `\x` unescaped.
fn tokenize(line: &str) -> Result<Vec<String>, OnboardError> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars();
    while let Some(ch) = chars.next() {
        match ch {
            '\\' if quoted => cur.push(chars.next().ok_or_else(|| bad("dangling \\"))?),
            '"' => quoted = !quoted,
            ' ' if !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            _ => cur.push(ch),
        }
    }
    if quoted {
        return Err(bad("unterminated quote"));
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn onboard_keys_are_fresh_x25519_pairs() {
        let (a, pa) = wg_keypair();
        let (b, pb) = wg_keypair();
        assert_ne!(a.expose(), b.expose());
        assert_ne!(pa, pb);
        assert_eq!(wg_public_key(a.expose()).expect("pub"), pa);
        assert_eq!(a.expose().len(), 44);
        // RFC 7748 §6.1 test vector (Alice).
        let alice = "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=";
        let want = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=";
        assert_eq!(wg_public_key(alice).expect("pub"), want);
    }

    #[test]
    fn onboard_render_and_parse_round_trip_quotes() {
        let c = cmd("/ip/hotspot/profile", "set", Some(("name", "my \"hs\"")), &[("x", "a b$c\\d?")]);
        let line = render(&c);
        assert!(line.starts_with("/ip hotspot profile set [find name="), "{line}");
        assert_eq!(parse_script(&line).expect("parse"), vec![c]);
    }
}

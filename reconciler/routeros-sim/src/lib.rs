//! A stateful MikroTik RouterOS API server for tests and benchmarks.
//!
//! **What it is:** a TCP (or any `AsyncRead + AsyncWrite`) server speaking the real
//! binary API wire format (built on `routeros-proto`), with the menus a WISP billing
//! system drives: `/ppp/secret`, `/ppp/active`, `/ppp/profile`, `/queue/tree`, `/queue/type`,
//! `/queue/simple`, `/ip/firewall/{filter,nat,mangle,address-list}`,
//! `/ip/hotspot/{user,active}`, `/radius`, `/radius/incoming`, `/system/identity`,
//! `/system/resource`, and the menus `router onboard` touches: `/interface/wireguard`,
//! `/interface/wireguard/peers`, `/ip/address`, `/user`, `/user/group`, `/ip/service`,
//! `/ppp/aaa`, `/ip/hotspot/profile`, `/ip/hotspot/walled-garden` (keys must be 32-byte
//! base64, references must name existing interfaces and groups, policies must be known; a
//! `/user` whose group grants `api` may log in). It implements `print` (with `.proplist`, `?` queries including
//! `?#` stack operations, `=count-only=`), `add` (`!done =ret=*HEX`), `set`, `remove`,
//! `enable`, `disable` (with `=.id=` lists or names), `move` (firewall filter, nat and mangle:
//! `=numbers=` before `=destination=`), `/login` (plain, and the legacy MD5
//! challenge in the v6 flavour), `/cancel`, `/quit`, `listen` (never emits events,
//! ends on `/cancel`), `.tag` on every reply and `!empty` for empty prints (v7 flavour).
//! Replies are in order per connection; each is delayed by the configured RTT measured
//! from when its request arrived, so N pipelined commands cost about one RTT.
//!
//! It also serves `unset` (`=numbers=` or `=.id=`, `=value-name=`: back to the default).
//!
//! **Refuses what a router refuses** (RouterOS's own messages where known; `interfaces.md` §1):
//! `input does not match any value of <prop>` for a reference to nothing or a value
//! outside the menu's set (`/ppp/secret` `profile=` naming no profile, `service=` outside
//! `any async l2tp ovpn pppoe pptp sstp`; `/queue/tree` `parent=` that is not `global`, an
//! interface (`ether1`..`ether5`, `bridge`) or another queue, `queue=` naming no queue type;
//! `/queue/type` `kind=`; firewall `action=` outside each table's set);
//! `invalid value for argument <prop>` for a malformed value (`remote-address=` /
//! `local-address=` that is not an IPv4 address, empty included; an address-list `address`
//! that is not an address, range, prefix or DNS name, e.g. `127.0.0.1:8080`; a rate);
//! `unknown parameter <prop>` for a property the menu does not have (each firewall table
//! has its own: `to-ports` only in nat, `reject-with` only in filter, marks and `passthrough`
//! only in mangle); `failure: secret with the same name already exists` for a duplicate PPP
//! secret (`failure: already have such entry` elsewhere); `no such command` for an unknown
//! command of a known menu, `no such command prefix` for an unknown menu.
//!
//! **As on a fresh router:** PPP profiles `default` and `default-encryption`; queue types
//! `default`, `ethernet-default`, `wireless-default`, `synchronous-default`,
//! `hotspot-default`, `pcq-upload-default`, `pcq-download-default`, `only-hardware-queue`,
//! `multi-queue-ethernet-default`, `default-small` (built-in items cannot be removed).
//! Booleans are accepted as `yes/no/true/false` in sets and queries (`?=disabled=yes`
//! matches what `?=disabled=true` does) and printed `true`/`false`; rates are printed as
//! the router prints them (`10000000` → `10M`, `2M/512k`). Replies put `.tag` right after the
//! reply word; after `/cancel`, each cancelled command's `interrupted` trap, then the
//! cancel's own `!done`, then the cancelled command's `!done`.
//!
//! **What it is not:** a model of packet forwarding, RADIUS, queues or PPP. Nothing
//! happens on its own: sessions appear in `/ppp/active` only through
//! [`SimHandle::ppp_login`]. Messages of traps follow what public clients have
//! observed; a few (see `interfaces.md` §7) are unverified against a real router.
//!
//! # Knobs ([`SimHandle`])
//!
//! * [`SimHandle::set_rtt`]: added delay per reply.
//! * [`SimHandle::drop_after_sentences`] / [`SimHandle::drop_connections`]: cut connections.
//! * [`SimHandle::inject`]: traps, hangs or `!fatal` for matching commands.
//! * [`SimHandle::set_lying`]: acknowledge writes under a menu without applying them.
//! * [`SimHandle::add`], [`SimHandle::set`], [`SimHandle::remove`], [`SimHandle::move_items`],
//!   [`SimHandle::rows`], [`SimHandle::find`]: operator edits ("Winbox") and inspection.
//! * [`SimHandle::ppp_login`], [`SimHandle::hotspot_login`]: simulated logged-in users.
//! * [`SimHandle::stats`], [`SimHandle::command_log`]: what clients did.
//!
//! # Binary
//!
//! ```text
//! routeros-sim --listen 127.0.0.1:8728 --user admin --password x [--flavour v6|v7] [--rtt-ms N] [--legacy-login]
//! ```
//! serves one simulated router until Ctrl-C (knobs are only reachable from Rust).
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//! use routeros_sim::{Fault, SimConfig, Simulator};
//!
//! # async fn demo() -> std::io::Result<()> {
//! let sim = Simulator::start("127.0.0.1:0", SimConfig::new("admin", "x")).await?;
//! let addr = sim.local_addr(); // connect a client here
//! let h = sim.handle();
//! h.set_rtt(Duration::from_millis(40));
//! h.add("/ppp/profile", &[("name", "10M")]).unwrap();
//! h.add("/ppp/secret", &[("name", "alice"), ("profile", "10M")]).unwrap();
//! h.ppp_login("alice", "10.20.0.15");
//! h.inject(Fault::trap("/ppp/secret/add", "failure: out of memory").times(1));
//! h.set_lying("/queue/simple", true);
//! assert_eq!(h.find("/ppp/secret", "name", "alice").len(), 1);
//! # let _ = addr; Ok(()) }
//! ```

mod conn;
mod query;
mod schema;
mod state;

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use routeros_proto::{Request, Row};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use query::{BadQuery, Props, matches as query_matches};
pub use schema::{MENUS, MenuKind, MenuSpec, Unique};
pub use state::SimTrap;
use state::{Origin, State};

/// Which RouterOS major version to imitate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Flavour {
    /// 6.x: legacy MD5 challenge login available, no `!empty`, `01:02:03` durations.
    V6,
    /// 7.x (7.18+): plain login only, `!empty` before `!done` on empty prints.
    #[default]
    V7,
}

impl std::str::FromStr for Flavour {
    type Err = String;
    fn from_str(s: &str) -> Result<Flavour, String> {
        match s {
            "v6" | "6" => Ok(Flavour::V6),
            "v7" | "7" => Ok(Flavour::V7),
            other => Err(format!("unknown flavour {other:?} (v6 or v7)")),
        }
    }
}

/// How the simulated router behaves.
#[derive(Clone)]
pub struct SimConfig {
    /// API user name.
    pub user: String,
    /// API password.
    pub password: String,
    /// v6 or v7.
    pub flavour: Flavour,
    /// v6 only: behave like a pre-6.43 router that answers every `/login` without
    /// `=response=` with a challenge (the client must fall back to MD5).
    pub legacy_login_only: bool,
    /// Initial added delay per reply.
    pub rtt: Duration,
}

impl fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimConfig")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("flavour", &self.flavour)
            .field("legacy_login_only", &self.legacy_login_only)
            .field("rtt", &self.rtt)
            .finish()
    }
}

impl SimConfig {
    /// v7 flavour, no delay.
    pub fn new(user: &str, password: &str) -> SimConfig {
        SimConfig {
            user: user.to_owned(),
            password: password.to_owned(),
            flavour: Flavour::V7,
            legacy_login_only: false,
            rtt: Duration::ZERO,
        }
    }

    /// Sets the flavour.
    pub fn flavour(mut self, flavour: Flavour) -> SimConfig {
        self.flavour = flavour;
        self
    }

    /// Sets the initial RTT.
    pub fn rtt(mut self, rtt: Duration) -> SimConfig {
        self.rtt = rtt;
        self
    }

    /// v6 flavour that only knows the legacy challenge login.
    pub fn legacy_login_only(mut self) -> SimConfig {
        self.flavour = Flavour::V6;
        self.legacy_login_only = true;
        self
    }
}

/// What an injected fault does to a matching command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultAction {
    /// Answer `!trap` (+ `!done`) instead of executing.
    Trap {
        /// `=category=`.
        category: Option<u8>,
        /// `=message=`.
        message: String,
    },
    /// Never answer until the client sends `/cancel` (then `!trap interrupted` + `!done`).
    Hang,
    /// Answer `!fatal <reason>` and close the connection.
    Fatal(String),
}

/// A rule that changes how matching commands are answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// Command word to match exactly (`/ppp/secret/add`), or a prefix when it ends with `/`.
    pub command: String,
    /// Only commands with this attribute value match.
    pub when: Option<(String, String)>,
    /// What to do.
    pub action: FaultAction,
    /// How many commands it applies to (`None`: until [`SimHandle::clear_faults`]).
    pub times: Option<usize>,
}

impl Fault {
    /// Trap matching commands with `message` (no category).
    pub fn trap(command: &str, message: &str) -> Fault {
        Fault {
            command: command.to_owned(),
            when: None,
            action: FaultAction::Trap { category: None, message: message.to_owned() },
            times: None,
        }
    }

    /// Never answer matching commands.
    pub fn hang(command: &str) -> Fault {
        Fault { command: command.to_owned(), when: None, action: FaultAction::Hang, times: None }
    }

    /// `!fatal` on matching commands.
    pub fn fatal(command: &str, reason: &str) -> Fault {
        Fault { command: command.to_owned(), when: None, action: FaultAction::Fatal(reason.to_owned()), times: None }
    }

    /// Sets the trap category (for [`Fault::trap`]).
    pub fn category(mut self, c: u8) -> Fault {
        if let FaultAction::Trap { category, .. } = &mut self.action {
            *category = Some(c);
        }
        self
    }

    /// Only when the command carries `=name=value`.
    pub fn when(mut self, name: &str, value: &str) -> Fault {
        self.when = Some((name.to_owned(), value.to_owned()));
        self
    }

    /// Only the next `n` matching commands.
    pub fn times(mut self, n: usize) -> Fault {
        self.times = Some(n);
        self
    }

    fn matches(&self, req: &Request) -> bool {
        let cmd_ok = if self.command.ends_with('/') {
            req.command.starts_with(&self.command)
        } else {
            req.command == self.command
        };
        cmd_ok
            && self.when.as_ref().is_none_or(|(k, v)| req.attributes.get(k) == Some(v.as_str()))
            && self.times != Some(0)
    }
}

/// Counters of what clients did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Connections accepted so far.
    pub connections: usize,
    /// Connections open now.
    pub open: usize,
    /// Sentences received on all connections.
    pub sentences: u64,
}

#[derive(Default)]
struct AtomicStats {
    connections: AtomicUsize,
    open: AtomicUsize,
    sentences: AtomicU64,
}

#[derive(Default)]
struct Knobs {
    faults: Vec<Fault>,
    lying: HashSet<String>,
    drop_countdown: Option<u64>,
    log: VecDeque<Request>,
}

/// How many commands [`SimHandle::command_log`] keeps.
pub const COMMAND_LOG_LEN: usize = 10_000;

pub(crate) struct Shared {
    config: SimConfig,
    state: Mutex<State>,
    knobs: Mutex<Knobs>,
    rtt_micros: AtomicU64,
    kill: watch::Sender<u64>,
    stats: AtomicStats,
    challenges: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave the simulator's data half-written
    // in a way that matters to tests; keep serving.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    fn rtt(&self) -> Duration {
        Duration::from_micros(self.rtt_micros.load(Ordering::Relaxed))
    }

    fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut lock(&self.state))
    }

    fn take_drop_countdown(&self) -> bool {
        let mut k = lock(&self.knobs);
        match &mut k.drop_countdown {
            Some(0) => {
                k.drop_countdown = None;
                true
            }
            Some(n) => {
                *n -= 1;
                false
            }
            None => false,
        }
    }

    fn take_fault(&self, req: &Request) -> Option<FaultAction> {
        let mut k = lock(&self.knobs);
        let f = k.faults.iter_mut().find(|f| f.matches(req))?;
        if let Some(n) = &mut f.times {
            *n -= 1;
        }
        Some(f.action.clone())
    }

    fn is_lying(&self, command: &str) -> bool {
        let k = lock(&self.knobs);
        if k.lying.is_empty() {
            return false;
        }
        let is_write = ["/add", "/set", "/remove", "/enable", "/disable", "/move"].iter().any(|v| command.ends_with(v));
        is_write && command.rsplit_once('/').is_some_and(|(path, _)| k.lying.contains(path))
    }

    fn record(&self, req: &Request) {
        let mut k = lock(&self.knobs);
        if k.log.len() == COMMAND_LOG_LEN {
            k.log.pop_front();
        }
        k.log.push_back(req.clone());
    }

    fn new_challenge(&self) -> String {
        let n = self.challenges.fetch_add(1, Ordering::Relaxed);
        let mut out = String::with_capacity(32);
        for i in 0..2u64 {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(n);
            h.write_u64(i);
            out.push_str(&format!("{:016x}", h.finish()));
        }
        out
    }
}

/// Cheap, cloneable control over a simulator: knobs, state access and statistics.
#[derive(Clone)]
pub struct SimHandle {
    shared: Arc<Shared>,
}

impl fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimHandle").field("config", &self.shared.config).finish()
    }
}

impl SimHandle {
    /// A simulator without a listener; feed it streams with [`SimHandle::serve`].
    pub fn new(config: SimConfig) -> SimHandle {
        let (kill, _) = watch::channel(0);
        let rtt = config.rtt;
        SimHandle {
            shared: Arc::new(Shared {
                state: Mutex::new(State::new(config.flavour)),
                config,
                knobs: Mutex::new(Knobs::default()),
                rtt_micros: AtomicU64::new(u64::try_from(rtt.as_micros()).unwrap_or(u64::MAX)),
                kill,
                stats: AtomicStats::default(),
                challenges: AtomicU64::new(0),
            }),
        }
    }

    /// Serves one API connection on `stream` (e.g. one end of `tokio::io::duplex`).
    pub fn serve<S>(&self, stream: S) -> JoinHandle<()>
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        tokio::spawn(conn::serve(self.shared.clone(), stream))
    }

    /// The configuration it was made with.
    pub fn config(&self) -> &SimConfig {
        &self.shared.config
    }

    /// Sets the delay added to every reply, counted from its request's arrival.
    pub fn set_rtt(&self, rtt: Duration) {
        let micros = u64::try_from(rtt.as_micros()).unwrap_or(u64::MAX);
        self.shared.rtt_micros.store(micros, Ordering::Relaxed);
    }

    /// Closes the connection that receives the sentence after the next `n`
    /// (counted over all connections), without answering it. `n = 0`: the next one.
    pub fn drop_after_sentences(&self, n: u64) {
        lock(&self.shared.knobs).drop_countdown = Some(n);
    }

    /// Closes every open connection now, without answering pending commands.
    pub fn drop_connections(&self) {
        self.shared.kill.send_modify(|g| *g += 1);
    }

    /// Adds a fault rule (rules are tried in the order added).
    pub fn inject(&self, fault: Fault) {
        lock(&self.shared.knobs).faults.push(fault);
    }

    /// Removes all fault rules.
    pub fn clear_faults(&self) {
        lock(&self.shared.knobs).faults.clear();
    }

    /// Lying mode for menu `path` (e.g. `/queue/simple`): `add`/`set`/`remove`/
    /// `enable`/`disable` answer success (and `add` a fresh id) but change nothing.
    pub fn set_lying(&self, path: &str, lying: bool) {
        let mut k = lock(&self.shared.knobs);
        if lying {
            k.lying.insert(path.to_owned());
        } else {
            k.lying.remove(path);
        }
    }

    /// Adds an item as an operator would; returns its `.id`. Same rules as the API
    /// (unknown property, duplicates), except that read-only properties and the
    /// `/ppp/active`, `/ip/hotspot/active` menus are writable.
    pub fn add(&self, path: &str, attrs: &[(&str, &str)]) -> Result<String, SimTrap> {
        let row: Row = attrs.iter().copied().collect();
        self.shared.with_state(|s| s.add(path, &row, Origin::Operator, false))
    }

    /// Sets properties of items (`id`: `*1A`, a name, or a comma list) as an operator would.
    /// For single-item menus (`/system/identity`) `id` is ignored.
    pub fn set(&self, path: &str, id: &str, attrs: &[(&str, &str)]) -> Result<(), SimTrap> {
        let row: Row = attrs.iter().copied().collect();
        self.shared.with_state(|s| s.set(path, Some(id), &row, Origin::Operator, false))
    }

    /// Removes items as an operator would.
    pub fn remove(&self, path: &str, id: &str) -> Result<(), SimTrap> {
        self.shared.with_state(|s| s.remove(path, id, Origin::Operator, false))
    }

    /// Moves items (`id`: `*1A` or a comma list) just before `destination`, or to the end
    /// without one, as an operator dragging rules in Winbox would.
    pub fn move_items(&self, path: &str, id: &str, destination: Option<&str>) -> Result<(), SimTrap> {
        self.shared.with_state(|s| s.move_items(path, id, destination, false))
    }

    /// Every item of a menu as `print` shows it (with `.id` for tables).
    pub fn rows(&self, path: &str) -> Vec<Row> {
        self.shared.with_state(|s| s.rows(path)).unwrap_or_default()
    }

    /// Whether `/ip/service` lets `peer` reach the plain API, as a router decides it: the `api`
    /// service must not be disabled and, when its `address` list is set, `peer` must fall in one
    /// of its addresses or prefixes (an empty list lets everyone in, as on a fresh router).
    pub fn api_allows(&self, peer: std::net::IpAddr) -> bool {
        let Some(api) = self.find("/ip/service", "name", "api").into_iter().next() else {
            return true;
        };
        if matches!(api.get("disabled"), Some("true" | "yes")) {
            return false;
        }
        let list = api.get("address").unwrap_or("");
        list.trim().is_empty() || list.split(',').any(|entry| prefix_contains(entry.trim(), peer))
    }

    /// Items of a menu whose `key` equals `value`.
    pub fn find(&self, path: &str, key: &str, value: &str) -> Vec<Row> {
        self.rows(path).into_iter().filter(|r| r.get(key) == Some(value)).collect()
    }

    /// Simulates a PPPoE user logging in: adds a `/ppp/active` entry; returns its `.id`.
    pub fn ppp_login(&self, name: &str, address: &str) -> String {
        let n = self.shared.challenges.fetch_add(1, Ordering::Relaxed);
        let caller = format!("02:00:00:00:{:02X}:{:02X}", (n >> 8) & 0xFF, n & 0xFF);
        let session = format!("0x8{:07X}", n & 0xFFF_FFFF);
        self.add(
            "/ppp/active",
            &[("name", name), ("address", address), ("caller-id", &caller), ("session-id", &session)],
        )
        .unwrap_or_default()
    }

    /// Simulates a hotspot user logging in: adds an `/ip/hotspot/active` entry; returns its `.id`.
    pub fn hotspot_login(&self, user: &str, address: &str, mac: &str) -> String {
        self.add("/ip/hotspot/active", &[("user", user), ("address", address), ("mac-address", mac)])
            .unwrap_or_default()
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        let s = &self.shared.stats;
        Stats {
            connections: s.connections.load(Ordering::Relaxed),
            open: s.open.load(Ordering::Relaxed),
            sentences: s.sentences.load(Ordering::Relaxed),
        }
    }

    /// The last [`COMMAND_LOG_LEN`] commands received after login (oldest first).
    pub fn command_log(&self) -> Vec<Request> {
        lock(&self.shared.knobs).log.iter().cloned().collect()
    }

    /// Forgets the command log.
    pub fn clear_command_log(&self) {
        lock(&self.shared.knobs).log.clear();
    }
}

/// A simulator listening on TCP. Dropping it stops accepting and closes its connections.
pub struct Simulator {
    handle: SimHandle,
    addr: SocketAddr,
    accept: JoinHandle<()>,
}

impl Simulator {
    /// Binds `addr` (`127.0.0.1:0` for a free port) and serves connections in the background.
    pub async fn start(addr: &str, config: SimConfig) -> std::io::Result<Simulator> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let handle = SimHandle::new(config);
        let h = handle.clone();
        let accept = tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, peer)) => {
                        if !h.api_allows(peer.ip()) {
                            // A router closes the connection of a peer outside `/ip/service api address`.
                            tracing::info!("sim: API connection from {peer} refused by /ip/service api address");
                            continue;
                        }
                        let _ = stream.set_nodelay(true);
                        h.serve(stream);
                    }
                    Err(e) => {
                        tracing::warn!("sim: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        });
        Ok(Simulator { handle, addr, accept })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The control handle.
    pub fn handle(&self) -> SimHandle {
        self.handle.clone()
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.accept.abort();
        self.handle.drop_connections();
    }
}

/// Whether `entry` (`a.b.c.d`, `a.b.c.d/n`, or the IPv6 forms) holds `ip`. IPv4 peers mapped
/// into IPv6 (`::ffff:a.b.c.d`, a dual-stack listener) are compared as IPv4.
fn prefix_contains(entry: &str, ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    let (addr, len) = entry.split_once('/').unwrap_or((entry, ""));
    let Ok(net) = addr.parse::<IpAddr>() else { return false };
    match (net, ip) {
        (IpAddr::V4(net), IpAddr::V4(ip)) => {
            let len: u32 = if len.is_empty() { 32 } else { len.parse().unwrap_or(33) };
            if len > 32 {
                return false;
            }
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            u32::from(net) & mask == u32::from(ip) & mask
        }
        (IpAddr::V6(net), IpAddr::V6(ip)) => {
            let len: u32 = if len.is_empty() { 128 } else { len.parse().unwrap_or(129) };
            if len > 128 {
                return false;
            }
            let mask = if len == 0 { 0 } else { u128::MAX << (128 - len) };
            u128::from(net) & mask == u128::from(ip) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod service_address_tests {
    use super::prefix_contains;

    #[test]
    fn service_address_matches_addresses_and_prefixes() {
        let ip = |s: &str| s.parse().expect("ip");
        assert!(prefix_contains("10.255.0.1/32", ip("10.255.0.1")));
        assert!(!prefix_contains("10.255.0.1/32", ip("10.255.0.2")));
        assert!(prefix_contains("10.255.0.0/24", ip("10.255.0.200")));
        assert!(prefix_contains("10.255.0.1", ip("10.255.0.1")));
        assert!(prefix_contains("0.0.0.0/0", ip("192.0.2.1")));
        assert!(prefix_contains("127.0.0.1/32", ip("::ffff:127.0.0.1")));
        assert!(!prefix_contains("10.255.0.0/33", ip("10.255.0.1")));
        assert!(!prefix_contains("not-an-address", ip("10.255.0.1")));
        assert!(prefix_contains("2001:db8::/32", ip("2001:db8::1")));
        assert!(!prefix_contains("2001:db8::/32", ip("10.0.0.1")));
    }
}

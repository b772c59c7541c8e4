//! The router's data and the execution of menu commands against it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use routeros_proto::value::{format_duration, format_duration_v6, format_rate, parse_bool, parse_rate};
use routeros_proto::{Request, Row};

use crate::Flavour;
use crate::query::{self, BadQuery};
use crate::schema::{self, BOOL_FIELDS, MenuKind, MenuSpec, Unique};

/// A `!trap` the simulator answers with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SimTrap {
    /// `=category=`, when the router would send one.
    pub category: Option<u8>,
    /// `=message=`.
    pub message: String,
}

impl SimTrap {
    pub(crate) fn new(category: Option<u8>, message: impl Into<String>) -> SimTrap {
        SimTrap { category, message: message.into() }
    }
}

/// A path no menu has (`/ppp/bogus/print`).
pub(crate) fn no_such_command() -> SimTrap {
    SimTrap::new(Some(0), "no such command prefix")
}
/// A known menu without that command (`/ppp/secret/frobnicate`, `/ppp/active/add`).
pub(crate) fn no_such_verb() -> SimTrap {
    SimTrap::new(Some(0), "no such command")
}
fn no_value_match(name: &str) -> SimTrap {
    SimTrap::new(Some(1), format!("input does not match any value of {name}"))
}
fn invalid_value(name: &str) -> SimTrap {
    SimTrap::new(Some(1), format!("invalid value for argument {name}"))
}
fn no_such_item() -> SimTrap {
    SimTrap::new(Some(0), "no such item")
}
fn unknown_parameter(name: &str) -> SimTrap {
    SimTrap::new(Some(1), format!("unknown parameter {name}"))
}
fn already_have(path: &str) -> SimTrap {
    match path {
        "/ppp/secret" => SimTrap::new(None, "failure: secret with the same name already exists"),
        _ => SimTrap::new(None, "failure: already have such entry"),
    }
}

fn is_ipv4(v: &str) -> bool {
    v.parse::<std::net::Ipv4Addr>().is_ok()
}

/// An address-list `address`: an IPv4 address, range `a-b`, prefix `a/n`, or a DNS name
/// (RouterOS 7 resolves names itself). Never a port.
fn is_list_address(v: &str) -> bool {
    if is_ipv4(v) {
        return true;
    }
    if let Some((a, b)) = v.split_once('-')
        && is_ipv4(a)
        && is_ipv4(b)
    {
        return true;
    }
    if let Some((a, n)) = v.split_once('/') {
        return is_ipv4(a) && n.parse::<u8>().is_ok_and(|n| n <= 32);
    }
    let dns = |l: &str| !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    v.len() <= 253 && v.bytes().any(|b| b.is_ascii_alphabetic()) && v.split('.').all(dns)
}

/// An IPv4 prefix `a.b.c.d/n`.
fn is_prefix(v: &str) -> bool {
    v.split_once('/').is_some_and(|(a, n)| is_ipv4(a) && n.parse::<u8>().is_ok_and(|n| n <= 32))
}

/// A WireGuard key as RouterOS takes it: 32 bytes in standard base64 (44 characters, one `=`).
fn is_wg_key(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 44
        && b[43] == b'='
        && b[..43].iter().all(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/')
        // The last character before `=` carries 4 bits: the low two must be zero.
        && b"AEIMQUYcgkosw048".contains(&b[42])
}

/// Who makes a change: the API (rules of the API apply) or an operator in Winbox
/// (may also create `/ppp/active` and `/ip/hotspot/active` entries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    Api,
    Operator,
}

#[derive(Debug, Clone)]
struct Item {
    id: u32,
    attrs: Row,
    since: Instant,
}

#[derive(Debug, Default)]
struct Table {
    items: Vec<Item>,
    next_id: u32,
}

/// Result of a successful command.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub rows: Vec<Row>,
    pub ret: Option<String>,
    /// A print that returned no rows (v7 flavour sends `!empty`).
    pub empty_print: bool,
}

/// All menus and their items.
#[derive(Debug)]
pub(crate) struct State {
    tables: HashMap<&'static str, Table>,
    started: Instant,
    flavour: Flavour,
}

pub(crate) fn format_id(id: u32) -> String {
    format!("*{id:X}")
}

fn parse_id(s: &str) -> Option<u32> {
    u32::from_str_radix(s.strip_prefix('*')?, 16).ok()
}

const PRINT_FLAGS: &[&str] =
    &[".proplist", "count-only", "detail", "terse", "without-paging", "follow", "follow-only", "interval", "stats"];

impl State {
    pub(crate) fn new(flavour: Flavour) -> State {
        let now = Instant::now();
        let mut tables = HashMap::new();
        for spec in schema::MENUS {
            let mut t = Table { items: Vec::new(), next_id: 1 };
            if spec.kind == MenuKind::Single {
                let attrs = spec.defaults.iter().copied().collect();
                t.items.push(Item { id: 0, attrs, since: now });
            }
            tables.insert(spec.path, t);
        }
        if let Some(t) = tables.get_mut("/ppp/profile") {
            for (id, name, enc) in [(0, "default", "default"), (0xFFFF_FFFE, "default-encryption", "yes")] {
                let mut attrs: Row = [("name", name)].into_iter().collect();
                for (k, v) in schema::menu("/ppp/profile").map(|m| m.defaults).unwrap_or(&[]) {
                    attrs.insert(k, v);
                }
                attrs.insert("use-encryption", enc);
                attrs.insert("default", "true");
                t.items.push(Item { id, attrs, since: now });
            }
        }
        if let Some(t) = tables.get_mut("/queue/type") {
            let defaults = schema::menu("/queue/type").map(|m| m.defaults).unwrap_or(&[]);
            for (i, (name, kind)) in schema::BUILTIN_QUEUE_TYPES.iter().enumerate() {
                let mut attrs: Row = defaults.iter().copied().collect();
                attrs.insert("name", name);
                attrs.insert("kind", kind);
                match *name {
                    "pcq-upload-default" => attrs.insert("pcq-classifier", "src-address"),
                    "pcq-download-default" => attrs.insert("pcq-classifier", "dst-address"),
                    _ => {}
                }
                attrs.insert("default", "true");
                // Built-in items have ids far above what `add` hands out.
                t.items.push(Item { id: 0xFFFF_FF00 + i as u32, attrs, since: now });
            }
        }
        let builtin =
            |tables: &mut HashMap<&'static str, Table>, path: &str, rows: Vec<Vec<(&'static str, &'static str)>>| {
                let defaults = schema::menu(path).map(|m| m.defaults).unwrap_or(&[]);
                if let Some(t) = tables.get_mut(path) {
                    for (i, extra) in rows.into_iter().enumerate() {
                        let mut attrs: Row = defaults.iter().copied().collect();
                        for (k, v) in extra {
                            attrs.insert(k, v);
                        }
                        t.items.push(Item { id: 0xFFFF_FF00 + i as u32, attrs, since: now });
                    }
                }
            };
        builtin(
            &mut tables,
            "/user/group",
            schema::BUILTIN_GROUPS.iter().map(|(n, p)| vec![("name", *n), ("policy", *p)]).collect(),
        );
        builtin(
            &mut tables,
            "/ip/service",
            schema::BUILTIN_SERVICES.iter().map(|(n, p)| vec![("name", *n), ("port", *p)]).collect(),
        );
        builtin(&mut tables, "/ip/hotspot/profile", vec![vec![("name", "default"), ("default", "true")]]);
        State { tables, started: now, flavour }
    }

    /// Whether `/user` has an enabled user `name` with this password whose group grants `api`
    /// (and does not deny it): the accounts the API accepts besides the configured one.
    pub(crate) fn api_user(&self, name: &str, password: &str) -> bool {
        let Some(user) = self.tables.get("/user").and_then(|t| {
            t.items.iter().find(|i| i.attrs.get("name") == Some(name) && i.attrs.get("disabled") != Some("true"))
        }) else {
            return false;
        };
        if user.attrs.get("password").unwrap_or("") != password {
            return false;
        }
        let group = user.attrs.get("group").unwrap_or("");
        self.tables.get("/user/group").is_some_and(|t| {
            t.items.iter().any(|g| {
                g.attrs.get("name") == Some(group) && g.attrs.get("policy").unwrap_or("").split(',').any(|p| p == "api")
            })
        })
    }

    /// Names of the items of `path`.
    fn names<'a>(&'a self, path: &str) -> impl Iterator<Item = &'a str> + 'a {
        self.tables.get(path).into_iter().flat_map(|t| t.items.iter().filter_map(|i| i.attrs.get("name")))
    }

    /// Refuses values a router refuses: references to nothing, values outside a menu's
    /// set, malformed addresses. `attrs` are the values being written; `own` the name of
    /// the item being changed (a queue cannot be its own parent).
    fn check_values(&self, spec: &MenuSpec, attrs: &Row, own: Option<&str>) -> Result<(), SimTrap> {
        for (k, v) in attrs.iter() {
            let ok = match (spec.path, k) {
                ("/ppp/secret", "profile") => self.names("/ppp/profile").any(|n| n == v),
                ("/ppp/secret", "service") => schema::PPP_SERVICES.contains(&v),
                ("/ppp/secret", "remote-address" | "local-address") => {
                    if !is_ipv4(v) {
                        return Err(invalid_value(k));
                    }
                    true
                }
                ("/queue/tree", "parent") => {
                    v == "global"
                        || schema::INTERFACES.contains(&v)
                        || (Some(v) != own && self.names("/queue/tree").any(|n| n == v))
                }
                ("/queue/tree" | "/queue/simple", "queue") => {
                    v.split('/').all(|q| self.names("/queue/type").any(|n| n == q))
                }
                ("/queue/type", "kind") => schema::QUEUE_KINDS.contains(&v),
                ("/ip/firewall/filter", "action") => schema::FILTER_ACTIONS.contains(&v),
                ("/ip/firewall/nat", "action") => schema::NAT_ACTIONS.contains(&v),
                ("/ip/firewall/mangle", "action") => schema::MANGLE_ACTIONS.contains(&v),
                ("/ip/firewall/address-list", "address") => {
                    if !is_list_address(v) {
                        return Err(invalid_value(k));
                    }
                    true
                }
                ("/interface/wireguard", "private-key")
                | ("/interface/wireguard/peers", "public-key" | "preshared-key") => {
                    if !is_wg_key(v) {
                        return Err(invalid_value(k));
                    }
                    true
                }
                ("/interface/wireguard/peers", "interface") => self.names("/interface/wireguard").any(|n| n == v),
                ("/interface/wireguard/peers", "allowed-address") => {
                    if !v.split(',').all(is_prefix) {
                        return Err(invalid_value(k));
                    }
                    true
                }
                ("/ip/address", "address") => {
                    if !is_prefix(v) && !is_ipv4(v) {
                        return Err(invalid_value(k));
                    }
                    true
                }
                ("/ip/address", "interface") => {
                    schema::INTERFACES.contains(&v) || self.names("/interface/wireguard").any(|n| n == v)
                }
                ("/user/group", "policy") => {
                    v.split(',').all(|p| schema::USER_POLICIES.contains(&p.strip_prefix('!').unwrap_or(p)))
                }
                ("/user", "group") => self.names("/user/group").any(|n| n == v),
                ("/user" | "/ip/service", "address") => {
                    if !v.is_empty() && !v.split(',').all(|a| is_prefix(a) || is_ipv4(a)) {
                        return Err(invalid_value(k));
                    }
                    true
                }
                ("/ip/hotspot/walled-garden", "action") => matches!(v, "allow" | "deny"),
                ("/radius", "address") => {
                    if !is_ipv4(v) {
                        return Err(invalid_value(k));
                    }
                    true
                }
                _ => true,
            };
            if !ok {
                return Err(no_value_match(k));
            }
        }
        Ok(())
    }

    fn spec_and_table(&mut self, path: &str) -> Result<(&'static MenuSpec, &mut Table), SimTrap> {
        let spec = schema::menu(path).ok_or_else(no_such_command)?;
        let table = self.tables.get_mut(spec.path).ok_or_else(no_such_command)?;
        Ok((spec, table))
    }

    /// Runs one API command (`/menu/verb`). `lying`: acknowledge writes without applying them.
    pub(crate) fn execute(&mut self, req: &Request, lying: bool) -> Result<Outcome, SimTrap> {
        let (path, verb) = req.command.rsplit_once('/').ok_or_else(no_such_command)?;
        let spec = schema::menu(path).ok_or_else(no_such_command)?;
        match verb {
            "print" | "getall" => self.print(spec, req),
            "add" if spec.can_add => {
                let id = self.add(path, &req.attributes, Origin::Api, lying)?;
                Ok(Outcome { ret: Some(id), ..Outcome::default() })
            }
            "set" if spec.can_set => {
                let mut attrs = req.attributes.clone();
                let ids = take_ids(&mut attrs);
                self.set(path, ids.as_deref(), &attrs, Origin::Api, lying)?;
                Ok(Outcome::default())
            }
            "remove" if spec.can_remove => {
                let mut attrs = req.attributes.clone();
                let ids = take_ids(&mut attrs).ok_or_else(no_such_item)?;
                if let Some((k, _)) = attrs.iter().next() {
                    return Err(unknown_parameter(k));
                }
                self.remove(path, &ids, Origin::Api, lying)?;
                Ok(Outcome::default())
            }
            "move" if spec.can_move => {
                let mut attrs = req.attributes.clone();
                let ids = take_ids(&mut attrs).ok_or_else(no_such_item)?;
                let destination = attrs.remove("destination");
                if let Some((k, _)) = attrs.iter().next() {
                    return Err(unknown_parameter(k));
                }
                self.move_items(path, &ids, destination.as_deref(), lying)?;
                Ok(Outcome::default())
            }
            "enable" | "disable" if spec.can_toggle => {
                let mut attrs = req.attributes.clone();
                let ids = take_ids(&mut attrs).ok_or_else(no_such_item)?;
                if let Some((k, _)) = attrs.iter().next() {
                    return Err(unknown_parameter(k));
                }
                let flag: Row = [("disabled", if verb == "disable" { "true" } else { "false" })].into_iter().collect();
                self.set(path, Some(&ids), &flag, Origin::Operator, lying)?;
                Ok(Outcome::default())
            }
            "unset" if spec.can_set => {
                let mut attrs = req.attributes.clone();
                let ids = take_ids(&mut attrs);
                let name = attrs
                    .remove("value-name")
                    .ok_or_else(|| SimTrap::new(Some(1), "missing value(s) of argument(s) value-name"))?;
                if let Some((k, _)) = attrs.iter().next() {
                    return Err(unknown_parameter(k));
                }
                self.unset(path, ids.as_deref(), &name, lying)?;
                Ok(Outcome::default())
            }
            _ => Err(no_such_verb()),
        }
    }

    /// `unset =value-name=prop`: the property goes back to what a fresh item has (its
    /// default, or not set at all).
    fn unset(&mut self, path: &str, ids: Option<&str>, name: &str, lying: bool) -> Result<(), SimTrap> {
        let (spec, table) = self.spec_and_table(path)?;
        if !spec.writable(name) || spec.required.contains(&name) {
            return Err(unknown_parameter(name));
        }
        let positions = match (spec.kind, ids) {
            (MenuKind::Single, _) => vec![0],
            (MenuKind::Table, Some(ids)) => Self::resolve(spec, table, ids)?,
            (MenuKind::Table, None) => return Err(no_such_item()),
        };
        if lying {
            return Ok(());
        }
        let default = spec.defaults.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
        for p in positions {
            match default {
                Some(v) => table.items[p].attrs.insert(name, v),
                None => {
                    table.items[p].attrs.remove(name);
                }
            }
        }
        Ok(())
    }

    fn print(&mut self, spec: &'static MenuSpec, req: &Request) -> Result<Outcome, SimTrap> {
        for (k, _) in req.attributes.iter() {
            if !PRINT_FLAGS.contains(&k) {
                return Err(unknown_parameter(k));
            }
        }
        let bad = |BadQuery(q)| SimTrap::new(Some(1), format!("invalid query: ?{q}"));
        // `?=disabled=yes` matches what `?=disabled=true` matches: booleans are stored
        // (and printed) as `true`/`false`, whatever spelling the query uses.
        let queries: Vec<String> = req.queries.iter().map(|q| normalise_bool_query(q)).collect();
        let req = &Request { queries, ..req.clone() };
        let mut matched = Vec::new();
        if matches!(spec.path, "/ppp/active" | "/ip/hotspot/active" | "/system/resource") {
            // Computed properties (uptime): evaluate on the printed rows.
            for row in self.rows(spec.path)? {
                if query::matches(&row, &req.queries).map_err(bad)? {
                    matched.push(row);
                }
            }
        } else {
            // Evaluate on the stored item; build a printed row only for matches.
            let table = self.tables.get(spec.path).ok_or_else(no_such_command)?;
            for item in &table.items {
                let view =
                    ItemView { id: format_id(item.id), attrs: &item.attrs, single: spec.kind == MenuKind::Single };
                if query::matches(&view, &req.queries).map_err(bad)? {
                    matched.push(Self::printed(spec, item));
                }
            }
        }
        if req.attributes.contains("count-only") {
            return Ok(Outcome { ret: Some(matched.len().to_string()), ..Outcome::default() });
        }
        if let Some(props) = req.proplist() {
            matched = matched
                .into_iter()
                .map(|row| props.iter().filter_map(|p| row.get(p).map(|v| (*p, v))).collect())
                .collect();
        }
        let empty_print = matched.is_empty();
        Ok(Outcome { rows: matched, ret: None, empty_print })
    }

    /// All items of `path` as printed (with `.id` first for tables), in order.
    pub(crate) fn rows(&self, path: &str) -> Result<Vec<Row>, SimTrap> {
        let spec = schema::menu(path).ok_or_else(no_such_command)?;
        let table = self.tables.get(spec.path).ok_or_else(no_such_command)?;
        let now = Instant::now();
        let mut out = Vec::with_capacity(table.items.len());
        for item in &table.items {
            let mut row = Self::printed(spec, item);
            if matches!(spec.path, "/ppp/active" | "/ip/hotspot/active") {
                row.insert("uptime", &self.format_dur(now.saturating_duration_since(item.since)));
            }
            if spec.path == "/system/resource" {
                self.resource(&mut row, now);
            }
            out.push(row);
        }
        Ok(out)
    }

    /// An item as `print` shows it: `.id` first (tables), then properties in menu order.
    fn printed(spec: &MenuSpec, item: &Item) -> Row {
        let mut pairs: Vec<(&str, &str)> = item.attrs.iter().collect();
        pairs.sort_by_key(|(k, _)| spec.order(k));
        let mut row = Row::new();
        if spec.kind == MenuKind::Table {
            row.insert(".id", &format_id(item.id));
        }
        for (k, v) in pairs {
            row.insert(k, v);
        }
        row
    }

    fn format_dur(&self, d: Duration) -> String {
        let d = Duration::from_secs(d.as_secs());
        match self.flavour {
            Flavour::V6 => format_duration_v6(d),
            Flavour::V7 => format_duration(d),
        }
    }

    fn resource(&self, row: &mut Row, now: Instant) {
        let (version, build) = match self.flavour {
            Flavour::V6 => ("6.49.18 (long-term)", "Dec/04/2024 14:19:51"),
            Flavour::V7 => ("7.18.2 (stable)", "2025-03-11 11:59:04"),
        };
        let uptime = self.format_dur(now.saturating_duration_since(self.started));
        for (k, v) in [
            ("uptime", uptime.as_str()),
            ("version", version),
            ("build-time", build),
            ("factory-software", "6.44.6"),
            ("free-memory", "201326592"),
            ("total-memory", "268435456"),
            ("cpu", "QEMU Virtual CPU"),
            ("cpu-count", "1"),
            ("cpu-frequency", "2000"),
            ("cpu-load", "3"),
            ("free-hdd-space", "80000000"),
            ("total-hdd-space", "100000000"),
            ("architecture-name", "x86_64"),
            ("board-name", "CHR"),
            ("platform", "MikroTik"),
        ] {
            row.insert(k, v);
        }
    }

    /// Checks and normalises attributes to write.
    fn check_attrs(spec: &MenuSpec, attrs: &Row, origin: Origin, adding: bool) -> Result<Row, SimTrap> {
        let mut out = Row::new();
        for (k, v) in attrs.iter() {
            let allowed = spec.writable(k)
                || (origin == Origin::Operator && spec.read_only.contains(&k))
                || (adding && k == "place-before" && spec.path.starts_with("/ip/firewall/"));
            if !allowed {
                return Err(unknown_parameter(k));
            }
            if schema::RATE_FIELDS.contains(&k) {
                // `10000000` is printed back as `10M`; `a/b` pairs side by side.
                let mut printed = Vec::new();
                for part in v.split('/') {
                    let bps = parse_rate(part).map_err(|_| invalid_value(k))?;
                    printed.push(format_rate(bps));
                }
                out.insert(k, &printed.join("/"));
            } else if BOOL_FIELDS.contains(&k) {
                let b = parse_bool(v)
                    .map_err(|_| SimTrap::new(Some(1), format!("input does not match any value of {k}")))?;
                out.insert(k, if b { "true" } else { "false" });
            } else {
                out.insert(k, v);
            }
        }
        Ok(out)
    }

    fn conflicts(spec: &MenuSpec, table: &Table, candidate: &Row, skip: Option<u32>) -> bool {
        let same = |item: &Item, keys: &[&str]| keys.iter().all(|k| item.attrs.get(k) == candidate.get(k));
        let keys: &[&str] = match spec.unique {
            Unique::None => return false,
            Unique::Name => &["name"],
            Unique::ListAddress => &["list", "address"],
        };
        table.items.iter().any(|it| Some(it.id) != skip && same(it, keys))
    }

    pub(crate) fn add(&mut self, path: &str, attrs: &Row, origin: Origin, lying: bool) -> Result<String, SimTrap> {
        let spec = schema::menu(path).ok_or_else(no_such_command)?;
        if spec.kind != MenuKind::Table || (origin == Origin::Api && !spec.can_add) {
            return Err(no_such_verb());
        }
        let mut given = Self::check_attrs(spec, attrs, origin, true)?;
        let place_before = given.remove("place-before");
        self.check_values(spec, &given, given.get("name"))?;
        let (spec, table) = self.spec_and_table(path)?;
        for r in spec.required {
            if given.get(r).is_none_or(str::is_empty) {
                return Err(SimTrap::new(Some(1), format!("missing value(s) of argument(s) {r}")));
            }
        }
        let mut row: Row = spec.defaults.iter().copied().collect();
        for (k, v) in given.iter() {
            row.insert(k, v);
        }
        if spec.path == "/ip/firewall/address-list" {
            let dynamic = row.get("timeout").is_some_and(|t| !t.is_empty());
            row.insert("dynamic", if dynamic { "true" } else { "false" });
        }
        if Self::conflicts(spec, table, &row, None) {
            return Err(already_have(spec.path));
        }
        let position = match place_before {
            Some(pb) => Some(
                parse_id(&pb).and_then(|id| table.items.iter().position(|it| it.id == id)).ok_or_else(no_such_item)?,
            ),
            None => None,
        };
        let id = table.next_id;
        table.next_id = table.next_id.wrapping_add(1);
        if !lying {
            let item = Item { id, attrs: row, since: Instant::now() };
            match position {
                Some(p) => table.items.insert(p, item),
                None => table.items.push(item),
            }
        }
        Ok(format_id(id))
    }

    fn resolve(spec: &MenuSpec, table: &Table, ids: &str) -> Result<Vec<usize>, SimTrap> {
        let mut out = Vec::new();
        for token in ids.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let pos = match parse_id(token) {
                Some(id) => table.items.iter().position(|it| it.id == id),
                None if spec.has_name() => table.items.iter().position(|it| it.attrs.get("name") == Some(token)),
                None => None,
            };
            let pos = pos.ok_or_else(no_such_item)?;
            if !out.contains(&pos) {
                out.push(pos);
            }
        }
        if out.is_empty() {
            return Err(no_such_item());
        }
        Ok(out)
    }

    pub(crate) fn set(
        &mut self,
        path: &str,
        ids: Option<&str>,
        attrs: &Row,
        origin: Origin,
        lying: bool,
    ) -> Result<(), SimTrap> {
        let spec = schema::menu(path).ok_or_else(no_such_command)?;
        if origin == Origin::Api && !spec.can_set && !attrs.iter().all(|(k, _)| k == "disabled") {
            return Err(no_such_verb());
        }
        let changes = Self::check_attrs(spec, attrs, origin, false)?;
        self.check_values(spec, &changes, None)?;
        let (spec, table) = self.spec_and_table(path)?;
        let positions = match (spec.kind, ids) {
            (MenuKind::Single, _) => vec![0],
            (MenuKind::Table, Some(ids)) => Self::resolve(spec, table, ids)?,
            (MenuKind::Table, None) => return Err(no_such_item()),
        };
        let mut updated = Vec::with_capacity(positions.len());
        for &p in &positions {
            let mut row = table.items[p].attrs.clone();
            for (k, v) in changes.iter() {
                row.insert(k, v);
            }
            if Self::conflicts(spec, table, &row, Some(table.items[p].id)) {
                return Err(already_have(spec.path));
            }
            updated.push((p, row));
        }
        if !lying {
            for (p, row) in updated {
                table.items[p].attrs = row;
            }
        }
        Ok(())
    }

    pub(crate) fn remove(&mut self, path: &str, ids: &str, origin: Origin, lying: bool) -> Result<(), SimTrap> {
        let (spec, table) = self.spec_and_table(path)?;
        if spec.kind != MenuKind::Table || (origin == Origin::Api && !spec.can_remove) {
            return Err(no_such_verb());
        }
        let mut positions = Self::resolve(spec, table, ids)?;
        if positions.iter().any(|&p| table.items[p].attrs.get("default") == Some("true")) {
            return Err(SimTrap::new(None, "failure: cannot remove default item"));
        }
        if !lying {
            positions.sort_unstable_by(|a, b| b.cmp(a));
            for p in positions {
                table.items.remove(p);
            }
        }
        Ok(())
    }
}

impl State {
    /// `move`: the items `ids` (in that order) go just before `destination`, or to the
    /// end without one. A destination among the moved items leaves the list as it was
    /// (unverified against a real router).
    pub(crate) fn move_items(
        &mut self,
        path: &str,
        ids: &str,
        destination: Option<&str>,
        lying: bool,
    ) -> Result<(), SimTrap> {
        let (spec, table) = self.spec_and_table(path)?;
        if spec.kind != MenuKind::Table || !spec.can_move {
            return Err(no_such_verb());
        }
        let positions = Self::resolve(spec, table, ids)?;
        let destination = match destination.filter(|d| !d.is_empty()) {
            Some(d) => {
                Some(Self::resolve(spec, table, d)?.first().map(|&p| table.items[p].id).ok_or_else(no_such_item)?)
            }
            None => None,
        };
        let moving: Vec<u32> = positions.iter().map(|&p| table.items[p].id).collect();
        if lying || destination.is_some_and(|d| moving.contains(&d)) {
            return Ok(());
        }
        let mut taken: Vec<Item> = Vec::with_capacity(moving.len());
        for id in &moving {
            if let Some(p) = table.items.iter().position(|it| it.id == *id) {
                taken.push(table.items.remove(p));
            }
        }
        let at = match destination {
            Some(d) => table.items.iter().position(|it| it.id == d).ok_or_else(no_such_item)?,
            None => table.items.len(),
        };
        table.items.splice(at..at, taken);
        Ok(())
    }
}

/// `disabled=yes` → `disabled=true` (any `?`-word form comparing a boolean property).
fn normalise_bool_query(q: &str) -> String {
    let (prefix, rest) = match q.as_bytes().first() {
        Some(b'=' | b'<' | b'>') => q.split_at(1),
        _ => ("", q),
    };
    if let Some((k, v)) = rest.split_once('=')
        && BOOL_FIELDS.contains(&k)
        && let Ok(b) = parse_bool(v)
    {
        return format!("{prefix}{k}={}", if b { "true" } else { "false" });
    }
    q.to_owned()
}

/// A stored item seen through the query evaluator, without building its printed row.
struct ItemView<'a> {
    id: String,
    attrs: &'a Row,
    single: bool,
}

impl query::Props for ItemView<'_> {
    fn prop(&self, name: &str) -> Option<&str> {
        if name == ".id" && !self.single { Some(&self.id) } else { self.attrs.get(name) }
    }
}

/// Takes `.id` (or `numbers`) out of `attrs`.
fn take_ids(attrs: &mut Row) -> Option<String> {
    let a = attrs.remove(".id");
    let b = attrs.remove("numbers");
    a.or(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use routeros_proto::Sentence;

    fn req(words: &[&str]) -> Request {
        Request::from_sentence(&Sentence::new(words.iter().copied())).expect("request")
    }

    fn comments(s: &State, path: &str) -> Vec<String> {
        s.rows(path).expect("rows").iter().map(|r| r.get("comment").unwrap_or_default().to_owned()).collect()
    }

    #[test]
    fn move_places_items_before_destination_or_at_the_end() {
        let mut s = State::new(Flavour::V7);
        for c in ["a", "b", "c", "d"] {
            s.execute(&req(&["/ip/firewall/filter/add", "=chain=forward", &format!("=comment={c}")]), false)
                .expect("add");
        }
        // d (*4) before b (*2).
        s.execute(&req(&["/ip/firewall/filter/move", "=numbers=*4", "=destination=*2"]), false).expect("move");
        assert_eq!(comments(&s, "/ip/firewall/filter"), ["a", "d", "b", "c"]);
        // Several, in the order given, before a.
        s.execute(&req(&["/ip/firewall/filter/move", "=numbers=*3,*2", "=destination=*1"]), false).expect("move");
        assert_eq!(comments(&s, "/ip/firewall/filter"), ["c", "b", "a", "d"]);
        // No destination: to the end. `.id` works like `numbers`.
        s.execute(&req(&["/ip/firewall/filter/move", "=.id=*3"]), false).expect("move");
        assert_eq!(comments(&s, "/ip/firewall/filter"), ["b", "a", "d", "c"]);
        // Unknown items and destinations are refused and change nothing.
        let err = s.execute(&req(&["/ip/firewall/filter/move", "=numbers=*9", "=destination=*1"]), false);
        assert_eq!(err.expect_err("unknown").message, "no such item");
        assert!(s.execute(&req(&["/ip/firewall/filter/move", "=numbers=*1", "=destination=*9"]), false).is_err());
        assert_eq!(comments(&s, "/ip/firewall/filter"), ["b", "a", "d", "c"]);
        // Only ordered lists can move.
        s.execute(&req(&["/ppp/secret/add", "=name=x"]), false).expect("secret");
        let err = s.execute(&req(&["/ppp/secret/move", "=numbers=*1"]), false).expect_err("no move");
        assert_eq!(err.message, "no such command");
    }

    #[test]
    fn add_duplicate_name_is_already_have() {
        let mut s = State::new(Flavour::V7);
        let id = s.execute(&req(&["/ppp/secret/add", "=name=alice"]), false).expect("add").ret;
        assert_eq!(id.as_deref(), Some("*1"));
        let err = s.execute(&req(&["/ppp/secret/add", "=name=alice"]), false).expect_err("dup");
        assert_eq!(err.message, "failure: secret with the same name already exists");
    }

    #[test]
    fn address_list_same_list_and_address_is_duplicate() {
        let mut s = State::new(Flavour::V7);
        let add = req(&["/ip/firewall/address-list/add", "=list=suspended", "=address=10.0.0.1"]);
        s.execute(&add, false).expect("first");
        assert!(s.execute(&add, false).is_err());
        let other = req(&["/ip/firewall/address-list/add", "=list=other", "=address=10.0.0.1"]);
        assert!(s.execute(&other, false).is_ok());
    }

    #[test]
    fn set_by_name_and_comma_ids_applies_to_all() {
        let mut s = State::new(Flavour::V7);
        s.execute(&req(&["/ppp/secret/add", "=name=a"]), false).expect("a");
        s.execute(&req(&["/ppp/secret/add", "=name=b"]), false).expect("b");
        s.execute(&req(&["/ppp/secret/disable", "=.id=*1,b"]), false).expect("disable");
        let rows = s.rows("/ppp/secret").expect("rows");
        assert!(rows.iter().all(|r| r.get("disabled") == Some("true")));
    }

    #[test]
    fn set_yes_is_normalised_to_true() {
        let mut s = State::new(Flavour::V7);
        s.execute(&req(&["/ppp/secret/add", "=name=a", "=disabled=yes"]), false).expect("a");
        assert_eq!(s.rows("/ppp/secret").expect("rows")[0].get("disabled"), Some("true"));
    }

    #[test]
    fn remove_unknown_id_is_no_such_item_and_atomic() {
        let mut s = State::new(Flavour::V7);
        s.execute(&req(&["/ppp/secret/add", "=name=a"]), false).expect("a");
        let err = s.execute(&req(&["/ppp/secret/remove", "=.id=*1,*99"]), false).expect_err("missing");
        assert_eq!(err.message, "no such item");
        assert_eq!(s.rows("/ppp/secret").expect("rows").len(), 1);
    }

    #[test]
    fn lying_add_returns_id_without_item() {
        let mut s = State::new(Flavour::V7);
        let out = s.execute(&req(&["/ppp/secret/add", "=name=a"]), true).expect("a");
        assert_eq!(out.ret.as_deref(), Some("*1"));
        assert!(s.rows("/ppp/secret").expect("rows").is_empty());
    }

    #[test]
    fn print_unknown_parameter_is_trap() {
        let mut s = State::new(Flavour::V7);
        let err = s.execute(&req(&["/ppp/secret/print", "=bogus=1"]), false).expect_err("trap");
        assert!(err.message.starts_with("unknown parameter"));
        let err = s.execute(&req(&["/ppp/secret/add", "=name=x", "=bogus=1"]), false).expect_err("trap");
        assert!(err.message.starts_with("unknown parameter"));
    }

    #[test]
    fn firewall_place_before_inserts_in_position() {
        let mut s = State::new(Flavour::V7);
        s.execute(&req(&["/ip/firewall/filter/add", "=chain=forward", "=comment=a"]), false).expect("a");
        s.execute(&req(&["/ip/firewall/filter/add", "=chain=forward", "=comment=b", "=place-before=*1"]), false)
            .expect("b");
        let rows = s.rows("/ip/firewall/filter").expect("rows");
        assert_eq!(rows[0].get("comment"), Some("b"));
        assert_eq!(rows[1].get("comment"), Some("a"));
    }

    #[test]
    fn api_add_to_active_is_no_such_command() {
        let mut s = State::new(Flavour::V7);
        let err = s.execute(&req(&["/ppp/active/add", "=name=a"]), false).expect_err("no add");
        assert_eq!(err.message, "no such command");
        let id = s.add("/ppp/active", &[("name", "a")].into_iter().collect(), Origin::Operator, false);
        assert_eq!(id.as_deref(), Ok("*1"));
        s.execute(&req(&["/ppp/active/remove", "=.id=*1"]), false).expect("kick");
        assert!(s.rows("/ppp/active").expect("rows").is_empty());
    }

    #[test]
    fn identity_set_and_print_single_item() {
        let mut s = State::new(Flavour::V7);
        s.execute(&req(&["/system/identity/set", "=name=tower-03"]), false).expect("set");
        let out = s.execute(&req(&["/system/identity/print"]), false).expect("print");
        assert_eq!(out.rows.len(), 1);
        assert_eq!(out.rows[0].get("name"), Some("tower-03"));
        assert_eq!(out.rows[0].id(), None);
    }
    fn refused(s: &mut State, words: &[&str]) -> String {
        s.execute(&req(words), false).map(|_| ()).expect_err(&words.join(" ")).message
    }

    #[test]
    fn secret_bad_references_and_values_are_refused() {
        let mut s = State::new(Flavour::V7);
        assert_eq!(
            refused(&mut s, &["/ppp/secret/add", "=name=a", "=profile=10M"]),
            "input does not match any value of profile"
        );
        assert_eq!(
            refused(&mut s, &["/ppp/secret/add", "=name=a", "=service=pppoe2"]),
            "input does not match any value of service"
        );
        assert_eq!(
            refused(&mut s, &["/ppp/secret/add", "=name=a", "=remote-address=10.0.0"]),
            "invalid value for argument remote-address"
        );
        assert_eq!(
            refused(&mut s, &["/ppp/secret/add", "=name=a", "=remote-address="]),
            "invalid value for argument remote-address"
        );
        // The built-in profiles resolve; a new profile resolves once added.
        s.execute(&req(&["/ppp/secret/add", "=name=a", "=profile=default-encryption", "=service=pppoe"]), false)
            .expect("built-in profile");
        s.execute(&req(&["/ppp/profile/add", "=name=10M"]), false).expect("profile");
        s.execute(&req(&["/ppp/secret/set", "=.id=*1", "=profile=10M", "=remote-address=10.0.0.9"]), false)
            .expect("set");
        assert_eq!(
            refused(&mut s, &["/ppp/secret/set", "=.id=*1", "=profile=gone"]),
            "input does not match any value of profile"
        );
    }

    #[test]
    fn queue_tree_parent_and_queue_must_name_something() {
        let mut s = State::new(Flavour::V7);
        let types: Vec<String> =
            s.rows("/queue/type").expect("rows").iter().filter_map(|r| r.get("name").map(str::to_owned)).collect();
        for t in ["default", "default-small", "pcq-upload-default", "pcq-download-default"] {
            assert!(types.iter().any(|n| n == t), "{t} missing from {types:?}");
        }
        assert_eq!(
            refused(&mut s, &["/queue/tree/add", "=name=q", "=parent=nowhere"]),
            "input does not match any value of parent"
        );
        assert_eq!(
            refused(&mut s, &["/queue/tree/add", "=name=q", "=parent=global", "=queue=pcq-fast"]),
            "input does not match any value of queue"
        );
        s.execute(&req(&["/queue/tree/add", "=name=q", "=parent=global", "=queue=pcq-download-default"]), false)
            .expect("q");
        s.execute(&req(&["/queue/tree/add", "=name=leaf", "=parent=q"]), false).expect("leaf under q");
        s.execute(&req(&["/queue/tree/add", "=name=e", "=parent=ether1"]), false).expect("under an interface");
        assert!(s.execute(&req(&["/queue/type/remove", "=.id=default"]), false).is_err(), "built-in");
    }

    #[test]
    fn firewall_action_outside_menu_set_is_refused() {
        let mut s = State::new(Flavour::V7);
        assert_eq!(
            refused(&mut s, &["/ip/firewall/filter/add", "=chain=forward", "=action=dst-nat"]),
            "input does not match any value of action"
        );
        assert_eq!(
            refused(&mut s, &["/ip/firewall/filter/add", "=chain=forward", "=to-ports=80"]),
            "unknown parameter to-ports"
        );
        s.execute(&req(&["/ip/firewall/nat/add", "=chain=dstnat", "=action=dst-nat", "=to-ports=80"]), false)
            .expect("nat");
        s.execute(&req(&["/ip/firewall/mangle/add", "=chain=forward", "=action=mark-packet"]), false).expect("mangle");
    }

    #[test]
    fn address_list_address_with_port_is_refused() {
        let mut s = State::new(Flavour::V7);
        assert_eq!(
            refused(&mut s, &["/ip/firewall/address-list/add", "=list=l", "=address=127.0.0.1:8080"]),
            "invalid value for argument address"
        );
        assert!(
            s.execute(&req(&["/ip/firewall/address-list/add", "=list=l", "=address=not an address"]), false).is_err()
        );
        for a in ["10.0.0.1", "10.0.0.1-10.0.0.9", "10.0.0.0/24", "pay.example.net"] {
            s.execute(&req(&["/ip/firewall/address-list/add", "=list=l", &format!("=address={a}")]), false).expect(a);
        }
    }

    #[test]
    fn query_yes_and_true_match_the_same_rows() {
        let mut s = State::new(Flavour::V7);
        s.execute(&req(&["/ppp/secret/add", "=name=a", "=disabled=yes"]), false).expect("a");
        s.execute(&req(&["/ppp/secret/add", "=name=b", "=disabled=no"]), false).expect("b");
        for (q, want) in
            [("?=disabled=yes", "a"), ("?=disabled=true", "a"), ("?disabled=no", "b"), ("?disabled=false", "b")]
        {
            let out = s.execute(&req(&["/ppp/secret/print", q]), false).expect("print");
            let names: Vec<&str> = out.rows.iter().filter_map(|r| r.get("name")).collect();
            assert_eq!(names, [want], "{q}");
        }
    }

    #[test]
    fn unset_returns_property_to_default_or_removes_it() {
        let mut s = State::new(Flavour::V7);
        s.execute(&req(&["/ppp/secret/add", "=name=a", "=remote-address=10.0.0.2", "=service=pppoe"]), false)
            .expect("a");
        s.execute(&req(&["/ppp/secret/unset", "=numbers=*1", "=value-name=remote-address"]), false).expect("unset");
        s.execute(&req(&["/ppp/secret/unset", "=.id=*1", "=value-name=service"]), false).expect("unset");
        let row = &s.rows("/ppp/secret").expect("rows")[0];
        assert_eq!(row.get("remote-address"), None);
        assert_eq!(row.get("service"), Some("any"));
        assert_eq!(
            refused(&mut s, &["/ppp/secret/unset", "=numbers=*1", "=value-name=colour"]),
            "unknown parameter colour"
        );
    }

    #[test]
    fn unknown_verb_is_no_such_command_and_unknown_menu_is_prefix() {
        let mut s = State::new(Flavour::V7);
        assert_eq!(refused(&mut s, &["/ppp/secret/frobnicate"]), "no such command");
        assert_eq!(refused(&mut s, &["/ppp/bogus/print"]), "no such command prefix");
    }

    #[test]
    fn rates_are_printed_as_the_router_prints_them() {
        let mut s = State::new(Flavour::V7);
        s.execute(&req(&["/queue/type/add", "=name=t", "=kind=pcq", "=pcq-rate=10000000"]), false).expect("type");
        s.execute(&req(&["/queue/simple/add", "=name=q", "=max-limit=2000000/512000"]), false).expect("simple");
        let t = s.execute(&req(&["/queue/type/print", "?name=t"]), false).expect("print");
        assert_eq!(t.rows[0].get("pcq-rate"), Some("10M"));
        let q = s.execute(&req(&["/queue/simple/print", "?name=q"]), false).expect("print");
        assert_eq!(q.rows[0].get("max-limit"), Some("2M/512k"));
        assert_eq!(
            refused(&mut s, &["/queue/type/add", "=name=u", "=kind=pcq", "=pcq-rate=fast"]),
            "invalid value for argument pcq-rate"
        );
    }
}

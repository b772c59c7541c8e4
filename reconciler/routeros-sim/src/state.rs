//! The router's data and the execution of menu commands against it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use routeros_proto::value::{format_duration, format_duration_v6, parse_bool};
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

pub(crate) fn no_such_command() -> SimTrap {
    SimTrap::new(Some(0), "no such command prefix")
}
fn no_such_item() -> SimTrap {
    SimTrap::new(Some(0), "no such item")
}
fn unknown_parameter(name: &str) -> SimTrap {
    SimTrap::new(Some(1), format!("unknown parameter {name}"))
}
fn already_have() -> SimTrap {
    SimTrap::new(None, "failure: already have such entry")
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
        State { tables, started: now, flavour }
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
            _ => Err(no_such_command()),
        }
    }

    fn print(&mut self, spec: &'static MenuSpec, req: &Request) -> Result<Outcome, SimTrap> {
        for (k, _) in req.attributes.iter() {
            if !PRINT_FLAGS.contains(&k) {
                return Err(unknown_parameter(k));
            }
        }
        let bad = |BadQuery(q)| SimTrap::new(Some(1), format!("invalid query: ?{q}"));
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
            if BOOL_FIELDS.contains(&k) {
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
        let (spec, table) = self.spec_and_table(path)?;
        if spec.kind != MenuKind::Table || (origin == Origin::Api && !spec.can_add) {
            return Err(no_such_command());
        }
        let mut given = Self::check_attrs(spec, attrs, origin, true)?;
        let place_before = given.remove("place-before");
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
            return Err(already_have());
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
        let (spec, table) = self.spec_and_table(path)?;
        if origin == Origin::Api && !spec.can_set && !attrs.iter().all(|(k, _)| k == "disabled") {
            return Err(no_such_command());
        }
        let changes = Self::check_attrs(spec, attrs, origin, false)?;
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
                return Err(already_have());
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
            return Err(no_such_command());
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
            return Err(no_such_command());
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
        assert_eq!(err.message, "no such command prefix");
    }

    #[test]
    fn add_duplicate_name_is_already_have() {
        let mut s = State::new(Flavour::V7);
        let id = s.execute(&req(&["/ppp/secret/add", "=name=alice"]), false).expect("add").ret;
        assert_eq!(id.as_deref(), Some("*1"));
        let err = s.execute(&req(&["/ppp/secret/add", "=name=alice"]), false).expect_err("dup");
        assert_eq!(err.message, "failure: already have such entry");
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
        assert_eq!(err.message, "no such command prefix");
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
}

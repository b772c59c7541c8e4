//! The pure planner: `plan_changes(&desired, &observed) -> Vec<Change>`, the
//! mass-disable guard, the order changes are applied in, and a model of how a router
//! applies them (for property tests and the verify step's reasoning).
//!
//! Only observed items whose `comment` starts with [`MARKER`](crate::model::MARKER)
//! take part; everything else is invisible to the planner, so no change can touch it.
//! The one exception is `/ppp/active`: sessions carry no comment, and the planner
//! removes only those whose name is the secret name of a managed subscriber who should
//! be offline.

use std::collections::{BTreeMap, BTreeSet};

use routeros_client::proto::value::{parse_bool, parse_duration, parse_rate};

use crate::model::{
    Attrs, DesiredRouter, MARKER, Menu, SUSPENDED_LIST, is_managed, is_neutral, observed_value, radius_rank,
};

/// One item read from a managed menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedItem {
    /// Menu.
    pub menu: Menu,
    /// `.id`.
    pub id: String,
    /// Every printed property except `.id` (including `comment`).
    pub attrs: Attrs,
}

impl ObservedItem {
    /// The item's comment.
    pub fn comment(&self) -> Option<&str> {
        self.attrs.get("comment").map(String::as_str)
    }

    /// Whether the reconciler may touch it.
    pub fn is_managed(&self) -> bool {
        is_managed(self.comment()) && self.attrs.get("dynamic").is_none_or(|d| !is_true(d))
    }
}

/// One `/ppp/active` session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// `.id`.
    pub id: String,
    /// Login name.
    pub name: String,
}

/// What was read from a router.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// Items of managed menus (managed or not; the planner filters).
    pub items: Vec<ObservedItem>,
    /// Live PPP sessions.
    pub sessions: Vec<Session>,
}

impl Observed {
    /// Managed `/ppp/secret` items.
    pub fn managed_secrets(&self) -> usize {
        self.items.iter().filter(|i| i.menu == Menu::PppSecret && i.is_managed()).count()
    }
}

/// One write to a router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// `add` a managed object (`attrs` include the `comment`).
    Add {
        /// Menu.
        menu: Menu,
        /// Its comment (identity).
        comment: String,
        /// Properties to write.
        attrs: Attrs,
    },
    /// `set` properties of a managed object.
    Set {
        /// Menu.
        menu: Menu,
        /// `.id`.
        id: String,
        /// Its comment.
        comment: String,
        /// Only the properties that differ.
        attrs: Attrs,
    },
    /// `remove` a managed object (no longer desired, or a duplicate).
    Remove {
        /// Menu.
        menu: Menu,
        /// `.id`.
        id: String,
        /// Its comment.
        comment: String,
    },
    /// `move` a managed rule just before another of its group (rule order matters).
    Move {
        /// Menu.
        menu: Menu,
        /// `.id`.
        id: String,
        /// Its comment.
        comment: String,
        /// `.id` of the rule it goes before.
        destination: String,
    },
    /// `/ppp/active/remove` a session of a subscriber who should be offline.
    Kick {
        /// `.id` of the session.
        id: String,
        /// Its login name.
        name: String,
    },
}

/// What identifies a change across passes: the menu path and the comment (the login
/// name for a kick).
pub type ChangeKey = (&'static str, String);

impl Change {
    /// Its [`ChangeKey`].
    pub fn key(&self) -> ChangeKey {
        match self {
            Change::Add { comment, .. }
            | Change::Set { comment, .. }
            | Change::Remove { comment, .. }
            | Change::Move { comment, .. } => (self.path(), comment.clone()),
            Change::Kick { name, .. } => (self.path(), name.clone()),
        }
    }

    /// The menu path written.
    pub fn path(&self) -> &'static str {
        match self {
            Change::Add { menu, .. }
            | Change::Set { menu, .. }
            | Change::Remove { menu, .. }
            | Change::Move { menu, .. } => menu.path(),
            Change::Kick { .. } => "/ppp/active",
        }
    }

    /// Whether this change takes a subscriber offline (what the guard counts and what
    /// fail-static withholds): disabling or removing a secret, kicking a session, or
    /// adding an address to the suspended list.
    pub fn is_disabling(&self) -> bool {
        match self {
            Change::Set { menu: Menu::PppSecret, attrs, .. } => attrs.get("disabled").is_some_and(|d| is_true(d)),
            Change::Remove { menu: Menu::PppSecret, .. } | Change::Kick { .. } => true,
            Change::Add { menu: Menu::AddressList, attrs, .. } => {
                attrs.get("list").is_some_and(|l| l == SUSPENDED_LIST)
            }
            // Putting a suspended subscriber's entry back as it should be (re-enabling an
            // entry an operator disabled, moving it back to the list) walls them in again.
            Change::Set { menu: Menu::AddressList, attrs, comment, .. } => {
                attrs.get("list").is_some_and(|l| l == SUSPENDED_LIST)
                    || comment.strip_prefix(MARKER).is_some_and(|c| c.starts_with("suspended:"))
            }
            _ => false,
        }
    }

    /// Whether it counts one subscriber going offline (secret disabled or removed).
    pub fn disables_secret(&self) -> bool {
        matches!(self, Change::Remove { menu: Menu::PppSecret, .. })
            || matches!(self, Change::Set { menu: Menu::PppSecret, attrs, .. } if attrs.get("disabled").is_some_and(|d| is_true(d)))
    }

    /// Order of application: foundations are written before what refers to them and
    /// removed after; accept rules before the reject rule; kicks after the disables.
    /// Within a phase changes go in plan order (rule moves and placed adds depend on it).
    pub fn phase(&self) -> u8 {
        match self {
            Change::Add { menu, .. } | Change::Set { menu, .. } if menu.is_foundation() => 0,
            Change::Add { menu: Menu::AddressList, comment, .. }
            | Change::Set { menu: Menu::AddressList, comment, .. }
                if comment.contains(":garden:") =>
            {
                0
            }
            Change::Add { menu: Menu::Filter, comment, .. } | Change::Set { menu: Menu::Filter, comment, .. }
                if comment.ends_with("block") =>
            {
                2
            }
            Change::Add { .. } | Change::Set { .. } | Change::Move { .. } => 1,
            Change::Kick { .. } => 3,
            Change::Remove { menu, .. } if !menu.is_foundation() => 4,
            Change::Remove { .. } => 5,
        }
    }
}

fn is_true(v: &str) -> bool {
    parse_bool(v).unwrap_or(false)
}

const BOOL_PROPS: &[&str] = &["disabled", "passthrough", "only-one", "accounting-backup", "log"];
const RATE_PROPS: &[&str] =
    &["max-limit", "limit-at", "pcq-rate", "burst-limit", "burst-threshold", "pcq-burst-rate", "pcq-burst-threshold"];
const DURATION_PROPS: &[&str] = &["burst-time", "pcq-burst-time", "timeout", "session-timeout", "idle-timeout"];
/// How a router prints a property that is not set (compared equal to a desired empty value).
const UNSET_SPELLINGS: &[&str] = &["none", "0.0.0.0", "0s", "00:00:00"];

/// Whether an observed value (absent = empty) equals the desired one, with RouterOS's
/// spellings normalised (`yes`/`true`, `10M`/`10000000`, `1m`/`00:01:00`; an unset
/// property printed as `none` or `0s`).
pub fn values_equal(prop: &str, observed: Option<&str>, desired: &str) -> bool {
    let have = observed.unwrap_or("");
    if have == desired {
        return true;
    }
    if desired.is_empty() {
        return UNSET_SPELLINGS.contains(&have);
    }
    if DURATION_PROPS.contains(&prop)
        && let (Ok(a), Ok(b)) = (parse_duration(have), parse_duration(desired))
    {
        return a == b;
    }
    if BOOL_PROPS.contains(&prop)
        && let (Ok(a), Ok(b)) = (parse_bool(have), parse_bool(desired))
    {
        return a == b;
    }
    if RATE_PROPS.contains(&prop)
        && let (Ok(a), Ok(b)) = (parse_rate(have), parse_rate(desired))
    {
        return a == b;
    }
    false
}

/// An object the reconciler would add, but an operator's own (unmanaged) object already
/// holds its name (or, on an address list, its list and address): RouterOS refuses the
/// `add` (`failure: secret with the same name already exists`). The object is skipped
/// and reported; the operator's object is never taken over.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Conflict {
    /// Menu.
    pub menu: Menu,
    /// The clashing name (`alice@acme`; `list address` on an address list).
    pub name: String,
    /// Comment of the managed object not added.
    pub comment: String,
    /// `.id` of the operator's object (empty when only the router's refusal told us).
    pub id: String,
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {:?}: an object without the konnekted: marker already has this name; {} not added",
            self.menu.path(),
            self.name,
            self.comment
        )
    }
}

/// A plan: the changes, and the objects skipped because an operator's object holds
/// their name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Changes to apply, in order.
    pub changes: Vec<Change>,
    /// Objects not added.
    pub conflicts: Vec<Conflict>,
}

/// What must be unique among a menu's items (`None`: nothing).
fn unique_key(menu: Menu, attrs: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    match menu {
        Menu::PppSecret | Menu::PppProfile | Menu::QueueTree | Menu::QueueType => attrs("name"),
        Menu::AddressList => Some(format!("{} {}", attrs("list")?, attrs("address")?)),
        _ => None,
    }
}

/// The changes that make `observed` carry `desired`. Pure and deterministic.
/// [`plan`] without the conflicts.
pub fn plan_changes(desired: &DesiredRouter, observed: &Observed) -> Vec<Change> {
    plan(desired, observed).changes
}

/// The changes that make `observed` carry `desired`, and the conflicts. Pure and
/// deterministic.
///
/// Managed observed items with a comment nobody desires are removed; of several with
/// the same comment the first is kept and the rest removed; missing objects are added,
/// unless an unmanaged item holds their name ([`Conflict`]); differing properties are
/// set; sessions of offline subscribers are kicked (never one whose name is an unmanaged
/// secret's: it is the operator's user).
pub fn plan(desired: &DesiredRouter, observed: &Observed) -> Plan {
    let mut changes = Vec::new();
    let mut conflicts = Vec::new();
    // Names held by the operator's own items.
    let mut taken: BTreeMap<(Menu, String), &str> = BTreeMap::new();
    for item in observed.items.iter().filter(|i| !i.is_managed()) {
        if let Some(key) = unique_key(item.menu, &|k| item.attrs.get(k).cloned()) {
            taken.entry((item.menu, key)).or_insert(item.id.as_str());
        }
    }
    let misplaced = misplaced_radius(desired, observed);
    let mut seen: BTreeMap<(Menu, &str), &ObservedItem> = BTreeMap::new();
    for item in observed.items.iter().filter(|i| i.is_managed() && desired.menus.contains(&i.menu)) {
        let comment = item.comment().unwrap_or_default();
        if !seen.contains_key(&(item.menu, comment))
            && desired.contains(item.menu, comment)
            && !(item.menu == Menu::Radius && misplaced.contains(item.id.as_str()))
        {
            seen.insert((item.menu, comment), item);
        } else {
            changes.push(Change::Remove { menu: item.menu, id: item.id.clone(), comment: comment.to_owned() });
        }
    }
    desired.visit(|menu, comment, want| match seen.get(&(menu, comment)) {
        None if !taken.is_empty()
            && let Some(name) =
                unique_key(menu, &|k| want.iter().find(|(p, _)| *p == k).map(|(_, v)| (*v).to_owned()))
            && let Some(id) = taken.get(&(menu, name.clone())) =>
        {
            conflicts.push(Conflict { menu, name, comment: comment.to_owned(), id: (*id).to_owned() });
        }
        None => {
            // Empty values are left out of `add` (absent and empty compare equal);
            // RouterOS rejects some empty values, e.g. `remote-address=`.
            // So are neutral values: a fresh item has them.
            let mut attrs: Attrs = want
                .iter()
                .filter(|(k, v)| !is_neutral(menu, k, v))
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            attrs.insert("comment".into(), comment.to_owned());
            changes.push(Change::Add { menu, comment: comment.to_owned(), attrs });
        }
        Some(item) => {
            let diff: Attrs = want
                .iter()
                .filter(|(k, v)| !values_equal(k, observed_value(menu, &item.attrs, k), v))
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            if !diff.is_empty() {
                changes.push(Change::Set { menu, id: item.id.clone(), comment: comment.to_owned(), attrs: diff });
            }
        }
    });
    order_rules(observed, &seen, &mut changes);
    for s in &observed.sessions {
        if desired.offline_names.contains(&s.name) && !taken.contains_key(&(Menu::PppSecret, s.name.clone())) {
            changes.push(Change::Kick { id: s.id.clone(), name: s.name.clone() });
        }
    }
    changes.sort_by_key(Change::phase);
    Plan { changes, conflicts }
}

/// The `.id`s (ids are per menu) of the managed `/radius` entries that are not where RouterOS
/// would ask them in the desired order.
///
/// RouterOS asks its `/radius` entries top to bottom and they cannot be moved; an `add` appends.
/// So the desired entries that may stay are those already in order from the primary on (the
/// first kept one is the primary, the next kept one the first backup, ...); every other kept
/// entry is removed and added again, and the adds (in rank order) land behind them. An operator's
/// own entries in between are left alone.
fn misplaced_radius<'a>(desired: &DesiredRouter, observed: &'a Observed) -> BTreeSet<&'a str> {
    let mut out = BTreeSet::new();
    if !desired.menus.contains(&Menu::Radius) {
        return out;
    }
    // Comments of the entries that stay; a later one with the same comment is a duplicate (removed
    // anyway), but one behind a misplaced entry of its comment may still be the one that stays.
    let mut kept = BTreeSet::new();
    for item in observed.items.iter().filter(|i| i.menu == Menu::Radius && i.is_managed()) {
        let comment = item.comment().unwrap_or_default();
        if !desired.contains(Menu::Radius, comment) || kept.contains(comment) {
            continue;
        }
        if radius_rank(comment) == Some(kept.len()) {
            kept.insert(comment);
        } else {
            out.insert(item.id.as_str());
        }
    }
    out
}

/// Menus whose items are read top to bottom, so their order matters.
const ORDERED: [Menu; 3] = [Menu::Mangle, Menu::Filter, Menu::Nat];

/// A managed rule's group and rank: its comment up to the last `:`, and the rest
/// (`konnekted:garden` and `1-dns-udp`). The rules of one group must appear in rank
/// order (the garden's accepts before its reject; a plan's mark-connection rules before
/// its mark-packet rules); groups are independent of each other and of unmanaged rules.
fn group_rank(comment: &str) -> (&str, &str) {
    comment.rsplit_once(':').unwrap_or(("", comment))
}

/// Keeps managed rules in rank order within their groups (an operator may have dragged
/// them around, or an `add` would append a missing accept rule after the reject).
///
/// Per group, the kept rule of highest rank and the longest run of kept rules before it
/// already in rank order stay where they are (anchors); every other kept rule is moved,
/// and every missing rule ranked below the highest kept one is added, just before the
/// anchor that follows it in rank (`move =destination=`, `add =place-before=`). Those
/// writes go in rank order, so several landing before one anchor line up; missing rules
/// ranked above every kept one are appended as before. Removals never touch anchors.
fn order_rules(observed: &Observed, seen: &BTreeMap<(Menu, &str), &ObservedItem>, changes: &mut Vec<Change>) {
    for menu in ORDERED {
        // Kept (desired, first of their comment) rules in router order, by group.
        let mut kept: BTreeMap<&str, Vec<(&str, &ObservedItem)>> = BTreeMap::new();
        for item in observed.items.iter().filter(|i| i.menu == menu) {
            let Some(comment) = item.comment() else { continue };
            if seen.get(&(menu, comment)).is_some_and(|k| std::ptr::eq(*k, item)) {
                let (group, rank) = group_rank(comment);
                kept.entry(group).or_default().push((rank, item));
            }
        }
        for (group, rules) in kept {
            let Some(top) = (0..rules.len()).max_by_key(|&i| rules[i].0) else { continue };
            let mut anchors = increasing_run(&rules[..top]);
            anchors.push(top);
            let anchor_ranks: Vec<(&str, &str)> =
                anchors.iter().map(|&i| (rules[i].0, rules[i].1.id.as_str())).collect();
            let before = |rank: &str| anchor_ranks.iter().find(|(r, _)| *r > rank).map(|(_, id)| (*id).to_owned());
            // This group's placed writes, in rank order: moves and the adds ranked below the top.
            let mut placed: Vec<(String, Change)> = Vec::new();
            for (i, (rank, item)) in rules.iter().enumerate() {
                if let (false, Some(destination)) = (anchors.contains(&i), before(rank)) {
                    let comment = item.comment().unwrap_or_default().to_owned();
                    placed.push(((*rank).to_owned(), Change::Move { menu, id: item.id.clone(), comment, destination }));
                }
            }
            let mut rest = Vec::with_capacity(changes.len());
            for c in changes.drain(..) {
                match c {
                    Change::Add { menu: m, comment, mut attrs } if m == menu && group_rank(&comment).0 == group => {
                        let rank = group_rank(&comment).1.to_owned();
                        match before(&rank) {
                            Some(anchor) => {
                                attrs.insert("place-before".into(), anchor);
                                placed.push((rank, Change::Add { menu: m, comment, attrs }));
                            }
                            None => rest.push(Change::Add { menu: m, comment, attrs }),
                        }
                    }
                    other => rest.push(other),
                }
            }
            placed.sort_by(|a, b| a.0.cmp(&b.0));
            rest.extend(placed.into_iter().map(|(_, c)| c));
            *changes = rest;
        }
    }
}

/// Indices of a longest subsequence of `rules` whose ranks increase (ties: the earliest).
fn increasing_run(rules: &[(&str, &ObservedItem)]) -> Vec<usize> {
    // len[i]: length of the longest such run ending at i; prev[i]: the element before i in it.
    let mut len = vec![1usize; rules.len()];
    let mut prev: Vec<Option<usize>> = vec![None; rules.len()];
    for i in 0..rules.len() {
        for j in 0..i {
            if rules[j].0 < rules[i].0 && len[j] + 1 > len[i] {
                len[i] = len[j] + 1;
                prev[i] = Some(j);
            }
        }
    }
    let mut at = (0..rules.len()).max_by(|&a, &b| len[a].cmp(&len[b]).then(b.cmp(&a)));
    let mut out = Vec::new();
    while let Some(i) = at {
        out.push(i);
        at = prev[i];
    }
    out.reverse();
    out
}

/// The guard's decision on a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guarded {
    /// Changes to apply.
    pub apply: Vec<Change>,
    /// Disabling changes held back.
    pub withheld: Vec<Change>,
    /// Why they were held back (`None`: nothing held back).
    pub refusal: Option<Refusal>,
}

/// Why disabling changes were held back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The plan would disable more than the allowed share.
    MassDisable {
        /// Subscribers the plan would take offline.
        would_disable: usize,
        /// Managed subscribers on the router.
        of: usize,
    },
    /// The disables of this pass and those of the window before it would exceed the
    /// limit (per router or per tenant): held until an operator confirms.
    RollingDisable(crate::ledger::OverLimit),
    /// The desired state is stale (the edge could not be reached): fail static.
    StaleDesired,
}

impl Guarded {
    /// Holds back every disabling change for `why`.
    pub fn withhold(self, why: Refusal) -> Guarded {
        let mut withheld = self.withheld;
        let (more, apply): (Vec<Change>, Vec<Change>) = self.apply.into_iter().partition(Change::is_disabling);
        withheld.extend(more);
        Guarded { apply, withheld, refusal: Some(why) }
    }
}

/// Applies the mass-disable guard (and fail static when `stale`): when refused, every
/// disabling change is withheld and the rest still goes ahead (payments keep working).
pub fn guard(changes: Vec<Change>, managed: usize, max_share: f64, min_count: usize, stale: bool) -> Guarded {
    let would_disable = changes.iter().filter(|c| c.disables_secret()).count();
    let limit = ((managed as f64) * max_share).floor() as usize;
    let refusal = if stale && changes.iter().any(Change::is_disabling) {
        Some(Refusal::StaleDesired)
    } else if would_disable > min_count && would_disable > limit {
        Some(Refusal::MassDisable { would_disable, of: managed })
    } else {
        None
    };
    if refusal.is_none() {
        return Guarded { apply: changes, withheld: Vec::new(), refusal };
    }
    let (withheld, apply) = changes.into_iter().partition(Change::is_disabling);
    Guarded { apply, withheld, refusal }
}

/// What a router does with the changes (each `add` gets a fresh `.id`). Used by the
/// property tests; the real router is read back instead.
pub fn apply_to_observed(observed: &Observed, changes: &[Change]) -> Observed {
    let mut out = observed.clone();
    // Fresh ids above every id in use (an id counted from the number of items could
    // collide with a surviving one after removals).
    let in_use = out.items.iter().filter_map(|i| usize::from_str_radix(i.id.strip_prefix('*')?, 16).ok()).max();
    let mut next = in_use.unwrap_or(0).max(0x1000);
    for c in changes {
        match c {
            Change::Add { menu, attrs, .. } => {
                next += 1;
                let mut attrs = attrs.clone();
                let before = attrs.remove("place-before");
                // A fresh item has the neutral values (what `add` leaves out).
                for (k, v) in crate::model::neutral_props(*menu) {
                    if !v.is_empty() {
                        attrs.entry((*k).to_owned()).or_insert_with(|| (*v).to_owned());
                    }
                }
                let item = ObservedItem { menu: *menu, id: format!("*{next:X}"), attrs };
                insert_before(&mut out.items, item, before.as_deref());
            }
            Change::Move { menu, id, destination, .. } => {
                if let Some(p) = out.items.iter().position(|i| i.menu == *menu && &i.id == id) {
                    let item = out.items.remove(p);
                    insert_before(&mut out.items, item, Some(destination));
                }
            }
            Change::Set { menu, id, attrs, .. } => {
                if let Some(item) = out.items.iter_mut().find(|i| i.menu == *menu && &i.id == id) {
                    for (k, v) in attrs {
                        // An empty value is written as `unset`.
                        if v.is_empty() {
                            item.attrs.remove(k);
                        } else {
                            item.attrs.insert(k.clone(), v.clone());
                        }
                    }
                }
            }
            Change::Remove { menu, id, .. } => out.items.retain(|i| !(i.menu == *menu && &i.id == id)),
            Change::Kick { id, .. } => out.sessions.retain(|s| &s.id != id),
        }
    }
    out
}

/// Puts `item` just before the item `.id` = `before` of its menu (at the end without one).
fn insert_before(items: &mut Vec<ObservedItem>, item: ObservedItem, before: Option<&str>) {
    let at = before.and_then(|b| items.iter().position(|i| i.menu == item.menu && i.id == b));
    items.insert(at.unwrap_or(items.len()), item);
}

/// Subscriber ids touched by a set of changes (from `konnekted:sub:<id>` and
/// `konnekted:suspended:<id>` comments).
pub fn subscribers_touched(changes: &[Change]) -> BTreeSet<String> {
    changes
        .iter()
        .filter_map(|c| match c {
            Change::Add { comment, .. }
            | Change::Set { comment, .. }
            | Change::Remove { comment, .. }
            | Change::Move { comment, .. } => {
                let rest = comment.strip_prefix(crate::model::MARKER)?;
                rest.strip_prefix("sub:").or_else(|| rest.strip_prefix("suspended:")).map(str::to_owned)
            }
            Change::Kick { .. } => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::{bench_router, bench_tenant, synthetic_state};
    use crate::config::{GardenConfig, QueueTypes, RadiusConfig, Secret, SuspendPolicy};
    use crate::edge::{DesiredState, Plan, Status, Subscriber};
    use crate::model::{MARKER, Object, build_desired, secret_comment};
    use proptest::prelude::*;

    fn router() -> crate::config::RouterConfig {
        bench_router("r1", "acme", ([127, 0, 0, 1], 8728).into(), 64)
    }

    fn full_tenant() -> crate::config::TenantConfig {
        let mut t = bench_tenant("acme");
        t.radius = Some(RadiusConfig {
            address: "10.0.0.2".into(),
            backup_addresses: vec!["10.0.0.3".into()],
            secret: Secret::new("rs"),
            service: "ppp".into(),
        });
        t.walled_garden = Some(GardenConfig {
            portal_host: "pay.example".into(),
            portal_address: "192.0.2.10".into(),
            portal_port: 80,
            redirector: None,
            radius_policy: Default::default(),
        });
        t
    }

    fn unmanaged(menu: Menu, id: &str, comment: Option<&str>) -> ObservedItem {
        let mut attrs: Attrs =
            [("chain".to_owned(), "forward".to_owned()), ("action".to_owned(), "drop".to_owned())].into();
        if menu == Menu::PppSecret {
            attrs = [("name".to_owned(), format!("op-{id}")), ("disabled".to_owned(), "false".to_owned())].into();
        }
        if let Some(c) = comment {
            attrs.insert("comment".into(), c.into());
        }
        ObservedItem { menu, id: id.into(), attrs }
    }

    #[test]
    fn plan_cold_router_adds_everything_once() {
        let state = synthetic_state("acme", 40);
        let d = build_desired(state.clone(), &full_tenant(), &router());
        let changes = plan_changes(&d, &Observed::default());
        assert_eq!(changes.len(), d.objects().count());
        assert!(changes.iter().all(|c| matches!(c, Change::Add { .. })));
        // Foundations first, then the rest, the reject rule last among adds.
        let phases: Vec<u8> = changes.iter().map(Change::phase).collect();
        assert!(phases.windows(2).all(|w| w[0] <= w[1]));
        let block =
            changes.iter().position(|c| matches!(c, Change::Add { comment, .. } if comment.ends_with("9-block")));
        let accept =
            changes.iter().position(|c| matches!(c, Change::Add { comment, .. } if comment.ends_with("1-dns-udp")));
        assert!(accept < block);
    }

    #[test]
    fn plan_after_apply_is_empty() {
        let state = synthetic_state("acme", 50);
        let d = build_desired(state.clone(), &full_tenant(), &router());
        let first = plan_changes(&d, &Observed::default());
        let after = apply_to_observed(&Observed::default(), &first);
        assert_eq!(plan_changes(&d, &after), Vec::<Change>::new());
    }

    /// The managed `/radius` entries' addresses in router order, and the operator's (`op:`).
    fn radius_list(o: &Observed) -> Vec<String> {
        o.items
            .iter()
            .filter(|i| i.menu == Menu::Radius)
            .map(|i| {
                let a = i.attrs.get("address").cloned().unwrap_or_default();
                if i.is_managed() { a } else { format!("op:{a}") }
            })
            .collect()
    }

    fn radius_item(id: &str, address: &str, comment: &str) -> ObservedItem {
        let attrs: Attrs =
            [("address", address), ("secret", "rs"), ("service", "ppp"), ("realm", "acme"), ("comment", comment)]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
        ObservedItem { menu: Menu::Radius, id: id.into(), attrs }
    }

    fn radius_only(d: &DesiredRouter, items: Vec<ObservedItem>) -> (Vec<Change>, Observed) {
        // Everything else already in place, so the plan is about /radius alone.
        let full = apply_to_observed(&Observed::default(), &plan_changes(d, &Observed::default()));
        let mut obs = Observed { items: full.items.into_iter().filter(|i| i.menu != Menu::Radius).collect(), ..full };
        obs.items.extend(items);
        (plan_changes(d, &obs), obs)
    }

    #[test]
    fn radius_primary_and_backup_are_added_in_order_with_one_realm_and_secret() {
        let d = build_desired(synthetic_state("acme", 2), &full_tenant(), &router());
        let (changes, obs) = radius_only(&d, vec![]);
        let adds: Vec<&Change> = changes.iter().filter(|c| c.path() == "/radius").collect();
        assert_eq!(adds.len(), 2, "{changes:?}");
        let after = apply_to_observed(&obs, &changes);
        assert_eq!(radius_list(&after), ["10.0.0.2", "10.0.0.3"]);
        for i in after.items.iter().filter(|i| i.menu == Menu::Radius) {
            assert_eq!(
                (i.attrs.get("realm").map(String::as_str), i.attrs.get("secret").map(String::as_str)),
                (Some("acme"), Some("rs"))
            );
        }
        assert_eq!(plan_changes(&d, &after), vec![]);
    }

    #[test]
    fn radius_backup_left_alone_gets_the_primary_before_it_by_remove_and_add() {
        let d = build_desired(synthetic_state("acme", 2), &full_tenant(), &router());
        // the operator deleted the primary: an add alone would put it behind the backup
        let (changes, obs) = radius_only(&d, vec![radius_item("*R2", "10.0.0.3", "konnekted:radius:acme:2")]);
        assert!(changes.iter().any(|c| matches!(c, Change::Remove { id, .. } if id == "*R2")), "{changes:?}");
        assert!(changes.iter().all(|c| !matches!(c, Change::Move { .. })), "/radius cannot be moved");
        let after = apply_to_observed(&obs, &changes);
        assert_eq!(radius_list(&after), ["10.0.0.2", "10.0.0.3"]);
        assert_eq!(plan_changes(&d, &after), vec![]);
    }

    #[test]
    fn radius_entries_swapped_are_put_back_in_order_and_the_operators_stays() {
        let d = build_desired(synthetic_state("acme", 2), &full_tenant(), &router());
        let (changes, obs) = radius_only(
            &d,
            vec![
                radius_item("*R2", "10.0.0.3", "konnekted:radius:acme:2"),
                radius_item("*R9", "192.0.2.50", "operator's own"),
                radius_item("*R1", "10.0.0.2", "konnekted:radius:acme"),
            ],
        );
        // the primary is kept; only the backup is removed and added again
        let removed: Vec<&str> = changes
            .iter()
            .filter_map(|c| match c {
                Change::Remove { id, .. } => Some(id.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(removed, ["*R2"]);
        let after = apply_to_observed(&obs, &changes);
        assert_eq!(radius_list(&after), ["op:192.0.2.50", "10.0.0.2", "10.0.0.3"]);
        assert_eq!(plan_changes(&d, &after), vec![]);
    }

    #[test]
    fn radius_backup_with_a_wrong_address_is_corrected_in_place() {
        let d = build_desired(synthetic_state("acme", 2), &full_tenant(), &router());
        let (changes, _) = radius_only(
            &d,
            vec![
                radius_item("*R1", "10.0.0.2", "konnekted:radius:acme"),
                radius_item("*R2", "10.0.0.99", "konnekted:radius:acme:2"),
            ],
        );
        assert_eq!(
            changes,
            vec![Change::Set {
                menu: Menu::Radius,
                id: "*R2".into(),
                comment: "konnekted:radius:acme:2".into(),
                attrs: [("address".to_owned(), "10.0.0.3".to_owned())].into(),
            }]
        );
    }

    #[test]
    fn radius_duplicate_of_a_backup_whose_primary_is_gone_is_not_kept_in_front() {
        // found by the property test: primary deleted, the backup duplicated behind it
        let d = build_desired(synthetic_state("acme", 2), &full_tenant(), &router());
        let (changes, obs) = radius_only(
            &d,
            vec![
                radius_item("*R2", "10.0.0.3", "konnekted:radius:acme:2"),
                radius_item("*D1", "10.0.0.3", "konnekted:radius:acme:2"),
            ],
        );
        let after = apply_to_observed(&obs, &changes);
        assert_eq!(radius_list(&after), ["10.0.0.2", "10.0.0.3"]);
        assert_eq!(plan_changes(&d, &after), vec![]);
    }

    #[test]
    fn radius_misplaced_id_does_not_touch_another_menus_item_with_that_id() {
        // ids are per menu on a router: a queue with the misplaced entry's id stays
        let d = build_desired(synthetic_state("acme", 2), &full_tenant(), &router());
        let (_, mut obs) = radius_only(&d, vec![radius_item("*R2", "10.0.0.3", "konnekted:radius:acme:2")]);
        let queue = obs.items.iter_mut().find(|i| i.menu == Menu::QueueTree).expect("a queue");
        queue.id = "*R2".into();
        let changes = plan_changes(&d, &obs);
        assert!(changes.iter().all(|c| c.path() == "/radius"), "{changes:?}");
    }

    #[test]
    fn radius_rank_reads_the_comment() {
        assert_eq!(crate::model::radius_rank("konnekted:radius:acme.co.ke"), Some(0));
        assert_eq!(crate::model::radius_rank("konnekted:radius:acme:2"), Some(1));
        assert_eq!(crate::model::radius_rank("konnekted:radius:acme:9"), Some(8));
        assert_eq!(crate::model::radius_rank("konnekted:radius:acme:1"), None);
        assert_eq!(crate::model::radius_rank("konnekted:garden:x"), None);
        assert_eq!(crate::model::radius_comment("acme", 0), "konnekted:radius:acme");
        assert_eq!(crate::model::radius_comment("acme", 2), "konnekted:radius:acme:3");
    }

    #[test]
    fn plan_unmanaged_lookalikes_are_never_touched() {
        let state = synthetic_state("acme", 5);
        let d = build_desired(state.clone(), &full_tenant(), &router());
        let observed = Observed {
            items: vec![
                unmanaged(Menu::Filter, "*A1", None),
                unmanaged(Menu::Filter, "*A2", Some("Konnekted:sub:s000001")),
                unmanaged(Menu::Filter, "*A3", Some(" konnekted:garden:9-block")),
                unmanaged(Menu::PppSecret, "*A4", Some("operator's own")),
            ],
            sessions: vec![Session { id: "*S1".into(), name: "op-*A4".into() }],
        };
        let changes = plan_changes(&d, &observed);
        for c in &changes {
            if let Change::Set { id, .. }
            | Change::Remove { id, .. }
            | Change::Move { id, .. }
            | Change::Kick { id, .. } = c
            {
                panic!("touched {id}: {c:?}");
            }
        }
    }

    #[test]
    fn plan_operator_disabled_secret_is_reenabled() {
        let state = synthetic_state("acme", 3);
        let d = build_desired(state.clone(), &bench_tenant("acme"), &router());
        let mut obs = apply_to_observed(&Observed::default(), &plan_changes(&d, &Observed::default()));
        let c0 = secret_comment("s000000");
        let item = obs.items.iter_mut().find(|i| i.comment() == Some(c0.as_str())).expect("secret");
        item.attrs.insert("disabled".into(), "yes".into());
        let id = item.id.clone();
        let changes = plan_changes(&d, &obs);
        assert_eq!(
            changes,
            vec![Change::Set {
                menu: Menu::PppSecret,
                id,
                comment: c0,
                attrs: [("disabled".to_owned(), "false".to_owned())].into()
            }]
        );
    }

    #[test]
    fn plan_operator_secret_with_same_name_is_a_conflict_not_an_add() {
        let mut t = bench_tenant("acme");
        t.suspend_policy = SuspendPolicy::Remove;
        let mut state = synthetic_state("acme", 3);
        state.subscribers[2].status = Status::Suspended;
        let d = build_desired(state, &t, &router());
        let mut obs = Observed::default();
        obs.items.push(unmanaged(Menu::PppSecret, "*A1", None));
        obs.items[0].attrs.insert("name".into(), "user1@acme".into());
        obs.items.push(unmanaged(Menu::PppSecret, "*A2", Some("operator's")));
        obs.items[1].attrs.insert("name".into(), "user2@acme".into());
        // The operator's users are online; user2 would be kicked were it ours.
        obs.sessions.push(Session { id: "*S1".into(), name: "user1@acme".into() });
        obs.sessions.push(Session { id: "*S2".into(), name: "user2@acme".into() });
        let p = plan(&d, &obs);
        assert_eq!(
            p.conflicts,
            vec![Conflict {
                menu: Menu::PppSecret,
                name: "user1@acme".into(),
                comment: secret_comment("s000001"),
                id: "*A1".into()
            }]
        );
        let added: Vec<&str> = p
            .changes
            .iter()
            .filter_map(|c| match c {
                Change::Add { menu: Menu::PppSecret, attrs, .. } => attrs.get("name").map(String::as_str),
                _ => None,
            })
            .collect();
        assert_eq!(added, ["user0@acme"], "the rest of the pass goes ahead");
        assert!(!p.changes.iter().any(|c| matches!(c, Change::Kick { .. })), "{:?}", p.changes);
        assert!(p.conflicts[0].to_string().contains("\"user1@acme\""));
    }

    #[test]
    fn plan_values_in_router_spelling_are_equal() {
        assert!(values_equal("disabled", Some("yes"), "true"));
        assert!(values_equal("pcq-rate", Some("10M"), "10000000"));
        assert!(values_equal("remote-address", None, ""));
        assert!(!values_equal("password", Some("a"), "b"));
    }

    /// A synced router with `user1@acme` online; then subscriber 1 expires with the static
    /// address 10.9.9.9 (or none). The desired state after, and what the router holds.
    fn expire_user1(t: &crate::config::TenantConfig, static_ip: Option<&str>) -> (DesiredRouter, Observed) {
        let mut state = synthetic_state("acme", 3);
        let d0 = build_desired(state.clone(), t, &router());
        let mut obs = apply_to_observed(&Observed::default(), &plan_changes(&d0, &Observed::default()));
        obs.sessions.push(Session { id: "*S1".into(), name: "user1@acme".into() });
        state.subscribers[1].status = Status::Expired;
        state.subscribers[1].static_ip = static_ip.map(str::to_owned);
        (build_desired(state, t, &router()), obs)
    }

    fn kicks(changes: &[Change]) -> Vec<&str> {
        changes
            .iter()
            .filter_map(|c| match c {
                Change::Kick { name, .. } => Some(name.as_str()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn plan_suspended_subscriber_without_garden_is_disabled_listed_and_kicked() {
        let (d1, obs) = expire_user1(&bench_tenant("acme"), Some("10.9.9.9"));
        let changes = plan_changes(&d1, &obs);
        assert!(changes.iter().any(|c| c.disables_secret()));
        assert_eq!(kicks(&changes), ["user1@acme"]);
        assert!(changes.iter().any(|c| matches!(c, Change::Add { menu: Menu::AddressList, attrs, .. } if attrs.get("address").map(String::as_str) == Some("10.9.9.9"))));
        // Kick comes after the disable.
        let kick = changes.iter().position(|c| matches!(c, Change::Kick { .. }));
        let dis = changes.iter().position(Change::disables_secret);
        assert!(dis < kick);
    }

    #[test]
    fn plan_suspended_subscriber_walled_in_by_garden_keeps_session_every_pass() {
        let (d1, obs) = expire_user1(&full_tenant(), Some("10.9.9.9"));
        let changes = plan_changes(&d1, &obs);
        assert!(changes.iter().any(|c| c.disables_secret()), "{changes:?}");
        assert!(changes.iter().any(|c| matches!(c, Change::Add { menu: Menu::AddressList, attrs, .. } if attrs.get("address").map(String::as_str) == Some("10.9.9.9"))));
        assert_eq!(kicks(&changes), Vec::<&str>::new(), "walled in, not cut off");
        // The next passes leave the session alone too: nothing left to do.
        let after = apply_to_observed(&obs, &changes);
        assert_eq!(after.sessions.len(), 1);
        assert_eq!(plan_changes(&d1, &after), Vec::<Change>::new());
    }

    #[test]
    fn plan_garden_without_static_address_or_radius_garden_still_kicks() {
        // Nothing would put their address on the suspended list: a live session would be
        // full access.
        let (d1, obs) = expire_user1(&full_tenant(), None);
        assert_eq!(kicks(&plan_changes(&d1, &obs)), ["user1@acme"]);
        let mut t = full_tenant();
        t.suspend_policy = SuspendPolicy::Remove;
        let (d1, obs) = expire_user1(&t, None);
        assert_eq!(kicks(&plan_changes(&d1, &obs)), ["user1@acme"]);
        // With a static address and the remove policy, the garden still walls them in.
        let (d1, obs) = expire_user1(&t, Some("10.9.9.9"));
        assert_eq!(kicks(&plan_changes(&d1, &obs)), Vec::<&str>::new());
    }

    #[test]
    fn plan_radius_garden_policy_keeps_session_of_its_statuses_only() {
        use crate::config::{GardenRadiusPolicy, InactivePolicy};
        let mut t = full_tenant();
        let with = |t: &mut crate::config::TenantConfig, suspended, expired| {
            if let Some(g) = t.walled_garden.as_mut() {
                g.radius_policy = GardenRadiusPolicy { suspended, expired };
            }
        };
        // RADIUS takes expired users into the garden: their session (any address) stays.
        with(&mut t, InactivePolicy::Reject, InactivePolicy::WalledGarden);
        let (d1, obs) = expire_user1(&t, None);
        assert_eq!(kicks(&plan_changes(&d1, &obs)), Vec::<&str>::new());
        // Only suspended ones: an expired user is refused by RADIUS, so kicked.
        with(&mut t, InactivePolicy::WalledGarden, InactivePolicy::Reject);
        let (d1, obs) = expire_user1(&t, None);
        assert_eq!(kicks(&plan_changes(&d1, &obs)), ["user1@acme"]);
        // Pending (never paid) goes with expired, as RADIUS treats it.
        with(&mut t, InactivePolicy::Reject, InactivePolicy::WalledGarden);
        let mut state = synthetic_state("acme", 3);
        state.subscribers[2].status = Status::Pending;
        state.subscribers[1].status = Status::Suspended;
        let d = build_desired(state, &t, &router());
        let obs = Observed {
            items: Vec::new(),
            sessions: vec![
                Session { id: "*S1".into(), name: "user1@acme".into() },
                Session { id: "*S2".into(), name: "user2@acme".into() },
            ],
        };
        assert_eq!(kicks(&plan_changes(&d, &obs)), ["user1@acme"]);
    }

    #[test]
    fn plan_fast_path_walled_in_subscriber_session_is_not_kicked() {
        let (d1, obs) = expire_user1(&full_tenant(), Some("10.9.9.9"));
        let ids: BTreeSet<String> = ["s000001".to_owned()].into();
        let fast = d1.restrict(&ids);
        // What the fast path reads: the subscriber's secret, its list entry, its session.
        let scoped = Observed {
            items: obs
                .items
                .iter()
                .filter(|i| i.comment() == Some(secret_comment("s000001").as_str()))
                .cloned()
                .collect(),
            sessions: obs.sessions.clone(),
        };
        let changes = plan_changes(&fast, &scoped);
        assert!(changes.iter().any(|c| c.disables_secret()), "{changes:?}");
        assert_eq!(kicks(&changes), Vec::<&str>::new());
        let (d1, obs) = expire_user1(&full_tenant(), None);
        let scoped = Observed { items: Vec::new(), sessions: obs.sessions };
        assert_eq!(kicks(&plan_changes(&d1.restrict(&ids), &scoped)), ["user1@acme"]);
    }

    #[test]
    fn plan_remove_policy_removes_secret_of_suspended() {
        let mut state = synthetic_state("acme", 3);
        let mut t = bench_tenant("acme");
        t.suspend_policy = SuspendPolicy::Remove;
        let d0 = build_desired(state.clone(), &t, &router());
        let obs = apply_to_observed(&Observed::default(), &plan_changes(&d0, &Observed::default()));
        state.subscribers[0].status = Status::Suspended;
        let d1 = build_desired(state.clone(), &t, &router());
        let changes = plan_changes(&d1, &obs);
        assert!(matches!(changes.as_slice(), [Change::Remove { menu: Menu::PppSecret, .. }]));
    }

    #[test]
    fn guard_mass_disable_is_refused_but_enables_go_ahead() {
        let changes: Vec<Change> = (0..30)
            .map(|i| Change::Set {
                menu: Menu::PppSecret,
                id: format!("*{i}"),
                comment: secret_comment(&i.to_string()),
                attrs: [("disabled".to_owned(), "true".to_owned())].into(),
            })
            .chain([Change::Set {
                menu: Menu::PppSecret,
                id: "*99".into(),
                comment: secret_comment("99"),
                attrs: [("disabled".to_owned(), "false".to_owned())].into(),
            }])
            .collect();
        let g = guard(changes.clone(), 100, 0.2, 5, false);
        assert!(matches!(g.refusal, Some(Refusal::MassDisable { would_disable: 30, of: 100 })));
        assert_eq!(g.apply.len(), 1);
        assert_eq!(g.withheld.len(), 30);
        let ok = guard(changes[..20].to_vec(), 100, 0.2, 5, false);
        assert_eq!(ok.refusal, None);
        let small = guard(changes[..4].to_vec(), 10, 0.2, 5, false);
        assert_eq!(small.refusal, None, "at most min_count is always allowed");
    }

    #[test]
    fn guard_stale_desired_withholds_every_disable() {
        let c = Change::Kick { id: "*1".into(), name: "a@acme".into() };
        let g = guard(vec![c], 100, 0.2, 5, true);
        assert_eq!(g.refusal, Some(Refusal::StaleDesired));
        assert!(g.apply.is_empty());
    }

    #[test]
    fn desired_repeated_subscriber_id_last_one_counts() {
        let mut state = synthetic_state("acme", 3);
        let mut again = state.subscribers[1].clone();
        again.password = "newer".into();
        state.subscribers.push(again);
        let d = build_desired(state, &bench_tenant("acme"), &router());
        assert_eq!(d.subscriber_count(), 3);
        let secret = d.get(Menu::PppSecret, &secret_comment("s000001")).expect("secret");
        assert_eq!(secret.attrs.get("password").map(String::as_str), Some("newer"));
        assert_eq!(d.objects().filter(|o| o.comment == secret_comment("s000001")).count(), 1);
    }

    #[test]
    fn desired_site_filter_keeps_only_that_site() {
        let mut state = synthetic_state("acme", 4);
        state.subscribers[0].site = Some("tower-1".into());
        state.subscribers[1].site = Some("tower-2".into());
        let mut r = router();
        r.sites.insert("tower-1".into());
        let d = build_desired(state.clone(), &bench_tenant("acme"), &r);
        assert_eq!(d.subscriber_ids().collect::<Vec<_>>(), ["s000000"]);
    }

    // ---- property tests ----

    fn arb_state() -> impl Strategy<Value = DesiredState> {
        let plans = prop::collection::btree_set("[a-c]", 1..3);
        let subs = prop::collection::vec(
            (0u8..4, prop::option::of(0u8..250), "[a-c]", prop::option::of("tower-[12]"), "[a-z]{1,3}"),
            0..25,
        );
        (plans, subs).prop_map(|(plans, subs)| DesiredState {
            realm: "acme".into(),
            generated_at: String::new(),
            cursor: 0,
            plans: plans
                .into_iter()
                .map(|c| Plan {
                    code: c,
                    name: String::new(),
                    kind: "pppoe".into(),
                    down_kbps: 4000,
                    up_kbps: 1000,
                    rate_limit: String::new(),
                    idle_timeout_seconds: None,
                })
                .collect(),
            subscribers: subs
                .into_iter()
                .enumerate()
                .map(|(i, (st, ip, plan, site, pw))| Subscriber {
                    id: format!("s{i}"),
                    username: format!("u{i}"),
                    password: pw,
                    plan,
                    status: [Status::Active, Status::Suspended, Status::Expired, Status::Pending][st as usize],
                    static_ip: ip.map(|o| format!("10.0.0.{o}")),
                    site,
                    expires_at: None,
                })
                .collect(),
            vouchers: Vec::new(),
            disable_confirmations: Vec::new(),
        })
    }

    #[derive(Debug, Clone)]
    enum Mutation {
        Drop(usize),
        /// An operator drags item `.0` just before item `.1` of the same menu.
        Move(usize, usize),
        Edit(usize, String, String),
        Duplicate(usize),
        Unmanaged(u8, Option<String>),
        Session(String),
    }

    fn arb_mutation() -> impl Strategy<Value = Mutation> {
        prop_oneof![
            any::<usize>().prop_map(Mutation::Drop),
            (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Move(a, b)),
            (
                any::<usize>(),
                prop::sample::select(vec!["disabled", "password", "profile", "address", "name", "comment"]),
                "[a-z0-9]{0,4}"
            )
                .prop_map(|(i, k, v)| Mutation::Edit(i, k.to_owned(), v)),
            any::<usize>().prop_map(Mutation::Duplicate),
            (
                0u8..9,
                prop::option::of(prop::sample::select(vec![
                    "konnekted".to_owned(),
                    "Konnekted:sub:s1".to_owned(),
                    "operator".to_owned(),
                    "x konnekted:sub:s0".to_owned()
                ]))
            )
                .prop_map(|(m, c)| Mutation::Unmanaged(m, c)),
            "u[0-9]@acme".prop_map(Mutation::Session),
        ]
    }

    fn mutate(mut obs: Observed, muts: &[Mutation]) -> Observed {
        let mut n = 0;
        for m in muts {
            n += 1;
            let len = obs.items.len();
            match m {
                Mutation::Drop(i) if len > 0 => {
                    obs.items.remove(i % len);
                }
                Mutation::Move(a, b) if len > 0 => {
                    let item = obs.items.remove(a % len);
                    let same: Vec<String> =
                        obs.items.iter().filter(|i| i.menu == item.menu).map(|i| i.id.clone()).collect();
                    let before = (!same.is_empty()).then(|| same[b % same.len()].clone());
                    insert_before(&mut obs.items, item, before.as_deref());
                }
                Mutation::Edit(i, k, v) if len > 0 => {
                    let item = &mut obs.items[i % len];
                    if k == "comment" {
                        // An operator rewriting our comment makes the object unmanaged.
                        item.attrs.insert(k.clone(), format!("edited {v}"));
                    } else {
                        item.attrs.insert(k.clone(), v.clone());
                    }
                }
                Mutation::Duplicate(i) if len > 0 => {
                    let mut item = obs.items[i % len].clone();
                    item.id = format!("*D{n}");
                    obs.items.push(item);
                }
                Mutation::Unmanaged(menu, comment) => {
                    let menu = Menu::ALL[*menu as usize % Menu::ALL.len()];
                    let mut item = unmanaged(menu, &format!("*U{n}"), comment.as_deref());
                    item.attrs.insert("name".into(), format!("u{n}@acme"));
                    obs.items.push(item);
                }
                Mutation::Session(name) => obs.sessions.push(Session { id: format!("*S{n}"), name: name.clone() }),
                _ => {}
            }
        }
        obs
    }

    /// Whether the managed rules of every ordered menu appear in rank order per group.
    fn rules_in_order(obs: &Observed) -> bool {
        ORDERED.iter().all(|menu| {
            let mut last: BTreeMap<&str, &str> = BTreeMap::new();
            obs.items.iter().filter(|i| i.menu == *menu && i.is_managed()).all(|i| {
                let (group, rank) = group_rank(i.comment().unwrap_or_default());
                last.insert(group, rank).is_none_or(|prev| prev < rank)
            })
        })
    }

    fn filter_comments(obs: &Observed) -> Vec<&str> {
        obs.items.iter().filter(|i| i.menu == Menu::Filter).filter_map(ObservedItem::comment).collect()
    }

    #[test]
    fn plan_garden_reject_dragged_above_accepts_is_moved_back() {
        let d = build_desired(synthetic_state("acme", 3), &full_tenant(), &router());
        let mut obs = apply_to_observed(&Observed::default(), &plan_changes(&d, &Observed::default()));
        obs.items.insert(0, unmanaged(Menu::Filter, "*A1", Some("operator: first")));
        let block = obs.items.iter().position(|i| i.comment().is_some_and(|c| c.ends_with("9-block"))).expect("block");
        let item = obs.items.remove(block);
        insert_before(&mut obs.items, item, Some("*A1"));
        let plan = plan_changes(&d, &obs);
        // The reject ranks highest, so it stays put; the four accepts move before it.
        assert!(plan.iter().all(|c| matches!(c, Change::Move { menu: Menu::Filter, .. })), "{plan:?}");
        let after = apply_to_observed(&obs, &plan);
        assert_eq!(
            filter_comments(&after),
            [
                "konnekted:garden:1-dns-udp",
                "konnekted:garden:2-dns-tcp",
                "konnekted:garden:3-portal",
                "konnekted:garden:4-portal-ip",
                "konnekted:garden:9-block",
                "operator: first",
            ]
        );
        assert_eq!(plan_changes(&d, &after), Vec::<Change>::new());
    }

    #[test]
    fn plan_garden_missing_accept_is_added_before_the_next_rule() {
        let d = build_desired(synthetic_state("acme", 3), &full_tenant(), &router());
        let mut obs = apply_to_observed(&Observed::default(), &plan_changes(&d, &Observed::default()));
        obs.items.retain(|i| i.comment() != Some("konnekted:garden:3-portal"));
        let next =
            obs.items.iter().find(|i| i.comment() == Some("konnekted:garden:4-portal-ip")).expect("4").id.clone();
        let plan = plan_changes(&d, &obs);
        // Appended, it would land after the reject and never match.
        assert!(
            matches!(plan.as_slice(), [Change::Add { attrs, .. }] if attrs.get("place-before") == Some(&next)),
            "{plan:?}"
        );
        let after = apply_to_observed(&obs, &plan);
        assert!(rules_in_order(&after), "{:?}", filter_comments(&after));
    }

    fn arb_router() -> impl Strategy<Value = crate::config::RouterConfig> {
        (any::<bool>(), any::<bool>()).prop_map(|(managed_types, site)| {
            let mut r = router();
            r.queue_types = if managed_types { QueueTypes::Managed } else { QueueTypes::Builtin };
            if site {
                r.sites.insert("tower-1".into());
            }
            r
        })
    }

    /// The properties an operator can write on an item of `menu` (the simulator's menu
    /// schema, which follows RouterOS's), but for `comment` (our identity) and an
    /// address-list entry's `timeout` (see `model::neutral_props`).
    fn editable(menu: Menu) -> Vec<&'static str> {
        let spec = routeros_sim::MENUS.iter().find(|m| m.path == menu.path()).expect("simulated menu");
        spec.fields.iter().copied().filter(|f| !matches!(*f, "comment" | "timeout")).collect()
    }

    #[test]
    fn desired_every_editable_property_is_managed() {
        let mut r = router();
        r.queue_types = QueueTypes::Managed;
        let d = build_desired(synthetic_state("acme", 40), &full_tenant(), &r);
        for menu in Menu::ALL {
            let props = d.props(menu);
            let missing: Vec<&str> = editable(menu).into_iter().filter(|p| !props.contains(*p)).collect();
            assert!(missing.is_empty(), "{menu:?}: {missing:?} not managed");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn plan_any_single_property_edit_is_corrected_in_one_pass(
            pick in any::<prop::sample::Index>(), prop_pick in any::<prop::sample::Index>(),
            value in "[a-z0-9.]{0,6}", managed_types in any::<bool>(),
        ) {
            let mut r = router();
            r.queue_types = if managed_types { QueueTypes::Managed } else { QueueTypes::Builtin };
            let d = build_desired(synthetic_state("acme", 24), &full_tenant(), &r);
            let synced = apply_to_observed(&Observed::default(), &plan_changes(&d, &Observed::default()));
            let mut edited = synced.clone();
            let item = pick.get(&edited.items).clone();
            let props = editable(item.menu);
            let key = *prop_pick.get(&props);
            let it = edited.items.iter_mut().find(|i| i.id == item.id).expect("item");
            let old = it.attrs.get(key).cloned().unwrap_or_default();
            let new = if BOOL_PROPS.contains(&key) {
                if is_true(&old) { "no".to_owned() } else { "yes".to_owned() }
            } else if value == old {
                format!("{value}x")
            } else {
                value.clone()
            };
            if new.is_empty() { it.attrs.remove(key); } else { it.attrs.insert(key.to_owned(), new.clone()); }
            let plan = plan_changes(&d, &edited);
            let after = apply_to_observed(&edited, &plan);
            prop_assert_eq!(plan_changes(&d, &after), Vec::<Change>::new(), "{} {}={:?}", item.menu.path(), key, new);
            let back = after.items.iter().find(|i| i.comment() == item.comment() && i.menu == item.menu).expect("kept");
            prop_assert!(
                values_equal(
                    key,
                    crate::model::observed_value(item.menu, &back.attrs, key),
                    crate::model::observed_value(item.menu, &item.attrs, key).unwrap_or(""),
                ),
                "{} {}: {:?} -> {:?}", item.menu.path(), key, item.attrs.get(key), back.attrs.get(key)
            );
        }

        #[test]
        fn plan_applied_to_observed_yields_desired(
            before in arb_state(), after in arb_state(), muts in prop::collection::vec(arb_mutation(), 0..12),
            r in arb_router(), garden in any::<bool>(),
        ) {
            let t = if garden { full_tenant() } else { bench_tenant("acme") };
            let d0 = build_desired(before.clone(), &t, &r);
            let start = mutate(apply_to_observed(&Observed::default(), &plan_changes(&d0, &Observed::default())), &muts);
            let d1 = build_desired(after.clone(), &t, &r);
            let super::Plan { changes: plan, conflicts } = super::plan(&d1, &start);
            let result = apply_to_observed(&start, &plan);

            // Every desired object exists exactly once with the desired values, but those
            // whose name an unmanaged object holds (not added).
            for Object { menu, comment, attrs: want } in d1.objects() {
                let found: Vec<&ObservedItem> = result.items.iter()
                    .filter(|i| i.menu == menu && i.comment() == Some(comment.as_str())).collect();
                if conflicts.iter().any(|c| c.menu == menu && c.comment == comment) {
                    prop_assert_eq!(found.len(), 0, "{:?} {}", menu, comment);
                    continue;
                }
                prop_assert_eq!(found.len(), 1, "{:?} {}", menu, comment);
                for (k, v) in &want {
                    prop_assert!(values_equal(k, found[0].attrs.get(k).map(String::as_str), v));
                }
            }
            // No managed object is left that is not desired.
            for i in result.items.iter().filter(|i| i.is_managed()) {
                prop_assert!(d1.contains(i.menu, i.comment().unwrap_or_default()));
            }
            // No session of an offline subscriber survives (but the operator's users').
            let theirs: BTreeSet<&str> = start.items.iter()
                .filter(|i| i.menu == Menu::PppSecret && !i.is_managed())
                .filter_map(|i| i.attrs.get("name").map(String::as_str)).collect();
            prop_assert!(result.sessions.iter().all(|s| !d1.offline_names.contains(&s.name) || theirs.contains(s.name.as_str())));
            // The sessions of those the garden walls in all stay.
            if let Some(g) = &t.walled_garden {
                let walled: BTreeSet<String> = after.subscribers.iter().filter(|s| g.walls_in(s))
                    .map(|s| format!("{}@acme", s.username)).collect();
                for s in start.sessions.iter().filter(|s| walled.contains(&s.name)) {
                    prop_assert!(result.sessions.contains(s), "{:?} kicked", s);
                }
            }
            // Managed rules are in rank order within their groups.
            prop_assert!(rules_in_order(&result), "{:?}", result.items);
            // Idempotent: a second plan is empty.
            prop_assert_eq!(plan_changes(&d1, &result), Vec::<Change>::new());
        }

        #[test]
        fn desired_lookups_agree_with_objects_and_proplists_cover_them(
            state in arb_state(), r in arb_router(), garden in any::<bool>(), pick in prop::collection::btree_set(0usize..25, 0..5),
        ) {
            let t = if garden { full_tenant() } else { bench_tenant("acme") };
            let d = build_desired(state.clone(), &t, &r);
            let mut comments = std::collections::BTreeSet::new();
            for o in d.objects() {
                prop_assert!(comments.insert((o.menu, o.comment.clone())), "one object per comment: {:?}", o);
                let found = d.get(o.menu, &o.comment);
                prop_assert_eq!(found.as_ref(), Some(&o));
                let props = d.props(o.menu);
                prop_assert!(o.attrs.keys().all(|k| props.contains(k)), "{:?} not all in {:?}", o, props);
            }
            let mut visited = Vec::new();
            d.visit(|menu, comment, attrs| visited.push(Object {
                menu,
                comment: comment.to_owned(),
                attrs: attrs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            }));
            prop_assert_eq!(visited, d.objects().collect::<Vec<_>>());
            for s in &state.subscribers {
                for (menu, comment) in [
                    (Menu::PppSecret, secret_comment(&s.id)),
                    (Menu::AddressList, crate::model::suspended_comment(&s.id)),
                ] {
                    prop_assert_eq!(d.contains(menu, &comment), comments.contains(&(menu, comment.clone())), "{}", comment);
                }
                // Wrong menu, or a subscriber this router does not serve: not desired.
                prop_assert!(!d.contains(Menu::Filter, &secret_comment(&s.id)));
                if !crate::model::serves(&r, s) {
                    prop_assert!(!d.contains(Menu::PppSecret, &secret_comment(&s.id)));
                }
            }
            let ids: std::collections::BTreeSet<String> = pick.iter().map(|i| format!("s{i}")).collect();
            let fast = d.restrict(&ids);
            for o in fast.objects() {
                let ours = ids.iter().any(|id| o.comment == secret_comment(id) || o.comment == crate::model::suspended_comment(id));
                prop_assert!(ours, "{:?}", o);
                prop_assert_eq!(d.get(o.menu, &o.comment), Some(o));
            }
        }

        #[test]
        fn plan_never_touches_unmanaged_objects(
            state in arb_state(), muts in prop::collection::vec(arb_mutation(), 0..12), r in arb_router(),
        ) {
            let t = full_tenant();
            let d = build_desired(state.clone(), &t, &r);
            let start = mutate(apply_to_observed(&Observed::default(), &plan_changes(&d, &Observed::default())), &muts);
            let unmanaged: Vec<&ObservedItem> = start.items.iter().filter(|i| !i.is_managed()).collect();
            let plan = plan_changes(&d, &start);
            for c in &plan {
                match c {
                    Change::Set { id, menu, .. } | Change::Remove { id, menu, .. } | Change::Move { id, menu, .. } => {
                        prop_assert!(!unmanaged.iter().any(|u| &u.id == id && u.menu == *menu), "touched unmanaged {:?}", c);
                    }
                    Change::Add { attrs, .. } => {
                        prop_assert!(attrs.get("comment").is_some_and(|c| c.starts_with(MARKER)));
                    }
                    Change::Kick { name, .. } => prop_assert!(d.offline_names.contains(name)),
                }
            }
            let result = apply_to_observed(&start, &plan);
            let after: Vec<&ObservedItem> = result.items.iter().filter(|i| !i.is_managed()).collect();
            prop_assert_eq!(unmanaged, after);
        }

        #[test]
        fn plan_restricted_to_subscribers_only_touches_them(
            before in arb_state(), after in arb_state(), pick in prop::collection::btree_set(0usize..25, 0..5),
        ) {
            let t = full_tenant();
            let r = router();
            let d0 = build_desired(before.clone(), &t, &r);
            let obs = apply_to_observed(&Observed::default(), &plan_changes(&d0, &Observed::default()));
            let ids: std::collections::BTreeSet<String> = pick.iter().map(|i| format!("s{i}")).collect();
            let d1 = build_desired(after.clone(), &t, &r).restrict(&ids);
            // The fast path reads only these subscribers' items.
            let scoped = Observed {
                items: obs.items.iter().filter(|i| {
                    ids.iter().any(|id| i.comment() == Some(secret_comment(id).as_str())
                        || i.comment() == Some(crate::model::suspended_comment(id).as_str()))
                }).cloned().collect(),
                sessions: Vec::new(),
            };
            let plan = plan_changes(&d1, &scoped);
            prop_assert!(subscribers_touched(&plan).is_subset(&ids));
        }
    }
}

//! What the reconciler manages on a router: menus, objects, and the desired objects of
//! one router built (purely) from the tenant's desired state.
//!
//! # Conventions (the contract with operators)
//!
//! * **Marker.** Every object the reconciler creates has a `comment` starting with
//!   [`MARKER`] (`konnekted:`) followed by a stable key: `konnekted:sub:<subscriber id>`,
//!   `konnekted:plan:<code>:...`, `konnekted:suspended:<subscriber id>`,
//!   `konnekted:garden:...`, `konnekted:radius:<realm>`. Objects are matched by this
//!   comment, never by name, and objects without the marker are never edited or removed.
//! * **PPPoE secrets** are named `<username>@<realm>` ([`SecretNaming::Qualified`], the
//!   default): the same login the subscriber's CPE uses against RADIUS, so a router can
//!   move between local secrets and RADIUS without touching CPEs. `secret_naming = "bare"`
//!   uses `<username>` alone. A subscriber who should be offline gets `disabled=yes`
//!   (or no secret, with `suspend_policy = "remove"`), and its `/ppp/active` session is
//!   removed, unless the walled garden takes care of them (their static address is on the
//!   suspended list, or RADIUS accepts them into the garden): that session stays, walled in.
//! * **Shaping** is per plan, not per user: profile `konnekted-<code>` puts each connected
//!   client's address in address-list `konnekted-plan-<code>`; mangle marks connections and
//!   packets of that list; two queue-tree leaves `konnekted-<code>-down/up` with PCQ queue
//!   types (`pcq-rate` = the plan's per-user rate, classifier dst/src address) shape all of
//!   the plan's users. Thousands of subscribers cost 4 mangle rules and 2 queues per plan.
//!   Per-subscriber overrides plug in at [`subscriber_overrides`].
//! * **Walled garden:** static addresses of suspended/expired/pending subscribers go to
//!   address-list `konnekted-suspended`; filter rules let that list reach DNS and the
//!   portal (`konnekted-portal` list holding the portal host) and reject the rest; a
//!   `dst-nat` sends their HTTP to the portal, or to the reconciler's redirector
//!   ([`crate::redirect`]) when the tenant has one.
//! * **`/radius`:** one entry per node of the FreeRADIUS cluster with the tenant's realm and
//!   secret: `konnekted:radius:<realm>` for the primary, `konnekted:radius:<realm>:2`, `:3`...
//!   for the backups. RouterOS asks them in list order and `/radius` items cannot be moved, so
//!   the planner keeps them in that order by removing and adding again ([`radius_rank`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::config::{GardenConfig, QueueTypes, RadiusConfig, RouterConfig, SecretNaming, SuspendPolicy, TenantConfig};
use crate::edge::{DesiredState, Plan, Subscriber};

/// Prefix of the comment of every managed object.
pub const MARKER: &str = "konnekted:";

/// Name of the address list of suspended subscribers (the contract's one copy).
pub const SUSPENDED_LIST: &str = konnekted_sync_proto::SUSPENDED_ADDRESS_LIST;
/// Name of the address list holding the portal host.
pub const PORTAL_LIST: &str = "konnekted-portal";

/// Whether an item's comment marks it as managed.
pub fn is_managed(comment: Option<&str>) -> bool {
    comment.is_some_and(|c| c.starts_with(MARKER))
}

/// A menu the reconciler writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Menu {
    /// `/queue/type` (PCQ types, when managed).
    QueueType,
    /// `/ppp/profile`.
    PppProfile,
    /// `/ip/firewall/address-list`.
    AddressList,
    /// `/radius`.
    Radius,
    /// `/ppp/secret`.
    PppSecret,
    /// `/ip/firewall/mangle`.
    Mangle,
    /// `/queue/tree`.
    QueueTree,
    /// `/ip/firewall/filter`.
    Filter,
    /// `/ip/firewall/nat`.
    Nat,
}

impl Menu {
    /// Every menu, foundations first.
    pub const ALL: [Menu; 9] = [
        Menu::QueueType,
        Menu::PppProfile,
        Menu::AddressList,
        Menu::Radius,
        Menu::PppSecret,
        Menu::Mangle,
        Menu::QueueTree,
        Menu::Filter,
        Menu::Nat,
    ];

    /// The API path.
    pub fn path(self) -> &'static str {
        match self {
            Menu::QueueType => "/queue/type",
            Menu::PppProfile => "/ppp/profile",
            Menu::AddressList => "/ip/firewall/address-list",
            Menu::Radius => "/radius",
            Menu::PppSecret => "/ppp/secret",
            Menu::Mangle => "/ip/firewall/mangle",
            Menu::QueueTree => "/queue/tree",
            Menu::Filter => "/ip/firewall/filter",
            Menu::Nat => "/ip/firewall/nat",
        }
    }

    /// Objects others refer to by name (created first, removed last).
    pub fn is_foundation(self) -> bool {
        matches!(self, Menu::QueueType | Menu::PppProfile | Menu::Radius)
    }
}

/// Properties of one object (`name -> value`), without `comment` and `.id`.
pub type Attrs = BTreeMap<String, String>;

/// The per-plan, garden and RADIUS objects of a router, by `(menu, comment)`.
type Fixed = BTreeMap<(Menu, String), Attrs>;

/// One desired object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// Its menu.
    pub menu: Menu,
    /// Its comment (identity).
    pub comment: String,
    /// Its properties.
    pub attrs: Attrs,
}

/// Properties of a subscriber's `/ppp/secret`: those it sets, then the neutral ones
/// ([`neutral_props`]) in the same order.
const SECRET_PROPS: [&str; 13] = [
    "name",
    "password",
    "service",
    "profile",
    "remote-address",
    "disabled",
    "local-address",
    "caller-id",
    "routes",
    "limit-bytes-in",
    "limit-bytes-out",
    "remote-ipv6-prefix",
    "ipv6-routes",
];
/// Properties of a suspended subscriber's `/ip/firewall/address-list` entry.
const SUSPENDED_PROPS: [&str; 3] = ["list", "address", "disabled"];

const FIREWALL_MATCHERS: [(&str, &str); 20] = [
    ("src-address", ""),
    ("dst-address", ""),
    ("src-address-list", ""),
    ("dst-address-list", ""),
    ("protocol", ""),
    ("src-port", ""),
    ("dst-port", ""),
    ("in-interface", ""),
    ("out-interface", ""),
    ("in-interface-list", ""),
    ("out-interface-list", ""),
    ("connection-mark", ""),
    ("packet-mark", ""),
    ("connection-state", ""),
    ("src-address-type", ""),
    ("dst-address-type", ""),
    ("jump-target", ""),
    ("log", "false"),
    ("log-prefix", ""),
    ("disabled", "false"),
];

/// The properties that matter on a managed object of `menu` beyond those the object
/// sets itself, with the value a fresh item has (empty: not set). Every desired object
/// carries them, so an operator's edit of any of them (`disabled=yes` on a queue, a
/// `src-port` on a garden rule, a `rate-limit` on a plan's profile) is drift like any
/// other and put back in one pass: a value by `set`, an empty one by `unset`. `add`
/// leaves them out (a fresh item already has them).
///
/// Not listed: `comment` (our identity: an edited comment makes the object the
/// operator's), and an address-list entry's `timeout` (it makes the entry dynamic, which
/// RouterOS removes by itself). The non-empty values are RouterOS 7's defaults as the
/// simulator prints them (unverified against every RouterOS version); an empty one also
/// matches the router's printed spellings of "nothing" (`none`, `0.0.0.0`, `0s`).
pub fn neutral_props(menu: Menu) -> &'static [(&'static str, &'static str)] {
    const SECRET: [(&str, &str); 7] = [
        ("local-address", ""),
        ("caller-id", ""),
        ("routes", ""),
        ("limit-bytes-in", "0"),
        ("limit-bytes-out", "0"),
        ("remote-ipv6-prefix", ""),
        ("ipv6-routes", ""),
    ];
    const PROFILE: [(&str, &str); 22] = [
        ("local-address", ""),
        ("remote-address", ""),
        ("rate-limit", ""),
        ("dns-server", ""),
        ("wins-server", ""),
        ("session-timeout", ""),
        ("idle-timeout", ""),
        ("parent-queue", ""),
        ("queue-type", ""),
        ("insert-queue-before", ""),
        ("incoming-filter", ""),
        ("outgoing-filter", ""),
        ("on-up", ""),
        ("on-down", ""),
        ("change-tcp-mss", "default"),
        ("use-encryption", "default"),
        ("use-compression", "default"),
        ("use-ipv6", "default"),
        ("use-mpls", "default"),
        ("use-upnp", "default"),
        ("bridge", ""),
        ("interface-list", ""),
    ];
    const QUEUE_TYPE: [(&str, &str); 7] = [
        ("pcq-limit", "50KiB"),
        ("pcq-total-limit", "2000KiB"),
        ("pcq-burst-rate", "0"),
        ("pcq-burst-threshold", "0"),
        ("pcq-burst-time", "10s"),
        ("pcq-src-address-mask", "32"),
        ("pcq-dst-address-mask", "32"),
    ];
    const QUEUE_TREE: [(&str, &str); 8] = [
        ("limit-at", "0"),
        ("priority", "8"),
        ("max-limit", "0"),
        ("burst-limit", "0"),
        ("burst-threshold", "0"),
        ("burst-time", "0s"),
        ("bucket-size", "0.1"),
        ("disabled", "false"),
    ];
    const RADIUS: [(&str, &str); 12] = [
        ("called-id", ""),
        ("domain", ""),
        ("protocol", "udp"),
        ("authentication-port", "1812"),
        ("accounting-port", "1813"),
        ("timeout", "300ms"),
        ("accounting-backup", "false"),
        ("src-address", ""),
        ("certificate", ""),
        ("radsec-timeout", ""),
        ("require-message-auth", ""),
        ("disabled", "false"),
    ];
    const FILTER: [(&str, &str); 21] = concat_neutral(FIREWALL_MATCHERS, [("reject-with", "")]);
    const NAT: [(&str, &str); 22] = concat_neutral(FIREWALL_MATCHERS, [("to-addresses", ""), ("to-ports", "")]);
    const MANGLE: [(&str, &str); 23] = concat_neutral(
        FIREWALL_MATCHERS,
        [("new-connection-mark", ""), ("new-packet-mark", ""), ("new-routing-mark", "")],
    );
    match menu {
        Menu::PppSecret => &SECRET,
        Menu::AddressList => &[("disabled", "false")],
        Menu::PppProfile => &PROFILE,
        Menu::QueueType => &QUEUE_TYPE,
        Menu::QueueTree => &QUEUE_TREE,
        Menu::Radius => &RADIUS,
        Menu::Filter => &FILTER,
        Menu::Nat => &NAT,
        Menu::Mangle => &MANGLE,
    }
}

const fn concat_neutral<const A: usize, const B: usize, const C: usize>(
    a: [(&'static str, &'static str); A],
    b: [(&'static str, &'static str); B],
) -> [(&'static str, &'static str); C] {
    let mut out = [("", ""); C];
    let mut i = 0;
    while i < A {
        out[i] = a[i];
        i += 1;
    }
    while i < C {
        out[i] = b[i - A];
        i += 1;
    }
    out
}

/// Whether `value` is what a fresh item of `menu` has for `prop` (left out of `add`).
pub fn is_neutral(menu: Menu, prop: &str, value: &str) -> bool {
    value.is_empty() || neutral_props(menu).iter().any(|(k, v)| *k == prop && *v == value)
}

/// Fills in the neutral properties an object does not set (they are not stored: the
/// lists are per menu and static).
fn with_neutrals(menu: Menu, mut a: Attrs) -> Attrs {
    for (k, v) in neutral_props(menu) {
        a.entry((*k).to_owned()).or_insert_with(|| (*v).to_owned());
    }
    a
}

/// An observed value as the planner compares it: a property the router did not print,
/// or that was dropped on reading because it held its neutral value, is that value.
pub fn observed_value<'a>(menu: Menu, attrs: &'a Attrs, prop: &str) -> Option<&'a str> {
    attrs
        .get(prop)
        .map(String::as_str)
        .or_else(|| neutral_props(menu).iter().find(|(k, v)| *k == prop && !v.is_empty()).map(|(_, v)| *v))
}

/// Everything one router should carry that the reconciler manages.
///
/// Compact by design: the per-subscriber objects (nearly all of them) are not stored but
/// derived when asked for ([`visit`](Self::visit), [`objects`](Self::objects),
/// [`contains`](Self::contains)) from
/// the tenant's desired state, which the tenant's routers share (`Arc`). What a router
/// keeps of its own is 4 bytes per subscriber it serves, its per-plan, garden and RADIUS
/// objects, and the names of its offline subscribers.
#[derive(Debug, Clone)]
pub struct DesiredRouter {
    state: Arc<DesiredState>,
    realm: String,
    naming: SecretNaming,
    policy: SuspendPolicy,
    fixed: Fixed,
    /// Indices into `state.subscribers` of the subscribers served, sorted by id, one per id.
    served: Vec<u32>,
    /// Only the served subscribers' secrets and suspended entries (the fast path's scope).
    restricted: bool,
    /// Secret names whose live sessions must be removed: subscribers who should be offline,
    /// but those the walled garden takes care of ([`GardenConfig::walls_in`]), whose
    /// sessions stay so they see the suspended page.
    pub offline_names: BTreeSet<String>,
    /// Menus this router manages (menus outside are never read or written).
    pub menus: BTreeSet<Menu>,
}

impl DesiredRouter {
    /// Only the objects of these subscribers (the fast path's scope).
    pub fn restrict(&self, ids: &BTreeSet<String>) -> DesiredRouter {
        let served: Vec<u32> = self.served.iter().copied().filter(|&i| ids.contains(&self.sub(i).id)).collect();
        let names: BTreeSet<String> = served.iter().map(|&i| self.name_of(self.sub(i))).collect();
        DesiredRouter {
            state: self.state.clone(),
            realm: self.realm.clone(),
            naming: self.naming,
            policy: self.policy,
            fixed: Fixed::new(),
            served,
            restricted: true,
            offline_names: self.offline_names.intersection(&names).cloned().collect(),
            menus: self.menus.clone(),
        }
    }

    /// Number of subscribers with a secret (enabled or not) in this router's desired state.
    pub fn subscriber_count(&self) -> usize {
        self.served.len()
    }

    /// Ids of the subscribers this router serves, in order.
    pub fn subscriber_ids(&self) -> impl Iterator<Item = &str> {
        self.served.iter().map(|&i| self.sub(i).id.as_str())
    }

    /// The secret name of a served subscriber.
    pub fn secret_name_of(&self, id: &str) -> Option<String> {
        self.subscriber(id).map(|s| self.name_of(s))
    }

    /// Every desired object: the per-plan, garden and RADIUS ones by `(menu, comment)`,
    /// then each served subscriber's (by id). Built on the fly.
    pub fn objects(&self) -> impl Iterator<Item = Object> + '_ {
        let fixed = self.fixed.iter().map(|((menu, comment), attrs)| Object {
            menu: *menu,
            comment: comment.clone(),
            attrs: with_neutrals(*menu, attrs.clone()),
        });
        fixed.chain(self.served.iter().flat_map(|&i| self.subscriber_objects(self.sub(i))))
    }

    /// Calls `f` with every desired object (menu, comment, properties), in the order of
    /// [`objects`](Self::objects), lending it rather than building a copy: what the
    /// planner walks, so a pass that finds nothing to do allocates next to nothing.
    pub fn visit(&self, mut f: impl FnMut(Menu, &str, &[(&str, &str)])) {
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        for ((menu, comment), attrs) in &self.fixed {
            pairs.clear();
            pairs.extend(attrs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            let own = pairs.len();
            for (k, v) in neutral_props(*menu) {
                if !pairs[..own].iter().any(|(p, _)| p == k) {
                    pairs.push((k, v));
                }
            }
            // In property order, as `objects` gives them.
            pairs.sort_unstable_by(|a, b| a.0.cmp(b.0));
            f(*menu, comment, &pairs);
        }
        let mut scratch = Scratch::default();
        for &i in &self.served {
            self.visit_subscriber(self.sub(i), &mut scratch, &mut f);
        }
    }

    /// Whether an object with this menu and comment is desired.
    pub fn contains(&self, menu: Menu, comment: &str) -> bool {
        let Some(rest) = comment.strip_prefix(MARKER) else { return false };
        if let Some(id) = rest.strip_prefix("sub:") {
            return menu == Menu::PppSecret && self.subscriber(id).is_some_and(|s| self.has_secret(s));
        }
        if let Some(id) = rest.strip_prefix("suspended:") {
            return menu == Menu::AddressList && self.subscriber(id).is_some_and(|s| self.suspended_ip(s).is_some());
        }
        self.get(menu, comment).is_some()
    }

    /// The desired object with this menu and comment.
    pub fn get(&self, menu: Menu, comment: &str) -> Option<Object> {
        let rest = comment.strip_prefix(MARKER)?;
        let of_subscriber = |id: &str| {
            let s = self.subscriber(id)?;
            self.subscriber_objects(s).into_iter().find(|o| o.menu == menu && o.comment == comment)
        };
        if let Some(id) = rest.strip_prefix("sub:").or_else(|| rest.strip_prefix("suspended:")) {
            return of_subscriber(id);
        }
        if let Some(rest) = rest.strip_prefix("sub-override:") {
            // `<id>:...`; an id may itself contain `:`.
            return rest.match_indices(':').find_map(|(i, _)| of_subscriber(&rest[..i]));
        }
        let attrs = self.fixed.get(&(menu, comment.to_owned()))?;
        Some(Object { menu, comment: comment.to_owned(), attrs: with_neutrals(menu, attrs.clone()) })
    }

    /// The properties desired objects of `menu` set (what is worth reading back).
    pub fn props(&self, menu: Menu) -> BTreeSet<String> {
        let mut props: BTreeSet<String> = neutral_props(menu).iter().map(|(k, _)| (*k).to_owned()).collect();
        for ((m, _), attrs) in &self.fixed {
            if *m == menu {
                props.extend(attrs.keys().cloned());
            }
        }
        let per_subscriber: &[&str] = match menu {
            Menu::PppSecret => &SECRET_PROPS,
            Menu::AddressList => &SUSPENDED_PROPS,
            _ => &[],
        };
        props.extend(per_subscriber.iter().map(|p| (*p).to_owned()));
        for &i in &self.served {
            let s = self.sub(i);
            for (m, _, attrs) in subscriber_overrides(s, self.plan_of(s)) {
                if m == menu {
                    props.extend(attrs.into_keys());
                }
            }
        }
        props
    }

    fn sub(&self, i: u32) -> &Subscriber {
        &self.state.subscribers[i as usize]
    }

    fn subscriber(&self, id: &str) -> Option<&Subscriber> {
        let at = self.served.binary_search_by(|&i| self.sub(i).id.as_str().cmp(id)).ok()?;
        Some(self.sub(self.served[at]))
    }

    /// The served subscriber a change is about, `(id, username)`: by the marker comment of a
    /// secret or suspended entry, by the login name of a session; `None` for any other change.
    pub fn subject_of(&self, c: &crate::plan::Change) -> Option<(String, String)> {
        use crate::plan::Change;
        let s = match c {
            Change::Add { comment, .. } | Change::Set { comment, .. } | Change::Remove { comment, .. } => {
                let rest = comment.strip_prefix(MARKER)?;
                let id = rest.strip_prefix("sub:").or_else(|| rest.strip_prefix("suspended:"))?;
                self.subscriber(id)?
            }
            Change::Kick { name, .. } => self.served.iter().map(|&i| self.sub(i)).find(|s| self.name_of(s) == *name)?,
            Change::Move { .. } => return None,
        };
        Some((s.id.clone(), s.username.clone()))
    }

    fn name_of(&self, s: &Subscriber) -> String {
        let mut name = String::new();
        self.write_name(s, &mut name);
        name
    }

    fn plan_of(&self, s: &Subscriber) -> Option<&Plan> {
        self.state.plans.iter().rev().find(|p| p.code == s.plan)
    }

    /// Whether a subscriber has a secret (online, or kept disabled). A hotspot plan's subscriber
    /// has none: it logs in through the router's hotspot (RADIUS), not PPPoE, and its plan has no
    /// PPP profile for a secret to name (a router refuses such a secret).
    fn has_secret(&self, s: &Subscriber) -> bool {
        self.plan_of(s).is_none_or(|p| p.kind != "hotspot")
            && (s.status.is_online() || self.policy == SuspendPolicy::Disable)
    }

    /// The address a subscriber who should be offline has on the suspended list.
    fn suspended_ip<'s>(&self, s: &'s Subscriber) -> Option<&'s str> {
        s.static_ip.as_deref().filter(|_| !s.status.is_online())
    }

    /// A subscriber's objects: its secret, its suspended-list entry, its overrides.
    fn visit_subscriber(&self, s: &Subscriber, b: &mut Scratch, f: &mut impl FnMut(Menu, &str, &[(&str, &str)])) {
        use std::fmt::Write as _;
        let online = s.status.is_online();
        let plan = self.plan_of(s);
        if self.has_secret(s) {
            b.comment.clear();
            let _ = write!(b.comment, "{MARKER}sub:{}", s.id);
            b.name.clear();
            self.write_name(s, &mut b.name);
            b.profile.clear();
            match plan {
                Some(_) => {
                    let _ = write!(b.profile, "konnekted-{}", s.plan);
                }
                None => b.profile.push_str("default"),
            }
            let values = [
                b.name.as_str(),
                s.password.as_str(),
                "pppoe",
                b.profile.as_str(),
                s.static_ip.as_deref().unwrap_or(""),
                if online { "false" } else { "true" },
                "",
                "",
                "",
                "0",
                "0",
                "",
                "",
            ];
            let attrs: [(&str, &str); 13] = std::array::from_fn(|i| (SECRET_PROPS[i], values[i]));
            f(Menu::PppSecret, &b.comment, &attrs);
        }
        if let Some(ip) = self.suspended_ip(s) {
            b.comment.clear();
            let _ = write!(b.comment, "{MARKER}suspended:{}", s.id);
            let values = [SUSPENDED_LIST, ip, "false"];
            let attrs: [(&str, &str); 3] = std::array::from_fn(|i| (SUSPENDED_PROPS[i], values[i]));
            f(Menu::AddressList, &b.comment, &attrs);
        }
        if !self.restricted {
            for (menu, comment, attrs) in subscriber_overrides(s, plan) {
                let pairs: Vec<(&str, &str)> = attrs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                f(menu, &comment, &pairs);
            }
        }
    }

    /// A subscriber's objects, owned.
    fn subscriber_objects(&self, s: &Subscriber) -> Vec<Object> {
        let mut out = Vec::new();
        self.visit_subscriber(s, &mut Scratch::default(), &mut |menu, comment, attrs| {
            let attrs = attrs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
            out.push(Object { menu, comment: comment.to_owned(), attrs });
        });
        out
    }

    fn write_name(&self, s: &Subscriber, out: &mut String) {
        out.push_str(&s.username);
        if self.naming == SecretNaming::Qualified {
            out.push('@');
            out.push_str(&self.realm);
        }
    }
}

/// Buffers reused from one subscriber to the next by [`DesiredRouter::visit`].
#[derive(Default)]
struct Scratch {
    comment: String,
    name: String,
    profile: String,
}

/// `konnekted:sub:<id>`.
pub fn secret_comment(id: &str) -> String {
    format!("{MARKER}sub:{id}")
}

/// `konnekted:suspended:<id>`.
pub fn suspended_comment(id: &str) -> String {
    format!("{MARKER}suspended:{id}")
}

/// The secret name of a subscriber.
pub fn secret_name(s: &Subscriber, realm: &str, naming: SecretNaming) -> String {
    match naming {
        SecretNaming::Qualified => format!("{}@{realm}", s.username),
        SecretNaming::Bare => s.username.clone(),
    }
}

fn attrs<const N: usize>(pairs: [(&str, &str); N]) -> Attrs {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

fn bps(kbps: u64) -> String {
    kbps.saturating_mul(1000).to_string()
}

/// Whether a router serves this subscriber (site filter).
pub fn serves(router: &RouterConfig, s: &Subscriber) -> bool {
    router.sites.is_empty() || s.site.as_ref().is_some_and(|site| router.sites.contains(site))
}

/// Builds the desired objects of one router. Pure: same inputs, same output. Cheap: the
/// state is shared, not copied (see [`DesiredRouter`]).
pub fn build_desired(
    state: impl Into<Arc<DesiredState>>,
    tenant: &TenantConfig,
    router: &RouterConfig,
) -> DesiredRouter {
    let state: Arc<DesiredState> = state.into();
    let menus = Menu::ALL
        .iter()
        .copied()
        .filter(|m| match m {
            Menu::QueueType => router.queue_types == QueueTypes::Managed,
            Menu::Radius => tenant.radius.is_some(),
            _ => true,
        })
        .collect();
    let mut fixed = Fixed::new();
    for plan in state.plans.iter().filter(|p| p.kind != "hotspot") {
        plan_objects(&mut fixed, plan, router);
    }
    if let Some(g) = &tenant.walled_garden {
        garden_objects(&mut fixed, g);
    }
    if let Some(r) = &tenant.radius {
        radius_object(&mut fixed, r, &tenant.realm);
    }
    // Sorted by id; of several with one id the last one counts.
    let subs = &state.subscribers;
    let mut served: Vec<u32> =
        (0..subs.len()).filter(|&i| serves(router, &subs[i])).filter_map(|i| u32::try_from(i).ok()).collect();
    served.sort_by(|&a, &b| subs[a as usize].id.cmp(&subs[b as usize].id).then(b.cmp(&a)));
    served.dedup_by(|a, b| subs[*a as usize].id == subs[*b as usize].id);
    let offline_names = served
        .iter()
        .map(|&i| &subs[i as usize])
        .filter(|s| !s.status.is_online())
        // The garden keeps these connected, walled in, so they see the suspended page.
        .filter(|s| !tenant.walled_garden.as_ref().is_some_and(|g| g.walls_in(s)))
        .map(|s| secret_name(s, &tenant.realm, tenant.secret_naming))
        .collect();
    DesiredRouter {
        state: state.clone(),
        realm: tenant.realm.clone(),
        naming: tenant.secret_naming,
        policy: tenant.suspend_policy,
        fixed,
        served,
        restricted: false,
        offline_names,
        menus,
    }
}

/// Extension point: extra objects for one subscriber (e.g. a per-user queue or a
/// different PCQ class). Keys must start with `konnekted:sub-override:<id>:`. None today.
pub fn subscriber_overrides(_s: &Subscriber, _plan: Option<&Plan>) -> Vec<(Menu, String, Attrs)> {
    Vec::new()
}

fn plan_objects(d: &mut Fixed, p: &Plan, router: &RouterConfig) {
    let c = &p.code;
    let key = |suffix: &str| format!("{MARKER}plan:{c}:{suffix}");
    let list = format!("konnekted-plan-{c}");
    let conn = format!("konnekted-{c}");
    let (down, up) = (format!("konnekted-{c}-down"), format!("konnekted-{c}-up"));
    if router.queue_types == QueueTypes::Managed {
        for (label, name, rate, classifier) in
            [("down", &down, p.down_kbps, "dst-address"), ("up", &up, p.up_kbps, "src-address")]
        {
            let a = attrs([
                ("name", name.as_str()),
                ("kind", "pcq"),
                ("pcq-rate", bps(rate).as_str()),
                ("pcq-classifier", classifier),
            ]);
            d.insert((Menu::QueueType, key(&format!("type-{label}"))), a);
        }
    }
    d.insert(
        (Menu::PppProfile, key("profile")),
        attrs([("name", conn.as_str()), ("address-list", list.as_str()), ("only-one", "yes")]),
    );
    for (suffix, dir) in [("1-conn-up", "src-address-list"), ("2-conn-down", "dst-address-list")] {
        d.insert(
            (Menu::Mangle, key(suffix)),
            attrs([
                ("chain", "forward"),
                ("action", "mark-connection"),
                (dir, list.as_str()),
                ("connection-mark", "no-mark"),
                ("new-connection-mark", conn.as_str()),
                ("passthrough", "true"),
            ]),
        );
    }
    for (suffix, dir, mark) in [("3-pkt-up", "src-address-list", &up), ("4-pkt-down", "dst-address-list", &down)] {
        d.insert(
            (Menu::Mangle, key(suffix)),
            attrs([
                ("chain", "forward"),
                ("action", "mark-packet"),
                ("connection-mark", conn.as_str()),
                (dir, list.as_str()),
                ("new-packet-mark", mark.as_str()),
                ("passthrough", "false"),
            ]),
        );
    }
    for (label, name, builtin) in [("down", &down, "pcq-download-default"), ("up", &up, "pcq-upload-default")] {
        let queue = match router.queue_types {
            QueueTypes::Managed => name.as_str(),
            QueueTypes::Builtin => builtin,
        };
        d.insert(
            (Menu::QueueTree, key(&format!("queue-{label}"))),
            attrs([
                ("name", name.as_str()),
                ("parent", router.queue_parent.as_str()),
                ("packet-mark", name.as_str()),
                ("queue", queue),
            ]),
        );
    }
}

/// The host part of the configured portal host: an address-list entry holds an address,
/// a range, a prefix or a DNS name, never a port or a URL (a router refuses
/// `address=127.0.0.1:8080`). `https://pay.example:8443/x` → `pay.example`,
/// `127.0.0.1:8080` → `127.0.0.1`, `[2001:db8::1]:80` → `2001:db8::1`; a bare IPv6
/// address is kept whole.
pub fn portal_host_address(portal_host: &str) -> &str {
    let s = portal_host.trim();
    let s = s.split_once("://").map_or(s, |(_, rest)| rest);
    let s = s.split(['/', '?', '#']).next().unwrap_or(s);
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split_once(']').map_or(rest, |(h, _)| h);
    }
    match s.split_once(':') {
        // One colon: host:port. More: a bare IPv6 address.
        Some((h, port)) if !port.contains(':') => h,
        _ => s,
    }
}

fn garden_objects(d: &mut Fixed, g: &GardenConfig) {
    let key = |suffix: &str| format!("{MARKER}garden:{suffix}");
    let host = portal_host_address(&g.portal_host);
    d.insert((Menu::AddressList, key("portal-host")), attrs([("list", PORTAL_LIST), ("address", host)]));
    let port = g.portal_port.to_string();
    for (suffix, proto) in [("1-dns-udp", "udp"), ("2-dns-tcp", "tcp")] {
        d.insert(
            (Menu::Filter, key(suffix)),
            attrs([
                ("chain", "forward"),
                ("src-address-list", SUSPENDED_LIST),
                ("protocol", proto),
                ("dst-port", "53"),
                ("action", "accept"),
            ]),
        );
    }
    d.insert(
        (Menu::Filter, key("3-portal")),
        attrs([
            ("chain", "forward"),
            ("src-address-list", SUSPENDED_LIST),
            ("dst-address-list", PORTAL_LIST),
            ("action", "accept"),
        ]),
    );
    d.insert(
        (Menu::Filter, key("4-portal-ip")),
        attrs([
            ("chain", "forward"),
            ("src-address-list", SUSPENDED_LIST),
            ("dst-address", &g.portal_address),
            ("action", "accept"),
        ]),
    );
    // With the redirector, suspended subscribers' HTTP goes to the reconciler (through the
    // tunnel) rather than to the portal, which cannot tell who they are.
    let (to_address, to_port) = match &g.redirector {
        Some(r) => (r.target_address(), r.listen.port().to_string()),
        None => (g.portal_address.clone(), port),
    };
    if g.redirector.is_some() {
        d.insert(
            (Menu::Filter, key("5-redirector")),
            attrs([
                ("chain", "forward"),
                ("src-address-list", SUSPENDED_LIST),
                ("dst-address", &to_address),
                ("protocol", "tcp"),
                ("dst-port", &to_port),
                ("action", "accept"),
            ]),
        );
    }
    d.insert(
        (Menu::Filter, key("9-block")),
        attrs([
            ("chain", "forward"),
            ("src-address-list", SUSPENDED_LIST),
            ("action", "reject"),
            ("reject-with", "icmp-network-prohibited"),
        ]),
    );
    d.insert(
        (Menu::Nat, key("redirect")),
        attrs([
            ("chain", "dstnat"),
            ("src-address-list", SUSPENDED_LIST),
            ("dst-address-list", &format!("!{PORTAL_LIST}")),
            ("protocol", "tcp"),
            ("dst-port", "80"),
            ("action", "dst-nat"),
            ("to-addresses", &to_address),
            ("to-ports", &to_port),
        ]),
    );
}

fn radius_object(d: &mut Fixed, r: &RadiusConfig, realm: &str) {
    for (i, address) in r.addresses().enumerate() {
        d.insert(
            (Menu::Radius, radius_comment(realm, i)),
            attrs([("address", address), ("secret", r.secret.expose()), ("service", &r.service), ("realm", realm)]),
        );
    }
}

/// The comment of a tenant's `i`-th `/radius` entry (0: the primary).
pub fn radius_comment(realm: &str, i: usize) -> String {
    if i == 0 { format!("{MARKER}radius:{realm}") } else { format!("{MARKER}radius:{realm}:{}", i + 1) }
}

/// The position (0: primary) of a managed `/radius` entry in its router's list, from its comment.
pub fn radius_rank(comment: &str) -> Option<usize> {
    let rest = comment.strip_prefix(MARKER)?.strip_prefix("radius:")?;
    match rest.rsplit_once(':') {
        None => Some(0),
        Some((_, n)) => n.parse::<usize>().ok().filter(|n| *n >= 2).map(|n| n - 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portal_host_address_drops_scheme_port_and_path() {
        assert_eq!(portal_host_address("127.0.0.1:8080"), "127.0.0.1");
        assert_eq!(portal_host_address("https://pay.example:8443/pay?x=1"), "pay.example");
        assert_eq!(portal_host_address("pay.example.net"), "pay.example.net");
        assert_eq!(portal_host_address("[2001:db8::1]:80"), "2001:db8::1");
        assert_eq!(portal_host_address("2001:db8::1"), "2001:db8::1");
    }

    #[test]
    fn desired_garden_portal_host_with_port_lists_only_the_host() {
        let mut t = crate::bench::bench_tenant("acme");
        t.walled_garden = Some(GardenConfig {
            portal_host: "127.0.0.1:8080".into(),
            portal_address: "127.0.0.1".into(),
            portal_port: 8080,
            redirector: None,
            radius_policy: Default::default(),
        });
        let r = crate::bench::bench_router("r1", "acme", ([127, 0, 0, 1], 1).into(), 8);
        let d = build_desired(crate::bench::synthetic_state("acme", 1), &t, &r);
        let entry = d.get(Menu::AddressList, "konnekted:garden:portal-host").expect("entry");
        assert_eq!(entry.attrs.get("address").map(String::as_str), Some("127.0.0.1"));
    }

    #[test]
    fn a_hotspot_plans_subscribers_get_no_ppp_secret_and_their_plan_no_profile() {
        let t = crate::bench::bench_tenant("acme");
        let r = crate::bench::bench_router("r1", "acme", ([127, 0, 0, 1], 1).into(), 8);
        let mut state = crate::bench::synthetic_state("acme", 20);
        let secrets = |d: &DesiredRouter| -> Vec<String> {
            d.objects().filter(|o| o.menu == Menu::PppSecret).filter_map(|o| o.attrs.get("profile").cloned()).collect()
        };
        let all_pppoe = secrets(&build_desired(state.clone(), &t, &r)).len();
        state.plans[3].kind = "hotspot".into();
        let d = build_desired(state, &t, &r);
        let secrets = secrets(&d);
        assert_eq!(secrets.len(), all_pppoe - 2, "the two subscribers of p3 (hotspot) have none: {secrets:?}");
        assert!(!secrets.iter().any(|p| p == "konnekted-p3"), "no secret names the hotspot plan's profile");
        let profiles: Vec<String> =
            d.objects().filter(|o| o.menu == Menu::PppProfile).filter_map(|o| o.attrs.get("name").cloned()).collect();
        assert!(profiles.contains(&"konnekted-p2".to_owned()) && !profiles.contains(&"konnekted-p3".to_owned()));
        // every secret names a profile the same desired state creates (or the router's default)
        for p in &secrets {
            assert!(profiles.contains(p) || p == "default", "{p} is created nowhere");
        }
    }

    #[test]
    fn desired_garden_with_redirector_sends_http_to_it_and_lets_it_through() {
        let mut t = crate::bench::bench_tenant("acme");
        let garden = |redirector| GardenConfig {
            portal_host: "pay.example.net".into(),
            portal_address: "192.0.2.10".into(),
            portal_port: 80,
            redirector,
            radius_policy: Default::default(),
        };
        let r = crate::bench::bench_router("r1", "acme", ([127, 0, 0, 1], 1).into(), 8);
        let value = |d: &DesiredRouter, menu, key: &str, prop: &str| {
            d.get(menu, key).and_then(|o| o.attrs.get(prop).cloned()).unwrap_or_default()
        };
        t.walled_garden = Some(garden(None));
        let d = build_desired(crate::bench::synthetic_state("acme", 1), &t, &r);
        assert_eq!(value(&d, Menu::Nat, "konnekted:garden:redirect", "to-addresses"), "192.0.2.10");
        assert!(!d.contains(Menu::Filter, "konnekted:garden:5-redirector"));
        t.walled_garden = Some(garden(Some(crate::config::RedirectorConfig {
            listen: ([0, 0, 0, 0], 8081).into(),
            address: Some("10.255.0.1".into()),
            portal_url: None,
        })));
        let d = build_desired(crate::bench::synthetic_state("acme", 1), &t, &r);
        assert_eq!(value(&d, Menu::Nat, "konnekted:garden:redirect", "to-addresses"), "10.255.0.1");
        assert_eq!(value(&d, Menu::Nat, "konnekted:garden:redirect", "to-ports"), "8081");
        assert_eq!(value(&d, Menu::Filter, "konnekted:garden:5-redirector", "dst-address"), "10.255.0.1");
        assert_eq!(value(&d, Menu::Filter, "konnekted:garden:5-redirector", "dst-port"), "8081");
        assert_eq!(value(&d, Menu::Filter, "konnekted:garden:5-redirector", "action"), "accept");
    }
}

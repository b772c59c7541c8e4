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
//!   (or no secret, with `suspend_policy = "remove"`), and its `/ppp/active` session is removed.
//! * **Shaping** is per plan, not per user: profile `konnekted-<code>` puts each connected
//!   client's address in address-list `konnekted-plan-<code>`; mangle marks connections and
//!   packets of that list; two queue-tree leaves `konnekted-<code>-down/up` with PCQ queue
//!   types (`pcq-rate` = the plan's per-user rate, classifier dst/src address) shape all of
//!   the plan's users. Thousands of subscribers cost 4 mangle rules and 2 queues per plan.
//!   Per-subscriber overrides plug in at [`subscriber_overrides`].
//! * **Walled garden:** static addresses of suspended/expired/pending subscribers go to
//!   address-list `konnekted-suspended`; filter rules let that list reach DNS and the
//!   portal (`konnekted-portal` list holding the portal host) and reject the rest; a
//!   `dst-nat` sends their HTTP to the portal.
//! * **`/radius`:** one entry with the tenant's realm, address and secret.

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

/// Properties of a subscriber's `/ppp/secret`.
const SECRET_PROPS: [&str; 6] = ["name", "password", "service", "profile", "remote-address", "disabled"];
/// Properties of a suspended subscriber's `/ip/firewall/address-list` entry.
const SUSPENDED_PROPS: [&str; 2] = ["list", "address"];

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
    /// Secret names whose live sessions must be removed (subscribers who should be offline).
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
            attrs: attrs.clone(),
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
        Some(Object { menu, comment: comment.to_owned(), attrs: attrs.clone() })
    }

    /// The properties desired objects of `menu` set (what is worth reading back).
    pub fn props(&self, menu: Menu) -> BTreeSet<String> {
        let mut props: BTreeSet<String> = BTreeSet::new();
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

    fn name_of(&self, s: &Subscriber) -> String {
        let mut name = String::new();
        self.write_name(s, &mut name);
        name
    }

    fn plan_of(&self, s: &Subscriber) -> Option<&Plan> {
        self.state.plans.iter().rev().find(|p| p.code == s.plan)
    }

    /// Whether a subscriber has a secret (online, or kept disabled).
    fn has_secret(&self, s: &Subscriber) -> bool {
        s.status.is_online() || self.policy == SuspendPolicy::Disable
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
            ];
            let attrs: [(&str, &str); 6] = std::array::from_fn(|i| (SECRET_PROPS[i], values[i]));
            f(Menu::PppSecret, &b.comment, &attrs);
        }
        if let Some(ip) = self.suspended_ip(s) {
            b.comment.clear();
            let _ = write!(b.comment, "{MARKER}suspended:{}", s.id);
            let values = [SUSPENDED_LIST, ip];
            let attrs: [(&str, &str); 2] = std::array::from_fn(|i| (SUSPENDED_PROPS[i], values[i]));
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

fn garden_objects(d: &mut Fixed, g: &GardenConfig) {
    let key = |suffix: &str| format!("{MARKER}garden:{suffix}");
    d.insert((Menu::AddressList, key("portal-host")), attrs([("list", PORTAL_LIST), ("address", &g.portal_host)]));
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
            ("to-addresses", &g.portal_address),
            ("to-ports", &port),
        ]),
    );
}

fn radius_object(d: &mut Fixed, r: &RadiusConfig, realm: &str) {
    d.insert(
        (Menu::Radius, format!("{MARKER}radius:{realm}")),
        attrs([("address", &r.address), ("secret", r.secret.expose()), ("service", &r.service), ("realm", realm)]),
    );
}

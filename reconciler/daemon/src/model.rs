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

use crate::config::{GardenConfig, QueueTypes, RadiusConfig, RouterConfig, SecretNaming, SuspendPolicy, TenantConfig};
use crate::edge::{DesiredState, Plan, Subscriber};

/// Prefix of the comment of every managed object.
pub const MARKER: &str = "konnekted:";

/// Name of the address list of suspended subscribers.
pub const SUSPENDED_LIST: &str = "konnekted-suspended";
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

/// Everything one router should carry that the reconciler manages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DesiredRouter {
    /// Managed objects by `(menu, comment)`.
    pub objects: BTreeMap<(Menu, String), Attrs>,
    /// Secret names whose live sessions must be removed (subscribers who should be offline).
    pub offline_names: BTreeSet<String>,
    /// Subscriber id -> secret name, for every subscriber of this router.
    pub names: BTreeMap<String, String>,
    /// Menus this router manages (menus outside are never read or written).
    pub menus: BTreeSet<Menu>,
}

impl DesiredRouter {
    /// Only the objects of these subscribers (the fast path's scope).
    pub fn restrict(&self, ids: &BTreeSet<String>) -> DesiredRouter {
        let keys: BTreeSet<String> = ids.iter().flat_map(|id| [secret_comment(id), suspended_comment(id)]).collect();
        let names: BTreeMap<String, String> =
            self.names.iter().filter(|(id, _)| ids.contains(*id)).map(|(a, b)| (a.clone(), b.clone())).collect();
        let wanted: BTreeSet<&String> = names.values().collect();
        DesiredRouter {
            objects: self
                .objects
                .iter()
                .filter(|((_, c), _)| keys.contains(c))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            offline_names: self.offline_names.iter().filter(|n| wanted.contains(n)).cloned().collect(),
            names,
            menus: self.menus.clone(),
        }
    }

    /// Number of subscribers with a secret (enabled or not) in this router's desired state.
    pub fn subscriber_count(&self) -> usize {
        self.names.len()
    }
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

/// Builds the desired objects of one router. Pure: same inputs, same output.
pub fn build_desired(state: &DesiredState, tenant: &TenantConfig, router: &RouterConfig) -> DesiredRouter {
    let mut d = DesiredRouter::default();
    d.menus.extend(Menu::ALL.iter().copied().filter(|m| match m {
        Menu::QueueType => router.queue_types == QueueTypes::Managed,
        Menu::Radius => tenant.radius.is_some(),
        _ => true,
    }));
    for plan in state.plans.iter().filter(|p| p.kind != "hotspot") {
        plan_objects(&mut d, plan, router);
    }
    let plans: BTreeMap<&str, &Plan> = state.plans.iter().map(|p| (p.code.as_str(), p)).collect();
    for s in state.subscribers.iter().filter(|s| serves(router, s)) {
        let name = secret_name(s, &tenant.realm, tenant.secret_naming);
        d.names.insert(s.id.clone(), name.clone());
        let online = s.status.is_online();
        if !online {
            d.offline_names.insert(name.clone());
        }
        let profile =
            if plans.contains_key(s.plan.as_str()) { format!("konnekted-{}", s.plan) } else { "default".into() };
        if online || tenant.suspend_policy == SuspendPolicy::Disable {
            let ip = s.static_ip.clone().unwrap_or_default();
            let secret = attrs([
                ("name", name.as_str()),
                ("password", s.password.as_str()),
                ("service", "pppoe"),
                ("profile", profile.as_str()),
                ("remote-address", ip.as_str()),
                ("disabled", if online { "false" } else { "true" }),
            ]);
            d.objects.insert((Menu::PppSecret, secret_comment(&s.id)), secret);
        }
        if let (false, Some(ip)) = (online, &s.static_ip) {
            d.objects.insert(
                (Menu::AddressList, suspended_comment(&s.id)),
                attrs([("list", SUSPENDED_LIST), ("address", ip.as_str())]),
            );
        }
        for (menu, key, a) in subscriber_overrides(s, plans.get(s.plan.as_str()).copied()) {
            d.objects.insert((menu, key), a);
        }
    }
    if let Some(g) = &tenant.walled_garden {
        garden_objects(&mut d, g);
    }
    if let Some(r) = &tenant.radius {
        radius_object(&mut d, r, &tenant.realm);
    }
    d
}

/// Extension point: extra objects for one subscriber (e.g. a per-user queue or a
/// different PCQ class). Keys must start with `konnekted:sub-override:<id>:`. None today.
pub fn subscriber_overrides(_s: &Subscriber, _plan: Option<&Plan>) -> Vec<(Menu, String, Attrs)> {
    Vec::new()
}

fn plan_objects(d: &mut DesiredRouter, p: &Plan, router: &RouterConfig) {
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
            d.objects.insert((Menu::QueueType, key(&format!("type-{label}"))), a);
        }
    }
    d.objects.insert(
        (Menu::PppProfile, key("profile")),
        attrs([("name", conn.as_str()), ("address-list", list.as_str()), ("only-one", "yes")]),
    );
    for (suffix, dir) in [("1-conn-up", "src-address-list"), ("2-conn-down", "dst-address-list")] {
        d.objects.insert(
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
        d.objects.insert(
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
        d.objects.insert(
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

fn garden_objects(d: &mut DesiredRouter, g: &GardenConfig) {
    let key = |suffix: &str| format!("{MARKER}garden:{suffix}");
    d.objects
        .insert((Menu::AddressList, key("portal-host")), attrs([("list", PORTAL_LIST), ("address", &g.portal_host)]));
    let port = g.portal_port.to_string();
    for (suffix, proto) in [("1-dns-udp", "udp"), ("2-dns-tcp", "tcp")] {
        d.objects.insert(
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
    d.objects.insert(
        (Menu::Filter, key("3-portal")),
        attrs([
            ("chain", "forward"),
            ("src-address-list", SUSPENDED_LIST),
            ("dst-address-list", PORTAL_LIST),
            ("action", "accept"),
        ]),
    );
    d.objects.insert(
        (Menu::Filter, key("4-portal-ip")),
        attrs([
            ("chain", "forward"),
            ("src-address-list", SUSPENDED_LIST),
            ("dst-address", &g.portal_address),
            ("action", "accept"),
        ]),
    );
    d.objects.insert(
        (Menu::Filter, key("9-block")),
        attrs([
            ("chain", "forward"),
            ("src-address-list", SUSPENDED_LIST),
            ("action", "reject"),
            ("reject-with", "icmp-network-prohibited"),
        ]),
    );
    d.objects.insert(
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

fn radius_object(d: &mut DesiredRouter, r: &RadiusConfig, realm: &str) {
    d.objects.insert(
        (Menu::Radius, format!("{MARKER}radius:{realm}")),
        attrs([("address", &r.address), ("secret", r.secret.expose()), ("service", &r.service), ("realm", realm)]),
    );
}

//! The menus the simulator knows, with their properties and rules.

/// How a menu behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MenuKind {
    /// A list of items with `.id` (`add`, `set`, `remove`, ...).
    Table,
    /// Exactly one item and no `.id` (`/system/identity`).
    Single,
}

/// Which items may not coexist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unique {
    /// No rule.
    None,
    /// `name` is unique.
    Name,
    /// `list` + `address` is unique (address lists).
    ListAddress,
}

/// One menu's description.
#[derive(Debug)]
pub struct MenuSpec {
    /// `/ppp/secret`.
    pub path: &'static str,
    /// Table or single item.
    pub kind: MenuKind,
    /// Writable properties, in print order.
    pub fields: &'static [&'static str],
    /// Read-only properties (printed, not writable), in print order after `fields`.
    pub read_only: &'static [&'static str],
    /// Values an item gets when `add` does not give them.
    pub defaults: &'static [(&'static str, &'static str)],
    /// Properties `add` requires.
    pub required: &'static [&'static str],
    /// Uniqueness rule.
    pub unique: Unique,
    /// `add` exists in the API for this menu.
    pub can_add: bool,
    /// `set` exists.
    pub can_set: bool,
    /// `enable`/`disable` exist.
    pub can_toggle: bool,
    /// `remove` exists.
    pub can_remove: bool,
    /// `move` exists (ordered lists such as firewall rules, where order matters).
    pub can_move: bool,
}

/// Properties whose values are booleans (normalised to `true`/`false`).
pub const BOOL_FIELDS: &[&str] = &[
    "disabled",
    "dynamic",
    "invalid",
    "passthrough",
    "accept",
    "accounting-backup",
    "require-message-auth",
    "log",
    "radius",
    "use-radius",
    "radius-accounting",
];

/// Properties holding a rate in bit/s (a `a/b` pair in `/queue/simple`): stored and
/// printed the way RouterOS prints them (`10000000` → `10M`, `512000` → `512k`).
pub const RATE_FIELDS: &[&str] = &[
    "limit-at",
    "max-limit",
    "burst-limit",
    "burst-threshold",
    "pcq-rate",
    "pcq-burst-rate",
    "pcq-burst-threshold",
    "total-limit-at",
    "total-max-limit",
    "total-burst-limit",
    "total-burst-threshold",
];

/// Matchers every firewall table has.
macro_rules! firewall_fields {
    ($($extra:literal),*) => {
        &[
            "chain",
            "action",
            "src-address",
            "dst-address",
            "src-address-list",
            "dst-address-list",
            "protocol",
            "src-port",
            "dst-port",
            "in-interface",
            "out-interface",
            "in-interface-list",
            "out-interface-list",
            "connection-mark",
            "packet-mark",
            "connection-state",
            "src-address-type",
            "dst-address-type",
            "jump-target",
            "log",
            "log-prefix",
            $($extra,)*
            "comment",
            "disabled",
        ]
    };
}

const FILTER_FIELDS: &[&str] = firewall_fields!("reject-with");
const NAT_FIELDS: &[&str] = firewall_fields!("to-addresses", "to-ports");
const MANGLE_FIELDS: &[&str] =
    firewall_fields!("new-connection-mark", "new-packet-mark", "new-routing-mark", "passthrough");

/// `action=` values of `/ip/firewall/filter` (RouterOS 7).
pub const FILTER_ACTIONS: &[&str] = &[
    "accept",
    "add-dst-to-address-list",
    "add-src-to-address-list",
    "drop",
    "fasttrack-connection",
    "jump",
    "log",
    "passthrough",
    "reject",
    "return",
    "tarpit",
];
/// `action=` values of `/ip/firewall/nat`.
pub const NAT_ACTIONS: &[&str] = &[
    "accept",
    "add-dst-to-address-list",
    "add-src-to-address-list",
    "dst-nat",
    "endpoint-independent-nat",
    "jump",
    "log",
    "masquerade",
    "netmap",
    "passthrough",
    "redirect",
    "return",
    "same",
    "src-nat",
];
/// `action=` values of `/ip/firewall/mangle`.
pub const MANGLE_ACTIONS: &[&str] = &[
    "accept",
    "add-dst-to-address-list",
    "add-src-to-address-list",
    "change-dscp",
    "change-mss",
    "change-ttl",
    "clear-df",
    "fasttrack-connection",
    "jump",
    "log",
    "mark-connection",
    "mark-packet",
    "mark-routing",
    "passthrough",
    "return",
    "route",
    "set-priority",
    "sniff-pc",
    "sniff-tzsp",
    "strip-ipv4-options",
];
/// `service=` values of `/ppp/secret`.
pub const PPP_SERVICES: &[&str] = &["any", "async", "l2tp", "ovpn", "pppoe", "pptp", "sstp"];
/// Queue types a fresh router has (`/queue/type`, `default=true`), with their kind.
pub const BUILTIN_QUEUE_TYPES: &[(&str, &str)] = &[
    ("default", "pfifo"),
    ("ethernet-default", "pfifo"),
    ("wireless-default", "sfq"),
    ("synchronous-default", "red"),
    ("hotspot-default", "sfq"),
    ("pcq-upload-default", "pcq"),
    ("pcq-download-default", "pcq"),
    ("only-hardware-queue", "none"),
    ("multi-queue-ethernet-default", "mq-pfifo"),
    ("default-small", "pfifo"),
];
/// Policies of `/user/group` (RouterOS 7); `!name` denies one.
pub const USER_POLICIES: &[&str] = &[
    "local",
    "telnet",
    "ssh",
    "ftp",
    "reboot",
    "read",
    "write",
    "policy",
    "test",
    "winbox",
    "password",
    "web",
    "sniff",
    "sensitive",
    "api",
    "romon",
    "rest-api",
];
/// Built-in `/user/group` entries: name and policy.
pub const BUILTIN_GROUPS: &[(&str, &str)] = &[
    ("read", "local,telnet,ssh,reboot,read,test,winbox,password,web,sniff,api,romon,rest-api"),
    ("write", "local,telnet,ssh,reboot,read,write,test,winbox,password,web,sniff,api,romon,rest-api"),
    (
        "full",
        "local,telnet,ssh,ftp,reboot,read,write,policy,test,winbox,password,web,sniff,sensitive,api,romon,rest-api",
    ),
];
/// Built-in `/ip/service` entries: name and port.
pub const BUILTIN_SERVICES: &[(&str, &str)] = &[
    ("telnet", "23"),
    ("ftp", "21"),
    ("www", "80"),
    ("ssh", "22"),
    ("www-ssl", "443"),
    ("api", "8728"),
    ("winbox", "8291"),
    ("api-ssl", "8729"),
];
/// `kind=` values of `/queue/type`.
pub const QUEUE_KINDS: &[&str] = &["bfifo", "cake", "fq-codel", "mq-pfifo", "none", "pcq", "pfifo", "red", "sfq"];
/// Interfaces a fresh simulated router has (queue-tree parents besides `global` and queues).
pub const INTERFACES: &[&str] = &["ether1", "ether2", "ether3", "ether4", "ether5", "bridge"];

const FIREWALL_RO: &[&str] = &["dynamic", "invalid", "bytes", "packets"];
const FIREWALL_DEFAULTS: &[(&str, &str)] =
    &[("action", "accept"), ("log", "false"), ("log-prefix", ""), ("disabled", "false")];
const MANGLE_DEFAULTS: &[(&str, &str)] =
    &[("action", "accept"), ("log", "false"), ("log-prefix", ""), ("passthrough", "true"), ("disabled", "false")];

const fn table(
    path: &'static str,
    fields: &'static [&'static str],
    read_only: &'static [&'static str],
    defaults: &'static [(&'static str, &'static str)],
    required: &'static [&'static str],
    unique: Unique,
) -> MenuSpec {
    MenuSpec {
        path,
        kind: MenuKind::Table,
        fields,
        read_only,
        defaults,
        required,
        unique,
        can_add: true,
        can_set: true,
        can_toggle: true,
        can_remove: true,
        can_move: false,
    }
}

/// An ordered list: `move` reorders it.
const fn ordered(spec: MenuSpec) -> MenuSpec {
    MenuSpec { can_move: true, ..spec }
}

/// Every menu the simulator serves.
pub static MENUS: &[MenuSpec] = &[
    table(
        "/ppp/secret",
        &[
            "name",
            "password",
            "service",
            "profile",
            "local-address",
            "remote-address",
            "caller-id",
            "routes",
            "limit-bytes-in",
            "limit-bytes-out",
            "remote-ipv6-prefix",
            "ipv6-routes",
            "comment",
            "disabled",
        ],
        &["last-logged-out", "last-caller-id", "last-disconnect-reason"],
        &[
            ("service", "any"),
            ("profile", "default"),
            ("routes", ""),
            ("limit-bytes-in", "0"),
            ("limit-bytes-out", "0"),
            ("disabled", "false"),
        ],
        &["name"],
        Unique::Name,
    ),
    MenuSpec {
        can_toggle: false,
        ..table(
            "/ppp/profile",
            &[
                "name",
                "local-address",
                "remote-address",
                "rate-limit",
                "only-one",
                "address-list",
                "dns-server",
                "wins-server",
                "session-timeout",
                "idle-timeout",
                "parent-queue",
                "queue-type",
                "insert-queue-before",
                "incoming-filter",
                "outgoing-filter",
                "on-up",
                "on-down",
                "change-tcp-mss",
                "use-encryption",
                "use-compression",
                "use-ipv6",
                "use-mpls",
                "use-upnp",
                "bridge",
                "interface-list",
                "comment",
            ],
            &["default"],
            &[
                ("only-one", "default"),
                ("change-tcp-mss", "default"),
                ("use-encryption", "default"),
                ("use-compression", "default"),
                ("use-ipv6", "default"),
                ("use-mpls", "default"),
                ("use-upnp", "default"),
            ],
            &["name"],
            Unique::Name,
        )
    },
    MenuSpec {
        can_add: false,
        can_set: false,
        can_toggle: false,
        ..table(
            "/ppp/active",
            &[
                "name",
                "service",
                "caller-id",
                "encoding",
                "address",
                "uptime",
                "session-id",
                "limit-bytes-in",
                "limit-bytes-out",
                "radius",
                "comment",
            ],
            &[],
            &[("service", "pppoe"), ("encoding", ""), ("radius", "false")],
            &["name"],
            Unique::None,
        )
    },
    table(
        "/queue/simple",
        &[
            "name",
            "target",
            "dst",
            "parent",
            "packet-marks",
            "priority",
            "queue",
            "limit-at",
            "max-limit",
            "burst-limit",
            "burst-threshold",
            "burst-time",
            "bucket-size",
            "time",
            "total-queue",
            "total-priority",
            "total-limit-at",
            "total-max-limit",
            "total-burst-limit",
            "total-burst-threshold",
            "total-burst-time",
            "comment",
            "disabled",
        ],
        &["dynamic", "invalid"],
        &[
            ("parent", "none"),
            ("packet-marks", ""),
            ("priority", "8/8"),
            ("queue", "default-small/default-small"),
            ("limit-at", "0/0"),
            ("max-limit", "0/0"),
            ("burst-limit", "0/0"),
            ("burst-threshold", "0/0"),
            ("burst-time", "0s/0s"),
            ("bucket-size", "0.1/0.1"),
            ("disabled", "false"),
            ("dynamic", "false"),
            ("invalid", "false"),
        ],
        &["name"],
        Unique::Name,
    ),
    table(
        "/queue/tree",
        &[
            "name",
            "parent",
            "packet-mark",
            "limit-at",
            "queue",
            "priority",
            "max-limit",
            "burst-limit",
            "burst-threshold",
            "burst-time",
            "bucket-size",
            "comment",
            "disabled",
        ],
        &["invalid"],
        &[
            ("packet-mark", ""),
            ("limit-at", "0"),
            ("queue", "default-small"),
            ("priority", "8"),
            ("max-limit", "0"),
            ("burst-limit", "0"),
            ("burst-threshold", "0"),
            ("burst-time", "0s"),
            ("bucket-size", "0.1"),
            ("disabled", "false"),
            ("invalid", "false"),
        ],
        &["name", "parent"],
        Unique::Name,
    ),
    table(
        "/queue/type",
        &[
            "name",
            "kind",
            "pcq-rate",
            "pcq-limit",
            "pcq-classifier",
            "pcq-total-limit",
            "pcq-burst-rate",
            "pcq-burst-threshold",
            "pcq-burst-time",
            "pcq-src-address-mask",
            "pcq-dst-address-mask",
            "comment",
        ],
        &["default"],
        &[
            ("kind", "pfifo"),
            ("pcq-rate", "0"),
            ("pcq-limit", "50KiB"),
            ("pcq-classifier", ""),
            ("pcq-total-limit", "2000KiB"),
            ("pcq-burst-rate", "0"),
            ("pcq-burst-threshold", "0"),
            ("pcq-burst-time", "10s"),
            ("pcq-src-address-mask", "32"),
            ("pcq-dst-address-mask", "32"),
            ("default", "false"),
        ],
        &["name", "kind"],
        Unique::Name,
    ),
    ordered(table("/ip/firewall/filter", FILTER_FIELDS, FIREWALL_RO, FIREWALL_DEFAULTS, &["chain"], Unique::None)),
    ordered(table("/ip/firewall/nat", NAT_FIELDS, FIREWALL_RO, FIREWALL_DEFAULTS, &["chain"], Unique::None)),
    ordered(table("/ip/firewall/mangle", MANGLE_FIELDS, FIREWALL_RO, MANGLE_DEFAULTS, &["chain"], Unique::None)),
    table(
        "/ip/firewall/address-list",
        &["list", "address", "timeout", "comment", "disabled"],
        &["creation-time", "dynamic"],
        &[("disabled", "false")],
        &["list", "address"],
        Unique::ListAddress,
    ),
    table(
        "/ip/hotspot/user",
        &[
            "server",
            "name",
            "password",
            "profile",
            "address",
            "mac-address",
            "email",
            "routes",
            "limit-uptime",
            "limit-bytes-in",
            "limit-bytes-out",
            "limit-bytes-total",
            "comment",
            "disabled",
        ],
        &["uptime", "bytes-in", "bytes-out", "packets-in", "packets-out", "dynamic"],
        &[
            ("server", "all"),
            ("profile", "default"),
            ("uptime", "0s"),
            ("bytes-in", "0"),
            ("bytes-out", "0"),
            ("packets-in", "0"),
            ("packets-out", "0"),
            ("dynamic", "false"),
            ("disabled", "false"),
        ],
        &["name"],
        Unique::Name,
    ),
    MenuSpec {
        can_add: false,
        can_set: false,
        can_toggle: false,
        ..table(
            "/ip/hotspot/active",
            &[
                "server",
                "user",
                "domain",
                "address",
                "mac-address",
                "login-by",
                "uptime",
                "session-time-left",
                "idle-time",
                "idle-timeout",
                "keepalive-timeout",
                "bytes-in",
                "bytes-out",
                "packets-in",
                "packets-out",
                "radius",
                "comment",
            ],
            &[],
            &[
                ("server", "hotspot1"),
                ("login-by", "http-chap"),
                ("uptime", "0s"),
                ("idle-time", "0s"),
                ("bytes-in", "0"),
                ("bytes-out", "0"),
                ("packets-in", "0"),
                ("packets-out", "0"),
                ("radius", "false"),
            ],
            &["user"],
            Unique::None,
        )
    },
    table(
        "/radius",
        &[
            "service",
            "called-id",
            "domain",
            "address",
            "protocol",
            "secret",
            "authentication-port",
            "accounting-port",
            "timeout",
            "accounting-backup",
            "realm",
            "src-address",
            "certificate",
            "radsec-timeout",
            "require-message-auth",
            "comment",
            "disabled",
        ],
        &[],
        &[
            ("service", ""),
            ("called-id", ""),
            ("domain", ""),
            ("protocol", "udp"),
            ("secret", ""),
            ("authentication-port", "1812"),
            ("accounting-port", "1813"),
            ("timeout", "300ms"),
            ("accounting-backup", "false"),
            ("realm", ""),
            ("disabled", "false"),
        ],
        &["address"],
        Unique::None,
    ),
    MenuSpec {
        path: "/radius/incoming",
        kind: MenuKind::Single,
        fields: &["accept", "port", "vrf"],
        read_only: &[],
        defaults: &[("accept", "false"), ("port", "3799"), ("vrf", "main")],
        required: &[],
        unique: Unique::None,
        can_add: false,
        can_set: true,
        can_toggle: false,
        can_remove: false,
        can_move: false,
    },
    table(
        "/interface/wireguard",
        &["name", "listen-port", "mtu", "private-key", "comment", "disabled"],
        &["running"],
        &[("listen-port", "13231"), ("mtu", "1420"), ("disabled", "false"), ("running", "true")],
        &["name", "private-key"],
        Unique::Name,
    ),
    table(
        "/interface/wireguard/peers",
        &[
            "interface",
            "public-key",
            "preshared-key",
            "endpoint-address",
            "endpoint-port",
            "allowed-address",
            "persistent-keepalive",
            "comment",
            "disabled",
        ],
        &[],
        &[("endpoint-port", "0"), ("persistent-keepalive", "0s"), ("disabled", "false")],
        &["interface", "public-key", "allowed-address"],
        Unique::None,
    ),
    table(
        "/ip/address",
        &["address", "network", "interface", "comment", "disabled"],
        &["dynamic", "invalid"],
        &[("disabled", "false"), ("dynamic", "false"), ("invalid", "false")],
        &["address", "interface"],
        Unique::None,
    ),
    MenuSpec {
        can_toggle: false,
        ..table(
            "/user/group",
            &["name", "policy", "skin", "comment"],
            &[],
            &[("skin", "default")],
            &["name", "policy"],
            Unique::Name,
        )
    },
    table(
        "/user",
        &["name", "group", "password", "address", "comment", "disabled"],
        &["last-logged-in"],
        &[("address", ""), ("disabled", "false")],
        &["name", "group"],
        Unique::Name,
    ),
    MenuSpec {
        can_add: false,
        can_remove: false,
        ..table(
            "/ip/service",
            &["name", "port", "address", "certificate", "disabled"],
            &[],
            &[("address", ""), ("certificate", "none"), ("disabled", "false")],
            &["name"],
            Unique::Name,
        )
    },
    MenuSpec {
        path: "/ppp/aaa",
        kind: MenuKind::Single,
        fields: &["use-radius", "accounting", "interim-update"],
        read_only: &[],
        defaults: &[("use-radius", "false"), ("accounting", "true"), ("interim-update", "0s")],
        required: &[],
        unique: Unique::None,
        can_add: false,
        can_set: true,
        can_toggle: false,
        can_remove: false,
        can_move: false,
    },
    MenuSpec {
        can_toggle: false,
        ..table(
            "/ip/hotspot/profile",
            &[
                "name",
                "hotspot-address",
                "dns-name",
                "html-directory",
                "login-by",
                "use-radius",
                "radius-accounting",
                "radius-interim-update",
                "comment",
            ],
            &["default"],
            &[
                ("html-directory", "hotspot"),
                ("login-by", "cookie,http-chap"),
                ("use-radius", "false"),
                ("radius-accounting", "true"),
                ("radius-interim-update", "received"),
                ("default", "false"),
            ],
            &["name"],
            Unique::Name,
        )
    },
    table(
        "/ip/hotspot/walled-garden",
        &["dst-host", "dst-port", "path", "method", "src-address", "server", "action", "comment", "disabled"],
        &["dynamic"],
        &[("action", "allow"), ("disabled", "false"), ("dynamic", "false")],
        &[],
        Unique::None,
    ),
    MenuSpec {
        path: "/system/identity",
        kind: MenuKind::Single,
        fields: &["name"],
        read_only: &[],
        defaults: &[("name", "MikroTik")],
        required: &[],
        unique: Unique::None,
        can_add: false,
        can_set: true,
        can_toggle: false,
        can_remove: false,
        can_move: false,
    },
    MenuSpec {
        path: "/system/resource",
        kind: MenuKind::Single,
        fields: &[],
        read_only: &[
            "uptime",
            "version",
            "build-time",
            "factory-software",
            "free-memory",
            "total-memory",
            "cpu",
            "cpu-count",
            "cpu-frequency",
            "cpu-load",
            "free-hdd-space",
            "total-hdd-space",
            "architecture-name",
            "board-name",
            "platform",
        ],
        defaults: &[],
        required: &[],
        unique: Unique::None,
        can_add: false,
        can_set: false,
        can_toggle: false,
        can_remove: false,
        can_move: false,
    },
];

/// The spec of `path`, if the simulator serves it.
pub fn menu(path: &str) -> Option<&'static MenuSpec> {
    MENUS.iter().find(|m| m.path == path)
}

impl MenuSpec {
    /// Position of a property in print order (unknown properties go last).
    pub fn order(&self, name: &str) -> usize {
        self.fields.iter().chain(self.read_only.iter()).position(|f| *f == name).unwrap_or(usize::MAX)
    }

    /// Whether a property may be written through the API.
    pub fn writable(&self, name: &str) -> bool {
        self.fields.contains(&name)
    }

    /// Whether items can be found by `name` instead of `.id`.
    pub fn has_name(&self) -> bool {
        self.fields.contains(&"name")
    }
}

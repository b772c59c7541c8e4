//! RADIUS sync: make a tenant's FreeRADIUS tables match the tenant's desired state.
//!
//! Shape (controller style): [`DesiredState`] in, read the managed rows ([`Observed`]), pure
//! [`plan_changes`] computes inserts/updates/deletes, [`sync_tenant`] applies them in ONE transaction
//! and returns a [`SyncReport`]. Running it twice writes nothing the second time.
//!
//! **What is managed** (everything else is left alone):
//! - groups whose name starts with [`GROUP_PREFIX`] (`kn_`): all their `radgroupreply` rows;
//! - a *managed user* is one in the desired state, or one with a `radusergroup` row to a `kn_` group.
//!   For managed users we own their `kn_` `radusergroup` rows, their `radcheck` rows for
//!   `Cleartext-Password`, `Auth-Type` and `Expiration`, and their `radreply` rows for `Framed-IP-Address`.
//!   Other attributes an operator adds by hand (e.g. `Simultaneous-Use`) survive.
//!
//! Rows written (FreeRADIUS names, `:=` everywhere):
//! - `radcheck`: `Cleartext-Password := pw`; `Auth-Type := Reject` when the status is suspended/expired
//!   and the tenant's policy for it is [`InactivePolicy::Reject`]; `Expiration := <unix seconds>`
//!   for a user with an end (a redeemed hotspot code);
//! - `radusergroup`: `(user, kn_plan_<plan>, 1)`, or `(user, kn_walled_garden, 1)` for walled-garden;
//! - `radgroupreply` for `kn_plan_<plan>`: `Mikrotik-Rate-Limit`, `Acct-Interim-Interval`, optional
//!   `Session-Timeout`, `Mikrotik-Address-List` and `Idle-Timeout` (a hotspot plan's); for `kn_walled_garden`:
//!   `Mikrotik-Address-List := konnekted-suspended` and a small `Mikrotik-Rate-Limit`;
//! - `radreply`: `Framed-IP-Address := ip` for a static IP.
//!
//! A redeemed hotspot code (a user with an end, `Expiration`) also gets, from its terms:
//! - `radcheck`: `Calling-Station-Id =~ "^(AA.BB.CC.DD.EE.FF|...)$"`, the devices the edge bound it to
//!   (case and separator free). A device not in the list fails rlm_sql's check items, so the user
//!   has no password from SQL; the generated policy then asks the edge, which binds a free place,
//!   moves the binding or refuses by the tenant's policy. With the edge unreachable only the bound
//!   devices log in (SQL cannot move a binding: `move` and `refuse` both act as `refuse` then);
//! - `radreply`: `Mikrotik-Total-Limit := <bytes left mod 2^32>` and
//!   `Mikrotik-Total-Limit-Gigawords := <bytes left / 2^32>` for a data-capped plan, so a session
//!   started from SQL ends at the cap. The figure is the edge's at the last sync: accounting the
//!   edge has not yet seen is not subtracted, so each session may use what was left at that sync.
//!
//! Those rows are managed only for users with an `Expiration` (desired or found): a `Calling-Station-Id`
//! check or a `Mikrotik-Total-Limit` an operator wrote by hand for a subscriber survives.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::db::{Backend, DbError, RadiusDb, Secret};

pub const GROUP_PREFIX: &str = "kn_";
pub const PLAN_GROUP_PREFIX: &str = "kn_plan_";
pub const WALLED_GARDEN_GROUP: &str = "kn_walled_garden";
/// The walled-garden address list (the contract's one copy, shared with the reconciler).
pub use konnekted_sync_proto::SUSPENDED_ADDRESS_LIST;
/// `radusergroup.priority` of the managed membership.
pub const MANAGED_PRIORITY: i64 = 1;

const CHECK_ATTRS: [&str; 3] = ["Cleartext-Password", "Auth-Type", "Expiration"];
const REPLY_ATTRS: [&str; 1] = ["Framed-IP-Address"];
/// Managed for redeemed codes only (users with an `Expiration`).
const CODE_CHECK_ATTRS: [&str; 1] = ["Calling-Station-Id"];
const CODE_REPLY_ATTRS: [&str; 2] = ["Mikrotik-Total-Limit", "Mikrotik-Total-Limit-Gigawords"];
/// `radcheck.value` is `varchar(253)` in FreeRADIUS's schemas.
const MAX_VALUE_LEN: usize = 253;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanSpec {
    /// Plan name, `[A-Za-z0-9._-]{1,48}`; the group is `kn_plan_<name>`.
    pub name: String,
    /// MikroTik rate-limit string, e.g. `"2M/10M"` (rx/tx as seen from the router).
    pub rate_limit: String,
    pub session_timeout: Option<u32>,
    pub address_list: Option<String>,
    /// `Idle-Timeout` of the plan's sessions (a hotspot plan: the tenant's setting, the same the
    /// edge answers a code's first use with). `None`: no row.
    #[serde(default)]
    pub idle_timeout: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubscriberStatus {
    Active,
    Suspended,
    Expired,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriberSpec {
    /// Username without the realm, `[A-Za-z0-9._:-]{1,64}`.
    pub username: String,
    pub password: Secret,
    pub plan: String,
    pub status: SubscriberStatus,
    pub static_ip: Option<Ipv4Addr>,
    /// Refused from this moment (unix seconds): `Expiration` in radcheck, which FreeRADIUS's
    /// `expiration` module enforces and turns into the remaining `Session-Timeout` (a redeemed
    /// hotspot code). `None`: no end.
    #[serde(default)]
    pub expires: Option<i64>,
    /// The devices (MAC addresses) a redeemed code is bound to: `Calling-Station-Id =~` in
    /// radcheck, so only they log in from SQL. Empty: any device. Only with `expires`.
    #[serde(default)]
    pub devices: Vec<String>,
    /// Bytes a redeemed code may still move (its plan's data cap less what accounting showed):
    /// `Mikrotik-Total-Limit` / `-Gigawords` in radreply. `None`: no cap. Only with `expires`.
    #[serde(default)]
    pub data_left: Option<u64>,
}

/// The `Calling-Station-Id =~` value matching exactly these MACs, whatever the case and the
/// separator the NAS writes (`AA:BB:..`, `aa-bb-..`). `None` if one is not a MAC (12 hex digits,
/// with `:`, `-` or `.` between) or the pattern is longer than a radcheck value may be (about
/// four devices).
pub fn calling_station_pattern(macs: &[String]) -> Option<String> {
    if macs.is_empty() {
        return None;
    }
    let mut alts = Vec::with_capacity(macs.len());
    for m in macs {
        let hex: Vec<u8> = m.bytes().filter(|b| !b":-.".contains(b)).collect();
        if hex.len() != 12 || !hex.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        let mut alt = String::new();
        for (i, h) in hex.iter().enumerate() {
            if i > 0 && i % 2 == 0 {
                alt.push('.');
            }
            if h.is_ascii_digit() {
                alt.push(*h as char);
            } else {
                alt.push('[');
                alt.push(h.to_ascii_uppercase() as char);
                alt.push(h.to_ascii_lowercase() as char);
                alt.push(']');
            }
        }
        alts.push(alt);
    }
    let p = format!("^({})$", alts.join("|"));
    (p.len() <= MAX_VALUE_LEN).then_some(p)
}

/// What to do with suspended or expired subscribers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InactivePolicy {
    /// `Auth-Type := Reject`.
    Reject,
    /// Accept into the walled-garden group (address list `konnekted-suspended`, small rate limit).
    WalledGarden,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantPolicy {
    pub suspended: InactivePolicy,
    pub expired: InactivePolicy,
    /// Rate limit of the walled-garden group.
    pub walled_garden_rate_limit: String,
    /// `Acct-Interim-Interval` sent with every plan, seconds.
    pub interim_interval: u32,
}

impl Default for TenantPolicy {
    fn default() -> Self {
        TenantPolicy {
            suspended: InactivePolicy::Reject,
            expired: InactivePolicy::Reject,
            walled_garden_rate_limit: "256k/256k".into(),
            interim_interval: 300,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DesiredState {
    pub plans: Vec<PlanSpec>,
    pub subscribers: Vec<SubscriberSpec>,
    pub policy: TenantPolicy,
}

/// One of the tables sync writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Table {
    RadCheck,
    RadReply,
    RadGroupReply,
    RadUserGroup,
}

impl Table {
    pub fn name(self) -> &'static str {
        match self {
            Table::RadCheck => "radcheck",
            Table::RadReply => "radreply",
            Table::RadGroupReply => "radgroupreply",
            Table::RadUserGroup => "radusergroup",
        }
    }
    fn key_column(self) -> &'static str {
        match self {
            Table::RadGroupReply => "groupname",
            _ => "username",
        }
    }
}

/// A row of radcheck / radreply (`name` = username) or radgroupreply (`name` = groupname).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvpRow {
    pub id: i64,
    pub name: String,
    pub attribute: String,
    pub op: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserGroupRow {
    pub id: i64,
    pub username: String,
    pub groupname: String,
    pub priority: i64,
}

/// Current rows, as read (may include unmanaged rows; the planner filters).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    pub radcheck: Vec<AvpRow>,
    pub radreply: Vec<AvpRow>,
    pub radgroupreply: Vec<AvpRow>,
    pub radusergroup: Vec<UserGroupRow>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    InsertAvp { table: Table, name: String, attribute: String, op: String, value: String },
    UpdateAvp { table: Table, id: i64, op: String, value: String },
    InsertUserGroup { username: String, groupname: String, priority: i64 },
    UpdateUserGroup { id: i64, groupname: String, priority: i64 },
    Delete { table: Table, id: i64 },
}

impl Change {
    pub fn table(&self) -> Table {
        match self {
            Change::InsertAvp { table, .. } | Change::UpdateAvp { table, .. } | Change::Delete { table, .. } => *table,
            Change::InsertUserGroup { .. } | Change::UpdateUserGroup { .. } => Table::RadUserGroup,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub added: usize,
    pub changed: usize,
    pub removed: usize,
}

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    pub added: usize,
    pub changed: usize,
    pub removed: usize,
    pub per_table: BTreeMap<Table, Counts>,
}

impl SyncReport {
    pub fn from_changes(changes: &[Change]) -> Self {
        let mut r = SyncReport::default();
        for c in changes {
            let e = r.per_table.entry(c.table()).or_default();
            match c {
                Change::InsertAvp { .. } | Change::InsertUserGroup { .. } => {
                    e.added += 1;
                    r.added += 1;
                }
                Change::UpdateAvp { .. } | Change::UpdateUserGroup { .. } => {
                    e.changed += 1;
                    r.changed += 1;
                }
                Change::Delete { .. } => {
                    e.removed += 1;
                    r.removed += 1;
                }
            }
        }
        r
    }
    pub fn is_noop(&self) -> bool {
        self.added + self.changed + self.removed == 0
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("invalid desired state: {0}")]
    Invalid(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for SyncError {
    fn from(e: sqlx::Error) -> Self {
        SyncError::Db(DbError::Database(e))
    }
}

impl SyncError {
    pub fn metric_label(&self) -> &'static str {
        match self {
            SyncError::Invalid(_) => "invalid_desired_state",
            SyncError::Db(e) if e.is_transient() => "db_unavailable",
            SyncError::Db(_) => "db_error",
        }
    }
}

fn valid_token(s: &str, max: usize, extra: &[u8]) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b) || extra.contains(&b))
}

/// Group name of a plan.
pub fn plan_group(plan: &str) -> String {
    format!("{PLAN_GROUP_PREFIX}{plan}")
}

fn validate(d: &DesiredState) -> Result<(), SyncError> {
    let mut plans = BTreeSet::new();
    for p in &d.plans {
        // Names must survive rlm_sql's escaping (safe_characters) unchanged.
        if !valid_token(&p.name, 48, &[]) {
            return Err(SyncError::Invalid(format!("plan name {:?}", p.name)));
        }
        if !plans.insert(p.name.as_str()) {
            return Err(SyncError::Invalid(format!("duplicate plan {:?}", p.name)));
        }
        if p.rate_limit.is_empty() || p.rate_limit.len() > 253 {
            return Err(SyncError::Invalid(format!("rate limit of plan {:?}", p.name)));
        }
    }
    let mut users = BTreeSet::new();
    for s in &d.subscribers {
        if !valid_token(&s.username, 64, b":") {
            return Err(SyncError::Invalid(format!("username {:?}", s.username)));
        }
        if !users.insert(s.username.as_str()) {
            return Err(SyncError::Invalid(format!("duplicate subscriber {:?}", s.username)));
        }
        if !plans.contains(s.plan.as_str()) {
            return Err(SyncError::Invalid(format!("subscriber {:?} has unknown plan {:?}", s.username, s.plan)));
        }
        let pw = s.password.expose();
        if pw.is_empty() || pw.len() > 128 {
            return Err(SyncError::Invalid(format!("password of {:?} must be 1..=128 bytes", s.username)));
        }
        if (!s.devices.is_empty() || s.data_left.is_some()) && s.expires.is_none() {
            return Err(SyncError::Invalid(format!("devices or data left of {:?} without an end", s.username)));
        }
        if !s.devices.is_empty() && calling_station_pattern(&s.devices).is_none() {
            return Err(SyncError::Invalid(format!("devices of {:?}: not MACs, or too many", s.username)));
        }
        // MikroTik reads a zero limit as none at all.
        if s.data_left == Some(0) {
            return Err(SyncError::Invalid(format!("no data left for {:?}", s.username)));
        }
    }
    Ok(())
}

type AvpKey = (String, String); // (name, attribute)
type AvpVal = (String, String); // (op, value)

struct Rendered {
    radcheck: BTreeMap<AvpKey, AvpVal>,
    radreply: BTreeMap<AvpKey, AvpVal>,
    radgroupreply: BTreeMap<AvpKey, AvpVal>,
    usergroup: BTreeMap<String, String>,
}

fn set(v: &str) -> AvpVal {
    (":=".to_string(), v.to_string())
}

fn render(d: &DesiredState) -> Rendered {
    let mut r = Rendered {
        radcheck: BTreeMap::new(),
        radreply: BTreeMap::new(),
        radgroupreply: BTreeMap::new(),
        usergroup: BTreeMap::new(),
    };
    let interim = d.policy.interim_interval.to_string();
    for p in &d.plans {
        let g = plan_group(&p.name);
        r.radgroupreply.insert((g.clone(), "Mikrotik-Rate-Limit".into()), set(&p.rate_limit));
        r.radgroupreply.insert((g.clone(), "Acct-Interim-Interval".into()), set(&interim));
        if let Some(t) = p.session_timeout {
            r.radgroupreply.insert((g.clone(), "Session-Timeout".into()), set(&t.to_string()));
        }
        if let Some(l) = &p.address_list {
            r.radgroupreply.insert((g.clone(), "Mikrotik-Address-List".into()), set(l));
        }
        if let Some(t) = p.idle_timeout {
            r.radgroupreply.insert((g.clone(), "Idle-Timeout".into()), set(&t.to_string()));
        }
    }
    if d.policy.suspended == InactivePolicy::WalledGarden || d.policy.expired == InactivePolicy::WalledGarden {
        let g = WALLED_GARDEN_GROUP.to_string();
        r.radgroupreply.insert((g.clone(), "Mikrotik-Rate-Limit".into()), set(&d.policy.walled_garden_rate_limit));
        r.radgroupreply.insert((g.clone(), "Mikrotik-Address-List".into()), set(SUSPENDED_ADDRESS_LIST));
        r.radgroupreply.insert((g, "Acct-Interim-Interval".into()), set(&interim));
    }
    for s in &d.subscribers {
        let u = s.username.clone();
        r.radcheck.insert((u.clone(), "Cleartext-Password".into()), set(s.password.expose()));
        let policy = match s.status {
            SubscriberStatus::Active => None,
            SubscriberStatus::Suspended => Some(d.policy.suspended),
            SubscriberStatus::Expired => Some(d.policy.expired),
        };
        let group = match policy {
            Some(InactivePolicy::Reject) => {
                r.radcheck.insert((u.clone(), "Auth-Type".into()), set("Reject"));
                plan_group(&s.plan)
            }
            Some(InactivePolicy::WalledGarden) => WALLED_GARDEN_GROUP.to_string(),
            None => plan_group(&s.plan),
        };
        r.usergroup.insert(u.clone(), group);
        if let Some(t) = s.expires {
            r.radcheck.insert((u.clone(), "Expiration".into()), set(&t.to_string()));
        }
        if let Some(p) = calling_station_pattern(&s.devices) {
            r.radcheck.insert((u.clone(), "Calling-Station-Id".into()), ("=~".to_string(), p));
        }
        if let Some(n) = s.data_left {
            r.radreply.insert((u.clone(), "Mikrotik-Total-Limit".into()), set(&(n & 0xFFFF_FFFF).to_string()));
            r.radreply.insert((u.clone(), "Mikrotik-Total-Limit-Gigawords".into()), set(&(n >> 32).to_string()));
        }
        if let Some(ip) = s.static_ip {
            r.radreply.insert((u, "Framed-IP-Address".into()), set(&ip.to_string()));
        }
    }
    r
}

fn diff_avp(
    table: Table,
    desired: &BTreeMap<AvpKey, AvpVal>,
    observed: &[AvpRow],
    in_scope: impl Fn(&AvpRow) -> bool,
    out: &mut Vec<Change>,
) {
    let mut by_key: BTreeMap<AvpKey, Vec<&AvpRow>> = BTreeMap::new();
    for row in observed.iter().filter(|r| in_scope(r)) {
        by_key.entry((row.name.clone(), row.attribute.clone())).or_default().push(row);
    }
    for (key, rows) in by_key.iter_mut() {
        rows.sort_by_key(|r| r.id);
        match desired.get(key) {
            Some((op, value)) => {
                let first = rows[0];
                if &first.op != op || &first.value != value {
                    out.push(Change::UpdateAvp { table, id: first.id, op: op.clone(), value: value.clone() });
                }
                out.extend(rows[1..].iter().map(|r| Change::Delete { table, id: r.id }));
            }
            None => out.extend(rows.iter().map(|r| Change::Delete { table, id: r.id })),
        }
    }
    for (key, (op, value)) in desired {
        if !by_key.contains_key(key) {
            out.push(Change::InsertAvp {
                table,
                name: key.0.clone(),
                attribute: key.1.clone(),
                op: op.clone(),
                value: value.clone(),
            });
        }
    }
}

/// The pure planner: changes that make the managed rows of `observed` equal to `desired`.
pub fn plan_changes(desired: &DesiredState, observed: &Observed) -> Result<Vec<Change>, SyncError> {
    validate(desired)?;
    let r = render(desired);
    let mut managed_users: BTreeSet<String> = r.usergroup.keys().cloned().collect();
    managed_users.extend(
        observed.radusergroup.iter().filter(|g| g.groupname.starts_with(GROUP_PREFIX)).map(|g| g.username.clone()),
    );
    // Redeemed codes: users with an end, desired or found (a code that left the state still has
    // its `Expiration` row until this sync removes it, so its code rows go with it).
    let mut codes: BTreeSet<&str> =
        desired.subscribers.iter().filter(|s| s.expires.is_some()).map(|s| s.username.as_str()).collect();
    codes.extend(
        observed
            .radcheck
            .iter()
            .filter(|row| row.attribute == "Expiration" && managed_users.contains(&row.name))
            .map(|row| row.name.as_str()),
    );
    let mut out = Vec::new();
    diff_avp(
        Table::RadCheck,
        &r.radcheck,
        &observed.radcheck,
        |row| {
            managed_users.contains(&row.name)
                && (CHECK_ATTRS.contains(&row.attribute.as_str())
                    || (CODE_CHECK_ATTRS.contains(&row.attribute.as_str()) && codes.contains(row.name.as_str())))
        },
        &mut out,
    );
    diff_avp(
        Table::RadReply,
        &r.radreply,
        &observed.radreply,
        |row| {
            managed_users.contains(&row.name)
                && (REPLY_ATTRS.contains(&row.attribute.as_str())
                    || (CODE_REPLY_ATTRS.contains(&row.attribute.as_str()) && codes.contains(row.name.as_str())))
        },
        &mut out,
    );
    diff_avp(
        Table::RadGroupReply,
        &r.radgroupreply,
        &observed.radgroupreply,
        |row| row.name.starts_with(GROUP_PREFIX),
        &mut out,
    );
    // radusergroup: exactly one kn_ membership per desired user, none for others.
    let mut by_user: BTreeMap<&str, Vec<&UserGroupRow>> = BTreeMap::new();
    for g in observed.radusergroup.iter().filter(|g| g.groupname.starts_with(GROUP_PREFIX)) {
        by_user.entry(g.username.as_str()).or_default().push(g);
    }
    for (user, rows) in by_user.iter_mut() {
        rows.sort_by_key(|g| g.id);
        match r.usergroup.get(*user) {
            Some(group) => {
                let first = rows[0];
                if &first.groupname != group || first.priority != MANAGED_PRIORITY {
                    out.push(Change::UpdateUserGroup {
                        id: first.id,
                        groupname: group.clone(),
                        priority: MANAGED_PRIORITY,
                    });
                }
                out.extend(rows[1..].iter().map(|g| Change::Delete { table: Table::RadUserGroup, id: g.id }));
            }
            None => out.extend(rows.iter().map(|g| Change::Delete { table: Table::RadUserGroup, id: g.id })),
        }
    }
    for (user, group) in &r.usergroup {
        if !by_user.contains_key(user.as_str()) {
            out.push(Change::InsertUserGroup {
                username: user.clone(),
                groupname: group.clone(),
                priority: MANAGED_PRIORITY,
            });
        }
    }
    Ok(out)
}

/// Apply changes to an in-memory copy (the planner's model of the database; used by tests).
pub fn apply_in_memory(observed: &Observed, changes: &[Change]) -> Observed {
    let mut o = observed.clone();
    let mut next_id = 1 + [
        o.radcheck.iter().map(|r| r.id).max(),
        o.radreply.iter().map(|r| r.id).max(),
        o.radgroupreply.iter().map(|r| r.id).max(),
        o.radusergroup.iter().map(|r| r.id).max(),
    ]
    .into_iter()
    .flatten()
    .max()
    .unwrap_or(0);
    for c in changes {
        match c {
            Change::InsertAvp { table, name, attribute, op, value } => {
                let row = AvpRow {
                    id: next_id,
                    name: name.clone(),
                    attribute: attribute.clone(),
                    op: op.clone(),
                    value: value.clone(),
                };
                next_id += 1;
                avp_table(&mut o, *table).push(row);
            }
            Change::UpdateAvp { table, id, op, value } => {
                if let Some(r) = avp_table(&mut o, *table).iter_mut().find(|r| r.id == *id) {
                    r.op = op.clone();
                    r.value = value.clone();
                }
            }
            Change::InsertUserGroup { username, groupname, priority } => {
                o.radusergroup.push(UserGroupRow {
                    id: next_id,
                    username: username.clone(),
                    groupname: groupname.clone(),
                    priority: *priority,
                });
                next_id += 1;
            }
            Change::UpdateUserGroup { id, groupname, priority } => {
                if let Some(r) = o.radusergroup.iter_mut().find(|r| r.id == *id) {
                    r.groupname = groupname.clone();
                    r.priority = *priority;
                }
            }
            Change::Delete { table: Table::RadUserGroup, id } => o.radusergroup.retain(|r| r.id != *id),
            Change::Delete { table, id } => avp_table(&mut o, *table).retain(|r| r.id != *id),
        }
    }
    o
}

fn avp_table(o: &mut Observed, t: Table) -> &mut Vec<AvpRow> {
    match t {
        Table::RadCheck => &mut o.radcheck,
        Table::RadReply => &mut o.radreply,
        Table::RadGroupReply | Table::RadUserGroup => &mut o.radgroupreply,
    }
}

// ---------------------------------------------------------------------------------------------
// SQL side

fn int_expr(b: Backend, col: &str) -> String {
    match b {
        Backend::Postgresql => format!("CAST({col} AS BIGINT)"),
        Backend::Mysql => format!("CAST({col} AS SIGNED)"),
        Backend::Sqlite => format!("CAST({col} AS INTEGER)"),
    }
}

async fn read_avp(
    conn: &mut sqlx::AnyConnection,
    b: Backend,
    table: Table,
    attr_filter: Option<&[&str]>,
) -> Result<Vec<AvpRow>, SyncError> {
    let mut sql =
        format!("SELECT {}, {}, attribute, op, value FROM {}", int_expr(b, "id"), table.key_column(), table.name());
    if let Some(attrs) = attr_filter {
        let list: Vec<String> = attrs.iter().map(|a| format!("'{a}'")).collect();
        sql.push_str(&format!(" WHERE attribute IN ({})", list.join(", ")));
    }
    let rows = sqlx::query(&sql).fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|r| {
            Ok(AvpRow {
                id: r.try_get(0)?,
                name: r.try_get(1)?,
                attribute: r.try_get(2)?,
                op: r.try_get(3)?,
                value: r.try_get(4)?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Into::into)
}

/// Read the rows sync may manage (managed attributes of radcheck/radreply, all of radgroupreply
/// and radusergroup; the planner narrows it down).
pub async fn read_observed(conn: &mut sqlx::AnyConnection, b: Backend) -> Result<Observed, SyncError> {
    let check: Vec<&str> = CHECK_ATTRS.iter().chain(&CODE_CHECK_ATTRS).copied().collect();
    let reply: Vec<&str> = REPLY_ATTRS.iter().chain(&CODE_REPLY_ATTRS).copied().collect();
    let radcheck = read_avp(conn, b, Table::RadCheck, Some(&check)).await?;
    let radreply = read_avp(conn, b, Table::RadReply, Some(&reply)).await?;
    let radgroupreply = read_avp(conn, b, Table::RadGroupReply, None).await?;
    let sql =
        format!("SELECT {}, username, groupname, {} FROM radusergroup", int_expr(b, "id"), int_expr(b, "priority"));
    let rows = sqlx::query(&sql).fetch_all(&mut *conn).await?;
    let radusergroup = rows
        .iter()
        .map(|r| {
            Ok(UserGroupRow {
                id: r.try_get(0)?,
                username: r.try_get(1)?,
                groupname: r.try_get(2)?,
                priority: r.try_get(3)?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
    Ok(Observed { radcheck, radreply, radgroupreply, radusergroup })
}

const INSERT_CHUNK: usize = 100;

/// Apply planned changes on an open connection/transaction.
pub async fn apply_changes(conn: &mut sqlx::AnyConnection, b: Backend, changes: &[Change]) -> Result<(), SyncError> {
    // Deletes and updates one by one (by primary key), inserts batched per table.
    let mut inserts: BTreeMap<Table, Vec<[String; 4]>> = BTreeMap::new();
    let mut ug_inserts: Vec<(String, String, i64)> = Vec::new();
    for c in changes {
        match c {
            Change::Delete { table, id } => {
                sqlx::query(&format!("DELETE FROM {} WHERE id = {}", table.name(), b.ph(1)))
                    .bind(*id)
                    .execute(&mut *conn)
                    .await?;
            }
            Change::UpdateAvp { table, id, op, value } => {
                sqlx::query(&format!(
                    "UPDATE {} SET op = {}, value = {} WHERE id = {}",
                    table.name(),
                    b.ph(1),
                    b.ph(2),
                    b.ph(3)
                ))
                .bind(op.clone())
                .bind(value.clone())
                .bind(*id)
                .execute(&mut *conn)
                .await?;
            }
            Change::UpdateUserGroup { id, groupname, priority } => {
                sqlx::query(&format!(
                    "UPDATE radusergroup SET groupname = {}, priority = {} WHERE id = {}",
                    b.ph(1),
                    b.ph(2),
                    b.ph(3)
                ))
                .bind(groupname.clone())
                .bind(*priority)
                .bind(*id)
                .execute(&mut *conn)
                .await?;
            }
            Change::InsertAvp { table, name, attribute, op, value } => {
                inserts.entry(*table).or_default().push([name.clone(), attribute.clone(), op.clone(), value.clone()]);
            }
            Change::InsertUserGroup { username, groupname, priority } => {
                ug_inserts.push((username.clone(), groupname.clone(), *priority));
            }
        }
    }
    for (table, rows) in inserts {
        for chunk in rows.chunks(INSERT_CHUNK) {
            let mut n = 0;
            let values: Vec<String> = chunk
                .iter()
                .map(|_| {
                    let v = format!("({}, {}, {}, {})", b.ph(n + 1), b.ph(n + 2), b.ph(n + 3), b.ph(n + 4));
                    n += 4;
                    v
                })
                .collect();
            let sql = format!(
                "INSERT INTO {} ({}, attribute, op, value) VALUES {}",
                table.name(),
                table.key_column(),
                values.join(", ")
            );
            let mut q = sqlx::query(&sql);
            for row in chunk {
                for v in row {
                    q = q.bind(v.clone());
                }
            }
            q.execute(&mut *conn).await?;
        }
    }
    for chunk in ug_inserts.chunks(INSERT_CHUNK) {
        let mut n = 0;
        let values: Vec<String> = chunk
            .iter()
            .map(|_| {
                let v = format!("({}, {}, {})", b.ph(n + 1), b.ph(n + 2), b.ph(n + 3));
                n += 3;
                v
            })
            .collect();
        let sql = format!("INSERT INTO radusergroup (username, groupname, priority) VALUES {}", values.join(", "));
        let mut q = sqlx::query(&sql);
        for (u, g, p) in chunk {
            q = q.bind(u.clone()).bind(g.clone()).bind(*p);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Sync one tenant: read, plan, apply in one transaction. Validation errors write nothing.
pub async fn sync_tenant(db: &RadiusDb, desired: &DesiredState) -> Result<SyncReport, SyncError> {
    validate(desired)?;
    let b = db.backend();
    let mut tx = db.pool().begin().await?;
    let observed = read_observed(&mut tx, b).await?;
    let changes = plan_changes(desired, &observed)?;
    let report = SyncReport::from_changes(&changes);
    if changes.is_empty() {
        tx.rollback().await?;
        return Ok(report);
    }
    apply_changes(&mut tx, b, &changes).await?;
    tx.commit().await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn plan(name: &str, rate: &str) -> PlanSpec {
        PlanSpec {
            name: name.into(),
            rate_limit: rate.into(),
            session_timeout: None,
            address_list: None,
            idle_timeout: None,
        }
    }
    fn sub(u: &str, plan: &str, status: SubscriberStatus) -> SubscriberSpec {
        SubscriberSpec {
            username: u.into(),
            password: Secret::new(format!("{u}-pw")),
            plan: plan.into(),
            status,
            static_ip: None,
            expires: None,
            devices: vec![],
            data_left: None,
        }
    }
    fn desired() -> DesiredState {
        DesiredState {
            plans: vec![plan("home10", "2M/10M"), plan("biz50", "10M/50M")],
            subscribers: vec![
                sub("alice", "home10", SubscriberStatus::Active),
                sub("bob", "biz50", SubscriberStatus::Suspended),
                sub("carol", "home10", SubscriberStatus::Expired),
            ],
            policy: TenantPolicy::default(),
        }
    }

    fn managed_view(o: &Observed) -> Observed {
        // what a fresh plan considers: strip ids for comparison
        let strip = |v: &[AvpRow]| {
            let mut v: Vec<AvpRow> = v.iter().map(|r| AvpRow { id: 0, ..r.clone() }).collect();
            v.sort_by(|a, b| (&a.name, &a.attribute).cmp(&(&b.name, &b.attribute)));
            v
        };
        let mut ug: Vec<UserGroupRow> = o.radusergroup.iter().map(|r| UserGroupRow { id: 0, ..r.clone() }).collect();
        ug.sort_by(|a, b| (&a.username, &a.groupname).cmp(&(&b.username, &b.groupname)));
        Observed {
            radcheck: strip(&o.radcheck),
            radreply: strip(&o.radreply),
            radgroupreply: strip(&o.radgroupreply),
            radusergroup: ug,
        }
    }

    #[test]
    fn sync_from_empty_writes_expected_rows() {
        let changes = plan_changes(&desired(), &Observed::default()).unwrap();
        let o = apply_in_memory(&Observed::default(), &changes);
        let v = managed_view(&o);
        // alice active, bob suspended (reject), carol expired (reject)
        let auth_types: Vec<_> =
            v.radcheck.iter().filter(|r| r.attribute == "Auth-Type").map(|r| r.name.as_str()).collect();
        assert_eq!(auth_types, ["bob", "carol"]);
        assert!(
            v.radusergroup.iter().any(|g| g.username == "alice" && g.groupname == "kn_plan_home10" && g.priority == 1)
        );
        assert!(v.radgroupreply.iter().any(|r| r.name == "kn_plan_biz50"
            && r.attribute == "Mikrotik-Rate-Limit"
            && r.value == "10M/50M"
            && r.op == ":="));
        assert!(!v.radgroupreply.iter().any(|r| r.name == WALLED_GARDEN_GROUP));
        assert!(plan_changes(&desired(), &o).unwrap().is_empty(), "second run must be a no-op");
    }

    #[test]
    fn walled_garden_policy_moves_suspended_user_to_walled_group() {
        let mut d = desired();
        d.policy.suspended = InactivePolicy::WalledGarden;
        let o = apply_in_memory(&Observed::default(), &plan_changes(&d, &Observed::default()).unwrap());
        assert!(o.radusergroup.iter().any(|g| g.username == "bob" && g.groupname == WALLED_GARDEN_GROUP));
        assert!(!o.radcheck.iter().any(|r| r.name == "bob" && r.attribute == "Auth-Type"));
        assert!(o.radgroupreply.iter().any(|r| r.name == WALLED_GARDEN_GROUP
            && r.attribute == "Mikrotik-Address-List"
            && r.value == SUSPENDED_ADDRESS_LIST));
    }

    #[test]
    fn plan_change_updates_one_row() {
        let d = desired();
        let o = apply_in_memory(&Observed::default(), &plan_changes(&d, &Observed::default()).unwrap());
        let mut d2 = d.clone();
        d2.plans[0].rate_limit = "4M/20M".into();
        let changes = plan_changes(&d2, &o).unwrap();
        assert_eq!(changes.len(), 1);
        assert!(
            matches!(&changes[0], Change::UpdateAvp { table: Table::RadGroupReply, value, .. } if value == "4M/20M")
        );
    }

    #[test]
    fn unmanaged_rows_are_left_alone() {
        let o = Observed {
            radcheck: vec![
                AvpRow {
                    id: 1,
                    name: "operator".into(),
                    attribute: "Cleartext-Password".into(),
                    op: ":=".into(),
                    value: "x".into(),
                },
                AvpRow {
                    id: 2,
                    name: "alice".into(),
                    attribute: "Simultaneous-Use".into(),
                    op: ":=".into(),
                    value: "1".into(),
                },
            ],
            radgroupreply: vec![AvpRow {
                id: 3,
                name: "staff".into(),
                attribute: "Mikrotik-Rate-Limit".into(),
                op: ":=".into(),
                value: "1G".into(),
            }],
            radusergroup: vec![UserGroupRow {
                id: 4,
                username: "operator".into(),
                groupname: "staff".into(),
                priority: 0,
            }],
            ..Default::default()
        };
        let changes = plan_changes(&desired(), &o).unwrap();
        assert!(
            !changes.iter().any(|c| matches!(
                c,
                Change::Delete { .. } | Change::UpdateAvp { .. } | Change::UpdateUserGroup { .. }
            ))
        );
    }

    #[test]
    fn removed_subscriber_rows_are_deleted_but_manual_extras_survive() {
        let d = desired();
        let mut o = apply_in_memory(&Observed::default(), &plan_changes(&d, &Observed::default()).unwrap());
        o.radcheck.push(AvpRow {
            id: 999,
            name: "alice".into(),
            attribute: "Simultaneous-Use".into(),
            op: ":=".into(),
            value: "1".into(),
        });
        let mut d2 = d.clone();
        d2.subscribers.retain(|s| s.username != "alice");
        let o2 = apply_in_memory(&o, &plan_changes(&d2, &o).unwrap());
        assert!(!o2.radcheck.iter().any(|r| r.name == "alice" && r.attribute == "Cleartext-Password"));
        assert!(!o2.radusergroup.iter().any(|r| r.username == "alice"));
        assert!(o2.radcheck.iter().any(|r| r.id == 999));
    }

    #[test]
    fn invalid_input_is_refused() {
        let mut d = desired();
        d.subscribers[0].plan = "nope".into();
        assert!(matches!(plan_changes(&d, &Observed::default()), Err(SyncError::Invalid(_))));
        let mut d = desired();
        d.subscribers[0].username = "alice@acme".into();
        assert!(matches!(plan_changes(&d, &Observed::default()), Err(SyncError::Invalid(_))));
        let mut d = desired();
        d.plans[0].name = "home 10".into();
        assert!(matches!(plan_changes(&d, &Observed::default()), Err(SyncError::Invalid(_))));
    }

    const MAC_A: &str = "02:1A:22:33:44:5F";
    const MAC_B: &str = "00:11:22:33:44:55";

    /// A redeemed hotspot code: an end, one bound device, 5 GiB + 1 byte left.
    fn code(u: &str) -> SubscriberSpec {
        SubscriberSpec {
            username: u.into(),
            password: Secret::new(u),
            plan: "home10".into(),
            status: SubscriberStatus::Active,
            static_ip: None,
            expires: Some(1_800_000_000),
            devices: vec![MAC_A.into()],
            data_left: Some(5 * (1 << 30) + 1),
        }
    }

    fn value_of<'a>(rows: &'a [AvpRow], name: &str, attr: &str) -> Option<(&'a str, &'a str)> {
        rows.iter().find(|r| r.name == name && r.attribute == attr).map(|r| (r.op.as_str(), r.value.as_str()))
    }

    #[test]
    fn redeemed_code_rows_bind_its_devices_and_cap_its_data() {
        let mut d = desired();
        d.subscribers.push(code("ABCDEFGHJKLM"));
        let o = apply_in_memory(&Observed::default(), &plan_changes(&d, &Observed::default()).unwrap());
        assert_eq!(
            value_of(&o.radcheck, "ABCDEFGHJKLM", "Calling-Station-Id"),
            Some(("=~", "^(02.1[Aa].22.33.44.5[Ff])$"))
        );
        assert_eq!(value_of(&o.radcheck, "ABCDEFGHJKLM", "Expiration"), Some((":=", "1800000000")));
        // 5 GiB + 1 = 5 * 2^32 / 4 + 1: the low 32 bits and the gigawords.
        assert_eq!(value_of(&o.radreply, "ABCDEFGHJKLM", "Mikrotik-Total-Limit"), Some((":=", "1073741825")));
        assert_eq!(value_of(&o.radreply, "ABCDEFGHJKLM", "Mikrotik-Total-Limit-Gigawords"), Some((":=", "1")));
        // Subscribers get neither.
        assert!(value_of(&o.radcheck, "alice", "Calling-Station-Id").is_none());
        assert!(value_of(&o.radreply, "alice", "Mikrotik-Total-Limit").is_none());
        assert!(plan_changes(&d, &o).unwrap().is_empty(), "second run must be a no-op");
    }

    #[test]
    fn hotspot_plan_idle_timeout_is_a_group_reply_row_kept_changed_and_dropped() {
        let mut d = desired();
        d.plans[0].idle_timeout = Some(300);
        let o = apply_in_memory(&Observed::default(), &plan_changes(&d, &Observed::default()).unwrap());
        assert_eq!(value_of(&o.radgroupreply, "kn_plan_home10", "Idle-Timeout"), Some((":=", "300")));
        assert!(value_of(&o.radgroupreply, "kn_plan_biz50", "Idle-Timeout").is_none());
        assert!(plan_changes(&d, &o).unwrap().is_empty(), "second run must be a no-op");
        d.plans[0].idle_timeout = Some(600);
        let o = apply_in_memory(&o, &plan_changes(&d, &o).unwrap());
        assert_eq!(value_of(&o.radgroupreply, "kn_plan_home10", "Idle-Timeout"), Some((":=", "600")));
        d.plans[0].idle_timeout = None;
        let o = apply_in_memory(&o, &plan_changes(&d, &o).unwrap());
        assert!(value_of(&o.radgroupreply, "kn_plan_home10", "Idle-Timeout").is_none());
    }

    #[test]
    fn redeemed_code_moved_device_and_used_data_update_its_rows_and_leaving_removes_them() {
        let mut d = desired();
        d.subscribers.push(code("ABCDEFGHJKLM"));
        let o = apply_in_memory(&Observed::default(), &plan_changes(&d, &Observed::default()).unwrap());
        // The edge moved the binding to B and added a second device; accounting used some data.
        d.subscribers[3].devices = vec![MAC_B.into(), MAC_A.into()];
        d.subscribers[3].data_left = Some(1_000);
        let changes = plan_changes(&d, &o).unwrap();
        assert_eq!(changes.len(), 3, "{changes:?}");
        let o = apply_in_memory(&o, &changes);
        assert_eq!(
            value_of(&o.radcheck, "ABCDEFGHJKLM", "Calling-Station-Id"),
            Some(("=~", "^(00.11.22.33.44.55|02.1[Aa].22.33.44.5[Ff])$"))
        );
        assert_eq!(value_of(&o.radreply, "ABCDEFGHJKLM", "Mikrotik-Total-Limit"), Some((":=", "1000")));
        assert_eq!(value_of(&o.radreply, "ABCDEFGHJKLM", "Mikrotik-Total-Limit-Gigawords"), Some((":=", "0")));
        // No device bound and no cap: the rows go.
        d.subscribers[3].devices.clear();
        d.subscribers[3].data_left = None;
        let o = apply_in_memory(&o, &plan_changes(&d, &o).unwrap());
        assert!(value_of(&o.radcheck, "ABCDEFGHJKLM", "Calling-Station-Id").is_none());
        assert!(!o.radreply.iter().any(|r| r.name == "ABCDEFGHJKLM"));
        // The code expires out of the state: every row of it goes.
        d.subscribers[3].devices = vec![MAC_A.into()];
        d.subscribers[3].data_left = Some(7);
        let o = apply_in_memory(&o, &plan_changes(&d, &o).unwrap());
        d.subscribers.pop();
        let o = apply_in_memory(&o, &plan_changes(&d, &o).unwrap());
        assert!(!o.radcheck.iter().any(|r| r.name == "ABCDEFGHJKLM"), "{:?}", o.radcheck);
        assert!(!o.radreply.iter().any(|r| r.name == "ABCDEFGHJKLM"), "{:?}", o.radreply);
    }

    #[test]
    fn operator_mac_lock_and_data_limit_of_a_subscriber_survive() {
        let d = desired();
        let mut o = apply_in_memory(&Observed::default(), &plan_changes(&d, &Observed::default()).unwrap());
        let row = |id, attribute: &str, op: &str, value: &str| AvpRow {
            id,
            name: "alice".into(),
            attribute: attribute.into(),
            op: op.into(),
            value: value.into(),
        };
        o.radcheck.push(row(900, "Calling-Station-Id", "==", MAC_B));
        o.radreply.push(row(901, "Mikrotik-Total-Limit", ":=", "1000000"));
        assert!(plan_changes(&d, &o).unwrap().is_empty());
    }

    #[test]
    fn calling_station_pattern_takes_macs_in_any_form_and_refuses_the_rest() {
        assert_eq!(
            calling_station_pattern(&["02-1a-22-33-44-5f".into()]).as_deref(),
            Some("^(02.1[Aa].22.33.44.5[Ff])$")
        );
        assert_eq!(calling_station_pattern(&["021A.2233.445F".into()]), calling_station_pattern(&[MAC_A.into()]));
        assert_eq!(calling_station_pattern(&[]), None);
        assert_eq!(calling_station_pattern(&["02:1A:22:33:44".into()]), None);
        assert_eq!(calling_station_pattern(&["02:1A:22:33:44:5G".into()]), None);
        // Four devices of the longest form fit a radcheck value; five do not.
        let worst = |n: usize| vec!["AA:BB:CC:DD:EE:FF".to_string(); n];
        assert!(calling_station_pattern(&worst(4)).is_some_and(|p| p.len() <= MAX_VALUE_LEN));
        assert_eq!(calling_station_pattern(&worst(5)), None);
    }

    #[test]
    fn code_terms_that_cannot_be_written_are_refused() {
        let mut d = desired();
        d.subscribers.push(SubscriberSpec { data_left: Some(0), ..code("ABCDEFGHJKLM") });
        assert!(matches!(plan_changes(&d, &Observed::default()), Err(SyncError::Invalid(_))));
        let mut d = desired();
        d.subscribers.push(SubscriberSpec { expires: None, ..code("ABCDEFGHJKLM") });
        assert!(matches!(plan_changes(&d, &Observed::default()), Err(SyncError::Invalid(_))));
        let mut d = desired();
        d.subscribers.push(SubscriberSpec { devices: vec!["not a mac".into()], ..code("ABCDEFGHJKLM") });
        assert!(matches!(plan_changes(&d, &Observed::default()), Err(SyncError::Invalid(_))));
    }

    /// A redeemed code's terms: its end, bound devices, bytes left.
    fn arb_code_terms() -> impl Strategy<Value = (i64, Vec<String>, Option<u64>)> {
        (
            1_800_000_000i64..1_800_000_100,
            proptest::collection::vec("0[02]:1[1a]:22:33:44:5[5f]", 0..3),
            proptest::option::of(1u64..20_000_000_000),
        )
    }

    fn arb_desired() -> impl Strategy<Value = DesiredState> {
        let plans = proptest::collection::btree_map("[a-c]", "[1-9]M/[1-9]M", 1..3);
        (
            plans,
            proptest::collection::btree_map(
                "[a-f]{1,2}",
                (0usize..3, 0u8..3, proptest::option::of(1u8..4), "[xy]{1,3}", proptest::option::of(arb_code_terms())),
                0..6,
            ),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(plans, subs, sw, ew)| {
                let plan_names: Vec<String> = plans.keys().cloned().collect();
                DesiredState {
                    plans: plans
                        .into_iter()
                        .map(|(n, r)| PlanSpec {
                            name: n,
                            rate_limit: r,
                            session_timeout: None,
                            address_list: None,
                            idle_timeout: None,
                        })
                        .collect(),
                    subscribers: subs
                        .into_iter()
                        .map(|(u, (p, st, ip, pw, code))| SubscriberSpec {
                            username: u,
                            password: Secret::new(pw),
                            plan: plan_names[p % plan_names.len()].clone(),
                            status: [SubscriberStatus::Active, SubscriberStatus::Suspended, SubscriberStatus::Expired]
                                [st as usize],
                            static_ip: ip.map(|i| Ipv4Addr::new(10, 0, 0, i)),
                            expires: code.as_ref().map(|c| c.0),
                            devices: code.as_ref().map(|c| c.1.clone()).unwrap_or_default(),
                            data_left: code.and_then(|c| c.2),
                        })
                        .collect(),
                    policy: TenantPolicy {
                        suspended: if sw { InactivePolicy::WalledGarden } else { InactivePolicy::Reject },
                        expired: if ew { InactivePolicy::WalledGarden } else { InactivePolicy::Reject },
                        ..TenantPolicy::default()
                    },
                }
            })
    }

    proptest! {
        /// Applying the plan to any earlier state yields exactly what a sync from empty yields
        /// (for managed rows), and a second plan is empty.
        #[test]
        fn applying_plan_converges_to_desired(a in arb_desired(), b in arb_desired()) {
            let empty = Observed::default();
            let from_a = apply_in_memory(&empty, &plan_changes(&a, &empty).unwrap());
            let to_b = apply_in_memory(&from_a, &plan_changes(&b, &from_a).unwrap());
            let fresh_b = apply_in_memory(&empty, &plan_changes(&b, &empty).unwrap());
            prop_assert_eq!(managed_view(&to_b), managed_view(&fresh_b));
            prop_assert!(plan_changes(&b, &to_b).unwrap().is_empty());
        }
    }
}

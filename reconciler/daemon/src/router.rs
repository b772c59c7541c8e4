//! Router I/O: connect, read the managed menus, apply changes pipelined.
//!
//! Reads are one `print` per menu, all in flight at once; writes run phase by phase
//! ([`Change::phase`]), every change of a phase in flight at once (bounded by the
//! connection window), so N changes cost about N / window round trips.

use std::collections::BTreeSet;

use futures::StreamExt;
use routeros_client::{Client, Command, Config as ClientConfig, Error, ErrorKind, Row, TlsConfig};

use crate::config::RouterConfig;
use crate::model::{DesiredRouter, Menu, is_neutral, secret_comment, suspended_comment};
use crate::plan::{Change, ChangeKey, Conflict, Observed, ObservedItem, Session};

/// Which part of a router a pass looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every managed menu.
    Full,
    /// Only the objects of these subscribers (the change-feed fast path).
    Subscribers(BTreeSet<String>),
}

/// Opens an API connection (TCP or pinned TLS), spawning its driver.
pub async fn connect(cfg: &RouterConfig, client_cfg: &ClientConfig) -> Result<Client, Error> {
    let addr = (cfg.address.as_str(), cfg.port);
    match &cfg.tls {
        None => {
            let (client, conn) = routeros_client::connect_tcp(addr, client_cfg).await?;
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::debug!("router connection ended: {e}");
                }
            });
            Ok(client)
        }
        Some(t) => {
            let tls = TlsConfig::pinned_sha256_hex(&t.server_name, &t.fingerprint_sha256)?;
            let (client, conn) = routeros_client::connect_tls(addr, &tls, client_cfg).await?;
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::debug!("router connection ended: {e}");
                }
            });
            Ok(client)
        }
    }
}

/// The properties worth reading in `menu`: those the desired objects set, plus what
/// identifies managed items (less to transfer and keep than whole rows).
fn proplist(desired: &DesiredRouter, menu: Menu) -> BTreeSet<String> {
    let mut props = desired.props(menu);
    props.extend([".id", "comment", "dynamic"].map(str::to_owned));
    props
}

/// An observed item, keeping only what differs from a fresh item's values: a neutral
/// value ([`model::neutral_props`](crate::model::neutral_props)) is what the planner
/// assumes for an absent property, so dropping it loses nothing and keeps a pass's
/// observed state as small as the properties that were really set.
fn item(menu: Menu, row: Row) -> Option<ObservedItem> {
    let mut id = None;
    let mut attrs = std::collections::BTreeMap::new();
    for (k, v) in row {
        if k == ".id" {
            id = Some(v);
        } else if !is_neutral(menu, &k, &v) {
            attrs.insert(k, v);
        }
    }
    Some(ObservedItem { menu, id: id?, attrs })
}

fn session(row: &Row) -> Option<Session> {
    Some(Session { id: row.id()?.to_owned(), name: row.get("name")?.to_owned() })
}

/// Reads what `scope` covers, every print in flight at once.
pub async fn read_observed(client: &Client, desired: &DesiredRouter, scope: &Scope) -> Result<Observed, Error> {
    let mut prints: Vec<(Option<Menu>, Command)> = Vec::new();
    match scope {
        Scope::Full => {
            for menu in &desired.menus {
                prints.push((Some(*menu), Command::on(menu.path(), "print").proplist(proplist(desired, *menu))));
            }
            prints.push((None, Command::on("/ppp/active", "print").proplist([".id", "name"])));
        }
        Scope::Subscribers(ids) => {
            for id in ids {
                // The subscriber's secret, and any secret holding its name (an operator's
                // own: a conflict, and a session that is not ours to kick).
                let mut secret = Command::on("/ppp/secret", "print").query_eq("comment", &secret_comment(id));
                if let Some(name) = desired.secret_name_of(id) {
                    secret = secret.query_eq("name", &name).query_ops("|");
                }
                prints.push((Some(Menu::PppSecret), secret));
                prints.push((
                    Some(Menu::AddressList),
                    Command::on("/ip/firewall/address-list", "print").query_eq("comment", &suspended_comment(id)),
                ));
                if let Some(name) = desired.secret_name_of(id) {
                    prints.push((
                        None,
                        Command::on("/ppp/active", "print").proplist([".id", "name"]).query_eq("name", &name),
                    ));
                }
            }
        }
    }
    // Each answer is turned into items as soon as it arrives: raw rows never pile up.
    let results = futures::future::join_all(prints.into_iter().map(|(menu, cmd)| {
        let client = client.clone();
        async move {
            let rows = client.call(cmd).await?.rows;
            Ok::<_, Error>(match menu {
                Some(menu) => (rows.into_iter().filter_map(|r| item(menu, r)).collect(), Vec::new()),
                None => (Vec::new(), rows.iter().filter_map(session).collect()),
            })
        }
    }))
    .await;
    let mut observed = Observed::default();
    for result in results {
        let (items, sessions) = result?;
        observed.items.extend(items);
        observed.sessions.extend(sessions);
    }
    Ok(observed)
}

/// What applying a plan did.
#[derive(Debug, Default)]
pub struct Applied {
    /// Changes the router acknowledged (only their keys: a change is dropped once answered).
    pub acked: Vec<ChangeKey>,
    /// Changes the router refused (`!trap`), with the message.
    pub trapped: Vec<(Change, String)>,
    /// Adds and renames the router refused because another item holds the name (an
    /// operator's object the read did not show, e.g. on a fast pass).
    pub conflicts: Vec<Conflict>,
    /// Changes not sent or not answered because the connection failed.
    pub unsent: usize,
    /// The connection failure, if any.
    pub lost: Option<Error>,
}

async fn execute(client: &Client, change: &Change) -> Result<(), Error> {
    fn pairs(a: &crate::model::Attrs) -> Vec<(&str, &str)> {
        a.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }
    match change {
        Change::Add { menu, attrs, .. } => client.add(menu.path(), &pairs(attrs)).await.map(drop),
        Change::Set { menu, id, attrs, .. } => {
            // A value is written with `set`; an empty one (the property should not be
            // set at all) with `unset`, which RouterOS wants where an empty value is not
            // a valid value (`remote-address=`, `src-port=`).
            let (clear, values): (Vec<_>, Vec<_>) = pairs(attrs).into_iter().partition(|(_, v)| v.is_empty());
            if !values.is_empty() {
                client.set(menu.path(), id, &values).await?;
            }
            for (k, _) in clear {
                let cmd = Command::on(menu.path(), "unset").attr("numbers", id.as_str()).attr("value-name", k);
                client.call(cmd).await?;
            }
            Ok(())
        }
        Change::Remove { menu, id, .. } => client.remove(menu.path(), id).await,
        Change::Move { menu, id, destination, .. } => {
            let cmd =
                Command::on(menu.path(), "move").attr("numbers", id.as_str()).attr("destination", destination.as_str());
            client.call(cmd).await.map(drop)
        }
        Change::Kick { id, .. } => {
            match client.remove("/ppp/active", id).await {
                // The session ended on its own meanwhile: that is what we wanted.
                Err(e) if e.kind() == ErrorKind::Device => {
                    if e.trap().is_some_and(|t| t.message.contains("no such item")) { Ok(()) } else { Err(e) }
                }
                other => other,
            }
        }
    }
}

/// The conflict a trap reports, when an `add` or a rename was refused because the name
/// (or list and address) is taken: `failure: secret with the same name already exists`,
/// `failure: already have such entry`, `failure: already have such name`.
fn name_taken(change: &Change, e: &Error) -> Option<Conflict> {
    let message = &e.trap()?.message;
    let taken = message.contains("same name already exists") || message.contains("already have such");
    let (menu, comment, attrs) = match change {
        Change::Add { menu, comment, attrs } => (*menu, comment, attrs),
        Change::Set { menu, comment, attrs, .. } if attrs.contains_key("name") => (*menu, comment, attrs),
        _ => return None,
    };
    let name = match menu {
        Menu::AddressList => format!("{} {}", attrs.get("list")?, attrs.get("address")?),
        _ => attrs.get("name")?.clone(),
    };
    taken.then(|| Conflict { menu, name, comment: comment.clone(), id: String::new() })
}

/// Applies `changes` phase by phase, each phase pipelined (`window` in flight).
/// Stops at the first phase in which the connection failed. A change is dropped as soon
/// as it is answered, so the plan shrinks while it is applied.
pub async fn apply(client: &Client, changes: Vec<Change>, window: usize) -> Applied {
    let mut out = Applied::default();
    let mut phases: std::collections::BTreeMap<u8, Vec<Change>> = std::collections::BTreeMap::new();
    for c in changes {
        phases.entry(c.phase()).or_default().push(c);
    }
    for (_, batch) in phases {
        if out.lost.is_some() {
            out.unsent += batch.len();
            continue;
        }
        let mut results = futures::stream::iter(batch)
            .map(|c| async move {
                let r = execute(client, &c).await;
                (c, r)
            })
            .buffer_unordered(window.max(1));
        while let Some((c, r)) = results.next().await {
            match r {
                Ok(()) => out.acked.push(c.key()),
                Err(e) if e.kind() == ErrorKind::Device => match name_taken(&c, &e) {
                    Some(conflict) => out.conflicts.push(conflict),
                    None => out.trapped.push((c, e.to_string())),
                },
                Err(e) => {
                    out.unsent += 1;
                    if out.lost.is_none() {
                        out.lost = Some(e);
                    }
                }
            }
        }
    }
    out
}

//! `konnekted-reconciler router show NAME [--menu /ppp/secret]`: what the reconciler
//! manages on one router, the values it wants, and the drift, without changing
//! anything. Works against a real router or the simulator: one desired-state fetch from
//! the edge, one read of the router (the same prints as a pass), and the pure planner.
//! Secrets (`password`, `secret`) are never printed.

use std::fmt::Write as _;
use std::time::Duration;

use routeros_client::Config as ClientConfig;

use crate::config::{RouterConfig, TenantConfig};
use crate::edge::{EdgeClient, EdgeError};
use crate::model::{DesiredRouter, Menu, build_desired, observed_value};
use crate::plan::{Change, Observed, plan, values_equal};
use crate::router::{self, Scope};

/// Why `router show` could not show a router.
#[derive(Debug, thiserror::Error)]
pub enum ShowError {
    /// The edge could not give the desired state.
    #[error("desired state from the edge: {0}")]
    Edge(#[from] EdgeError),
    /// The router could not be reached or read.
    #[error("router: {0}")]
    Router(#[from] routeros_client::Error),
    /// `--menu` names no managed menu.
    #[error("unknown menu {0:?} (one of: {1})")]
    UnknownMenu(String, String),
}

/// Properties never printed.
const SECRET_PROPS: &[&str] = &["password", "secret"];

fn shown(prop: &str, value: &str) -> String {
    if SECRET_PROPS.contains(&prop) && !value.is_empty() { "<redacted>".to_owned() } else { value.to_owned() }
}

/// The menu of an API path (`/ppp/secret`).
pub fn menu_of(path: &str) -> Result<Menu, ShowError> {
    let path = path.trim_end_matches('/');
    Menu::ALL
        .into_iter()
        .find(|m| m.path() == path)
        .ok_or_else(|| ShowError::UnknownMenu(path.to_owned(), Menu::ALL.map(Menu::path).join(", ")))
}

/// Fetches the desired state, reads the router, and renders [`render`].
pub async fn show(tenant: &TenantConfig, router: &RouterConfig, menu: Option<Menu>) -> Result<String, ShowError> {
    let edge = EdgeClient::new(&tenant.edge_url, &tenant.realm, tenant.sync_key.clone(), Duration::from_secs(10))?;
    let desired = build_desired(edge.desired().await?, tenant, router);
    let cfg = ClientConfig::new(&router.username, router.password.expose())
        .window(router.window)
        .connect_timeout(Duration::from_secs(10))
        .command_timeout(Duration::from_secs(30));
    let client = router::connect(router, &cfg).await?;
    let observed = router::read_observed(&client, &desired, &Scope::Full).await?;
    Ok(render(&router.name, &desired, &observed, menu))
}

/// Every managed object of the router (of `menu` only, with one): its desired values,
/// what the router has, and what a pass would change. Pure.
pub fn render(router: &str, desired: &DesiredRouter, observed: &Observed, menu: Option<Menu>) -> String {
    let p = plan(desired, observed);
    let wanted = |m: Menu| menu.is_none_or(|x| x == m);
    let mut out = String::new();
    let mut objects = 0;
    let mut drifting = 0;
    let _ = writeln!(out, "router {router}");
    let mut lines = String::new();
    desired.visit(|m, comment, want| {
        if !wanted(m) {
            return;
        }
        objects += 1;
        let have = observed.items.iter().find(|i| i.menu == m && i.is_managed() && i.comment() == Some(comment));
        let state = match have {
            None if p.conflicts.iter().any(|c| c.menu == m && c.comment == comment) => {
                "CONFLICT: an operator's object holds its name; not added".to_owned()
            }
            None => "MISSING: a pass adds it".to_owned(),
            Some(item) => {
                let drift: Vec<String> = want
                    .iter()
                    .filter(|(k, v)| !values_equal(k, observed_value(m, &item.attrs, k), v))
                    .map(|(k, v)| {
                        let now = observed_value(m, &item.attrs, k).unwrap_or("");
                        format!("{k}={:?} (wants {:?})", shown(k, now), shown(k, v))
                    })
                    .collect();
                if drift.is_empty() {
                    format!("ok {}", item.id)
                } else {
                    format!("DRIFT {}: {}", item.id, drift.join(", "))
                }
            }
        };
        if !state.starts_with("ok") {
            drifting += 1;
        }
        let _ = writeln!(lines, "{} {comment}  {state}", m.path());
        let set: Vec<String> =
            want.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| format!("{k}={}", shown(k, v))).collect();
        let _ = writeln!(lines, "    {}", set.join(" "));
    });
    let extra: Vec<&Change> = p
        .changes
        .iter()
        .filter(|c| {
            matches!(c, Change::Remove { menu: m, .. } if wanted(*m))
                || (menu.is_none() && matches!(c, Change::Kick { .. }))
        })
        .collect();
    let _ = writeln!(
        out,
        "{objects} managed objects{}, {drifting} not as desired, {} to remove or kick; a pass would make {} changes",
        menu.map(|m| format!(" in {}", m.path())).unwrap_or_default(),
        extra.len(),
        p.changes
            .iter()
            .filter(|c| match c {
                Change::Kick { .. } => menu.is_none(),
                Change::Add { menu: m, .. }
                | Change::Set { menu: m, .. }
                | Change::Remove { menu: m, .. }
                | Change::Move { menu: m, .. } => wanted(*m),
            })
            .count(),
    );
    out.push_str(&lines);
    for c in extra {
        match c {
            Change::Remove { menu, id, comment } => {
                let _ = writeln!(out, "{} {comment}  NOT DESIRED {id}: a pass removes it", menu.path());
            }
            Change::Kick { id, name } => {
                let _ = writeln!(
                    out,
                    "/ppp/active {name}  SESSION {id} of a subscriber who should be offline: a pass removes it"
                );
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::{bench_router, bench_tenant, synthetic_state};
    use crate::plan::apply_to_observed;

    #[test]
    fn show_reports_drift_missing_and_never_secrets() {
        let r = bench_router("r1", "acme", ([127, 0, 0, 1], 1).into(), 8);
        let d = build_desired(synthetic_state("acme", 3), &bench_tenant("acme"), &r);
        let mut obs = apply_to_observed(&Observed::default(), &plan(&d, &Observed::default()).changes);
        let s0 = obs.items.iter_mut().find(|i| i.comment() == Some("konnekted:sub:s000000")).expect("s0");
        s0.attrs.insert("disabled".into(), "true".into());
        s0.attrs.insert("password".into(), "changed".into());
        obs.items.retain(|i| i.comment() != Some("konnekted:sub:s000001"));
        let text = render("r1", &d, &obs, Some(menu_of("/ppp/secret").expect("menu")));
        assert!(text.contains("3 managed objects in /ppp/secret, 2 not as desired"), "{text}");
        assert!(text.contains("konnekted:sub:s000000  DRIFT"), "{text}");
        assert!(text.contains("disabled=\"true\" (wants \"false\")"), "{text}");
        assert!(text.contains("konnekted:sub:s000001  MISSING"), "{text}");
        assert!(!text.contains("changed") && !text.contains("pw0"), "{text}");
        assert!(!text.contains("/queue/tree"), "only the menu asked for: {text}");
        assert!(matches!(menu_of("/nope"), Err(ShowError::UnknownMenu(..))));
    }
}

//! Prometheus text exposition of the daemon's counters and gauges, kept by hand
//! (a few series, no registry crate needed).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

/// Metric families: (name, type, help).
const FAMILIES: &[(&str, &str, &str)] = &[
    (
        "konnekted_reconciler_passes_total",
        "counter",
        "Passes run, by router, kind (full|fast) and outcome (ok|refused|error).",
    ),
    ("konnekted_reconciler_changes_applied_total", "counter", "Changes acknowledged by routers."),
    (
        "konnekted_reconciler_drift_found_total",
        "counter",
        "Changes plans contained (drift between desired and observed).",
    ),
    ("konnekted_reconciler_drift", "gauge", "Changes the last pass of a router found."),
    ("konnekted_reconciler_errors_total", "counter", "Errors by router and label."),
    (
        "konnekted_reconciler_last_success_timestamp_seconds",
        "gauge",
        "Unix time of the last successful pass of a router.",
    ),
    ("konnekted_reconciler_pass_duration_seconds", "gauge", "Duration of the last pass of a router."),
    (
        "konnekted_reconciler_apply_waits_total",
        "counter",
        "Full passes of a router whose heavy plan waited for an apply permit.",
    ),
    (
        "konnekted_reconciler_conflicts",
        "gauge",
        "Objects of a router not added because an operator's object holds their name.",
    ),
    ("konnekted_reconciler_conflicts_found_total", "counter", "Name conflicts found, each counted once."),
    ("konnekted_reconciler_edge_errors_total", "counter", "Failed sync API requests, by tenant and label."),
    ("konnekted_reconciler_feed_changes_total", "counter", "Change-feed rows received, by tenant."),
    (
        "konnekted_reconciler_redirects_total",
        "counter",
        "Suspended subscribers' HTTP requests answered by the redirector, by tenant and outcome (account|no_session|ambiguous|not_suspended|...).",
    ),
];

/// The daemon's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    series: Mutex<BTreeMap<(&'static str, String), f64>>,
}

fn labels(pairs: &[(&str, &str)]) -> String {
    let mut s = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let v = v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
        let _ = write!(s, "{k}=\"{v}\"");
    }
    s
}

impl Metrics {
    fn with<R>(&self, f: impl FnOnce(&mut BTreeMap<(&'static str, String), f64>) -> R) -> R {
        let mut g = self.series.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g)
    }

    /// Adds `by` to a counter.
    pub fn inc(&self, name: &'static str, pairs: &[(&str, &str)], by: f64) {
        self.with(|m| *m.entry((name, labels(pairs))).or_insert(0.0) += by);
    }

    /// Sets a gauge.
    pub fn set(&self, name: &'static str, pairs: &[(&str, &str)], v: f64) {
        self.with(|m| m.insert((name, labels(pairs)), v));
    }

    /// Reads one series (tests).
    pub fn get(&self, name: &'static str, pairs: &[(&str, &str)]) -> Option<f64> {
        self.with(|m| m.get(&(name, labels(pairs))).copied())
    }

    /// `(router, value)` of a gauge labelled by `router` alone (e.g. last success).
    pub fn by_router(&self, name: &'static str) -> Vec<(String, f64)> {
        self.with(|m| {
            m.iter()
                .filter(|((n, _), _)| *n == name)
                .filter_map(|((_, l), v)| {
                    let r = l.strip_prefix("router=\"")?.strip_suffix('"')?;
                    Some((r.replace("\\\"", "\"").replace("\\\\", "\\"), *v))
                })
                .collect()
        })
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let snapshot = self.with(|m| m.clone());
        let mut out = String::new();
        for (name, kind, help) in FAMILIES {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for ((n, l), v) in snapshot.iter().filter(|((n, _), _)| n == name) {
                if l.is_empty() {
                    let _ = writeln!(out, "{n} {v}");
                } else {
                    let _ = writeln!(out, "{n}{{{l}}} {v}");
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_render_escapes_labels_and_sums_counters() {
        let m = Metrics::default();
        m.inc("konnekted_reconciler_errors_total", &[("router", "a\"b"), ("label", "router_trap")], 1.0);
        m.inc("konnekted_reconciler_errors_total", &[("router", "a\"b"), ("label", "router_trap")], 2.0);
        let text = m.render();
        assert!(
            text.contains("konnekted_reconciler_errors_total{router=\"a\\\"b\",label=\"router_trap\"} 3"),
            "{text}"
        );
        assert!(text.contains("# TYPE konnekted_reconciler_passes_total counter"));
    }
}

//! Spin's HTTP routes: exact segments, single-segment `:name` parameters and a trailing `/...`
//! wildcard. When several routes match a path the most specific wins, compared segment by
//! segment from the left: an exact segment beats a `:param`, which beats the trailing wildcard;
//! a route that matches with more segments before its wildcard beats a shorter one ("longest
//! prefix wins", and "exact beats wildcard" from Spin's documentation; the tie-break between
//! a parameter and a longer literal prefix is the segment order above, which is how the
//! routefinder crate Spin uses ranks them).

use anyhow::bail;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Exact(String),
    Param(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    raw: String,
    segments: Vec<Segment>,
    wildcard: bool,
}

/// A successful match: the parameters by name and what the trailing wildcard took.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Match {
    pub params: Vec<(String, String)>,
    /// The path after the route's fixed part (`spin-path-info`): empty for an exact route.
    pub path_info: String,
}

impl Route {
    pub fn parse(raw: &str) -> anyhow::Result<Route> {
        if !raw.starts_with('/') {
            bail!("route {raw:?} must start with '/'");
        }
        let (body, wildcard) = if raw == "/..." {
            ("", true)
        } else if let Some(b) = raw.strip_suffix("/...") {
            (b, true)
        } else {
            (raw.trim_end_matches('/'), false)
        };
        let mut segments = Vec::new();
        for s in body.split('/').skip(1) {
            if s.is_empty() {
                bail!("route {raw:?} has an empty segment");
            }
            if s == "..." || s.contains('*') {
                bail!("route {raw:?}: a wildcard may only end a route as '/...'");
            }
            segments.push(match s.strip_prefix(':') {
                Some("") => bail!("route {raw:?} has a parameter without a name"),
                Some(name) => Segment::Param(name.to_string()),
                None => Segment::Exact(s.to_string()),
            });
        }
        Ok(Route { raw: raw.to_string(), segments, wildcard })
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The route's fixed prefix for `spin-component-route` (the route without `/...`).
    pub fn component_route(&self) -> &str {
        self.raw.strip_suffix("/...").unwrap_or(&self.raw)
    }

    pub fn matches(&self, path: &str) -> Option<Match> {
        let trimmed = path.trim_end_matches('/');
        let parts: Vec<&str> = if trimmed.is_empty() { Vec::new() } else { trimmed.split('/').skip(1).collect() };
        if parts.len() < self.segments.len() || (!self.wildcard && parts.len() != self.segments.len()) {
            return None;
        }
        let mut m = Match::default();
        for (seg, part) in self.segments.iter().zip(&parts) {
            match seg {
                Segment::Exact(s) if s == part => {}
                Segment::Exact(_) => return None,
                Segment::Param(_) if part.is_empty() => return None,
                Segment::Param(name) => m.params.push((name.clone(), (*part).to_string())),
            }
        }
        if self.wildcard {
            let rest = &parts[self.segments.len()..];
            if !rest.is_empty() {
                m.path_info = format!("/{}", rest.join("/"));
            }
        }
        Some(m)
    }

    /// Specificity key: per segment 2 (exact) or 1 (param), then 0 for a trailing wildcard or 3
    /// for "ends here" (an exact route beats any wildcard covering the same path).
    fn rank(&self) -> Vec<u8> {
        let mut k: Vec<u8> = self.segments.iter().map(|s| if matches!(s, Segment::Exact(_)) { 2 } else { 1 }).collect();
        k.push(if self.wildcard { 0 } else { 3 });
        k
    }
}

/// The most specific of `routes` matching `path`.
pub fn best_match<'a, T>(routes: impl Iterator<Item = (&'a Route, T)>, path: &str) -> Option<(T, Match)> {
    let mut best: Option<(Vec<u8>, T, Match)> = None;
    for (route, item) in routes {
        if let Some(m) = route.matches(path) {
            let rank = route.rank();
            if best.as_ref().is_none_or(|(r, _, _)| rank > *r) {
                best = Some((rank, item, m));
            }
        }
    }
    best.map(|(_, t, m)| (t, m))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick<'a>(routes: &'a [Route], path: &str) -> Option<&'a str> {
        best_match(routes.iter().map(|r| (r, r.as_str())), path).map(|(s, _)| s)
    }

    #[test]
    fn exact_param_and_wildcard() {
        let r = Route::parse("/api/t/:realm/sweep").unwrap();
        let m = r.matches("/api/t/acme/sweep").unwrap();
        assert_eq!(m.params, vec![("realm".to_string(), "acme".to_string())]);
        assert!(r.matches("/api/t/acme/sweep/x").is_none());
        assert!(r.matches("/api/t/acme").is_none());
        let w = Route::parse("/api/t/...").unwrap();
        assert_eq!(w.matches("/api/t/acme/plans").unwrap().path_info, "/acme/plans");
        assert_eq!(w.matches("/api/t").unwrap().path_info, "");
        assert!(w.matches("/api/tenants").is_none());
        assert!(Route::parse("/...").unwrap().matches("/").is_some());
        assert!(Route::parse("/health").unwrap().matches("/health/").is_some());
        assert!(Route::parse("/health").unwrap().matches("/healthz").is_none());
    }

    #[test]
    fn refuses_malformed_routes() {
        for bad in ["health", "/a//b", "/a/.../b", "/a/*", "/a/:"] {
            assert!(Route::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn precedence() {
        let routes: Vec<Route> = [
            "/...",
            "/api/t/...",
            "/api/t/:realm/sweep",
            "/api/t/:realm/subscribers/:id/stk-push",
            "/api/tenants",
            "/api/t/:realm/...",
            "/api/t/demo/sweep",
        ]
        .iter()
        .map(|r| Route::parse(r).unwrap())
        .collect();
        assert_eq!(pick(&routes, "/api/t/acme/sweep"), Some("/api/t/:realm/sweep"));
        assert_eq!(pick(&routes, "/api/t/demo/sweep"), Some("/api/t/demo/sweep"));
        assert_eq!(pick(&routes, "/api/t/acme/subscribers/7/stk-push"), Some("/api/t/:realm/subscribers/:id/stk-push"));
        assert_eq!(pick(&routes, "/api/t/acme/plans"), Some("/api/t/:realm/..."));
        assert_eq!(pick(&routes, "/api/t"), Some("/api/t/..."));
        assert_eq!(pick(&routes, "/api/tenants"), Some("/api/tenants"));
        assert_eq!(pick(&routes, "/elsewhere"), Some("/..."));
        // Order in the manifest does not matter.
        let reversed: Vec<Route> = routes.iter().rev().cloned().collect();
        assert_eq!(pick(&reversed, "/api/t/acme/sweep"), Some("/api/t/:realm/sweep"));
        assert_eq!(pick(&reversed, "/api/t/acme/plans"), Some("/api/t/:realm/..."));
    }
}

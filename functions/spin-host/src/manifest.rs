//! `spin.toml` (manifest version 2), the parts this host runs: application variables, HTTP
//! triggers, and per component its `source`, `allowed_outbound_hosts`, `sqlite_databases`,
//! `variables` and `environment`. Anything else in a component table (`build`, `files`,
//! `key_value_stores`, ...) is accepted and ignored; what the host cannot honour (a source given by
//! URL, a trigger type other than `http`) is refused at load, not at the first request.

use crate::outbound::AllowedHosts;
use crate::routes::Route;
use anyhow::{Context as _, anyhow, bail};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
struct RawManifest {
    spin_manifest_version: u32,
    #[serde(default)]
    variables: BTreeMap<String, RawVariable>,
    #[serde(default)]
    trigger: BTreeMap<String, Vec<RawTrigger>>,
    #[serde(default)]
    component: BTreeMap<String, RawComponent>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVariable {
    #[serde(default)]
    required: bool,
    #[serde(default)]
    secret: bool,
    default: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawTrigger {
    route: String,
    component: toml::Value,
}

#[derive(Debug, Deserialize)]
struct RawComponent {
    source: toml::Value,
    #[serde(default)]
    allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    sqlite_databases: Vec<String>,
    #[serde(default)]
    variables: BTreeMap<String, String>,
    #[serde(default)]
    environment: BTreeMap<String, String>,
}

/// An application variable (`[variables]`).
#[derive(Debug, Clone)]
pub struct AppVariable {
    pub required: bool,
    pub secret: bool,
    pub default: Option<String>,
}

/// One component: a wasm file and what it is granted.
#[derive(Debug, Clone)]
pub struct Component {
    pub id: String,
    pub source: PathBuf,
    pub allowed_outbound_hosts: AllowedHosts,
    pub sqlite_databases: Vec<String>,
    /// Component variable name → template over application variables (`"{{ platform_token }}"`).
    pub variables: BTreeMap<String, String>,
    pub environment: BTreeMap<String, String>,
}

/// One `[[trigger.http]]`.
#[derive(Debug, Clone)]
pub struct HttpTrigger {
    pub route: Route,
    pub component: String,
}

#[derive(Debug, Clone)]
pub struct Manifest {
    pub variables: BTreeMap<String, AppVariable>,
    pub triggers: Vec<HttpTrigger>,
    pub components: BTreeMap<String, Component>,
}

/// Spin's rule for variable names: lower-case ASCII letters, digits and underscores, starting
/// with a letter.
pub fn valid_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z'))
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.ends_with('_')
        && !name.contains("__")
}

/// The application variables a template (`"prefix {{ name }} suffix"`) refers to.
pub fn template_references(template: &str) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or_else(|| anyhow!("unclosed '{{{{' in template {template:?}"))?;
        let name = after[..end].trim();
        if !valid_variable_name(name) {
            bail!("invalid variable name {name:?} in template {template:?}");
        }
        out.push(name.to_string());
        rest = &after[end + 2..];
    }
    Ok(out)
}

impl Manifest {
    pub fn load(path: &Path) -> anyhow::Result<Manifest> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Manifest::parse(&text, base).with_context(|| format!("in {}", path.display()))
    }

    /// Parses a manifest; relative component sources are taken from `base` (the manifest's
    /// directory, as Spin does).
    pub fn parse(text: &str, base: &Path) -> anyhow::Result<Manifest> {
        let raw: RawManifest = toml::from_str(text)?;
        if raw.spin_manifest_version != 2 {
            bail!("spin_manifest_version {} is not supported (only 2)", raw.spin_manifest_version);
        }
        let mut variables = BTreeMap::new();
        for (name, v) in raw.variables {
            if !valid_variable_name(&name) {
                bail!("invalid application variable name {name:?}");
            }
            if v.required && v.default.is_some() {
                bail!("variable {name:?}: a required variable cannot have a default");
            }
            variables.insert(name, AppVariable { required: v.required, secret: v.secret, default: v.default });
        }
        let mut components = BTreeMap::new();
        for (id, c) in raw.component {
            let source = match &c.source {
                toml::Value::String(s) => base.join(s),
                other => bail!("component {id:?}: source {other} is not a local file (only local files are supported)"),
            };
            let allowed_outbound_hosts = AllowedHosts::parse(&c.allowed_outbound_hosts)
                .with_context(|| format!("component {id:?}: allowed_outbound_hosts"))?;
            for (name, template) in &c.variables {
                if !valid_variable_name(name) {
                    bail!("component {id:?}: invalid variable name {name:?}");
                }
                for r in template_references(template)? {
                    if !variables.contains_key(&r) {
                        bail!("component {id:?}: variable {name:?} refers to undeclared application variable {r:?}");
                    }
                }
            }
            components.insert(
                id.clone(),
                Component {
                    id,
                    source,
                    allowed_outbound_hosts,
                    sqlite_databases: c.sqlite_databases,
                    variables: c.variables,
                    environment: c.environment,
                },
            );
        }
        let mut triggers = Vec::new();
        for (kind, list) in raw.trigger {
            if kind != "http" {
                bail!("trigger type {kind:?} is not supported (only http)");
            }
            for t in list {
                let component = match t.component {
                    toml::Value::String(s) => s,
                    other => bail!("route {:?}: inline component {other} is not supported", t.route),
                };
                if !components.contains_key(&component) {
                    bail!("route {:?} names component {component:?}, which is not defined", t.route);
                }
                let route = Route::parse(&t.route)?;
                if let Some(dup) = triggers.iter().find(|x: &&HttpTrigger| x.route == route) {
                    bail!("duplicate route {:?} (components {:?} and {component:?})", t.route, dup.component);
                }
                triggers.push(HttpTrigger { route, component });
            }
        }
        Ok(Manifest { variables, triggers, components })
    }

    /// The trigger that handles `path` under Spin's precedence, and the values of its `:params`.
    pub fn route(&self, path: &str) -> Option<(&HttpTrigger, crate::routes::Match)> {
        crate::routes::best_match(self.triggers.iter().map(|t| (&t.route, t)), path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_names_follow_spin() {
        assert!(valid_variable_name("platform_token"));
        assert!(valid_variable_name("a1"));
        assert!(!valid_variable_name("Platform"));
        assert!(!valid_variable_name("1a"));
        assert!(!valid_variable_name("a-b"));
        assert!(!valid_variable_name("a__b"));
        assert!(!valid_variable_name(""));
    }

    #[test]
    fn templates_list_their_variables() {
        assert_eq!(template_references("{{ a }}").unwrap(), vec!["a"]);
        assert_eq!(template_references("x{{a}}y{{ b_2 }}").unwrap(), vec!["a", "b_2"]);
        assert!(template_references("{{ a").is_err());
        assert!(template_references("{{ A }}").is_err());
        assert!(template_references("plain").unwrap().is_empty());
    }

    #[test]
    fn refuses_what_it_cannot_run() {
        let base = Path::new(".");
        let ok = "spin_manifest_version = 2\n[component.a]\nsource = \"a.wasm\"\n[[trigger.http]]\nroute = \"/...\"\ncomponent = \"a\"\n";
        assert!(Manifest::parse(ok, base).is_ok());
        assert!(Manifest::parse(&ok.replace("version = 2", "version = 1"), base).is_err());
        assert!(Manifest::parse(&ok.replace("component = \"a\"", "component = \"b\""), base).is_err());
        let dup = format!("{ok}[[trigger.http]]\nroute = \"/...\"\ncomponent = \"a\"\n");
        assert!(Manifest::parse(&dup, base).is_err());
        let undeclared = format!("{ok}[component.a.variables]\nx = \"{{{{ nope }}}}\"\n");
        assert!(Manifest::parse(&undeclared, base).is_err());
    }
}

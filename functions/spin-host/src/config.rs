//! The runtime config (`[sqlite_database.<label>]` → file) and variable resolution
//! (`SPIN_VARIABLE_<NAME>` from the environment, else the manifest default).

use crate::manifest::{Manifest, template_references};
use anyhow::{Context as _, bail};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
struct RawRuntimeConfig {
    #[serde(default)]
    sqlite_database: BTreeMap<String, RawSqlite>,
}

#[derive(Debug, Deserialize)]
struct RawSqlite {
    #[serde(rename = "type")]
    kind: String,
    path: Option<String>,
}

/// SQLite label → database file.
#[derive(Debug, Clone, Default)]
pub struct RuntimeConfig {
    pub sqlite: HashMap<String, PathBuf>,
}

impl RuntimeConfig {
    pub fn load(path: &Path) -> anyhow::Result<RuntimeConfig> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        RuntimeConfig::parse(&text, path.parent().unwrap_or(Path::new(".")))
            .with_context(|| format!("in {}", path.display()))
    }

    /// Relative paths are taken from `base`, the runtime config file's directory.
    pub fn parse(text: &str, base: &Path) -> anyhow::Result<RuntimeConfig> {
        let raw: RawRuntimeConfig = toml::from_str(text)?;
        let mut sqlite = HashMap::new();
        for (label, db) in raw.sqlite_database {
            if db.kind != "spin" {
                bail!("sqlite_database.{label}: type {:?} is not supported (only \"spin\", a local file)", db.kind);
            }
            let path = db.path.with_context(|| format!("sqlite_database.{label}: path is required"))?;
            sqlite.insert(label, base.join(path));
        }
        Ok(RuntimeConfig { sqlite })
    }

    /// Spin refuses to start an application whose components use a label the runtime config does
    /// not define (`default` excepted, which this host does not provide either).
    pub fn check(&self, manifest: &Manifest) -> anyhow::Result<()> {
        let mut missing = Vec::new();
        for c in manifest.components.values() {
            for l in &c.sqlite_databases {
                if !self.sqlite.contains_key(l) {
                    missing.push(format!("{}: {l}", c.id));
                }
            }
        }
        if !missing.is_empty() {
            bail!("components use SQLite databases the runtime config does not define: {}", missing.join(", "));
        }
        Ok(())
    }
}

/// Per component: variable name → value, or `None` when the application variable it refers to
/// has no value (neither set nor defaulted): `get` then answers `undefined`.
pub type ComponentVariables = HashMap<String, Option<String>>;

/// Resolves every component's variables once, at start. `env` is looked up as
/// `SPIN_VARIABLE_<NAME upper-cased>`; a required variable without a value stops the start, as
/// `spin up` does.
pub fn resolve_variables(
    manifest: &Manifest,
    env: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<HashMap<String, ComponentVariables>> {
    let mut app: HashMap<&str, Option<String>> = HashMap::new();
    for (name, v) in &manifest.variables {
        let value = env(&format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase())).or_else(|| v.default.clone());
        if v.required && value.is_none() {
            bail!("required variable {name:?} has no value (set SPIN_VARIABLE_{})", name.to_ascii_uppercase());
        }
        app.insert(name, value);
    }
    let mut out = HashMap::new();
    for c in manifest.components.values() {
        let mut vars = ComponentVariables::new();
        for (name, template) in &c.variables {
            let refs = template_references(template)?;
            let value = if refs.iter().all(|r| app.get(r.as_str()).is_some_and(|v| v.is_some())) {
                let mut rest = template.as_str();
                let mut expanded = String::new();
                while let Some(start) = rest.find("{{") {
                    expanded.push_str(&rest[..start]);
                    let after = &rest[start + 2..];
                    let end = after.find("}}").unwrap_or(after.len());
                    let key = after[..end].trim();
                    expanded.push_str(app.get(key).and_then(|v| v.as_deref()).unwrap_or_default());
                    rest = after.get(end + 2..).unwrap_or("");
                }
                expanded.push_str(rest);
                Some(expanded)
            } else {
                None
            };
            vars.insert(name.clone(), value);
        }
        out.insert(c.id.clone(), vars);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"
spin_manifest_version = 2
[variables]
token = { required = true, secret = true }
base = { default = "http://x" }
optional = {}
[component.a]
source = "a.wasm"
sqlite_databases = ["control"]
[component.a.variables]
token = "{{ token }}"
url = "{{ base }}/p"
maybe = "{{ optional }}"
[[trigger.http]]
route = "/..."
component = "a"
"#;

    #[test]
    fn variables_from_env_and_defaults() {
        let m = Manifest::parse(MANIFEST, Path::new(".")).unwrap();
        let env = |k: &str| (k == "SPIN_VARIABLE_TOKEN").then(|| "s3cret".to_string());
        let v = resolve_variables(&m, env).unwrap();
        let a = &v["a"];
        assert_eq!(a["token"].as_deref(), Some("s3cret"));
        assert_eq!(a["url"].as_deref(), Some("http://x/p"));
        assert_eq!(a["maybe"], None);
        assert!(resolve_variables(&m, |_| None).is_err(), "a required variable without a value stops the start");
    }

    #[test]
    fn runtime_config_labels() {
        let m = Manifest::parse(MANIFEST, Path::new(".")).unwrap();
        let rc =
            RuntimeConfig::parse("[sqlite_database.control]\ntype = \"spin\"\npath = \"db/c.db\"\n", Path::new("/srv"))
                .unwrap();
        assert_eq!(rc.sqlite["control"], Path::new("/srv/db/c.db"));
        rc.check(&m).unwrap();
        assert!(RuntimeConfig::default().check(&m).is_err());
        assert!(RuntimeConfig::parse("[sqlite_database.x]\ntype = \"libsql\"\nurl = \"u\"\n", Path::new(".")).is_err());
    }
}

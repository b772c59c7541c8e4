//! Writes a complete raddb directory: copies the stock tree, removes what is replaced, writes the
//! rendered files, and swaps the directory in atomically.

use super::*;

pub(crate) fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let ft = entry.file_type()?;
        let dest = to.join(entry.file_name());
        if ft.is_symlink() {
            let target = std::fs::read_link(entry.path())?;
            std::os::unix::fs::symlink(target, &dest)?;
        } else if ft.is_dir() {
            copy_tree(&entry.path(), &dest)?;
        } else {
            std::fs::copy(entry.path(), &dest)?;
        }
    }
    Ok(())
}

/// Stock pieces removed from the copy: its sites (we have our own), EAP (needs certificates and an
/// inner-tunnel; not used by PPPoE/hotspot here), and modules that would need extra setup.
pub(crate) const REMOVE_FROM_STOCK: &[&str] = &["sites-enabled", "mods-enabled/eap", "mods-enabled/ntlm_auth"];

/// Render a complete raddb directory at `target`: copy of `server.base_raddb` + our files.
/// Written next to `target` and swapped in, so a running server never sees a half-written tree.
/// Also creates `log_dir` and `run_dir`, and writes PgBouncer's files if it is configured.
pub fn write_raddb(server: &ServerConfig, tenants: &[TenantConfig], target: &Path) -> Result<(), ConfigError> {
    let stock = read_stock_queries(&server.base_raddb)?;
    let files = render_files(server, tenants, &stock)?;
    let parent = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "raddb".into());
    let tmp = parent.join(format!(".{name}.new-{}", std::process::id()));
    let old = parent.join(format!(".{name}.old-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    copy_tree(&server.base_raddb, &tmp)?;
    for r in REMOVE_FROM_STOCK {
        let p = tmp.join(r);
        if p.is_dir() && !p.is_symlink() {
            std::fs::remove_dir_all(&p)?;
        } else if p.exists() || p.is_symlink() {
            std::fs::remove_file(&p)?;
        }
    }
    std::fs::create_dir_all(tmp.join("sites-enabled"))?;
    for (rel, content) in &files {
        let p = tmp.join(rel);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d)?;
        }
        if p.is_symlink() {
            std::fs::remove_file(&p)?;
        }
        std::fs::write(&p, content)?;
    }
    // Files hold DB passwords and NAS secrets.
    set_private(&tmp)?;
    for p in server.processes() {
        std::fs::create_dir_all(&p.log_dir)?;
        std::fs::create_dir_all(p.log_dir.join("radacct"))?;
        std::fs::create_dir_all(&p.run_dir)?;
    }
    if target.exists() {
        std::fs::rename(target, &old)?;
        std::fs::rename(&tmp, target)?;
        std::fs::remove_dir_all(&old)?;
    } else {
        std::fs::rename(&tmp, target)?;
    }
    write_pgbouncer(server, tenants)?;
    Ok(())
}

pub(crate) fn set_private(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o750))
}

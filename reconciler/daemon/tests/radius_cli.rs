//! `konnekted-reconciler radius gen-config` renders a FreeRADIUS configuration that FreeRADIUS
//! itself accepts (`--check` runs `freeradius -C`). Needs Debian's freeradius (CI installs it with
//! radius-sql/tests/setup.sh and sets KONNEKTED_REQUIRE_FREERADIUS; elsewhere the test skips).

use std::process::Command;

fn freeradius_or_skip() -> bool {
    if Command::new("freeradius").arg("-v").output().is_ok() {
        return true;
    }
    assert!(
        std::env::var_os("KONNEKTED_REQUIRE_FREERADIUS").is_none(),
        "freeradius is missing but KONNEKTED_REQUIRE_FREERADIUS is set (run radius-sql/tests/setup.sh)"
    );
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "SKIPPED radius_cli: freeradius not installed");
    false
}

#[test]
fn reconciler_radius_gen_config_writes_a_config_freeradius_accepts() {
    if !freeradius_or_skip() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("konnekted-reconciler-radius-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for sub in ["log", "run"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    let input = dir.join("tenants.toml");
    let out = dir.join("raddb");
    std::fs::write(
        &input,
        format!(
            r#"
[server]
listen_addr = "127.0.0.1"
auth_port = 18612
acct_port = 18613
log_dir = "{log}"
run_dir = "{run}"

[[server.nodes]]
name = "nbo-1"

[[server.nodes]]
name = "nbo-2"
auth_port = 18712
acct_port = 18713

[[tenants]]
realm = "acme"
db = {{ kind = "sqlite", path = "{db}" }}
nas = [ {{ ip = "127.0.0.1", secret = "testing123", shortname = "pop1" }} ]

[[tenants]]
realm = "beta.co.ke"
db = {{ kind = "postgresql", host = "127.0.0.1", port = 5432, user = "postgres", password = "", database = "konnekted_radius_cli_beta" }}
"#,
            log = dir.join("log").display(),
            run = dir.join("run").display(),
            db = dir.join("acme.db").display(),
        ),
    )
    .unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_konnekted-reconciler"))
        .args(["radius", "gen-config", "--input"])
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .arg("--check")
        .output()
        .expect("run konnekted-reconciler");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("(2 tenants)"), "{stdout}");
    for which in ["radiusd.conf", "node nbo-1", "node nbo-2"] {
        assert!(stdout.contains(&format!("freeradius -C ({which}): ok")), "{stdout}");
    }
    let nbo2 = std::fs::read_to_string(out.join("nbo-2.conf")).unwrap();
    assert!(nbo2.contains("konnekted_auth_port = 18712"), "{nbo2}");
    assert!(out.join("mods-enabled/konnekted_sql_acme").exists());
    let proxy = std::fs::read_to_string(out.join("proxy.conf")).unwrap();
    assert!(proxy.contains("acme") && proxy.contains("beta.co.ke"), "{proxy}");

    let bad = Command::new(env!("CARGO_BIN_EXE_konnekted-reconciler"))
        .args(["radius", "gen-config", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let bad_err = String::from_utf8_lossy(&bad.stderr);
    assert!(bad_err.contains("required") && bad_err.contains("--input"), "{bad_err}");
    let _ = std::fs::remove_dir_all(&dir);
}

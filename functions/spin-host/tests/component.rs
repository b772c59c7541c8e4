//! The Konnekted Spin component (functions/spin, feature `spin`, which imports `spin:sqlite` and
//! `spin:variables`) served by this host: routes, SQLite grants, variables, batch semantics
//! under concurrent requests.
//!
//! Needs the built wasm: `scripts/edge-build.sh spin` (or `SPIN_WASM=path`). Without it these
//! tests print why and pass, unless `KONNEKTED_REQUIRE_SPIN=1` (the test command sets it after
//! building the wasm), which makes a missing wasm a failure.

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use konnekted_spin_host::host::{App, Options};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

fn wasm() -> Option<PathBuf> {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut candidates = Vec::new();
    if let Ok(p) = std::env::var("SPIN_WASM") {
        candidates.push(PathBuf::from(p));
    }
    if let Ok(t) = std::env::var("CARGO_TARGET_DIR") {
        candidates.push(PathBuf::from(t).join("wasm32-wasip2/release/konnekted_spin.wasm"));
    }
    candidates.push(repo.join("functions/spin/target/wasm32-wasip2/release/konnekted_spin.wasm"));
    let found = candidates.into_iter().find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var("KONNEKTED_REQUIRE_SPIN").as_deref() != Ok("1"),
            "KONNEKTED_REQUIRE_SPIN=1 but the Spin component is not built (scripts/edge-build.sh spin)"
        );
        eprintln!("skipped: the Spin component is not built (scripts/edge-build.sh spin, or SPIN_WASM=path)");
    }
    found
}

struct Fixture {
    app: Arc<App>,
    _dir: tempfile::TempDir,
}

/// An application with the real component mounted as `full` (every database, `/api/...`,
/// `/__selftest/...`, `/internal/scheduled`, `/health`) and as `nodb` (no database, `/nodb/...`
/// and `/api/tenants/denied`), variables from `vars`.
fn fixture(vars: &[(&str, &str)]) -> Option<Fixture> {
    let wasm = wasm()?;
    let dir = tempfile::tempdir().unwrap();
    let manifest = format!(
        r#"spin_manifest_version = 2
[application]
name = "t"
[variables]
platform_token = {{ required = true, secret = true }}
edge_selftest = {{ default = "0" }}
[[trigger.http]]
route = "/..."
component = "full"
[[trigger.http]]
route = "/api/tenants"
component = "nodb"
[[trigger.http]]
route = "/api/t/:realm/plans"
component = "nodb"
[component.full]
source = "{wasm}"
sqlite_databases = ["control", "t_acme"]
[component.full.variables]
platform_token = "{{{{ platform_token }}}}"
edge_selftest = "{{{{ edge_selftest }}}}"
[component.nodb]
source = "{wasm}"
[component.nodb.variables]
platform_token = "{{{{ platform_token }}}}"
"#,
        wasm = wasm.display()
    );
    std::fs::write(dir.path().join("spin.toml"), manifest).unwrap();
    std::fs::write(
        dir.path().join("rc.toml"),
        "[sqlite_database.control]\ntype = \"spin\"\npath = \"db/control.db\"\n[sqlite_database.t_acme]\ntype = \"spin\"\npath = \"db/t_acme.db\"\n",
    )
    .unwrap();
    let opts = Options {
        manifest: dir.path().join("spin.toml"),
        runtime_config: Some(dir.path().join("rc.toml")),
        extra_outbound: Vec::new(),
    };
    let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let app = App::load(&opts, move |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())).unwrap();
    Some(Fixture { app: Arc::new(app), _dir: dir })
}

async fn call(app: &App, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut b = http::Request::builder().method(method).uri(path).header("host", "spin.test");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let req = b.body(Full::new(Bytes::new())).unwrap();
    let client: SocketAddr = "127.0.0.1:1".parse().unwrap();
    let res = app.handle(req, client).await;
    let status = res.status().as_u16();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

const TOKEN: &str = "test-platform-token-0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_unrouted_paths() {
    let Some(f) = fixture(&[("SPIN_VARIABLE_PLATFORM_TOKEN", TOKEN)]) else { return };
    let (s, body) = call(&f.app, "GET", "/health", &[]).await;
    assert_eq!(s, 200, "{body}");
    assert!(body.contains("\"ok\""), "{body}");
    // `/...` catches everything here; a manifest without it answers 404 for an unrouted path.
    let (s, _) = call(&f.app, "GET", "/nowhere/at/all", &[]).await;
    assert_eq!(s, 404, "the component's own 404 through the catch-all route");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_contract_and_batch_semantics_on_spin_sqlite() {
    let Some(f) = fixture(&[("SPIN_VARIABLE_PLATFORM_TOKEN", TOKEN), ("SPIN_VARIABLE_EDGE_SELFTEST", "1")]) else {
        return;
    };
    let (s, body) = call(&f.app, "GET", "/__selftest/contract", &[]).await;
    assert_eq!(s, 200, "{body}");
    assert!(body.contains("\"pass\":true"), "storage contract suite through spin:sqlite: {body}");
    let (s, body) = call(&f.app, "GET", "/__selftest/batch", &[]).await;
    assert_eq!(s, 200, "{body}");
    assert!(body.contains("\"pass\":true"), "batch semantics: {body}");
}

/// Sixteen first requests on a fresh control database at once: every instance migrates it, and
/// every one must be answered (before the core's migrations claimed their name first, the later
/// ones failed with `UNIQUE constraint failed: schema_migrations.name`, a 503).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_requests_all_migrate_and_answer() {
    let Some(f) = fixture(&[("SPIN_VARIABLE_PLATFORM_TOKEN", TOKEN)]) else { return };
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let app = f.app.clone();
        tasks.push(tokio::spawn(async move {
            call(&app, "GET", "/api/t/acme/subscribers", &[("authorization", &format!("Bearer {TOKEN}"))]).await
        }));
    }
    for t in tasks {
        let (s, body) = t.await.unwrap();
        assert_ne!(s, 503, "{body}");
        assert_ne!(s, 500, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_without_the_database_is_refused() {
    let Some(f) = fixture(&[("SPIN_VARIABLE_PLATFORM_TOKEN", TOKEN)]) else { return };
    let auth = format!("Bearer {TOKEN}");
    // The same request reaches the database through `full` ...
    let (s, body) = call(&f.app, "GET", "/api/t/acme/subscribers", &[("authorization", &auth)]).await;
    assert_ne!(s, 503, "{body}");
    // ... and is refused through `nodb`: spin:sqlite answers access-denied for `control`.
    let (s, body) = call(&f.app, "GET", "/api/tenants", &[("authorization", &auth)]).await;
    assert_eq!(s, 503, "{body}");
    assert!(body.contains("control") && body.contains("not available to this component"), "{body}");
    let (s, body) = call(&f.app, "GET", "/api/t/acme/plans", &[("authorization", &auth)]).await;
    assert_eq!(s, 503, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn variables_reach_the_component() {
    let Some(f) = fixture(&[("SPIN_VARIABLE_PLATFORM_TOKEN", TOKEN)]) else { return };
    let (s, body) = call(&f.app, "POST", "/internal/scheduled", &[("authorization", &format!("Bearer {TOKEN}"))]).await;
    assert_eq!(s, 200, "the platform token came through spin:variables: {body}");
    let (s, _) = call(&f.app, "POST", "/internal/scheduled", &[("authorization", "Bearer wrong")]).await;
    assert_eq!(s, 401);
    // `edge_selftest` defaults to "0": the self-test routes are not served.
    let (s, _) = call(&f.app, "GET", "/__selftest/batch", &[]).await;
    assert_ne!(s, 200);
}

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

const NODB_ROUTES: &str = r#"[[trigger.http]]
route = "/api/tenants"
component = "nodb"
[[trigger.http]]
route = "/api/t/:realm/plans"
component = "nodb"
"#;

struct Fixture {
    app: Arc<App>,
    _dir: tempfile::TempDir,
}

/// An application with the real component mounted as `full` (every database, `/api/...`,
/// `/__selftest/...`, `/internal/scheduled`, `/health`) and as `nodb` (no database, `/nodb/...`
/// and `/api/tenants/denied`), variables from `vars`.
fn fixture(vars: &[(&str, &str)]) -> Option<Fixture> {
    fixture_with(vars, true)
}

/// [`fixture`] without the `nodb` routes: `full` serves `/api/tenants` and every tenant route.
fn fixture_full(vars: &[(&str, &str)]) -> Option<Fixture> {
    fixture_with(vars, false)
}

fn fixture_with(vars: &[(&str, &str)], nodb_routes: bool) -> Option<Fixture> {
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
{nodb}[component.full]
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
        wasm = wasm.display(),
        nodb = if nodb_routes { NODB_ROUTES } else { "" },
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
    send(app, method, path, headers, Bytes::new()).await
}

/// A request with a JSON body and a bearer token; the answer's status and JSON.
async fn call_json(
    app: &App,
    method: &str,
    path: &str,
    token: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let auth = format!("Bearer {token}");
    let headers = [("authorization", auth.as_str()), ("content-type", "application/json")];
    let (s, text) = send(app, method, path, &headers, Bytes::from(body.to_string())).await;
    (s, serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
}

async fn send(app: &App, method: &str, path: &str, headers: &[(&str, &str)], body: Bytes) -> (u16, String) {
    let mut b = http::Request::builder().method(method).uri(path).header("host", "spin.test");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let req = b.body(Full::new(body)).unwrap();
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

/// Concurrent instances writing the same row: twelve payments of one day's price recorded at once
/// for one subscriber, each in its own instance with its own `spin:sqlite` connection. Each reads
/// the subscriber (expiry, version), then renews in one batch guarded by
/// `INSERT INTO occ_guard (changed) VALUES (changes())`: a batch that lost the race must roll back
/// whole and be retried, never extend an expiry another instance has already moved. Twelve days
/// paid must be twelve days of service and every payment answered. A host that shares one
/// connection between a label's instances fails it (tried: `cannot start a transaction within a
/// transaction`, 503).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_payments_to_one_subscriber_lose_no_update() {
    let Some(f) = fixture_full(&[("SPIN_VARIABLE_PLATFORM_TOKEN", TOKEN)]) else { return };
    let admin = "acme-admin-token-0123456789abcdef";
    let (s, v) = call_json(
        &f.app,
        "POST",
        "/api/tenants",
        TOKEN,
        serde_json::json!({"realm": "acme", "name": "Acme", "admin_token": admin,
                           "callback_token": "acme-callback-token-0123456789ab"}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let plan = serde_json::json!({"code": "day", "name": "day", "price_cents": 1_000,
                                  "period_seconds": 86_400, "down_kbps": 10000, "up_kbps": 2000});
    let (s, v) = call_json(&f.app, "POST", "/api/t/acme/plans", admin, plan).await;
    assert_eq!(s, 201, "{v}");
    let sub = serde_json::json!({"name": "Wanjiku", "plan": "day", "account_no": "ACC1", "phone": "0711000001"});
    let (s, v) = call_json(&f.app, "POST", "/api/t/acme/subscribers", admin, sub).await;
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_str().expect("subscriber id").to_owned();

    const N: i64 = 12;
    let start = chrono::Utc::now();
    let mut tasks = Vec::new();
    for i in 0..N {
        let app = f.app.clone();
        let path = format!("/api/t/acme/subscribers/{id}/adjust");
        tasks.push(tokio::spawn(async move {
            let body = serde_json::json!({"amount_cents": 1_000, "memo": format!("cash {i}")});
            call_json(&app, "POST", &path, admin, body).await
        }));
    }
    for t in tasks {
        let (s, v) = t.await.unwrap();
        assert_eq!(s, 200, "every concurrent payment is recorded: {v}");
    }
    let end = chrono::Utc::now();
    let (s, v) =
        call_json(&f.app, "GET", &format!("/api/t/acme/subscribers/{id}"), admin, serde_json::Value::Null).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["balance_cents"], 0, "every payment bought its day: {v}");
    let expires: chrono::DateTime<chrono::Utc> =
        v["expires_at"].as_str().and_then(|t| t.parse().ok()).unwrap_or_else(|| panic!("an expiry: {v}"));
    let days = chrono::Duration::days(N);
    assert!(
        expires >= start + days - chrono::Duration::seconds(1) && expires <= end + days + chrono::Duration::seconds(1),
        "{N} days paid at once must run {N} days from the first: {expires} (started {start}): {v}"
    );
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

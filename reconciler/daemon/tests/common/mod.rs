//! Test world: the real native host (edge) in-process with a tenant, a RouterOS
//! simulator, and the reconciler's tenant/worker wired to both.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use konnekted_reconciler::config::{GardenConfig, GuardConfig, RadiusConfig, RouterConfig, Secret, TenantConfig};
use konnekted_reconciler::metrics::Metrics;
use konnekted_reconciler::reconcile::{Ctx, RouterWorker, Settings, Tenant};
use routeros_sim::{SimConfig, SimHandle, Simulator};
use serde_json::{Value, json};

pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "konnekted-reconciler-{tag}-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn token(n: usize) -> String {
    (0..n).map(|_| format!("{:x}", rand::random::<u8>() % 16)).collect()
}

/// A TCP forwarder to the edge that can be cut (the edge becomes unreachable, pooled
/// connections included).
pub struct Proxy {
    pub addr: std::net::SocketAddr,
    tasks: Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Proxy {
    pub async fn start(target: std::net::SocketAddr) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("addr");
        let tasks: Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let t2 = tasks.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let h = tokio::spawn(async move {
                    if let Ok(mut out) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                });
                t2.lock().expect("lock").push(h.abort_handle());
            }
        });
        tasks.lock().expect("lock").push(accept.abort_handle());
        Proxy { addr, tasks }
    }

    pub fn stop(&self) {
        for t in self.tasks.lock().expect("lock").drain(..) {
            t.abort();
        }
    }
}

pub struct World {
    pub proxy: Proxy,
    pub http: reqwest::Client,
    pub base: String,
    pub realm: String,
    pub admin_token: String,
    pub sync_key: String,
    pub host: Option<konnekted::server::Running>,
    _dir: TempDir,
    pub sim: Simulator,
    pub metrics: Arc<Metrics>,
    pub ctx: Arc<Ctx>,
    pub tenant: Arc<Tenant>,
}

pub fn settings(guard: GuardConfig) -> Settings {
    Settings {
        full_pass: Duration::from_secs(300),
        jitter: 0.0,
        feed_poll: Duration::from_millis(200),
        pass_timeout: Duration::from_secs(30),
        desired_max_age: Duration::ZERO,
        guard,
        max_concurrent_applies: konnekted_reconciler::config::DEFAULT_MAX_CONCURRENT_APPLIES,
        heavy_apply_changes: konnekted_reconciler::config::DEFAULT_HEAVY_APPLY_CHANGES,
        max_concurrent_reads: konnekted_reconciler::config::DEFAULT_MAX_CONCURRENT_READS,
    }
}

impl World {
    pub async fn new(realm: &str) -> World {
        World::with_guard(realm, GuardConfig::default()).await
    }

    pub async fn with_guard(realm: &str, guard: GuardConfig) -> World {
        let dir = TempDir::new(realm);
        let platform_token = token(32);
        let config = konnekted::Config {
            listen: ([127, 0, 0, 1], 0).into(),
            data_dir: dir.0.clone(),
            public_base_url: None,
            platform_token: konnekted_core::secret::Secret::new(&platform_token),
            voucher_secret: konnekted_core::secret::Secret::new(token(32)),
            tick_seconds: 3600,
        };
        let host = konnekted::server::launch(&config, None).await.expect("native host");
        let base = host.base_url();
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("http");
        let admin_token = token(40);
        let sync_key = token(48);
        let r = http
            .post(format!("{base}/api/tenants"))
            .bearer_auth(&platform_token)
            .json(&json!({"realm": realm, "name": format!("ISP {realm}"), "admin_token": admin_token,
                          "callback_token": token(32), "sync_key": sync_key}))
            .send()
            .await
            .expect("create tenant");
        assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap_or_default());
        let proxy = Proxy::start(host.addr).await;
        let sim = Simulator::start("127.0.0.1:0", SimConfig::new("admin", "pw")).await.expect("sim");
        let metrics = Arc::new(Metrics::default());
        let ctx = Arc::new(Ctx::new(settings(guard), metrics.clone()));
        let mut w = World {
            proxy,
            http,
            base,
            realm: realm.to_owned(),
            admin_token,
            sync_key,
            host: Some(host),
            _dir: dir,
            sim,
            metrics,
            ctx,
            tenant: Tenant::new(bench_placeholder(), Duration::from_secs(5)).expect("tenant"),
        };
        w.tenant = Tenant::new(w.tenant_cfg(), Duration::from_secs(5)).expect("tenant");
        w
    }

    pub fn h(&self) -> SimHandle {
        self.sim.handle()
    }

    pub fn tenant_cfg(&self) -> TenantConfig {
        TenantConfig {
            realm: self.realm.clone(),
            edge_url: format!("http://{}", self.proxy.addr),
            sync_key: Secret::new(self.sync_key.clone()),
            suspend_policy: Default::default(),
            secret_naming: Default::default(),
            radius: Some(RadiusConfig {
                address: "10.0.0.2".into(),
                backup_addresses: vec!["10.0.0.3".into()],
                secret: Secret::new("radius-secret"),
                service: "ppp,hotspot".into(),
            }),
            walled_garden: Some(GardenConfig {
                portal_host: "pay.example.net".into(),
                portal_address: "192.0.2.10".into(),
                portal_port: 80,
                redirector: None,
                radius_policy: Default::default(),
            }),
        }
    }

    pub fn router_cfg(&self) -> RouterConfig {
        let addr = self.sim.local_addr();
        let mut r = konnekted_reconciler::bench::bench_router("tower-1", &self.realm, addr, 64);
        r.password = Secret::new("pw");
        r
    }

    pub fn worker(&self) -> RouterWorker {
        RouterWorker::new(self.router_cfg(), self.tenant.clone(), self.ctx.clone())
    }

    /// The edge becomes unreachable for the reconciler (the test still reaches it).
    pub fn stop_edge(&mut self) {
        self.proxy.stop();
    }

    fn admin(&self, path: &str) -> String {
        format!("{}/api/t/{}{}", self.base, self.realm, path)
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        let r = self.http.post(self.admin(path)).bearer_auth(&self.admin_token).json(&body).send().await.expect("POST");
        let status = r.status().as_u16();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        assert!((200..300).contains(&status), "POST {path}: {status} {v}");
        v
    }

    pub async fn patch(&self, path: &str, body: Value) -> Value {
        let r =
            self.http.patch(self.admin(path)).bearer_auth(&self.admin_token).json(&body).send().await.expect("PATCH");
        let status = r.status().as_u16();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        assert!((200..300).contains(&status), "PATCH {path}: {status} {v}");
        v
    }

    /// A plan priced 500 KES for 30 days.
    pub async fn plan(&self, code: &str, down_kbps: u64, up_kbps: u64) {
        self.post(
            "/plans",
            json!({"code": code, "name": code, "price_cents": 50_000, "period_seconds": 30 * 86_400,
                   "down_kbps": down_kbps, "up_kbps": up_kbps}),
        )
        .await;
    }

    /// A new (pending) subscriber; returns its id.
    pub async fn subscriber(&self, username: &str, plan: &str, static_ip: Option<&str>) -> String {
        let mut body = json!({"name": format!("Customer {username}"), "plan": plan, "username": username,
                              "password": format!("secret-{username}"), "account_no": username.to_uppercase()});
        if let Some(ip) = static_ip {
            body["static_ip"] = json!(ip);
        }
        let v = self.post("/subscribers", body).await;
        v["id"].as_str().expect("subscriber id").to_owned()
    }

    /// Credits one period's price: the subscriber becomes active.
    pub async fn pay(&self, id: &str) {
        self.post(&format!("/subscribers/{id}/adjust"), json!({"amount_cents": 50_000, "memo": "cash"})).await;
    }

    pub async fn active_subscriber(&self, username: &str, plan: &str, static_ip: Option<&str>) -> String {
        let id = self.subscriber(username, plan, static_ip).await;
        self.pay(&id).await;
        id
    }

    pub async fn suspend(&self, id: &str) {
        self.patch(&format!("/subscribers/{id}"), json!({"status": "suspended"})).await;
    }

    pub fn secret_name(&self, username: &str) -> String {
        format!("{username}@{}", self.realm)
    }

    /// The secret's `disabled` flag (`None`: no such secret).
    pub fn secret_disabled(&self, username: &str) -> Option<bool> {
        let rows = self.h().find("/ppp/secret", "name", &self.secret_name(username));
        rows.first().map(|r| r.get("disabled") == Some("true"))
    }
}

fn bench_placeholder() -> TenantConfig {
    konnekted_reconciler::bench::bench_tenant("placeholder")
}

/// Applies one script command as the router's terminal would.
pub fn apply_script_command(h: &SimHandle, c: &konnekted_reconciler::onboard::ScriptCommand) -> Result<(), String> {
    let args: Vec<(&str, &str)> = c.args.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    match (c.verb.as_str(), &c.find) {
        ("add", None) => h.add(&c.menu, &args).map(|_| ()).map_err(|e| format!("{e:?}")),
        ("set", None) => h.set(&c.menu, "", &args).map_err(|e| format!("{e:?}")),
        ("set", Some((k, v))) => {
            let rows = h.find(&c.menu, k, v);
            let id = rows.first().and_then(|r| r.get(".id")).ok_or_else(|| format!("no item {k}={v} in {}", c.menu))?;
            h.set(&c.menu, id, &args).map_err(|e| format!("{e:?}"))
        }
        other => Err(format!("unexpected command {other:?}")),
    }
}

//! Harness shared by the radius-agent integration tests: the native host started in-process,
//! tenants created through its platform API and driven through their admin API, and agents
//! pointed at them.

// Each test binary uses only part of this module.
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use konnekted_radius::coa::CoaClient;
use konnekted_radius::db::{DbSettings, Secret};
use konnekted_radius::sync::InactivePolicy;
use konnekted_radius_agent::TenantAgent;
use konnekted_radius_agent::config::{Intervals, NasConfig, PolicyConfig, TenantConfig};
use serde_json::{Value, json};

pub fn rand_hex(n: usize) -> String {
    (0..n).map(|_| format!("{:x}", rand::random::<u8>() % 16)).collect()
}

/// Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// The native host, started in-process with its data under `dir/edge`; tenants are created through
/// the platform API.
pub struct Host {
    pub base: String,
    platform: String,
    http: reqwest::Client,
    _running: konnekted::server::Running,
}

impl Host {
    pub async fn start(dir: &Path) -> Host {
        let platform = rand_hex(32);
        let config = konnekted::Config {
            listen: ([127, 0, 0, 1], 0).into(),
            data_dir: dir.join("edge"),
            public_base_url: None,
            platform_token: konnekted_core::secret::Secret::new(&platform),
            // keys customer-API sign-in (and vouchers)
            voucher_secret: konnekted_core::secret::Secret::new(rand_hex(32)),
            tick_seconds: 3600,
        };
        std::fs::create_dir_all(&config.data_dir).expect("edge dir");
        let running = konnekted::server::launch(&config, None).await.expect("host");
        let base = running.base_url();
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
        Host { base, platform, http, _running: running }
    }

    /// A new tenant `realm` with random admin token, callback token and sync key.
    pub async fn tenant(&self, realm: &str) -> Tenant {
        let (admin_token, sync_key) = (rand_hex(40), rand_hex(64));
        let r = self
            .http
            .post(format!("{}/api/tenants", self.base))
            .bearer_auth(&self.platform)
            .json(&json!({"realm": realm, "name": format!("ISP {realm}"), "admin_token": admin_token,
                          "callback_token": rand_hex(32), "sync_key": sync_key}))
            .send()
            .await
            .expect("create tenant");
        let status = r.status().as_u16();
        assert_eq!(status, 201, "create tenant {realm}: {}", r.text().await.unwrap_or_default());
        Tenant { base: self.base.clone(), realm: realm.into(), admin_token, sync_key, http: self.http.clone() }
    }
}

/// One tenant of the host, seen through its admin API.
pub struct Tenant {
    /// The host's base URL.
    pub base: String,
    pub realm: String,
    admin_token: String,
    sync_key: String,
    http: reqwest::Client,
}

impl Tenant {
    /// One admin-API request (`path` below `/api/t/{realm}`): (status, JSON body or null).
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}/api/t/{}{path}", self.base, self.realm))
            .bearer_auth(&self.admin_token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// GET `path`; panics unless 200.
    pub async fn get(&self, path: &str) -> Value {
        let (s, v) = self.call(reqwest::Method::GET, path, None).await;
        assert_eq!(s, 200, "GET {}{path}: {v}", self.realm);
        v
    }

    /// PATCH subscriber `id` with `body`; panics unless 2xx.
    pub async fn patch_subscriber(&self, id: &str, body: Value) {
        let (s, v) = self.call(reqwest::Method::PATCH, &format!("/subscribers/{id}"), Some(body.clone())).await;
        assert!(s < 300, "{}: PATCH subscriber {body}: {s} {v}", self.realm);
    }

    /// Plans `basic` and `fast` with the given (down, up) kbps; subscriber A100 on basic with
    /// `password` and credit (active). Returns (id, username).
    pub async fn seed(&self, basic: (i64, i64), fast: (i64, i64), password: &str) -> (String, String) {
        for (code, (down, up)) in [("basic", basic), ("fast", fast)] {
            let (s, v) = self
                .call(
                    reqwest::Method::POST,
                    "/plans",
                    Some(json!({"code": code, "name": code, "price_cents": 100000, "period_seconds": 2592000,
                                "down_kbps": down, "up_kbps": up})),
                )
                .await;
            assert_eq!(s, 201, "{v}");
        }
        let (s, v) = self
            .call(
                reqwest::Method::POST,
                "/subscribers",
                Some(json!({"name": "Alice", "plan": "basic", "account_no": "A100", "phone": "254700000001",
                            "password": password})),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        let id = v["id"].as_str().expect("id").to_owned();
        let username = v["username"].as_str().expect("username").to_owned();
        let (s, v) = self
            .call(
                reqwest::Method::POST,
                &format!("/subscribers/{id}/adjust"),
                Some(json!({"amount_cents": 100000, "memo": "test credit"})),
            )
            .await;
        assert!(s < 300, "adjust: {s} {v}");
        (id, username)
    }

    /// This tenant's agent config: its realm and sync key, `db`, `nas`, and `suspended` for
    /// suspended subscribers (the rest of the policy default).
    pub fn config(&self, db: &DbSettings, nas: Vec<NasConfig>, suspended: InactivePolicy) -> TenantConfig {
        TenantConfig {
            realm: self.realm.clone(),
            sync_key: Secret::new(&self.sync_key),
            db: db.clone(),
            policy: PolicyConfig { suspended, ..PolicyConfig::default() },
            nas,
        }
    }

    /// An agent for this tenant on the host, with a short CoA timeout (500 ms, one retry).
    pub fn agent(&self, db: &DbSettings, nas: Vec<NasConfig>, suspended: InactivePolicy) -> TenantAgent {
        self.agent_at(&self.base, db, nas, suspended)
    }

    /// The same agent, pointed at `base` instead of the host.
    pub fn agent_at(&self, base: &str, db: &DbSettings, nas: Vec<NasConfig>, suspended: InactivePolicy) -> TenantAgent {
        let mut a = TenantAgent::new(base, self.config(db, nas, suspended), &Intervals::default()).expect("agent");
        a.coa = CoaClient { timeout: Duration::from_millis(500), retries: 1, ..CoaClient::default() };
        a
    }
}

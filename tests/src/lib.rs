//! Harness for the HTTP end-to-end suites.
//!
//! Every test talks HTTP to a Konnekted deployment. By default each test starts its own
//! native host (in-process, SQLite in a temp folder). With `KONNEKTED_BASE_URL` and
//! `KONNEKTED_PLATFORM_TOKEN` set, the same tests run against that deployment instead
//! (a Worker under `wrangler dev`): each test then uses its own pre-provisioned realm.
//! A Daraja simulator runs in the test process either way.

use std::time::Duration;

use daraja_sim::{DarajaSim, SimConfig, SimHandle};
use serde_json::{Value, json};

pub use daraja_sim;
pub mod browser;

pub struct Env {
    pub base: String,
    pub realm: String,
    pub admin_token: String,
    pub callback_token: String,
    pub sync_key: String,
    pub platform_token: String,
    pub sim: SimHandle,
    pub http: reqwest::Client,
    _host: Option<(konnekted::server::Running, TempDir)>,
}

/// A folder removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("konnekted-{tag}-{}-{}", std::process::id(), rand::random::<u64>()));
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn random_token(n: usize) -> String {
    (0..n).map(|_| format!("{:x}", rand::random::<u8>() % 16)).collect()
}

/// A fresh tenant on a fresh (or the configured) deployment, wired to a fresh simulator.
/// `realm` is used as is against a shared deployment; natively any realm works.
pub async fn env(realm: &str) -> Env {
    env_with(realm, SimConfig::default()).await
}

pub async fn env_with(realm: &str, sim_config: SimConfig) -> Env {
    let sim = DarajaSim::spawn(sim_config).await.expect("simulator");
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
    let (base, platform_token, host) = match std::env::var("KONNEKTED_BASE_URL") {
        Ok(base) => {
            let token =
                std::env::var("KONNEKTED_PLATFORM_TOKEN").expect("KONNEKTED_PLATFORM_TOKEN with KONNEKTED_BASE_URL");
            (base.trim_end_matches('/').to_owned(), token, None)
        }
        Err(_) => {
            let dir = TempDir::new(realm);
            let token = random_token(32);
            let config = konnekted::Config {
                listen: ([127, 0, 0, 1], 0).into(),
                data_dir: dir.0.clone(),
                public_base_url: None,
                platform_token: konnekted_core::secret::Secret::new(&token),
                voucher_secret: konnekted_core::secret::Secret::new(random_token(32)),
                tick_seconds: 3600,
            };
            let running = konnekted::server::launch(&config, None).await.expect("host");
            (running.base_url(), token, Some((running, dir)))
        }
    };
    let admin_token = random_token(40);
    let callback_token = random_token(32);
    let sync_key = random_token(64);
    let body = json!({
        "sync_key": sync_key,
        "realm": realm,
        "name": format!("ISP {realm}"),
        "admin_token": admin_token,
        "callback_token": callback_token,
        "settings": {"grace_seconds": 0, "stk_sweep_after_seconds": 0, "stk_requery_seconds": 0},
        "daraja": {
            "environment": sim.base_url(),
            "consumer_key": daraja_sim::DEFAULT_CONSUMER_KEY,
            "consumer_secret": daraja_sim::DEFAULT_CONSUMER_SECRET,
            "passkey": daraja_sim::SANDBOX_PASSKEY,
            "shortcode": daraja_sim::SANDBOX_SHORTCODE,
        }
    });
    let r = http
        .post(format!("{base}/api/tenants"))
        .bearer_auth(&platform_token)
        .json(&body)
        .send()
        .await
        .expect("create tenant");
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    assert_eq!(status.as_u16(), 201, "create tenant {realm}: {text}");
    Env { base, realm: realm.to_owned(), admin_token, callback_token, sync_key, platform_token, sim, http, _host: host }
}

impl Env {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }
    pub fn admin(&self, path: &str) -> String {
        format!("{}/api/t/{}{}", self.base, self.realm, path)
    }
    pub fn hook(&self, leaf: &str) -> String {
        format!("{}/hooks/{}/{}/{}", self.base, self.realm, self.callback_token, leaf)
    }

    pub async fn get(&self, path: &str) -> Value {
        let r = self.http.get(self.admin(path)).bearer_auth(&self.admin_token).send().await.expect("GET");
        let status = r.status();
        let v: Value = r.json().await.expect("json");
        assert!(status.is_success(), "GET {path}: {status} {v}");
        v
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self.http.post(self.admin(path)).bearer_auth(&self.admin_token).json(&body).send().await.expect("POST");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        let r =
            self.http.patch(self.admin(path)).bearer_auth(&self.admin_token).json(&body).send().await.expect("PATCH");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// `PUT /api/t/{realm}/settings` with `{"settings": settings}`; asserts 200.
    pub async fn put_settings(&self, settings: Value) {
        let r = self
            .http
            .put(self.admin("/settings"))
            .bearer_auth(&self.admin_token)
            .json(&json!({ "settings": settings }))
            .send()
            .await
            .expect("PUT settings");
        let status = r.status().as_u16();
        assert_eq!(status, 200, "PUT settings: {}", r.text().await.unwrap_or_default());
    }

    /// The customer API's URL of `path` (`/api/p/{realm}/v1/{path}`).
    pub fn v1(&self, path: &str) -> String {
        format!("{}/api/p/{}/v1/{path}", self.base, self.realm)
    }

    /// Calls the customer API, with a subscriber's bearer token and a JSON body if given.
    pub async fn customer(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let mut r = self.http.request(method.parse().expect("method"), self.v1(path));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// The 6-digit code of the newest SMS to `to` (`2547...`) in the development sink.
    pub async fn code_from_sink(&self, to: &str) -> String {
        let sms = self.get(&format!("/sms-outbox?to={to}&limit=1")).await;
        let body = sms[0]["body"].as_str().unwrap_or_else(|| panic!("an SMS to {to}: {sms}"));
        code_in(body).unwrap_or_else(|| panic!("6 digits in {body:?}"))
    }

    /// Signs a subscriber in to the customer API by OTP (`phone` as `07...`), reading the code
    /// from the development sink; answers the token answer (`access_token`, `refresh_token`...).
    pub async fn subscriber_sign_in(&self, phone: &str) -> Value {
        let (s, v) = self.customer("POST", "auth/otp", None, Some(json!({"phone": phone}))).await;
        assert_eq!(s, 202, "{v}");
        let challenge = v["challenge_id"].as_str().expect("challenge").to_owned();
        let code = self.code_from_sink(&format!("254{}", &phone[1..])).await;
        let (s, tok) = self
            .customer("POST", "auth/otp/verify", None, Some(json!({"challenge_id": challenge, "code": code})))
            .await;
        assert_eq!(s, 200, "{tok}");
        tok
    }

    /// One signed `POST /sync/{realm}/usage`, as the RADIUS agent sends it; asserts 202.
    pub async fn push_usage(&self, body: Value) {
        let body = body.to_string();
        let pq = format!("/sync/{}/usage", self.realm);
        let ts = chrono::Utc::now().timestamp();
        let sig = konnekted_sync_proto::sign(self.sync_key.as_bytes(), "POST", &pq, ts, body.as_bytes());
        let r = self
            .http
            .post(self.url(&pq))
            .header(konnekted_sync_proto::HEADER_TIMESTAMP, ts.to_string())
            .header(konnekted_sync_proto::HEADER_SIGNATURE, sig)
            .body(body)
            .send()
            .await
            .expect("usage push");
        assert_eq!(r.status().as_u16(), 202);
    }

    /// Adds a console user with the password `pass-for-tests`.
    pub async fn add_user(&self, login: &str, role: &str) {
        let (s, v) = self
            .post("/users", json!({"login": login, "name": login, "role": role, "password": "pass-for-tests"}))
            .await;
        assert_eq!(s, 201, "{v}");
    }

    /// Posts a raw body to one of this tenant's callback URLs.
    pub async fn callback(&self, leaf: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
        let r = self
            .http
            .post(self.hook(leaf))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("callback");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// A plan priced `kes` for 30 days, 10/2 Mbps.
    pub async fn plan(&self, code: &str, kes: i64) -> Value {
        let (s, v) = self
            .post(
                "/plans",
                json!({"code": code, "name": code, "price_cents": kes * 100, "period_seconds": 30 * 86400,
                       "down_kbps": 10000, "up_kbps": 2000}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        v
    }

    /// A hotspot plan (vouchers and captive sales) priced `kes` for `seconds`, 2/1 Mbps.
    pub async fn hotspot_plan(&self, code: &str, name: &str, kes: i64, seconds: i64) -> Value {
        let (s, v) = self
            .post(
                "/plans",
                json!({"code": code, "name": name, "kind": "hotspot", "price_cents": kes * 100,
                       "period_seconds": seconds, "down_kbps": 2000, "up_kbps": 1000}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        v
    }

    pub async fn subscriber(&self, plan: &str, account: &str, phone: &str) -> Value {
        let (s, v) = self
            .post(
                "/subscribers",
                json!({"name": format!("Customer {account}"), "plan": plan, "account_no": account, "phone": phone}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        v
    }

    pub async fn subscriber_state(&self, id: &str) -> Value {
        self.get(&format!("/subscribers/{id}")).await
    }

    /// Starts an STK top-up through the public portal endpoint.
    pub async fn topup(&self, account: &str, amount_kes: Option<u64>) -> (u16, Value) {
        let mut body = json!({"account": account});
        if let Some(a) = amount_kes {
            body["amount_kes"] = json!(a);
        }
        let r = self
            .http
            .post(format!("{}/api/p/{}/topup", self.base, self.realm))
            .json(&body)
            .send()
            .await
            .expect("topup");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// The public status of an STK top-up.
    pub async fn topup_status(&self, checkout_request_id: &str) -> (u16, Value) {
        let url = format!("{}/api/p/{}/topup/{}", self.base, self.realm, checkout_request_id);
        let r = self.http.get(url).send().await.expect("topup status");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Fires the platform's scheduled pass (sweep + expiry for every tenant): the cron trigger
    /// through wrangler's local scheduled endpoint on a Worker, `POST /internal/scheduled` on Spin
    /// (`KONNEKTED_EDGE=spin`), the host's ticker natively.
    pub async fn fire_scheduled(&self) {
        match &self._host {
            Some((running, _)) => {
                konnekted_core::run_scheduled(&running.platform, &konnekted::server::ctx()).await;
            }
            // Spin has no cron: its adapter runs the pass at POST /internal/scheduled.
            None if std::env::var("KONNEKTED_EDGE").is_ok_and(|v| v == "spin") => {
                let r = self
                    .http
                    .post(self.url("/internal/scheduled"))
                    .bearer_auth(&self.platform_token)
                    .send()
                    .await
                    .expect("scheduled");
                assert!(r.status().is_success(), "scheduled pass: {}", r.status());
            }
            None => {
                let r = self.http.get(self.url("/__scheduled?cron=*/5+*+*+*+*")).send().await.expect("scheduled");
                assert!(r.status().is_success(), "scheduled trigger: {}", r.status());
            }
        }
    }

    /// Runs the scheduled pass as if it were `now` (native host only: a Worker's clock cannot be
    /// moved). Returns false, doing nothing, against a remote deployment.
    pub async fn fire_scheduled_at(&self, now: chrono::DateTime<chrono::Utc>) -> bool {
        match &self._host {
            Some((running, _)) => {
                let ctx = konnekted_core::Ctx { now, ..konnekted::server::ctx() };
                konnekted_core::run_scheduled(&running.platform, &ctx).await;
                true
            }
            None => false,
        }
    }

    /// [`Env::fire_scheduled_at`], also on a Worker under `wrangler dev --test-scheduled`: there
    /// through miniflare's trigger with the event's `scheduledTime` set to `now` (the Worker runs
    /// its pass at that time). A Worker's pass serves every tenant of the deployment, so this moves
    /// the clock for all of them: only for a test that holds the deployment's passes to itself
    /// (tests/tests/sms.rs does). Returns false, doing nothing, on Spin, whose pass takes the
    /// host's clock.
    pub async fn fire_scheduled_as_of(&self, now: chrono::DateTime<chrono::Utc>) -> bool {
        if self._host.is_some() {
            return self.fire_scheduled_at(now).await;
        }
        if std::env::var("KONNEKTED_EDGE").is_ok_and(|v| v == "spin") {
            return false;
        }
        let url = self.url(&format!("/cdn-cgi/local/scheduled?cron=*/5+*+*+*+*&time={}", now.timestamp_millis()));
        let r = self.http.get(url).send().await.expect("scheduled");
        assert!(r.status().is_success(), "scheduled trigger: {}", r.status());
        true
    }

    /// Sends `req` to the native host's core as if it were `now` (the host's clock moved, as
    /// [`Env::fire_scheduled_at`] does), from 127.0.0.1. `None`, doing nothing, against a remote
    /// deployment, whose clock cannot be moved.
    pub async fn request_at(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        mut req: http::Request<bytes::Bytes>,
    ) -> Option<http::Response<bytes::Bytes>> {
        let (running, _) = self._host.as_ref()?;
        req.extensions_mut().insert(konnekted_core::ClientIp("127.0.0.1".into()));
        let ctx = konnekted_core::Ctx { now, ..konnekted::server::ctx() };
        Some(konnekted_core::handle(&running.platform, req, &ctx).await)
    }

    /// Stops the native host: its port refuses connections and open ones are closed. False,
    /// doing nothing, against a remote deployment.
    pub fn stop_host(&self) -> bool {
        match &self._host {
            Some((running, _)) => {
                running.stop();
                true
            }
            None => false,
        }
    }

    /// The native host's address (`None` against a remote deployment).
    pub fn host_addr(&self) -> Option<std::net::SocketAddr> {
        self._host.as_ref().map(|(running, _)| running.addr)
    }

    /// The SQLite file of this tenant's database, for a test that writes rows straight into it
    /// (as the benches do): the native host's `tenants/<db_key>.sqlite`; on a Worker under
    /// `wrangler dev`, the local D1 database's file under the folder `--persist-to` names
    /// (`KONNEKTED_D1_STATE`, which scripts/edge-dev.sh exports): the one whose `staff_users`
    /// holds `login` (a local D1 file's name is a hash of the database's id). `None` on Spin or
    /// without `KONNEKTED_D1_STATE`.
    pub fn tenant_db_file(&self, login: &str) -> Option<std::path::PathBuf> {
        if let Some((_, dir)) = &self._host {
            return Some(dir.0.join("tenants").join(format!("{}.sqlite", self.realm.replace('.', "_"))));
        }
        if std::env::var("KONNEKTED_EDGE").is_ok_and(|v| v == "spin") {
            return None;
        }
        let state = std::path::PathBuf::from(std::env::var_os("KONNEKTED_D1_STATE")?);
        konnekted::sqlite::local_d1_file(&state, login)
    }

    /// Polls `f` until it returns Some, for up to `secs` seconds (waiting for a simulator callback).
    pub async fn wait_for<T, F, Fut>(&self, secs: u64, mut f: F) -> Option<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(v) = f().await {
                return Some(v);
            }
            if tokio::time::Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The first word of `text` that is a 6-digit code (a trailing full stop dropped).
pub fn code_in(text: &str) -> Option<String> {
    text.split_whitespace()
        .map(|w| w.trim_end_matches('.'))
        .find(|w| w.len() == 6 && w.chars().all(|c| c.is_ascii_digit()))
        .map(str::to_owned)
}

/// A client for the server-rendered pages: redirects are answers to read, not to follow.
pub fn pages_client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

/// An STK success callback body as Daraja sends it.
pub fn stk_success_body(checkout_request_id: &str, amount: &str, receipt: &str, phone: &str) -> String {
    format!(
        r#"{{"Body":{{"stkCallback":{{"MerchantRequestID":"29115-34620561-1","CheckoutRequestID":"{checkout_request_id}","ResultCode":0,"ResultDesc":"The service request is processed successfully.","CallbackMetadata":{{"Item":[{{"Name":"Amount","Value":{amount}}},{{"Name":"MpesaReceiptNumber","Value":"{receipt}"}},{{"Name":"TransactionDate","Value":20261127102115}},{{"Name":"PhoneNumber","Value":{phone}}}]}}}}}}}}"#
    )
}

/// A C2B confirmation body as Daraja sends it.
pub fn c2b_body(trans_id: &str, amount: &str, bill_ref: &str, msisdn: &str) -> String {
    format!(
        r#"{{"TransactionType":"Pay Bill","TransID":"{trans_id}","TransTime":"20261127121325","TransAmount":"{amount}","BusinessShortCode":"174379","BillRefNumber":"{bill_ref}","InvoiceNumber":"","OrgAccountBalance":"25.00","ThirdPartyTransID":"","MSISDN":"{msisdn}","FirstName":"JANE","MiddleName":"","LastName":"DOE"}}"#
    )
}

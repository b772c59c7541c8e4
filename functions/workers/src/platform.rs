//! [`Platform`] on Cloudflare Workers: D1 bindings, `fetch`, vars and secrets, `console`.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;

use bytes::Bytes;
use konnekted_core::db::StoreError;
use konnekted_core::migrations::{self, CONTROL, TENANT};
use konnekted_core::platform::{FetchError, Level, Platform, Settings};
use konnekted_core::secret::Secret;
use worker::{Env, Fetch, Headers, Method, Request, RequestInit, console_error, console_log, console_warn};

use crate::d1::D1Db;

/// The control database's binding.
pub const CONTROL_BINDING: &str = "CONTROL";

thread_local! {
    // One isolate = one thread: these remember what this isolate already migrated.
    static CONTROL_READY: Cell<bool> = const { Cell::new(false) };
    static TENANTS_READY: RefCell<HashSet<String>> = RefCell::new(HashSet::new());
}

/// The D1 binding of a tenant's billing database: `T_` + db_key in upper case, `-` and `.` as `_`.
pub fn tenant_binding(db_key: &str) -> String {
    let key: String = db_key.chars().map(|c| if c == '-' || c == '.' { '_' } else { c.to_ascii_uppercase() }).collect();
    format!("T_{key}")
}

pub struct WorkerPlatform {
    env: Env,
    settings: Settings,
    control: D1Db,
}

fn string_binding(env: &Env, name: &str) -> Option<String> {
    env.secret(name).map(|s| s.to_string()).or_else(|_| env.var(name).map(|v| v.to_string())).ok()
}

impl WorkerPlatform {
    /// Reads settings and the control binding. Fails only if `CONTROL` is missing.
    pub fn new(env: Env) -> Result<Self, StoreError> {
        let control = env
            .d1(CONTROL_BINDING)
            .map_err(|_| StoreError::Unavailable(format!("no D1 binding {CONTROL_BINDING} in wrangler.toml")))?;
        let settings = Settings {
            public_base_url: string_binding(&env, "PUBLIC_BASE_URL")
                .unwrap_or_default()
                .trim_end_matches('/')
                .to_owned(),
            platform_token: Secret::new(string_binding(&env, "PLATFORM_TOKEN").unwrap_or_default()),
            voucher_secret: Secret::new(string_binding(&env, "VOUCHER_SECRET").unwrap_or_default()),
        };
        Ok(WorkerPlatform { env, settings, control: D1Db::new(control) })
    }

    /// Applies the control migrations once per isolate.
    pub async fn ensure_control(&self) -> Result<(), StoreError> {
        if CONTROL_READY.with(Cell::get) {
            return Ok(());
        }
        migrations::migrate(&self.control, CONTROL).await?;
        CONTROL_READY.with(|c| c.set(true));
        Ok(())
    }

    fn binding(&self, db_key: &str) -> Result<D1Db, StoreError> {
        let name = tenant_binding(db_key);
        self.env.d1(&name).map(D1Db::new).map_err(|_| {
            StoreError::Unavailable(format!(
                "no D1 binding {name} for tenant database {db_key}: add the D1 binding first: \
                 konnekted tenant add --workers (scripts/edge-tenant-add.sh), then redeploy"
            ))
        })
    }
}

impl Platform for WorkerPlatform {
    type Db = D1Db;

    fn settings(&self) -> &Settings {
        &self.settings
    }

    fn control(&self) -> &D1Db {
        &self.control
    }

    async fn tenant_db(&self, db_key: &str) -> Result<D1Db, StoreError> {
        let db = self.binding(db_key)?;
        // Tenant migrations added after a tenant was created are applied on its first use here.
        if !TENANTS_READY.with(|t| t.borrow().contains(db_key)) {
            migrations::migrate(&db, TENANT).await?;
            TENANTS_READY.with(|t| t.borrow_mut().insert(db_key.to_owned()));
        }
        Ok(db)
    }

    async fn create_tenant_db(&self, db_key: &str) -> Result<D1Db, StoreError> {
        // D1 databases are provisioned out of band (wrangler.toml binding + `wrangler d1 create`).
        self.binding(db_key)
    }

    async fn fetch(&self, req: http::Request<Bytes>) -> Result<http::Response<Bytes>, FetchError> {
        let err = |e: worker::Error| FetchError(e.to_string());
        let (parts, body) = req.into_parts();
        let headers = Headers::new();
        for (name, value) in &parts.headers {
            let value = value.to_str().map_err(|_| FetchError(format!("header {name} is not ASCII")))?;
            headers.append(name.as_str(), value).map_err(err)?;
        }
        let mut init = RequestInit::new();
        init.with_method(Method::from(parts.method.as_str().to_owned())).with_headers(headers);
        if !body.is_empty() {
            let arr = js_sys::Uint8Array::new_with_length(body.len() as u32);
            arr.copy_from(&body);
            init.with_body(Some(arr.into()));
        }
        let request = Request::new_with_init(&parts.uri.to_string(), &init).map_err(err)?;
        let mut resp = Fetch::Request(request).send().await.map_err(err)?;
        let bytes = resp.bytes().await.map_err(err)?;
        let mut out = http::Response::builder().status(resp.status_code());
        for (name, value) in resp.headers().entries() {
            out = out.header(name, value);
        }
        out.body(Bytes::from(bytes)).map_err(|e| FetchError(e.to_string()))
    }

    fn log(&self, level: Level, message: &str) {
        match level {
            Level::Info => console_log!("{message}"),
            Level::Warn => console_warn!("{message}"),
            Level::Error => console_error!("{message}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_binding_is_upper_case_with_underscores() {
        assert_eq!(tenant_binding("e2e-t01"), "T_E2E_T01");
        assert_eq!(tenant_binding("demo"), "T_DEMO");
        assert_eq!(tenant_binding("isp_co_ke"), "T_ISP_CO_KE");
    }
}

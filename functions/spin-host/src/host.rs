//! The HTTP trigger: routes each request to its component by `spin.toml`, instantiates the
//! component in a fresh store (one instance per request, as Spin does), and runs
//! `wasi:http/handler@0.3.0` with WASI 0.2 + 0.3, `wasi:http` 0.3 (outbound requests checked
//! against the component's `allowed_outbound_hosts`), `spin:sqlite` and `spin:variables`.

use crate::config::{RuntimeConfig, resolve_variables};
use crate::manifest::Manifest;
use crate::outbound::AllowedHosts;
use crate::spin::{Grants, SpinCtx, SpinView};
use anyhow::{Context as _, anyhow};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::p3::Request as WasiRequest;
use wasmtime_wasi_http::p3::bindings::ServicePre;
use wasmtime_wasi_http::{
    Error as HttpError, RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView,
};

/// Outbound `wasi:http` for one component: only to its allowed hosts.
pub struct Hooks {
    allowed: Arc<AllowedHosts>,
    component: Arc<str>,
}

impl Hooks {
    pub fn new(allowed: Arc<AllowedHosts>, component: &str) -> Hooks {
        Hooks { allowed, component: Arc::from(component) }
    }
}

type SendResult = Result<(http::Response<WasiBody>, Box<dyn Future<Output = Result<(), HttpError>> + Send>), HttpError>;

impl WasiHttpHooks for Hooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        _ = fut;
        if !self.allowed.allows_uri(request.uri()) {
            tracing::warn!(component = %self.component, uri = %request.uri(), "outbound request denied: host not in allowed_outbound_hosts");
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }
        Box::new(async move {
            let (res, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((res.map(http_body_util::BodyExt::boxed_unsync), Box::new(io) as Box<dyn Future<Output = _> + Send>))
        })
    }
}

pub struct Ctx {
    table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: Hooks,
    spin: SpinCtx,
}

impl WasiView for Ctx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for Ctx {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.hooks }
    }
}

fn spin_view(c: &mut Ctx) -> SpinView<'_> {
    SpinView { table: &mut c.table, ctx: &mut c.spin }
}

struct Loaded {
    pre: ServicePre<Ctx>,
    grants: Arc<Grants>,
    outbound: Arc<AllowedHosts>,
    environment: Vec<(String, String)>,
    id: Arc<str>,
}

/// How to start: the manifest, the runtime config, and test-only outbound grants.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub manifest: PathBuf,
    pub runtime_config: Option<PathBuf>,
    /// `(component, host pattern)` added to that component's `allowed_outbound_hosts` (for
    /// simulators on loopback in tests; a deployment uses the manifest as written).
    pub extra_outbound: Vec<(String, String)>,
}

/// A loaded application: every component compiled and pre-linked.
pub struct App {
    manifest: Manifest,
    components: HashMap<String, Loaded>,
    engine: Engine,
}

impl App {
    pub fn load(opts: &Options, env: impl Fn(&str) -> Option<String>) -> anyhow::Result<App> {
        let manifest = Manifest::load(&opts.manifest)?;
        let runtime = match &opts.runtime_config {
            Some(p) => RuntimeConfig::load(p)?,
            None => RuntimeConfig::default(),
        };
        runtime.check(&manifest)?;
        let mut variables = resolve_variables(&manifest, env)?;
        let mut config = Config::new();
        config.wasm_component_model_async(true);
        // Compiled code is cached on disk (wasmtime's default cache directory), so a restart with
        // the same wasm skips the compile; without a usable cache it compiles every time.
        match wasmtime::Cache::from_file(None) {
            Ok(cache) => {
                config.cache(Some(cache));
            }
            Err(e) => tracing::warn!("no compilation cache: {e}"),
        }
        let engine = Engine::new(&config).map_err(|e| anyhow!("{e:?}"))?;
        let mut linker: Linker<Ctx> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| anyhow!("{e:?}"))?;
        wasmtime_wasi::p3::add_to_linker(&mut linker).map_err(|e| anyhow!("{e:?}"))?;
        wasmtime_wasi_http::p3::add_to_linker(&mut linker).map_err(|e| anyhow!("{e:?}"))?;
        crate::spin::add_to_linker(&mut linker, spin_view).map_err(|e| anyhow!("{e:?}"))?;

        let mut compiled: HashMap<PathBuf, Component> = HashMap::new();
        let mut components = HashMap::new();
        for (id, c) in &manifest.components {
            let component = match compiled.get(&c.source) {
                Some(k) => k.clone(),
                None => {
                    let k = Component::from_file(&engine, &c.source)
                        .map_err(|e| anyhow!("{e:?}"))
                        .with_context(|| format!("component {id:?}: loading {}", c.source.display()))?;
                    compiled.insert(c.source.clone(), k.clone());
                    k
                }
            };
            let pre = linker
                .instantiate_pre(&component)
                .map_err(|e| anyhow!("{e:?}"))
                .with_context(|| format!("component {id:?}: linking"))?;
            let pre =
                ServicePre::new(pre).map_err(|e| anyhow!("{e:?}")).with_context(|| format!("component {id:?}"))?;
            let mut outbound = c.allowed_outbound_hosts.clone();
            for (cid, pattern) in &opts.extra_outbound {
                if cid == id {
                    outbound.extend(AllowedHosts::parse(&[pattern])?);
                }
            }
            let sqlite = c.sqlite_databases.iter().map(|l| (l.clone(), runtime.sqlite[l].clone())).collect();
            let grants = Grants { sqlite, variables: variables.remove(id).unwrap_or_default() };
            components.insert(
                id.clone(),
                Loaded {
                    pre,
                    grants: Arc::new(grants),
                    outbound: Arc::new(outbound),
                    environment: c.environment.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                    id: Arc::from(id.as_str()),
                },
            );
        }
        for (cid, _) in &opts.extra_outbound {
            if !manifest.components.contains_key(cid) {
                anyhow::bail!("--allow-outbound names component {cid:?}, which the manifest does not define");
            }
        }
        Ok(App { manifest, components, engine })
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Handles one request: 404 when no route matches (as Spin), 500 when the component traps
    /// or fails.
    pub async fn handle<B>(&self, req: http::Request<B>, client: SocketAddr) -> http::Response<Full<Bytes>>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<HttpError>,
    {
        let path = req.uri().path().to_string();
        let Some((trigger, m)) = self.manifest.route(&path) else {
            return plain(http::StatusCode::NOT_FOUND, "Not Found");
        };
        let loaded = &self.components[&trigger.component];
        match self.call(loaded, trigger.route.as_str(), trigger.route.component_route(), m, req, client).await {
            Ok(res) => res,
            Err(e) => {
                tracing::error!(component = %loaded.id, path, "component failed: {e:#}");
                plain(http::StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
            }
        }
    }

    async fn call<B>(
        &self,
        loaded: &Loaded,
        raw_route: &str,
        component_route: &str,
        m: crate::routes::Match,
        req: http::Request<B>,
        client: SocketAddr,
    ) -> anyhow::Result<http::Response<Full<Bytes>>>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<HttpError>,
    {
        let (mut parts, body) = req.into_parts();
        let authority = parts
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_string)
            .unwrap_or_else(|| "localhost".to_string());
        let pq = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/").to_string();
        let full = format!("http://{authority}{pq}");
        parts.uri = full.parse().context("request URI")?;
        let h = &mut parts.headers;
        let mut set = |k: &str, v: &str| {
            if let (Ok(k), Ok(v)) = (http::HeaderName::try_from(k), http::HeaderValue::try_from(v)) {
                h.insert(k, v);
            }
        };
        set("spin-full-url", &full);
        set("spin-path-info", &m.path_info);
        set("spin-matched-route", raw_route);
        set("spin-raw-component-route", raw_route);
        set("spin-component-route", component_route);
        set("spin-base-path", "/");
        set("spin-client-addr", &client.to_string());
        for (k, v) in &m.params {
            set(&format!("spin-path-match-{k}"), v);
        }
        let req = http::Request::from_parts(parts, body);

        let mut wasi = WasiCtxBuilder::new();
        wasi.inherit_stdout().inherit_stderr();
        for (k, v) in &loaded.environment {
            wasi.env(k, v);
        }
        let ctx = Ctx {
            table: ResourceTable::new(),
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            hooks: Hooks { allowed: loaded.outbound.clone(), component: loaded.id.clone() },
            spin: SpinCtx { grants: loaded.grants.clone() },
        };
        let mut store = Store::new(&self.engine, ctx);
        let service = loaded.pre.instantiate_async(&mut store).await.map_err(|e| anyhow!("{e:?}"))?;
        let (wreq, io) = WasiRequest::from_http(&mut store.data_mut().hooks, req);
        let out = store
            .run_concurrent(async |store| {
                let (res, ()) = tokio::try_join!(
                    async {
                        let res = match service.handle(store, wreq).await? {
                            Ok(res) => res,
                            Err(code) => return Err(wasmtime::format_err!("handler returned error code {code:?}")),
                        };
                        let res = store.with(|store| res.into_http(store, async { Ok(()) }))?;
                        let (parts, body) = res.into_parts();
                        let body = body.collect().await.map_err(|e| wasmtime::format_err!("response body: {e:?}"))?;
                        Ok(http::Response::from_parts(parts, Full::new(body.to_bytes())))
                    },
                    async { io.await.map_err(|e| wasmtime::format_err!("request body: {e:?}")) }
                )?;
                wasmtime::Result::<_>::Ok(res)
            })
            .await
            .map_err(|e| anyhow!("{e:?}"))?
            .map_err(|e| anyhow!("{e:?}"))?;
        Ok(out)
    }
}

fn plain(status: http::StatusCode, text: &'static str) -> http::Response<Full<Bytes>> {
    let mut r = http::Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *r.status_mut() = status;
    r
}

/// Serves `app` on `listener` until the process ends.
pub async fn serve(app: Arc<App>, listener: tokio::net::TcpListener) -> anyhow::Result<()> {
    loop {
        let (stream, client) = listener.accept().await?;
        let app = app.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                let app = app.clone();
                async move { Ok::<_, std::convert::Infallible>(app.handle(req, client).await) }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            if let Err(e) = hyper::server::conn::http1::Builder::new().serve_connection(io, svc).await {
                tracing::debug!("connection from {client}: {e}");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The enforcement point every outbound `wasi:http` request of a component goes through:
    /// `admin` (no outbound host in spin.toml) is denied Daraja before any connection is tried.
    #[tokio::test]
    async fn outbound_request_to_a_host_not_granted_is_denied() {
        let m = Manifest::load(&std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../spin.toml")).unwrap();
        let mut hooks = Hooks::new(Arc::new(m.components["admin"].allowed_outbound_hosts.clone()), "admin");
        for url in [
            "https://api.safaricom.co.ke/oauth/v1/generate",
            "https://sandbox.safaricom.co.ke/mpesa/stkpush/v1/processrequest",
            "http://127.0.0.1:9/x",
        ] {
            let body = http_body_util::Empty::<Bytes>::new().map_err(|never| match never {}).boxed_unsync();
            let req = http::Request::builder().uri(url).body(body).unwrap();
            let fut = Box::into_pin(hooks.send_request(req, None, Box::new(async { Ok(()) })));
            match fut.await {
                Err(HttpError::HttpRequestDenied) => {}
                Err(e) => panic!("{url}: expected HttpRequestDenied, got {e:?}"),
                Ok(_) => panic!("{url}: admin reached a host it was not granted"),
            }
        }
    }
}

//! `konnekted-reconciler bench`: figures for the README, never a test (built with the
//! `bench` feature only; the configs and the synthetic state below are also the tests' fixtures).
//!
//! * One router with 10,000 subscribers at simulated RTT 0, 20 and 80 ms: cold sync,
//!   no-op pass, fixing 1 % drift; pipelined (window 64) against one command at a time
//!   (the sequential baseline is run on fewer subscribers and extrapolated per change).
//! * Peak RSS (`VmHWM`) of this process reconciling 100 routers x 1,000 subscribers at
//!   once.
//!
//! Simulated routers run in a child process (`__sim-farm`), so the memory and CPU time
//! printed are the reconciler's own; wall times include the simulator's work.

use crate::config::{QueueTypes, RouterConfig, Secret, SecretNaming, SuspendPolicy, TenantConfig};
use crate::edge::{DesiredState, Plan, Status, Subscriber};

#[cfg(feature = "bench")]
mod run;
#[cfg(feature = "bench")]
pub use run::{SIM_FARM, cpu_time, memory, memory_sized, peak_rss_kib, run, sim_farm, sync_pass};

/// A tenant config for benches and tests (no RADIUS, no garden).
pub fn bench_tenant(realm: &str) -> TenantConfig {
    TenantConfig {
        realm: realm.to_owned(),
        edge_url: "http://127.0.0.1:1".to_owned(),
        sync_key: Secret::new("k"),
        suspend_policy: SuspendPolicy::Disable,
        secret_naming: SecretNaming::Qualified,
        radius: None,
        walled_garden: None,
    }
}

/// A router config pointing at `addr`, built-in PCQ types.
pub fn bench_router(name: &str, realm: &str, addr: std::net::SocketAddr, window: usize) -> RouterConfig {
    RouterConfig {
        name: name.to_owned(),
        tenant: realm.to_owned(),
        address: addr.ip().to_string(),
        port: addr.port(),
        tls: None,
        username: "admin".to_owned(),
        password: Secret::new("x"),
        sites: Default::default(),
        queue_types: QueueTypes::Builtin,
        queue_parent: "global".to_owned(),
        window,
    }
}

/// `n` subscribers over 10 plans; every 20th suspended with a static address.
pub fn synthetic_state(realm: &str, n: usize) -> DesiredState {
    let plans: Vec<Plan> = (0..10)
        .map(|i| Plan {
            code: format!("p{i}"),
            name: format!("Plan {i}"),
            kind: "pppoe".into(),
            down_kbps: 5_000 * (i + 1),
            up_kbps: 1_000 * (i + 1),
            rate_limit: format!("{}M/{}M", i + 1, 5 * (i + 1)),
            idle_timeout_seconds: None,
        })
        .collect();
    let subscribers = (0..n)
        .map(|i| {
            let suspended = i % 20 == 7;
            Subscriber {
                id: format!("s{i:06}"),
                username: format!("user{i}"),
                password: format!("pw{i:x}"),
                plan: format!("p{}", i % 10),
                status: if suspended { Status::Suspended } else { Status::Active },
                static_ip: suspended.then(|| format!("10.{}.{}.{}", 64 + i / 65536, (i / 256) % 256, i % 256)),
                site: None,
                expires_at: None,
            }
        })
        .collect();
    DesiredState {
        realm: realm.to_owned(),
        generated_at: String::new(),
        cursor: 0,
        plans,
        subscribers,
        vouchers: Vec::new(),
        disable_confirmations: Vec::new(),
    }
}

//! `konnekted-bench callbacks`: M-Pesa callbacks through the native host over loopback HTTP,
//! side by side with raw SQLite transactions writing the same rows.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use daraja_sim::{DarajaSim, Outcome, Script, SimConfig};
use konnekted_core::db::{Db, Statement};
use konnekted_core::migrations;
use konnekted_core::stmt;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use konnekted::sqlite::SqliteDb;

/// Options of `konnekted-bench callbacks`.
#[derive(Debug, clap::Args)]
pub struct CallbackOpts {
    /// Callbacks to send.
    #[arg(long, default_value_t = 6000)]
    pub n: usize,
    /// Tenants they are spread over.
    #[arg(long, default_value_t = 4)]
    pub tenants: usize,
    /// Callbacks in flight.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Share of callbacks delivered twice (0..1).
    #[arg(long = "dup", default_value_t = 0.3)]
    pub dup_share: f64,
    /// Subscribers per tenant.
    #[arg(long, default_value_t = 200)]
    pub subscribers: usize,
    /// Every callback of a tenant goes to its first subscriber (the contention shape).
    #[arg(long = "same-subscriber")]
    pub hot: bool,
    /// The plan costs what one callback pays (KES 50), so every callback buys a paid period
    /// (and, with the summaries built, writes the dashboard's summaries too).
    #[arg(long)]
    pub renewing: bool,
    /// Leave the tenants' dashboard summaries unbuilt: the crediting batch's summary
    /// statements then find no built summaries and write nothing (the cost without them).
    #[arg(long)]
    pub without_summaries: bool,
    /// Drop the collections_daily triggers (tenant migration 0022) after setup: the cost
    /// without the collections summary.
    #[arg(long)]
    pub without_collections: bool,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
}

/// CPU time (user + system) the process has used so far.
fn cpu_time(pid: u32) -> Option<Duration> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // fields after the parenthesised command name; utime and stime are the 12th and 13th of them
    let rest = s.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10)) // USER_HZ = 100 on Linux
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

struct Call {
    url: String,
    /// `None`: a GET (the `/health` floor).
    body: Option<String>,
}

/// The one request loop of these benches: `concurrency` clients take indexes from `order` and
/// send the request `request` builds for each; the sorted latencies, how many were not answered
/// 200, and the wall time.
async fn drive<F>(
    http: &reqwest::Client,
    order: Vec<usize>,
    concurrency: usize,
    request: F,
) -> anyhow::Result<(Vec<Duration>, usize, Duration)>
where
    F: Fn(&reqwest::Client, usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let request = std::sync::Arc::new(request);
    let queue = std::sync::Arc::new(std::sync::Mutex::new(order));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (http, queue, request) = (http.clone(), queue.clone(), request.clone());
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0usize;
            loop {
                let next = queue.lock().ok().and_then(|mut q| q.pop());
                let Some(i) = next else { break };
                let t = Instant::now();
                match request(&http, i).send().await {
                    Ok(r) if r.status() == 200 => {
                        let _ = r.bytes().await;
                    }
                    _ => errors += 1,
                }
                lat.push(t.elapsed());
            }
            (lat, errors)
        }));
    }
    let mut lat = Vec::new();
    let mut errors = 0;
    for w in workers {
        let (l, e) = w.await?;
        lat.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed();
    lat.sort();
    Ok((lat, errors, elapsed))
}

/// The request for one prepared call: a JSON POST, or a GET (the `/health` floor).
fn send_call(calls: std::sync::Arc<Vec<Call>>) -> impl Fn(&reqwest::Client, usize) -> reqwest::RequestBuilder {
    move |http, i| {
        let c = &calls[i];
        match &c.body {
            Some(b) => http.post(&c.url).header("content-type", "application/json").body(b.clone()),
            None => http.get(&c.url),
        }
    }
}

pub async fn callbacks(o: CallbackOpts) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("konnekted-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let token = "bench-platform-token";
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .args(["serve", "--data", &dir.join("host").to_string_lossy(), "--listen", &format!("127.0.0.1:{port}")])
        .env("KONNEKTED_PLATFORM_TOKEN", token)
        .env("KONNEKTED_TICK_SECONDS", "3600")
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .context("starting the host")?;
    let pid = child.id().context("host pid")?;
    let http = reqwest::Client::builder().pool_max_idle_per_host(o.concurrency).build()?;
    for _ in 0..100 {
        if http.get(format!("{base}/health")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let mut sim_config =
        SimConfig::default().default_script(Script::new(Outcome::NoCallback).delay(Duration::from_secs(3600)));
    sim_config.lock_subscriber = false;
    let sim = DarajaSim::spawn(sim_config).await?;
    let unique = ((o.n as f64) / (1.0 + o.dup_share)).round() as usize;
    let per_tenant = unique.div_ceil(o.tenants);
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let mut uniques: Vec<Call> = Vec::with_capacity(unique);
    let mut accounts: HashMap<String, Vec<String>> = HashMap::new();
    eprintln!(
        "setup: {} tenants x {} subscribers, {} unique callbacks (half STK, half Paybill)",
        o.tenants, o.subscribers, unique
    );
    let setup = Instant::now();
    for t in 0..o.tenants {
        let realm = format!("bench{t}");
        let cb = format!("cbtoken{t:04}");
        let admin = format!("admin{t}");
        // The bench starts every prompt from one address without signing in: lift the tenant's
        // anonymous-prompt limits (they guard real subscribers' phones, not a benchmark).
        let body = json!({"realm": realm, "name": realm, "admin_token": admin, "callback_token": cb,
            "settings": {"stk_prompts_per_account_hour": 1_000_000, "stk_prompts_per_ip_hour": 1_000_000},
            "daraja": {"environment": sim.base_url(), "consumer_key": daraja_sim::DEFAULT_CONSUMER_KEY,
                       "consumer_secret": daraja_sim::DEFAULT_CONSUMER_SECRET, "passkey": daraja_sim::SANDBOX_PASSKEY,
                       "shortcode": daraja_sim::SANDBOX_SHORTCODE}});
        let r = http.post(format!("{base}/api/tenants")).bearer_auth(token).json(&body).send().await?;
        if r.status() != 201 {
            bail!("create tenant: {}", r.text().await?);
        }
        let admin_url = format!("{base}/api/t/{realm}");
        http.post(format!("{admin_url}/plans"))
            .bearer_auth(&admin)
            .json(&json!({"code":"home","name":"Home","price_cents": if o.renewing { 5_000 } else { 100_000 },
                          "period_seconds":2_592_000,"down_kbps":10_000,"up_kbps":2_000}))
            .send()
            .await?
            .error_for_status()?;
        let accts = accounts.entry(realm.clone()).or_default();
        for s in 0..o.subscribers {
            let acct = format!("A{t}{s:05}");
            http.post(format!("{admin_url}/subscribers"))
                .bearer_auth(&admin)
                .json(&json!({"name": format!("Sub {s}"), "plan": "home", "account_no": acct, "phone": format!("07{:08}", t * 100_000 + s)}))
                .send()
                .await?
                .error_for_status()?;
            accts.push(acct);
        }
        let hooks = format!("{base}/hooks/{realm}/{cb}");
        for i in 0..per_tenant {
            let acct = if o.hot { &accts[0] } else { &accts[rng.gen_range(0..accts.len())] };
            if i % 2 == 0 {
                let v: Value = http
                    .post(format!("{base}/api/p/{realm}/topup"))
                    .json(&json!({"account": acct, "amount_kes": 50}))
                    .send()
                    .await?
                    .json()
                    .await?;
                let id = v["checkout_request_id"].as_str().context("topup answer")?.to_owned();
                let body = format!(
                    r#"{{"Body":{{"stkCallback":{{"MerchantRequestID":"m","CheckoutRequestID":"{id}","ResultCode":0,"ResultDesc":"ok","CallbackMetadata":{{"Item":[{{"Name":"Amount","Value":50.00}},{{"Name":"MpesaReceiptNumber","Value":"S{t}{i:08}"}},{{"Name":"PhoneNumber","Value":254700000000}}]}}}}}}}}"#
                );
                uniques.push(Call { url: format!("{hooks}/stk"), body: Some(body) });
            } else {
                let body = format!(
                    r#"{{"TransactionType":"Pay Bill","TransID":"C{t}{i:08}","TransTime":"20261127121325","TransAmount":"50.00","BusinessShortCode":"174379","BillRefNumber":"{acct}","InvoiceNumber":"","OrgAccountBalance":"","ThirdPartyTransID":"","MSISDN":"254700000000","FirstName":"A","MiddleName":"","LastName":""}}"#
                );
                uniques.push(Call { url: format!("{hooks}/c2b/confirm"), body: Some(body) });
            }
        }
    }
    // The dashboard's summaries, built as the scheduled pass builds them (then every crediting
    // batch keeps them), unless the run is the one without them.
    if !o.without_summaries {
        let grace = konnekted_core::store::tenants::TenantSettings::default().grace_seconds;
        for t in 0..o.tenants {
            let db = SqliteDb::open(&dir.join("host").join("tenants").join(format!("bench{t}.sqlite"))).await?;
            konnekted_core::store::summaries::ensure_built(&db, grace, chrono::Utc::now()).await?;
        }
    }
    // The collections per channel per day (tenant migration 0022) are kept by triggers on
    // `payments`; the run without them drops the triggers (the table stays, and stays empty).
    if o.without_collections {
        for t in 0..o.tenants {
            let db = SqliteDb::open(&dir.join("host").join("tenants").join(format!("bench{t}.sqlite"))).await?;
            let drops: Vec<Statement> = ["in", "out", "moved_in", "gone"]
                .iter()
                .map(|w| Statement::new(format!("DROP TRIGGER collections_payment_{w}")))
                .collect();
            db.batch(&drops).await?;
        }
    }
    eprintln!("setup took {:.1}s", setup.elapsed().as_secs_f64());
    let mut order: Vec<usize> = (0..uniques.len()).collect();
    let dups = o.n.saturating_sub(uniques.len());
    for _ in 0..dups {
        order.push(rng.gen_range(0..uniques.len()));
    }
    order.shuffle(&mut rng);
    let rss_before = vm_hwm_kib(pid).unwrap_or(0);

    // The floor: the same client, concurrency and request count against `/health` (HTTP and
    // the core's router, no storage), on the same host, just before the callbacks.
    let floor_calls = std::sync::Arc::new(vec![Call { url: format!("{base}/health"), body: None }]);
    let cpu0 = cpu_time(pid).unwrap_or_default();
    let (floor_lat, floor_errors, floor_elapsed) =
        drive(&http, vec![0; o.n], o.concurrency, send_call(floor_calls)).await?;
    let cpu1 = cpu_time(pid).unwrap_or_default();
    let floor_rate = floor_lat.len() as f64 / floor_elapsed.as_secs_f64();

    // Host run.
    let uniques = std::sync::Arc::new(uniques);
    let (lat, errors, elapsed) = drive(&http, order, o.concurrency, send_call(uniques.clone())).await?;
    let cpu2 = cpu_time(pid).unwrap_or_default();
    let per = |d: Duration, n: usize| d.as_secs_f64() * 1e6 / n.max(1) as f64;
    let host_cpu_per_callback = per(cpu2.saturating_sub(cpu1), lat.len());
    let host_cpu_per_health = per(cpu1.saturating_sub(cpu0), o.n);
    let host_rate = lat.len() as f64 / elapsed.as_secs_f64();
    let rss_peak = vm_hwm_kib(pid).unwrap_or(0);

    child.kill().await.ok();
    // Correctness: exactly one payment per unique callback (read straight from the tenant files).
    let mut payments = 0usize;
    let (mut periods, mut summary_rows, mut collections) = (0i64, 0i64, 0i64);
    for t in 0..o.tenants {
        let db = SqliteDb::open(&dir.join("host").join("tenants").join(format!("bench{t}.sqlite"))).await?;
        let rows = db.query(&stmt!("SELECT COUNT(*) AS n FROM payments")).await?;
        payments += rows.first().map(|r| r.int("n")).transpose()?.unwrap_or(0) as usize;
        let rows = db
            .query(&stmt!(
                "SELECT (SELECT COUNT(*) FROM subscriptions) AS p, \
                 (SELECT COUNT(*) FROM mrr_moves) + (SELECT COUNT(*) FROM renewal_outcomes) AS s, \
                 (SELECT COALESCE(SUM(n), 0) FROM collections_daily) AS c"
            ))
            .await?;
        if let Some(r) = rows.first() {
            periods += r.int("p")?;
            summary_rows += r.int("s")?;
            collections += r.int("c")?;
        }
    }

    // Raw SQLite baseline: the same rows, one transaction per unique callback, one connection.
    let raw_path = dir.join("raw.sqlite");
    let raw = SqliteDb::open(&raw_path).await?;
    migrations::migrate(&raw, migrations::TENANT).await?;
    raw.batch(&[
        stmt!("INSERT INTO plans (id, code, name, kind, price_cents, period_seconds, down_kbps, up_kbps, created_at) VALUES ('p','home','Home','pppoe',100000,2592000,10000,2000,'2026-01-01T00:00:00Z')"),
        stmt!("INSERT INTO subscribers (id, account_no, account_loose, name, username, password, plan_id, status, created_at) VALUES ('s','A1','A1','x','a1','pw','p','pending','2026-01-01T00:00:00Z')"),
    ])
    .await?;
    let raw_n = o.n.min(uniques.len().max(1) * 2);
    let raw_started = Instant::now();
    for i in 0..raw_n {
        let body = uniques[i % uniques.len()].body.clone().unwrap_or_default().into_bytes();
        let stmts: Vec<Statement> = vec![
            stmt!("UPDATE subscribers SET version = version + 1 WHERE id = 's'"),
            stmt!(
                "INSERT INTO callback_log (provider, kind, received_at, raw_body, body_size, http_status, outcome) VALUES ('mpesa','c2b','2026-01-01T00:00:00Z',?1,?2,200,'applied')",
                body.clone(),
                body.len() as i64
            ),
            stmt!(
                "INSERT INTO payments (id, provider, method, provider_ref, amount_cents, subscriber_id, status, received_at) VALUES (?1,'mpesa','c2b',?1,5000,'s','applied','2026-01-01T00:00:00Z')",
                format!("raw{i}")
            ),
            stmt!(
                "INSERT INTO ledger (subscriber_id, kind, amount_cents, payment_id, memo, created_at) VALUES ('s','payment',5000,?1,'m','2026-01-01T00:00:00Z')",
                format!("raw{i}")
            ),
        ];
        raw.batch(&stmts).await?;
    }
    let raw_rate = raw_n as f64 / raw_started.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&dir);

    println!(
        "callbacks through the native host (loopback HTTP, SQLite WAL, {} tenants, {} concurrent{})",
        o.tenants,
        o.concurrency,
        if o.hot { ", every callback to ONE subscriber per tenant" } else { "" }
    );
    println!("  requests        {} ({} unique, {} duplicates), errors {}", lat.len(), uniques.len(), dups, errors);
    println!("  payments stored {} (expected {})", payments, uniques.len());
    println!(
        "  paid periods    {periods} ({}), dashboard summary rows {summary_rows} ({})",
        if o.renewing { "every callback buys one" } else { "KES 50 buys none of the KES 1,000 plan" },
        if o.without_summaries { "left unbuilt" } else { "built before, kept by each batch" }
    );
    println!(
        "  collections     {collections} payments counted in collections_daily ({})",
        if o.without_collections { "triggers dropped" } else { "kept by the payments triggers" }
    );
    println!("  throughput      {:.0} callbacks/s", host_rate);
    println!(
        "  latency         p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&lat, 0.50).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
        lat.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    println!("  host CPU        {host_cpu_per_callback:.0} us per callback (user + system, all threads)");
    println!(
        "  host peak RSS   {:.1} MiB (after setup {:.1} MiB)",
        rss_peak as f64 / 1024.0,
        rss_before as f64 / 1024.0
    );
    println!("floor: GET /health, same client, {} concurrent, {} requests", o.concurrency, floor_lat.len());
    println!(
        "  throughput      {:.0} requests/s, p50 {:.2} ms, p99 {:.2} ms, errors {}",
        floor_rate,
        percentile(&floor_lat, 0.50).as_secs_f64() * 1e3,
        percentile(&floor_lat, 0.99).as_secs_f64() * 1e3,
        floor_errors
    );
    println!("  host CPU        {host_cpu_per_health:.0} us per request");
    println!("ratio callbacks/floor {:.3}", host_rate / floor_rate);
    println!("raw SQLite baseline (same rows, one transaction each, one connection, no HTTP)");
    println!("  throughput      {:.0} transactions/s", raw_rate);
    println!("ratio host/raw    {:.2}", host_rate / raw_rate);
    if errors > 0 {
        bail!("{errors} callbacks were not answered 200 (a refused callback can be money lost)");
    }
    if payments != uniques.len() {
        bail!("exactly-once violated: {payments} payments for {} unique callbacks", uniques.len());
    }
    Ok(())
}

/// `konnekted-bench customer`: reads of the customer API (`GET subscription`, `GET usage`,
/// `GET wallet/entries`) through the native host with `subscribers` subscribers, each with a year
/// of monthly payments and renewals and 30 days of usage, `concurrency` clients on loopback.
/// The history is written straight into the tenant's SQLite file (the HTTP path would take
/// minutes for 120,000 payments); the reads go through HTTP with signed access tokens.
pub async fn customer(subscribers: usize, requests: usize, concurrency: usize) -> anyhow::Result<()> {
    use konnekted_core::usecases::customer_auth::{Access, Keys};
    use konnekted_core::web::session;

    let dir = std::env::temp_dir().join(format!("konnekted-bench-customer-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let (token, secret, realm) = ("bench-platform-token", "bench-voucher-secret", "benchp");
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .args(["serve", "--data", &dir.join("host").to_string_lossy(), "--listen", &format!("127.0.0.1:{port}")])
        .env("KONNEKTED_PLATFORM_TOKEN", token)
        .env("KONNEKTED_VOUCHER_SECRET", secret)
        .env("KONNEKTED_TICK_SECONDS", "3600")
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .context("starting the host")?;
    let pid = child.id().context("host pid")?;
    let http = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
    for _ in 0..100 {
        if http.get(format!("{base}/health")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = http
        .post(format!("{base}/api/tenants"))
        .bearer_auth(token)
        .json(&json!({"realm": realm, "name": "Bench ISP", "admin_token": "bench-admin"}))
        .send()
        .await?;
    if r.status() != 201 {
        bail!("create tenant: {}", r.text().await?);
    }
    let plan: Value = http
        .post(format!("{base}/api/t/{realm}/plans"))
        .bearer_auth("bench-admin")
        .json(&json!({"code":"home","name":"Home","price_cents":100_000,"period_seconds":2_592_000,"down_kbps":10_000,"up_kbps":2_000,"data_cap_bytes": 200_000_000_000i64}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let plan_id = plan["id"].as_str().context("plan id")?.to_owned();

    // A year of history, straight into the tenant file.
    let setup = Instant::now();
    let db = SqliteDb::open(&dir.join("host").join("tenants").join(format!("{realm}.sqlite"))).await?;
    let now = chrono::Utc::now();
    let ts = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let mut ids = Vec::with_capacity(subscribers);
    for chunk in (0..subscribers).collect::<Vec<_>>().chunks(500) {
        let mut batch = Vec::new();
        for &i in chunk {
            let id = format!("sub-{i:06}");
            let acct = format!("B{i:06}");
            let expires = now + chrono::Duration::days(15);
            batch.push(stmt!(
                "INSERT INTO subscribers (id, account_no, account_loose, name, phone, username, password, plan_id, status, \
                 expires_at, auto_renew, version, created_at) VALUES (?1, ?2, ?2, ?3, ?4, ?5, 'pppoe-pass', ?6, 'active', ?7, 1, 0, ?8)",
                &id,
                &acct,
                format!("Subscriber {i}"),
                format!("2547{:08}", 10_000_000 + i),
                acct.to_lowercase(),
                &plan_id,
                ts(expires),
                ts(now - chrono::Duration::days(365))
            ));
            for m in 0..12i64 {
                let paid = now - chrono::Duration::days(345 - m * 30);
                let pid_ = format!("pay-{i:06}-{m:02}");
                let sid = format!("per-{i:06}-{m:02}");
                batch.push(stmt!(
                    "INSERT INTO payments (id, provider, method, provider_ref, receipt, amount_cents, subscriber_id, status, msisdn, \
                     paid_at, received_at, applied_at) VALUES (?1, 'mpesa', 'c2b', ?2, ?2, 100000, ?3, 'applied', ?4, ?5, ?5, ?5)",
                    &pid_,
                    format!("R{i:06}{m:02}X"),
                    &id,
                    format!("2547{:08}", 10_000_000 + i),
                    ts(paid)
                ));
                batch.push(stmt!(
                    "INSERT INTO ledger (subscriber_id, kind, amount_cents, payment_id, memo, created_at) \
                     VALUES (?1, 'payment', 100000, ?2, 'c2b', ?3)",
                    &id,
                    &pid_,
                    ts(paid)
                ));
                batch.push(stmt!(
                    "INSERT INTO subscriptions (id, subscriber_id, plan_id, starts_at, ends_at, price_cents, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, 100000, ?4)",
                    &sid,
                    &id,
                    &plan_id,
                    ts(paid),
                    ts(paid + chrono::Duration::days(30))
                ));
                batch.push(stmt!(
                    "INSERT INTO ledger (subscriber_id, kind, amount_cents, subscription_id, memo, created_at) \
                     VALUES (?1, 'renewal', -100000, ?2, 'Home', ?3)",
                    &id,
                    &sid,
                    ts(paid)
                ));
            }
            for d in 0..30i64 {
                let day = (now - chrono::Duration::days(d)).format("%Y-%m-%d").to_string();
                batch.push(stmt!(
                    "INSERT INTO usage_daily (username, day, input_octets, output_octets, online_seconds, sessions, updated_at) \
                     VALUES (?1, ?2, ?3, ?4, 36000, 2, ?5)",
                    acct.to_lowercase(),
                    day,
                    100_000_000 + i as i64,
                    900_000_000 + d,
                    ts(now)
                ));
            }
            ids.push(id);
        }
        db.batch(&batch).await?;
    }
    drop(db);
    eprintln!(
        "setup: {subscribers} subscribers, {} payments, {} ledger rows, {:.1}s",
        subscribers * 12,
        subscribers * 24,
        setup.elapsed().as_secs_f64()
    );

    let settings = konnekted_core::platform::Settings {
        public_base_url: base.clone(),
        platform_token: konnekted_core::secret::Secret::new(token),
        voucher_secret: konnekted_core::secret::Secret::new(secret),
    };
    let keys = Keys::of(&settings, realm).context("keys")?;
    let exp = now.timestamp() + 3600;
    let tokens: Vec<String> = ids
        .iter()
        .map(|id| session::sign(&keys.access, &Access { sub: id.clone(), sid: "bench".into(), exp }))
        .collect();
    let tokens = std::sync::Arc::new(tokens);
    println!(
        "customer API reads through the native host ({subscribers} subscribers, a year of monthly payments each, {concurrency} concurrent, {requests} requests per endpoint)"
    );
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for path in ["subscription", "usage", "wallet/entries?limit=20"] {
        let order: Vec<usize> = (0..requests).map(|_| rng.gen_range(0..tokens.len())).collect();
        let url = format!("{base}/api/p/{realm}/v1/{path}");
        let cpu0 = cpu_time(pid).unwrap_or_default();
        let tokens = tokens.clone();
        let (lat, errors, elapsed) =
            drive(&http, order, concurrency, move |http, i| http.get(&url).bearer_auth(&tokens[i])).await?;
        let cpu = cpu_time(pid).unwrap_or_default().saturating_sub(cpu0);
        println!(
            "  GET {path:<24} {:>6.0} req/s  p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms  host CPU {:.0} us/req  errors {errors}",
            lat.len() as f64 / elapsed.as_secs_f64(),
            percentile(&lat, 0.50).as_secs_f64() * 1e3,
            percentile(&lat, 0.99).as_secs_f64() * 1e3,
            lat.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
            cpu.as_secs_f64() * 1e6 / lat.len().max(1) as f64
        );
        if errors > 0 {
            bail!("{errors} reads of {path} were not answered 200");
        }
    }
    child.kill().await.ok();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Starts the host under test (this same binary's hidden `serve`) on a fresh data folder.
async fn start_host(dir: &std::path::Path, token: &str) -> anyhow::Result<(tokio::process::Child, String)> {
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let child = tokio::process::Command::new(std::env::current_exe()?)
        .args(["serve", "--data", &dir.join("host").to_string_lossy(), "--listen", &format!("127.0.0.1:{port}")])
        .env("KONNEKTED_PLATFORM_TOKEN", token)
        .env("KONNEKTED_VOUCHER_SECRET", "bench-voucher-secret")
        .env("KONNEKTED_TICK_SECONDS", "3600")
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .context("starting the host")?;
    let http = reqwest::Client::new();
    for _ in 0..200 {
        if http.get(format!("{base}/health")).send().await.is_ok() {
            return Ok((child, base));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("the host did not answer /health")
}

/// `konnekted-bench vouchers`: codes generated and verified per second on one core (in process),
/// then first uses through the native host's `POST /radius/voucher` (what FreeRADIUS calls) at
/// `concurrency` in flight, each code raced by two devices at once: exactly one may win.
pub async fn vouchers(n: usize, concurrency: usize) -> anyhow::Result<()> {
    use konnekted_core::domain::Realm;
    use konnekted_core::domain::voucher::{VoucherId, VoucherKey};

    // 1. Generation and verification, one thread.
    let realm = Realm::parse("bench").map_err(|e| anyhow::anyhow!("{e}"))?;
    let key = VoucherKey::derive(b"bench-voucher-secret", &realm).context("key")?;
    let gen_n: u32 = 200_000;
    let t = Instant::now();
    let mut codes = Vec::with_capacity(gen_n as usize);
    for i in 0..gen_n {
        let id = VoucherId::new(1 + i / 100_000, i % 100_000).context("id")?;
        codes.push(key.code(&realm, id).to_string());
    }
    let gen_rate = f64::from(gen_n) / t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut ok = 0usize;
    for c in &codes {
        ok += usize::from(key.verify(&realm, c).is_ok());
    }
    let verify_ns = t.elapsed().as_secs_f64() * 1e9 / codes.len() as f64;
    if ok != codes.len() {
        bail!("{} of {} generated codes did not verify", codes.len() - ok, codes.len());
    }

    // 2. Redemptions through the host.
    let dir = std::env::temp_dir().join(format!("konnekted-bench-vouchers-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let token = "bench-platform-token";
    let (mut child, base) = start_host(&dir, token).await?;
    let pid = child.id().context("host pid")?;
    let http = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
    let admin = "bench-admin-token";
    let r = http
        .post(format!("{base}/api/tenants"))
        .bearer_auth(token)
        .json(&json!({"realm": "bench", "name": "bench", "admin_token": admin,
                      "settings": {"voucher_binding": "refuse"}}))
        .send()
        .await?;
    if r.status() != 201 {
        bail!("create tenant: {}", r.text().await?);
    }
    let t: Value = r.json().await?;
    let voucher_key = t["radius_voucher_key"].as_str().context("radius_voucher_key")?.to_owned();
    let admin_url = format!("{base}/api/t/bench");
    http.post(format!("{admin_url}/plans"))
        .bearer_auth(admin)
        .json(&json!({"code": "hour", "name": "1 hour", "kind": "hotspot", "price_cents": 1000,
                      "period_seconds": 3600, "down_kbps": 2000, "up_kbps": 1000}))
        .send()
        .await?
        .error_for_status()?;
    let mut issued = Vec::with_capacity(n);
    while issued.len() < n {
        let count = (n - issued.len()).min(20_000);
        let b: Value = http
            .post(format!("{admin_url}/voucher-batches"))
            .bearer_auth(admin)
            .json(&json!({"plan": "hour", "count": count}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let id = b["batch"]["id"].as_u64().context("batch id")?;
        let mut offset = 0;
        while offset < count {
            let page: Value = http
                .get(format!("{admin_url}/voucher-batches/{id}/codes?offset={offset}&limit=5000"))
                .bearer_auth(admin)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            for c in page["codes"].as_array().context("codes")? {
                issued.push(c["code"].as_str().context("code")?.replace('-', ""));
            }
            offset += 5000;
        }
    }
    // Every code twice, by two devices, next to each other in the queue: they race.
    let mut order: Vec<(usize, u8)> = Vec::with_capacity(2 * n);
    for i in 0..n {
        order.push((i, 0));
        order.push((i, 1));
    }
    order.reverse();
    let issued = std::sync::Arc::new(issued);
    let queue = std::sync::Arc::new(std::sync::Mutex::new(order));
    let cpu0 = cpu_time(pid).unwrap_or_default();
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (http, queue, issued, url, key) =
            (http.clone(), queue.clone(), issued.clone(), format!("{base}/radius/voucher"), voucher_key.clone());
        workers.push(tokio::spawn(async move {
            let (mut lat, mut refused, mut errors) = (Vec::new(), 0usize, 0usize);
            let mut won: Vec<usize> = Vec::new();
            loop {
                let next = queue.lock().ok().and_then(|mut q| q.pop());
                let Some((i, device)) = next else { break };
                let mac =
                    format!("02:00:{:02X}:{:02X}:{:02X}:{:02X}", device, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff);
                let form = [("realm", "bench"), ("code", issued[i].as_str()), ("mac", mac.as_str())];
                let t = Instant::now();
                match http.post(&url).header("x-konnekted-voucher-key", &key).form(&form).send().await {
                    Ok(r) if r.status() == 200 => {
                        let _ = r.bytes().await;
                        won.push(i);
                    }
                    Ok(r) if r.status() == 401 => {
                        let _ = r.bytes().await;
                        refused += 1;
                    }
                    _ => errors += 1,
                }
                lat.push(t.elapsed());
            }
            (lat, won, refused, errors)
        }));
    }
    let (mut lat, mut won, mut refused, mut errors) = (Vec::new(), Vec::new(), 0, 0);
    for w in workers {
        let (l, wn, r, e) = w.await?;
        lat.extend(l);
        won.extend(wn);
        refused += r;
        errors += e;
    }
    let elapsed = started.elapsed();
    let cpu1 = cpu_time(pid).unwrap_or_default();
    lat.sort();
    let report: Value = http
        .get(format!("{admin_url}/voucher-report"))
        .bearer_auth(admin)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let redeemed: i64 =
        report["batches"].as_array().context("batches")?.iter().filter_map(|b| b["redeemed"].as_i64()).sum();
    child.kill().await.ok();
    let _ = std::fs::remove_dir_all(&dir);
    won.sort_unstable();
    let distinct = {
        let mut w = won.clone();
        w.dedup();
        w.len()
    };

    println!("voucher codes (one thread, in process)");
    println!("  generated       {gen_rate:.0} codes/s ({gen_n} codes)");
    println!("  verified        {verify_ns:.0} ns per code");
    println!(
        "first uses through the native host, POST /radius/voucher ({n} codes, each raced by 2 devices, {concurrency} concurrent)"
    );
    println!("  requests        {} (accepted {}, refused {}, errors {})", lat.len(), won.len(), refused, errors);
    println!(
        "  throughput      {:.0} lookups/s, {:.0} redemptions/s",
        lat.len() as f64 / elapsed.as_secs_f64(),
        won.len() as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  latency         p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&lat, 0.50).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
        lat.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    println!(
        "  host CPU        {:.0} us per lookup",
        cpu1.saturating_sub(cpu0).as_secs_f64() * 1e6 / lat.len().max(1) as f64
    );
    println!("  redeemed        {redeemed} in the voucher report (expected {n})");
    if errors > 0 {
        bail!("{errors} lookups were neither accepted nor refused");
    }
    if won.len() != n || distinct != n || redeemed != n as i64 {
        bail!(
            "exactly-once violated: {} accepts for {distinct} distinct codes, {redeemed} redeemed, {n} codes",
            won.len()
        );
    }
    Ok(())
}

/// The text of `<... id="the-code" ...>CODE</...>` in a captive page.
fn shown_code(html: &str) -> Option<String> {
    let at = html.find(r#"id="the-code""#)?;
    let rest = &html[at..];
    let start = rest.find('>')? + 1;
    let end = rest[start..].find('<')? + start;
    Some(rest[start..end].trim().to_owned())
}

/// The value of `<input name="{name}" value="...">`.
fn input_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!(r#"name="{name}" value=""#))?;
    let rest = &html[at + name.len() + 15..];
    Some(rest[..rest.find('"')?].to_owned())
}

/// `konnekted-bench sale-latency`: `sales` hotspot sales through the captive pages, each paid by
/// an STK callback the bench delivers at a random moment of the waiting page's 3 s refresh cycle;
/// latency = from that callback reaching the host to the code's `POST /radius/voucher` being
/// accepted, with the page refreshing every 3 s as `<meta refresh>` does (FreeRADIUS itself not
/// included: its own figures are in the FreeRADIUS section).
pub async fn sale_latency(sales: usize) -> anyhow::Result<()> {
    const REFRESH: Duration = Duration::from_secs(3);
    let dir = std::env::temp_dir().join(format!("konnekted-bench-sales-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let token = "bench-platform-token";
    let (mut child, base) = start_host(&dir, token).await?;
    let mut sim_config =
        SimConfig::default().default_script(Script::new(Outcome::NoCallback).delay(Duration::from_secs(3600)));
    sim_config.lock_subscriber = false;
    let sim = DarajaSim::spawn(sim_config).await?;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    let (admin, cb) = ("bench-admin-token", "benchcallbacktoken0001");
    let r = http
        .post(format!("{base}/api/tenants"))
        .bearer_auth(token)
        .json(&json!({"realm": "bench", "name": "bench", "admin_token": admin, "callback_token": cb,
            "settings": {"stk_prompts_per_account_hour": 1_000_000, "stk_prompts_per_ip_hour": 1_000_000},
            "daraja": {"environment": sim.base_url(), "consumer_key": daraja_sim::DEFAULT_CONSUMER_KEY,
                       "consumer_secret": daraja_sim::DEFAULT_CONSUMER_SECRET, "passkey": daraja_sim::SANDBOX_PASSKEY,
                       "shortcode": daraja_sim::SANDBOX_SHORTCODE}}))
        .send()
        .await?;
    if r.status() != 201 {
        bail!("create tenant: {}", r.text().await?);
    }
    let t: Value = r.json().await?;
    let voucher_key = t["radius_voucher_key"].as_str().context("radius_voucher_key")?.to_owned();
    http.post(format!("{base}/api/t/bench/plans"))
        .bearer_auth(admin)
        .json(&json!({"code": "hour", "name": "1 hour", "kind": "hotspot", "price_cents": 1000,
                      "period_seconds": 3600, "down_kbps": 2000, "up_kbps": 1000}))
        .send()
        .await?
        .error_for_status()?;

    let mut tasks = Vec::new();
    for i in 0..sales {
        let (http, base, key) = (http.clone(), base.clone(), voucher_key.clone());
        tasks.push(tokio::spawn(async move {
            // Spread the buyers over a few seconds, as people arrive.
            tokio::time::sleep(Duration::from_millis((i as u64 * 37) % 4000)).await;
            let r = http.get(format!("{base}/h/bench/buy?plan=hour")).send().await?;
            let cookie = r
                .headers()
                .get_all("set-cookie")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(|v| v.strip_prefix("kh_visit=").map(|c| format!("kh_visit={}", c.split(';').next().unwrap_or(""))))
                .context("visit cookie")?;
            let csrf = input_value(&r.text().await?, "csrf").context("csrf")?;
            let r = http
                .post(format!("{base}/h/bench/buy"))
                .header("cookie", &cookie)
                .form(&[("csrf", csrf.as_str()), ("plan", "hour"), ("phone", "0708374149")])
                .send()
                .await?;
            let wait = r.headers().get("location").and_then(|v| v.to_str().ok()).context("wait page")?.to_owned();
            let checkout = wait.rsplit('/').next().unwrap_or("").to_owned();
            // The page's refresh cycle starts now; the payment lands somewhere inside it.
            let cycle = Instant::now();
            let pay_at = Duration::from_millis(rand::thread_rng().gen_range(0..3000));
            tokio::time::sleep(pay_at).await;
            let body = format!(
                r#"{{"Body":{{"stkCallback":{{"MerchantRequestID":"m","CheckoutRequestID":"{checkout}","ResultCode":0,"ResultDesc":"ok","CallbackMetadata":{{"Item":[{{"Name":"Amount","Value":10.00}},{{"Name":"MpesaReceiptNumber","Value":"SL{i:08}"}},{{"Name":"PhoneNumber","Value":254708374149}}]}}}}}}}}"#
            );
            let t0 = Instant::now();
            let r = http.post(format!("{base}/hooks/bench/{cb}/stk")).body(body).send().await?;
            if r.status() != 200 {
                bail!("STK callback answered {}", r.status());
            }
            let mut next = cycle + REFRESH;
            let code = loop {
                tokio::time::sleep_until(next.into()).await;
                next += REFRESH;
                let page = http.get(format!("{base}{wait}")).header("cookie", &cookie).send().await?.text().await?;
                if let Some(c) = shown_code(&page) {
                    break c.replace('-', "");
                }
                if t0.elapsed() > Duration::from_secs(60) {
                    bail!("sale {checkout}: no code a minute after payment");
                }
            };
            let mac = format!("02:10:00:00:{:02X}:{:02X}", (i >> 8) & 0xff, i & 0xff);
            let r = http
                .post(format!("{base}/radius/voucher"))
                .header("x-konnekted-voucher-key", &key)
                .form(&[("realm", "bench"), ("code", code.as_str()), ("mac", mac.as_str())])
                .send()
                .await?;
            if r.status() != 200 {
                bail!("sale {checkout}: the RADIUS lookup answered {}", r.status());
            }
            Ok::<Duration, anyhow::Error>(t0.elapsed())
        }));
    }
    let mut lat = Vec::with_capacity(sales);
    let mut failures = 0;
    for t in tasks {
        match t.await? {
            Ok(d) => lat.push(d),
            Err(e) => {
                failures += 1;
                eprintln!("sale failed: {e:#}");
            }
        }
    }
    child.kill().await.ok();
    let _ = std::fs::remove_dir_all(&dir);
    lat.sort();
    println!(
        "hotspot sale latency: STK callback reaching the host -> code shown by the 3 s refresh -> /radius/voucher accepted"
    );
    println!("  sales           {} (failed {failures})", lat.len());
    println!(
        "  latency         p50 {:.2} s, p95 {:.2} s, max {:.2} s",
        percentile(&lat, 0.50).as_secs_f64(),
        percentile(&lat, 0.95).as_secs_f64(),
        lat.last().copied().unwrap_or_default().as_secs_f64()
    );
    if failures > 0 {
        bail!("{failures} sales did not end in an accepted code");
    }
    Ok(())
}

/// A deployment the console bench runs against instead of starting a native host: a Worker under
/// `wrangler dev --local` (scripts/edge-bench-console.sh starts one).
pub struct Remote {
    /// Its base URL.
    pub url: String,
    pub platform_token: String,
    /// The folder `wrangler dev --persist-to` names: the tenant's local D1 database is a SQLite
    /// file under it, which the bench seeds as it seeds a native tenant's file.
    pub d1_state: std::path::PathBuf,
    /// The process serving it (workerd), for the CPU per request; none: not reported.
    pub host_pid: Option<u32>,
}

/// `konnekted-bench console`: the operator console's dashboard and subscriber search through the
/// native host (or `remote`), on a tenant seeded with `subscribers` subscribers over 24 months
/// (fixed seed: renewals on time and late, lapses and returns, plan changes), signed in as its owner.
pub async fn console(
    subscribers: usize,
    requests: usize,
    concurrency: usize,
    remote: Option<Remote>,
) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("konnekted-bench-console-{}", std::process::id()));
    let (mut child, base, token, pid, host) = match &remote {
        None => {
            std::fs::create_dir_all(&dir)?;
            let token = "bench-platform-token";
            let (child, base) = start_host(&dir, token).await?;
            let pid = child.id().context("host pid")?;
            (Some(child), base, token.to_owned(), Some(pid), "the native host")
        }
        Some(r) => (None, r.url.trim_end_matches('/').to_owned(), r.platform_token.clone(), r.host_pid, "a Worker"),
    };
    let realm = "benchc";
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let r = http
        .post(format!("{base}/api/tenants"))
        .bearer_auth(&token)
        .json(&json!({"realm": realm, "name": "Bench ISP", "admin_token": "bench-admin",
                      "settings": {"grace_seconds": 172_800}}))
        .send()
        .await?;
    if r.status() != 201 {
        bail!("create tenant: {}", r.text().await?);
    }
    let admin = |path: &str| format!("{base}/api/t/{realm}{path}");
    let plans = [("home", 150_000i64, 2_592_000i64), ("pro", 300_000, 2_592_000), ("week", 40_000, 604_800)];
    let mut plan_ids = Vec::new();
    for (code, price, period) in plans {
        let p: Value = http
            .post(admin("/plans"))
            .bearer_auth("bench-admin")
            .json(&json!({"code": code, "name": code, "price_cents": price, "period_seconds": period,
                          "down_kbps": 10_000, "up_kbps": 2_000}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        plan_ids.push(p["id"].as_str().context("plan id")?.to_owned());
    }
    let r = http
        .post(admin("/users"))
        .bearer_auth("bench-admin")
        .json(&json!({"login": "owner@bench", "name": "Owner", "role": "owner", "password": "bench-owner-pass"}))
        .send()
        .await?;
    if r.status() != 201 {
        bail!("owner: {}", r.text().await?);
    }

    // 24 months of paid periods, straight into the tenant file.
    let setup = Instant::now();
    let file = match &remote {
        None => dir.join("host").join("tenants").join(format!("{realm}.sqlite")),
        Some(r) => konnekted::sqlite::local_d1_file(&r.d1_state, "owner@bench")
            .with_context(|| format!("no local D1 database of {realm} under {}", r.d1_state.display()))?,
    };
    let db = SqliteDb::open(&file).await?;
    let now = chrono::Utc::now();
    let ts = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let mut rng = rand::rngs::StdRng::seed_from_u64(14);
    let mut periods = 0usize;
    for chunk in (0..subscribers).collect::<Vec<_>>().chunks(250) {
        let mut batch = Vec::new();
        for &i in chunk {
            let id = format!("sub-{i:06}");
            let acct = format!("C{i:06}");
            let mut plan = rng.gen_range(0..plans.len());
            let mut t = now - chrono::Duration::seconds(rng.gen_range(0..730 * 86_400));
            let created = t;
            let mut k = 0;
            let mut end = t;
            while t < now {
                end = t + chrono::Duration::seconds(plans[plan].2);
                let sid = format!("per-{i:06}-{k:03}");
                batch.push(stmt!(
                    "INSERT INTO subscriptions (id, subscriber_id, plan_id, starts_at, ends_at, price_cents, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?4)",
                    &sid,
                    &id,
                    &plan_ids[plan],
                    ts(t),
                    ts(end),
                    plans[plan].1
                ));
                batch.push(stmt!(
                    "INSERT INTO ledger (subscriber_id, kind, amount_cents, subscription_id, memo, created_at) \
                     VALUES (?1, 'renewal', ?2, ?3, 'renewal', ?4)",
                    &id,
                    -plans[plan].1,
                    &sid,
                    ts(t)
                ));
                periods += 1;
                k += 1;
                t = match rng.gen_range(0..100) {
                    0..=69 => end,
                    70..=84 => end + chrono::Duration::seconds(rng.gen_range(0..172_800)),
                    85..=95 => end + chrono::Duration::days(rng.gen_range(3..63)),
                    _ => break,
                };
                if rng.gen_range(0..100) < 8 {
                    plan = rng.gen_range(0..plans.len());
                }
            }
            let status = if end > now { "active" } else { "expired" };
            batch.insert(
                0,
                stmt!(
                    "INSERT INTO subscribers (id, account_no, account_loose, name, phone, username, password, plan_id, status, \
                     expires_at, auto_renew, version, created_at) VALUES (?1, ?2, ?2, ?3, ?4, ?5, 'pppoe-pass', ?6, ?7, ?8, 1, 0, ?9)",
                    &id,
                    &acct,
                    format!("Subscriber {i}"),
                    format!("2547{:08}", 10_000_000 + i),
                    acct.to_lowercase(),
                    &plan_ids[plan],
                    status,
                    ts(end),
                    ts(created)
                ),
            );
        }
        db.batch(&batch).await?;
    }
    drop(db);
    eprintln!("setup: {subscribers} subscribers, {periods} paid periods, {:.1}s", setup.elapsed().as_secs_f64());

    // Sign in as the owner through the form.
    let session = konnekted::console_client::operator_sign_in(&http, &base, realm, "owner@bench", "bench-owner-pass")
        .await?
        .cookie()
        .context("signed in")?;

    // The first view builds the dashboard's summaries from the rows written straight into the
    // file above (a real tenant's are built by the scheduled pass); timed on its own.
    let first = Instant::now();
    let r = http.get(format!("{base}/c/{realm}/dashboard")).header("cookie", &session).send().await?;
    if r.status() != 200 {
        bail!("first dashboard view: {}", r.status());
    }
    let _ = r.bytes().await?;
    eprintln!("first dashboard view (builds the summaries): {:.0} ms", first.elapsed().as_secs_f64() * 1e3);

    println!(
        "operator console through {host} ({subscribers} subscribers, {periods} paid periods over 24 months, {concurrency} concurrent, signed in as the owner)"
    );
    let searches: Vec<String> = (0..requests)
        .map(|_| {
            let i = rng.gen_range(0..subscribers);
            match rng.gen_range(0..3) {
                0 => format!("Subscriber%20{i}"),
                1 => format!("2547{:08}", 10_000_000 + i),
                _ => format!("C{i:06}"),
            }
        })
        .collect();
    for (what, n) in [("dashboard", (requests / 10).max(concurrency)), ("subscribers?q=", requests)] {
        let searches = std::sync::Arc::new(searches.clone());
        let (url, session) = (format!("{base}/c/{realm}/{what}"), session.clone());
        let cpu0 = pid.and_then(cpu_time).unwrap_or_default();
        let (lat, errors, elapsed) = drive(&http, (0..n).collect(), concurrency, move |http, i| {
            let u = if url.ends_with("q=") { format!("{url}{}", searches[i % searches.len()]) } else { url.clone() };
            http.get(u).header("cookie", &session)
        })
        .await?;
        let cpu = match pid.and_then(cpu_time) {
            Some(c) => format!("{:.1} ms/req", c.saturating_sub(cpu0).as_secs_f64() * 1e3 / lat.len().max(1) as f64),
            None => "not measured".to_owned(),
        };
        println!(
            "  GET {what:<16} {:>5} requests {:>7.1} req/s  p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms  host CPU {cpu}  errors {errors}",
            lat.len(),
            lat.len() as f64 / elapsed.as_secs_f64(),
            percentile(&lat, 0.50).as_secs_f64() * 1e3,
            percentile(&lat, 0.99).as_secs_f64() * 1e3,
            lat.last().copied().unwrap_or_default().as_secs_f64() * 1e3
        );
        if errors > 0 {
            bail!("{errors} requests of {what} were not answered 200");
        }
    }
    if let Some(c) = child.as_mut() {
        c.kill().await.ok();
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

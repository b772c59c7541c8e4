//! `konnekted serve --demo`: a demo ISP wired to an in-process Daraja simulator.

use daraja_sim::{DarajaSim, SimConfig, SimHandle};
use konnekted_core::db::Db;
use konnekted_core::domain::msisdn::Msisdn;
use konnekted_core::domain::names::{AccountNo, Username};
use konnekted_core::ids::IdGen;
use konnekted_core::platform::Platform;
use konnekted_core::store::tenants::{self, DarajaSettings};
use konnekted_core::usecases as uc;
use konnekted_core::usecases::plans::PlanInput;
use konnekted_core::usecases::subscribers::SubscriberInput;
use konnekted_core::usecases::tenants::TenantInput;
use konnekted_core::{domain::Realm, secret::Secret};

use crate::platform::NativePlatform;
use crate::server::ctx;

pub const REALM: &str = "demo";
pub const ADMIN_TOKEN: &str = "demo-admin-token";
pub const CALLBACK_TOKEN: &str = "democallbacktoken";
/// The platform operator's token when none is configured (`POST /api/tenants`, ...).
pub const PLATFORM_TOKEN: &str = "demo-platform-token";
/// The voucher secret when none is configured (`konnekted voucher code demo 1 0`).
pub const VOUCHER_SECRET: &str = "demo-voucher-secret";

/// Starts the simulator and makes sure the demo tenant exists and points at it.
pub async fn setup(p: &NativePlatform) -> anyhow::Result<SimHandle> {
    let sim = DarajaSim::spawn(SimConfig::default()).await?;
    let daraja = DarajaSettings {
        environment: sim.base_url(),
        consumer_key: daraja_sim::DEFAULT_CONSUMER_KEY.into(),
        consumer_secret: Secret::new(daraja_sim::DEFAULT_CONSUMER_SECRET),
        passkey: Secret::new(daraja_sim::SANDBOX_PASSKEY),
        shortcode: daraja_sim::SANDBOX_SHORTCODE.into(),
        ..DarajaSettings::default()
    };
    let realm = Realm::parse(REALM)?;
    let c = ctx();
    let mut ids = IdGen::new(&c);
    match tenants::get(p.control(), &realm).await? {
        Some(t) => {
            // The simulator listens on a new port each run.
            tenants::update_settings(p.control(), &realm, &t.settings, &daraja).await?;
        }
        None => {
            let input = TenantInput {
                realm: REALM.into(),
                name: "Demo WISP".into(),
                settings: None,
                daraja: Some(daraja),
                admin_token: Some(ADMIN_TOKEN.into()),
                callback_token: Some(CALLBACK_TOKEN.into()),
                sync_key: Some("demo-sync-key-0123456789abcdef".into()),
            };
            uc::tenants::create_tenant(p, input, "demo setup", &mut ids, c.now).await?;
            let t = tenants::get(p.control(), &realm).await?.ok_or_else(|| anyhow::anyhow!("demo tenant vanished"))?;
            let db = p.tenant_db(&t.db_key).await?;
            seed(&db, &mut ids).await?;
        }
    }
    // Register the Paybill URLs with the simulator, as an operator would with Daraja.
    let t = tenants::get(p.control(), &realm).await?.ok_or_else(|| anyhow::anyhow!("demo tenant vanished"))?;
    let db = p.tenant_db(&t.db_key).await?;
    seed_hotspot(&db, &mut ids).await?;
    seed_console(&db, &mut ids, CONSOLE_SUBSCRIBERS).await?;
    konnekted_core::mpesa::register_c2b(p, &db, &t, c.now).await?;
    Ok(sim)
}

/// The demo ISP's Stripe and Paystack keys (test keys known only to the simulator).
pub const STRIPE_SECRET_KEY: &str = "sk_test_demo_stripe";
pub const STRIPE_WEBHOOK_SECRET: &str = "whsec_demo_stripe";
pub const PAYSTACK_SECRET_KEY: &str = "sk_test_demo_paystack";
/// The demo ISP's Africa's Talking app (sandbox username, a key known only to the simulator).
pub const SMS_USERNAME: &str = "sandbox";
pub const SMS_API_KEY: &str = "atsk_demo_sms";

/// Starts the Stripe / Paystack simulator and points the demo ISP's card keys at it: the
/// simulator knows the keys and sends its webhooks to the demo's hooks, signed.
pub async fn setup_providers(p: &NativePlatform, base: &str) -> anyhow::Result<providers_sim::SimHandle> {
    use konnekted_core::store::cards::{self, PaystackKeys, StripeKeys};
    let sim = match std::env::var("KONNEKTED_DEMO_PROVIDERS_LISTEN").ok().and_then(|a| a.parse().ok()) {
        Some(addr) => providers_sim::ProvidersSim::bind(addr, Default::default()).await?,
        None => providers_sim::ProvidersSim::spawn(Default::default()).await?,
    };
    let hook = |leaf: &str| format!("{base}/hooks/{REALM}/{CALLBACK_TOKEN}/{leaf}");
    sim.stripe_account(providers_sim::StripeAccount {
        secret_key: STRIPE_SECRET_KEY.into(),
        webhook_url: Some(hook("stripe")),
        webhook_secrets: vec![STRIPE_WEBHOOK_SECRET.into()],
    });
    sim.paystack_account(providers_sim::PaystackAccount {
        secret_key: PAYSTACK_SECRET_KEY.into(),
        webhook_url: Some(hook("paystack")),
    });
    sim.sms_account(providers_sim::SmsAccount {
        username: SMS_USERNAME.into(),
        api_key: SMS_API_KEY.into(),
        sender_ids: Vec::new(),
        callback_url: Some(hook("sms/delivery")),
    });
    let realm = Realm::parse(REALM)?;
    let t = tenants::get(p.control(), &realm).await?.ok_or_else(|| anyhow::anyhow!("demo tenant vanished"))?;
    let db = p.tenant_db(&t.db_key).await?;
    let now = konnekted_core::domain::time::fmt_ts(chrono::Utc::now());
    let stripe = StripeKeys {
        environment: sim.base_url(),
        secret_key: Secret::new(STRIPE_SECRET_KEY),
        webhook_secret: Secret::new(STRIPE_WEBHOOK_SECRET),
        previous_webhook_secret: Secret::default(),
    };
    let paystack =
        PaystackKeys { environment: sim.base_url(), secret_key: Secret::new(PAYSTACK_SECRET_KEY), mobile_money: true };
    let sms = konnekted_core::store::sms::SmsKeys {
        environment: sim.base_url(),
        username: SMS_USERNAME.into(),
        api_key: Secret::new(SMS_API_KEY),
        sender_id: String::new(),
    };
    db.batch(&[
        cards::put_keys("stripe", &stripe, &now),
        cards::put_keys("paystack", &paystack, &now),
        cards::put_keys(konnekted_core::store::sms::PROVIDER, &sms, &now),
    ])
    .await?;
    Ok(sim)
}

async fn seed(db: &impl Db, ids: &mut IdGen) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    let plan = |code: &str, name: &str, kes: i64, days: i64, down: i64, up: i64| PlanInput {
        code: code.into(),
        name: name.into(),
        kind: konnekted_core::domain::plan::PlanKind::Pppoe,
        price_cents: kes * 100,
        period_seconds: days * 86_400,
        down_kbps: down,
        up_kbps: up,
        data_cap_bytes: None,
        max_devices: 1,
    };
    uc::plans::create_plan(db, plan("home-5m", "Home 5 Mbps", 1500, 30, 5_000, 2_000), ids, now).await?;
    uc::plans::create_plan(db, plan("home-10m", "Home 10 Mbps", 2500, 30, 10_000, 4_000), ids, now).await?;
    uc::plans::create_plan(db, plan("biz-20m", "Business 20 Mbps", 6000, 30, 20_000, 10_000), ids, now).await?;
    let sub = |name: &str, plan: &str, account: &str, phone: &str| SubscriberInput {
        name: name.into(),
        plan: plan.into(),
        phone: Some(phone.into()),
        account_no: Some(account.into()),
        username: None,
        password: None,
        site: Some("tower-1".into()),
        static_ip: None,
        auto_renew: Some(true),
    };
    uc::subscribers::create_subscriber(db, sub("Wanjiku Kamau", "home-5m", "ACC1001", "0708374149"), ids, now).await?;
    uc::subscribers::create_subscriber(db, sub("Otieno Odhiambo", "home-10m", "ACC1002", "0711000002"), ids, now)
        .await?;
    uc::subscribers::create_subscriber(db, sub("Achieng Njoroge", "biz-20m", "ACC1003", "0722000003"), ids, now)
        .await?;
    Ok(())
}

/// Hotspot packages for the captive portal (`/h/demo`), added to a demo database that lacks them
/// (also one made before they existed).
async fn seed_hotspot(db: &impl Db, ids: &mut IdGen) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    let packages = [
        ("wifi-15m", "15 minutes", 1, 15 * 60, 2_000, 1_000),
        ("wifi-1h", "1 hour", 10, 3600, 3_000, 1_000),
        ("wifi-day", "24 hours", 50, 86_400, 5_000, 2_000),
    ];
    for (code, name, kes, seconds, down, up) in packages {
        if konnekted_core::store::plans::get(db, code).await?.is_some() {
            continue;
        }
        let input = PlanInput {
            code: code.into(),
            name: name.into(),
            kind: konnekted_core::domain::plan::PlanKind::Hotspot,
            price_cents: kes * 100,
            period_seconds: seconds,
            down_kbps: down,
            up_kbps: up,
            data_cap_bytes: None,
            max_devices: 1,
        };
        uc::plans::create_plan(db, input, ids, now).await?;
    }
    Ok(())
}

/// Where the demo's API runs: in this process, or on an edge host serving its SQLite files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    Native,
    /// konnekted-spin-host serving spin.toml (`scripts/run.sh --spin`).
    Spin,
}

pub fn print_tryout(base: &str, sim: &str, providers: &str, c: &crate::Config, host: Host) {
    // Only the demo's own defaults are printed; a secret from the operator's config stays unsaid.
    let shown = |s: &Secret, demo: &str| {
        if s.expose() == demo { demo.to_owned() } else { "(from your config)".to_owned() }
    };
    let platform = shown(&c.platform_token, PLATFORM_TOKEN);
    let voucher = shown(&c.voucher_secret, VOUCHER_SECRET);
    println!(
        r#"
Konnekted is running at {base} with a demo ISP (realm "{REALM}") and a Daraja simulator at {sim}.
Demo secrets: admin token {ADMIN_TOKEN}, platform token {platform},
voucher secret {voucher} (print codes: KONNEKTED_VOUCHER_SECRET={voucher} konnekted voucher code {REALM} 1 0).

Open in a browser (every page a person uses; Swahili or English, works without JavaScript):

  {base}/                      where each kind of user goes
  {base}/c/{REALM}/login         the operator console: sign in as {OWNER_LOGIN} / {OWNER_PASSWORD}
                                   (dashboard with MRR and the expiry forecast, subscribers, payments,
                                    the unmatched inbox, callbacks, routers, who is online, users and API keys)
  {base}/h/{REALM}               the captive portal a hotspot buyer sees: pick a package, pay through the
                                   simulator (any Safaricom-style number, e.g. 0712345678), get the code
  {base}/p/{REALM}               the subscriber portal: sign in as Wanjiku with 0708374149 (or ACC1001);
                                   the code "sent by SMS" is in the development sink:
                                   curl -s -H 'Authorization: Bearer {ADMIN_TOKEN}' '{base}/api/t/{REALM}/sms-outbox?limit=1'
                                   then plan, expiry, balance, usage, pay with M-Pesa (the simulator
                                   completes it), change plan with its quote, payments and receipts

Try it (admin token: {ADMIN_TOKEN}):

  # subscribers and their balances
  curl -s -H 'Authorization: Bearer {ADMIN_TOKEN}' {base}/api/t/{REALM}/subscribers

  # Wanjiku pays by M-Pesa STK push (the simulator "enters the PIN" and calls back)
  curl -s -X POST {base}/api/p/{REALM}/topup -H 'Content-Type: application/json' \
       -d '{{"account":"ACC1001"}}'
  # a moment later her subscription is active, with an expiry 30 days out:
  curl -s -H 'Authorization: Bearer {ADMIN_TOKEN}' '{base}/api/t/{REALM}/subscribers?status=active'

  # a customer pays KES 1000 by Paybill with a mistyped account: it lands in the unmatched inbox
  curl -s -X POST {sim}/__sim/c2b/pay -H 'Content-Type: application/json' \
       -d '{{"shortcode":"174379","amount":"1000","bill_ref":"ACC-9999","msisdn":"254700000009","first_name":"JOHN"}}'
  curl -s -H 'Authorization: Bearer {ADMIN_TOKEN}' {base}/api/t/{REALM}/unmatched

  # Otieno pays by card (Stripe Checkout, simulated): create the checkout, open the "url" it
  # answers in a browser and press Pay (test card 4242 4242 4242 4242; 4000 0000 0000 0002 is declined)
  curl -s -X POST {base}/api/p/{REALM}/checkout -H 'Content-Type: application/json' \
       -d '{{"account":"ACC1002","provider":"stripe"}}'
  # or through Paystack (card or M-Pesa mobile money on its page):
  curl -s -X POST {base}/api/p/{REALM}/checkout -H 'Content-Type: application/json' \
       -d '{{"account":"ACC1003","provider":"paystack"}}'
  # the simulator signs and sends the webhook (plus a duplicate); the payment is credited once:
  curl -s -H 'Authorization: Bearer {ADMIN_TOKEN}' '{base}/api/t/{REALM}/payments?limit=5'
  #   every checkout and webhook delivery at the simulator: {providers}/  ({providers}/__sim/deliveries)
  # each payment (M-Pesa, card, Paystack, cash) queues an SMS receipt with the credit; the
  # scheduled pass (every 30 s) sends it through Africa's Talking (simulated). Read them in the
  # SMS simulator's inbox:   {providers}/inbox
  curl -s -H 'Authorization: Bearer {ADMIN_TOKEN}' '{base}/api/t/{REALM}/sms-outbox?limit=5'

  # the customer API: a code by SMS (read it from the sink above), then a token for /api/p/{REALM}/v1/...
  curl -s -X POST {base}/api/p/{REALM}/v1/auth/otp -H 'Content-Type: application/json' -d '{{"account":"ACC1001"}}'
  curl -s -X POST {base}/api/p/{REALM}/v1/auth/otp/verify -H 'Content-Type: application/json' \
       -d '{{"challenge_id":"<from the answer above>","code":"<6 digits from the sink>"}}'
  curl -s -H 'Authorization: Bearer <access_token>' {base}/api/p/{REALM}/v1/subscription

  # the captive portal a hotspot buyer sees (packages, M-Pesa through the simulator, vouchers)
  #   {base}/h/{REALM}

  # the change feed the reconciler reads
  curl -s -H 'Authorization: Bearer {ADMIN_TOKEN}' '{base}/api/t/{REALM}/feed?after=0'
"#
    );
    if host == Host::Spin {
        println!(
            r#"On Spin (konnekted-spin-host serving spin.toml) these parts differ from the native run:

  * the API is the Spin component, mounted as five components (portal, payments, vouchers, sync,
    admin), each with only the databases, outbound hosts and variables spin.toml grants it; the
    simulators above run in a separate `konnekted demo-edge` process and call back into it
  * no cron: the scheduled pass (sweep, expiry, reminders, SMS outbox) is a timer process,
      KONNEKTED_PLATFORM_TOKEN={platform} konnekted sweep --edge {base} --every 30
    (POST {base}/internal/scheduled with the platform token; run it yourself to fire one pass now)
  * the demo ISP was seeded by the native binary's own code into the SQLite files the Spin host
    then serves through spin:sqlite (labels `control` and `t_{REALM}`); a new tenant needs its label in spin.toml
    first (scripts/edge-tenant-add.sh <realm>), then a restart
"#
        );
    }
}

/// The demo tenant's owner in the console (`/c/demo`).
pub const OWNER_LOGIN: &str = "owner@demo";
pub const OWNER_PASSWORD: &str = "demo-owner-pass";
/// How many generated subscribers (with up to 24 months of history) the demo console shows.
pub const CONSOLE_SUBSCRIBERS: usize = 400;

/// The console's demo data, once: the owner `owner@demo` and `n` generated subscribers with up
/// to 24 months of paid periods (fixed seed: renewals on time and late, lapses and returns, plan
/// changes), their payments (STK, Paybill, cash) and ledgers, and a few unmatched payments.
pub async fn seed_console(db: &impl Db, ids: &mut IdGen, n: usize) -> anyhow::Result<()> {
    use chrono::Duration;
    use konnekted_core::domain::subscriber::Status;
    use konnekted_core::domain::time::fmt_ts;
    use konnekted_core::store::{ledger, payments, plans, staff, subscribers};
    use konnekted_core::usecases::staff::Role;
    if staff::user_by_login(db, OWNER_LOGIN).await?.is_some() {
        return Ok(());
    }
    let now = chrono::Utc::now();
    let all = plans::list(db).await?;
    let n = if all.is_empty() { 0 } else { n };
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut rnd = move |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m.max(1)
    };
    const FIRST: [&str; 10] =
        ["Wanjiru", "Otieno", "Achieng", "Kamau", "Mwangi", "Njeri", "Kiprop", "Atieno", "Mutua", "Chebet"];
    const LAST: [&str; 10] =
        ["Kariuki", "Ouma", "Wambui", "Kimani", "Onyango", "Mburu", "Rotich", "Akinyi", "Musyoka", "Korir"];
    let sites = ["tower-1", "tower-2", "kasarani-ap", "ruiru-ap"];
    for i in 0..n {
        let id = ids.uuid();
        let mut plan = &all[rnd(all.len() as u64) as usize];
        let mut t = now - Duration::days(rnd(730) as i64 + 1);
        let created = t;
        let phone = format!("2547{:08}", 10_000_000 + i);
        let acct = format!("ACC{}", 2000 + i);
        let mut batch = Vec::new();
        let mut last_end = None;
        while t < now {
            let sub_id = ids.uuid();
            let end = t + Duration::seconds(plan.period_seconds);
            let pay_id = ids.uuid();
            let (provider, method) = match rnd(10) {
                0..=5 => ("mpesa", "stk"),
                6..=8 => ("mpesa", "c2b"),
                _ => ("manual", "cash"),
            };
            let at = fmt_ts(t);
            batch.push(payments::insert(&payments::Payment {
                id: pay_id.clone(),
                provider: provider.into(),
                method: method.into(),
                provider_ref: ids.token(20),
                receipt: Some(format!("S{}", ids.token(9).to_ascii_uppercase())),
                amount_cents: plan.price.0,
                subscriber_id: Some(id.clone()),
                status: payments::PaymentStatus::Applied,
                msisdn: Some(phone.clone()),
                payer_name: None,
                bill_ref: Some(acct.clone()),
                note: None,
                paid_at: Some(at.clone()),
                received_at: at.clone(),
                applied_at: Some(at.clone()),
            }));
            batch.push(ledger::insert(&id, "payment", plan.price.0, Some(&pay_id), None, "M-Pesa / cash (demo)", &at));
            batch.push(konnekted_core::stmt!(
                "INSERT INTO subscriptions (id, subscriber_id, plan_id, starts_at, ends_at, price_cents, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?4)",
                &sub_id,
                &id,
                &plan.id,
                &at,
                fmt_ts(end),
                plan.price.0
            ));
            batch.push(ledger::insert(&id, "renewal", -plan.price.0, None, Some(&sub_id), &plan.name, &at));
            last_end = Some(end);
            // what happens at the end of this period
            t = match rnd(100) {
                0..=69 => end,                                        // on time
                70..=84 => end + Duration::hours(rnd(48) as i64 + 1), // late, mostly within grace
                85..=94 => end + Duration::days(rnd(90) as i64 + 5),  // lapses, comes back later
                _ => now + Duration::days(1000),                      // leaves for good
            };
            if rnd(20) == 0 {
                plan = &all[rnd(all.len() as u64) as usize];
            }
        }
        let status = if last_end.is_some_and(|e| e > now) { Status::Active } else { Status::Expired };
        let s = subscribers::Subscriber {
            id: id.clone(),
            account_no: AccountNo::parse(&acct)?,
            name: format!("{} {}", FIRST[rnd(10) as usize], LAST[rnd(10) as usize]),
            phone: Some(Msisdn::parse(&phone)?),
            username: Username::parse(&format!("u{}", 2000 + i))?,
            password: ids.token(12),
            site: Some(sites[rnd(4) as usize].into()),
            static_ip: None,
            plan_id: plan.id.clone(),
            status,
            expires_at: last_end,
            auto_renew: true,
            version: 0,
            created_at: created,
        };
        batch.insert(0, subscribers::insert(&s));
        db.batch(&batch).await?;
    }
    // a few payments nobody could match, for the inbox
    for k in 0..5 {
        let at = fmt_ts(now - Duration::hours(3 * k + 1));
        db.batch(&[payments::insert(&payments::Payment {
            id: ids.uuid(),
            provider: "mpesa".into(),
            method: "c2b".into(),
            provider_ref: ids.token(20),
            receipt: Some(format!("U{}", ids.token(9).to_ascii_uppercase())),
            amount_cents: 150_000,
            subscriber_id: None,
            status: payments::PaymentStatus::Unmatched,
            msisdn: Some(format!("2547990000{k:02}")),
            payer_name: Some("JOHN DOE".into()),
            bill_ref: Some(format!("AC{k}99")),
            note: None,
            paid_at: Some(at.clone()),
            received_at: at,
            applied_at: None,
        })])
        .await?;
    }
    // The owner last: its existence says the seed is complete.
    uc::staff::create_user(db, "demo-seed", OWNER_LOGIN, "Demo Owner", Role::Owner, OWNER_PASSWORD, ids, now)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}

//! Card and aggregator payments: provider keys, hosted checkouts started, refunds and disputes.

use serde::{Deserialize, Serialize};

use crate::db::{Db, Row, Statement, StoreError};
use crate::secret::Secret;
use crate::stmt;

/// A tenant's Stripe keys.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct StripeKeys {
    /// `live` (Stripe's API) or a base URL (the simulator).
    pub environment: String,
    /// `sk_live_...` / `sk_test_...`.
    #[schemars(with = "Option<String>")]
    pub secret_key: Secret,
    /// The webhook endpoint's signing secret (`whsec_...`).
    #[schemars(with = "Option<String>")]
    pub webhook_secret: Secret,
    /// The previous signing secret, accepted too while a secret is rolled.
    #[schemars(with = "Option<String>")]
    pub previous_webhook_secret: Secret,
}

impl StripeKeys {
    pub fn is_configured(&self) -> bool {
        !self.secret_key.is_empty() && !self.webhook_secret.is_empty()
    }
    pub fn base_url(&self) -> String {
        match self.environment.as_str() {
            "" | "live" | "test" => "https://api.stripe.com".into(),
            custom => custom.trim_end_matches('/').to_owned(),
        }
    }
}

/// A tenant's Paystack keys (the secret key also signs webhooks: there is no separate secret).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct PaystackKeys {
    /// `live` (Paystack's API) or a base URL (the simulator).
    pub environment: String,
    #[schemars(with = "Option<String>")]
    pub secret_key: Secret,
    /// Also offer M-Pesa through Paystack's mobile money (channels card + mobile_money).
    pub mobile_money: bool,
}

impl PaystackKeys {
    pub fn is_configured(&self) -> bool {
        !self.secret_key.is_empty()
    }
    pub fn base_url(&self) -> String {
        match self.environment.as_str() {
            "" | "live" | "test" => "https://api.paystack.co".into(),
            custom => custom.trim_end_matches('/').to_owned(),
        }
    }
}

pub async fn keys<T: Default + serde::de::DeserializeOwned>(db: &impl Db, provider: &str) -> Result<T, StoreError> {
    let rows = db.query(&stmt!("SELECT config FROM provider_keys WHERE provider = ?1", provider)).await?;
    match rows.first() {
        Some(r) => serde_json::from_str(&r.text("config")?).map_err(|e| StoreError::Corrupt(e.to_string())),
        None => Ok(T::default()),
    }
}

pub fn put_keys<T: Serialize>(provider: &str, keys: &T, now: &str) -> Statement {
    stmt!(
        "INSERT INTO provider_keys (provider, config, updated_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (provider) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at",
        provider,
        serde_json::to_string(keys).unwrap_or_default(),
        now
    )
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Checkout {
    pub id: String,
    pub provider: String,
    pub subscriber_id: String,
    pub amount_cents: i64,
    pub currency: String,
    pub session_id: Option<String>,
    pub url: Option<String>,
    pub status: String,
    pub created_at: String,
    pub paid_at: Option<String>,
}

const COLS: &str = "id, provider, subscriber_id, amount_cents, currency, session_id, url, status, created_at, paid_at";

fn from_row(r: &Row<'_>) -> Result<Checkout, StoreError> {
    Ok(Checkout {
        id: r.text("id")?,
        provider: r.text("provider")?,
        subscriber_id: r.text("subscriber_id")?,
        amount_cents: r.int("amount_cents")?,
        currency: r.text("currency")?,
        session_id: r.opt_text("session_id")?,
        url: r.opt_text("url")?,
        status: r.text("status")?,
        created_at: r.text("created_at")?,
        paid_at: r.opt_text("paid_at")?,
    })
}

pub fn insert_checkout(c: &Checkout) -> Statement {
    stmt!(
        format!("INSERT INTO card_checkouts ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
        &c.id,
        &c.provider,
        &c.subscriber_id,
        c.amount_cents,
        &c.currency,
        c.session_id.clone(),
        c.url.clone(),
        &c.status,
        &c.created_at,
        c.paid_at.clone(),
    )
}

pub async fn checkout(db: &impl Db, id: &str) -> Result<Option<Checkout>, StoreError> {
    let rows = db.query(&stmt!(format!("SELECT {COLS} FROM card_checkouts WHERE id = ?1"), id)).await?;
    rows.first().map(|r| from_row(&r)).transpose()
}

pub fn mark_paid(id: &str, at: &str) -> Statement {
    stmt!("UPDATE card_checkouts SET status = 'paid', paid_at = ?2 WHERE id = ?1 AND status = 'open'", id, at)
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Reversal {
    pub id: String,
    pub provider: String,
    pub provider_ref: String,
    pub payment_ref: String,
    pub subscriber_id: Option<String>,
    pub amount_cents: i64,
    pub kind: String,
    pub reason: String,
    pub created_at: String,
}

pub fn insert_reversal(r: &Reversal) -> Statement {
    stmt!(
        "INSERT INTO payment_reversals (id, provider, provider_ref, payment_ref, subscriber_id, amount_cents, kind, \
         reason, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        &r.id,
        &r.provider,
        &r.provider_ref,
        &r.payment_ref,
        r.subscriber_id.clone(),
        r.amount_cents,
        &r.kind,
        &r.reason,
        &r.created_at,
    )
}

pub async fn reversal_exists(db: &impl Db, provider: &str, provider_ref: &str) -> Result<bool, StoreError> {
    let rows = db
        .query(&stmt!(
            "SELECT id FROM payment_reversals WHERE provider = ?1 AND provider_ref = ?2",
            provider,
            provider_ref
        ))
        .await?;
    Ok(!rows.is_empty())
}

pub async fn reversals(db: &impl Db, limit: i64) -> Result<Vec<Reversal>, StoreError> {
    let rows = db
        .query(&stmt!(
            "SELECT id, provider, provider_ref, payment_ref, subscriber_id, amount_cents, kind, reason, created_at \
             FROM payment_reversals ORDER BY created_at DESC, id LIMIT ?1",
            limit
        ))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Reversal {
                id: r.text("id")?,
                provider: r.text("provider")?,
                provider_ref: r.text("provider_ref")?,
                payment_ref: r.text("payment_ref")?,
                subscriber_id: r.opt_text("subscriber_id")?,
                amount_cents: r.int("amount_cents")?,
                kind: r.text("kind")?,
                reason: r.text("reason")?,
                created_at: r.text("created_at")?,
            })
        })
        .collect()
}

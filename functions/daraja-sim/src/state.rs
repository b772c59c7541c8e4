//! The simulator's memory: tokens, STK requests, C2B registrations and payments.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::time::Instant;

use crate::config::{Script, SimConfig};

/// One outbound HTTP call the simulator made (a callback, a validation or a confirmation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallRecord {
    pub url: String,
    pub at: DateTime<Utc>,
    /// The exact body sent.
    pub request_body: String,
    /// HTTP status of the answer, if one came.
    pub status: Option<u16>,
    pub response_body: Option<String>,
    /// Connection error, timeout...
    pub error: Option<String>,
    pub elapsed_ms: u64,
}

impl CallRecord {
    /// Answered with a 2xx.
    pub fn ok(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// Where an STK request is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum StkState {
    /// The customer has not finished; a query answers "The transaction is being processed".
    Pending,
    /// Final; `receipt` is set on success.
    Completed { result_code: i64, result_desc: String, receipt: Option<String> },
}

/// An STK push the simulator accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StkRecord {
    pub merchant_request_id: String,
    pub checkout_request_id: String,
    pub shortcode: String,
    pub transaction_type: String,
    pub amount_kes: u64,
    pub party_a: String,
    pub party_b: String,
    pub phone_number: String,
    pub callback_url: String,
    pub account_reference: String,
    pub transaction_desc: Option<String>,
    pub created_at: DateTime<Utc>,
    pub script: Script,
    #[serde(flatten)]
    pub state: StkState,
    /// Callback deliveries so far (the script may ask for several).
    pub deliveries: Vec<CallRecord>,
    /// True once every scripted delivery has been attempted.
    pub done: bool,
}

impl StkRecord {
    pub fn is_pending(&self) -> bool {
        matches!(self.state, StkState::Pending)
    }

    pub fn receipt(&self) -> Option<&str> {
        match &self.state {
            StkState::Completed { receipt, .. } => receipt.as_deref(),
            StkState::Pending => None,
        }
    }
}

/// URLs registered for a shortcode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct C2bRegistration {
    pub shortcode: String,
    pub response_type: String,
    pub confirmation_url: String,
    pub validation_url: Option<String>,
    /// Which endpoint registered them (`v1` or `v2`).
    pub api_version: String,
}

/// How a simulated customer payment ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum C2bPayStatus {
    /// Money moved; the confirmation was sent (if a ConfirmationURL is registered).
    Completed,
    /// The ValidationURL answered with a reject code; no confirmation.
    Rejected { result_code: String },
    /// The ValidationURL did not answer usably and ResponseType is `Cancelled`; no confirmation.
    Cancelled { reason: String },
    /// The payment was refused before any URL was called.
    Refused { reason: String },
}

/// One simulated C2B payment and everything the simulator did for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct C2bPayResult {
    pub trans_id: String,
    pub shortcode: String,
    pub amount_cents: u64,
    #[serde(flatten)]
    pub status: C2bPayStatus,
    pub validation: Option<CallRecord>,
    /// The (first) confirmation delivery.
    pub confirmation: Option<CallRecord>,
    /// Further deliveries of the same confirmation (`c2b_confirmation_deliveries` > 1).
    pub duplicate_confirmations: Vec<CallRecord>,
}

pub(crate) struct AppState {
    pub(crate) token: Option<(String, Instant)>,
}

pub(crate) struct State {
    /// The configuration given at spawn, for resets.
    pub(crate) initial: SimConfig,
    pub(crate) config: SimConfig,
    pub(crate) apps: HashMap<String, AppState>,
    pub(crate) overrides: HashMap<String, Script>,
    pub(crate) stk: Vec<StkRecord>,
    pub(crate) c2b_registrations: HashMap<String, C2bRegistration>,
    pub(crate) c2b_payments: Vec<C2bPayResult>,
    pub(crate) balances: HashMap<String, u64>,
    pub(crate) seq: u64,
}

impl State {
    pub(crate) fn new(config: SimConfig) -> Self {
        let balances = config.shortcodes.iter().map(|s| (s.shortcode.clone(), s.opening_balance_cents)).collect();
        State {
            initial: config.clone(),
            config,
            apps: HashMap::new(),
            overrides: HashMap::new(),
            stk: Vec::new(),
            c2b_registrations: HashMap::new(),
            c2b_payments: Vec::new(),
            balances,
            seq: 0,
        }
    }

    pub(crate) fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    pub(crate) fn passkey(&self, shortcode: &str) -> Option<&str> {
        self.config.shortcodes.iter().find(|s| s.shortcode == shortcode).map(|s| s.passkey.as_str())
    }

    pub(crate) fn script_for(&self, phone: &str) -> Script {
        self.overrides.get(phone).copied().unwrap_or(self.config.default_script)
    }

    pub(crate) fn stk_mut(&mut self, checkout_request_id: &str) -> Option<&mut StkRecord> {
        self.stk.iter_mut().find(|r| r.checkout_request_id == checkout_request_id)
    }

    /// Receipts and TransIDs already issued (they must be unique).
    pub(crate) fn receipt_taken(&self, receipt: &str) -> bool {
        self.stk.iter().any(|r| r.receipt() == Some(receipt)) || self.c2b_payments.iter().any(|p| p.trans_id == receipt)
    }
}

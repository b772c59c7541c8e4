//! The customer API's answers, typed: the handlers write these and the OpenAPI document
//! ([`super::doc`]) describes these, so the two cannot drift apart.

use schemars::JsonSchema;
use serde::Serialize;

use crate::domain::plan_change::Quote;
use crate::domain::subscriber::Status;
use crate::openapi::{Flag, True, field};
use crate::store::customer::PastSession;

/// A list in one piece.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(inline)]
pub struct Items<T> {
    pub items: Vec<T>,
}

/// One page of a list; the next is asked for with `cursor`.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(inline)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// pass as `cursor` for the next page; null on the last
    pub next_cursor: Option<String>,
}

/// Every error answer. 429s carry Retry-After; 401s carry WWW-Authenticate: Bearer.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "Error")]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, JsonSchema)]
#[schemars(inline)]
pub struct ErrorDetail {
    /// stable, for programs: invalid_request, invalid_credentials, unauthorized, not_found, conflict, rate_limited, method_not_allowed, too_large, provider_error, unavailable
    pub code: &'static str,
    /// for people
    pub message: String,
}

#[derive(Debug, Serialize, JsonSchema)]
#[schemars(inline)]
pub struct SignedOut {
    pub signed_out: True,
}

#[derive(Debug, Serialize, JsonSchema)]
#[schemars(inline)]
pub struct PasswordSet {
    pub password_set: True,
    pub other_sign_ins_ended: True,
}

#[derive(Debug, Serialize, JsonSchema)]
#[schemars(inline)]
pub struct PppoePasswordSet {
    pub pppoe_password_set: True,
    pub applies: &'static str,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct NotificationPreferences {
    pub promotional_sms: bool,
    pub ticket_reply_sms: bool,
    /// receipts, reminders and codes always go
    pub transactional_sms: True,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Me {
    pub id: String,
    pub account_no: String,
    pub name: String,
    pub phone: Option<String>,
    pub username: String,
    pub email: Option<String>,
    #[schemars(extend("enum" = ["sw", "en", null]))]
    pub language: Option<String>,
    pub status: Status,
    pub plan_id: String,
    pub has_password: bool,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Plan {
    pub id: String,
    pub code: String,
    pub name: String,
    #[schemars(schema_with = "field::cents")]
    pub price_cents: i64,
    #[schemars(schema_with = "field::currency")]
    pub currency: &'static str,
    pub period_seconds: i64,
    pub down_kbps: i64,
    pub up_kbps: i64,
    pub data_cap_bytes: Option<i64>,
    /// the subscriber's plan now
    pub current: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Subscription {
    #[schemars(extend("enum" = ["pending", "active", "expired", "suspended", "paused"]))]
    pub status: &'static str,
    pub pending_plan_change: Option<PendingPlanChange>,
    pub pause: Option<Pause>,
    pub plan: Plan,
    #[schemars(schema_with = "field::opt_ts")]
    pub expires_at: Option<String>,
    pub seconds_left: Option<i64>,
    pub grace_seconds: i64,
    pub auto_renew: bool,
    #[schemars(schema_with = "field::cents")]
    pub balance_cents: i64,
    #[schemars(schema_with = "field::currency")]
    pub currency: &'static str,
    #[schemars(schema_with = "field::cents")]
    pub due_for_next_period_cents: i64,
}

#[derive(Debug, Serialize, JsonSchema)]
#[schemars(inline)]
pub struct PendingPlanChange {
    pub plan: Plan,
    #[schemars(extend("enum" = ["at_renewal"]))]
    pub when: &'static str,
    #[schemars(schema_with = "field::opt_ts")]
    pub at: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[schemars(inline)]
pub struct Pause {
    #[schemars(schema_with = "field::ts")]
    pub since: String,
    #[schemars(schema_with = "field::opt_ts")]
    pub until: Option<String>,
    pub seconds_left: Option<i64>,
}

/// `POST subscription/plan-change`: made now, or scheduled for the renewal.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(untagged)]
#[schemars(inline)]
pub enum PlanChanged {
    Now { changed: True, quote: Quote },
    AtRenewal { changed: Flag<false>, scheduled: True, quote: Quote },
}

#[derive(Debug, Serialize, JsonSchema)]
#[schemars(inline)]
pub struct PlanChangeCancelled {
    pub cancelled: True,
    /// the plan the subscriber stays on
    pub plan_id: String,
}

#[derive(Debug, Serialize, JsonSchema)]
#[schemars(inline)]
pub struct AutoRenew {
    pub auto_renew: bool,
}

/// This period (from the start of the paid period, else the last 30 days) against any data cap.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Usage {
    #[schemars(schema_with = "field::day")]
    pub from: String,
    #[schemars(schema_with = "field::day")]
    pub to: String,
    pub download_bytes: i64,
    pub upload_bytes: i64,
    pub total_bytes: i64,
    pub online_seconds: i64,
    pub data_cap_bytes: Option<i64>,
    pub cap_used_percent: Option<i64>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct UsageDaily {
    #[schemars(schema_with = "field::day")]
    pub from: String,
    #[schemars(schema_with = "field::day")]
    pub to: String,
    pub items: Vec<UsageDay>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[schemars(inline)]
pub struct UsageDay {
    #[schemars(schema_with = "field::day")]
    pub day: String,
    pub download_bytes: i64,
    pub upload_bytes: i64,
    pub online_seconds: i64,
    pub sessions: i64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Sessions {
    /// whether a session is open now
    pub online: bool,
    pub items: Vec<PastSession>,
    /// pass as `cursor` for the next page; null on the last
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Wallet {
    #[schemars(schema_with = "field::cents")]
    pub balance_cents: i64,
    #[schemars(schema_with = "field::currency")]
    pub currency: &'static str,
    #[schemars(schema_with = "field::cents")]
    pub next_period_price_cents: i64,
    #[schemars(schema_with = "field::cents")]
    pub due_for_next_period_cents: i64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct TopupStarted {
    pub id: String,
    #[schemars(extend("enum" = ["pending"]))]
    pub status: &'static str,
    #[schemars(schema_with = "field::cents")]
    pub amount_cents: i64,
    #[schemars(schema_with = "field::currency")]
    pub currency: &'static str,
    /// the phone prompted
    pub phone: String,
    pub message: String,
    pub next: NextStep,
}

#[derive(Debug, Serialize, JsonSchema)]
#[schemars(inline)]
pub struct NextStep {
    #[schemars(extend("enum" = ["enter_mpesa_pin_on_phone"]))]
    pub action: &'static str,
    /// where the top-up's outcome shows (GET)
    pub status_url: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Topup {
    pub id: String,
    pub status: crate::domain::payment::StkStatus,
    #[schemars(schema_with = "field::cents")]
    pub amount_cents: i64,
    #[schemars(schema_with = "field::currency")]
    pub currency: &'static str,
    /// masked
    pub phone: String,
    pub result: Option<String>,
    #[schemars(schema_with = "field::ts")]
    pub created_at: String,
    #[schemars(schema_with = "field::opt_ts")]
    pub resolved_at: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Payment {
    pub id: String,
    pub provider: String,
    pub method: String,
    pub receipt: Option<String>,
    #[schemars(schema_with = "field::cents")]
    pub amount_cents: i64,
    #[schemars(schema_with = "field::currency")]
    pub currency: &'static str,
    #[schemars(schema_with = "field::opt_ts")]
    pub paid_at: Option<String>,
    #[schemars(schema_with = "field::ts")]
    pub received_at: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Receipt {
    pub receipt_no: String,
    pub issued_by: String,
    pub account_no: String,
    pub name: String,
    #[schemars(schema_with = "field::cents")]
    pub amount_cents: i64,
    #[schemars(schema_with = "field::currency")]
    pub currency: &'static str,
    pub method: String,
    pub provider: String,
    #[schemars(schema_with = "field::ts")]
    pub paid_at: String,
    pub payment_id: String,
}

/// One way to pay the ISP.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PaymentMethod {
    MpesaStk { how: &'static str },
    MpesaPaybill { business_number: String, account_number: String },
    MpesaTill { till_number: String },
    Card { provider: CardProvider, how: String },
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CardProvider {
    Stripe,
    Paystack,
}

#[derive(Debug, Serialize, JsonSchema)]
#[schemars(inline)]
pub struct Removed {
    pub removed: True,
}

//! The customer API's OpenAPI document, made from the code: one line per operation naming the
//! Rust types its handler reads and writes (`super::route`), the schemas derived from them.
//! `openapi.json` next to this file is this document as generated; the test below fails when the
//! two differ (`KONNEKTED_WRITE_OPENAPI=1 cargo test -p konnekted-core openapi` writes it anew).

use serde_json::{Value, json};

use super::views as v;
use super::{
    AutoRenewInput, LoginInput, NotificationPreferencesInput, OtpVerifyInput, PasswordInput, PppoePasswordInput,
    RefreshInput, TopupInput,
};
use crate::openapi::{Auth, Doc};
use crate::store::customer::{Invoice, Notification, OnlineSession, WalletEntry};
use crate::store::self_service::{Device, Ticket as TicketSummary};
use crate::usecases::credit::Applied;
use crate::usecases::customer::{ClaimInput, Claimed, PlanChangeInput, ProfilePatch, RedeemInput, VoucherCredited};
use crate::usecases::customer_auth::{OtpInput, OtpSent, Tokens};
use crate::usecases::self_service::{
    DeviceInput, DisconnectRequested, MessageInput, NetworkStatus, PauseInput, Paused, Resumed, TicketInput, TicketView,
};

const DESCRIPTION: &str = "What a signed-in subscriber can see and do, under /api/p/{realm}/v1. Sign in with POST \
auth/otp + auth/otp/verify (a code by SMS) or POST auth/login; send the access token as `Authorization: Bearer \
<token>` on every other call; it lasts `expires_in` seconds, then POST auth/refresh. An id that is not the signed-in \
subscriber's is 404. Errors are {\"error\": {\"code\", \"message\"}}. Money is integer cents with `currency`; lists \
page by `cursor` (`next_cursor` in the answer); reads carry an ETag and answer 304 to a matching If-None-Match.";

/// The document served at `GET v1/openapi.json`.
pub fn openapi() -> Value {
    let mut d = Doc::new();

    // Account
    d.op("POST", "auth/otp", "Send a one-time sign-in code by SMS to the phone on file")
        .auth(Auth::Open)
        .body::<OtpInput>()
        .answers::<OtpSent>(202)
        .add();
    d.op("POST", "auth/otp/verify", "Exchange the code for access and refresh tokens")
        .auth(Auth::Open)
        .body::<OtpVerifyInput>()
        .answers::<Tokens>(200)
        .add();
    d.op("POST", "auth/login", "Sign in with account number or PPPoE username and portal password")
        .auth(Auth::Open)
        .body::<LoginInput>()
        .answers::<Tokens>(200)
        .add();
    d.op("POST", "auth/refresh", "Rotate a refresh token")
        .auth(Auth::Open)
        .body::<RefreshInput>()
        .answers::<Tokens>(200)
        .add();
    d.op("POST", "auth/logout", "End this sign-in")
        .describe("With an access token its sign-in ends; without one, send the refresh token in the body.")
        .auth(Auth::Optional)
        .optional_body::<RefreshInput>()
        .answers::<v::SignedOut>(200)
        .add();
    d.op("GET", "me", "The signed-in subscriber").etag().answers::<v::Me>(200).add();
    d.op("PATCH", "me", "Change name, email or language").body::<ProfilePatch>().answers::<v::Me>(200).add();
    d.op("PUT", "me/password", "Set the portal password (ends other sign-ins)")
        .body::<PasswordInput>()
        .answers::<v::PasswordSet>(200)
        .add();
    d.op("PUT", "me/pppoe-password", "Set the PPPoE secret (reaches RADIUS through the change feed)")
        .body::<PppoePasswordInput>()
        .answers::<v::PppoePasswordSet>(200)
        .add();
    d.op("GET", "me/notifications", "Messages sent about the account")
        .limit()
        .etag()
        .answers::<v::Items<Notification>>(200)
        .add();
    d.op("PUT", "me/notification-preferences", "Promotional SMS and ticket-reply SMS on or off")
        .body::<NotificationPreferencesInput>()
        .answers::<v::NotificationPreferences>(200)
        .add();

    // Plans and subscription
    d.op("GET", "plans", "Plans on offer").etag().answers::<v::Items<v::Plan>>(200).add();
    d.op("GET", "plans/{id}", "One plan").etag().answers::<v::Plan>(200).add();
    d.op("GET", "subscription", "Plan, expiry, balance, pending change, pause")
        .etag()
        .answers::<v::Subscription>(200)
        .add();
    d.op("POST", "subscription/renew", "Buy the next period from the balance").answers::<Applied>(200).add();
    d.op("POST", "subscription/plan-change/quote", "What a plan change costs")
        .body::<PlanChangeInput>()
        .answers::<crate::domain::plan_change::Quote>(200)
        .add();
    d.op("POST", "subscription/plan-change", "Change plan now, or at the renewal")
        .body::<PlanChangeInput>()
        .answers::<v::PlanChanged>(200)
        .add();
    d.op("DELETE", "subscription/plan-change", "Take back a plan change scheduled for the renewal")
        .answers::<v::PlanChangeCancelled>(200)
        .add();
    d.op("PUT", "subscription/auto-renew", "Automatic renewal on or off")
        .body::<AutoRenewInput>()
        .answers::<v::AutoRenew>(200)
        .add();
    d.op("POST", "subscription/pause", "Pause (if the ISP allows): paid time banked")
        .body::<PauseInput>()
        .answers::<Paused>(200)
        .add();
    d.op("POST", "subscription/resume", "End a pause").answers::<Resumed>(200).add();

    // Usage
    d.op("GET", "usage", "This period's usage against any data cap").etag().answers::<v::Usage>(200).add();
    let day = json!({"type": "string", "format": "date", "description": "a day in East Africa Time, YYYY-MM-DD"});
    d.op("GET", "usage/daily", "Usage per day")
        .query("from", day.clone(), Some("default: 29 days before `to`"))
        .query("to", day, Some("default: today"))
        .etag()
        .answers::<v::UsageDaily>(200)
        .add();
    d.op("GET", "sessions", "Session history, newest first").paged().etag().answers::<v::Sessions>(200).add();
    d.op("GET", "sessions/current", "The open session").etag().answers::<OnlineSession>(200).add();
    d.op("DELETE", "sessions/current", "Disconnect the open session (through the RADIUS agent)")
        .answers::<DisconnectRequested>(202)
        .add();

    // Money
    d.op("GET", "wallet", "Balance").etag().answers::<v::Wallet>(200).add();
    d.op("GET", "wallet/entries", "Ledger entries with running balance")
        .paged()
        .etag()
        .answers::<v::Page<WalletEntry>>(200)
        .add();
    d.op("GET", "wallet/statement", "Statement (CSV)")
        .answers_text("text/csv", "date,kind,memo,amount_kes,balance_kes; a row per ledger entry")
        .add();
    d.op("POST", "topups", "Start an M-Pesa STK top-up").body::<TopupInput>().answers::<v::TopupStarted>(202).add();
    d.op("GET", "topups", "M-Pesa STK top-ups, newest first").limit().etag().answers::<v::Items<v::Topup>>(200).add();
    d.op("GET", "topups/{id}", "One top-up").etag().answers::<v::Topup>(200).add();
    d.op("GET", "payments", "Payments").paged().etag().answers::<v::Page<v::Payment>>(200).add();
    d.op("GET", "payments/{id}", "One payment").etag().answers::<v::Payment>(200).add();
    d.op("GET", "payments/{id}/receipt", "A payment's receipt").etag().answers::<v::Receipt>(200).add();
    d.op("POST", "payments/claim", "Claim a Paybill payment made with a wrong account number")
        .body::<ClaimInput>()
        .answers::<Claimed>(200)
        .add();
    d.op("GET", "payment-methods", "How to pay").etag().answers::<v::Items<v::PaymentMethod>>(200).add();
    d.op("POST", "vouchers/redeem", "Put a hotspot voucher's value on the balance")
        .body::<RedeemInput>()
        .answers::<VoucherCredited>(200)
        .add();
    d.op("GET", "invoices", "Paid periods").paged().etag().answers::<v::Page<Invoice>>(200).add();
    d.op("GET", "invoices/{id}", "One paid period").etag().answers::<Invoice>(200).add();

    // Devices, support and network
    d.op("GET", "devices", "The subscriber's devices").etag().answers::<v::Items<Device>>(200).add();
    d.op("POST", "devices", "Add a device").body::<DeviceInput>().answers::<Device>(201).add();
    d.op("DELETE", "devices/{id}", "Remove a device, by MAC").answers::<v::Removed>(200).add();
    d.op("GET", "tickets", "Support tickets").limit().etag().answers::<v::Items<TicketSummary>>(200).add();
    d.op("POST", "tickets", "Open a support ticket").body::<TicketInput>().answers::<TicketView>(201).add();
    d.op("GET", "tickets/{id}", "One ticket with its messages").etag().answers::<TicketView>(200).add();
    d.op("POST", "tickets/{id}/messages", "Add a message").body::<MessageInput>().answers::<TicketView>(201).add();
    d.op("GET", "network/status", "Outages and maintenance for the subscriber's site")
        .etag()
        .answers::<NetworkStatus>(200)
        .add();

    d.finish::<v::ErrorBody>(json!({
        "openapi": "3.1.0",
        "info": {"title": "Konnekted customer API", "version": "1", "description": DESCRIPTION},
        "servers": [{"url": "/api/p/{realm}/v1", "variables": {"realm": {"default": "demo"}}}],
        "security": [{"bearer": []}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
            "description": "the access token of auth/otp/verify, auth/login or auth/refresh"}}},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The served file is the generated document, byte for byte.
    #[test]
    fn openapi_json_is_the_document_the_code_makes() {
        crate::openapi::assert_generated(&openapi(), super::super::OPENAPI, "api/customer/openapi.json");
    }
}

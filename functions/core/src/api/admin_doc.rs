//! The admin API's OpenAPI document, made from the code: one line per operation naming the Rust
//! types its handler reads and writes ([`super::admin`], [`super::vouchers`]), the schemas derived
//! from them. `admin_openapi.json` is this document as generated; the test below fails when the
//! two differ (`KONNEKTED_WRITE_OPENAPI=1 cargo test -p konnekted-core openapi` writes it anew).

use serde_json::{Value, json};

use super::admin::{
    AdjustInput, AdminError, ConfirmDisablesInput, OptOut, OptOutEntry, OptOutInput, Registered, SettingsPatch,
    SettingsView, SmsCosts, StaffUserInput, StkPushInput, SweepRun, TenantView, Updated, UsageDay,
};
use super::vouchers::{BatchCreated, Codes};
use crate::domain::plan::Plan;
use crate::openapi::{Auth, Doc};
use crate::store::callbacks;
use crate::store::cards::Reversal;
use crate::store::feed::Change;
use crate::store::ledger;
use crate::store::payments::Payment;
use crate::store::reports::RunReport;
use crate::store::self_service::Notice;
use crate::store::sms::Sms;
use crate::store::staff::StaffUser;
use crate::store::subscribers::WithBalance;
use crate::store::usage::OnlineNow;
use crate::store::voucher_report::Report as VoucherReport;
use crate::store::vouchers::Batch;
use crate::usecases::credit::Applied;
use crate::usecases::held::Confirmed;
use crate::usecases::operator_money::AssignInput;
use crate::usecases::plans::{PlanInput, PlanPatch};
use crate::usecases::self_service::NoticeInput;
use crate::usecases::sms::{Broadcast, BroadcastInput};
use crate::usecases::subscribers::{SubscriberInput, SubscriberPatch};
use crate::usecases::tenants::{NewTenant, TenantInput};
use crate::usecases::topup::TopupStarted;
use crate::usecases::vouchers::BatchInput;

const DESCRIPTION: &str = "What an ISP's operator (and the programs acting for them) can see and do in one tenant, \
under /api/t/{realm}; the platform's tenant list is /api/tenants. Authenticate with `Authorization: Bearer \
<credential>`: the tenant's admin token (acts as owner), an API key made in the console under Users (acts with its \
role: owner, staff, agent or readonly; an agent's key sees and sells only its own voucher batches), or the platform \
token (owner of every tenant). A role that may not do something is 403; a missing or wrong credential is 401; an \
unknown tenant is 404. Every successful change is written to the tenant's audit log. Errors are {\"error\": \
\"message\"}. Money is integer KES cents (`_cents`; SMS costs in ten-thousandths, `_e4`); times are UTC RFC 3339. The \
subscriber-facing API has its own document at /api/p/{realm}/v1/openapi.json.";

/// The document served at `GET /api/t/{realm}/openapi.json`.
pub fn openapi() -> Value {
    let mut d = Doc::new();
    d.op("GET", "tenants", "Every tenant of the platform")
        .tag("platform")
        .describe("Role: platform token only.")
        .auth(Auth::Scheme("platform"))
        .answers::<Vec<TenantView<'static>>>(200)
        .add();
    d.op("POST", "tenants", "Create a tenant and its billing database")
        .tag("platform")
        .describe("On Cloudflare Workers the tenant's D1 database must be bound first (scripts/edge-tenant-add.sh). Role: platform token only.")
        .auth(Auth::Scheme("platform"))
        .body::<TenantInput>()
        .answers::<NewTenant>(201)
        .add();
    d.op("GET", "plans", "Every plan")
        .tag("plans")
        .describe("Role: read billing (every role but agent).")
        .answers::<Vec<Plan>>(200)
        .add();
    d.op("POST", "plans", "Create a plan")
        .tag("plans")
        .describe("Role: edit plans (owner).")
        .body::<PlanInput>()
        .answers::<Plan>(201)
        .add();
    d.op("GET", "plans/{id}", "One plan")
        .tag("plans")
        .describe("Role: read billing.")
        .path_param(json!({"type": "string"}), "plan id")
        .answers::<Plan>(200)
        .add();
    d.op("PATCH", "plans/{id}", "Change a plan")
        .tag("plans")
        .describe("A speed change reaches routers through the change feed. Role: edit plans (owner).")
        .path_param(json!({"type": "string"}), "plan id")
        .body::<PlanPatch>()
        .answers::<Plan>(200)
        .add();
    d.op("GET", "subscribers", "Subscribers, newest first")
        .tag("subscribers")
        .describe("Role: read billing.")
        .query(
            "status",
            json!({"type": "string", "enum": ["pending", "active", "expired", "suspended"]}),
            Some("only this status"),
        )
        .query(
            "limit",
            json!({"type": "integer", "minimum": 0, "default": 100, "description": "at most 1000"}),
            Some("how many"),
        )
        .query("offset", json!({"type": "integer", "minimum": 0, "default": 0}), Some("skip this many"))
        .answers::<Vec<WithBalance>>(200)
        .add();
    d.op("POST", "subscribers", "Create a subscriber (pending until paid)")
        .tag("subscribers")
        .describe("Role: edit subscribers (owner, staff).")
        .body::<SubscriberInput>()
        .answers::<WithBalance>(201)
        .add();
    d.op("GET", "subscribers/{id}", "One subscriber with balance")
        .tag("subscribers")
        .describe("Role: read billing.")
        .path_param(json!({"type": "string"}), "subscriber id, account number or username")
        .answers::<WithBalance>(200)
        .add();
    d.op("PATCH", "subscribers/{id}", "Change a subscriber: profile, plan, suspend or resume")
        .tag("subscribers")
        .describe("Role: edit subscribers (owner, staff).")
        .path_param(json!({"type": "string"}), "subscriber id, account number or username")
        .body::<SubscriberPatch>()
        .answers::<WithBalance>(200)
        .add();
    d.op("GET", "subscribers/{id}/ledger", "The subscriber's ledger, oldest first, with running balance")
        .tag("money")
        .describe("Role: read billing.")
        .path_param(json!({"type": "string"}), "subscriber id, account number or username")
        .answers::<Vec<ledger::Entry>>(200)
        .add();
    d.op("POST", "subscribers/{id}/adjust", "A manual payment or debit")
        .tag("money")
        .describe("Role: take money (owner, staff).")
        .path_param(json!({"type": "string"}), "subscriber id, account number or username")
        .body::<AdjustInput>()
        .answers::<Applied>(200)
        .add();
    d.op("POST", "subscribers/{id}/stk-push", "Send an M-Pesa STK prompt to the subscriber's phone")
        .tag("money")
        .describe("Accepted: the payment is applied when Daraja calls back (or the sweep finds it). Role: take money (owner, staff).")
        .path_param(json!({"type": "string"}), "subscriber id, account number or username")
        .body::<StkPushInput>()
        .answers::<TopupStarted>(202)
        .add();
    d.op("GET", "payments", "Payments, newest first")
        .tag("money")
        .describe("Role: read billing.")
        .query("status", json!({"type": "string", "enum": ["applied", "unmatched"]}), Some("only this status"))
        .query("subscriber", json!({"type": "string"}), Some("only this subscriber's (id)"))
        .query(
            "limit",
            json!({"type": "integer", "minimum": 0, "default": 100, "description": "at most 1000"}),
            Some("how many"),
        )
        .answers::<Vec<Payment>>(200)
        .add();
    d.op("GET", "unmatched", "The unmatched inbox: payments that matched no account")
        .tag("money")
        .describe("Role: read billing.")
        .query(
            "limit",
            json!({"type": "integer", "minimum": 0, "default": 100, "description": "at most 1000"}),
            Some("how many"),
        )
        .answers::<Vec<Payment>>(200)
        .add();
    d.op("POST", "unmatched/{id}/assign", "Credit an unmatched payment to a subscriber")
        .tag("money")
        .describe("Role: take money (owner, staff).")
        .path_param(json!({"type": "string"}), "payment id")
        .body::<AssignInput>()
        .answers::<Applied>(200)
        .add();
    d.op("GET", "callbacks", "Every provider callback as received, newest first")
        .tag("money")
        .describe("Role: view network (every role but agent).")
        .query("outcome", json!({"type": "string"}), Some("only this outcome"))
        .query(
            "limit",
            json!({"type": "integer", "minimum": 0, "default": 50, "description": "at most 500"}),
            Some("how many"),
        )
        .answers::<Vec<callbacks::Logged>>(200)
        .add();
    d.op("GET", "reversals", "Card refunds and chargebacks, newest first")
        .tag("money")
        .describe("Role: read billing.")
        .query(
            "limit",
            json!({"type": "integer", "minimum": 0, "default": 100, "description": "at most 1000"}),
            Some("how many"),
        )
        .answers::<Vec<Reversal>>(200)
        .add();
    d.op("GET", "feed", "The change feed (network-affecting changes) after a cursor")
        .tag("network")
        .describe("Role: owner.")
        .query("after", json!({"type": "integer", "minimum": 0, "default": 0}), Some("the last seq seen"))
        .query(
            "limit",
            json!({"type": "integer", "minimum": 0, "default": 500, "description": "at most 5000"}),
            Some("how many"),
        )
        .answers::<Vec<Change>>(200)
        .add();
    d.op("GET", "settings", "The tenant's settings and provider configuration")
        .tag("settings")
        .describe("Role: owner.")
        .answers::<SettingsView>(200)
        .add();
    d.op("PUT", "settings", "Change settings and provider keys")
        .tag("settings")
        .describe("Audited with the names of the fields changed, never their values. Role: owner.")
        .body::<SettingsPatch>()
        .answers::<Updated>(200)
        .add();
    d.op("POST", "daraja/register-c2b", "Register the Paybill's C2B validation and confirmation URLs with Daraja")
        .tag("settings")
        .describe("No body. 502 when Daraja refuses. Role: owner.")
        .answers::<Registered>(200)
        .add();
    d.op("POST", "sweep", "Run the scheduled pass for this tenant now: STK query sweep, pending credits, expiry")
        .tag("settings")
        .describe("No body. Role: owner.")
        .answers::<SweepRun>(200)
        .add();
    d.op("GET", "usage", "Daily usage (from RADIUS accounting)")
        .tag("network")
        .describe("Role: view network.")
        .query("subscriber", json!({"type": "string"}), Some("a subscriber id (404 when unknown)"))
        .query("username", json!({"type": "string"}), Some("a PPPoE username"))
        .query("from", json!({"type": "string"}), Some("YYYY-MM-DD"))
        .query("to", json!({"type": "string"}), Some("YYYY-MM-DD"))
        .query(
            "limit",
            json!({"type": "integer", "minimum": 0, "default": 366, "description": "at most 10000"}),
            Some("how many"),
        )
        .answers::<Vec<UsageDay>>(200)
        .add();
    d.op("GET", "online", "Sessions online now, as the RADIUS agent last reported")
        .tag("network")
        .describe("Role: view network.")
        .answers::<Vec<OnlineNow>>(200)
        .add();
    d.op("GET", "reports", "The reconciler's run reports, newest first")
        .tag("network")
        .describe("Role: view network.")
        .query("router", json!({"type": "string"}), Some("only this router"))
        .query("outcome", json!({"type": "string"}), Some("only this outcome"))
        .query(
            "limit",
            json!({"type": "integer", "minimum": 0, "default": 100, "description": "at most 1000"}),
            Some("how many"),
        )
        .answers::<Vec<RunReport>>(200)
        .add();
    d.op("POST", "routers/{id}/confirm-disables", "Confirm the disconnections the mass-disable guard holds on a router")
        .tag("network")
        .describe("Role: confirm disables (owner, staff). The reconciler's guard counts disables over a rolling window per router and per tenant and holds those past its limit; its run reports (`GET /reports`, `report.held`) say what it holds, with a `hold_id`. Confirming that `hold_id` releases exactly those disables: the reconciler picks the confirmation up through the sync API within seconds and applies them once. A hold that grew since (more subscribers held) has another `hold_id`: 409, look again. Nothing held: 404. Confirming the same hold again records nothing (`recorded: false`). Re-enables never wait for a confirmation.")
        .path_param(json!({"type": "string"}), "router name, as the reconciler reports it")
        .body::<ConfirmDisablesInput>()
        .answers::<Confirmed>(200)
        .add();
    d.op("GET", "network-notices", "Outages and maintenance announced to subscribers (current and coming)")
        .tag("network")
        .describe("Role: view network.")
        .answers::<Vec<Notice>>(200)
        .add();
    d.op("POST", "network-notices", "Announce an outage or maintenance")
        .tag("network")
        .describe("Role: edit subscribers (owner, staff).")
        .body::<NoticeInput>()
        .answers::<Notice>(201)
        .add();
    d.op("GET", "voucher-batches", "The newest 100 voucher batches (an agent's key: its own printed batches)")
        .tag("vouchers")
        .describe("Role: view vouchers.")
        .answers::<Vec<Batch>>(200)
        .add();
    d.op("POST", "voucher-batches", "Make a batch of hotspot voucher codes")
        .tag("vouchers")
        .describe("Codes are derived from a key, nothing per code is stored; 503 when the deployment has no voucher secret. Role: sell vouchers (owner, staff, agent).")
        .body::<BatchInput>()
        .answers::<BatchCreated>(201)
        .add();
    d.op("GET", "voucher-batches/{id}/codes", "A batch's codes, JSON or CSV")
        .tag("vouchers")
        .describe("Role: sell vouchers.")
        .path_param(json!({"type": "integer", "minimum": 0}), "batch number")
        .query("offset", json!({"type": "integer", "minimum": 0, "default": 0}), Some("first serial"))
        .query("limit", json!({"type": "integer", "minimum": 0, "default": 1000}), Some("at most 5000"))
        .query("format", json!({"type": "string", "enum": ["json", "csv"]}), Some("csv: text/csv for printing"))
        .answers::<Codes>(200)
        .also_text("text/csv", "batch,serial,code lines with a header")
        .add();
    d.op("GET", "voucher-batches/{id}/sheet", "A batch's print-ready sheet (HTML, QR codes)")
        .tag("vouchers")
        .describe("Role: view vouchers.")
        .path_param(json!({"type": "integer", "minimum": 0}), "batch number")
        .query(
            "layout",
            json!({"type": "string", "enum": ["a4", "58", "80"], "default": "a4"}),
            Some("A4 page or 58/80 mm roll"),
        )
        .query("offset", json!({"type": "integer", "minimum": 0, "default": 0}), Some("first serial"))
        .query("limit", json!({"type": "integer", "minimum": 0, "default": 1000}), Some("at most 5000"))
        .answers_text("text/html", "a print-ready page")
        .add();
    d.op("GET", "voucher-report", "Per batch sold, redeemed, unused, expired; per day and per agent")
        .tag("vouchers")
        .describe("Role: view vouchers.")
        .query("days", json!({"type": "integer", "minimum": 0, "default": 30}), Some("this many days back (1-366)"))
        .answers::<VoucherReport>(200)
        .add();
    d.op("GET", "sms-outbox", "The SMS outbox, newest first")
        .tag("sms")
        .describe("Role: view SMS.")
        .query("to", json!({"type": "string"}), Some("2547XXXXXXXX"))
        .query("status", json!({"type": "string"}), Some("queued, sent, delivered, failed..."))
        .query(
            "limit",
            json!({"type": "integer", "minimum": 0, "default": 50, "description": "at most 500"}),
            Some("how many"),
        )
        .answers::<Vec<Sms>>(200)
        .add();
    d.op("POST", "sms/broadcast", "Queue a broadcast SMS (English and Swahili) to subscribers")
        .tag("sms")
        .describe("Role: send SMS (owner, staff).")
        .body::<BroadcastInput>()
        .answers::<Broadcast>(201)
        .add();
    d.op("GET", "sms/optouts", "Phones that opted out of promotional SMS")
        .tag("sms")
        .describe("Role: view SMS.")
        .answers::<Vec<OptOutEntry>>(200)
        .add();
    d.op("POST", "sms/optouts", "Opt a phone out of (or back in to) promotional SMS")
        .tag("sms")
        .describe("Role: edit subscribers (owner, staff).")
        .body::<OptOutInput>()
        .answers::<OptOut>(200)
        .add();
    d.op("GET", "sms/costs", "What SMS cost, per day")
        .tag("sms")
        .describe("Role: view SMS.")
        .query(
            "days",
            json!({"type": "integer", "minimum": 0, "default": 30}),
            Some("this many days back (at most 3660)"),
        )
        .answers::<SmsCosts>(200)
        .add();
    d.op("GET", "users", "Console users")
        .tag("users")
        .describe("Role: manage users (owner).")
        .answers::<Vec<StaffUser>>(200)
        .add();
    d.op("POST", "users", "Add a console user")
        .tag("users")
        .describe("Role: manage users (owner).")
        .body::<StaffUserInput>()
        .answers::<StaffUser>(201)
        .add();
    d.path_servers("tenants", json!([{"url": "/api", "description": "the platform's own route: /api/tenants"}]));

    let tags: Vec<Value> =
        ["platform", "plans", "subscribers", "money", "settings", "network", "vouchers", "sms", "users"]
            .iter()
            .map(|t| json!({"name": t}))
            .collect();
    d.finish::<AdminError>(json!({
        "openapi": "3.1.0",
        "info": {"title": "Konnekted admin API", "version": "1", "description": DESCRIPTION},
        "servers": [{"url": "/api/t/{realm}", "variables": {"realm": {"default": "demo", "description": "the tenant"}}}],
        "security": [{"bearer": []}],
        "tags": tags,
        "components": {"securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer",
                "description": "the tenant's admin token, an API key (kk_...), or the platform token"},
            "platform": {"type": "http", "scheme": "bearer", "description": "the platform token"},
        }},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The served file is the generated document, byte for byte.
    #[test]
    fn admin_openapi_json_is_the_document_the_code_makes() {
        crate::openapi::assert_generated(&openapi(), super::super::admin::OPENAPI, "api/admin_openapi.json");
    }
}

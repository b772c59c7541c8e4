//! What a piece of evidence about an M-Pesa payment does: pure decisions, no storage.
//!
//! An STK push is resolved by whichever evidence arrives first (Daraja's callback, the
//! sweep's STK query, the sweep giving up), in any order and any number of times. The rule
//! that keeps money from being lost: **evidence of real money always ends as a credit**,
//! once. A push the sweep marked failed is paid after all when a success arrives later
//! (`failed -> paid` is legal when the money is real); a failure arriving after a success
//! changes nothing.

use serde::Serialize;

use super::Money;

/// The lifecycle of one STK push.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StkStatus {
    /// Sent to the phone; no final answer yet.
    Pending,
    /// Money received and credited.
    Paid,
    /// No money (cancelled, wrong PIN, timed out...) as far as we know. A later success
    /// overturns it.
    Failed,
}

impl StkStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StkStatus::Pending => "pending",
            StkStatus::Paid => "paid",
            StkStatus::Failed => "failed",
        }
    }
    pub fn parse(s: &str) -> Option<StkStatus> {
        match s {
            "pending" => Some(StkStatus::Pending),
            "paid" => Some(StkStatus::Paid),
            "failed" => Some(StkStatus::Failed),
            _ => None,
        }
    }
}

/// Who learned the final answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Resolver {
    Callback,
    Sweep,
}

impl Resolver {
    pub fn as_str(self) -> &'static str {
        match self {
            Resolver::Callback => "callback",
            Resolver::Sweep => "sweep",
        }
    }
}

/// One piece of evidence about a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StkEvidence {
    /// Daraja's callback with ResultCode 0: the money moved. Carries the receipt.
    CallbackPaid { amount: Money, receipt: String },
    /// Daraja's callback with a non-zero ResultCode.
    CallbackFailed { code: String, desc: String },
    /// The STK query answered ResultCode 0 (no receipt in a query answer).
    QueryPaid { desc: String },
    /// The STK query answered a final non-zero ResultCode (1032 cancelled, 1037 no response...).
    QueryFailed { code: String, desc: String },
    /// The STK query could not tell: still processing, an error, no answer, or an answer about
    /// another CheckoutRequestID.
    QueryUnknown,
    /// The sweep's patience ran out (`stk_give_up_seconds`) with no final answer.
    GiveUp,
}

/// What the push knows about itself when the evidence arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StkView {
    pub status: StkStatus,
    /// What we asked the phone for.
    pub requested: Money,
    /// The receipt on the payment already credited for this push, if any.
    pub receipt: Option<String>,
}

/// The decision, for the use case to turn into one atomic batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StkDecision {
    /// Credit `amount` and move the push from `from` to paid.
    Credit { from: StkStatus, amount: Money, receipt: Option<String>, by: Resolver, note: Option<String> },
    /// Already credited without a receipt (the query has none): keep the receipt now.
    AttachReceipt { receipt: String },
    /// Move the push from pending to failed.
    Fail { code: String, desc: String, by: Resolver },
    /// Still pending: remember that we asked.
    NoteQuery,
    /// Nothing to do; `why` goes in the log.
    Nothing { why: String },
}

/// Decides what `evidence` does to a push in state `view`.
pub fn decide_stk(view: &StkView, evidence: &StkEvidence) -> StkDecision {
    use StkDecision as D;
    use StkEvidence as E;
    use StkStatus as S;
    match (view.status, evidence) {
        (S::Pending | S::Failed, E::CallbackPaid { amount, receipt }) => D::Credit {
            from: view.status,
            amount: *amount,
            receipt: Some(receipt.clone()),
            by: Resolver::Callback,
            note: credit_note(view, *amount),
        },
        (S::Paid, E::CallbackPaid { receipt, .. }) => match &view.receipt {
            None => D::AttachReceipt { receipt: receipt.clone() },
            Some(r) if r == receipt => D::Nothing { why: "already paid".into() },
            Some(r) => D::Nothing { why: format!("already paid with receipt {r}, this one says {receipt}") },
        },
        (S::Pending | S::Failed, E::QueryPaid { .. }) => D::Credit {
            from: view.status,
            amount: view.requested,
            receipt: None,
            by: Resolver::Sweep,
            note: Some(match view.status {
                S::Failed => "paid after it was marked failed; recovered by STK query".into(),
                _ => "recovered by STK query (no callback received)".into(),
            }),
        },
        (S::Pending, E::CallbackFailed { code, desc }) => {
            D::Fail { code: code.clone(), desc: desc.clone(), by: Resolver::Callback }
        }
        (S::Pending, E::QueryFailed { code, desc }) => {
            D::Fail { code: code.clone(), desc: desc.clone(), by: Resolver::Sweep }
        }
        (S::Pending, E::GiveUp) => {
            D::Fail { code: "timeout".into(), desc: "no final answer from M-Pesa".into(), by: Resolver::Sweep }
        }
        (S::Pending, E::QueryUnknown) => D::NoteQuery,
        (S::Paid, _) => D::Nothing { why: "already paid".into() },
        (S::Failed, _) => D::Nothing { why: "already failed".into() },
    }
}

fn credit_note(view: &StkView, amount: Money) -> Option<String> {
    let mut notes = Vec::new();
    if view.status == StkStatus::Failed {
        notes.push("paid after it was marked failed".to_owned());
    }
    if amount != view.requested {
        notes.push(format!("requested {} cents, paid {}", view.requested.cents(), amount.cents()));
    }
    (!notes.is_empty()).then(|| notes.join("; "))
}

/// The most a single payment or adjustment may carry unless a tenant says otherwise:
/// KES 1,000,000 (M-Pesa's own per-transaction ceiling is far below it).
pub const DEFAULT_MAX_PAYMENT: Money = Money(100_000_000);

/// Why an amount is refused at the edge of the system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AmountRefused {
    #[error("amount must be positive")]
    NotPositive,
    #[error("amount {amount} is over this ISP's limit of {max} per payment")]
    OverLimit { amount: Money, max: Money },
}

/// The one bound every channel applies to incoming money (callbacks, adjustments, top-ups).
pub fn bounded_amount(cents: u64, max: Money) -> Result<Money, AmountRefused> {
    if cents == 0 {
        return Err(AmountRefused::NotPositive);
    }
    match i64::try_from(cents) {
        Ok(c) if c <= max.cents() => Ok(Money(c)),
        Ok(c) => Err(AmountRefused::OverLimit { amount: Money(c), max }),
        Err(_) => Err(AmountRefused::OverLimit { amount: Money(i64::MAX), max }),
    }
}

/// How a Paybill payment found its subscriber (kept in the payment's note).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayerMatch {
    /// The account number as typed.
    Account,
    /// The account number after normalising (case, spaces, a missing prefix).
    AccountNormalised,
    /// The PPPoE username typed as the account number.
    Username,
    /// No account matched; the paying phone is on file for exactly one subscriber.
    Phone,
}

impl PayerMatch {
    pub fn as_str(self) -> &'static str {
        match self {
            PayerMatch::Account => "account",
            PayerMatch::AccountNormalised => "account_normalised",
            PayerMatch::Username => "username",
            PayerMatch::Phone => "phone",
        }
    }
}

/// What a Paybill (C2B) confirmation does, given what was read for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum C2bDecision {
    /// This TransID is already recorded: acknowledge, change nothing.
    Duplicate,
    /// Real money nobody could be matched to: keep it in the unmatched inbox for the operator.
    Park,
    /// Credit the matched subscriber.
    Credit(PayerMatch),
}

/// The confirmation's decision: a TransID is recorded once; money is never refused after it
/// moved (Daraja's confirmation cannot be declined), only parked when no one matches.
pub fn decide_c2b(already_recorded: bool, payer: Option<PayerMatch>) -> C2bDecision {
    match (already_recorded, payer) {
        (true, _) => C2bDecision::Duplicate,
        (false, None) => C2bDecision::Park,
        (false, Some(how)) => C2bDecision::Credit(how),
    }
}

/// Why a Paybill payment is declined at validation (before the money moves), with the result
/// code Daraja expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum C2bRefusal {
    #[error("shortcode is not this tenant's")]
    WrongShortcode,
    #[error("amount below KES 1")]
    BelowMinimum,
    #[error("{0}")]
    Amount(AmountRefused),
    #[error("unknown account number")]
    UnknownAccount,
}

impl C2bRefusal {
    /// Daraja's validation result code: C2B00012 invalid account, C2B00013 invalid amount,
    /// C2B00015 invalid shortcode.
    pub fn result_code(self) -> &'static str {
        match self {
            C2bRefusal::WrongShortcode => "C2B00015",
            C2bRefusal::BelowMinimum | C2bRefusal::Amount(_) => "C2B00013",
            C2bRefusal::UnknownAccount => "C2B00012",
        }
    }
}

/// The checks of a validation request that need no database: the shortcode is the tenant's
/// (its Paybill or its till; anything goes while none is configured) and the amount is within
/// KES 1 and the tenant's per-payment limit.
pub fn validate_c2b(
    paid_to: &str,
    tenant_shortcode: &str,
    tenant_till: &str,
    amount_cents: u64,
    max: Money,
) -> Result<Money, C2bRefusal> {
    if !tenant_shortcode.is_empty() && paid_to != tenant_shortcode && paid_to != tenant_till {
        return Err(C2bRefusal::WrongShortcode);
    }
    if amount_cents < 100 {
        return Err(C2bRefusal::BelowMinimum);
    }
    bounded_amount(amount_cents, max).map_err(C2bRefusal::Amount)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn view(status: StkStatus, receipt: Option<&str>) -> StkView {
        StkView { status, requested: Money(10_000), receipt: receipt.map(str::to_owned) }
    }

    fn paid_cb(receipt: &str) -> StkEvidence {
        StkEvidence::CallbackPaid { amount: Money(10_000), receipt: receipt.into() }
    }

    #[test]
    fn stk_success_after_failed_is_credited() {
        let d = decide_stk(&view(StkStatus::Failed, None), &paid_cb("QAB1"));
        assert!(
            matches!(d, StkDecision::Credit { from: StkStatus::Failed, amount: Money(10_000), ref receipt, .. } if receipt.as_deref() == Some("QAB1")),
            "{d:?}"
        );
    }

    #[test]
    fn stk_failure_after_paid_changes_nothing() {
        let d = decide_stk(
            &view(StkStatus::Paid, Some("QAB1")),
            &StkEvidence::CallbackFailed { code: "1032".into(), desc: "cancelled".into() },
        );
        assert!(matches!(d, StkDecision::Nothing { .. }));
    }

    #[test]
    fn stk_receipt_after_query_credit_is_attached() {
        let d = decide_stk(&view(StkStatus::Paid, None), &paid_cb("QAB1"));
        assert_eq!(d, StkDecision::AttachReceipt { receipt: "QAB1".into() });
        let again = decide_stk(&view(StkStatus::Paid, Some("QAB1")), &paid_cb("QAB1"));
        assert!(matches!(again, StkDecision::Nothing { .. }));
    }

    #[test]
    fn stk_unknown_answer_keeps_pending() {
        assert_eq!(decide_stk(&view(StkStatus::Pending, None), &StkEvidence::QueryUnknown), StkDecision::NoteQuery);
    }

    #[test]
    fn bounded_amount_refuses_zero_and_over_limit() {
        assert_eq!(bounded_amount(0, DEFAULT_MAX_PAYMENT), Err(AmountRefused::NotPositive));
        assert_eq!(bounded_amount(100, DEFAULT_MAX_PAYMENT), Ok(Money(100)));
        assert_eq!(bounded_amount(100_000_000, DEFAULT_MAX_PAYMENT), Ok(Money(100_000_000)));
        assert!(matches!(bounded_amount(100_000_001, DEFAULT_MAX_PAYMENT), Err(AmountRefused::OverLimit { .. })));
        assert!(matches!(bounded_amount(u64::MAX, DEFAULT_MAX_PAYMENT), Err(AmountRefused::OverLimit { .. })));
    }

    fn evidence() -> impl Strategy<Value = StkEvidence> {
        prop_oneof![
            Just(paid_cb("QAB1")),
            Just(StkEvidence::CallbackFailed { code: "1032".into(), desc: "cancelled".into() }),
            Just(StkEvidence::QueryPaid { desc: "ok".into() }),
            Just(StkEvidence::QueryFailed { code: "1037".into(), desc: "no response".into() }),
            Just(StkEvidence::QueryUnknown),
            Just(StkEvidence::GiveUp),
        ]
    }

    proptest! {
        /// Folding any sequence of evidence through the decisions credits at most once, and
        /// exactly once whenever any evidence of money is in the sequence.
        #[test]
        fn stk_any_order_credits_once_iff_money_seen(seq in proptest::collection::vec(evidence(), 0..12)) {
            let mut v = view(StkStatus::Pending, None);
            let mut credits = 0;
            for e in &seq {
                match decide_stk(&v, e) {
                    StkDecision::Credit { receipt, .. } => { credits += 1; v.status = StkStatus::Paid; v.receipt = receipt; }
                    StkDecision::AttachReceipt { receipt } => { prop_assert!(v.receipt.is_none()); v.receipt = Some(receipt); }
                    StkDecision::Fail { .. } => { prop_assert_eq!(v.status, StkStatus::Pending); v.status = StkStatus::Failed; }
                    StkDecision::NoteQuery | StkDecision::Nothing { .. } => {}
                }
            }
            let money_seen = seq.iter().any(|e| matches!(e, StkEvidence::CallbackPaid { .. } | StkEvidence::QueryPaid { .. }));
            prop_assert_eq!(credits, usize::from(money_seen));
            let receipt_seen = seq.iter().any(|e| matches!(e, StkEvidence::CallbackPaid { .. }));
            prop_assert_eq!(v.receipt.is_some(), receipt_seen);
        }
    }

    #[test]
    fn c2b_trans_id_recorded_once_and_unmatched_money_is_parked_not_refused() {
        assert_eq!(decide_c2b(true, Some(PayerMatch::Account)), C2bDecision::Duplicate);
        assert_eq!(decide_c2b(true, None), C2bDecision::Duplicate);
        assert_eq!(decide_c2b(false, None), C2bDecision::Park);
        assert_eq!(decide_c2b(false, Some(PayerMatch::Phone)), C2bDecision::Credit(PayerMatch::Phone));
    }

    #[test]
    fn c2b_validation_checks_shortcode_and_amount_with_darajas_codes() {
        let max = Money(1_000_000);
        assert_eq!(validate_c2b("600000", "600000", "", 10_000, max), Ok(Money(10_000)));
        assert_eq!(validate_c2b("123456", "600000", "123456", 10_000, max), Ok(Money(10_000)), "the till is ours too");
        assert_eq!(validate_c2b("999999", "", "", 10_000, max), Ok(Money(10_000)), "no shortcode configured yet");
        let wrong = validate_c2b("999999", "600000", "", 10_000, max).expect_err("other shortcode");
        assert_eq!(wrong.result_code(), "C2B00015");
        let low = validate_c2b("600000", "600000", "", 99, max).expect_err("below KES 1");
        assert_eq!((low, low.result_code()), (C2bRefusal::BelowMinimum, "C2B00013"));
        let high = validate_c2b("600000", "600000", "", 1_000_001, max).expect_err("over the limit");
        assert_eq!(high.result_code(), "C2B00013");
        assert_eq!(C2bRefusal::UnknownAccount.result_code(), "C2B00012");
    }

    proptest! {
        #[test]
        fn c2b_any_delivery_order_credits_one_trans_id_once(deliveries in proptest::collection::vec(proptest::option::of(0u8..4), 1..20)) {
            // Each delivery of the same TransID sees whether an earlier one recorded it.
            let mut recorded = false;
            let mut credits = 0;
            let mut parked = 0;
            for d in deliveries {
                let payer = d.map(|i| [PayerMatch::Account, PayerMatch::AccountNormalised, PayerMatch::Username, PayerMatch::Phone][i as usize]);
                match decide_c2b(recorded, payer) {
                    C2bDecision::Credit(_) => { credits += 1; recorded = true; }
                    C2bDecision::Park => { parked += 1; recorded = true; }
                    C2bDecision::Duplicate => prop_assert!(recorded),
                }
            }
            prop_assert_eq!(credits + parked, 1, "the money lands once: credited or parked");
        }
    }
}

//! What a plan change costs, stated before it is made (pure: no storage, no clock).
//!
//! A change made **now** ends the current plan early and starts the new one for what is left of
//! the paid period, which keeps its end date:
//!
//! - `credit` = the unused part of the current period at the current plan's price,
//!   `price_old * remaining / period_old`, rounded down (the subscriber is never over-credited);
//! - `charge` = the same remaining time at the new plan's price, `price_new * remaining / period_new`,
//!   rounded up;
//! - the difference moves the balance: an upgrade takes `charge - credit` from it (refused when the
//!   balance does not cover it: top up first, or change at renewal), a downgrade puts
//!   `credit - charge` on it.
//!
//! With no paid time left (pending, expired) a change is free and the next payment buys the new
//! plan. A change **at renewal** costs nothing now: the next period is bought at the new price.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Money;
use super::plan::Plan;

/// When a plan change takes effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum When {
    Now,
    AtRenewal,
}

/// The stated price of a plan change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Quote {
    pub from_plan: String,
    pub to_plan: String,
    pub when: When,
    /// Seconds of paid time left on the current period.
    pub remaining_seconds: i64,
    /// Value of the unused time at the current plan's price.
    #[schemars(schema_with = "crate::openapi::field::cents")]
    pub credit_cents: i64,
    /// The same time at the new plan's price.
    #[schemars(schema_with = "crate::openapi::field::cents")]
    pub charge_cents: i64,
    /// Moved on the balance now: negative takes money, positive gives it back.
    #[schemars(schema_with = "crate::openapi::field::cents")]
    pub balance_change_cents: i64,
    #[schemars(schema_with = "crate::openapi::field::cents")]
    pub balance_before_cents: i64,
    #[schemars(schema_with = "crate::openapi::field::cents")]
    pub balance_after_cents: i64,
    #[schemars(schema_with = "crate::openapi::field::currency")]
    pub currency: &'static str,
    /// When the current paid period ends (unchanged by the change).
    #[schemars(schema_with = "crate::openapi::field::opt_ts")]
    pub period_ends_at: Option<DateTime<Utc>>,
    /// Whether the balance covers it.
    pub affordable: bool,
    /// The arithmetic in words, for people.
    pub explanation: String,
}

fn mul_div_floor(a: i64, b: i64, c: i64) -> i64 {
    if c <= 0 {
        return 0;
    }
    ((a as i128 * b as i128) / c as i128) as i64
}

fn mul_div_ceil(a: i64, b: i64, c: i64) -> i64 {
    if c <= 0 {
        return 0;
    }
    let n = a as i128 * b as i128;
    ((n + c as i128 - 1) / c as i128) as i64
}

/// Quotes a change from `from` to `to` for a subscriber whose paid period ends at `paid_until`
/// (None: never paid) with `balance` on account, at `now`.
pub fn quote(
    from: &Plan,
    to: &Plan,
    paid_until: Option<DateTime<Utc>>,
    balance: Money,
    when: When,
    now: DateTime<Utc>,
) -> Quote {
    // Several periods may be paid ahead: all of the time left is valued, not just one period.
    let remaining = paid_until.map_or(0, |e| (e - now).num_seconds()).max(0);
    let (credit, charge) = match when {
        When::Now => (
            mul_div_floor(from.price.cents(), remaining, from.period_seconds),
            mul_div_ceil(to.price.cents(), remaining, to.period_seconds),
        ),
        When::AtRenewal => (0, 0),
    };
    let change = credit - charge;
    let after = balance.cents() + change;
    let kes = |c: i64| format!("KES {}.{:02}", c / 100, (c % 100).abs());
    let explanation = match when {
        When::AtRenewal => format!(
            "{} starts when the current period ends; the next period costs {} and nothing is charged now.",
            to.name,
            kes(to.price.cents())
        ),
        When::Now if remaining == 0 => {
            format!("No paid time is left on {}: the change is free and the next payment buys {}.", from.name, to.name)
        }
        When::Now => format!(
            "{} days left: {} unused on {} is credited, {} for the same days on {} is charged; balance {} -> {}.",
            remaining / 86_400,
            kes(credit),
            from.name,
            kes(charge),
            to.name,
            kes(balance.cents()),
            kes(after)
        ),
    };
    Quote {
        from_plan: from.id.clone(),
        to_plan: to.id.clone(),
        when,
        remaining_seconds: remaining,
        credit_cents: credit,
        charge_cents: charge,
        balance_change_cents: change,
        balance_before_cents: balance.cents(),
        balance_after_cents: after,
        currency: super::money::CURRENCY,
        period_ends_at: paid_until,
        affordable: change >= 0 || after >= 0,
        explanation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::plan::PlanKind;
    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;

    fn plan(id: &str, kes: i64, days: i64) -> Plan {
        Plan {
            id: id.into(),
            code: id.into(),
            name: id.into(),
            kind: PlanKind::Pppoe,
            price: Money::from_shillings(kes),
            period_seconds: days * 86_400,
            down_kbps: 1000,
            up_kbps: 1000,
            data_cap_bytes: None,
            max_devices: 1,
            active: true,
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 4, 9, 0, 0).single().expect("valid")
    }

    #[test]
    fn plan_change_upgrade_halfway_charges_the_difference_for_the_half_left() {
        let q = quote(
            &plan("a", 1500, 30),
            &plan("b", 3000, 30),
            Some(now() + Duration::days(15)),
            Money(200_000),
            When::Now,
            now(),
        );
        assert_eq!(q.credit_cents, 75_000);
        assert_eq!(q.charge_cents, 150_000);
        assert_eq!(q.balance_change_cents, -75_000);
        assert_eq!(q.balance_after_cents, 125_000);
        assert!(q.affordable);
        assert!(q.explanation.contains("15 days left"), "{}", q.explanation);
    }

    #[test]
    fn plan_change_upgrade_beyond_the_balance_is_not_affordable_and_downgrade_credits() {
        let up = quote(
            &plan("a", 1500, 30),
            &plan("b", 3000, 30),
            Some(now() + Duration::days(15)),
            Money(0),
            When::Now,
            now(),
        );
        assert!(!up.affordable);
        let down = quote(
            &plan("b", 3000, 30),
            &plan("a", 1500, 30),
            Some(now() + Duration::days(10)),
            Money(0),
            When::Now,
            now(),
        );
        assert_eq!(down.balance_change_cents, 100_000 - 50_000);
        assert!(down.affordable);
    }

    #[test]
    fn plan_change_without_paid_time_or_at_renewal_costs_nothing_now() {
        let expired = quote(
            &plan("a", 1500, 30),
            &plan("b", 3000, 30),
            Some(now() - Duration::days(1)),
            Money(0),
            When::Now,
            now(),
        );
        assert_eq!((expired.credit_cents, expired.charge_cents, expired.remaining_seconds), (0, 0, 0));
        let never = quote(&plan("a", 1500, 30), &plan("b", 3000, 30), None, Money(0), When::Now, now());
        assert_eq!(never.balance_change_cents, 0);
        let later = quote(
            &plan("a", 1500, 30),
            &plan("b", 3000, 30),
            Some(now() + Duration::days(20)),
            Money(0),
            When::AtRenewal,
            now(),
        );
        assert_eq!(later.balance_change_cents, 0);
        assert!(later.affordable);
    }

    proptest! {
        /// Changing to a plan and straight back never makes money for the subscriber.
        #[test]
        fn plan_change_there_and_back_never_gains(pa in 1i64..100_000, pb in 1i64..100_000, da in 1i64..60, db in 1i64..60, left in 0i64..5_184_000) {
            let (a, b) = (plan("a", pa, da), plan("b", pb, db));
            let until = Some(now() + Duration::seconds(left));
            let q1 = quote(&a, &b, until, Money(0), When::Now, now());
            let q2 = quote(&b, &a, until, Money(q1.balance_after_cents), When::Now, now());
            prop_assert!(q2.balance_after_cents <= 0, "{q1:?} {q2:?}");
        }
    }
}

//! Renewal arithmetic: what a credit or the passing of time does to an account.
//!
//! Pure functions over [`AccountState`]; the use cases turn the result into
//! one atomic batch of writes.

use chrono::{DateTime, Duration, Utc};

use super::Money;
use super::subscriber::Status;

/// One payment never buys more than this many periods at once (a typo guard:
/// KES 20,000 instead of 2,000 buys 10 months, not 100).
pub const MAX_PERIODS_PER_CREDIT: u32 = 12;

#[derive(Debug, Clone, PartialEq)]
pub struct AccountState {
    pub status: Status,
    pub expires_at: Option<DateTime<Utc>>,
    pub balance: Money,
    pub auto_renew: bool,
    pub price: Money,
    pub period: Duration,
    pub grace: Duration,
}

/// One paid period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub periods: Vec<Period>,
    pub status: Status,
    pub expires_at: Option<DateTime<Utc>>,
    pub balance: Money,
    /// True when the account went from not-online to online.
    pub activated: bool,
    pub expired: bool,
}

impl AccountState {
    fn outcome(&self) -> Outcome {
        Outcome {
            periods: Vec::new(),
            status: self.status,
            expires_at: self.expires_at,
            balance: self.balance,
            activated: false,
            expired: false,
        }
    }

    /// Where the next period starts: continuous if still active (or in grace), else now.
    fn next_start(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        match (self.status, self.expires_at) {
            (Status::Active, Some(exp)) if now < exp + self.grace => exp,
            _ => now,
        }
    }

    /// Renews as many periods as the balance covers, up to `max`.
    fn renew_from_balance(&self, now: DateTime<Utc>, max: u32) -> Outcome {
        let mut out = self.outcome();
        if self.status == Status::Suspended || self.price <= Money::ZERO {
            return out;
        }
        let mut acct = self.clone();
        while acct.balance >= acct.price && (out.periods.len() as u32) < max {
            let starts_at = acct.next_start(now);
            let ends_at = starts_at + acct.period;
            if acct.status != Status::Active {
                out.activated = true;
            }
            acct.balance = acct.balance - acct.price;
            acct.status = Status::Active;
            acct.expires_at = Some(ends_at);
            out.periods.push(Period { starts_at, ends_at });
        }
        out.status = acct.status;
        out.expires_at = acct.expires_at;
        out.balance = acct.balance;
        out
    }
}

/// A payment of `amount` reached the account at `now`.
pub fn apply_credit(acct: &AccountState, amount: Money, now: DateTime<Utc>) -> Outcome {
    let mut credited = acct.clone();
    credited.balance = acct.balance + amount;
    credited.renew_from_balance(now, MAX_PERIODS_PER_CREDIT)
}

/// Time passed: renew from balance at expiry (auto-renew), or expire once grace is over.
pub fn on_tick(acct: &AccountState, now: DateTime<Utc>) -> Outcome {
    let mut out = acct.outcome();
    let Some(mut exp) = acct.expires_at else {
        return out;
    };
    if acct.status != Status::Active || now < exp || acct.price <= Money::ZERO {
        return out;
    }
    if acct.auto_renew {
        while exp <= now && out.balance >= acct.price && (out.periods.len() as u32) < MAX_PERIODS_PER_CREDIT {
            let period = Period { starts_at: exp, ends_at: exp + acct.period };
            out.balance = out.balance - acct.price;
            exp = period.ends_at;
            out.periods.push(period);
        }
    }
    out.expires_at = Some(exp);
    if now >= exp + acct.grace {
        out.status = Status::Expired;
        out.expired = true;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn t(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, day, 0, 0, 0).unwrap()
    }

    fn acct(status: Status, expires: Option<u32>, balance: i64) -> AccountState {
        AccountState {
            status,
            expires_at: expires.map(t),
            balance: Money(balance),
            auto_renew: true,
            price: Money(100_000),
            period: Duration::days(10),
            grace: Duration::days(2),
        }
    }

    #[test]
    fn credit_partial_payment_accumulates_without_renewal() {
        let a = acct(Status::Pending, None, 0);
        let o = apply_credit(&a, Money(40_000), t(1));
        assert!(o.periods.is_empty());
        assert_eq!(o.balance, Money(40_000));
        assert_eq!(o.status, Status::Pending);
        let a2 = AccountState { balance: o.balance, ..a };
        let o2 = apply_credit(&a2, Money(60_000), t(2));
        assert_eq!(o2.periods, vec![Period { starts_at: t(2), ends_at: t(12) }]);
        assert_eq!(o2.balance, Money(0));
        assert!(o2.activated);
    }

    #[test]
    fn credit_active_account_extends_from_expiry() {
        let a = acct(Status::Active, Some(5), 0);
        let o = apply_credit(&a, Money(100_000), t(3));
        assert_eq!(o.periods[0].starts_at, t(5));
        assert_eq!(o.expires_at, Some(t(15)));
        assert!(!o.activated);
    }

    #[test]
    fn credit_expired_account_starts_now() {
        let a = acct(Status::Expired, Some(1), 0);
        let o = apply_credit(&a, Money(100_000), t(9));
        assert_eq!(o.expires_at, Some(t(19)));
        assert!(o.activated);
    }

    #[test]
    fn credit_suspended_account_only_adds_balance() {
        let a = acct(Status::Suspended, Some(20), 0);
        let o = apply_credit(&a, Money(300_000), t(3));
        assert!(o.periods.is_empty());
        assert_eq!(o.balance, Money(300_000));
    }

    #[test]
    fn credit_overpayment_is_capped_at_max_periods() {
        let a = acct(Status::Pending, None, 0);
        let o = apply_credit(&a, Money(100_000 * 20), t(1));
        assert_eq!(o.periods.len(), MAX_PERIODS_PER_CREDIT as usize);
        assert_eq!(o.balance, Money(100_000 * 8));
    }

    #[test]
    fn tick_in_grace_keeps_active() {
        let a = acct(Status::Active, Some(5), 0);
        let o = on_tick(&a, t(6));
        assert_eq!(o.status, Status::Active);
        assert!(!o.expired);
    }

    #[test]
    fn tick_after_grace_expires() {
        let a = acct(Status::Active, Some(5), 50_000);
        let o = on_tick(&a, t(7));
        assert_eq!(o.status, Status::Expired);
        assert!(o.expired);
        assert_eq!(o.balance, Money(50_000));
    }

    #[test]
    fn tick_at_expiry_auto_renews_from_balance() {
        let a = acct(Status::Active, Some(5), 150_000);
        let o = on_tick(&a, t(5));
        assert_eq!(o.periods, vec![Period { starts_at: t(5), ends_at: t(15) }]);
        assert_eq!(o.balance, Money(50_000));
        assert_eq!(o.status, Status::Active);
    }

    #[test]
    fn tick_without_auto_renew_expires_even_with_balance() {
        let mut a = acct(Status::Active, Some(5), 150_000);
        a.auto_renew = false;
        let o = on_tick(&a, t(8));
        assert!(o.expired);
        assert_eq!(o.balance, Money(150_000));
    }

    proptest! {
        #[test]
        fn credit_conserves_money(bal in 0i64..500_000, amt in 1i64..3_000_000, day in 1u32..28) {
            let a = acct(Status::Active, Some(10), bal);
            let o = apply_credit(&a, Money(amt), t(day));
            let spent = a.price.0 * o.periods.len() as i64;
            prop_assert_eq!(o.balance.0 + spent, bal + amt);
            prop_assert!(o.balance >= Money::ZERO);
            // Periods are back to back.
            for w in o.periods.windows(2) {
                prop_assert_eq!(w[0].ends_at, w[1].starts_at);
            }
        }

        #[test]
        fn tick_never_expires_before_grace_ends(bal in 0i64..500_000, day in 1u32..28) {
            let a = acct(Status::Active, Some(10), bal);
            let o = on_tick(&a, t(day));
            if o.expired {
                prop_assert!(t(day) >= o.expires_at.unwrap() + a.grace);
            }
            prop_assert_eq!(o.balance.0 + a.price.0 * o.periods.len() as i64, bal);
        }
    }
}

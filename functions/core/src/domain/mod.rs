//! Plain data and pure functions: no storage, no HTTP.

pub mod billing;
pub mod cards;
pub mod money;
pub mod mrr;
pub mod msisdn;
pub mod names;
pub mod password;
pub mod payment;
pub mod plan;
pub mod plan_change;
pub mod redemption;
pub mod sms;
pub mod subscriber;
pub mod time;
pub mod voucher;

pub use money::Money;
pub use msisdn::Msisdn;
pub use names::{AccountNo, Realm, Username};

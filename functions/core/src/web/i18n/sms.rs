//! Text messages (SMS) sent to subscribers: receipts, expiry reminders, the opt-out line.
//! Sorted by key. Keep them short: one 160-character segment where the names allow. The ISP is
//! named by the sender ID the messages go out under.

use super::Message;

pub const MESSAGES: &[Message] = &[
    ("sms.opt_out", "To stop offers reply STOP.", "Kusitisha matangazo jibu STOP."),
    (
        "sms.receipt",
        "We received KES {amount} for account {account}. Ref {ref}.",
        "Tumepokea KES {amount} kwa akaunti {account}. Kumb. {ref}.",
    ),
    ("sms.receipt_until", "Internet active until {when}.", "Intaneti hadi {when}."),
    (
        "sms.reminder_before",
        "Internet for account {account} ends {when}. Pay KES {amount} to stay online.",
        "Intaneti ya akaunti {account} itaisha {when}. Lipa KES {amount} uendelee.",
    ),
    (
        "sms.reminder_cut_off",
        "Account {account} is now cut off. Pay KES {amount} to reconnect.",
        "Akaunti {account} imesitishwa. Lipa KES {amount} kurejesha huduma.",
    ),
    (
        "sms.reminder_expired",
        "Internet for account {account} expired {when}. Pay KES {amount} to reconnect.",
        "Intaneti ya akaunti {account} imeisha {when}. Lipa KES {amount} kurejesha huduma.",
    ),
    (
        "sms.voucher",
        "Your {package} Wi-Fi code: {code}. Type it on the login page.",
        "Nambari yako ya Wi-Fi ({package}): {code}. Iandike kwenye ukurasa wa kuingia.",
    ),
];

//! Messages every area shares (layout, forms, errors). Sorted by key.

use super::Message;

pub const MESSAGES: &[Message] = &[
    ("common.back", "Back", "Rudi"),
    ("common.continue", "Continue", "Endelea"),
    ("common.language", "Language", "Lugha"),
    ("common.not_found", "We could not find that page.", "Hatukupata ukurasa huo."),
    ("common.not_found_title", "Page not found", "Ukurasa haukupatikana"),
    ("common.powered_by", "Billing by Konnekted", "Malipo kupitia Konnekted"),
    (
        "common.session_expired",
        "Your session has ended. Please sign in again.",
        "Muda wako umeisha. Tafadhali ingia tena.",
    ),
    ("common.sign_out", "Sign out", "Toka"),
    ("common.skip_to_content", "Skip to main content", "Ruka hadi maudhui"),
    ("common.support_call", "Need help? Call {phone}", "Unahitaji msaada? Piga simu {phone}"),
    (
        "common.try_again",
        "Something went wrong on our side. Please try again in a minute.",
        "Hitilafu imetokea upande wetu. Tafadhali jaribu tena baada ya dakika moja.",
    ),
    (
        "form.csrf_failed",
        "This form has expired. Please try again.",
        "Fomu hii imepitwa na wakati. Tafadhali jaribu tena.",
    ),
    ("form.there_is_a_problem", "There is a problem", "Kuna tatizo"),
];

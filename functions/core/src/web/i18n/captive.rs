//! Messages of the captive pages. Sorted by key; prefix every key with `captive.`.

use super::Message;

pub const MESSAGES: &[Message] = &[];

//! Messages of the console pages. Sorted by key; prefix every key with `console.`.

use super::Message;

pub const MESSAGES: &[Message] = &[];

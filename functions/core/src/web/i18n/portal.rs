//! Messages of the portal pages. Sorted by key; prefix every key with `portal.`.

use super::Message;

pub const MESSAGES: &[Message] = &[];

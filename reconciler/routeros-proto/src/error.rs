//! The codec's error type.

use thiserror::Error;

/// Everything the codec can reject.
///
/// Framing errors ([`ProtoError::ReservedControlByte`], [`ProtoError::WordTooLong`])
/// mean the byte stream cannot be resynchronised: the connection must be closed.
/// The others are about the content of a well-framed sentence or value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProtoError {
    /// A word length started with a reserved control byte (`0xF8..=0xFF`).
    #[error("reserved control byte 0x{0:02x} in word length")]
    ReservedControlByte(u8),
    /// A word longer than the protocol can describe (more than `u32::MAX` bytes),
    /// or longer than the decoder's configured limit.
    #[error("word of {0} bytes is too long")]
    WordTooLong(u64),
    /// A reply sentence whose first word is not a known reply word.
    #[error("unknown reply word {0:?}")]
    UnknownReply(String),
    /// A reply or request sentence with no words at all.
    #[error("empty sentence")]
    EmptySentence,
    /// A client sentence whose first word is not a command (`/...`).
    #[error("not a command word: {0:?}")]
    NotACommand(String),
    /// The challenge of the legacy login is not 32 hex digits.
    #[error("invalid login challenge {0:?}")]
    InvalidChallenge(String),
    /// A boolean that is none of `yes/no/true/false`.
    #[error("invalid boolean {0:?}")]
    InvalidBool(String),
    /// A duration in neither `1w2d03:04:05` nor `2d20h12m20s` form.
    #[error("invalid duration {0:?}")]
    InvalidDuration(String),
    /// A rate (`128k`, `10M`) or rate-limit string that does not parse.
    #[error("invalid rate limit {0:?}")]
    InvalidRateLimit(String),
}

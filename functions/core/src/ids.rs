//! Identifiers and tokens derived from the request's entropy.

use sha2::{Digest, Sha256};

use crate::Ctx;

/// Hands out unique values derived from one request's entropy.
pub struct IdGen {
    seed: [u8; 32],
    counter: u64,
    /// The request's time in Unix milliseconds: the leading bits of every UUID.
    unix_ms: u64,
}

impl IdGen {
    pub fn new(ctx: &Ctx) -> Self {
        IdGen { seed: ctx.entropy, counter: 0, unix_ms: u64::try_from(ctx.now.timestamp_millis()).unwrap_or(0) }
    }

    fn next_bytes(&mut self) -> [u8; 32] {
        self.counter += 1;
        let mut h = Sha256::new();
        h.update(self.seed);
        h.update(self.counter.to_be_bytes());
        h.finalize().into()
    }

    /// A UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then 74 random bits. Rows keyed
    /// by it are inserted near each other in the primary-key index (one page touched by a group of
    /// writes, not one random page each), and ids sort by creation time.
    pub fn uuid(&mut self) -> String {
        let mut b = self.next_bytes();
        b[..6].copy_from_slice(&self.unix_ms.to_be_bytes()[2..]);
        b[6] = (b[6] & 0x0f) | 0x70;
        b[8] = (b[8] & 0x3f) | 0x80;
        let h = hex::encode(&b[..16]);
        format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
    }

    /// A URL-safe random token of `n` hex characters (n <= 64).
    pub fn token(&mut self, n: usize) -> String {
        let mut s = hex::encode(self.next_bytes());
        s.truncate(n.min(64));
        s
    }

    /// `n` random decimal digits (n <= 19).
    pub fn digits(&mut self, n: usize) -> String {
        let b = self.next_bytes();
        let v = u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
        let s = format!("{:019}", v % 10u64.pow(19));
        s[19 - n.min(19)..].to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn ctx(seed: u8) -> Ctx {
        Ctx { now: chrono::Utc.timestamp_opt(0, 0).unwrap(), entropy: [seed; 32] }
    }

    #[test]
    fn idgen_same_seed_is_deterministic_and_unique_within_request() {
        let mut a = IdGen::new(&ctx(1));
        let mut b = IdGen::new(&ctx(1));
        let (a1, a2) = (a.uuid(), a.uuid());
        assert_eq!(a1, b.uuid());
        assert_ne!(a1, a2);
        assert_eq!(a1.len(), 36);
        assert_eq!(&a1[14..15], "7");
    }

    #[test]
    fn idgen_uuids_sort_by_time() {
        let early =
            IdGen::new(&Ctx { now: chrono::Utc.timestamp_opt(1_700_000_000, 0).unwrap(), entropy: [9; 32] }).uuid();
        let late =
            IdGen::new(&Ctx { now: chrono::Utc.timestamp_opt(1_700_000_001, 0).unwrap(), entropy: [1; 32] }).uuid();
        assert!(early < late, "{early} {late}");
        assert_eq!(&early[..13], "018bcfe5-6800");
    }

    #[test]
    fn idgen_digits_has_requested_length() {
        let mut g = IdGen::new(&ctx(7));
        assert_eq!(g.digits(6).len(), 6);
        assert!(g.digits(6).chars().all(|c| c.is_ascii_digit()));
    }
}

//! Hotspot voucher codes that carry their own proof (architecture decision 7).
//!
//! A code is 60 bits written as 12 Crockford base32 characters, shown as `XXXX-XXXX-XXXX`:
//!
//! ```text
//!   tag (28 bits) | (batch (14 bits) | serial (18 bits)) XOR mask (32 bits)
//!   tag  = first 28 bits of HMAC-SHA256(tenant key, "v1" | realm | batch | serial)
//!   mask = first 32 bits of HMAC-SHA256(tenant key, "mask" | tag)
//! ```
//!
//! The tenant key is derived from the platform's voucher secret and the realm, so checking a code
//! needs no database: recompute the mask from the tag, unmask the id, recompute the tag. The mask
//! makes consecutive serials look unrelated on paper. A random string passes the check with
//! probability 2^-28 (one in 268 million); redemption then also needs an issued batch and serial.
//!
//! Typing on a cheap phone: case, spaces and dashes are ignored, and `O` reads as `0`, `I` and `L`
//! as `1` (Crockford's rules), so the usual misreadings of a printed code still verify.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::Realm;

type HmacSha256 = Hmac<Sha256>;

/// Largest batch number a code can carry (batch numbers start at 1).
pub const MAX_BATCH: u32 = (1 << 14) - 1;
/// Codes per batch: serials run from 0 to `SERIALS_PER_BATCH - 1`.
pub const SERIALS_PER_BATCH: u32 = 1 << 18;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const SYMBOLS: usize = 12;

/// One tenant's voucher key, derived from the platform secret; never leaves the process.
#[derive(Clone)]
pub struct VoucherKey([u8; 32]);

impl VoucherKey {
    /// Derives the tenant's key. `None` if the platform has no voucher secret configured.
    pub fn derive(platform_secret: &[u8], realm: &Realm) -> Option<VoucherKey> {
        if platform_secret.is_empty() {
            return None;
        }
        let mut mac = HmacSha256::new_from_slice(platform_secret).ok()?;
        mac.update(b"konnekted voucher key v1\0");
        mac.update(realm.as_str().as_bytes());
        Some(VoucherKey(mac.finalize().into_bytes().into()))
    }

    fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        // HMAC takes keys of any length; 32 bytes cannot fail.
        let mut mac = HmacSha256::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!("hmac accepts any key"));
        for p in parts {
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    }

    fn tag(&self, realm: &Realm, id: VoucherId) -> u32 {
        let r = realm.as_str().as_bytes();
        let h =
            self.mac(&[b"v1", &(r.len() as u32).to_be_bytes(), r, &id.batch.to_be_bytes(), &id.serial.to_be_bytes()]);
        u32::from_be_bytes([h[0], h[1], h[2], h[3]]) >> 4
    }

    fn mask(&self, tag: u32) -> u32 {
        let h = self.mac(&[b"mask", &tag.to_be_bytes()]);
        u32::from_be_bytes([h[0], h[1], h[2], h[3]])
    }

    /// The code of voucher `id` of this tenant.
    pub fn code(&self, realm: &Realm, id: VoucherId) -> VoucherCode {
        let tag = self.tag(realm, id);
        let masked = id.packed() ^ self.mask(tag);
        VoucherCode((u64::from(tag) << 32) | u64::from(masked))
    }

    /// Checks a typed code: which voucher it is, if this tenant issued such a code.
    pub fn verify(&self, realm: &Realm, typed: &str) -> Result<(VoucherCode, VoucherId), VoucherError> {
        let code = VoucherCode::parse(typed)?;
        let tag = (code.0 >> 32) as u32;
        let id = VoucherId::unpack(code.0 as u32 ^ self.mask(tag));
        if id.batch == 0 || self.tag(realm, id) != tag {
            return Err(VoucherError::NotGenuine);
        }
        Ok((code, id))
    }
}

/// Which voucher: its batch and its serial within the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct VoucherId {
    pub batch: u32,
    pub serial: u32,
}

impl VoucherId {
    /// Checks the ranges a code can carry.
    pub fn new(batch: u32, serial: u32) -> Option<VoucherId> {
        ((1..=MAX_BATCH).contains(&batch) && serial < SERIALS_PER_BATCH).then_some(VoucherId { batch, serial })
    }

    fn packed(self) -> u32 {
        (self.batch << 18) | self.serial
    }

    fn unpack(v: u32) -> VoucherId {
        VoucherId { batch: v >> 18, serial: v & (SERIALS_PER_BATCH - 1) }
    }
}

/// A well-formed code (60 bits); says nothing about whether it is genuine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VoucherCode(u64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VoucherError {
    #[error("a voucher code has 12 letters and digits (for example ABCD-EFGH-JKMN); got {0}")]
    Length(usize),
    #[error("{0:?} cannot appear in a voucher code")]
    Character(char),
    #[error("no such voucher")]
    NotGenuine,
}

impl VoucherCode {
    /// Reads a code as a person typed it: any case, dashes and spaces anywhere, O for 0, I or L for 1.
    pub fn parse(typed: &str) -> Result<VoucherCode, VoucherError> {
        let mut v: u64 = 0;
        let mut n = 0usize;
        for c in typed.chars() {
            if c == '-' || c.is_whitespace() {
                continue;
            }
            let d = match c.to_ascii_uppercase() {
                'O' => 0,
                'I' | 'L' => 1,
                u => ALPHABET.iter().position(|&a| a as char == u).ok_or(VoucherError::Character(c))? as u64,
            };
            n += 1;
            if n <= SYMBOLS {
                v = (v << 5) | d;
            }
        }
        if n != SYMBOLS {
            return Err(VoucherError::Length(n));
        }
        Ok(VoucherCode(v))
    }

    /// The 12 symbols, no separators: what a RADIUS username or a database key uses.
    pub fn compact(self) -> String {
        (0..SYMBOLS).rev().map(|i| ALPHABET[((self.0 >> (5 * i)) & 31) as usize] as char).collect()
    }
}

impl std::fmt::Display for VoucherCode {
    /// `XXXX-XXXX-XXXX`, as printed on a voucher.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.compact();
        write!(f, "{}-{}-{}", &s[0..4], &s[4..8], &s[8..12])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn realm(s: &str) -> Realm {
        Realm::parse(s).unwrap()
    }

    fn key(r: &str) -> VoucherKey {
        VoucherKey::derive(b"platform voucher secret", &realm(r)).unwrap()
    }

    #[test]
    fn a_code_verifies_to_its_own_batch_and_serial() {
        let k = key("acme.co.ke");
        for (b, s) in [(1, 0), (1, 1), (7, 12_345), (MAX_BATCH, SERIALS_PER_BATCH - 1)] {
            let id = VoucherId::new(b, s).unwrap();
            let code = k.code(&realm("acme.co.ke"), id);
            let (again, got) = k.verify(&realm("acme.co.ke"), &code.to_string()).unwrap();
            assert_eq!((again, got), (code, id));
        }
    }

    #[test]
    fn another_tenant_or_secret_does_not_accept_the_code() {
        let id = VoucherId::new(3, 99).unwrap();
        let code = key("acme").code(&realm("acme"), id).to_string();
        assert_eq!(key("other").verify(&realm("other"), &code), Err(VoucherError::NotGenuine));
        let other_secret = VoucherKey::derive(b"another platform", &realm("acme")).unwrap();
        assert_eq!(other_secret.verify(&realm("acme"), &code), Err(VoucherError::NotGenuine));
    }

    #[test]
    fn every_single_symbol_change_is_rejected() {
        let k = key("acme");
        let code = k.code(&realm("acme"), VoucherId::new(42, 4242).unwrap()).compact();
        for i in 0..12 {
            for &a in ALPHABET {
                if code.as_bytes()[i] == a {
                    continue;
                }
                let mut typo = code.clone().into_bytes();
                typo[i] = a;
                let typo = String::from_utf8(typo).unwrap();
                assert_eq!(k.verify(&realm("acme"), &typo), Err(VoucherError::NotGenuine), "{typo}");
            }
        }
    }

    #[test]
    fn typing_is_forgiving_about_case_dashes_and_lookalikes() {
        let k = key("acme");
        let code = k.code(&realm("acme"), VoucherId::new(5, 5).unwrap()).compact();
        let sloppy: String = code
            .chars()
            .map(|c| match c {
                '0' => 'o',
                '1' => 'l',
                c => c.to_ascii_lowercase(),
            })
            .collect();
        let spaced = format!(" {} {}-{} ", &sloppy[..3], &sloppy[3..8], &sloppy[8..]);
        assert_eq!(k.verify(&realm("acme"), &spaced).unwrap().1, VoucherId::new(5, 5).unwrap());
    }

    #[test]
    fn malformed_codes_say_what_is_wrong() {
        let k = key("acme");
        assert_eq!(k.verify(&realm("acme"), "ABCD-EFGH"), Err(VoucherError::Length(8)));
        assert_eq!(k.verify(&realm("acme"), "ABCD-EFGH-JKMNP"), Err(VoucherError::Length(13)));
        assert_eq!(k.verify(&realm("acme"), "ABCD-EFGH-JKMU"), Err(VoucherError::Character('U')));
        assert_eq!(k.verify(&realm("acme"), ""), Err(VoucherError::Length(0)));
    }

    #[test]
    fn consecutive_serials_do_not_look_alike() {
        let k = key("acme");
        let a = k.code(&realm("acme"), VoucherId::new(1, 100).unwrap()).compact();
        let b = k.code(&realm("acme"), VoucherId::new(1, 101).unwrap()).compact();
        // The last six symbols carry the id; unmasked, they would differ in one symbol only.
        let same = a[6..].chars().zip(b[6..].chars()).filter(|(x, y)| x == y).count();
        assert!(same < 3, "{a} vs {b}");
    }

    #[test]
    fn ids_out_of_range_are_refused() {
        assert!(VoucherId::new(0, 0).is_none());
        assert!(VoucherId::new(MAX_BATCH + 1, 0).is_none());
        assert!(VoucherId::new(1, SERIALS_PER_BATCH).is_none());
        assert!(VoucherKey::derive(b"", &realm("acme")).is_none());
    }

    #[test]
    fn random_strings_rarely_pass() {
        // 2^-28 per string: none of 20,000 pseudo-random codes should pass.
        let k = key("acme");
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut passed = 0;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let code = VoucherCode(x >> 4).compact();
            passed += usize::from(k.verify(&realm("acme"), &code).is_ok());
        }
        assert_eq!(passed, 0);
    }
}

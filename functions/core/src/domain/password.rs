//! Password hashing for subscribers and staff: Argon2id (memory-hard), PHC strings in storage.
//!
//! The cost is chosen to fit an edge function's CPU budget (one verification per sign-in) while
//! staying memory-hard; [`PARAMS`] is the one place it is set, and hashes keep their own
//! parameters, so raising the cost later leaves old hashes verifiable ([`needs_rehash`] says when
//! to upgrade one at the next sign-in). Salts come from the request's entropy (the core has no RNG).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Argon2id with 12 MiB of memory, 2 passes, 1 lane (between OWASP's 19 MiB/2 and 12 MiB/3 rows:
/// one lane because an edge isolate has one thread).
pub const PARAMS: (u32, u32, u32) = (12 * 1024, 2, 1);

/// Shortest and longest password accepted (bytes).
pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 128;

fn hasher() -> Argon2<'static> {
    let (m, t, p) = PARAMS;
    let params = Params::new(m, t, p, None).expect("constant parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Why a password cannot be set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("the password must be at least 8 characters")]
    TooShort,
    #[error("the password must be at most 128 characters")]
    TooLong,
}

/// Hashes `password` with a salt made from `salt_entropy` (16 bytes from the request's entropy).
pub fn hash(password: &str, salt_entropy: &[u8; 16]) -> Result<String, PasswordError> {
    if password.len() < MIN_LEN {
        return Err(PasswordError::TooShort);
    }
    if password.len() > MAX_LEN {
        return Err(PasswordError::TooLong);
    }
    let salt = SaltString::encode_b64(salt_entropy).expect("16 bytes is a valid salt length");
    Ok(hasher().hash_password(password.as_bytes(), &salt).expect("argon2 with valid params and salt").to_string())
}

/// True when `password` matches the stored PHC string (whatever parameters it was made with).
pub fn verify(password: &str, phc: &str) -> bool {
    if password.len() > MAX_LEN {
        return false;
    }
    let Ok(parsed) = PasswordHash::new(phc) else { return false };
    Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok()
}

/// True when a stored hash was made with other parameters than [`PARAMS`].
pub fn needs_rehash(phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else { return true };
    let (m, t, p) = PARAMS;
    let get = |k: &str| parsed.params.get_decimal(k);
    parsed.algorithm.as_str() != "argon2id" || get("m") != Some(m) || get("t") != Some(t) || get("p") != Some(p)
}

/// A hash of nothing anyone knows, to verify against when the account does not exist (so a
/// sign-in for an unknown name costs the same time as one for a known name).
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash("not-a-password-anyone-has", &[7u8; 16]).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_verifies_and_wrong_ones_do_not() {
        let h = hash("correct horse", &[1u8; 16]).expect("hash");
        assert!(h.starts_with("$argon2id$v=19$m=12288,t=2,p=1$"), "{h}");
        assert!(verify("correct horse", &h));
        assert!(!verify("correct horsE", &h));
        assert!(!verify("correct horse", "not a phc string"));
        assert!(!needs_rehash(&h));
        assert_ne!(h, hash("correct horse", &[2u8; 16]).expect("hash"), "salted");
    }

    #[test]
    fn password_length_is_bounded() {
        assert_eq!(hash("short", &[0; 16]), Err(PasswordError::TooShort));
        assert_eq!(hash(&"x".repeat(129), &[0; 16]), Err(PasswordError::TooLong));
        assert!(!verify(&"x".repeat(10_000), dummy_hash()));
    }

    #[test]
    fn password_hash_with_old_parameters_still_verifies_and_asks_for_rehash() {
        let old = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(8192, 1, 1, None).expect("params"));
        let salt = SaltString::encode_b64(&[3u8; 16]).expect("salt");
        let h = old.hash_password(b"old password", &salt).expect("hash").to_string();
        assert!(verify("old password", &h));
        assert!(needs_rehash(&h));
    }
}

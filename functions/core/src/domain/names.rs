//! Names that cross trust boundaries: realms, usernames, account numbers.

use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("realm must be 2-63 characters of a-z, 0-9, '-' and '.', starting and ending with a letter or digit")]
    Realm,
    #[error("username must be 1-64 characters of a-z, 0-9, '.', '-', '_' (no '@')")]
    Username,
    #[error("account number must be 1-20 letters or digits")]
    AccountNo,
    #[error("account number may contain only letters, digits, spaces and dashes")]
    AccountNoChars,
}

/// A tenant's realm: `user@realm` on the wire. Also names the tenant's databases,
/// so it is strictly limited to a safe alphabet.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Realm(String);

impl Realm {
    pub fn parse(s: &str) -> Result<Realm, NameError> {
        let s = s.trim().to_ascii_lowercase();
        let ok = (2..=63).contains(&s.len())
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            && s.as_bytes()[0].is_ascii_alphanumeric()
            && s.as_bytes()[s.len() - 1].is_ascii_alphanumeric()
            && !s.contains("..");
        if ok { Ok(Realm(s)) } else { Err(NameError::Realm) }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Realm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A PPPoE / hotspot username without its realm.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(transparent)]
#[schemars(inline)]
pub struct Username(String);

impl Username {
    pub fn parse(s: &str) -> Result<Username, NameError> {
        let s = s.trim().to_ascii_lowercase();
        let ok = (1..=64).contains(&s.len())
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_'));
        if ok { Ok(Username(s)) } else { Err(NameError::Username) }
    }
    /// A username read back from a tenant's own database, which only ever stores parsed ones.
    /// Not re-checked: a row written by an older, looser version must stay readable.
    pub fn from_stored(s: String) -> Username {
        Username(s)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The name on the wire: `user@realm`.
    pub fn qualified(&self, realm: &Realm) -> String {
        format!("{}@{}", self.0, realm)
    }
}

/// A Paybill account number as the ISP issues it (canonical: upper case, no separators).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(transparent)]
#[schemars(inline)]
pub struct AccountNo(String);

impl AccountNo {
    pub fn parse(s: &str) -> Result<AccountNo, NameError> {
        // Only case, spaces and dashes may change: anything else would store what the operator
        // did not type (`'; DROP TABLE x;--` must not become `DROPTABLEX`).
        if !s.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-') {
            return Err(NameError::AccountNoChars);
        }
        let c = canonical_account(s);
        if (1..=20).contains(&c.len()) { Ok(AccountNo(c)) } else { Err(NameError::AccountNo) }
    }
    /// An account number read back from a tenant's own database (see [`Username::from_stored`]).
    pub fn from_stored(s: String) -> AccountNo {
        AccountNo(s)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

// Read-only views as `&str` (nothing can be written through them, so the parse stays true): a
// page or a statement takes `&s.username` where it wants text.
impl std::ops::Deref for Username {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for AccountNo {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for AccountNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What customers type into the M-Pesa "Account no." box, made comparable:
/// upper case, spaces, dashes, dots, slashes and underscores removed.
pub fn canonical_account(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect()
}

/// A looser form for a second matching pass: leading zeros of each digit run removed
/// (`ACC-0042` and `acc42` match).
pub fn loose_account(s: &str) -> String {
    let c = canonical_account(s);
    let mut out = String::with_capacity(c.len());
    let mut prev_digit = false;
    let mut chars = c.chars().peekable();
    while let Some(ch) = chars.next() {
        if ch == '0' && !prev_digit && chars.peek().is_some_and(|n| n.is_ascii_digit()) {
            continue;
        }
        prev_digit = ch.is_ascii_digit();
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realm_dotless_and_dotted_are_accepted() {
        assert_eq!(Realm::parse("Acme").unwrap().as_str(), "acme");
        assert!(Realm::parse("fast-net.co.ke").is_ok());
    }

    #[test]
    fn realm_unsafe_characters_are_rejected() {
        for s in ["a", "acme net", "acme/..", "-acme", "acme.", "a..b", "acme;drop", "ac'me", ""] {
            assert!(Realm::parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn username_with_at_is_rejected() {
        assert!(Username::parse("alice@acme").is_err());
        assert_eq!(Username::parse("Alice.W").unwrap().qualified(&Realm::parse("acme").unwrap()), "alice.w@acme");
    }

    #[test]
    fn account_canonical_form_ignores_case_and_separators() {
        assert_eq!(AccountNo::parse(" acc-10 42 ").unwrap().as_str(), "ACC1042");
        assert!(AccountNo::parse("---").is_err());
        assert_eq!(AccountNo::parse("'; DROP TABLE x;--"), Err(NameError::AccountNoChars));
        assert_eq!(AccountNo::parse("acc/42"), Err(NameError::AccountNoChars));
    }

    #[test]
    fn account_loose_form_drops_leading_zeros_of_numbers() {
        assert_eq!(loose_account("ACC-0042"), "ACC42");
        assert_eq!(loose_account("acc42"), "ACC42");
        assert_eq!(loose_account("00120"), "120");
        assert_eq!(loose_account("0"), "0");
        assert_eq!(loose_account("A100"), "A100");
    }
}

//! Secrets whose `Debug` never shows the value.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A secret string (tokens, keys, passwords): held in a [`secrecy::SecretString`] (zeroed
/// on drop), never shown by `Debug`, compared in constant time; serialised as the plain
/// string only where it is stored.
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(SecretString::from(s.into()))
    }
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
    pub fn is_empty(&self) -> bool {
        self.expose().is_empty()
    }
}

impl Default for Secret {
    fn default() -> Self {
        Secret::new("")
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        constant_time_eq(self.expose().as_bytes(), other.expose().as_bytes())
    }
}

impl Eq for Secret {}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.expose())
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.is_empty() { "Secret(<empty>)" } else { "Secret(<redacted>)" })
    }
}

/// Compares two byte strings in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_is_redacted() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(<redacted>)");
    }

    #[test]
    fn tenant_debug_holds_no_secret() {
        use crate::domain::Realm;
        use crate::store::tenants::{DarajaSettings, Tenant, TenantSettings};
        let t = Tenant {
            realm: Realm::parse("acme").expect("realm"),
            name: "Acme".into(),
            status: crate::store::tenants::TenantStatus::Active,
            db_key: "acme".into(),
            admin_token_hash: "hash".into(),
            callback_token: Secret::new("callback-SECRET-1"),
            sync_key: Secret::new("sync-SECRET-2"),
            settings: TenantSettings::default(),
            daraja: DarajaSettings {
                consumer_secret: Secret::new("consumer-SECRET-3"),
                passkey: Secret::new("passkey-SECRET-4"),
                ..DarajaSettings::default()
            },
            created_at: chrono::DateTime::UNIX_EPOCH,
        };
        let shown = format!("{t:?} {t:#?}");
        assert!(shown.contains("acme") && !shown.contains("SECRET"), "{shown}");
    }

    #[test]
    fn secret_serialises_as_plain_string_and_compares_by_value() {
        let s = Secret::new("k");
        assert_eq!(serde_json::to_string(&s).unwrap(), r#""k""#);
        assert_eq!(serde_json::from_str::<Secret>(r#""k""#).unwrap(), s);
        assert_ne!(Secret::new("k2"), s);
        assert!(Secret::default().is_empty());
    }

    #[test]
    fn constant_time_eq_differs_on_any_byte() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}

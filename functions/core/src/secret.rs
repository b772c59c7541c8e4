//! Secrets whose `Debug` never shows the value (the type lives in `konnekted-sync-proto`, shared
//! by every part).

pub use konnekted_sync_proto::secret::{Secret, constant_time_eq};

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

//! Where Daraja lives.

/// Daraja endpoint paths (same on sandbox and production).
pub mod paths {
    pub const OAUTH: &str = "/oauth/v1/generate";
    pub const STK_PUSH: &str = "/mpesa/stkpush/v1/processrequest";
    pub const STK_QUERY: &str = "/mpesa/stkpushquery/v1/query";
    pub const C2B_REGISTER_V1: &str = "/mpesa/c2b/v1/registerurl";
    pub const C2B_REGISTER_V2: &str = "/mpesa/c2b/v2/registerurl";
    /// Sandbox only.
    pub const C2B_SIMULATE: &str = "/mpesa/c2b/v2/simulate";
}

/// Which Daraja to talk to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Environment {
    /// `https://sandbox.safaricom.co.ke`
    Sandbox,
    /// `https://api.safaricom.co.ke`
    Production,
    /// Any other base URL, e.g. a simulator (`http://127.0.0.1:7070`). A trailing `/` is ignored.
    Custom(String),
}

impl Environment {
    /// Base URL without a trailing slash.
    pub fn base_url(&self) -> &str {
        match self {
            Environment::Sandbox => "https://sandbox.safaricom.co.ke",
            Environment::Production => "https://api.safaricom.co.ke",
            Environment::Custom(url) => url.trim_end_matches('/'),
        }
    }

    /// Full URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url(), path)
    }

    pub fn is_production(&self) -> bool {
        matches!(self, Environment::Production)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_custom_trailing_slash_is_trimmed() {
        let env = Environment::Custom("http://127.0.0.1:7070/".into());
        assert_eq!(env.url(paths::STK_PUSH), "http://127.0.0.1:7070/mpesa/stkpush/v1/processrequest");
    }

    #[test]
    fn environment_known_bases_are_https() {
        assert!(Environment::Sandbox.base_url().starts_with("https://"));
        assert!(Environment::Production.base_url().starts_with("https://"));
    }
}

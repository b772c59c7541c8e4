//! What the simulator knows (apps, shortcodes) and how it behaves (scripts, knobs).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Safaricom's public sandbox shortcode.
pub const SANDBOX_SHORTCODE: &str = "174379";
/// Safaricom's public sandbox passkey for [`SANDBOX_SHORTCODE`].
pub const SANDBOX_PASSKEY: &str = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919";
/// Consumer key of the default app.
pub const DEFAULT_CONSUMER_KEY: &str = "sim-consumer-key";
/// Consumer secret of the default app.
pub const DEFAULT_CONSUMER_SECRET: &str = "sim-consumer-secret";

/// A Daraja app: its credentials, and the shortcodes its tokens may use (empty = any).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimApp {
    pub consumer_key: String,
    pub consumer_secret: String,
    #[serde(default)]
    pub shortcodes: Vec<String>,
}

impl SimApp {
    pub fn new(consumer_key: &str, consumer_secret: &str) -> Self {
        SimApp { consumer_key: consumer_key.into(), consumer_secret: consumer_secret.into(), shortcodes: Vec::new() }
    }

    /// Restricts the app's tokens to these shortcodes.
    pub fn with_shortcodes(mut self, shortcodes: &[&str]) -> Self {
        self.shortcodes = shortcodes.iter().map(|s| (*s).to_owned()).collect();
        self
    }
}

/// A shortcode (Paybill/Till) with its Lipa na M-Pesa Online passkey.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimShortcode {
    pub shortcode: String,
    pub passkey: String,
    /// Starting `OrgAccountBalance` in cents (reported in C2B confirmations).
    #[serde(default)]
    pub opening_balance_cents: u64,
}

impl SimShortcode {
    pub fn new(shortcode: &str, passkey: &str) -> Self {
        SimShortcode { shortcode: shortcode.into(), passkey: passkey.into(), opening_balance_cents: 0 }
    }
}

/// How an STK push ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// ResultCode 0, with a fresh `SIMxxxxxxx` receipt.
    Success,
    /// ResultCode 1032, "Request cancelled by user".
    Cancelled,
    /// ResultCode 1037, "DS timeout user cannot be reached".
    Timeout,
    /// ResultCode 1, "The balance is insufficient for the transaction."
    InsufficientFunds,
    /// Paid (a query shows ResultCode 0) but no callback is ever sent: for the missed-callback sweep.
    NoCallback,
    /// Any other ResultCode (failure callback).
    Code(i64),
}

impl Outcome {
    /// The final ResultCode.
    pub fn result_code(self) -> i64 {
        match self {
            Outcome::Success | Outcome::NoCallback => 0,
            Outcome::Cancelled => 1032,
            Outcome::Timeout => 1037,
            Outcome::InsufficientFunds => 1,
            Outcome::Code(c) => c,
        }
    }

    /// The `ResultDesc` Daraja sends with the code.
    pub fn result_desc(self) -> String {
        match self.result_code() {
            0 => "The service request is processed successfully.".into(),
            1 => "The balance is insufficient for the transaction.".into(),
            1032 => "Request cancelled by user".into(),
            1037 => "DS timeout user cannot be reached".into(),
            1019 => "Transaction has expired".into(),
            2001 => "The initiator information is invalid.".into(),
            other => {
                let d = daraja::ResultCode::from_number(other).description();
                let mut s = d.to_owned();
                if let Some(first) = s.get_mut(0..1) {
                    first.make_ascii_uppercase();
                }
                s
            }
        }
    }

    /// Parses `success`, `cancelled`, `timeout`, `insufficient_funds`, `no_callback` or a number.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text.trim().to_ascii_lowercase().as_str() {
            "success" | "paid" => Outcome::Success,
            "cancelled" | "canceled" => Outcome::Cancelled,
            "timeout" => Outcome::Timeout,
            "insufficient_funds" | "insufficient" => Outcome::InsufficientFunds,
            "no_callback" | "none" => Outcome::NoCallback,
            other => Outcome::Code(other.parse().ok()?).normalised(),
        })
    }

    fn normalised(self) -> Self {
        match self {
            Outcome::Code(0) => Outcome::Success,
            Outcome::Code(1) => Outcome::InsufficientFunds,
            Outcome::Code(1032) => Outcome::Cancelled,
            Outcome::Code(1037) => Outcome::Timeout,
            other => other,
        }
    }
}

/// The script an STK push follows: its outcome, when it becomes final, and how many times the
/// callback is delivered (0 = never, 2+ = duplicates).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Script {
    pub outcome: Outcome,
    /// From the push's acknowledgement to the final state (and the first callback).
    #[serde(rename = "delay_ms", with = "millis")]
    pub delay: Duration,
    /// Callback deliveries. Ignored (0) for [`Outcome::NoCallback`].
    pub deliveries: u32,
    /// Send the duplicate deliveries all at once instead of one after another (races the receiver's
    /// exactly-once logic against itself).
    pub concurrent: bool,
}

impl Script {
    pub fn new(outcome: Outcome) -> Self {
        Script { outcome, delay: Duration::from_millis(100), deliveries: 1, concurrent: false }
    }

    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    pub fn deliveries(mut self, n: u32) -> Self {
        self.deliveries = n;
        self
    }

    pub fn concurrent(mut self, concurrent: bool) -> Self {
        self.concurrent = concurrent;
        self
    }

    pub(crate) fn effective_deliveries(&self) -> u32 {
        if self.outcome == Outcome::NoCallback { 0 } else { self.deliveries }
    }
}

impl Default for Script {
    fn default() -> Self {
        Script::new(Outcome::Success)
    }
}

/// How the payer's `MSISDN` appears in C2B validation/confirmation payloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MsisdnStyle {
    /// `254708374149`
    Plain,
    /// `2547 ***** 149` (as the docs show)
    #[default]
    Masked,
    /// 64 hex characters (as production sent in 2025): SHA-256 of the MSISDN here.
    Hashed,
}

/// Simulator configuration. `Default` is the public sandbox shortcode and one app with
/// [`DEFAULT_CONSUMER_KEY`]/[`DEFAULT_CONSUMER_SECRET`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SimConfig {
    pub apps: Vec<SimApp>,
    pub shortcodes: Vec<SimShortcode>,
    /// `expires_in` of issued tokens (Daraja: 3599).
    pub token_ttl_secs: u64,
    /// Send `expires_in` as a JSON string (`"3599"`) rather than a number.
    pub expires_in_as_string: bool,
    /// The script for phones without an override.
    pub default_script: Script,
    /// A second push to a phone with a pending one gets "Unable to lock subscriber" (as Daraja does).
    pub lock_subscriber: bool,
    /// Call the registered ValidationURL before confirming (Safaricom enables this on request).
    pub c2b_external_validation: bool,
    /// Refuse a second registration for a shortcode ("Urls are already registered"), as production does.
    pub c2b_register_once: bool,
    pub c2b_msisdn_style: MsisdnStyle,
    /// How many times the confirmation is delivered (2+ = duplicates, one after another).
    pub c2b_confirmation_deliveries: u32,
    /// How long M-Pesa waits for the validation answer (Daraja: about 8 s).
    #[serde(rename = "c2b_validation_timeout_ms", with = "millis")]
    pub c2b_validation_timeout: Duration,
    /// How long an outbound callback may take.
    #[serde(rename = "callback_timeout_ms", with = "millis")]
    pub callback_timeout: Duration,
    /// Pause between duplicate deliveries of one callback.
    #[serde(rename = "duplicate_gap_ms", with = "millis")]
    pub duplicate_gap: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            apps: vec![SimApp::new(DEFAULT_CONSUMER_KEY, DEFAULT_CONSUMER_SECRET)],
            shortcodes: vec![SimShortcode::new(SANDBOX_SHORTCODE, SANDBOX_PASSKEY)],
            token_ttl_secs: 3599,
            expires_in_as_string: false,
            default_script: Script::default(),
            lock_subscriber: true,
            c2b_external_validation: true,
            c2b_register_once: false,
            c2b_msisdn_style: MsisdnStyle::default(),
            c2b_confirmation_deliveries: 1,
            c2b_validation_timeout: Duration::from_secs(8),
            callback_timeout: Duration::from_secs(10),
            duplicate_gap: Duration::from_millis(20),
        }
    }
}

impl SimConfig {
    /// No apps and no shortcodes: add your own with [`SimConfig::app`] and [`SimConfig::shortcode`].
    pub fn empty() -> Self {
        SimConfig { apps: Vec::new(), shortcodes: Vec::new(), ..SimConfig::default() }
    }

    pub fn app(mut self, app: SimApp) -> Self {
        self.apps.push(app);
        self
    }

    pub fn shortcode(mut self, shortcode: SimShortcode) -> Self {
        self.shortcodes.push(shortcode);
        self
    }

    pub fn default_script(mut self, script: Script) -> Self {
        self.default_script = script;
        self
    }
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sim_config_partial_json_fills_defaults() {
        let c: SimConfig = serde_json::from_str(
            r#"{"expires_in_as_string":true,"default_script":{"outcome":"cancelled"},"duplicate_gap_ms":5}"#,
        )
        .unwrap();
        assert!(c.expires_in_as_string);
        assert_eq!(c.default_script.outcome, Outcome::Cancelled);
        assert_eq!(c.default_script.deliveries, 1);
        assert_eq!(c.duplicate_gap, Duration::from_millis(5));
        assert_eq!(c.shortcodes[0].shortcode, SANDBOX_SHORTCODE);
    }

    #[test]
    fn sim_config_default_roundtrips_through_json() {
        let c = SimConfig::default();
        let back: SimConfig = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn outcome_parse_names_and_codes_normalise() {
        assert_eq!(Outcome::parse("Cancelled"), Some(Outcome::Cancelled));
        assert_eq!(Outcome::parse("1032"), Some(Outcome::Cancelled));
        assert_eq!(Outcome::parse("0"), Some(Outcome::Success));
        assert_eq!(Outcome::parse("2001"), Some(Outcome::Code(2001)));
        assert_eq!(Outcome::parse("no_callback"), Some(Outcome::NoCallback));
        assert_eq!(Outcome::parse("maybe"), None);
        assert_eq!(Outcome::Code(2001).result_desc(), "The initiator information is invalid.");
        assert_eq!(Outcome::Code(17).result_desc(), "Same amount to the same customer within 2 minutes");
    }
}

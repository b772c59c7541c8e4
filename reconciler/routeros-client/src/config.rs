//! Connection settings.

use std::fmt;
use std::time::Duration;

/// Which `/login` flow to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LoginMethod {
    /// Plaintext (post-6.43); if the router answers with a challenge (`!done =ret=`),
    /// fall back to the legacy MD5 challenge.
    #[default]
    Auto,
    /// Plaintext only; a challenge is a [`Login`](crate::ErrorKind::Login) error.
    Plain,
    /// Legacy MD5 challenge only (pre-6.43 routers).
    Legacy,
}

/// Settings for one connection.
#[derive(Clone)]
pub struct Config {
    /// API user.
    pub user: String,
    /// API password: held in a [`secrecy::SecretString`] (zeroed on drop, redacted in `Debug`).
    pub password: secrecy::SecretString,
    /// Login flow.
    pub login: LoginMethod,
    /// Time allowed for TCP connect + TLS + login.
    pub connect_timeout: Duration,
    /// Default time allowed for one command, from the call until its `!done`
    /// (including waiting for a free slot in the window).
    pub command_timeout: Duration,
    /// Most commands in flight on the connection at once.
    pub window: usize,
    /// Largest word accepted from the router (guards memory against a broken peer).
    pub max_word: u64,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("login", &self.login)
            .field("connect_timeout", &self.connect_timeout)
            .field("command_timeout", &self.command_timeout)
            .field("window", &self.window)
            .field("max_word", &self.max_word)
            .finish()
    }
}

impl Config {
    /// Defaults: auto login, 10 s connect and command timeouts, window 64, 16 MiB words.
    pub fn new(user: &str, password: &str) -> Config {
        Config {
            user: user.to_owned(),
            password: secrecy::SecretString::from(password),
            login: LoginMethod::Auto,
            connect_timeout: Duration::from_secs(10),
            command_timeout: Duration::from_secs(10),
            window: 64,
            max_word: 16 << 20,
        }
    }

    /// Sets the login flow.
    pub fn login(mut self, m: LoginMethod) -> Config {
        self.login = m;
        self
    }

    /// Sets the per-command timeout.
    pub fn command_timeout(mut self, t: Duration) -> Config {
        self.command_timeout = t;
        self
    }

    /// Sets the connect + login timeout.
    pub fn connect_timeout(mut self, t: Duration) -> Config {
        self.connect_timeout = t;
        self
    }

    /// Sets the window (at least 1).
    pub fn window(mut self, n: usize) -> Config {
        self.window = n.max(1);
        self
    }
}

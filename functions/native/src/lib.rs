//! The native host: the billing core served over HTTP from SQLite files, for one box
//! and for tests. Everything here is an adapter: no business logic.

pub mod config;
pub mod console_client;
#[cfg(feature = "demo")]
pub mod demo;
pub mod platform;
pub mod server;
pub mod spin_sqlite;
pub mod sqlite;

pub use config::Config;
pub use platform::NativePlatform;

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

/// The process allocator: mimalloc when built with the `mimalloc` feature (it also takes over
/// `malloc`, so SQLite's page caches and statement journals use it).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

//! A Spin-compatible host for tests and local runs of the Konnekted Spin component: it reads
//! `spin.toml` (manifest v2) and Spin's runtime config, serves HTTP routed by Spin's rules, and
//! implements `spin:sqlite` (SQLite files per label) and `spin:variables` with each component's
//! grants, outbound HTTP only to allowed hosts. See README.md for what follows Spin's documented
//! behaviour and what had to be guessed.

pub mod config;
pub mod host;
pub mod manifest;
pub mod outbound;
pub mod routes;
pub mod spin;

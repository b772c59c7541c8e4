//! FreeRADIUS 3.2 config generator: one server, many tenants, tenant chosen by realm.
//!
//! [`render_files`] is pure (tenant list + server settings + the stock `queries.conf` texts in,
//! file contents out); [`write_raddb`] copies the stock tree (Debian's `/etc/freeradius/3.0`) to a
//! fresh directory, removes what we replace (stock sites, EAP) and writes our files, then swaps the
//! directory in atomically. Run the result with `freeradius -f -d <dir>` (or `-X`).
//!
//! What the rendered config does (lessons of the multi-tenant probe, all required):
//! - `user@realm`; each tenant realm is a LOCAL realm (dotless realms work: we replace the stock
//!   `filter_username`, which rejects them). Usernames are stored without the realm (`strip`).
//! - One `sql` instance per tenant with its own pool (`start=0, min=0, spare=1, max=threads`), a
//!   per-tenant statement timeout (PostgreSQL `SET statement_timeout`, MariaDB `max_statement_time` +
//!   lock wait timeouts, SQLite `busy_timeout`), and `sql_user_name` set before the `$INCLUDE`.
//! - Tenant picked by `switch &Realm` in authorize, accounting and post-auth. Unknown realm or bare
//!   username: Access-Reject with a Reply-Message.
//! - NASes come from the tenant list and are written to clients.conf with shortname `<realm>:<name>`;
//!   `konnekted_nas_binding` rejects a NAS asking for another tenant's realm.
//! - A per-tenant circuit breaker (rlm_cache keyed by realm): after a DB failure the tenant is dropped
//!   (no response, so the NAS retries/fails over) for `breaker_ttl_secs` without touching the DB;
//!   other tenants keep their worker threads. A DB failure never becomes an Access-Reject.
//! - Post-auth query that records user/result/time but never a password.
//! - Optional `rest` call to the edge voucher endpoint when the user is not found and the tenant
//!   enables vouchers.
//! - Optionally PostgreSQL tenants go through PgBouncer ([`PgBouncerConfig`]): one server-side
//!   connection budget per PostgreSQL server shared by its tenants, so a hung tenant database cannot
//!   take the server's connection slots from the others, and 50+ tenants fit in `max_connections`.
//! - Adding/removing a tenant needs a restart (rlm_sql instances, realms and clients are not
//!   reloaded on HUP; measured, see README).
//!
//! Layout: [`model`] (inputs), [`validate`] (checks), [`render`] (pure rendering, with the fixed
//! text in `templates/*.conf`), [`pgbouncer`], [`write`] (files on disk).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::db::{Backend, DbSettings, Secret};

mod model;
mod pgbouncer;
mod render;
mod validate;
mod write;

pub use model::*;
pub use pgbouncer::*;
pub use render::*;
pub use validate::*;
pub use write::*;

#[cfg(test)]
mod tests;

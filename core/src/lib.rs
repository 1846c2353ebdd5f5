//! # dbward-core: everything both front doors need, and no sockets
//!
//! dbward is a database access proxy: users connect with ordinary PostgreSQL and MySQL clients,
//! dbward authenticates them, checks that they hold a grant active right now, classifies every
//! statement and enforces quotas, and audits everything. This crate is the domain under the wire
//! protocols (`dbward-proxy`) and the admin API (`dbward-admin-api`); the arrows point one way:
//! `dbward` (binary) -> {proxy, admin-api} -> core.
//!
//! ## Layout
//! - [`config`]: the one configuration tree (defaults < TOML file < `DBWARD_*` env < flags),
//!   validated once at start and shared as `Arc<Config>`.
//! - [`time`]: timestamps. The API speaks RFC 3339 with an explicit offset; the store keeps
//!   UTC microseconds since the epoch as integers, identical on SQLite and PostgreSQL, so
//!   "active now" comparisons happen in SQL on plain integers.
//! - [`model`]: users, roles and permissions, upstream databases, folders, grants and access
//!   levels: plain data with the rules that need no I/O (a grant's state at `now`, how roles cap
//!   a grant's level).
//! - [`crypto`]: the master key, AES-256-GCM sealing of upstream secrets, argon2id password
//!   hashes and SCRAM-SHA-256 verifiers, and [`crypto::Secret`], whose `Debug` never prints.
//! - [`store`]: the metadata store, one interface over SQLite (embedded default) and PostgreSQL
//!   (several dbward instances sharing state); migrations per backend; every admin mutation writes
//!   its audit row in the same transaction as the change.
//! - [`auth`]: password verification for every front door: bounded argon2id workers, a
//!   credential cache, and throttling per (user, client address).
//! - [`gate`]: may this authenticated user open a session on that database now, with which
//!   grant? Shared by every front door.
//! - [`sessions`]: the registry of live sessions and the watcher that ends them within a
//!   second when their grant expires or is revoked, or their user or database goes.
//! - [`tls`]: the self-signed certificate generated into the data directory at first start.
//!
//! - [`policy`]: statement classification (read/write/ddl/admin, fail closed) with its
//!   decision cache; pure code.
//! - [`quota`]: per-grant query and byte quotas, reserved from the store in blocks.
//!
//! - [`audit`]: the trail's batching writer (group commit, back-pressure, store-outage policy,
//!   statement outcomes), its HMAC chain ([`audit::chain`]) and housekeeping
//!   ([`audit::maintain`]: head file, pruning).
//!
//! Later issues add LDAP to `auth` beside these.

pub mod audit;
pub mod auth;
pub mod config;
pub mod crypto;
pub mod files;
pub mod gate;
pub mod model;
pub mod policy;
pub mod quota;
pub mod sessions;
pub mod store;
pub mod time;
pub mod tls;

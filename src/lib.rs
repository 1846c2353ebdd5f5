//! # dbward: the binary's library half
//!
//! `main.rs` stays thin; this library holds the command line ([`cli`]) and the start-up and
//! shutdown sequence ([`app`]), so end-to-end tests can start a real dbward in-process on port 0
//! with a temporary data directory. The domain lives in `dbward-core`, the admin API in
//! `dbward-admin-api`; the proxies (`dbward-proxy`) join with their issues.

pub mod app;
pub mod cli;
pub mod https;
pub mod logging;

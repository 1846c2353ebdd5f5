//! # dbward-proxy: the wire protocols
//!
//! The front doors users reach with ordinary clients. Each protocol module turns bytes into the
//! few decisions the domain needs (who is this, which database, may this statement run) and
//! turns the answers back into bytes; `dbward-core` decides. `pg` and `mysql` never import each
//! other's protocol code; what they share lives in [`listener`], [`statement_gate`], [`stream`]
//! and core (the upstream TLS client configuration is `pg::upstream`'s, used by both).
//!
//! - [`listener`]: the accept loop shared by both protocols: TCP options, one task per
//!   connection under a tracker, stop on shutdown.
//! - [`session_threads`]: single-threaded runtimes, one per thread, that run whole sessions
//!   (both sockets, relay tasks, timers) with no hand-over between threads.
//! - [`pg`]: PostgreSQL: startup and TLS, SCRAM-SHA-256 (and -PLUS) against dbward's own
//!   verifier, the session gate, the upstream login with the stored credentials, and a
//!   message-level relay with dbward's own cancel keys.
//! - [`mysql`]: MySQL/MariaDB: handshake and TLS, `caching_sha2_password` against dbward's own
//!   users, the same gate, the upstream login, a packet relay driven by one command table.
//! - [`statement_gate`]: what both relays call per statement (classification, level, timeout
//!   ceiling, denial audit), and the connection-audit helper.
//! - [`stream`]: a client or upstream connection, TLS or not.
//! - [`buffers`]: small relay buffers recycled per worker thread (idle sessions hold none).

pub mod buffers;
pub mod fuzzing;
pub mod listener;
pub mod mysql;
pub mod pg;
pub mod session_threads;
pub mod statement_gate;
pub mod stream;

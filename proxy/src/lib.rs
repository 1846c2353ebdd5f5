//! # dbward-proxy: the wire protocols
//!
//! The front doors users reach with ordinary clients. Each protocol module turns bytes into the
//! few decisions the domain needs (who is this, which database, may this statement run) and
//! turns the answers back into bytes; `dbward-core` decides. `pg` and (later) `mysql` never
//! import each other; what they share lives in [`listener`] and in core.
//!
//! - [`listener`]: the accept loop shared by both protocols: TCP options, one task per
//!   connection under a tracker, stop on shutdown.
//! - [`pg`]: PostgreSQL: startup and TLS, SCRAM-SHA-256 against dbward's own verifier, the
//!   session gate, the upstream login with the stored credentials, and a message-level relay
//!   with dbward's own cancel keys.

pub mod fuzzing;
pub mod listener;
pub mod mysql;
pub mod pg;
pub mod statement_gate;
pub mod stream;

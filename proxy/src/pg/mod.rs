//! The PostgreSQL front door.
//!
//! A connection goes through phases, each a function returning the next one's input:
//! [`startup::handshake`] (TLS — SSLRequest or PostgreSQL 17's direct TLS —, GSSENCRequest
//! answered 'N', CancelRequest, StartupMessage with its parameters checked; the server
//! settings it asks for are held to the grant once it is known, [`startup_settings`]) →
//! [`scram::authenticate`] (SCRAM-SHA-256 against the user's stored verifier; the password is
//! proved before anything about databases or grants is looked at) →
//! `dbward_core::gate::open_session` (the grant active now) → [`upstream::connect`] (dbward's
//! own login to the real database with the sealed credentials) → [`relay::run`] (messages flow
//! both ways, framed by dbward and inspected where policy needs it, passed on as raw bytes).
//!
//! Errors reach the client as ErrorResponse in its own protocol ([`codec::error_response`]);
//! messages with internal detail (upstream addresses, credentials) never do.

pub mod cancel;
pub mod codec;
pub mod relay;
pub mod scram;
pub mod server;
pub mod startup;
pub mod startup_settings;
pub use crate::stream;
pub mod upstream;

pub use server::{PgServer, PgServerConfig};

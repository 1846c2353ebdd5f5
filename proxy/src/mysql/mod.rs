//! MySQL/MariaDB: dbward's handshake with the client (`caching_sha2_password` over TLS against
//! dbward's own users), the session gate, dbward's login upstream with the stored credentials,
//! and a packet relay that classifies what policy needs and passes results through raw.
//!
//! - [`packet`]: framing (length, sequence id, 16 MB continuations), ERR/OK payloads.
//! - [`client_auth`]: greeting, TLS upgrade, handshake response, full authentication.
//! - [`upstream`]: the login to the real server and the session set-up per grant.
//! - [`relay`]: the command loop and the response state machine.
//! - [`server`]: the phases in order, limits, audit.
//!
//! ## Every command byte's fate
//! One table, [`command_fate`], repeated in the README:
//!
//! | command | fate |
//! |---|---|
//! | `COM_QUERY`, `COM_STMT_PREPARE` | classified (the SQL), then relayed |
//! | `COM_STMT_EXECUTE`, `COM_STMT_FETCH` | counted against the query quota, relayed |
//! | `COM_STMT_BULK_EXECUTE` (MariaDB) | where negotiated (dbward speaks as MariaDB): one statement against the query quota, relayed; refused elsewhere |
//! | `COM_STMT_CLOSE`, `COM_STMT_SEND_LONG_DATA` | relayed (no response) |
//! | `COM_STMT_RESET`, `COM_PING`, `COM_STATISTICS`, `COM_SET_OPTION`, `COM_FIELD_LIST` | relayed |
//! | `COM_INIT_DB` | only to the database's configured schema |
//! | `COM_RESET_CONNECTION` | relayed, then the grant's read-only mode and timeout re-applied |
//! | `COM_CREATE_DB`, `COM_DROP_DB` | `ddl` |
//! | `COM_QUIT` | ends the session |
//! | `COM_PROCESS_KILL`, `KILL [QUERY] n` | handled by dbward: only the same user's sessions ([`kill`]) |
//! | `COM_CHANGE_USER` | handled by dbward: same user and database only; re-authentication, grant re-check, `COM_RESET_CONNECTION` upstream, mode re-applied |
//! | `COM_BINLOG_DUMP`, `COM_BINLOG_DUMP_GTID`, `COM_REGISTER_SLAVE`, `COM_REFRESH`, `COM_SHUTDOWN`, `COM_DEBUG`, anything else | refused |
//!
//! Commands that name a prepared statement may name it `-1`, MariaDB's "the statement prepared
//! last": dbward resolves it and sends the real id (there is none: an ERR, or nothing for the
//! commands without a response).

pub mod client_auth;
pub mod kill;
pub mod packet;
pub mod params;
pub mod relay;
pub mod rsa_exchange;
pub mod server;
pub mod upstream;

pub use server::{MyServer, MyServerConfig};

/// What dbward does with a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// `COM_QUIT`.
    Quit,
    /// `COM_QUERY`: classify, count, relay; result sets.
    Query,
    /// `COM_STMT_PREPARE`: classify, relay.
    Prepare,
    /// `COM_STMT_EXECUTE`: count, relay; binary result sets.
    Execute,
    /// `COM_STMT_FETCH`: count, relay; rows.
    Fetch,
    /// MariaDB's `COM_STMT_BULK_EXECUTE`: where negotiated, as `COM_STMT_EXECUTE` (one
    /// statement for the quota, however many rows of parameters); refused elsewhere.
    BulkExecute,
    /// Relayed, no response.
    NoResponse,
    /// Relayed, one response packet.
    SinglePacket,
    /// `COM_FIELD_LIST`: column definitions up to EOF.
    FieldList,
    /// `COM_INIT_DB`: the configured schema only.
    InitDb,
    /// `COM_CREATE_DB`/`COM_DROP_DB`: a `ddl` statement.
    Ddl(&'static str),
    /// `COM_RESET_CONNECTION`: relayed, session mode re-applied.
    ResetConnection,
    /// `COM_PROCESS_KILL`: handled by dbward ([`kill`]).
    ProcessKill,
    /// `COM_CHANGE_USER`: handled by dbward (same user and database: re-authentication, grant
    /// re-check, upstream reset).
    ChangeUser,
    /// Refused with this reason.
    Refused(&'static str),
}

/// The fate of command byte `cmd`.
#[must_use]
pub fn command_fate(cmd: u8) -> Fate {
    match cmd {
        0x01 => Fate::Quit,
        0x03 => Fate::Query,
        0x16 => Fate::Prepare,
        0x17 => Fate::Execute,
        0x1C => Fate::Fetch,
        0xFA => Fate::BulkExecute,
        0x18 | 0x19 => Fate::NoResponse,
        0x09 | 0x0E | 0x1A | 0x1B => Fate::SinglePacket,
        0x04 => Fate::FieldList,
        0x02 => Fate::InitDb,
        0x05 => Fate::Ddl("COM_CREATE_DB"),
        0x06 => Fate::Ddl("COM_DROP_DB"),
        0x1F => Fate::ResetConnection,
        0x11 => Fate::ChangeUser,
        0x0C => Fate::ProcessKill,
        0x12 | 0x1E | 0x15 => Fate::Refused("replication commands are refused by dbward"),
        _ => Fate::Refused("dbward refuses this command"),
    }
}

//! What the handlers share.

use std::sync::Arc;

use dbward_core::auth::Authenticator;
use dbward_core::config::Config;
use dbward_core::crypto::MasterKey;
use dbward_core::store::Store;

/// The admin API's state, built once by the binary.
#[derive(Debug, Clone)]
pub struct AdminState {
    /// The validated configuration.
    pub config: Arc<Config>,
    /// The metadata store.
    pub store: Store,
    /// The master key, for sealing upstream secrets.
    pub key: MasterKey,
    /// Password verification.
    pub auth: Arc<Authenticator>,
    /// Live proxy sessions of this instance.
    pub sessions: Arc<dbward_core::sessions::SessionRegistry>,
    /// Whether the audit writer can write (for `/api/health`).
    pub audit: dbward_core::audit::AuditHealth,
    /// Whether this listener serves HTTPS (basic auth is then fine from anywhere).
    pub tls: bool,
}

/// The state as handlers receive it.
pub type SharedState = Arc<AdminState>;

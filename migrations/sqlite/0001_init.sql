-- dbward metadata store, SQLite. Timestamps are UTC microseconds since the Unix epoch.
-- Keep in step with migrations/postgres/0001_init.sql: the same tables, columns and meaning.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE roles (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    permissions TEXT NOT NULL DEFAULT '',
    builtin     BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE users (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    uid            TEXT NOT NULL UNIQUE,
    username       TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('local', 'ldap')),
    password_hash  TEXT,
    scram_verifier TEXT,
    enabled        BOOLEAN NOT NULL DEFAULT TRUE,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    deleted_at     INTEGER
);
CREATE UNIQUE INDEX users_username_live ON users (username) WHERE deleted_at IS NULL;

CREATE TABLE user_roles (
    user_id INTEGER NOT NULL REFERENCES users (id),
    role_id INTEGER NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, role_id)
);

CREATE TABLE folders (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE databases (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    uid                   TEXT NOT NULL UNIQUE,
    name                  TEXT NOT NULL,
    engine                TEXT NOT NULL CHECK (engine IN ('postgres', 'mysql')),
    redshift              BOOLEAN NOT NULL DEFAULT FALSE,
    host                  TEXT NOT NULL,
    port                  INTEGER NOT NULL,
    database_name         TEXT NOT NULL,
    username              TEXT NOT NULL,
    password_sealed       TEXT,
    read_username         TEXT,
    read_password_sealed  TEXT,
    tls_mode              TEXT NOT NULL,
    tls_ca_cert           TEXT,
    tls_client_cert       TEXT,
    tls_client_key_sealed TEXT,
    folder_id             INTEGER REFERENCES folders (id) ON DELETE SET NULL,
    position              INTEGER NOT NULL DEFAULT 0,
    description           TEXT NOT NULL DEFAULT '',
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL,
    deleted_at            INTEGER
);
CREATE UNIQUE INDEX databases_name_live ON databases (name) WHERE deleted_at IS NULL;

CREATE TABLE grants (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users (id),
    database_id  INTEGER NOT NULL REFERENCES databases (id),
    access_level TEXT NOT NULL CHECK (access_level IN ('read', 'write', 'ddl', 'admin')),
    starts_at    INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    max_queries  INTEGER,
    max_bytes    INTEGER,
    used_queries INTEGER NOT NULL DEFAULT 0,
    used_bytes   INTEGER NOT NULL DEFAULT 0,
    created_by   INTEGER REFERENCES users (id),
    created_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    revoked_by   INTEGER REFERENCES users (id),
    CHECK (expires_at > starts_at)
);
CREATE INDEX grants_user_database ON grants (user_id, database_id);
CREATE INDEX grants_database ON grants (database_id);

-- The audit trail. Admin actions land here now; the audit issue adds connection and statement
-- events and the HMAC chain columns.
CREATE TABLE audit_log (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    at             INTEGER NOT NULL,
    kind           TEXT NOT NULL,
    actor_user_id  INTEGER,
    actor_username TEXT,
    client_addr    TEXT,
    action         TEXT NOT NULL,
    entity_type    TEXT,
    entity_id      TEXT,
    outcome        TEXT NOT NULL,
    details        TEXT
);
CREATE INDEX audit_log_at ON audit_log (at);

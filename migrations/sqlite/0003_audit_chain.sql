-- The audit trail's tamper evidence and searchable columns.
-- Each row is a link of its instance's chain: `seq` counts from 1 per instance and `hmac` is
-- HMAC-SHA-256 (key derived from the master key `key_id`) over the previous link and the row.
ALTER TABLE audit_log ADD COLUMN instance_id TEXT;
ALTER TABLE audit_log ADD COLUMN seq INTEGER;
ALTER TABLE audit_log ADD COLUMN key_id TEXT;
ALTER TABLE audit_log ADD COLUMN hmac TEXT;
ALTER TABLE audit_log ADD COLUMN session_id TEXT;
ALTER TABLE audit_log ADD COLUMN database_name TEXT;
ALTER TABLE audit_log ADD COLUMN grant_id INTEGER;
ALTER TABLE audit_log ADD COLUMN statement TEXT;
CREATE UNIQUE INDEX audit_log_chain ON audit_log (instance_id, seq);
CREATE INDEX audit_log_session ON audit_log (session_id);
-- The latest link of each instance's chain (also kept in a file in the instance's data directory).
CREATE TABLE audit_chain (
    instance_id TEXT PRIMARY KEY,
    seq         INTEGER NOT NULL,
    hash        TEXT NOT NULL
);
-- Where a pruned chain now starts: the last pruned link, sealed with its own HMAC.
CREATE TABLE audit_checkpoints (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    hash        TEXT NOT NULL,
    at          INTEGER NOT NULL,
    key_id      TEXT NOT NULL,
    mac         TEXT NOT NULL
);
CREATE INDEX audit_checkpoints_instance ON audit_checkpoints (instance_id, seq);

-- PostgreSQL upstreams: require SCRAM-SHA-256-PLUS bound to the TLS channel (libpq's
-- channel_binding=require), so a machine in the middle cannot relay dbward's login.
ALTER TABLE databases ADD COLUMN require_channel_binding BOOLEAN NOT NULL DEFAULT FALSE;

-- MySQL upstreams: the server's RSA public key (PEM), pinned, for caching_sha2_password's full
-- authentication without TLS: dbward encrypts the password with it instead of asking the server
-- for its key, which a machine in the middle could answer with its own.
ALTER TABLE databases ADD COLUMN mysql_server_public_key TEXT;

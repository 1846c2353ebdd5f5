-- Opt-in mysql_native_password per user: SHA1(SHA1(password)), sealed with the master key
-- (AES-256-GCM), set only when the password is set with the option on; NULL = off.
ALTER TABLE users ADD COLUMN mysql_native_sealed TEXT;

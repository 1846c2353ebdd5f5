-- Optional per-grant statement timeout, applied upstream as `statement_timeout` at session start.
ALTER TABLE grants ADD COLUMN statement_timeout_ms INTEGER;

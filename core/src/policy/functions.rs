//! Functions with side effects, called from inside a query.
//!
//! A `SELECT` can change things through the functions it calls: `nextval` advances a sequence,
//! `pg_advisory_lock` takes a lock that outlives the statement, `pg_terminate_backend` ends
//! someone else's session, `lo_import` reads a server file. Each such built-in is on the list
//! below with the class of what it does.
//!
//! **The rule for functions not on the list:** they are classified `read`. A function's body is
//! opaque to dbward (user-defined functions are written in PL/pgSQL, SQL, C...), and a deny-all
//! rule would refuse `count(*)`. What keeps a `read` grant read-only against a user-defined
//! function that writes is the second layer: the upstream session is read-only
//! (`default_transaction_read_only=on`), so the write fails upstream (SQLSTATE 25006); a test
//! proves it. Under `write` or `ddl` grants, such a function can do what the upstream role may
//! do: give those grants an upstream credential without ownership of schema objects.

use super::StatementClass;

/// Exact names (lower case, without schema) and what calling them does.
const EXACT: &[(&str, StatementClass)] = &[
    // Sequences and transaction ids.
    ("nextval", StatementClass::Write),
    ("setval", StatementClass::Write),
    ("txid_current", StatementClass::Write),
    ("pg_current_xact_id", StatementClass::Write),
    ("pg_notify", StatementClass::Write),
    // Large objects that change data.
    ("lo_create", StatementClass::Write),
    ("lo_creat", StatementClass::Write),
    ("lo_unlink", StatementClass::Write),
    ("lo_put", StatementClass::Write),
    ("lo_from_bytea", StatementClass::Write),
    ("lo_open", StatementClass::Write),
    ("lowrite", StatementClass::Write),
    ("lo_truncate", StatementClass::Write),
    ("lo_truncate64", StatementClass::Write),
    // Releasing locks the session holds: harmless, and what pools send when a connection goes
    // back (asyncpg: `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`).
    // A `read` session can take none to begin with.
    ("pg_advisory_unlock", StatementClass::Read),
    ("pg_advisory_unlock_shared", StatementClass::Read),
    ("pg_advisory_unlock_all", StatementClass::Read),
    // MySQL/MariaDB named locks and sequences.
    ("get_lock", StatementClass::Write),
    ("release_lock", StatementClass::Read),
    ("release_all_locks", StatementClass::Read),
    ("lastval", StatementClass::Read),
    // Server files, other sessions, server state.
    ("lo_import", StatementClass::Admin),
    ("lo_export", StatementClass::Admin),
    ("pg_terminate_backend", StatementClass::Admin),
    ("pg_cancel_backend", StatementClass::Admin),
    ("pg_reload_conf", StatementClass::Admin),
    ("pg_rotate_logfile", StatementClass::Admin),
    ("pg_switch_wal", StatementClass::Admin),
    ("pg_create_restore_point", StatementClass::Admin),
    ("pg_backup_start", StatementClass::Admin),
    ("pg_backup_stop", StatementClass::Admin),
    ("pg_start_backup", StatementClass::Admin),
    ("pg_stop_backup", StatementClass::Admin),
    ("pg_promote", StatementClass::Admin),
    ("pg_wal_replay_pause", StatementClass::Admin),
    ("pg_wal_replay_resume", StatementClass::Admin),
    ("pg_stat_file", StatementClass::Admin),
    ("pg_import_system_collations", StatementClass::Admin),
    ("pg_logical_emit_message", StatementClass::Admin),
    ("pg_replication_slot_advance", StatementClass::Admin),
    ("pg_stat_reset", StatementClass::Admin),
    ("pg_stat_reset_shared", StatementClass::Admin),
    ("pg_stat_reset_single_table_counters", StatementClass::Admin),
    (
        "pg_stat_reset_single_function_counters",
        StatementClass::Admin,
    ),
    ("pg_stat_reset_slru", StatementClass::Admin),
    ("pg_stat_reset_replication_slot", StatementClass::Admin),
    ("pg_stat_reset_subscription_stats", StatementClass::Admin),
    ("pg_stat_statements_reset", StatementClass::Admin),
    // Writes another backend's memory contexts to the server log (superuser by default).
    ("pg_log_backend_memory_contexts", StatementClass::Admin),
    // Index maintenance, like VACUUM: they change the index.
    ("brin_summarize_new_values", StatementClass::Ddl),
    ("brin_summarize_range", StatementClass::Ddl),
    ("brin_desummarize_range", StatementClass::Ddl),
    ("gin_clean_pending_list", StatementClass::Ddl),
    // They run a query given as text, which no classifier sees.
    ("query_to_xml", StatementClass::Admin),
    ("query_to_xmlschema", StatementClass::Admin),
    ("query_to_xml_and_xmlschema", StatementClass::Admin),
    ("cursor_to_xml", StatementClass::Admin),
    ("ts_stat", StatementClass::Admin),
    ("ts_rewrite", StatementClass::Admin),
    // MySQL server files and user-defined escape hatches.
    ("load_file", StatementClass::Admin),
    ("sys_exec", StatementClass::Admin),
    ("sys_eval", StatementClass::Admin),
];

/// Name prefixes (lower case) and their class, for families of functions.
const PREFIXES: &[(&str, StatementClass)] = &[
    ("pg_advisory", StatementClass::Write),
    ("pg_try_advisory", StatementClass::Write),
    ("dblink", StatementClass::Admin),
    // The pg_background extension runs SQL text in a session of its own (not read-only).
    ("pg_background", StatementClass::Admin),
    ("pg_read_", StatementClass::Admin),
    ("pg_ls_", StatementClass::Admin),
    ("pg_file_", StatementClass::Admin),
    ("pg_create_", StatementClass::Admin),
    ("pg_drop_replication", StatementClass::Admin),
    ("pg_copy_", StatementClass::Admin),
    ("pg_logical_slot", StatementClass::Admin),
    ("pg_replication_origin", StatementClass::Admin),
    ("lo_", StatementClass::Write),
];

/// Large-object functions that only read.
const LO_READS: &[&str] = &["lo_get", "lo_tell", "lo_tell64", "loread"];

/// The class of calling function `name` (already without schema, any case), with `None` for
/// functions not on the lists (see the module's rule).
pub(crate) fn function_class(name: &str) -> Option<StatementClass> {
    let name = name.to_ascii_lowercase();
    if let Some((_, c)) = EXACT.iter().find(|(n, _)| *n == name) {
        return Some(*c);
    }
    if LO_READS.contains(&name.as_str()) {
        return None;
    }
    PREFIXES
        .iter()
        .find(|(p, _)| name.starts_with(p))
        .map(|(_, c)| *c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists() {
        assert_eq!(function_class("NEXTVAL"), Some(StatementClass::Write));
        assert_eq!(
            function_class("pg_advisory_xact_lock"),
            Some(StatementClass::Write)
        );
        assert_eq!(
            function_class("pg_advisory_unlock_all"),
            Some(StatementClass::Read)
        );
        assert_eq!(function_class("dblink_exec"), Some(StatementClass::Admin));
        assert_eq!(function_class("lo_get"), None);
        assert_eq!(function_class("lo_import"), Some(StatementClass::Admin));
        assert_eq!(function_class("count"), None);
        assert_eq!(function_class("pg_get_userbyid"), None);
    }
}

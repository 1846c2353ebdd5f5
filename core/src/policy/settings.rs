//! Session settings: which `SET`s are harmless, which switch off read-only mode, which break
//! the classifier's lexing, and which reach outside the session.
//!
//! The rule: a setting on the allowlist below is `read` (it changes only how this session's
//! own queries run or look); the read-only switches are `write` when they turn read-only mode
//! off (so `write` grants may use them, `read` grants may not); settings that would make the
//! server lex SQL differently from dbward are `admin`; **any other setting is `admin`**
//! (fail closed: `session_replication_role` disables triggers and foreign keys,
//! `allow_system_table_mods`... and a setting dbward has never heard of could be anything).
//! `GLOBAL` scope is always `admin`. `RESET` returns a setting to the session's start-up value,
//! which dbward chose, and is `read`.

use super::{StatementClass, Timeout};

/// PostgreSQL settings that only affect the session's own queries.
const PG_HARMLESS: &[&str] = &[
    "application_name",
    "search_path",
    "datestyle",
    "timezone",
    "time zone",
    "intervalstyle",
    "extra_float_digits",
    "lock_timeout",
    "idle_in_transaction_session_timeout",
    "idle_session_timeout",
    "client_min_messages",
    "bytea_output",
    "work_mem",
    "maintenance_work_mem",
    "temp_buffers",
    "random_page_cost",
    "seq_page_cost",
    "effective_cache_size",
    "effective_io_concurrency",
    "join_collapse_limit",
    "from_collapse_limit",
    "plan_cache_mode",
    "max_parallel_workers_per_gather",
    "cursor_tuple_fraction",
    "default_statistics_target",
    "constraint_exclusion",
    "default_text_search_config",
    "lc_monetary",
    "lc_numeric",
    "lc_time",
    "xmlbinary",
    "xmloption",
    "gin_fuzzy_search_limit",
    "row_security",
    "transaction_isolation",
    "default_transaction_isolation",
    "transaction_deferrable",
    "default_transaction_deferrable",
    "synchronous_commit",
    "check_function_bodies",
    "jit",
    "geqo",
    "force_parallel_mode",
    "debug_parallel_query",
    "array_nulls",
    "escape_string_warning",
    "quote_all_identifiers",
    "timezone_abbreviations",
    "trace_sort",
    "synchronize_seqscans",
    "hash_mem_multiplier",
    "recursive_worktable_factor",
    "max_parallel_workers",
    "max_parallel_maintenance_workers",
    "gin_pending_list_limit",
    "default_tablespace",
    "temp_tablespaces",
    "default_table_access_method",
    "default_toast_compression",
    "restrict_nonsystem_relation_kind",
    // How this session's own VACUUM and ANALYZE run (`vacuumdb --analyze-in-stages` sets
    // `vacuum_cost_delay`); the statements themselves are classified on their own.
    "vacuum_cost_delay",
    "vacuum_cost_limit",
    "vacuum_cost_page_hit",
    "vacuum_cost_page_miss",
    "vacuum_cost_page_dirty",
    "vacuum_freeze_min_age",
    "vacuum_freeze_table_age",
    "vacuum_multixact_freeze_min_age",
    "vacuum_multixact_freeze_table_age",
    "vacuum_failsafe_age",
    "vacuum_multixact_failsafe_age",
    "vacuum_buffer_usage_limit",
    // This session's own connection and error handling.
    "tcp_keepalives_idle",
    "tcp_keepalives_interval",
    "tcp_keepalives_count",
    "tcp_user_timeout",
    "client_connection_check_interval",
    "exit_on_error",
    "transform_null_equals",
    "seed",
    "icu_validation_level",
    // Redshift: which workload-management queue and how many of its slots this session's
    // queries use (the superuser queue stays the superuser's).
    "query_group",
    "wlm_query_slot_count",
    // Extensions' query settings: pg_trgm's similarity thresholds (what `%` and `<%` match),
    // pgvector's index scan breadth (how many candidates an approximate search visits).
    "pg_trgm.similarity_threshold",
    "pg_trgm.word_similarity_threshold",
    "pg_trgm.strict_word_similarity_threshold",
    "hnsw.ef_search",
    "hnsw.iterative_scan",
    "hnsw.max_scan_tuples",
    "hnsw.scan_mem_multiplier",
    "ivfflat.probes",
    "ivfflat.iterative_scan",
    "ivfflat.max_probes",
];

/// PostgreSQL families of planner settings.
const PG_HARMLESS_PREFIXES: &[&str] = &[
    "enable_",
    "cpu_",
    "parallel_",
    "min_parallel_",
    "geqo_",
    "jit_",
];

/// MySQL/MariaDB session variables that only affect the session's own queries.
const MYSQL_HARMLESS: &[&str] = &[
    "autocommit",
    "time_zone",
    "sql_select_limit",
    "net_write_timeout",
    "net_read_timeout",
    "wait_timeout",
    "interactive_timeout",
    "group_concat_max_len",
    "long_query_time",
    "sql_safe_updates",
    "sql_quote_show_create",
    "profiling",
    "profiling_history_size",
    "transaction_isolation",
    "tx_isolation",
    "sql_big_selects",
    "sql_buffer_result",
    "lc_time_names",
    "lc_messages",
    "div_precision_increment",
    "max_join_size",
    "sort_buffer_size",
    "join_buffer_size",
    "tmp_table_size",
    "max_heap_table_size",
    "innodb_lock_wait_timeout",
    "lock_wait_timeout",
    "sql_auto_is_null",
    "sql_notes",
    "sql_warnings",
    "session_track_schema",
    "session_track_state_change",
    "session_track_system_variables",
    "session_track_transaction_info",
    "collation_connection",
    "names",
    "character_set_client",
    "character_set_connection",
    "character_set_results",
    "default_storage_engine",
    "big_tables",
    "net_buffer_length",
    "max_allowed_packet",
    "query_cache_type",
    "default_week_format",
    "explicit_defaults_for_timestamp",
    "cte_max_recursion_depth",
    "max_recursive_iterations",
    "max_sp_recursion_depth",
    "histogram_size",
    "histogram_type",
    "use_stat_tables",
    "low_priority_updates",
    "auto_increment_increment",
    "auto_increment_offset",
    "timestamp",
    "read_buffer_size",
    "read_rnd_buffer_size",
    "max_sort_length",
    "max_length_for_sort_data",
    "max_seeks_for_key",
    "eq_range_index_dive_limit",
    "range_optimizer_max_mem_size",
    "in_predicate_conversion_threshold",
    "join_cache_level",
    "updatable_views_with_limit",
    "default_tmp_storage_engine",
    // How `LOAD DATA` reads a file without `CHARACTER SET` (`mysqlimport` sets it); SQL text
    // is read in `character_set_client`.
    "character_set_database",
    "collation_database",
    "max_error_count",
    "expensive_subquery_limit",
    "default_regex_flags",
    "block_encryption_mode",
    "progress_report_time",
    "net_retry_count",
    "alter_algorithm",
    "innodb_strict_mode",
    "sql_require_primary_key",
    "sql_if_exists",
    "system_versioning_asof",
    "session_track_gtids",
    "wsrep_sync_wait",
    "thread_pool_priority",
    "idle_transaction_timeout",
    "idle_readonly_transaction_timeout",
    "idle_write_transaction_timeout",
    "deadlock_search_depth_short",
    "deadlock_search_depth_long",
    "deadlock_timeout_short",
    "deadlock_timeout_long",
    // Memory for this session's own statements.
    "bulk_insert_buffer_size",
    "myisam_sort_buffer_size",
    "aria_sort_buffer_size",
    "mrr_buffer_size",
    "preload_buffer_size",
    "query_alloc_block_size",
    "query_prealloc_size",
    "range_alloc_block_size",
    "transaction_alloc_block_size",
    "transaction_prealloc_size",
];

/// MySQL/MariaDB families of planner settings (`optimizer_switch`, `optimizer_trace`...).
const MYSQL_HARMLESS_PREFIXES: &[&str] = &["optimizer_"];

/// `sql_mode` components (lower case) that leave quoting, escapes and statement boundaries as
/// dbward's lexer reads them. `ANSI_QUOTES`, `NO_BACKSLASH_ESCAPES` and `ANSI` change them in
/// ways dbward follows (see `quoting`). **Any other is `admin`**: MariaDB's combination modes
/// (`ORACLE` switches to another grammar; `MSSQL`, `DB2`, `POSTGRESQL`, `MAXDB`), as would be
/// modes dbward has never heard of.
pub(crate) const SAFE_SQL_MODES: &[&str] = &[
    "strict_trans_tables",
    "strict_all_tables",
    "traditional",
    "no_zero_in_date",
    "no_zero_date",
    "error_for_division_by_zero",
    "no_auto_create_user",
    "no_engine_substitution",
    "only_full_group_by",
    "no_auto_value_on_zero",
    "no_unsigned_subtraction",
    "pad_char_to_full_length",
    "real_as_float",
    "allow_invalid_dates",
    "high_not_precedence",
    "ignore_space",
    "pipes_as_concat",
    "no_dir_in_create",
    "no_key_options",
    "no_table_options",
    "no_field_options",
    "simultaneous_assignment",
    "time_truncate_fractional",
    "empty_string_is_null",
];

/// A PostgreSQL client encoding dbward reads statements in, by its canonical name: `UTF8`
/// (`utf8`, `UTF-8`, `unicode`…) or `SQL_ASCII` (no conversion: statements reach the server as
/// sent, and dbward reads them as UTF-8; libpq's `client_encoding=auto` picks it in the C
/// locale). Names are matched as PostgreSQL matches them: case and punctuation aside.
#[must_use]
pub fn client_encoding(value: &str) -> Option<&'static str> {
    let clean: String = value
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase();
    match clean.as_str() {
        "utf8" | "unicode" => Some("UTF8"),
        "sqlascii" => Some("SQL_ASCII"),
        _ => None,
    }
}

/// How a MySQL session with this character set and `sql_mode`, as the server reports them,
/// quotes (see [`MysqlQuoting`](super::MysqlQuoting)); or why the server would read its SQL
/// differently from dbward (a character set that hides backslashes, a mode dbward does not
/// follow).
pub fn session_quoting(
    character_set_client: &str,
    sql_mode: &str,
) -> Result<super::MysqlQuoting, String> {
    let charset = character_set_client.trim().to_ascii_lowercase();
    if UNSAFE_CHARSETS.iter().any(|c| charset.starts_with(c)) {
        return Err(format!("character set {charset}"));
    }
    super::MysqlQuoting::from_sql_mode(sql_mode)
}

/// Multi-byte character sets in which a second byte can be 0x5C (backslash): the server would
/// lex an escape dbward does not see.
const UNSAFE_CHARSETS: &[&str] = &["big5", "cp932", "gbk", "sjis", "gb18030"];

/// A setting's value, as far as a rule needs it: `None` for `DEFAULT` or a value dbward does
/// not read.
pub(crate) struct SettingValue<'a> {
    /// The literal or bare word given, when it is one.
    pub text: Option<&'a str>,
    /// The value is `DEFAULT`.
    pub default: bool,
    /// MySQL's `sql_mode`: `text` is appended to the current modes (`CONCAT(@@sql_mode, …)`).
    pub appended: bool,
}

/// What setting `name` to `value` is, and why. `name` may carry MySQL's `@@session.`
/// prefixes; `global` is the statement's scope.
pub(crate) fn setting_class(
    mysql: bool,
    quoting: super::MysqlQuoting,
    name: &str,
    global: bool,
    value: &SettingValue<'_>,
    timeout: &mut Option<Timeout>,
    check_session: &mut bool,
) -> (StatementClass, String) {
    let lower = name.to_ascii_lowercase();
    let mut name = lower.as_str();
    if mysql && name.starts_with('@') && !name.starts_with("@@") {
        return (StatementClass::Read, "a user variable".into());
    }
    let global = global
        || name.starts_with("@@global.")
        || name.starts_with("global.")
        || name.starts_with("@@persist");
    for prefix in [
        "@@session.",
        "@@local.",
        "@@global.",
        "@@",
        "session.",
        "local.",
        "global.",
    ] {
        if let Some(rest) = name.strip_prefix(prefix) {
            name = rest;
            break;
        }
    }
    if global {
        return (
            StatementClass::Admin,
            format!("SET GLOBAL {name} changes the server for everyone"),
        );
    }
    let text = value.text.map(|t| t.trim().to_ascii_lowercase());
    let truthy = |t: &Option<String>| {
        t.as_deref()
            .is_some_and(|v| matches!(v, "on" | "true" | "1" | "yes"))
    };
    match name {
        "default_transaction_read_only" | "transaction_read_only" | "tx_read_only" => {
            // PostgreSQL's DEFAULT is the session's start-up value (dbward starts `read`
            // sessions with it on); MySQL's is the global value, normally off.
            if (value.default && !mysql) || truthy(&text) {
                (StatementClass::Read, format!("SET {name} on"))
            } else {
                (
                    StatementClass::Write,
                    format!("SET {name} switches off read-only mode"),
                )
            }
        }
        "statement_timeout" | "max_execution_time" | "max_statement_time" => {
            // MySQL's DEFAULT is the global value, which dbward does not know: no timeout, as
            // far as the grant's ceiling is concerned.
            *timeout = Some(if value.default && mysql {
                Timeout::Off
            } else if value.default {
                Timeout::Default
            } else {
                let seconds = name == "max_statement_time";
                text.as_deref()
                    .and_then(|t| parse_duration_ms(t, seconds))
                    .map_or(Timeout::Off, |ms| {
                        if ms == 0 {
                            Timeout::Off
                        } else {
                            Timeout::Millis(ms)
                        }
                    })
            });
            (StatementClass::Read, format!("SET {name}"))
        }
        "client_encoding" if !mysql => {
            if let Some(encoding) = if value.default {
                Some("to its start-up value")
            } else {
                text.as_deref().and_then(client_encoding)
            } {
                (
                    StatementClass::Read,
                    format!("SET client_encoding {encoding}"),
                )
            } else {
                (StatementClass::Admin, "changing client_encoding would make the server read SQL differently from dbward".into())
            }
        }
        "standard_conforming_strings" if !mysql => {
            if value.default || truthy(&text) {
                (
                    StatementClass::Read,
                    "SET standard_conforming_strings on".into(),
                )
            } else {
                (StatementClass::Admin, "standard_conforming_strings=off would make the server read SQL differently from dbward".into())
            }
        }
        "sql_mode" if mysql => {
            if let Some(t) = text.as_deref() {
                // The session's quoting after it: the value's modes (and the current ones, for
                // an appended value).
                let mut after = if value.appended {
                    quoting
                } else {
                    super::MysqlQuoting::default()
                };
                let mut unknown = None;
                for m in t.split(',').map(str::trim).filter(|m| !m.is_empty()) {
                    match super::MysqlQuoting::from_sql_mode(m) {
                        Ok(q) => {
                            after.ansi_quotes |= q.ansi_quotes;
                            after.no_backslash_escapes |= q.no_backslash_escapes;
                        }
                        Err(_) => unknown = unknown.or(Some(m)),
                    }
                }
                match unknown {
                    None if after != quoting => {
                        // The server reads quotes and backslashes otherwise from the next
                        // statement on: dbward reads the session's modes right after this one
                        // runs, and classifies in their quoting (see `quoting`).
                        *check_session = true;
                        (
                            StatementClass::Read,
                            "SET sql_mode (changing quoting, which dbward follows)".into(),
                        )
                    }
                    None => (StatementClass::Read, "SET sql_mode".into()),
                    Some(m) => (
                        StatementClass::Admin,
                        format!(
                            "sql_mode {} is not a mode dbward knows to keep SQL read as it reads it (MariaDB's ORACLE, MSSQL, DB2, POSTGRESQL and MAXDB modes change the grammar or quoting in ways dbward does not follow)",
                            m.to_ascii_uppercase()
                        ),
                    ),
                }
            } else {
                // A computed value or DEFAULT (mysqldump restores `SET sql_mode =
                // @OLD_SQL_MODE`): allowed, and the session's modes are checked right after it
                // runs.
                *check_session = true;
                (
                    StatementClass::Read,
                    "SET sql_mode to a value dbward checks after it runs".into(),
                )
            }
        }
        "names" | "character_set_client" | "character_set_connection" if mysql => {
            match text.as_deref() {
                Some(t) if !UNSAFE_CHARSETS.iter().any(|c| t.starts_with(c)) => {
                    (StatementClass::Read, format!("SET {name}"))
                }
                // A computed value or DEFAULT (`SET character_set_client = @saved_cs_client`):
                // allowed, and the session's character set is checked right after it runs.
                None => {
                    *check_session = true;
                    (
                        StatementClass::Read,
                        format!("SET {name} to a value dbward checks after it runs"),
                    )
                }
                Some(t) => (
                    StatementClass::Admin,
                    format!("character set {t} can hide a backslash in a multi-byte character"),
                ),
            }
        }
        "foreign_key_checks" | "unique_checks" | "check_constraint_checks" if mysql => (
            StatementClass::Write,
            format!("SET {name} changes integrity checks of writes"),
        ),
        _ => {
            let harmless = if mysql {
                MYSQL_HARMLESS.contains(&name)
                    || MYSQL_HARMLESS_PREFIXES.iter().any(|p| name.starts_with(p))
            } else {
                PG_HARMLESS.contains(&name)
                    || PG_HARMLESS_PREFIXES.iter().any(|p| name.starts_with(p))
            };
            if harmless {
                (StatementClass::Read, format!("SET {name}"))
            } else {
                (
                    StatementClass::Admin,
                    format!("SET {name} is not a setting dbward knows to be harmless"),
                )
            }
        }
    }
}

/// A PostgreSQL duration setting in milliseconds (`5000`, `'5s'`, `'1min'`...); with
/// `seconds`, a bare number is in seconds (MariaDB's `max_statement_time`).
fn parse_duration_ms(text: &str, seconds: bool) -> Option<u64> {
    let t = text.trim().trim_matches('\'').trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().ok()?;
    let factor = match unit.trim() {
        "" if seconds => 1000.0,
        "" | "ms" => 1.0,
        "us" => 0.001,
        "s" => 1000.0,
        "min" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        _ => return None,
    };
    let ms = (n * factor).ceil();
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    (0.0..1e15).contains(&ms).then_some(ms as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("5000", false), Some(5000));
        assert_eq!(parse_duration_ms("'5s'", false), Some(5000));
        assert_eq!(parse_duration_ms("1min", false), Some(60_000));
        assert_eq!(parse_duration_ms("1.5", true), Some(1500));
        assert_eq!(parse_duration_ms("soon", false), None);
    }
}

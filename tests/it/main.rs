//! End-to-end tests: a real dbward started in-process on port 0 with a temporary data directory,
//! real PostgreSQL (a private database per test), real HTTP clients. One binary for all, so the
//! build is shared (see STYLE.md §6).

mod api_access;
mod api_resources;
mod audit_forward;
mod audit_statements;
mod audit_trail;
mod cost;
mod disk_full;
mod dump_tools;
mod harness;
mod huge_statements;
mod idle_memory;
mod lexing_agreement;
mod my_auth_plugins;
mod my_bad_input;
mod my_fixture;
mod my_proxy;
mod my_server;
mod netns;
mod openapi;
mod pg_cluster;
mod pg_compat;
mod pg_fixture;
mod pg_limits;
mod pg_policy;
mod pg_proxy;
mod pg_quota;
mod pg_raw;
mod pg_sessions;
mod pg_startup_settings;
mod pg_stream;
mod pg_upstream;
mod session_threads;
mod startup;
mod store;
mod tls_slow_reader;

/// The test process's allocator, counting: the idle-session memory tests read the live heap.
#[global_allocator]
static ALLOCATOR: cap::Cap<std::alloc::System> = cap::Cap::new(std::alloc::System, usize::MAX);

/// Bytes the test process has allocated and not freed (dbward runs in-process).
pub fn live_heap_bytes() -> i64 {
    i64::try_from(ALLOCATOR.allocated()).unwrap_or(i64::MAX)
}

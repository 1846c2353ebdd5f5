//! The `dbward` binary: parse the command line, set up logging, run.

use clap::Parser as _;

/// mimalloc: every statement allocates a little (audit events, the writer's rows), and glibc's
/// allocator cost about a tenth of the relay's CPU in profiles (`bench/run PROFILE=simple`).
/// Feature `system-alloc` leaves it out, for heap profiles (massif sees only malloc).
#[cfg(not(feature = "system-alloc"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<std::process::ExitCode> {
    let cli = dbward::cli::Cli::parse();
    dbward::logging::init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(dbward::cli::run(cli))
}

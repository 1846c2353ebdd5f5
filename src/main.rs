//! The `dbward` binary: parse the command line, set up logging, run.

use clap::Parser as _;

fn main() -> anyhow::Result<std::process::ExitCode> {
    let cli = dbward::cli::Cli::parse();
    dbward::logging::init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(dbward::cli::run(cli))
}

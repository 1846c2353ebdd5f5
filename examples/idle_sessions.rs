//! Opens N connections with tokio-postgres and holds them idle until stdin closes: the bench
//! measures dbward's memory per idle session with it.
//!
//! `cargo run --release --example idle_sessions -- "host=... user=... dbname=..." 1000`

#![allow(clippy::print_stdout)] // the bench reads "ready" on standard output

use std::io::Read as _;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let conninfo = args.next().ok_or("usage: idle_sessions CONNINFO N")?;
    let n: usize = args
        .next()
        .ok_or("usage: idle_sessions CONNINFO N")?
        .parse()?;
    let mut clients = Vec::with_capacity(n);
    for _ in 0..n {
        let (client, conn) = tokio_postgres::connect(&conninfo, tokio_postgres::NoTls).await?;
        tokio::spawn(conn);
        client.simple_query("SELECT 1").await?;
        clients.push(client);
    }
    eprintln!("{n} sessions open");
    println!("ready");
    // Hold them until the bench closes our stdin.
    tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
    })
    .await?;
    drop(clients);
    Ok(())
}

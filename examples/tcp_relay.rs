//! A plain TCP byte relay on the same runtime as dbward: the benchmark's floor (what any proxy
//! in the path costs before it looks at a single byte).
//!
//! `tcp_relay LISTEN_ADDR UPSTREAM_ADDR` prints the bound address, then relays every
//! connection with `tokio::io::copy_bidirectional`.

use std::io::Write as _;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:0".into());
    let upstream = args
        .next()
        .expect("usage: tcp_relay LISTEN_ADDR UPSTREAM_ADDR");
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    writeln!(std::io::stdout(), "{}", listener.local_addr()?)?;
    std::io::stdout().flush()?;
    loop {
        let (mut client, _) = listener.accept().await?;
        let upstream = upstream.clone();
        tokio::spawn(async move {
            let _ = client.set_nodelay(true);
            if let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await {
                let _ = server.set_nodelay(true);
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            }
        });
    }
}

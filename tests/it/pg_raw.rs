//! A raw PostgreSQL protocol client for tests that need exact control of message order
//! (pipelines, Flush without Sync): real encoders from postgres-protocol, SCRAM included.

use bytes::{Buf as _, BytesMut};
use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256};
use postgres_protocol::message::frontend;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// A connection after login.
pub struct RawClient {
    pub tcp: TcpStream,
    buf: BytesMut,
}

impl RawClient {
    /// Logs in through dbward with SCRAM.
    pub async fn connect(port: u16, user: &str, password: &str, database: &str) -> Self {
        let tcp = TcpStream::connect(("127.0.0.1", port)).await.expect("tcp");
        let mut c = Self {
            tcp,
            buf: BytesMut::new(),
        };
        let mut out = BytesMut::new();
        frontend::startup_message([("user", user), ("database", database)], &mut out)
            .expect("startup");
        c.send(&out).await;
        let mut scram = ScramSha256::new(password.as_bytes(), ChannelBinding::unsupported());
        loop {
            let (tag, mut body) = c.recv().await;
            match tag {
                b'R' => match body.get_i32() {
                    10 => {
                        out.clear();
                        frontend::sasl_initial_response("SCRAM-SHA-256", scram.message(), &mut out)
                            .expect("sasl");
                        c.send(&out).await;
                    }
                    11 => {
                        scram.update(&body).expect("server-first");
                        out.clear();
                        frontend::sasl_response(scram.message(), &mut out).expect("sasl");
                        c.send(&out).await;
                    }
                    12 => scram.finish(&body).expect("server signature"),
                    0 => {}
                    other => panic!("unexpected auth request {other}"),
                },
                b'Z' => return c,
                b'E' => panic!("login failed: {}", String::from_utf8_lossy(&body)),
                _ => {}
            }
        }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.tcp.write_all(bytes).await.expect("write");
    }

    /// The next message (type, body).
    pub async fn recv(&mut self) -> (u8, BytesMut) {
        loop {
            if self.buf.len() >= 5 {
                let len = usize::try_from(i32::from_be_bytes([
                    self.buf[1],
                    self.buf[2],
                    self.buf[3],
                    self.buf[4],
                ]))
                .expect("len");
                if self.buf.len() > len {
                    let mut msg = self.buf.split_to(len + 1);
                    let tag = msg[0];
                    msg.advance(5);
                    return (tag, msg);
                }
            }
            let n = self.tcp.read_buf(&mut self.buf).await.expect("read");
            assert!(n > 0, "connection closed");
        }
    }

    /// Message types up to and including the next ReadyForQuery, with the status byte last.
    pub async fn until_ready(&mut self) -> (Vec<u8>, u8) {
        let mut tags = Vec::new();
        loop {
            let (tag, body) = self.recv().await;
            tags.push(tag);
            if tag == b'Z' {
                return (tags, body[0]);
            }
        }
    }
}

/// Encodes Parse/Bind/Execute of an unnamed statement with text parameters.
/// A StartupMessage of protocol `minor` (3.`minor`) with `params` as name, value, name...
pub fn startup_packet(minor: u8, params: &[&[u8]]) -> Vec<u8> {
    let mut body = vec![0, 3, 0, minor];
    for kv in params {
        body.extend_from_slice(kv);
        body.push(0);
    }
    body.push(0);
    let mut packet = u32::try_from(body.len() + 4)
        .expect("len")
        .to_be_bytes()
        .to_vec();
    packet.extend_from_slice(&body);
    packet
}

pub fn extended_query(out: &mut BytesMut, sql: &str, params: &[&str]) {
    frontend::parse("", sql, std::iter::empty(), out).expect("parse");
    frontend::bind(
        "",
        "",
        std::iter::empty::<i16>(),
        params.iter(),
        |p, buf| {
            buf.extend_from_slice(p.as_bytes());
            Ok(postgres_protocol::IsNull::No)
        },
        Some(0),
        out,
    )
    .map_err(|_| ())
    .expect("bind");
    frontend::describe(b'P', "", out).expect("describe");
    frontend::execute("", 0, out).expect("execute");
}

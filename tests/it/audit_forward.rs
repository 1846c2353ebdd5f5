//! Live forwarding of the audit trail (`audit.forward`): syslog (RFC 5424) over UDP and TCP,
//! and standard output, carrying every row of the instance's chain in order with its link;
//! a receiver that is down, even across a restart of dbward, misses nothing.

use std::time::Duration;

use dbward_core::config::ForwardTarget;
use serde_json::Value;
use tokio::io::AsyncReadExt as _;

use crate::harness::{Dbward, test_config};
use crate::pg_fixture::PgProxy;

/// Parses one RFC 5424 message as dbward sends it: checks the header and returns the PRI and
/// the record (the JSON after the BOM).
fn parse_syslog(msg: &[u8]) -> (u8, Value) {
    let text = std::str::from_utf8(msg).expect("utf-8");
    let (header, json) = text.split_once('\u{feff}').expect("BOM before MSG");
    let pri: u8 = header
        .strip_prefix('<')
        .and_then(|h| h.split_once(">1 "))
        .and_then(|(p, _)| p.parse().ok())
        .unwrap_or_else(|| panic!("PRI and version: {header}"));
    let fields: Vec<&str> = header.splitn(7, ' ').collect();
    assert_eq!(fields.len(), 7, "{header}");
    assert!(
        fields[1].ends_with('Z') && fields[1].contains('T'),
        "{header}"
    );
    assert_eq!(fields[3], "dbward", "{header}");
    assert_eq!(fields[4], std::process::id().to_string(), "{header}");
    assert!(
        fields[6].starts_with("[origin software=\"dbward\" "),
        "{header}"
    );
    let record: Value = serde_json::from_str(json).expect("record JSON");
    assert_eq!(fields[5], record["kind"], "MSGID is the kind: {header}");
    (pri, record)
}

/// Reads octet-counted frames (RFC 6587) until `until` holds for a record.
async fn read_tcp(
    stream: &mut tokio::net::TcpStream,
    until: impl Fn(&Value) -> bool,
) -> Vec<Value> {
    let mut records = Vec::new();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            // Length, space, message.
            let mut len = Vec::new();
            loop {
                let b = stream.read_u8().await.expect("frame length");
                if b == b' ' {
                    break;
                }
                assert!(b.is_ascii_digit(), "octet counting: {len:?} then {b}");
                len.push(b);
            }
            let n: usize = std::str::from_utf8(&len)
                .expect("digits")
                .parse()
                .expect("length");
            buf.resize(n, 0);
            stream.read_exact(&mut buf).await.expect("frame");
            let (_, record) = parse_syslog(&buf);
            let done = until(&record);
            records.push(record);
            if done {
                return;
            }
        }
    })
    .await
    .expect("records in time");
    records
}

/// A port held for a receiver that is down: bound, so that no other socket takes it as its
/// ephemeral port meanwhile, but not listening, so that connections to it are refused.
fn reserve(addr: std::net::SocketAddr) -> tokio::net::TcpSocket {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_reuseaddr(true).expect("SO_REUSEADDR");
    socket.bind(addr).expect("bind");
    socket
}

fn has_statement(text: &'static str) -> impl Fn(&Value) -> bool {
    move |r| r["statement"].as_str().is_some_and(|s| s.contains(text))
}

/// Positions must follow each other with no gap, in one chain.
fn assert_contiguous(records: &[Value]) {
    for pair in records.windows(2) {
        assert_eq!(pair[0]["instance_id"], pair[1]["instance_id"]);
        assert_eq!(
            pair[0]["seq"].as_i64().expect("seq") + 1,
            pair[1]["seq"].as_i64().expect("seq"),
            "gap between {} and {}",
            pair[0],
            pair[1]
        );
    }
}

#[tokio::test]
async fn syslog_receivers_get_every_event_in_chain_order_even_after_an_outage() {
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("udp");
    // The TCP receiver is down at first: its port is bound but not listening (connections
    // are refused). Held, not released: a released port in the ephemeral range was taken by
    // another test's connection before the receiver came up.
    let reserved = reserve("127.0.0.1:0".parse().expect("addr"));
    let tcp_addr = reserved.local_addr().expect("addr");
    let targets = vec![
        ForwardTarget::SyslogUdp(udp.local_addr().expect("addr").to_string()),
        ForwardTarget::SyslogTcp(tcp_addr.to_string()),
    ];
    let t = targets.clone();
    let mut fx = PgProxy::start_with("read", move |c| c.audit.forward = t).await;
    let c = fx.connect().await.expect("connect");
    c.simple_query("SELECT 'fwd-one'").await.expect("select");
    c.simple_query("DELETE FROM pg_class")
        .await
        .expect_err("denied for read");

    // UDP: each event a datagram, in order, the denial a warning.
    let mut udp_records = Vec::new();
    let mut buf = vec![0u8; 65536];
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let n = udp.recv(&mut buf).await.expect("datagram");
            let (pri, record) = parse_syslog(&buf[..n]);
            let severity = if record["outcome"] == "success" { 5 } else { 4 };
            assert_eq!(pri, 13 * 8 + severity, "{record}");
            let done = has_statement("DELETE FROM pg_class")(&record);
            udp_records.push(record);
            if done {
                break;
            }
        }
    })
    .await
    .expect("UDP records in time");
    assert_contiguous(&udp_records);
    assert!(udp_records.iter().any(has_statement("fwd-one")));
    assert!(
        udp_records
            .iter()
            .any(|r| r["kind"] == "connection" && r["outcome"] == "success"),
        "{udp_records:?}"
    );

    // The TCP receiver comes up: everything since dbward started arrives, in the same order
    // and with the same links as the store's rows.
    let listener = reserved.listen(16).expect("listen");
    let (mut stream, _) = tokio::time::timeout(Duration::from_secs(40), listener.accept())
        .await
        .expect("dbward reconnects in time")
        .expect("accept");
    let tcp_records = read_tcp(&mut stream, has_statement("DELETE FROM pg_class")).await;
    assert_contiguous(&tcp_records);
    assert_eq!(
        tcp_records[0]["seq"], udp_records[0]["seq"],
        "both targets start at the chain's end when dbward started"
    );
    assert_eq!(tcp_records.len(), udp_records.len());
    let (_, page) = fx.dbward.admin("GET", "/api/audit?limit=200", None).await;
    let stored = page["items"].as_array().expect("items");
    for r in &tcp_records {
        let row = stored
            .iter()
            .find(|s| s["seq"] == r["seq"])
            .unwrap_or_else(|| panic!("forwarded row in the store: {r}"));
        assert_eq!(row["hmac"], r["hmac"]);
        assert_eq!(row["id"], r["id"]);
    }

    // Down again, across a restart: what happened meanwhile arrives after it.
    drop(stream);
    drop(listener);
    let reserved = reserve(tcp_addr);
    c.simple_query("SELECT 'fwd-two'").await.expect("select");
    drop(c);
    let dir = fx.dbward.dir.take().expect("data dir");
    let old = std::mem::replace(&mut fx.dbward, placeholder());
    old.stop().await;
    let cursors: Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("audit-forward.json")).expect("cursor file"),
    )
    .expect("cursor JSON");
    let tcp_name = targets[1].to_string();
    assert!(
        cursors["delivered"][&tcp_name].as_i64().expect("cursor")
            < cursors["delivered"][&targets[0].to_string()]
                .as_i64()
                .expect("cursor"),
        "the TCP target stopped behind: {cursors}"
    );
    let listener = reserved.listen(16).expect("listen");
    let mut config = test_config(dir.path().to_owned());
    config.audit.forward = targets;
    fx.dbward = Dbward::start_with(config).await;
    fx.dbward.dir = Some(dir);
    let (mut stream, _) = tokio::time::timeout(Duration::from_secs(20), listener.accept())
        .await
        .expect("dbward reconnects in time")
        .expect("accept");
    let resumed = read_tcp(&mut stream, has_statement("fwd-two")).await;
    assert_eq!(
        resumed[0]["seq"].as_i64(),
        tcp_records
            .last()
            .and_then(|r| r["seq"].as_i64())
            .map(|s| s + 1),
        "resumed right after the last record delivered"
    );
    assert_contiguous(&resumed);
    fx.dbward.stop().await;
}

/// A stand-in while the real one restarts (never started, never used).
fn placeholder() -> Dbward {
    Dbward {
        started: None,
        addr: "127.0.0.1:9".parse().expect("addr"),
        http: reqwest::Client::new(),
        dir: None,
    }
}

#[tokio::test]
async fn stdout_carries_json_lines_with_their_links() {
    let mut p =
        crate::harness::DbwardProcess::spawn_with_config("[audit]\nforward = [\"stdout\"]\n").await;
    p.admin(
        "POST",
        "/api/users",
        serde_json::json!({"username": "carol", "password": "carol-password-123"}),
    )
    .await;
    let lines = p.stdout.as_mut().expect("stdout");
    let record = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let line = lines.next_line().await.expect("read").expect("line");
            if let Ok(r) = serde_json::from_str::<Value>(&line)
                && r["entity_type"] == "user"
            {
                return r;
            }
        }
    })
    .await
    .expect("the admin action on stdout in time");
    assert_eq!(record["kind"], "admin", "{record}");
    assert_eq!(record["outcome"], "success", "{record}");
    assert!(record["seq"].as_i64().expect("seq") > 0, "{record}");
    assert_eq!(record["hmac"].as_str().expect("hmac").len(), 64, "{record}");
    crate::harness::assert_no_secrets(&record.to_string());
}

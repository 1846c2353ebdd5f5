//! Entry points for the fuzz targets in `fuzz/` and for the test that replays their committed
//! corpora in CI. Each takes arbitrary bytes and must never panic, allocate without bound or
//! loop forever; the decoders they drive are the ones the proxy runs on untrusted input.

use bytes::BytesMut;

use crate::pg::codec;
use crate::pg::startup;

/// The PostgreSQL startup phase: length prefix, then SSL/GSS/cancel requests or a
/// StartupMessage with its parameters.
pub fn pg_startup(data: &[u8]) {
    if data.len() < 4 {
        return;
    }
    let len = i32::from_be_bytes([data[0], data[1], data[2], data[3]]);
    let Ok(body_len) = usize::try_from(i64::from(len) - 4) else {
        return;
    };
    if !(4..=codec::MAX_STARTUP_LEN).contains(&body_len) || data.len() < 4 + body_len {
        return;
    }
    let _ = startup::parse_packet(BytesMut::from(&data[4..4 + body_len]));
}

/// The relay's framing and the backend messages it inspects.
pub fn pg_frames(data: &[u8]) {
    let mut rest = data;
    while let Ok(Some((tag, total))) = crate::pg::relay::header(rest) {
        if total > rest.len() {
            return;
        }
        let body = &rest[5..total];
        match tag {
            codec::TAG_ERROR_RESPONSE => {
                let _ = codec::error_code(body);
            }
            codec::TAG_PARAMETER_STATUS => {
                let _ = crate::pg::relay::parameter_violation(
                    body,
                    dbward_core::model::AccessLevel::Read,
                );
            }
            _ => {}
        }
        rest = &rest[total..];
    }
}

/// The MySQL handshake decoders dbward runs on what a client sends before it is
/// authenticated: the first packet (`SSLRequest` or `HandshakeResponse41`), and the helpers that
/// read packet payloads.
pub fn mysql_handshake(data: &[u8]) {
    use mysql_common::io::ParseBuf;
    use mysql_common::packets::HandshakeResponse;
    use mysql_common::proto::MyDeserialize as _;
    if let Ok(r) = HandshakeResponse::deserialize((), &mut ParseBuf(data)) {
        let _ = (
            r.user(),
            r.db_name(),
            r.auth_plugin(),
            r.connect_attributes(),
        );
    }
    let _ = crate::mysql::packet::lenenc_int(data);
    let _ = crate::mysql::packet::ok_status(data);
    let _ = crate::mysql::packet::eof_status(data);
    let _ = crate::mysql::kill::parse_kill(data);
}

/// MySQL packet framing (lengths, sequence ids, 16 MB continuations, the size ceiling) over
/// arbitrary bytes, as the relay reads commands and results.
pub fn mysql_packets(data: &[u8]) {
    use crate::mysql::packet::PacketReader;
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    let rt = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
    });
    rt.block_on(async {
        let mut src = data;
        let mut reader = PacketReader::default();
        // Each packet also as an execution's and a bulk execution's parameters, for a statement
        // of up to 7 parameters (types remembered from one packet to the next).
        let mut binding =
            crate::mysql::params::Binding::new(usize::from(data.first().copied().unwrap_or(0) % 8));
        while let Ok((_, _, payload)) = reader.read(&mut src, 1 << 16).await {
            let _ = crate::mysql::packet::lenenc_int(&payload);
            let _ = binding.execute(&payload);
            let _ = binding.bulk(&payload);
        }
        let mut src = data;
        let mut reader = PacketReader::default();
        let mut out = BytesMut::new();
        let mut sink = tokio::io::sink();
        while reader.relay(&mut src, &mut out, &mut sink).await.is_ok() {
            out.clear();
        }
    });
}

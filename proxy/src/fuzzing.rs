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

//! PostgreSQL wire framing and the few messages dbward builds itself.
//!
//! Spec: <https://www.postgresql.org/docs/current/protocol-message-formats.html>. Every message
//! after the startup packet is a type byte, a big-endian `i32` length that counts itself but not
//! the type byte, and the body. Lengths are checked against a ceiling **before** anything is
//! buffered, so a 2 GB length prefix allocates nothing.

use bytes::{Buf as _, BufMut as _, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt as _};

/// Startup packets (and SSL/GSS/cancel requests) larger than this are refused, as PostgreSQL
/// itself does (`MAX_STARTUP_PACKET_LENGTH`, 10000).
pub const MAX_STARTUP_LEN: usize = 10_000;

/// Protocol 3.0, the version dbward speaks to everybody.
pub const PROTOCOL_3_0: i32 = 196_608;
/// `SSLRequest` code (1234.5679).
pub const SSL_REQUEST_CODE: i32 = 80_877_103;
/// `GSSENCRequest` code (1234.5680).
pub const GSSENC_REQUEST_CODE: i32 = 80_877_104;
/// `CancelRequest` code (1234.5678).
pub const CANCEL_REQUEST_CODE: i32 = 80_877_102;

/// Frontend `Query`.
pub const TAG_QUERY: u8 = b'Q';
/// Frontend `Parse`.
pub const TAG_PARSE: u8 = b'P';
/// Frontend `FunctionCall` (the fast-path interface; carries no SQL).
pub const TAG_FUNCTION_CALL: u8 = b'F';
/// Frontend `Sync`.
pub const TAG_SYNC: u8 = b'S';
/// Frontend `Execute`.
pub const TAG_EXECUTE: u8 = b'E';
/// Frontend `Terminate`.
pub const TAG_TERMINATE: u8 = b'X';
/// Frontend password / SASL messages.
pub const TAG_PASSWORD: u8 = b'p';
/// Backend `ReadyForQuery`.
pub const TAG_READY_FOR_QUERY: u8 = b'Z';
/// Backend `ErrorResponse`.
pub const TAG_ERROR_RESPONSE: u8 = b'E';
/// Backend `ParameterStatus`.
pub const TAG_PARAMETER_STATUS: u8 = b'S';
/// Backend `DataRow`.
pub const TAG_DATA_ROW: u8 = b'D';
/// Frontend: Bind.
pub const TAG_BIND: u8 = b'B';
/// Frontend: Close (a prepared statement or a portal).
pub const TAG_CLOSE: u8 = b'C';
/// Backend: CommandComplete.
pub const TAG_COMMAND_COMPLETE: u8 = b'C';
/// `CopyData` (both directions).
pub const TAG_COPY_DATA: u8 = b'd';
/// Backend `BackendKeyData`.
pub const TAG_BACKEND_KEY_DATA: u8 = b'K';
/// Backend `Authentication*`.
pub const TAG_AUTHENTICATION: u8 = b'R';

/// Errors of framing.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The peer closed the connection.
    #[error("connection closed")]
    Closed,
    /// A length is negative, too small, or above the ceiling.
    #[error("invalid message length {0}")]
    BadLength(i64),
    /// The bytes do not form the expected message.
    #[error("malformed message: {0}")]
    Malformed(&'static str),
    /// I/O failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Reads the startup-phase packet: `i32` length (including itself) and body. Returns the body.
///
/// # Cancel safety
/// Not cancel safe; used under the handshake timeout only.
pub async fn read_startup_packet<R: AsyncRead + Unpin>(r: &mut R) -> Result<BytesMut, FrameError> {
    let len = match r.read_i32().await {
        Ok(n) => n,
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Err(FrameError::Closed),
        Err(e) => return Err(e.into()),
    };
    let Ok(body_len) = usize::try_from(i64::from(len) - 4) else {
        return Err(FrameError::BadLength(i64::from(len)));
    };
    if !(4..=MAX_STARTUP_LEN).contains(&body_len) {
        return Err(FrameError::BadLength(i64::from(len)));
    }
    let mut body = BytesMut::zeroed(body_len);
    r.read_exact(&mut body).await?;
    Ok(body)
}

/// Reads one typed message whose length must not exceed `max` bytes. Returns (type, body).
///
/// # Cancel safety
/// Not cancel safe; used during the handshake only (the relay has its own framing).
pub async fn read_message<R: AsyncRead + Unpin>(
    r: &mut R,
    max: usize,
) -> Result<(u8, BytesMut), FrameError> {
    let tag = match r.read_u8().await {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Err(FrameError::Closed),
        Err(e) => return Err(e.into()),
    };
    let len = r.read_i32().await?;
    let Ok(body_len) = usize::try_from(i64::from(len) - 4) else {
        return Err(FrameError::BadLength(i64::from(len)));
    };
    if body_len > max {
        return Err(FrameError::BadLength(i64::from(len)));
    }
    let mut body = BytesMut::zeroed(body_len);
    r.read_exact(&mut body).await?;
    Ok((tag, body))
}

/// Reads a NUL-terminated string from the front of `buf`.
pub fn get_cstr(buf: &mut BytesMut) -> Result<String, FrameError> {
    let end = buf
        .iter()
        .position(|b| *b == 0)
        .ok_or(FrameError::Malformed("string without terminator"))?;
    let s = std::str::from_utf8(&buf[..end])
        .map_err(|_| FrameError::Malformed("string is not UTF-8"))?
        .to_owned();
    buf.advance(end + 1);
    Ok(s)
}

/// Bytes of one parameter value kept in the audit trail; longer ones are cut, with their
/// length noted.
pub const AUDIT_PARAMETER_BYTES: usize = 256;

/// The parameter values of a whole `Bind` message, for the audit trail
/// (`audit.record_parameters`): text-format values as text, binary ones as `\x` and hex, NULL
/// as `None`; each cut at [`AUDIT_PARAMETER_BYTES`]. `None` for a malformed message (the
/// upstream rejects it anyway).
#[must_use]
pub fn bind_parameters(msg: &[u8]) -> Option<Vec<Option<String>>> {
    fn cstr(b: &[u8]) -> Option<&[u8]> {
        let end = b.iter().position(|c| *c == 0)?;
        b.get(end + 1..)
    }
    fn i16_at(b: &[u8]) -> Option<(usize, &[u8])> {
        let v = i16::from_be_bytes([*b.first()?, *b.get(1)?]);
        Some((usize::try_from(v).ok()?, &b[2..]))
    }
    let body = msg.get(5..)?;
    let rest = cstr(cstr(body)?)?;
    let (formats_n, mut rest) = i16_at(rest)?;
    let mut formats = Vec::with_capacity(formats_n);
    for _ in 0..formats_n {
        let (f, r) = i16_at(rest)?;
        formats.push(f);
        rest = r;
    }
    let (n, mut rest) = i16_at(rest)?;
    let mut values = Vec::with_capacity(n);
    for i in 0..n {
        let len = i32::from_be_bytes(rest.get(..4)?.try_into().ok()?);
        rest = &rest[4..];
        if len < 0 {
            values.push(None);
            continue;
        }
        let len = usize::try_from(len).ok()?;
        let value = rest.get(..len)?;
        rest = &rest[len..];
        let binary = match formats.len() {
            0 => false,
            1 => formats[0] == 1,
            _ => *formats.get(i)? == 1,
        };
        let kept = &value[..len.min(AUDIT_PARAMETER_BYTES)];
        let mut text = if binary {
            use std::fmt::Write as _;
            let mut t = String::with_capacity(2 + kept.len() * 2);
            t.push_str("\\x");
            for b in kept {
                let _ = write!(t, "{b:02x}");
            }
            t
        } else {
            String::from_utf8_lossy(kept).replace('\0', "\u{FFFD}")
        };
        if kept.len() < len {
            use std::fmt::Write as _;
            let _ = write!(text, "… ({len} bytes)");
        }
        values.push(Some(text));
    }
    Some(values)
}

/// Appends a typed message: `tag`, length, then what `body` writes.
pub fn put_message(out: &mut BytesMut, tag: u8, body: impl FnOnce(&mut BytesMut)) {
    out.put_u8(tag);
    let len_at = out.len();
    out.put_i32(0);
    body(out);
    let len = i32::try_from(out.len() - len_at).expect("dbward's own messages are small");
    out[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
}

/// Appends a NUL-terminated string.
pub fn put_cstr(out: &mut BytesMut, s: &str) {
    out.put_slice(s.as_bytes());
    out.put_u8(0);
}

/// Severity of an error dbward reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The statement failed; the session goes on.
    Error,
    /// The session ends.
    Fatal,
}

/// Appends an `ErrorResponse` with a SQLSTATE and message.
pub fn error_response(out: &mut BytesMut, severity: Severity, code: &str, message: &str) {
    let sev = match severity {
        Severity::Error => "ERROR",
        Severity::Fatal => "FATAL",
    };
    put_message(out, TAG_ERROR_RESPONSE, |b| {
        for (field, value) in [(b'S', sev), (b'V', sev), (b'C', code), (b'M', message)] {
            b.put_u8(field);
            put_cstr(b, value);
        }
        b.put_u8(0);
    });
}

/// Appends `AuthenticationOk`.
pub fn authentication_ok(out: &mut BytesMut) {
    put_message(out, TAG_AUTHENTICATION, |b| b.put_i32(0));
}

/// Appends `BackendKeyData` (protocol 3.0: two `i32`).
pub fn backend_key_data(out: &mut BytesMut, pid: i32, secret: i32) {
    put_message(out, TAG_BACKEND_KEY_DATA, |b| {
        b.put_i32(pid);
        b.put_i32(secret);
    });
}

/// Appends `ReadyForQuery` with a transaction status (`I`, `T` or `E`).
pub fn ready_for_query(out: &mut BytesMut, status: u8) {
    put_message(out, TAG_READY_FOR_QUERY, |b| b.put_u8(status));
}

/// Appends a simple `Query`.
pub fn query(out: &mut BytesMut, sql: &str) {
    put_message(out, TAG_QUERY, |b| put_cstr(b, sql));
}

/// The SQLSTATE of an `ErrorResponse` body, if present.
#[must_use]
pub fn error_code(body: &[u8]) -> Option<&str> {
    error_field(body, b'C')
}

/// A field of an `ErrorResponse` or `NoticeResponse` body (`b'M'`: the message), when it is UTF-8.
#[must_use]
pub fn error_field(body: &[u8], wanted: u8) -> Option<&str> {
    let mut rest = body;
    while let Some((&field, tail)) = rest.split_first() {
        if field == 0 {
            break;
        }
        let end = tail.iter().position(|b| *b == 0)?;
        if field == wanted {
            return std::str::from_utf8(&tail[..end]).ok();
        }
        rest = &tail[end + 1..];
    }
    None
}

/// The row count at the end of a CommandComplete tag (`INSERT 0 5`, `UPDATE 5`, `SELECT 5`),
/// with whether it counts returned rows (`SELECT`, `FETCH`, `MOVE`) rather than affected ones.
#[must_use]
pub fn command_rows(body: &[u8]) -> Option<(bool, i64)> {
    // Bytes, not `str` splitting: this runs once per statement on the relay's hot path.
    let tag = body.strip_suffix(&[0]).unwrap_or(body);
    let verb = &tag[..tag.iter().position(|b| *b == b' ')?];
    let digits = &tag[tag.iter().rposition(|b| *b == b' ')? + 1..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = digits.iter().try_fold(0i64, |n, d| {
        n.checked_mul(10)?.checked_add(i64::from(d - b'0'))
    })?;
    Some((matches!(verb, b"SELECT" | b"FETCH" | b"MOVE"), n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_rows_reads_the_tag() {
        assert_eq!(command_rows(b"INSERT 0 5\0"), Some((false, 5)));
        assert_eq!(command_rows(b"UPDATE 12\0"), Some((false, 12)));
        assert_eq!(command_rows(b"SELECT 3\0"), Some((true, 3)));
        assert_eq!(command_rows(b"COPY 7\0"), Some((false, 7)));
        assert_eq!(command_rows(b"BEGIN\0"), None);
        assert_eq!(command_rows(b"CREATE TABLE\0"), None);
        assert_eq!(command_rows(b"SELECT\0"), None);
        assert_eq!(command_rows(b"SELECT -1\0"), None);
        assert_eq!(
            command_rows(b"SELECT 9223372036854775807\0"),
            Some((true, i64::MAX))
        );
        assert_eq!(command_rows(b"SELECT 9223372036854775808\0"), None);
        assert_eq!(command_rows(b"MOVE 0\0"), Some((true, 0)));
    }

    #[tokio::test]
    async fn startup_length_is_checked_before_allocating() {
        // A 2 GB length prefix: refused without reading or allocating the body.
        let mut input: &[u8] = &[0x7f, 0xff, 0xff, 0xff, 0, 3, 0, 0];
        assert!(matches!(
            read_startup_packet(&mut input).await,
            Err(FrameError::BadLength(_))
        ));
        let mut negative: &[u8] = &[0xff, 0xff, 0xff, 0xf0];
        assert!(matches!(
            read_startup_packet(&mut negative).await,
            Err(FrameError::BadLength(_))
        ));
        let mut truncated: &[u8] = &[0, 0, 0, 16, 0, 3, 0, 0];
        assert!(read_startup_packet(&mut truncated).await.is_err());
        let mut empty: &[u8] = &[];
        assert!(matches!(
            read_startup_packet(&mut empty).await,
            Err(FrameError::Closed)
        ));
    }

    #[tokio::test]
    async fn message_length_ceiling() {
        let mut big: &[u8] = &[b'p', 0x40, 0, 0, 0];
        assert!(matches!(
            read_message(&mut big, 1024).await,
            Err(FrameError::BadLength(_))
        ));
        let mut ok: &[u8] = &[b'p', 0, 0, 0, 7, b'a', b'b', 0];
        let (tag, body) = read_message(&mut ok, 1024).await.expect("message");
        assert_eq!((tag, &body[..]), (b'p', &b"ab\0"[..]));
    }

    #[test]
    fn error_response_round_trip() {
        let mut out = BytesMut::new();
        error_response(
            &mut out,
            Severity::Fatal,
            "28P01",
            "password authentication failed",
        );
        assert_eq!(out[0], b'E');
        let len = i32::from_be_bytes([out[1], out[2], out[3], out[4]]);
        assert_eq!(usize::try_from(len).expect("len"), out.len() - 1);
        assert_eq!(error_code(&out[5..]), Some("28P01"));
    }

    #[test]
    fn cstrings() {
        let mut b = BytesMut::from(&b"user\0alice\0"[..]);
        assert_eq!(get_cstr(&mut b).expect("s"), "user");
        assert_eq!(get_cstr(&mut b).expect("s"), "alice");
        assert!(get_cstr(&mut b).is_err());
    }

    #[test]
    fn bind_parameters_decode_text_binary_null_and_cut_long_ones() {
        let long = "x".repeat(AUDIT_PARAMETER_BYTES + 10);
        let mut msg = BytesMut::new();
        put_message(&mut msg, TAG_BIND, |b| {
            put_cstr(b, "portal");
            put_cstr(b, "stmt");
            // Per-parameter formats: text, binary, text, text.
            b.put_i16(4);
            for f in [0i16, 1, 0, 0] {
                b.put_i16(f);
            }
            b.put_i16(4);
            for v in [&b"caf\xc3\xa9"[..], &[0, 0, 0, 42][..]] {
                b.put_i32(i32::try_from(v.len()).expect("small"));
                b.extend_from_slice(v);
            }
            b.put_i32(-1);
            b.put_i32(i32::try_from(long.len()).expect("small"));
            b.extend_from_slice(long.as_bytes());
            b.put_i16(0);
        });
        let values = bind_parameters(&msg).expect("well-formed");
        assert_eq!(values[0].as_deref(), Some("café"));
        assert_eq!(values[1].as_deref(), Some("\\x0000002a"));
        assert_eq!(values[2], None);
        let cut = values[3].as_deref().expect("value");
        assert!(cut.starts_with(&"x".repeat(AUDIT_PARAMETER_BYTES)), "{cut}");
        assert!(cut.ends_with(&format!("… ({} bytes)", long.len())), "{cut}");
        // A truncated message is not decoded.
        assert_eq!(bind_parameters(&msg[..msg.len() - 3]), None);
    }
}

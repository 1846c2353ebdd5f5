//! MySQL packet framing: a 3-byte little-endian length, a sequence id, the payload. A payload
//! of 0xFFFFFF bytes continues in the next packet.
//!
//! [`PacketReader`] keeps its own read buffer so that a packet can be taken whole (commands
//! dbward inspects, under a size ceiling checked from the headers before buffering) or passed on
//! raw (results: header and payload copied as they arrive).

use bytes::{Buf as _, BufMut as _, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

use crate::stream::SendExt as _;

/// Largest payload of one packet; a payload this long continues in the next one.
pub const MAX_PAYLOAD: usize = 0xFF_FFFF;

/// Framing errors.
#[derive(Debug, thiserror::Error)]
pub enum PacketError {
    /// The peer closed the connection.
    #[error("connection closed")]
    Closed,
    /// Reading or writing failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// A logical packet larger than allowed.
    #[error("packet of {0} bytes exceeds dbward's limit of {1} bytes")]
    TooLarge(usize, usize),
    /// A packet out of sequence.
    #[error("packet out of order (sequence id {got}, expected {want})")]
    Sequence {
        /// Received.
        got: u8,
        /// Expected.
        want: u8,
    },
}

/// Buffered packet reading from one side.
pub struct PacketReader {
    buf: BytesMut,
    /// The sequence id of the last packet passed on raw ([`PacketReader::relay`],
    /// [`PacketReader::copy_out`]) since [`PacketReader::forget_passed`]: an ERR dbward sends
    /// in the middle of a result follows it.
    passed_seq: Option<u8>,
    /// Bytes of a packet passed on in part (a relay cut off by the end of the session) that
    /// are still to come: [`PacketReader::finish_passing`] passes them on.
    passing: usize,
    /// The next read's size, between [`READ_SIZE`] and [`MAX_READ_SIZE`].
    read_size: crate::buffers::ReadSize,
}

/// A reader's buffer: room for a few reads of a typical command or result.
const READ_SIZE: usize = 8192;

/// The largest read. Reads double while they fill the buffer and halve again when they come
/// back small: a bulk result moves in reads (and writes to the client) of 64 KiB, a syscall
/// pair per 64 KiB instead of per 8, while small traffic keeps small buffers.
const MAX_READ_SIZE: usize = 64 * 1024;

impl Default for PacketReader {
    fn default() -> Self {
        Self {
            buf: BytesMut::with_capacity(4096),
            passed_seq: None,
            passing: 0,
            read_size: crate::buffers::ReadSize::new(READ_SIZE, MAX_READ_SIZE),
        }
    }
}

impl PacketReader {
    async fn fill<R: AsyncRead + Unpin>(
        &mut self,
        r: &mut R,
        need: usize,
    ) -> Result<(), PacketError> {
        while self.buf.len() < need {
            if self.buf.capacity() == 0 {
                self.buf = crate::buffers::take(READ_SIZE);
            }
            if self.buf.capacity() - self.buf.len() < self.read_size.size / 2 {
                self.buf
                    .reserve((need - self.buf.len()).max(self.read_size.size));
            }
            let room = self.buf.capacity() - self.buf.len();
            let n = r.read_buf(&mut self.buf).await?;
            if n == 0 {
                return Err(PacketError::Closed);
            }
            self.read_size.after_read(n, room);
        }
        Ok(())
    }

    /// The next read's size (tests).
    #[cfg(test)]
    fn read_size(&self) -> usize {
        self.read_size.size
    }

    /// Reads the next packet header: (payload length, sequence id).
    pub async fn header<R: AsyncRead + Unpin>(
        &mut self,
        r: &mut R,
    ) -> Result<(usize, u8), PacketError> {
        self.fill(r, 4).await?;
        let len = usize::from(self.buf[0])
            | usize::from(self.buf[1]) << 8
            | usize::from(self.buf[2]) << 16;
        Ok((len, self.buf[3]))
    }

    /// The first payload byte of the next packet (0 for an empty packet), without consuming.
    pub async fn first_byte<R: AsyncRead + Unpin>(&mut self, r: &mut R) -> Result<u8, PacketError> {
        let (len, _) = self.header(r).await?;
        if len == 0 {
            return Ok(0);
        }
        self.fill(r, 5).await?;
        Ok(self.buf[4])
    }

    /// The whole row packets at the front of the buffer, up to (not including) a terminator
    /// ([`is_row_terminator`]), an incomplete packet or `limit` bytes: a bulk result's rows are
    /// metered and copied a buffer at a time instead of one packet per await.
    #[must_use]
    pub fn buffered_rows(
        &self,
        mut continuing: bool,
        deprecate_eof: bool,
        limit: usize,
    ) -> RowSpan {
        let mut span = RowSpan {
            len: 0,
            rows: 0,
            continuing,
            last_seq: 0,
        };
        while let Some(header) = self.buf.get(span.len..span.len + 4) {
            let len =
                usize::from(header[0]) | usize::from(header[1]) << 8 | usize::from(header[2]) << 16;
            let end = span.len + 4 + len;
            if end > self.buf.len() || end > limit {
                break;
            }
            let first = if len == 0 { 0 } else { self.buf[span.len + 4] };
            if is_row_terminator(continuing, first, len, deprecate_eof) {
                break;
            }
            if !continuing {
                span.rows += 1;
            }
            continuing = len == MAX_PAYLOAD;
            span.len = end;
            span.continuing = continuing;
            span.last_seq = header[3];
        }
        span
    }

    /// Moves a [`RowSpan`]'s bytes (the front of the buffer) to `out`.
    pub fn copy_out(&mut self, span: &RowSpan, out: &mut BytesMut) {
        if span.len > 0 {
            self.passed_seq = Some(span.last_seq);
        }
        out.extend_from_slice(&self.buf[..span.len]);
        self.buf.advance(span.len);
    }

    /// The sequence id an ERR takes after what was passed on raw since
    /// [`PacketReader::forget_passed`] (`first` when nothing was).
    #[must_use]
    pub fn next_seq(&self, first: u8) -> u8 {
        self.passed_seq.map_or(first, |s| s.wrapping_add(1))
    }

    /// A new command's response starts: nothing of it was passed on yet.
    pub fn forget_passed(&mut self) {
        self.passed_seq = None;
        self.passing = 0;
    }

    /// Passes on to `out` the rest of a packet that [`PacketReader::relay`] passed on in part
    /// before it was cut off, so that what follows is read as a packet of its own.
    ///
    /// # Errors
    /// The upstream's read errors (or its close).
    pub async fn finish_passing<R: AsyncRead + Unpin>(
        &mut self,
        r: &mut R,
        out: &mut BytesMut,
    ) -> Result<(), PacketError> {
        while self.passing > 0 {
            self.fill(r, 1).await?;
            let n = self.passing.min(self.buf.len());
            out.extend_from_slice(&self.buf[..n]);
            self.buf.advance(n);
            self.passing -= n;
        }
        Ok(())
    }

    /// Whether a whole packet is already buffered (no read needed).
    #[must_use]
    pub fn has_packet(&self) -> bool {
        self.buf.len() >= 4 && {
            let len = usize::from(self.buf[0])
                | usize::from(self.buf[1]) << 8
                | usize::from(self.buf[2]) << 16;
            self.buf.len() >= 4 + len
        }
    }

    /// Reads one logical packet (continuations joined) of at most `max` bytes: (first sequence
    /// id, last sequence id, payload).
    pub async fn read<R: AsyncRead + Unpin>(
        &mut self,
        r: &mut R,
        max: usize,
    ) -> Result<(u8, u8, BytesMut), PacketError> {
        // The common case, one packet: split it off the read buffer, no copy, no allocation.
        let (len, seq) = self.header(r).await?;
        if len < MAX_PAYLOAD {
            if len > max {
                return Err(PacketError::TooLarge(len, max));
            }
            self.fill(r, 4 + len).await?;
            self.buf.advance(4);
            return Ok((seq, seq, self.buf.split_to(len)));
        }
        let mut payload = BytesMut::new();
        let mut first = None;
        loop {
            let (len, seq) = self.header(r).await?;
            if payload.len() + len > max {
                return Err(PacketError::TooLarge(payload.len() + len, max));
            }
            if let Some(f) = first {
                let want = f_wrapping(f, &payload);
                if seq != want {
                    return Err(PacketError::Sequence { got: seq, want });
                }
            } else {
                first = Some(seq);
            }
            self.fill(r, 4 + len).await?;
            self.buf.advance(4);
            payload.extend_from_slice(&self.buf[..len]);
            self.buf.advance(len);
            if len < MAX_PAYLOAD {
                return Ok((first.unwrap_or(seq), seq, payload));
            }
        }
    }

    /// Copies one physical packet (header and payload) to `out` as it arrives, flushing `out`
    /// to `w` whenever it grows large, so a 16 MB row never sits in memory whole. Returns the
    /// payload length and, for inspection, up to the first 9 payload bytes.
    pub async fn relay<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
        &mut self,
        r: &mut R,
        out: &mut BytesMut,
        w: &mut W,
    ) -> Result<(usize, [u8; 9], u8), PacketError> {
        let (len, seq) = self.header(r).await?;
        let mut head = [0u8; 9];
        let visible = len.min(9);
        self.fill(r, 4 + visible).await?;
        head[..visible].copy_from_slice(&self.buf[4..4 + visible]);
        let mut left = 4 + len;
        self.passed_seq = Some(seq);
        loop {
            let n = left.min(self.buf.len());
            out.extend_from_slice(&self.buf[..n]);
            self.buf.advance(n);
            left -= n;
            // Kept where it survives this future: a session ended meanwhile finishes the packet.
            self.passing = left;
            if left == 0 {
                return Ok((len, head, seq));
            }
            if out.len() >= 64 * 1024 {
                // Advances `out` past what was written, also when cancelled midway.
                w.write_all_buf(out).await?;
                out.clear();
            }
            self.fill(r, 1).await?;
        }
    }

    /// [`PacketReader::read`] for a connection that may sit idle: while the buffer is
    /// released, the first bytes are read into a small stack buffer and only then into a heap
    /// buffer, so a session waiting for its next command holds no read buffer at all.
    ///
    /// # Cancel safety
    /// Cancel safe, as `read` is: bytes read are in the buffer before the next await.
    pub async fn read_idle<R: AsyncRead + Unpin>(
        &mut self,
        r: &mut R,
        max: usize,
    ) -> Result<(u8, u8, BytesMut), PacketError> {
        if self.buf.capacity() == 0 {
            // Most commands fit (a point select's COM_QUERY is ~50 bytes); a longer one takes
            // one more read.
            let mut first = [0u8; 256];
            let n = r.read(&mut first).await?;
            if n == 0 {
                return Err(PacketError::Closed);
            }
            self.buf = crate::buffers::take(READ_SIZE);
            self.buf.extend_from_slice(&first[..n]);
        }
        self.read(r, max).await
    }

    /// Bytes read and not yet taken.
    #[must_use]
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// One more read into the buffer: the bytes read, 0 at the end of the stream. Cancel-safe
    /// (what a read returns is kept), so it can wait beside another read.
    pub async fn read_more<R: AsyncRead + Unpin>(
        &mut self,
        r: &mut R,
    ) -> Result<usize, PacketError> {
        if self.buf.capacity() == 0 {
            self.buf = crate::buffers::take(READ_SIZE);
        }
        if self.buf.capacity() - self.buf.len() < 4096 {
            self.buf.reserve(READ_SIZE);
        }
        Ok(r.read_buf(&mut self.buf).await?)
    }

    /// Gives the read buffer back while nothing is pending: an idle session holds no read
    /// buffer (the next read takes one from the thread's recycled ones, [`crate::buffers`]).
    pub fn release_if_empty(&mut self) {
        if self.buf.is_empty() {
            self.read_size.reset();
        }
        crate::buffers::give(&mut self.buf, READ_SIZE);
    }
}

/// Complete row packets at the front of a reader's buffer ([`PacketReader::buffered_rows`]).
#[derive(Debug, PartialEq, Eq)]
pub struct RowSpan {
    /// Bytes, headers included.
    pub len: usize,
    /// Rows begun in it (a row continued from an earlier 0xFFFFFF-byte packet is not counted
    /// again).
    pub rows: i64,
    /// Whether the packet after it continues the last row.
    pub continuing: bool,
    /// The sequence id of its last packet.
    pub last_seq: u8,
}

/// Whether a packet of a result's rows ends them: an ERR (0xFF), or an EOF/OK (0xFE) short
/// enough not to be a row. A packet continuing a row of 0xFFFFFF bytes is data whatever its
/// first byte.
#[must_use]
pub fn is_row_terminator(continuing: bool, first: u8, len: usize, deprecate_eof: bool) -> bool {
    !continuing
        && (first == 0xFF || (first == 0xFE && (len < 9 || (deprecate_eof && len < MAX_PAYLOAD))))
}

/// The sequence id after the packets making up `payload` so far (one per 0xFFFFFF bytes).
fn f_wrapping(first: u8, payload: &BytesMut) -> u8 {
    #[allow(clippy::cast_possible_truncation)] // wraps on purpose
    first.wrapping_add((payload.len() / MAX_PAYLOAD) as u8)
}

/// Appends `payload` as packets starting at sequence id `seq`; returns the next sequence id.
pub fn put_packet(out: &mut BytesMut, mut seq: u8, payload: &[u8]) -> u8 {
    let mut chunks = payload.chunks(MAX_PAYLOAD).peekable();
    if payload.is_empty() {
        out.put_uint_le(0, 3);
        out.put_u8(seq);
        return seq.wrapping_add(1);
    }
    while let Some(chunk) = chunks.next() {
        #[allow(clippy::cast_possible_truncation)] // chunks are at most 0xFFFFFF
        out.put_uint_le(chunk.len() as u64, 3);
        out.put_u8(seq);
        out.extend_from_slice(chunk);
        seq = seq.wrapping_add(1);
        if chunks.peek().is_none() && chunk.len() == MAX_PAYLOAD {
            out.put_uint_le(0, 3);
            out.put_u8(seq);
            seq = seq.wrapping_add(1);
        }
    }
    seq
}

/// Writes `payload` as packets starting at `seq`.
pub async fn write_packet<W: AsyncWrite + Unpin + Send>(
    w: &mut W,
    seq: u8,
    payload: &[u8],
) -> Result<u8, PacketError> {
    let mut out = BytesMut::with_capacity(payload.len() + 8);
    let next = put_packet(&mut out, seq, payload);
    w.send(&out).await?;
    Ok(next)
}

/// `ER_NET_READ_ERROR`, SQLSTATE `08S01` (a communication link failure, which drivers take as
/// a dead connection): what dbward answers when a connection it relies on broke or could not
/// be made, the upstream's above all. Never the client library's own codes (2000–2999, such as
/// `CR_SERVER_LOST` 2013): given one in an ERR packet, the mariadb client reports "Received
/// malformed packet" (2027) instead of the message.
pub const ER_NET_READ_ERROR: u16 = 1158;
/// `ER_UNKNOWN_ERROR` (SQLSTATE `HY000`): dbward cannot serve the login now (its store, its
/// audit trail, a stored credential) or the upstream is set up in a way it cannot work with.
pub const ER_UNKNOWN_ERROR: u16 = 1105;
/// `ER_NOT_ALLOWED_COMMAND` (SQLSTATE `42000`), as servers refuse `LOAD DATA LOCAL` when local
/// files are disabled.
pub const ER_NOT_ALLOWED_COMMAND: u16 = 1148;

/// An ERR packet's payload (protocol 4.1 form, with SQL state).
#[must_use]
pub fn err_payload(code: u16, state: &str, message: &str) -> Vec<u8> {
    let mut p = Vec::with_capacity(9 + message.len());
    p.push(0xFF);
    p.extend_from_slice(&code.to_le_bytes());
    p.push(b'#');
    let mut s = [b'H', b'Y', b'0', b'0', b'0'];
    for (d, c) in s.iter_mut().zip(state.bytes()) {
        *d = c;
    }
    p.extend_from_slice(&s);
    p.extend_from_slice(message.as_bytes());
    p
}

/// An OK packet's payload: no rows, no insert id, `status` flags, no warnings.
#[must_use]
pub fn ok_payload(status: u16) -> Vec<u8> {
    let mut p = vec![0x00, 0x00, 0x00];
    p.extend_from_slice(&status.to_le_bytes());
    p.extend_from_slice(&0u16.to_le_bytes());
    p
}

/// Reads a length-encoded integer at the front of `b`: (value, bytes used).
#[must_use]
pub fn lenenc_int(b: &[u8]) -> Option<(u64, usize)> {
    let first = *b.first()?;
    let take = |n: usize| -> Option<u64> {
        let bytes = b.get(1..=n)?;
        Some(
            bytes
                .iter()
                .rev()
                .fold(0u64, |acc, x| acc << 8 | u64::from(*x)),
        )
    };
    match first {
        0..=0xFA => Some((u64::from(first), 1)),
        0xFC => Some((take(2)?, 3)),
        0xFD => Some((take(3)?, 4)),
        0xFE => Some((take(8)?, 9)),
        _ => None,
    }
}

/// The status flags of an OK packet payload (header 0x00 or 0xFE), if it parses.
#[must_use]
pub fn ok_status(payload: &[u8]) -> Option<u16> {
    let (_, a) = lenenc_int(payload.get(1..)?)?;
    let (_, b) = lenenc_int(payload.get(1 + a..)?)?;
    let at = 1 + a + b;
    Some(u16::from_le_bytes([
        *payload.get(at)?,
        *payload.get(at + 1)?,
    ]))
}

/// The status flags of an EOF packet payload (0xFE, warnings, status).
#[must_use]
pub fn eof_status(payload: &[u8]) -> Option<u16> {
    Some(u16::from_le_bytes([*payload.get(3)?, *payload.get(4)?]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Buffered rows are taken up to a terminator, an incomplete packet or the limit; a row
    /// continued past 0xFFFFFF bytes counts once and its continuation is data whatever its
    /// first byte; what is taken is byte-exact.
    #[test]
    fn buffered_rows_stop_where_they_must() {
        let mut reader = PacketReader::default();
        let mut wire = BytesMut::new();
        put_packet(&mut wire, 2, b"\x01a");
        put_packet(&mut wire, 3, &[b'r'; 100]);
        let rows_len = wire.len();
        put_packet(&mut wire, 4, b"\xfe\x00\x00\x02\x00");
        put_packet(&mut wire, 5, b"\x01b");
        reader.buf.extend_from_slice(&wire);
        let span = reader.buffered_rows(false, false, usize::MAX);
        assert_eq!(
            span,
            RowSpan {
                len: rows_len,
                rows: 2,
                continuing: false,
                last_seq: 3,
            },
            "stops at the EOF"
        );
        assert_eq!(
            reader.buffered_rows(false, false, rows_len - 1).rows,
            1,
            "the limit"
        );
        let mut out = BytesMut::new();
        reader.copy_out(&span, &mut out);
        assert_eq!(out[..], wire[..rows_len]);
        assert_eq!(
            reader.next_seq(1),
            4,
            "an ERR would follow the last row passed on"
        );
        reader.forget_passed();
        assert_eq!(reader.next_seq(1), 1, "a new command's response");
        assert_eq!(
            reader.buffered_rows(false, false, usize::MAX).len,
            0,
            "the EOF is next"
        );

        // A row of 0xFFFFFF bytes and its continuation starting with 0xFE, then an ERR.
        let mut reader = PacketReader::default();
        let mut wire = BytesMut::new();
        let mut big = vec![b'x'; MAX_PAYLOAD];
        big[0] = 0xFE;
        wire.extend_from_slice(&[0xFF, 0xFF, 0xFF, 1]);
        wire.extend_from_slice(&big);
        let mut rest = vec![b'y'; 20];
        rest[0] = 0xFE;
        wire.extend_from_slice(&[20, 0, 0, 2]);
        wire.extend_from_slice(&rest);
        let data = wire.len();
        put_packet(&mut wire, 3, b"\xff\x10\x04#HY000boom");
        reader.buf.extend_from_slice(&wire);
        let span = reader.buffered_rows(false, true, usize::MAX);
        assert_eq!((span.len, span.rows), (data, 1));
        // Half a packet is left for the slow path.
        let mut reader = PacketReader::default();
        reader.buf.extend_from_slice(&wire[..10]);
        assert_eq!(reader.buffered_rows(false, true, usize::MAX).len, 0);
    }

    /// A bulk result's reads grow to [`MAX_READ_SIZE`] while they fill the buffer, shrink back
    /// when the traffic is small again, and start over small once the reader is released; the
    /// bytes come out exactly as sent.
    #[tokio::test]
    async fn reads_grow_for_bulk_results_and_shrink_back() {
        let mut wire = BytesMut::new();
        for seq in (0..=255u8).cycle().take(1000) {
            put_packet(&mut wire, seq, &[b'r'; 1000]);
        }
        let mut upstream: &[u8] = &wire;
        let mut reader = PacketReader::default();
        let mut out = BytesMut::new();
        let mut largest = 0;
        while !upstream.is_empty() || reader.buffered() > 0 {
            let (len, _) = reader.header(&mut upstream).await.expect("header");
            reader.fill(&mut upstream, 4 + len).await.expect("packet");
            largest = largest.max(reader.read_size());
            let span = reader.buffered_rows(false, true, usize::MAX);
            assert!(span.len > 0, "a whole packet is buffered");
            reader.copy_out(&span, &mut out);
        }
        assert_eq!(out[..], wire[..], "byte-exact");
        assert_eq!(largest, MAX_READ_SIZE, "reads grew");
        // Small traffic: the next reads come back short and the size halves per read.
        let (mut a, mut b) = tokio::io::duplex(1024);
        let mut small = BytesMut::new();
        put_packet(&mut small, 1, b"\x00\x00\x00\x02\x00\x00\x00");
        for _ in 0..3 {
            tokio::io::AsyncWriteExt::write_all(&mut a, &small)
                .await
                .expect("write");
            let (_, _, payload) = reader.read(&mut b, 1 << 20).await.expect("packet");
            assert_eq!(payload[..], small[4..]);
        }
        assert_eq!(reader.read_size(), READ_SIZE, "back to the first size");
        let mut grown = PacketReader::default();
        for _ in 0..4 {
            grown.read_size.after_read(READ_SIZE, READ_SIZE);
        }
        assert_eq!(grown.read_size(), MAX_READ_SIZE);
        grown.release_if_empty();
        assert_eq!(
            grown.read_size(),
            READ_SIZE,
            "a released reader starts small again"
        );
    }

    /// An idle reader holds no buffer; commands shorter and longer than its first stack read,
    /// and two in one read, come out whole.
    #[tokio::test]
    async fn idle_reads_hold_no_buffer_and_lose_nothing() {
        let mut wire = BytesMut::new();
        put_packet(&mut wire, 0, b"\x03SELECT 1");
        put_packet(&mut wire, 0, &[b'x'; 1000]);
        put_packet(&mut wire, 0, b"\x0e");
        let (mut a, mut b) = tokio::io::duplex(64 * 1024);
        tokio::io::AsyncWriteExt::write_all(&mut a, &wire)
            .await
            .expect("write");
        drop(a);
        let mut reader = PacketReader::default();
        let mut got = Vec::new();
        for _ in 0..3 {
            reader.release_if_empty();
            let (_, _, payload) = reader.read_idle(&mut b, 1 << 20).await.expect("packet");
            got.push(payload.to_vec());
        }
        assert_eq!(
            got,
            [b"\x03SELECT 1".to_vec(), vec![b'x'; 1000], b"\x0e".to_vec()]
        );
        reader.release_if_empty();
        assert_eq!(reader.buf.capacity(), 0, "released between commands");
        assert!(matches!(
            reader.read_idle(&mut b, 1 << 20).await,
            Err(PacketError::Closed)
        ));
    }

    #[tokio::test]
    async fn framing_round_trip_with_continuation() {
        let big = vec![7u8; MAX_PAYLOAD + 10];
        let mut out = BytesMut::new();
        let next = put_packet(&mut out, 3, &big);
        assert_eq!(next, 5);
        let mut exact = BytesMut::new();
        assert_eq!(
            put_packet(&mut exact, 0, &vec![1u8; MAX_PAYLOAD]),
            2,
            "an empty packet ends it"
        );
        let mut r = PacketReader::default();
        let mut src: &[u8] = &out;
        let (first, last, payload) = r.read(&mut src, 32 << 20).await.expect("read");
        assert_eq!((first, last, payload.len()), (3, 4, MAX_PAYLOAD + 10));
        let mut src: &[u8] = &out;
        let mut r = PacketReader::default();
        assert!(matches!(
            r.read(&mut src, 1000).await,
            Err(PacketError::TooLarge(..))
        ));
    }

    #[test]
    fn lenenc() {
        assert_eq!(lenenc_int(&[5]), Some((5, 1)));
        assert_eq!(lenenc_int(&[0xFC, 0x34, 0x12]), Some((0x1234, 3)));
        assert_eq!(lenenc_int(&[0xFC, 0x34]), None);
        assert_eq!(ok_status(&[0, 0, 0, 0x02, 0x00, 0, 0]), Some(2));
    }
}

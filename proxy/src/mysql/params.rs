//! The values bound to a `COM_STMT_EXECUTE`, for the audit trail (`audit.record_parameters`).
//!
//! The packet carries, after the statement id, flags and iteration count: a NULL bitmap, a
//! "new parameters bound" flag, then (when set) each parameter's type, and the values of the
//! parameters that are neither NULL nor sent beforehand by `COM_STMT_SEND_LONG_DATA`, in the
//! binary protocol. How many parameters there are comes from the `COM_STMT_PREPARE` response,
//! and the types from the last execution that sent them: both are kept per statement here.
//! Values are decoded with `mysql_common` and written as SQL literals (`'text'`, `42`,
//! `'2024-01-02 03:04:05'`), each cut at [`crate::pg::codec::AUDIT_PARAMETER_BYTES`].
//! MySQL 8's query attributes (`CLIENT_QUERY_ATTRIBUTES`) are never negotiated by dbward, so
//! the packet never carries them.
//!
//! MariaDB's `COM_STMT_BULK_EXECUTE` carries, after the statement id and its flags, the
//! parameters' types (when `SEND_TYPES_TO_SERVER`, else those of the last execution that sent
//! them), then rows until the packet ends: per parameter an indicator (a value follows, `NULL`,
//! `DEFAULT`, `IGNORE`) and the value. Each row is recorded as one entry, `(1, 'one')`, the
//! first [`BULK_ROWS_RECORDED`] of them, then one entry that counts them all.

use std::fmt::Write as _;

use mysql_common::constants::{ColumnFlags, ColumnType};
use mysql_common::io::ParseBuf;
use mysql_common::value::{BinValue, ValueDeserializer};

use crate::pg::codec::AUDIT_PARAMETER_BYTES;

/// The rows of a bulk execution recorded one by one; the rest are counted.
pub const BULK_ROWS_RECORDED: usize = 100;

/// `COM_STMT_BULK_EXECUTE`'s flag: the parameters' types follow the flags.
const SEND_TYPES_TO_SERVER: u16 = 128;

/// What one prepared statement's executions need to be decoded.
#[derive(Debug, Clone, Default)]
pub struct Binding {
    /// Parameters, from the prepare response.
    count: usize,
    /// (type, flags) of each, from the last execution that sent them.
    types: Vec<(u8, u8)>,
    /// Parameters whose value came by `COM_STMT_SEND_LONG_DATA` since the last execution.
    long_data: Vec<bool>,
}

impl Binding {
    /// A statement with `count` parameters.
    #[must_use]
    pub fn new(count: usize) -> Self {
        Self {
            count,
            types: Vec::new(),
            long_data: vec![false; count],
        }
    }

    /// `COM_STMT_SEND_LONG_DATA` for parameter `index`.
    pub fn long_data(&mut self, index: usize) {
        if let Some(l) = self.long_data.get_mut(index) {
            *l = true;
        }
    }

    /// `COM_STMT_RESET`: long data sent so far is discarded.
    pub fn reset(&mut self) {
        self.long_data.fill(false);
    }

    /// The values of a `COM_STMT_EXECUTE` (whole payload, command byte first); `None` for a
    /// packet that does not decode (the upstream rejects it anyway). Long data marks are
    /// consumed.
    pub fn execute(&mut self, payload: &[u8]) -> Option<Vec<Option<String>>> {
        let long_data = std::mem::replace(&mut self.long_data, vec![false; self.count]);
        if self.count == 0 {
            return Some(Vec::new());
        }
        let rest = payload.get(10..)?;
        let (nulls, rest) = rest.split_at_checked(self.count.div_ceil(8))?;
        let (&new_types, mut rest) = rest.split_first()?;
        if new_types == 1 {
            let (types, values) = rest.split_at_checked(self.count * 2)?;
            self.types = types.chunks_exact(2).map(|t| (t[0], t[1])).collect();
            rest = values;
        }
        if self.types.len() != self.count {
            return None;
        }
        let mut values = Vec::with_capacity(self.count);
        for (i, &ty) in self.types.iter().enumerate() {
            if nulls[i / 8] & (1 << (i % 8)) != 0 {
                values.push(None);
                continue;
            }
            if long_data[i] {
                values.push(Some("(sent as long data)".to_owned()));
                continue;
            }
            values.push(Some(bounded(literal(ty, &mut rest)?)));
        }
        Some(values)
    }

    /// The rows of a `COM_STMT_BULK_EXECUTE` (whole payload, command byte first), one entry
    /// each (see the module's documentation); `None` for a packet that does not decode.
    pub fn bulk(&mut self, payload: &[u8]) -> Option<Vec<Option<String>>> {
        self.long_data.fill(false);
        let flags = payload.get(5..7)?;
        let mut rest = payload.get(7..)?;
        if u16::from_le_bytes([flags[0], flags[1]]) & SEND_TYPES_TO_SERVER != 0 {
            let (types, values) = rest.split_at_checked(self.count * 2)?;
            self.types = types.chunks_exact(2).map(|t| (t[0], t[1])).collect();
            rest = values;
        }
        if self.count == 0 || self.types.len() != self.count || rest.is_empty() {
            return None;
        }
        let mut rows = Vec::new();
        let mut count = 0usize;
        while !rest.is_empty() {
            // Rows past the recorded ones are read (to count them), not written out.
            let recorded = count < BULK_ROWS_RECORDED;
            let mut row = String::new();
            for (i, &ty) in self.types.iter().enumerate() {
                let (&indicator, after) = rest.split_first()?;
                rest = after;
                let value = match indicator {
                    0 => literal(ty, &mut rest)?,
                    1 => "NULL".to_owned(),
                    2 => "DEFAULT".to_owned(),
                    3 => "IGNORE".to_owned(),
                    _ => return None,
                };
                if recorded {
                    row.push_str(if i == 0 { "(" } else { ", " });
                    row.push_str(&value);
                }
            }
            count += 1;
            if recorded {
                row.push(')');
                rows.push(Some(bounded(row)));
            }
        }
        if count > BULK_ROWS_RECORDED {
            rows.push(Some(format!("({count} rows in all)")));
        }
        Some(rows)
    }
}

/// The binary-protocol value of type `(type, flags)` at the start of `rest`, as an SQL literal;
/// `rest` moves past it.
fn literal((ty, flags): (u8, u8), rest: &mut &[u8]) -> Option<String> {
    use ColumnType as T;
    let column_type = ColumnType::try_from(ty).ok()?;
    // The types `mysql_common` decodes in the binary protocol (it panics on the others, such
    // as TIMESTAMP2 or 243, which only a broken or hostile client sends): found by fuzzing.
    if !matches!(
        column_type,
        T::MYSQL_TYPE_STRING
            | T::MYSQL_TYPE_VAR_STRING
            | T::MYSQL_TYPE_BLOB
            | T::MYSQL_TYPE_TINY_BLOB
            | T::MYSQL_TYPE_MEDIUM_BLOB
            | T::MYSQL_TYPE_LONG_BLOB
            | T::MYSQL_TYPE_SET
            | T::MYSQL_TYPE_ENUM
            | T::MYSQL_TYPE_DECIMAL
            | T::MYSQL_TYPE_VARCHAR
            | T::MYSQL_TYPE_BIT
            | T::MYSQL_TYPE_NEWDECIMAL
            | T::MYSQL_TYPE_GEOMETRY
            | T::MYSQL_TYPE_JSON
            | T::MYSQL_TYPE_TINY
            | T::MYSQL_TYPE_SHORT
            | T::MYSQL_TYPE_YEAR
            | T::MYSQL_TYPE_LONG
            | T::MYSQL_TYPE_INT24
            | T::MYSQL_TYPE_LONGLONG
            | T::MYSQL_TYPE_FLOAT
            | T::MYSQL_TYPE_DOUBLE
            | T::MYSQL_TYPE_TIMESTAMP
            | T::MYSQL_TYPE_DATE
            | T::MYSQL_TYPE_NEWDATE
            | T::MYSQL_TYPE_DATETIME
            | T::MYSQL_TYPE_TIME
            | T::MYSQL_TYPE_NULL
    ) {
        return None;
    }
    let column_flags = if flags & 0x80 != 0 {
        ColumnFlags::UNSIGNED_FLAG
    } else {
        ColumnFlags::empty()
    };
    let mut buf = ParseBuf(rest);
    let value: ValueDeserializer<BinValue> = buf.parse((column_type, column_flags)).ok()?;
    *rest = buf.0;
    Some(match value.0 {
        // `as_sql` computes the hours in 32 bits, which a client's days overflow (it panics so
        // with overflow checks on: found by fuzzing).
        mysql_common::Value::Time(negative, days, hours, minutes, seconds, micros) => {
            let hours = u64::from(days) * 24 + u64::from(hours);
            let sign = if negative { "-" } else { "" };
            if micros == 0 {
                format!("'{sign}{hours:03}:{minutes:02}:{seconds:02}'")
            } else {
                format!("'{sign}{hours:03}:{minutes:02}:{seconds:02}.{micros:06}'")
            }
        }
        other => other.as_sql(false),
    })
}

/// `text` cut at [`AUDIT_PARAMETER_BYTES`] (on a character boundary), with its length noted.
fn bounded(mut text: String) -> String {
    if text.len() > AUDIT_PARAMETER_BYTES {
        let len = text.len();
        let mut end = AUDIT_PARAMETER_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        let _ = write!(text, "… ({len} bytes)");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `COM_STMT_EXECUTE` as a client library builds it.
    fn execute_packet(params: &[mysql_common::Value]) -> Vec<u8> {
        use mysql_common::proto::MySerialize as _;
        let request = mysql_common::packets::ComStmtExecuteRequestBuilder::new(7)
            .build(params)
            .0;
        let mut out = Vec::new();
        request.serialize(&mut out);
        out
    }

    #[test]
    fn values_decode_as_literals_with_nulls_and_remembered_types() {
        use mysql_common::Value;
        let mut b = Binding::new(4);
        let first = execute_packet(&[
            Value::Bytes(b"it's".to_vec()),
            Value::Int(-42),
            Value::NULL,
            Value::Double(1.5),
        ]);
        assert_eq!(
            b.execute(&first).expect("decodes"),
            [
                Some("'it\\'s'".to_owned()),
                Some("-42".to_owned()),
                None,
                Some("1.5".to_owned()),
            ]
        );
        let long = "x".repeat(AUDIT_PARAMETER_BYTES * 2);
        let second = execute_packet(&[
            Value::Bytes(long.clone().into_bytes()),
            Value::Int(7),
            Value::Int(8),
            Value::Double(0.0),
        ]);
        let values = b.execute(&second).expect("decodes");
        let cut = values[0].as_deref().expect("value");
        assert!(
            cut.ends_with(&format!("… ({} bytes)", long.len() + 2)),
            "{cut}"
        );
        assert_eq!(values[2].as_deref(), Some("8"));
        // A truncated packet does not decode.
        assert_eq!(b.execute(&second[..second.len() - 2]), None);
    }

    /// A `COM_STMT_BULK_EXECUTE` as `mysql_common` builds it (types sent).
    fn bulk_packet(rows: Vec<Vec<mysql_common::Value>>) -> Vec<u8> {
        use mysql_common::constants::StmtBulkExecuteFlags;
        use mysql_common::proto::MySerialize as _;
        let request = mysql_common::packets::ComStmtBulkExecuteRequest::new(
            7,
            StmtBulkExecuteFlags::SEND_TYPES_TO_SERVER,
            rows,
        )
        .expect("request");
        let mut out = Vec::new();
        request.serialize(&mut out);
        out
    }

    #[test]
    fn bulk_rows_decode_one_entry_each() {
        use mysql_common::Value;
        let mut b = Binding::new(2);
        let packet = bulk_packet(vec![
            vec![Value::Bytes(b"it's".to_vec()), Value::Int(1)],
            vec![Value::Bytes(b"b".to_vec()), Value::Int(-2)],
        ]);
        assert_eq!(
            b.bulk(&packet).expect("decodes"),
            [
                Some("('it\\'s', 1)".to_owned()),
                Some("('b', -2)".to_owned())
            ]
        );
        // Truncated, or with rows that do not match the parameters: nothing decodes.
        assert_eq!(b.bulk(&packet[..packet.len() - 1]), None);
        assert_eq!(Binding::new(3).bulk(&packet), None);
    }

    #[test]
    fn bulk_rows_take_remembered_types_and_indicators() {
        use mysql_common::Value;
        let mut b = Binding::new(2);
        // Without types and before any execution sent them: nothing to decode with.
        let mut packet = vec![0xFA, 7, 0, 0, 0, 0, 0];
        packet.extend([0, 1, b'x', 1]); // 'x', NULL
        packet.extend([2, 0]); // DEFAULT, then 5 as a LONGLONG
        packet.extend(5i64.to_le_bytes());
        assert_eq!(b.bulk(&packet), None);
        // An execution sends the types (a string, a LONGLONG); the bulk execution reuses them.
        b.execute(&execute_packet(&[
            Value::Bytes(b"a".to_vec()),
            Value::Int(1),
        ]))
        .expect("decodes");
        assert_eq!(
            b.bulk(&packet).expect("decodes"),
            [
                Some("('x', NULL)".to_owned()),
                Some("(DEFAULT, 5)".to_owned())
            ]
        );
        let mut ignored = packet.clone();
        ignored.extend([3, 3]);
        assert_eq!(
            b.bulk(&ignored).expect("decodes")[2].as_deref(),
            Some("(IGNORE, IGNORE)")
        );
        // An indicator MariaDB does not define.
        let mut unknown = packet;
        unknown.extend([4, 1]);
        assert_eq!(b.bulk(&unknown), None);
    }

    #[test]
    fn bulk_rows_past_the_recorded_ones_are_counted() {
        use mysql_common::Value;
        let mut b = Binding::new(1);
        let rows = (0..BULK_ROWS_RECORDED + 50)
            .map(|i| vec![Value::Int(i64::try_from(i).expect("small"))])
            .collect();
        let entries = b.bulk(&bulk_packet(rows)).expect("decodes");
        assert_eq!(entries.len(), BULK_ROWS_RECORDED + 1);
        assert_eq!(entries[0].as_deref(), Some("(0)"));
        assert_eq!(
            entries[BULK_ROWS_RECORDED].as_deref(),
            Some(format!("({} rows in all)", BULK_ROWS_RECORDED + 50).as_str())
        );
    }

    /// Types `mysql_common` cannot decode (it panics on them) do not decode, in an execution
    /// or a bulk execution (the fuzzer's find, with `audit.record_parameters` on: any client
    /// could end its session's task so).
    #[test]
    fn types_without_a_binary_decoding_do_not_decode() {
        for ty in [17u8, 18, 19, 20, 243, 244] {
            let mut b = Binding::new(1);
            let execute = [0x17, 7, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, ty, 0, 1, b'x'];
            assert_eq!(b.execute(&execute), None, "type {ty}");
            let bulk = [0xFA, 7, 0, 0, 0, 0x80, 0, ty, 0, 0, 1, b'x'];
            assert_eq!(b.bulk(&bulk), None, "type {ty}");
        }
    }

    /// A `TIME` of many days: written with 64-bit hours (`mysql_common`'s `as_sql` overflows
    /// on them: the fuzzer's second find), and an ordinary one as `as_sql` writes it.
    #[test]
    fn times_of_many_days_are_written_whole() {
        use mysql_common::Value;
        let mut b = Binding::new(1);
        let huge = execute_packet(&[Value::Time(true, u32::MAX, 23, 59, 58, 7)]);
        assert_eq!(
            b.execute(&huge).expect("decodes"),
            [Some("'-103079215103:59:58.000007'".to_owned())]
        );
        let small = execute_packet(&[Value::Time(false, 1, 2, 3, 4, 0)]);
        assert_eq!(
            b.execute(&small).expect("decodes"),
            [Some(Value::Time(false, 1, 2, 3, 4, 0).as_sql(false))]
        );
    }

    #[test]
    fn long_data_parameters_are_noted_not_decoded() {
        let mut b = Binding::new(1);
        b.long_data(0);
        // With long data, the client sends the type but no value.
        let mut packet = vec![0x17, 7, 0, 0, 0, 0, 1, 0, 0, 0];
        packet.extend([0, 1, 252, 0]);
        assert_eq!(
            b.execute(&packet).expect("decodes"),
            [Some("(sent as long data)".to_owned())]
        );
    }
}

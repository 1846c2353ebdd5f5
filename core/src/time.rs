//! Timestamps: RFC 3339 with an explicit offset at the edges, UTC microseconds in the store.
//!
//! A timestamp without an offset is ambiguous (whose local time?) and is refused: `time`'s
//! RFC 3339 parser already requires `Z` or `±hh:mm`.

use ::time::OffsetDateTime;
use ::time::format_description::well_known::Rfc3339;

/// The current time, truncated to the store's microsecond resolution so that a value read back
/// from the store compares equal to the one written.
#[must_use]
pub fn now() -> OffsetDateTime {
    from_micros(to_micros(OffsetDateTime::now_utc()))
}

/// Microseconds since the Unix epoch, as the store keeps every timestamp.
/// Now, in UTC microseconds since the epoch (what audit rows store), without building an
/// `OffsetDateTime`: it is taken for every statement.
#[must_use]
pub fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

#[must_use]
pub fn to_micros(t: OffsetDateTime) -> i64 {
    // An OffsetDateTime spans +-9999 years: its microseconds always fit in an i64.
    i64::try_from(t.unix_timestamp_nanos() / 1000).expect("year within +-9999 fits in i64 micros")
}

/// The inverse of [`to_micros`]. Values outside `time`'s range (only a corrupted store holds
/// them) saturate to the Unix epoch rather than panic.
#[must_use]
pub fn from_micros(micros: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Parses an RFC 3339 timestamp that carries an explicit offset and converts it to UTC.
pub fn parse_rfc3339(text: &str) -> Result<OffsetDateTime, ::time::error::Parse> {
    OffsetDateTime::parse(text, &Rfc3339).map(|t| t.to_offset(::time::UtcOffset::UTC))
}

/// Formats a timestamp as RFC 3339 in UTC (`2026-11-23T09:00:00Z`).
#[must_use]
pub fn format_rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(::time::UtcOffset::UTC)
        .format(&Rfc3339)
        .expect("every OffsetDateTime formats as RFC 3339")
}

/// serde helpers for `OffsetDateTime` fields in API types: RFC 3339 with an explicit offset.
pub mod rfc3339 {
    /// The same for `Option<OffsetDateTime>`.
    pub use ::time::serde::rfc3339::option;
    pub use ::time::serde::rfc3339::*;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_micros_is_now() {
        let (a, b) = (to_micros(now()), now_micros());
        assert!((0..1_000_000).contains(&(b - a)), "{a} {b}");
    }

    #[test]
    fn offset_is_required() {
        assert!(parse_rfc3339("2026-01-15T09:00:00").is_err());
        let t = parse_rfc3339("2026-01-15T10:00:00+01:00").expect("valid");
        assert_eq!(format_rfc3339(t), "2026-01-15T09:00:00Z");
    }

    #[test]
    fn micros_round_trip() {
        let t = parse_rfc3339("2026-01-15T09:00:00.123456Z").expect("valid");
        assert_eq!(from_micros(to_micros(t)), t);
    }
}

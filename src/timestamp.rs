//! Timestamps as text, read the one way every part of assay reads them: RFC 3339, or a
//! naive date-time or date taken as UTC. Checks, scans, the history, the report and the
//! anomaly monitor's series all parse here.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// A moment as assay writes it in documents and APIs: RFC 3339 in UTC, to the
/// millisecond.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// RFC 3339, or a naive date-time or date taken as UTC.
pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Some(t) = plain_timestamp(s) {
        return Some(t);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%#z"] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// The common forms read in bulk (stores and CSV series hand back thousands):
/// `YYYY-MM-DD HH:MM:SS[.ffffff]`, with `T` or a space, optionally ending in `Z`. By
/// hand, since chrono's format strings are parsed again on every call.
fn plain_timestamp(s: &str) -> Option<DateTime<Utc>> {
    let b = s.strip_suffix('Z').unwrap_or(s).as_bytes();
    if b.len() < 19 || !matches!(b[10], b' ' | b'T') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let seps = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if seps.iter().any(|&(i, c)| b[i] != c) {
        return None;
    }
    let micros = match &b[19..] {
        [] => 0,
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
            let mut v = 0u32;
            for (i, &c) in digits.iter().enumerate() {
                if !c.is_ascii_digit() {
                    return None;
                }
                if i < 6 {
                    v = v * 10 + u32::from(c - b'0');
                }
            }
            v * 10u32.pow(6u32.saturating_sub(digits.len() as u32))
        }
        _ => return None,
    };
    let date = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    date.and_hms_micro_opt(num(11..13)?, num(14..16)?, num(17..19)?, micros)
        .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse_zoned_naive_and_dates() {
        let z = parse_timestamp("2025-01-01T10:00:00+02:00").unwrap();
        assert_eq!(z.to_rfc3339(), "2025-01-01T08:00:00+00:00");
        let n = parse_timestamp("2025-01-01 10:00:00").unwrap();
        assert_eq!(n.to_rfc3339(), "2025-01-01T10:00:00+00:00");
        let pg = parse_timestamp("2025-01-01 10:00:00+02").unwrap();
        assert_eq!(pg.to_rfc3339(), "2025-01-01T08:00:00+00:00");
        assert!(parse_timestamp("2025-01-01").is_some());
        assert!(parse_timestamp("yesterday").is_none());
    }

    #[test]
    fn the_fast_path_agrees_with_chrono() {
        for (text, rfc) in [
            ("2025-03-04 05:06:07", "2025-03-04T05:06:07+00:00"),
            ("2025-03-04T05:06:07Z", "2025-03-04T05:06:07+00:00"),
            ("2025-03-04 05:06:07.5", "2025-03-04T05:06:07.500+00:00"),
            (
                "2025-03-04 05:06:07.123456",
                "2025-03-04T05:06:07.123456+00:00",
            ),
            (
                "2025-03-04T05:06:07.123456789Z",
                "2025-03-04T05:06:07.123456+00:00",
            ),
        ] {
            let fast = plain_timestamp(text).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(fast.to_rfc3339(), rfc, "{text}");
        }
        for not in [
            "2025-02-30 00:00:00",
            "2025-03-04 25:00:00",
            "2025-03-04 05:06:07.",
            "2025-03-04 05:06:07+02",
            "2025-3-04 05:06:07",
            "2025-03-04x05:06:07",
        ] {
            assert!(plain_timestamp(not).is_none(), "{not}");
        }
        // what the fast path leaves alone still parses
        assert!(parse_timestamp("2025-03-04 05:06:07+02").is_some());
    }
}

//! A series as CSV: a header `timestamp,value`, then one point a line, timestamps
//! increasing (RFC 3339 or `YYYY-MM-DD HH:MM:SS`, UTC). `assay history backtest` reads
//! it, `assay history export` writes it. An empty value is a point that was not measured.

use crate::timestamp::parse_timestamp;

/// One row of a series file.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// UTC seconds
    pub at: i64,
    /// as written in the file, shown back unchanged
    pub timestamp: String,
    pub value: Option<f64>,
}

/// A problem in a series file, at a line and column (1-based).
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesError {
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub help: String,
}

const TIMESTAMP_HELP: &str =
    "write timestamps as RFC 3339 (2026-03-01T06:00:00Z) or 2026-03-01 06:00:00 (UTC)";

/// Read a series file's text.
pub fn read(text: &str) -> Result<Vec<Row>, SeriesError> {
    let error = |line: usize, column: usize, message: String, help: &str| SeriesError {
        line,
        column,
        message,
        help: help.to_string(),
    };
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    let header = lines.find(|(_, l)| !l.trim().is_empty());
    let Some((n, header)) = header else {
        return Err(error(
            1,
            1,
            "the series is empty".into(),
            "the first line is the header timestamp,value",
        ));
    };
    let names: Vec<String> = header
        .trim_start_matches('\u{feff}')
        .split(',')
        .map(|h| h.trim().trim_matches('"').to_ascii_lowercase())
        .collect();
    if names != ["timestamp", "value"] {
        return Err(error(
            n,
            1,
            format!("the header is '{}', not timestamp,value", header.trim()),
            "the first line is the header timestamp,value; each line after it one point",
        ));
    }
    let mut rows: Vec<Row> = Vec::new();
    for (n, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let Some((ts, value)) = line.split_once(',') else {
            return Err(error(
                n,
                1,
                format!("'{}' is not timestamp,value", line.trim()),
                "each line is one point: a timestamp, a comma, a number (or nothing)",
            ));
        };
        let ts_text = ts.trim().trim_matches('"');
        let Some(at) = parse_timestamp(ts_text) else {
            return Err(error(
                n,
                1,
                format!("'{ts_text}' is not a timestamp"),
                TIMESTAMP_HELP,
            ));
        };
        let value_column = ts.len() + 2;
        let value_text = value.trim().trim_matches('"');
        let value = if value_text.is_empty() {
            None
        } else {
            match value_text.parse::<f64>() {
                Ok(v) if v.is_finite() => Some(v),
                _ => {
                    return Err(error(
                        n,
                        value_column,
                        format!("'{value_text}' is not a number"),
                        "a value is a finite number, or nothing for a point not measured",
                    ))
                }
            }
        };
        let at = at.timestamp();
        if let Some(prev) = rows.last().filter(|p| p.at >= at) {
            return Err(error(
                n,
                1,
                format!(
                    "{ts_text} does not come after {}: timestamps must increase",
                    prev.timestamp
                ),
                "sort the series by time, one point per timestamp",
            ));
        }
        rows.push(Row {
            at,
            timestamp: ts_text.to_string(),
            value,
        });
    }
    Ok(rows)
}

/// Steps a series is usually taken at; a measured step within 10% of one is that one.
const USUAL_STEPS: &[i64] = &[
    60, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400, 604_800,
];

/// The series' step: the median gap between its points, rounded to a usual one.
pub fn infer_step(times: &[i64]) -> i64 {
    let mut gaps: Vec<i64> = times
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|g| *g > 0)
        .collect();
    if gaps.is_empty() {
        return 86_400;
    }
    gaps.sort_unstable();
    let gap = gaps[gaps.len() / 2];
    USUAL_STEPS
        .iter()
        .copied()
        .find(|s| (gap - s).abs() * 10 <= *s)
        .unwrap_or(gap)
}

/// A step in words: "hourly", "daily", "every 15m".
pub fn describe_step(step: i64) -> String {
    match step {
        3600 => "hourly".into(),
        86_400 => "daily".into(),
        604_800 => "weekly".into(),
        s => format!(
            "every {}",
            humantime::format_duration(std::time::Duration::from_secs(s.max(0) as u64))
        ),
    }
}

/// UTC seconds as RFC 3339 (`2026-03-01T06:00:00Z`).
pub fn timestamp_text(at: i64) -> String {
    chrono::DateTime::from_timestamp(at, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// A series as CSV, in the form `read` takes.
pub fn write(points: &[(i64, Option<f64>)]) -> String {
    let mut out = String::from("timestamp,value\n");
    for (at, v) in points {
        out.push_str(&timestamp_text(*at));
        out.push(',');
        if let Some(v) = v {
            out.push_str(&format!("{v}"));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_timestamp_forms_and_empty_values() {
        let rows = read("timestamp,value\n2026-03-01T00:00:00Z,10\n2026-03-01 01:00:00,\n\n2026-03-01 02:00:00,12.5\n").unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[1].value, None);
        assert_eq!(rows[2].value, Some(12.5));
        assert_eq!(rows[1].at - rows[0].at, 3600);
        assert_eq!(
            infer_step(&rows.iter().map(|r| r.at).collect::<Vec<_>>()),
            3600
        );
    }

    #[test]
    fn errors_say_where() {
        let e = read("time,v\n").unwrap_err();
        assert_eq!((e.line, e.column), (1, 1));
        let e = read("timestamp,value\n2026-03-01,1\n2026-02-30,2\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("2026-02-30"));
        let e = read("timestamp,value\n2026-03-01,1\n2026-03-02,abc\n").unwrap_err();
        assert_eq!((e.line, e.column), (3, 12));
        let e = read("timestamp,value\n2026-03-02,1\n2026-03-01,2\n").unwrap_err();
        assert!(e.message.contains("must increase"), "{}", e.message);
    }

    #[test]
    fn writes_what_it_reads() {
        let text = write(&[(0, Some(1.5)), (86_400, None), (172_800, Some(3.0))]);
        let rows = read(&text).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].value, Some(1.5));
        assert_eq!(rows[1].value, None);
        assert_eq!(infer_step(&[0, 86_400, 172_800]), 86_400);
        assert_eq!(infer_step(&[0, 3_590, 7_205, 10_800]), 3600);
    }
}

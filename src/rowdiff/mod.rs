//! Row-level reconciliation across two engines without moving the tables (`rows_diff`).
//!
//! Each side renders every row canonically (`sql::canonical`: the same value gives the
//! same text on every engine), hashes it with MD5, and places it in a segment by the
//! first hex digits of its key's hash. Both engines return, per segment, the row count
//! and the sum of the rows' hashes, at the same time. Segments that differ are split by
//! more digits of the key hash and compared again, until the rows in the differing
//! segments are few; only their hashes (and the values the samples show) are read.
//!
//! Segments are by key hash, not key range: two engines order text by different
//! collations, but an MD5 is the same everywhere. What is read grows with the number of
//! differences, never with the tables: at most `MAX_SEGMENTS` segments per level, and the
//! rows of differing segments of about `LEAF_ROWS` rows each.

mod compare;
mod sql;

use std::time::Instant;

use thiserror::Error;
use tracing::debug;

use crate::checks::{RowDiffOutcome, RowDiffSpec};
use std::collections::HashMap;

use crate::exec::{ColumnInfo, ExecError, Limits, RowSink, RunControl, Session, Value};
use crate::sql::canonical::rule_for;
use crate::sql::dialect::Dialect;
use crate::sql::value_class::value_class;
use compare::{CountedRow, LeafRow, Names, Segments, Shown};
use sql::{Rendered, RowExprs, ShownIn, SideSql};

/// Hex digits of the first level: 4,096 segments.
const FIRST_DIGITS: usize = 3;
/// Rows per segment at which a segment's rows are read rather than split again.
const LEAF_ROWS: i128 = 16;
/// At most this many segments are asked for in one level.
const MAX_SEGMENTS: usize = 1 << 17;
/// Up to this many rows in the segments that differ, every row is read with what samples
/// show of it; beyond, only the rows of the first segments that differ (which hold the
/// samples) are.
const SHOWN_WITH_ROWS: i128 = 4096;
/// An MD5 has 32 hex digits.
const MAX_DIGITS: usize = 32;

#[derive(Debug, Error)]
pub enum RowDiffError {
    #[error("column '{column}' not found in the {side} dataset")]
    NoColumn { side: &'static str, column: String },
    #[error("the source has {source_columns} columns to compare and the target {target}: name them with source_columns and target_columns")]
    ColumnCounts {
        source_columns: usize,
        target: usize,
    },
    #[error("there are no columns to compare")]
    NoColumns,
    #[error("{side}: {error}")]
    Query {
        side: &'static str,
        error: ExecError,
    },
    #[error("{side}: the engine returned '{value}' where a segment's hash digits belong")]
    BadSegment { side: &'static str, value: String },
}

/// One side of the comparison as it runs.
pub struct DiffSide<'a> {
    pub session: &'a mut dyn Session,
    pub dialect: &'a dyn Dialect,
    pub columns: &'a [ColumnInfo],
    /// the dataset, for logs
    pub label: &'a str,
    /// "source" or "target", for errors
    pub which: &'static str,
}

/// Compare the two sides' rows.
pub async fn run(
    spec: &RowDiffSpec,
    mut source: DiffSide<'_>,
    mut target: DiffSide<'_>,
    max_samples: usize,
    control: &RunControl,
) -> Result<RowDiffOutcome, RowDiffError> {
    let pairs = Pairs::resolve(
        spec,
        Catalog {
            columns: source.columns,
            dialect: source.dialect,
        },
        Catalog {
            columns: target.columns,
            dialect: target.dialect,
        },
    )?;
    let (se, te) = (
        pairs.exprs(source.dialect, true),
        pairs.exprs(target.dialect, false),
    );
    let ss = SideSql {
        dialect: source.dialect,
        table: &spec.source_table,
        filter: spec.source_filter.as_ref(),
    };
    let ts = SideSql {
        dialect: target.dialect,
        table: &spec.target_table,
        filter: spec.target_filter.as_ref(),
    };
    let mut out = RowDiffOutcome {
        rules: pairs.rules(),
        ..Default::default()
    };
    let (digits, differing, leaf_rows_expected) = bisect(
        (&mut source, &ss, &se),
        (&mut target, &ts, &te),
        control,
        &mut out,
    )
    .await?;
    if differing.is_empty() {
        return Ok(out);
    }
    let prefixes: Vec<String> = differing.into_iter().map(|(p, _)| p).collect();
    let names = pairs.names();
    let names = Names {
        keys: &names.0,
        columns: &names.1,
    };
    out.queries += 1;
    if pairs.keys.is_empty() {
        let (s, t) = futures_util::future::join(
            counted_rows(
                &mut source,
                &ss.row_counts(&se, (digits, &prefixes)),
                control,
            ),
            counted_rows(
                &mut target,
                &ts.row_counts(&te, (digits, &prefixes)),
                control,
            ),
        )
        .await;
        let ((s, sb), (t, tb)) = (s?, t?);
        out.bytes_fetched += (sb + tb) as u64;
        compare::multiset(s, t, &names, max_samples, &mut out);
    } else {
        keyed_leaf(
            (&mut source, &ss, &se),
            (&mut target, &ts, &te),
            (digits, &prefixes),
            leaf_rows_expected <= SHOWN_WITH_ROWS,
            (&names, max_samples),
            control,
            &mut out,
        )
        .await?;
    }
    Ok(out)
}

/// Segment checksums of both sides, level after level, each level splitting the
/// segments that differ, until those hold few rows: the digits of the last level, its
/// segments that differ (with their rows), and how many rows they hold.
async fn bisect(
    (source, ss, se): (&mut DiffSide<'_>, &SideSql<'_>, &RowExprs),
    (target, ts, te): (&mut DiffSide<'_>, &SideSql<'_>, &RowExprs),
    control: &RunControl,
    out: &mut RowDiffOutcome,
) -> Result<(usize, Vec<(String, i128)>, i128), RowDiffError> {
    let mut digits = FIRST_DIGITS;
    let mut within: Option<(usize, Vec<String>)> = None;
    loop {
        let scope = within.as_ref().map(|(d, p)| (*d, p.as_slice()));
        let (s, t) = futures_util::future::join(
            segments(
                &mut *source,
                &ss.segments(se, digits, scope),
                digits,
                control,
            ),
            segments(
                &mut *target,
                &ts.segments(te, digits, scope),
                digits,
                control,
            ),
        )
        .await;
        let ((s, s_bytes), (t, t_bytes)) = (s?, t?);
        out.queries += 1;
        out.bytes_fetched += (s_bytes + t_bytes) as u64;
        if out.queries == 1 {
            out.source_rows = s.values().map(|v| v.0).sum::<i128>() as u64;
            out.target_rows = t.values().map(|v| v.0).sum::<i128>() as u64;
        }
        let differing = compare::differing(&s, &t);
        drop((s, t));
        let rows: i128 = differing.iter().map(|(_, n)| n).sum();
        let per_segment = rows / (differing.len().max(1) as i128);
        debug!(
            "rows_diff: {} segment(s) of {digits} digit(s) differ, {rows} row(s) in them",
            differing.len()
        );
        if differing.is_empty() || per_segment <= 2 * LEAF_ROWS || digits >= MAX_DIGITS {
            return Ok((digits, differing, rows));
        }
        let next = more_digits(per_segment, differing.len()).min(MAX_DIGITS - digits);
        // when the segments that differ hold most rows, the next level reads every row
        // anyway: testing each row's segment against a long list would only cost more
        let total = out.source_rows.max(out.target_rows) as i128;
        within =
            (rows * 2 <= total).then(|| (digits, differing.into_iter().map(|(p, _)| p).collect()));
        digits += next;
    }
}

/// `--plan`: each side's first-level query, before the catalogs are read: each column
/// is shown rendered as text (at run time its pair's types choose its rendering), and
/// without `source_columns`, only the keys.
pub fn first_level(spec: &RowDiffSpec, source: &dyn Dialect, target: &dyn Dialect) -> [String; 2] {
    let info = |name: &str| ColumnInfo {
        name: name.to_string(),
        ..Default::default()
    };
    let pairs = spec.keys.iter().chain(spec.columns.iter().flatten());
    let (s_cols, t_cols): (Vec<ColumnInfo>, Vec<ColumnInfo>) =
        pairs.map(|(s, t)| (info(s), info(t))).unzip();
    let keys = spec.keys.len();
    let side =
        |d: &dyn Dialect, cols: &[ColumnInfo], table, filter: Option<&crate::sql::ast::Expr>| {
            let rendered: Vec<Rendered> = cols
                .iter()
                .map(|c| Rendered {
                    column: c,
                    rule: crate::sql::canonical::Rule::Other,
                })
                .collect();
            let (k, v) = rendered.split_at(keys);
            let exprs = RowExprs::new(d, k, v);
            SideSql {
                dialect: d,
                table,
                filter,
            }
            .segments(&exprs, FIRST_DIGITS, None)
        };
    [
        side(
            source,
            &s_cols,
            &spec.source_table,
            spec.source_filter.as_ref(),
        ),
        side(
            target,
            &t_cols,
            &spec.target_table,
            spec.target_filter.as_ref(),
        ),
    ]
}

/// How many more hex digits split segments of `rows` rows into segments of about
/// `LEAF_ROWS`, within `MAX_SEGMENTS` for the `count` segments that differ.
fn more_digits(rows: i128, count: usize) -> usize {
    let mut add = 1;
    while rows >> (4 * add) > LEAF_ROWS && count << (4 * (add + 1)) <= MAX_SEGMENTS {
        add += 1;
    }
    add
}

/// The key and compared columns of both sides, from the catalogs, each pair with the
/// rule both sides render it by.
struct Pairs<'a> {
    keys: Vec<(&'a ColumnInfo, &'a ColumnInfo, crate::sql::canonical::Rule)>,
    columns: Vec<(&'a ColumnInfo, &'a ColumnInfo, crate::sql::canonical::Rule)>,
}

/// One side's columns as its catalog has them.
#[derive(Clone, Copy)]
struct Catalog<'a> {
    columns: &'a [ColumnInfo],
    dialect: &'a dyn Dialect,
}

impl<'a> Pairs<'a> {
    fn resolve(
        spec: &RowDiffSpec,
        source: Catalog<'a>,
        target: Catalog<'a>,
    ) -> Result<Pairs<'a>, RowDiffError> {
        let find = |side: Catalog<'a>, which: &'static str, name: &str| {
            side.columns
                .iter()
                .find(|c| c.name == name)
                .or_else(|| {
                    side.columns
                        .iter()
                        .find(|c| side.dialect.same_ident(&c.name, name))
                })
                .ok_or_else(|| RowDiffError::NoColumn {
                    side: which,
                    column: name.to_string(),
                })
        };
        let pair = |(s, t): &(String, String)| -> Result<_, RowDiffError> {
            let (s, t) = (find(source, "source", s)?, find(target, "target", t)?);
            let rule = rule_for(
                value_class(source.dialect, &s.data_type),
                value_class(target.dialect, &t.data_type),
            );
            Ok((s, t, rule))
        };
        let keys = spec.keys.iter().map(pair).collect::<Result<Vec<_>, _>>()?;
        let columns = match &spec.columns {
            Some(c) => c.iter().map(pair).collect::<Result<Vec<_>, _>>()?,
            None => {
                // every column by its place, keys aside
                let rest =
                    |cols: &'a [ColumnInfo], keys: Vec<&'a ColumnInfo>| -> Vec<&'a ColumnInfo> {
                        cols.iter()
                            .filter(|c| !keys.iter().any(|k| k.name == c.name))
                            .collect()
                    };
                let s = rest(source.columns, keys.iter().map(|k| k.0).collect());
                let t = rest(target.columns, keys.iter().map(|k| k.1).collect());
                if s.len() != t.len() {
                    return Err(RowDiffError::ColumnCounts {
                        source_columns: s.len(),
                        target: t.len(),
                    });
                }
                s.into_iter()
                    .zip(t)
                    .map(|(s, t)| {
                        let rule = rule_for(
                            value_class(source.dialect, &s.data_type),
                            value_class(target.dialect, &t.data_type),
                        );
                        (s, t, rule)
                    })
                    .collect()
            }
        };
        if keys.is_empty() && columns.is_empty() {
            return Err(RowDiffError::NoColumns);
        }
        Ok(Pairs { keys, columns })
    }

    fn exprs(&self, d: &dyn Dialect, source: bool) -> RowExprs {
        let side = |pairs: &[(&'a ColumnInfo, &'a ColumnInfo, crate::sql::canonical::Rule)]| {
            pairs
                .iter()
                .map(|&(s, t, rule)| Rendered {
                    column: if source { s } else { t },
                    rule,
                })
                .collect::<Vec<_>>()
        };
        RowExprs::new(d, &side(&self.keys), &side(&self.columns))
    }

    fn rules(&self) -> Vec<(String, &'static str)> {
        self.keys
            .iter()
            .chain(&self.columns)
            .map(|(_, t, r)| (t.name.clone(), r.as_str()))
            .collect()
    }

    /// The target's names of the keys and the compared columns.
    fn names(&self) -> (Vec<String>, Vec<String>) {
        let n = |p: &[(&ColumnInfo, &ColumnInfo, crate::sql::canonical::Rule)]| -> Vec<String> {
            p.iter().map(|(_, t, _)| t.name.clone()).collect()
        };
        (n(&self.keys), n(&self.columns))
    }
}

async fn read(
    side: &mut DiffSide<'_>,
    which: &'static str,
    sql: &str,
    control: &RunControl,
) -> Result<crate::exec::Rows, RowDiffError> {
    let query_error = |error| RowDiffError::Query { side: which, error };
    control.check().map_err(query_error)?;
    let started = Instant::now();
    let rows = side
        .session
        .rows(sql, Limits::rows(usize::MAX))
        .await
        .map_err(query_error)?;
    debug!(
        "{}: rows_diff, {} row(s), {} byte(s) ({:.1} ms)\n{sql}",
        side.label,
        rows.rows.len(),
        rows.bytes,
        started.elapsed().as_secs_f64() * 1000.0
    );
    Ok(rows)
}

/// An exact integer from a count or a sum, whichever way the engine returns it.
fn integer(v: &Value) -> Option<i128> {
    match v {
        Value::Null => Some(0),
        Value::Int(i) => Some(*i),
        Value::Decimal(t) | Value::Text(t) | Value::Other(t) => {
            let t = t.trim();
            let whole =
                t.split_once('.').map_or(
                    t,
                    |(w, f)| {
                        if f.chars().all(|c| c == '0') {
                            w
                        } else {
                            t
                        }
                    },
                );
            whole.parse().ok()
        }
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 9e15 => Some(*f as i128),
        _ => None,
    }
}

fn segment_name(v: &Value, digits: usize, side: &'static str) -> Result<String, RowDiffError> {
    match v {
        Value::Text(t) | Value::Other(t)
            if t.len() == digits && t.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            Ok(t.to_ascii_lowercase())
        }
        other => Err(RowDiffError::BadSegment {
            side,
            value: other.to_string(),
        }),
    }
}

async fn segments(
    side: &mut DiffSide<'_>,
    sql: &str,
    digits: usize,
    control: &RunControl,
) -> Result<(Segments, usize), RowDiffError> {
    let w = side.which;
    let rows = read(side, w, sql, control).await?;
    let mut out = Segments::with_capacity(rows.rows.len());
    for r in &rows.rows {
        let bad = || RowDiffError::BadSegment {
            side: w,
            value: format!("{r:?}"),
        };
        let name = segment_name(r.first().ok_or_else(bad)?, digits, w)?;
        let count = r.get(1).and_then(integer).ok_or_else(bad)?;
        let sum = r.get(2).and_then(integer).ok_or_else(bad)?;
        out.insert(name, (count, sum));
    }
    Ok((out, rows.bytes))
}

/// The keyed rows of the segments that differ, from both sides at once, compared; the
/// values samples show are read with the rows of the first segments that differ, and
/// by key afterwards for any sample left without them.
#[allow(clippy::too_many_arguments)]
async fn keyed_leaf(
    (source, ss, se): (&mut DiffSide<'_>, &SideSql<'_>, &RowExprs),
    (target, ts, te): (&mut DiffSide<'_>, &SideSql<'_>, &RowExprs),
    within: (usize, &[String]),
    every_shown: bool,
    (names, max_samples): (&Names<'_>, usize),
    control: &RunControl,
    out: &mut RowDiffOutcome,
) -> Result<(), RowDiffError> {
    let width = (names.keys.len(), se.values());
    // the samples are the first differences in key-hash order: each segment that differs
    // holds one at least, so the first `max_samples` segments hold every sample
    let shown = if max_samples == 0 {
        ShownIn::None
    } else if every_shown {
        ShownIn::Every
    } else {
        ShownIn::Segments(&within.1[..max_samples.min(within.1.len())])
    };
    let reads_shown = !matches!(shown, ShownIn::None);
    let (s, t) = futures_util::future::join(
        leaf_rows(
            source,
            &ss.rows(se, within, shown),
            width,
            reads_shown,
            control,
        ),
        leaf_rows(
            target,
            &ts.rows(te, within, shown),
            width,
            reads_shown,
            control,
        ),
    )
    .await;
    let ((s, sb), (t, tb)) = (s?, t?);
    out.bytes_fetched += (sb + tb) as u64;
    let mut samples = compare::keyed(s, t, names.columns, max_samples, out);
    let unshown: Vec<String> = samples
        .iter()
        .filter(|s| {
            (s.difference != "only_in_target" && s.source.is_none())
                || (s.difference != "only_in_source" && s.target.is_none())
        })
        .map(|s| format!("{:016x}", s.key_hash))
        .collect();
    if !unshown.is_empty() {
        let (s, t) = futures_util::future::join(
            shown_rows(source, &ss.shown(se, &unshown), width.0, control),
            shown_rows(target, &ts.shown(te, &unshown), width.0, control),
        )
        .await;
        let ((mut s, sb), (mut t, tb)) = (s?, t?);
        out.queries += 1;
        out.bytes_fetched += (sb + tb) as u64;
        for sample in &mut samples {
            if sample.difference != "only_in_target" && sample.source.is_none() {
                sample.source = s.remove(&sample.key_hash);
            }
            if sample.difference != "only_in_source" && sample.target.is_none() {
                sample.target = t.remove(&sample.key_hash);
            }
        }
    }
    out.samples = samples
        .iter()
        .map(|s| compare::sample_json(s, names))
        .collect();
    Ok(())
}

/// Reads rows into what a comparison keeps of them, as they come: 64-bit hashes, not
/// text, so what is held grows with the differences, not with the values' width.
struct LeafSink {
    keys: usize,
    columns: usize,
    shown: bool,
    rows: Vec<LeafRow>,
    bytes: usize,
    bad: Option<String>,
}

fn hash64(v: &Value) -> Option<u64> {
    match v {
        Value::Text(t) | Value::Other(t) => u64::from_str_radix(t, 16).ok(),
        _ => None,
    }
}

impl RowSink for LeafSink {
    fn columns(&mut self, _names: Vec<String>) {}

    fn wants_more(&self) -> bool {
        self.bad.is_none()
    }

    fn row(&mut self, values: &mut Vec<Value>) {
        self.bytes += values.iter().map(value_bytes).sum::<usize>();
        let hashes: Option<Vec<u64>> = values.iter().take(2 + self.columns).map(hash64).collect();
        let Some(hashes) = hashes.filter(|h| h.len() == 2 + self.columns) else {
            self.bad = Some(format!("{values:?}"));
            return;
        };
        // after the hashes, a flag: are this row's values shown (read)?
        let shown = (self.shown
            && matches!(values.get(2 + self.columns).and_then(|f| f.as_f64()), Some(f) if f == 1.0))
        .then(|| {
            let rest = values.split_off(3 + self.columns);
            let (key, values) = rest.split_at(self.keys.min(rest.len()));
            Shown {
                key: key.to_vec(),
                values: values.to_vec(),
            }
        });
        self.rows.push(LeafRow {
            key_hash: hashes[0],
            row_hash: hashes[1],
            column_hashes: hashes[2..].to_vec(),
            shown,
        });
    }
}

/// About how many bytes a value took to read.
fn value_bytes(v: &Value) -> usize {
    match v {
        Value::Text(t) | Value::Other(t) | Value::Decimal(t) => t.len(),
        _ => 8,
    }
}

async fn leaf_rows(
    side: &mut DiffSide<'_>,
    sql: &str,
    (keys, columns): (usize, usize),
    shown: bool,
    control: &RunControl,
) -> Result<(Vec<LeafRow>, usize), RowDiffError> {
    let w = side.which;
    let mut sink = LeafSink {
        keys,
        columns,
        shown,
        rows: Vec::new(),
        bytes: 0,
        bad: None,
    };
    stream(side, sql, &mut sink, control).await?;
    if let Some(value) = sink.bad {
        return Err(RowDiffError::BadSegment { side: w, value });
    }
    Ok((sink.rows, sink.bytes))
}

/// The samples' rows of one side, by key hash.
async fn shown_rows(
    side: &mut DiffSide<'_>,
    sql: &str,
    keys: usize,
    control: &RunControl,
) -> Result<(HashMap<u64, Shown>, usize), RowDiffError> {
    let w = side.which;
    let rows = read(side, w, sql, control).await?;
    let mut out = HashMap::new();
    for mut r in rows.rows {
        let Some(key) = r.first().and_then(hash64) else {
            continue;
        };
        let rest = r.split_off(1);
        let (k, v) = rest.split_at(keys.min(rest.len()));
        out.entry(key).or_insert(Shown {
            key: k.to_vec(),
            values: v.to_vec(),
        });
    }
    Ok((out, rows.bytes))
}

/// Run a query whose rows go to `sink` as they are read, with `-vv` logging.
async fn stream(
    side: &mut DiffSide<'_>,
    sql: &str,
    sink: &mut dyn RowSink,
    control: &RunControl,
) -> Result<(), RowDiffError> {
    let query_error = |error| RowDiffError::Query {
        side: side.which,
        error,
    };
    control.check().map_err(query_error)?;
    let started = Instant::now();
    side.session
        .each_row(sql, sink)
        .await
        .map_err(query_error)?;
    debug!(
        "{}: rows_diff ({:.1} ms)\n{sql}",
        side.label,
        started.elapsed().as_secs_f64() * 1000.0
    );
    Ok(())
}

async fn counted_rows(
    side: &mut DiffSide<'_>,
    sql: &str,
    control: &RunControl,
) -> Result<(Vec<CountedRow>, usize), RowDiffError> {
    let w = side.which;
    let rows = read(side, w, sql, control).await?;
    let bytes = rows.bytes;
    let out = rows
        .rows
        .into_iter()
        .map(|r| CountedRow {
            row_hash: r[0].to_text().unwrap_or_default(),
            count: integer(&r[1]).unwrap_or(0).max(0) as u64,
            values: r[2..].to_vec(),
        })
        .collect();
    Ok((out, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_split_to_about_sixteen_rows_within_the_cap() {
        // 2,441 rows per segment (10M rows in 4,096): two more digits, 256 ways
        assert_eq!(more_digits(2441, 10), 2);
        // 3,700 of 4,096 segments differ: 256 ways would ask for 947k segments
        assert_eq!(more_digits(2441, 3700), 1);
        assert_eq!(more_digits(40, 5), 1);
    }

    #[test]
    fn counts_and_sums_read_exactly_whatever_their_type() {
        assert_eq!(integer(&Value::Int(12)), Some(12));
        assert_eq!(
            integer(&Value::Decimal("43980465111040000000".into())),
            Some(43980465111040000000)
        );
        assert_eq!(integer(&Value::Decimal("7.000".into())), Some(7));
        assert_eq!(integer(&Value::Decimal("7.5".into())), None);
        assert_eq!(integer(&Value::Null), Some(0));
    }
}

//! What two sides' segment checksums and rows say, with no I/O.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Map, Value as Json};

use crate::checks::RowDiffOutcome;
use crate::exec::Value;

/// A segment's row count and the sum of its rows' hashes.
pub type Segments = HashMap<String, (i128, i128)>;

/// The segments whose count or checksum differ (or that one side lacks), sorted, with
/// the larger side's row count of each.
pub fn differing(source: &Segments, target: &Segments) -> Vec<(String, i128)> {
    let mut out: Vec<(String, i128)> = source
        .iter()
        .filter(|(k, v)| target.get(*k) != Some(v))
        .map(|(k, v)| (k.clone(), v.0.max(target.get(k).map_or(0, |t| t.0))))
        .chain(
            target
                .iter()
                .filter(|(k, _)| !source.contains_key(*k))
                .map(|(k, v)| (k.clone(), v.0)),
        )
        .collect();
    out.sort();
    out
}

/// One row of a segment that differs, as read.
#[derive(Debug, Clone)]
pub struct LeafRow {
    pub key_hash: String,
    pub row_hash: String,
    pub column_hashes: Vec<String>,
    pub key: Vec<Value>,
    pub values: Vec<Value>,
}

/// Names the samples use: the target's key and compared columns.
pub struct Names<'a> {
    pub keys: &'a [String],
    pub columns: &'a [String],
}

/// Keyed rows of both sides -> rows only in one side, rows that differ (per column), and
/// samples. Rows of one key whose hashes are equal on both sides match first; of what is
/// left, rows pair up in order as differing, and the rest are only in their side.
pub fn keyed(
    source: Vec<LeafRow>,
    target: Vec<LeafRow>,
    names: &Names,
    max_samples: usize,
    out: &mut RowDiffOutcome,
) {
    let mut by_key: BTreeMap<String, (Vec<LeafRow>, Vec<LeafRow>)> = BTreeMap::new();
    for r in source {
        by_key.entry(r.key_hash.clone()).or_default().0.push(r);
    }
    for r in target {
        by_key.entry(r.key_hash.clone()).or_default().1.push(r);
    }
    let mut per_column = vec![0u64; names.columns.len()];
    for (_, (mut s, mut t)) in by_key {
        if s.len() > 1 {
            out.duplicate_keys.0 += s.len() as u64;
        }
        if t.len() > 1 {
            out.duplicate_keys.1 += t.len() as u64;
        }
        // equal rows of the key match each other
        s.retain(
            |row| match t.iter().position(|o| o.row_hash == row.row_hash) {
                Some(i) => {
                    t.remove(i);
                    false
                }
                None => true,
            },
        );
        let paired = s.len().min(t.len());
        for (a, b) in s.iter().zip(&t) {
            out.differing += 1;
            let mut shown = Map::new();
            for (i, name) in names.columns.iter().enumerate() {
                if a.column_hashes.get(i) != b.column_hashes.get(i) {
                    per_column[i] += 1;
                    shown.insert(
                        name.clone(),
                        json!({"source": a.values[i].to_row_json(), "target": b.values[i].to_row_json()}),
                    );
                }
            }
            if out.samples.len() < max_samples {
                out.samples.push(json!({
                    "difference": "differs",
                    "key": key_json(names, &a.key),
                    "columns": shown,
                }));
            }
        }
        for (side, rows) in [
            ("only_in_source", &s[paired..]),
            ("only_in_target", &t[paired..]),
        ] {
            for row in rows {
                match side {
                    "only_in_source" => out.only_in_source += 1,
                    _ => out.only_in_target += 1,
                }
                if out.samples.len() < max_samples {
                    out.samples.push(json!({
                        "difference": side,
                        "key": key_json(names, &row.key),
                        "values": values_json(names, &row.values),
                    }));
                }
            }
        }
    }
    out.columns = names.columns.iter().cloned().zip(per_column).collect();
}

/// A distinct row of one side (no keys) and how many times it is there.
#[derive(Debug, Clone)]
pub struct CountedRow {
    pub row_hash: String,
    pub count: u64,
    pub values: Vec<Value>,
}

/// Rows compared as multisets: a row twice in the source and once in the target is once
/// only in the source.
pub fn multiset(
    source: Vec<CountedRow>,
    target: Vec<CountedRow>,
    names: &Names,
    max_samples: usize,
    out: &mut RowDiffOutcome,
) {
    let mut counts: BTreeMap<String, (u64, u64, Vec<Value>)> = BTreeMap::new();
    for r in source {
        let e = counts.entry(r.row_hash).or_insert((0, 0, r.values));
        e.0 += r.count;
    }
    for r in target {
        let e = counts.entry(r.row_hash).or_insert((0, 0, r.values));
        e.1 += r.count;
    }
    for (_, (s, t, values)) in counts {
        let (side, n) = if s > t {
            out.only_in_source += s - t;
            ("only_in_source", s - t)
        } else {
            out.only_in_target += t - s;
            ("only_in_target", t - s)
        };
        if n > 0 && out.samples.len() < max_samples {
            out.samples.push(json!({
                "difference": side,
                "times": n,
                "values": values_json(names, &values),
            }));
        }
    }
    out.columns = names.columns.iter().map(|c| (c.clone(), 0)).collect();
}

fn key_json(names: &Names, key: &[Value]) -> Json {
    Json::Object(
        names
            .keys
            .iter()
            .zip(key)
            .map(|(n, v)| (n.clone(), v.to_row_json()))
            .collect(),
    )
}

fn values_json(names: &Names, values: &[Value]) -> Json {
    Json::Object(
        names
            .columns
            .iter()
            .zip(values)
            .map(|(n, v)| (n.clone(), v.to_row_json()))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key: &str, hash: &str, cols: &[&str]) -> LeafRow {
        LeafRow {
            key_hash: key.into(),
            row_hash: hash.into(),
            column_hashes: cols.iter().map(|c| c.to_string()).collect(),
            key: vec![Value::Text(key.into())],
            values: cols.iter().map(|c| Value::Text(c.to_string())).collect(),
        }
    }

    #[test]
    fn segments_that_differ_or_are_on_one_side_only() {
        let s: Segments = [
            ("a".into(), (2, 10)),
            ("b".into(), (1, 5)),
            ("c".into(), (1, 1)),
        ]
        .into_iter()
        .collect();
        let t: Segments = [
            ("a".into(), (2, 10)),
            ("b".into(), (1, 6)),
            ("d".into(), (3, 1)),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            differing(&s, &t),
            [
                ("b".to_string(), 1),
                ("c".to_string(), 1),
                ("d".to_string(), 3)
            ]
        );
    }

    #[test]
    fn keyed_rows_split_into_only_in_one_side_and_differing_per_column() {
        let names = Names {
            keys: &["id".into()],
            columns: &["amount".into(), "note".into()],
        };
        let source = vec![
            row("k1", "h1", &["1", "a"]),
            row("k2", "h2", &["2", "b"]),
            row("k3", "h3", &["3", "c"]),
        ];
        let target = vec![
            row("k1", "h1", &["1", "a"]),
            row("k2", "h2x", &["2", "B"]),
            row("k4", "h4", &["4", "d"]),
            // a duplicated key: one copy matches, the other is only in the target
            row("k1", "h1", &["1", "a"]),
        ];
        let mut out = RowDiffOutcome::default();
        keyed(source, target, &names, 10, &mut out);
        assert_eq!(
            (out.only_in_source, out.only_in_target, out.differing),
            (1, 2, 1)
        );
        assert_eq!(out.columns, [("amount".into(), 0), ("note".into(), 1)]);
        assert_eq!(out.duplicate_keys, (0, 2));
        let differs = out
            .samples
            .iter()
            .find(|s| s["difference"] == "differs")
            .unwrap();
        assert_eq!(differs["columns"]["note"]["target"], "B");
        assert!(differs["columns"].get("amount").is_none());
    }

    #[test]
    fn rows_without_keys_compare_as_multisets() {
        let names = Names {
            keys: &[],
            columns: &["v".into()],
        };
        let counted = |h: &str, n| CountedRow {
            row_hash: h.into(),
            count: n,
            values: vec![Value::Text(h.into())],
        };
        let mut out = RowDiffOutcome::default();
        multiset(
            vec![counted("a", 2), counted("b", 1)],
            vec![counted("a", 1), counted("c", 3)],
            &names,
            10,
            &mut out,
        );
        assert_eq!((out.only_in_source, out.only_in_target), (2, 3));
        assert_eq!(out.samples.len(), 3);
    }
}

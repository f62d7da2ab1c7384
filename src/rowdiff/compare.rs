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

/// A row's key and values as samples show them.
#[derive(Debug, Clone, Default)]
pub struct Shown {
    pub key: Vec<Value>,
    pub values: Vec<Value>,
}

/// One row of a segment that differs, as read: 64 bits of its key hash, its row hash and
/// each compared column's hash, and what samples show of it when that was read too.
#[derive(Debug, Clone)]
pub struct LeafRow {
    pub key_hash: u64,
    pub row_hash: u64,
    pub column_hashes: Vec<u64>,
    pub shown: Option<Shown>,
}

/// A difference kept as a sample: what differs, the key, the columns that differ, and
/// each side's row as shown (read with the rows, or afterwards by key).
#[derive(Debug, Clone)]
pub struct Sample {
    pub difference: &'static str,
    pub key_hash: u64,
    pub columns: Vec<usize>,
    pub source: Option<Shown>,
    pub target: Option<Shown>,
}

/// Names the samples use: the target's key and compared columns.
pub struct Names<'a> {
    pub keys: &'a [String],
    pub columns: &'a [String],
}

/// Keyed rows of both sides -> rows only in one side, rows that differ (per column), and
/// up to `max_samples` samples. Rows of one key whose hashes are equal on both sides
/// match first; of what is left, rows pair up in order as differing, and the rest are
/// only in their side.
pub fn keyed(
    source: Vec<LeafRow>,
    target: Vec<LeafRow>,
    columns: &[String],
    max_samples: usize,
    out: &mut RowDiffOutcome,
) -> Vec<Sample> {
    let mut by_key: HashMap<u64, (Vec<LeafRow>, Vec<LeafRow>)> = HashMap::new();
    for r in source {
        by_key.entry(r.key_hash).or_default().0.push(r);
    }
    for r in target {
        by_key.entry(r.key_hash).or_default().1.push(r);
    }
    let mut per_column = vec![0u64; columns.len()];
    let mut samples = Vec::new();
    let mut keys: Vec<u64> = by_key.keys().copied().collect();
    keys.sort_unstable();
    for key in keys {
        let Some((mut s, mut t)) = by_key.remove(&key) else {
            continue;
        };
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
            let differ: Vec<usize> = (0..columns.len())
                .filter(|i| a.column_hashes.get(*i) != b.column_hashes.get(*i))
                .collect();
            differ.iter().for_each(|i| per_column[*i] += 1);
            if samples.len() < max_samples {
                samples.push(Sample {
                    difference: "differs",
                    key_hash: key,
                    columns: differ,
                    source: a.shown.clone(),
                    target: b.shown.clone(),
                });
            }
        }
        for row in &s[paired..] {
            out.only_in_source += 1;
            if samples.len() < max_samples {
                samples.push(Sample {
                    difference: "only_in_source",
                    key_hash: key,
                    columns: Vec::new(),
                    source: row.shown.clone(),
                    target: None,
                });
            }
        }
        for row in &t[paired..] {
            out.only_in_target += 1;
            if samples.len() < max_samples {
                samples.push(Sample {
                    difference: "only_in_target",
                    key_hash: key,
                    columns: Vec::new(),
                    source: None,
                    target: row.shown.clone(),
                });
            }
        }
    }
    out.columns = columns.iter().cloned().zip(per_column).collect();
    samples
}

/// A sample as the diagnostics store keeps it.
pub fn sample_json(s: &Sample, names: &Names) -> Json {
    let key = s
        .source
        .as_ref()
        .or(s.target.as_ref())
        .map_or(Json::Null, |shown| key_json(names, &shown.key));
    match s.difference {
        "differs" => {
            let value = |side: &Option<Shown>, i: usize| {
                side.as_ref()
                    .and_then(|x| x.values.get(i))
                    .map_or(Json::Null, Value::to_row_json)
            };
            let columns: Map<String, Json> = s
                .columns
                .iter()
                .map(|i| {
                    (
                        names.columns[*i].clone(),
                        json!({"source": value(&s.source, *i), "target": value(&s.target, *i)}),
                    )
                })
                .collect();
            json!({"difference": "differs", "key": key, "columns": columns})
        }
        side => {
            let shown = s.source.as_ref().or(s.target.as_ref());
            let values = shown.map_or(Json::Null, |x| values_json(names, &x.values));
            json!({"difference": side, "key": key, "values": values})
        }
    }
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

    fn row(key: u64, hash: u64, cols: &[u64]) -> LeafRow {
        LeafRow {
            key_hash: key,
            row_hash: hash,
            column_hashes: cols.to_vec(),
            shown: Some(Shown {
                key: vec![Value::Int(key as i128)],
                values: cols.iter().map(|c| Value::Int(*c as i128)).collect(),
            }),
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
            row(1, 11, &[1, 10]),
            row(2, 22, &[2, 20]),
            row(3, 33, &[3, 30]),
        ];
        let target = vec![
            row(1, 11, &[1, 10]),
            row(2, 23, &[2, 21]),
            row(4, 44, &[4, 40]),
            // a duplicated key: one copy matches, the other is only in the target
            row(1, 11, &[1, 10]),
        ];
        let mut out = RowDiffOutcome::default();
        let samples = keyed(source, target, names.columns, 10, &mut out);
        assert_eq!(
            (out.only_in_source, out.only_in_target, out.differing),
            (1, 2, 1)
        );
        assert_eq!(out.columns, [("amount".into(), 0), ("note".into(), 1)]);
        assert_eq!(out.duplicate_keys, (0, 2));
        let differs = samples.iter().find(|s| s.difference == "differs").unwrap();
        let json = sample_json(differs, &names);
        assert_eq!(json["key"]["id"], 2);
        assert_eq!(json["columns"]["note"]["target"], 21);
        assert!(json["columns"].get("amount").is_none());
        assert_eq!(samples.len(), 4);
        let samples = keyed(
            vec![row(5, 1, &[1, 1])],
            vec![row(5, 2, &[1, 2])],
            names.columns,
            0,
            &mut RowDiffOutcome::default(),
        );
        assert!(samples.is_empty(), "no samples asked for");
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

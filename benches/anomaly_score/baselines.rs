//! The rules users have today, implemented here as their tools ship them, each judging a
//! point from the series so far:
//! - Elementary's anomaly test: z = (x - mean) / stddev over the last 14 points of the
//!   point's seasonal bucket, sample standard deviation, |z| > 3, at least 7 points; the
//!   judged point in its own window (as Elementary computes it) or not; buckets none,
//!   day of week, hour of day (and hour of week for series under a day);
//! - Deequ's OnlineNormalStrategy: running mean and variance including the point, 3
//!   deviations either way, the first 10% of the series not judged, anomalies kept out of
//!   the running statistics; run as a scheduled job would, on the series so far.

use crate::series::{Series, DAY};

/// Which points a detector alerts on.
pub type Alerts = Vec<bool>;

/// Elementary: the 14 newest points of the bucket (the judged one with them when
/// `with_point`); |z| > 3.
pub fn elementary(s: &Series, bucket: impl Fn(i64) -> i64, with_point: bool) -> Alerts {
    let mut by_bucket: std::collections::HashMap<i64, Vec<f64>> = Default::default();
    (0..s.values.len())
        .map(|i| {
            let x = s.values[i];
            let seen = by_bucket.entry(bucket(s.at(i))).or_default();
            if with_point {
                seen.push(x);
            }
            let window = &seen[seen.len().saturating_sub(14)..];
            let alert = window.len() >= 7 && {
                let n = window.len() as f64;
                let mean = window.iter().sum::<f64>() / n;
                let var = window.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
                let sd = var.sqrt();
                sd > 0.0 && ((x - mean) / sd).abs() > 3.0
            };
            if !with_point {
                seen.push(x);
            }
            alert
        })
        .collect()
}

/// Deequ's OnlineNormalStrategy over `values`: whether the last point is an anomaly.
fn deequ_last(values: &[f64]) -> bool {
    let skip = values.len() as f64 * 0.1;
    let (mut mean, mut sn) = (0.0f64, 0.0f64);
    let mut last = false;
    for (i, &x) in values.iter().enumerate() {
        let (last_mean, last_sn) = (mean, sn);
        mean = if i == 0 {
            x
        } else {
            last_mean + (x - last_mean) / (i + 1) as f64
        };
        sn += (x - last_mean) * (x - mean);
        let sd = (sn / (i + 1) as f64).sqrt();
        let inside = x <= mean + 3.0 * sd && x >= mean - 3.0 * sd;
        last = !((i as f64) < skip || inside);
        if last {
            mean = last_mean;
            sn = last_sn;
        }
    }
    last
}

pub fn deequ(s: &Series) -> Alerts {
    (0..s.values.len())
        .map(|i| deequ_last(&s.values[..=i]))
        .collect()
}

/// Each baseline by name, for series of this step.
/// A baseline by name, as a detector of a whole series.
pub type Baseline = (String, Box<dyn Fn(&Series) -> Alerts>);
/// A season's bucket of a time, by name.
type Bucket = (&'static str, fn(i64) -> i64);

pub fn all(step: i64) -> Vec<Baseline> {
    let mut buckets: Vec<Bucket> = vec![
        ("none", |_| 0),
        ("day of week", |t| t.div_euclid(DAY).rem_euclid(7)),
    ];
    if step < DAY {
        buckets.push(("hour of day", |t| t.rem_euclid(DAY) / 3_600));
        buckets.push(("hour of week", |t| t.rem_euclid(7 * DAY) / 3_600));
    }
    let mut out: Vec<Baseline> = Vec::new();
    for (name, bucket) in buckets {
        for with_point in [true, false] {
            out.push((
                format!(
                    "elementary, {name}{}",
                    if with_point { "" } else { ", point apart" }
                ),
                Box::new(move |s: &Series| elementary(s, bucket, with_point)),
            ));
        }
    }
    out.push(("deequ online normal".into(), Box::new(deequ)));
    out
}

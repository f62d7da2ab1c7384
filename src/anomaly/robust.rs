//! Robust statistics for anomaly detection: the median and the median absolute
//! deviation (MAD), which one outlier cannot drag the way it drags a mean and a standard
//! deviation, and a spread with floors for series that hardly move.

/// MAD times this estimates the standard deviation of normally distributed data.
pub const MAD_TO_SIGMA: f64 = 1.4826;

/// The median of `values` (None when empty). NaNs are not expected: callers keep only
/// measured numbers.
pub fn median(values: &[f64]) -> Option<f64> {
    median_in_place(&mut values.to_vec())
}

/// The median of `values`, which it reorders: no copy, for a caller that owns a buffer.
pub fn median_in_place(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let n = v.len();
    // selection, not a sort: linear time
    let (below, mid, _) = v.select_nth_unstable_by(n / 2, |a, b| a.total_cmp(b));
    let mid = *mid;
    Some(if n % 2 == 1 {
        mid
    } else {
        let lower = below.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lower + mid) / 2.0
    })
}

/// Medians of a window sliding over `values`: for each i, the median of
/// `values[start(i)..start(i) + len]` (`start` never decreasing, clamped to the end). A
/// sorted copy of the window is kept, so each step costs an insertion and a removal.
pub fn sliding_medians(values: &[f64], len: usize, start: impl Fn(usize) -> usize) -> Vec<f64> {
    let n = values.len();
    let mut out = Vec::with_capacity(n);
    if len == 0 || n < len {
        return out;
    }
    let mut window: Vec<f64> = values[..len].to_vec();
    window.sort_by(|a, b| a.total_cmp(b));
    let mut at = 0;
    for i in 0..n {
        let s = start(i).min(n - len);
        while at < s {
            let old = values[at];
            let k = window.partition_point(|x| x.total_cmp(&old).is_lt());
            window.remove(k);
            let new = values[at + len];
            let k = window.partition_point(|x| x.total_cmp(&new).is_lt());
            window.insert(k, new);
            at += 1;
        }
        out.push(if len % 2 == 1 {
            window[len / 2]
        } else {
            (window[len / 2 - 1] + window[len / 2]) / 2.0
        });
    }
    out
}

/// The median absolute deviation from `center`, scaled to estimate a standard deviation.
pub fn mad(values: &[f64], center: f64) -> f64 {
    let deviations: Vec<f64> = values.iter().map(|v| (v - center).abs()).collect();
    median(&deviations).unwrap_or(0.0) * MAD_TO_SIGMA
}

/// How much wider than a normal distribution's a Student-t's 97.5% quantile is, with
/// `dof` degrees of freedom: the factor by which a spread measured from few points
/// understates the spread of the next one (2.2 with 3 points, 1.3 with 6, 1.04 with 30).
pub fn few_points_widening(dof: usize) -> f64 {
    const T975: [f64; 10] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    ];
    const Z975: f64 = 1.959_964;
    let t = match dof {
        0 => T975[0],
        1..=10 => T975[dof - 1],
        // Cornish-Fisher: close to the table beyond 10
        _ => {
            let (z, v) = (Z975, dof as f64);
            z + (z.powi(3) + z) / (4.0 * v)
                + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * v * v)
        }
    };
    t / Z975
}

/// How a series' values behave, for the floor of its spread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesKind {
    /// counts (rows, missing values): Poisson-like, so a count near `n` wobbles by
    /// about sqrt(n) even when nothing is wrong
    Count,
    /// any other measure (averages, lengths, seconds)
    Measure,
}

/// The spread a point is judged against: the residuals' MAD, but never below a share of
/// the level (`relative_floor`, e.g. 0.01 for 1%) nor, for counts, below sqrt(level).
/// A stable table's tiny changes stay inside it.
pub fn spread(residuals: &[f64], level: f64, kind: SeriesKind, relative_floor: f64) -> f64 {
    let center = median(residuals).unwrap_or(0.0);
    let measured = mad(residuals, center);
    let relative = level.abs() * relative_floor;
    let poisson = match kind {
        SeriesKind::Count => level.abs().sqrt(),
        SeriesKind::Measure => 0.0,
    };
    // a series of identical zeros still needs some room: one unit for counts
    let minimum = match kind {
        SeriesKind::Count => 1.0,
        SeriesKind::Measure => f64::EPSILON,
    };
    measured.max(relative).max(poisson).max(minimum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_mads_ignore_one_outlier() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        let with_outlier = [10.0, 11.0, 9.0, 10.0, 1000.0];
        assert_eq!(median(&with_outlier), Some(10.0));
        // |dev| = 0, 1, 1, 0, 990 -> median 1
        assert!((mad(&with_outlier, 10.0) - MAD_TO_SIGMA).abs() < 1e-12);
    }

    #[test]
    fn sliding_medians_match_plain_ones() {
        let values: Vec<f64> = (0..50)
            .map(|i| ((i * 37) % 11) as f64 - (i % 4) as f64)
            .collect();
        for len in [1, 4, 7] {
            let got = sliding_medians(&values, len, |i| i.saturating_sub(len / 2));
            assert_eq!(got.len(), values.len());
            for (i, m) in got.iter().enumerate() {
                let s = i.saturating_sub(len / 2).min(values.len() - len);
                assert_eq!(Some(*m), median(&values[s..s + len]), "len {len} at {i}");
            }
        }
    }

    #[test]
    fn few_points_widen_the_band_as_a_t_distribution_does() {
        assert!((few_points_widening(2) - 2.195).abs() < 0.01);
        assert!((few_points_widening(5) - 1.312).abs() < 0.01);
        // the approximation meets the table: t(11) = 2.201, t(30) = 2.042
        assert!((few_points_widening(11) - 2.201 / 1.96).abs() < 0.005);
        assert!((few_points_widening(30) - 2.042 / 1.96).abs() < 0.005);
        assert!((few_points_widening(1000) - 1.9623 / 1.96).abs() < 0.001);
    }

    #[test]
    fn the_spread_has_floors_for_stable_series() {
        // a count that never moves: sqrt(level) keeps 10,001 rows from alerting
        let flat = [0.0; 20];
        assert_eq!(spread(&flat, 10_000.0, SeriesKind::Count, 0.0), 100.0);
        // a measure that never moves: 1% of its level
        assert!((spread(&flat, 50.0, SeriesKind::Measure, 0.01) - 0.5).abs() < 1e-12);
        // zeros: one unit of a count
        assert_eq!(spread(&flat, 0.0, SeriesKind::Count, 0.01), 1.0);
        // a noisy series keeps its own spread
        let noisy = [-30.0, 25.0, -10.0, 40.0, 5.0, -20.0, 15.0];
        assert!(spread(&noisy, 100.0, SeriesKind::Count, 0.01) > 10.0);
    }
}

//! Robust statistics for anomaly detection: the median and the median absolute
//! deviation (MAD), which one outlier cannot drag the way it drags a mean and a standard
//! deviation, and a spread with floors for series that hardly move.

/// MAD times this estimates the standard deviation of normally distributed data.
pub const MAD_TO_SIGMA: f64 = 1.4826;

/// The median of `values` (None when empty). NaNs are not expected: callers keep only
/// measured numbers.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// The median absolute deviation from `center`, scaled to estimate a standard deviation.
pub fn mad(values: &[f64], center: f64) -> f64 {
    let deviations: Vec<f64> = values.iter().map(|v| (v - center).abs()).collect();
    median(&deviations).unwrap_or(0.0) * MAD_TO_SIGMA
}

/// How a series' values behave, for the floor of its spread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// counts (rows, missing values): Poisson-like, so a count near `n` wobbles by
    /// about sqrt(n) even when nothing is wrong
    Count,
    /// any other measure (averages, lengths, seconds)
    Measure,
}

/// The spread a point is judged against: the residuals' MAD, but never below a share of
/// the level (`relative_floor`, e.g. 0.01 for 1%) nor, for counts, below sqrt(level).
/// A stable table's tiny changes stay inside it.
pub fn spread(residuals: &[f64], level: f64, kind: Kind, relative_floor: f64) -> f64 {
    let center = median(residuals).unwrap_or(0.0);
    let measured = mad(residuals, center);
    let relative = level.abs() * relative_floor;
    let poisson = match kind {
        Kind::Count => level.abs().sqrt(),
        Kind::Measure => 0.0,
    };
    // a series of identical zeros still needs some room: one unit for counts
    let minimum = match kind {
        Kind::Count => 1.0,
        Kind::Measure => f64::EPSILON,
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
    fn the_spread_has_floors_for_stable_series() {
        // a count that never moves: sqrt(level) keeps 10,001 rows from alerting
        let flat = [0.0; 20];
        assert_eq!(spread(&flat, 10_000.0, Kind::Count, 0.0), 100.0);
        // a measure that never moves: 1% of its level
        assert!((spread(&flat, 50.0, Kind::Measure, 0.01) - 0.5).abs() < 1e-12);
        // zeros: one unit of a count
        assert_eq!(spread(&flat, 0.0, Kind::Count, 0.01), 1.0);
        // a noisy series keeps its own spread
        let noisy = [-30.0, 25.0, -10.0, 40.0, 5.0, -20.0, 15.0];
        assert!(spread(&noisy, 100.0, Kind::Count, 0.01) > 10.0);
    }
}

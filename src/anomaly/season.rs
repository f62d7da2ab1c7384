//! Seasons: a series of row counts is lower at night and at weekends, and judging a
//! Sunday against a Tuesday alerts every week. A season splits time into phases (hours
//! of the day, days or hours of the week); its profile is each phase's typical share of
//! the level (or offset from it, for series that reach zero or below).

use super::robust::{mad, median, sliding_medians};

pub const DAY: i64 = 86_400;
pub const WEEK: i64 = 7 * DAY;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Season {
    None,
    /// phases: the steps of a day (hour of day for hourly series)
    Daily,
    /// phases: the steps of a week (day of week for daily series; for hourly ones hour
    /// of day times day of week)
    Weekly,
}

impl Season {
    pub fn period(self) -> i64 {
        match self {
            Season::None => 0,
            Season::Daily => DAY,
            Season::Weekly => WEEK,
        }
    }

    pub fn describe(self, step: i64) -> &'static str {
        match self {
            Season::None => "no seasonality",
            Season::Daily => "hour-of-day seasonality",
            Season::Weekly if step >= DAY => "day-of-week seasonality",
            Season::Weekly => "hour-of-day and day-of-week seasonality",
        }
    }

    /// How many phases the season has for series of this step; None when it does not
    /// apply (a daily season of a daily series, a step that does not divide the period).
    pub fn phases(self, step: i64) -> Option<usize> {
        match self {
            Season::None => Some(1),
            _ => {
                let p = self.period();
                (step > 0 && step < p && p % step == 0).then_some((p / step) as usize)
            }
        }
    }

    /// The phase of time `t`, rounded to the nearest step so that a scan a few seconds
    /// early or late lands in its own phase.
    pub fn phase(self, step: i64, t: i64) -> usize {
        match self {
            Season::None => 0,
            _ => ((t + step / 2).rem_euclid(self.period()) / step) as usize,
        }
    }

    /// Which cycle (day, week) time `t` falls in.
    pub fn cycle(self, step: i64, t: i64) -> i64 {
        match self {
            Season::None => 0,
            _ => (t + step / 2).div_euclid(self.period()),
        }
    }
}

/// Is `t` (UTC seconds, rounded to the step) on the last day of its month?
pub fn is_month_end(step: i64, t: i64) -> bool {
    use chrono::Datelike;
    let Some(at) = chrono::DateTime::from_timestamp(t + step.min(DAY) / 2, 0) else {
        return false;
    };
    (at.date_naive() + chrono::Days::new(1)).day() == 1
}

/// A season fitted to training points.
#[derive(Debug, Clone)]
pub struct Profile {
    pub season: Season,
    /// factors (multiplicative) or offsets (additive), one per phase
    pub values: Vec<f64>,
    pub multiplicative: bool,
    /// the spread of what the season leaves, MAD-based: in deseasonalised units, or as
    /// a share of the expected value when multiplicative (for counts: beyond their
    /// Poisson noise, which is added back for each expected value)
    pub spread: f64,
    /// counts in shares: the noise is spread^2 E^2 + E at an expected count E
    pub poisson: bool,
    /// how much wider than measured the spread was made (for the Poisson part too)
    pub inflation: f64,
    /// how well the season fits: the mean forecast error it leaves (less the largest
    /// 2%). A MAD would not see a weekend or a night at all (a few points in many); a
    /// mean does, so this chooses seasons.
    pub misfit: f64,
}

impl Profile {
    pub fn neutral(&self) -> f64 {
        if self.multiplicative {
            1.0
        } else {
            0.0
        }
    }

    /// The season's part at phase `ph`.
    pub fn at(&self, ph: usize) -> f64 {
        self.values.get(ph).copied().unwrap_or(self.neutral())
    }

    pub fn remove(&self, value: f64, factor: f64) -> f64 {
        if self.multiplicative {
            value / factor
        } else {
            value - factor
        }
    }

    pub fn apply(&self, value: f64, factor: f64) -> f64 {
        if self.multiplicative {
            value * factor
        } else {
            value + factor
        }
    }

    /// Fit `season` to points (time, value), oldest first. None when some phase has
    /// fewer than two points: too little to say what that phase is like.
    /// `level_points` consecutive points make a level (for the spread).
    pub fn fit(
        season: Season,
        step: i64,
        points: &[(i64, f64)],
        multiplicative: bool,
        counts: bool,
        level_points: usize,
    ) -> Option<Profile> {
        let phases = season.phases(step)?;
        let values = if season == Season::Weekly && step < DAY {
            two_factor(step, points, multiplicative)?
        } else {
            shares(season, step, points, multiplicative)?
        };
        let mut profile = Profile {
            season,
            values,
            multiplicative,
            poisson: counts && multiplicative,
            inflation: 1.0,
            spread: 0.0,
            misfit: 0.0,
        };
        debug_assert_eq!(profile.values.len(), phases);
        let factors: Vec<f64> = points
            .iter()
            .map(|&(t, _)| profile.at(season.phase(step, t)))
            .collect();
        let d: Vec<f64> = points
            .iter()
            .zip(&factors)
            .map(|(&(_, v), &f)| profile.remove(v, f))
            .collect();
        let (errors, expected) = forecast_errors(&d, &factors, level_points, multiplicative);
        let center = median(&errors).unwrap_or(0.0);
        // a phase learned from k points is itself off by about 1.25 sigma / sqrt(k), and
        // it fits its own points closer than the next one: the errors measured here are
        // smaller than those to come by sqrt((1 + 1.57/k) / (1 - 1/k)); few errors
        // measure a spread loosely, which widens it too (as a t-distribution does)
        // hour of day times day of week learns 24 + 7 numbers, not 168
        let learned = if season == Season::Weekly && step < DAY {
            Season::Daily.phases(step).unwrap_or(phases).max(7)
        } else {
            phases
        };
        let k = if phases > 1 {
            (points.len() as f64 / learned as f64).max(1.5)
        } else {
            f64::INFINITY
        };
        let unseen = ((1.0 + 1.57 / k) / (1.0 - 1.0 / k)).sqrt();
        let few = (1.0 + 4.0 / errors.len().max(1) as f64).sqrt();
        let measured = if profile.poisson {
            let centered: Vec<f64> = errors.iter().map(|e| e - center).collect();
            relative_beyond_poisson(&centered, &expected)
        } else {
            mad(&errors, center)
        };
        profile.spread = measured * unseen * few;
        profile.inflation = unseen * few;
        let mut abs: Vec<f64> = errors.iter().map(|e| (e - center).abs()).collect();
        abs.sort_by(|a, b| a.total_cmp(b));
        // the largest 2% are left out: anomalies the learning period let in
        let kept = &abs[..abs.len() - abs.len() / 50];
        // a phase's median of k points sits closer to those points than to the next one:
        // by about sqrt(1 - 1/k), which would favour many phases seen few times
        let per_phase = points.len() as f64 / learned as f64;
        let fitted = (1.0 - 1.0 / per_phase.max(1.5)).sqrt();
        profile.misfit = kept.iter().sum::<f64>() / kept.len().max(1) as f64 / fitted;
        Some(profile)
    }
}

/// Each phase's typical share of the level (or offset from it): every point against the
/// median of the whole cycle around it (the cycle's worth of points centred on it), so
/// that a history starting mid-week counts every weekday alike.
fn shares(
    season: Season,
    step: i64,
    points: &[(i64, f64)],
    multiplicative: bool,
) -> Option<Vec<f64>> {
    let phases = season.phases(step)?;
    let neutral = if multiplicative { 1.0 } else { 0.0 };
    if phases == 1 {
        return Some(vec![neutral]);
    }
    let n = points.len();
    if n < 2 * phases {
        return None;
    }
    let values: Vec<f64> = points.iter().map(|p| p.1).collect();
    let levels = sliding_medians(&values, phases, |i| i.saturating_sub(phases / 2));
    let mut by_phase: Vec<Vec<f64>> = vec![Vec::new(); phases];
    for (i, &(t, v)) in points.iter().enumerate() {
        let level = levels[i];
        let share = if multiplicative {
            if level == 0.0 {
                continue;
            }
            v / level
        } else {
            v - level
        };
        by_phase[season.phase(step, t)].push(share);
    }
    let mut out = Vec::with_capacity(phases);
    for shares in &by_phase {
        if shares.len() < 2 {
            return None;
        }
        let m = median(shares).unwrap_or(neutral);
        // a phase that is mostly empty (a night without loads) still scales with the
        // level, a little: dividing by its share must stay finite
        out.push(if multiplicative { m.max(0.05) } else { m });
    }
    Some(out)
}

/// Hour of day and day of week for a series of several points a day: the day's shape,
/// then each weekday's share of the week from the days' levels. Far fewer numbers to
/// learn than one per hour of the week, so two weeks of history are enough.
fn two_factor(step: i64, points: &[(i64, f64)], multiplicative: bool) -> Option<Vec<f64>> {
    let per_day = Season::Daily.phases(step)?;
    let hours = shares(Season::Daily, step, points, multiplicative)?;
    let mut days: Vec<(i64, f64)> = Vec::new();
    let mut start = 0;
    while start < points.len() {
        let day = Season::Daily.cycle(step, points[start].0);
        let mut end = start;
        while end < points.len() && Season::Daily.cycle(step, points[end].0) == day {
            end += 1;
        }
        let d: Vec<f64> = points[start..end]
            .iter()
            .map(|&(t, v)| {
                let f = hours[Season::Daily.phase(step, t)];
                if multiplicative {
                    v / f
                } else {
                    v - f
                }
            })
            .collect();
        // a day seen in less than half its steps says little of its level
        if d.len() * 2 >= per_day {
            days.push((day * DAY, median(&d).unwrap_or(0.0)));
        }
        start = end;
    }
    let weekdays = shares(Season::Weekly, DAY, &days, multiplicative)?;
    Some(
        (0..7 * per_day)
            .map(|h| {
                let (hour, day) = (hours[h % per_day], weekdays[h / per_day]);
                if multiplicative {
                    hour * day
                } else {
                    hour + day
                }
            })
            .collect(),
    )
}

/// How far each point of a deseasonalised series falls from the level of the
/// `level_points` before it: the errors of the forecast the detector makes, the level's
/// own error included. Their MAD is the spread; their mean shows what a season leaves
/// unexplained (a weekend judged against the week's level), so it chooses seasons.
/// `relative`: as shares of the level, for counts, whose noise grows with their level
/// (after a level shift to twice the rows, the wobble doubles too); each with the
/// expected value in the series' own units (level times the point's season `factors`).
pub fn forecast_errors(
    d: &[f64],
    factors: &[f64],
    level_points: usize,
    relative: bool,
) -> (Vec<f64>, Vec<f64>) {
    let l = level_points.max(2).min(d.len().saturating_sub(2)).max(1);
    let mut errors = Vec::with_capacity(d.len());
    let mut expected = Vec::with_capacity(d.len());
    if d.len() <= l {
        return (errors, expected);
    }
    // the level before point i: the median of d[i - l..i]
    let levels = sliding_medians(&d[..d.len() - 1], l, |j| j);
    for i in l..d.len() {
        let level = levels[i - l];
        match relative {
            false => errors.push(d[i] - level),
            true if level > 0.0 => errors.push((d[i] - level) / level),
            true => continue,
        }
        expected.push(level * factors[i]);
    }
    (errors, expected)
}

/// The relative noise of a count beyond its Poisson part: the s for which relative
/// errors r, at expected counts E, look like draws of variance s^2 + 1/E (the median
/// of r^2 / (s^2 + 1/E) is then that of a chi-square with one degree of freedom,
/// 0.455). Zero for a count whose wobble is all Poisson; a sparse count at night and a
/// busy one at noon are then each judged by their own noise.
pub fn relative_beyond_poisson(r: &[f64], expected: &[f64]) -> f64 {
    const CHI2_MEDIAN: f64 = 0.454_936;
    let n = r.len().min(expected.len());
    if n == 0 {
        return 0.0;
    }
    let median_at = |s2: f64| {
        let scaled: Vec<f64> = (0..n)
            .map(|i| r[i] * r[i] / (s2 + 1.0 / expected[i].max(1e-9)))
            .collect();
        median(&scaled).unwrap_or(0.0)
    };
    if median_at(0.0) <= CHI2_MEDIAN {
        return 0.0;
    }
    let (mut lo, mut hi) = (
        0.0f64,
        r.iter().map(|x| x * x).fold(1e-12, f64::max) / CHI2_MEDIAN,
    );
    for _ in 0..40 {
        let mid = (lo + hi) / 2.0;
        if median_at(mid) > CHI2_MEDIAN {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    ((lo + hi) / 2.0).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_round_to_the_nearest_step() {
        let hour = 3600;
        // 1970-01-01 was a Thursday; 05:59:58 and 06:00:03 are both hour 6
        assert_eq!(Season::Daily.phase(hour, 6 * hour - 2), 6);
        assert_eq!(Season::Daily.phase(hour, 6 * hour + 3), 6);
        assert_eq!(Season::Daily.phases(hour), Some(24));
        assert_eq!(Season::Weekly.phases(hour), Some(168));
        assert_eq!(Season::Weekly.phases(DAY), Some(7));
        assert_eq!(Season::Daily.phases(DAY), None);
        assert_eq!(Season::Weekly.phase(DAY, 3 * DAY), 3);
    }

    #[test]
    fn month_ends() {
        let t = |s: &str| {
            chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
                .unwrap()
                .and_utc()
                .timestamp()
        };
        assert!(is_month_end(DAY, t("2026-02-28 00:00:00")));
        assert!(!is_month_end(DAY, t("2028-02-28 00:00:00")));
        assert!(is_month_end(DAY, t("2028-02-29 00:00:00")));
        assert!(is_month_end(3600, t("2026-11-30 23:00:00")));
        assert!(!is_month_end(3600, t("2026-12-01 00:00:00")));
    }

    #[test]
    fn a_weekly_profile_is_found_and_narrows_the_spread() {
        // weekdays 1000, weekends 500, with a little noise
        let points: Vec<(i64, f64)> = (0..56)
            .map(|i| {
                let t = i * DAY;
                let weekend = matches!(Season::Weekly.phase(DAY, t), 2 | 3);
                let noise = [3.0, -2.0, 1.0, -4.0, 2.0][i as usize % 5];
                (t, if weekend { 500.0 } else { 1000.0 } + noise)
            })
            .collect();
        let none = Profile::fit(Season::None, DAY, &points, true, false, 7).unwrap();
        let weekly = Profile::fit(Season::Weekly, DAY, &points, true, false, 7).unwrap();
        assert!((weekly.at(2) - 0.5).abs() < 0.02, "{:?}", weekly.values);
        assert!(weekly.misfit < none.misfit / 10.0);
        // a phase seen once is not enough
        assert!(Profile::fit(Season::Weekly, DAY, &points[..10], true, false, 7).is_none());
    }
}

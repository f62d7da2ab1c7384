//! Seasons: a series of row counts is lower at night and at weekends, and judging a
//! Sunday against a Tuesday alerts every week. A season splits time into phases (hours
//! of the day, days or hours of the week); its profile is each phase's typical share of
//! the level (or offset from it, for series that reach zero or below).

use super::robust::{few_points_widening, mad, median, median_in_place, sliding_medians};

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
    /// the season in words, for reasons
    pub note: String,
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
    /// `level_points` consecutive points make a level (for the spread). `flagged[i]`:
    /// point i was judged an anomaly (it shapes the season, not the tail of the errors;
    /// shorter than `points`: the rest were not).
    pub fn fit(
        season: Season,
        step: i64,
        points: &[(i64, f64)],
        flagged: &[bool],
        multiplicative: bool,
        counts: bool,
        level_points: usize,
    ) -> Option<Profile> {
        let phases = season.phases(step)?;
        let mut note = season.describe(step).to_string();
        // how many numbers the season learns: a phase's median of k points sits closer
        // to them than to the next point
        let learned;
        let values = if season == Season::Weekly && step < DAY {
            let (values, weekdays, own) = hour_of_week(step, points, multiplicative)?;
            let per_day = phases / 7;
            learned = (per_day + 7) as f64 + own * phases as f64;
            note = format!(
                "hour-of-week seasonality (hour of day, day of week at {:.0}%, each day's own shape at {:.0}%)",
                weekdays * 100.0,
                own * 100.0
            );
            values
        } else {
            let (values, weight) = shares(season, step, points, multiplicative)?;
            // pooled toward neutral, the phases learn that much of their own
            learned = 1.0 + (phases as f64 - 1.0) * weight;
            values
        };
        let mut profile = Profile {
            season,
            note,
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
        let (errors, expected, at) = forecast_errors(&d, &factors, level_points, multiplicative);
        let center = median(&errors).unwrap_or(0.0);
        // a phase learned from k points is itself off by about 1.25 sigma / sqrt(k), and
        // it fits its own points closer than the next one: the errors measured here are
        // smaller than those to come by sqrt((1 + 1.57/k) / (1 - 1/k)); few errors
        // measure a spread loosely, which widens it too (as a t-distribution does)
        let k = if phases > 1 {
            (points.len() as f64 / learned).max(1.5)
        } else {
            f64::INFINITY
        };
        let unseen = ((1.0 + 1.57 / k) / (1.0 - 1.0 / k)).sqrt();
        let few = few_points_widening(errors.len().saturating_sub(1));
        let measured = if profile.poisson {
            let centered: Vec<f64> = errors.iter().map(|e| e - center).collect();
            relative_beyond_poisson(&centered, &expected)
        } else {
            mad(&errors, center)
        };
        // real metrics wander further than a normal distribution of that MAD would (a hot
        // week of electricity load, a busy season): when the errors' tail is heavier,
        // the range widens by as much, so that a swing as large as ones the history
        // holds is no anomaly
        let normal: Vec<usize> = (0..errors.len())
            .filter(|&j| !flagged.get(at[j]).copied().unwrap_or(false))
            .collect();
        let tail = if profile.poisson {
            let z: Vec<f64> = normal
                .iter()
                .map(|&j| {
                    (errors[j] - center) / (measured.powi(2) + 1.0 / expected[j].max(1e-9)).sqrt()
                })
                .collect();
            tail_heaviness(&z, 1.0)
        } else {
            let z: Vec<f64> = normal.iter().map(|&j| errors[j] - center).collect();
            tail_heaviness(&z, measured)
        };
        profile.spread = measured * unseen * few * tail;
        profile.inflation = unseen * few * tail;
        profile.misfit = misfit(&errors, center, points.len() as f64 / learned);
        Some(profile)
    }
}

/// How badly a season fits: the mean absolute error, its largest 2% left out (anomalies
/// the learning period let in), corrected for how closely phases of `per_phase` points
/// each fit their own points.
fn misfit(errors: &[f64], center: f64, per_phase: f64) -> f64 {
    let mut abs: Vec<f64> = errors.iter().map(|e| (e - center).abs()).collect();
    let keep = abs.len() - abs.len() / 50;
    if keep < abs.len() {
        // the smallest `keep` first, in any order: a selection, not a sort
        abs.select_nth_unstable_by(keep, |a, b| a.total_cmp(b));
    }
    let kept = &abs[..keep];
    // a phase's median of k points sits closer to those points than to the next one:
    // by about sqrt(1 - 1/k), which would favour many phases seen few times
    let fitted = (1.0 - 1.0 / per_phase.max(1.5)).sqrt();
    kept.iter().sum::<f64>() / kept.len().max(1) as f64 / fitted
}

/// Each phase's typical share of the level (or offset from it): every point against the
/// median of the whole cycle around it (the cycle's worth of points centred on it), so
/// that a history starting mid-week counts every weekday alike.
fn shares(
    season: Season,
    step: i64,
    points: &[(i64, f64)],
    multiplicative: bool,
) -> Option<(Vec<f64>, f64)> {
    let phases = season.phases(step)?;
    let neutral = if multiplicative { 1.0 } else { 0.0 };
    if phases == 1 {
        return Some((vec![neutral], 1.0));
    }
    // one whole cycle, every phase seen: a phase seen once is pooled (see `pool`)
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
    if by_phase.iter().any(|p| p.is_empty()) {
        return None;
    }
    let (pooled, weight) = pool(&by_phase, neutral, None);
    // a phase that is mostly empty (a night without loads) still scales with the level,
    // a little: dividing by its share must stay finite
    Some((
        pooled
            .into_iter()
            .map(|m| if multiplicative { m.max(0.05) } else { m })
            .collect(),
        weight,
    ))
}

/// Effects grouped by phase, pooled toward neutral (partial pooling): each phase's median
/// is trusted by how much the phases differ from each other (their spread, beyond what
/// noise alone would give) against how noisy a phase's own few samples are. A phase
/// seen many times keeps its own value; one seen once, in a series whose phases hardly
/// differ, stays near neutral; one never seen is neutral. Returns the pooled values and
/// the weight given to the phases' own medians (the mean over seen phases).
/// `sample_noise`: the variance of one sample when the caller knows it otherwise (a
/// day's level read off its hours), used while no phase was seen twice.
pub fn pool(groups: &[Vec<f64>], neutral: f64, sample_noise: Option<f64>) -> (Vec<f64>, f64) {
    let medians: Vec<Option<f64>> = groups.iter().map(|g| median(g)).collect();
    // the noise of one sample around its phase's median, from phases seen twice or more
    let mut deviations = Vec::new();
    let mut dof = 0.0;
    for (g, m) in groups.iter().zip(&medians) {
        if let (Some(m), true) = (m, g.len() >= 2) {
            deviations.extend(g.iter().map(|x| x - m));
            dof += (g.len() - 1) as f64 / g.len() as f64;
        }
    }
    let noise = (!deviations.is_empty())
        .then(|| {
            let s = mad(&deviations, 0.0);
            // deviations from a median of few samples understate the noise
            s * s * deviations.len() as f64 / dof.max(1e-9)
        })
        .or(sample_noise);
    // second differences of the phases' medians, in their cyclic order: 6 s^2 each
    let roughness = (noise.is_none() && medians.len() >= 5 && medians.iter().all(Option::is_some))
        .then(|| {
            let m: Vec<f64> = medians.iter().map(|m| m.unwrap_or(neutral)).collect();
            let k = m.len();
            let second: Vec<f64> = (0..k)
                .map(|i| m[(i + k - 1) % k] - 2.0 * m[i] + m[(i + 1) % k])
                .collect();
            let s = mad(&second, 0.0);
            s * s / 6.0
        });
    let seen: Vec<(f64, usize)> = medians
        .iter()
        .zip(groups)
        .filter_map(|(m, g)| m.map(|m| (m - neutral, g.len())))
        .collect();
    let k = seen.len().max(1) as f64;
    let between = seen.iter().map(|(e, _)| e * e).sum::<f64>() / k;
    let values: Vec<f64> = medians
        .iter()
        .zip(groups)
        .map(|(m, g)| {
            let Some(m) = m else { return neutral };
            let n = g.len() as f64;
            let w = match noise {
                Some(s2) => {
                    let tau2 = (between
                        - seen.iter().map(|(_, n)| s2 / *n as f64).sum::<f64>() / k)
                        .max(0.0);
                    if tau2 + s2 / n > 0.0 {
                        tau2 / (tau2 + s2 / n)
                    } else {
                        1.0
                    }
                }
                // no phase seen twice: the noise is read off how unevenly neighbouring
                // phases follow each other (a day's shape is smooth, noise is not)
                None => match roughness {
                    Some(r2) if between + r2 > 0.0 => between / (between + r2 / n),
                    _ => n / (n + 1.0),
                },
            };
            neutral + w * (m - neutral)
        })
        .collect();
    let weights: Vec<f64> = values
        .iter()
        .zip(&medians)
        .filter_map(|(v, m)| {
            m.filter(|m| (m - neutral).abs() > 0.0)
                .map(|m| (v - neutral) / (m - neutral))
        })
        .collect();
    let weight = if weights.is_empty() {
        0.0
    } else {
        weights.iter().sum::<f64>() / weights.len() as f64
    };
    (values, weight)
}

/// The hour-of-week season of a series of several points a day, in three parts, each
/// pooled (see `pool`): the day's shape (hour of day), each weekday's level (day of
/// week), and each weekday's own shape (a Saturday's morning starts later). The first
/// two are learned from a few days; the third takes over as weeks accumulate. Returns
/// the values per hour of the week and how much of each weekday's level and own shape
/// was used.
fn hour_of_week(
    step: i64,
    points: &[(i64, f64)],
    multiplicative: bool,
) -> Option<(Vec<f64>, f64, f64)> {
    let per_day = Season::Daily.phases(step)?;
    let neutral = if multiplicative { 1.0 } else { 0.0 };
    let (hours, _) = shares(Season::Daily, step, points, multiplicative)?;
    let remove = |v: f64, f: f64| if multiplicative { v / f } else { v - f };
    // each day's level, and each point's share of it beyond the day's shape
    let mut days: Vec<(i64, f64)> = Vec::new();
    let mut level_errors: Vec<f64> = Vec::new();
    let mut shape: Vec<Vec<f64>> = vec![Vec::new(); 7 * per_day];
    let mut start = 0;
    while start < points.len() {
        let day = Season::Daily.cycle(step, points[start].0);
        let mut end = start;
        while end < points.len() && Season::Daily.cycle(step, points[end].0) == day {
            end += 1;
        }
        let d: Vec<f64> = points[start..end]
            .iter()
            .map(|&(t, v)| remove(v, hours[Season::Daily.phase(step, t)]))
            .collect();
        // a day seen in less than half its steps says little of its level
        if d.len() * 2 >= per_day {
            let level = median(&d).unwrap_or(0.0);
            days.push((day * DAY, level));
            if !multiplicative || level > 0.0 {
                // how far a day's level read off its points may be off: the spread of
                // its points around it, over the square root of their number (a median's
                // error is 1.25 times a mean's)
                let stray = mad(&d, level) / if multiplicative { level } else { 1.0 };
                level_errors.push(1.25 * stray / (d.len() as f64).sqrt());
            }
            if !multiplicative || level > 0.0 {
                for (&(t, _), x) in points[start..end].iter().zip(&d) {
                    shape[Season::Weekly.phase(step, t)].push(remove(*x, level));
                }
            }
        }
        start = end;
    }
    if days.len() < 7 {
        return None;
    }
    // each day's level against the week around it
    let levels: Vec<f64> = days.iter().map(|d| d.1).collect();
    let weekly = sliding_medians(&levels, 7, |i| i.saturating_sub(3));
    let day_noise = median(&level_errors).map(|e| e * e);
    let mut by_weekday: Vec<Vec<f64>> = vec![Vec::new(); 7];
    for (i, &(t, level)) in days.iter().enumerate() {
        if multiplicative && weekly[i] == 0.0 {
            continue;
        }
        by_weekday[Season::Weekly.phase(DAY, t)].push(remove(level, weekly[i]));
    }
    let (weekdays, weekday_weight) = pool(&by_weekday, neutral, day_noise);
    // a weekday's own shape seen once says nothing of the next one: its hours follow the
    // weather and the week's business, smoothly, so their roughness is no measure of
    // noise; it takes over only as the same hour of the week is seen again
    let (own, own_weight) = pool(&shape, neutral, Some(f64::INFINITY));
    let values = (0..7 * per_day)
        .map(|h| {
            let parts = [hours[h % per_day], weekdays[h / per_day], own[h]];
            if multiplicative {
                parts.iter().product::<f64>().max(0.05 * parts[0].min(1.0))
            } else {
                parts.iter().sum()
            }
        })
        .collect();
    Some((values, weekday_weight, own_weight))
}

/// How far each point of a deseasonalised series falls from the level of the
/// `level_points` before it: the errors of the forecast the detector makes, the level's
/// own error included. Their MAD is the spread; their mean shows what a season leaves
/// unexplained (a weekend judged against the week's level), so it chooses seasons.
/// `relative`: as shares of the level, for counts, whose noise grows with their level
/// (after a level shift to twice the rows, the wobble doubles too); each with the
/// expected value in the series' own units (level times the point's season `factors`)
/// and the index of the point it is for.
pub fn forecast_errors(
    d: &[f64],
    factors: &[f64],
    level_points: usize,
    relative: bool,
) -> (Vec<f64>, Vec<f64>, Vec<usize>) {
    // few points: a shorter level, so that there are errors enough to measure (a third
    // of the points for the level, two thirds judged)
    let l = level_points.max(2).min(d.len() / 3).max(1);
    let mut errors = Vec::with_capacity(d.len());
    let mut expected = Vec::with_capacity(d.len());
    let mut at = Vec::with_capacity(d.len());
    if d.len() <= l {
        return (errors, expected, at);
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
        at.push(i);
    }
    (errors, expected, at)
}

/// How much heavier than a normal distribution's the tail of errors `z` is, whose
/// spread (standard deviation, MAD-based) is `sigma`: their 95th percentile over a
/// normal's (1.96 sigma), at least 1. Fewer than 50 errors say too little of a tail.
pub fn tail_heaviness(z: &[f64], sigma: f64) -> f64 {
    const Z95: f64 = 1.959_964;
    if z.len() < 50 || sigma <= 0.0 {
        return 1.0;
    }
    let mut abs: Vec<f64> = z.iter().map(|v| v.abs()).collect();
    let k = (abs.len() * 95 / 100).min(abs.len() - 1);
    let (_, q, _) = abs.select_nth_unstable_by(k, |a, b| a.total_cmp(b));
    (*q / (Z95 * sigma)).max(1.0)
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
    // one buffer for every step of the search: this runs for each season tried, at
    // every fit
    let squares: Vec<f64> = r[..n].iter().map(|x| x * x).collect();
    let poisson: Vec<f64> = expected[..n].iter().map(|e| 1.0 / e.max(1e-9)).collect();
    let mut scaled = vec![0.0; n];
    let mut median_at = |s2: f64| {
        for i in 0..n {
            scaled[i] = squares[i] / (s2 + poisson[i]);
        }
        median_in_place(&mut scaled).unwrap_or(0.0)
    };
    if median_at(0.0) <= CHI2_MEDIAN {
        return 0.0;
    }
    // the variance sought lies between nothing and the largest square's: bisected on a
    // log scale, to a thousandth of itself (its square root, the spread, to half that)
    let mut hi = squares.iter().copied().fold(1e-12, f64::max) / CHI2_MEDIAN;
    let mut lo = hi * 1e-12;
    if median_at(lo) <= CHI2_MEDIAN {
        return lo.sqrt();
    }
    while hi > lo * 1.001 {
        let mid = (lo * hi).sqrt();
        if median_at(mid) > CHI2_MEDIAN {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo * hi).sqrt().sqrt()
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
    fn heavy_tails_widen_the_range_and_flagged_points_do_not() {
        // a deterministic stand-in for normal noise: quantiles of a normal at evenly
        // spaced probabilities (their 95th percentile is 1.96 sigma)
        let quantile = |p: f64| {
            // Abramowitz and Stegun 26.2.23, within 4.5e-4
            let q = p.min(1.0 - p);
            let t = (-2.0 * q.ln()).sqrt();
            let x = t
                - (2.515517 + 0.802853 * t + 0.010328 * t * t)
                    / (1.0 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t * t * t);
            if p < 0.5 {
                -x
            } else {
                x
            }
        };
        let normal: Vec<f64> = (1..=200)
            .map(|i| quantile((i as f64 - 0.5) / 200.0))
            .collect();
        let sigma = mad(&normal, 0.0);
        assert!(tail_heaviness(&normal, sigma) < 1.15);
        // the same middle with a tail three times as far (a hot week of load)
        let heavy: Vec<f64> = normal
            .iter()
            .map(|v| if v.abs() > 1.5 * sigma { v * 3.0 } else { *v })
            .collect();
        assert!(tail_heaviness(&heavy, mad(&heavy, 0.0)) > 2.0);
        // too few errors say nothing of a tail
        assert_eq!(tail_heaviness(&heavy[..40], sigma), 1.0);

        // a daily series with a wobble, and big swings on some days: flagged as anomalies,
        // they shape the season but do not widen the range; as normal points they do
        let day = DAY;
        let mut points: Vec<(i64, f64)> = (0..120)
            .map(|i| {
                (
                    i * day,
                    1000.0 + [0.0, 12.0, -9.0, 5.0, -14.0, 8.0, -3.0][i as usize % 7],
                )
            })
            .collect();
        let mut flagged = vec![false; points.len()];
        for i in (10..120).step_by(10) {
            points[i].1 *= 1.6;
            flagged[i] = true;
        }
        let kept = Profile::fit(Season::None, day, &points, &flagged, true, false, 7).unwrap();
        let widened = Profile::fit(Season::None, day, &points, &[], true, false, 7).unwrap();
        assert!(
            widened.spread > 2.0 * kept.spread,
            "{} vs {}",
            widened.spread,
            kept.spread
        );
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
        let none = Profile::fit(Season::None, DAY, &points, &[], true, false, 7).unwrap();
        let weekly = Profile::fit(Season::Weekly, DAY, &points, &[], true, false, 7).unwrap();
        assert!((weekly.at(2) - 0.5).abs() < 0.02, "{:?}", weekly.values);
        assert!(weekly.misfit < none.misfit / 10.0);
        // one cycle is not enough: a trend would look like a season
        assert!(Profile::fit(Season::Weekly, DAY, &points[..13], &[], true, false, 7).is_none());
        // two are, each weekday's share pooled toward the others by how noisy it is
        let early = Profile::fit(Season::Weekly, DAY, &points[..14], &[], true, false, 7).unwrap();
        assert!(
            early.at(2) < 0.6 && early.at(2) > 0.45,
            "{:?}",
            early.values
        );
    }
}

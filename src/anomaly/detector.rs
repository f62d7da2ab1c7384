//! The detector: each point is judged from the points before it only, against a baseline
//! of earlier points that were not anomalies (a flagged point never trains the baseline
//! that judges the next), and every verdict carries its expected value, bounds and
//! reason. A backtest and a scan use the same `Detector`, so a backtest says exactly
//! what scans would have said.
//!
//! The baseline of a point:
//! - a season (none, daily, weekly; month-end optionally), chosen from the data only
//!   where it narrows the spread of what it leaves by a fifth or more;
//! - a level: the median of the latest deseasonalised points, after the latest reset
//!   (a level shift or an accepted change), carried forward by a robust trend (the
//!   median slope between points one level-length apart);
//! - a spread: the MAD of deseasonalised points around their local level, with floors
//!   (1% of the expected value; sqrt of it for counts) so that stable series do not
//!   alert on tiny changes.
//!
//! The season and spread change slowly; for series of several points a day they are
//! fitted once a day (from the points before the day began) and reused, which keeps a
//! backtest of 10,000 hourly points fast. A scan fits them the same way, so both agree.

use super::robust::{few_points_widening, mad, median, SeriesKind};
use super::season::{is_month_end, Profile, Season, DAY, WEEK};
use super::{show, AnomalyKind, DetectorSettings, Judgement, Seasonality, Verdict};

/// What a past point is to the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// trains the baseline
    Normal,
    /// an anomaly: kept out of the baseline
    Flagged(AnomalyKind),
    /// a date the user excluded
    Excluded,
}

/// A point of history.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Past {
    /// UTC seconds
    pub at: i64,
    pub value: f64,
    pub mark: Mark,
}

/// A season must narrow the spread of what it leaves to this share of the simpler
/// model's to be used: less is noise fitted, not a season.
const SEASON_GAIN: f64 = 0.8;
/// The hour-of-week season holds the hour-of-day one, pooled toward it: it is used when
/// it narrows the spread by more than this share.
const WEEK_OVER_DAY_GAIN: f64 = 0.95;
/// the fewest rows of a count's history from which an empty load is never chance
const ZERO_IMPLAUSIBLE: f64 = 10.0;
/// the floor of the spread relative to the expected value
const RELATIVE_FLOOR: f64 = 0.01;

/// Season, spread and what the hard rules need, fitted from the points before a cutoff.
#[derive(Debug, Clone)]
struct Fit {
    profile: Profile,
    /// why this season, for reasons
    season_note: String,
    kind: SeriesKind,
    /// every training value above zero (a zero is then a hard anomaly)
    all_positive: bool,
    max: f64,
    min: f64,
    /// the series (almost) never decreases: a cumulative count
    cumulative: bool,
    /// per phase: how many training points changed from their predecessor, of how many
    changes: Vec<(u32, u32)>,
    /// the month-end season's part (factor or offset), once two month ends were seen
    month_end: Option<f64>,
}

pub struct Detector {
    settings: DetectorSettings,
    /// the series' step in seconds (hourly: 3600)
    step: i64,
    points: Vec<Past>,
    /// indices of the Normal points, oldest first
    normal: Vec<usize>,
    /// times from which the baseline re-learns its level
    resets: Vec<i64>,
    /// (cutoff, number of resets then) -> fit
    cache: Option<(i64, usize, Fit)>,
    /// when the incident open at the newest point began (None: that point was normal)
    open_incident: Option<i64>,
}

impl Detector {
    pub fn new(settings: DetectorSettings, step: i64) -> Detector {
        Detector {
            settings,
            step: step.max(1),
            points: Vec::new(),
            normal: Vec::new(),
            resets: Vec::new(),
            cache: None,
            open_incident: None,
        }
    }

    pub fn settings(&self) -> &DetectorSettings {
        &self.settings
    }

    /// Points of history before anything is judged.
    pub fn min_history(&self) -> usize {
        self.settings
            .min_history
            .unwrap_or_else(|| self.default_min_history())
    }

    /// Judging starts early, with a band as wide as little history makes it: series of
    /// several points a day after a day and a half (the day's shape seen once, and half
    /// a day judged against it), slower ones after a week of points.
    fn default_min_history(&self) -> usize {
        if self.step < DAY {
            (3 * DAY / 2 / self.step) as usize
        } else {
            7
        }
    }

    /// The newest points the baseline learns from (eight weeks' worth).
    fn window(&self) -> usize {
        (((8 * WEEK) / self.step).clamp(28, 2016) as usize).max(self.min_history())
    }

    /// How many consecutive points make a level (a day's worth, 7 to 48).
    fn level_points(&self) -> usize {
        (DAY / self.step).clamp(7, 48) as usize
    }

    /// Add a point of recorded history as it was judged then (`anomalous`: it was an
    /// anomaly, a level shift too, which trains the baseline but belongs to an incident).
    pub fn push(&mut self, past: Past, anomalous: bool) {
        if anomalous {
            self.open_incident = self.open_incident.or(Some(past.at));
        } else if past.mark != Mark::Excluded {
            self.open_incident = None;
        }
        if past.mark == Mark::Normal {
            self.normal.push(self.points.len());
        }
        self.points.push(past);
    }

    /// The baseline re-learns its level from `from` (a level shift, an accepted change):
    /// points flagged since then were the new normal and train it now.
    pub fn reset(&mut self, from: i64) {
        self.resets.push(from);
        for p in self.points.iter_mut().filter(|p| p.at >= from) {
            if matches!(p.mark, Mark::Flagged(_)) {
                p.mark = Mark::Normal;
            }
        }
        self.normal = (0..self.points.len())
            .filter(|&i| self.points[i].mark == Mark::Normal)
            .collect();
        self.cache = None;
    }

    /// Judge a point, then learn it: what a scan does with each new point.
    pub fn observe(&mut self, at: i64, value: f64) -> Verdict {
        let verdict = self.judge(at, value);
        self.learn(at, value, &verdict);
        verdict
    }

    /// Learn a judged point: anomalies stay out of the baseline; a level shift resets it.
    pub fn learn(&mut self, at: i64, value: f64, verdict: &Verdict) {
        let mark = match verdict.judgement {
            Judgement::Learning | Judgement::Normal => Mark::Normal,
            Judgement::Anomaly(AnomalyKind::LevelShift) => Mark::Normal,
            Judgement::Anomaly(kind) => Mark::Flagged(kind),
            Judgement::Excluded => Mark::Excluded,
        };
        self.push(Past { at, value, mark }, verdict.is_anomaly());
        if let Some(from) = verdict.reset_from {
            self.reset(from);
        }
    }

    fn excluded(&self, at: i64) -> bool {
        self.settings
            .excluded
            .iter()
            .any(|&(start, end)| at >= start && at < end)
    }

    /// Judge the point (`at`, `value`) from the points before it; an anomaly is placed
    /// in its incident.
    pub fn judge(&mut self, at: i64, value: f64) -> Verdict {
        let mut verdict = self.judge_point(at, value);
        if verdict.is_anomaly() {
            // the incident open at the point before goes on; a level shift reaches back
            // to where the shift began
            let start = self.open_incident.unwrap_or(at);
            verdict.incident = Some(verdict.reset_from.map_or(start, |from| from.min(start)));
        }
        verdict
    }

    /// The verdict on the point alone, before it is placed in an incident.
    ///
    /// One piece on purpose: its early returns are the rule's order (an excluded date, too
    /// little history, an unlearned month end, then a zero the baseline never had, a value
    /// repeated, inside the range, a stale freshness, a level shift, a spike or drop), each
    /// using the fit and expected range computed above it; the backtests measure that order.
    fn judge_point(&mut self, at: i64, value: f64) -> Verdict {
        let plain = |judgement, reason: String| Verdict {
            judgement,
            expected: None,
            lower: None,
            upper: None,
            reason,
            reset_from: None,
            incident: None,
        };
        if self.excluded(at) {
            return plain(
                Judgement::Excluded,
                "an excluded date: neither judged nor learned".into(),
            );
        }
        // only what came before: a point measured again at the same time is not its own baseline
        let before = self.normal.partition_point(|&i| self.points[i].at < at);
        let needed = self.min_history();
        if before < needed {
            return plain(
                Judgement::Learning,
                format!("learning: {before} of {needed} points of history"),
            );
        }
        let fit = self.fit_for(at, before);
        if self.settings.month_end && is_month_end(self.step, at) && fit.month_end.is_none() {
            return plain(
                Judgement::Learning,
                "learning: a month end is judged once two month ends were seen".into(),
            );
        }
        let (expected, lower, upper) = self.baseline(&fit, at, before);
        let mut verdict = Verdict {
            judgement: Judgement::Normal,
            expected: Some(expected),
            lower: Some(lower),
            upper: Some(upper),
            reason: format!(
                "{} is within {}..{} ({})",
                show(value),
                show(lower),
                show(upper),
                fit.season_note
            ),
            reset_from: None,
            incident: None,
        };
        let dir = self.settings.direction;
        let previous = self
            .points
            .iter()
            .rev()
            .find(|p| p.at < at && p.mark != Mark::Excluded)
            .copied();
        // a zero where the baseline never had one and the range excludes it (a sparse
        // count at night may well be empty), or where the fewest rows ever seen make an
        // empty load all but impossible by chance (a count of 10 or more is empty with
        // a chance of 1 in 20,000), however wide little history makes the range
        if fit.kind == SeriesKind::Count
            && value == 0.0
            && fit.all_positive
            && (lower > 0.0 || fit.min >= ZERO_IMPLAUSIBLE)
            && dir.allows_down()
        {
            verdict.judgement = Judgement::Anomaly(AnomalyKind::Zero);
            verdict.reason = format!(
                "a drop to zero, where every point of the baseline was above zero (expected {})",
                show(expected)
            );
            return verdict;
        }
        if let Some(prev) = previous.filter(|p| p.value == value) {
            let ph = fit.profile.season.phase(self.step, at);
            let (changed, seen) = fit.changes.get(ph).copied().unwrap_or((0, 0));
            let usually = seen >= 4 && changed as f64 >= 0.8 * seen as f64;
            if fit.kind == SeriesKind::Count && fit.cumulative && usually && dir.allows_down() {
                verdict.judgement = Judgement::Anomaly(AnomalyKind::MissingLoad);
                verdict.reason = format!(
                    "a missing load: no new data since the previous point ({}), where {changed} of {seen} points at this time brought some",
                    show(prev.value)
                );
                return verdict;
            }
        }
        let above = value > upper && dir.allows_up();
        let below = value < lower && dir.allows_down();
        if !above && !below {
            return verdict;
        }
        if self.settings.freshness && above && value > fit.max {
            verdict.judgement = Judgement::Anomaly(AnomalyKind::MissingLoad);
            verdict.reason = format!(
                "a missing load: freshness {} grew past its usual range (up to {}, the most seen {})",
                show(value),
                show(upper),
                show(fit.max)
            );
            return verdict;
        }
        let side = if above {
            AnomalyKind::Spike
        } else {
            AnomalyKind::Drop
        };
        let word = if above { "above" } else { "below" };
        if let Some(from) = self.level_shift(&fit, at, value, expected, side) {
            verdict.judgement = Judgement::Anomaly(AnomalyKind::LevelShift);
            verdict.reset_from = Some(from);
            verdict.reason = format!(
                "a level shift: {} points in a row {word} the expected range, near each other (now {}, expected {}); the baseline re-learns from here",
                self.shift_span(),
                show(value),
                show(expected)
            );
            return verdict;
        }
        verdict.judgement = Judgement::Anomaly(side);
        verdict.reason = format!(
            "{} is {word} the expected range {}..{} (expected {}; {})",
            show(value),
            show(lower),
            show(upper),
            show(expected),
            fit.season_note
        );
        verdict
    }

    /// How many points a level shift lasts before it is one: a day's worth for series of
    /// several points a day (a holiday, a hot afternoon, a weekend shaped unlike the
    /// weeks before last less, and come back), `shift_points` for daily and slower ones.
    fn shift_span(&self) -> usize {
        if self.step < DAY {
            self.level_points().max(self.settings.shift_points)
        } else {
            self.settings.shift_points.max(2)
        }
    }

    /// A run of points flagged on the same side just before this one, near each other
    /// (or long enough to leave no doubt), is a level shift: the time it began. In a day
    /// of hourly points a fifth may fall back inside the range (a quiet night of a
    /// doubled count is still inside) without ending the run.
    /// Nearness is judged without the season: a shift that starts on a Friday and runs
    /// into the weekend is still one level.
    fn level_shift(
        &self,
        fit: &Fit,
        at: i64,
        value: f64,
        expected: f64,
        side: AnomalyKind,
    ) -> Option<i64> {
        let plain = |t: i64, v: f64| fit.profile.remove(v, self.seasonal(fit, t));
        let n = self.shift_span();
        let gaps_allowed = n / 5;
        let mut run: Vec<Past> = Vec::new();
        let mut gaps = 0;
        for p in self.points.iter().rev().filter(|p| p.at < at) {
            match p.mark {
                Mark::Excluded => continue,
                Mark::Flagged(k) if k == side => run.push(*p),
                Mark::Normal if gaps < gaps_allowed => {
                    gaps += 1;
                    continue;
                }
                _ => break,
            }
            if run.len() + 1 >= 2 * n - 1 {
                break;
            }
        }
        let span = run
            .last()
            .map_or(1, |first| ((at - first.at) / self.step) as usize + 1);
        if run.len() + 1 < n - gaps_allowed.min(gaps) || span < n {
            return None;
        }
        if run.len() + 1 >= 2 * n - 1 {
            return run.last().map(|p| p.at);
        }
        let mut values: Vec<f64> = run.iter().map(|p| plain(p.at, p.value)).collect();
        values.push(plain(at, value));
        let m = median(&values)?;
        let distance = (m - plain(at, expected)).abs();
        let near = values
            .iter()
            .filter(|v| (**v - m).abs() <= distance / 2.0)
            .count();
        (near * 5 >= values.len() * 4).then(|| run.last().map_or(at, |p| p.at))
    }

    /// The fit for judging at `at`: series of several points a day fit once a day, from
    /// the points before the day began (when those are enough history).
    fn fit_for(&mut self, at: i64, before: usize) -> Fit {
        let mut cutoff = at;
        if self.step < DAY {
            let day = (at + self.step / 2).div_euclid(DAY) * DAY;
            let n = self.normal.partition_point(|&i| self.points[i].at < day);
            if n >= self.min_history() {
                cutoff = day;
            }
        }
        if let Some((c, r, fit)) = &self.cache {
            if *c == cutoff && *r == self.resets.len() {
                return fit.clone();
            }
        }
        let n = if cutoff == at {
            before
        } else {
            self.normal.partition_point(|&i| self.points[i].at < cutoff)
        };
        let fit = self.fit(n);
        if cutoff != at {
            self.cache = Some((cutoff, self.resets.len(), fit.clone()));
        }
        fit
    }

    /// Fit from the first `n` Normal points (the newest `window` of them).
    ///
    /// One piece on purpose: the season is chosen among the candidates from the same
    /// points, whether it is multiplicative decides how each is fitted, and the chosen
    /// profile's phases then decide what counts as cumulative and the month-end part; apart,
    /// each step would take and return the half-fitted state.
    fn fit(&self, n: usize) -> Fit {
        let idx = &self.normal[n.saturating_sub(self.window())..n];
        let step = self.step;
        let month_end = |t: i64| self.settings.month_end && is_month_end(step, t);
        let all: Vec<(i64, f64)> = idx
            .iter()
            .map(|&i| (self.points[i].at, self.points[i].value))
            .collect();
        // the season is learned from the runs of spikes and drops flagged meanwhile too:
        // a weekend judged before the weekly season was known is flagged, and kept out of
        // the season it belongs to, it would be flagged every week. A spike on its own
        // (a duplicate load) is no season: in a phase seen twice it would make the same
        // hour a week later look like a drop. One that comes back a week later or
        // earlier is one (a Monday's busy first hour).
        let (first, last) = match (idx.first(), idx.last()) {
            (Some(&a), Some(&b)) => (a, b),
            _ => (0, 0),
        };
        let last = last.min(self.points.len().saturating_sub(1));
        let seasonal_flag = |i: usize| {
            matches!(
                self.points[i].mark,
                Mark::Flagged(AnomalyKind::Spike | AnomalyKind::Drop)
            )
        };
        let flagged_at = |t: i64| {
            let j = self.points.partition_point(|p| p.at < t);
            j < self.points.len() && self.points[j].at == t && seasonal_flag(j)
        };
        let in_run = |i: usize| {
            let at = self.points[i].at;
            (i > 0 && seasonal_flag(i - 1))
                || (i + 1 < self.points.len() && seasonal_flag(i + 1))
                || flagged_at(at - WEEK)
                || flagged_at(at + WEEK)
        };
        let shaping: Vec<&Past> = (first..=last)
            .filter(|&i| match self.points[i].mark {
                Mark::Normal => true,
                Mark::Flagged(AnomalyKind::Spike | AnomalyKind::Drop) => in_run(i),
                _ => false,
            })
            .map(|i| &self.points[i])
            .filter(|p| !month_end(p.at))
            .collect();
        let regular: Vec<(i64, f64)> = shaping.iter().map(|p| (p.at, p.value)).collect();
        let flagged: Vec<bool> = shaping.iter().map(|p| p.mark != Mark::Normal).collect();
        let values: Vec<f64> = all.iter().map(|p| p.1).collect();
        let kind = if values.iter().all(|v| *v >= 0.0 && v.fract() == 0.0) {
            SeriesKind::Count
        } else {
            SeriesKind::Measure
        };
        let all_positive = values.iter().all(|v| *v > 0.0);
        let counts = kind == SeriesKind::Count;
        // counts scale with their level (a level shift doubles nights and days alike), so
        // seasons are shares of it; a count with a few empty phases too. Measures that
        // reach zero or below take offsets.
        let zeros = values.iter().filter(|v| **v == 0.0).count();
        let multiplicative = values.iter().all(|v| *v >= 0.0) && zeros * 4 <= values.len();
        let l = self.level_points();
        let candidates: &[Season] = match self.settings.seasonality {
            Seasonality::Auto => &[Season::None, Season::Daily, Season::Weekly],
            Seasonality::None => &[Season::None],
            Seasonality::Daily => &[Season::Daily],
            Seasonality::Weekly => &[Season::Weekly],
        };
        let mut best: Option<Profile> = None;
        let mut note = String::new();
        for &season in candidates {
            let Some(p) = Profile::fit(season, step, &regular, &flagged, multiplicative, counts, l)
            else {
                continue;
            };
            match &best {
                None => {
                    note = p.note.clone();
                    best = Some(p);
                }
                // the hour-of-week season holds the hour-of-day one, pooled toward it:
                // it need only do better by more than chance would (a twentieth)
                Some(b)
                    if p.misfit
                        < if b.season == Season::Daily {
                            WEEK_OVER_DAY_GAIN * b.misfit
                        } else {
                            SEASON_GAIN * b.misfit
                        } =>
                {
                    let gain = if b.misfit > 0.0 {
                        (1.0 - p.misfit / b.misfit) * 100.0
                    } else {
                        0.0
                    };
                    note = format!("{}, which narrows the spread by {gain:.0}%", p.note);
                    best = Some(p);
                }
                Some(_) => {}
            }
        }
        let profile = best.unwrap_or_else(|| {
            note = format!(
                "no seasonality: too little history for {}",
                match self.settings.seasonality {
                    Seasonality::Daily => "hour-of-day seasonality",
                    _ => "a seasonality",
                }
            );
            Profile::fit(
                Season::None,
                step,
                &regular,
                &flagged,
                multiplicative,
                counts,
                l,
            )
            .unwrap_or(Profile {
                season: Season::None,
                note: Season::None.describe(step).to_string(),
                values: vec![if multiplicative { 1.0 } else { 0.0 }],
                multiplicative,
                poisson: false,
                inflation: 1.0,
                spread: 0.0,
                misfit: 0.0,
            })
        });
        let phases = profile.season.phases(step).unwrap_or(1);
        let mut changes = vec![(0u32, 0u32); phases];
        let mut rises = 0usize;
        let mut falls = 0usize;
        for w in all.windows(2) {
            let c = &mut changes[profile.season.phase(step, w[1].0)];
            c.1 += 1;
            if w[1].1 != w[0].1 {
                c.0 += 1;
            }
            if w[1].1 > w[0].1 {
                rises += 1;
            } else if w[1].1 < w[0].1 {
                falls += 1;
            }
        }
        let cumulative = rises > 0 && falls * 20 <= rises + falls;
        let month_end = self.month_end_part(&profile, n);
        Fit {
            season_note: if self.settings.month_end {
                format!("{note}; month ends apart")
            } else {
                note
            },
            kind,
            all_positive,
            max: values.iter().copied().fold(f64::MIN, f64::max),
            min: values.iter().copied().fold(f64::MAX, f64::min),
            cumulative,
            changes,
            month_end,
            profile,
        }
    }

    /// The month-end season: each month-end point of the first `n` Normal points against
    /// the level of the points just before it; None until two month ends were seen.
    fn month_end_part(&self, profile: &Profile, n: usize) -> Option<f64> {
        if !self.settings.month_end {
            return None;
        }
        let step = self.step;
        let l = self.level_points();
        let mut shares = Vec::new();
        let mut days = std::collections::BTreeSet::new();
        for (k, &i) in self.normal[..n].iter().enumerate() {
            let p = self.points[i];
            if !is_month_end(step, p.at) {
                continue;
            }
            let before: Vec<f64> = self.normal[..k]
                .iter()
                .rev()
                .map(|&j| self.points[j])
                .filter(|q| !is_month_end(step, q.at))
                .take(l)
                .map(|q| profile.remove(q.value, profile.at(profile.season.phase(step, q.at))))
                .collect();
            let Some(level) = median(&before) else {
                continue;
            };
            let d = profile.remove(p.value, profile.at(profile.season.phase(step, p.at)));
            let share = if profile.multiplicative {
                if level == 0.0 {
                    continue;
                }
                d / level
            } else {
                d - level
            };
            shares.push(share);
            days.insert((p.at + step.min(DAY) / 2).div_euclid(DAY));
        }
        (days.len() >= 2).then(|| median(&shares)).flatten()
    }

    /// The season's part (factor or offset) at time `t`, month end included.
    fn seasonal(&self, fit: &Fit, t: i64) -> f64 {
        let profile = &fit.profile;
        let mut f = profile.at(profile.season.phase(self.step, t));
        if let Some(me) = fit.month_end.filter(|_| is_month_end(self.step, t)) {
            f = if profile.multiplicative {
                f * me
            } else {
                f + me
            };
        }
        f
    }

    /// Expected value and the range at `at`, from the first `before` Normal points.
    fn baseline(&self, fit: &Fit, at: i64, before: usize) -> (f64, f64, f64) {
        let profile = &fit.profile;
        let l = self.level_points();
        let seasonal = |t: i64| self.seasonal(fit, t);
        let reset = self.resets.iter().copied().filter(|r| *r <= at).max();
        let normal = &self.normal[..before];
        let in_segment = normal.partition_point(|&i| reset.is_some_and(|r| self.points[i].at < r));
        // the level: the newest points since the last reset (all, when none came since)
        let recent = if in_segment < normal.len() {
            &normal[in_segment.max(normal.len().saturating_sub(l))..]
        } else {
            &normal[normal.len().saturating_sub(l)..]
        };
        let d = |i: usize| {
            let p = self.points[i];
            profile.remove(p.value, seasonal(p.at))
        };
        let own = self.own_day(fit, at, normal);
        let own_day = own.len() >= 3;
        let recent: &[usize] = if own_day { &own } else { recent };
        let levels: Vec<f64> = recent.iter().map(|&i| d(i)).collect();
        let level = median(&levels).unwrap_or(0.0);
        let t_level = recent.iter().map(|&i| self.points[i].at).sum::<i64>() / recent.len() as i64;
        // the trend: the median slope between points a level-length apart, never across a reset
        let tail = &normal[normal.len().saturating_sub(2 * l)..];
        let mut slopes = Vec::new();
        for j in 0..tail
            .len()
            .saturating_sub(l)
            .min(if own_day { 0 } else { usize::MAX })
        {
            let (a, b) = (self.points[tail[j]], self.points[tail[j + l]]);
            let crosses = self.resets.iter().any(|&r| a.at < r && b.at >= r);
            if !crosses && b.at > a.at {
                slopes.push((d(tail[j + l]) - d(tail[j])) / (b.at - a.at) as f64);
            }
        }
        let slope = median(&slopes).unwrap_or(0.0);
        let f = seasonal(at);
        let expected = profile.apply(level + slope * (at - t_level) as f64, f);
        let e = expected.abs();
        let k = self.settings.sensitivity;
        // a level read off few points is itself uncertain by sd / sqrt(n); and a day seen
        // for the first time follows the known day's shape only so far: how far its own
        // points stray from one level says how far (a Saturday's later, flatter morning)
        let (level_error, own_spread) = if own_day {
            let stray = mad(&levels, level);
            let stray = if profile.multiplicative && level != 0.0 {
                stray / level.abs() * e
            } else {
                stray
            };
            (
                (1.0 + 1.0 / recent.len() as f64).sqrt() * few_points_widening(recent.len() - 1),
                stray,
            )
        } else {
            (1.0, 0.0)
        };
        let sd = spread_at(fit, e).max(own_spread) * level_error;
        let half = k * sd;
        // a count is skewed: its square root has a steady spread (sd / 2 sqrt(E)), so
        // the range is taken there: (sqrt(E) +- w)^2. A count expected at 1 can well be
        // 6; one expected at 2 has no lower bound but zero.
        let r = e.sqrt();
        let (lower, upper) = if profile.poisson && r > 0.0 && expected > 0.0 {
            let w = k * sd / (2.0 * r);
            let lower = if r > w {
                (r - w).powi(2)
            } else {
                expected - half
            };
            (lower, (r + w).powi(2))
        } else {
            (expected - half, expected + half)
        };
        if !own_day {
            return (expected, lower, upper);
        }
        // a day seen for the first time may keep to its own last hours rather than to
        // the known day's shape (a Saturday's night runs on past a weekday's morning):
        // the range takes in those hours' values too, with the same spread
        let own_values: Vec<f64> = recent.iter().map(|&i| self.points[i].value).collect();
        let lowest = own_values.iter().copied().fold(f64::INFINITY, f64::min);
        let highest = own_values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let scale = |v: f64| {
            if profile.multiplicative && e > 0.0 {
                v.abs() / e
            } else {
                1.0
            }
        };
        (
            expected,
            lower.min(lowest - half * scale(lowest)),
            upper.max(highest + half * scale(highest)),
        )
    }

    /// In a series' first week a day of the week comes for the first time (the first
    /// Saturday): nothing says what its level is but its own points so far. Its newest
    /// points, flagged ones too (judged against the wrong day, they were its level): a
    /// local level, which follows an unknown day's own shape. Empty on any other day.
    fn own_day(&self, fit: &Fit, at: i64, normal: &[usize]) -> Vec<usize> {
        let first_of_weekday = self.step < DAY
            && fit.profile.season != Season::Weekly
            && normal
                .first()
                .is_some_and(|&i| self.points[i].at > at - WEEK + self.step / 2);
        if !first_of_weekday {
            return Vec::new();
        }
        (0..self.points.len())
            .rev()
            .filter(|&i| self.points[i].at < at && self.points[i].mark != Mark::Excluded)
            .take(6)
            .collect()
    }
}

/// The spread (a standard deviation) of a point expected at `e`, floors included.
fn spread_at(fit: &Fit, e: f64) -> f64 {
    let profile = &fit.profile;
    let spread = if profile.poisson {
        // noise beyond Poisson's, and Poisson's own, at this expected count
        ((profile.spread * e).powi(2) + e * profile.inflation.powi(2)).sqrt()
    } else if profile.multiplicative {
        profile.spread * e
    } else {
        profile.spread
    };
    let relative = e * RELATIVE_FLOOR;
    let floor = match fit.kind {
        SeriesKind::Count => relative.max(e.sqrt()).max(1.0),
        SeriesKind::Measure => relative.max(f64::EPSILON),
    };
    spread.max(floor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anomaly::Direction;

    const H: i64 = 3600;

    fn run(settings: DetectorSettings, step: i64, values: &[f64]) -> Vec<Verdict> {
        let mut d = Detector::new(settings, step);
        values
            .iter()
            .enumerate()
            .map(|(i, v)| d.observe(i as i64 * step, *v))
            .collect()
    }

    fn noisy(i: usize) -> f64 {
        // a fixed, irregular wobble of about 1%
        [0.4, -0.9, 1.1, -0.2, 0.7, -1.3, 0.1, 0.9, -0.6, 0.3, -1.0][i % 11] * 100.0
    }

    #[test]
    fn learns_first_then_judges_a_spike_and_keeps_it_out() {
        let mut values: Vec<f64> = (0..40).map(|i| 10_000.0 + noisy(i)).collect();
        values[30] = 25_000.0;
        let v = run(DetectorSettings::default(), DAY, &values);
        assert_eq!(v[0].judgement, Judgement::Learning);
        assert!(v[0].expected.is_none());
        // a daily series is judged from its eighth point, with a band as wide as seven
        // points of history make it
        assert_eq!(v[6].judgement, Judgement::Learning);
        assert_eq!(v[7].judgement, Judgement::Normal);
        let early = v[7].upper.unwrap() - v[7].lower.unwrap();
        let later = v[29].upper.unwrap() - v[29].lower.unwrap();
        assert!(early > later, "{early} vs {later}");
        assert_eq!(v[30].judgement, Judgement::Anomaly(AnomalyKind::Spike));
        let (lo, hi) = (v[30].lower.unwrap(), v[30].upper.unwrap());
        assert!(
            lo < 10_000.0 && hi > 10_000.0 && hi < 25_000.0,
            "{lo}..{hi}"
        );
        // the spike is not in the next point's baseline
        assert_eq!(v[31].judgement, Judgement::Normal);
        assert!((v[31].expected.unwrap() - 10_000.0).abs() < 300.0);
        let anomalies = v.iter().filter(|x| x.is_anomaly()).count();
        assert_eq!(anomalies, 1);
    }

    #[test]
    fn a_stable_table_does_not_alert_on_tiny_changes() {
        // 50,000 rows, +-3 a day: the MAD is about 2, the Poisson floor sqrt(50,000) = 224
        let values: Vec<f64> = (0..60).map(|i| 50_000.0 + (i % 3) as f64).collect();
        let mut with_change = values.clone();
        with_change[40] = 50_040.0;
        let v = run(DetectorSettings::default(), DAY, &with_change);
        assert!(v.iter().all(|x| !x.is_anomaly()));
    }

    #[test]
    fn a_level_shift_is_one_event_and_the_baseline_relearns() {
        let mut values: Vec<f64> = (0..80).map(|i| 1_000.0 + noisy(i) / 10.0).collect();
        for v in values.iter_mut().skip(40) {
            *v *= 2.0;
        }
        let v = run(DetectorSettings::default(), DAY, &values);
        let flagged: Vec<usize> = (0..80).filter(|&i| v[i].is_anomaly()).collect();
        assert_eq!(flagged, vec![40, 41, 42], "{:?}", v[43]);
        assert_eq!(v[42].judgement, Judgement::Anomaly(AnomalyKind::LevelShift));
        assert_eq!(v[42].reset_from, Some(40 * DAY));
        assert!((v[60].expected.unwrap() - 2_000.0).abs() < 50.0);
    }

    #[test]
    fn weekends_are_a_season_not_anomalies() {
        let values: Vec<f64> = (0..70)
            .map(|i| {
                let weekend = matches!(Season::Weekly.phase(DAY, i * DAY), 2 | 3);
                (if weekend { 400.0 } else { 1_000.0 }) + noisy(i as usize) / 10.0
            })
            .collect();
        let v = run(DetectorSettings::default(), DAY, &values);
        assert!(
            v.iter().all(|x| !x.is_anomaly()),
            "{:?}",
            v.iter().find(|x| x.is_anomaly())
        );
        assert!(v[60].reason.contains("day-of-week"), "{}", v[60].reason);
        // without it, weekends alert
        let none = DetectorSettings {
            seasonality: Seasonality::None,
            ..DetectorSettings::default()
        };
        assert!(run(none, DAY, &values).iter().any(|x| x.is_anomaly()));
    }

    #[test]
    fn hourly_series_find_their_hour_of_day() {
        let values: Vec<f64> = (0..24 * 30)
            .map(|i| {
                let hour = i % 24;
                let night = !(6..22).contains(&hour);
                (if night { 200.0 } else { 3_000.0 }) + noisy(i) / 5.0
            })
            .collect();
        let mut with_drop = values.clone();
        with_drop[24 * 25 + 12] = 1_500.0;
        let v = run(DetectorSettings::default(), H, &with_drop);
        let flagged: Vec<usize> = (0..v.len()).filter(|&i| v[i].is_anomaly()).collect();
        assert_eq!(flagged, vec![24 * 25 + 12]);
        assert_eq!(
            v[24 * 25 + 12].judgement,
            Judgement::Anomaly(AnomalyKind::Drop)
        );
        assert!(
            v[24 * 25 + 12].reason.contains("hour-of-day"),
            "{}",
            v[24 * 25 + 12].reason
        );
    }

    #[test]
    fn a_duplicate_load_is_not_expected_again_a_week_later() {
        // an hourly count whose weekends are flatter and later than its weekdays
        let values: Vec<f64> = (0..24 * 21)
            .map(|i| {
                let (day, hour) = (i / 24, i % 24);
                // 1970-01-01 was a Thursday: days 2 and 3 of each week are the weekend
                let weekend = matches!(day % 7, 2 | 3);
                let busy = if weekend {
                    (10..20).contains(&hour)
                } else {
                    (7..19).contains(&hour)
                };
                let level = match (weekend, busy) {
                    (false, true) => 3_000.0,
                    (true, true) => 1_200.0,
                    _ => 300.0,
                };
                level + noisy(i) / 5.0
            })
            .collect();
        let mut loaded = values.clone();
        let twice = 24 * 9 + 12;
        loaded[twice] *= 2.0;
        let v = run(DetectorSettings::default(), H, &loaded);
        let flagged: Vec<usize> = (0..v.len()).filter(|&i| v[i].is_anomaly()).collect();
        assert_eq!(flagged, vec![twice], "{}", v[twice + 168].reason);
        assert!(
            v[twice + 168].reason.contains("hour-of-week"),
            "{}",
            v[twice + 168].reason
        );
    }

    #[test]
    fn hard_rules_zero_missing_load_and_stale_freshness() {
        let mut values: Vec<f64> = (0..30).map(|i| 5_000.0 + noisy(i)).collect();
        values[20] = 0.0;
        let v = run(DetectorSettings::default(), DAY, &values);
        assert_eq!(v[20].judgement, Judgement::Anomaly(AnomalyKind::Zero));
        // a cumulative count that stops growing
        let mut total: Vec<f64> = (0..30).map(|i| 1_000.0 * i as f64 + 7.0).collect();
        total[25] = total[24];
        let v = run(DetectorSettings::default(), DAY, &total);
        assert_eq!(
            v[25].judgement,
            Judgement::Anomaly(AnomalyKind::MissingLoad)
        );
        assert!(
            v.iter().filter(|x| x.is_anomaly()).count() == 1,
            "{:?}",
            v.iter()
                .enumerate()
                .filter(|x| x.1.is_anomaly())
                .collect::<Vec<_>>()
        );
        // freshness: hours since the newest row, about 1 to 3, then 30
        let mut fresh: Vec<f64> = (0..30).map(|i| 3_600.0 * (1 + i % 3) as f64).collect();
        fresh[22] = 30.0 * 3_600.0;
        let settings = DetectorSettings {
            freshness: true,
            direction: Direction::Up,
            ..DetectorSettings::default()
        };
        let v = run(settings, DAY, &fresh);
        assert_eq!(
            v[22].judgement,
            Judgement::Anomaly(AnomalyKind::MissingLoad)
        );
        assert!(v[22].reason.contains("freshness"));
    }

    #[test]
    fn direction_excluded_dates_and_accepting_a_change() {
        let mut values: Vec<f64> = (0..40).map(|i| 1_000.0 + noisy(i) / 10.0).collect();
        values[25] = 3_000.0;
        values[30] = 100.0;
        let down = DetectorSettings {
            direction: Direction::Down,
            excluded: vec![(30 * DAY, 31 * DAY)],
            ..DetectorSettings::default()
        };
        let v = run(down, DAY, &values);
        assert_eq!(v[25].judgement, Judgement::Normal);
        assert_eq!(v[30].judgement, Judgement::Excluded);
        assert!(v.iter().all(|x| !x.is_anomaly()));
        // an accepted change re-learns from there
        let mut d = Detector::new(DetectorSettings::default(), DAY);
        for (i, v) in values.iter().take(25).enumerate() {
            d.observe(i as i64 * DAY, *v);
        }
        assert!(d.observe(25 * DAY, 3_000.0).is_anomaly());
        d.reset(25 * DAY);
        let next = d.observe(26 * DAY, 3_010.0);
        assert_eq!(next.judgement, Judgement::Normal, "{}", next.reason);
    }

    #[test]
    fn month_end_is_a_season_of_its_own_when_asked() {
        let start = chrono::NaiveDate::from_ymd_opt(2026, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp();
        let at = |i: usize| start + i as i64 * DAY;
        let values: Vec<f64> = (0..150)
            .map(|i| {
                let base = 1_000.0 + noisy(i) / 10.0;
                if is_month_end(DAY, at(i)) {
                    base * 3.0
                } else {
                    base
                }
            })
            .collect();
        let judge = |month_end: bool| {
            let mut d = Detector::new(
                DetectorSettings {
                    month_end,
                    ..DetectorSettings::default()
                },
                DAY,
            );
            values
                .iter()
                .enumerate()
                .map(|(i, v)| d.observe(at(i), *v))
                .collect::<Vec<_>>()
        };
        let with = judge(true);
        let without = judge(false);
        // April 30 (day 119): the third month end
        assert!(without[119].is_anomaly());
        assert_eq!(
            with[119].judgement,
            Judgement::Normal,
            "{}",
            with[119].reason
        );
        // January's and February's month ends are learned, not guessed
        assert_eq!(with[30].judgement, Judgement::Learning);
    }
}

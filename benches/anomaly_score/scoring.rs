//! Scoring by incident, the way a person on call meets alerts: consecutive alerting
//! points are one alarm; an incident is hit when an alarm touches its window; an alarm
//! that touches no incident is a false alarm; an alarm inside an ignored window counts
//! neither way. Clean series (no incident) give false alarms per 100 points; hit
//! incidents give the detection delay, in points from the incident's start to the first
//! alerting point.

use crate::series::Series;

#[derive(Default, Clone, Copy)]
pub struct Score {
    pub events: usize,
    pub hit: usize,
    pub alarms: usize,
    pub false_alarms: usize,
    pub clean_points: usize,
    pub clean_alarms: usize,
    /// summed over hit incidents
    pub delay: usize,
    /// one-point incidents hit later than their own point
    pub late_points: usize,
}

impl Score {
    pub fn precision(&self) -> f64 {
        if self.alarms == 0 {
            1.0
        } else {
            (self.alarms - self.false_alarms) as f64 / self.alarms as f64
        }
    }
    pub fn recall(&self) -> f64 {
        if self.events == 0 {
            1.0
        } else {
            self.hit as f64 / self.events as f64
        }
    }
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
    /// None without clean series
    pub fn clean_rate(&self) -> Option<f64> {
        (self.clean_points > 0).then(|| 100.0 * self.clean_alarms as f64 / self.clean_points as f64)
    }
    pub fn mean_delay(&self) -> Option<f64> {
        (self.hit > 0).then(|| self.delay as f64 / self.hit as f64)
    }
}

/// Alarms of a run of alerts: (first point, last point) of each run.
pub fn alarms(alerts: &[bool]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < alerts.len() {
        if alerts[i] {
            let start = i;
            while i + 1 < alerts.len() && alerts[i + 1] {
                i += 1;
            }
            out.push((start, i));
        }
        i += 1;
    }
    out
}

/// Add one series' alerts to `total`.
pub fn score(s: &Series, alerts: &[bool], total: &mut Score) {
    let touches = |(a, b): (usize, usize), (from, to): (usize, usize)| a <= to && b >= from;
    let mut counted = 0;
    let mut false_alarms = 0;
    for alarm in alarms(alerts) {
        let hits = s.events.iter().any(|e| touches(alarm, (e.start, e.end)));
        let ignored = s.ignored.iter().any(|w| touches(alarm, *w));
        if !hits && ignored {
            continue;
        }
        counted += 1;
        if !hits {
            false_alarms += 1;
        }
    }
    for e in &s.events {
        if let Some(first) = (e.start..=e.end).find(|&i| alerts.get(i) == Some(&true)) {
            total.hit += 1;
            total.delay += first - e.start;
            if e.kind.is_one_point() && first > e.start {
                total.late_points += 1;
            }
        }
    }
    total.events += s.events.len();
    total.alarms += counted;
    total.false_alarms += false_alarms;
    if s.events.is_empty() {
        total.clean_points += s.values.len();
        total.clean_alarms += counted;
    }
}

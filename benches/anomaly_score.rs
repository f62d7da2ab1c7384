//! The anomaly detector scored against the rules users have today, on seeded series that
//! look like pipelines' row counts (daily and hourly, weekly and daily seasons, trend,
//! noise) with injected incidents (spikes, drops, drops to zero, duplicate loads,
//! persistent level shifts) and clean series with none.
//!
//! Baselines, implemented here as their tools ship them:
//! - Elementary's anomaly test: z = (x - mean) / stddev over the last 14 points, the
//!   judged point included, sample standard deviation, |z| > 3, at least 7 points;
//!   without seasonality, and with its seasonal buckets (day of week for daily series;
//!   hour of day and hour of week for hourly ones);
//! - Deequ's OnlineNormalStrategy: running mean and variance including the point,
//!   3 deviations either way, the first 10% of the series not judged, anomalies kept
//!   out of the running statistics; run as a scheduled job would, on the series so far.
//!
//! Scoring is by event: an event is hit when an alarm (a run of consecutive alerts)
//! starts within 3 points of its onset; each event excuses one alarm; every other alarm
//! is a false alarm (those that keep firing after a level shift included). Clean series
//! give false alarms per 100 points.
//!
//! The detector was tuned on seeds 1..=60 and 1001..=1060; the table reports seeds
//! 2001..=2060, which it never saw (`ASSAY_ANOMALY_SEEDS=tune` shows the tuning seeds).
//! (1001..=1060 were the first reporting seeds; a failure mode they showed, seasons
//! across a level shift in sparse hourly counts, was fixed, and they joined tuning.) Run it with
//! `cargo test --release --test anomaly_score`; it fails when a target is missed.

use assay::anomaly::{Detector, DetectorSettings};

const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;
const TOLERANCE: usize = 3;

/// SplitMix64: small, seeded, the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
    fn below(&mut self, n: usize) -> usize {
        (self.unit() * n as f64) as usize % n.max(1)
    }
    fn normal(&mut self) -> f64 {
        let u = self.unit().max(1e-12);
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
    /// A Poisson draw: exact (Knuth) for small means, normal above.
    fn poisson(&mut self, mean: f64) -> f64 {
        if mean <= 0.0 {
            return 0.0;
        }
        if mean > 50.0 {
            return (mean + mean.sqrt() * self.normal()).round().max(0.0);
        }
        let limit = (-mean).exp();
        let mut k = 0.0;
        let mut p = self.unit();
        while p > limit {
            k += 1.0;
            p *= self.unit();
        }
        k
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Incident {
    Spike,
    Drop,
    Zero,
    DuplicateLoad,
    LevelShift,
}

struct Event {
    onset: usize,
    kind: Incident,
}

struct Series {
    step: i64,
    start: i64,
    values: Vec<f64>,
    events: Vec<Event>,
}

impl Series {
    fn at(&self, i: usize) -> i64 {
        self.start + i as i64 * self.step
    }
}

/// A row-count series: level with trend, seasons, noise, then incidents unless clean.
fn generate(seed: u64, hourly: bool, clean: bool) -> Series {
    let mut rng = Rng(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ if hourly { 7 } else { 3 });
    let step = if hourly { HOUR } else { DAY };
    let len = if hourly { 24 * 63 } else { 200 };
    // 2025-01-06 was a Monday; start on any weekday
    let start = 1_736_121_600 + rng.below(7) as i64 * DAY;
    let base = rng.range(500f64.ln(), 2e6f64.ln()).exp() / if hourly { 24.0 } else { 1.0 };
    let growth = rng.range(-0.002, 0.004) / if hourly { 24.0 } else { 1.0 };
    let noise = rng.range(0.02, 0.06);
    let weekly = rng.chance(0.7);
    let weekend = rng.range(0.3, 0.8);
    let weekday_wobble: Vec<f64> = (0..7).map(|_| rng.range(0.95, 1.05)).collect();
    let night = rng.range(0.05, 0.3);
    let evening = rng.range(0.4, 0.8);
    let season = |t: i64| {
        let days = t.div_euclid(DAY);
        // 1970-01-01 was a Thursday: weekday 0 = Monday
        let weekday = ((days + 3).rem_euclid(7)) as usize;
        let mut f = 1.0;
        if weekly {
            f *= weekday_wobble[weekday];
            if weekday >= 5 {
                f *= weekend;
            }
        }
        if hourly {
            let hour = t.rem_euclid(DAY) / HOUR;
            f *= match hour {
                0..=5 => night,
                6..=8 => (night + 1.0) / 2.0,
                9..=17 => 1.0,
                _ => evening,
            };
        }
        f
    };
    let mut values: Vec<f64> = (0..len)
        .map(|i| {
            let t = start + i as i64 * step;
            // rows arrive as a Poisson process whose rate itself wobbles from day to day
            let level = base * (1.0 + growth).powi(i as i32) * season(t);
            let rate = (level * (1.0 + noise * rng.normal())).max(0.0);
            rng.poisson(rate)
        })
        .collect();
    let mut events = Vec::new();
    if !clean {
        let warmup = if hourly { 24 * 21 } else { 35 };
        let gap = if hourly { 24 * 7 } else { 21 };
        let count = 1 + rng.below(3);
        let mut onset = warmup + rng.below(gap);
        for _ in 0..count {
            if onset + 10 >= len {
                break;
            }
            if hourly {
                // incidents land in working hours, where a load happens
                onset = onset - onset % 24 + 9 + rng.below(9);
            }
            let kind = [
                Incident::Spike,
                Incident::Drop,
                Incident::Zero,
                Incident::DuplicateLoad,
                Incident::LevelShift,
            ][rng.below(5)];
            match kind {
                Incident::Spike => values[onset] *= rng.range(1.8, 3.0),
                Incident::Drop => values[onset] *= rng.range(0.15, 0.5),
                Incident::Zero => values[onset] = 0.0,
                Incident::DuplicateLoad => values[onset] *= 2.0,
                Incident::LevelShift => {
                    let factor = if rng.chance(0.5) {
                        rng.range(0.4, 0.6)
                    } else {
                        rng.range(1.6, 2.5)
                    };
                    for v in values.iter_mut().skip(onset) {
                        *v = (*v * factor).round();
                    }
                }
            }
            values[onset] = values[onset].round();
            events.push(Event { onset, kind });
            if kind == Incident::LevelShift {
                break;
            }
            onset += gap + rng.below(gap);
        }
    }
    Series {
        step,
        start,
        values,
        events,
    }
}

/// A detector: which points it alerts on, judging each from the series so far.
type Alerts = Vec<bool>;

fn assay(s: &Series) -> Alerts {
    let mut d = Detector::new(DetectorSettings::default(), s.step);
    (0..s.values.len())
        .map(|i| d.observe(s.at(i), s.values[i]).is_anomaly())
        .collect()
}

/// Elementary: the judged point and the 13 before it in its bucket; |z| > 3.
fn elementary(s: &Series, bucket: impl Fn(i64) -> i64) -> Alerts {
    let mut by_bucket: std::collections::HashMap<i64, Vec<f64>> = Default::default();
    (0..s.values.len())
        .map(|i| {
            let seen = by_bucket.entry(bucket(s.at(i))).or_default();
            seen.push(s.values[i]);
            let window = &seen[seen.len().saturating_sub(14)..];
            if window.len() < 7 {
                return false;
            }
            let n = window.len() as f64;
            let mean = window.iter().sum::<f64>() / n;
            let var = window.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
            let sd = var.sqrt();
            sd > 0.0 && ((s.values[i] - mean) / sd).abs() > 3.0
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

fn deequ(s: &Series) -> Alerts {
    (0..s.values.len())
        .map(|i| deequ_last(&s.values[..=i]))
        .collect()
}

#[derive(Default, Clone, Copy)]
struct Score {
    events: usize,
    hit: usize,
    alarms: usize,
    false_alarms: usize,
    clean_points: usize,
    clean_alarms: usize,
}

impl Score {
    fn precision(&self) -> f64 {
        if self.alarms == 0 {
            1.0
        } else {
            (self.alarms - self.false_alarms) as f64 / self.alarms as f64
        }
    }
    fn recall(&self) -> f64 {
        if self.events == 0 {
            1.0
        } else {
            self.hit as f64 / self.events as f64
        }
    }
    fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
    fn clean_rate(&self) -> f64 {
        100.0 * self.clean_alarms as f64 / self.clean_points.max(1) as f64
    }
}

/// Score one series' alerts against its events.
fn score(s: &Series, alerts: &[bool], total: &mut Score) {
    let mut alarms = Vec::new();
    for i in 0..alerts.len() {
        if alerts[i] && (i == 0 || !alerts[i - 1]) {
            alarms.push(i);
        }
    }
    let mut excused = vec![false; s.events.len()];
    let mut false_alarms = 0;
    for &a in &alarms {
        let near = s
            .events
            .iter()
            .enumerate()
            .find(|(k, e)| !excused[*k] && a >= e.onset && a <= e.onset + TOLERANCE);
        match near {
            Some((k, _)) => excused[k] = true,
            None => false_alarms += 1,
        }
    }
    total.events += s.events.len();
    total.hit += excused.iter().filter(|e| **e).count();
    total.alarms += alarms.len();
    total.false_alarms += false_alarms;
    if s.events.is_empty() {
        total.clean_points += s.values.len();
        total.clean_alarms += alarms.len();
    }
}

/// Each of assay's false alarms with its reason (tuning aid, ASSAY_ANOMALY_DEBUG=1).
fn explain(series: &[Series], seeds: &[u64]) {
    for (s, seed) in series.iter().zip(seeds) {
        let mut d = Detector::new(DetectorSettings::default(), s.step);
        let verdicts: Vec<_> = (0..s.values.len())
            .map(|i| d.observe(s.at(i), s.values[i]))
            .collect();
        for (i, v) in verdicts.iter().enumerate() {
            let starts = v.is_anomaly() && (i == 0 || !verdicts[i - 1].is_anomaly());
            let near = s
                .events
                .iter()
                .any(|e| i >= e.onset && i <= e.onset + TOLERANCE);
            if starts && !near {
                eprintln!("seed {seed} step {} point {i}: {}", s.step, v.reason);
            }
        }
        for e in &s.events {
            let hit = (e.onset..=e.onset + TOLERANCE)
                .any(|i| verdicts.get(i).is_some_and(|v| v.is_anomaly()));
            if !hit {
                eprintln!(
                    "seed {seed} step {} MISSED {:?} at {}: {}",
                    s.step, e.kind, e.onset, verdicts[e.onset].reason
                );
            }
        }
    }
}

type DetectorFn = fn(&Series) -> Alerts;

fn detectors(hourly: bool) -> Vec<(&'static str, DetectorFn)> {
    let mut out: Vec<(&'static str, DetectorFn)> = vec![
        ("assay", assay),
        ("elementary, no seasonality", |s| elementary(s, |_| 0)),
    ];
    if hourly {
        out.push(("elementary, hour of day", |s| {
            elementary(s, |t| t.rem_euclid(DAY) / HOUR)
        }));
        out.push(("elementary, hour of week", |s| {
            elementary(s, |t| t.rem_euclid(7 * DAY) / HOUR)
        }));
    } else {
        out.push(("elementary, day of week", |s| {
            elementary(s, |t| t.div_euclid(DAY).rem_euclid(7))
        }));
    }
    out.push(("deequ online normal", deequ));
    out
}

fn main() {
    let tune = std::env::var("ASSAY_ANOMALY_SEEDS").is_ok_and(|v| v == "tune");
    let seeds: Vec<u64> = if tune {
        (1..=60).chain(1001..=1060).collect()
    } else {
        (2001..=2060).collect()
    };
    println!(
        "anomaly detection, event-level, {} seeds ({} series per group: {} with incidents, {} clean)",
        if tune { "tuning" } else { "reporting (2001..=2060)" },
        seeds.len(),
        seeds.len() * 2 / 3,
        seeds.len() - seeds.len() * 2 / 3
    );
    println!(
        "{:<7} {:<28} {:>6} {:>4} {:>6} {:>5} {:>9} {:>6} {:>5} {:>13}",
        "group",
        "detector",
        "events",
        "hit",
        "alarms",
        "false",
        "precision",
        "recall",
        "F1",
        "clean FA/100"
    );
    let mut failures = Vec::new();
    for hourly in [false, true] {
        let group = if hourly { "hourly" } else { "daily" };
        let series: Vec<Series> = seeds
            .iter()
            .enumerate()
            .map(|(k, seed)| generate(*seed, hourly, k % 3 == 2))
            .collect();
        if let Ok(which) = std::env::var("ASSAY_ANOMALY_PEEK") {
            // seed:from:to of this group's series, as CSV (tuning aid)
            let parts: Vec<u64> = which.split(':').filter_map(|p| p.parse().ok()).collect();
            if let (Some(k), [_, from, to]) =
                (seeds.iter().position(|s| *s == parts[0]), parts.as_slice())
            {
                let s = &series[k];
                for i in *from as usize..(*to as usize).min(s.values.len()) {
                    eprintln!("{},{}", i, s.values[i]);
                }
                eprintln!(
                    "events {:?}",
                    s.events
                        .iter()
                        .map(|e| (e.onset, e.kind))
                        .collect::<Vec<_>>()
                );
            }
        }
        if std::env::var_os("ASSAY_ANOMALY_DEBUG").is_some() {
            explain(&series, &seeds);
        }
        let mut best_baseline = 0.0f64;
        let mut ours = Score::default();
        for (name, detect) in detectors(hourly) {
            let mut total = Score::default();
            for s in &series {
                score(s, &detect(s), &mut total);
            }
            println!(
                "{:<7} {:<28} {:>6} {:>4} {:>6} {:>5} {:>9.3} {:>6.3} {:>5.3} {:>13.3}",
                group,
                name,
                total.events,
                total.hit,
                total.alarms,
                total.false_alarms,
                total.precision(),
                total.recall(),
                total.f1(),
                total.clean_rate()
            );
            if name == "assay" {
                ours = total;
            } else {
                best_baseline = best_baseline.max(total.f1());
            }
        }
        if ours.f1() < 0.9 {
            failures.push(format!("{group}: F1 {:.3} is under 0.9", ours.f1()));
        }
        if ours.f1() < best_baseline + 0.15 {
            failures.push(format!(
                "{group}: F1 {:.3} is not 0.15 above the best baseline's {best_baseline:.3}",
                ours.f1()
            ));
        }
        if ours.clean_rate() > 0.2 {
            failures.push(format!(
                "{group}: {:.3} false alarms per 100 points on clean series (at most 0.2)",
                ours.clean_rate()
            ));
        }
    }
    if !failures.is_empty() {
        eprintln!("targets missed:\n  {}", failures.join("\n  "));
        std::process::exit(1);
    }
    println!("targets met: F1 >= 0.9 and >= best baseline + 0.15 in both groups, <= 0.2 false alarms per 100 clean points");
}

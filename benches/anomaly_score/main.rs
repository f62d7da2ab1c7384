//! The anomaly detector scored against the rules users have today, per group of series:
//! - seeded series that look like pipelines' row counts (`seeded.rs`): daily, hourly
//!   over nine weeks, and hourly over the two weeks of a new table, with hour-of-week
//!   shapes, weekend and Monday effects, weekday holidays, trend, Poisson noise and
//!   injected incidents, and clean series with none;
//! - real, public series that ship in registry packages (`real.rs`, provenance in
//!   `benches/data/README.md`): daily US births a year at a time, weekday holidays
//!   labelled as incidents; California's hourly load in 2018, a year each and clean, and
//!   in nine-week and two-week slices with pipeline incidents injected; England and
//!   Wales' half-hourly demand in summer 2000, clean.
//!
//! Baselines in `baselines.rs`, scoring in `scoring.rs`. The seeded table reports seeds
//! 2001..=2060, which the detector was not tuned on (`ASSAY_ANOMALY_SEEDS=tune` shows
//! the tuning seeds 1..=60 and 1001..=1060). The real series were not split: the table
//! says how the detector does on them, and the README of the data says so too.
//!
//! Run it with `cargo test --release --test anomaly_score`; it prints the goals not met
//! yet, and exits 1 when a group falls below its floor (`FLOORS`: a regression), or with
//! `ASSAY_ANOMALY_STRICT=1` when a goal is missed. `ASSAY_ANOMALY_GROUP=births` runs the groups whose name contains a word;
//! `ASSAY_ANOMALY_DEBUG=1` prints each of assay's false alarms and misses with its reason.

mod baselines;
mod real;
mod scoring;
mod seeded;
mod series;

use assay::anomaly::{Detector, DetectorSettings};
use baselines::Alerts;
use scoring::{score, Score};
use series::Series;

fn assay(s: &Series) -> Alerts {
    let mut d = Detector::new(DetectorSettings::default(), s.step);
    (0..s.values.len())
        .map(|i| d.observe(s.at(i), s.values[i]).is_anomaly())
        .collect()
}

/// Each of assay's false alarms and misses with its reason (a tuning aid).
fn explain(series: &[Series]) {
    for s in series {
        let mut d = Detector::new(DetectorSettings::default(), s.step);
        let verdicts: Vec<_> = (0..s.values.len())
            .map(|i| d.observe(s.at(i), s.values[i]))
            .collect();
        let alerts: Vec<bool> = verdicts.iter().map(|v| v.is_anomaly()).collect();
        for (a, b) in scoring::alarms(&alerts) {
            let near = s.events.iter().any(|e| a <= e.end && b >= e.start)
                || s.ignored.iter().any(|w| a <= w.1 && b >= w.0);
            if !near {
                let t = chrono::DateTime::from_timestamp(s.at(a), 0).expect("a time");
                let events: Vec<String> = s
                    .events
                    .iter()
                    .map(|e| format!("{:?} at {}", e.kind, e.start))
                    .collect();
                eprintln!(
                    "{} point {a}..={b} ({t}): {} [incidents: {}]",
                    s.name,
                    verdicts[a].reason,
                    events.join(", ")
                );
            }
        }
        for e in &s.events {
            if !(e.start..=e.end).any(|i| alerts[i]) {
                let t = chrono::DateTime::from_timestamp(s.at(e.start), 0).expect("a time");
                eprintln!(
                    "{} MISSED {:?} at {} ({t}): {}",
                    s.name, e.kind, e.start, verdicts[e.start].reason
                );
            }
        }
    }
}

struct Group {
    name: &'static str,
    /// seeded: synthetic series, with the stricter targets they allow
    seeded: bool,
    series: Vec<Series>,
}

fn groups(seeds: &[u64], wanted: &dyn Fn(&str) -> bool) -> Vec<Group> {
    let mut out = Vec::new();
    let seeded = |shape| {
        seeds
            .iter()
            .enumerate()
            .map(|(k, seed)| seeded::generate(*seed, shape, k % 3 == 2))
            .collect()
    };
    for (name, shape) in [
        ("daily, seeded", seeded::DAILY),
        ("hourly, seeded", seeded::HOURLY),
        ("hourly 14 days, seeded", seeded::HOURLY_NEW),
    ] {
        if wanted(name) {
            out.push(Group {
                name,
                seeded: true,
                series: seeded(shape),
            });
        }
    }
    if wanted("births daily, real") {
        out.push(Group {
            name: "births daily, real",
            seeded: false,
            series: real::births(),
        });
    }
    let load = real::load_2018();
    for (name, shape, every) in [
        ("load hourly + incidents, real", seeded::HOURLY, 28),
        (
            "load hourly 14 days + incidents, real",
            seeded::HOURLY_NEW,
            14,
        ),
    ] {
        if wanted(name) {
            out.push(Group {
                name,
                seeded: false,
                series: real::with_incidents(&load, shape, every),
            });
        }
    }
    if wanted("load hourly clean, real") {
        out.push(Group {
            name: "load hourly clean, real",
            seeded: false,
            series: load,
        });
    }
    if wanted("demand half-hourly clean, real") {
        out.push(Group {
            name: "demand half-hourly clean, real",
            seeded: false,
            series: real::demand_clean(),
        });
    }
    out
}

fn row(group: &str, detector: &str, s: &Score) {
    let opt = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x:.3}"));
    println!(
        "{:<38} {:<38} {:>6} {:>4} {:>6} {:>5} {:>9.3} {:>6.3} {:>5.3} {:>8} {:>6}",
        group,
        detector,
        s.events,
        s.hit,
        s.alarms,
        s.false_alarms,
        s.precision(),
        s.recall(),
        s.f1(),
        opt(s.clean_rate()),
        s.mean_delay().map_or("-".into(), |d| format!("{d:.2}")),
    );
}

fn main() {
    series::check_calendar();
    let tune = std::env::var("ASSAY_ANOMALY_SEEDS").is_ok_and(|v| v == "tune");
    let seeds: Vec<u64> = if tune {
        (1..=60).chain(1001..=1060).collect()
    } else {
        (2001..=2060).collect()
    };
    let only = std::env::var("ASSAY_ANOMALY_GROUP").ok();
    let wanted = |name: &str| only.as_deref().is_none_or(|w| name.contains(w));
    println!(
        "anomaly detection by incident; seeded groups: {} seeds ({} series each: {} with incidents, {} clean)",
        if tune { "tuning" } else { "reporting, 2001..=2060" },
        seeds.len(),
        seeds.len() * 2 / 3,
        seeds.len() - seeds.len() * 2 / 3
    );
    println!(
        "{:<38} {:<38} {:>6} {:>4} {:>6} {:>5} {:>9} {:>6} {:>5} {:>8} {:>6}",
        "group",
        "detector",
        "events",
        "hit",
        "alarms",
        "false",
        "precision",
        "recall",
        "F1",
        "clean FA/100",
        "delay"
    );
    let strict = std::env::var_os("ASSAY_ANOMALY_STRICT").is_some();
    let mut failures = Vec::new();
    let mut goals = Vec::new();
    for group in groups(&seeds, &wanted) {
        if std::env::var_os("ASSAY_ANOMALY_DEBUG").is_some() {
            explain(&group.series);
        }
        let step = group.series[0].step;
        let mut ours = Score::default();
        for s in &group.series {
            score(s, &assay(s), &mut ours);
        }
        row(group.name, "assay", &ours);
        let mut best = (0.0f64, String::new());
        for (name, detect) in baselines::all(step) {
            let mut total = Score::default();
            for s in &group.series {
                score(s, &detect(s), &mut total);
            }
            row(group.name, &name, &total);
            if total.events > 0 && total.f1() > best.0 {
                best = (total.f1(), name);
            }
        }
        let g = group.name;
        // the floors: what the detector reached when this table was last recorded (in
        // docs/anomalies.md), less a little; below one is a regression
        if let Some(&(_, f1, fa)) = FLOORS.iter().find(|(name, _, _)| *name == g) {
            if ours.events > 0 && ours.f1() < f1 {
                failures.push(format!(
                    "{g}: F1 {:.3} fell below its floor {f1}",
                    ours.f1()
                ));
            }
            if let Some(rate) = ours.clean_rate().filter(|r| *r > fa) {
                failures.push(format!(
                    "{g}: {rate:.3} false alarms per 100 clean points, above its floor {fa}"
                ));
            }
        }
        // the goals the detector is held to (issue 27)
        if ours.events > 0 && ours.f1() < best.0 + 0.15 {
            goals.push(format!(
                "{g}: F1 {:.3} is not 0.15 above the best baseline's ({} {:.3}){}",
                ours.f1(),
                best.1,
                best.0,
                if best.0 + 0.15 > 1.0 {
                    "; F1 cannot exceed 1"
                } else {
                    ""
                }
            ));
        }
        if group.seeded && ours.f1() < 0.9 {
            goals.push(format!("{g}: F1 {:.3} is under 0.9", ours.f1()));
        }
        if let Some(rate) = ours.clean_rate().filter(|r| *r > 0.2) {
            goals.push(format!(
                "{g}: {rate:.3} false alarms per 100 points on clean series (at most 0.2)"
            ));
        }
        if group.seeded && ours.late_points > 0 {
            goals.push(format!(
                "{g}: {} one-point incidents flagged after their own point",
                ours.late_points
            ));
        }
    }
    if goals.is_empty() {
        println!(
            "goals met: in every group F1 >= the best baseline's + 0.15 (and >= 0.9 on seeded series), \
             <= 0.2 false alarms per 100 clean points, one-point incidents flagged at their own point"
        );
    } else {
        println!("goals not met yet:\n  {}", goals.join("\n  "));
    }
    if strict {
        failures.extend(goals);
    }
    if !failures.is_empty() {
        eprintln!("targets missed:\n  {}", failures.join("\n  "));
        std::process::exit(1);
    }
}

/// Per group: the least F1 and the most false alarms per 100 clean points the detector
/// may show, a little below what it showed when the table in docs/anomalies.md was
/// recorded. They catch a regression; the goals above say where it must get to
/// (`ASSAY_ANOMALY_STRICT=1` fails on those too).
const FLOORS: &[(&str, f64, f64)] = &[
    ("daily, seeded", 0.95, 0.02),
    ("hourly, seeded", 0.79, 0.04),
    ("hourly 14 days, seeded", 0.41, 0.13),
    ("births daily, real", 0.97, 0.0),
    ("load hourly + incidents, real", 0.92, 0.04),
    ("load hourly 14 days + incidents, real", 0.93, 0.03),
    ("load hourly clean, real", 0.0, 0.03),
    ("demand half-hourly clean, real", 0.0, 0.10),
];
